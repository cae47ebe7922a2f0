//! mpi4py.bench ringtest: a message of SIZE bytes travels around the ring LOOP times.
//!
//! `mpiexec -n 4 target/release/examples/ringtest [-n SIZE] [-s SKIP] [-l LOOP] [-q]`
//!
//! Rank 0 prints the time of the LOOP timed rounds (after SKIP warm-ups) as mpi4py does:
//! `time for LOOP loops = T seconds (N processes, SIZE bytes)`. On one rank the message goes
//! to the rank itself with `sendrecv`.

use mpi4rs::prelude::*;

struct Options {
    size: usize,
    skip: usize,
    loops: usize,
    verbose: bool,
}

fn parse() -> Result<Options, String> {
    let mut o = Options { size: 1, skip: 0, loops: 1, verbose: true };
    let mut args = std::env::args().skip(1);
    while let Some(a) = args.next() {
        let mut value = |name: &str| -> Result<usize, String> {
            let v = args.next().ok_or(format!("{name} needs a value"))?;
            v.parse().map_err(|_| format!("{name}: not a number: {v}"))
        };
        match a.as_str() {
            "-n" | "--size" => o.size = value("-n")?,
            "-s" | "--skip" => o.skip = value("-s")?,
            "-l" | "--loop" => o.loops = value("-l")?,
            "-q" | "--quiet" => o.verbose = false,
            _ => {
                return Err(format!("unknown option {a}; usage: ringtest [-n SIZE] [-s SKIP] [-l LOOP] [-q]"))
            }
        }
    }
    Ok(o)
}

/// The timed ring; returns the elapsed time of the last `loops` rounds.
fn ring(world: &Comm, o: &Options) -> mpi4rs::Result<f64> {
    let (rank, size) = (world.rank(), world.size());
    let (source, dest) = ((rank + size - 1) % size, (rank + 1) % size);
    let send = vec![b'x'; o.size];
    let mut recv = vec![0u8; o.size];
    let mut tic = mpi4rs::wtime();
    for i in 0..o.skip + o.loops {
        if i == o.skip {
            tic = mpi4rs::wtime();
        }
        if size == 1 {
            world.sendrecv(&send, dest, 0, &mut recv, source, 0)?;
        } else if rank == 0 {
            world.send(&send, dest, 0)?;
            world.recv(&mut recv, source, 0)?;
        } else {
            world.recv(&mut recv, source, 0)?;
            world.send(&recv, dest, 0)?;
        }
    }
    let elapsed = mpi4rs::wtime() - tic;
    if rank == 0 && o.skip + o.loops > 0 && send != recv {
        return Err(mpi4rs::Error::InvalidArgument("the ring returned a different message".into()));
    }
    Ok(elapsed)
}

fn main() -> Result<(), Box<dyn std::error::Error>> {
    // `--help`/`-h` before MPI starts: usage, exit 0 (tests/examples.rs checks every example).
    if std::env::args().skip(1).any(|a| a == "--help" || a == "-h") {
        println!("mpi4py.bench ringtest: a message of SIZE bytes travels around the ring LOOP times.\n\nusage: mpiexec -n 4 target/release/examples/ringtest [-n SIZE] [-s SKIP] [-l LOOP] [-q]");
        std::process::exit(0);
    }
    let options = match parse() {
        Ok(o) => o,
        Err(usage) => {
            eprintln!("{usage}");
            std::process::exit(2);
        }
    };
    // Ends every rank if the program fails on one.
    Ok(mpi4rs::run(|env| program(env, options))?)
}

fn program(env: &mpi4rs::Environment, options: Options) -> Result<(), Box<dyn std::error::Error>> {
    let world = env.world();
    world.barrier()?;
    let elapsed = ring(world, &options)?;
    if options.verbose && world.rank() == 0 {
        println!(
            "time for {} loops = {} seconds ({} processes, {} bytes)",
            options.loops,
            general(elapsed),
            world.size(),
            options.size
        );
    }
    Ok(())
}

/// `x` as Python's `{x:g}` prints it: six significant digits, trailing zeros dropped,
/// scientific notation below 1e-4 and from 1e6 on (`3.8147e-06`, `0.000123457`, `12.5`).
fn general(x: f64) -> String {
    if !x.is_finite() {
        return format!("{x}");
    }
    if x == 0.0 {
        return "0".into();
    }
    // Rounded to six significant digits first, as C's %g decides on the rounded exponent.
    let sci = format!("{x:.5e}");
    let (mantissa, exp) = sci.split_once('e').unwrap_or((&sci, "0"));
    let exp: i32 = exp.parse().unwrap_or(0);
    let trim = |s: &str| {
        if s.contains('.') {
            s.trim_end_matches('0').trim_end_matches('.').to_string()
        } else {
            s.to_string()
        }
    };
    if (-4..6).contains(&exp) {
        let decimals = (5 - exp) as usize;
        trim(&format!("{x:.decimals$}"))
    } else {
        let sign = if exp < 0 { '-' } else { '+' };
        format!("{}e{sign}{:02}", trim(mantissa), exp.abs())
    }
}
