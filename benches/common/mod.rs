//! What the benches share: starting themselves under `mpiexec`, the control broadcast that
//! keeps every rank in the same loop, the criterion groups, and the paired side-by-side
//! comparison of mpi4rs against the same loop in C.
//!
//! Each bench supplies one `body(variant, size, iters) -> elapsed seconds` that every rank runs
//! with the same arguments at the same time, and a [`Plan`]. Rank 0 decides what runs next
//! (`Driver::run`): it broadcasts the batch (variant, size, iterations) to the others, who
//! wait for it in `Driver::follow`, and every rank then passes a barrier, so the timed loops
//! start together. The times quoted are rank 0's. [`run`] is every rank's whole part; on rank 0
//! it runs criterion's groups, prints their ratios, then the side-by-side pairs, which are the
//! figures to quote.

use criterion::{AxisScale, BenchmarkId, Criterion, PlotConfiguration, Throughput};
use mpi4rs::launcher::Launcher;
use mpi4rs::prelude::*;
use std::cell::RefCell;
use std::collections::BTreeMap;
use std::ffi::c_int;
use std::time::Duration;

/// Set in the environment of the ranks, so a bench knows it is not the launcher.
const CHILD: &str = "MPI4RS_BENCH_CHILD";

/// In the process cargo started (the launcher): runs this binary, with the same arguments,
/// under `mpiexec` at each rank count of `nps` in turn, then exits with the first failure's
/// code (0 when all succeed); it never returns there. In a rank it returns at once.
///
/// Where every rank has a core of its own, Open MPI busy-polls as a C program does by
/// default; oversubscribed, the ranks yield when idle (the launcher's default).
pub fn launch_unless_rank(nps: &[usize]) -> Result<(), Box<dyn std::error::Error>> {
    if std::env::var_os(CHILD).is_some() {
        return Ok(());
    }
    let exe = std::env::current_exe()?;
    let args: Vec<String> = std::env::args().skip(1).collect();
    let args: Vec<&str> = args.iter().map(String::as_str).collect();
    let launcher = Launcher::detect()?;
    let cores = std::thread::available_parallelism().map_or(1, usize::from);
    for &np in nps {
        let mut cmd = launcher.command(np, &exe, &args);
        cmd.env(CHILD, "1");
        if np <= cores {
            cmd.env("OMPI_MCA_mpi_yield_when_idle", "0");
        }
        let status = cmd.status()?;
        if !status.success() {
            std::process::exit(status.code().unwrap_or(1));
        }
    }
    std::process::exit(0)
}

/// Which loop a batch runs.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub enum Variant {
    Stop = 0,
    Rust = 1,
    C = 2,
}

/// Runs the bench's `body` on every rank with the arguments rank 0 chooses.
struct Driver<'a, F> {
    world: &'a Comm,
    body: F,
}

impl<'a, F> Driver<'a, F>
where
    F: FnMut(Variant, usize, u64) -> mpi4rs::Result<f64>,
{
    fn new(world: &'a Comm, body: F) -> Self {
        Driver { world, body }
    }

    /// Everyone agrees on the batch rank 0 passes in, meets at a barrier and runs it; the
    /// elapsed time of the loop on this rank.
    fn batch(&mut self, v: Variant, size: usize, iters: u64) -> mpi4rs::Result<(Variant, f64)> {
        let mut control = [v as u64, size as u64, iters];
        self.world.bcast(&mut control, 0)?;
        let [v, size, iters] = control;
        let v = match v {
            1 => Variant::Rust,
            2 => Variant::C,
            _ => return Ok((Variant::Stop, 0.0)),
        };
        self.world.barrier()?;
        Ok((v, (self.body)(v, size as usize, iters)?))
    }

    /// Rank 0: runs `iters` iterations of `v` at `size` on every rank; rank 0's elapsed time.
    fn run(&mut self, v: Variant, size: usize, iters: u64) -> mpi4rs::Result<f64> {
        self.batch(v, size, iters).map(|(_, t)| t)
    }

    /// The other ranks: run whatever rank 0 asks for until it stops.
    fn follow(&mut self) -> mpi4rs::Result<()> {
        while self.batch(Variant::Stop, 0, 0)?.0 != Variant::Stop {}
        Ok(())
    }

    /// Rank 0: releases the followers (also after an error, so the job ends).
    fn stop(&mut self) -> mpi4rs::Result<()> {
        self.run(Variant::Stop, 0, 0).map(drop)
    }

    /// Rank 0: the smallest power-of-two iteration count whose C loop takes at least
    /// `seconds`, so that a block is long enough to time and short enough to pair.
    fn calibrate(&mut self, size: usize, seconds: f64) -> mpi4rs::Result<u64> {
        let mut iters = 1;
        while iters < 1 << 30 && self.run(Variant::C, size, iters)? < seconds {
            iters *= 2;
        }
        Ok(iters)
    }
}

