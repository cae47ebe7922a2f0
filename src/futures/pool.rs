//! The executor: [`Pool`] (mpi4py's `MPIPoolExecutor` and `MPICommExecutor`), its
//! [`Future`]s and the [`Map`] iterator.
//!
//! How the pool makes progress is told in [`Pool`]'s docs.

use super::options::*;
use super::progress::*;
use super::registry::{decode, Outcome, Registry};
use super::worker::{serve, ResultMsg, HELLO, JOB, RESULT, STOP, WORKER_ARG};
use crate::collective::checks::check_root;
use crate::comm::{Comm, Communicator};
use crate::environment::{FinalizeHook, LibraryThread};
use crate::error::{Error, Result};
use crate::ffi;
use crate::info::Info;
use crate::intercomm::InterComm;
use crate::object::{ObjectComm, OobBytes};
use crate::thread::MultiThreaded;
use serde::de::DeserializeOwned;
use std::cell::RefCell;
use std::collections::HashMap;
use std::rc::{Rc, Weak};
use std::sync::atomic::{AtomicBool, AtomicUsize};
use std::sync::{Arc, Condvar, Mutex, MutexGuard};
use std::time::{Duration, Instant};

/// The environment variable that sets how many workers [`Pool::spawn`] starts when no number
/// is given (mpi4py's `MPI4PY_FUTURES_MAX_WORKERS`).
pub const MAX_WORKERS_ENV: &str = "MPI4RS_FUTURES_MAX_WORKERS";

/// The tag [`Pool::split`] uses on the communicator it splits, to build its intercommunicator.
pub(super) const SPLIT_TAG: i32 = 31000;

/// The job id of an initializer call (never a submitted job's).
pub(super) const INIT_ID: u64 = u64::MAX;

/// A submission collects arrived results once every this many.
pub(super) const POLL_EVERY: u32 = 16;

