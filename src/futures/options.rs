//! [`PoolOptions`]: how a pool starts its workers (count, initializer, spawn options) and
//! whether it runs a progress thread.

use super::registry::{encode, Task};
use crate::error::Result;
use serde::Serialize;
use std::sync::Arc;

/// How [`Pool::spawn_with`](crate::futures::Pool::spawn_with) and [`Pool::split_with`](crate::futures::Pool::split_with) start a pool: mpi4py's executor
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
    pub(super) max_workers: Option<usize>,
    pub(super) initializer: Option<(u32, Arc<str>, Vec<u8>)>,
    pub(super) info: Vec<(String, String)>,
    pub(super) env: Vec<(String, String)>,
    pub(super) progress_thread: bool,
}

impl Default for PoolOptions {
    fn default() -> Self {
        PoolOptions { max_workers: None, initializer: None, info: vec![], env: vec![], progress_thread: true }
    }
}

impl PoolOptions {
    /// The defaults: workers from [`MAX_WORKERS_ENV`](crate::futures::MAX_WORKERS_ENV) or the universe size, no initializer, no
    /// spawn hints, a progress thread where the thread level allows it.
    pub fn new() -> PoolOptions {
        PoolOptions::default()
    }

    /// How many workers [`Pool::spawn_with`](crate::futures::Pool::spawn_with) starts (ignored by a split pool, whose workers are
    /// the other processes).
    pub fn max_workers(mut self, n: usize) -> Self {
        self.max_workers = Some(n);
        self
    }

    /// A task every worker runs once, with `arg`, before any other (mpi4py's `initializer` and
    /// `initargs`; several arguments are a tuple). If it fails on any worker, starting the
    /// pool fails with that [`Error::Task`](crate::Error::Task) and the workers are let go.
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
    pub(super) fn spawn_hints(&self) -> Vec<(String, String)> {
        let mut pairs = self.info.clone();
        if !self.env.is_empty() {
            let lines: Vec<String> = self.env.iter().map(|(k, v)| format!("{k}={v}")).collect();
            pairs.push(("env".into(), lines.join("\n")));
        }
        pairs
    }
}
