//! Requests of nonblocking and persistent operations, and completion of sets of them
//! (mpi4py's `Request`, `Prequest`, `Waitall` … `Testsome`).
//!
//! A request borrows the buffer of its operation for `'b`, so the borrow checker forbids
//! touching the buffer before the request completes. Dropping an incomplete request waits
//! for it; the buffer is therefore never released while MPI may still use it.
//! (As with any guard, `std::mem::forget` on a pending request defeats this: don't.)

use crate::environment::is_active;
use crate::error::{check, mpi_call, Error, Result};
use crate::ffi::{self, MPI_Request, MPI_Status};
use crate::status::Status;
use crate::transfer::pending;
use crate::util::to_count;
use std::ffi::c_int;
use std::marker::PhantomData;

/// A nonblocking operation in flight (`MPI_Request`), borrowing its buffer for `'b`.
///
/// ```no_run
/// use mpi4rs::prelude::*;
/// let env = mpi4rs::init()?;
/// let world = env.world();
/// let (n, me) = (world.size(), world.rank());
/// let (right, left) = ((me + 1) % n, (me + n - 1) % n);
/// let mut got = 0i32;
/// let recv = world.irecv(&mut got, left, 0)?;
/// let send = world.isend(&me, right, 0)?;
/// mpi4rs::wait_all(&mut [recv, send])?;
/// assert_eq!(got, left);
/// # Ok::<(), mpi4rs::Error>(())
/// ```
#[repr(transparent)]
#[must_use = "dropping a request waits for it to complete"]
pub struct Request<'b> {
    raw: MPI_Request,
    _buffer: PhantomData<&'b mut ()>,
}

// SAFETY: a request handle may be completed from another thread under THREAD_MULTIPLE;
// the borrowed buffer's own Send-ness is covered by the borrow.
unsafe impl Send for Request<'_> {}

impl<'b> Request<'b> {
    pub(crate) fn new(raw: MPI_Request) -> Self {
        Request { raw, _buffer: PhantomData }
    }

    /// The raw handle (still owned by `self`).
    pub fn as_raw(&self) -> MPI_Request {
        self.raw
    }

    /// Whether the request has completed (and been freed by a wait or test).
    pub fn is_complete(&self) -> bool {
        self.raw == ffi::REQUEST_NULL()
    }

    /// Waits for completion (`MPI_Wait`).
    pub fn wait(mut self) -> Result<Status> {
        wait_raw(&mut self.raw)
    }

    /// Completes the request if it is done (`MPI_Test`): `Some(status)` once complete.
    pub fn test(&mut self) -> Result<Option<Status>> {
        test_raw(&mut self.raw)
    }

    /// Asks MPI to cancel the operation (`MPI_Cancel`); complete it with [`wait`](Self::wait)
    /// and look at [`Status::is_cancelled`].
    pub fn cancel(&self) -> Result<()> {
        cancel_raw(self.raw)
    }

    /// The status if complete, without freeing the request (`MPI_Request_get_status`).
    pub fn status(&self) -> Result<Option<Status>> {
        status_raw(self.raw)
    }
}

impl Drop for Request<'_> {
    fn drop(&mut self) {
        if self.raw != ffi::REQUEST_NULL() && is_active() {
            // The buffer borrow ends here: MPI must be done with it first (and staged device
            // buffers written back).
            let _ = wait_raw(&mut self.raw);
        }
    }
}

/// A persistent operation (`MPI_Send_init`, `MPI_Recv_init`, …): started any number of times,
/// freed on drop (after waiting, if active).
#[repr(transparent)]
#[must_use = "a persistent request does nothing until started"]
pub struct PersistentRequest<'b> {
    raw: MPI_Request,
    _buffer: PhantomData<&'b mut ()>,
}

unsafe impl Send for PersistentRequest<'_> {}

impl<'b> PersistentRequest<'b> {
    pub(crate) fn new(raw: MPI_Request) -> Self {
        PersistentRequest { raw, _buffer: PhantomData }
    }

    /// The raw handle (still owned by `self`).
    pub fn as_raw(&self) -> MPI_Request {
        self.raw
    }

    /// Starts the operation (`MPI_Start`). Staged device buffers are copied in again first.
    pub fn start(&mut self) -> Result<()> {
        if pending::any() {
            pending::restart(pending::key(&self.raw))?;
        }
        mpi_call!(MPI_Start(&mut self.raw))
    }

    /// Waits for the started operation; the request stays usable (`MPI_Wait`).
    pub fn wait(&mut self) -> Result<Status> {
        wait_raw(&mut self.raw)
    }

