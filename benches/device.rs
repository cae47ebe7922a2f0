//! Device arrays on the staged path (an MPI that is not CUDA-aware): allreduce (sum of `f64`)
//! and ping-pong of cudarc `CudaSlice` buffers from 8 B to 256 MiB, against the bound and a
//! naive loop measured in the same run:
//!
//! - `bound`: a pinned device-to-host copy plus a host-to-device copy of the same bytes on the
//!   same GPU (what staging cannot beat without overlapping them with MPI);
//! - `pipelined`: the library's staged allreduce, cut into chunks whose copies overlap the MPI
//!   transfer (from `MPI4RS_PIPELINE_MIN`, default 8 MiB);
//! - `unpipelined`: the same call with pipelining switched off;
//! - `naive`: the loop a user writes by hand: copy the whole buffer down to pinned memory,
//!   MPI on the host, copy it up, synchronise;
//! - `staged` (ping-pong): the library's send and receive of device buffers.
//!
//! `cargo bench --bench device [-- FILTER]` starts itself under `mpiexec` (the launcher of the
//! linked MPI; `MPIEXEC` overrides it; `MPI4RS_BENCH_NPS` chooses the rank counts, default 2;
//! ping-pong runs between ranks 0 and 1). Every rank runs each block together: rank 0
//! broadcasts (variant, size, iterations) and all meet at a barrier first. Rank 0 runs
//! criterion's groups `device-allreduce-npN/VARIANT/SIZE` and `device-pingpong-npN/VARIANT/SIZE`
//! (a filter that matches nothing, `-- none`, skips them), then the side-by-side table: every
//! variant in turn in `MPI4RS_BENCH_ROUNDS` (default 5) rounds of blocks of at least 20 ms,
//! the order rotated each round, medians per variant, and the ratios to quote: the bound's time
//! over the staged time (the fraction of the copy bound reached; the goal on a GPU is ≥ 0.8 for
//! large allreduces) and the naive loop's time over the staged time (goal ≥ 1.5). Lines that
//! start with `#D` are the summary `ci/gpu.sh` collects.
//!
//! `MPI4RS_BENCH_MAX` (bytes, `K`/`M`/`G` suffixes) drops larger sizes. Without a CUDA driver
//! the bench says so and exits 0; under the CPU double of the driver (`ci/device-double.sh`) it
//! runs, and its figures mean nothing. As criterion decides, without `--bench`
//! (`cargo test --bench device [-- none]`) every block is one iteration: a smoke test.

#[allow(dead_code)] // this bench uses only the launcher of the shared code
mod common;

use criterion::{BenchmarkId, Criterion, Throughput};
use mpi4rs::device::cuda::{self, copy_to_device_async, copy_to_host_async, stream_synchronize};
use mpi4rs::device::cudarc::driver::{CudaSlice, DevicePtr};
use mpi4rs::device::{PinnedBuffer, StreamRef};
use mpi4rs::prelude::*;
use std::cell::RefCell;
use std::ffi::c_void;
use std::time::Duration;

const SIZES: [usize; 7] = [8, 1 << 10, 64 << 10, 1 << 20, 16 << 20, 64 << 20, 256 << 20];

/// The loops a block can run.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Variant {
    Stop,
    Bound,
    Pipelined,
    Unpipelined,
    Naive,
    PingStaged,
    PingNaive,
    PingBound,
}

const ALL: [Variant; 8] = [
    Variant::Stop,
    Variant::Bound,
    Variant::Pipelined,
    Variant::Unpipelined,
    Variant::Naive,
    Variant::PingStaged,
    Variant::PingNaive,
    Variant::PingBound,
];

impl Variant {
    fn name(self) -> &'static str {
        match self {
            Variant::Stop => "stop",
            Variant::Bound | Variant::PingBound => "bound",
            Variant::Pipelined => "pipelined",
            Variant::Unpipelined => "unpipelined",
            Variant::Naive | Variant::PingNaive => "naive",
            Variant::PingStaged => "staged",
        }
    }
}

