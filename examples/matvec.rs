//! mpi4py tutorial, "Parallel matrix-vector product": each rank holds `m` rows of `A` and `m`
//! entries of `x`; `allgather` assembles the whole `x`, then each rank computes its rows of
//! `y = A x`. The result is checked against the serial product.
//!
//! `mpiexec -n 4 target/release/examples/matvec [m]`
use mpi4rs::prelude::*;
use mpi4rs::{Comm, Error, Result};

/// `y = A x` for the local rows `a` (m x m·p, row-major) and the local piece `x` (m).
fn matvec(comm: &Comm, a: &[f64], x: &[f64]) -> Result<Vec<f64>> {
    let m = x.len();
    let p = comm.size() as usize;
    let mut xg = vec![0.0; m * p];
    comm.allgather(x, &mut xg)?;
    Ok(a.chunks(m * p).map(|row| row.iter().zip(&xg).map(|(a, x)| a * x).sum()).collect())
}

fn main() -> Result<()> {
    // `--help`/`-h` before MPI starts: usage, exit 0 (tests/examples.rs checks every example).
    if std::env::args().skip(1).any(|a| a == "--help" || a == "-h") {
        println!("mpi4py tutorial, \"Parallel matrix-vector product\": each rank holds `m` rows of `A` and `m` entries of `x`; `allgather` assembles the whole `x`, then each rank computes its rows of `y = A x`. The result is checked against the serial product.\n\nusage: mpiexec -n 4 target/release/examples/matvec [m]");
        std::process::exit(0);
    }
    // Ends every rank if the program fails on one (a plain `Err` from main would leave the
    // others waiting).
    mpi4rs::run(program)
}

fn program(env: &mpi4rs::Environment) -> Result<()> {
    let world = env.world();
    let (rank, p) = (world.rank() as usize, world.size() as usize);
    let m: usize = std::env::args().nth(1).and_then(|s| s.parse().ok()).unwrap_or(64);
    let n = m * p;
    // A[i][j] = i + 2j (global indices), x[j] = 1 / (j + 1).
    let entry = |i: usize, j: usize| (i + 2 * j) as f64;
    let a: Vec<f64> = (rank * m..(rank + 1) * m).flat_map(|i| (0..n).map(move |j| entry(i, j))).collect();
    let x: Vec<f64> = (rank * m..(rank + 1) * m).map(|j| 1.0 / (j + 1) as f64).collect();
    let y = matvec(world, &a, &x)?;
    for (k, &yi) in y.iter().enumerate() {
        let i = rank * m + k;
        let want: f64 = (0..n).map(|j| entry(i, j) / (j + 1) as f64).sum();
        if (yi - want).abs() > 1e-9 * want.abs().max(1.0) {
            return Err(Error::InvalidArgument(format!("rank {rank}: y[{i}] = {yi}, expected {want}")));
        }
    }
    let mut norm2 = 0.0f64;
    world.allreduce(&y.iter().map(|v| v * v).sum::<f64>(), &mut norm2, &Op::SUM)?;
    if rank == 0 {
        println!("y = A x for n = {n} on {p} ranks: ok, |y| = {:.6e}", norm2.sqrt());
    }
    Ok(())
}
