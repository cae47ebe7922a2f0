//! mpi4py tutorial, "Non-contiguous Collective I/O with NumPy arrays and datatypes": each of
//! `size` ranks sees every `size`-th int of the file through a vector file type, displaced by
//! its rank, and writes 10 copies of its rank number there collectively, so the file holds
//! 0, 1, …, size-1 repeated 10 times. Then the file is read back and checked, and deleted.
//!
//! `mpiexec -n 4 target/release/examples/file_noncontiguous [PATH]` (default:
//! `datafile.noncontig` in the temporary directory)
use mpi4rs::prelude::*;
use mpi4rs::{AccessMode, Datatype, Error, File, Result};

fn main() -> Result<()> {
    // `--help`/`-h` before MPI starts: usage, exit 0 (tests/examples.rs checks every example).
    if std::env::args().skip(1).any(|a| a == "--help" || a == "-h") {
        println!("mpi4py tutorial, \"Non-contiguous Collective I/O with NumPy arrays and datatypes\": each of `size` ranks sees every `size`-th int of the file through a vector file type, displaced by its rank, and writes 10 copies of its rank number there collectively, so the file holds 0, 1, …, size-1 repeated 10 times. Then the file is read back and checked, and deleted.\n\nusage: mpiexec -n 4 target/release/examples/file_noncontiguous [PATH]   (default: datafile.noncontig in the temporary directory)");
        std::process::exit(0);
    }
    // Ends every rank if the program fails on one (a plain `Err` from main would leave the
    // others waiting).
    mpi4rs::run(program)
}

fn program(env: &mpi4rs::Environment) -> Result<()> {
    let world = env.world();
    let (rank, size) = (world.rank(), world.size());
    let path =
        std::env::args().nth(1).map_or_else(|| std::env::temp_dir().join("datafile.noncontig"), Into::into);

    let item_count = 10;
    let file = File::open(world, &path, AccessMode::WRONLY | AccessMode::CREATE)?;
    file.set_size(0)?;
    let int = Datatype::of::<i32>()?;
    let filetype = Datatype::vector(item_count, 1, size, &int)?;
    let displacement = (int.size() * rank as usize) as u64;
    file.set_view(displacement, &int, &filetype)?;
    file.write_all(&vec![rank; item_count])?;
    file.close()?;

    // Check: the whole file, with the default view (bytes), as every rank reads it.
    let file = File::open(world, &path, AccessMode::RDONLY)?;
    let mut all = vec![-1i32; item_count * size as usize];
    file.read_exact_at_all(0, &mut all)?;
    file.close()?;
    if let Some(k) = (0..all.len()).find(|&k| all[k] != k as i32 % size) {
        return Err(Error::InvalidArgument(format!("rank {rank}: element {k} is {}", all[k])));
    }
    world.barrier()?;
    if rank == 0 {
        File::delete(&path)?;
        println!("non-contiguous collective write of {size} x {item_count} ints: ok");
    }
    Ok(())
}
