//! Requests of nonblocking and persistent operations, and completion of sets of them
//! (mpi4py's `Request`, `Prequest`, `Waitall` … `Testsome`).
//!
//! A request of an operation on borrowed buffers belongs to a [`Scope`](crate::Scope): the
//! buffers are borrowed for the scope's lifetime, and the scope completes the operation
//! itself if the request is forgotten, so no safe program can release memory MPI still uses
//! (see [`scope()`](crate::scope())). Dropping an incomplete request waits for it.

use crate::completion::{free_persistent, test_raw, wait_raw};
use crate::error::{check, mpi_call, Error, Result};
use crate::ffi::{self, MPI_Request, MPI_Status};
use crate::pending::{self, Staged};
use crate::runtime::is_active;
use crate::scope::ScopeCore;
use crate::status::Status;
use crate::util::to_count;
use std::cell::RefCell;
use std::ffi::c_int;
use std::marker::PhantomData;
use std::rc::Rc;

/// A nonblocking operation in flight (`MPI_Request`), whose buffers are lent for `'s`.
///
/// ```no_run
/// use mpi4rs::prelude::*;
/// let env = mpi4rs::init()?;
/// let world = env.world();
/// let (n, me) = (world.size(), world.rank());
/// let (right, left) = ((me + 1) % n, (me + n - 1) % n);
/// let mut got = 0i32;
/// mpi4rs::scope(|s| {
///     let recv = world.irecv(s, &mut got, left, 0)?;
///     let send = world.isend(s, &me, right, 0)?;
///     mpi4rs::wait_all(&mut [recv, send]).map(drop)
/// })?;
/// assert_eq!(got, left);
/// # Ok::<(), mpi4rs::Error>(())
/// ```
#[must_use = "dropping a request waits for it to complete"]
pub struct Request<'s> {
    raw: MPI_Request,
    /// The scope that completes the operation if this handle is forgotten, and the slot there.
    /// `None` for operations that lend no memory (`ibarrier`).
    slot: Option<(&'s ScopeCore, usize)>,
}

impl<'s> Request<'s> {
    /// A request of an operation that lends no memory: forgetting it leaks a handle, nothing
    /// else.
    pub(crate) fn unscoped(raw: MPI_Request) -> Request<'static> {
        Request { raw, slot: None }
    }

    /// A request recorded in `scope`, which completes it if this handle never does.
    pub(crate) fn scoped(scope: &'s ScopeCore, raw: MPI_Request) -> Request<'s> {
        if raw == ffi::REQUEST_NULL() {
            return Request { raw, slot: None };
        }
        let i = scope.register(raw, false);
        Request { raw, slot: Some((scope, i)) }
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
        let r = wait_raw(&mut self.raw);
        self.settle();
        r
    }

    /// Completes the request if it is done (`MPI_Test`): `Some(status)` once complete.
    pub fn test(&mut self) -> Result<Option<Status>> {
        let r = test_raw(&mut self.raw);
        self.settle();
        r
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

    /// Tells the scope once the operation is complete, so it does not wait for it again.
    #[inline(always)]
    fn settle(&mut self) {
        if self.raw == ffi::REQUEST_NULL() {
            if let Some((scope, i)) = self.slot.take() {
                scope.finished(i);
            }
        }
    }
}

impl Drop for Request<'_> {
    fn drop(&mut self) {
        if self.raw != ffi::REQUEST_NULL() && is_active() {
            // The lent buffers may be reused once this returns: MPI must be done with them
            // first (and staged device buffers written back).
            let _ = wait_raw(&mut self.raw);
        }
        // Completed (or MPI is gone): the scope has nothing left to do for it.
        if let Some((scope, i)) = self.slot.take() {
            scope.finished(i);
        }
    }
}

/// A persistent operation (`MPI_Send_init`, `MPI_Recv_init`, …): started any number of times
/// while its buffers stay lent for `'s`, freed on drop (after waiting, if active), or by its
/// [`Scope`](crate::Scope) if forgotten.
///
/// Buffers that must be read or written *between* runs belong to a
/// [`Persistent`](crate::Persistent) set instead, which owns them (there the handles made in
/// the setup may simply be dropped: the set keeps the requests).
pub struct PersistentRequest<'s> {
    raw: MPI_Request,
    /// Started and not yet completed.
    active: bool,
    /// The scope that frees the request if this handle does not; `None` for operations that
    /// lend no memory (`barrier_init`).
    slot: Option<(&'s ScopeCore, usize)>,
}

