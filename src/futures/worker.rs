//! The worker side: the messages between master and workers, and the loop that serves tasks.
//!
//! Master and workers talk over an intercommunicator (from `MPI_Comm_spawn`, or made from a
//! split of an existing communicator); a worker's master is remote rank 0. Messages are
//! objects ([`ObjectComm`]), argument and result bytes inside as [`OobBytes`] (one MessagePack
//! binary when small, out of band when large):
//! - `HELLO`, worker → master, once: the worker's task names, compared with the master's.
//! - `JOB`, master → worker: `(job id, task index, [encoded argument, …])`, a chunk of calls.
//! - `RESULT`, worker → master: `(job id, [Ok(encoded result) | Err((panicked, message)), …])`.
//! - `STOP`, master → worker: `()`; the worker leaves its loop.
//! - `SESSION`, master → worker, [`SharedWorkers`](super::SharedWorkers) only, on the shared
//!   intercommunicator: `()`; both sides duplicate it for a new pool, and the worker serves that
//!   pool (`HELLO`, `JOB`, … on the duplicate, `STOP` ending it) alongside the others.

use super::registry::Registry;
use crate::dynamic;
use crate::error::{Error, Result};
use crate::intercomm::InterComm;
use crate::object::{ObjectComm, OobBytes};
use crate::p2p::{any_tag, PointToPoint};
use std::time::Duration;

pub(crate) const HELLO: i32 = 31001;
pub(crate) const JOB: i32 = 31002;
pub(crate) const RESULT: i32 = 31003;
pub(crate) const STOP: i32 = 31004;
pub(crate) const SESSION: i32 = 31005;

/// A chunk of calls of one task.
pub(crate) type JobMsg = (u64, u32, Vec<OobBytes>);
/// One call's outcome on the wire.
pub(crate) type WireOutcome = std::result::Result<OobBytes, (bool, String)>;
/// A chunk's outcomes.
pub(crate) type ResultMsg = (u64, Vec<WireOutcome>);

/// The argument that marks a process spawned by [`Pool::spawn`](super::Pool::spawn) as a
/// worker.
pub const WORKER_ARG: &str = "--mpi4rs-futures-worker";

/// Serves tasks from the master (remote rank 0 of `master`) until it says stop.
pub(crate) fn serve(master: &InterComm, registry: &Registry) -> Result<()> {
    master.send_obj(registry.names(), 0, HELLO)?;
    loop {
        let status = master.probe(0, any_tag())?;
        if !serve_one(master, registry, status.tag())? {
            return Ok(());
        }
    }
}

/// Serves the pools of a [`SharedWorkers`](super::SharedWorkers): each `SESSION` on `shared`
/// opens one more pool (a duplicate of `shared`); returns once the master has stopped `shared`
/// and every pool. Several communicators cannot be waited on at once, so this polls, pausing
/// (up to 100 µs) once nothing has come for a while.
pub(crate) fn serve_shared(shared: &InterComm, registry: &Registry) -> Result<()> {
    shared.send_obj(registry.names(), 0, HELLO)?;
    let mut sessions: Vec<InterComm> = Vec::new();
    let mut closing = false;
    let mut idle = 0u32;
    while !(closing && sessions.is_empty()) {
        let mut busy = false;
        if !closing {
            if let Some(status) = shared.iprobe(0, any_tag())? {
                busy = true;
                match status.tag() {
                    STOP => {
                        shared.recv_obj::<()>(0, STOP)?;
                        closing = true;
                    }
                    SESSION => {
                        shared.recv_obj::<()>(0, SESSION)?;
                        let session = shared.dup()?;
                        session.send_obj(registry.names(), 0, HELLO)?;
                        sessions.push(session);
                    }
                    tag => return Err(unexpected(tag)),
                }
            }
        }
        let mut i = 0;
        while i < sessions.len() {
            let Some(status) = sessions[i].iprobe(0, any_tag())? else {
                i += 1;
                continue;
            };
            busy = true;
            if !serve_one(&sessions[i], registry, status.tag())? {
                sessions.swap_remove(i);
            }
        }
        if busy {
            idle = 0;
        } else {
            idle = idle.saturating_add(1);
            match idle {
                0..=1000 => std::hint::spin_loop(),
                1001..=2000 => std::thread::yield_now(),
                _ => std::thread::sleep(Duration::from_micros(u64::from(idle.min(2100) - 2000))),
            }
        }
    }
    Ok(())
}

fn unexpected(tag: i32) -> Error {
    Error::InvalidArgument(format!("pool worker: unexpected message with tag {tag}"))
}

/// Handles the message with `tag` waiting from the master: `false` once it said stop.
fn serve_one(master: &InterComm, registry: &Registry, tag: i32) -> Result<bool> {
    match tag {
        STOP => {
            master.recv_obj::<()>(0, STOP)?;
            Ok(false)
        }
        JOB => {
            let (id, task, args): JobMsg = master.recv_obj(0, JOB)?;
            let outcomes: Vec<WireOutcome> =
                args.iter().map(|a| registry.run(task, a).map(OobBytes::from)).collect();
            master.send_obj(&(id, outcomes), 0, RESULT)?;
            Ok(true)
        }
        tag => Err(unexpected(tag)),
    }
}

/// The worker entry point for spawned pools: call it at the start of `main`, after
/// [`init`](crate::init) and after building the [`Registry`]. In a process that
/// [`Pool::spawn`](super::Pool::spawn) started, it serves tasks until the pool shuts down,
/// disconnects and returns `true` (then return from `main`); anywhere else it returns `false`
/// at once.
///
/// ```no_run
/// use mpi4rs::futures::{run_worker, Pool, Registry};
/// let env = mpi4rs::init()?;
/// let mut tasks = Registry::new();
/// let square = tasks.register("square", |x: u64| x * x)?;
/// if run_worker(&tasks)? {
///     return Ok(());                     // a worker: done
/// }
/// let pool = Pool::spawn(&tasks, Some(2))?;
/// assert_eq!(pool.submit(&square, &7)?.result()?, 49);
/// # Ok::<(), mpi4rs::Error>(())
/// ```
pub fn run_worker(registry: &Registry) -> Result<bool> {
    if !std::env::args().any(|a| a == WORKER_ARG) {
        return Ok(false);
    }
    let master = dynamic::get_parent()?.ok_or_else(|| {
        Error::InvalidArgument(format!("started with {WORKER_ARG} but not spawned by a pool (no parent)"))
    })?;
    serve(&master, registry)?;
    master.disconnect()?;
    Ok(true)
}
