//! The pool executor: a split job (one master, the other ranks workers; at one rank the
//! master runs the tasks itself) with known answers for submit, map in order and unordered
//! with chunks, starmap, failing and panicking tasks (the pool stays usable), cancel, done,
//! shutdown with and without waiting or cancelling, registry mismatches and argument errors;
//! and, launcher-side, a spawned pool (skipped with the library's reason where spawning is not
//! supported).
mod common;

use common::spawn::{expect, spawn_unsupported};
use common::Suite;
use mpi4rs::futures::{
    as_completed, run_worker, wait, Pool, PoolOptions, Registry, ReturnWhen, SharedWorkers, Task,
    MAX_WORKERS_ENV,
};
use mpi4rs::prelude::*;
use mpi4rs::{Environment, Error, Result};
use std::cell::RefCell;
use std::rc::Rc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

/// The tasks every process of these tests registers.
struct Tasks {
    registry: Registry,
    square: Task<u64, u64>,
    add: Task<(i64, i64), i64>,
    even_only: Task<u64, u64>,
    boom: Task<String, ()>,
    nap: Task<u64, u64>,
    whoami: Task<(), i32>,
    stamp: Task<u64, f64>,
    setup: Task<(u64, u64), ()>,
    setup_seen: Task<(), u64>,
    getenv: Task<String, Option<String>>,
    cwd: Task<(), String>,
}

/// What the initializer stored in this worker (0: never ran).
static SETUP: AtomicU64 = AtomicU64::new(0);

/// Seconds since the epoch (comparable between processes of one machine).
fn now() -> f64 {
    SystemTime::now().duration_since(UNIX_EPOCH).map_or(0.0, |d| d.as_secs_f64())
}

fn tasks() -> Tasks {
    let mut registry = Registry::new();
    let square = registry.register("square", |x: u64| x * x).unwrap();
    let add = registry.register("add", |(a, b): (i64, i64)| a + b).unwrap();
    let even_only = registry
        .register_fallible("even_only", |x: u64| {
            if x.is_multiple_of(2) {
                Ok(x / 2)
            } else {
                Err(format!("{x} is odd"))
            }
        })
        .unwrap();
    let boom = registry.register("boom", |s: String| panic!("boom: {s}")).unwrap();
    let nap = registry
        .register("nap", |ms: u64| {
            std::thread::sleep(Duration::from_millis(ms));
            ms
        })
        .unwrap();
    let whoami = registry.register("whoami", |()| world_rank()).unwrap();
    let stamp = registry
        .register("stamp", |ms: u64| {
            let start = now();
            std::thread::sleep(Duration::from_millis(ms));
            start
        })
        .unwrap();
    let setup = registry
        .register_fallible("setup", |(base, fail): (u64, u64)| {
            if fail != 0 && (world_rank() as u64).is_multiple_of(fail) {
                return Err(format!("setup refused on rank {}", world_rank()));
            }
            SETUP.fetch_add(base + world_rank() as u64, Ordering::Relaxed);
            Ok(())
        })
        .unwrap();
    let setup_seen = registry.register("setup_seen", |()| SETUP.load(Ordering::Relaxed)).unwrap();
    let getenv = registry.register("getenv", |name: String| std::env::var(name).ok()).unwrap();
    let cwd = registry
        .register("cwd", |()| std::env::current_dir().map(|d| d.display().to_string()).unwrap_or_default())
        .unwrap();
    Tasks { registry, square, add, even_only, boom, nap, whoami, stamp, setup, setup_seen, getenv, cwd }
}

/// This process's rank in `COMM_WORLD` (inside a task, which gets no communicator).
fn world_rank() -> i32 {
    let mut rank = -1;
    // SAFETY: MPI is initialised while tasks run; a plain out-parameter.
    unsafe { mpi4rs::ffi::MPI_Comm_rank(mpi4rs::ffi::COMM_WORLD(), &mut rank) };
    rank
}

