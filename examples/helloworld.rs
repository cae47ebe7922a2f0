//! mpi4py.bench helloworld: every rank greets, in rank order.
//!
//! `mpiexec -n 4 target/release/examples/helloworld`

use mpi4rs::prelude::*;

fn main() -> mpi4rs::Result<()> {
    let env = mpi4rs::init()?;
    let world = env.world();
    let (rank, size) = (world.rank(), world.size());
    let name = mpi4rs::processor_name()?;
    // A token passed down the ranks keeps the lines in order.
    let mut token = 0u8;
    if rank > 0 {
        world.recv(&mut token, rank - 1, 0)?;
    }
    println!("Hello, World! I am process {rank} of {size} on {name}.");
    use std::io::Write;
    std::io::stdout().flush().ok();
    if rank + 1 < size {
        world.send(&token, rank + 1, 0)?;
    }
    Ok(())
}
