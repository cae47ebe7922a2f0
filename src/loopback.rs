//! Messages a process sends to itself: whether this MPI truncates them safely, and what the
//! library does where it does not.
//!
//! MPI promises that a message longer than the receive buffer is an error of class
//! `MPI_ERR_TRUNCATE` and that no byte past the buffer is written. Open MPI 4.1's `self`
//! transport breaks that promise: a message above its eager limit (about 1 KiB) travels by
//! RDMA put or get, which copies the *whole* message into the receive buffer (a 5000-byte
//! message into a 4096-byte receive writes 904 bytes past it, whether the receive was posted
//! first or the message arrived first). Between two processes, and on MPICH, truncation is
//! correct. From safe code that would be undefined behaviour: `irecv` of 8 bytes, `isend` of
//! 5000 to oneself.
//!
//! The library closes it in two steps:
//! 1. **Before `MPI_Init`** ([`prepare_before_init`]): on Open MPI, unless the user set it,
//!    `OMPI_MCA_btl_self_flags=send,inplace` goes into the environment, which takes the RDMA
//!    paths off the `self` transport (measured: every size then truncates correctly). This is
//!    done only while the process has a single thread (`/proc/self/status`), because changing
//!    the environment while another thread may read it (C's `getenv`) is a data race.
//! 2. **After initialisation** ([`truncation_overflows`]): a test, whatever the MPI and
//!    whoever initialised it: a process sends itself messages of 4 KiB and 256 KiB into a
//!    1-byte receive at the head of a buffer as long as the message, on a private duplicate of
//!    `COMM_SELF`, and looks at the bytes after the first. When any changed, the library
//!    guards every receive that may match a message from the process itself
//!    (`runtime::guard_self_receives`): blocking receives and `sendrecv` learn the size first
//!    (`MPI_Mprobe`), object receives match by probe, and receives that are posted before the
//!    message exists (`irecv`, `recv_init`, `Exchange`, `sendrecv_replace`,
//!    `sendrecv_within`) are refused with an error that says how to lift it. So a guarded
//!    process can never have a posted receive that a message from itself matches without its
//!    size being known first.
//!
//! The guard applies only where step 1 could not: MPI initialised by someone else, threads
//! started before [`init`](crate::init), or a user's own `btl_self_flags`.

use crate::error::{check, Result};
use crate::ffi;
use std::ffi::c_int;

/// The Open MPI parameter that names the `self` transport's capabilities.
pub(crate) const SELF_FLAGS_VAR: &str = "OMPI_MCA_btl_self_flags";
/// Its value without the RDMA put and get capabilities.
const SELF_FLAGS_COPY_ONLY: &str = "send,inplace";

/// What [`prepare_before_init`] did, for the log and [`crate::version_info`]-style reports.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Preparation {
    /// The library is not Open MPI: nothing to do.
    NotOpenMpi,
    /// `OMPI_MCA_btl_self_flags` was set here.
    Set,
    /// The user had set it already: left as it is.
    UserSet,
    /// Other threads ran (or their number was unknown): the environment was left alone.
    Threads,
}

/// Whether this process runs one thread only (Linux: `/proc/self/status`); `false` where it
/// cannot tell.
fn single_threaded() -> bool {
    let Ok(status) = std::fs::read_to_string("/proc/self/status") else { return false };
    status.lines().find_map(|l| l.strip_prefix("Threads:")).is_some_and(|n| n.trim() == "1")
}

/// Called before `MPI_Init` with the library's version string: on Open MPI, takes the RDMA
/// paths off its `self` transport when that can be done without a race (see the module
/// documentation).
pub(crate) fn prepare_before_init(library: &str) -> Preparation {
    if !library.contains("Open MPI") {
        return Preparation::NotOpenMpi;
    }
    if std::env::var_os(SELF_FLAGS_VAR).is_some() {
        return Preparation::UserSet;
    }
    if !single_threaded() {
        return Preparation::Threads;
    }
    // This thread is the only one (checked just above; no other can start before this call
    // returns, since only this thread could start it), so no other thread reads or writes the
    // environment while it changes.
    std::env::set_var(SELF_FLAGS_VAR, SELF_FLAGS_COPY_ONLY);
    Preparation::Set
}

/// Whether MPI writes past the end of a receive buffer when a message the process sent to
/// itself is longer than it. Run once MPI is initialised (any thread level: the calls are on
/// a private communicator, and its `MPI_Comm_dup` is what every rank's initialisation does).
pub(crate) fn truncation_overflows() -> Result<bool> {
    let mut comm = ffi::COMM_NULL();
    // SAFETY: MPI is initialised (the caller's contract: called from initialisation);
    // `comm` outlives the call.
    check("MPI_Comm_dup", unsafe { ffi::MPI_Comm_dup(ffi::COMM_SELF(), &mut comm) })?;
    let result = overflows_on(comm);
    // SAFETY: `comm` was duplicated above and is freed once; no request on it is pending
    // (every receive below was waited for).
    let freed = check("MPI_Comm_free", unsafe { ffi::MPI_Comm_free(&mut comm) });
    let overflows = result?;
    freed?;
    Ok(overflows)
}

fn overflows_on(comm: ffi::MPI_Comm) -> Result<bool> {
    // SAFETY: `comm` is a live communicator; the predefined handler returns error codes.
    check("MPI_Comm_set_errhandler", unsafe { ffi::MPI_Comm_set_errhandler(comm, ffi::ERRORS_RETURN()) })?;
    for bytes in [4096usize, 256 * 1024] {
        let message = vec![7u8; bytes];
        // The receive holds 1 byte at the head of `landing`, as long as the message: an MPI
        // that copies the whole message writes only memory this function owns.
        let mut landing = vec![0xABu8; bytes];
        let count = c_int::try_from(bytes).unwrap_or(c_int::MAX);
        let mut recv = ffi::REQUEST_NULL();
        let mut send = ffi::REQUEST_NULL();
        // SAFETY: `landing` holds `bytes` >= 1 bytes and lives until both requests are waited
        // for below; no reference to it exists meanwhile (MPI writes through the raw pointer,
        // and any byte value is a valid `u8`).
        check("MPI_Irecv", unsafe {
            ffi::MPI_Irecv(landing.as_mut_ptr().cast(), 1, ffi::BYTE(), 0, 0, comm, &mut recv)
        })?;
        // SAFETY: `message` holds `count` bytes and lives until the send is waited for.
        let sent = check("MPI_Isend", unsafe {
            ffi::MPI_Isend(message.as_ptr().cast(), count, ffi::BYTE(), 0, 0, comm, &mut send)
        });
        // The receive reports the truncation (expected); only the bytes matter here.
        // SAFETY: `recv` is the request posted above; waiting frees it.
        let _ = unsafe { ffi::MPI_Wait(&mut recv, ffi::STATUS_IGNORE()) };
        if sent.is_ok() {
            // SAFETY: `send` is the request started above; waiting frees it.
            check("MPI_Wait", unsafe { ffi::MPI_Wait(&mut send, ffi::STATUS_IGNORE()) })?;
        }
        sent?;
        if landing[1..].iter().any(|&b| b != 0xAB) {
            return Ok(true);
        }
    }
    Ok(false)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn counts_threads() {
        // The test harness runs tests on threads of its own: never one thread here.
        let spawned = std::thread::spawn(single_threaded).join().unwrap();
        assert!(!spawned);
    }

    #[test]
    fn other_libraries_are_left_alone() {
        assert_eq!(prepare_before_init("MPICH Version: 4.0.2"), Preparation::NotOpenMpi);
    }
}
