//! Moving only the bytes a layout touches between device memory and a host buffer that has the
//! same layout: [`gather_blocks`] and [`scatter_blocks`] take a list of `(byte offset, byte
//! length)` blocks and copy exactly those, never the holes between them.
//!
//! Where the pack kernels run ([`pack_kernels_ready`]), the blocks are packed on the device into
//! contiguous scratch, moved in one copy, and laid out on the host in place (and the other way
//! round). Where NVRTC or a usable kernel binary is missing, every block is its own
//! asynchronous copy. `MPI4RS_PACK_KERNELS=0` forces the copies.

use super::{pack_indexed, pack_strided, unpack_indexed, unpack_strided, Strided};
use crate::error::{DeviceError, DeviceResult};
use crate::{cuda, StreamRef};
use std::collections::HashMap;
use std::ffi::c_void;
use std::sync::Mutex;

/// How [`gather_blocks`] or [`scatter_blocks`] moved the bytes.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum BlockMethod {
    /// Nothing to move.
    Nothing,
    /// Packed on the device by a kernel, one copy of the packed bytes.
    Kernel,
    /// One copy per block (the host fallback: no NVRTC, no usable kernel binary, or a single
    /// block).
    Copies,
}

/// Whether the pack kernels run on `device`: compiled and loaded on the first call, the answer
/// kept for the process. `false` without NVRTC, without a usable kernel binary (the CPU double
/// of the driver answers so), without CUDA, or with `MPI4RS_PACK_KERNELS=0`.
pub fn pack_kernels_ready(device: i32) -> bool {
    if matches!(std::env::var("MPI4RS_PACK_KERNELS").as_deref(), Ok("0") | Ok("no") | Ok("false")) {
        return false;
    }
    static READY: Mutex<Option<HashMap<i32, bool>>> = Mutex::new(None);
    let mut ready = READY.lock().unwrap_or_else(|e| e.into_inner());
    let ready = ready.get_or_insert_with(HashMap::new);
    *ready.entry(device).or_insert_with(|| load(device).is_ok())
}

#[cfg(feature = "cuda")]
fn load(device: i32) -> DeviceResult<()> {
    for name in [
        "mpi4rs_pack_indexed_1",
        "mpi4rs_unpack_indexed_1",
        "mpi4rs_pack_strided_1",
        "mpi4rs_unpack_strided_1",
    ] {
        super::launch::load(device, name)?;
    }
    Ok(())
}

#[cfg(not(feature = "cuda"))]
fn load(_device: i32) -> DeviceResult<()> {
    Err(DeviceError::NoCuda("mpi4rs-device was built without the `cuda` feature".into()))
}

/// Checks that `blocks` are sorted, disjoint and inside `len` bytes; gives their total.
fn check(blocks: &[(usize, usize)], len: usize) -> DeviceResult<usize> {
    let mut end = 0usize;
    let mut total = 0usize;
    for &(off, n) in blocks {
        let stop = off.checked_add(n).filter(|&s| s <= len && off >= end);
        let Some(stop) = stop else {
            return Err(DeviceError::Unsupported(format!(
                "block ({off}, {n}) is out of order, overlaps another or lies past {len} bytes"
            )));
        };
        end = stop;
        total += n;
    }
    Ok(total)
}

/// Copies every block `(offset, length)` of device memory at `dev` to the same offsets of the
/// host buffer `host`, and waits for the copies: afterwards `host[off..off + len]` holds
/// `dev[off..off + len]` for each block. Bytes of `host` outside the blocks are unspecified
/// (the packed bytes may pass through them); device bytes outside the blocks are never read.
///
/// Errors: a block list that is not sorted, disjoint and inside `len`, or a failed copy.
///
/// # Safety
/// `dev` must be device memory of `device` and `host` host memory, both at least `len` bytes
/// and not otherwise accessed until this returns.
pub unsafe fn gather_blocks(
    device: i32,
    stream: StreamRef,
    dev: *const c_void,
    host: *mut u8,
    len: usize,
    blocks: &[(usize, usize)],
) -> DeviceResult<BlockMethod> {
    let total = check(blocks, len)?;
    if total == 0 {
        return Ok(BlockMethod::Nothing);
    }
    if blocks.len() > 1 && pack_kernels_ready(device) {
        if let Some(scratch) = scratch_alloc(device, stream, total) {
            // SAFETY: the blocks lie in `dev` (checked against `len`), the scratch holds
            // `total` bytes; both outlive the stream synchronisation below.
            let packed = unsafe { pack(scratch, dev, blocks, device, stream) }.and_then(|()| {
                // SAFETY: `host` holds `len >= total` bytes.
                unsafe { cuda::copy_to_host_async(device, host.cast(), scratch, total, stream) }
            });
            scratch_free(device, stream, scratch);
            packed?;
            cuda::stream_synchronize(device, stream)?;
            // SAFETY: `host` holds `len` bytes, the blocks lie inside it.
            unsafe { spread(host, blocks) };
            return Ok(BlockMethod::Kernel);
        }
    }
    for &(off, n) in blocks.iter().filter(|b| b.1 > 0) {
        // SAFETY: the block lies inside both buffers (the caller's promise and `check`).
        unsafe { cuda::copy_to_host_async(device, host.add(off).cast(), dev.byte_add(off), n, stream)? };
    }
    cuda::stream_synchronize(device, stream)?;
    Ok(BlockMethod::Copies)
}

