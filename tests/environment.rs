//! The environment: initialisation, process-wide queries, configuration from `MPI4RS_RC_*`,
//! and how a job ends when a rank panics, aborts or hits a fatal MPI error.
mod common;

use common::{describe, limit, rank_size, Suite};
use mpi4rs::launcher::JobOutput;
use mpi4rs::prelude::*;
use mpi4rs::{ffi, Config, Environment, Error, ErrorClass, ErrorPolicy, Result, ThreadLevel};
use std::time::Duration;

const PANIC_MESSAGE: &str = "deliberate panic on rank 1 (panic_aborts_job)";
const RETURNED_MARKER: &str = "MARKER: the truncated receive returned";
const REACHED_MARKER: &str = "MARKER: a bad configuration was accepted";

/// Set by `run_ends_job_on_err`: the test binary is then a program whose body runs in
/// `mpi4rs::run` and returns `Err` on the rank this names.
const RUN_ERR_ON: &str = "MPI4RS_TEST_RUN_ERR_ON";
const RUN_ERR_MESSAGE: &str = "deliberate error from the body of mpi4rs::run";

/// Set by `calls_after_finalize_are_errors`: the test binary then finalises MPI itself and
/// uses the handles that outlived the environment.
const AFTER_FINALIZE: &str = "MPI4RS_TEST_AFTER_FINALIZE";
const AFTER_FINALIZE_OK: &str = "every call after finalize gave NotInitialized";
/// Set by `other_threads_refused_during_init`: the test binary is then a program with a thread
/// that calls MPI as soon as MPI is initialised, while the main thread initialises it.
const DURING_INIT: &str = "MPI4RS_TEST_CALL_DURING_INIT";
const DURING_INIT_OK: &str = "the other thread was refused during init";

fn main() {
    if std::env::var_os(AFTER_FINALIZE).is_some() {
        calls_after_finalize();
    }
    if std::env::var_os(DURING_INIT).is_some() {
        calls_during_init();
    }
    if let Ok(rank) = std::env::var(RUN_ERR_ON) {
        run_body_that_fails(rank.parse().expect("a rank"));
    }
    Suite::new("environment")
        .case("queries", queries)
        .case("truncation_returns_err", truncation_returns_err)
        .hidden("thread_level_from_env", thread_level_from_env)
        .hidden("threads_multiple", threads_multiple)
        .hidden("panic_aborts_job", panic_aborts_job)
        .hidden("abort_ends_job", abort_ends_job)
        .hidden("fatal_error_policy", fatal_error_policy)
        .hidden("bad_thread_level", bad_thread_level)
        .hidden("hangs_forever", hangs_forever)
        .check("thread_level_from_env", check_thread_level_from_env)
        .check("threads_multiple", check_threads_multiple)
        .check("panic_aborts_job", check_panic_aborts_job)
        .check("panic_without_abort_still_ends_job", check_panic_without_abort)
        .check("abort_ends_job", check_abort_ends_job)
        .check("fatal_error_policy", check_fatal_error_policy)
        .check("bad_thread_level", check_bad_thread_level)
        .check("env_values_are_strict", check_env_values_are_strict)
        .check("time_limit_ends_every_rank", check_time_limit_ends_every_rank)
        .check("run_ends_job_on_err", check_run_ends_job_on_err)
        .check("calls_after_finalize_are_errors", check_calls_after_finalize)
        .check("other_threads_refused_during_init", check_calls_during_init)
        .run();
}

