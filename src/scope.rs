//! Scopes: where nonblocking operations on borrowed buffers live, and why forgetting a request
//! cannot make MPI touch memory the program no longer lends.
//!
//! A nonblocking operation lends its buffers to MPI until the operation completes. A request
//! that merely *borrows* the buffers is not enough in Rust: `std::mem::forget` is safe, and a
//! forgotten request never waits, so the borrow would end while MPI still reads or writes the
//! memory. mpi4rs therefore ties every nonblocking or persistent operation on borrowed memory
//! to a [`Scope`], made by [`scope`], the way [`std::thread::scope`] ties threads to their
//! borrows:
//!
//! - every operation started in the scope is recorded in the scope itself;
//! - its buffers are borrowed for the scope's lifetime `'s`, which ends only when [`scope`]
//!   returns;
//! - before [`scope`] returns — normally, with an error, or by a panic — it completes every
//!   operation still outstanding (and frees every persistent request) itself.
//!
//! So a forgotten [`Request`](crate::Request) only loses its handle: the scope still waits for
//! the operation before any lent buffer can be touched, moved or freed again. The requests
//! themselves cannot leave the closure (the scope's lifetime is higher-ranked, as in
//! `std::thread::scope`).
//!
//! ```no_run
//! use mpi4rs::prelude::*;
//! let env = mpi4rs::init()?;
//! let world = env.world();
//! let (n, me) = (world.size(), world.rank());
//! let mut got = [0.0f64; 3];
//! let mine = [me as f64; 3];
//! mpi4rs::scope(|s| {
//!     let recv = world.irecv(s, &mut got, (me + n - 1) % n, 0)?;
//!     let send = world.isend(s, &mine, (me + 1) % n, 0)?;
//!     // ... compute while the messages travel ...
//!     mpi4rs::wait_all(&mut [recv, send])?;
//!     Ok(())
//! })?;
//! assert_eq!(got, [((me + n - 1) % n) as f64; 3]);
//! # Ok::<(), mpi4rs::Error>(())
//! ```
//!
//! What the borrow checker refuses — reading a buffer while it is lent, letting a request
//! escape its scope, lending a buffer that dies inside the scope:
//!
//! ```compile_fail
//! # use mpi4rs::prelude::*;
//! # let env = mpi4rs::init()?;
//! # let world = env.world();
//! let mut got = [0.0f64; 3];
//! mpi4rs::scope(|s| {
//!     let r = world.irecv(s, &mut got, 0, 0)?;
//!     println!("{}", got[0]);            // error: `got` is lent to MPI for the scope
//!     r.wait().map(drop)
//! })?;
//! # Ok::<(), mpi4rs::Error>(())
//! ```
//!
//! ```compile_fail
//! # use mpi4rs::prelude::*;
//! # let env = mpi4rs::init()?;
//! # let world = env.world();
//! let mut got = [0.0f64; 3];
//! let escaped = mpi4rs::scope(|s| world.irecv(s, &mut got, 0, 0))?;   // error: escapes
//! # Ok::<(), mpi4rs::Error>(())
//! ```
//!
//! ```compile_fail
//! # use mpi4rs::prelude::*;
//! # let env = mpi4rs::init()?;
//! # let world = env.world();
//! mpi4rs::scope(|s| {
//!     let mut local = [0.0f64; 3];
//!     let r = world.irecv(s, &mut local, 0, 0)?;   // error: `local` dies before the scope
//!     std::mem::forget(r);
//!     Ok(())
//! })?;
//! # Ok::<(), mpi4rs::Error>(())
//! ```
//!
//! Buffers that must stay accessible *between* runs of a persistent operation (the solver
//! loop) are owned instead: see [`Persistent`](crate::Persistent). The borrowing forms on a
//! scope and the owning forms are the two shapes; neither needs `unsafe`.

use crate::completion::{free_persistent, wait_raw};
use crate::error::{Error, Result};
use crate::ffi::{self, MPI_Request};
use crate::runtime::is_active;
use std::cell::RefCell;
use std::marker::PhantomData;

/// What a scope completes at its end.
pub(crate) enum Slot {
    /// A request of a nonblocking (`persistent = false`) or persistent operation; `active`:
    /// a persistent one was started and not yet completed (MPICH 4.0 never returns from a wait
    /// on a persistent collective request that was never started, so inactive ones are only
    /// freed).
    Request { raw: MPI_Request, persistent: bool, active: bool },
    /// A closing step that must run before the lent memory is released (the end of a split
    /// collective, the synchronisation closing an RMA epoch).
    Finisher(Box<dyn FnOnce() -> Result<()>>),
    /// Data MPI reads for as long as the scope's operations run (the count, displacement and
    /// datatype arrays of a nonblocking or persistent `…w` collective): dropped only after
    /// every request of the scope has completed and been freed.
    Keep(Box<dyn std::any::Any>),
    /// Already completed by its handle.
    Done,
}

/// The operations of one [`scope`] (see the [module docs](self)).
///
/// `'s` is the scope's lifetime: buffers lent to operations of the scope are borrowed for it.
/// `'env` is the lifetime of what the scope may borrow from outside the closure. A `Scope` is
/// not `Send` or `Sync`: its operations are completed on the thread that started them.
pub struct Scope<'s, 'env: 's> {
    core: ScopeCore,
    _scope: PhantomData<&'s mut &'s ()>,
    _env: PhantomData<&'env mut &'env ()>,
}