impl<'s> PersistentRequest<'s> {
    /// A persistent request of an operation that lends no memory.
    pub(crate) fn unscoped(raw: MPI_Request) -> PersistentRequest<'static> {
        PersistentRequest { raw, active: false, slot: None }
    }

    /// A persistent request recorded in `scope`.
    pub(crate) fn scoped(scope: &'s ScopeCore, raw: MPI_Request) -> PersistentRequest<'s> {
        let i = scope.register(raw, true);
        PersistentRequest { raw, active: false, slot: Some((scope, i)) }
    }

    /// The raw handle (still owned by `self`).
    pub fn as_raw(&self) -> MPI_Request {
        self.raw
    }

    /// Starts the operation (`MPI_Start`). Staged device buffers are copied in again first.
    pub fn start(&mut self) -> Result<()> {
        let _call = crate::error::require_not_finalized()?;
        if self.active {
            return Err(Error::InvalidArgument(
                "the persistent request is already running (wait first)".into(),
            ));
        }
        if pending::any() {
            pending::restart(pending::key(&self.raw))?;
        }
        mpi_call!(MPI_Start(&mut self.raw))?;
        self.set_active(true);
        Ok(())
    }

    /// Waits for the started operation; the request stays usable (`MPI_Wait`). Waiting for one
    /// that is not running returns at once (with an empty status).
    pub fn wait(&mut self) -> Result<Status> {
        if !self.active {
            return Ok(Status::default());
        }
        let r = wait_raw(&mut self.raw);
        self.set_active(false);
        r
    }

    /// Tests the started operation; the request stays usable (`MPI_Test`).
    pub fn test(&mut self) -> Result<Option<Status>> {
        if !self.active {
            return Ok(Some(Status::default()));
        }
        let r = test_raw(&mut self.raw)?;
        if r.is_some() {
            self.set_active(false);
        }
        Ok(r)
    }

    /// Whether the operation is running (started and not yet completed).
    pub fn is_active(&self) -> bool {
        self.active
    }

    fn set_active(&mut self, now: bool) {
        self.active = now;
        if let Some((scope, i)) = self.slot {
            scope.set_active(i, now);
        }
    }

    /// Asks MPI to cancel the started operation (`MPI_Cancel`).
    pub fn cancel(&self) -> Result<()> {
        cancel_raw(self.raw)
    }
}

impl Drop for PersistentRequest<'_> {
    fn drop(&mut self) {
        match self.slot {
            // A Persistent set keeps its requests: the handle goes, the request stays.
            Some((scope, _)) if scope.retains() => {}
            slot => {
                if self.raw != ffi::REQUEST_NULL() && is_active() {
                    let _ = free_persistent(&mut self.raw, self.active);
                }
                if let Some((scope, i)) = slot {
                    scope.finished(i);
                }
            }
        }
    }
}

/// Several nonblocking operations completed together, whose staged buffers (if any) are
/// written back once all of them are done: what a nonblocking [`Exchange`](crate::Exchange)
/// or halo exchange returns. Its scope completes it if the handle is forgotten.
#[must_use = "dropping a request set waits for it to complete"]
pub struct RequestSet<'s> {
    inner: Rc<RefCell<SetInner>>,
    _scope: PhantomData<&'s ()>,
}

struct SetInner {
    raws: Vec<MPI_Request>,
    transfer: Option<Box<dyn Staged>>,
}

impl SetInner {
    fn wait(&mut self) -> Result<()> {
        if self.raws.is_empty() || !is_active() {
            self.raws.clear();
            return Ok(());
        }
        // Every request is complete (or failed) after this: none is waited for again.
        let waited = crate::completion::wait_all_drained(&mut self.raws);
        self.raws.clear();
        waited?;
        match self.transfer.take() {
            Some(mut t) => t.complete(None),
            None => Ok(()),
        }
    }

    fn test(&mut self) -> Result<bool> {
        if self.raws.is_empty() {
            return Ok(true);
        }
        let n = to_count("number of requests", self.raws.len())?;
        let mut flag: c_int = 0;
        let _call = crate::error::require_not_finalized()?;
        // SAFETY: as in `wait`.
        let code = unsafe { ffi::MPI_Testall(n, self.raws.as_mut_ptr(), &mut flag, ffi::STATUSES_IGNORE()) };
        check("MPI_Testall", code)?;
        if flag == 0 {
            return Ok(false);
        }
        self.raws.clear();
        match self.transfer.take() {
            Some(mut t) => t.complete(None).map(|()| true),
            None => Ok(true),
        }
    }
}

