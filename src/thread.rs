//! Threads and MPI: handles stay on their thread unless MPI provided `THREAD_MULTIPLE`.
//!
//! MPI promises only what the *provided* thread level says: under `THREAD_SINGLE` and
//! `THREAD_FUNNELED` only the thread that initialised MPI may call it, under
//! `THREAD_SERIALIZED` one thread at a time, and only `THREAD_MULTIPLE` lets threads call MPI
//! at once (two threads on one communicator under `THREAD_SINGLE` crash MPICH with a UCX
//! assertion). mpi4rs makes that a rule of the types, checked by the compiler, plus one
//! run-time check for the calls that take no handle:
//!
//! - **Handles are neither `Send` nor `Sync`**: [`Comm`],
//!   [`InterComm`](crate::InterComm), the topology communicators, [`Group`](crate::Group),
//!   [`Info`](crate::Info), [`File`](crate::file::File), [`Datatype`](crate::Datatype),
//!   [`Win`](crate::win::Win), [`Message`](crate::Message), [`UserOp`](crate::UserOp), requests
//!   and persistent requests, and everything that holds one (the
//!   [`Environment`] too). A single-threaded program notices nothing;
//!   a program that tries to use a handle on another thread does not compile:
//!
//! ```compile_fail,E0277
//! let env = mpi4rs::init()?;
//! let world = env.world();
//! std::thread::scope(|s| {
//!     s.spawn(|| world.barrier()); // error: `Comm` cannot be shared between threads safely
//! });
//! # Ok::<(), mpi4rs::Error>(())
//! ```
//!
//! - **[`MultiThreaded<T>`] is the opt-in**: a handle wrapped in it is `Send` and `Sync`, and
//!   it can only be made when MPI provided `THREAD_MULTIPLE`
//!   ([`Environment::world_mt`](crate::Environment::world_mt),
//!   [`MultiThreaded::new`], [`MultiThreaded::from_ref`]); otherwise they return
//!   [`Error::WrongThread`]. It dereferences to the handle, so every call works as before:
//!
//! ```no_run
//! use mpi4rs::prelude::*;
//! use mpi4rs::ThreadLevel;
//! let env = mpi4rs::init_with(mpi4rs::Config::default().thread_level(ThreadLevel::Multiple))?;
//! let world = env.world_mt()?; // Err(WrongThread) unless MPI provided THREAD_MULTIPLE
//! std::thread::scope(|s| {
//!     for t in 0..4 {
//!         s.spawn(move || world.send(&(t as u64), (world.rank() + 1) % world.size(), t));
//!     }
//! });
//! # Ok::<(), mpi4rs::Error>(())
//! ```
//!
//! - **Calls without a handle are checked at run time**: creating a datatype, an info object
//!   or a group, `pack`, ports, and every other MPI call go through one check: below
//!   `THREAD_MULTIPLE`, a call from a thread other than the one that initialised MPI returns
//!   [`Error::WrongThread`] without calling MPI (one relaxed atomic load per call, and a
//!   thread-local read below `MULTIPLE`). Only [`wtime`](crate::wtime)/[`wtick`](crate::wtick)
//!   and the queries MPI allows at any time (`is_initialized`, `version`, …) skip it.
//!
//! `THREAD_SERIALIZED` is treated as `THREAD_FUNNELED` (one thread, the initialising one):
//! proving "one at a time" across threads would need a lock per call, which is what
//! `THREAD_MULTIPLE` costs inside MPI. The default thread level is `THREAD_SINGLE`, what
//! `MPI_Init` asks for: with these rules only one thread ever calls MPI (other threads of the
//! program may exist and compute, as in most C and Fortran MPI programs). Open MPI 4.1 takes a
//! lock per operation at every level above `SINGLE` (`FUNNELED` included), which makes an
//! 8-byte ping-pong about 18 % more instructions (see `docs/performance.md`). Ask for
//! `Funneled` where an MPI library must know that other threads exist, and for `Multiple`
//! (`Config::thread_level`, or `MPI4RS_RC_THREAD_LEVEL=multiple`) to use MPI from several
//! threads.
//!
//! Limits — what the types cannot see and MPI does not check: under `THREAD_MULTIPLE`, two
//! threads must not start collective operations on the same communicator (or window, or
//! file) at the same time, since MPI matches collectives by their order on each process, nor
//! wait on the same request (requests cannot leave their thread, so this one is enforced).
//! [`Info`](crate::Info) stays on its thread even under `MULTIPLE` (setting and reading keys
//! concurrently is not something MPI promises to make safe).