/// The bookkeeping of a [`Scope`], without its lifetimes: what requests point to.
pub(crate) struct ScopeCore {
    slots: RefCell<Vec<Slot>>,
    /// Persistent requests stay with the scope when their handles are dropped (the scope of a
    /// [`Persistent`](crate::Persistent) set) instead of being freed.
    retain: bool,
}

/// Runs `f` with a [`Scope`] for nonblocking operations on borrowed buffers, then completes
/// every operation of the scope that is still outstanding, and returns `f`'s result (or the
/// first error met while completing, if `f` succeeded).
///
/// If `f` panics, the outstanding operations are completed before the panic continues (as
/// [`std::thread::scope`] joins its threads), so no buffer is released while MPI uses it.
pub fn scope<'env, F, T>(f: F) -> Result<T>
where
    F: for<'s> FnOnce(&'s Scope<'s, 'env>) -> Result<T>,
{
    let scope = Scope::new(false);
    let result = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| f(&scope)));
    let finished = scope.core.finish();
    match result {
        Ok(Ok(value)) => finished.map(|()| value),
        Ok(Err(e)) => Err(e),
        Err(panic) => std::panic::resume_unwind(panic),
    }
}

impl<'s, 'env> Scope<'s, 'env> {
    pub(crate) fn new(retain: bool) -> Self {
        Scope {
            core: ScopeCore { slots: RefCell::new(Vec::new()), retain },
            _scope: PhantomData,
            _env: PhantomData,
        }
    }

    /// The bookkeeping that the scope's requests point to.
    #[inline(always)]
    pub(crate) fn core(&'s self) -> &'s ScopeCore {
        &self.core
    }
}

impl ScopeCore {
    /// Records a request of the scope; its slot number.
    pub(crate) fn register(&self, raw: MPI_Request, persistent: bool) -> usize {
        let mut slots = self.slots.borrow_mut();
        slots.push(Slot::Request { raw, persistent, active: false });
        slots.len() - 1
    }

    /// Records a closing step the scope runs at its end unless [`finished`](Self::finished)
    /// first; its slot number. Finishers run in the reverse order of registration, after every
    /// request of the scope has completed.
    pub(crate) fn register_finisher(&self, f: Box<dyn FnOnce() -> Result<()>>) -> usize {
        let mut slots = self.slots.borrow_mut();
        slots.push(Slot::Finisher(f));
        slots.len() - 1
    }

    /// Records whether the persistent request in slot `i` is running (started, not completed).
    pub(crate) fn set_active(&self, i: usize, now: bool) {
        if let Some(Slot::Request { active, .. }) = self.slots.borrow_mut().get_mut(i) {
            *active = now;
        }
    }

    /// Keeps `data` alive until the scope's operations are complete.
    pub(crate) fn keep(&self, data: Box<dyn std::any::Any>) {
        self.slots.borrow_mut().push(Slot::Keep(data));
    }

    /// The operation in slot `i` was completed (or freed) by its handle.
    pub(crate) fn finished(&self, i: usize) {
        if let Some(slot) = self.slots.borrow_mut().get_mut(i) {
            *slot = Slot::Done;
        }
    }

    /// Takes the finisher of slot `i` to run it now (its handle ends the step early).
    #[allow(dead_code)] // for epochs and split collectives that end before their scope
    pub(crate) fn take_finisher(&self, i: usize) -> Option<Box<dyn FnOnce() -> Result<()>>> {
        let mut slots = self.slots.borrow_mut();
        match slots.get_mut(i).map(|s| std::mem::replace(s, Slot::Done)) {
            Some(Slot::Finisher(f)) => Some(f),
            Some(other) => {
                slots[i] = other;
                None
            }
            None => None,
        }
    }

    /// Whether persistent requests stay with the scope when their handles are dropped.
    pub(crate) fn retains(&self) -> bool {
        self.retain
    }

    /// The live slots, taken out of the scope (what a [`Persistent`](crate::Persistent) set
    /// keeps after its setup).
    pub(crate) fn take_slots(&self) -> Vec<Slot> {
        std::mem::take(&mut *self.slots.borrow_mut())
            .into_iter()
            .filter(|s| !matches!(s, Slot::Done))
            .collect()
    }

    /// Completes everything still outstanding: waits for every request, frees persistent
    /// ones, then runs the finishers (last registered first). Every slot is completed even
    /// when one fails; the first error is returned.
    pub(crate) fn finish(&self) -> Result<()> {
        let slots = self.take_slots();
        complete_slots(slots)
    }
}

/// Completes `slots` (see [`Scope::finish`]).
pub(crate) fn complete_slots(slots: Vec<Slot>) -> Result<()> {
    let mut first: Option<Error> = None;
    let mut finishers = Vec::new();
    // Kept data outlives every request (it is dropped when this function returns).
    let mut _kept = Vec::new();
    for slot in slots {
        match slot {
            Slot::Request { mut raw, persistent, active } => {
                if raw == ffi::REQUEST_NULL() || !is_active() {
                    continue;
                }
                let result =
                    if persistent { free_persistent(&mut raw, active) } else { wait_raw(&mut raw).map(drop) };
                if let Err(e) = result {
                    first.get_or_insert(e);
                }
            }
            Slot::Finisher(f) => finishers.push(f),
            Slot::Keep(data) => _kept.push(data),
            Slot::Done => {}
        }
    }
    for f in finishers.into_iter().rev() {
        if !is_active() {
            break;
        }
        if let Err(e) = f() {
            first.get_or_insert(e);
        }
    }
    first.map_or(Ok(()), Err)
}