fn main() {
    // A process spawned by a pool: serve and leave (what a program's main does first).
    if std::env::args().any(|a| a == mpi4rs::futures::WORKER_ARG) {
        let env = mpi4rs::init().expect("init");
        let t = tasks();
        run_worker(&t.registry).expect("worker");
        drop(env);
        return;
    }
    Suite::new("futures")
        .case("split_known_answers", split_known_answers)
        .case("failures_and_panics_keep_the_pool", failures_and_panics_keep_the_pool)
        .case("cancel_done_and_shutdown", cancel_done_and_shutdown)
        .case("registry_mismatch_and_argument_errors", registry_mismatch_and_argument_errors)
        .case("progress_calls_feed_workers_while_computing", progress_calls_feed_workers)
        .case("timeouts_callbacks_wait_as_completed", timeouts_callbacks_wait_as_completed)
        .case("initializer_once_per_worker", initializer_once_per_worker)
        .case("shared_workers_serve_several_pools", shared_workers_serve_several_pools)
        .hidden("progress_thread", progress_thread)
        .check("progress_thread_feeds_workers_np2_np4", |s| {
            for np in [2, 4] {
                let out = s.job(np, Some("progress_thread"), &[("MPI4RS_RC_THREAD_LEVEL", "multiple")]);
                if let Some(line) = out.stdout.lines().find(|l| l.starts_with(common::spawn::UNSUPPORTED)) {
                    return Err(format!("skipped: {line}"));
                }
                if !out.success() || !out.stdout.contains("progress thread ok") {
                    return Err(format!("np={np}: {}", common::describe(&out)));
                }
            }
            Ok(())
        })
        .hidden("spawned_pool", spawned_pool)
        .check("spawned_pool_1_and_3_workers", |s| expect(s, "spawned_pool", &[1], "spawned pool ok"))
        .hidden("spawned_pool_options", spawned_pool_options)
        .check("spawned_pool_wdir_env_initializer", |s| {
            expect(s, "spawned_pool_options", &[1], "spawned pool options ok")
        })
        .hidden("spawned_pool_nowait", spawned_pool_nowait)
        .check("spawned_pool_bootup_nowait_thread_multiple", |s| {
            let out = s.job(1, Some("spawned_pool_nowait"), &[("MPI4RS_RC_THREAD_LEVEL", "multiple")]);
            if let Some(line) = out.stdout.lines().find(|l| l.starts_with(common::spawn::UNSUPPORTED)) {
                return Err(format!("skipped: {}", &line[common::spawn::UNSUPPORTED.len()..]));
            }
            if !out.success() || !out.stdout.contains("bootup_nowait ok") {
                return Err(common::describe(&out));
            }
            Ok(())
        })
        .run();
}

fn split_known_answers(env: &Environment) -> Result<()> {
    let t = tasks();
    let world = env.world();
    let Some(pool) = Pool::split(world, 0, &t.registry)? else {
        return Ok(()); // a worker: served until the master shut the pool down
    };
    ensure_eq!(pool.workers(), world.size() as usize - 1);
    // submit
    let futures: Vec<_> = (0..20u64).map(|x| pool.submit(&t.square, &x)).collect::<Result<_>>()?;
    let got: Vec<u64> = futures.into_iter().map(|f| f.result()).collect::<Result<_>>()?;
    ensure_eq!(got, (0..20u64).map(|x| x * x).collect::<Vec<_>>());
    // map, in order, with several chunk sizes (including one larger than the input)
    for chunk in [1, 3, 7, 100] {
        let got: Vec<u64> = pool.map(&t.square, 0..50u64, chunk)?.collect::<Result<_>>()?;
        ensure_eq!(got, (0..50u64).map(|x| x * x).collect::<Vec<_>>());
    }
    // unordered: every result exactly once
    let mut got: Vec<u64> =
        pool.map_unordered(&t.square, (0..40u64).collect::<Vec<_>>(), 4)?.collect::<Result<_>>()?;
    got.sort();
    ensure_eq!(got, (0..40u64).map(|x| x * x).collect::<Vec<_>>());
    // starmap: tuple arguments
    let pairs = [(1i64, 2i64), (10, -3), (100, 200)];
    let sums: Vec<i64> = pool.starmap(&t.add, pairs, 2)?.collect::<Result<_>>()?;
    ensure_eq!(sums, [3, 7, 300]);
    // the tasks run on the workers (or, alone, on the master)
    let who: std::collections::BTreeSet<i32> =
        pool.map(&t.whoami, vec![(); 8 * pool.workers().max(1)], 1)?.collect::<Result<_>>()?;
    let want: std::collections::BTreeSet<i32> =
        if world.size() == 1 { [0].into() } else { (1..world.size()).collect() };
    ensure!(who.is_subset(&want) && !who.is_empty(), "tasks ran on ranks {who:?}");
    Ok(())
}