/// The intercommunicator to the workers: owned by the pool, or shared with its progress
/// thread.
pub(super) enum Link {
    Own(InterComm),
    Threaded(Arc<MultiThreaded<'static, InterComm>>),
}

impl std::ops::Deref for Link {
    type Target = InterComm;
    fn deref(&self) -> &InterComm {
        match self {
            Link::Own(c) => c,
            Link::Threaded(c) => c,
        }
    }
}

/// Where the tasks run.
pub(super) enum Backend {
    /// Workers not started yet: [`Pool::spawn`] starts this many at the first use.
    Unspawned(usize),
    /// [`Pool::bootup_nowait`]: this many workers being spawned by a thread.
    Booting(usize, LibraryThread<Result<MultiThreaded<'static, InterComm>>>),
    /// Workers at the remote ranks of `link`; `spawned` ones are disconnected at the end.
    Remote { link: Link, spawned: bool },
    /// No worker processes: a one-process split runs the tasks in this process.
    Local,
    /// Shut down: the workers were told to stop.
    Stopped,
}

/// This program's path, for spawning workers.
pub(super) fn program_path() -> Result<String> {
    let exe = std::env::current_exe()
        .map_err(|e| Error::InvalidArgument(format!("pool: cannot find this program's path: {e}")))?;
    exe.to_str()
        .map(str::to_string)
        .ok_or_else(|| Error::InvalidArgument(format!("pool: program path {exe:?} is not UTF-8")))
}

/// Spawns `n` workers of program `exe` from `COMM_SELF`.
pub(super) fn spawn_workers(exe: &str, n: usize, hints: &[(String, String)]) -> Result<InterComm> {
    let me = Comm::predefined(ffi::COMM_SELF())?;
    let info = if hints.is_empty() { None } else { Some(Info::from_pairs(hints.iter().cloned())?) };
    me.spawn(exe, &[WORKER_ARG], n as i32, info.as_ref(), 0)
}

pub(super) type Callback = Box<dyn FnOnce(Option<Outcome>)>;

/// The callbacks of one job, and whether its future is gone (then the job's result is
/// dropped once they have run).
pub(super) struct Pending {
    pub(super) callbacks: Vec<Callback>,
    pub(super) orphaned: bool,
}

/// An executor that runs registered tasks on MPI worker processes (mpi4py's
/// `MPIPoolExecutor` from [`spawn`](Pool::spawn), `MPICommExecutor` from
/// [`split`](Pool::split)).
///
/// ```no_run
/// use mpi4rs::futures::{run_worker, Pool, Registry};
/// let env = mpi4rs::init()?;
/// let mut tasks = Registry::new();
/// let square = tasks.register("square", |x: u64| x * x)?;
/// if run_worker(&tasks)? {
///     return Ok(());
/// }
/// let pool = Pool::spawn(&tasks, None)?;        // MPI4RS_FUTURES_MAX_WORKERS or the universe size
/// let fut = pool.submit(&square, &12)?;
/// let squares: Vec<u64> = pool.map(&square, 0..100u64, 10)?.collect::<Result<_, _>>()?;
/// assert_eq!(fut.result()?, 144);
/// assert_eq!(squares[9], 81);
/// // dropping the pool waits for outstanding work and stops the workers
/// # Ok::<(), mpi4rs::Error>(())
/// ```
///
/// # Progress
///
/// Where MPI provided `THREAD_MULTIPLE` (`Config::thread_level(ThreadLevel::Multiple)`, or
/// `MPI4RS_RC_THREAD_LEVEL=multiple`), a pool with worker processes runs a **progress
/// thread**: it hands queued work to workers as they finish and collects their results while
/// the program computes, as mpi4py's manager thread does. It polls with a back-off (from a
/// spin up to 250 µs between polls while work is out, asleep while none is) and stands aside
/// while the program itself is inside a pool call, which then makes progress directly (so a
/// `submit` + `result` round trip costs no thread hand-over). The thread ends when the pool
/// shuts down waiting or is dropped. Drop the pool before the `Environment`: dropping the
/// environment first stops and joins the thread before `MPI_Finalize` (so it never calls MPI
/// while or after MPI is finalised), then collects the work the workers are running, cancels
/// the queued work and tells the workers to stop (with or without a progress thread), so the
/// job still ends; the pool can do nothing more.
///
/// Below `THREAD_MULTIPLE` (the default is `THREAD_SINGLE`) only the thread that initialised MPI
/// may call it, so the pool makes progress only inside its own calls: submitting, waiting on a
/// future or a [`map`](Pool::map) iterator, [`Future::done`](crate::futures::Future::done), and [`Pool::progress`]. A master
/// that submits a batch and then computes without touching the pool leaves each worker idle
/// after its current task; call [`Pool::progress`] now and then in the compute loop (it never
/// waits) to keep them fed. [`Pool::has_progress_thread`] says which case applies, and
/// [`PoolOptions::progress_thread`] turns the thread off.
///
/// Callbacks added with [`Future::add_done_callback`](crate::futures::Future::add_done_callback) always run on the program's thread,
/// inside a pool call (or [`Pool::progress`]), never on the progress thread.
pub struct Pool {
    pub(super) registry: Registry,
    pub(super) options: PoolOptions,
    pub(super) backend: Rc<RefCell<Backend>>,
    pub(super) shared: Arc<Shared>,
    pub(super) callbacks: RefCell<HashMap<u64, Pending>>,
    /// Lets the workers go if the environment is dropped first.
    pub(super) _at_finalize: FinalizeHook,
}

impl std::fmt::Debug for Pool {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Pool")
            .field("workers", &self.workers())
            .field("progress_thread", &self.has_progress_thread())
            .field("tasks", &self.registry)
            .finish()
    }
}

/// The number of workers when none is given: `MPI4RS_FUTURES_MAX_WORKERS`, else the universe
/// size less the size of `COMM_WORLD` (at least 1), as mpi4py does.
pub(super) fn default_workers() -> Result<usize> {
    if let Some(n) = mpi4rs_device::env::count_var(MAX_WORKERS_ENV)? {
        return match n {
            0 => Err(Error::Config(format!("{MAX_WORKERS_ENV}=0: expected a number of workers, at least 1"))),
            n => Ok(n),
        };
    }
    let world = Comm::predefined(ffi::COMM_WORLD())?;
    Ok(match world.universe_size()? {
        Some(u) if u > world.size() => (u - world.size()) as usize,
        _ => 1,
    })
}

/// Receives every worker's task names (all of them, so none is left unreceived) and compares
/// them with ours.
pub(super) fn handshake(comm: &InterComm, registry: &Registry) -> Result<()> {
    let all: Vec<Vec<String>> =
        (0..comm.remote_size()).map(|w| comm.recv_obj(w, HELLO)).collect::<Result<_>>()?;
    match all.iter().position(|names| names != registry.names()) {
        None => Ok(()),
        Some(worker) => Err(Error::InvalidArgument(format!(
            "pool worker {worker} registered the tasks {:?}, the master {:?}: both must build the same registry",
            all[worker],
            registry.names()
        ))),
    }
}

/// Runs the initializer once on every worker and checks every outcome.
pub(super) fn initialize(comm: &InterComm, options: &PoolOptions) -> Result<()> {
    let Some((task, name, arg)) = &options.initializer else { return Ok(()) };
    let args: Vec<OobBytes> = vec![arg.clone().into()];
    for worker in 0..comm.remote_size() {
        comm.send_obj(&(INIT_ID, *task, &args), worker, JOB)?;
    }
    let mut first_error = None;
    for worker in 0..comm.remote_size() {
        let (_, outcomes): ResultMsg = comm.recv_obj(worker, RESULT)?;
        if let Some(Err((panicked, message))) = outcomes.into_iter().next() {
            first_error.get_or_insert(Error::Task {
                task: name.to_string(),
                message: format!("initializer on worker {worker}: {message}"),
                panicked,
            });
        }
    }
    first_error.map_or(Ok(()), Err)
}

/// Splits `comm` into the master `root` and the workers, joined by an intercommunicator:
/// `(whether this process is the master, the intercommunicator)`, or `None` on a one-process
/// communicator. Collective over `comm`.
pub(super) fn split_sides(comm: &Comm, root: i32) -> Result<Option<(bool, InterComm)>> {
    check_root(comm, root)?;
    if comm.size() == 1 {
        return Ok(None);
    }
    let master = comm.rank() == root;
    let side = comm.split(Some(!master as i32), comm.rank())?.ok_or_else(|| {
        Error::InvalidArgument("internal: a process without a side in the pool's split".into())
    })?;
    let remote_leader = if master { (root == 0) as i32 } else { root };
    let inter = side.create_intercomm(0, comm, remote_leader, SPLIT_TAG)?;
    Ok(Some((master, inter)))
}

/// Tells every worker to leave its loop.
pub(super) fn stop_workers(comm: &InterComm) -> Result<()> {
    for worker in 0..comm.remote_size() {
        comm.send_obj(&(), worker, STOP)?;
    }
    Ok(())
}

/// A call's outcome as the caller's type, or the task's error.
pub(super) fn outcome<R: DeserializeOwned>(o: Outcome, task: &str) -> Result<R> {
    match o {
        Ok(bytes) => decode(&bytes),
        Err((panicked, message)) => Err(Error::Task { task: task.to_string(), message, panicked }),
    }
}

pub(super) fn timeout_error(what: &str, timeout: Duration) -> Error {
    Error::Timeout(format!("{what} not done within {timeout:?}"))
}

impl Pool {
    pub(super) fn with_backend(registry: &Registry, options: PoolOptions, backend: Backend) -> Pool {
        let backend = Rc::new(RefCell::new(backend));
        let shared = Arc::new(Shared {
            state: Mutex::new(State::default()),
            wake: Condvar::new(),
            master_busy: AtomicUsize::new(0),
            stop: AtomicBool::new(false),
            finalizing: AtomicBool::new(false),
            thread: Mutex::new(None),
        });
        let (weak, state) = (Rc::downgrade(&backend), shared.clone());
        Pool {
            registry: registry.clone(),
            options,
            backend,
            shared,
            callbacks: RefCell::new(HashMap::new()),
            _at_finalize: FinalizeHook::register(move || let_go_at_finalize(&weak, &state)),
        }
    }

