//! mpi4py's `demo/futures/run_julia.py`: the Julia set z → z² + c, one scanline per task on a
//! pool of MPI workers, written as a PGM image.
//!
//! - `mpiexec -n 4 target/release/examples/julia [W H] [out.pgm]`: one master, three workers
//!   (`Pool::split`, as `mpiexec -n 4 python -m mpi4py.futures run_julia.py`);
//! - `target/release/examples/julia [W H] [out.pgm]` alone: the master spawns its workers
//!   (`Pool::spawn`; `MPI4RS_FUTURES_MAX_WORKERS`, default the universe size).
//!
//! The image is also computed serially in the master and compared byte for byte
//! (`check: ok`).
use mpi4rs::futures::{run_worker, Pool, Registry, Task};
use mpi4rs::prelude::*;
use mpi4rs::Result;

const C: (f64, f64) = (-0.8, 0.156);
const ITERATIONS: u32 = 255;
const BOUNDS: (f64, f64, f64, f64) = (-1.6, 1.6, -0.9, 0.9);

/// Escape counts along row `y` of a `w` x `h` image.
fn scanline((y, w, h): (u32, u32, u32)) -> Vec<u8> {
    let (x0, x1, y0, y1) = BOUNDS;
    let im = y0 + (y1 - y0) * y as f64 / h as f64;
    (0..w)
        .map(|x| {
            let (mut zr, mut zi) = (x0 + (x1 - x0) * x as f64 / w as f64, im);
            let mut n = 0;
            while n < ITERATIONS && zr * zr + zi * zi < 4.0 {
                (zr, zi) = (zr * zr - zi * zi + C.0, 2.0 * zr * zi + C.1);
                n += 1;
            }
            n as u8
        })
        .collect()
}

/// One scanline: (row, width, height) → escape counts.
type Scanline = Task<(u32, u32, u32), Vec<u8>>;

fn registry() -> Result<(Registry, Scanline)> {
    let mut tasks = Registry::new();
    let line = tasks.register("julia_scanline", scanline)?;
    Ok((tasks, line))
}

fn main() -> Result<()> {
    // `--help`/`-h` before MPI starts: usage, exit 0 (tests/examples.rs checks every example).
    if std::env::args().skip(1).any(|a| a == "--help" || a == "-h") {
        println!("mpi4py's `demo/futures/run_julia.py`: the Julia set z → z² + c, one scanline per task on a pool of MPI workers, written as a PGM image.\n\nusage: mpiexec -n 4 target/release/examples/julia [W H] [out.pgm]   (or alone: the master spawns its workers)");
        std::process::exit(0);
    }
    // Ends every rank if the program fails on one (a plain `Err` from main would leave the
    // others waiting).
    mpi4rs::run(program)
}

fn program(env: &mpi4rs::Environment) -> Result<()> {
    let (tasks, line) = registry()?;
    if run_worker(&tasks)? {
        return Ok(());
    }
    let args: Vec<String> = std::env::args().skip(1).collect();
    let w: u32 = args.first().and_then(|s| s.parse().ok()).unwrap_or(640);
    let h: u32 = args.get(1).and_then(|s| s.parse().ok()).unwrap_or(480);
    let out = args.get(2).cloned().unwrap_or_else(|| "julia.pgm".into());
    let world = env.world();
    let pool = if world.size() > 1 {
        match Pool::split(world, 0, &tasks)? {
            Some(pool) => pool,
            None => return Ok(()), // a worker: done
        }
    } else {
        let pool = Pool::spawn(&tasks, None)?;
        if let Err(e) = pool.bootup() {
            eprintln!(
                "julia: this MPI cannot spawn workers here ({}); run it under mpiexec -n N instead",
                one_line(&e)
            );
            std::process::exit(2);
        }
        pool
    };
    let start = mpi4rs::wtime();
    let rows: Vec<Vec<u8>> = pool.map(&line, (0..h).map(|y| (y, w, h)), 1)?.collect::<Result<_>>()?;
    let elapsed = mpi4rs::wtime() - start;
    let workers = pool.workers();
    drop(pool);
    let image: Vec<u8> = rows.concat();
    let serial: Vec<u8> = (0..h).flat_map(|y| scanline((y, w, h))).collect();
    let mut pgm = format!("P5\n{w} {h}\n255\n").into_bytes();
    pgm.extend_from_slice(&image);
    std::fs::write(&out, &pgm).map_err(|e| mpi4rs::Error::InvalidArgument(format!("writing {out}: {e}")))?;
    let sum: u64 = image.iter().map(|&b| b as u64).sum();
    println!(
        "julia {w}x{h}: {h} scanlines on {workers} workers in {:.3} s, wrote {out} (pixel sum {sum})",
        elapsed
    );
    println!("check: {}", if image == serial { "ok" } else { "DIFFERENT from the serial image" });
    Ok(())
}

/// An error's text on one line (MPICH's error stacks span several).
fn one_line(e: &mpi4rs::Error) -> String {
    e.to_string().lines().map(str::trim).filter(|l| !l.is_empty()).collect::<Vec<_>>().join(" / ")
}
