//! Synchronisation building blocks on one-sided communication (mpi4py's `util.sync`): a
//! global [`Counter`] (fetch-and-add on one process's window), a [`Mutex`] across processes
//! (compare-and-swap on one lock word) and [`Sequential`] execution in rank order.
//!
//! ```no_run
//! use mpi4rs::prelude::*;
//! use mpi4rs::sync::{Counter, Mutex, Sequential};
//!
//! let env = mpi4rs::init()?;
//! let world = env.world();
//! // Hand out work items 0, 1, 2, … to whichever process asks first.
//! let counter = Counter::new(0i64, 1, 0, world)?;
//! let item = counter.next()?;
//! // One process at a time.
//! let mutex = Mutex::new(false, world)?;
//! {
//!     let _held = mutex.acquire()?;
//!     println!("rank {} holds the mutex", world.rank());
//! }
//! // In rank order.
//! let seq = Sequential::new(world, 0);
//! {
//!     let _turn = seq.begin()?;
//!     println!("rank {} got item {item}", world.rank());
//! }
//! # Ok::<(), mpi4rs::Error>(())
//! ```
//!
//! Every access to the shared words is an atomic one-sided operation completed in its own
//! passive-target epoch: race-free in safe Rust, and each attempt is a call into MPI, which
//! also drives the progress of the other processes' operations.

use crate::buffer::BufferElement;
use crate::comm::{Comm, Communicator};
use crate::error::{Error, Result};
use crate::ffi;
use crate::op::Op;
use crate::p2p::PointToPoint;
use crate::win::{Assert, LockType, Win};
use crate::Collective;
use std::cell::Cell;
use std::time::Duration;

/// A global counter in the window of one process (mpi4py's `util.sync.Counter`): every
/// process draws values with [`next`](Self::next), each value exactly once.
pub struct Counter<T: BufferElement> {
    win: Win,
    root: i32,
    step: T,
}

impl<T: BufferElement + PartialEq + Default> Counter<T> {
    /// A counter starting at `start` and moving by `step` per [`next`](Self::next), held in
    /// the window of process `root` of `comm`; collective. `T` is an integer or floating-point
    /// type (`SUM` must apply to it).
    pub fn new(start: T, step: T, root: i32, comm: &Comm) -> Result<Counter<T>> {
        crate::comm::check_rank(comm, root, false)?;
        if root == ffi::PROC_NULL() {
            return Err(Error::InvalidRank { rank: root, size: comm.size(), allows_any: false });
        }
        let size = std::mem::size_of::<T>();
        let here = if comm.rank() == root { size } else { 0 };
        let win = Win::allocate(here, size, &[], comm)?;
        if comm.rank() == root {
            let mut mem = win.local_access()?;
            mem.as_mut_slice::<T>()?[0] = start;
            mem.end()?;
        }
        comm.barrier()?;
        Ok(Counter { win, root, step })
    }

    /// The current value, and moves the counter on by the step.
    pub fn next(&self) -> Result<T> {
        self.next_by(self.step)
    }

    /// The current value, and moves the counter on by `incr` (`0` only reads it).
    pub fn next_by(&self, incr: T) -> Result<T> {
        let op = if incr == T::default() { &Op::NO_OP } else { &Op::SUM };
        crate::scope(|s| {
            let epoch = self.win.lock(s, self.root, LockType::Shared, Assert::NONE)?;
            let old = epoch.fetch_and_op_value(incr, self.root, 0, op)?;
            epoch.end()?;
            Ok(old)
        })
    }
}

/// The process whose window holds the mutex's lock word.
const HOME: i32 = 0;

/// Mutual exclusion across the processes of a communicator (mpi4py's `util.sync.Mutex`):
/// [`acquire`](Self::acquire) blocks until this process holds the mutex and returns a guard
/// that releases it on drop.
///
/// One lock word in process 0's window holds the owner's rank (or `PROC_NULL`); acquiring is
/// an atomic `compare_and_swap` on it, retried with a growing pause, each attempt in its own
/// shared lock so that it completes at once. mpi4py queues waiters (an MCS lock); an earlier
/// version of this type did too, and lost a hand-over on MPICH 4.0.2 (ch4:ucx) at 3 or more
/// processes, so the simpler test-and-set lock was preferred: it is correct on both MPI
/// libraries but not fair (a waiter may be overtaken).
pub struct Mutex {
    win: Win,
    recursive: bool,
    /// How many times this process holds it (recursive acquisition counts).
    held: Cell<u32>,
}

/// Holds a [`Mutex`]; dropping it (or [`release`](Self::release)) releases it.
#[must_use = "dropping the guard releases the mutex at once"]
pub struct MutexGuard<'a> {
    mutex: &'a Mutex,
    active: bool,
}

impl Mutex {
    /// A mutex over the processes of `comm`; collective. A `recursive` mutex may be acquired
    /// again by the process that holds it (and is released when every guard is gone).
    pub fn new(recursive: bool, comm: &Comm) -> Result<Mutex> {
        let home = comm.rank() == HOME;
        let win = Win::allocate(if home { 4 } else { 0 }, 4, &[], comm)?;
        if home {
            let mut mem = win.local_access()?;
            mem.as_mut_slice::<i32>()?[0] = ffi::PROC_NULL();
        }
        comm.barrier()?;
        Ok(Mutex { win, recursive, held: Cell::new(0) })
    }

    /// Whether this process holds the mutex.
    pub fn locked(&self) -> bool {
        self.held.get() > 0
    }

