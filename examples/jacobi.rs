//! Jacobi iteration for the 2-D Laplace equation on a Cartesian decomposition — the solver
//! loop our users write — with a zero-copy halo exchange, checked against the exact answer of
//! the discrete iteration.
//!
//! `mpiexec -n 4 target/release/examples/jacobi [-n N] [-i ITERS]
//! [--exchange persistent|nonblocking|blocking|copy] [--checkpoint PATH]
//! [--compare [-l LOOP] [--pairs P]] [-q]`
//!
//! The unit square holds N × N interior points (h = 1/(N+1), zero on the boundary), laid out
//! by `compute_dims` over a non-periodic `CartComm` (reordering allowed). Each rank keeps its
//! block with a one-point ghost frame, and an iteration replaces every point by the mean of
//! its four neighbours. The halo exchange (`mpi4rs::Halo`) sends the block's edge rows and
//! columns straight out of the grid and receives the neighbours' into its ghost frame, through
//! subarray datatypes over the grid itself — no packing, no second buffer, no `unsafe`:
//!
//! - `persistent` (the default): two grids, each owned by a persistent exchange
//!   (`Halo::persistent`); each step starts the exchange of the current grid, sweeps the
//!   points that need no ghost while it runs (reading the running grid's interior through
//!   `line`), waits, sweeps the edge points, and swaps the grids (double buffering);
//! - `nonblocking`: the same overlap with `Halo::start` in a scope per step;
//! - `blocking`: `Halo::exchange`, then the sweep;
//! - `copy`: the workaround without derived datatypes: pack the edges into a send buffer,
//!   `neighbor_alltoallv`, unpack into the ghost frame.
//!
//! `--checkpoint PATH` stops half-way, writes the global N × N interior to PATH (row-major
//! `f64`, one file for all ranks, collectively: each rank's block through a subarray file view,
//! its interior out of the grid through a subarray memory type, the ghost frame left out), then
//! restarts from the file into fresh grids and runs the remaining iterations: the known answer
//! below holds only if the restart restored every point.
//!
//! Known answer: u₀(x, y) = sin(πx)·sin(πy) is an eigenvector of the Jacobi iteration with
//! eigenvalue cos(πh), so after K iterations u = cos(πh)^K · u₀ at every point, whatever the
//! number of ranks. The run fails unless the largest deviation is below 1e-12.
//!
//! `--compare` times the exchange alone, side by side in one run: the zero-copy persistent
//! exchange, the copy workaround (pack, persistent exchange of separate buffers, unpack) and
//! the zero-copy exchange written in C against the same MPI (`benches/c/halo.c`), in `--pairs`
//! rounds with the order rotated; ratios are medians of the per-round ratios.
use mpi4rs::ffi::MPI_Comm;
use mpi4rs::prelude::*;
use mpi4rs::{compute_dims, AccessMode, CartComm, Datatype, File, Halo, Order, Persistent, Typed, TypedMut};
use std::f64::consts::PI;
use std::ffi::c_int;
use std::path::Path;
use std::process::ExitCode;

extern "C" {
    fn mpi4rs_c_halo_subarray(cart: MPI_Comm, grid: *mut f64, nx: c_int, ny: c_int, iters: c_int) -> f64;
}

type Error = Box<dyn std::error::Error>;

const USAGE: &str = "usage: jacobi [-n N] [-i ITERS] [--exchange persistent|nonblocking|blocking|copy] \
                     [--checkpoint PATH] [--compare [-l LOOP] [--pairs P]] [-q]";

#[derive(Clone, Copy, PartialEq, Eq, Debug)]
enum Exchange {
    Persistent,
    Nonblocking,
    Blocking,
    Copy,
}

struct Options {
    n: usize,
    iters: usize,
    exchange: Exchange,
    checkpoint: Option<std::path::PathBuf>,
    compare: bool,
    loops: usize,
    pairs: usize,
    verbose: bool,
}

