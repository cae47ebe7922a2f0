//! Allreduce (sum of `f64`): mpi4rs against the same loop in C (`benches/c/allreduce.c`,
//! linked into this bench by build.rs) on the same MPI library, in the same job, at 2 and 4
//! ranks (4 on a 2-core machine is oversubscribed: the ranks yield when idle there).
//!
//! `cargo bench --bench allreduce [-- FILTER]` starts itself under `mpiexec` once per rank
//! count (the launcher of the linked MPI; `MPIEXEC` overrides it; `MPI4RS_BENCH_NPS=2,4`
//! chooses the counts). All ranks must call each allreduce together, so before every batch
//! rank 0 broadcasts what runs next (variant, size, iterations) and all ranks meet at a
//! barrier (`benches/common`). Rank 0 runs criterion: groups `allreduce-npN/mpi4rs/SIZE` and
//! `allreduce-npN/c/SIZE` for 8 B … 64 MiB, each reporting the time per call.
//!
//! Then rank 0 prints the ratios mpi4rs / C: from the criterion batches (machine drift shows
//! in these), and from a side-by-side run that times both loops alternately in
//! `MPI4RS_BENCH_ROUNDS` (default 15) pairs of adjacent blocks of at least 50 ms and takes the
//! median of the per-pair ratios, with the middle half of them — the figures to quote.
//! Targets (time per call): within 10 % of C up to 64 KiB, within 5 % from 1 MiB. A filter
//! that matches nothing (`-- none`) skips criterion and runs only the side-by-side part;
//! `MPI4RS_BENCH_ROUNDS=5 cargo bench --bench allreduce -- none` is the quick form.

mod common;

use common::{Plan, Variant};
use mpi4rs::ffi::MPI_Comm;
use mpi4rs::prelude::*;
use std::ffi::c_int;

extern "C" {
    /// `iters` MPI_Allreduce(SUM) of `count` doubles; returns the elapsed time.
    fn mpi4rs_c_allreduce(comm: MPI_Comm, s: *const f64, r: *mut f64, count: c_int, iters: c_int) -> f64;
}

/// Message sizes in bytes (multiples of 8: whole `f64`s).
const SIZES: [usize; 7] = [8, 64, 1 << 10, 64 << 10, 1 << 20, 16 << 20, 64 << 20];

struct Buffers {
    send: Vec<f64>,
    recv: Vec<f64>,
}

/// `iters` allreduces of `size` bytes with mpi4rs; the elapsed time.
fn rust_loop(world: &Comm, b: &mut Buffers, size: usize, iters: u64) -> mpi4rs::Result<f64> {
    let n = size / 8;
    let (send, recv) = (&b.send[..n], &mut b.recv[..n]);
    let t0 = mpi4rs::wtime();
    for _ in 0..iters {
        world.allreduce(send, recv, &Op::SUM)?;
    }
    Ok(mpi4rs::wtime() - t0)
}

/// The same with the C loop.
fn c_loop(world: &Comm, b: &mut Buffers, size: usize, iters: u64) -> f64 {
    let n = size / 8;
    assert!(n <= b.send.len() && n <= b.recv.len() && c_int::try_from(n).is_ok());
    common::c_chunks(iters, |chunk| {
        // SAFETY: both buffers hold at least `n` doubles (checked above) and outlive the call;
        // the C loop only hands them to MPI_Allreduce.
        unsafe { mpi4rs_c_allreduce(world.as_raw(), b.send.as_ptr(), b.recv.as_mut_ptr(), n as c_int, chunk) }
    })
}

/// The target for the time ratio mpi4rs / C at `size`, and whether `ratio` meets it.
fn verdict(size: usize, ratio: f64) -> String {
    let target = if size >= 1 << 20 { 1.05 } else { 1.10 };
    let met = if ratio <= target { "met" } else { "MISSED" };
    format!("target <= {target:.2}: {met}")
}

fn main() -> Result<(), Box<dyn std::error::Error>> {
    common::launch_unless_rank(&common::nps(&[2, 4])?)?;
    let env = mpi4rs::init()?;
    let world = env.world();
    let max = SIZES.iter().copied().max().unwrap_or(8) / 8;
    let mut b = Buffers {
        send: (0..max).map(|i| (world.rank() as usize + i) as f64).collect(),
        recv: vec![0.0; max],
    };
    let np = world.size();
    let plan = Plan {
        group: &format!("allreduce-np{np}"),
        label: &format!("{np} ranks, allreduce (sum, f64)"),
        sizes: &SIZES,
        units: 1.0,
        per: "time per call",
        iters: |_| None,
        verdict,
    };
    common::run(world, &plan, |v, size, iters| match v {
        Variant::Rust => rust_loop(world, &mut b, size, iters),
        Variant::C => Ok(c_loop(world, &mut b, size, iters)),
        Variant::Stop => Ok(0.0),
    })
}
