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
//!   [`Error::WrongThread`] without calling MPI (one relaxed atomic load and a thread-local
//!   read per call on the thread that initialised MPI, at every level). Only
//!   [`wtime`](crate::wtime)/[`wtick`](crate::wtick) and the queries MPI allows at any time
//!   (`is_initialized`, `version`, …) skip it.
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
//! - **A [`MultiThreaded`] handle borrows the [`Environment`]** (`MultiThreaded<'env, T>`),
//!   so it reaches only threads that end before MPI is finalised, as `std::thread::scope`
//!   makes sure: dropping the environment ([`MPI_Finalize`](Environment)) while such a handle
//!   lives does not compile, and neither does moving one into `std::thread::spawn`, whose
//!   threads may outlive it:
//!
//! ```compile_fail,E0505
//! use mpi4rs::prelude::*;
//! let env = mpi4rs::init()?;
//! let world = mpi4rs::MultiThreaded::new(&env, env.world().dup()?)?;
//! std::thread::scope(|s| {
//!     s.spawn(move || world.barrier());
//!     drop(env); // error: cannot move out of `env` because it is borrowed
//! });
//! # Ok::<(), mpi4rs::Error>(())
//! ```
//!
//! ```compile_fail,E0597
//! let env = mpi4rs::init()?;
//! let world = env.world_mt()?;
//! std::thread::spawn(move || world.barrier()); // error: `env` does not live long enough
//! # Ok::<(), mpi4rs::Error>(())
//! ```
//!
//! Why a lifetime and not only the run-time check below: the borrow costs nothing and makes
//! the order (threads end, then MPI is finalised) a rule of the types, as `std::thread::scope`
//! does for borrowed data, so communication between threads cannot be cut off by
//! `MPI_Finalize` (a thread waiting for a message while MPI is finalised would wait forever).
//! `std::mem::forget` of a `MultiThreaded` cannot break it (a forgotten handle is never used
//! again, and the borrow still ends before the environment can be dropped). A `'static` handle for `std::thread::spawn` needs a `'static` environment,
//! e.g. `Box::leak(Box::new(mpi4rs::init()?))`, but a leaked environment never finalises MPI,
//! which `mpiexec` reports as a failure: scoped threads are the pattern.
//!
//! Threads this library starts itself (the progress thread of a
//! [`futures::Pool`](crate::futures::Pool), the thread of
//! [`Pool::bootup_nowait`](crate::futures::Pool::bootup_nowait)) are not borrowed by anything
//! the program sees, so dropping the environment first stops and joins them before it
//! finalises MPI (a registry in [`crate::environment`]; nothing on the path of each call).
//! A `Pool<'env>` borrowing the environment would have made that order a type error too, but
//! [`Pool::spawn`](crate::futures::Pool::spawn) takes no environment and `Pool::split` only a
//! communicator, so every pool program, test and example would change; the registry keeps the
//! API, and the pool is not `Send`, so it lives on the environment's thread (or in a scoped
//! thread, which ends first). Pools and [`SharedWorkers`](crate::futures::SharedWorkers)
//! still alive at that point also let their workers go first (the work the workers are
//! running is collected, queued work cancelled), so none waits for this process in
//! `MPI_Finalize`; the pool can do nothing afterwards. Drop pools before the environment all
//! the same: their queued work is lost otherwise.
//!
//! - **Calls in flight end before `MPI_Finalize`**: under `THREAD_MULTIPLE` a thread that is
//!   not scoped (`std::thread::spawn`) may still call MPI without a handle or on handles that
//!   need no communicator (make and free a datatype, an info, a group, `pack`, the queries),
//!   and drop such handles, while the environment is dropped on the main thread. Every MPI
//!   call holds a guard from the check it passes until it returns; on a thread other than the
//!   one that initialised MPI (and only under `THREAD_MULTIPLE`, the only level where such a
//!   thread may call MPI) the guard counts the call in flight (one atomic increment and
//!   decrement, then a second load of the state). Dropping the environment first marks MPI
//!   finalised, so every later call returns [`Error::NotInitialized`] and every later `Drop`
//!   leaves its handle to MPI, then waits until no call is in flight, and only then calls
//!   `MPI_Finalize`: no call of the library runs during or after it (`tests/threads.rs`,
//!   `unscoped_thread_at_finalize_*`). The thread that initialised MPI pays nothing more (it is
//!   the one that finalises). A thread *blocked* in MPI at that moment (waiting for a message
//!   that will not come) keeps the environment's drop waiting; after a few seconds it says so
//!   once on stderr and goes on waiting, since finalising under it would be undefined
//!   behaviour. The calls that make a *communicator* out of nothing
//!   ([`get_parent`](crate::dynamic::get_parent), [`dynamic::join`](crate::dynamic::join),
//!   [`Pool::spawn`](crate::futures::Pool::spawn)) and [`adopt`](crate::adopt) are refused off
//!   the environment's thread while it lives, so no thread that might outlive it can wait in a
//!   communication.
//!
//! Not covered: MPI finalised by someone else (an [`adopt`](crate::adopt)ed MPI, whose owner
//! calls `MPI_Finalize` without this library's knowledge) while other threads still call it.
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
use std::marker::PhantomData;

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

