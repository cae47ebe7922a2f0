//! Ping-pong between two ranks: mpi4rs against the same loop in C (`benches/c/pingpong.c`,
//! linked into this bench by build.rs) on the same MPI library, in the same job.
//!
//! `cargo bench --bench pingpong` starts itself under `mpiexec -n 2`. Rank 0 runs criterion
//! (one-way time per message for 8 B, 4 KiB, 4 MiB and 16 MiB, `mpi4rs` and `c`), telling
//! rank 1 what to run before each batch; then it measures both loops alternately, block by
//! block, and prints the median ratios — the side-by-side figure the README quotes.

use criterion::{BenchmarkId, Criterion, Throughput};
use mpi4rs::ffi::MPI_Comm;
use mpi4rs::launcher::Launcher;
use mpi4rs::prelude::*;
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

const CHILD: &str = "MPI4RS_BENCH_CHILD";
const CONTROL_TAG: i32 = 99;
const SIZES: [usize; 4] = [8, 4096, 4 << 20, 16 << 20];

#[derive(Clone, Copy, PartialEq, Eq)]
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
    for _ in 0..iters {
        if world.rank() == 0 {
            world.send(send, 1, 0)?;
            world.recv(recv, 1, 0)?;
        } else {
            world.recv(recv, 0, 0)?;
            world.send(send, 0, 0)?;
        }
    }
    Ok(mpi4rs::wtime() - t0)
}

/// The same with the C loop.
fn c_loop(world: &Comm, b: &mut Buffers, size: usize, iters: u64) -> f64 {
    // SAFETY: both buffers hold at least `size` bytes; the C loop only uses them for MPI.
    unsafe {
        mpi4rs_c_pingpong(
            world.as_raw(),
            b.send.as_mut_ptr().cast(),
            b.recv.as_mut_ptr().cast(),
            size as c_int,
            iters as c_int,
        )
    }
}

/// Rank 0 tells rank 1 what to run next, then runs its side.
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

fn criterion_benches(world: &Comm, b: &mut Buffers) {
    let mut c = Criterion::default()
        .warm_up_time(Duration::from_millis(500))
        .measurement_time(Duration::from_secs(2))
        .sample_size(10)
        .configure_from_args();
    let mut group = c.benchmark_group("pingpong");
    for size in SIZES {
        group.throughput(Throughput::Bytes(size as u64));
        for (name, v) in [("mpi4rs", Variant::Rust), ("c", Variant::C)] {
            group.bench_function(BenchmarkId::new(name, size), |bencher| {
                bencher.iter_custom(|iters| {
                    // A round trip carries two messages: report the one-way time.
                    let t = run(world, b, v, size, iters).expect("ping-pong");
                    Duration::from_secs_f64(t / 2.0)
                })
            });
        }
    }
    group.finish();
    c.final_summary();
}

/// Both loops alternately, `rounds` blocks each; medians of the one-way time.
fn side_by_side(world: &Comm, b: &mut Buffers, rounds: usize) -> mpi4rs::Result<()> {
    println!(
        "\nside by side ({rounds} alternating blocks each, median one-way time; {}):",
        mpi4rs::library_version()?.lines().next().unwrap_or("")
    );
    println!(
        "{:>10} {:>12} {:>12} {:>12} {:>16}",
        "size [B]", "C [s]", "mpi4rs [s]", "time ratio", "bandwidth ratio"
    );
    for size in SIZES {
        let iters: u64 = match size {
            s if s <= 4096 => 20_000,
            s if s <= 4 << 20 => 50,
            _ => 20,
        };
        let (mut tc, mut tr) = (Vec::new(), Vec::new());
        for round in 0..rounds {
            // Alternate which goes first, so neither always follows the other's warm-up.
            let order =
                if round % 2 == 0 { [Variant::C, Variant::Rust] } else { [Variant::Rust, Variant::C] };
            for v in order {
                let t = run(world, b, v, size, iters)? / (2.0 * iters as f64);
                if v == Variant::C {
                    tc.push(t)
                } else {
                    tr.push(t)
                }
            }
        }
        let (c, r) = (median(&mut tc), median(&mut tr));
        println!("{size:>10} {c:>12.4e} {r:>12.4e} {:>12.3} {:>16.3}", r / c, c / r);
    }
    Ok(())
}

fn median(xs: &mut [f64]) -> f64 {
    xs.sort_by(f64::total_cmp);
    xs[xs.len() / 2]
}

fn main() -> Result<(), Box<dyn std::error::Error>> {
    if std::env::var_os(CHILD).is_none() {
        // The launcher: the same binary, on two ranks.
        let exe = std::env::current_exe()?;
        let args: Vec<String> = std::env::args().skip(1).collect();
        let args: Vec<&str> = args.iter().map(String::as_str).collect();
        let mut cmd = Launcher::detect()?.command(2, &exe, &args);
        // Two ranks on two cores: busy-poll, as a C program would.
        cmd.env(CHILD, "1").env("OMPI_MCA_mpi_yield_when_idle", "0");
        let status = cmd.status()?;
        std::process::exit(status.code().unwrap_or(1));
    }
    let env = mpi4rs::init()?;
    let world = env.world();
    if world.size() != 2 {
        return Err("the ping-pong bench needs exactly 2 ranks".into());
    }
    let max = *SIZES.iter().max().unwrap_or(&8);
    let mut b = Buffers { send: vec![b'a'; max], recv: vec![0; max] };
    if world.rank() == 1 {
        follower(world, &mut b)?;
        return Ok(());
    }
    // `cargo test --benches` runs benches once in test mode: keep that quick.
    let test_mode = std::env::args().any(|a| a == "--test");
    if !test_mode {
        criterion_benches(world, &mut b);
    }
    side_by_side(world, &mut b, if test_mode { 1 } else { 15 })?;
    run(world, &mut b, Variant::Stop, 0, 0)?;
    Ok(())
}
