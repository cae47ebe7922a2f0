//! mpi4py tutorial, "Broadcasting a NumPy array": rank 0 fills 100 integers, every rank
//! receives them.
//!
//! `mpiexec -n 4 target/release/examples/bcast_array`
use mpi4rs::prelude::*;

fn main() -> mpi4rs::Result<()> {
    // `--help`/`-h` before MPI starts: usage, exit 0 (tests/examples.rs checks every example).
    if std::env::args().skip(1).any(|a| a == "--help" || a == "-h") {
        println!("mpi4py tutorial, \"Broadcasting a NumPy array\": rank 0 fills 100 integers, every rank receives them.\n\nusage: mpiexec -n 4 target/release/examples/bcast_array");
        std::process::exit(0);
    }
    // Ends every rank if the program fails on one (a plain `Err` from main would leave the
    // others waiting).
    mpi4rs::run(program)
}

fn program(env: &mpi4rs::Environment) -> mpi4rs::Result<()> {
    let world = env.world();
    let mut data = if world.rank() == 0 { (0..100).collect() } else { vec![0i32; 100] };
    world.bcast(&mut data, 0)?;
    for (i, &x) in data.iter().enumerate() {
        if x != i as i32 {
            return Err(mpi4rs::Error::InvalidArgument(format!("rank {}: data[{i}] = {x}", world.rank())));
        }
    }
    println!("rank {}: received 0..100 from rank 0", world.rank());
    Ok(())
}
