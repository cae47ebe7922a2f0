//! Completing several requests at once: object sends ([`ObjRequest`]), object receives
//! ([`ObjRecvRequest`]) and buffer requests ([`Request`], [`PersistentRequest`]), alone or
//! mixed (mpi4py's `Request.waitall` / `testall` / `waitany` / `testany` over `pkl5`
//! requests).
//!
//! An object is several MPI messages, and its receive has a step of its own once the first
//! one has arrived (matching the payloads, whose sizes only then are known), so these
//! functions do not hand one array of handles to `MPI_Waitall`: they test each request in
//! turn (`MPI_Test`, which also drives MPI's progress) until the set is done, yielding the
//! thread between rounds that complete nothing. A receive's object stays in its request:
//! [`ObjRecvRequest::wait`] then returns it at once.
//!
//! ```no_run
//! use mpi4rs::prelude::*;
//! use mpi4rs::object::{self, Completion};
//! let env = mpi4rs::init()?;
//! let world = env.world();
//! let (me, n) = (world.rank(), world.size());
//! let (right, left) = ((me + 1) % n, (me + n - 1) % n);
//! let note = format!("from {me}");
//! let mut counts = [0u64; 4];
//! let mine = [me as u64; 4];
//! mpi4rs::scope(|s| {
//!     let mut obj = world.irecv_obj::<String>(left, 0)?;
//!     let mut raw = world.irecv(s, &mut counts[..], left, 1)?;
//!     let mut sent = world.isend_obj(s, &note, right, 0)?;
//!     let mut sent_raw = world.isend(s, &mine[..], right, 1)?;
//!     object::wait_all(&mut [&mut obj as &mut dyn Completion, &mut raw, &mut sent, &mut sent_raw])?;
//!     assert_eq!(obj.wait()?, format!("from {left}"));
//!     Ok(())
//! })?;
//! # Ok::<(), mpi4rs::Error>(())
//! ```
//!
//! Whatever the mix, the requests keep owning (or borrowing in their scope) what MPI reads and
//! writes, so forgetting one, or the slice, is as safe as forgetting a request alone.

use super::request::{ObjRecvRequest, ObjRequest};
use crate::error::Result;
use crate::request::{PersistentRequest, Request};
use serde::de::DeserializeOwned;

mod sealed {
    pub trait Sealed {}
}

/// A request that [`wait_all`], [`test_all`], [`wait_any`] and [`test_any`] accept: object
/// sends and receives, buffer requests, and `&mut dyn Completion` to mix them in one slice.
pub trait Completion: sealed::Sealed {
    /// Whether the request is still in progress (a completed one is skipped by the `any`
    /// forms, as MPI skips inactive requests).
    fn is_pending(&self) -> bool;

    /// Drives the request: `Ok(true)` once it is complete. A receive keeps its object (or its
    /// error, which is also returned here) for its `wait`.
    fn poll(&mut self) -> Result<bool>;
}

impl sealed::Sealed for ObjRequest<'_> {}
impl Completion for ObjRequest<'_> {
    fn is_pending(&self) -> bool {
        !self.is_complete()
    }
    fn poll(&mut self) -> Result<bool> {
        self.test()
    }
}

impl<T: DeserializeOwned> sealed::Sealed for ObjRecvRequest<'_, T> {}
impl<T: DeserializeOwned> Completion for ObjRecvRequest<'_, T> {
    fn is_pending(&self) -> bool {
        ObjRecvRequest::is_pending(self)
    }
    fn poll(&mut self) -> Result<bool> {
        if !ObjRecvRequest::is_pending(self) {
            return Ok(true);
        }
        ObjRecvRequest::poll(self)
    }
}

impl sealed::Sealed for Request<'_> {}
impl Completion for Request<'_> {
    fn is_pending(&self) -> bool {
        !self.is_complete()
    }
    fn poll(&mut self) -> Result<bool> {
        if self.is_complete() {
            return Ok(true);
        }
        Ok(self.test()?.is_some())
    }
}

impl sealed::Sealed for PersistentRequest<'_> {}
impl Completion for PersistentRequest<'_> {
    fn is_pending(&self) -> bool {
        self.is_active()
    }
    fn poll(&mut self) -> Result<bool> {
        if !self.is_active() {
            return Ok(true);
        }
        Ok(self.test()?.is_some())
    }
}

impl<C: Completion + ?Sized> sealed::Sealed for &mut C {}
impl<C: Completion + ?Sized> Completion for &mut C {
    fn is_pending(&self) -> bool {
        (**self).is_pending()
    }
    fn poll(&mut self) -> Result<bool> {
        (**self).poll()
    }
}

/// One round over the pending requests: how many of them are still pending, and the first
/// that completed in this round.
fn round<C: Completion>(requests: &mut [C], done: &mut [bool]) -> Result<(usize, Option<usize>)> {
    let mut left = 0;
    let mut first = None;
    for (i, r) in requests.iter_mut().enumerate() {
        if done[i] {
            continue;
        }
        if r.poll()? {
            done[i] = true;
            first.get_or_insert(i);
        } else {
            left += 1;
        }
    }
    Ok((left, first))
}

/// Waits until every request is complete. The first error (a failed message, an object that
/// does not decode) is returned at once; the other requests stay as they are, usable.
pub fn wait_all<C: Completion>(requests: &mut [C]) -> Result<()> {
    let mut done: Vec<bool> = requests.iter().map(|r| !r.is_pending()).collect();
    loop {
        let (left, first) = round(requests, &mut done)?;
        if left == 0 {
            return Ok(());
        }
        if first.is_none() {
            std::thread::yield_now();
        }
    }
}

/// Whether every request is complete, driving each once (the receives whose first message has
/// arrived are completed, whatever the others do).
pub fn test_all<C: Completion>(requests: &mut [C]) -> Result<bool> {
    let mut done: Vec<bool> = requests.iter().map(|r| !r.is_pending()).collect();
    Ok(round(requests, &mut done)?.0 == 0)
}

/// Waits until one pending request completes: its index, or `None` when none is pending.
pub fn wait_any<C: Completion>(requests: &mut [C]) -> Result<Option<usize>> {
    loop {
        match test_any_inner(requests)? {
            Any::Done(i) => return Ok(Some(i)),
            Any::NonePending => return Ok(None),
            Any::NotYet => std::thread::yield_now(),
        }
    }
}

/// The index of a pending request that completes now, driving each in turn until one does;
/// `None` when none completes now (or none is pending).
pub fn test_any<C: Completion>(requests: &mut [C]) -> Result<Option<usize>> {
    match test_any_inner(requests)? {
        Any::Done(i) => Ok(Some(i)),
        _ => Ok(None),
    }
}

enum Any {
    Done(usize),
    NotYet,
    NonePending,
}

fn test_any_inner<C: Completion>(requests: &mut [C]) -> Result<Any> {
    let mut pending = false;
    for (i, r) in requests.iter_mut().enumerate() {
        if r.is_pending() {
            pending = true;
            if r.poll()? {
                return Ok(Any::Done(i));
            }
        }
    }
    Ok(if pending { Any::NotYet } else { Any::NonePending })
}