fn failures_and_panics_keep_the_pool(env: &Environment) -> Result<()> {
    let t = tasks();
    let Some(pool) = Pool::split(env.world(), 0, &t.registry)? else { return Ok(()) };
    let e = ensure_err!(pool.submit(&t.even_only, &3)?.result(), Error::Task { panicked: false, .. });
    ensure!(e.to_string().contains("even_only") && e.to_string().contains("3 is odd"), "{e}");
    let e =
        ensure_err!(pool.submit(&t.boom, &"now".to_string())?.result(), Error::Task { panicked: true, .. });
    let text = e.to_string();
    ensure!(text.contains("boom: now") && text.contains("tests/futures.rs"), "{text}");
    // Every worker panics once, and all stay usable.
    let n = 2 * pool.workers().max(1);
    let panics = pool.map(&t.boom, vec!["again".to_string(); n], 1)?.filter(|r| r.is_err()).count();
    ensure_eq!(panics, n);
    ensure_eq!(pool.submit(&t.square, &9)?.result()?, 81);
    // In a map, failures are per item and the rest come through.
    let got: Vec<Result<u64>> = pool.map(&t.even_only, 0..10u64, 3)?.collect();
    for (x, r) in got.iter().enumerate() {
        match r {
            Ok(v) => ensure!(x % 2 == 0 && *v == x as u64 / 2),
            Err(Error::Task { message, .. }) => ensure!(x % 2 == 1 && message == &format!("{x} is odd")),
            Err(e) => ensure!(false, "unexpected {e}"),
        }
    }
    Ok(())
}

fn cancel_done_and_shutdown(env: &Environment) -> Result<()> {
    let t = tasks();
    let world = env.world();
    if let Some(pool) = Pool::split(world, 0, &t.registry)? {
        // Keep every worker busy, then queue more: those can be cancelled.
        let busy: Vec<_> = (0..pool.workers()).map(|_| pool.submit(&t.nap, &100)).collect::<Result<_>>()?;
        let queued = pool.submit(&t.square, &5)?;
        let cancelled = pool.submit(&t.square, &6)?;
        ensure!(cancelled.cancel());
        ensure!(cancelled.cancelled() && cancelled.done()?);
        ensure_err!(cancelled.result(), Error::Cancelled);
        for f in &busy {
            ensure!(!f.cancel(), "a running task cannot be cancelled");
        }
        ensure_eq!(queued.result()?, 25);
        for f in busy {
            ensure_eq!(f.result()?, 100);
        }
        let f = pool.submit(&t.square, &7)?;
        while !f.done()? {}
        ensure!(!f.cancel());
        ensure_eq!(f.result()?, 49);
        // Dropping an iterator half way cancels or forgets the rest; the pool goes on.
        let mut it = pool.map(&t.nap, vec![1u64; 20], 2)?;
        ensure_eq!(it.next().transpose()?, Some(1));
        drop(it);
        ensure_eq!(pool.submit(&t.square, &8)?.result()?, 64);
        // shutdown without waiting: no new work, but what was submitted still completes.
        let late = pool.submit(&t.square, &11)?;
        pool.shutdown(false, false)?;
        ensure_err!(pool.submit(&t.square, &1), Error::InvalidArgument(_));
        ensure_eq!(late.result()?, 121);
    }
    if let Some(pool) = Pool::split(world, 0, &t.registry)? {
        // shutdown cancelling what no worker has started
        let running: Vec<_> = (0..pool.workers()).map(|_| pool.submit(&t.nap, &50)).collect::<Result<_>>()?;
        let waiting: Vec<_> = (0..3u64).map(|x| pool.submit(&t.square, &x)).collect::<Result<_>>()?;
        pool.shutdown(true, true)?;
        for f in running {
            ensure_eq!(f.result()?, 50);
        }
        for f in waiting {
            ensure_err!(f.result(), Error::Cancelled);
        }
        ensure_err!(pool.map(&t.square, [1u64], 1), Error::InvalidArgument(_));
        pool.shutdown(true, false)?; // a second shutdown is harmless
    }
    world.barrier()
}