/// What rank 0 measures and prints.
pub struct Plan<'a> {
    /// Criterion's group: benchmarks `GROUP/mpi4rs/SIZE` and `GROUP/c/SIZE`.
    pub group: &'a str,
    /// What is measured, for the headings ("2 ranks, allreduce (sum, f64)").
    pub label: &'a str,
    /// Message sizes in bytes.
    pub sizes: &'a [usize],
    /// Units of time per iteration: 2 messages in a round trip, 1 call of a collective.
    pub units: f64,
    /// What the times are ("one-way time", "time per call").
    pub per: &'a str,
    /// Iterations per side-by-side block at a size; `None`: calibrated so that a block of the
    /// C loop lasts at least [`BLOCK`] seconds.
    pub iters: fn(usize) -> Option<u64>,
    /// The target at a size for the time ratio mpi4rs / C, printed after each row.
    pub verdict: fn(usize, f64) -> String,
}

/// The shortest calibrated side-by-side block, in seconds.
const BLOCK: f64 = 0.05;

/// Every rank: rank 0 measures as `plan` says, running `body` on all ranks; the others follow.
pub fn run<F>(world: &Comm, plan: &Plan<'_>, body: F) -> Result<(), Box<dyn std::error::Error>>
where
    F: FnMut(Variant, usize, u64) -> mpi4rs::Result<f64>,
{
    let mut driver = Driver::new(world, body);
    if world.rank() != 0 {
        return Ok(driver.follow()?);
    }
    lead(&mut driver, plan)
}

/// Rank 0: criterion's groups (a filter that matches nothing, `-- none`, skips them), the
/// ratios from their batches, then `MPI4RS_BENCH_ROUNDS` (default 15) side-by-side pairs per
/// size; finally releases the other ranks, also after an error. As criterion decides, without
/// `--bench` (`cargo test --benches`) or with `--test` each benchmark runs once; the
/// side-by-side part is then one pair of one-iteration blocks, a smoke test.
fn lead<F>(driver: &mut Driver<'_, F>, plan: &Plan<'_>) -> Result<(), Box<dyn std::error::Error>>
where
    F: FnMut(Variant, usize, u64) -> mpi4rs::Result<f64>,
{
    let args: Vec<String> = std::env::args().skip(1).collect();
    let has = |flag: &str| args.iter().any(|a| a == flag);
    let test_mode = !has("--bench") || has("--test");
    let outcome = (|| -> Result<(), Box<dyn std::error::Error>> {
        let totals = criterion_benches(driver, plan)?;
        if has("--list") {
            return Ok(());
        }
        let means = criterion_means(&totals, plan.sizes);
        if !test_mode && !means.is_empty() {
            println!(
                "\n{}, mpi4rs / C from the criterion batches (mean {} over all batches; the \
                 benchmarks run one after the other, so machine drift shows in these ratios):",
                plan.label, plan.per
            );
            print_header();
            for (size, c, r) in means {
                print_row(size, c, r, r / c, &(plan.verdict)(size, r / c));
            }
        }
        let rounds = match mpi4rs::device::env::count_var("MPI4RS_BENCH_ROUNDS")? {
            _ if test_mode => 1,
            None => 15,
            Some(0) => return Err("MPI4RS_BENCH_ROUNDS=0: expected at least 1".into()),
            Some(r) => r,
        };
        if test_mode {
            println!("\n(test mode: one pair of blocks per size, a smoke test, not a measurement)");
        }
        println!(
            "\n{}, mpi4rs / C side by side ({rounds} alternating pair(s) of blocks; medians of the {} \
             and of the paired ratios; {}):",
            plan.label,
            plan.per,
            mpi4rs::library_version()?.lines().next().unwrap_or("")
        );
        print_header();
        for &size in plan.sizes {
            let iters = match (plan.iters)(size) {
                _ if test_mode => 1,
                Some(n) => n,
                None => driver.calibrate(size, BLOCK)?,
            };
            let p = paired(driver, size, iters, plan.units, rounds)?;
            let verdict = if test_mode { String::new() } else { (plan.verdict)(size, p.ratio) };
            print_row(size, p.c, p.rust, p.ratio, &verdict);
            if let Some((lo, hi)) = p.middle {
                println!("{:>10} middle half of the paired ratios: {lo:.3} .. {hi:.3}", "");
            }
        }
        Ok(())
    })();
    let stopped = driver.stop();
    outcome?;
    Ok(stopped?)
}

/// Total time per unit and unit count of each (variant, size) over all criterion batches.
type Totals = BTreeMap<(Variant, usize), (f64, u64)>;

/// Rank 0: criterion's group of the plan, reporting the time per unit.
fn criterion_benches<F>(driver: &mut Driver<'_, F>, plan: &Plan<'_>) -> mpi4rs::Result<Totals>
where
    F: FnMut(Variant, usize, u64) -> mpi4rs::Result<f64>,
{
    let mut c = Criterion::default()
        .warm_up_time(Duration::from_millis(500))
        .measurement_time(Duration::from_secs(2))
        .sample_size(10)
        .configure_from_args();
    // iter_custom must return a Duration: the first MPI error is kept and returned after.
    let failure = RefCell::new(None);
    let totals = RefCell::new(Totals::new());
    let (units, mut g) = (plan.units, c.benchmark_group(plan.group));
    // The HTML report (target/criterion/report/index.html) draws the sizes on a log axis.
    g.plot_config(PlotConfiguration::default().summary_scale(AxisScale::Logarithmic));
    for &size in plan.sizes {
        g.throughput(Throughput::Bytes(size as u64));
        for (name, v) in [("mpi4rs", Variant::Rust), ("c", Variant::C)] {
            g.bench_function(BenchmarkId::new(name, size), |bencher| {
                bencher.iter_custom(|iters| {
                    if failure.borrow().is_some() {
                        return Duration::ZERO;
                    }
                    match driver.run(v, size, iters) {
                        Ok(t) => {
                            let e = &mut *totals.borrow_mut();
                            let e = e.entry((v, size)).or_default();
                            e.0 += t / units;
                            e.1 += iters;
                            Duration::from_secs_f64(t / units)
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
    g.finish();
    c.final_summary();
    match failure.into_inner() {
        Some(e) => Err(e),
        None => Ok(totals.into_inner()),
    }
}

/// The mean time per unit of mpi4rs and C at each size over the criterion batches, for the
/// sizes that have both.
fn criterion_means(totals: &Totals, sizes: &[usize]) -> Vec<(usize, f64, f64)> {
    let mean = |v, size| totals.get(&(v, size)).filter(|e| e.1 > 0).map(|&(t, n)| t / n as f64);
    sizes
        .iter()
        .filter_map(|&size| Some((size, mean(Variant::C, size)?, mean(Variant::Rust, size)?)))
        .collect()
}

/// One size measured side by side: medians of the times per unit and of the paired ratios.
struct Paired {
    c: f64,
    rust: f64,
    /// Median over the pairs of mpi4rs time / C time.
    ratio: f64,
    /// The middle half of the paired ratios (with at least 4 pairs).
    middle: Option<(f64, f64)>,
}

/// Rank 0: both loops alternately, `rounds` pairs of blocks of `iters` iterations, the order
/// swapped every pair (so neither always follows the other's warm-up). Adjacent blocks see
/// the machine in the same state, so the median of the paired ratios holds even when the
/// machine's speed changes during the run (on the project's VM it jumps between two levels,
/// up to 4× apart, every few seconds).
fn paired<F>(
    driver: &mut Driver<'_, F>,
    size: usize,
    iters: u64,
    units: f64,
    rounds: usize,
) -> mpi4rs::Result<Paired>
where
    F: FnMut(Variant, usize, u64) -> mpi4rs::Result<f64>,
{
    let (mut tc, mut tr, mut ratios) = (Vec::new(), Vec::new(), Vec::new());
    for round in 0..rounds {
        let order = if round % 2 == 0 { [Variant::C, Variant::Rust] } else { [Variant::Rust, Variant::C] };
        let (mut c, mut r) = (0.0, 0.0);
        for v in order {
            let t = driver.run(v, size, iters)? / (units * iters as f64);
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
    // `ratios` is sorted now.
    let middle = (rounds >= 4).then(|| (ratios[rounds / 4], ratios[rounds - 1 - rounds / 4]));
    Ok(Paired { c: median(&mut tc), rust: median(&mut tr), ratio, middle })
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

fn print_header() {
    println!(
        "{:>10} {:>11} {:>11} {:>10} {:>13} {:>8}",
        "size [B]", "C [us]", "mpi4rs [us]", "C [MB/s]", "mpi4rs [MB/s]", "time r/c"
    );
}

/// One size: the times per unit and bandwidths, the time ratio mpi4rs / C and `verdict`.
fn print_row(size: usize, c: f64, r: f64, ratio: f64, verdict: &str) {
    let mbs = |t: f64| size as f64 / t / 1e6;
    println!(
        "{size:>10} {:>11.3} {:>11.3} {:>10.1} {:>13.1} {:>8.3}  {verdict}",
        c * 1e6,
        r * 1e6,
        mbs(c),
        mbs(r),
        ratio,
    );
}

/// Runs a C loop that takes an `int` iteration count for `iters` iterations in all, in
/// chunks of at most `INT_MAX`; the total elapsed time.
pub fn c_chunks(iters: u64, mut c_loop: impl FnMut(c_int) -> f64) -> f64 {
    let mut elapsed = 0.0;
    let mut left = iters;
    while left > 0 {
        let chunk = left.min(c_int::MAX as u64);
        elapsed += c_loop(chunk as c_int);
        left -= chunk;
    }
    elapsed
}

/// `iters` round trips of `send` (rank 0 to 1 and back, into `recv`) with mpi4rs blocking
/// sends; the elapsed time. The buffer side of the pingpong and object benches.
#[allow(dead_code)] // not every bench that includes this module uses it
pub fn buffer_round_trips(world: &Comm, send: &[u8], recv: &mut [u8], iters: u64) -> mpi4rs::Result<f64> {
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

/// The rank counts to run a bench at: `MPI4RS_BENCH_NPS` (comma-separated), else `default`.
#[allow(dead_code)] // not every bench that includes this module uses it
pub fn nps(default: &[usize]) -> Result<Vec<usize>, String> {
    match std::env::var("MPI4RS_BENCH_NPS") {
        Err(_) => Ok(default.to_vec()),
        Ok(s) => {
            s.split(',').map(|n| n.trim().parse().map_err(|_| format!("MPI4RS_BENCH_NPS: {s}"))).collect()
        }
    }
}
