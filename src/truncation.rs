//! What MPI does with a message longer than its receive buffer, and what the library does
//! where MPI writes it past the buffer's end.
//!
//! MPI promises that a message longer than the receive buffer is an error of class
//! `MPI_ERR_TRUNCATE` and that no byte past the buffer is written. Open MPI 4.1's `ob1`
//! point-to-point layer breaks that promise on every transport that offers RDMA put or get:
//! above the eager limit it moves the *whole* message into the receive buffer (measured: a
//! 5000-byte message into an 8-byte receive writes 4992 bytes past it), whether the receive was
//! posted first or the message arrived first. Such transports are the `self` transport (a
//! process's messages to itself; always there) and the shared-memory one (`vader`, `sm` in
//! Open MPI 5) once it has a single-copy mechanism (CMA, XPMEM, KNEM), as on most Linux nodes.
//! Without put and get (`btl_<name>_flags=send,inplace`) both truncate correctly at every size;
//! MPICH does too. From safe code the overflow would be undefined behaviour.
//!
//! The library closes it in two steps:
//! 1. **Before `MPI_Init`** ([`prepare_before_init`]): on Open MPI, unless the user set these
//!    transports' capabilities (the variables in [`USER_CHOICES`]), it sets
//!    `OMPI_MCA_btl_self_flags` and `OMPI_MCA_btl_vader_flags` (`btl_sm_flags` on Open MPI 5)
//!    to `send,inplace`. This is done only while the process has a single thread
//!    (`/proc/self/status`), because changing the environment while another thread may read it
//!    (C's `getenv`) is a data race. The cost: large messages between processes of one node lose
//!    the single copy (where the node has one), and Open MPI 4's `osc/rdma` one-sided
//!    component, which needs RDMA, cannot serve windows: unless the user picked the components
//!    (`OMPI_MCA_osc`), it is excluded (`OMPI_MCA_osc=^rdma`), so that `osc/ucx` serves
//!    `Win::create`/`Win::create_dynamic` where Open MPI has UCX (and `osc/sm` `Win::allocate`
//!    and `allocate_shared` on one node).
//! 2. **After initialisation** ([`truncation_overflows`]), whatever the MPI and whoever
//!    initialised it: the process sends itself messages of 4 KiB and 256 KiB into a 1-byte
//!    receive at the head of a buffer as long as the message, on a private duplicate of
//!    `COMM_SELF`, and looks at the bytes after the first. When any changed, the library guards
//!    every receive that may match a message from the process itself
//!    (`runtime::guard_self_receives`): blocking receives and `sendrecv` learn the size first
//!    (`MPI_Mprobe`), object receives match by probe, and receives that are posted before the
//!    message exists (`irecv`, `recv_init`, `Exchange`, `sendrecv_replace`,
//!    `sendrecv_within`) are refused with an error that says how to lift it.
//!
//! Not covered: a user who sets these flags back to RDMA (for `osc/rdma`, say) gets Open MPI's
//! overflow on receives from other processes of the node that are shorter than their message
//! (no test at init can see another process's transport); likewise Open MPI's RDMA network
//! transports (`openib`, `uct`) under `ob1`. The guide says so.

use crate::error::{check, Result};
use crate::ffi;
use std::ffi::c_int;

/// The Open MPI parameter that names the `self` transport's capabilities.
pub(crate) const SELF_FLAGS_VAR: &str = "OMPI_MCA_btl_self_flags";
/// The Open MPI parameter that picks the one-sided components.
const OSC_VAR: &str = "OMPI_MCA_osc";
/// The transports' capabilities without RDMA put and get.
const COPY_ONLY: &str = "send,inplace";
/// The variables by which a user sets the capabilities of the `self` and shared-memory
/// transports: when any is set, the library leaves all of them alone (the user's choice; a
/// single-copy mechanism chosen without them is kept, and unused by point-to-point).
pub(crate) const USER_CHOICES: [&str; 3] =
    [SELF_FLAGS_VAR, "OMPI_MCA_btl_vader_flags", "OMPI_MCA_btl_sm_flags"];

/// What [`prepare_before_init`] did, for the log.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Preparation {
    /// The library is not Open MPI: nothing to do.
    NotOpenMpi,
    /// The transports were set to copy only.
    Set,
    /// The user had set them (the variable named): left as they are.
    UserSet(&'static str),
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
/// paths off its `self` and shared-memory transports when that can be done without a race
/// and the user did not set them (see the module documentation).
pub(crate) fn prepare_before_init(library: &str) -> Preparation {
    let prepared = prepare(library);
    let _ = PREPARED.set(prepared);
    prepared
}

/// What [`prepare_before_init`] did in this process, if it ran.
static PREPARED: std::sync::OnceLock<Preparation> = std::sync::OnceLock::new();

/// What `init` did to Open MPI's transports in this process, in words (`None` where it did not
/// run: MPI adopted, or not initialised yet).
pub(crate) fn preparation() -> Option<String> {
    let set_now = || {
        let vars = USER_CHOICES.iter().chain(std::iter::once(&OSC_VAR));
        let set: Vec<String> = vars.filter_map(|v| Some(format!("{v}={}", std::env::var(v).ok()?))).collect();
        set.join(" ")
    };
    PREPARED.get().map(|p| match p {
        Preparation::NotOpenMpi => "nothing to do (not Open MPI)".to_string(),
        Preparation::Set => format!("RDMA off for point-to-point: {}", set_now()),
        Preparation::UserSet(var) => format!("left as you set them ({var})"),
        Preparation::Threads => "left alone: other threads ran at init".to_string(),
    })
}

fn prepare(library: &str) -> Preparation {
    if !library.contains("Open MPI") {
        return Preparation::NotOpenMpi;
    }
    if let Some(var) = USER_CHOICES.iter().find(|v| std::env::var_os(v).is_some()) {
        return Preparation::UserSet(var);
    }
    if !single_threaded() {
        return Preparation::Threads;
    }
    // Open MPI 5 renamed the shared-memory transport `sm` (`vader` is an alias there).
    let before_5 = library.contains("Open MPI v4") || library.contains("Open MPI v3");
    let shared_memory = if before_5 { "OMPI_MCA_btl_vader_flags" } else { "OMPI_MCA_btl_sm_flags" };
    // This thread is the only one (checked just above; no other can start before this call
    // returns, since only this thread could start it), so no other thread reads or writes the
    // environment while it changes.
    for var in [SELF_FLAGS_VAR, shared_memory] {
        std::env::set_var(var, COPY_ONLY);
    }
    // Open MPI 4's osc/rdma needs those transports' RDMA and, picked first, fails every
    // `Win::create`; without it osc/ucx (where Open MPI has UCX) serves every window.
    if before_5 && std::env::var_os(OSC_VAR).is_none() {
        std::env::set_var(OSC_VAR, "^rdma");
    }
    Preparation::Set
}

/// Whether MPI writes past the end of a receive buffer when a message the process sent to
/// itself is longer than it. Run once MPI is initialised (any thread level: the calls are on
/// a private communicator, and its `MPI_Comm_dup` is what every rank's initialisation does),
/// by `init` on the thread that initialises MPI, so its raw calls need no gate.
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
    #[cfg_attr(miri, ignore = "reads /proc/self/status")]
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
