//! Jacobi iteration for the 2-D Laplace equation on a Cartesian decomposition, with a halo
//! exchange per iteration, checked against the exact answer of the discrete iteration.
//!
//! `mpiexec -n 4 target/release/examples/jacobi [-n N] [-i ITERS] [--exchange neighbor|p2p] [-q]`
//!
//! The unit square holds N × N interior points (h = 1/(N+1), zero on the boundary), laid out
//! by `compute_dims` over a non-periodic `CartComm` (reordering allowed). Each rank keeps its
//! block with a one-point ghost frame; an iteration packs its four edges (the columns are not
//! contiguous), exchanges them with its neighbours, unpacks them into the ghost frame, and
//! replaces every point by the mean of its four neighbours.
//!
//! Halo exchange: `--exchange neighbor` (the default) is one `neighbor_alltoallv` on the grid
//! (blocks in the order −x, +x, −y, +y; the boundary's `PROC_NULL` blocks stay zero);
//! `--exchange p2p` is the same pattern written with `irecv`/`isend` along `shift` and
//! `wait_all`.
//!
//! Known answer: u₀(x, y) = sin(πx)·sin(πy) is an eigenvector of the Jacobi iteration with
//! eigenvalue cos(πh) (sin(π(x±h)) = sin(πx)cos(πh) ± cos(πx)sin(πh)), so after K iterations
//! u = cos(πh)^K · u₀ at every point, whatever the number of ranks. The run fails unless the
//! largest deviation over all points is below 1e-12.
use mpi4rs::prelude::*;
use mpi4rs::{compute_dims, CartComm};
use std::f64::consts::PI;
use std::process::ExitCode;

type Error = Box<dyn std::error::Error>;

const USAGE: &str = "usage: jacobi [-n N] [-i ITERS] [--exchange neighbor|p2p] [-q]";

#[derive(Clone, Copy, PartialEq, Eq, Debug)]
enum Exchange {
    Neighbor,
    P2p,
}

struct Options {
    n: usize,
    iters: usize,
    exchange: Exchange,
    verbose: bool,
}

fn parse() -> Result<Options, Error> {
    let mut o = Options { n: 256, iters: 200, exchange: Exchange::Neighbor, verbose: true };
    let mut args = std::env::args().skip(1);
    while let Some(a) = args.next() {
        let mut value = || args.next().ok_or_else(|| format!("{a} needs a value\n{USAGE}"));
        match a.as_str() {
            "-n" => o.n = value()?.parse().map_err(|_| format!("-n: a number\n{USAGE}"))?,
            "-i" | "--iters" => o.iters = value()?.parse().map_err(|_| format!("-i: a number\n{USAGE}"))?,
            "--exchange" => {
                o.exchange = match value()?.as_str() {
                    "neighbor" | "neighbour" => Exchange::Neighbor,
                    "p2p" => Exchange::P2p,
                    other => return Err(format!("--exchange {other}: neighbor or p2p\n{USAGE}").into()),
                }
            }
            "-q" | "--quiet" => o.verbose = false,
            "-h" | "--help" => return Err(USAGE.into()),
            _ => return Err(format!("unknown option {a}\n{USAGE}").into()),
        }
    }
    if o.n == 0 {
        return Err("-n must be at least 1".into());
    }
    Ok(o)
}

/// The first global index and the length of part `k` of `n` points split into `parts`.
fn split(n: usize, parts: usize, k: usize) -> (usize, usize) {
    let (q, r) = (n / parts, n % parts);
    (k * q + k.min(r), q + usize::from(k < r))
}

/// This rank's block: `lx × ly` interior points from global point `(x0, y0)` (1-based), stored
/// row-major with a ghost frame, `(lx + 2) × (ly + 2)`.
struct Block {
    lx: usize,
    ly: usize,
    x0: usize,
    y0: usize,
}

impl Block {
    fn at(&self, i: usize, j: usize) -> usize {
        i * (self.ly + 2) + j
    }

    /// Packs the four edges in the neighbour order −x, +x, −y, +y.
    fn pack(&self, u: &[f64], out: &mut [f64]) {
        let (lx, ly) = (self.lx, self.ly);
        out[..ly].copy_from_slice(&u[self.at(1, 1)..self.at(1, 1) + ly]);
        out[ly..2 * ly].copy_from_slice(&u[self.at(lx, 1)..self.at(lx, 1) + ly]);
        for i in 0..lx {
            out[2 * ly + i] = u[self.at(i + 1, 1)];
            out[2 * ly + lx + i] = u[self.at(i + 1, ly)];
        }
    }

    /// Unpacks received edges (same order) into the ghost frame.
    fn unpack(&self, halo: &[f64], u: &mut [f64]) {
        let (lx, ly) = (self.lx, self.ly);
        let (r0, r1) = (self.at(0, 1), self.at(lx + 1, 1));
        u[r0..r0 + ly].copy_from_slice(&halo[..ly]);
        u[r1..r1 + ly].copy_from_slice(&halo[ly..2 * ly]);
        for i in 0..lx {
            u[self.at(i + 1, 0)] = halo[2 * ly + i];
            u[self.at(i + 1, ly + 1)] = halo[2 * ly + lx + i];
        }
    }

    /// One Jacobi sweep: `new` from `u` (ghosts included).
    fn sweep(&self, u: &[f64], new: &mut [f64]) {
        let w = self.ly + 2;
        for i in 1..=self.lx {
            for j in 1..=self.ly {
                let k = i * w + j;
                new[k] = 0.25 * (u[k - w] + u[k + w] + u[k - 1] + u[k + 1]);
            }
        }
    }
}

/// Moves the packed edges to the neighbours and theirs into `recv`.
struct Halo {
    counts: Vec<i32>,
    send: Vec<f64>,
    recv: Vec<f64>,
}

