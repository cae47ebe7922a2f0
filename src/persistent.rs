//! Persistent operations that own their buffers: the solver loop's shape.
//!
//! A [`Persistent`] set is built once from an owned buffer (a `Vec`, a boxed slice, a
//! cudarc `CudaSlice`, pinned memory, or a tuple of them) and any number of persistent
//! operations on it; then, each step, [`start`](Persistent::start) runs them all and
//! [`wait`](Persistent::wait) completes them. Between the two the buffer belongs to MPI; after
//! `wait` it is the program's again ([`get`](Persistent::get),
//! [`get_mut`](Persistent::get_mut)) until the next start. Two sets over two arrays give double
//! buffering, with no copy and no `unsafe`.
//!
//! Why this is sound even under `std::mem::forget`: the set *owns* the memory MPI uses. A
//! forgotten set leaks its buffer together with its requests, so the memory is never freed
//! or reused while MPI may still touch it. The buffer is handed out only while no operation
//! runs, and [`start`](Persistent::start) checks that it is still the same memory
//! ([`OwnedBuffer::identity`]) before MPI is told to use it again.
//!
//! ```no_run
//! use mpi4rs::prelude::*;
//! use mpi4rs::Persistent;
//!
//! let env = mpi4rs::init()?;
//! let world = env.world();
//! let (n, me) = (world.size(), world.rank());
//! let (right, left) = ((me + 1) % n, (me + n - 1) % n);
//! // [0..4) is sent to the right, [4..8) receives from the left.
//! let mut ring = Persistent::new(vec![0.0f64; 8], |s, buf| {
//!     let (out, inp) = buf.split_at_mut(4);
//!     world.recv_init(s, inp, left, 0)?;
//!     world.send_init(s, &*out, right, 0)?;
//!     Ok(())
//! })?;
//! for step in 0..10 {
//!     ring.get_mut()?[..4].fill(step as f64);   // the buffer is ours between runs
//!     ring.start()?;
//!     ring.wait()?;
//!     assert_eq!(ring.get()?[4..], [step as f64; 4]);
//! }
//! # Ok::<(), mpi4rs::Error>(())
//! ```

use crate::completion::{test_raw, wait_raw};
use crate::error::{Error, Result};
use crate::ffi::{self, MPI_Request};
use crate::pending;
use crate::scope::{complete_slots, Scope, Slot};
use crate::util::to_count;

/// A buffer that owns its memory, at an address that does not change when the value moves:
/// what a [`Persistent`] set can keep lent to MPI across moves of the set.
///
/// # Safety
/// Every byte that a buffer view obtained through `&Self` or `&mut Self` (directly, through
/// `Deref`/`DerefMut` to a slice, or through parts of a tuple) describes must be memory owned
/// by `self` that is neither moved nor freed when `self` is moved, and that stays owned by
/// `self` for as long as [`identity`](Self::identity) returns the same value.
///
/// A `Vec` or boxed slice is one only of `Copy` elements: elements that own memory of their
/// own (a `Vec<Vec<f64>>`) would let operations be made on an inner allocation, which
/// [`Persistent::get_mut`] could then replace, freeing it, without changing the outer
/// identity:
///
/// ```compile_fail,E0277
/// use mpi4rs::prelude::*;
/// use mpi4rs::Persistent;
/// let env = mpi4rs::init()?;
/// let world = env.world();
/// let mut set = Persistent::new(vec![vec![0.0f64; 4]], |s, buf| {
///     world.recv_init(s, &mut buf[0][..], 0, 0).map(drop)
/// })?;
/// set.get_mut()?[0] = Vec::new(); // frees the memory the receive was made on
/// set.start()?;
/// # Ok::<(), mpi4rs::Error>(())
/// ```
pub unsafe trait OwnedBuffer: 'static {
    /// Something that changes whenever the memory the buffer lends may have changed (for a
    /// `Vec`: its address and length).
    type Identity: Eq + Copy + std::fmt::Debug;
    /// The current identity.
    fn identity(&self) -> Self::Identity;
}

// SAFETY: a Vec's elements live on the heap, which does not move with the Vec; the heap block
// can change only through `&mut Vec` (push, reserve, shrink…), which changes the address or
// the length (a same-address reallocation to the same length keeps the memory owned). The
// elements are `Copy`, so they own no memory of their own that a view could describe and
// `&mut Vec` could free while the Vec's address and length stay the same.
unsafe impl<T: Copy + 'static> OwnedBuffer for Vec<T> {
    type Identity = (usize, usize);
    fn identity(&self) -> (usize, usize) {
        (self.as_ptr() as usize, self.len())
    }
}

