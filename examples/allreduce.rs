//! The main job: an allreduce (sum) of `f64` arrays over all ranks, checked against the known
//! answer, timed per message size, and compared in the same run with the same loop written in
//! C (`benches/c/allreduce.c`, which build.rs links into the examples).
//!
//! `mpiexec -n 4 target/release/examples/allreduce [-m MIN] [-n MAX] [--sizes LIST] [-s SKIP]
//! [-l LOOP] [--skip-large N] [--loop-large N] [--large-size B] [--skip-huge N]
//! [--loop-huge N] [--huge-size B] [--pairs P] [--no-compare-c] [-a host|cuda|auto] [-q]`
//!
//! `-a cuda` (the default where a GPU is present: `auto`) runs the same loops on cudarc device
//! arrays, one GPU per rank of a node (ranks share GPUs when there are fewer); the C
//! comparison is then left out, and the header says whether the MPI is CUDA-aware (direct
//! path) or not (staged path). `BW` is bytes per second of one rank's array.
//!
//! Sizes are in bytes (whole `f64`s): by default 8 B, 64 B, 1 KiB, 64 KiB, 1 MiB and 16 MiB,
//! those between `-m` and `-n`, or the comma-separated `--sizes` (`K`, `M`, `G` suffixes are
//! powers of 1024). Skip and loop counts follow `mpi4py.bench pingpong`: SKIP untimed and LOOP
//! timed calls (100 / 10000), at most 10 / 1000 above `--large-size` (16 KiB) and 1 / 10 above
//! `--huge-size` (1 MiB).
//!
//! Rank *r* contributes `send[i] = r + i`, so every rank must receive
//! `recv[i] = n·i + n(n−1)/2` (exact in `f64` at these sizes); each size is checked on every
//! rank after its timed loops, and a wrong element anywhere ends the job with an error.
//!
//! Columns: `mpi4rs [us]` and `C [us]` are the time per call, the whole timed loop divided by
//! LOOP, of the slowest rank. With the C comparison (the default; `--no-compare-c` drops it),
//! the timed loop runs as `--pairs` (default 5) pairs of adjacent blocks, mpi4rs and C
//! alternately, the order swapped every pair; `mpi4rs/C` is the median over the pairs of the
//! ratio of their times, which a machine whose speed drifts during the run affects far less
//! than a ratio of two separate runs.

use mpi4rs::ffi::MPI_Comm;
use mpi4rs::prelude::*;
use std::ffi::c_int;
use std::process::ExitCode;

extern "C" {
    /// `iters` MPI_Allreduce(SUM) of `count` doubles; returns the elapsed time.
    fn mpi4rs_c_allreduce(comm: MPI_Comm, s: *const f64, r: *mut f64, count: c_int, iters: c_int) -> f64;
}

type Error = Box<dyn std::error::Error>;

const USAGE: &str = "usage: allreduce [-q] [-a host|cuda|auto] [-m MIN_SIZE] [-n MAX_SIZE] [--sizes B,B,..] \
[-s SKIP] [-l LOOP] [--skip-large N] [--loop-large N] [--large-size B] [--skip-huge N] [--loop-huge N] \
[--huge-size B] [--pairs P] [--no-compare-c]";

const DEFAULT_SIZES: [u64; 6] = [8, 64, 1 << 10, 64 << 10, 1 << 20, 16 << 20];

struct Options {
    sizes: Vec<u64>,
    skip: u64,
    loops: u64,
    skip_large: u64,
    loop_large: u64,
    large_size: u64,
    skip_huge: u64,
    loop_huge: u64,
    huge_size: u64,
    pairs: u64,
    compare_c: bool,
    verbose: bool,
    /// Where the arrays live: `None` is auto (the GPU when CUDA is available).
    device: Option<bool>,
}

/// A byte count, with an optional `K`, `M` or `G` (powers of 1024) suffix.
fn bytes(name: &str, v: &str) -> Result<u64, Error> {
    let (digits, shift) = match v.char_indices().last() {
        Some((i, 'K' | 'k')) => (&v[..i], 10),
        Some((i, 'M' | 'm')) => (&v[..i], 20),
        Some((i, 'G' | 'g')) => (&v[..i], 30),
        _ => (v, 0),
    };
    let n: u64 = digits.parse().map_err(|_| format!("{name}: not a size: {v}\n{USAGE}"))?;
    n.checked_mul(1 << shift).ok_or_else(|| format!("{name}: too large: {v}").into())
}

