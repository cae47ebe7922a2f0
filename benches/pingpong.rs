//! Ping-pong between two ranks: mpi4rs against the same loop in C (`benches/c/pingpong.c`,
//! linked into this bench by build.rs) on the same MPI library, in the same job.
//!
//! `cargo bench --bench pingpong [-- FILTER]` starts itself under `mpiexec -n 2` (the
//! launcher of the linked MPI; `MPIEXEC` overrides it). Rank 0 runs criterion: groups
//! `pingpong/mpi4rs/SIZE` and `pingpong/c/SIZE` for 8 B, 4 KiB, 4 MiB and 16 MiB, each
//! reporting the one-way time per message (a round trip's time / 2). Before each batch rank 0
//! broadcasts the control message (variant, size, iterations), and a stop message at the end
//! (`benches/common`).
//!
//! At the end rank 0 prints the ratios mpi4rs / C twice: from the criterion batches (mean
//! one-way time over all batches of each benchmark), and from a side-by-side run that times
//! both loops alternately in pairs of adjacent blocks and takes the median of the paired
//! ratios — the figure to quote on a noisy machine, since drift hits both halves of a pair
//! alike. Latency is compared at 8 B (time ratio), bandwidth at 4 MiB and above (bandwidth
//! ratio = C time / mpi4rs time). A filter that matches nothing (`-- none`) skips criterion
//! and runs only the side-by-side part.

mod common;

use common::{Plan, Variant};
use mpi4rs::ffi::MPI_Comm;
use mpi4rs::prelude::*;
use std::ffi::{c_char, c_int};

extern "C" {
    /// `iters` round trips of `size` bytes between ranks 0 and 1; returns the elapsed time.
    fn mpi4rs_c_pingpong(
        comm: MPI_Comm,
        sbuf: *mut c_char,
        rbuf: *mut c_char,
        size: c_int,
        iters: c_int,
    ) -> f64;
}

const SIZES: [usize; 4] = [8, 4096, 4 << 20, 16 << 20];

struct Buffers {
    send: Vec<u8>,
    recv: Vec<u8>,
}

/// `iters` round trips with mpi4rs; the elapsed time.
fn rust_loop(world: &Comm, b: &mut Buffers, size: usize, iters: u64) -> mpi4rs::Result<f64> {
    common::buffer_round_trips(world, &b.send[..size], &mut b.recv[..size], iters)
}

/// The same with the C loop.
fn c_loop(world: &Comm, b: &mut Buffers, size: usize, iters: u64) -> f64 {
    assert!(size <= b.send.len() && size <= b.recv.len());
    common::c_chunks(iters, |chunk| {
        // SAFETY: both buffers hold at least `size` bytes (checked above) and outlive the call;
        // the C loop only hands them to MPI_Send/MPI_Recv.
        unsafe {
            mpi4rs_c_pingpong(
                world.as_raw(),
                b.send.as_mut_ptr().cast(),
                b.recv.as_mut_ptr().cast(),
                size as c_int,
                chunk,
            )
        }
    })
}

/// The verdict of one size from the time ratio mpi4rs / C: latency at 8 B, bandwidth (the
/// inverse ratio) from 4 MiB.
fn verdict(size: usize, ratio: f64) -> String {
    if size <= 8 {
        format!("latency mpi4rs/C = {ratio:.3} (target <= 1.10)")
    } else if size >= 4 << 20 {
        format!("bandwidth mpi4rs/C = {:.3} (target >= 0.95)", 1.0 / ratio)
    } else {
        String::new()
    }
}

fn main() -> Result<(), Box<dyn std::error::Error>> {
    common::launch_unless_rank(&[2])?;
    let env = mpi4rs::init()?;
    let world = env.world();
    if world.size() != 2 {
        return Err("the ping-pong bench needs exactly 2 ranks".into());
    }
    let max = SIZES.iter().copied().max().unwrap_or(8);
    let mut b = Buffers { send: vec![b'a'; max], recv: vec![0; max] };
    let plan = Plan {
        group: "pingpong",
        label: "ping-pong",
        sizes: &SIZES,
        // A round trip carries two messages: times are reported one-way.
        units: 2.0,
        per: "one-way time",
        iters: |size| {
            Some(match size {
                s if s <= 4096 => 20_000,
                s if s <= 4 << 20 => 50,
                _ => 20,
            })
        },
        verdict,
    };
    common::run(world, &plan, |v, size, iters| match v {
        Variant::Rust => rust_loop(world, &mut b, size, iters),
        Variant::C => Ok(c_loop(world, &mut b, size, iters)),
        Variant::Stop => Ok(0.0),
    })
}