fn registry_mismatch_and_argument_errors(env: &Environment) -> Result<()> {
    let world = env.world();
    let mut t = tasks();
    ensure_err!(t.registry.register("square", |x: u8| x), Error::InvalidArgument(_));
    ensure_err!(Pool::split(world, world.size(), &t.registry), Error::InvalidRoot { .. });
    ensure_err!(Pool::spawn(&t.registry, Some(0)), Error::InvalidArgument(_));
    std::env::set_var(MAX_WORKERS_ENV, "none");
    ensure_err!(Pool::spawn(&t.registry, None), Error::Config(_));
    std::env::set_var(MAX_WORKERS_ENV, "3");
    ensure_eq!(Pool::spawn(&t.registry, None)?.workers(), 3); // not started: nothing spawned
    std::env::remove_var(MAX_WORKERS_ENV);
    ensure!(Pool::spawn(&t.registry, None)?.workers() >= 1);
    if let Some(pool) = Pool::split(world, 0, &t.registry)? {
        ensure_err!(pool.map(&t.square, [1u64], 0), Error::InvalidArgument(_));
        // The wrong types for a registered name: each call fails to decode, as an error.
        let wrong: Task<String, String> = t.registry.task("square").expect("registered");
        ensure_err!(pool.submit(&wrong, &"x".to_string())?.result(), Error::Task { .. });
        ensure!(t.registry.task::<u64, u64>("absent").is_none());
    }
    // Workers that registered other tasks than the master: an error at the master, and the
    // workers are let go.
    if world.size() > 1 {
        if world.rank() == 1 {
            t.registry.register("extra", |x: u64| x)?;
        }
        match Pool::split(world, 0, &t.registry) {
            Ok(None) => ensure!(world.rank() != 0),
            Ok(Some(_)) => ensure!(false, "a mismatched registry was accepted"),
            Err(e) => ensure!(world.rank() == 0 && e.to_string().contains("same registry"), "{e}"),
        }
    }
    world.barrier()
}

/// Spawn mode (mpi4py's `MPIPoolExecutor`): workers are new processes of this test binary.
fn spawned_pool(env: &Environment) -> Result<()> {
    let t = tasks();
    for n in [1usize, 3] {
        let pool = Pool::spawn(&t.registry, Some(n))?;
        if let Err(e) = pool.bootup() {
            if spawn_unsupported(env, &e) {
                return Ok(());
            }
            return Err(e);
        }
        ensure_eq!(pool.workers(), n);
        let got: Vec<u64> = pool.map(&t.square, 0..30u64, 4)?.collect::<Result<_>>()?;
        ensure_eq!(got, (0..30u64).map(|x| x * x).collect::<Vec<_>>());
        let e = ensure_err!(
            pool.submit(&t.boom, &"spawned".to_string())?.result(),
            Error::Task { panicked: true, .. }
        );
        ensure!(e.to_string().contains("boom: spawned"), "{e}");
        ensure_eq!(pool.submit(&t.add, &(40, 2))?.result()?, 42);
        let who: std::collections::BTreeSet<i32> =
            pool.map(&t.whoami, vec![(); 6 * n], 1)?.collect::<Result<_>>()?;
        ensure!(who.iter().all(|r| (0..n as i32).contains(r)), "spawned workers' ranks: {who:?}");
        pool.shutdown(true, false)?;
    }
    // Lazy start: a pool that is never used spawns nothing.
    drop(Pool::spawn(&t.registry, Some(2))?);
    println!("spawned pool ok: 1 and 3 workers");
    Ok(())
}

