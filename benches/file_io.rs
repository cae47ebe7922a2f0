//! Collective file I/O: mpi4rs against the same loop in C (`benches/c/file_io.c`, linked into
//! this bench by build.rs) on the same MPI library, in the same job, at 1, 2 and 4 ranks (4 on a
//! 2-core machine is oversubscribed: the ranks yield when idle there).
//!
//! One iteration: every rank writes SIZE bytes at byte offset `rank * SIZE` of one shared file
//! with `write_at_all`, then reads them back with `read_at_all` (`MPI_File_write_at_all` /
//! `MPI_File_read_at_all` of `MPI_UINT8_T` in C). Both loops use the same open file (in the
//! temporary directory, `TMPDIR`; deleted on close) and the same buffer. The file is small
//! enough to stay in the page cache, so this measures the MPI-IO path (collective buffering,
//! copies, system calls into the cache), not the disk: the figures compare the two bindings,
//! they are not storage bandwidths.
//!
//! `cargo bench --bench file_io [-- FILTER]` starts itself under `mpiexec` once per rank count
//! (`MPI4RS_BENCH_NPS=1,2,4` is the default). Rank 0 runs criterion (groups
//! `file_io-npN/mpi4rs/SIZE` and `file_io-npN/c/SIZE`, time per write + read), then both loops
//! side by side in `MPI4RS_BENCH_ROUNDS` (default 15) alternating pairs of blocks of at least
//! 50 ms, and prints the median of the paired time ratios mpi4rs / C with the middle half of
//! them: the figures to quote. Target: within 10 % of C at every size. `-- none` skips
//! criterion; `MPI4RS_BENCH_ROUNDS=5 cargo bench --bench file_io -- none` is the quick form.

mod common;

use common::{Plan, Variant};
use mpi4rs::ffi::{MPI_File, MPI_Offset};
use mpi4rs::prelude::*;
use mpi4rs::{AccessMode, File};
use std::ffi::c_int;

extern "C" {
    /// `iters` times MPI_File_write_at_all then MPI_File_read_at_all of `count` bytes at
    /// `offset`; returns the elapsed time.
    fn mpi4rs_c_file_io(fh: MPI_File, offset: MPI_Offset, buf: *mut u8, count: c_int, iters: c_int) -> f64;
}

/// Bytes each rank writes and reads per iteration.
const SIZES: [usize; 4] = [4 << 10, 64 << 10, 1 << 20, 16 << 20];

/// `iters` collective writes and reads of `size` bytes with mpi4rs; the elapsed time.
fn rust_loop(file: &File, offset: u64, buf: &mut [u8], size: usize, iters: u64) -> mpi4rs::Result<f64> {
    let buf = &mut buf[..size];
    let t0 = mpi4rs::wtime();
    for _ in 0..iters {
        file.write_at_all(offset, &*buf)?;
        file.read_at_all(offset, buf)?;
    }
    Ok(mpi4rs::wtime() - t0)
}

/// The same with the C loop.
fn c_loop(file: &File, offset: u64, buf: &mut [u8], size: usize, iters: u64) -> f64 {
    assert!(size <= buf.len() && c_int::try_from(size).is_ok());
    common::c_chunks(iters, |chunk| {
        // SAFETY: the buffer holds at least `size` bytes (checked above) and outlives the call;
        // the file is open; the C loop only hands them to MPI.
        unsafe {
            mpi4rs_c_file_io(file.as_raw(), offset as MPI_Offset, buf.as_mut_ptr(), size as c_int, chunk)
        }
    })
}

fn verdict(_size: usize, ratio: f64) -> String {
    let met = if ratio <= 1.10 { "met" } else { "MISSED" };
    format!("target <= 1.10: {met}")
}

fn main() -> Result<(), Box<dyn std::error::Error>> {
    common::launch_unless_rank(&common::nps(&[1, 2, 4])?)?;
    let env = mpi4rs::init()?;
    let world = env.world();
    let mut pid = std::process::id();
    world.bcast(&mut pid, 0)?;
    let path = std::env::temp_dir().join(format!("mpi4rs-bench-file-{pid}"));
    let mode = AccessMode::RDWR | AccessMode::CREATE | AccessMode::DELETE_ON_CLOSE;
    let file = File::open(world, &path, mode)?;
    let max = SIZES.iter().copied().max().unwrap_or(1);
    let mut buf: Vec<u8> = (0..max).map(|i| (i % 251) as u8).collect();
    let np = world.size();
    let rank = world.rank() as u64;
    let plan = Plan {
        group: &format!("file_io-np{np}"),
        label: &format!("{np} rank(s), write_at_all + read_at_all of SIZE bytes per rank"),
        sizes: &SIZES,
        units: 1.0,
        per: "time per write + read",
        iters: |_| None,
        verdict,
    };
    common::run(world, &plan, |v, size, iters| match v {
        Variant::Rust => rust_loop(&file, rank * size as u64, &mut buf, size, iters),
        Variant::C => Ok(c_loop(&file, rank * size as u64, &mut buf, size, iters)),
        Variant::Stop => Ok(0.0),
    })?;
    file.close()?;
    Ok(())
}