/// One rank's buffers: device send and receive arrays, pinned host arrays for the bound and
/// the naive loop, all of the largest size.
struct Buffers {
    device: i32,
    send: CudaSlice<f64>,
    recv: CudaSlice<f64>,
    /// The device addresses of `send` and `recv`.
    ptrs: (usize, usize),
    host_a: PinnedBuffer<f64>,
    host_b: PinnedBuffer<f64>,
}

impl Buffers {
    fn ptrs(&self) -> (*mut c_void, *mut c_void) {
        (self.ptrs.0 as *mut c_void, self.ptrs.1 as *mut c_void)
    }

    /// Device send array down into `host_a` (`n` f64), synchronised.
    fn down(&mut self, n: usize) -> mpi4rs::Result<()> {
        let (s, _) = self.ptrs();
        // SAFETY: both arrays hold at least `n` f64; the copy is waited for below.
        unsafe {
            copy_to_host_async(self.device, self.host_a.as_mut_ptr().cast(), s, n * 8, StreamRef::DEFAULT)?
        };
        Ok(stream_synchronize(self.device, StreamRef::DEFAULT)?)
    }

    /// `host_b` up into the device receive array (`n` f64), synchronised.
    fn up(&mut self, n: usize) -> mpi4rs::Result<()> {
        let (_, r) = self.ptrs();
        // SAFETY: as in `down`.
        unsafe {
            copy_to_device_async(self.device, r, self.host_b.as_ptr().cast(), n * 8, StreamRef::DEFAULT)?
        };
        Ok(stream_synchronize(self.device, StreamRef::DEFAULT)?)
    }
}

/// `iters` iterations of `v` at `size` bytes on this rank; the elapsed time.
fn body(world: &Comm, b: &mut Buffers, v: Variant, size: usize, iters: u64) -> mpi4rs::Result<f64> {
    let n = (size / 8).max(1);
    let me = world.rank();
    let ping = |b: &mut Buffers, naive: bool| -> mpi4rs::Result<()> {
        match (me, naive) {
            (0, false) => {
                world.send(&b.send.slice(0..n), 1, 0)?;
                world.recv(&mut b.recv.slice_mut(0..n), 1, 0).map(drop)
            }
            (1, false) => {
                world.recv(&mut b.recv.slice_mut(0..n), 0, 0)?;
                world.send(&b.send.slice(0..n), 0, 0)
            }
            (0, true) => {
                b.down(n)?;
                world.send(&b.host_a[..n], 1, 0)?;
                world.recv(&mut b.host_b[..n], 1, 0)?;
                b.up(n)
            }
            (1, true) => {
                world.recv(&mut b.host_b[..n], 0, 0)?;
                b.up(n)?;
                b.down(n)?;
                world.send(&b.host_a[..n], 0, 0)
            }
            _ => Ok(()),
        }
    };
    mpi4rs::transfer::set_pipelining(v != Variant::Unpipelined);
    let t0 = mpi4rs::wtime();
    for _ in 0..iters {
        match v {
            Variant::Stop => {}
            Variant::Bound | Variant::PingBound => {
                b.down(n)?;
                b.up(n)?;
            }
            Variant::Pipelined | Variant::Unpipelined => {
                let (send, mut recv) = (b.send.slice(0..n), b.recv.slice_mut(0..n));
                world.allreduce(&send, &mut recv, &Op::SUM)?;
            }
            Variant::Naive => {
                b.down(n)?;
                world.allreduce(&b.host_a[..n], &mut b.host_b[..n], &Op::SUM)?;
                b.up(n)?;
            }
            Variant::PingStaged => ping(b, false)?,
            Variant::PingNaive => ping(b, true)?,
        }
    }
    let elapsed = mpi4rs::wtime() - t0;
    mpi4rs::transfer::set_pipelining(true);
    Ok(elapsed)
}

/// Keeps every rank in the same block: rank 0 broadcasts each batch, all meet at a barrier.
struct Driver<'a> {
    world: &'a Comm,
    buffers: Buffers,
}

