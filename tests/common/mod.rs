//! The multi-rank test harness. Each test file is a `harness = false` test whose `main` builds
//! a [`Suite`]. Run by `cargo test`, the binary is the *launcher*: it starts itself under
//! `mpiexec` once per rank count, with a time limit, and prints libtest-style results. Started
//! by the launcher (`MPI4RS_TEST_CHILD` set), it is a *rank*: it initialises MPI and runs the
//! cases in order, with a barrier between them; a failing case prints its error and aborts the
//! job, so a failure never turns into a hang.
//!
//! The launcher's tests are one job per rank count, `NAME[np=N]`, and each check,
//! `NAME::CHECK`. It answers libtest's command line as `cargo test` and `cargo nextest` use it:
//! `--list [--format terse]` lists them without running anything, `--exact NAME` runs one,
//! a filter runs those whose name (or one of whose cases' names) contains it, and a filter
//! that is exactly a case's name runs that case alone in each job.
#![allow(dead_code)]

pub mod emu;
pub mod spawn;
pub mod strided;

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
        // Bound first, so that a comparison of floats is not negated (clippy's
        // neg_cmp_op_on_partial_ord: `!(x < y)` is not `x >= y` for NaN).
        {
            let holds: bool = $cond;
            if !holds {
                return Err(mpi4rs::Error::InvalidArgument(format!("check failed at {}:{}: {}", file!(), line!(), format!($($fmt)+))));
            }
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

    /// The tests the launcher lists and runs: one job per rank count (`NAME[np=N]`, every
    /// case in order) and each check (`NAME::CHECK`).
    fn tests(&self) -> Vec<(String, Test)> {
        let jobs = self.nps.iter().map(|&np| (format!("{}[np={np}]", self.name), Test::Job(np)));
        let checks = self.checks.iter().map(|&(name, f)| (format!("{}::{name}", self.name), Test::Check(f)));
        jobs.chain(checks).collect()
    }

    /// Whether `filter` (a substring, or the whole name with `--exact`) picks the test `name`:
    /// a job is picked through its own name or the name of one of its cases, a check through
    /// its name; without `--exact`, the suite's name picks every test.
    fn picks(&self, args: &Args, filter: &str, name: &str, test: &Test) -> bool {
        let case_named = |f: &dyn Fn(&str) -> bool| self.cases.iter().any(|(n, _)| f(n));
        if args.exact {
            name == filter || matches!(test, Test::Job(_)) && case_named(&|n| n == filter)
        } else {
            name.contains(filter)
                || self.name.contains(filter)
                || match test {
                    Test::Job(_) => case_named(&|n| n.contains(filter)),
                    Test::Check(_) => false,
                }
        }
    }

    fn run_launcher(&self) {
        let args = Args::parse();
        let chosen: Vec<(String, Test)> = self
            .tests()
            .into_iter()
            .filter(|(name, test)| {
                // The suite has no #[ignore]d tests: `--ignored` picks none.
                !args.ignored
                    && (args.filters.is_empty()
                        || args.filters.iter().any(|f| self.picks(&args, f, name, test)))
                    && !args
                        .skip
                        .iter()
                        .any(|s| if args.exact { name == s } else { name.contains(s.as_str()) })
            })
            .collect();
        let filtered = self.nps.len() + self.checks.len() - chosen.len();
        if args.list {
            for (name, _) in &chosen {
                println!("{name}: test");
            }
            if !args.terse {
                println!("\n{} tests, 0 benchmarks", chosen.len());
            }
            return;
        }
        // A filter that is exactly one case's name runs that case alone in each job.
        let only = match &args.filters[..] {
            [f] => self.cases.iter().find(|(n, _)| n == f).map(|(n, _)| *n),
            _ => None,
        };
        let start = Instant::now();
        let (mut passed, mut failed, mut skipped) = (0, 0, 0);
        let mut report = |name: &str, result: Result<(), String>| match result {
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
        for (name, test) in &chosen {
            let result = match *test {
                Test::Job(np) => {
                    let out = self.job(np, only, &[]);
                    if out.success() {
                        Ok(())
                    } else {
                        Err(format!("  {}", describe(&out)))
                    }
                }
                Test::Check(check) => check(self),
            };
            report(name, result);
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

/// A test the launcher runs.
#[derive(Clone, Copy)]
enum Test {
    /// Every case, in one job of this many ranks.
    Job(usize),
    /// A launcher-side check.
    Check(Check),
}

/// The launcher's command line: the part of libtest's that `cargo test` and `cargo nextest`
/// use (`--list [--format terse]`, `--exact`, `--ignored`, `--include-ignored`, `--skip F`,
/// filters). Other flags (`--nocapture`, `--test-threads N`, `--color C`, `-q`, …) are
/// accepted and ignored: the ranks' output is always shown on failure, and jobs run one at a
/// time.
#[derive(Default)]
struct Args {
    list: bool,
    terse: bool,
    exact: bool,
    ignored: bool,
    filters: Vec<String>,
    skip: Vec<String>,
}

impl Args {
    fn parse() -> Args {
        let mut args = Args::default();
        let mut it = std::env::args().skip(1);
        while let Some(a) = it.next() {
            let (flag, inline) = match a.split_once('=') {
                Some((f, v)) if f.starts_with("--") => (f.to_string(), Some(v.to_string())),
                _ => (a.clone(), None),
            };
            let mut value = || inline.clone().or_else(|| it.next()).unwrap_or_default();
            match flag.as_str() {
                "--list" => args.list = true,
                "--exact" => args.exact = true,
                "--ignored" => args.ignored = true,
                "--format" => args.terse = value() == "terse",
                "--skip" => args.skip.push(value()),
                // libtest's flags that take a value.
                "--test-threads" | "--color" | "--logfile" | "-Z" | "--shuffle-seed" => {
                    value();
                }
                f if f.starts_with('-') => {}
                _ => args.filters.push(a),
            }
        }
        args
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
    let secs = mpi4rs::device::env::count_var("MPI4RS_TEST_TIMEOUT")
        .unwrap_or_else(|e| panic!("{e}"))
        .unwrap_or(120);
    Duration::from_secs(secs as u64)
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