fn parse() -> Result<Options, Error> {
    let mut o = Options {
        sizes: DEFAULT_SIZES.to_vec(),
        skip: 100,
        loops: 10_000,
        skip_large: 10,
        loop_large: 1000,
        large_size: 16 << 10,
        skip_huge: 1,
        loop_huge: 10,
        huge_size: 1 << 20,
        pairs: 5,
        compare_c: true,
        verbose: true,
        device: None,
    };
    let (mut min, mut max) = (0, u64::MAX);
    let mut args = std::env::args().skip(1);
    while let Some(a) = args.next() {
        let mut value = || args.next().ok_or_else(|| format!("{a} needs a value\n{USAGE}"));
        match a.as_str() {
            "-m" | "--min-size" => min = bytes(&a, &value()?)?,
            "-n" | "--max-size" => max = bytes(&a, &value()?)?,
            "--sizes" => {
                o.sizes = value()?.split(',').map(|s| bytes(&a, s.trim())).collect::<Result<_, _>>()?
            }
            "-s" | "--skip" => o.skip = bytes(&a, &value()?)?,
            "-l" | "--loop" => o.loops = bytes(&a, &value()?)?,
            "--skip-large" => o.skip_large = bytes(&a, &value()?)?,
            "--loop-large" => o.loop_large = bytes(&a, &value()?)?,
            "--large-size" => o.large_size = bytes(&a, &value()?)?,
            "--skip-huge" => o.skip_huge = bytes(&a, &value()?)?,
            "--loop-huge" => o.loop_huge = bytes(&a, &value()?)?,
            "--huge-size" => o.huge_size = bytes(&a, &value()?)?,
            "--pairs" => o.pairs = bytes(&a, &value()?)?.max(1),
            "--compare-c" => o.compare_c = true,
            "--no-compare-c" => o.compare_c = false,
            "-q" | "--quiet" => o.verbose = false,
            // mpi4py.bench's -a: numpy (host), cupy (device); plus host/cuda/auto.
            "-a" | "--array" => match value()?.as_str() {
                "host" | "numpy" => o.device = Some(false),
                "cuda" | "cupy" | "device" => o.device = Some(true),
                "auto" => o.device = None,
                kind => return Err(format!("--array {kind}: host, cuda or auto\n{USAGE}").into()),
            },
            "-h" | "--help" => return Err(USAGE.into()),
            _ => return Err(format!("unknown option {a}\n{USAGE}").into()),
        }
    }
    o.sizes.retain(|s| (min..=max).contains(s));
    if let Some(s) = o.sizes.iter().find(|&&s| s == 0 || s % 8 != 0) {
        return Err(format!("size {s}: sizes are whole f64s, positive multiples of 8 bytes").into());
    }
    Ok(o)
}

/// `iters` allreduces with mpi4rs, on host or device arrays; the elapsed time.
fn rust_loop(world: &Comm, arrays: &mut Arrays, iters: u64) -> mpi4rs::Result<f64> {
    let t0 = mpi4rs::wtime();
    match arrays {
        Arrays::Host(send, recv) => {
            for _ in 0..iters {
                world.allreduce(send, recv, &Op::SUM)?;
            }
        }
        #[cfg(feature = "cuda")]
        Arrays::Cuda(send, recv) => {
            for _ in 0..iters {
                world.allreduce(send, recv, &Op::SUM)?;
            }
        }
    }
    Ok(mpi4rs::wtime() - t0)
}

/// The send and receive arrays of one size: host `Vec`s, or cudarc device slices.
enum Arrays {
    Host(Vec<f64>, Vec<f64>),
    #[cfg(feature = "cuda")]
    Cuda(mpi4rs::device::cudarc::driver::CudaSlice<f64>, mpi4rs::device::cudarc::driver::CudaSlice<f64>),
}

impl Arrays {
    fn new(send: Vec<f64>, device: Option<i32>) -> Result<Arrays, Error> {
        let n = send.len();
        match device {
            None => Ok(Arrays::Host(send, vec![0.0; n])),
            #[cfg(feature = "cuda")]
            Some(d) => {
                let stream = mpi4rs::device::cuda::context(d)?.default_stream();
                Ok(Arrays::Cuda(stream.clone_htod(&send)?, stream.alloc_zeros::<f64>(n)?))
            }
            #[cfg(not(feature = "cuda"))]
            Some(_) => Err("built without the cuda feature".into()),
        }
    }

