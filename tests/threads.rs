//! Threads and the end of MPI: handles shared with `MultiThreaded` reach only scoped threads
//! (which end before the environment can finalise MPI), the library's own threads (a pool's
//! progress thread) are stopped and joined before `MPI_Finalize` when the environment is
//! dropped first, and a thread that is not scoped and calls MPI without a handle (making and
//! freeing datatypes or info objects) while the environment is dropped is waited for, then
//! refused. All need `THREAD_MULTIPLE` (`MPI4RS_RC_THREAD_LEVEL=multiple`) and are skipped
//! where MPI does not provide it.
mod common;

use common::{describe, Suite};
use mpi4rs::futures::{Pool, PoolOptions, Registry, SharedWorkers};
use mpi4rs::prelude::*;
use mpi4rs::{Datatype, Environment, Error, Info, MultiThreaded, Result, ThreadLevel, UserOp};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Duration;

const MULTIPLE: (&str, &str) = ("MPI4RS_RC_THREAD_LEVEL", "multiple");

/// Set by the `…_at_finalize` checks (to `thread`, `no-thread` or `shared`): the test binary
/// is then a program whose master drops its environment while a pool lives.
const POOL_OUTLIVES: &str = "MPI4RS_TEST_POOL_OUTLIVES_ENVIRONMENT";
const POOL_OUTLIVES_OK: &str = "MARKER: the pool let its workers go before MPI_Finalize";
const NAP_MS: u64 = 300;
/// Set by `spawning_thread_joined_before_finalize`: the master drops its environment while
/// `bootup_nowait`'s thread spawns the workers.
const POOL_BOOTING: &str = "MPI4RS_TEST_POOL_BOOTING_AT_FINALIZE";
const POOL_BOOTING_OK: &str = "MARKER: the spawning thread ended before MPI_Finalize";
/// Set by the `unscoped_thread_…` checks (to `datatype` or `info`: a thread from
/// `std::thread::spawn` makes and frees that handle in a loop while the main thread drops the
/// environment; `op`: such a thread is inside `MPI_Reduce_local` then).
const UNSCOPED: &str = "MPI4RS_TEST_UNSCOPED_THREAD_AT_FINALIZE";
const UNSCOPED_OK: &str = "MARKER: the unscoped thread was refused after MPI_Finalize";
/// Jobs per variant: the race is timing-dependent.
const UNSCOPED_RUNS: usize = 3;

fn main() {
    // A worker that `pool_booting_at_finalize` spawned: serve until let go.
    if std::env::args().any(|a| a == mpi4rs::futures::WORKER_ARG) {
        let env = mpi4rs::init().expect("init");
        mpi4rs::futures::run_worker(&Registry::new()).expect("worker");
        drop(env);
        return;
    }
    if let Ok(variant) = std::env::var(POOL_OUTLIVES) {
        pool_outlives_environment(&variant);
        return;
    }
    if std::env::var_os(POOL_BOOTING).is_some() {
        pool_booting_at_finalize();
        return;
    }
    if let Ok(variant) = std::env::var(UNSCOPED) {
        if variant == "op" {
            unscoped_thread_in_mpi_at_finalize();
        } else {
            unscoped_thread_at_finalize(&variant);
        }
        return;
    }
    Suite::new("threads")
        .nps(&[]) // every case needs its own settings: the checks start the jobs
        .hidden("scoped_multithreaded", scoped_multithreaded)
        .check("scoped_threads_share_handles_np2", |s| {
            let out = s.job(2, Some("scoped_multithreaded"), &[MULTIPLE]);
            skipped(&out)?;
            if !out.success() || !out.stdout.contains("MARKER: scoped threads ok") {
                return Err(describe(&out));
            }
            Ok(())
        })
        .check("pool_thread_stopped_before_finalize_np2", |s| {
            outlived(s, 2, &[MULTIPLE, (POOL_OUTLIVES, "thread")])
        })
        .check("pool_without_thread_lets_workers_go_at_finalize_np2", |s| {
            outlived(s, 2, &[(POOL_OUTLIVES, "no-thread")])
        })
        .check("shared_workers_let_go_at_finalize_np3", |s| outlived(s, 3, &[(POOL_OUTLIVES, "shared")]))
        .check("spawning_thread_joined_before_finalize_np1", |s| {
            let out = s.job_within(1, None, &[MULTIPLE, (POOL_BOOTING, "1")], Duration::from_secs(60));
            skipped(&out)?;
            if !out.success() || !out.stdout.contains(POOL_BOOTING_OK) {
                return Err(describe(&out));
            }
            Ok(())
        })
        .check("unscoped_thread_at_finalize_datatype_np2", |s| unscoped(s, "datatype"))
        .check("unscoped_thread_at_finalize_info_np2", |s| unscoped(s, "info"))
        .check("unscoped_thread_in_mpi_at_finalize_np2", |s| unscoped(s, "op"))
        .run();
}