impl Halo {
    fn exchange(&mut self, cart: &CartComm, how: Exchange) -> mpi4rs::Result<()> {
        match how {
            Exchange::Neighbor => cart.neighbor_alltoallv(
                &Varying::packed(&self.send[..], &self.counts),
                &mut VaryingMut::packed(&mut self.recv[..], &self.counts),
            ),
            Exchange::P2p => {
                // Block k goes to destinations()[k] with tag k; it arrives as the partner block
                // k ^ 1 there (−x pairs with +x): the standard's order for Cartesian grids.
                let (sources, dests) = (cart.sources(), cart.destinations());
                let mut recv_parts = Vec::with_capacity(4);
                let mut rest = &mut self.recv[..];
                for &c in &self.counts {
                    let (part, tail) = rest.split_at_mut(c as usize);
                    recv_parts.push(part);
                    rest = tail;
                }
                let mut reqs = Vec::with_capacity(8);
                for (k, part) in recv_parts.into_iter().enumerate() {
                    reqs.push(cart.irecv(part, sources[k], (k ^ 1) as i32)?);
                }
                let mut at = 0;
                for (k, &c) in self.counts.iter().enumerate() {
                    reqs.push(cart.isend(&self.send[at..at + c as usize], dests[k], k as i32)?);
                    at += c as usize;
                }
                mpi4rs::wait_all(&mut reqs).map(drop)
            }
        }
    }
}

fn run(o: &Options) -> Result<(), Error> {
    let env = mpi4rs::init()?;
    let world = env.world();
    let dims = compute_dims(world.size(), &[0, 0])?;
    if dims.iter().any(|&d| d as usize > o.n) {
        return Err(
            format!("a {}x{} grid of ranks needs -n >= {}", dims[0], dims[1], dims[0].max(dims[1])).into()
        );
    }
    let cart = world.create_cart(&dims, &[false, false], true)?.ok_or("every rank is in the grid")?;
    let (cx, cy) = (cart.coords()[0] as usize, cart.coords()[1] as usize);
    let ((x0, lx), (y0, ly)) = (split(o.n, dims[0] as usize, cx), split(o.n, dims[1] as usize, cy));
    let b = Block { lx, ly, x0: x0 + 1, y0: y0 + 1 };
    let h = 1.0 / (o.n as f64 + 1.0);
    let u0 =
        |i: usize, j: usize| (PI * (b.x0 + i - 1) as f64 * h).sin() * (PI * (b.y0 + j - 1) as f64 * h).sin();
    let mut u = vec![0.0f64; (lx + 2) * (ly + 2)];
    for i in 1..=lx {
        for j in 1..=ly {
            u[b.at(i, j)] = u0(i, j);
        }
    }
    let mut new = u.clone();
    let counts = vec![ly as i32, ly as i32, lx as i32, lx as i32];
    let mut halo = Halo { send: vec![0.0; 2 * (lx + ly)], recv: vec![0.0; 2 * (lx + ly)], counts };
    // Received blocks from PROC_NULL (the boundary) stay zero: the boundary condition.
    cart.barrier()?;
    let t0 = mpi4rs::wtime();
    let mut t_exchange = 0.0;
    for _ in 0..o.iters {
        let t = mpi4rs::wtime();
        b.pack(&u, &mut halo.send);
        halo.exchange(&cart, o.exchange)?;
        b.unpack(&halo.recv, &mut u);
        t_exchange += mpi4rs::wtime() - t;
        b.sweep(&u, &mut new);
        std::mem::swap(&mut u, &mut new);
    }
    let elapsed = mpi4rs::wtime() - t0;
    // The check: u = cos(πh)^K u₀ everywhere.
    let decay = (PI * h).cos().powi(o.iters as i32);
    let mut worst = 0.0f64;
    let mut sum = 0.0f64;
    for i in 1..=lx {
        for j in 1..=ly {
            worst = worst.max((u[b.at(i, j)] - decay * u0(i, j)).abs());
            sum += u[b.at(i, j)];
        }
    }
    let (mut worst_all, mut sum_all, mut slowest, mut exch) = (0.0f64, 0.0f64, 0.0f64, 0.0f64);
    cart.allreduce(&worst, &mut worst_all, &Op::MAX)?;
    cart.allreduce(&sum, &mut sum_all, &Op::SUM)?;
    cart.allreduce(&elapsed, &mut slowest, &Op::MAX)?;
    cart.allreduce(&t_exchange, &mut exch, &Op::MAX)?;
    let ok = worst_all < 1e-12;
    if cart.rank() == 0 && o.verbose {
        println!(
            "# jacobi: {n}x{n} points on a {}x{} grid of {} ranks, {} iterations, halo exchange: {:?}",
            dims[0],
            dims[1],
            cart.size(),
            o.iters,
            o.exchange,
            n = o.n
        );
        println!(
            "# time per iteration {:.2} us, of which halo exchange {:.2} us (slowest rank)",
            slowest / o.iters.max(1) as f64 * 1e6,
            exch / o.iters.max(1) as f64 * 1e6
        );
        println!("# sum of u = {sum_all:.12e}; expected cos(pi h)^K u0: max deviation {worst_all:.2e}");
    }
    if !ok {
        return Err(format!("rank {}: max deviation {worst_all:e} from cos(pi h)^K u0", cart.rank()).into());
    }
    if cart.rank() == 0 {
        println!("jacobi {}x{} on {} ranks, {} iterations: ok", o.n, o.n, cart.size(), o.iters);
    }
    Ok(())
}

fn main() -> ExitCode {
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
            eprintln!("jacobi: {e}");
            ExitCode::FAILURE
        }
    }
}
