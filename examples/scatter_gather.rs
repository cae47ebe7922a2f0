//! mpi4py tutorial, "Scattering NumPy arrays" and "Gathering NumPy arrays": the root scatters
//! row *i* (filled with *i*) to rank *i*, then gathers a row of each rank's rank number.
//!
//! `mpiexec -n 4 target/release/examples/scatter_gather`
use mpi4rs::prelude::*;
use mpi4rs::{Error, Result};

fn main() -> Result<()> {
    // `--help`/`-h` before MPI starts: usage, exit 0 (tests/examples.rs checks every example).
    if std::env::args().skip(1).any(|a| a == "--help" || a == "-h") {
        println!("mpi4py tutorial, \"Scattering NumPy arrays\" and \"Gathering NumPy arrays\": the root scatters row *i* (filled with *i*) to rank *i*, then gathers a row of each rank's rank number.\n\nusage: mpiexec -n 4 target/release/examples/scatter_gather");
        std::process::exit(0);
    }
    // Ends every rank if the program fails on one (a plain `Err` from main would leave the
    // others waiting).
    mpi4rs::run(program)
}

fn program(env: &mpi4rs::Environment) -> Result<()> {
    let world = env.world();
    let (rank, size) = (world.rank(), world.size() as usize);
    let fail = |what: String| Error::InvalidArgument(format!("rank {rank}: {what}"));

    // Scatter: a size x 100 matrix whose row i holds i.
    let sendbuf: Vec<i32> = (0..size * 100).map(|k| (k / 100) as i32).collect();
    let mut recvbuf = vec![0i32; 100];
    world.scatter(if rank == 0 { Some(&sendbuf[..]) } else { None }, &mut recvbuf, 0)?;
    if recvbuf.iter().any(|&x| x != rank) {
        return Err(fail(format!("scatter gave {:?}…", &recvbuf[..4])));
    }

    // Gather: every rank sends 100 copies of its rank; the root gets a size x 100 matrix.
    let sendbuf = vec![rank; 100];
    let mut recvbuf = vec![0i32; size * 100];
    world.gather(&sendbuf, if rank == 0 { Some(&mut recvbuf[..]) } else { None }, 0)?;
    if rank == 0 {
        for (i, row) in recvbuf.chunks(100).enumerate() {
            if row.iter().any(|&x| x != i as i32) {
                return Err(fail(format!("gather: row {i} is {:?}…", &row[..4])));
            }
        }
        println!("scatter and gather of {size} rows of 100: ok");
    }
    Ok(())
}