impl<'s> RequestSet<'s> {
    /// The requests `raws`, with the staging of their buffers, recorded in `scope`.
    pub(crate) fn new(
        scope: &'s ScopeCore,
        raws: Vec<MPI_Request>,
        transfer: Option<Box<dyn Staged>>,
    ) -> Self {
        let inner = Rc::new(RefCell::new(SetInner { raws, transfer }));
        let kept = Rc::clone(&inner);
        scope.register_finisher(Box::new(move || kept.borrow_mut().wait()));
        RequestSet { inner, _scope: PhantomData }
    }

    /// Waits until every operation of the set is done.
    pub fn wait(self) -> Result<()> {
        let r = self.inner.borrow_mut().wait();
        r
    }

    /// Whether every operation is done; completes the set if so.
    pub fn test(&mut self) -> Result<bool> {
        self.inner.borrow_mut().test()
    }
}

impl Drop for RequestSet<'_> {
    fn drop(&mut self) {
        let _ = self.inner.borrow_mut().wait();
    }
}

/// Starts every persistent request (`MPI_Startall`).
pub fn start_all(requests: &mut [PersistentRequest<'_>]) -> Result<()> {
    let n = to_count("number of requests", requests.len())?;
    let _call = crate::error::require_not_finalized()?;
    if let Some(i) = requests.iter().position(|r| r.active) {
        return Err(Error::InvalidArgument(format!(
            "persistent request {i} is already running (wait first)"
        )));
    }
    if pending::any() {
        for r in requests.iter() {
            pending::restart(pending::key(&r.raw))?;
        }
    }
    // The handles themselves (not `Sealed::raw`, which hides inactive ones from waits).
    let mut raws: Vec<MPI_Request> = requests.iter().map(|r| r.raw).collect();
    // SAFETY: `raws` holds `n` handles of live, inactive persistent requests; MPI_Startall
    // leaves the handles as they are.
    check("MPI_Startall", unsafe { ffi::MPI_Startall(n, raws.as_mut_ptr()) })?;
    for r in requests.iter_mut() {
        r.set_active(true);
    }
    Ok(())
}

/// The table keys of `raws`, taken before MPI completes (and frees) them; empty when no
/// request has staged buffers.
fn keys(raws: &[MPI_Request]) -> Vec<u64> {
    if !pending::any() {
        return Vec::new();
    }
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
    pub trait Sealed {
        /// The handle a set operation passes to MPI (null for a persistent request that is
        /// not running: MPICH 4.0 may never return from waiting for one never started).
        fn raw(&self) -> crate::ffi::MPI_Request;
        /// Takes the handle back from a set operation (null once a nonblocking one completed).
        fn set_raw(&mut self, raw: crate::ffi::MPI_Request);
        /// The set operation completed this request.
        fn completed(&mut self);
    }
}

/// Request types that the set operations ([`wait_all`] …) accept: [`Request`] and
/// [`PersistentRequest`].
pub trait AnyRequest: sealed::Sealed {}

impl sealed::Sealed for Request<'_> {
    #[inline(always)]
    fn raw(&self) -> MPI_Request {
        self.raw
    }
    #[inline(always)]
    fn set_raw(&mut self, raw: MPI_Request) {
        self.raw = raw;
        self.settle();
    }
    #[inline(always)]
    fn completed(&mut self) {}
}
impl sealed::Sealed for PersistentRequest<'_> {
    #[inline(always)]
    fn raw(&self) -> MPI_Request {
        if self.active {
            self.raw
        } else {
            ffi::REQUEST_NULL()
        }
    }
    #[inline(always)]
    fn set_raw(&mut self, _raw: MPI_Request) {
        // A persistent request keeps its handle through completion.
    }
    #[inline(always)]
    fn completed(&mut self) {
        if self.active {
            self.set_active(false);
        }
    }
}
impl AnyRequest for Request<'_> {}
impl AnyRequest for PersistentRequest<'_> {}

