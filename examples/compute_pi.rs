//! mpi4py's `demo/compute-pi` with dynamic processes: a parent spawns workers (copies of this
//! program), broadcasts the number of intervals `N` to them, and each worker returns its part
//! of the midpoint rule for ∫₀¹ 4/(1+x²) dx = π with a reduce over the intercommunicator.
//!
//! `target/release/examples/compute_pi [workers] [N]` (started alone, or under `mpiexec -n 1`)
//!
//! Where the MPI library or the launcher cannot spawn, it says so and exits with code 2.
use mpi4rs::prelude::*;
use mpi4rs::{dynamic, InterComm, Result};

const WORKER: &str = "--compute-pi-worker";

fn main() -> Result<()> {
    // `--help`/`-h` before MPI starts: usage, exit 0 (tests/examples.rs checks every example).
    if std::env::args().skip(1).any(|a| a == "--help" || a == "-h") {
        println!("mpi4py's `demo/compute-pi` with dynamic processes: a parent spawns workers (copies of this program), broadcasts the number of intervals `N` to them, and each worker returns its part of the midpoint rule for ∫₀¹ 4/(1+x²) dx = π with a reduce over the intercommunicator.\n\nusage: target/release/examples/compute_pi [WORKERS] [N]   (alone, or under mpiexec -n 1: it spawns its workers)");
        std::process::exit(0);
    }
    // Ends every rank if the program fails on one (a plain `Err` from main would leave the
    // others waiting).
    mpi4rs::run(program)
}

fn program(env: &mpi4rs::Environment) -> Result<()> {
    if std::env::args().any(|a| a == WORKER) {
        let parent = dynamic::get_parent()?.expect("started by compute_pi's parent");
        return worker(env.world(), parent);
    }
    let args: Vec<String> = std::env::args().collect();
    let workers: i32 = args.get(1).and_then(|s| s.parse().ok()).unwrap_or(3);
    let mut n: i64 = args.get(2).and_then(|s| s.parse().ok()).unwrap_or(1_000_000);
    let exe = std::env::current_exe().expect("own path");
    let children = match env.self_comm().spawn(exe.to_str().expect("UTF-8 path"), &[WORKER], workers, None, 0)
    {
        Ok(c) => c,
        Err(e) => {
            eprintln!("compute_pi: this MPI cannot spawn processes here: {}", one_line(&e));
            std::process::exit(2);
        }
    };
    let start = mpi4rs::wtime();
    children.bcast(&mut n, mpi4rs::root())?;
    let mut pi = 0.0f64;
    children.reduce(&0.0f64, Some(&mut pi), &Op::SUM, mpi4rs::root())?;
    let elapsed = mpi4rs::wtime() - start;
    children.disconnect()?;
    let error = (pi - std::f64::consts::PI).abs();
    println!("pi is approximately {pi:.16}, error is {error:.16}");
    println!(
        "{workers} workers, N = {n}: {:.3} ms, check: {}",
        elapsed * 1e3,
        if error < 1e-9 { "ok" } else { "WRONG" }
    );
    Ok(())
}

/// A worker: receives N, sums its share of the midpoints, reduces to the parent.
fn worker(world: &mpi4rs::Comm, parent: InterComm) -> Result<()> {
    let mut n = 0i64;
    parent.bcast(&mut n, 0)?;
    let (rank, size) = (world.rank() as i64, world.size() as i64);
    let h = 1.0 / n as f64;
    let part: f64 =
        (rank..n).step_by(size as usize).map(|i| 4.0 / (1.0 + (h * (i as f64 + 0.5)).powi(2))).sum();
    parent.reduce(&(part * h), None::<&mut f64>, &Op::SUM, 0)?;
    parent.disconnect()
}

/// An error's text on one line (MPICH's error stacks span several).
fn one_line(e: &mpi4rs::Error) -> String {
    e.to_string().lines().map(str::trim).filter(|l| !l.is_empty()).collect::<Vec<_>>().join(" / ")
}