fn queries(env: &Environment) -> Result<()> {
    let world = env.world();
    ensure!(mpi4rs::is_initialized()?);
    ensure!(!mpi4rs::is_finalized()?);
    let (major, minor) = mpi4rs::version()?;
    ensure!((major, minor) >= (3, 0), "MPI version {major}.{minor}");
    let lib = mpi4rs::library_version()?;
    ensure!(!lib.trim().is_empty(), "empty library version");
    ensure!(!lib.ends_with('\n'), "library version keeps a trailing newline: {lib:?}");
    let host = mpi4rs::processor_name()?;
    ensure!(!host.is_empty(), "empty processor name");
    ensure!(!host.contains('\0'));

    // Wall clock: moves forward by about what we sleep; the tick is a positive resolution.
    let t0 = mpi4rs::wtime();
    std::thread::sleep(Duration::from_millis(20));
    let t1 = mpi4rs::wtime();
    ensure!((0.015..10.0).contains(&(t1 - t0)), "wtime went from {t0} to {t1} over 20 ms of sleep");
    let tick = mpi4rs::wtick();
    ensure!(tick > 0.0 && tick < 1.0, "wtick = {tick}");

    // Threads.
    ensure_eq!(mpi4rs::query_thread()?, env.thread_level());
    ensure!(mpi4rs::is_thread_main()?);
    if env.thread_level() == ThreadLevel::Multiple {
        let other = std::thread::spawn(mpi4rs::is_thread_main).join();
        ensure!(matches!(other, Ok(Ok(false))), "another thread is not the main one: {other:?}");
    } else {
        // Below MULTIPLE (the default is FUNNELED), handles cannot leave this thread (a
        // compile error: see the doc tests of mpi4rs::thread), no MultiThreaded view exists,
        // and calls without a handle from another thread are errors, never MPI calls.
        ensure_err!(env.world_mt(), Error::WrongThread { .. });
        ensure_err!(env.self_mt(), Error::WrongThread { .. });
        ensure_err!(mpi4rs::MultiThreaded::new(env, world.dup()?), Error::WrongThread { .. });
        let other = std::thread::spawn(|| {
            [
                mpi4rs::Info::new().map(drop),
                mpi4rs::processor_name().map(drop),
                mpi4rs::is_thread_main().map(drop),
                mpi4rs::Group::empty().size().map(drop),
            ]
        })
        .join()
        .map_err(|_| Error::InvalidArgument("the thread panicked".into()))?;
        for r in other {
            ensure!(
                matches!(r, Err(Error::WrongThread { provided }) if provided == env.thread_level()),
                "a call from another thread below MULTIPLE: {r:?}"
            );
        }
        // This thread still may.
        ensure!(mpi4rs::Info::new().is_ok());
    }

    // MPI is initialised once.
    ensure_err!(mpi4rs::init(), Error::AlreadyInitialized);
    ensure_err!(mpi4rs::init_with(Config::default()), Error::AlreadyInitialized);
    ensure!(mpi4rs::is_initialized()?);

    // TAG_UB, as read at init and as the attribute.
    ensure!(mpi4rs::tag_ub() >= 32767, "tag_ub = {}", mpi4rs::tag_ub());
    ensure_eq!(world.tag_ub()?, Some(mpi4rs::tag_ub()));

    // Error strings and classes.
    for code in [ffi::ERR_TRUNCATE(), ffi::ERR_PENDING(), ffi::ERR_IN_STATUS(), ffi::SUCCESS()] {
        let s = mpi4rs::error_string(code);
        ensure!(!s.trim().is_empty(), "error string of {code} is empty");
    }
    ensure!(mpi4rs::error_string(ffi::ERR_TRUNCATE()) != mpi4rs::error_string(ffi::SUCCESS()));
    ensure_eq!(ErrorClass::from_raw(ffi::ERR_TRUNCATE()), ErrorClass::Truncate);
    ensure_eq!(ErrorClass::from_raw(ffi::ERR_PENDING()), ErrorClass::Pending);
    ensure!(!mpi4rs::error_string(123_456).is_empty());

    // The configuration the harness initialised with (it sets no MPI4RS_RC_* variable).
    ensure_eq!(env.config(), &Config::from_env()?);
    ensure_eq!(env.config().error_policy(), ErrorPolicy::Return);
    ensure!(env.config().aborts_on_panic());
    Ok(())
}

/// Rank 0 sends four `i32` to rank 1 (to itself on one rank), which receives into room for
/// two. Returns the receiving rank's result; `None` on the other ranks.
fn truncated_transfer(env: &Environment) -> Result<Option<Result<Status>>> {
    let world = env.world();
    let (me, n) = rank_size(env);
    let receiver = 1 % n;
    mpi4rs::scope(|s| {
        let send = if me == 0 { Some(world.isend(s, &[1i32, 2, 3, 4], receiver, 30)?) } else { None };
        let result = if me == receiver {
            let mut small = [0i32; 2];
            Some(world.recv(&mut small, 0, 30))
        } else {
            None
        };
        if let Some(send) = send {
            let _ = send.wait(); // the send side may or may not report the truncation
        }
        Ok(result)
    })
}