use crate::comm::Comm;
use crate::environment::Environment;
use crate::error::{Error, Result};
use crate::ThreadLevel;

mod sealed {
    pub trait Sealed {}
}

/// Handles whose only part that must stay on one thread is MPI itself, so that
/// [`MultiThreaded`] may share them when MPI provided `THREAD_MULTIPLE`. Sealed.
pub trait Shareable: sealed::Sealed {}

macro_rules! shareable {
    ($($t:ty),*) => {$(
        impl sealed::Sealed for $t {}
        impl Shareable for $t {}
    )*};
}
shareable!(
    Comm,
    crate::InterComm,
    crate::Group,
    crate::Datatype,
    crate::file::File,
    crate::topology::CartComm,
    crate::topology::GraphComm,
    crate::topology::DistGraphComm
);

/// A handle that any thread may use, because MPI provided `THREAD_MULTIPLE`. See the
/// [module docs](self).
///
/// Dereferences to the handle. Made only by [`new`](Self::new), [`from_ref`](Self::from_ref)
/// and [`Environment::world_mt`]/[`self_mt`](Environment::self_mt), which return
/// [`Error::WrongThread`] below `THREAD_MULTIPLE`.
#[repr(transparent)]
pub struct MultiThreaded<T>(T);

// SAFETY: `MultiThreaded<T>` exists only when MPI provided THREAD_MULTIPLE (checked in its
// constructors; the level never changes afterwards), under which any thread may call MPI on
// the handle at any time. `Shareable` types have no other thread-bound state (plain values,
// atomics), so moving or sharing them is only moving or sharing the MPI handle.
unsafe impl<T: Shareable> Send for MultiThreaded<T> {}
// SAFETY: as for Send; `&T` only reads the handle and calls MPI on it.
unsafe impl<T: Shareable> Sync for MultiThreaded<T> {}

fn require_multiple(env: &Environment) -> Result<()> {
    match env.thread_level() {
        ThreadLevel::Multiple => Ok(()),
        provided => Err(Error::WrongThread { provided }),
    }
}

impl<T: Shareable> MultiThreaded<T> {
    /// Wraps `handle` so that it may move to and be shared with other threads;
    /// [`Error::WrongThread`] unless MPI provided `THREAD_MULTIPLE`.
    pub fn new(env: &Environment, handle: T) -> Result<MultiThreaded<T>> {
        require_multiple(env)?;
        Ok(MultiThreaded(handle))
    }

    /// Shares a borrowed handle with other threads (e.g. those of a `std::thread::scope`);
    /// [`Error::WrongThread`] unless MPI provided `THREAD_MULTIPLE`.
    pub fn from_ref<'a>(env: &Environment, handle: &'a T) -> Result<&'a MultiThreaded<T>> {
        require_multiple(env)?;
        // SAFETY: `MultiThreaded<T>` is `repr(transparent)` over `T`, so the reference has the
        // same layout, alignment and validity; the lifetime stays `'a`.
        Ok(unsafe { &*(handle as *const T).cast::<MultiThreaded<T>>() })
    }

    /// The handle, back on this thread only.
    pub fn into_inner(self) -> T {
        self.0
    }
}

impl<T> std::ops::Deref for MultiThreaded<T> {
    type Target = T;
    fn deref(&self) -> &T {
        &self.0
    }
}

impl<T: std::fmt::Debug> std::fmt::Debug for MultiThreaded<T> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_tuple("MultiThreaded").field(&self.0).finish()
    }
}

impl Environment {
    /// `COMM_WORLD`, for use from any thread; [`Error::WrongThread`] unless MPI provided
    /// `THREAD_MULTIPLE` (see [`crate::thread`]).
    pub fn world_mt(&self) -> Result<&MultiThreaded<Comm>> {
        MultiThreaded::from_ref(self, self.world())
    }

    /// `COMM_SELF`, for use from any thread; [`Error::WrongThread`] unless MPI provided
    /// `THREAD_MULTIPLE`.
    pub fn self_mt(&self) -> Result<&MultiThreaded<Comm>> {
        MultiThreaded::from_ref(self, self.self_comm())
    }
}

impl<T: Shareable> MultiThreaded<T> {
    /// [`new`](Self::new) for library code that holds no [`Environment`]: the handle back as
    /// `Err` unless MPI provided `THREAD_MULTIPLE` (or the level cannot be read).
    pub(crate) fn if_multiple(handle: T) -> std::result::Result<MultiThreaded<T>, T> {
        match crate::environment::query_thread() {
            Ok(ThreadLevel::Multiple) => Ok(MultiThreaded(handle)),
            _ => Err(handle),
        }
    }
}
