//! The executor: [`Pool`] (mpi4py's `MPIPoolExecutor` and `MPICommExecutor`), its
//! [`Future`]s and the [`Map`] iterator.
//!
//! How the pool makes progress is told in [`Pool`]'s docs.

use super::registry::{decode, encode, Outcome, Registry, Task};
use super::worker::{serve, ResultMsg, HELLO, JOB, RESULT, STOP, WORKER_ARG};
use crate::collective::checks::check_root;
use crate::comm::{Comm, Communicator};
use crate::error::{Error, Result};
use crate::ffi;
use crate::info::Info;
use crate::intercomm::InterComm;
use crate::object::{ObjectComm, OobBytes};
use crate::p2p::{any_source, PointToPoint};
use crate::thread::MultiThreaded;
use serde::de::DeserializeOwned;
use serde::Serialize;
use std::borrow::Borrow;
use std::cell::RefCell;
use std::collections::{HashMap, HashSet, VecDeque};
use std::marker::PhantomData;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Condvar, Mutex, MutexGuard};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

/// The environment variable that sets how many workers [`Pool::spawn`] starts when no number
/// is given (mpi4py's `MPI4PY_FUTURES_MAX_WORKERS`).
pub const MAX_WORKERS_ENV: &str = "MPI4RS_FUTURES_MAX_WORKERS";

/// The tag [`Pool::split`] uses on the communicator it splits, to build its intercommunicator.
const SPLIT_TAG: i32 = 31000;

/// The job id of an initializer call (never a submitted job's).
const INIT_ID: u64 = u64::MAX;

/// A submission collects arrived results once every this many.
const POLL_EVERY: u32 = 16;

/// The longest pause of the progress thread between polls while work is out.
const MAX_BACKOFF: Duration = Duration::from_micros(250);

/// The intercommunicator to the workers: owned by the pool, or shared with its progress
/// thread.
pub(super) enum Link {
    Own(InterComm),
    Threaded(Arc<MultiThreaded<InterComm>>),
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
    Booting(usize, JoinHandle<Result<MultiThreaded<InterComm>>>),
    /// Workers at the remote ranks of `link`; `spawned` ones are disconnected at the end.
    Remote { link: Link, spawned: bool },
    /// No worker processes: a one-process split runs the tasks in this process.
    Local,
    /// Shut down: the workers were told to stop.
    Stopped,
}

/// A chunk of calls waiting for a worker.
struct Job {
    id: u64,
    task: u32,
    args: Vec<OobBytes>,
}

#[derive(Default)]
struct State {
    next_id: u64,
    queue: VecDeque<Job>,
    idle: Vec<i32>,
    busy: HashMap<u64, i32>,
    done: HashMap<u64, Vec<Outcome>>,
    cancelled: HashSet<u64>,
    /// Jobs whose future was dropped: their results are thrown away on arrival.
    abandoned: HashSet<u64>,
    /// `shutdown` was called: no new submissions.
    closed: bool,
    /// The progress thread sleeps until work is queued.
    thread_asleep: bool,
    /// The progress thread met an MPI error: the pool cannot go on.
    failed: Option<String>,
    /// Submissions since one last collected results.
    since_poll: u32,
}

impl State {
    fn finished(&self, id: u64) -> bool {
        self.done.contains_key(&id) || self.cancelled.contains(&id)
    }

    /// How job `id` stands.
    fn status(&self, id: u64) -> Status {
        if self.cancelled.contains(&id) {
            return Status::Failed;
        }
        match self.done.get(&id).and_then(|o| o.first()) {
            Some(Ok(_)) => Status::Ok,
            Some(Err(_)) => Status::Failed,
            None if self.done.contains_key(&id) => Status::Ok,
            None => Status::Pending,
        }
    }

    /// Cancels job `id` if it has not been handed to a worker yet.
    fn cancel(&mut self, id: u64) -> bool {
        if self.cancelled.contains(&id) {
            return true;
        }
        match self.queue.iter().position(|j| j.id == id) {
            Some(at) => {
                self.queue.remove(at);
                self.cancelled.insert(id);
                true
            }
            None => false,
        }
    }

    /// Forgets job `id` (its future or iterator is gone): queued or running, its result will
    /// be thrown away.
    fn forget(&mut self, id: u64) {
        if self.done.remove(&id).is_none() && !self.cancelled.remove(&id) {
            self.abandoned.insert(id);
        }
    }

    fn check_failed(&self) -> Result<()> {
        match &self.failed {
            None => Ok(()),
            Some(e) => Err(Error::InvalidArgument(format!("pool: the progress thread failed: {e}"))),
        }
    }
}

/// How a job stands, for [`wait`].
#[derive(Clone, Copy, PartialEq, Eq)]
enum Status {
    Pending,
    Ok,
    Failed,
}

