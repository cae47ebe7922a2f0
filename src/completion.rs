//! Completing a bare request handle: waiting, testing and freeing it, and finishing the
//! staged work ([`crate::pending`]) left with it. Below both [`crate::scope`], which completes
//! what a scope still holds when it ends, and [`crate::request`], the safe handle types.

use crate::error::{check, mpi_call, Result};
use crate::ffi::{self, MPI_Request};
use crate::pending;
use crate::status::Status;
use std::ffi::c_int;

/// Waits for a persistent request if it is `active`, and frees it, with its staged buffers.
pub(crate) fn free_persistent(raw: &mut MPI_Request, active: bool) -> Result<()> {
    let key = pending::key(raw);
    let waited = if active { wait_raw(raw).map(drop) } else { Ok(()) };
    let freed = crate::error::require_not_finalized().and_then(|_call| {
        // SAFETY: `raw` is a persistent request that is not active (just waited for); freeing
        // it once is what its owner does last.
        check("MPI_Request_free", unsafe { ffi::MPI_Request_free(raw) })
    });
    if pending::any() {
        pending::forget(key);
    }
    waited.and(freed)
}

/// Waits for a request (`MPI_Wait`) and finishes its staged work.
pub(crate) fn wait_raw(raw: &mut MPI_Request) -> Result<Status> {
    let mut status = Status::default();
    let key = pending::key(raw);
    mpi_call!(MPI_Wait(raw, &mut status.0))?;
    if pending::any() {
        pending::completed(key, Some(&status))?;
    }
    Ok(status)
}

/// Tests a request (`MPI_Test`); finishes its staged work if it completed.
pub(crate) fn test_raw(raw: &mut MPI_Request) -> Result<Option<Status>> {
    let mut status = Status::default();
    let mut flag: c_int = 0;
    let key = pending::key(raw);
    mpi_call!(MPI_Test(raw, &mut flag, &mut status.0))?;
    if flag != 0 && pending::any() {
        pending::completed(key, Some(&status))?;
    }
    Ok((flag != 0).then_some(status))
}