/// Spawn options: working directory, environment (Open MPI's `env` key), an initializer. A
/// process of its own: a third spawn in one process hung inside Open MPI 4.1 (`MPI_Init` of the
/// children) in about one run in twenty on the loaded test machine.
fn spawned_pool_options(env: &Environment) -> Result<()> {
    let t = tasks();
    let options = PoolOptions::new()
        .max_workers(2)
        .wdir("/tmp")
        .env("MPI4RS_POOL_TEST", "yes")
        .initializer(&t.setup, &(7, 0))?;
    let pool = Pool::spawn_with(&t.registry, options)?;
    if let Err(e) = pool.bootup() {
        if spawn_unsupported(env, &e) {
            return Ok(());
        }
        return Err(e);
    }
    ensure_eq!(pool.submit(&t.cwd, &())?.result()?, "/tmp");
    let seen: std::collections::BTreeSet<u64> =
        pool.map(&t.setup_seen, vec![(); 8], 1)?.collect::<Result<_>>()?;
    ensure!(seen.is_subset(&[7, 8].into()), "initializer results {seen:?}");
    let var = pool.submit(&t.getenv, &"MPI4RS_POOL_TEST".to_string())?.result()?;
    let mpich = mpi4rs::library_version()?.contains("MPICH");
    ensure!(var.as_deref() == Some("yes") || mpich, "env not passed: {var:?}");
    drop(pool);
    println!("spawned pool options ok");
    Ok(())
}

/// Submits 30 tasks of 5 ms per worker, then "computes" for 200 ms, calling `during` every
/// millisecond and never otherwise touching the pool: how many tasks started during that time.
fn tasks_started_while_computing(pool: &Pool, t: &Tasks, during: &dyn Fn() -> Result<()>) -> Result<usize> {
    let futures: Vec<_> =
        (0..30 * pool.workers()).map(|_| pool.submit(&t.stamp, &5)).collect::<Result<_>>()?;
    let (t0, begin) = (now(), Instant::now());
    while begin.elapsed() < Duration::from_millis(200) {
        std::thread::sleep(Duration::from_millis(1));
        during()?;
    }
    let t1 = now();
    let starts: Vec<f64> = futures.into_iter().map(|f| f.result()).collect::<Result<_>>()?;
    Ok(starts.iter().filter(|&&s| s > t0 && s + 0.005 < t1).count())
}

/// Below THREAD_MULTIPLE there is no progress thread: a master that computes without pool calls
/// leaves each worker with its first task only; `Pool::progress` in the compute loop keeps
/// them fed.
fn progress_calls_feed_workers(env: &Environment) -> Result<()> {
    let t = tasks();
    let world = env.world();
    if let Some(pool) = Pool::split(world, 0, &t.registry)? {
        let multiple = env.thread_level() == mpi4rs::ThreadLevel::Multiple;
        ensure_eq!(pool.has_progress_thread(), multiple && pool.workers() > 0);
        if pool.workers() == 0 {
            // alone, progress() runs queued tasks here
            let f = pool.submit(&t.square, &3)?;
            ensure!(pool.progress()? && f.done()?);
            ensure_eq!(f.result()?, 9);
        } else if !multiple {
            let idle = tasks_started_while_computing(&pool, &t, &|| Ok(()))?;
            ensure!(idle <= pool.workers(), "{idle} tasks started with no progress at all");
            let fed = tasks_started_while_computing(&pool, &t, &|| pool.progress().map(drop))?;
            ensure!(fed > pool.workers(), "only {fed} tasks started for {} workers", pool.workers());
        }
    }
    world.barrier()
}

