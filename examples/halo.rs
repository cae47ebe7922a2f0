//! Halo exchange speed: one `neighbor_alltoall` on a 2-D Cartesian grid against the same
//! pattern written with `irecv`/`isend` + `wait_all`, each also against the same loop in C
//! (`benches/c/halo.c`, linked by build.rs), all in one run.
//!
//! `mpiexec -n 4 target/release/examples/halo [--sizes B,B,..] [-s SKIP] [-l LOOP]
//! [--loop-large N] [--pairs P] [-q]`
//!
//! Every rank exchanges one block of SIZE bytes (whole `f64`s) with each of its four grid
//! neighbours (−x, +x, −y, +y); the grid is `compute_dims`' layout, periodic along the
//! dimensions of 3 or more processes (a dimension of 1 or 2 is not periodic: there a process
//! would be its own neighbour, or both neighbours the same process, where MPI libraries pair
//! blocks differently). Times are per exchange, the timed loop of the slowest rank divided by
//! LOOP (LOOP above 16 KiB: `--loop-large`). The loop runs as `--pairs` rounds of the four
//! variants, the order rotated each round; each ratio is the median over the rounds of the
//! ratio of the two variants' times in that round.
//!
//! Columns: `nbr` mpi4rs `neighbor_alltoall`, `nbr C` the C loop, `p2p` mpi4rs
//! `irecv`/`isend`/`wait_all` (one `mpi4rs::scope` per exchange), `p2p C` the C loop, then the ratios mpi4rs/C for both, and
//! neighbour/p2p for mpi4rs and for C. `check`: a fresh exchange of each kind received what
//! every neighbour sent (known values), on every rank.

use mpi4rs::ffi::MPI_Comm;
use mpi4rs::prelude::*;
use mpi4rs::{compute_dims, proc_null, CartComm};
use std::ffi::c_int;
use std::process::ExitCode;

extern "C" {
    fn mpi4rs_c_neighbor_alltoall(
        comm: MPI_Comm,
        s: *const f64,
        r: *mut f64,
        count: c_int,
        iters: c_int,
    ) -> f64;
    #[allow(clippy::too_many_arguments)]
    fn mpi4rs_c_halo_p2p(
        comm: MPI_Comm,
        sources: *const c_int,
        dests: *const c_int,
        degree: c_int,
        s: *const f64,
        r: *mut f64,
        count: c_int,
        iters: c_int,
    ) -> f64;
}

type Error = Box<dyn std::error::Error>;

const USAGE: &str = "usage: halo [--sizes B,B,..] [-s SKIP] [-l LOOP] [--loop-large N] [--pairs P] [-q]";

struct Options {
    sizes: Vec<usize>,
    skip: usize,
    loops: usize,
    loop_large: usize,
    pairs: usize,
    verbose: bool,
}

/// A byte count with an optional K or M suffix (powers of 1024).
fn bytes(v: &str) -> Result<usize, Error> {
    let (digits, shift) = match v.char_indices().last() {
        Some((i, 'K' | 'k')) => (&v[..i], 10),
        Some((i, 'M' | 'm')) => (&v[..i], 20),
        _ => (v, 0),
    };
    Ok(digits.parse::<usize>().map_err(|_| format!("not a size: {v}\n{USAGE}"))? << shift)
}

fn parse() -> Result<Options, Error> {
    let mut o = Options {
        sizes: vec![8, 64, 1 << 10, 16 << 10, 256 << 10],
        skip: 50,
        loops: 2000,
        loop_large: 200,
        pairs: 5,
        verbose: true,
    };
    let mut args = std::env::args().skip(1);
    while let Some(a) = args.next() {
        let mut value = || args.next().ok_or_else(|| format!("{a} needs a value\n{USAGE}"));
        match a.as_str() {
            "--sizes" => o.sizes = value()?.split(',').map(|s| bytes(s.trim())).collect::<Result<_, _>>()?,
            "-s" | "--skip" => o.skip = bytes(&value()?)?,
            "-l" | "--loop" => o.loops = bytes(&value()?)?,
            "--loop-large" => o.loop_large = bytes(&value()?)?,
            "--pairs" => o.pairs = bytes(&value()?)?.max(1),
            "-q" | "--quiet" => o.verbose = false,
            "-h" | "--help" => return Err(USAGE.into()),
            _ => return Err(format!("unknown option {a}\n{USAGE}").into()),
        }
    }
    if let Some(s) = o.sizes.iter().find(|&&s| s == 0 || s % 8 != 0) {
        return Err(format!("size {s}: whole f64s, a positive multiple of 8 bytes").into());
    }
    Ok(o)
}

