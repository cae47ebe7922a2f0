//! Task throughput of the pool executor for an empty task, against a plain loop of the same
//! calls and against raw MPI round trips in the same dispatch pattern (one 8-byte message out
//! and one back per task, one task in flight per worker: the floor for one message per task).
//!
//! `mpiexec -n W+1 target/release/examples/pool_throughput [-n TASKS]`: rank 0 is the master,
//! the other W ranks are workers (`Pool::split`). At one rank the tasks run in the master.
//! `mpiexec -n 1 target/release/examples/pool_throughput --spawn W [-n TASKS]`: W spawned
//! workers (`Pool::spawn`) instead. `MPI4RS_RC_THREAD_LEVEL=multiple` runs the pool with its
//! progress thread. `benches/mpi4py/pool_compare.sh` runs this against mpi4py.futures.
use mpi4rs::futures::{run_worker, Pool, Registry};
use mpi4rs::prelude::*;
use mpi4rs::{Comm, Result};
use std::hint::black_box;

const PING: i32 = 5;

/// The task: nothing.
fn empty_task(_: ()) {}

/// The raw floor: the master keeps one 8-byte message in flight per worker; workers echo.
fn raw_round_trips(world: &Comm, tasks: u64) -> Result<f64> {
    let workers = world.size() - 1;
    world.barrier()?;
    let start = mpi4rs::wtime();
    if workers == 0 {
        return Ok(0.0);
    }
    if world.rank() == 0 {
        let mut sent = 0u64;
        for w in 1..=workers {
            if sent < tasks {
                world.send(&sent, w, PING)?;
                sent += 1;
            }
        }
        let mut got = 0u64;
        let mut v = 0u64;
        while got < tasks {
            let status = world.recv(&mut v, any_source(), PING)?;
            got += 1;
            if sent < tasks {
                world.send(&sent, status.source(), PING)?;
                sent += 1;
            }
        }
        for w in 1..=workers {
            world.send(&u64::MAX, w, PING)?;
        }
    } else {
        let mut v = 0u64;
        loop {
            world.recv(&mut v, 0, PING)?;
            if v == u64::MAX {
                break;
            }
            world.send(&v, 0, PING)?;
        }
    }
    Ok(mpi4rs::wtime() - start)
}

fn main() -> Result<()> {
    // `--help`/`-h` before MPI starts: usage, exit 0 (tests/examples.rs checks every example).
    if std::env::args().skip(1).any(|a| a == "--help" || a == "-h") {
        println!("Task throughput of the pool executor for an empty task, against a plain loop of the same calls and against raw MPI round trips in the same dispatch pattern (one 8-byte message out and one back per task, one task in flight per worker: the floor for one message per task).\n\nusage: mpiexec -n W+1 target/release/examples/pool_throughput [-n TASKS]\n       mpiexec -n 1 target/release/examples/pool_throughput --spawn W [-n TASKS]");
        std::process::exit(0);
    }
    // Ends every rank if the program fails on one (a plain `Err` from main would leave the
    // others waiting).
    mpi4rs::run(program)
}

fn program(env: &mpi4rs::Environment) -> Result<()> {
    let world = env.world();
    let args: Vec<String> = std::env::args().collect();
    let tasks: u64 = args
        .iter()
        .position(|a| a == "-n")
        .and_then(|i| args.get(i + 1))
        .and_then(|s| s.parse().ok())
        .unwrap_or(20_000);
    let spawn: Option<usize> =
        args.iter().position(|a| a == "--spawn").and_then(|i| args.get(i + 1)).and_then(|s| s.parse().ok());
    let mut registry = Registry::new();
    let empty = registry.register("empty", empty_task)?;
    if run_worker(&registry)? {
        return Ok(()); // a spawned worker
    }

    let (raw, pool) = match spawn {
        Some(n) => {
            let pool = Pool::spawn(&registry, Some(n))?;
            pool.bootup()?;
            (0.0, pool)
        }
        None => {
            let raw = raw_round_trips(world, tasks)?;
            let Some(pool) = Pool::split(world, 0, &registry)? else { return Ok(()) };
            (raw, pool)
        }
    };
    let workers = pool.workers();
    let progress_thread = pool.has_progress_thread();

    // The same calls in a plain loop.
    let start = mpi4rs::wtime();
    let call = black_box(empty_task as fn(()));
    for _ in 0..tasks {
        call(());
    }
    let plain = mpi4rs::wtime() - start;

    // Warm up the pool (first messages, allocations).
    pool.map(&empty, vec![(); 100], 1)?.collect::<Result<Vec<()>>>()?;
    let start = mpi4rs::wtime();
    let futures: Vec<_> = (0..tasks).map(|_| pool.submit(&empty, &())).collect::<Result<_>>()?;
    for f in futures {
        f.result()?;
    }
    let submit = mpi4rs::wtime() - start;
    let mut maps = Vec::new();
    for chunk in [1usize, 16, 256] {
        let start = mpi4rs::wtime();
        let n = pool.map(&empty, vec![(); tasks as usize], chunk)?.collect::<Result<Vec<()>>>()?.len();
        assert_eq!(n as u64, tasks);
        maps.push((chunk, mpi4rs::wtime() - start));
    }
    drop(pool);

    let version = mpi4rs::library_version()?;
    println!(
        "# pool throughput: {tasks} empty tasks, {workers} workers ({}), {:?}, progress thread: {} ({})",
        if spawn.is_some() { "spawned" } else { "split" },
        env.thread_level(),
        progress_thread,
        version.lines().next().unwrap_or("")
    );
    println!("# {:<24} {:>12} {:>10} {:>12}", "mode", "tasks/s", "us/task", "vs raw MPI");
    let row = |name: &str, secs: f64| {
        let per = secs / tasks as f64;
        let ratio = if raw > 0.0 { format!("{:.2}", secs / raw) } else { "-".into() };
        println!("{name:<26} {:>12.0} {:>10.3} {:>12}", 1.0 / per, per * 1e6, ratio);
    };
    row("plain loop", plain);
    if raw > 0.0 {
        row("raw MPI round trips", raw);
    }
    row("submit + result", submit);
    for (chunk, secs) in maps {
        row(&format!("map chunksize={chunk}"), secs);
    }
    Ok(())
}
