//! mpi4py tutorial, "Collective I/O with NumPy arrays": every rank writes 10 copies of its rank
//! number, side by side in rank order, with one collective write at an explicit offset. Then
//! the file is read back collectively and checked, and deleted.
//!
//! `mpiexec -n 4 target/release/examples/file_contiguous [PATH]` (default: `datafile.contig` in
//! the temporary directory)
use mpi4rs::prelude::*;
use mpi4rs::{AccessMode, Error, File, Result};

fn main() -> Result<()> {
    // `--help`/`-h` before MPI starts: usage, exit 0 (tests/examples.rs checks every example).
    if std::env::args().skip(1).any(|a| a == "--help" || a == "-h") {
        println!("mpi4py tutorial, \"Collective I/O with NumPy arrays\": every rank writes 10 copies of its rank number, side by side in rank order, with one collective write at an explicit offset. Then the file is read back collectively and checked, and deleted.\n\nusage: mpiexec -n 4 target/release/examples/file_contiguous [PATH]   (default: datafile.contig in the temporary directory)");
        std::process::exit(0);
    }
    // Ends every rank if the program fails on one (a plain `Err` from main would leave the
    // others waiting).
    mpi4rs::run(program)
}

fn program(env: &mpi4rs::Environment) -> Result<()> {
    let world = env.world();
    let (rank, size) = (world.rank(), world.size() as usize);
    let path =
        std::env::args().nth(1).map_or_else(|| std::env::temp_dir().join("datafile.contig"), Into::into);

    let file = File::open(world, &path, AccessMode::WRONLY | AccessMode::CREATE)?;
    file.set_size(0)?; // a file left over from an earlier run must not be longer
    let buffer = [rank; 10];
    let offset = rank as u64 * std::mem::size_of_val(&buffer) as u64;
    file.write_at_all(offset, &buffer)?;
    file.close()?;

    // Check: the whole file, as every rank reads it.
    let file = File::open(world, &path, AccessMode::RDONLY)?;
    let mut all = vec![-1i32; 10 * size];
    file.read_exact_at_all(0, &mut all)?;
    file.close()?;
    if let Some(k) = (0..all.len()).find(|&k| all[k] != (k / 10) as i32) {
        return Err(Error::InvalidArgument(format!("rank {rank}: element {k} is {}", all[k])));
    }
    world.barrier()?;
    if rank == 0 {
        File::delete(&path)?;
        println!("contiguous collective write of {size} x 10 ints: ok");
    }
    Ok(())
}