    /// The receive array, copied to the host.
    fn result(&self) -> Result<Vec<f64>, Error> {
        match self {
            Arrays::Host(_, recv) => Ok(recv.clone()),
            #[cfg(feature = "cuda")]
            Arrays::Cuda(_, recv) => Ok(recv.stream().clone_dtoh(recv)?),
        }
    }

    /// Fills the receive array with NaN (so the check sees only what the allreduce wrote).
    fn poison(&mut self) -> Result<(), Error> {
        match self {
            Arrays::Host(_, recv) => recv.fill(f64::NAN),
            #[cfg(feature = "cuda")]
            Arrays::Cuda(_, recv) => {
                let stream = recv.stream().clone();
                stream.memcpy_htod(&vec![f64::NAN; recv.len()], recv)?;
            }
        }
        Ok(())
    }
}

/// The GPU this rank uses (its rank among the processes of its node, modulo the device
/// count), or `None` for host arrays.
fn pick_device(world: &Comm, o: &Options) -> Result<Option<i32>, Error> {
    let available = mpi4rs::device::cuda::probe();
    let want = o.device.unwrap_or(available.is_ok());
    if !want {
        return Ok(None);
    }
    let info = available?;
    let node = world.split_shared(0)?;
    Ok(Some(node.rank() % info.devices))
}

/// `iters` allreduces with the C loop; the elapsed time.
fn c_loop(world: &Comm, send: &[f64], recv: &mut [f64], iters: u64) -> Result<f64, Error> {
    let count = c_int::try_from(send.len().min(recv.len()))?;
    let iters = c_int::try_from(iters)?;
    // SAFETY: both buffers hold at least `count` doubles and outlive the call; the C loop only
    // hands them to MPI_Allreduce on a valid communicator.
    Ok(unsafe { mpi4rs_c_allreduce(world.as_raw(), send.as_ptr(), recv.as_mut_ptr(), count, iters) })
}

/// The slowest rank's times of one pair of blocks (mpi4rs, C).
fn slowest(world: &Comm, times: [f64; 2]) -> mpi4rs::Result<[f64; 2]> {
    let mut max = [0.0; 2];
    world.allreduce(&times, &mut max, &Op::MAX)?;
    Ok(max)
}

/// One size: the mpi4rs and C time per call, the median paired ratio (C: `None` without the
/// comparison) and the number of wrong elements over all ranks.
struct Row {
    rust: f64,
    c: Option<(f64, f64)>,
    wrong: u64,
}

fn measure(
    world: &Comm,
    o: &Options,
    device: Option<i32>,
    count: usize,
    skip: u64,
    loops: u64,
) -> Result<Row, Error> {
    let (rank, n) = (world.rank() as f64, world.size() as f64);
    // The same loops and check on host arrays or on device arrays (`-a cuda`; the default
    // when a GPU is present), which the library stages or hands to a CUDA-aware MPI.
    let send: Vec<f64> = (0..count).map(|i| rank + i as f64).collect();
    let mut recv = vec![0.0; count];
    let mut arrays = Arrays::new(send.clone(), device)?;
    let compare_c = o.compare_c && device.is_none();

    rust_loop(world, &mut arrays, skip)?;
    if compare_c {
        c_loop(world, &send, &mut recv, skip)?;
    }
    let pairs = if compare_c { o.pairs.min(loops.max(1)) } else { 1 };
    let (mut total, mut ratios) = ([0.0; 2], Vec::new());
    for p in 0..pairs {
        let iters = loops / pairs + u64::from(p < loops % pairs);
        world.barrier()?;
        // t[0]: mpi4rs, t[1]: C. Alternate which goes first, so neither always follows the
        // other's warm-up.
        let mut t = [0.0; 2];
        for which in if p % 2 == 0 { [0, 1] } else { [1, 0] } {
            if which == 0 {
                t[0] = rust_loop(world, &mut arrays, iters)?;
            } else if compare_c {
                t[1] = c_loop(world, &send, &mut recv, iters)?;
            }
        }
        let t = slowest(world, t)?;
        total = [total[0] + t[0], total[1] + t[1]];
        if iters > 0 && t[1] > 0.0 {
            ratios.push(t[0] / t[1]);
        }
    }

    // The check: a fresh mpi4rs call into a poisoned buffer, against the known answer.
    arrays.poison()?;
    rust_loop(world, &mut arrays, 1)?;
    let recv = arrays.result()?;
    let base = n * (n - 1.0) / 2.0;
    let wrong = recv.iter().enumerate().filter(|&(i, &x)| x != n * i as f64 + base).count() as u64;
    let mut wrong_all = 0u64;
    world.allreduce(&wrong, &mut wrong_all, &Op::SUM)?;

    let per_call = |t: f64| if loops > 0 { t / loops as f64 } else { f64::NAN };
    let c = compare_c.then(|| (per_call(total[1]), median(&mut ratios)));
    Ok(Row { rust: per_call(total[0]), c, wrong: wrong_all })
}