/// What the pool shares with its progress thread.
struct Shared {
    state: Mutex<State>,
    /// Wakes a sleeping progress thread when work is queued or the pool stops.
    wake: Condvar,
    /// Pool calls of the program now running: the progress thread stands aside meanwhile.
    master_busy: AtomicUsize,
    stop: AtomicBool,
}

impl Shared {
    fn lock(&self) -> MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
    }
}

/// Counts a pool call of the program while it lives.
struct Busy<'a>(&'a AtomicUsize);

impl<'a> Busy<'a> {
    fn enter(counter: &'a AtomicUsize) -> Busy<'a> {
        counter.fetch_add(1, Ordering::AcqRel);
        Busy(counter)
    }
}

impl Drop for Busy<'_> {
    fn drop(&mut self) {
        self.0.fetch_sub(1, Ordering::AcqRel);
    }
}

/// Hands queued jobs to idle workers.
fn dispatch(comm: &InterComm, s: &mut State) -> Result<()> {
    while !s.queue.is_empty() && !s.idle.is_empty() {
        let (job, worker) = (s.queue.pop_front().expect("non-empty"), s.idle.pop().expect("non-empty"));
        comm.send_obj(&(job.id, job.task, &job.args), worker, JOB)?;
        s.busy.insert(job.id, worker);
    }
    Ok(())
}

/// One step of progress with workers: hands out queued work, then receives every result that
/// has arrived (waiting for the first when `block` and work is out), handing the freed workers
/// their next jobs. Whether any result came.
fn step(comm: &InterComm, s: &mut State, block: bool) -> Result<bool> {
    dispatch(comm, s)?;
    let mut got = false;
    while !s.busy.is_empty() {
        let status = if block && !got {
            Some(comm.probe(any_source(), RESULT)?)
        } else {
            comm.iprobe(any_source(), RESULT)?
        };
        let Some(status) = status else { break };
        let (id, outcomes): ResultMsg = comm.recv_obj(status.source(), RESULT)?;
        let outcomes: Vec<Outcome> = outcomes.into_iter().map(|o| o.map(OobBytes::into_inner)).collect();
        s.busy.remove(&id);
        s.idle.push(status.source());
        if !s.abandoned.remove(&id) {
            s.done.insert(id, outcomes);
        }
        dispatch(comm, s)?;
        got = true;
    }
    Ok(got)
}

/// The progress thread's loop (see [Progress](Pool#progress)).
fn progress_thread(comm: Arc<MultiThreaded<InterComm>>, shared: Arc<Shared>) {
    let mut pause = Duration::ZERO;
    while !shared.stop.load(Ordering::Acquire) {
        if shared.master_busy.load(Ordering::Acquire) > 0 {
            std::thread::sleep(Duration::from_micros(200));
            continue;
        }
        let mut s = shared.lock();
        if s.queue.is_empty() && s.busy.is_empty() {
            s.thread_asleep = true;
            let (mut s, _) =
                shared.wake.wait_timeout(s, Duration::from_millis(50)).unwrap_or_else(|p| p.into_inner());
            s.thread_asleep = false;
            continue;
        }
        match step(&comm, &mut s, false) {
            Ok(true) => pause = Duration::ZERO,
            Ok(false) => {
                drop(s);
                if pause.is_zero() {
                    std::thread::yield_now();
                    pause = Duration::from_micros(1);
                } else {
                    std::thread::sleep(pause);
                    pause = (pause * 2).min(MAX_BACKOFF);
                }
            }
            Err(e) => {
                s.failed = Some(e.to_string());
                return;
            }
        }
    }
}

/// How [`Pool::spawn_with`] and [`Pool::split_with`] start a pool: mpi4py's executor
/// arguments (`max_workers`, `initializer`/`initargs`, and the spawn `info`: `wdir`, `host`,
/// `env`, …).
///
/// ```no_run
/// use mpi4rs::futures::{run_worker, Pool, PoolOptions, Registry};
/// let env = mpi4rs::init()?;
/// let mut tasks = Registry::new();
/// let pick_gpu = tasks.register("pick_gpu", |gpus: u32| { /* e.g. set a device from the rank */ let _ = gpus; })?;
/// let square = tasks.register("square", |x: u64| x * x)?;
/// if run_worker(&tasks)? {
///     return Ok(());
/// }
/// let options = PoolOptions::new().max_workers(4).initializer(&pick_gpu, &8)?.wdir("/tmp").env("OMP_NUM_THREADS", "1");
/// let pool = Pool::spawn_with(&tasks, options)?;
/// assert_eq!(pool.submit(&square, &3)?.result()?, 9);
/// # Ok::<(), mpi4rs::Error>(())
/// ```
#[derive(Clone, Debug)]
pub struct PoolOptions {
    max_workers: Option<usize>,
    initializer: Option<(u32, Arc<str>, Vec<u8>)>,
    info: Vec<(String, String)>,
    env: Vec<(String, String)>,
    progress_thread: bool,
}

impl Default for PoolOptions {
    fn default() -> Self {
        PoolOptions { max_workers: None, initializer: None, info: vec![], env: vec![], progress_thread: true }
    }
}

