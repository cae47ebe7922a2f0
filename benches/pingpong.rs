//! Ping-pong between two ranks: mpi4rs against the same loop in C (`benches/c/pingpong.c`,
//! linked into this bench by build.rs) on the same MPI library, in the same job.
//!
//! `cargo bench --bench pingpong [-- FILTER]` starts itself under `mpiexec -n 2` (the
//! launcher of the linked MPI; `MPIEXEC` overrides it). Rank 0 runs criterion: groups
//! `pingpong/mpi4rs/SIZE` and `pingpong/c/SIZE` for 8 B, 4 KiB, 4 MiB and 16 MiB, each
//! reporting the one-way time per message (a round trip's time / 2). Before each batch rank 0
//! sends rank 1 a control message (variant, size, iterations), and a stop message at the end.
//!
//! At the end rank 0 prints the ratios mpi4rs / C twice: from the criterion batches (mean
//! one-way time over all batches of each benchmark), and from a side-by-side run that times
//! both loops alternately in pairs of adjacent blocks and takes the median of the paired
//! ratios — the figure to quote on a noisy machine, since drift hits both halves of a pair
//! alike. Latency is compared at 8 B (time ratio), bandwidth at 4 MiB and above (bandwidth
//! ratio = C time / mpi4rs time). A filter that matches nothing (`-- none`) skips criterion
//! and runs only the side-by-side part.

use criterion::{BenchmarkId, Criterion, Throughput};
use mpi4rs::ffi::MPI_Comm;
use mpi4rs::launcher::Launcher;
use mpi4rs::prelude::*;
use std::cell::RefCell;
use std::collections::BTreeMap;
use std::ffi::{c_char, c_int};
use std::time::Duration;

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

/// Set in the environment of the ranks, so the bench knows it is not the launcher.
const CHILD: &str = "MPI4RS_BENCH_CHILD";
const CONTROL_TAG: i32 = 99;
const SIZES: [usize; 4] = [8, 4096, 4 << 20, 16 << 20];

#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
enum Variant {
    Stop = 0,
    Rust = 1,
    C = 2,
}

struct Buffers {
    send: Vec<u8>,
    recv: Vec<u8>,
}

/// `iters` round trips with mpi4rs; the elapsed time.
fn rust_loop(world: &Comm, b: &mut Buffers, size: usize, iters: u64) -> mpi4rs::Result<f64> {
    let (send, recv) = (&b.send[..size], &mut b.recv[..size]);
    let t0 = mpi4rs::wtime();
    if world.rank() == 0 {
        for _ in 0..iters {
            world.send(send, 1, 0)?;
            world.recv(recv, 1, 0)?;
        }
    } else {
        for _ in 0..iters {
            world.recv(recv, 0, 0)?;
            world.send(send, 0, 0)?;
        }
    }
    Ok(mpi4rs::wtime() - t0)
}

/// The same with the C loop.
fn c_loop(world: &Comm, b: &mut Buffers, size: usize, iters: u64) -> f64 {
    assert!(size <= b.send.len() && size <= b.recv.len());
    let mut elapsed = 0.0;
    let mut left = iters;
    while left > 0 {
        let chunk = left.min(c_int::MAX as u64);
        // SAFETY: both buffers hold at least `size` bytes (checked above) and outlive the call;
        // the C loop only hands them to MPI_Send/MPI_Recv.
        elapsed += unsafe {
            mpi4rs_c_pingpong(
                world.as_raw(),
                b.send.as_mut_ptr().cast(),
                b.recv.as_mut_ptr().cast(),
                size as c_int,
                chunk as c_int,
            )
        };
        left -= chunk;
    }
    elapsed
}

/// Rank 0 tells rank 1 what to run next, then runs its side; the elapsed time.
fn run(world: &Comm, b: &mut Buffers, v: Variant, size: usize, iters: u64) -> mpi4rs::Result<f64> {
    if world.rank() == 0 {
        world.send(&[v as u64, size as u64, iters], 1, CONTROL_TAG)?;
    }
    match v {
        Variant::Rust => rust_loop(world, b, size, iters),
        Variant::C => Ok(c_loop(world, b, size, iters)),
        Variant::Stop => Ok(0.0),
    }
}