fn truncation_returns_err(env: &Environment) -> Result<()> {
    ensure_eq!(env.config().error_policy(), ErrorPolicy::Return);
    if let Some(result) = truncated_transfer(env)? {
        // From another rank MPI_Recv reports it; from this rank itself (one rank) on Open MPI
        // the receive probes first and reports `Truncated` (see tests/errors.rs).
        let e = ensure_err!(result, _);
        ensure_eq!(e.class(), Some(ErrorClass::Truncate));
        if let Error::Mpi { .. } = e {
            ensure!(e.to_string().contains("MPI_Recv"), "{e}");
        }
    }
    // The communicator still works afterwards.
    let (right, left) = common::neighbours(env);
    let mut got = 0u8;
    mpi4rs::scope(|s| {
        let req = env.world().isend(s, &5u8, right, 31)?;
        env.world().recv(&mut got, left, 31)?;
        req.wait()?;
        Ok(())
    })?;
    ensure_eq!(got, 5);
    Ok(())
}

// ---- hidden cases, started by the checks below ----

/// With `MPI4RS_RC_THREAD_LEVEL=multiple`: handles wrapped in `MultiThreaded` are used from
/// several threads at once (point-to-point on the shared `COMM_WORLD`, a collective on each
/// thread's own communicator, handle-free calls).
fn threads_multiple(env: &Environment) -> Result<()> {
    ensure_eq!(env.config().requested_thread_level(), ThreadLevel::Multiple);
    if env.thread_level() < ThreadLevel::Multiple {
        // An MPI built without thread support: the view is refused, nothing else to show.
        ensure_err!(env.world_mt(), Error::WrongThread { .. });
        println!("MARKER: MPI provided only {:?}", env.thread_level());
        return Ok(());
    }
    const THREADS: i32 = 4;
    let world = env.world_mt()?;
    let (rank, size) = (world.rank(), world.size());
    // One communicator per thread, made here (collectives on one communicator must not run
    // concurrently), then moved to its thread.
    let mut comms = Vec::new();
    for _ in 0..THREADS {
        comms.push(mpi4rs::MultiThreaded::new(env, world.dup()?)?);
    }
    let results: Vec<Result<()>> = std::thread::scope(|s| {
        let handles: Vec<_> = comms
            .into_iter()
            .enumerate()
            .map(|(t, comm)| {
                let t = t as i32;
                s.spawn(move || -> Result<()> {
                    for round in 0..50 {
                        let mut got = -1i32;
                        let next = (rank + 1) % size;
                        let prev = (rank + size - 1) % size;
                        world.sendrecv(&(rank * 1000 + t), next, t, &mut got, prev, t)?;
                        ensure_eq!(got, prev * 1000 + t);
                        let mut sum = 0i32;
                        comm.allreduce(&(t + round), &mut sum, &Op::SUM)?;
                        ensure_eq!(sum, (t + round) * size);
                        ensure!(!mpi4rs::is_thread_main()?);
                        mpi4rs::Info::new()?;
                    }
                    drop(comm.into_inner()); // freed on this thread
                    Ok(())
                })
            })
            .collect();
        handles
            .into_iter()
            .map(|h| h.join().unwrap_or_else(|_| Err(Error::InvalidArgument("panic".into()))))
            .collect()
    });
    for r in results {
        r?;
    }
    world.barrier()?;
    println!("MARKER: {THREADS} threads used MPI at once");
    Ok(())
}

fn thread_level_from_env(env: &Environment) -> Result<()> {
    ensure_eq!(env.config().requested_thread_level(), ThreadLevel::Funneled);
    ensure!(env.thread_level() <= ThreadLevel::Multiple);
    ensure_eq!(mpi4rs::query_thread()?, env.thread_level());
    // The other settings keep their defaults.
    ensure_eq!(env.config().error_policy(), ErrorPolicy::Return);
    ensure!(env.config().aborts_on_panic());
    Ok(())
}