    pub(super) fn lock(&self) -> MutexGuard<'_, State> {
        self.shared.lock()
    }

    /// A pool whose workers are new processes running this same program (`MPI_Comm_spawn` from
    /// `COMM_SELF`, the program's path with the argument [`WORKER_ARG`]); the program calls
    /// [`run_worker`](super::run_worker) at the start of `main`. `max_workers`: `None` reads
    /// [`MAX_WORKERS_ENV`], else the universe size less the size of `COMM_WORLD` (at least 1).
    ///
    /// The workers start at the first submission or at [`bootup`](Pool::bootup). Only on the
    /// thread that holds the [`Environment`](crate::Environment) (else
    /// [`Error::InvalidArgument`]): the pool must not outlive it. In a scoped thread,
    /// [`split`](Pool::split) a [`MultiThreaded`] communicator instead.
    pub fn spawn(registry: &Registry, max_workers: Option<usize>) -> Result<Pool> {
        let mut options = PoolOptions::new();
        options.max_workers = max_workers;
        Pool::spawn_with(registry, options)
    }

    /// [`spawn`](Pool::spawn) with [`PoolOptions`]: an initializer, where and how the workers
    /// start, whether to run a progress thread.
    pub fn spawn_with(registry: &Registry, options: PoolOptions) -> Result<Pool> {
        crate::error::require_active()?;
        crate::environment::require_owner_thread("Pool::spawn")?;
        let n = match options.max_workers {
            Some(0) => return Err(Error::InvalidArgument("a pool needs at least 1 worker".into())),
            Some(n) => n,
            None => default_workers()?,
        };
        if n > i32::MAX as usize {
            return Err(Error::InvalidArgument(format!("{n} workers do not fit an MPI process count")));
        }
        Ok(Pool::with_backend(registry, options, Backend::Unspawned(n)))
    }

