//! The executor: [`Pool`] (mpi4py's `MPIPoolExecutor` and `MPICommExecutor`), its
//! [`Future`]s and the [`Map`] iterator.
//!
//! The pool makes progress in the calling thread, whenever it is used: submitting sends work
//! to idle workers, and waiting on a future (or an iterator of [`map`](Pool::map)) receives
//! results and hands out more work. No thread runs in the background, so any MPI thread level
//! will do, and MPI calls of the program's own never race with the pool's.

use super::registry::{decode, encode, Outcome, Registry, Task};
use super::worker::{serve, ResultMsg, HELLO, JOB, RESULT, STOP, WORKER_ARG};
use crate::collective::checks::check_root;
use crate::comm::{Comm, Communicator};
use crate::error::{Error, Result};
use crate::ffi;
use crate::intercomm::InterComm;
use crate::object::{ObjectComm, OobBytes};
use crate::p2p::{any_source, PointToPoint};
use serde::de::DeserializeOwned;
use serde::Serialize;
use std::borrow::Borrow;
use std::cell::RefCell;
use std::collections::{HashMap, HashSet, VecDeque};
use std::marker::PhantomData;
use std::sync::Arc;

/// The environment variable that sets how many workers [`Pool::spawn`] starts when no number
/// is given (mpi4py's `MPI4PY_FUTURES_MAX_WORKERS`).
pub const MAX_WORKERS_ENV: &str = "MPI4RS_FUTURES_MAX_WORKERS";

/// The tag [`Pool::split`] uses on the communicator it splits, to build its intercommunicator.
const SPLIT_TAG: i32 = 31000;

/// Where the tasks run.
enum Backend {
    /// Workers not started yet: [`Pool::spawn`] starts this many at the first use.
    Unspawned(usize),
    /// Workers at the remote ranks of `comm`; `spawned` ones are disconnected at the end.
    Remote { comm: InterComm, spawned: bool },
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
}

