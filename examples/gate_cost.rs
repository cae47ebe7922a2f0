//! The cost of the gate every MPI call passes (`src/runtime.rs`), on the thread that
//! initialised MPI and on another thread: `query_thread` (`MPI_Initialized`, `MPI_Finalized`
//! and one gated `MPI_Query_thread`) in blocks of 200 000 calls, a block on the main thread
//! and one on a new thread in turn (15 pairs), then the median time per call of each and of
//! their paired ratios. Under `THREAD_MULTIPLE` a call from a thread other than the main one
//! is counted while in flight (finalising waits for it); the main thread's calls are not.
//!
//! `target/release/examples/gate_cost [single]` (one process; `single` asks for
//! `THREAD_SINGLE`, where only the main thread may call MPI, so both blocks run there).
use mpi4rs::ThreadLevel;
use std::time::Instant;

const CALLS: u32 = 200_000;
const PAIRS: usize = 15;

fn block() -> mpi4rs::Result<f64> {
    let started = Instant::now();
    for _ in 0..CALLS {
        std::hint::black_box(mpi4rs::query_thread()?);
    }
    Ok(started.elapsed().as_nanos() as f64 / f64::from(CALLS))
}

fn median(mut v: Vec<f64>) -> f64 {
    v.sort_by(f64::total_cmp);
    v[v.len() / 2]
}

fn main() -> mpi4rs::Result<()> {
    // `--help`/`-h` before MPI starts: usage, exit 0 (tests/examples.rs checks every example).
    if std::env::args().skip(1).any(|a| a == "--help" || a == "-h") {
        println!(
            "The gate's cost per MPI call on the main thread and on another one.\n\n\
             usage: target/release/examples/gate_cost [single]"
        );
        std::process::exit(0);
    }
    let level =
        if std::env::args().any(|a| a == "single") { ThreadLevel::Single } else { ThreadLevel::Multiple };
    let env = mpi4rs::init_with(mpi4rs::Config::default().thread_level(level))?;
    let other_thread = env.thread_level() == ThreadLevel::Multiple;
    block()?; // warm-up
    let (mut main, mut other) = (Vec::new(), Vec::new());
    for _ in 0..PAIRS {
        main.push(block()?);
        other.push(if other_thread {
            std::thread::spawn(block).join().expect("the measuring thread panicked")?
        } else {
            block()?
        });
    }
    let ratios = other.iter().zip(&main).map(|(o, m)| o / m).collect();
    println!(
        "{:?}: main thread {:.1} ns per query_thread, {} {:.1} ns, ratio {:.3}",
        env.thread_level(),
        median(main),
        if other_thread { "another thread" } else { "main thread again" },
        median(other),
        median(ratios)
    );
    Ok(())
}