    /// Splits the processes of `comm` into a master (`root`, which gets `Some(pool)`) and
    /// workers, which serve tasks until the master shuts the pool down and then get `None`
    /// (mpi4py's `MPICommExecutor`, and `mpiexec -n N … -m mpi4py.futures`). Collective over
    /// `comm`. On a one-process communicator the tasks run in the master itself.
    ///
    /// ```no_run
    /// use mpi4rs::futures::{Pool, Registry};
    /// let env = mpi4rs::init()?;
    /// let mut tasks = Registry::new();
    /// let cube = tasks.register("cube", |x: i64| x * x * x)?;
    /// if let Some(pool) = Pool::split(env.world(), 0, &tasks)? {
    ///     let sum: i64 = pool.map(&cube, 1..=10i64, 1)?.sum::<Result<i64, _>>()?;
    ///     assert_eq!(sum, 3025);
    /// }   // the workers return here once rank 0's pool is dropped
    /// # Ok::<(), mpi4rs::Error>(())
    /// ```
    pub fn split(comm: &Comm, root: i32, registry: &Registry) -> Result<Option<Pool>> {
        Pool::split_with(comm, root, registry, PoolOptions::new())
    }

    /// [`split`](Pool::split) with [`PoolOptions`] (an initializer, the progress thread; spawn
    /// hints and `max_workers` do not apply). The options matter at `root` only.
    pub fn split_with(
        comm: &Comm,
        root: i32,
        registry: &Registry,
        options: PoolOptions,
    ) -> Result<Option<Pool>> {
        let Some((master, inter)) = split_sides(comm, root)? else {
            return Pool::local(registry, options).map(Some);
        };
        if !master {
            serve(&inter, registry)?;
            return Ok(None);
        }
        let pool = Pool::with_backend(registry, options, Backend::Stopped);
        pool.attach(inter, false)?;
        Ok(Some(pool))
    }