/// Runs `f` on the raw handles of `requests` side by side (what the `MPI_*all`/`*any`/`*some`
/// calls take), then hands the handles back. Up to 16 requests need no allocation.
#[inline]
fn with_raws<R: AnyRequest, T>(requests: &mut [R], f: impl FnOnce(&mut [MPI_Request]) -> T) -> T {
    let n = requests.len();
    let mut small = [ffi::REQUEST_NULL(); 16];
    let mut large = Vec::new();
    let raws: &mut [MPI_Request] = if n <= small.len() {
        &mut small[..n]
    } else {
        large.resize(n, ffi::REQUEST_NULL());
        &mut large[..]
    };
    for (raw, r) in raws.iter_mut().zip(requests.iter()) {
        *raw = r.raw();
    }
    let out = f(raws);
    for (r, &raw) in requests.iter_mut().zip(raws.iter()) {
        r.set_raw(raw);
    }
    out
}

/// Tells the requests at `done` that a set operation completed them.
fn mark<R: AnyRequest>(requests: &mut [R], done: impl Iterator<Item = usize>) {
    for i in done {
        if let Some(r) = requests.get_mut(i) {
            r.completed();
        }
    }
}

/// After `MPI_Waitall`/`MPI_Testall` reported `MPI_ERR_IN_STATUS`: the requests whose status
/// is not `MPI_ERR_PENDING` ended (some with an error), and their staged work ends with them
/// (its memory is still lent here; a handle MPI freed may be given to the next request at
/// once, which must not find this one's staged work). Errors of that work are dropped: the
/// call's own error is the one reported.
fn ended_with_errors<R: AnyRequest>(requests: &mut [R], keys: &[u64], code: c_int, statuses: &[MPI_Status]) {
    if code != ffi::ERR_IN_STATUS() {
        return;
    }
    let ended = || statuses.iter().enumerate().filter(|(_, s)| s.MPI_ERROR != ffi::ERR_PENDING());
    mark(requests, ended().map(|(i, _)| i));
    let _ = finish(keys, ended().map(|(i, s)| (i, Status(*s))));
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
    let mut st = statuses(requests.len());
    let _call = crate::error::require_not_finalized()?;
    let (keys, code) = with_raws(requests, |raws| {
        // SAFETY: `raws` and `st` hold `n` entries each.
        (keys(raws), unsafe { ffi::MPI_Waitall(n, raws.as_mut_ptr(), st.as_mut_ptr()) })
    });
    ended_with_errors(requests, &keys, code, &st);
    in_status("MPI_Waitall", code, &st)?;
    requests.iter_mut().for_each(sealed::Sealed::completed);
    let st: Vec<Status> = st.into_iter().map(Status).collect();
    finish(&keys, st.iter().cloned().enumerate())?;
    Ok(st)
}

/// Tests all requests (`MPI_Testall`): `Some(statuses)` once every one is complete.
pub fn test_all<R: AnyRequest>(requests: &mut [R]) -> Result<Option<Vec<Status>>> {
    let n = to_count("number of requests", requests.len())?;
    let mut st = statuses(requests.len());
    let mut flag: c_int = 0;
    let _call = crate::error::require_not_finalized()?;
    let (keys, code) = with_raws(requests, |raws| {
        // SAFETY: `raws` and `st` hold `n` entries each.
        (keys(raws), unsafe { ffi::MPI_Testall(n, raws.as_mut_ptr(), &mut flag, st.as_mut_ptr()) })
    });
    ended_with_errors(requests, &keys, code, &st);
    in_status("MPI_Testall", code, &st)?;
    if flag == 0 {
        return Ok(None);
    }
    requests.iter_mut().for_each(sealed::Sealed::completed);
    let st: Vec<Status> = st.into_iter().map(Status).collect();
    finish(&keys, st.iter().cloned().enumerate())?;
    Ok(Some(st))
}

/// Waits until one request completes (`MPI_Waitany`): its index and status, or `None` when
/// no request is active.
pub fn wait_any<R: AnyRequest>(requests: &mut [R]) -> Result<Option<(usize, Status)>> {
    let _call = crate::error::require_not_finalized()?;
    let n = to_count("number of requests", requests.len())?;
    let mut status = Status::default();
    let mut index: c_int = 0;
    let (keys, code) = with_raws(requests, |raws| {
        // SAFETY: `raws` holds `n` entries; `index` and `status` outlive the call.
        (keys(raws), unsafe { ffi::MPI_Waitany(n, raws.as_mut_ptr(), &mut index, &mut status.0) })
    });
    let done = (index != ffi::UNDEFINED()).then_some((index as usize, status));
    if code != ffi::SUCCESS() {
        // The request at `index` ended with an error: its staged work ends too.
        mark(requests, done.iter().map(|d| d.0));
        let _ = finish(&keys, done.iter().cloned());
    }
    check("MPI_Waitany", code)?;
    mark(requests, done.iter().map(|d| d.0));
    finish(&keys, done.iter().cloned())?;
    Ok(done)
}