impl Driver<'_> {
    fn batch(&mut self, v: Variant, size: usize, iters: u64) -> mpi4rs::Result<(Variant, f64)> {
        let code = ALL.iter().position(|&x| x == v).unwrap_or(0) as u64;
        let mut control = [code, size as u64, iters];
        self.world.bcast(&mut control, 0)?;
        let v = ALL.get(control[0] as usize).copied().unwrap_or(Variant::Stop);
        if v == Variant::Stop {
            return Ok((v, 0.0));
        }
        self.world.barrier()?;
        Ok((v, body(self.world, &mut self.buffers, v, control[1] as usize, control[2])?))
    }

    fn run(&mut self, v: Variant, size: usize, iters: u64) -> mpi4rs::Result<f64> {
        self.batch(v, size, iters).map(|(_, t)| t)
    }

    fn follow(&mut self) -> mpi4rs::Result<()> {
        while self.batch(Variant::Stop, 0, 0)?.0 != Variant::Stop {}
        Ok(())
    }

    /// The smallest power-of-two iteration count whose block of `v` lasts `seconds`.
    fn calibrate(&mut self, v: Variant, size: usize, seconds: f64) -> mpi4rs::Result<u64> {
        let mut iters = 1;
        while iters < 1 << 20 && self.run(v, size, iters)? < seconds {
            iters *= 2;
        }
        Ok(iters)
    }
}

/// What one table measures.
struct Table {
    name: &'static str,
    /// Its variants, the staged one (the ratios' denominator) first after the bound.
    variants: &'static [Variant],
    /// Time units per iteration (2 one-way messages per round trip).
    units: f64,
    per: &'static str,
}

const TABLES: [Table; 2] = [
    Table {
        name: "allreduce",
        variants: &[Variant::Bound, Variant::Pipelined, Variant::Unpipelined, Variant::Naive],
        units: 1.0,
        per: "time per call",
    },
    Table {
        name: "pingpong",
        variants: &[Variant::PingBound, Variant::PingStaged, Variant::PingNaive],
        units: 2.0,
        per: "one-way time",
    },
];

