//! Object messaging against plain buffers: ping-pong between two ranks, side by side in one job.
//!
//! `cargo bench --bench object [-- FILTER]` starts itself under `mpiexec -n 2` (`benches/common`
//! as the other benches). Two sizes, each compared with the same bytes sent as a plain buffer
//! (`send`/`recv` of a `Vec<u8>`, reused — the baseline):
//! - 8 B: a small record of a few fields (an id, two floats, a short string, an empty array)
//!   against an 8-byte buffer. Target: a round trip costs at most 3 times the buffer's.
//! - 64 MiB: the same record holding 64 MiB of `f64` in an `OobVec` (out of band: sent from
//!   where it lies, received into its final allocation) against a 64 MiB buffer. Target: at
//!   most 1.5 times.
//!
//! The object loop is the allocation-free one: `recv_obj_with` into a `RecvBuffer`, handing
//! each received array back with `recycle`, as a buffer loop reuses its buffer
//! (`examples/pingpong -p --alloc` measures receiving into fresh allocations instead).
//!
//! In the tables printed by `benches/common`, the column **"C" is the buffer baseline** and
//! "mpi4rs" the object messages; "time r/c" is object time / buffer time. A filter that
//! matches nothing (`-- none`) skips criterion and runs only the side-by-side pairs, the
//! figures to quote.

#[allow(dead_code)] // c_chunks: this bench has no C loop
mod common;

use common::{Plan, Variant};
use mpi4rs::prelude::*;
use mpi4rs::RecvBuffer;
use serde::{Deserialize, Serialize};

const SIZES: [usize; 2] = [8, 64 << 20];

#[derive(Serialize, Deserialize)]
struct Record {
    id: u64,
    x: f64,
    y: f64,
    name: String,
    data: OobVec<f64>,
}

impl Record {
    /// The record of a size: 8 B and below, the fields alone.
    fn new(size: usize) -> Record {
        let n = if size <= 8 { 0 } else { size / 8 };
        Record { id: 42, x: 1.5, y: -2.25, name: "pingpong".into(), data: vec![0.5; n].into() }
    }
}

struct State {
    send: Vec<u8>,
    recv: Vec<u8>,
    records: Vec<Record>,
    buf: RecvBuffer,
}

/// `iters` round trips of the record of `size`; the elapsed time.
fn object_loop(world: &Comm, s: &mut State, size: usize, iters: u64) -> mpi4rs::Result<f64> {
    let rec = &s.records[SIZES.iter().position(|&x| x == size).unwrap_or(0)];
    let buf = &mut s.buf;
    let t0 = mpi4rs::wtime();
    if world.rank() == 0 {
        for _ in 0..iters {
            world.send_obj(rec, 1, 0)?;
            let (back, _): (Record, _) = world.recv_obj_with(buf, 1, 0)?;
            buf.recycle(back.data);
        }
    } else {
        for _ in 0..iters {
            let (got, _): (Record, _) = world.recv_obj_with(buf, 0, 0)?;
            world.send_obj(&got, 0, 0)?;
            buf.recycle(got.data);
        }
    }
    Ok(mpi4rs::wtime() - t0)
}

/// `iters` round trips of `size` bytes as a plain buffer; the elapsed time.
fn buffer_loop(world: &Comm, s: &mut State, size: usize, iters: u64) -> mpi4rs::Result<f64> {
    common::buffer_round_trips(world, &s.send[..size], &mut s.recv[..size], iters)
}

fn verdict(size: usize, ratio: f64) -> String {
    let target = if size <= 8 { 3.0 } else { 1.5 };
    let what = if size <= 8 { "small record / 8 B buffer" } else { "64 MiB record / 64 MiB buffer" };
    format!("{what} = {ratio:.3} (target <= {target}: {})", if ratio <= target { "met" } else { "MISSED" })
}

fn main() -> Result<(), Box<dyn std::error::Error>> {
    common::launch_unless_rank(&[2])?;
    let env = mpi4rs::init()?;
    let world = env.world();
    if world.size() != 2 {
        return Err("the object bench needs exactly 2 ranks".into());
    }
    let max = SIZES.iter().copied().max().unwrap_or(8);
    let mut s = State {
        send: vec![b'a'; max],
        recv: vec![0; max],
        records: SIZES.iter().map(|&n| Record::new(n)).collect(),
        buf: RecvBuffer::new(),
    };
    if world.rank() == 0 {
        println!("object messages (\"mpi4rs\") against plain buffers of the same bytes (\"C\" below = the buffer baseline)");
    }
    let plan = Plan {
        group: "object",
        label: "ping-pong, object record vs plain buffer",
        sizes: &SIZES,
        units: 2.0,
        per: "one-way time",
        iters: |size| Some(if size <= 8 { 10_000 } else { 4 }),
        verdict,
    };
    common::run(world, &plan, |v, size, iters| match v {
        Variant::Rust => object_loop(world, &mut s, size, iters),
        Variant::C => buffer_loop(world, &mut s, size, iters),
        Variant::Stop => Ok(0.0),
    })
}