fn panic_aborts_job(env: &Environment) -> Result<()> {
    let (me, _) = rank_size(env);
    if me == 1 {
        std::thread::sleep(Duration::from_millis(200)); // let rank 0 block first
        panic!("{PANIC_MESSAGE}");
    }
    if me == 0 {
        // Never sent: without the abort this would wait until the time limit.
        let mut x = 0i32;
        env.world().recv(&mut x, 1, 50)?;
        println!("MARKER: rank 0 received {x}");
    }
    Ok(())
}

fn abort_ends_job(env: &Environment) -> Result<()> {
    let (me, _) = rank_size(env);
    if me == 0 {
        std::thread::sleep(Duration::from_millis(200)); // let the others block first
        match mpi4rs::abort(3)? {}
    }
    let mut x = 0i32;
    env.world().recv(&mut x, 0, 51)?;
    println!("MARKER: rank {me} received {x}");
    Ok(())
}

fn fatal_error_policy(env: &Environment) -> Result<()> {
    if env.config().error_policy() != ErrorPolicy::Fatal {
        println!("MARKER: MPI4RS_RC_ERRORS=fatal was not applied");
        return Ok(());
    }
    if let Some(result) = truncated_transfer(env)? {
        // Under ERRORS_ARE_FATAL the job ends inside MPI_Recv; coming back is the failure.
        println!("{RETURNED_MARKER}: {result:?}");
    }
    Ok(())
}

fn bad_thread_level(_env: &Environment) -> Result<()> {
    // Init must refuse the configuration, so this never runs.
    println!("{REACHED_MARKER}");
    Ok(())
}

/// Every rank waits for a message nobody sends: a deadlock, which only the time limit ends.
fn hangs_forever(env: &Environment) -> Result<()> {
    let world = env.world();
    let mut never = 0u8;
    world.recv(&mut never, world.rank(), 77)?;
    Ok(())
}

// ---- launcher-side checks ----

/// The job must have failed by itself: not success, not the time limit, well within it.
fn failed_promptly(what: &str, out: &JobOutput) -> Result<(), String> {
    if out.success() {
        return Err(format!("{what}: the job succeeded; it should have failed\n{}", describe(out)));
    }
    if out.timed_out {
        return Err(format!("{what}: the job hung until the time limit\n{}", describe(out)));
    }
    if out.elapsed > limit() / 2 {
        return Err(format!("{what}: the job took too long to end\n{}", describe(out)));
    }
    if out.code == Some(0) {
        return Err(format!("{what}: exit code 0\n{}", describe(out)));
    }
    Ok(())
}

fn check_threads_multiple(suite: &Suite) -> Result<(), String> {
    let out = suite.job(2, Some("threads_multiple"), &[("MPI4RS_RC_THREAD_LEVEL", "multiple")]);
    if !out.success() || !out.stdout.contains("MARKER: 4 threads used MPI at once") {
        return Err(format!("MPI4RS_RC_THREAD_LEVEL=multiple: {}", describe(&out)));
    }
    Ok(())
}

fn check_thread_level_from_env(suite: &Suite) -> Result<(), String> {
    let out = suite.job(2, Some("thread_level_from_env"), &[("MPI4RS_RC_THREAD_LEVEL", "funneled")]);
    if !out.success() {
        return Err(format!("MPI4RS_RC_THREAD_LEVEL=funneled: {}", describe(&out)));
    }
    if !out.stdout.contains("case thread_level_from_env ok") {
        return Err(format!("the case did not run\n{}", describe(&out)));
    }
    Ok(())
}

fn check_panic_aborts_job(suite: &Suite) -> Result<(), String> {
    let out = suite.job(2, Some("panic_aborts_job"), &[]);
    failed_promptly("a panic on rank 1", &out)?;
    let text = out.text();
    for want in [PANIC_MESSAGE, "aborting the job"] {
        if !text.contains(want) {
            return Err(format!("the output lacks {want:?}\n{}", describe(&out)));
        }
    }
    if text.contains("MARKER: rank 0 received") {
        return Err(format!("rank 0 received a message nobody sent\n{}", describe(&out)));
    }
    Ok(())
}