/// Tests whether any request is complete (`MPI_Testany`): its index and status, or `None`
/// when none is complete now (or none is active).
pub fn test_any<R: AnyRequest>(requests: &mut [R]) -> Result<Option<(usize, Status)>> {
    let _call = crate::error::require_not_finalized()?;
    let n = to_count("number of requests", requests.len())?;
    let mut status = Status::default();
    let mut index: c_int = 0;
    let mut flag: c_int = 0;
    let (keys, code) = with_raws(requests, |raws| {
        // SAFETY: `raws` holds `n` entries; `index`, `flag` and `status` outlive the call.
        (keys(raws), unsafe { ffi::MPI_Testany(n, raws.as_mut_ptr(), &mut index, &mut flag, &mut status.0) })
    });
    let done = (flag != 0 && index != ffi::UNDEFINED()).then_some((index as usize, status));
    if code != ffi::SUCCESS() {
        mark(requests, done.iter().map(|d| d.0));
        let _ = finish(&keys, done.iter().cloned());
    }
    check("MPI_Testany", code)?;
    mark(requests, done.iter().map(|d| d.0));
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
    let _call = crate::error::require_not_finalized()?;
    let (keys, code) = with_raws(requests, |raws| {
        // SAFETY: `raws`, `indices` and `st` hold `n` entries each.
        (keys(raws), unsafe { f(n, raws.as_mut_ptr(), &mut outcount, indices.as_mut_ptr(), st.as_mut_ptr()) })
    });
    let done = if outcount == ffi::UNDEFINED() { 0 } else { outcount.max(0) as usize };
    let failed = in_status(call, code, &st[..done]);
    let done: Vec<(usize, Status)> =
        indices[..done].iter().zip(st).map(|(&i, s)| (i as usize, Status(s))).collect();
    // Those at `done` ended, with or without an error: their staged work ends with them.
    mark(requests, done.iter().map(|d| d.0));
    let finished = finish(&keys, done.iter().cloned());
    failed?;
    finished?;
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

impl Request<'_> {
    /// Lets the operation complete on its own (mpi4py's `Request.Free`): the handle is given
    /// up and the program goes on, while the operation's [`Scope`](crate::Scope) still waits
    /// for it when it ends, so its buffers stay lent (and valid) until MPI is done with them.
    /// What happened to the operation is then no longer reported, except an error while the
    /// scope completes it, which the scope returns.
    ///
    /// `MPI_Request_free` itself is not called on such requests: MPI would then never say when
    /// the buffers are free again. Requests of nonblocking collectives without buffers
    /// ([`ibarrier`](crate::Collective::ibarrier)) cannot be freed (MPI forbids
    /// `MPI_Request_free` on nonblocking collectives): that is an error, and the request is
    /// waited for as on drop.
    ///
    /// ```no_run
    /// use mpi4rs::prelude::*;
    /// let env = mpi4rs::init()?;
    /// let world = env.world();
    /// let (n, me) = (world.size(), world.rank());
    /// let mut got = 0i32;
    /// mpi4rs::scope(|s| {
    ///     world.isend(s, &me, (me + 1) % n, 0)?.free()?; // fire and forget
    ///     world.recv(&mut got, (me + n - 1) % n, 0)?;
    ///     Ok(())
    /// })?; // the send has completed here
    /// # Ok::<(), mpi4rs::Error>(())
    /// ```
    pub fn free(mut self) -> Result<()> {
        if self.raw == ffi::REQUEST_NULL() {
            self.settle();
            return Ok(());
        }
        match self.slot.take() {
            // The scope's slot still holds the request: it waits for it at its end.
            Some(_) => {
                self.raw = ffi::REQUEST_NULL();
                Ok(())
            }
            None => Err(Error::InvalidArgument(
                "Request::free: MPI does not allow freeing the request of a nonblocking collective (MPI_Request_free); wait for it instead".into(),
            )),
        }
    }
}
