//! mpi4py tutorial, "One-sided communication": reading and writing a whole RMA window, and
//! reading part of one with a target triple `(offset, count, datatype)`.
//!
//! `mpiexec -n 4 target/release/examples/rma_tutorial`
use mpi4rs::prelude::*;
use mpi4rs::win::{Assert, LockType, Target, Win};
use mpi4rs::{Datatype, Error};

fn main() -> mpi4rs::Result<()> {
    // `--help`/`-h` before MPI starts: usage, exit 0 (tests/examples.rs checks every example).
    if std::env::args().skip(1).any(|a| a == "--help" || a == "-h") {
        println!("mpi4py tutorial, \"One-sided communication\": reading and writing a whole RMA window, and reading part of one with a target triple `(offset, count, datatype)`.\n\nusage: mpiexec -n 4 target/release/examples/rma_tutorial");
        std::process::exit(0);
    }
    // Ends every rank if the program fails on one (a plain `Err` from main would leave the
    // others waiting).
    mpi4rs::run(program)
}

fn program(env: &mpi4rs::Environment) -> mpi4rs::Result<()> {
    let world = env.world();
    let rank = world.rank();

    // Read from (and write to) the entire window: rank 0 exposes 10 floats and puts 42s
    // into them; every other rank then gets the whole window.
    const N: usize = 10;
    let win = Win::allocate(if rank == 0 { N * 4 } else { 0 }, 4, &[], world)?;
    let mut buf = [0.0f32; N];
    // Epochs live in a scope: their buffers are borrowed until it ends, and it ends any epoch
    // still open.
    if rank == 0 {
        let fill = [42.0f32; N];
        mpi4rs::scope(|s| {
            let epoch = win.lock(s, 0, LockType::Exclusive, Assert::NONE)?;
            epoch.put(&fill, 0, 0)?;
            epoch.end()
        })?;
        world.barrier()?;
    } else {
        world.barrier()?;
        mpi4rs::scope(|s| {
            let epoch = win.lock(s, 0, LockType::Shared, Assert::NONE)?;
            epoch.get(&mut buf, 0, 0)?;
            epoch.end()
        })?;
        if buf != [42.0; N] {
            return Err(Error::InvalidArgument(format!("rank {rank}: whole window {buf:?}")));
        }
    }
    println!("rank {rank}: whole window ok");
    drop(win);

    // Read part of the window: rank 0 exposes size + 1 floats 0, 1, 2, …; rank r reads two of
    // them starting at element r, as mpi4py's `target=(rank, 2, MPI.FLOAT)`.
    let n = world.size() as usize + 1;
    let win = Win::allocate(if rank == 0 { n * 4 } else { 0 }, 4, &[], world)?;
    if rank == 0 {
        let mut mem = win.local_access()?;
        for (i, x) in mem.as_mut_slice::<f32>()?.iter_mut().enumerate() {
            *x = i as f32;
        }
    }
    world.barrier()?;
    let float = Datatype::of::<f32>()?;
    let mut part = [0.0f32; 2];
    mpi4rs::scope(|s| {
        let epoch = win.lock(s, 0, LockType::Shared, Assert::NONE)?;
        epoch.get(&mut part, 0, Target::new(rank as usize, 2, &float))?;
        epoch.end()
    })?;
    if part != [rank as f32, rank as f32 + 1.0] {
        return Err(Error::InvalidArgument(format!("rank {rank}: part of the window {part:?}")));
    }
    println!("rank {rank}: target ({rank}, 2, FLOAT) read {part:?} ok");
    Ok(())
}