fn parse() -> Result<Options, Error> {
    let mut o = Options {
        n: 256,
        iters: 200,
        exchange: Exchange::Persistent,
        checkpoint: None,
        compare: false,
        loops: 200,
        pairs: 5,
        verbose: true,
    };
    let mut args = std::env::args().skip(1);
    while let Some(a) = args.next() {
        let mut value = || args.next().ok_or_else(|| format!("{a} needs a value\n{USAGE}"));
        let number = |v: String| v.parse::<usize>().map_err(|_| format!("{a}: a number\n{USAGE}"));
        match a.as_str() {
            "-n" => o.n = number(value()?)?,
            "-i" | "--iters" => o.iters = number(value()?)?,
            "-l" | "--loop" => o.loops = number(value()?)?.max(1),
            "--pairs" => o.pairs = number(value()?)?.max(1),
            "--exchange" => {
                o.exchange = match value()?.as_str() {
                    "persistent" => Exchange::Persistent,
                    "nonblocking" => Exchange::Nonblocking,
                    "blocking" => Exchange::Blocking,
                    "copy" => Exchange::Copy,
                    other => return Err(format!("--exchange {other}: one of the four forms\n{USAGE}").into()),
                }
            }
            "--checkpoint" => o.checkpoint = Some(value()?.into()),
            "--compare" => o.compare = true,
            "-q" | "--quiet" => o.verbose = false,
            "-h" | "--help" => {
                println!("{USAGE}");
                std::process::exit(0);
            }
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

    /// The new value of point (i, j) from the grid `u`.
    fn point(&self, u: &[f64], i: usize, j: usize) -> f64 {
        let (k, w) = (self.at(i, j), self.ly + 2);
        0.25 * (u[k - w] + u[k + w] + u[k - 1] + u[k + 1])
    }

    /// The points that need a ghost value: the first and last interior row and column.
    fn sweep_edges(&self, u: &[f64], new: &mut [f64]) {
        let (lx, ly) = (self.lx, self.ly);
        for i in 1..=lx {
            if i == 1 || i == lx {
                for j in 1..=ly {
                    new[self.at(i, j)] = self.point(u, i, j);
                }
            } else {
                new[self.at(i, 1)] = self.point(u, i, 1);
                new[self.at(i, ly)] = self.point(u, i, ly);
            }
        }
    }

    /// The points that need no ghost, from interior rows only: `line(i)` is row i's interior
    /// (columns 1..=ly at positions 0..ly). What can run while the halo travels.
    fn sweep_inner<'a>(
        &self,
        line: impl Fn(usize) -> mpi4rs::Result<&'a [f64]>,
        new: &mut [f64],
    ) -> mpi4rs::Result<()> {
        let (lx, ly) = (self.lx, self.ly);
        for i in 2..lx {
            let (up, mid, down) = (line(i - 1)?, line(i)?, line(i + 1)?);
            let row = &mut new[self.at(i, 1)..self.at(i, 1) + ly];
            for j in 1..ly - 1 {
                row[j] = 0.25 * (up[j] + down[j] + mid[j - 1] + mid[j + 1]);
            }
        }
        Ok(())
    }

    /// The whole sweep.
    fn sweep(&self, u: &[f64], new: &mut [f64]) {
        for i in 1..=self.lx {
            for j in 1..=self.ly {
                new[self.at(i, j)] = self.point(u, i, j);
            }
        }
    }

    /// Copy workaround: packs the four edges in the neighbour order −x, +x, −y, +y.
    fn pack(&self, u: &[f64], out: &mut [f64]) {
        let (lx, ly) = (self.lx, self.ly);
        out[..ly].copy_from_slice(&u[self.at(1, 1)..self.at(1, 1) + ly]);
        out[ly..2 * ly].copy_from_slice(&u[self.at(lx, 1)..self.at(lx, 1) + ly]);
        for i in 0..lx {
            out[2 * ly + i] = u[self.at(i + 1, 1)];
            out[2 * ly + lx + i] = u[self.at(i + 1, ly)];
        }
    }

    /// Copy workaround: unpacks received edges (same order) into the ghost frame.
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
}

/// The packed edges' counts in the neighbour order −x, +x, −y, +y.
fn edge_counts(b: &Block) -> Vec<i32> {
    vec![b.ly as i32, b.ly as i32, b.lx as i32, b.lx as i32]
}

/// Runs `iters` Jacobi steps on `u` with the chosen exchange; returns the time spent in halo
/// exchanges (for the forms whose exchange can be timed apart from the sweep).
fn solve(
    cart: &CartComm,
    b: &Block,
    u: Vec<f64>,
    how: Exchange,
    iters: usize,
) -> mpi4rs::Result<(Vec<f64>, f64)> {
    let halo = Halo::<f64>::new(cart, &[b.lx, b.ly], 1)?;
    let mut t_exchange = 0.0;
    let mut new = u.clone();
    match how {
        Exchange::Persistent => {
            let (mut cur, mut next) = (halo.persistent(u)?, halo.persistent(new)?);
            for _ in 0..iters {
                cur.start()?;
                b.sweep_inner(|i| cur.line(&[i]), next.get_mut()?)?;
                cur.wait()?;
                b.sweep_edges(cur.get()?, next.get_mut()?);
                std::mem::swap(&mut cur, &mut next);
            }
            return Ok((cur.into_inner()?, t_exchange));
        }
        Exchange::Nonblocking => {
            let mut u = u;
            for _ in 0..iters {
                mpi4rs::scope(|s| {
                    let f = halo.start(s, &mut u)?;
                    b.sweep_inner(|i| f.line(&[i]), &mut new)?;
                    f.wait()
                })?;
                b.sweep_edges(&u, &mut new);
                std::mem::swap(&mut u, &mut new);
            }
            return Ok((u, t_exchange));
        }
        Exchange::Blocking => {
            let mut u = u;
            for _ in 0..iters {
                let t = mpi4rs::wtime();
                halo.exchange(&mut u)?;
                t_exchange += mpi4rs::wtime() - t;
                b.sweep(&u, &mut new);
                std::mem::swap(&mut u, &mut new);
            }
            return Ok((u, t_exchange));
        }
        Exchange::Copy => {}
    }
    let mut u = u;
    let counts = edge_counts(b);
    let (mut send, mut recv) = (vec![0.0; 2 * (b.lx + b.ly)], vec![0.0; 2 * (b.lx + b.ly)]);
    for _ in 0..iters {
        let t = mpi4rs::wtime();
        b.pack(&u, &mut send);
        cart.neighbor_alltoallv(
            &Varying::packed(&send[..], &counts),
            &mut VaryingMut::packed(&mut recv[..], &counts),
        )?;
        b.unpack(&recv, &mut u);
        t_exchange += mpi4rs::wtime() - t;
        b.sweep(&u, &mut new);
        std::mem::swap(&mut u, &mut new);
    }
    Ok((u, t_exchange))
}

/// The two layouts of this rank's block in a checkpoint: where it lies in the global
/// `n × n` interior (the file view) and where its interior lies in the grid with its ghost
/// frame (the memory type).
fn checkpoint_types(b: &Block, n: usize) -> mpi4rs::Result<(Datatype, Datatype, Datatype)> {
    let real = Datatype::of::<f64>()?;
    let (sub, order) = ([b.lx, b.ly], Order::C);
    let in_file = Datatype::subarray(&[n, n], &sub, &[b.x0 - 1, b.y0 - 1], order, &real)?;
    let in_grid = Datatype::subarray(&[b.lx + 2, b.ly + 2], &sub, &[1, 1], order, &real)?;
    Ok((real, in_file, in_grid))
}

/// Writes the global interior to `path`, every rank its block, collectively.
fn write_checkpoint(cart: &CartComm, b: &Block, n: usize, u: &[f64], path: &Path) -> mpi4rs::Result<()> {
    let (real, in_file, in_grid) = checkpoint_types(b, n)?;
    let file = File::open(cart, path, AccessMode::WRONLY | AccessMode::CREATE)?;
    file.set_size(0)?;
    file.set_view(0, &real, &in_file)?;
    file.write_at_all(0, &Typed::new(u, 1, &in_grid)?)?;
    file.close()
}

/// Reads this rank's block of the checkpoint at `path` into a fresh grid (ghosts zero).
fn read_checkpoint(cart: &CartComm, b: &Block, n: usize, path: &Path) -> mpi4rs::Result<Vec<f64>> {
    let (real, in_file, in_grid) = checkpoint_types(b, n)?;
    let file = File::open(cart, path, AccessMode::RDONLY)?;
    let expected = (n * n * std::mem::size_of::<f64>()) as u64;
    if file.size()? != expected {
        return Err(mpi4rs::Error::InvalidArgument(format!(
            "{}: {} bytes, a checkpoint of {n}x{n} points has {expected}",
            path.display(),
            file.size()?
        )));
    }
    file.set_view(0, &real, &in_file)?;
    let mut u = vec![0.0f64; (b.lx + 2) * (b.ly + 2)];
    file.read_exact_at_all(0, &mut TypedMut::new(&mut u, 1, &in_grid)?)?;
    file.close()?;
    Ok(u)
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
    if o.compare {
        return compare(&cart, &b, o);
    }
    let h = 1.0 / (o.n as f64 + 1.0);
    let u0 =
        |i: usize, j: usize| (PI * (b.x0 + i - 1) as f64 * h).sin() * (PI * (b.y0 + j - 1) as f64 * h).sin();
    let mut u = vec![0.0f64; (lx + 2) * (ly + 2)];
    for i in 1..=lx {
        for j in 1..=ly {
            u[b.at(i, j)] = u0(i, j);
        }
    }
    // Ghosts at the global boundary (PROC_NULL neighbours) stay zero: the boundary condition.
    cart.barrier()?;
    let t0 = mpi4rs::wtime();
    let (u, t_exchange) = match &o.checkpoint {
        None => solve(&cart, &b, u, o.exchange, o.iters)?,
        Some(path) => {
            let half = o.iters / 2;
            let (u, t1) = solve(&cart, &b, u, o.exchange, half)?;
            write_checkpoint(&cart, &b, o.n, &u, path)?;
            drop(u);
            let restored = read_checkpoint(&cart, &b, o.n, path)?;
            let (u, t2) = solve(&cart, &b, restored, o.exchange, o.iters - half)?;
            cart.barrier()?;
            if cart.rank() == 0 {
                File::delete(path)?;
            }
            (u, t1 + t2)
        }
    };
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
    let worst_all = cart.allreduce_value(worst, &Op::MAX)?;
    let sum_all = cart.allreduce_value(sum, &Op::SUM)?;
    let slowest = cart.allreduce_value(elapsed, &Op::MAX)?;
    let exch = cart.allreduce_value(t_exchange, &Op::MAX)?;
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
        let per = |t: f64| t / o.iters.max(1) as f64 * 1e6;
        if matches!(o.exchange, Exchange::Blocking | Exchange::Copy) {
            println!(
                "# time per iteration {:.2} us, of which halo exchange {:.2} us (slowest rank)",
                per(slowest),
                per(exch)
            );
        } else {
            println!(
                "# time per iteration {:.2} us (slowest rank; the exchange overlaps the sweep)",
                per(slowest)
            );
        }
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

fn median(v: &mut [f64]) -> f64 {
    v.sort_by(f64::total_cmp);
    v[v.len() / 2]
}

/// The exchange alone, three ways, side by side: see the module docs.
fn compare(cart: &CartComm, b: &Block, o: &Options) -> Result<(), Error> {
    let halo = Halo::<f64>::new(cart, &[b.lx, b.ly], 1)?;
    let len = halo.len();
    let me = cart.rank() as f64;
    let mut zero = halo.persistent(vec![me; len])?;
    // The copy workaround: separate send/receive buffers, exchanged by persistent requests,
    // packed before and unpacked after each exchange.
    let counts = edge_counts(b);
    let m = 2 * (b.lx + b.ly);
    let mut grid = vec![me; len];
    let mut copy = Persistent::new((vec![0.0f64; m], vec![0.0f64; m]), |s, (send, recv)| {
        // Block k goes to destinations()[k] with tag k and arrives as block k ^ 1.
        let (sources, dests) = (cart.sources(), cart.destinations());
        let (mut sp, mut rp): (&mut [f64], &mut [f64]) = (&mut send[..], &mut recv[..]);
        for (k, &c) in counts.iter().enumerate() {
            let (rhead, rtail) = rp.split_at_mut(c as usize);
            let (shead, stail) = sp.split_at_mut(c as usize);
            cart.recv_init(s, rhead, sources[k], (k ^ 1) as i32)?;
            cart.send_init(s, &*shead, dests[k], k as i32)?;
            (rp, sp) = (rtail, stail);
        }
        Ok(())
    })?;
    let mut cgrid = vec![me; len];
    let loops = o.loops;
    let mut run = |which: usize| -> mpi4rs::Result<f64> {
        cart.barrier()?;
        let t0 = mpi4rs::wtime();
        match which {
            0 => {
                for _ in 0..loops {
                    zero.start()?;
                    zero.wait()?;
                }
            }
            1 => {
                for _ in 0..loops {
                    b.pack(&grid, &mut copy.get_mut()?.0);
                    copy.start()?;
                    copy.wait()?;
                    b.unpack(&copy.get()?.1, &mut grid);
                }
            }
            _ => {
                // SAFETY: cgrid holds (lx + 2) x (ly + 2) doubles, the grid the C loop
                // exchanges in place; it is not touched elsewhere while the call runs.
                let t = unsafe {
                    mpi4rs_c_halo_subarray(
                        cart.as_raw(),
                        cgrid.as_mut_ptr(),
                        b.lx as c_int,
                        b.ly as c_int,
                        loops as c_int,
                    )
                };
                let _ = t;
            }
        }
        let local = mpi4rs::wtime() - t0;
        Ok(cart.allreduce_value(local, &Op::MAX)? / loops as f64)
    };
    let (mut zc, mut zcopy) = (Vec::new(), Vec::new());
    let mut best = [f64::INFINITY; 3];
    run(0)?;
    run(1)?;
    run(2)?;
    for round in 0..o.pairs {
        let mut t = [0.0; 3];
        for k in 0..3 {
            let which = (round + k) % 3;
            t[which] = run(which)?;
        }
        for k in 0..3 {
            best[k] = best[k].min(t[k]);
        }
        zc.push(t[0] / t[2]);
        zcopy.push(t[0] / t[1]);
    }
    // Every exchange of the last round delivered the neighbours' rank numbers to the ghosts.
    let z = zero.get()?;
    let (sources, _) = (cart.sources(), cart.destinations());
    let ghost = |g: &[f64], k: usize| -> f64 {
        match k {
            0 => g[b.at(0, 1)],
            1 => g[b.at(b.lx + 1, 1)],
            2 => g[b.at(1, 0)],
            _ => g[b.at(1, b.ly + 1)],
        }
    };
    for (k, &src) in sources.iter().enumerate() {
        if src >= 0 {
            for (name, g) in [("zero-copy", z), ("copy", &grid[..]), ("C", &cgrid[..])] {
                if ghost(g, k) != src as f64 {
                    return Err(format!(
                        "{name} exchange: ghost {k} holds {} instead of rank {src}",
                        ghost(g, k)
                    )
                    .into());
                }
            }
        }
    }
    if cart.rank() == 0 {
        println!(
            "# halo exchange of a {}x{} block per rank (one ghost layer, f64) on {} ranks; {} exchanges per timing, {} rounds",
            b.lx,
            b.ly,
            cart.size(),
            loops,
            o.pairs
        );
        println!("# best times per exchange [us] of the slowest rank; ratios: median over the rounds");
        println!(
            "{:>10} {:>10} {:>10} {:>14} {:>14}",
            "zero-copy", "copy", "C", "zero-copy/C", "zero-copy/copy"
        );
        println!(
            "{:>10.2} {:>10.2} {:>10.2} {:>14.3} {:>14.3}",
            best[0] * 1e6,
            best[1] * 1e6,
            best[2] * 1e6,
            median(&mut zc),
            median(&mut zcopy)
        );
        println!("compare: every exchange checked: ok");
    }
    Ok(())
}

fn main() -> ExitCode {
    // `--help`/`-h` before MPI starts: usage, exit 0 (tests/examples.rs checks every example).
    if std::env::args().skip(1).any(|a| a == "--help" || a == "-h") {
        println!("Jacobi iteration for the 2-D Laplace equation on a Cartesian decomposition — the solver loop our users write — with a zero-copy halo exchange, checked against the exact answer of the discrete iteration.\n\n{USAGE}");
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
            eprintln!("jacobi: {e}");
            ExitCode::FAILURE
        }
    }
}
