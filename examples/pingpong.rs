//! mpi4py.bench pingpong: one-way time and bandwidth between ranks 0 and 1, for message sizes
//! from `-m` to `-n` bytes (powers of two), in the same table mpi4py prints.
//!
//! `mpiexec -n 2 target/release/examples/pingpong [-m MIN] [-n MAX] [-s SKIP] [-l LOOP] [-q]`
//! (also `--skip-large`, `--loop-large`, `--large-size`, `--skip-huge`, `--loop-huge`,
//! `--huge-size`, `--no-header`, `--no-stats`, with mpi4py's defaults: sizes 1 B … 1 GiB,
//! skip 100 / loop 10000, at most 10 / 1000 above 16 KiB and 1 / 10 above 1 MiB). `-a numpy`
//! and `-a none` are accepted (host memory either way).
//!
//! Object mode, mpi4py's `-p`/`--pickle` (and `-o`/`--outband`, its `pkl5` variant, which is
//! what mpi4rs always does): each message is a record of a few fields (an id, two floats, a
//! short string) holding `SIZE` bytes of `f64` in an [`OobVec`](mpi4rs::OobVec), sent with
//! `send_obj` and received with `recv_obj_with` into a [`RecvBuffer`], to which each received
//! array is handed back (`recycle`) so that the next one lands in the same allocation — the
//! allocation-free loop, as the buffer mode's; `--alloc` receives with `recv_obj` instead, which
//! allocates every received record as mpi4py's `recv` does. Rank 1 sends back the record it
//! received. At 8 B and below the record holds nothing but its fields; from 256 KiB
//! (`--threshold B` changes it) the array travels out of band. The size column is the array's
//! size, so the table compares with the buffer mode's.
//!
//! Unlike mpi4py, which reads the clock around every round trip, the mean here is the time of
//! the whole timed loop divided by `2 × LOOP`, exactly as a plain C loop measures it
//! (`benches/c/pingpong.c` prints the same table). The columns therefore mean:
//! - `Time Mean [s]`: one-way time per message, whole timed loop / (2 × LOOP);
//! - `StdDev [s]`: the loop runs as up to ten consecutive timed blocks (no clock reads inside a
//!   block); this is the sample standard deviation of the blocks' one-way means, not of single
//!   round trips as in mpi4py (so it is smaller than mpi4py's by about √(LOOP/10));
//! - `Samples`: LOOP, the number of timed round trips, as mpi4py prints it.

use mpi4rs::prelude::*;
use mpi4rs::RecvBuffer;
use serde::{Deserialize, Serialize};

struct Options {
    min_size: u64,
    max_size: u64,
    skip: usize,
    loops: usize,
    skip_large: usize,
    loop_large: usize,
    large_size: u64,
    skip_huge: usize,
    loop_huge: usize,
    huge_size: u64,
    verbose: bool,
    header: bool,
    stats: bool,
    object: bool,
    alloc: bool,
}

const USAGE: &str =
    "usage: pingpong [-q] [-a numpy|none] [-m MIN_SIZE] [-n MAX_SIZE] [-s SKIP] [-l LOOP] [--skip-large N] \
[--loop-large N] [--large-size B] [--skip-huge N] [--loop-huge N] [--huge-size B] [--no-header] [--no-stats] \
[-p|--pickle] [-o|--outband] [--threshold B] [--alloc]";