/// With the abort hook switched off, the panicking rank unwinds without `MPI_Finalize` (which
/// would wait for the blocked rank 0 forever) and exits, so `mpiexec` still ends the job.
fn check_panic_without_abort(suite: &Suite) -> Result<(), String> {
    let out = suite.job(2, Some("panic_aborts_job"), &[("MPI4RS_RC_ABORT_ON_PANIC", "false")]);
    failed_promptly("a panic on rank 1 with MPI4RS_RC_ABORT_ON_PANIC=false", &out)?;
    let text = out.text();
    if !text.contains(PANIC_MESSAGE) || text.contains("aborting the job") {
        return Err(format!("expected the panic message and no abort\n{}", describe(&out)));
    }
    Ok(())
}

fn check_abort_ends_job(suite: &Suite) -> Result<(), String> {
    let out = suite.job(3, Some("abort_ends_job"), &[]);
    failed_promptly("mpi4rs::abort(3) on rank 0", &out)?;
    if out.text().contains("MARKER: rank") {
        return Err(format!("a rank received a message nobody sent\n{}", describe(&out)));
    }
    Ok(())
}

fn check_fatal_error_policy(suite: &Suite) -> Result<(), String> {
    let out = suite.job(2, Some("fatal_error_policy"), &[("MPI4RS_RC_ERRORS", "fatal")]);
    if out.text().contains("MARKER:") {
        return Err(format!("the error did not end the job\n{}", describe(&out)));
    }
    failed_promptly("a truncated receive under MPI4RS_RC_ERRORS=fatal", &out)
}

fn check_bad_thread_level(suite: &Suite) -> Result<(), String> {
    let out = suite.job(2, Some("bad_thread_level"), &[("MPI4RS_RC_THREAD_LEVEL", "bogus")]);
    failed_promptly("MPI4RS_RC_THREAD_LEVEL=bogus", &out)?;
    let text = out.text();
    if text.contains(REACHED_MARKER) {
        return Err(format!("init accepted the bad value\n{}", describe(&out)));
    }
    for want in ["init failed", "\"bogus\""] {
        if !text.contains(want) {
            return Err(format!("the output lacks {want:?}\n{}", describe(&out)));
        }
    }
    Ok(())
}

/// Every `MPI4RS_*` variable goes through one strict parser: `false` means false and sizes take
/// units, but a value that does not parse makes `init` fail with the variable's name.
fn check_env_values_are_strict(suite: &Suite) -> Result<(), String> {
    let good = [("MPI4RS_NO_CUDA", "false"), ("MPI4RS_STAGING_POOL_BYTES", "512M"), ("MPI4RS_LOG", "off")];
    let out = suite.job(1, Some("queries"), &good);
    if !out.success() {
        return Err(format!("valid values were refused\n{}", describe(&out)));
    }
    for (var, bad) in
        [("MPI4RS_NO_CUDA", "banana"), ("MPI4RS_STAGING_POOL_BYTES", "512Q"), ("MPI4RS_SYNC", "later")]
    {
        let out = suite.job(1, Some("bad_thread_level"), &[(var, bad)]);
        failed_promptly(&format!("{var}={bad}"), &out)?;
        let text = out.text();
        let want = format!("init failed: invalid configuration: {var}=\"{bad}\": expected");
        if text.contains(REACHED_MARKER) || !text.contains(&want) {
            return Err(format!("{var}={bad}: the output lacks {want:?}\n{}", describe(&out)));
        }
    }
    Ok(())
}

