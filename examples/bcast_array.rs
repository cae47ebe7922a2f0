//! mpi4py tutorial, "Broadcasting a NumPy array": rank 0 fills 100 integers, every rank
//! receives them.
//!
//! `mpiexec -n 4 target/release/examples/bcast_array`
use mpi4rs::prelude::*;

fn main() -> mpi4rs::Result<()> {
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