/// Runs `unscoped_thread_at_finalize(variant)` at np=2, [`UNSCOPED_RUNS`] times.
fn unscoped(suite: &Suite, variant: &str) -> std::result::Result<(), String> {
    for run in 0..UNSCOPED_RUNS {
        let out = suite.job_within(2, None, &[MULTIPLE, (UNSCOPED, variant)], Duration::from_secs(60));
        skipped(&out)?;
        if !out.success() || out.stdout.matches(UNSCOPED_OK).count() != 2 {
            return Err(format!("run {run}: {}", describe(&out)));
        }
    }
    Ok(())
}

/// Runs `pool_outlives_environment` at `np` ranks.
fn outlived(suite: &Suite, np: usize, env: &[(&str, &str)]) -> std::result::Result<(), String> {
    let out = suite.job_within(np, None, env, Duration::from_secs(60));
    skipped(&out)?;
    if !out.success() || !out.stdout.contains(POOL_OUTLIVES_OK) {
        return Err(describe(&out));
    }
    Ok(())
}

/// `Err(skipped: …)` when the job said MPI lacks `THREAD_MULTIPLE`.
fn skipped(out: &mpi4rs::launcher::JobOutput) -> std::result::Result<(), String> {
    match out.stdout.lines().find(|l| l.starts_with(common::spawn::UNSUPPORTED)) {
        Some(line) => Err(format!("{}{}", common::SKIPPED, &line[common::spawn::UNSUPPORTED.len()..])),
        None => Ok(()),
    }
}

/// The names of this process's threads (Linux).
fn thread_names() -> Vec<String> {
    let Ok(tasks) = std::fs::read_dir("/proc/self/task") else { return Vec::new() };
    tasks
        .filter_map(|t| std::fs::read_to_string(t.ok()?.path().join("comm")).ok())
        .map(|name| name.trim().to_string())
        .collect()
}

/// Says `skipped:` (through the launcher) that MPI did not provide `THREAD_MULTIPLE`.
fn say_not_multiple(env: &Environment) {
    common::spawn::say_unsupported(
        env,
        format!("MPI provided {:?}, not THREAD_MULTIPLE", env.thread_level()),
    );
}

/// Initialises MPI for a job that needs `THREAD_MULTIPLE`; `None` (after saying so) where MPI
/// provides less.
fn init_multiple() -> Option<Environment> {
    let env = mpi4rs::init().expect("init");
    if env.thread_level() < ThreadLevel::Multiple {
        say_not_multiple(&env);
        return None;
    }
    Some(env)
}

/// Scoped threads use a moved `MultiThreaded` communicator and a shared `COMM_WORLD` at once;
/// the environment outlives them by construction (dropping it inside the scope does not
/// compile: see the doc tests of `mpi4rs::thread`). Adopting, `get_parent` and `Pool::spawn`
/// from another thread, and `MultiThreaded` from an adopted environment, are refused while
/// `init`'s one lives.
fn scoped_multithreaded(env: &Environment) -> Result<()> {
    if env.thread_level() < ThreadLevel::Multiple {
        ensure_err!(env.world_mt(), Error::WrongThread { .. });
        say_not_multiple(env);
        return Ok(());
    }
    let world = env.world_mt()?;
    let (rank, size) = (world.rank(), world.size());
    let own = MultiThreaded::new(env, world.dup()?)?;
    // A forgotten handle is harmless: it is never used again, and its borrow has ended.
    std::mem::forget(MultiThreaded::new(env, world.dup()?)?);
    let results: Vec<Result<()>> = std::thread::scope(|s| {
        let mut handles = Vec::new();
        handles.push(s.spawn(move || -> Result<()> {
            for round in 0..20 {
                let mut sum = 0i32;
                own.allreduce(&round, &mut sum, &Op::SUM)?;
                ensure_eq!(sum, round * size);
            }
            drop(own.into_inner()); // freed on this thread, before the scope ends
            Ok(())
        }));
        for t in 0..3 {
            handles.push(s.spawn(move || -> Result<()> {
                for _ in 0..20 {
                    let mut got = -1i32;
                    let (next, prev) = ((rank + 1) % size, (rank + size - 1) % size);
                    world.sendrecv(&(rank * 10 + t), next, t, &mut got, prev, t)?;
                    ensure_eq!(got, prev * 10 + t);
                }
                Ok(())
            }));
        }
        handles.push(s.spawn(|| -> Result<()> {
            // The environment that finalises MPI lives on the main thread: adopting it here
            // would give handles that could outlive it.
            ensure_err!(mpi4rs::adopt(), Error::InvalidArgument(_));
            // Nor may it make communicators out of nothing.
            ensure_err!(mpi4rs::dynamic::get_parent(), Error::InvalidArgument(_));
            ensure_err!(Pool::spawn(&Registry::new(), Some(1)), Error::InvalidArgument(_));
            Ok(())
        }));
        handles
            .into_iter()
            .map(|h| h.join().unwrap_or_else(|_| Err(Error::InvalidArgument("a thread panicked".into()))))
            .collect()
    });
    for r in results {
        r?;
    }
    {
        // On the main thread adoption works, but an adopted environment does not keep MPI
        // initialised, so it cannot vouch for a MultiThreaded handle.
        let adopted = mpi4rs::adopt()?;
        ensure_err!(adopted.world_mt(), Error::InvalidArgument(_));
        ensure_err!(MultiThreaded::new(&adopted, adopted.world().dup()?), Error::InvalidArgument(_));
    }
    world.barrier()?;
    if rank == 0 {
        println!("MARKER: scoped threads ok");
    }
    Ok(())
}