/// THREAD_MULTIPLE (run by a check with MPI4RS_RC_THREAD_LEVEL=multiple): a progress thread
/// keeps the workers busy while the master computes without any pool call.
fn progress_thread(env: &Environment) -> Result<()> {
    if env.thread_level() != mpi4rs::ThreadLevel::Multiple {
        common::spawn::say_unsupported(
            env,
            format!("MPI provided {:?}, not THREAD_MULTIPLE", env.thread_level()),
        );
        return Ok(());
    }
    let t = tasks();
    let world = env.world();
    if let Some(pool) = Pool::split(world, 0, &t.registry)? {
        ensure!(pool.has_progress_thread());
        let fed = tasks_started_while_computing(&pool, &t, &|| Ok(()))?;
        ensure!(fed > pool.workers(), "only {fed} tasks started for {} workers", pool.workers());
        // everything else still works with the thread running
        let got: Vec<u64> = pool.map(&t.square, 0..50u64, 3)?.collect::<Result<_>>()?;
        ensure_eq!(got, (0..50u64).map(|x| x * x).collect::<Vec<_>>());
        let futures: Vec<_> = (0..20u64).map(|x| pool.submit(&t.square, &x)).collect::<Result<_>>()?;
        let mut got: Vec<u64> = as_completed(futures, None).map(|f| f?.result()).collect::<Result<_>>()?;
        got.sort();
        ensure_eq!(got, (0..20u64).map(|x| x * x).collect::<Vec<_>>());
        println!("progress thread ok: {fed} tasks started while computing, {} workers", pool.workers());
    }
    // the thread can be switched off
    if let Some(pool) = Pool::split_with(world, 0, &t.registry, PoolOptions::new().progress_thread(false))? {
        ensure!(!pool.has_progress_thread());
        ensure_eq!(pool.submit(&t.square, &12)?.result()?, 144);
    }
    world.barrier()
}

