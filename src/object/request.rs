//! Requests of nonblocking object messages.
//!
//! [`ObjRequest`] is a send in flight, started in a [`Scope`](crate::Scope): it owns the
//! encoded frame and borrows the object (whose out-of-band payloads MPI reads where they lie)
//! for the scope's lifetime; dropping it waits, and if it is forgotten the scope waits for its
//! messages when it ends, before the object can be dropped or changed (the frame is then
//! leaked with the handle, never freed under MPI).
//!
//! [`ObjRecvRequest`] is a receive that has not matched yet. An object's size is only known
//! once its message has arrived, so, as in mpi4py's `pkl5`, nothing is posted to MPI up front:
//! [`test`](ObjRecvRequest::test) checks with `MPI_Improbe` (which also drives MPI's progress)
//! and receives the object once it is there; [`wait`](ObjRecvRequest::wait) blocks in
//! `MPI_Mprobe`. Dropping an unmatched one leaves the message for a later receive.

use super::codec::Encoded;
use super::p2p::{recv_incoming, try_recv_incoming, Pending, RecvBuffer};
use crate::error::{Error, Result};
use crate::ffi::MPI_Comm;
use crate::scope::ScopeCore;
use crate::status::Status;
use serde::de::DeserializeOwned;
use std::cell::RefCell;
use std::marker::PhantomData;
use std::rc::Rc;

/// A nonblocking object send ([`isend_obj`](super::ObjectComm::isend_obj),
/// [`issend_obj`](super::ObjectComm::issend_obj)) of a [`Scope`](crate::Scope); the object
/// stays borrowed for the scope's lifetime `'s`.
#[must_use = "dropping a request waits for it to complete"]
pub struct ObjRequest<'s> {
    /// The messages in flight, shared with the scope's closing step, which waits for them if
    /// this handle is forgotten.
    pending: Rc<RefCell<Pending>>,
    /// The scope and the slot of that closing step; `None` when nothing was sent.
    slot: Option<(&'s ScopeCore, usize)>,
    /// The frame MPI reads (dropped after the wait in `Drop`; leaked if forgotten).
    _encoded: Option<Encoded<'s>>,
}

impl<'s> ObjRequest<'s> {
    /// The request of messages `pending` reading `encoded`, recorded in `scope`.
    pub(crate) fn new(scope: &'s ScopeCore, pending: Pending, encoded: Option<Encoded<'s>>) -> Self {
        let pending = Rc::new(RefCell::new(pending));
        let kept = Rc::clone(&pending);
        let slot = scope.register_finisher(Box::new(move || kept.borrow_mut().wait_or_drain()));
        ObjRequest { pending, slot: Some((scope, slot)), _encoded: encoded }
    }

    /// A request with nothing in flight (a send to `PROC_NULL`).
    pub(crate) fn done() -> ObjRequest<'static> {
        ObjRequest { pending: Rc::default(), slot: None, _encoded: None }
    }

    /// Waits until every message of the object has been sent (`MPI_Waitall`).
    pub fn wait(self) -> Result<()> {
        let r = self.pending.borrow_mut().wait();
        r
    }

    /// Whether every message has been sent (`MPI_Testall`); completes the request if so.
    pub fn test(&mut self) -> Result<bool> {
        self.pending.borrow_mut().test()
    }
}

impl Drop for ObjRequest<'_> {
    fn drop(&mut self) {
        // Before the frame (a field) is freed: MPI must be done reading it and the object.
        let _ = self.pending.borrow_mut().wait_or_drain();
        if let Some((scope, i)) = self.slot.take() {
            scope.finished(i);
        }
    }
}

/// A nonblocking object receive ([`irecv_obj`](super::ObjectComm::irecv_obj)); its
/// [`wait`](Self::wait) returns the object.
#[must_use = "an object receive does nothing until tested or waited for"]
pub struct ObjRecvRequest<'c, T> {
    comm: MPI_Comm,
    source: i32,
    tag: i32,
    done: bool,
    _comm: PhantomData<(&'c (), crate::runtime::ThreadBound)>,
    _value: PhantomData<fn() -> T>,
}

// Neither Send nor Sync: `_comm` borrows a communicator, which stays on its thread (see
// `crate::thread`).

impl<'c, T: DeserializeOwned> ObjRecvRequest<'c, T> {
    pub(crate) fn new(comm: MPI_Comm, source: i32, tag: i32) -> Self {
        ObjRecvRequest { comm, source, tag, done: false, _comm: PhantomData, _value: PhantomData }
    }

    /// Waits for the object and returns it.
    pub fn wait(self) -> Result<T> {
        self.wait_status().map(|(v, _)| v)
    }

    /// Waits for the object; returns it with the status of its message (source, tag).
    pub fn wait_status(mut self) -> Result<(T, Status)> {
        self.check_pending()?;
        self.done = true;
        let mut buf = RecvBuffer::new();
        let inc = recv_incoming::<T>(self.comm, self.source, self.tag, &mut buf)?;
        let status = inc.status;
        Ok((inc.decode(&buf.frame)?, status))
    }

    /// Receives the object if its message has arrived (`Some`), without waiting otherwise.
    /// After `Some`, the request is complete and may not be tested again.
    pub fn test(&mut self) -> Result<Option<T>> {
        self.check_pending()?;
        let mut buf = RecvBuffer::new();
        match try_recv_incoming::<T>(self.comm, self.source, self.tag, &mut buf)? {
            None => Ok(None),
            Some(inc) => {
                self.done = true;
                inc.decode(&buf.frame).map(Some)
            }
        }
    }

    fn check_pending(&self) -> Result<()> {
        if self.done {
            return Err(Error::InvalidArgument("this object receive has already completed".into()));
        }
        Ok(())
    }
}