/// Past its time limit a deadlocked job is ended, every rank with it: no rank may go on
/// spinning after the launcher has reported the time-out.
fn check_time_limit_ends_every_rank(suite: &Suite) -> Result<(), String> {
    let limit = Duration::from_secs(3);
    let out = suite.job_within(3, Some("hangs_forever"), &[], limit);
    if !out.timed_out {
        return Err(format!("the deadlocked job was not reported as timed out\n{}", describe(&out)));
    }
    if out.elapsed > limit + Duration::from_secs(15) {
        return Err(format!("ending the job took too long\n{}", describe(&out)));
    }
    let marker = b"MPI4RS_TEST_ONLY=hangs_forever\0";
    let alive = || -> Vec<String> {
        let Ok(procs) = std::fs::read_dir("/proc") else { return vec![] };
        procs
            .flatten()
            .filter(|p| {
                std::fs::read(p.path().join("environ"))
                    .is_ok_and(|e| e.windows(marker.len()).any(|w| w == marker))
            })
            .map(|p| p.file_name().to_string_lossy().into_owned())
            .collect()
    };
    // A killed process can take a moment to be gone; give it a second.
    let mut survivors = alive();
    for _ in 0..20 {
        if survivors.is_empty() {
            break;
        }
        std::thread::sleep(Duration::from_millis(50));
        survivors = alive();
    }
    if !survivors.is_empty() {
        return Err(format!("processes of the timed-out job are still alive: {survivors:?}"));
    }
    Ok(())
}

/// A program as users write it: the body returns `Err` on rank `bad` while the other ranks wait
/// for it in a barrier; `mpi4rs::run` must end them all.
fn run_body_that_fails(bad: i32) -> ! {
    let result = mpi4rs::run(|env| {
        let world = env.world();
        if world.rank() == bad {
            std::thread::sleep(Duration::from_millis(200)); // let the others block first
            return Err(Error::InvalidArgument(RUN_ERR_MESSAGE.into()));
        }
        world.barrier()?;
        println!("MARKER: rank {} passed the barrier", world.rank());
        Ok(())
    });
    eprintln!("MARKER: run returned {result:?}");
    std::process::exit(0)
}

fn check_run_ends_job_on_err(suite: &Suite) -> Result<(), String> {
    let out = suite.job_within(4, None, &[(RUN_ERR_ON, "2")], Duration::from_secs(30));
    failed_promptly("Err from the body of mpi4rs::run on rank 2 of 4", &out)?;
    if out.elapsed > Duration::from_secs(5) {
        return Err(format!(
            "the job took {:.1}s to end (at most 5)\n{}",
            out.elapsed.as_secs_f64(),
            describe(&out)
        ));
    }
    let text = out.text();
    if text.contains("MARKER:") {
        return Err(format!("a rank went on after the error\n{}", describe(&out)));
    }
    if !text.contains(&format!("rank 2 failed: invalid argument: {RUN_ERR_MESSAGE}")) {
        return Err(format!("the output does not show the error\n{}", describe(&out)));
    }
    Ok(())
}

