//! mpi4py.bench helloworld: every rank greets, in rank order.
//!
//! `mpiexec -n 4 target/release/examples/helloworld [-q]`
//!
//! As in mpi4py, the rank is padded to the width of the largest rank, and an empty message
//! passed from rank to rank keeps the lines in order.

use mpi4rs::prelude::*;
use std::io::Write;

fn main() -> Result<(), Box<dyn std::error::Error>> {
    // `--help`/`-h` before MPI starts: usage, exit 0 (tests/examples.rs checks every example).
    if std::env::args().skip(1).any(|a| a == "--help" || a == "-h") {
        println!("mpi4py.bench helloworld: every rank greets, in rank order.\n\nusage: mpiexec -n 4 target/release/examples/helloworld [-q]");
        std::process::exit(0);
    }
    let mut verbose = true;
    for a in std::env::args().skip(1) {
        match a.as_str() {
            "-q" | "--quiet" => verbose = false,
            _ => {
                eprintln!("unknown option {a}; usage: helloworld [-q]");
                std::process::exit(2);
            }
        }
    }
    // Ends every rank if the program fails on one.
    Ok(mpi4rs::run(|env| program(env, verbose))?)
}

fn program(env: &mpi4rs::Environment, verbose: bool) -> Result<(), Box<dyn std::error::Error>> {
    let world = env.world();
    let (rank, size) = (world.rank(), world.size());
    let name = mpi4rs::processor_name()?;
    let width = (size - 1).to_string().len();
    let message = format!("Hello, World! I am process {rank:width$} of {size} on {name}.");
    let token: [u8; 0] = [];
    world.barrier()?;
    if rank > 0 {
        world.recv(&mut [0u8; 0][..], rank - 1, 0)?;
    }
    if verbose {
        let mut out = std::io::stdout().lock();
        writeln!(out, "{message}")?;
        out.flush()?;
    }
    if rank < size - 1 {
        world.send(&token[..], rank + 1, 0)?;
    }
    world.barrier()?;
    Ok(())
}