/// Enqueues on `stream` the copies of every block `(offset, length)` of the host buffer `host`
/// to the same offsets of device memory at `dev`; device bytes outside the blocks are never
/// written. With the kernels, `host` is rearranged in place first (the blocks packed at its
/// start), so its bytes are unspecified afterwards.
///
/// # Safety
/// `dev` must be device memory of `device` and `host` host memory, both at least `len` bytes;
/// `host` must stay alive and untouched until the work queued on `stream` has run (record an
/// event and wait for it before reusing it), `dev` must not be accessed by other streams
/// meanwhile.
pub unsafe fn scatter_blocks(
    device: i32,
    stream: StreamRef,
    dev: *mut c_void,
    host: *mut u8,
    len: usize,
    blocks: &[(usize, usize)],
) -> DeviceResult<BlockMethod> {
    let total = check(blocks, len)?;
    if total == 0 {
        return Ok(BlockMethod::Nothing);
    }
    if blocks.len() > 1 && pack_kernels_ready(device) {
        if let Some(scratch) = scratch_alloc(device, stream, total) {
            // SAFETY: `host` holds `len` bytes, the blocks lie inside it.
            unsafe { gather_in_place(host, blocks) };
            // SAFETY: the scratch holds `total` bytes, `host` at least that many and stays
            // alive until the stream's work has run (the caller's promise); the blocks lie in
            // `dev`.
            let unpacked = unsafe { cuda::copy_to_device_async(device, scratch, host.cast(), total, stream) }
                .and_then(
                    // SAFETY: as above.
                    |()| unsafe { unpack(dev, scratch, blocks, device, stream) },
                );
            scratch_free(device, stream, scratch);
            if unpacked.is_ok() {
                return Ok(BlockMethod::Kernel);
            }
            // The bytes are packed now: copy each block from its packed position.
            let mut at = 0usize;
            for &(off, n) in blocks.iter().filter(|b| b.1 > 0) {
                // SAFETY: as in the loop below, from the packed position `at < total`.
                unsafe {
                    cuda::copy_to_device_async(device, dev.byte_add(off), host.add(at).cast(), n, stream)?
                };
                at += n;
            }
            return Ok(BlockMethod::Copies);
        }
    }
    for &(off, n) in blocks.iter().filter(|b| b.1 > 0) {
        // SAFETY: the block lies inside both buffers (the caller's promise and `check`).
        unsafe { cuda::copy_to_device_async(device, dev.byte_add(off), host.add(off).cast(), n, stream)? };
    }
    Ok(BlockMethod::Copies)
}

/// Packs `blocks` of `dev` into `scratch`: the strided kernel for regular blocks, the indexed
/// one otherwise.
///
/// # Safety
/// As [`pack_indexed`].
unsafe fn pack(
    scratch: *mut c_void,
    dev: *const c_void,
    blocks: &[(usize, usize)],
    device: i32,
    stream: StreamRef,
) -> DeviceResult<()> {
    // SAFETY: the caller's promise; the strided layout covers exactly the blocks.
    unsafe {
        match as_strided(blocks) {
            Some((first, layout)) => pack_strided(scratch, dev.byte_add(first), layout, device, stream),
            None => pack_indexed(scratch, dev, &signed(blocks), device, stream),
        }
    }
}

/// The inverse of [`pack`].
///
/// # Safety
/// As [`unpack_indexed`].
unsafe fn unpack(
    dev: *mut c_void,
    scratch: *const c_void,
    blocks: &[(usize, usize)],
    device: i32,
    stream: StreamRef,
) -> DeviceResult<()> {
    // SAFETY: as in `pack`.
    unsafe {
        match as_strided(blocks) {
            Some((first, layout)) => unpack_strided(dev.byte_add(first), scratch, layout, device, stream),
            None => unpack_indexed(dev, scratch, &signed(blocks), device, stream),
        }
    }
}

/// The blocks as one vector-like layout from the first block's offset, when they are equally
/// long and equally spaced (a column, every other element): the strided kernels need no block
/// table.
fn as_strided(blocks: &[(usize, usize)]) -> Option<(usize, Strided)> {
    let (&(first, len), rest) = blocks.split_first()?;
    let stride = rest.first()?.0 - first;
    let regular = blocks.windows(2).all(|w| w[1].1 == len && w[1].0 - w[0].0 == stride);
    let stride = isize::try_from(stride).ok()?;
    regular.then_some((first, Strided { count: blocks.len(), block_bytes: len, stride }))
}

