//! Pooled staging buffers: host memory that device data passes through when the MPI library
//! cannot read device memory, and the chunk plan of a pipelined transfer.
//!
//! With CUDA present the buffers are page-locked (and not write-combined: MPI reads them on the
//! CPU), so device copies into and out of them are asynchronous and run at full bus speed.
//! Without CUDA they are ordinary heap memory, which keeps the pipeline logic usable and
//! testable on any machine. Allocation is expensive (`cuMemHostAlloc` takes milliseconds), so
//! buffers go back to a pool when dropped and are reused by size class.

use crate::cuda::{self, Event};
use crate::error::{DeviceError, DeviceResult};
use std::ffi::c_void;
use std::ops::Range;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Mutex;

/// The smallest buffer the pool hands out; sizes are rounded up to a power of two.
pub const MIN_STAGING_BYTES: usize = 64 << 10;

/// A staging buffer taken from the pool; it returns there when dropped.
pub struct StagingBuffer {
    ptr: *mut u8,
    capacity: usize,
    pinned: bool,
    pending: Option<Event>,
}

// SAFETY: the buffer owns its memory; the event is Send.
unsafe impl Send for StagingBuffer {}

impl StagingBuffer {
    /// Start of the buffer.
    pub fn as_ptr(&self) -> *const c_void {
        self.ptr.cast()
    }

    /// Start of the buffer, writable.
    pub fn as_mut_ptr(&mut self) -> *mut c_void {
        self.ptr.cast()
    }

    /// Usable size in bytes (at least what was asked for).
    pub fn capacity(&self) -> usize {
        self.capacity
    }

    /// Whether the memory is page-locked.
    pub fn is_pinned(&self) -> bool {
        self.pinned
    }

    /// The first `len` bytes.
    pub fn bytes(&self, len: usize) -> &[u8] {
        assert!(len <= self.capacity);
        // SAFETY: the buffer holds `capacity` bytes, initialised when taken.
        unsafe { std::slice::from_raw_parts(self.ptr, len) }
    }

    /// The first `len` bytes, writable.
    pub fn bytes_mut(&mut self, len: usize) -> &mut [u8] {
        assert!(len <= self.capacity);
        // SAFETY: as above, borrowed mutably.
        unsafe { std::slice::from_raw_parts_mut(self.ptr, len) }
    }

    /// Marks the buffer as in use by device work that `event` completes: it is not reused
    /// before that event (a copy into device memory still reading it, say).
    pub fn set_pending(&mut self, event: Event) {
        self.pending = Some(event);
    }

    /// Waits for the device work marked with [`set_pending`](Self::set_pending).
    pub fn wait_pending(&mut self) -> DeviceResult<()> {
        match self.pending.take() {
            Some(event) => event.synchronize(),
            None => Ok(()),
        }
    }
}

impl Drop for StagingBuffer {
    fn drop(&mut self) {
        let block = Block {
            ptr: self.ptr,
            capacity: self.capacity,
            pinned: self.pinned,
            pending: self.pending.take(),
        };
        give_back(block);
    }
}

struct Block {
    ptr: *mut u8,
    capacity: usize,
    pinned: bool,
    pending: Option<Event>,
}

// SAFETY: blocks are owned memory, moved between threads under the pool's lock.
unsafe impl Send for Block {}

impl Block {
    fn free(mut self) {
        if let Some(e) = self.pending.take() {
            let _ = e.synchronize();
        }
        if self.pinned {
            // SAFETY: allocated by pinned_alloc and no longer referenced.
            unsafe { cuda::pinned_free(self.ptr.cast()) };
        } else {
            // SAFETY: allocated as a boxed slice of `capacity` bytes in `allocate`.
            drop(unsafe { Box::from_raw(std::ptr::slice_from_raw_parts_mut(self.ptr, self.capacity)) });
        }
    }
}

static POOL: Mutex<Vec<Block>> = Mutex::new(Vec::new());
static ALLOCATIONS: AtomicUsize = AtomicUsize::new(0);
static REUSES: AtomicUsize = AtomicUsize::new(0);

/// How many staging buffers were allocated and how many taken from the pool, since start.
pub fn pool_stats() -> (usize, usize) {
    (ALLOCATIONS.load(Ordering::Relaxed), REUSES.load(Ordering::Relaxed))
}

/// Most bytes the pool keeps for reuse (`MPI4RS_STAGING_POOL_BYTES`, a size such as `512M`;
/// default 1 GiB); buffers returned beyond that are freed. Read once; a value that does not
/// parse counts as unset here ([`crate::env`]; mpi4rs refuses it at `init`).
pub fn pool_limit() -> usize {
    static LIMIT: std::sync::OnceLock<usize> = std::sync::OnceLock::new();
    *LIMIT.get_or_init(|| crate::env::size_var("MPI4RS_STAGING_POOL_BYTES").ok().flatten().unwrap_or(1 << 30))
}