impl State {
    fn finished(&self, id: u64) -> bool {
        self.done.contains_key(&id) || self.cancelled.contains(&id)
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
pub struct Pool {
    registry: Registry,
    backend: RefCell<Backend>,
    state: RefCell<State>,
}

impl std::fmt::Debug for Pool {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Pool").field("workers", &self.workers()).field("tasks", &self.registry).finish()
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
fn handshake(comm: &InterComm, registry: &Registry) -> Result<()> {
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

/// Tells every worker to leave its loop.
fn stop_workers(comm: &InterComm) -> Result<()> {
    for worker in 0..comm.remote_size() {
        comm.send_obj(&(), worker, STOP)?;
    }
    Ok(())
}

/// [`handshake`]; on a mismatch the workers are stopped before the error is returned, so
/// none is left waiting.
fn handshake_or_stop(comm: &InterComm, registry: &Registry) -> Result<()> {
    handshake(comm, registry).inspect_err(|_| {
        let _ = stop_workers(comm);
    })
}

/// A call's outcome as the caller's type, or the task's error.
fn outcome<R: DeserializeOwned>(o: Outcome, task: &str) -> Result<R> {
    match o {
        Ok(bytes) => decode(&bytes),
        Err((panicked, message)) => Err(Error::Task { task: task.to_string(), message, panicked }),
    }
}

impl Pool {
    fn with_backend(registry: &Registry, backend: Backend, workers: usize) -> Pool {
        let state = State { idle: (0..workers as i32).rev().collect(), ..State::default() };
        Pool { registry: registry.clone(), backend: RefCell::new(backend), state: RefCell::new(state) }
    }

    /// A pool whose workers are new processes running this same program (`MPI_Comm_spawn` from
    /// `COMM_SELF`, the program's path with the argument [`WORKER_ARG`]); the program calls
    /// [`run_worker`](super::run_worker) at the start of `main`. `max_workers`: `None` reads
    /// [`MAX_WORKERS_ENV`], else the universe size less the size of `COMM_WORLD` (at least 1).
    ///
    /// The workers start at the first submission or at [`bootup`](Pool::bootup).
    pub fn spawn(registry: &Registry, max_workers: Option<usize>) -> Result<Pool> {
        crate::error::require_active()?;
        let n = match max_workers {
            Some(0) => return Err(Error::InvalidArgument("a pool needs at least 1 worker".into())),
            Some(n) => n,
            None => default_workers()?,
        };
        if n > i32::MAX as usize {
            return Err(Error::InvalidArgument(format!("{n} workers do not fit an MPI process count")));
        }
        Ok(Pool::with_backend(registry, Backend::Unspawned(n), 0))
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
        check_root(comm, root)?;
        if comm.size() == 1 {
            return Ok(Some(Pool::with_backend(registry, Backend::Local, 0)));
        }
        let master = comm.rank() == root;
        let side = comm.split(Some(!master as i32), comm.rank())?.ok_or_else(|| {
            Error::InvalidArgument("internal: a process without a side in the pool's split".into())
        })?;
        let remote_leader = if master { (root == 0) as i32 } else { root };
        let inter = side.create_intercomm(0, comm, remote_leader, SPLIT_TAG)?;
        if !master {
            serve(&inter, registry)?;
            return Ok(None);
        }
        handshake_or_stop(&inter, registry)?;
        let n = inter.remote_size() as usize;
        Ok(Some(Pool::with_backend(registry, Backend::Remote { comm: inter, spawned: false }, n)))
    }

    /// Starts the workers now rather than at the first submission (mpi4py's `bootup`), so that
    /// a failure to spawn shows here and the start-up time is not charged to the first task.
    pub fn bootup(&self) -> Result<()> {
        let n = match *self.backend.borrow() {
            Backend::Unspawned(n) => n,
            Backend::Stopped => return Err(Error::InvalidArgument("the pool is shut down".into())),
            _ => return Ok(()),
        };
        let exe = std::env::current_exe()
            .map_err(|e| Error::InvalidArgument(format!("pool: cannot find this program's path: {e}")))?;
        let exe = exe
            .to_str()
            .ok_or_else(|| Error::InvalidArgument(format!("pool: program path {exe:?} is not UTF-8")))?;
        let me = Comm::predefined(ffi::COMM_SELF())?;
        let comm = me.spawn(exe, &[WORKER_ARG], n as i32, None, 0)?;
        if let Err(e) = handshake_or_stop(&comm, &self.registry) {
            let _ = comm.disconnect();
            *self.backend.borrow_mut() = Backend::Stopped;
            return Err(e);
        }
        let workers = comm.remote_size();
        *self.backend.borrow_mut() = Backend::Remote { comm, spawned: true };
        self.state.borrow_mut().idle = (0..workers).rev().collect();
        Ok(())
    }

    /// The number of worker processes (0 when the tasks run in this process; for a pool that
    /// has not spawned yet, the number it will start).
    pub fn workers(&self) -> usize {
        match &*self.backend.borrow() {
            Backend::Unspawned(n) => *n,
            Backend::Remote { comm, .. } => comm.remote_size() as usize,
            Backend::Local | Backend::Stopped => 0,
        }
    }

    /// Queues a job of `args` for `task`, starting the workers if need be.
    fn enqueue(&self, task: u32, args: Vec<OobBytes>) -> Result<u64> {
        if self.state.borrow().closed {
            return Err(Error::InvalidArgument("the pool is shut down: it takes no new tasks".into()));
        }
        self.bootup()?;
        let id = {
            let mut s = self.state.borrow_mut();
            let id = s.next_id;
            s.next_id += 1;
            s.queue.push_back(Job { id, task, args });
            id
        };
        self.dispatch()?;
        Ok(id)
    }

    /// Hands queued jobs to idle workers.
    fn dispatch(&self) -> Result<()> {
        let backend = self.backend.borrow();
        let Backend::Remote { comm, .. } = &*backend else { return Ok(()) };
        let mut s = self.state.borrow_mut();
        while !s.queue.is_empty() && !s.idle.is_empty() {
            let (job, worker) = (s.queue.pop_front().expect("non-empty"), s.idle.pop().expect("non-empty"));
            comm.send_obj(&(job.id, job.task, &job.args), worker, JOB)?;
            s.busy.insert(job.id, worker);
        }
        Ok(())
    }

    /// One step of progress: receives one result (waiting for it when `block`), or in a
    /// local pool runs the next queued job. `false` when there was nothing to do.
    fn progress(&self, block: bool) -> Result<bool> {
        let received = {
            let backend = self.backend.borrow();
            match &*backend {
                Backend::Remote { comm, .. } => {
                    if self.state.borrow().busy.is_empty() {
                        return Ok(false);
                    }
                    let status = if block {
                        Some(comm.probe(any_source(), RESULT)?)
                    } else {
                        comm.iprobe(any_source(), RESULT)?
                    };
                    let Some(status) = status else { return Ok(false) };
                    let (id, outcomes): ResultMsg = comm.recv_obj(status.source(), RESULT)?;
                    let outcomes: Vec<Outcome> =
                        outcomes.into_iter().map(|o| o.map(OobBytes::into_inner)).collect();
                    let mut s = self.state.borrow_mut();
                    s.busy.remove(&id);
                    s.idle.push(status.source());
                    (id, outcomes)
                }
                Backend::Local => {
                    let Some(job) = self.state.borrow_mut().queue.pop_front() else { return Ok(false) };
                    (job.id, job.args.iter().map(|a| self.registry.run(job.task, a)).collect())
                }
                Backend::Unspawned(_) | Backend::Stopped => return Ok(false),
            }
        };
        let (id, outcomes) = received;
        {
            let mut s = self.state.borrow_mut();
            if !s.abandoned.remove(&id) {
                s.done.insert(id, outcomes);
            }
        }
        self.dispatch()?;
        Ok(true)
    }

    /// Makes progress until `ready` holds.
    fn wait_until(&self, ready: impl Fn(&State) -> bool) -> Result<()> {
        while !ready(&self.state.borrow()) {
            if !self.progress(true)? {
                return Err(Error::InvalidArgument(
                    "pool: waiting for work that is neither queued, running nor done (was the pool shut down?)".into(),
                ));
            }
        }
        Ok(())
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
    /// dropping the iterator cancels the chunks no worker has started.
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

    /// Stops taking tasks (mpi4py's `shutdown`). With `cancel_futures`, work no worker has
    /// started is cancelled (its futures give [`Error::Cancelled`]). With `wait`, returns once
    /// all other work is done and the workers have stopped (spawned ones are disconnected);
    /// without, returns at once: outstanding futures still complete when waited on, and the
    /// workers stop when the pool is dropped.
    pub fn shutdown(&self, wait: bool, cancel_futures: bool) -> Result<()> {
        {
            let mut s = self.state.borrow_mut();
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
        self.wait_until(|s| s.queue.is_empty() && s.busy.is_empty())?;
        let backend = std::mem::replace(&mut *self.backend.borrow_mut(), Backend::Stopped);
        if let Backend::Remote { comm, spawned } = backend {
            stop_workers(&comm)?;
            if spawned {
                comm.disconnect()?;
            }
        }
        Ok(())
    }
}

impl Drop for Pool {
    /// Shuts down waiting (mpi4py's `with MPIPoolExecutor() as pool:` block end), except
    /// while a panic unwinds.
    fn drop(&mut self) {
        if !std::thread::panicking() && crate::runtime::is_active() {
            let _ = self.shutdown(true, false);
        }
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
        self.pool.wait_until(|s| s.finished(id))?;
        self.live = false;
        let mut s = self.pool.state.borrow_mut();
        if s.cancelled.remove(&id) {
            return Err(Error::Cancelled);
        }
        let first = s.done.remove(&id).and_then(|v| v.into_iter().next());
        drop(s);
        first.map_or(Err(Error::Cancelled), |o| outcome(o, &self.task))
    }

    /// Whether the task has finished (or was cancelled); makes progress without waiting.
    pub fn done(&self) -> Result<bool> {
        while self.pool.progress(false)? {}
        Ok(self.pool.state.borrow().finished(self.id))
    }

    /// Whether a worker is running the task now.
    pub fn running(&self) -> bool {
        self.pool.state.borrow().busy.contains_key(&self.id)
    }

    /// Cancels the task if no worker has started it (mpi4py's `cancel`): `true` when it is
    /// cancelled, `false` when it runs or has run.
    pub fn cancel(&self) -> bool {
        self.pool.state.borrow_mut().cancel(self.id)
    }

    /// Whether the task was cancelled.
    pub fn cancelled(&self) -> bool {
        self.pool.state.borrow().cancelled.contains(&self.id)
    }

    /// The task's name.
    pub fn task(&self) -> &str {
        &self.task
    }
}

impl<R> Drop for Future<'_, R> {
    fn drop(&mut self) {
        if self.live {
            if let Ok(mut s) = self.pool.state.try_borrow_mut() {
                s.forget(self.id);
            }
        }
    }
}

/// The results of [`Pool::map`], [`Pool::map_unordered`] and [`Pool::starmap`]: one
/// `Result` per item (a failing item does not stop the others).
pub struct Map<'p, R> {
    pool: &'p Pool,
    task: Arc<str>,
    jobs: MapJobs,
    ready: VecDeque<Result<R>>,
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

impl<R: DeserializeOwned> Map<'_, R> {
    /// The next job to collect, once it has finished; `None` when all are collected.
    fn next_job(&mut self) -> Result<Option<(u64, usize)>> {
        match &mut self.jobs {
            MapJobs::Ordered(q) => {
                let Some(&(id, n)) = q.front() else { return Ok(None) };
                self.pool.wait_until(|s| s.finished(id))?;
                q.pop_front();
                Ok(Some((id, n)))
            }
            MapJobs::Unordered(m) => loop {
                if m.is_empty() {
                    return Ok(None);
                }
                let found = {
                    let s = self.pool.state.borrow();
                    s.done.keys().chain(&s.cancelled).copied().find(|id| m.contains_key(id))
                };
                if let Some(id) = found {
                    return Ok(m.remove(&id).map(|n| (id, n)));
                }
                if !self.pool.progress(true)? {
                    return Err(Error::InvalidArgument(
                        "pool: a map's work is neither queued, running nor done".into(),
                    ));
                }
            },
        }
    }

    /// Moves the outcomes of finished job `id` (of `n` items) into `ready`.
    fn collect(&mut self, id: u64, n: usize) {
        let mut s = self.pool.state.borrow_mut();
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
        (n, Some(n))
    }
}

impl<R> Map<'_, R> {
    /// Cancels what has not started and forgets the rest.
    fn forget_all(&mut self) {
        if let Ok(mut s) = self.pool.state.try_borrow_mut() {
            for id in self.jobs.drain() {
                if s.cancel(id) {
                    s.cancelled.remove(&id);
                } else {
                    s.forget(id);
                }
            }
        }
    }
}

impl<R> Drop for Map<'_, R> {
    fn drop(&mut self) {
        self.forget_all();
    }
}