    /// How many times this process holds it (more than 1 only for recursive mutexes).
    pub fn count(&self) -> u32 {
        self.held.get()
    }

    /// Blocks until this process holds the mutex. Acquiring a non-recursive mutex that this
    /// process already holds is an error (it would deadlock).
    pub fn acquire(&self) -> Result<MutexGuard<'_>> {
        if let Some(guard) = self.held_again()? {
            return Ok(guard);
        }
        spin(|| self.try_lock_word())?;
        self.held.set(1);
        Ok(MutexGuard { mutex: self, active: true })
    }

    /// Acquires the mutex if no process holds it; `None` otherwise.
    pub fn try_acquire(&self) -> Result<Option<MutexGuard<'_>>> {
        if let Some(guard) = self.held_again()? {
            return Ok(Some(guard));
        }
        if !self.try_lock_word()? {
            return Ok(None);
        }
        self.held.set(1);
        Ok(Some(MutexGuard { mutex: self, active: true }))
    }

    /// A further guard when this process holds a recursive mutex already.
    fn held_again(&self) -> Result<Option<MutexGuard<'_>>> {
        if !self.locked() {
            return Ok(None);
        }
        if !self.recursive {
            return Err(Error::InvalidArgument(
                "this process already holds the (non-recursive) mutex: acquiring it again would deadlock"
                    .into(),
            ));
        }
        self.held.set(self.held.get() + 1);
        Ok(Some(MutexGuard { mutex: self, active: true }))
    }

    /// One attempt to write this process's rank into the free lock word.
    fn try_lock_word(&self) -> Result<bool> {
        let (me, null) = (self.win.rank(), ffi::PROC_NULL());
        let owner = crate::scope(|s| {
            let epoch = self.win.lock(s, HOME, LockType::Shared, Assert::NONE)?;
            let owner = epoch.compare_and_swap_value(me, null, HOME, 0)?;
            epoch.end()?;
            Ok(owner)
        })?;
        Ok(owner == null)
    }

    fn release_impl(&self) -> Result<()> {
        let held = self.held.get();
        if held == 0 {
            return Err(Error::InvalidArgument("this process does not hold the mutex".into()));
        }
        self.held.set(held - 1);
        if held > 1 {
            return Ok(());
        }
        let (me, null) = (self.win.rank(), ffi::PROC_NULL());
        let owner = crate::scope(|s| {
            let epoch = self.win.lock(s, HOME, LockType::Shared, Assert::NONE)?;
            let owner = epoch.compare_and_swap_value(null, me, HOME, 0)?;
            epoch.end()?;
            Ok(owner)
        })?;
        if owner != me {
            return Err(Error::InvalidArgument(format!(
                "the mutex was held by rank {owner}, not by this process ({me})"
            )));
        }
        Ok(())
    }
}

impl MutexGuard<'_> {
    /// Releases the mutex now, reporting errors that drop cannot.
    pub fn release(mut self) -> Result<()> {
        self.active = false;
        self.mutex.release_impl()
    }
}

impl Drop for MutexGuard<'_> {
    fn drop(&mut self) {
        if self.active && crate::runtime::is_active() {
            let _ = self.mutex.release_impl();
        }
    }
}

/// Polls `done` with a growing pause (up to 1 ms) until it says so.
fn spin(mut done: impl FnMut() -> Result<bool>) -> Result<()> {
    let mut pause = Duration::ZERO;
    while !done()? {
        if pause.is_zero() {
            std::thread::yield_now();
            pause = Duration::from_micros(1);
        } else {
            std::thread::sleep(pause);
            pause = (pause * 2).min(Duration::from_millis(1));
        }
    }
    Ok(())
}

/// Sequential execution in rank order (mpi4py's `util.sync.Sequential`): the section between
/// [`begin`](Self::begin) and the guard's drop runs on rank 0, then rank 1, and so on.
pub struct Sequential<'c> {
    comm: &'c Comm,
    tag: i32,
}

/// A process's turn in a [`Sequential`] section; dropping it (or [`end`](Self::end)) passes
/// the turn to the next rank.
#[must_use = "dropping the guard ends this process's turn at once"]
pub struct SequentialTurn<'s> {
    seq: &'s Sequential<'s>,
    active: bool,
}

impl<'c> Sequential<'c> {
    /// Sequential execution over `comm`, passing turns with zero-byte messages of `tag`.
    pub fn new(comm: &'c Comm, tag: i32) -> Sequential<'c> {
        Sequential { comm, tag }
    }

    /// Waits for this process's turn (the previous rank's turn to end).
    pub fn begin(&self) -> Result<SequentialTurn<'_>> {
        let rank = self.comm.rank();
        if rank > 0 {
            self.comm.recv(&mut [0u8; 0], rank - 1, self.tag)?;
        }
        Ok(SequentialTurn { seq: self, active: true })
    }

    fn end_turn(&self) -> Result<()> {
        let rank = self.comm.rank();
        if rank + 1 < self.comm.size() {
            self.comm.send(&[0u8; 0], rank + 1, self.tag)?;
        }
        Ok(())
    }
}

impl SequentialTurn<'_> {
    /// Ends this process's turn now, reporting errors that drop cannot.
    pub fn end(mut self) -> Result<()> {
        self.active = false;
        self.seq.end_turn()
    }
}

impl Drop for SequentialTurn<'_> {
    fn drop(&mut self) {
        if self.active && crate::runtime::is_active() {
            let _ = self.seq.end_turn();
        }
    }
}