/// Rank 0 submits work to a pool split from `COMM_WORLD` (`variant`: with a progress thread,
/// without one, or from `SharedWorkers`), then drops the environment while the pool lives.
/// Dropping it stops and joins the progress thread, collects the work out, cancels the queued
/// work and lets the workers go, before `MPI_Finalize`: the thread is gone once `drop`
/// returns, the workers finalise too, and the job ends. (Before this was guarded, the thread
/// went on calling MPI while and after the master finalised, and the workers waited forever.)
fn pool_outlives_environment(variant: &str) {
    let env = mpi4rs::init().expect("init");
    let mut registry = Registry::new();
    let nap = registry
        .register("nap", |ms: u64| {
            std::thread::sleep(Duration::from_millis(ms));
            ms
        })
        .expect("register");
    let threaded = variant == "thread";
    if threaded && env.thread_level() < ThreadLevel::Multiple {
        say_not_multiple(&env);
        return;
    }
    let options = PoolOptions::new().progress_thread(threaded);
    let (workers, pool) = if variant == "shared" {
        let Some(workers) = SharedWorkers::split(env.world(), 0, &registry).expect("split") else {
            drop(env); // a worker: the master let it go
            return;
        };
        let pool = workers.pool(options).expect("pool");
        (Some(workers), pool)
    } else {
        let Some(pool) = Pool::split_with(env.world(), 0, &registry, options).expect("split") else {
            drop(env);
            return;
        };
        (None, pool)
    };
    assert_eq!(pool.has_progress_thread(), threaded);
    let futures: Vec<_> = (0..4).map(|_| pool.submit(&nap, &NAP_MS).expect("submit")).collect();
    if threaded {
        // A new thread names itself once it runs.
        let started = std::time::Instant::now();
        while !thread_names().iter().any(|n| n == "mpi4rs-pool") {
            assert!(
                started.elapsed() < Duration::from_secs(10),
                "no progress thread among {:?}",
                thread_names()
            );
            std::thread::sleep(Duration::from_millis(1));
        }
    }
    drop(env); // MPI_Finalize: the progress thread must have ended first, the workers let go
    let after = thread_names();
    assert!(!after.iter().any(|n| n == "mpi4rs-pool"), "the progress thread outlived finalize: {after:?}");
    assert!(!pool.has_progress_thread());
    let (mut done, mut cancelled) = (0, 0);
    for f in futures {
        // Collected before finalising, or dropped from the queue.
        match f.result() {
            Ok(ms) => {
                assert_eq!(ms, NAP_MS);
                done += 1;
            }
            Err(Error::Cancelled) => cancelled += 1,
            Err(e) => panic!("a future after finalize: {e}"),
        }
    }
    assert!(done >= 1 && cancelled >= 1, "{done} done, {cancelled} cancelled");
    assert!(pool.submit(&nap, &1).is_err());
    drop((pool, workers)); // MPI is finalised: nothing left to do
    println!("{POOL_OUTLIVES_OK}");
}

/// The master drops its environment while `bootup_nowait`'s thread spawns a worker: dropping
/// it waits for the spawn, lets the new worker go and joins the thread before `MPI_Finalize`,
/// so the job ends (the worker finalises too) and the pool reports MPI finalised.
fn pool_booting_at_finalize() {
    let Some(env) = init_multiple() else { return };
    // MPICH's ch4:ucx cannot spawn; a port (which a spawn opens) says why.
    if let Err(e) = mpi4rs::dynamic::open_port(None) {
        if common::spawn::unsupported(&env, &e) {
            return;
        }
    }
    let pool = Pool::spawn(&Registry::new(), Some(1)).expect("pool");
    pool.bootup_nowait().expect("bootup_nowait");
    drop(env);
    let after = thread_names();
    // Linux keeps 15 bytes of a thread's name.
    assert!(
        !after.iter().any(|n| n.starts_with("mpi4rs-pool")),
        "a pool thread outlived finalize: {after:?}"
    );
    assert!(matches!(pool.bootup(), Err(Error::NotInitialized)), "{:?}", pool.bootup());
    drop(pool);
    println!("{POOL_BOOTING_OK}");
}