impl PoolOptions {
    /// The defaults: workers from [`MAX_WORKERS_ENV`] or the universe size, no initializer, no
    /// spawn hints, a progress thread where the thread level allows it.
    pub fn new() -> PoolOptions {
        PoolOptions::default()
    }

    /// How many workers [`Pool::spawn_with`] starts (ignored by a split pool, whose workers are
    /// the other processes).
    pub fn max_workers(mut self, n: usize) -> Self {
        self.max_workers = Some(n);
        self
    }

    /// A task every worker runs once, with `arg`, before any other (mpi4py's `initializer` and
    /// `initargs`; several arguments are a tuple). If it fails on any worker, starting the
    /// pool fails with that [`Error::Task`] and the workers are let go.
    pub fn initializer<A: Serialize>(mut self, task: &Task<A, ()>, arg: &A) -> Result<Self> {
        self.initializer = Some((task.index, task.shared_name(), encode(arg)?));
        Ok(self)
    }

    /// The spawned workers' working directory (the `wdir` info key).
    pub fn wdir(self, dir: &str) -> Self {
        self.info("wdir", dir)
    }

    /// Hosts to start the spawned workers on, comma-separated (the `host` info key).
    pub fn hosts(self, hosts: &str) -> Self {
        self.info("host", hosts)
    }

    /// An environment variable for the spawned workers (the `env` info key, one `NAME=value`
    /// a line; Open MPI honours it, MPICH 4.0 ignores it).
    pub fn env(mut self, name: &str, value: &str) -> Self {
        self.env.push((name.to_string(), value.to_string()));
        self
    }

    /// Any other `MPI_Comm_spawn` info key (for example `hostfile`, `map_by`).
    pub fn info(mut self, key: &str, value: &str) -> Self {
        self.info.push((key.to_string(), value.to_string()));
        self
    }

    /// Whether to run a progress thread where MPI provided `THREAD_MULTIPLE` (default `true`).
    pub fn progress_thread(mut self, on: bool) -> Self {
        self.progress_thread = on;
        self
    }

    /// The spawn info keys and values.
    fn spawn_hints(&self) -> Vec<(String, String)> {
        let mut pairs = self.info.clone();
        if !self.env.is_empty() {
            let lines: Vec<String> = self.env.iter().map(|(k, v)| format!("{k}={v}")).collect();
            pairs.push(("env".into(), lines.join("\n")));
        }
        pairs
    }
}

/// This program's path, for spawning workers.
fn program_path() -> Result<String> {
    let exe = std::env::current_exe()
        .map_err(|e| Error::InvalidArgument(format!("pool: cannot find this program's path: {e}")))?;
    exe.to_str()
        .map(str::to_string)
        .ok_or_else(|| Error::InvalidArgument(format!("pool: program path {exe:?} is not UTF-8")))
}

/// Spawns `n` workers of program `exe` from `COMM_SELF`.
fn spawn_workers(exe: &str, n: usize, hints: &[(String, String)]) -> Result<InterComm> {
    let me = Comm::predefined(ffi::COMM_SELF())?;
    let info = if hints.is_empty() { None } else { Some(Info::from_pairs(hints.iter().cloned())?) };
    me.spawn(exe, &[WORKER_ARG], n as i32, info.as_ref(), 0)
}

type Callback = Box<dyn FnOnce(Option<Outcome>)>;