fn parse() -> Result<Options, String> {
    let mut o = Options {
        min_size: 1,
        max_size: 1 << 30,
        skip: 100,
        loops: 10000,
        skip_large: 10,
        loop_large: 1000,
        large_size: 1 << 14,
        skip_huge: 1,
        loop_huge: 10,
        huge_size: 1 << 20,
        verbose: true,
        header: true,
        stats: true,
        object: false,
        alloc: false,
    };
    let mut args = std::env::args().skip(1);
    while let Some(a) = args.next() {
        let mut num = |name: &str| -> Result<u64, String> {
            let v = args.next().ok_or(format!("{name} needs a value\n{USAGE}"))?;
            v.parse().map_err(|_| format!("{name}: not a number: {v}\n{USAGE}"))
        };
        match a.as_str() {
            "-m" | "--min-size" => o.min_size = num(&a)?,
            "-n" | "--max-size" => o.max_size = num(&a)?,
            "-s" | "--skip" => o.skip = num(&a)? as usize,
            "-l" | "--loop" => o.loops = num(&a)? as usize,
            "--skip-large" => o.skip_large = num(&a)? as usize,
            "--loop-large" => o.loop_large = num(&a)? as usize,
            "--large-size" => o.large_size = num(&a)?,
            "--skip-huge" => o.skip_huge = num(&a)? as usize,
            "--loop-huge" => o.loop_huge = num(&a)? as usize,
            "--huge-size" => o.huge_size = num(&a)?,
            "-q" | "--quiet" => o.verbose = false,
            "--no-header" => o.header = false,
            "--no-stats" => o.stats = false,
            // mpi4py's array kinds: NumPy arrays and bytearrays are host memory, as ours are.
            "-a" | "--array" => match args.next().as_deref() {
                Some("numpy" | "none") => {}
                Some(kind) => return Err(format!("--array {kind}: only host buffers (numpy, none) here")),
                None => return Err(format!("{a} needs a value\n{USAGE}")),
            },
            // Objects: serde + MessagePack, large arrays out of band (pkl5's way) always.
            "-p" | "--pickle" | "-o" | "--outband" => o.object = true,
            "--threshold" => mpi4rs::object::set_threshold(Some(num(&a)? as usize)),
            "--alloc" => o.alloc = true,
            "--protocol" => return Err(format!("{a}: objects have one encoding here\n{USAGE}")),
            _ => return Err(format!("unknown option {a}\n{USAGE}")),
        }
    }
    Ok(o)
}

/// The record of the object mode: a few fields and `SIZE` bytes of `f64`.
#[derive(Serialize, Deserialize)]
struct Record {
    id: u64,
    x: f64,
    y: f64,
    name: String,
    data: OobVec<f64>,
}

impl Record {
    fn new(nbytes: u64) -> Record {
        let data = vec![0.5; (nbytes / 8) as usize].into();
        Record { id: 42, x: 1.5, y: -2.25, name: "pingpong".into(), data }
    }
}

/// Receives a record from `source`: into `buf`, handing the previous array back to it for
/// reuse (the allocation-free loop), or allocating as mpi4py's `recv` does (`alloc`).
fn recv_record(world: &Comm, buf: &mut RecvBuffer, alloc: bool, source: i32) -> mpi4rs::Result<Record> {
    if alloc {
        return world.recv_obj(source, 0);
    }
    Ok(world.recv_obj_with(buf, source, 0)?.0)
}

/// `iters` round trips of `rec` between ranks 0 and 1 as objects; the elapsed time.
fn object_round_trips(
    world: &Comm,
    rec: &Record,
    buf: &mut RecvBuffer,
    alloc: bool,
    iters: usize,
) -> mpi4rs::Result<f64> {
    let t0 = mpi4rs::wtime();
    match (world.rank(), world.size()) {
        (0, 1) => {
            for _ in 0..iters {
                for _ in 0..2 {
                    let got = mpi4rs::scope(|s| {
                        let req = world.isend_obj(s, rec, 0, 0)?;
                        let got = recv_record(world, buf, alloc, 0)?;
                        req.wait()?;
                        Ok(got)
                    })?;
                    buf.recycle(got.data);
                }
            }
        }
        (0, _) => {
            for _ in 0..iters {
                world.send_obj(rec, 1, 0)?;
                let got = recv_record(world, buf, alloc, 1)?;
                buf.recycle(got.data);
            }
        }
        (1, _) => {
            for _ in 0..iters {
                let got = recv_record(world, buf, alloc, 0)?;
                world.send_obj(&got, 0, 0)?;
                buf.recycle(got.data);
            }
        }
        _ => {}
    }
    Ok(mpi4rs::wtime() - t0)
}

/// `iters` round trips between ranks 0 and 1 (a rank alone talks to itself); the elapsed time.
fn round_trips(world: &Comm, send: &[u8], recv: &mut [u8], iters: usize) -> mpi4rs::Result<f64> {
    let t0 = mpi4rs::wtime();
    match (world.rank(), world.size()) {
        (0, 1) => {
            for _ in 0..iters {
                world.sendrecv(send, 0, 0, recv, 0, 0)?;
                world.sendrecv(send, 0, 0, recv, 0, 0)?;
            }
        }
        (0, _) => {
            for _ in 0..iters {
                world.send(send, 1, 0)?;
                world.recv(recv, 1, 0)?;
            }
        }
        (1, _) => {
            for _ in 0..iters {
                world.recv(recv, 0, 0)?;
                world.send(send, 0, 0)?;
            }
        }
        _ => {}
    }
    Ok(mpi4rs::wtime() - t0)
}