fn timeouts_callbacks_wait_as_completed(env: &Environment) -> Result<()> {
    let t = tasks();
    let world = env.world();
    if let Some(pool) = Pool::split(world, 0, &t.registry)? {
        // exception()
        ensure!(pool.submit(&t.square, &4)?.exception(None)?.is_none());
        let bad = pool.submit(&t.even_only, &3)?;
        let e = bad.exception(Some(Duration::from_secs(60)))?;
        ensure!(
            matches!(&e, Some(Error::Task { panicked: false, message, .. }) if message == "3 is odd"),
            "{e:?}"
        );
        ensure_err!(bad.result(), Error::Task { .. });
        // add_done_callback: before completion, after it, and on a future dropped meanwhile
        let seen: Rc<RefCell<Vec<std::result::Result<u64, String>>>> = Rc::default();
        let note = |seen: &Rc<RefCell<Vec<_>>>| {
            let seen = seen.clone();
            move |r: Result<u64>| seen.borrow_mut().push(r.map_err(|e| e.to_string()))
        };
        let f = pool.submit(&t.square, &6)?;
        f.add_done_callback(note(&seen));
        ensure_eq!(f.result()?, 36);
        ensure_eq!(*seen.borrow(), [Ok(36)]);
        let g = pool.submit(&t.square, &7)?;
        g.add_done_callback(note(&seen));
        drop(g);
        while seen.borrow().len() < 2 {
            pool.progress()?;
        }
        ensure_eq!(seen.borrow()[1], Ok(49));
        let h = pool.submit(&t.even_only, &5)?;
        ensure!(h.exception(None)?.is_some());
        h.add_done_callback(note(&seen)); // already done: runs at once
        ensure!(matches!(&seen.borrow()[2], Err(m) if m.contains("5 is odd")));
        // as_completed without a time limit
        let futures: Vec<_> = (0..10u64).map(|x| pool.submit(&t.square, &x)).collect::<Result<_>>()?;
        let mut got: Vec<u64> = as_completed(futures, None).map(|f| f?.result()).collect::<Result<_>>()?;
        got.sort();
        ensure_eq!(got, (0..10u64).map(|x| x * x).collect::<Vec<_>>());
        let futures: Vec<_> = (0..5u64).map(|x| pool.submit(&t.square, &x)).collect::<Result<_>>()?;
        let all = wait(&futures, ReturnWhen::AllCompleted, None)?;
        ensure!(all.not_done.is_empty() && all.done == [0, 1, 2, 3, 4], "{all:?}");
        ensure_eq!(wait::<u64>(&[], ReturnWhen::FirstCompleted, None)?, Default::default());
        if pool.workers() > 0 {
            // result_timeout: Err(Timeout), and the future goes on
            let slow = pool.submit(&t.nap, &300)?;
            ensure_err!(slow.result_timeout(Duration::from_millis(5)), Error::Timeout(_));
            ensure_eq!(slow.result_timeout(Duration::from_secs(60))?, 300);
            ensure_eq!(slow.result()?, 300);
            // wait: first completed, a time limit that runs out (not an error), all completed
            let futures = vec![pool.submit(&t.nap, &1)?, pool.submit(&t.nap, &300)?];
            let first = wait(&futures, ReturnWhen::FirstCompleted, Some(Duration::from_secs(60)))?;
            ensure!(first.done == [0] && first.not_done == [1], "{first:?}");
            let partial = wait(&futures, ReturnWhen::AllCompleted, Some(Duration::from_millis(1)))?;
            ensure!(partial.not_done == [1], "{partial:?}");
            let all = wait(&futures, ReturnWhen::AllCompleted, None)?;
            ensure!(all.done == [0, 1], "{all:?}");
            let futures = vec![pool.submit(&t.even_only, &1)?, pool.submit(&t.nap, &300)?];
            let failed = wait(&futures, ReturnWhen::FirstException, None)?;
            ensure!(failed.done == [0] && failed.not_done == [1], "{failed:?}");
            drop(futures);
            // as_completed and map with a time limit that runs out
            let mut it = as_completed(vec![pool.submit(&t.nap, &300)?], Some(Duration::from_millis(5)));
            ensure_err!(it.next().transpose(), Error::Timeout(_));
            ensure!(it.next().is_none());
            let mut it =
                pool.map(&t.nap, vec![300u64; 2 * pool.workers()], 1)?.timeout(Duration::from_millis(5));
            ensure_err!(it.next().transpose(), Error::Timeout(_));
            ensure!(it.next().is_none());
            drop(it);
            // a cancelled task's callback gets Err(Cancelled), at once
            let busy: Vec<_> =
                (0..pool.workers()).map(|_| pool.submit(&t.nap, &100)).collect::<Result<_>>()?;
            let queued = pool.submit(&t.square, &2)?;
            queued.add_done_callback(note(&seen));
            ensure!(queued.cancel());
            ensure!(matches!(&seen.borrow()[3], Err(m) if m.contains("cancelled")));
            ensure_err!(queued.result_timeout(Duration::from_secs(1)), Error::Cancelled);
            ensure_err!(queued.exception(None), Error::Cancelled);
            drop(busy);
        }
        ensure_eq!(pool.submit(&t.square, &8)?.result()?, 64); // still usable
    }
    world.barrier()
}

fn initializer_once_per_worker(env: &Environment) -> Result<()> {
    let t = tasks();
    let world = env.world();
    SETUP.store(0, Ordering::Relaxed);
    let options = PoolOptions::new().initializer(&t.setup, &(100, 0))?;
    if let Some(pool) = Pool::split_with(world, 0, &t.registry, options)? {
        let seen: std::collections::BTreeSet<u64> =
            pool.map(&t.setup_seen, vec![(); 8 * pool.workers().max(1)], 1)?.collect::<Result<_>>()?;
        // each worker ran it exactly once (twice would show 200 + 2 × rank)
        let want: std::collections::BTreeSet<u64> = if world.size() == 1 {
            [100].into()
        } else {
            (1..world.size() as u64).map(|r| 100 + r).collect()
        };
        ensure!(seen.is_subset(&want) && !seen.is_empty(), "initializer results {seen:?}, want {want:?}");
    }
    world.barrier()?;
    // An initializer that fails: an error at the master, and the workers are let go.
    let failing = PoolOptions::new().initializer(&t.setup, &(0, 1))?;
    match Pool::split_with(world, 0, &t.registry, failing) {
        Ok(None) => ensure!(world.rank() != 0),
        Ok(Some(_)) => ensure!(false, "a failing initializer was accepted"),
        Err(e) => ensure!(world.rank() == 0 && e.to_string().contains("setup refused"), "{e}"),
    }
    world.barrier()
}