/// The callbacks of one job, and whether its future is gone (then the job's result is
/// dropped once they have run).
struct Pending {
    callbacks: Vec<Callback>,
    orphaned: bool,
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
/// shuts down waiting or is dropped: drop the pool before the `Environment` (as with any
/// handle shared between threads, MPI must not be finalised while another thread uses it).
///
/// Below `THREAD_MULTIPLE` (the default is `THREAD_SINGLE`) only the thread that initialised MPI
/// may call it, so the pool makes progress only inside its own calls: submitting, waiting on a
/// future or a [`map`](Pool::map) iterator, [`Future::done`], and [`Pool::progress`]. A master
/// that submits a batch and then computes without touching the pool leaves each worker idle
/// after its current task; call [`Pool::progress`] now and then in the compute loop (it never
/// waits) to keep them fed. [`Pool::has_progress_thread`] says which case applies, and
/// [`PoolOptions::progress_thread`] turns the thread off.
///
/// Callbacks added with [`Future::add_done_callback`] always run on the program's thread,
/// inside a pool call (or [`Pool::progress`]), never on the progress thread.
pub struct Pool {
    registry: Registry,
    options: PoolOptions,
    backend: RefCell<Backend>,
    shared: Arc<Shared>,
    thread: RefCell<Option<JoinHandle<()>>>,
    callbacks: RefCell<HashMap<u64, Pending>>,
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
fn default_workers() -> Result<usize> {
    if let Ok(v) = std::env::var(MAX_WORKERS_ENV) {
        return match v.trim().parse::<usize>() {
            Ok(n) if n >= 1 => Ok(n),
            _ => Err(Error::Config(format!(
                "{MAX_WORKERS_ENV}={v:?}: expected a number of workers, at least 1"
            ))),
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
fn initialize(comm: &InterComm, options: &PoolOptions) -> Result<()> {
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
fn stop_workers(comm: &InterComm) -> Result<()> {
    for worker in 0..comm.remote_size() {
        comm.send_obj(&(), worker, STOP)?;
    }
    Ok(())
}

/// A call's outcome as the caller's type, or the task's error.
fn outcome<R: DeserializeOwned>(o: Outcome, task: &str) -> Result<R> {
    match o {
        Ok(bytes) => decode(&bytes),
        Err((panicked, message)) => Err(Error::Task { task: task.to_string(), message, panicked }),
    }
}

fn timeout_error(what: &str, timeout: Duration) -> Error {
    Error::Timeout(format!("{what} not done within {timeout:?}"))
}

impl Pool {
    pub(super) fn with_backend(registry: &Registry, options: PoolOptions, backend: Backend) -> Pool {
        Pool {
            registry: registry.clone(),
            options,
            backend: RefCell::new(backend),
            shared: Arc::new(Shared {
                state: Mutex::new(State::default()),
                wake: Condvar::new(),
                master_busy: AtomicUsize::new(0),
                stop: AtomicBool::new(false),
            }),
            thread: RefCell::new(None),
            callbacks: RefCell::new(HashMap::new()),
        }
    }

    fn lock(&self) -> MutexGuard<'_, State> {
        self.shared.lock()
    }

    /// A pool whose workers are new processes running this same program (`MPI_Comm_spawn` from
    /// `COMM_SELF`, the program's path with the argument [`WORKER_ARG`]); the program calls
    /// [`run_worker`](super::run_worker) at the start of `main`. `max_workers`: `None` reads
    /// [`MAX_WORKERS_ENV`], else the universe size less the size of `COMM_WORLD` (at least 1).
    ///
    /// The workers start at the first submission or at [`bootup`](Pool::bootup).
    pub fn spawn(registry: &Registry, max_workers: Option<usize>) -> Result<Pool> {
        let mut options = PoolOptions::new();
        options.max_workers = max_workers;
        Pool::spawn_with(registry, options)
    }

    /// [`spawn`](Pool::spawn) with [`PoolOptions`]: an initializer, where and how the workers
    /// start, whether to run a progress thread.
    pub fn spawn_with(registry: &Registry, options: PoolOptions) -> Result<Pool> {
        crate::error::require_active()?;
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
            match MultiThreaded::if_multiple(comm) {
                Ok(shared) => {
                    let shared = Arc::new(shared);
                    let (comm, state) = (shared.clone(), self.shared.clone());
                    let handle = std::thread::Builder::new()
                        .name("mpi4rs-pool".into())
                        .spawn(move || progress_thread(comm, state))
                        .map_err(|e| Error::InvalidArgument(format!("pool: cannot start its thread: {e}")))?;
                    *self.thread.borrow_mut() = Some(handle);
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
            let Backend::Booting(_, handle) = booting else { unreachable!("checked above") };
            let comm = handle.join().unwrap_or_else(|_| {
                Err(Error::InvalidArgument("pool: the spawning thread panicked".into()))
            })?;
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
        let handle = std::thread::Builder::new()
            .name("mpi4rs-pool-spawn".into())
            .spawn(move || {
                let comm = spawn_workers(&exe, n, &hints)?;
                MultiThreaded::if_multiple(comm).map_err(|_| {
                    Error::InvalidArgument("pool: MPI no longer provides THREAD_MULTIPLE".into())
                })
            })
            .map_err(|e| Error::InvalidArgument(format!("pool: cannot start a thread: {e}")))?;
        *self.backend.borrow_mut() = Backend::Booting(n, handle);
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
        self.thread.borrow().is_some()
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
    fn enqueue(&self, task: u32, args: Vec<OobBytes>) -> Result<u64> {
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
    fn step(&self, block: bool) -> Result<bool> {
        let _busy = Busy::enter(&self.shared.master_busy);
        let backend = self.backend.borrow();
        let s = self.lock();
        s.check_failed()?;
        self.step_locked(&backend, s, block)
    }

    /// [`Pool::step`] with the state already locked (released on return).
    fn step_locked(&self, backend: &Backend, mut s: MutexGuard<'_, State>, block: bool) -> Result<bool> {
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
    fn wait_for(&self, ready: impl Fn(&State) -> bool, deadline: Option<Instant>) -> Result<bool> {
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
    fn run_callbacks(&self) {
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

    /// Runs `task(arg)` on a worker (mpi4py's `submit`): the [`Future`] gives the result.
    pub fn submit<A: Serialize, R: DeserializeOwned>(
        &self,
        task: &Task<A, R>,
        arg: &A,
    ) -> Result<Future<'_, R>> {
        let id = self.enqueue(task.index, vec![encode(arg)?.into()])?;
        Ok(Future { pool: self, id, task: task.shared_name(), live: true, _result: PhantomData })
    }

    /// Runs `task` on every item (mpi4py's `map`), `chunksize` items per message to a worker;
    /// the iterator yields the results in the order of `items`. All items are queued at once;
    /// dropping the iterator cancels the chunks no worker has started. [`Map::timeout`] sets a
    /// time limit.
    pub fn map<A, R, I>(&self, task: &Task<A, R>, items: I, chunksize: usize) -> Result<Map<'_, R>>
    where
        A: Serialize,
        R: DeserializeOwned,
        I: IntoIterator,
        I::Item: Borrow<A>,
    {
        self.map_jobs(task, items, chunksize, false)
    }

    /// [`map`](Pool::map) whose iterator yields results as they arrive (mpi4py's
    /// `map(..., unordered=True)`): each result still comes exactly once.
    pub fn map_unordered<A, R, I>(&self, task: &Task<A, R>, items: I, chunksize: usize) -> Result<Map<'_, R>>
    where
        A: Serialize,
        R: DeserializeOwned,
        I: IntoIterator,
        I::Item: Borrow<A>,
    {
        self.map_jobs(task, items, chunksize, true)
    }

    /// mpi4py's `starmap`: a task of several arguments is registered with one tuple argument,
    /// so this is [`map`](Pool::map) over the tuples (it exists so ported code reads the same).
    pub fn starmap<A, R, I>(&self, task: &Task<A, R>, items: I, chunksize: usize) -> Result<Map<'_, R>>
    where
        A: Serialize,
        R: DeserializeOwned,
        I: IntoIterator,
        I::Item: Borrow<A>,
    {
        self.map_jobs(task, items, chunksize, false)
    }

    fn map_jobs<A, R, I>(
        &self,
        task: &Task<A, R>,
        items: I,
        chunksize: usize,
        unordered: bool,
    ) -> Result<Map<'_, R>>
    where
        A: Serialize,
        R: DeserializeOwned,
        I: IntoIterator,
        I::Item: Borrow<A>,
    {
        if chunksize == 0 {
            return Err(Error::InvalidArgument("map: chunksize must be at least 1".into()));
        }
        let mut map = Map {
            pool: self,
            task: task.shared_name(),
            jobs: if unordered {
                MapJobs::Unordered(HashMap::new())
            } else {
                MapJobs::Ordered(VecDeque::new())
            },
            ready: VecDeque::new(),
            deadline: None,
            _result: PhantomData,
        };
        let mut chunk = Vec::with_capacity(chunksize);
        for item in items {
            chunk.push(encode::<A>(item.borrow())?.into());
            if chunk.len() == chunksize {
                let n = chunk.len();
                map.jobs.add(self.enqueue(task.index, std::mem::take(&mut chunk))?, n);
            }
        }
        if !chunk.is_empty() {
            let n = chunk.len();
            map.jobs.add(self.enqueue(task.index, chunk)?, n);
        }
        Ok(map)
    }

    /// Stops the progress thread, if any, and waits for it.
    fn stop_thread(&self) {
        let Some(handle) = self.thread.borrow_mut().take() else { return };
        self.shared.stop.store(true, Ordering::Release);
        {
            let _s = self.lock();
            self.shared.wake.notify_all();
        }
        let _ = handle.join();
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

/// The pending result of [`Pool::submit`].
pub struct Future<'p, R> {
    pool: &'p Pool,
    id: u64,
    task: Arc<str>,
    live: bool,
    _result: PhantomData<fn() -> R>,
}

impl<R: DeserializeOwned> Future<'_, R> {
    /// Waits for the task and returns its result; a task that failed or panicked gives
    /// [`Error::Task`], a cancelled one [`Error::Cancelled`].
    pub fn result(mut self) -> Result<R> {
        let id = self.id;
        self.pool.wait_for(|s| s.finished(id), None)?;
        self.pool.run_callbacks();
        self.live = false;
        let mut s = self.pool.lock();
        if s.cancelled.remove(&id) {
            return Err(Error::Cancelled);
        }
        let first = s.done.remove(&id).and_then(|v| v.into_iter().next());
        drop(s);
        first.map_or(Err(Error::Cancelled), |o| outcome(o, &self.task))
    }

    /// Waits at most `timeout` for the task (mpi4py's `result(timeout)`): its result, or
    /// [`Error::Timeout`] if it has not finished by then (the future stays usable, and the
    /// task goes on). Unlike [`result`](Future::result) this keeps the future, so it may be
    /// asked again.
    pub fn result_timeout(&self, timeout: Duration) -> Result<R> {
        let id = self.id;
        if !self.pool.wait_for(|s| s.finished(id), Some(Instant::now() + timeout))? {
            return Err(timeout_error(&format!("task `{}`", self.task), timeout));
        }
        self.pool.run_callbacks();
        let s = self.pool.lock();
        if s.cancelled.contains(&id) {
            return Err(Error::Cancelled);
        }
        let first = s.done.get(&id).and_then(|v| v.first().cloned());
        drop(s);
        first.map_or(Err(Error::Cancelled), |o| outcome(o, &self.task))
    }

    /// Waits for the task (at most `timeout`, if given) and returns its error (mpi4py's
    /// `exception()`): `Ok(None)` when it succeeded, `Ok(Some(Error::Task))` when it failed or
    /// panicked, `Err(Cancelled)` when it was cancelled, `Err(Timeout)` when time ran out.
    pub fn exception(&self, timeout: Option<Duration>) -> Result<Option<Error>> {
        let id = self.id;
        if !self.pool.wait_for(|s| s.finished(id), timeout.map(|t| Instant::now() + t))? {
            return Err(timeout_error(&format!("task `{}`", self.task), timeout.unwrap_or_default()));
        }
        self.pool.run_callbacks();
        let s = self.pool.lock();
        if s.cancelled.contains(&id) {
            return Err(Error::Cancelled);
        }
        Ok(match s.done.get(&id).and_then(|v| v.first()) {
            Some(Err((panicked, message))) => Some(Error::Task {
                task: self.task.to_string(),
                message: message.clone(),
                panicked: *panicked,
            }),
            _ => None,
        })
    }

    /// Calls `f` with the task's result once it has finished (mpi4py's `add_done_callback`):
    /// at once if it already has, else inside a later pool call of this thread (a wait, a
    /// submission, [`Pool::progress`]) — never on the progress thread. A cancelled task gives
    /// `Err(Cancelled)`. The callback runs even if the future is dropped first; dropping the
    /// pool first drops it without running it.
    pub fn add_done_callback(&self, f: impl FnOnce(Result<R>) + 'static)
    where
        R: 'static,
    {
        let task = self.task.clone();
        let callback: Callback = Box::new(move |o: Option<Outcome>| {
            f(o.map_or(Err(Error::Cancelled), |o| outcome(o, &task)));
        });
        self.pool
            .callbacks
            .borrow_mut()
            .entry(self.id)
            .or_insert_with(|| Pending { callbacks: Vec::new(), orphaned: false })
            .callbacks
            .push(callback);
        self.pool.run_callbacks();
    }
}

impl<R> Future<'_, R> {
    /// Whether the task has finished (or was cancelled); makes progress without waiting.
    pub fn done(&self) -> Result<bool> {
        self.pool.progress()?;
        Ok(self.pool.lock().finished(self.id))
    }

    /// Whether a worker is running the task now.
    pub fn running(&self) -> bool {
        self.pool.lock().busy.contains_key(&self.id)
    }

    /// Cancels the task if no worker has started it (mpi4py's `cancel`): `true` when it is
    /// cancelled, `false` when it runs or has run.
    pub fn cancel(&self) -> bool {
        let cancelled = self.pool.lock().cancel(self.id);
        self.pool.run_callbacks();
        cancelled
    }

    /// Whether the task was cancelled.
    pub fn cancelled(&self) -> bool {
        self.pool.lock().cancelled.contains(&self.id)
    }

    /// The task's name.
    pub fn task(&self) -> &str {
        &self.task
    }

    fn status(&self) -> Status {
        self.pool.lock().status(self.id)
    }
}

impl<R> Drop for Future<'_, R> {
    fn drop(&mut self) {
        if self.live {
            if let Ok(mut pending) = self.pool.callbacks.try_borrow_mut() {
                if let Some(p) = pending.get_mut(&self.id) {
                    p.orphaned = true;
                    return;
                }
            }
            self.pool.lock().forget(self.id);
        }
    }
}

/// When [`wait`] returns (mpi4py's `FIRST_COMPLETED`, `FIRST_EXCEPTION`, `ALL_COMPLETED`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ReturnWhen {
    /// As soon as any future has finished or was cancelled.
    FirstCompleted,
    /// As soon as any future has failed (or was cancelled); else when all have finished.
    FirstException,
    /// When all futures have finished.
    AllCompleted,
}

/// What [`wait`] found: positions in the slice it was given.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Waited {
    /// The futures that have finished (or were cancelled).
    pub done: Vec<usize>,
    /// The others.
    pub not_done: Vec<usize>,
}

/// The distinct pools of `futures`.
fn pools_of<'p, R>(futures: &[Future<'p, R>]) -> Vec<&'p Pool> {
    let mut pools: Vec<&Pool> = Vec::new();
    for f in futures {
        if !pools.iter().any(|p| std::ptr::eq(*p, f.pool)) {
            pools.push(f.pool);
        }
    }
    pools
}

/// Makes progress on the pools of `futures` until `cond` holds for their statuses (`true`) or
/// `deadline` passes (`false`).
fn wait_on<R>(
    futures: &[Future<'_, R>],
    deadline: Option<Instant>,
    cond: impl Fn(&mut dyn Iterator<Item = Status>) -> bool,
) -> Result<bool> {
    let pools = pools_of(futures);
    if let [pool] = pools[..] {
        let ids: Vec<u64> = futures.iter().map(|f| f.id).collect();
        return pool.wait_for(|s| cond(&mut ids.iter().map(|&id| s.status(id))), deadline);
    }
    loop {
        for pool in &pools {
            pool.progress()?;
        }
        if cond(&mut futures.iter().map(Future::status)) {
            return Ok(true);
        }
        if deadline.is_some_and(|d| Instant::now() >= d) {
            return Ok(false);
        }
        std::thread::yield_now();
    }
}

/// Waits for some or all of `futures` (mpi4py's `concurrent.futures.wait`), at most `timeout`
/// if given: which have finished and which not (by position). Time running out is not an
/// error: the answer then says what is done so far.
///
/// ```no_run
/// use mpi4rs::futures::{wait, Pool, Registry, ReturnWhen};
/// # let env = mpi4rs::init()?;
/// # let mut tasks = Registry::new();
/// # let square = tasks.register("square", |x: u64| x * x)?;
/// # let pool = Pool::split(env.world(), 0, &tasks)?.unwrap();
/// let futures: Vec<_> = (0..8u64).map(|x| pool.submit(&square, &x)).collect::<Result<_, _>>()?;
/// let first = wait(&futures, ReturnWhen::FirstCompleted, None)?;
/// assert!(!first.done.is_empty());
/// let all = wait(&futures, ReturnWhen::AllCompleted, Some(std::time::Duration::from_secs(10)))?;
/// assert!(all.not_done.is_empty());
/// # Ok::<(), mpi4rs::Error>(())
/// ```
pub fn wait<R>(futures: &[Future<'_, R>], when: ReturnWhen, timeout: Option<Duration>) -> Result<Waited> {
    let deadline = timeout.map(|t| Instant::now() + t);
    if !futures.is_empty() {
        wait_on(futures, deadline, |statuses| {
            let (mut pending, mut any_done, mut any_failed) = (false, false, false);
            for st in statuses {
                pending |= st == Status::Pending;
                any_done |= st != Status::Pending;
                any_failed |= st == Status::Failed;
            }
            match when {
                ReturnWhen::FirstCompleted => any_done,
                ReturnWhen::FirstException => any_failed || !pending,
                ReturnWhen::AllCompleted => !pending,
            }
        })?;
    }
    let mut waited = Waited::default();
    for (i, f) in futures.iter().enumerate() {
        if f.status() == Status::Pending {
            waited.not_done.push(i);
        } else {
            waited.done.push(i);
        }
    }
    Ok(waited)
}

/// The futures in the order they finish (mpi4py's `as_completed`): each comes back once it has
/// finished, so its [`result`](Future::result) does not wait. With a `timeout` (counted from
/// this call), the iterator yields [`Error::Timeout`] once time runs out and then ends; the
/// futures not yet yielded are dropped (their results are thrown away).
///
/// ```no_run
/// use mpi4rs::futures::{as_completed, Pool, Registry};
/// # let env = mpi4rs::init()?;
/// # let mut tasks = Registry::new();
/// # let square = tasks.register("square", |x: u64| x * x)?;
/// # let pool = Pool::split(env.world(), 0, &tasks)?.unwrap();
/// let futures: Vec<_> = (0..8u64).map(|x| pool.submit(&square, &x)).collect::<Result<_, _>>()?;
/// let mut sum = 0;
/// for f in as_completed(futures, None) {
///     sum += f?.result()?;
/// }
/// assert_eq!(sum, 140);
/// # Ok::<(), mpi4rs::Error>(())
/// ```
pub fn as_completed<'p, R>(futures: Vec<Future<'p, R>>, timeout: Option<Duration>) -> AsCompleted<'p, R> {
    AsCompleted { futures, deadline: timeout.map(|t| (Instant::now() + t, t)) }
}

/// The iterator of [`as_completed`].
pub struct AsCompleted<'p, R> {
    futures: Vec<Future<'p, R>>,
    deadline: Option<(Instant, Duration)>,
}

impl<'p, R> Iterator for AsCompleted<'p, R> {
    type Item = Result<Future<'p, R>>;

    fn next(&mut self) -> Option<Self::Item> {
        if self.futures.is_empty() {
            return None;
        }
        let found = wait_on(&self.futures, self.deadline.map(|d| d.0), |statuses| {
            let mut any = false;
            for st in statuses {
                any |= st != Status::Pending;
            }
            any
        });
        match found {
            Ok(true) => {
                let at = self.futures.iter().position(|f| f.status() != Status::Pending)?;
                Some(Ok(self.futures.swap_remove(at)))
            }
            Ok(false) => {
                self.futures.clear();
                let t = self.deadline.map(|d| d.1).unwrap_or_default();
                Some(Err(timeout_error("as_completed: the futures were", t)))
            }
            Err(e) => {
                self.futures.clear();
                Some(Err(e))
            }
        }
    }

    fn size_hint(&self) -> (usize, Option<usize>) {
        (0, Some(self.futures.len() + 1))
    }
}

/// The results of [`Pool::map`], [`Pool::map_unordered`] and [`Pool::starmap`]: one
/// `Result` per item (a failing item does not stop the others).
pub struct Map<'p, R> {
    pool: &'p Pool,
    task: Arc<str>,
    jobs: MapJobs,
    ready: VecDeque<Result<R>>,
    deadline: Option<(Instant, Duration)>,
    _result: PhantomData<fn() -> R>,
}

/// The jobs of a map not yet collected, with their numbers of items.
enum MapJobs {
    /// In submission order.
    Ordered(VecDeque<(u64, usize)>),
    /// Collected as they finish: found by id among the pool's few finished jobs.
    Unordered(HashMap<u64, usize>),
}

impl MapJobs {
    fn add(&mut self, id: u64, n: usize) {
        match self {
            MapJobs::Ordered(q) => q.push_back((id, n)),
            MapJobs::Unordered(m) => {
                m.insert(id, n);
            }
        }
    }

    fn drain(&mut self) -> Vec<u64> {
        match self {
            MapJobs::Ordered(q) => q.drain(..).map(|j| j.0).collect(),
            MapJobs::Unordered(m) => m.drain().map(|j| j.0).collect(),
        }
    }

    fn items(&self) -> usize {
        match self {
            MapJobs::Ordered(q) => q.iter().map(|j| j.1).sum(),
            MapJobs::Unordered(m) => m.values().sum(),
        }
    }
}

impl<R> Map<'_, R> {
    /// A time limit for the whole map, counted from this call (mpi4py's `map(…, timeout=t)`,
    /// counted from the `map` call: chain it right after). Once it runs out, the iterator
    /// yields [`Error::Timeout`] and ends; the chunks no worker has started are cancelled.
    pub fn timeout(mut self, timeout: Duration) -> Self {
        self.deadline = Some((Instant::now() + timeout, timeout));
        self
    }
}

impl<R: DeserializeOwned> Map<'_, R> {
    /// The next job to collect, once it has finished; `None` when all are collected.
    fn next_job(&mut self) -> Result<Option<(u64, usize)>> {
        let deadline = self.deadline.map(|d| d.0);
        let timed_out = || timeout_error("map", self.deadline.map(|d| d.1).unwrap_or_default());
        match &mut self.jobs {
            MapJobs::Ordered(q) => {
                let Some(&(id, n)) = q.front() else { return Ok(None) };
                if !self.pool.wait_for(|s| s.finished(id), deadline)? {
                    return Err(timed_out());
                }
                q.pop_front();
                Ok(Some((id, n)))
            }
            MapJobs::Unordered(m) => {
                if m.is_empty() {
                    return Ok(None);
                }
                let finished =
                    |s: &State| s.done.keys().chain(&s.cancelled).copied().find(|id| m.contains_key(id));
                if !self.pool.wait_for(|s| finished(s).is_some(), deadline)? {
                    return Err(timed_out());
                }
                let found = finished(&self.pool.lock());
                Ok(found.and_then(|id| m.remove(&id).map(|n| (id, n))))
            }
        }
    }