/// A handle that any thread may use, because MPI provided `THREAD_MULTIPLE`, while the
/// [`Environment`] it borrows (`'env`) keeps MPI initialised. See the [module docs](self).
///
/// Dereferences to the handle. Made only by [`new`](Self::new), [`from_ref`](Self::from_ref)
/// and [`Environment::world_mt`]/[`self_mt`](Environment::self_mt), which return
/// [`Error::WrongThread`] below `THREAD_MULTIPLE`.
#[repr(transparent)]
pub struct MultiThreaded<'env, T> {
    handle: T,
    /// The environment stays (MPI is not finalised) while any thread may use the handle.
    _env: PhantomData<&'env Environment>,
}

// SAFETY: `MultiThreaded<T>` exists only when MPI provided THREAD_MULTIPLE (checked in its
// constructors; the level never changes afterwards), under which any thread may call MPI on
// the handle at any time. `Shareable` types have no other thread-bound state (plain values,
// atomics), so moving or sharing them is only moving or sharing the MPI handle. It borrows the
// environment for `'env`, so every thread it reaches ends (scoped threads) before the
// environment can finalise MPI; the library's own threads (the only users of the unchecked
// `'static` constructor) are joined before finalising.
unsafe impl<T: Shareable> Send for MultiThreaded<'_, T> {}
// SAFETY: as for Send; `&T` only reads the handle and calls MPI on it.
unsafe impl<T: Shareable> Sync for MultiThreaded<'_, T> {}

fn require_multiple(env: &Environment) -> Result<()> {
    match env.thread_level() {
        ThreadLevel::Multiple => {}
        provided => return Err(Error::WrongThread { provided }),
    }
    if env.is_adopted() && crate::environment::owner_is_live() {
        // Dropping the environment `init` returned finalises MPI whatever the adopted one
        // borrows, so the borrow would guard nothing.
        return Err(Error::InvalidArgument(
            "MultiThreaded: borrow the Environment that init returned, not an adopted one (dropping the former finalises MPI)"
                .into(),
        ));
    }
    Ok(())
}

impl<'env, T: Shareable> MultiThreaded<'env, T> {
    /// Wraps `handle` so that it may move to and be shared with other threads that end
    /// before `env` is dropped (`std::thread::scope`); [`Error::WrongThread`] unless MPI
    /// provided `THREAD_MULTIPLE`, [`Error::InvalidArgument`] for an
    /// [adopted](Environment::is_adopted) environment while the one `init` returned lives.
    pub fn new(env: &'env Environment, handle: T) -> Result<MultiThreaded<'env, T>> {
        require_multiple(env)?;
        Ok(MultiThreaded { handle, _env: PhantomData })
    }

    /// Shares a borrowed handle with other threads (e.g. those of a `std::thread::scope`);
    /// errors as [`new`](Self::new).
    pub fn from_ref<'a>(env: &'env Environment, handle: &'a T) -> Result<&'a MultiThreaded<'env, T>> {
        require_multiple(env)?;
        // SAFETY: `MultiThreaded<T>` is `repr(transparent)` over `T` (its other field is a
        // zero-sized marker), so the reference has the same layout, alignment and validity;
        // the lifetime stays `'a`.
        Ok(unsafe { &*(handle as *const T).cast::<MultiThreaded<'env, T>>() })
    }

    /// The handle, back on this thread only.
    pub fn into_inner(self) -> T {
        self.handle
    }
}

impl<T> std::ops::Deref for MultiThreaded<'_, T> {
    type Target = T;
    fn deref(&self) -> &T {
        &self.handle
    }
}

impl<T: std::fmt::Debug> std::fmt::Debug for MultiThreaded<'_, T> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_tuple("MultiThreaded").field(&self.handle).finish()
    }
}

impl Environment {
    /// `COMM_WORLD`, for use from any thread that ends before the environment is dropped;
    /// [`Error::WrongThread`] unless MPI provided `THREAD_MULTIPLE` (see [`crate::thread`]).
    pub fn world_mt(&self) -> Result<&MultiThreaded<'_, Comm>> {
        MultiThreaded::from_ref(self, self.world())
    }

    /// `COMM_SELF`, for use from any thread that ends before the environment is dropped;
    /// [`Error::WrongThread`] unless MPI provided `THREAD_MULTIPLE`.
    pub fn self_mt(&self) -> Result<&MultiThreaded<'_, Comm>> {
        MultiThreaded::from_ref(self, self.self_comm())
    }
}

impl<T: Shareable> MultiThreaded<'static, T> {
    /// [`new`](Self::new) for library code that holds no [`Environment`]: the handle back as
    /// `Err` unless MPI provided `THREAD_MULTIPLE` (or the level cannot be read).
    ///
    /// # Safety
    ///
    /// Nothing borrows an environment here, so the caller must make sure no thread uses the
    /// handle once MPI is finalised: only threads started with
    /// [`LibraryThread::spawn`](crate::environment::LibraryThread::spawn), which the
    /// environment stops and joins before it finalises MPI, and the thread that owns the
    /// library object holding it (whose calls are checked as any handle's), may use it.
    pub(crate) unsafe fn if_multiple(handle: T) -> std::result::Result<MultiThreaded<'static, T>, T> {
        match crate::environment::query_thread() {
            Ok(ThreadLevel::Multiple) => Ok(MultiThreaded { handle, _env: PhantomData }),
            _ => Err(handle),
        }
    }
}