// SAFETY: as for Vec (`Copy` elements included); a boxed slice cannot even grow.
unsafe impl<T: Copy + 'static> OwnedBuffer for Box<[T]> {
    type Identity = (usize, usize);
    fn identity(&self) -> (usize, usize) {
        (self.as_ptr() as usize, self.len())
    }
}

// SAFETY: pinned memory is allocated once by the driver and does not move with its handle.
unsafe impl<T: mpi4rs_device::Element> OwnedBuffer for mpi4rs_device::PinnedBuffer<T> {
    type Identity = (usize, usize);
    fn identity(&self) -> (usize, usize) {
        let v = mpi4rs_device::DeviceBuffer::view(self);
        (v.ptr as usize, v.len)
    }
}

// SAFETY: a CudaSlice's device allocation does not move with the handle; replacing the
// handle through `&mut` changes the device address.
#[cfg(feature = "cuda")]
#[cfg_attr(docsrs, doc(cfg(feature = "cuda")))]
unsafe impl<T: mpi4rs_device::Element> OwnedBuffer for mpi4rs_device::cudarc::driver::CudaSlice<T> {
    type Identity = (usize, usize);
    fn identity(&self) -> (usize, usize) {
        let v = mpi4rs_device::DeviceBuffer::view(self);
        (v.ptr as usize, v.len)
    }
}

macro_rules! owned_tuples {
    ($(($($t:ident $i:tt),+)),* $(,)?) => {$(
        // SAFETY: each part keeps its own promise; the identity changes when any part's does.
        unsafe impl<$($t: OwnedBuffer),+> OwnedBuffer for ($($t,)+) {
            type Identity = ($($t::Identity,)+);
            fn identity(&self) -> Self::Identity {
                ($(self.$i.identity(),)+)
            }
        }
    )*};
}
owned_tuples!((A 0, B 1), (A 0, B 1, C 2), (A 0, B 1, C 2, D 3));

/// A set of persistent operations that owns the buffer they use (see the
/// [module docs](self)).
pub struct Persistent<B: OwnedBuffer> {
    // Declared first: the requests are completed and freed (in Drop) before the buffer goes.
    raws: Vec<MPI_Request>,
    /// Data the requests read for their whole life (`…w` collectives' arrays), dropped after.
    kept: Vec<Slot>,
    buf: B,
    identity: B::Identity,
    active: bool,
    /// Neither `Send` nor `Sync`: see [`crate::thread`].
    _thread: crate::runtime::ThreadBound,
}