fn parse_bytes(s: &str) -> Option<usize> {
    let s = s.trim();
    let (num, mult) = match s.chars().last()? {
        'K' | 'k' => (&s[..s.len() - 1], 1 << 10),
        'M' | 'm' => (&s[..s.len() - 1], 1 << 20),
        'G' | 'g' => (&s[..s.len() - 1], 1 << 30),
        _ => (s, 1),
    };
    num.parse::<usize>().ok()?.checked_mul(mult)
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

/// Rank 0: criterion's groups, then the side-by-side tables.
fn lead(d: &mut Driver<'_>, sizes: &[usize]) -> Result<(), Box<dyn std::error::Error>> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let has = |flag: &str| args.iter().any(|a| a == flag);
    let test_mode = !has("--bench") || has("--test");
    let np = d.world.size();
    let mut c = Criterion::default()
        .warm_up_time(Duration::from_millis(300))
        .measurement_time(Duration::from_secs(1))
        .sample_size(10)
        .configure_from_args();
    let failure = RefCell::new(None);
    for t in &TABLES {
        let mut g = c.benchmark_group(format!("device-{}-np{np}", t.name));
        for &size in sizes {
            g.throughput(Throughput::Bytes(size as u64));
            for &v in t.variants {
                g.bench_function(BenchmarkId::new(v.name(), size), |bencher| {
                    bencher.iter_custom(|iters| {
                        if failure.borrow().is_some() {
                            return Duration::ZERO;
                        }
                        match d.run(v, size, iters) {
                            Ok(s) => Duration::from_secs_f64(s / t.units),
                            Err(e) => {
                                *failure.borrow_mut() = Some(e);
                                Duration::ZERO
                            }
                        }
                    })
                });
            }
        }
        g.finish();
    }
    c.final_summary();
    if let Some(e) = failure.into_inner() {
        return Err(e.into());
    }
    if has("--list") {
        return Ok(());
    }
    let rounds = match std::env::var("MPI4RS_BENCH_ROUNDS") {
        _ if test_mode => 1,
        Err(_) => 5,
        Ok(s) => s.parse().ok().filter(|&r: &usize| r > 0).ok_or(format!("MPI4RS_BENCH_ROUNDS: {s}"))?,
    };
    let library = mpi4rs::library_version()?.lines().next().unwrap_or("").to_string();
    let gpu = cuda::context(d.buffers.device)?.name().unwrap_or_default();
    let cuda_aware = mpi4rs::transfer::cuda_aware();
    println!(
        "\n#D device bench, {np} ranks on {gpu}, {library}, CUDA-aware: {cuda_aware}, pipeline from {} B in \
         {} B chunks, {rounds} round(s){}",
        mpi4rs::transfer::pipeline_min_bytes(),
        mpi4rs::transfer::pipeline_chunk_bytes(),
        if test_mode { " (test mode: one iteration per block, a smoke test, not a measurement)" } else { "" }
    );
    for t in &TABLES {
        if t.name == "pingpong" && np < 2 {
            continue;
        }
        let heads: Vec<String> =
            t.variants.iter().map(|v| format!("{:>12}", format!("{} [us]", v.name()))).collect();
        println!("#D {} ({}, medians of the blocks):", t.name, t.per);
        println!("#D {:>10} {} {:>12} {:>12}", "size [B]", heads.join(" "), "bound/staged", "naive/staged");
        for &size in sizes {
            let mut iters = Vec::new();
            for &v in t.variants {
                iters.push(if test_mode { 1 } else { d.calibrate(v, size, 0.02)? });
            }
            let mut times: Vec<Vec<f64>> = vec![Vec::new(); t.variants.len()];
            for round in 0..rounds {
                for k in 0..t.variants.len() {
                    let k = (k + round) % t.variants.len();
                    let s = d.run(t.variants[k], size, iters[k])?;
                    times[k].push(s / (t.units * iters[k] as f64));
                }
            }
            let med: Vec<f64> = times.iter_mut().map(|x| median(x)).collect();
            let cols: Vec<String> = med.iter().map(|m| format!("{:>16.2}", m * 1e6)).collect();
            // The bound is first, the library's staged path second, the naive loop last.
            let (bound, staged, naive) = (med[0], med[1], med[med.len() - 1]);
            println!("#D {size:>10} {} {:>12.3} {:>12.3}", cols.join(" "), bound / staged, naive / staged);
        }
    }
    Ok(())
}

fn main() -> Result<(), Box<dyn std::error::Error>> {
    if let Err(e) = cuda::probe() {
        println!("device bench: skipped, no CUDA driver ({e})");
        return Ok(());
    }
    common::launch_unless_rank(&common::nps(&[2])?)?;
    let env = mpi4rs::init()?;
    let world = env.world();
    let max = match std::env::var("MPI4RS_BENCH_MAX") {
        Ok(s) => parse_bytes(&s).ok_or(format!("MPI4RS_BENCH_MAX: {s}"))?,
        Err(_) => usize::MAX,
    };
    let sizes: Vec<usize> = SIZES.into_iter().filter(|&s| s <= max).collect();
    let n = sizes.iter().copied().max().unwrap_or(8) / 8;
    let node = world.split_shared(0)?;
    let info = cuda::probe()?;
    let device = node.rank() % info.devices;
    let stream = cuda::context(device)?.default_stream();
    let fail = |e: mpi4rs::device::cudarc::driver::DriverError| format!("cudarc: {e:?}");
    let host: Vec<f64> = (0..n).map(|i| (i % 100) as f64 + world.rank() as f64).collect();
    let send = stream.clone_htod(&host).map_err(fail)?;
    let recv = stream.alloc_zeros::<f64>(n).map_err(fail)?;
    let ptrs = {
        let (s, _g) = send.device_ptr(&stream);
        let (r, _h) = recv.device_ptr(&stream);
        (s as usize, r as usize)
    };
    let buffers = Buffers {
        send,
        recv,
        ptrs,
        host_a: PinnedBuffer::zeroed(n)?,
        host_b: PinnedBuffer::zeroed(n)?,
        device,
    };
    stream_synchronize(device, StreamRef::DEFAULT)?;
    let mut d = Driver { world, buffers };
    if world.rank() != 0 {
        return Ok(d.follow()?);
    }
    let outcome = lead(&mut d, &sizes);
    let stopped = d.run(Variant::Stop, 0, 0);
    outcome?;
    stopped?;
    Ok(())
}