    /// A pool without workers processes (a one-process split): its initializer runs here.
    pub(super) fn local(registry: &Registry, options: PoolOptions) -> Result<Pool> {
        let pool = Pool::with_backend(registry, options, Backend::Local);
        if let Some((task, name, arg)) = &pool.options.initializer {
            if let Err((panicked, message)) = pool.registry.run(*task, arg) {
                return Err(Error::Task { task: name.to_string(), message, panicked });
            }
        }
        Ok(pool)
    }

    /// Checks the workers at the other side of `comm`, runs the initializer, and makes them
    /// this pool's (with a progress thread where allowed). On an error the workers are let go.
    pub(super) fn attach(&self, comm: InterComm, spawned: bool) -> Result<()> {
        let ready = handshake(&comm, &self.registry).and_then(|()| initialize(&comm, &self.options));
        if let Err(e) = ready {
            let _ = stop_workers(&comm);
            if spawned {
                let _ = comm.disconnect();
            }
            *self.backend.borrow_mut() = Backend::Stopped;
            return Err(e);
        }
        let workers = comm.remote_size();
        self.lock().idle = (0..workers).rev().collect();
        let link = if self.options.progress_thread {
            // SAFETY: the communicator is used by this pool's thread (the program's) and by a
            // `LibraryThread`, which dropping the environment stops and joins before
            // finalising MPI.
            match unsafe { MultiThreaded::if_multiple(comm) } {
                Ok(shared) => {
                    let shared = Arc::new(shared);
                    let (comm, state, stopping) = (shared.clone(), self.shared.clone(), self.shared.clone());
                    let thread = LibraryThread::spawn(
                        "mpi4rs-pool",
                        move || stopping.stop_for_finalize(),
                        drop, // it let the workers go itself
                        move || progress_thread(comm, state),
                    );
                    match thread {
                        Ok(thread) => {
                            *self.shared.thread.lock().unwrap_or_else(|p| p.into_inner()) = Some(thread)
                        }
                        Err(e) => {
                            let comm = Arc::try_unwrap(shared).map(MultiThreaded::into_inner);
                            if let Ok(comm) = comm {
                                let _ = stop_workers(&comm);
                                if spawned {
                                    let _ = comm.disconnect();
                                }
                            }
                            *self.backend.borrow_mut() = Backend::Stopped;
                            return Err(e);
                        }
                    }
                    Link::Threaded(shared)
                }
                Err(comm) => Link::Own(comm),
            }
        } else {
            Link::Own(comm)
        };
        *self.backend.borrow_mut() = Backend::Remote { link, spawned };
        Ok(())
    }

    /// Starts the workers now rather than at the first submission (mpi4py's `bootup`), so that
    /// a failure to spawn shows here and the start-up time is not charged to the first task.
    ///
    /// After [`bootup_nowait`](Pool::bootup_nowait), waits for that spawn to finish.
    pub fn bootup(&self) -> Result<()> {
        let unspawned = match *self.backend.borrow() {
            Backend::Unspawned(n) => Some(n),
            Backend::Booting(..) => None,
            Backend::Stopped => return Err(Error::InvalidArgument("the pool is shut down".into())),
            _ => return Ok(()),
        };
        let Some(n) = unspawned else {
            let booting = std::mem::replace(&mut *self.backend.borrow_mut(), Backend::Stopped);
            let Backend::Booting(_, thread) = booting else { unreachable!("checked above") };
            let comm = match thread.join() {
                Some(Ok(comm)) => comm?,
                Some(Err(_)) => {
                    return Err(Error::InvalidArgument("pool: the spawning thread panicked".into()))
                }
                // The environment joined it (and freed the communicator) before finalising.
                None => return Err(Error::NotInitialized),
            };
            return self.attach(comm.into_inner(), true);
        };
        let comm = spawn_workers(&program_path()?, n, &self.options.spawn_hints())?;
        self.attach(comm, true)
    }