/// Handles made before `finalize` and used after it: every call is `Err(NotInitialized)`,
/// none aborts the job. Prints what went wrong and exits 1, or prints the marker and exits 0.
fn calls_after_finalize() -> ! {
    use mpi4rs::{Datatype, File, Info, Win};
    let env = mpi4rs::init().expect("init");
    let comm = env.world().dup().expect("dup");
    let group = comm.group().expect("group");
    let info = Info::new().expect("info");
    let f64s = Datatype::of::<f64>().expect("datatype");
    let pair = Datatype::contiguous(2, &f64s).expect("contiguous");
    let (rank, size) = (comm.rank(), comm.size());
    env.finalize();
    let mut bad = Vec::new();
    let mut expect = |what: &str, r: Result<()>| match r {
        Err(Error::NotInitialized) => {}
        other => bad.push(format!("{what}: {other:?}")),
    };
    let right = (rank + 1) % size;
    let mut x = 0.0f64;
    expect("send", comm.send(&1.0f64, right, 0));
    expect("recv", comm.recv(&mut x, right, 0).map(drop));
    let one = 1.0f64;
    expect("isend", mpi4rs::scope(|s| comm.isend(s, &one, right, 0).map(drop)));
    let mut grid = vec![0.0f64; 8];
    let plan = mpi4rs::Exchange::new().send(mpi4rs::Region::new(&f64s, 0, 1), right, 0);
    expect("exchange plan", plan.and_then(|p| p.run(&comm, &mut grid)));
    expect(
        "persistent",
        mpi4rs::Persistent::new(vec![0.0f64; 2], |s, b| comm.send_init(s, &b[..], right, 0).map(drop))
            .map(drop),
    );
    expect("probe", comm.iprobe(right, 0).map(drop));
    expect("barrier", comm.barrier());
    expect("bcast", comm.bcast(&mut x, 0));
    expect("allreduce", comm.allreduce(&1.0f64, &mut x, &Op::SUM));
    expect("send_obj", comm.send_obj(&"text", right, 0));
    expect("dup", comm.dup().map(drop));
    expect("split", comm.split(Some(0), 0).map(drop));
    expect("group.size", group.size().map(drop));
    expect("group.incl", group.incl(&[0]).map(drop));
    expect("info.set", info.set("key", "value"));
    expect("datatype", Datatype::contiguous(2, &pair).map(drop));
    expect("Datatype::of", Datatype::of::<i32>().map(drop));
    expect("pack_size", mpi4rs::pack_size(1, &pair, &comm).map(drop));
    expect("Win::allocate", Win::allocate(64, 1, &[], &comm).map(drop));
    expect(
        "File::open",
        File::open(&comm, "/tmp/mpi4rs-after-finalize", mpi4rs::AccessMode::RDONLY).map(drop),
    );
    expect("wait_all", mpi4rs::wait_all::<Request>(&mut []).map(drop));
    expect("query_thread", mpi4rs::query_thread().map(drop));
    expect("abort", mpi4rs::abort(2).map(drop));
    // A safe function that took no gate: Open MPI aborts the job on MPI_Error_string after
    // MPI_Finalize ("called after MPI_FINALIZE was invoked").
    if mpi4rs::error_string(ffi::ERR_TRUNCATE()).trim().is_empty() {
        bad.push("error_string after finalize is empty".into());
    }
    if mpi4rs::is_finalized() != Ok(true) || mpi4rs::is_initialized() != Ok(true) {
        bad.push(format!(
            "is_finalized {:?}, is_initialized {:?}",
            mpi4rs::is_finalized(),
            mpi4rs::is_initialized()
        ));
    }
    if bad.is_empty() {
        println!("MARKER: {AFTER_FINALIZE_OK}");
        std::process::exit(0)
    }
    eprintln!("calls after finalize that were not NotInitialized: {bad:#?}");
    std::process::exit(1)
}

fn check_calls_after_finalize(suite: &Suite) -> Result<(), String> {
    let out = suite.job_within(2, None, &[(AFTER_FINALIZE, "1")], Duration::from_secs(60));
    if !out.success() || !out.text().contains(AFTER_FINALIZE_OK) {
        return Err(format!("calls after finalize: {}", describe(&out)));
    }
    Ok(())
}

/// A thread started before `init` calls MPI (`query_thread`) the moment MPI says it is
/// initialised, while the main thread is still setting the library up at the default level
/// (`FUNNELED`): the call must be refused as from a thread that may not call MPI, not run
/// beside the main thread's calls.
fn calls_during_init() -> ! {
    let other = std::thread::spawn(|| {
        while !mpi4rs::is_initialized().unwrap_or(false) {
            std::hint::spin_loop();
        }
        mpi4rs::query_thread()
    });
    let env = mpi4rs::init().expect("init");
    let got = other.join().expect("the other thread panicked");
    let level = env.thread_level();
    drop(env);
    match got {
        _ if level == ThreadLevel::Multiple => println!("MARKER: {DURING_INIT_OK} (skipped: MULTIPLE)"),
        Err(Error::WrongThread { .. }) => println!("MARKER: {DURING_INIT_OK}"),
        other => {
            eprintln!("a call of another thread during init at {level:?}: {other:?}");
            std::process::exit(1)
        }
    }
    std::process::exit(0)
}

fn check_calls_during_init(suite: &Suite) -> Result<(), String> {
    for run in 0..3 {
        let out = suite.job_within(1, None, &[(DURING_INIT, "1")], Duration::from_secs(60));
        if !out.success() || !out.text().contains(DURING_INIT_OK) {
            return Err(format!("run {run}: {}", describe(&out)));
        }
    }
    Ok(())
}
