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

/// The environment variable that marks every process of one job, so that ranks the launcher
/// detached from its process group can still be found and ended after a time-out.
pub const JOB_TAG: &str = "MPI4RS_JOB_TAG";

/// Runs a command in its own process group, capturing its output; past `limit` the whole job
/// is ended, so a deadlocked job fails instead of hanging.
///
/// `mpiexec` starts ranks that need not stay in its process group (Open MPI puts each rank in
/// a group of its own), so killing the group is not enough: every process whose environment
/// carries this job's [`JOB_TAG`] (set on the command here, inherited by `mpiexec`'s daemons
/// and ranks) gets `SIGKILL`, then `mpiexec`'s group does. Signals are sent by the system
/// call, not by `/bin/kill`: Debian 12's (procps-ng 4.0.2) reads `kill -KILL -12040` as
/// kill(-1), every process on the machine.
///
/// The output readers are not joined for more than a grace period after the job ends: an
/// orphaned process could hold the pipes open forever. What was read by then is returned.
pub fn run_with_limit(mut cmd: Command, limit: Duration) -> Result<JobOutput> {
    use std::os::unix::process::CommandExt;
    use std::sync::atomic::{AtomicU64, Ordering};
    use std::sync::{Arc, Mutex};
    static JOBS: AtomicU64 = AtomicU64::new(0);
    let tag = format!("{}-{}", std::process::id(), JOBS.fetch_add(1, Ordering::Relaxed));
    let start = Instant::now();
    let mut child = cmd
        .env(JOB_TAG, &tag)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .process_group(0)
        .spawn()
        .map_err(|e| Error::Config(format!("cannot start {cmd:?}: {e}")))?;
    type Sink = Arc<Mutex<Vec<u8>>>;
    let drain = |pipe: Option<Box<dyn Read + Send>>| -> (Sink, std::thread::JoinHandle<()>) {
        let sink: Sink = Arc::default();
        let to = sink.clone();
        let reader = std::thread::spawn(move || {
            let Some(mut p) = pipe else { return };
            let mut chunk = [0u8; 8192];
            while let Ok(n @ 1..) = p.read(&mut chunk) {
                to.lock().unwrap_or_else(|e| e.into_inner()).extend_from_slice(&chunk[..n]);
            }
        });
        (sink, reader)
    };
    let (out, out_reader) = drain(child.stdout.take().map(|p| Box::new(p) as Box<dyn Read + Send>));
    let (err, err_reader) = drain(child.stderr.take().map(|p| Box::new(p) as Box<dyn Read + Send>));
    let wait = |child: &mut std::process::Child| child.try_wait().map_err(|e| Error::Config(e.to_string()));
    let mut timed_out = false;
    let status = loop {
        if let Some(status) = wait(&mut child)? {
            break status;
        }
        if start.elapsed() > limit {
            timed_out = true;
            // Repeat until none is left: a rank may be forking, or still exiting.
            let ending = Instant::now();
            while kill_tagged(&tag) > 0 && ending.elapsed() < GRACE {
                std::thread::sleep(Duration::from_millis(50));
            }
            // The group of `mpiexec` (its id, as `process_group(0)` made it), for what the tag
            // missed. The id is positive, so this can never be kill(-1) (every process).
            sigkill(-(child.id() as libc::pid_t));
            break child.wait().map_err(|e| Error::Config(e.to_string()))?;
        }
        std::thread::sleep(Duration::from_millis(20));
    };
    // Normally the pipes close with the job. If a process that was not ours to kill holds
    // them, give up waiting after the grace period and return what was read.
    let readers_done = Instant::now();
    while !(out_reader.is_finished() && err_reader.is_finished()) && readers_done.elapsed() < GRACE {
        std::thread::sleep(Duration::from_millis(10));
    }
    let text =
        |sink: &Sink| String::from_utf8_lossy(&sink.lock().unwrap_or_else(|e| e.into_inner())).into_owned();
    Ok(JobOutput {
        code: status.code(),
        timed_out,
        stdout: text(&out),
        stderr: text(&err),
        elapsed: start.elapsed(),
    })
}

/// How long the output pipes of a finished job may stay open before the launcher stops reading.
const GRACE: Duration = Duration::from_secs(3);

/// `SIGKILL` to every process (but this one) whose environment has `JOB_TAG=tag`; how many
/// there were. (A process that has exited but is not yet reaped shows an empty environment.)
fn kill_tagged(tag: &str) -> usize {
    let needle = format!("{JOB_TAG}={tag}\0");
    let me = std::process::id() as libc::pid_t;
    let Ok(procs) = std::fs::read_dir("/proc") else { return 0 };
    let mut found = 0;
    for entry in procs.flatten() {
        let name = entry.file_name();
        let Some(pid) = name.to_str().and_then(|p| p.parse::<libc::pid_t>().ok()) else { continue };
        if pid <= 1 || pid == me {
            continue;
        }
        let Ok(environ) = std::fs::read(entry.path().join("environ")) else { continue };
        if environ.windows(needle.len()).any(|w| w == needle.as_bytes()) {
            sigkill(pid);
            found += 1;
        }
    }
    found
}

/// `SIGKILL` to a process (`target > 0`) or a process group (`target < -1`), by the system
/// call itself: Debian 12's `/bin/kill` (procps-ng 4.0.2) misreads a negative id such as
/// `-12040` as a signal option and signals far more than the group.
fn sigkill(target: libc::pid_t) {
    if (-1..=1).contains(&target) {
        return; // never every process, our own group or init
    }
    // SAFETY: kill(2) takes plain integers; an id that is gone gives ESRCH, which is fine here.
    unsafe { libc::kill(target, libc::SIGKILL) };
}