/// `bootup_nowait` under THREAD_MULTIPLE: the spawn goes on in a thread while this one goes on;
/// the first submission waits for it. The pool then runs its progress thread.
fn spawned_pool_nowait(env: &Environment) -> Result<()> {
    if env.thread_level() != mpi4rs::ThreadLevel::Multiple {
        common::spawn::say_unsupported(
            env,
            format!("MPI provided {:?}, not THREAD_MULTIPLE", env.thread_level()),
        );
        return Ok(());
    }
    let t = tasks();
    let pool = Pool::spawn(&t.registry, Some(2))?;
    pool.bootup_nowait()?;
    ensure_eq!(pool.workers(), 2);
    let f = match pool.submit(&t.square, &5) {
        Ok(f) => f,
        Err(e) if spawn_unsupported(env, &e) => return Ok(()),
        Err(e) => return Err(e),
    };
    ensure_eq!(f.result()?, 25);
    ensure!(pool.has_progress_thread());
    let got: Vec<u64> = pool.map(&t.square, 0..20u64, 3)?.collect::<Result<_>>()?;
    ensure_eq!(got, (0..20u64).map(|x| x * x).collect::<Vec<_>>());
    pool.shutdown(true, false)?;
    // shut down while still booting: the workers it started are stopped
    let pool = Pool::spawn(&t.registry, Some(1))?;
    pool.bootup_nowait()?;
    match pool.shutdown(true, false) {
        Err(e) if spawn_unsupported(env, &e) => return Ok(()),
        other => other?,
    }
    ensure_err!(pool.submit(&t.square, &1), Error::InvalidArgument(_));
    println!("bootup_nowait ok");
    Ok(())
}

/// `-m mpi4py.futures` semantics: one set of split workers serves several pools, at the same
/// time and one after another, each with its own initializer.
fn shared_workers_serve_several_pools(env: &Environment) -> Result<()> {
    let t = tasks();
    let world = env.world();
    SETUP.store(0, Ordering::Relaxed);
    if let Some(workers) = SharedWorkers::split(world, 0, &t.registry)? {
        ensure_eq!(workers.workers(), world.size() as usize - 1);
        let first = workers.pool(PoolOptions::new())?;
        let second = workers.pool(PoolOptions::new())?;
        let a = first.map(&t.square, 0..30u64, 2)?;
        let b = second.map(&t.add, (0..30i64).map(|x| (x, 1)), 3)?;
        let (a, b): (Vec<u64>, Vec<i64>) = (a.collect::<Result<_>>()?, b.collect::<Result<_>>()?);
        ensure_eq!(a, (0..30u64).map(|x| x * x).collect::<Vec<_>>());
        ensure_eq!(b, (1..31i64).collect::<Vec<_>>());
        let f = first.submit(&t.square, &9)?;
        ensure_eq!(second.submit(&t.square, &10)?.result()? + f.result()?, 181);
        first.shutdown(true, false)?;
        ensure_err!(first.submit(&t.square, &1), Error::InvalidArgument(_));
        ensure_eq!(second.submit(&t.square, &11)?.result()?, 121); // the other pool goes on
                                                                   // a later pool, with an initializer of its own
        let third = workers.pool(PoolOptions::new().initializer(&t.setup, &(1000, 0))?)?;
        let seen: std::collections::BTreeSet<u64> =
            third.map(&t.setup_seen, vec![(); 4 * workers.workers().max(1)], 1)?.collect::<Result<_>>()?;
        let want: std::collections::BTreeSet<u64> = if world.size() == 1 {
            [1000].into()
        } else {
            (1..world.size() as u64).map(|r| 1000 + r).collect()
        };
        ensure!(seen.is_subset(&want) && !seen.is_empty(), "initializer results {seen:?}, want {want:?}");
        drop(workers); // the workers leave once `second` and `third` are gone too
        ensure_eq!(third.submit(&t.square, &12)?.result()?, 144);
    }
    world.barrier()
}