impl<B: OwnedBuffer> Persistent<B> {
    /// Builds the set: `setup` is called once with a scope and the buffer, and makes any
    /// number of persistent operations (`send_init`, `recv_init`, `allreduce_init`,
    /// `neighbor_alltoallw_init`, [`Exchange::init`](crate::Exchange::init), …) on parts of it.
    /// Nothing runs yet. Only the buffer (and `'static` data) can be lent in `setup`: its
    /// lifetime is the scope's.
    ///
    /// Nonblocking (non-persistent) operations started in `setup` are completed before `new`
    /// returns. If `setup` fails, every operation it made is freed and the error returned.
    pub fn new<F>(mut buf: B, setup: F) -> Result<Self>
    where
        F: for<'s> FnOnce(&'s Scope<'s, 's>, &'s mut B) -> Result<()>,
    {
        let scope = Scope::new(true);
        let made = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| setup(&scope, &mut buf)));
        let slots = scope.core().take_slots();
        // A panicking setup: complete what it started before `buf` is dropped by the unwind.
        let made = match made {
            Ok(made) => made,
            Err(panic) => {
                let _ = complete_slots(slots);
                std::panic::resume_unwind(panic)
            }
        };
        if let Err(e) = made {
            let _ = complete_slots(slots);
            return Err(e);
        }
        let mut kept = Vec::with_capacity(slots.len());
        let mut rest = Vec::new();
        let mut kept_data = Vec::new();
        let mut finished = Ok(());
        for slot in slots {
            match slot {
                keep @ Slot::Keep(_) => kept_data.push(keep),
                Slot::Request { mut raw, persistent: true, active } => {
                    // Running only if the setup started it: either way inactive after.
                    if active {
                        if let Err(e) = wait_raw(&mut raw) {
                            finished = Err(e);
                        }
                    }
                    kept.push(raw);
                }
                other => rest.push(other),
            }
        }
        // Nonblocking operations and closing steps of the setup complete now.
        let finished = finished.and(complete_slots(rest));
        let identity = buf.identity();
        let set = Persistent {
            raws: kept,
            kept: kept_data,
            buf,
            identity,
            active: false,
            _thread: std::marker::PhantomData,
        };
        finished.map(|()| set)
    }

    /// Starts every operation of the set (`MPI_Startall`). Staged device buffers are copied
    /// in first. An error if the set is already running, or if the buffer was replaced or
    /// resized since the set was made (MPI would use the old memory).
    pub fn start(&mut self) -> Result<()> {
        if self.active {
            return Err(Error::InvalidArgument(
                "Persistent::start: the operations are already running (wait first)".into(),
            ));
        }
        let now = self.buf.identity();
        if now != self.identity {
            return Err(Error::InvalidArgument(format!(
                "Persistent::start: the buffer is no longer the memory the operations were made on \
                 (identity {:?}, was {:?}): it was replaced, reallocated or resized",
                now, self.identity
            )));
        }
        let _call = crate::error::require_not_finalized()?;
        let n = to_count("number of requests", self.raws.len())?;
        if pending::any() {
            for raw in &self.raws {
                pending::restart(pending::key(raw))?;
            }
        }
        // SAFETY: `raws` holds `n` live persistent requests over memory `self` owns (identity
        // checked above); they stay owned by `self` until completed.
        let code = unsafe { ffi::MPI_Startall(n, self.raws.as_mut_ptr()) };
        crate::error::check("MPI_Startall", code)?;
        self.active = true;
        Ok(())
    }

    /// Waits until every operation of the set is done; the buffer is the program's again.
    pub fn wait(&mut self) -> Result<()> {
        if !self.active {
            return Ok(());
        }
        let _call = crate::error::require_not_finalized()?;
        self.active = false;
        if !pending::any() {
            // Waiting leaves persistent requests allocated (inactive) in place; after an error
            // each is still waited for (`active` is already false: the buffer is released).
            return crate::completion::wait_all_drained(&mut self.raws);
        }
        // Staged device buffers are written back as each request completes.
        let mut first = None;
        for raw in &mut self.raws {
            if let Err(e) = wait_raw(raw) {
                first.get_or_insert(e);
            }
        }
        first.map_or(Ok(()), Err)
    }

    /// Whether every operation is done (`MPI_Test` on each); completes the run if so.
    pub fn test(&mut self) -> Result<bool> {
        if !self.active {
            return Ok(true);
        }
        let mut all = true;
        for raw in &mut self.raws {
            all &= test_raw(raw)?.is_some();
        }
        if all {
            self.active = false;
        }
        Ok(all)
    }

    /// Whether the operations are running (started and not yet waited for).
    pub fn is_active(&self) -> bool {
        self.active
    }

    /// The number of persistent operations in the set.
    pub fn len(&self) -> usize {
        self.raws.len()
    }

    /// Whether the set has no operations.
    pub fn is_empty(&self) -> bool {
        self.raws.is_empty()
    }

    /// The buffer, while no operation runs; an error while they do (MPI may be writing it).
    pub fn get(&self) -> Result<&B> {
        if self.active {
            return Err(busy());
        }
        Ok(&self.buf)
    }

    /// The buffer, writable, while no operation runs. Replacing or resizing it is allowed but
    /// makes the next [`start`](Self::start) an error.
    pub fn get_mut(&mut self) -> Result<&mut B> {
        if self.active {
            return Err(busy());
        }
        Ok(&mut self.buf)
    }

    /// The buffer, for the crate's own readers of regions that no running operation writes
    /// (a halo exchange's interior): never handed out as a reference to the whole buffer.
    pub(crate) fn buffer_unchecked(&self) -> &B {
        &self.buf
    }

    /// Waits for the running operations, frees them, and gives the buffer back.
    pub fn into_inner(mut self) -> Result<B> {
        let done = self.release();
        // SAFETY: `release` freed every request; `buf` is read out once and `self` forgotten
        // right after, so it is not dropped twice. (`raws` and `kept` are empty: forgetting
        // them leaks nothing.)
        let buf = unsafe { std::ptr::read(&self.buf) };
        std::mem::forget(self);
        done.map(|()| buf)
    }

    /// Waits for and frees every request.
    fn release(&mut self) -> Result<()> {
        let raws = std::mem::take(&mut self.raws);
        let active = std::mem::replace(&mut self.active, false);
        let mut slots: Vec<Slot> =
            raws.into_iter().map(|raw| Slot::Request { raw, persistent: true, active }).collect();
        slots.append(&mut self.kept);
        complete_slots(slots)
    }
}

impl<B: OwnedBuffer> Drop for Persistent<B> {
    fn drop(&mut self) {
        let _ = self.release();
    }
}

fn busy() -> Error {
    Error::InvalidArgument(
        "the persistent operations are running: the buffer is MPI's until wait() returns".into(),
    )
}