/// Takes a staging buffer of at least `bytes` bytes, reusing a pooled one when possible.
/// Pending device work on a reused buffer is waited for first.
pub fn take(bytes: usize) -> DeviceResult<StagingBuffer> {
    let capacity = size_class(bytes)?;
    let reused = {
        let mut pool = POOL.lock().unwrap_or_else(|e| e.into_inner());
        pool.iter().position(|b| b.capacity == capacity).map(|i| pool.swap_remove(i))
    };
    let block = match reused {
        Some(block) => {
            REUSES.fetch_add(1, Ordering::Relaxed);
            block
        }
        None => allocate(capacity)?,
    };
    let Block { ptr, pinned, pending, .. } = block;
    let mut buf = StagingBuffer { ptr, capacity, pinned, pending };
    buf.wait_pending()?;
    Ok(buf)
}

fn size_class(bytes: usize) -> DeviceResult<usize> {
    bytes
        .max(MIN_STAGING_BYTES)
        .checked_next_power_of_two()
        .ok_or_else(|| DeviceError::Unsupported(format!("a staging buffer of {bytes} bytes is too large")))
}

fn allocate(capacity: usize) -> DeviceResult<Block> {
    ALLOCATIONS.fetch_add(1, Ordering::Relaxed);
    if cuda::available() {
        // SAFETY: freed in Block::free.
        let ptr = unsafe { cuda::pinned_alloc(capacity)? }.cast::<u8>();
        // Zero it so that `bytes` never exposes uninitialised memory.
        // SAFETY: `capacity` bytes were just allocated.
        unsafe { std::ptr::write_bytes(ptr, 0, capacity) };
        return Ok(Block { ptr, capacity, pinned: true, pending: None });
    }
    let ptr = Box::into_raw(vec![0u8; capacity].into_boxed_slice()).cast::<u8>();
    Ok(Block { ptr, capacity, pinned: false, pending: None })
}

fn give_back(block: Block) {
    let mut pool = POOL.lock().unwrap_or_else(|e| e.into_inner());
    let kept: usize = pool.iter().map(|b| b.capacity).sum();
    if kept + block.capacity <= pool_limit() {
        pool.push(block);
    } else {
        drop(pool);
        block.free();
    }
}

/// Frees every pooled buffer (e.g. before the CUDA context goes away).
pub fn drain_pool() {
    let blocks = std::mem::take(&mut *POOL.lock().unwrap_or_else(|e| e.into_inner()));
    blocks.into_iter().for_each(Block::free);
}

/// The chunks of a pipelined transfer of `len` elements of `elem_size` bytes: consecutive
/// element ranges of about `chunk_bytes` each (at least one element), covering `0..len`.
/// Every rank that computes the plan from the same numbers gets the same chunks.
///
/// ```
/// let plan = mpi4rs_device::staging::chunk_plan(10, 8, 32);
/// assert_eq!(plan, vec![0..4, 4..8, 8..10]);
/// ```
pub fn chunk_plan(len: usize, elem_size: usize, chunk_bytes: usize) -> Vec<Range<usize>> {
    let per = (chunk_bytes / elem_size.max(1)).max(1);
    (0..len).step_by(per).map(|start| start..(start + per).min(len)).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pool_reuses_by_size_class() {
        let (a0, r0) = pool_stats();
        let mut b = take(1000).unwrap();
        assert_eq!(b.capacity(), MIN_STAGING_BYTES);
        b.bytes_mut(4).copy_from_slice(&[1, 2, 3, 4]);
        let p = b.as_ptr();
        drop(b);
        let b2 = take(MIN_STAGING_BYTES).unwrap();
        assert_eq!(b2.as_ptr(), p, "the pooled buffer comes back");
        let (a1, r1) = pool_stats();
        assert!(a1 - a0 <= 1 && r1 - r0 >= 1);
        assert_eq!(take(MIN_STAGING_BYTES + 1).unwrap().capacity(), 2 * MIN_STAGING_BYTES);
        assert!(take(usize::MAX).is_err());
    }

    #[test]
    fn chunk_plans_cover_everything() {
        assert_eq!(chunk_plan(0, 4, 16), Vec::<Range<usize>>::new());
        assert_eq!(chunk_plan(5, 4, 1), vec![0..1, 1..2, 2..3, 3..4, 4..5]);
        for (len, size, chunk) in [(1000, 8, 100), (7, 16, 1 << 20), (1 << 20, 2, 4096)] {
            let plan = chunk_plan(len, size, chunk);
            assert_eq!(plan.first().unwrap().start, 0);
            assert_eq!(plan.last().unwrap().end, len);
            assert!(plan.windows(2).all(|w| w[0].end == w[1].start));
        }
    }
}
