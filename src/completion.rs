//! Completing a bare request handle: waiting, testing and freeing it, and finishing the
//! staged work ([`crate::pending`]) left with it. Below both [`crate::scope`], which completes
//! what a scope still holds when it ends, and [`crate::request`], the safe handle types.

use crate::error::{check, mpi_call, Error, Result};
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

/// Whether `result` of a wait or test on one request came from MPI (the request then ended,
/// with or without an error) rather than from the library's gate (MPI was not called).
fn mpi_answered<T>(result: &Result<T>) -> bool {
    !matches!(result, Err(Error::NotInitialized | Error::WrongThread { .. }))
}

/// Waits for a request (`MPI_Wait`) and finishes its staged work, also when the operation
/// failed: the request is over either way, and its handle may be given to the next request
/// at once (Open MPI does), which must not find this one's staged work.
pub(crate) fn wait_raw(raw: &mut MPI_Request) -> Result<Status> {
    let mut status = Status::default();
    let key = pending::key(raw);
    let waited = mpi_call!(MPI_Wait(raw, &mut status.0));
    if pending::any() && mpi_answered(&waited) {
        let finished = pending::completed(key, Some(&status));
        waited?;
        finished?;
        return Ok(status);
    }
    waited.map(|()| status)
}

/// Tests a request (`MPI_Test`); finishes its staged work if it completed (also with an
/// error, as [`wait_raw`]).
pub(crate) fn test_raw(raw: &mut MPI_Request) -> Result<Option<Status>> {
    let mut status = Status::default();
    let mut flag: c_int = 0;
    let key = pending::key(raw);
    let tested = mpi_call!(MPI_Test(raw, &mut flag, &mut status.0));
    if pending::any() && ((tested.is_ok() && flag != 0) || (tested.is_err() && mpi_answered(&tested))) {
        let finished = pending::completed(key, Some(&status));
        tested?;
        finished?;
        return Ok(Some(status));
    }
    tested.map(|()| (flag != 0).then_some(status))
}

/// Waits for every request of `raws` (`MPI_Waitall`). After an error some may still be active
/// (`MPI_ERR_PENDING`): each one left is then waited for on its own, so that none still uses
/// the memory its owner releases on return; the first error is returned.
pub(crate) fn wait_all_drained(raws: &mut [MPI_Request]) -> Result<()> {
    let n = crate::util::to_count("number of requests", raws.len())?;
    let waited = mpi_call!(MPI_Waitall(n, raws.as_mut_ptr(), ffi::STATUSES_IGNORE()));
    if waited.is_err() && mpi_answered(&waited) {
        for raw in raws.iter_mut().filter(|r| **r != ffi::REQUEST_NULL()) {
            // A live request (or an inactive persistent one, for which this returns at once);
            // waiting frees a nonblocking one and leaves a persistent one in place. Its own
            // error adds nothing to the first one, which is returned.
            let _ = mpi_call!(MPI_Wait(raw, ffi::STATUS_IGNORE()));
        }
    }
    waited
}
