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

use super::registry::Registry;
use crate::dynamic;
use crate::error::{Error, Result};
use crate::intercomm::InterComm;
use crate::object::{ObjectComm, OobBytes};
use crate::p2p::{any_tag, PointToPoint};

pub(crate) const HELLO: i32 = 31001;
pub(crate) const JOB: i32 = 31002;
pub(crate) const RESULT: i32 = 31003;
pub(crate) const STOP: i32 = 31004;

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
        match status.tag() {
            STOP => {
                master.recv_obj::<()>(0, STOP)?;
                return Ok(());
            }
            JOB => {
                let (id, task, args): JobMsg = master.recv_obj(0, JOB)?;
                let outcomes: Vec<WireOutcome> =
                    args.iter().map(|a| registry.run(task, a).map(OobBytes::from)).collect();
                master.send_obj(&(id, outcomes), 0, RESULT)?;
            }
            tag => {
                return Err(Error::InvalidArgument(format!(
                    "pool worker: unexpected message with tag {tag}"
                )));
            }
        }
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
