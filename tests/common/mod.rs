//! The multi-rank test harness. Each test file is a `harness = false` test whose `main` builds
//! a [`Suite`]. Run by `cargo test`, the binary is the *launcher*: it starts itself under
//! `mpiexec` once per rank count, with a time limit, and prints libtest-style results. Started
//! by the launcher (`MPI4RS_TEST_CHILD` set), it is a *rank*: it initialises MPI and runs the
//! cases in order, with a barrier between them; a failing case prints its error and aborts the
//! job, so a failure never turns into a hang.
#![allow(dead_code)]

pub mod emu;
pub mod spawn;

use mpi4rs::launcher::{JobOutput, Launcher};
use mpi4rs::{Collective, Communicator, Environment};
use std::time::{Duration, Instant};

/// A test case: runs on every rank of the job.
pub type Case = fn(&Environment) -> mpi4rs::Result<()>;
/// A launcher-side check: starts its own jobs (e.g. ones that must fail) and inspects them.
pub type Check = fn(&Suite) -> Result<(), String>;

const CHILD: &str = "MPI4RS_TEST_CHILD";
/// A check whose error starts with this was skipped, not failed: the launcher prints
/// `test NAME ... skipped: REASON` (e.g. an MPI library that cannot spawn processes).
pub const SKIPPED: &str = "skipped: ";
const ONLY: &str = "MPI4RS_TEST_ONLY";
/// The argument that makes a test binary started by `MPI_Comm_spawn` run one case as a rank
/// (a spawned process may not inherit the launcher's environment): `--spawned-case=NAME`.
pub const SPAWNED_CASE: &str = "--spawned-case=";