fn main() -> Result<(), Box<dyn std::error::Error>> {
    // `--help`/`-h` before MPI starts: usage, exit 0 (tests/examples.rs checks every example).
    if std::env::args().skip(1).any(|a| a == "--help" || a == "-h") {
        println!("mpi4py.bench pingpong: one-way time and bandwidth between ranks 0 and 1, for message sizes from `-m` to `-n` bytes (powers of two), in the same table mpi4py prints.\n\n{USAGE}");
        std::process::exit(0);
    }
    let o = match parse() {
        Ok(o) => o,
        Err(usage) => {
            eprintln!("{usage}");
            std::process::exit(2);
        }
    };
    // Ends every rank if the program fails on one.
    Ok(mpi4rs::run(|env| program(env, o))?)
}

fn program(env: &mpi4rs::Environment, mut o: Options) -> Result<(), Box<dyn std::error::Error>> {
    let world = env.world();
    let sizes = (0..33).map(|i| 1u64 << i).filter(|n| (o.min_size..=o.max_size).contains(n));
    let mut header = o.header;
    for nbytes in sizes {
        if nbytes > o.large_size {
            o.skip = o.skip.min(o.skip_large);
            o.loops = o.loops.min(o.loop_large);
        }
        if nbytes > o.huge_size {
            o.skip = o.skip.min(o.skip_huge);
            o.loops = o.loops.min(o.loop_huge);
        }
        let send = vec![b'a'; if o.object { 0 } else { nbytes as usize }];
        let mut recv = vec![0u8; send.len()];
        let rec = Record::new(if o.object { nbytes } else { 0 });
        let mut buf = RecvBuffer::new();
        let mut run = |iters| {
            if o.object {
                object_round_trips(world, &rec, &mut buf, o.alloc, iters)
            } else {
                round_trips(world, &send, &mut recv, iters)
            }
        };
        world.barrier()?;
        run(o.skip)?;
        let blocks = o.loops.clamp(1, 10);
        let mut block_means = Vec::with_capacity(blocks);
        let mut total = 0.0;
        for b in 0..blocks {
            let iters = o.loops / blocks + usize::from(b < o.loops % blocks);
            let t = run(iters)?;
            total += t;
            if iters > 0 {
                block_means.push(t / (2.0 * iters as f64));
            }
        }
        if !o.verbose || world.rank() != 0 {
            continue;
        }
        if header {
            header = false;
            println!("# MPI PingPong Test");
            let stats = if o.stats { " | Time Mean [s] \u{b1} StdDev [s]  Samples" } else { "" };
            println!("# Size [B]  Bandwidth [MB/s]{stats}");
        }
        let mean = if o.loops > 0 { total / (2.0 * o.loops as f64) } else { f64::NAN };
        let stdev = stdev(&block_means);
        let mut line = format!("{nbytes:10}{:18.2}", nbytes as f64 / mean / 1e6);
        if o.stats {
            line += &format!(" | {} \u{b1} {} {:8}", sci(mean, 7), sci(stdev, 4), o.loops);
        }
        println!("{line}");
    }
    Ok(())
}

/// `x` in C/Python `%.{prec}e` notation (`6.3564250e-07`), so the table matches mpi4py's and C's.
fn sci(x: f64, prec: usize) -> String {
    let s = format!("{x:.prec$e}");
    match s.split_once('e') {
        Some((mantissa, exp)) => {
            let (sign, digits) = exp.strip_prefix('-').map_or(("+", exp), |d| ("-", d));
            format!("{mantissa}e{sign}{digits:0>2}")
        }
        None => s, // NaN, inf
    }
}

/// Sample standard deviation (0 for fewer than two samples), as Python's `statistics.stdev`.
fn stdev(xs: &[f64]) -> f64 {
    if xs.len() < 2 {
        return 0.0;
    }
    let mean = xs.iter().sum::<f64>() / xs.len() as f64;
    (xs.iter().map(|x| (x - mean).powi(2)).sum::<f64>() / (xs.len() - 1) as f64).sqrt()
}
