//! Nonblocking operations that own their buffer ([`Owned`]), and fire-and-forget completion
//! without a scope ([`Owned::detach`], mpi4py's `comm.Isend(buf).Free()`).
//!
//! [`Request::free`](crate::Request::free) lets a scope finish an operation; an [`Owned`] set
//! needs no scope at all, because it owns the memory MPI uses: the buffer comes back from
//! [`wait`](Owned::wait) only after every operation is complete; dropping the set waits;
//! forgetting it leaks the buffer together with the requests, so MPI never writes into memory
//! the program got back. [`detach`](Owned::detach) hands the set to mpi4rs, which completes it
//! later — at the next [`detach`](Owned::detach) or [`complete_detached`] once it is done, and
//! at the latest before MPI is finalised — and then drops the buffer.
//!
//! ```no_run
//! use mpi4rs::prelude::*;
//! use mpi4rs::Owned;
//! let env = mpi4rs::init()?;
//! let world = env.world();
//! let (n, me) = (world.size(), world.rank());
//! let payload = vec![me as f64; 1 << 20];
//! // Start the send and forget about it (the buffer is mpi4rs's until MPI is done with it).
//! Owned::new(payload, |s, buf| Ok(vec![world.isend(s, &buf[..], (me + 1) % n, 0)?]))?.detach();
//! let mut got = vec![0.0f64; 1 << 20];
//! world.recv(&mut got[..], (me + n - 1) % n, 0)?;
//! # Ok::<(), mpi4rs::Error>(())
//! ```

use crate::completion::test_raw;
use crate::error::Result;
use crate::ffi;
use crate::persistent::OwnedBuffer;
use crate::request::Request;
use crate::scope::{complete_slots, Scope, Slot};
use std::cell::RefCell;
use std::mem::ManuallyDrop;

/// Nonblocking operations on a buffer they own (see the [module docs](self)).
#[must_use = "dropping an Owned set waits for its operations; detach() lets them finish on their own"]
pub struct Owned<B: OwnedBuffer> {
    /// The operations (and the data they read) still to complete.
    slots: Vec<Slot>,
    /// Dropped only once every operation completed; leaked if completing one failed.
    buf: ManuallyDrop<B>,
    /// Neither `Send` nor `Sync`: see [`crate::thread`].
    _thread: crate::runtime::ThreadBound,
}

impl<B: OwnedBuffer> Owned<B> {
    /// Starts nonblocking operations on `buf`: `start` gets a scope and the buffer, starts any
    /// number of operations on parts of it (`isend`, `irecv`, `ibcast`, …), and returns their
    /// requests. They run until [`wait`](Self::wait), drop, or after [`detach`](Self::detach).
    /// Requests `start` drops itself are waited for there, as usual. If `start` fails, what it
    /// started is completed and the error returned.
    pub fn new<F>(mut buf: B, start: F) -> Result<Owned<B>>
    where
        F: for<'s> FnOnce(&'s Scope<'s, 's>, &'s mut B) -> Result<Vec<Request<'s>>>,
    {
        let scope = Scope::new(false);
        let started = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
            start(&scope, &mut buf).and_then(|requests| {
                // Leave each one to the scope's slots, which this set takes over below.
                requests.into_iter().try_for_each(Request::free)
            })
        }));
        let slots = scope.core().take_slots();
        match started {
            Ok(Ok(())) => Ok(Owned { slots, buf: ManuallyDrop::new(buf), _thread: std::marker::PhantomData }),
            Ok(Err(e)) => {
                let _ = complete_slots(slots);
                Err(e)
            }
            Err(panic) => {
                let _ = complete_slots(slots);
                std::panic::resume_unwind(panic)
            }
        }
    }

    /// Whether every operation has completed (`MPI_Test` on each).
    pub fn test(&mut self) -> Result<bool> {
        let mut all = true;
        for slot in &mut self.slots {
            if let Slot::Request { raw, persistent: false, .. } = slot {
                if *raw != ffi::REQUEST_NULL() && test_raw(raw)?.is_none() {
                    all = false;
                }
            }
        }
        Ok(all)
    }

    /// Waits for every operation and returns the buffer. If one fails, its error is returned
    /// and the buffer leaked (MPI's use of it is then unknown).
    pub fn wait(mut self) -> Result<B> {
        let slots = std::mem::take(&mut self.slots);
        let finished = complete_slots(slots);
        // SAFETY: taken once; `self` is forgotten below, so its Drop does not touch it again.
        let buf = unsafe { ManuallyDrop::take(&mut self.buf) };
        std::mem::forget(self);
        match finished {
            Ok(()) => Ok(buf),
            Err(e) => {
                std::mem::forget(buf);
                Err(e)
            }
        }
    }

    /// Lets the operations finish on their own (mpi4py's `Request.Free`): mpi4rs keeps the set
    /// and drops it (with the buffer) once it is complete, which it checks at every `detach`
    /// and [`complete_detached`] on this thread, and waits for before MPI is finalised. Errors
    /// of detached operations are not reported.
    pub fn detach(self) {
        let _ = reap(false);
        DETACHED.with(|d| d.borrow_mut().push(Box::new(self)));
    }
}

impl<B: OwnedBuffer> Drop for Owned<B> {
    fn drop(&mut self) {
        if complete_slots(std::mem::take(&mut self.slots)).is_ok() {
            // SAFETY: dropped once, here; every operation that used it is complete.
            unsafe { ManuallyDrop::drop(&mut self.buf) };
        }
        // Otherwise the buffer is leaked: MPI may still use it.
    }
}

/// A detached set, whatever its buffer type.
trait Detached {
    fn done(&mut self) -> Result<bool>;
}

impl<B: OwnedBuffer> Detached for Owned<B> {
    fn done(&mut self) -> Result<bool> {
        self.test()
    }
}

thread_local! {
    static DETACHED: RefCell<Vec<Box<dyn Detached>>> = const { RefCell::new(Vec::new()) };
}

/// Drops the detached sets that are complete (all of them, waiting, when `all`).
fn reap(all: bool) -> Result<()> {
    let taken = DETACHED.with(|d| std::mem::take(&mut *d.borrow_mut()));
    let mut first = None;
    let mut keep = Vec::new();
    for mut set in taken {
        match set.done() {
            Ok(false) if !all => keep.push(set),
            // Complete (or to be waited for): dropping waits and releases the buffer.
            Ok(_) => drop(set),
            Err(e) => {
                first.get_or_insert(e);
                drop(set);
            }
        }
    }
    DETACHED.with(|d| d.borrow_mut().extend(keep));
    first.map_or(Ok(()), Err)
}

/// Waits for every set this thread [detached](Owned::detach) and drops them; the first error
/// met, if any. The [`Environment`](crate::Environment) calls it before finalising MPI.
pub fn complete_detached() -> Result<()> {
    reap(true)
}

/// How many detached sets of this thread are not known to be complete yet.
pub fn detached_count() -> usize {
    DETACHED.with(|d| d.borrow().len())
}