/// Rank 1: runs whatever rank 0 asks for until the stop message.
fn follower(world: &Comm, b: &mut Buffers) -> mpi4rs::Result<()> {
    loop {
        let mut control = [0u64; 3];
        world.recv(&mut control, 0, CONTROL_TAG)?;
        let [v, size, iters] = control;
        let v = match v {
            1 => Variant::Rust,
            2 => Variant::C,
            _ => return Ok(()),
        };
        run(world, b, v, size as usize, iters)?;
    }
}

/// Total one-way time and message count of each (variant, size) over all criterion batches.
type Totals = BTreeMap<(Variant, usize), (f64, u64)>;

fn criterion_benches(world: &Comm, b: &mut Buffers) -> mpi4rs::Result<Totals> {
    let mut c = Criterion::default()
        .warm_up_time(Duration::from_millis(500))
        .measurement_time(Duration::from_secs(2))
        .sample_size(10)
        .configure_from_args();
    // iter_custom must return a Duration: the first MPI error is kept and returned after.
    let failure = RefCell::new(None);
    let totals = RefCell::new(Totals::new());
    let mut group = c.benchmark_group("pingpong");
    for size in SIZES {
        group.throughput(Throughput::Bytes(size as u64));
        for (name, v) in [("mpi4rs", Variant::Rust), ("c", Variant::C)] {
            group.bench_function(BenchmarkId::new(name, size), |bencher| {
                bencher.iter_custom(|iters| {
                    if failure.borrow().is_some() {
                        return Duration::ZERO;
                    }
                    match run(world, b, v, size, iters) {
                        Ok(t) => {
                            let mut totals = totals.borrow_mut();
                            let e = totals.entry((v, size)).or_default();
                            e.0 += t / 2.0;
                            e.1 += iters;
                            // A round trip carries two messages: report the one-way time.
                            Duration::from_secs_f64(t / 2.0)
                        }
                        Err(e) => {
                            *failure.borrow_mut() = Some(e);
                            Duration::ZERO
                        }
                    }
                })
            });
        }
    }
    group.finish();
    c.final_summary();
    match failure.into_inner() {
        Some(e) => Err(e),
        None => Ok(totals.into_inner()),
    }
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

/// One size: the one-way times and bandwidths, and the time ratio mpi4rs / C (`ratio`).
fn print_row(size: usize, c: f64, r: f64, ratio: f64) {
    let mbs = |t: f64| size as f64 / t / 1e6;
    println!(
        "{size:>10} {:>11.3} {:>11.3} {:>10.1} {:>13.1} {:>8.3}  {}",
        c * 1e6,
        r * 1e6,
        mbs(c),
        mbs(r),
        ratio,
        verdict(size, ratio)
    );
}

fn print_header() {
    println!(
        "{:>10} {:>11} {:>11} {:>10} {:>13} {:>8}",
        "size [B]", "C [us]", "mpi4rs [us]", "C [MB/s]", "mpi4rs [MB/s]", "time r/c"
    );
}

fn criterion_ratios(totals: &Totals) {
    let mean = |v, size| totals.get(&(v, size)).filter(|e| e.1 > 0).map(|&(t, n)| t / n as f64);
    let rows: Vec<_> = SIZES
        .iter()
        .filter_map(|&size| Some((size, mean(Variant::C, size)?, mean(Variant::Rust, size)?)))
        .collect();
    if rows.is_empty() {
        return;
    }
    println!(
        "\nmpi4rs / C from the criterion batches (mean one-way time over all batches; the \
         benchmarks run one after the other, so machine drift shows in these ratios):"
    );
    print_header();
    for (size, c, r) in rows {
        print_row(size, c, r, r / c);
    }
}

/// Both loops alternately, `rounds` pairs of blocks; medians of the one-way times and of the
/// ratios within each pair. Adjacent blocks see the machine in the same state, so the median
/// of the paired ratios holds even when the machine's speed changes during the run (on the
/// project's VM it jumps between two levels, up to 4× apart, every few seconds).
fn side_by_side(world: &Comm, b: &mut Buffers, rounds: usize) -> mpi4rs::Result<()> {
    println!(
        "\nmpi4rs / C side by side ({rounds} alternating pairs of blocks, medians; {}):",
        mpi4rs::library_version()?.lines().next().unwrap_or("")
    );
    print_header();
    for size in SIZES {
        let iters: u64 = match size {
            s if s <= 4096 => 20_000,
            s if s <= 4 << 20 => 50,
            _ => 20,
        };
        let (mut tc, mut tr, mut ratios) = (Vec::new(), Vec::new(), Vec::new());
        for round in 0..rounds {
            // Alternate which goes first, so neither always follows the other's warm-up.
            let order =
                if round % 2 == 0 { [Variant::C, Variant::Rust] } else { [Variant::Rust, Variant::C] };
            let (mut c, mut r) = (0.0, 0.0);
            for v in order {
                let t = run(world, b, v, size, iters)? / (2.0 * iters as f64);
                if v == Variant::C {
                    c = t
                } else {
                    r = t
                }
            }
            tc.push(c);
            tr.push(r);
            ratios.push(r / c);
        }
        let ratio = median(&mut ratios);
        print_row(size, median(&mut tc), median(&mut tr), ratio);
        if rounds >= 4 {
            // `ratios` is sorted now: the middle half of the pairs, to show the noise.
            println!(
                "{:>10} middle half of the paired ratios: {:.3} .. {:.3}",
                "",
                ratios[rounds / 4],
                ratios[rounds - 1 - rounds / 4]
            );
        }
    }
    Ok(())
}

fn median(xs: &mut [f64]) -> f64 {
    xs.sort_by(f64::total_cmp);
    let n = xs.len();
    if n % 2 == 1 {
        xs[n / 2]
    } else {
        (xs[n / 2 - 1] + xs[n / 2]) / 2.0
    }
}

fn main() -> Result<(), Box<dyn std::error::Error>> {
    if std::env::var_os(CHILD).is_none() {
        // The launcher: the same binary, with the same arguments, on two ranks.
        let exe = std::env::current_exe()?;
        let args: Vec<String> = std::env::args().skip(1).collect();
        let args: Vec<&str> = args.iter().map(String::as_str).collect();
        let mut cmd = Launcher::detect()?.command(2, &exe, &args);
        // Two ranks on two cores: busy-poll, as a C program does by default.
        cmd.env(CHILD, "1").env("OMPI_MCA_mpi_yield_when_idle", "0");
        let status = cmd.status()?;
        std::process::exit(status.code().unwrap_or(1));
    }
    let env = mpi4rs::init()?;
    let world = env.world();
    if world.size() != 2 {
        return Err("the ping-pong bench needs exactly 2 ranks".into());
    }
    let max = SIZES.iter().copied().max().unwrap_or(8);
    let mut b = Buffers { send: vec![b'a'; max], recv: vec![0; max] };
    if world.rank() == 1 {
        follower(world, &mut b)?;
        return Ok(());
    }
    let args: Vec<String> = std::env::args().skip(1).collect();
    let has = |flag: &str| args.iter().any(|a| a == flag);
    // As criterion decides: without --bench (`cargo test --benches`) or with --test, each
    // benchmark runs once; keep the side-by-side part short there too.
    let test_mode = !has("--bench") || has("--test");
    let outcome = criterion_benches(world, &mut b).and_then(|totals| {
        if has("--list") {
            return Ok(());
        }
        if !test_mode {
            criterion_ratios(&totals);
        }
        if test_mode {
            println!("\n(test mode: one pair of blocks per size, a smoke test, not a measurement)");
        }
        side_by_side(world, &mut b, if test_mode { 1 } else { 15 })
    });
    // Release rank 1 even after an error, so the job ends instead of hanging.
    let stopped = run(world, &mut b, Variant::Stop, 0, 0);
    outcome?;
    stopped?;
    Ok(())
}