/// The four ways of making one exchange.
#[derive(Clone, Copy)]
enum Variant {
    Neighbor,
    NeighborC,
    P2p,
    P2pC,
}

const VARIANTS: [Variant; 4] = [Variant::Neighbor, Variant::NeighborC, Variant::P2p, Variant::P2pC];

struct Exchange<'a> {
    cart: &'a CartComm,
    count: usize,
    send: Vec<f64>,
    recv: Vec<f64>,
}

impl Exchange<'_> {
    /// `iters` exchanges made the way `v` says; the elapsed time on this rank.
    fn run(&mut self, v: Variant, iters: usize) -> Result<f64, Error> {
        let (cart, n) = (self.cart, self.count);
        let (count, iters_c) = (c_int::try_from(n)?, c_int::try_from(iters)?);
        let t0 = mpi4rs::wtime();
        match v {
            Variant::Neighbor => {
                for _ in 0..iters {
                    cart.neighbor_alltoall(&self.send[..], &mut self.recv[..])?;
                }
            }
            Variant::P2p => {
                let (sources, dests) = (cart.sources(), cart.destinations());
                // One scope per exchange: the blocks are lent to MPI until it returns.
                for _ in 0..iters {
                    mpi4rs::scope(|s| {
                        let mut reqs = Vec::with_capacity(8);
                        for (k, part) in self.recv.chunks_mut(n).enumerate() {
                            reqs.push(cart.irecv(s, part, sources[k], (k ^ 1) as i32)?);
                        }
                        for (k, part) in self.send.chunks(n).enumerate() {
                            reqs.push(cart.isend(s, part, dests[k], k as i32)?);
                        }
                        mpi4rs::wait_all(&mut reqs).map(drop)
                    })?;
                }
            }
            // SAFETY (both C loops): the buffers hold 4 blocks of `count` doubles and outlive
            // the call; the neighbour lists hold 4 ranks.
            Variant::NeighborC => unsafe {
                return Ok(mpi4rs_c_neighbor_alltoall(
                    cart.as_raw(),
                    self.send.as_ptr(),
                    self.recv.as_mut_ptr(),
                    count,
                    iters_c,
                ));
            },
            Variant::P2pC => unsafe {
                return Ok(mpi4rs_c_halo_p2p(
                    cart.as_raw(),
                    cart.sources().as_ptr(),
                    cart.destinations().as_ptr(),
                    4,
                    self.send.as_ptr(),
                    self.recv.as_mut_ptr(),
                    count,
                    iters_c,
                ));
            },
        }
        Ok(mpi4rs::wtime() - t0)
    }

    /// Wrong elements after one fresh exchange of kind `v`: block k must hold what source k
    /// sent in its block k ^ 1 (−x pairs with +x), untouched for a `PROC_NULL` source.
    fn wrong(&mut self, v: Variant) -> Result<u64, Error> {
        self.recv.fill(-1.0);
        self.run(v, 1)?;
        let n = self.count;
        let mut wrong = 0;
        for (k, &s) in self.cart.sources().iter().enumerate() {
            for i in 0..n {
                let want = if s == proc_null() { -1.0 } else { value(s, k ^ 1, i) };
                wrong += u64::from(self.recv[k * n + i] != want);
            }
        }
        Ok(wrong)
    }
}

/// What rank `r` sends in element `i` of block `k`.
fn value(r: i32, k: usize, i: usize) -> f64 {
    r as f64 * 1e9 + k as f64 * 1e7 + i as f64
}

fn median(v: &mut [f64]) -> f64 {
    if v.is_empty() {
        return f64::NAN;
    }
    v.sort_by(|a, b| a.total_cmp(b));
    let m = v.len() / 2;
    if v.len() % 2 == 1 {
        v[m]
    } else {
        (v[m - 1] + v[m]) / 2.0
    }
}