fn median(xs: &mut [f64]) -> f64 {
    xs.sort_by(f64::total_cmp);
    match xs.len() {
        0 => f64::NAN,
        n if n % 2 == 1 => xs[n / 2],
        n => (xs[n / 2 - 1] + xs[n / 2]) / 2.0,
    }
}

fn main() -> ExitCode {
    // `--help`/`-h` before MPI starts: usage, exit 0 (tests/examples.rs checks every example).
    if std::env::args().skip(1).any(|a| a == "--help" || a == "-h") {
        println!("The main job: an allreduce (sum) of `f64` arrays over all ranks, checked against the known answer, timed per message size, and compared in the same run with the same loop written in C (`benches/c/allreduce.c`, which build.rs links into the examples).\n\n{USAGE}");
        std::process::exit(0);
    }
    let o = match parse() {
        Ok(o) => o,
        Err(e) => {
            eprintln!("{e}");
            return ExitCode::from(2);
        }
    };
    match run(&o) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("allreduce: {e}");
            ExitCode::FAILURE
        }
    }
}

fn run(o: &Options) -> Result<(), Error> {
    let env = mpi4rs::init()?;
    let world = env.world();
    if let Err(e) = table(world, o) {
        // The other ranks may be waiting in a collective for this one: end the whole job.
        eprintln!("allreduce: rank {}: {e}", world.rank());
        world.abort(1)?;
    }
    Ok(())
}

/// Every size in turn: measure, check, and print a row on rank 0.
fn table(world: &Comm, o: &Options) -> Result<(), Error> {
    let root = world.rank() == 0 && o.verbose;
    let device = pick_device(world, o)?;
    let compare_c = o.compare_c && device.is_none();
    if root {
        let library = mpi4rs::library_version()?;
        let arrays = match device {
            None => "host arrays".to_string(),
            Some(_) => format!(
                "CUDA device arrays, {} MPI: {} path",
                if mpi4rs::transfer::cuda_aware() { "CUDA-aware" } else { "non-CUDA-aware" },
                if mpi4rs::transfer::cuda_aware() { "direct" } else { "staged" }
            ),
        };
        println!("# mpi4rs allreduce (sum of f64, {arrays}) on {} processes", world.size());
        println!("# {}", library.lines().next().unwrap_or("").trim());
        let c = if compare_c { "        C [us]  mpi4rs/C" } else { "" };
        println!(
            "# {:>8} {:>9} {:>7} {:>13} {:>10}{c}  check",
            "Size [B]", "Count", "Loop", "mpi4rs [us]", "BW [MB/s]"
        );
    }
    let (mut skip, mut loops) = (o.skip, o.loops);
    for &size in &o.sizes {
        if size > o.large_size {
            skip = skip.min(o.skip_large);
            loops = loops.min(o.loop_large);
        }
        if size > o.huge_size {
            skip = skip.min(o.skip_huge);
            loops = loops.min(o.loop_huge);
        }
        let count = usize::try_from(size / 8)?;
        let row = measure(world, o, device, count, skip, loops)?;
        if row.wrong > 0 {
            return Err(format!("allreduce of {size} B: {} wrong elements over all ranks", row.wrong).into());
        }
        if root {
            let c = row.c.map_or(String::new(), |(c, ratio)| format!(" {:>13.3} {ratio:>9.3}", c * 1e6));
            let bw = size as f64 / row.rust / 1e6;
            println!("{size:>10} {count:>9} {loops:>7} {:>13.3} {bw:>10.1}{c}  ok", row.rust * 1e6);
        }
    }
    if root {
        println!("# check: every rank received sum over ranks r of (r + i) in every element i");
        if compare_c {
            println!(
                "# mpi4rs/C: median over {} pairs of adjacent blocks of the ratio of their times",
                o.pairs
            );
        }
    }
    Ok(())
}
