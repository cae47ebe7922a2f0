//! What a submission returns and how to wait for it: [`Future`] (mpi4py's `Future`), [`wait`]
//! and [`as_completed`] over several, and [`Map`], the lazy results of `Pool::map`.

use super::pool::*;
use super::progress::*;
use super::registry::{encode, Outcome, Task};
use crate::error::{Error, Result};
use serde::de::DeserializeOwned;
use serde::Serialize;
use std::borrow::Borrow;
use std::collections::{HashMap, VecDeque};
use std::marker::PhantomData;
use std::sync::Arc;
use std::time::{Duration, Instant};

/// The pending result of [`Pool::submit`].
pub struct Future<'p, R> {
    pub(super) pool: &'p Pool,
    pub(super) id: u64,
    pub(super) task: Arc<str>,
    pub(super) live: bool,
    pub(super) _result: PhantomData<fn() -> R>,
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

    pub(super) fn status(&self) -> Status {
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
pub(super) fn pools_of<'p, R>(futures: &[Future<'p, R>]) -> Vec<&'p Pool> {
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
pub(super) fn wait_on<R>(
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
    pub(super) futures: Vec<Future<'p, R>>,
    pub(super) deadline: Option<(Instant, Duration)>,
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
    pub(super) pool: &'p Pool,
    pub(super) task: Arc<str>,
    pub(super) jobs: MapJobs,
    pub(super) ready: VecDeque<Result<R>>,
    pub(super) deadline: Option<(Instant, Duration)>,
    pub(super) _result: PhantomData<fn() -> R>,
}

/// The jobs of a map not yet collected, with their numbers of items.
pub(super) enum MapJobs {
    /// In submission order.
    Ordered(VecDeque<(u64, usize)>),
    /// Collected as they finish: found by id among the pool's few finished jobs.
    Unordered(HashMap<u64, usize>),
}

impl MapJobs {
    pub(super) fn add(&mut self, id: u64, n: usize) {
        match self {
            MapJobs::Ordered(q) => q.push_back((id, n)),
            MapJobs::Unordered(m) => {
                m.insert(id, n);
            }
        }
    }

    pub(super) fn drain(&mut self) -> Vec<u64> {
        match self {
            MapJobs::Ordered(q) => q.drain(..).map(|j| j.0).collect(),
            MapJobs::Unordered(m) => m.drain().map(|j| j.0).collect(),
        }
    }

    pub(super) fn items(&self) -> usize {
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
    pub(super) fn next_job(&mut self) -> Result<Option<(u64, usize)>> {
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
    pub(super) fn collect(&mut self, id: u64, n: usize) {
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
    pub(super) fn forget_all(&mut self) {
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

impl Pool {
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

    pub(super) fn map_jobs<A, R, I>(
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
}
