//! The pool's state and how it progresses: handing queued jobs to idle workers and collecting
//! results ([`step`]), inside pool calls or on a progress thread under `THREAD_MULTIPLE`.

use super::registry::Outcome;
use super::worker::{ResultMsg, JOB, RESULT, STOP};
use crate::environment::LibraryThread;
use crate::error::{Error, Result};
use crate::intercomm::InterComm;
use crate::object::{ObjectComm, OobBytes};
use crate::p2p::{any_source, PointToPoint};
use crate::thread::MultiThreaded;
use std::collections::{HashMap, HashSet, VecDeque};
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Condvar, Mutex, MutexGuard};
use std::time::Duration;

/// The longest pause of the progress thread between polls while work is out.
pub(super) const MAX_BACKOFF: Duration = Duration::from_micros(250);

/// A chunk of calls waiting for a worker.
pub(super) struct Job {
    pub(super) id: u64,
    pub(super) task: u32,
    pub(super) args: Vec<OobBytes>,
}

#[derive(Default)]
pub(super) struct State {
    pub(super) next_id: u64,
    pub(super) queue: VecDeque<Job>,
    pub(super) idle: Vec<i32>,
    pub(super) busy: HashMap<u64, i32>,
    pub(super) done: HashMap<u64, Vec<Outcome>>,
    pub(super) cancelled: HashSet<u64>,
    /// Jobs whose future was dropped: their results are thrown away on arrival.
    pub(super) abandoned: HashSet<u64>,
    /// `shutdown` was called: no new submissions.
    pub(super) closed: bool,
    /// The progress thread sleeps until work is queued.
    pub(super) thread_asleep: bool,
    /// The progress thread met an MPI error: the pool cannot go on.
    pub(super) failed: Option<String>,
    /// Submissions since one last collected results.
    pub(super) since_poll: u32,
}

impl State {
    pub(super) fn finished(&self, id: u64) -> bool {
        self.done.contains_key(&id) || self.cancelled.contains(&id)
    }

    /// How job `id` stands.
    pub(super) fn status(&self, id: u64) -> Status {
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
    pub(super) fn cancel(&mut self, id: u64) -> bool {
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
    pub(super) fn forget(&mut self, id: u64) {
        if self.done.remove(&id).is_none() && !self.cancelled.remove(&id) {
            self.abandoned.insert(id);
        }
    }

    pub(super) fn check_failed(&self) -> Result<()> {
        match &self.failed {
            None => Ok(()),
            Some(e) => Err(Error::InvalidArgument(format!("pool: the progress thread failed: {e}"))),
        }
    }
}

/// How a job stands, for [`wait`].
#[derive(Clone, Copy, PartialEq, Eq)]
pub(super) enum Status {
    Pending,
    Ok,
    Failed,
}

/// What the pool shares with its progress thread.
pub(super) struct Shared {
    pub(super) state: Mutex<State>,
    /// Wakes a sleeping progress thread when work is queued or the pool stops.
    pub(super) wake: Condvar,
    /// Pool calls of the program now running: the progress thread stands aside meanwhile.
    pub(super) master_busy: AtomicUsize,
    pub(super) stop: AtomicBool,
    /// MPI is about to be finalised (the environment is dropped before the pool): the
    /// progress thread lets the workers go before it returns.
    pub(super) finalizing: AtomicBool,
    /// The progress thread, while it runs.
    pub(super) thread: Mutex<Option<LibraryThread<()>>>,
}

impl Shared {
    pub(super) fn lock(&self) -> MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    /// Tells the progress thread to return (soon: it checks between polls and sleeps at most
    /// 50 ms).
    pub(super) fn stop(&self) {
        self.stop.store(true, Ordering::Release);
        let _s = self.lock();
        self.wake.notify_all();
    }

    /// Stops the progress thread, if any, and waits for it.
    pub(super) fn stop_thread(&self) {
        let thread = self.thread.lock().unwrap_or_else(|p| p.into_inner()).take();
        if let Some(thread) = thread {
            self.stop();
            let _ = thread.join();
        }
    }

    /// Whether a progress thread runs.
    pub(super) fn has_thread(&self) -> bool {
        self.thread.lock().unwrap_or_else(|p| p.into_inner()).as_ref().is_some_and(LibraryThread::is_joinable)
    }

    /// [`stop`](Self::stop) because the environment is being dropped while the pool lives.
    pub(super) fn stop_for_finalize(&self) {
        self.finalizing.store(true, Ordering::Release);
        self.stop();
    }
}

/// Counts a pool call of the program while it lives.
pub(super) struct Busy<'a>(&'a AtomicUsize);

impl<'a> Busy<'a> {
    pub(super) fn enter(counter: &'a AtomicUsize) -> Busy<'a> {
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
pub(super) fn dispatch(comm: &InterComm, s: &mut State) -> Result<()> {
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
pub(super) fn step(comm: &InterComm, s: &mut State, block: bool) -> Result<bool> {
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
pub(super) fn progress_thread(comm: Arc<MultiThreaded<'static, InterComm>>, shared: Arc<Shared>) {
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
    if shared.finalizing.load(Ordering::Acquire) {
        let_go_before_finalize(&comm, &shared);
    }
}

/// The environment is dropped while the pool lives, and MPI is about to be finalised (which
/// waits for the workers): collects the work the workers are running, drops what is queued,
/// and tells them to stop, as dropping the pool first would have (without waiting for the
/// queued work). The pool can do nothing afterwards; its calls say MPI is finalised.
pub(super) fn let_go_before_finalize(comm: &InterComm, shared: &Shared) {
    let mut s = shared.lock();
    let queued: Vec<u64> = s.queue.drain(..).map(|j| j.id).collect();
    for id in queued {
        if !s.abandoned.remove(&id) {
            s.cancelled.insert(id);
        }
    }
    s.closed = true;
    while s.failed.is_none() && !s.busy.is_empty() {
        if let Err(e) = step(comm, &mut s, true) {
            s.failed = Some(e.to_string());
        }
    }
    for worker in 0..comm.remote_size() {
        if let Err(e) = comm.send_obj(&(), worker, STOP) {
            s.failed = Some(e.to_string());
            return;
        }
    }
}