    /// Moves the outcomes of finished job `id` (of `n` items) into `ready`.
    fn collect(&mut self, id: u64, n: usize) {
        let mut s = self.pool.lock();
        match s.done.remove(&id) {
            Some(outcomes) => {
                drop(s);
                self.ready.extend(outcomes.into_iter().map(|o| outcome(o, &self.task)));
            }
            None => {
                s.cancelled.remove(&id);
                self.ready.extend((0..n).map(|_| Err(Error::Cancelled)));
            }
        }
    }
}

impl<R: DeserializeOwned> Iterator for Map<'_, R> {
    type Item = Result<R>;

    fn next(&mut self) -> Option<Result<R>> {
        loop {
            if let Some(r) = self.ready.pop_front() {
                return Some(r);
            }
            match self.next_job() {
                Ok(Some((id, n))) => self.collect(id, n),
                Ok(None) => return None,
                Err(e) => {
                    self.forget_all();
                    return Some(Err(e));
                }
            }
        }
    }

    fn size_hint(&self) -> (usize, Option<usize>) {
        let n = self.ready.len() + self.jobs.items();
        (n, Some(n + 1))
    }
}

impl<R> Map<'_, R> {
    /// Cancels what has not started and forgets the rest.
    fn forget_all(&mut self) {
        let mut s = self.pool.lock();
        for id in self.jobs.drain() {
            if s.cancel(id) {
                s.cancelled.remove(&id);
            } else {
                s.forget(id);
            }
        }
    }
}

impl<R> Drop for Map<'_, R> {
    fn drop(&mut self) {
        self.forget_all();
    }
}
