//! [`SharedWorkers`]: one set of split workers serving several pools (what `mpiexec -n N python
//! -m mpi4py.futures script.py` gives every `MPIPoolExecutor` the script makes).

use super::options::PoolOptions;
use super::pool::{handshake, split_sides, Backend, Pool};
use super::registry::Registry;
use super::worker::{serve_shared, SESSION, STOP};
use crate::comm::Comm;
use crate::environment::FinalizeHook;
use crate::error::Result;
use crate::intercomm::InterComm;
use crate::object::ObjectComm;
use std::rc::Rc;

/// Tells every worker that no more pools come.
fn stop(comm: &InterComm) {
    for worker in 0..comm.remote_size() {
        let _ = comm.send_obj(&(), worker, STOP);
    }
}

/// The processes of a communicator split into a master and workers that serve any number of
/// [`Pool`]s the master makes, one after another or at the same time (mpi4py's
/// `python -m mpi4py.futures`, where every `MPIPoolExecutor` of the script shares the workers
/// the launcher started).
///
/// Each [`pool`](SharedWorkers::pool) talks to the workers over a communicator of its own, so
/// pools never see each other's work; a worker runs the tasks of all pools in the order they
/// reach it, so pools used at the same time share the workers' time. The workers poll for work
/// (several communicators cannot be waited on at once), pausing up to 100 µs when idle.
/// Dropping the `SharedWorkers` lets the workers go once every pool made from it has shut down.
///
/// ```no_run
/// use mpi4rs::futures::{PoolOptions, Registry, SharedWorkers};
/// let env = mpi4rs::init()?;
/// let mut tasks = Registry::new();
/// let square = tasks.register("square", |x: u64| x * x)?;
/// if let Some(workers) = SharedWorkers::split(env.world(), 0, &tasks)? {
///     let first = workers.pool(PoolOptions::new())?;
///     let second = workers.pool(PoolOptions::new())?;   // both at once, same workers
///     assert_eq!(first.submit(&square, &3)?.result()? + second.submit(&square, &4)?.result()?, 25);
/// }   // the workers return here once rank 0 has dropped its pools and `workers`
/// # Ok::<(), mpi4rs::Error>(())
/// ```
pub struct SharedWorkers {
    registry: Registry,
    /// `None` on a one-process communicator: pools then run their tasks in the master.
    comm: Option<Rc<InterComm>>,
    /// Lets the workers go if the environment is dropped first.
    _at_finalize: Option<FinalizeHook>,
}

impl std::fmt::Debug for SharedWorkers {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SharedWorkers").field("workers", &self.workers()).finish()
    }
}

impl SharedWorkers {
    /// Splits the processes of `comm` into a master (`root`, which gets `Some`) and workers,
    /// which serve the master's pools and get `None` once it has dropped them all and this
    /// value. Collective over `comm`; every process builds the same `registry`.
    pub fn split(comm: &Comm, root: i32, registry: &Registry) -> Result<Option<SharedWorkers>> {
        let Some((master, inter)) = split_sides(comm, root)? else {
            return Ok(Some(SharedWorkers { registry: registry.clone(), comm: None, _at_finalize: None }));
        };
        if !master {
            serve_shared(&inter, registry)?;
            return Ok(None);
        }
        if let Err(e) = handshake(&inter, registry) {
            for worker in 0..inter.remote_size() {
                let _ = inter.send_obj(&(), worker, STOP);
            }
            return Err(e);
        }
        let comm = Rc::new(inter);
        let weak = Rc::downgrade(&comm);
        // Dropping the environment first: the pools made here let their sessions go (their
        // hooks run first), then this lets the workers go.
        let at_finalize = FinalizeHook::register(move || {
            if let Some(comm) = weak.upgrade() {
                stop(&comm);
            }
        });
        Ok(Some(SharedWorkers {
            registry: registry.clone(),
            comm: Some(comm),
            _at_finalize: Some(at_finalize),
        }))
    }

    /// The number of worker processes (0 on a one-process communicator).
    pub fn workers(&self) -> usize {
        self.comm.as_ref().map_or(0, |c| c.remote_size() as usize)
    }

    /// A new pool on these workers, with `options` (its initializer runs once per worker for
    /// this pool; `max_workers` and spawn hints do not apply). Waits until every worker has
    /// finished the task it is running, if any.
    pub fn pool(&self, options: PoolOptions) -> Result<Pool> {
        let Some(shared) = &self.comm else {
            return Pool::local(&self.registry, options);
        };
        for worker in 0..shared.remote_size() {
            shared.send_obj(&(), worker, SESSION)?;
        }
        let session = shared.dup()?;
        let pool = Pool::with_backend(&self.registry, options, Backend::Stopped);
        pool.attach(session, false)?;
        Ok(pool)
    }
}

impl Drop for SharedWorkers {
    /// Lets the workers go (they return once the pools made here have shut down too).
    fn drop(&mut self) {
        if let Some(comm) = &self.comm {
            if crate::runtime::is_active() {
                stop(comm);
            }
        }
    }
}
