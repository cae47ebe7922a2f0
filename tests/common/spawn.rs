//! Jobs that spawn processes, open ports or join, where the MPI library may refuse: such a
//! case prints why (rank 0, a line starting with [`UNSUPPORTED`]) and returns; the
//! launcher-side check that ran it then reports `skipped:` with that reason instead of passing.

use super::{describe, Suite, SKIPPED};
use mpi4rs::{dynamic, Communicator, Environment, Error, ErrorClass};

/// Printed (by rank 0) instead of running a case the MPI library cannot run.
pub const UNSUPPORTED: &str = "UNSUPPORTED: ";

/// Runs hidden case `case` at each rank count; passes when every job prints `want`, skips when
/// one prints [`UNSUPPORTED`].
pub fn expect(suite: &Suite, case: &str, nps: &[usize], want: &str) -> std::result::Result<(), String> {
    for &np in nps {
        let out = suite.job(np, Some(case), &[]);
        if let Some(line) = out.stdout.lines().find(|l| l.starts_with(UNSUPPORTED)) {
            return Err(format!("{SKIPPED}{}", &line[UNSUPPORTED.len()..]));
        }
        if !out.success() || !out.stdout.contains(want) {
            return Err(format!("np={np}: expected {want:?}\n  {}", describe(&out)));
        }
    }
    Ok(())
}

/// Whether `e` is the MPI library saying it cannot do this at all.
pub fn is_unsupported(e: &Error) -> bool {
    e.to_string().contains("not supported") || e.class() == Some(ErrorClass::UnsupportedOperation)
}

/// Rank 0 prints why the case cannot run, for the launcher-side check to report.
pub fn say_unsupported(env: &Environment, why: String) {
    if env.world().rank() == 0 {
        let why = why.lines().map(str::trim).filter(|l| !l.is_empty()).collect::<Vec<_>>().join(" / ");
        let version = mpi4rs::library_version().unwrap_or_default();
        println!("{UNSUPPORTED}{} cannot do this: {why}", version.lines().next().unwrap_or(""));
    }
}

/// Whether `e` says the library cannot do this; if so rank 0 says it.
pub fn unsupported(env: &Environment, e: &Error) -> bool {
    let no = is_unsupported(e);
    if no {
        say_unsupported(env, e.to_string());
    }
    no
}

/// [`unsupported`] for a failed spawn: MPICH's ch4:ucx says only "Error in spawn call"; the
/// reason shows when a port (which a spawn opens) is asked for.
pub fn spawn_unsupported(env: &Environment, e: &Error) -> bool {
    if unsupported(env, e) {
        return true;
    }
    match dynamic::open_port(None) {
        Err(port) if is_unsupported(&port) => {
            say_unsupported(env, format!("spawn failed ({e}) because ports are not supported ({port})"));
            true
        }
        _ => false,
    }
}
