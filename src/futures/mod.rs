//! A pool executor on MPI processes (mpi4py's `mpi4py.futures`): tasks submitted to a [`Pool`]
//! run on worker processes and come back as [`Future`]s or through [`Pool::map`].
//!
//! Rust cannot send closures to other processes, so tasks are functions registered by name in
//! a [`Registry`] with serde arguments and results; the same program runs as master and as
//! workers and builds the same registry in both (the pool checks this at start-up). An explicit
//! registry value was chosen over link-time collection (the `inventory` crate): it needs no
//! dependency, no global state and no linker support, and a program sees exactly which tasks
//! it offers.
//!
//! Two ways to get workers:
//! - [`Pool::spawn`] (mpi4py's `MPIPoolExecutor`): new processes of this program, started with
//!   `MPI_Comm_spawn`; the program calls [`run_worker`] at the start of `main`, which serves
//!   tasks in a spawned worker and returns `false` elsewhere. The number of workers comes from
//!   the argument, [`MAX_WORKERS_ENV`], or the universe size.
//! - [`Pool::split`] (mpi4py's `MPICommExecutor` and `python -m mpi4py.futures`): the processes
//!   of an existing communicator (e.g. `mpiexec -n 4`), one master and the rest workers; no
//!   spawning, so it works where the launcher cannot spawn.
//!
//! A task that returns an error or panics gives [`Error::Task`](crate::Error::Task) from its
//! future; the panic is caught on the worker, which goes on serving.
//!
//! ```no_run
//! use mpi4rs::futures::{Pool, Registry};
//! let env = mpi4rs::init()?;
//! let mut tasks = Registry::new();
//! let square = tasks.register("square", |x: u64| x * x)?;
//! let checked = tasks.register_fallible("sqrt", |x: f64| {
//!     if x < 0.0 { Err(format!("sqrt of {x}")) } else { Ok(x.sqrt()) }
//! })?;
//! if let Some(pool) = Pool::split(env.world(), 0, &tasks)? {
//!     let futures: Vec<_> = (0..8u64).map(|x| pool.submit(&square, &x)).collect::<Result<_, _>>()?;
//!     let squares: Vec<u64> = futures.into_iter().map(|f| f.result()).collect::<Result<_, _>>()?;
//!     assert_eq!(squares[7], 49);
//!     assert!(pool.submit(&checked, &-1.0)?.result().is_err());   // the pool stays usable
//!     for r in pool.map_unordered(&square, [1u64, 2, 3], 2)? {
//!         println!("{}", r?);
//!     }
//! }
//! # Ok::<(), mpi4rs::Error>(())
//! ```
//!
//! | mpi4py.futures | mpi4rs::futures |
//! |---|---|
//! | `MPIPoolExecutor(max_workers)` | [`Pool::spawn(&registry, max_workers)`](Pool::spawn) + [`run_worker`] in `main` |
//! | `MPICommExecutor(comm, root)` / `-m mpi4py.futures` | [`Pool::split(comm, root, &registry)`](Pool::split) |
//! | `executor.submit(fn, x)` → `future.result()`, `done()`, `cancel()` | [`pool.submit(&task, &x)`](Pool::submit) → [`Future::result`], `done`, `cancel` |
//! | `executor.map(fn, xs, chunksize=c)` | [`pool.map(&task, xs, c)`](Pool::map) |
//! | `executor.map(..., unordered=True)` | [`pool.map_unordered(&task, xs, c)`](Pool::map_unordered) |
//! | `executor.starmap(fn, pairs)` | [`pool.starmap(&task, pairs, c)`](Pool::starmap) (a tuple argument) |
//! | `executor.shutdown(wait, cancel_futures=…)` | [`pool.shutdown(wait, cancel_futures)`](Pool::shutdown) |
//! | `executor.bootup()`, `bootup(wait=False)` | [`pool.bootup()`](Pool::bootup), [`bootup_nowait()`](Pool::bootup_nowait) (waits below `THREAD_MULTIPLE`) |
//! | `with MPIPoolExecutor() as executor:` | dropping the pool shuts it down, waiting |
//! | `MPIPoolExecutor(initializer=f, initargs=a)` | [`Pool::spawn_with`]/[`split_with`](Pool::split_with) with [`PoolOptions::initializer(&task, &a)`](PoolOptions::initializer) |
//! | `MPIPoolExecutor(path=…, wdir=…, env=…, hosts via info)` | [`PoolOptions`]: [`wdir`](PoolOptions::wdir), [`env`](PoolOptions::env), [`hosts`](PoolOptions::hosts), [`info`](PoolOptions::info) |
//! | `future.result(timeout)`, `future.exception(timeout)` | [`Future::result_timeout`] (→ [`Error::Timeout`](crate::Error::Timeout)), [`Future::exception`] |
//! | `future.add_done_callback(fn)` | [`Future::add_done_callback`] (runs on the program's thread) |
//! | `concurrent.futures.wait(fs, timeout, return_when)` | [`wait(&fs, ReturnWhen::…, timeout)`](wait) → [`Waited`] |
//! | `concurrent.futures.as_completed(fs, timeout)` | [`as_completed(fs, timeout)`](as_completed) |
//! | `executor.map(…, timeout=t)` | [`pool.map(…)?.timeout(t)`](Map::timeout) |
//! | the executor's manager thread | a progress thread under `THREAD_MULTIPLE`; below it [`Pool::progress`] (see [Progress](Pool#progress)) |
//! | `mpiexec -n N python -m mpi4py.futures script.py` (every executor shares the workers) | [`SharedWorkers::split(comm, root, &registry)`](SharedWorkers::split), then [`workers.pool(options)`](SharedWorkers::pool) as often as needed |

mod future;
mod options;
mod pool;
mod progress;
mod registry;
mod shared;
mod worker;

pub use future::{as_completed, wait, AsCompleted, Future, Map, ReturnWhen, Waited};
pub use options::PoolOptions;
pub use pool::{Pool, MAX_WORKERS_ENV};
pub use registry::{Registry, Task};
pub use shared::SharedWorkers;
pub use worker::{run_worker, WORKER_ARG};
