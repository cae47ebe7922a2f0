//! mpi4rs's half of `benches/mpi4py/object_compare.sh`, which runs it alternately with
//! `object_compare.py` (mpi4py's `util.pkl5`) and prints the ratios. Not a criterion bench:
//! run it under `mpiexec` (the script does).
//!
//! `object_compare pingpong ITERS` (2 ranks): rank 0 sends, rank 1 receives into a fresh
//! allocation and answers with one byte; the variants alternate within each iteration, and
//! each prints the median time over `ITERS` and the median of its paired ratios to `buffer`:
//! - `buffer`: 64 MiB of `f64` as a plain buffer into a buffer allocated once (the baseline);
//! - `object`: the record `{ id, x, y, name, data: OobVec<f64> }` holding those 64 MiB,
//!   received with `recv_obj` (a fresh allocation per receive, as mpi4py's `recv`);
//! - `object-no-prefault`: the same with `object::set_prefault(Some(false))`.
//!
//! `object_compare gather ITERS` (any number of ranks): 16 MiB of `f64` per rank gathered at
//! rank 0, per iteration (after a barrier, the root's time):
//! - `buffer`: `gather` into a buffer allocated once;
//! - `object-ref`: `gather_obj_ref(&data)` (borrowing; fresh allocations at the root);
//! - `object-clone`: `gather_obj(data.clone())` (the by-value form in a loop that keeps its
//!   array, the clone inside the timed region as a user's loop has it).

use mpi4rs::object::{self, OobVec};
use mpi4rs::prelude::*;
use serde::{Deserialize, Serialize};

#[derive(Serialize, Deserialize)]
struct Record {
    id: u64,
    x: f64,
    y: f64,
    name: String,
    data: OobVec<f64>,
}

fn median(mut v: Vec<f64>) -> f64 {
    v.sort_by(|a, b| a.total_cmp(b));
    v[v.len() / 2]
}

fn pingpong(world: &Comm, iters: usize) -> mpi4rs::Result<Vec<(&'static str, f64, f64)>> {
    let n = 64 << 20 >> 3;
    let me = world.rank();
    let rec = Record { id: 42, x: 1.5, y: -2.25, name: "pingpong".into(), data: vec![0.5; n].into() };
    let send = vec![0.5f64; n];
    let mut recv = vec![0.0f64; n];
    let mut ack = [0u8; 1];
    let variants = ["buffer", "object", "object-no-prefault"];
    let mut times = vec![Vec::with_capacity(iters); variants.len()];
    for i in 0..iters + 2 {
        for (v, variant) in variants.iter().enumerate() {
            object::set_prefault(Some(*variant != "object-no-prefault"));
            world.barrier()?;
            let t0 = mpi4rs::wtime();
            if me == 0 {
                if *variant == "buffer" {
                    world.send(&send[..], 1, 0)?;
                } else {
                    world.send_obj(&rec, 1, 0)?;
                }
                world.recv(&mut ack[..], 1, 1)?;
            } else if me == 1 {
                if *variant == "buffer" {
                    world.recv(&mut recv[..], 0, 0)?;
                } else {
                    let got: Record = world.recv_obj(0, 0)?;
                    std::hint::black_box(&got);
                }
                world.send(&ack[..], 0, 1)?;
            }
            if i >= 2 {
                times[v].push(mpi4rs::wtime() - t0);
            }
        }
    }
    let out = summarise(&variants, times);
    object::set_prefault(None);
    Ok(out)
}

fn gather(world: &Comm, iters: usize) -> mpi4rs::Result<Vec<(&'static str, f64, f64)>> {
    let n = 16 << 20 >> 3;
    let size = world.size() as usize;
    let data: OobVec<f64> = vec![world.rank() as f64; n].into();
    let mut all = if world.rank() == 0 { vec![0.0f64; n * size] } else { Vec::new() };
    let variants = ["buffer", "object-ref", "object-clone"];
    let mut times = vec![Vec::with_capacity(iters); variants.len()];
    for i in 0..iters + 2 {
        for (v, variant) in variants.iter().enumerate() {
            world.barrier()?;
            let t0 = mpi4rs::wtime();
            match *variant {
                "buffer" => world.gather(&data[..], (world.rank() == 0).then_some(&mut all[..]), 0)?,
                "object-ref" => {
                    std::hint::black_box(world.gather_obj_ref(&data, 0)?);
                }
                _ => {
                    std::hint::black_box(world.gather_obj(data.clone(), 0)?);
                }
            }
            if i >= 2 {
                times[v].push(mpi4rs::wtime() - t0);
            }
        }
    }
    Ok(summarise(&variants, times))
}

/// Per variant: the median time, and the median of its paired ratios to the first variant
/// (the buffer baseline, measured in the same iteration).
fn summarise(variants: &[&'static str], times: Vec<Vec<f64>>) -> Vec<(&'static str, f64, f64)> {
    variants
        .iter()
        .zip(&times)
        .map(|(name, t)| {
            let ratios = t.iter().zip(&times[0]).map(|(a, b)| a / b).collect();
            (*name, median(t.clone()), median(ratios))
        })
        .collect()
}

fn main() -> mpi4rs::Result<()> {
    let args: Vec<String> = std::env::args().skip(1).filter(|a| !a.starts_with("--")).collect();
    let mode = args.first().map(String::as_str).unwrap_or("pingpong");
    let iters = args.get(1).and_then(|s| s.parse().ok()).unwrap_or(10);
    let env = mpi4rs::init()?;
    let world = env.world();
    let figures = match mode {
        "gather" => gather(world, iters)?,
        _ => pingpong(world, iters)?,
    };
    if world.rank() == 0 {
        for (name, t, ratio) in figures {
            println!("mpi4rs {mode} {name} {t:.6} {ratio:.4}");
        }
    }
    Ok(())
}