    /// Tests the started operation; the request stays usable (`MPI_Test`).
    pub fn test(&mut self) -> Result<Option<Status>> {
        test_raw(&mut self.raw)
    }

    /// Asks MPI to cancel the started operation (`MPI_Cancel`).
    pub fn cancel(&self) -> Result<()> {
        cancel_raw(self.raw)
    }
}

impl Drop for PersistentRequest<'_> {
    fn drop(&mut self) {
        if self.raw != ffi::REQUEST_NULL() && is_active() {
            let key = pending::key(&self.raw);
            let _ = wait_raw(&mut self.raw);
            unsafe { ffi::MPI_Request_free(&mut self.raw) };
            if pending::any() {
                pending::forget(key);
            }
        }
    }
}

/// Starts every persistent request (`MPI_Startall`).
pub fn start_all(requests: &mut [PersistentRequest<'_>]) -> Result<()> {
    let n = to_count("number of requests", requests.len())?;
    if pending::any() {
        for r in requests.iter() {
            pending::restart(pending::key(&r.raw))?;
        }
    }
    mpi_call!(MPI_Startall(n, raw_slice(requests)))
}

fn wait_raw(raw: &mut MPI_Request) -> Result<Status> {
    let mut status = Status::default();
    let key = pending::key(raw);
    mpi_call!(MPI_Wait(raw, &mut status.0))?;
    if pending::any() {
        pending::completed(key, Some(&status))?;
    }
    Ok(status)
}

fn test_raw(raw: &mut MPI_Request) -> Result<Option<Status>> {
    let mut status = Status::default();
    let mut flag: c_int = 0;
    let key = pending::key(raw);
    mpi_call!(MPI_Test(raw, &mut flag, &mut status.0))?;
    if flag != 0 && pending::any() {
        pending::completed(key, Some(&status))?;
    }
    Ok((flag != 0).then_some(status))
}

/// The table keys of `requests`, taken before MPI completes (and frees) them; empty when no
/// request has staged buffers.
fn keys<R: AnyRequest>(requests: &mut [R]) -> Vec<u64> {
    if !pending::any() {
        return Vec::new();
    }
    let n = requests.len();
    // SAFETY: both request types are #[repr(transparent)] over MPI_Request.
    let raws = unsafe { std::slice::from_raw_parts(raw_slice(requests), n) };
    raws.iter().map(pending::key).collect()
}

/// Finishes the staged buffers of the requests at `done` (indices into `keys`).
fn finish(keys: &[u64], done: impl Iterator<Item = (usize, Status)>) -> Result<()> {
    if keys.is_empty() {
        return Ok(());
    }
    for (i, status) in done {
        pending::completed(keys[i], Some(&status))?;
    }
    Ok(())
}

fn cancel_raw(raw: MPI_Request) -> Result<()> {
    let mut raw = raw;
    mpi_call!(MPI_Cancel(&mut raw))
}

fn status_raw(raw: MPI_Request) -> Result<Option<Status>> {
    let mut status = Status::default();
    let mut flag: c_int = 0;
    mpi_call!(MPI_Request_get_status(raw, &mut flag, &mut status.0))?;
    Ok((flag != 0).then_some(status))
}

mod sealed {
    pub trait Sealed {}
}

/// Request types that the set operations ([`wait_all`] …) accept: [`Request`] and
/// [`PersistentRequest`]. Both are a bare `MPI_Request` in memory.
pub trait AnyRequest: sealed::Sealed {}
impl sealed::Sealed for Request<'_> {}
impl sealed::Sealed for PersistentRequest<'_> {}
impl AnyRequest for Request<'_> {}
impl AnyRequest for PersistentRequest<'_> {}

fn raw_slice<R: AnyRequest>(requests: &mut [R]) -> *mut MPI_Request {
    // SAFETY (for callers): both request types are #[repr(transparent)] over MPI_Request.
    requests.as_mut_ptr().cast()
}

/// Turns `MPI_ERR_IN_STATUS` into the error of the first failed request.
fn in_status(call: &'static str, code: c_int, statuses: &[MPI_Status]) -> Result<()> {
    if code == ffi::ERR_IN_STATUS() {
        if let Some(s) =
            statuses.iter().find(|s| s.MPI_ERROR != ffi::SUCCESS() && s.MPI_ERROR != ffi::ERR_PENDING())
        {
            return Err(Error::from_code(call, s.MPI_ERROR));
        }
    }
    check(call, code)
}

fn statuses(n: usize) -> Vec<MPI_Status> {
    vec![Status::default().0; n]
}

/// Waits for all requests (`MPI_Waitall`); their statuses in order.
pub fn wait_all<R: AnyRequest>(requests: &mut [R]) -> Result<Vec<Status>> {
    let n = to_count("number of requests", requests.len())?;
    let keys = keys(requests);
    let mut st = statuses(requests.len());
    crate::environment::require_not_finalized()?;
    let code = unsafe { ffi::MPI_Waitall(n, raw_slice(requests), st.as_mut_ptr()) };
    in_status("MPI_Waitall", code, &st)?;
    let st: Vec<Status> = st.into_iter().map(Status).collect();
    finish(&keys, st.iter().cloned().enumerate())?;
    Ok(st)
}

/// Tests all requests (`MPI_Testall`): `Some(statuses)` once every one is complete.
pub fn test_all<R: AnyRequest>(requests: &mut [R]) -> Result<Option<Vec<Status>>> {
    let n = to_count("number of requests", requests.len())?;
    let mut st = statuses(requests.len());
    let mut flag: c_int = 0;
    let keys = keys(requests);
    crate::environment::require_not_finalized()?;
    let code = unsafe { ffi::MPI_Testall(n, raw_slice(requests), &mut flag, st.as_mut_ptr()) };
    in_status("MPI_Testall", code, &st)?;
    if flag == 0 {
        return Ok(None);
    }
    let st: Vec<Status> = st.into_iter().map(Status).collect();
    finish(&keys, st.iter().cloned().enumerate())?;
    Ok(Some(st))
}

/// Waits until one request completes (`MPI_Waitany`): its index and status, or `None` when
/// no request is active.
pub fn wait_any<R: AnyRequest>(requests: &mut [R]) -> Result<Option<(usize, Status)>> {
    let n = to_count("number of requests", requests.len())?;
    let mut status = Status::default();
    let mut index: c_int = 0;
    let keys = keys(requests);
    mpi_call!(MPI_Waitany(n, raw_slice(requests), &mut index, &mut status.0))?;
    let done = (index != ffi::UNDEFINED()).then_some((index as usize, status));
    finish(&keys, done.iter().cloned())?;
    Ok(done)
}

/// Tests whether any request is complete (`MPI_Testany`): its index and status, or `None`
/// when none is complete now (or none is active).
pub fn test_any<R: AnyRequest>(requests: &mut [R]) -> Result<Option<(usize, Status)>> {
    let n = to_count("number of requests", requests.len())?;
    let mut status = Status::default();
    let mut index: c_int = 0;
    let mut flag: c_int = 0;
    let keys = keys(requests);
    mpi_call!(MPI_Testany(n, raw_slice(requests), &mut index, &mut flag, &mut status.0))?;
    let done = (flag != 0 && index != ffi::UNDEFINED()).then_some((index as usize, status));
    finish(&keys, done.iter().cloned())?;
    Ok(done)
}

fn some(
    call: &'static str,
    requests: &mut [impl AnyRequest],
    f: unsafe extern "C" fn(c_int, *mut MPI_Request, *mut c_int, *mut c_int, *mut MPI_Status) -> c_int,
) -> Result<Vec<(usize, Status)>> {
    let n = to_count("number of requests", requests.len())?;
    let mut st = statuses(requests.len());
    let mut indices = vec![0 as c_int; requests.len()];
    let mut outcount: c_int = 0;
    let keys = keys(requests);
    crate::environment::require_not_finalized()?;
    let code = unsafe { f(n, raw_slice(requests), &mut outcount, indices.as_mut_ptr(), st.as_mut_ptr()) };
    let done = if outcount == ffi::UNDEFINED() { 0 } else { outcount.max(0) as usize };
    in_status(call, code, &st[..done])?;
    let done: Vec<(usize, Status)> =
        indices[..done].iter().zip(st).map(|(&i, s)| (i as usize, Status(s))).collect();
    finish(&keys, done.iter().cloned())?;
    Ok(done)
}

/// Waits until at least one request completes (`MPI_Waitsome`): indices and statuses of all
/// that did; empty when no request is active.
pub fn wait_some<R: AnyRequest>(requests: &mut [R]) -> Result<Vec<(usize, Status)>> {
    some("MPI_Waitsome", requests, ffi::MPI_Waitsome)
}

/// The requests complete now (`MPI_Testsome`): indices and statuses, possibly none.
pub fn test_some<R: AnyRequest>(requests: &mut [R]) -> Result<Vec<(usize, Status)>> {
    some("MPI_Testsome", requests, ffi::MPI_Testsome)
}