fn run(o: &Options) -> Result<(), Error> {
    let env = mpi4rs::init()?;
    let world = env.world();
    let dims = compute_dims(world.size(), &[0, 0])?;
    let periods: Vec<bool> = dims.iter().map(|&d| d >= 3).collect();
    let cart = world.create_cart(&dims, &periods, false)?.ok_or("every rank is in the grid")?;
    let me = cart.rank();
    if me == 0 && o.verbose {
        println!("# mpi4rs halo exchange: neighbor_alltoall vs irecv/isend/wait_all, each vs C");
        println!(
            "# {} processes on a {}x{} grid (periodic: {:?}), 4 neighbours each, {}",
            cart.size(),
            dims[0],
            dims[1],
            periods,
            mpi4rs::library_version()?.lines().next().unwrap_or("")
        );
        println!("# times per exchange [us] of the slowest rank; ratios: median over {} rounds", o.pairs);
        println!(
            "# {:>8} {:>6} {:>9} {:>9} {:>9} {:>9} {:>8} {:>8} {:>9} {:>9} {:>6}",
            "size[B]",
            "loop",
            "nbr",
            "nbr C",
            "p2p",
            "p2p C",
            "nbr/C",
            "p2p/C",
            "nbr/p2p",
            "C:nbr/p2p",
            "check"
        );
    }
    for &size in &o.sizes {
        let count = size / 8;
        let send: Vec<f64> = (0..4).flat_map(|k| (0..count).map(move |i| value(me, k, i))).collect();
        let mut x = Exchange { cart: &cart, count, send, recv: vec![0.0; 4 * count] };
        let loops = if size > 16 << 10 { o.loop_large } else { o.loops };
        for v in VARIANTS {
            x.run(v, o.skip)?;
        }
        let mut totals = [0.0f64; 4];
        let mut ratios: [Vec<f64>; 4] = Default::default();
        for p in 0..o.pairs {
            let iters = loops / o.pairs + usize::from(p < loops % o.pairs);
            let mut t = [0.0f64; 4];
            for j in 0..4 {
                let k = (j + p) % 4;
                cart.barrier()?;
                t[k] = x.run(VARIANTS[k], iters)?;
            }
            let mut slow = [0.0f64; 4];
            cart.allreduce(&t, &mut slow, &Op::MAX)?;
            for k in 0..4 {
                totals[k] += slow[k];
            }
            if iters > 0 {
                for (r, (a, b)) in ratios.iter_mut().zip([(0, 1), (2, 3), (0, 2), (1, 3)]) {
                    r.push(slow[a] / slow[b]);
                }
            }
        }
        let mut wrong = 0;
        for v in VARIANTS {
            wrong += x.wrong(v)?;
        }
        let mut wrong_all = 0u64;
        cart.allreduce(&wrong, &mut wrong_all, &Op::SUM)?;
        if me == 0 {
            let us = |t: f64| t / loops.max(1) as f64 * 1e6;
            let r: Vec<f64> = ratios.iter_mut().map(|v| median(v)).collect();
            println!(
                "  {:>8} {:>6} {:>9.2} {:>9.2} {:>9.2} {:>9.2} {:>8.3} {:>8.3} {:>9.3} {:>9.3} {:>6}",
                size,
                loops,
                us(totals[0]),
                us(totals[1]),
                us(totals[2]),
                us(totals[3]),
                r[0],
                r[1],
                r[2],
                r[3],
                if wrong_all == 0 { "ok" } else { "WRONG" }
            );
        }
        if wrong_all != 0 {
            return Err(format!("size {size}: {wrong_all} wrong elements").into());
        }
    }
    Ok(())
}

fn main() -> ExitCode {
    // `--help`/`-h` before MPI starts: usage, exit 0 (tests/examples.rs checks every example).
    if std::env::args().skip(1).any(|a| a == "--help" || a == "-h") {
        println!("Halo exchange speed: one `neighbor_alltoall` on a 2-D Cartesian grid against the same pattern written with `irecv`/`isend` + `wait_all`, each also against the same loop in C (`benches/c/halo.c`, linked by build.rs), all in one run.\n\n{USAGE}");
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
            eprintln!("halo: {e}");
            ExitCode::FAILURE
        }
    }
}