    /// Starts spawning the workers and returns without waiting for them (mpi4py's
    /// `bootup(wait=False)`): a thread spawns them while the program goes on, and the first
    /// submission (or [`bootup`](Pool::bootup)) waits for it to finish and reports its
    /// errors. This needs `THREAD_MULTIPLE` (a spawn from a second thread); below it, and with
    /// [`PoolOptions::progress_thread`] off, it is [`bootup`](Pool::bootup), which waits.
    pub fn bootup_nowait(&self) -> Result<()> {
        let n = match *self.backend.borrow() {
            Backend::Unspawned(n) => n,
            Backend::Stopped => return Err(Error::InvalidArgument("the pool is shut down".into())),
            _ => return Ok(()),
        };
        if !self.options.progress_thread
            || crate::environment::query_thread()? != crate::ThreadLevel::Multiple
        {
            return self.bootup();
        }
        let (exe, hints) = (program_path()?, self.options.spawn_hints());
        // Nothing can stop a spawn half-way: dropping the environment waits for it, then lets
        // the new workers go (they wait for their first message from this pool).
        let let_go = |spawned: Result<MultiThreaded<'static, InterComm>>| {
            if let Ok(comm) = spawned {
                let _ = stop_workers(&comm);
                let _ = comm.into_inner().disconnect();
            }
        };
        let thread = LibraryThread::spawn(
            "mpi4rs-pool-spawn",
            || {},
            let_go,
            move || {
                let comm = spawn_workers(&exe, n, &hints)?;
                // SAFETY: this thread is a `LibraryThread` (joined before MPI is finalised); the
                // pool that joins it hands the communicator to another one (see `attach`).
                unsafe { MultiThreaded::if_multiple(comm) }.map_err(|_| {
                    Error::InvalidArgument("pool: MPI no longer provides THREAD_MULTIPLE".into())
                })
            },
        )?;
        *self.backend.borrow_mut() = Backend::Booting(n, thread);
        Ok(())
    }

    /// The number of worker processes (0 when the tasks run in this process; for a pool that
    /// has not spawned yet, the number it will start).
    pub fn workers(&self) -> usize {
        match &*self.backend.borrow() {
            Backend::Unspawned(n) | Backend::Booting(n, _) => *n,
            Backend::Remote { link, .. } => link.remote_size() as usize,
            Backend::Local | Backend::Stopped => 0,
        }
    }

    /// Whether a progress thread feeds the workers while the program computes (see
    /// [Progress](Pool#progress)); `false` before the workers start.
    pub fn has_progress_thread(&self) -> bool {
        self.shared.has_thread()
    }

    /// Makes progress without waiting: hands queued work to idle workers, collects the
    /// results that have arrived, and runs the done-callbacks due. Call it now and then while
    /// computing where the pool has no progress thread, so the workers keep getting work.
    /// Returns whether any task finished.
    pub fn progress(&self) -> Result<bool> {
        let got = self.step(false)?;
        self.run_callbacks();
        Ok(got)
    }

    /// Queues a job of `args` for `task`, starting the workers if need be.
    pub(super) fn enqueue(&self, task: u32, args: Vec<OobBytes>) -> Result<u64> {
        if self.lock().closed {
            return Err(Error::InvalidArgument("the pool is shut down: it takes no new tasks".into()));
        }
        self.bootup()?;
        let _busy = Busy::enter(&self.shared.master_busy);
        let backend = self.backend.borrow();
        let mut s = self.lock();
        s.check_failed()?;
        let id = s.next_id;
        s.next_id += 1;
        s.queue.push_back(Job { id, task, args });
        if let Backend::Remote { link, .. } = &*backend {
            // Every POLL_EVERY submissions, also collect the results that have arrived, so
            // freed workers get more work while the program is still submitting (not at every
            // one: a probe that finds nothing may yield the processor, e.g. Open MPI's
            // `mpi_yield_when_idle`).
            s.since_poll += 1;
            if s.since_poll >= POLL_EVERY {
                s.since_poll = 0;
                step(link, &mut s, false)?;
            } else {
                dispatch(link, &mut s)?;
            }
            if s.thread_asleep {
                self.shared.wake.notify_one();
            }
        }
        drop((s, backend, _busy));
        self.run_callbacks();
        Ok(id)
    }

    /// One step of progress in the program's thread (see [`step`]); in a local pool, runs the
    /// next queued job.
    pub(super) fn step(&self, block: bool) -> Result<bool> {
        let _busy = Busy::enter(&self.shared.master_busy);
        let backend = self.backend.borrow();
        let s = self.lock();
        s.check_failed()?;
        self.step_locked(&backend, s, block)
    }

    /// [`Pool::step`] with the state already locked (released on return).
    pub(super) fn step_locked(
        &self,
        backend: &Backend,
        mut s: MutexGuard<'_, State>,
        block: bool,
    ) -> Result<bool> {
        match backend {
            Backend::Remote { link, .. } => step(link, &mut s, block),
            Backend::Local => {
                let Some(job) = s.queue.pop_front() else { return Ok(false) };
                drop(s);
                let outcomes = job.args.iter().map(|a| self.registry.run(job.task, a)).collect();
                let mut s = self.lock();
                if !s.abandoned.remove(&job.id) {
                    s.done.insert(job.id, outcomes);
                }
                Ok(true)
            }
            Backend::Unspawned(_) | Backend::Booting(..) | Backend::Stopped => Ok(false),
        }
    }

    /// Makes progress until `ready` holds (`true`), or until `deadline` passes (`false`).
    pub(super) fn wait_for(&self, ready: impl Fn(&State) -> bool, deadline: Option<Instant>) -> Result<bool> {
        loop {
            let got = {
                let _busy = Busy::enter(&self.shared.master_busy);
                let backend = self.backend.borrow();
                let s = self.lock();
                if ready(&s) {
                    return Ok(true);
                }
                s.check_failed()?;
                if deadline.is_some_and(|d| Instant::now() >= d) {
                    return Ok(false);
                }
                let idle = s.queue.is_empty() && s.busy.is_empty();
                let got = self.step_locked(&backend, s, deadline.is_none())?;
                if !got && idle {
                    return Err(Error::InvalidArgument(
                        "pool: waiting for work that is neither queued, running nor done (was the pool shut down?)"
                            .into(),
                    ));
                }
                got
            };
            self.run_callbacks();
            if !got {
                std::thread::yield_now();
            }
        }
    }

    /// Runs the callbacks of finished jobs, outside every lock (a callback may use the pool).
    pub(super) fn run_callbacks(&self) {
        if self.callbacks.try_borrow().map_or(true, |c| c.is_empty()) {
            return;
        }
        let mut due = Vec::new();
        {
            let Ok(mut pending) = self.callbacks.try_borrow_mut() else { return };
            let mut s = self.lock();
            let ids: Vec<u64> = pending.keys().copied().filter(|&id| s.finished(id)).collect();
            for id in ids {
                let p = pending.remove(&id).expect("listed");
                let o = if p.orphaned {
                    s.cancelled.remove(&id);
                    s.done.remove(&id).and_then(|v| v.into_iter().next())
                } else {
                    s.done.get(&id).and_then(|v| v.first().cloned())
                };
                due.push((p.callbacks, o));
            }
        }
        for (callbacks, o) in due {
            for callback in callbacks {
                callback(o.clone());
            }
        }
    }

    /// Stops the progress thread, if any, and waits for it.
    pub(super) fn stop_thread(&self) {
        self.shared.stop_thread();
    }

    /// Stops taking tasks (mpi4py's `shutdown`). With `cancel_futures`, work no worker has
    /// started is cancelled (its futures give [`Error::Cancelled`]). With `wait`, returns once
    /// all other work is done and the workers have stopped (spawned ones are disconnected);
    /// without, returns at once: outstanding futures still complete when waited on, and the
    /// workers stop when the pool is dropped.
    pub fn shutdown(&self, wait: bool, cancel_futures: bool) -> Result<()> {
        {
            let mut s = self.lock();
            s.closed = true;
            if cancel_futures {
                let ids: Vec<u64> = s.queue.drain(..).map(|j| j.id).collect();
                for id in ids {
                    if !s.abandoned.remove(&id) {
                        s.cancelled.insert(id);
                    }
                }
            }
        }
        if !wait {
            return Ok(());
        }
        if matches!(*self.backend.borrow(), Backend::Booting(..)) {
            self.bootup()?; // then stop the workers it started
        }
        // Whatever goes wrong while waiting, the workers are still stopped (and spawned ones
        // disconnected), so none is left waiting for this process.
        let waited = if matches!(*self.backend.borrow(), Backend::Remote { .. } | Backend::Local) {
            self.wait_for(|s| s.queue.is_empty() && s.busy.is_empty(), None).map(drop)
        } else {
            Ok(())
        };
        self.stop_thread();
        let failed = self.lock().check_failed();
        let backend = std::mem::replace(&mut *self.backend.borrow_mut(), Backend::Stopped);
        let stopped = match backend {
            Backend::Remote { link, spawned } => {
                let told = stop_workers(&link);
                let cut = match (spawned, link) {
                    (false, _) => Ok(()),
                    (true, Link::Own(comm)) => comm.disconnect(),
                    (true, Link::Threaded(shared)) => match Arc::try_unwrap(shared) {
                        Ok(comm) => comm.into_inner().disconnect(),
                        Err(_) => Err(Error::InvalidArgument(
                            "pool: the progress thread still holds the workers' communicator".into(),
                        )),
                    },
                };
                told.and(cut)
            }
            _ => Ok(()),
        };
        waited.and(failed).and(stopped)
    }
}