pub struct Suite {
    name: &'static str,
    nps: Vec<usize>,
    cases: Vec<(&'static str, Case)>,
    hidden: Vec<(&'static str, Case)>,
    checks: Vec<(&'static str, Check)>,
}

/// Asserts inside a case, returning an error (and so aborting the job) instead of panicking.
#[macro_export]
macro_rules! ensure {
    ($cond:expr $(,)?) => { $crate::ensure!($cond, "{}", stringify!($cond)) };
    ($cond:expr, $($fmt:tt)+) => {
        if !$cond {
            return Err(mpi4rs::Error::InvalidArgument(format!("check failed at {}:{}: {}", file!(), line!(), format!($($fmt)+))));
        }
    };
}

/// `ensure!(a == b)` that shows both sides.
#[macro_export]
macro_rules! ensure_eq {
    ($a:expr, $b:expr $(,)?) => {{
        // A `match` keeps the temporaries of both sides alive (as `assert_eq!` does) on every
        // toolchain; a `let` extends `Some(&[x][..])`'s only from Rust 1.89 on.
        match (&$a, &$b) {
            (a, b) => {
                $crate::ensure!(a == b, "{} == {}: {:?} != {:?}", stringify!($a), stringify!($b), a, b);
            }
        }
    }};
}

/// Expects `Err` whose class is `class`.
#[macro_export]
macro_rules! ensure_err {
    ($result:expr, $pat:pat) => {{
        match $result {
            Err(e) => {
                let ok = matches!(&e, $pat);
                $crate::ensure!(ok, "{} gave the wrong error: {e}", stringify!($result));
                e
            }
            Ok(_) => {
                $crate::ensure!(false, "{} succeeded; an error was expected", stringify!($result));
                unreachable!()
            }
        }
    }};
}

impl Suite {
    pub fn new(name: &'static str) -> Suite {
        Suite { name, nps: vec![1, 2, 3, 4], cases: vec![], hidden: vec![], checks: vec![] }
    }

    /// The rank counts to run every case at (default 1, 2, 3, 4).
    pub fn nps(mut self, nps: &[usize]) -> Suite {
        self.nps = nps.to_vec();
        self
    }

    pub fn case(mut self, name: &'static str, f: Case) -> Suite {
        self.cases.push((name, f));
        self
    }

    /// A case run only when a check asks for it by name (e.g. one that must abort).
    pub fn hidden(mut self, name: &'static str, f: Case) -> Suite {
        self.hidden.push((name, f));
        self
    }

    pub fn check(mut self, name: &'static str, f: Check) -> Suite {
        self.checks.push((name, f));
        self
    }

    /// Runs this test binary on `np` ranks; `only` picks a single (possibly hidden) case.
    pub fn job(&self, np: usize, only: Option<&str>, env: &[(&str, &str)]) -> JobOutput {
        self.job_within(np, only, env, limit())
    }

    /// [`Suite::job`] with its own time limit.
    pub fn job_within(
        &self,
        np: usize,
        only: Option<&str>,
        env: &[(&str, &str)],
        limit: Duration,
    ) -> JobOutput {
        let launcher = Launcher::detect().expect("an mpiexec for the linked MPI");
        let exe = std::env::current_exe().expect("own path");
        let mut cmd = launcher.command(np, &exe, &[]);
        cmd.env(CHILD, "1");
        if let Some(name) = only {
            cmd.env(ONLY, name);
        }
        for (k, v) in env {
            cmd.env(k, v);
        }
        mpi4rs::launcher::run_with_limit(cmd, limit).expect("mpiexec starts")
    }

    pub fn run(self) {
        if let Some(case) = std::env::args().find_map(|a| a.strip_prefix(SPAWNED_CASE).map(String::from)) {
            std::env::set_var(CHILD, "1");
            std::env::set_var(ONLY, case);
        }
        if std::env::var_os(CHILD).is_some() {
            self.run_rank()
        } else {
            self.run_launcher()
        }
    }

    fn run_rank(&self) {
        let env = match mpi4rs::init() {
            Ok(env) => env,
            Err(e) => {
                eprintln!("init failed: {e}");
                std::process::exit(3);
            }
        };
        let only = std::env::var(ONLY).ok();
        let world = env.world();
        let chosen: Vec<_> = match &only {
            Some(name) => self.cases.iter().chain(&self.hidden).filter(|(n, _)| n == name).collect(),
            None => self.cases.iter().collect(),
        };
        for (name, case) in chosen {
            let start = Instant::now();
            if let Err(e) = case(&env) {
                eprintln!("case {name} FAILED on rank {} of {}: {e}", world.rank(), world.size());
                let _ = mpi4rs::abort(1);
            }
            world.barrier().expect("barrier between cases");
            if world.rank() == 0 {
                println!("case {name} ok ({:.2}s)", start.elapsed().as_secs_f64());
            }
        }
    }

    fn run_launcher(&self) {
        let filter: Option<String> = std::env::args().skip(1).find(|a| !a.starts_with('-'));
        let wanted = |name: &str| filter.as_deref().is_none_or(|f| name.contains(f));
        let start = Instant::now();
        let (mut passed, mut failed, mut filtered, mut skipped) = (0, 0, 0, 0);
        let mut report = |name: String, result: Result<(), String>| match result {
            Ok(()) => {
                println!("test {name} ... ok");
                passed += 1;
            }
            Err(msg) if msg.starts_with(SKIPPED) => {
                println!("test {name} ... {msg}");
                skipped += 1;
            }
            Err(msg) => {
                println!("test {name} ... FAILED\n{msg}");
                failed += 1;
            }
        };
        let run_cases = self.cases.iter().any(|(n, _)| wanted(n))
            || filter.as_deref().is_some_and(|f| self.name.contains(f));
        for &np in &self.nps {
            let name = format!("{}[np={np}]", self.name);
            if !run_cases {
                filtered += 1;
                continue;
            }
            let only = filter.as_deref().filter(|f| self.cases.iter().any(|(n, _)| n == f));
            let out = self.job(np, only, &[]);
            let result = if out.success() { Ok(()) } else { Err(format!("  {}", describe(&out))) };
            report(name, result);
        }
        for (name, check) in &self.checks {
            if !wanted(name) && !filter.as_deref().is_some_and(|f| self.name.contains(f)) {
                filtered += 1;
                continue;
            }
            report(format!("{}::{name}", self.name), check(self));
        }
        println!(
            "\ntest result: {}. {passed} passed; {failed} failed; {skipped} ignored; 0 measured; {filtered} filtered out; finished in {:.2}s\n",
            if failed == 0 { "ok" } else { "FAILED" },
            start.elapsed().as_secs_f64()
        );
        if failed > 0 {
            std::process::exit(101);
        }
    }
}

/// Rank and size of COMM_WORLD.
pub fn rank_size(env: &Environment) -> (i32, i32) {
    (env.world().rank(), env.world().size())
}

/// The right and left neighbours of this rank in a ring over COMM_WORLD.
pub fn neighbours(env: &Environment) -> (i32, i32) {
    let (me, n) = rank_size(env);
    ((me + 1) % n, (me + n - 1) % n)
}

/// The time limit of every job (`MPI4RS_TEST_TIMEOUT` seconds, default 120).
pub fn limit() -> Duration {
    let secs = std::env::var("MPI4RS_TEST_TIMEOUT").ok().and_then(|s| s.parse().ok()).unwrap_or(120);
    Duration::from_secs(secs)
}

/// How a job ended and what it printed, for failure messages.
pub fn describe(out: &JobOutput) -> String {
    format!(
        "exit {:?}{} after {:.1}s\n--- output ---\n{}",
        out.code,
        if out.timed_out { " (TIMED OUT: deadlock?)" } else { "" },
        out.elapsed.as_secs_f64(),
        out.text()
    )
}
