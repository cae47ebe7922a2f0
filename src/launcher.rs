//! Running programs under `mpiexec` from Rust: the test suite, the benches and users' own
//! tests use it to start real multi-rank jobs with a time limit.
//!
//! The `mpiexec` is the one that belongs to the MPI library this crate was linked against
//! (`mpiexec.openmpi` or `mpiexec.mpich` where both are installed), unless `MPIEXEC` names
//! another. Open MPI gets the flags a small or shared machine needs: run as root,
//! oversubscribe, and yield when idle so four ranks on two cores stay fast.
//!
//! ```no_run
//! use std::time::Duration;
//! let launcher = mpi4rs::launcher::Launcher::detect()?;
//! let out = launcher.run(4, "target/release/examples/ringtest".as_ref(), &[], Duration::from_secs(60))?;
//! assert!(out.success(), "{}", out.text());
//! # Ok::<(), mpi4rs::Error>(())
//! ```

use crate::error::{Error, Result};
use std::io::Read;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

/// Which family of MPI implementation.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Flavor {
    /// Open MPI.
    OpenMpi,
    /// MPICH or a derivative (Intel MPI, MVAPICH, Cray MPICH).
    Mpich,
    /// Anything else.
    Other,
}

/// The flavour of the MPI library linked into this program (callable before `init`).
pub fn linked_flavor() -> Flavor {
    match crate::library_version() {
        Ok(v) if v.contains("Open MPI") => Flavor::OpenMpi,
        Ok(v) if v.contains("MPICH") || v.contains("Intel") || v.contains("MVAPICH") => Flavor::Mpich,
        _ => Flavor::Other,
    }
}

/// An `mpiexec` and the flags it needs.
#[derive(Clone, Debug)]
pub struct Launcher {
    program: PathBuf,
    flavor: Flavor,
}

/// What a finished (or timed-out) job printed.
#[derive(Clone, Debug)]
pub struct JobOutput {
    /// Exit code of `mpiexec` (`None` if killed by a signal).
    pub code: Option<i32>,
    /// Whether the time limit ended the job.
    pub timed_out: bool,
    /// Standard output of all ranks.
    pub stdout: String,
    /// Standard error of all ranks.
    pub stderr: String,
    /// Wall-clock time of the job.
    pub elapsed: Duration,
}

impl JobOutput {
    /// True when the job exited with code 0 within its time limit.
    pub fn success(&self) -> bool {
        !self.timed_out && self.code == Some(0)
    }

    /// Standard output and standard error together, for messages.
    pub fn text(&self) -> String {
        format!("{}{}", self.stdout, self.stderr)
    }
}

fn on_path(name: &str) -> Option<PathBuf> {
    std::env::var_os("PATH")?.to_str()?.split(':').map(|d| Path::new(d).join(name)).find(|p| p.is_file())
}

impl Launcher {
    /// The `mpiexec` in `MPIEXEC`, or the one matching the linked MPI library.
    pub fn detect() -> Result<Launcher> {
        let flavor = linked_flavor();
        if let Some(p) = std::env::var_os("MPIEXEC") {
            return Ok(Launcher { program: PathBuf::from(p), flavor });
        }
        let candidates: &[&str] = match flavor {
            Flavor::OpenMpi => &["mpiexec.openmpi", "mpiexec"],
            Flavor::Mpich => &["mpiexec.mpich", "mpiexec.hydra", "mpiexec"],
            Flavor::Other => &["mpiexec"],
        };
        candidates.iter().find_map(|c| on_path(c)).map(|program| Launcher { program, flavor }).ok_or_else(
            || Error::Config(format!("no {} found on PATH (set MPIEXEC)", candidates.join(" or "))),
        )
    }

    /// The flavour of MPI this launcher starts.
    pub fn flavor(&self) -> Flavor {
        self.flavor
    }

    /// The `mpiexec` command for `np` ranks of `exe args…`, with flags and environment set.
    pub fn command(&self, np: usize, exe: &Path, args: &[&str]) -> Command {
        let mut cmd = Command::new(&self.program);
        if self.flavor == Flavor::OpenMpi {
            cmd.args(["--oversubscribe", "--bind-to", "none"])
                .env("OMPI_ALLOW_RUN_AS_ROOT", "1")
                .env("OMPI_ALLOW_RUN_AS_ROOT_CONFIRM", "1")
                .env("OMPI_MCA_mpi_yield_when_idle", "1")
                // Containers often forbid the ptrace that CMA single-copy needs.
                .env("OMPI_MCA_btl_vader_single_copy_mechanism", "none")
                .env("OMPI_MCA_rmaps_base_oversubscribe", "1");
        }
        cmd.arg("-n").arg(np.to_string()).arg(exe).args(args);
        cmd
    }

    /// Runs `exe` on `np` ranks, killing the whole job if it runs past `limit`.
    pub fn run(&self, np: usize, exe: &Path, args: &[&str], limit: Duration) -> Result<JobOutput> {
        run_with_limit(self.command(np, exe, args), limit)
    }
}

/// Runs a command in its own process group, capturing its output; past `limit` the whole
/// group is killed, so a deadlocked job fails instead of hanging.
pub fn run_with_limit(mut cmd: Command, limit: Duration) -> Result<JobOutput> {
    use std::os::unix::process::CommandExt;
    let start = Instant::now();
    let mut child = cmd
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .process_group(0)
        .spawn()
        .map_err(|e| Error::Config(format!("cannot start {cmd:?}: {e}")))?;
    let drain = |pipe: Option<Box<dyn Read + Send>>| {
        std::thread::spawn(move || {
            let mut s = String::new();
            if let Some(mut p) = pipe {
                let mut bytes = Vec::new();
                let _ = p.read_to_end(&mut bytes);
                s = String::from_utf8_lossy(&bytes).into_owned();
            }
            s
        })
    };
    let out = drain(child.stdout.take().map(|p| Box::new(p) as Box<dyn Read + Send>));
    let err = drain(child.stderr.take().map(|p| Box::new(p) as Box<dyn Read + Send>));
    let mut timed_out = false;
    let status = loop {
        if let Some(status) = child.try_wait().map_err(|e| Error::Config(e.to_string()))? {
            break status;
        }
        if start.elapsed() > limit {
            timed_out = true;
            let _ = Command::new("kill").args(["-KILL", &format!("-{}", child.id())]).status();
            break child.wait().map_err(|e| Error::Config(e.to_string()))?;
        }
        std::thread::sleep(Duration::from_millis(20));
    };
    Ok(JobOutput {
        code: status.code(),
        timed_out,
        stdout: out.join().unwrap_or_default(),
        stderr: err.join().unwrap_or_default(),
        elapsed: start.elapsed(),
    })
}