/// The environment is dropped before the pool ([`FinalizeHook`]), on this thread: stops the
/// progress thread, collects the work the workers are running, cancels the queued work and
/// lets the workers go (disconnecting spawned ones), so that none waits for this process in
/// `MPI_Finalize`. A pool still spawning is let go by its spawning thread's own hook.
fn let_go_at_finalize(backend: &Weak<RefCell<Backend>>, shared: &Shared) {
    shared.stop_thread();
    let Some(backend) = backend.upgrade() else { return };
    let Ok(mut backend) = backend.try_borrow_mut() else { return };
    if !matches!(*backend, Backend::Remote { .. }) {
        return;
    }
    let Backend::Remote { link, spawned } = std::mem::replace(&mut *backend, Backend::Stopped) else {
        unreachable!("checked above")
    };
    let comm = match link {
        Link::Own(comm) => comm,
        Link::Threaded(comm) => match Arc::try_unwrap(comm) {
            Ok(comm) => comm.into_inner(),
            Err(_) => return, // the thread is joined: nothing else holds it
        },
    };
    let_go_before_finalize(&comm, shared);
    if spawned {
        let _ = comm.disconnect();
    }
}

impl Drop for Pool {
    /// Shuts down waiting (mpi4py's `with MPIPoolExecutor() as pool:` block end), except
    /// while a panic unwinds; the progress thread is stopped in any case.
    fn drop(&mut self) {
        if !std::thread::panicking() && crate::runtime::is_active() {
            let _ = self.shutdown(true, false);
        }
        self.stop_thread();
    }
}