fn signed(blocks: &[(usize, usize)]) -> Vec<(isize, usize)> {
    blocks.iter().map(|&(off, n)| (off as isize, n)).collect()
}

/// Moves the packed bytes at the start of `host` out to their blocks, last block first (a
/// block's packed position is never above its offset, so nothing is overwritten before it is
/// moved).
///
/// # Safety
/// `host` holds every block; the blocks are sorted and disjoint.
unsafe fn spread(host: *mut u8, blocks: &[(usize, usize)]) {
    let mut at: usize = blocks.iter().map(|b| b.1).sum();
    for &(off, n) in blocks.iter().rev() {
        at -= n;
        // SAFETY: both ranges lie in `host` (`at <= off`); `copy` allows overlap.
        unsafe { std::ptr::copy(host.add(at), host.add(off), n) };
    }
}

/// The inverse of [`spread`]: packs the blocks at the start of `host`, first block first.
///
/// # Safety
/// As [`spread`].
unsafe fn gather_in_place(host: *mut u8, blocks: &[(usize, usize)]) {
    let mut at = 0usize;
    for &(off, n) in blocks {
        // SAFETY: both ranges lie in `host` (`at <= off`); `copy` allows overlap.
        unsafe { std::ptr::copy(host.add(off), host.add(at), n) };
        at += n;
    }
}

/// Device scratch of `bytes` for the packed blocks, stream-ordered; `None` where that cannot be
/// had (the caller makes one copy per block instead).
#[cfg(feature = "cuda")]
fn scratch_alloc(device: i32, stream: StreamRef, bytes: usize) -> Option<*mut c_void> {
    use cudarc::driver::{result, sys};
    cuda::context(device).ok()?.bind_to_thread().ok()?;
    // SAFETY: a live stream of the bound context; freed by `scratch_free` on the same stream.
    unsafe { result::malloc_async(stream.0 as sys::CUstream, bytes) }.ok().map(|p| p as *mut c_void)
}

#[cfg(feature = "cuda")]
fn scratch_free(device: i32, stream: StreamRef, ptr: *mut c_void) {
    use cudarc::driver::{result, sys};
    if cuda::context(device).is_ok_and(|c| c.bind_to_thread().is_ok()) {
        // SAFETY: allocated by `scratch_alloc` on this stream; freed after the work queued on it.
        let _ = unsafe { result::free_async(ptr as sys::CUdeviceptr, stream.0 as sys::CUstream) };
    }
}

#[cfg(not(feature = "cuda"))]
fn scratch_alloc(_device: i32, _stream: StreamRef, _bytes: usize) -> Option<*mut c_void> {
    None
}

#[cfg(not(feature = "cuda"))]
fn scratch_free(_device: i32, _stream: StreamRef, _ptr: *mut c_void) {}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn spread_and_gather_in_place_are_inverse() {
        let blocks = [(2usize, 3usize), (8, 1), (10, 4)];
        let mut buf: Vec<u8> = (0..16).collect();
        let want: Vec<u8> = buf.clone();
        // SAFETY: the blocks lie inside the 16 bytes.
        unsafe { gather_in_place(buf.as_mut_ptr(), &blocks) };
        assert_eq!(&buf[..8], &[2, 3, 4, 8, 10, 11, 12, 13]);
        // SAFETY: as above.
        unsafe { spread(buf.as_mut_ptr(), &blocks) };
        for &(off, n) in &blocks {
            assert_eq!(&buf[off..off + n], &want[off..off + n]);
        }
    }

    #[test]
    fn regular_blocks_are_strided() {
        let s = |count, block_bytes, stride| Strided { count, block_bytes, stride };
        assert_eq!(as_strided(&[(8, 8), (40, 8), (72, 8)]), Some((8, s(3, 8, 32))));
        assert_eq!(as_strided(&[(8, 8), (40, 8), (73, 8)]), None);
        assert_eq!(as_strided(&[(8, 8), (40, 4)]), None);
        assert_eq!(as_strided(&[(8, 8)]), None);
        assert_eq!(as_strided(&[]), None);
    }

    #[test]
    fn bad_block_lists_are_refused() {
        assert_eq!(check(&[(0, 4), (4, 4)], 8), Ok(8));
        assert!(check(&[(4, 4), (0, 4)], 8).is_err());
        assert!(check(&[(0, 5), (4, 4)], 16).is_err());
        assert!(check(&[(6, 4)], 8).is_err());
        assert!(check(&[(usize::MAX, 4)], 8).is_err());
    }
}