/// A thread from `std::thread::spawn` (it borrows nothing, so it may outlive the environment)
/// makes and frees a datatype or an info object in a loop, a call in flight at almost every
/// moment, while the main thread drops the environment. `MPI_Finalize` waits for the call in
/// flight, and every later one is refused with `NotInitialized`, also freeing the handle the
/// thread still holds (it is left to MPI): the thread ends with that error, and the job ends
/// cleanly. (Before calls in flight were counted, such a call could pass the check just before
/// `MPI_Finalize` and run during or after it.)
fn unscoped_thread_at_finalize(variant: &str) {
    let Some(env) = init_multiple() else { return };
    let calls = Arc::new(AtomicU64::new(0));
    let counted = Arc::clone(&calls);
    let info = variant == "info";
    let thread = std::thread::spawn(move || -> Result<u64> {
        let base = Datatype::of::<f64>()?;
        // Held across the end of MPI: dropped (and left to MPI) once the calls are refused.
        let mut kept = (Datatype::contiguous(2, &base)?, Info::new()?);
        loop {
            let made = if info {
                Info::from_pairs([("key", "value")]).map(|i| kept.1 = i)
            } else {
                Datatype::contiguous(4, &base).map(|t| kept.0 = t)
            };
            match made {
                Ok(()) => {
                    counted.fetch_add(1, Ordering::SeqCst);
                }
                Err(Error::NotInitialized) => break,
                Err(e) => return Err(e),
            }
        }
        drop(kept);
        // Every call from now on is refused, without calling MPI.
        ensure_err!(Datatype::contiguous(4, &base), Error::NotInitialized);
        ensure_err!(Info::new(), Error::NotInitialized);
        Ok(counted.load(Ordering::SeqCst))
    });
    while calls.load(Ordering::SeqCst) < 100 {
        if thread.is_finished() {
            panic!("the thread ended early: {:?}", thread.join());
        }
        std::thread::yield_now();
    }
    env.world().barrier().expect("barrier");
    drop(env); // MPI_Finalize, with the thread calling MPI as fast as it can
    let made = thread.join().expect("the thread panicked").expect("the thread failed");
    assert!(made >= 100, "{made} handles made");
    println!("{UNSCOPED_OK} ({made} handles made)");
}

/// Set while the user operation of [`unscoped_thread_in_mpi_at_finalize`] runs inside MPI.
static IN_CALLBACK: std::sync::atomic::AtomicBool = std::sync::atomic::AtomicBool::new(false);
/// Set when it returns.
static CALLBACK_DONE: std::sync::atomic::AtomicBool = std::sync::atomic::AtomicBool::new(false);

/// A thread from `std::thread::spawn` is inside `MPI_Reduce_local` (a handle-free call: its
/// user operation sleeps `NAP_MS`) when the main thread drops the environment: dropping it
/// waits for that call to return before `MPI_Finalize`, and the thread's next call is refused.
/// (Unguarded, `MPI_Finalize` ran while the thread was still inside MPI.)
fn unscoped_thread_in_mpi_at_finalize() {
    let Some(env) = init_multiple() else { return };
    let thread = std::thread::spawn(|| -> Result<()> {
        let slow = UserOp::new(true, |input: &[f64], inout: &mut [f64]| {
            IN_CALLBACK.store(true, Ordering::SeqCst);
            std::thread::sleep(Duration::from_millis(NAP_MS));
            for (y, x) in inout.iter_mut().zip(input) {
                *y += x;
            }
            CALLBACK_DONE.store(true, Ordering::SeqCst);
        })?;
        let mut acc = [2.0f64];
        slow.reduce_local(&[1.0f64], &mut acc)?;
        ensure_eq!(acc[0], 3.0);
        ensure_err!(slow.reduce_local(&[1.0f64], &mut acc), Error::NotInitialized);
        Ok(())
    });
    while !IN_CALLBACK.load(Ordering::SeqCst) {
        if thread.is_finished() {
            panic!("the thread ended early: {:?}", thread.join());
        }
        std::thread::yield_now();
    }
    let started = std::time::Instant::now();
    drop(env); // MPI_Finalize, once the call in flight has returned
    assert!(CALLBACK_DONE.load(Ordering::SeqCst), "MPI was finalised under a call in flight");
    assert!(started.elapsed() >= Duration::from_millis(NAP_MS / 2), "{:?}", started.elapsed());
    thread.join().expect("the thread panicked").expect("the thread failed");
    println!("{UNSCOPED_OK} (the call in flight ended first)");
}
