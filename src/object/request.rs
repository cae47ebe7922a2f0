//! Requests of nonblocking object messages.
//!
//! [`ObjRequest`] is a send in flight: it owns the encoded frame and borrows the object (whose
//! out-of-band payloads MPI reads where they lie) until it completes; dropping it waits.
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
use crate::status::Status;
use serde::de::DeserializeOwned;
use std::marker::PhantomData;

/// A nonblocking object send ([`isend_obj`](super::ObjectComm::isend_obj),
/// [`issend_obj`](super::ObjectComm::issend_obj)); the object stays borrowed for `'b`.
#[must_use = "dropping a request waits for it to complete"]
pub struct ObjRequest<'b> {
    // Declared first: dropped (waited for) before the frame it reads is freed.
    pending: Pending,
    _encoded: Option<Encoded<'b>>,
}

impl<'b> ObjRequest<'b> {
    pub(crate) fn new(pending: Pending, encoded: Option<Encoded<'b>>) -> Self {
        ObjRequest { pending, _encoded: encoded }
    }

    /// Waits until every message of the object has been sent (`MPI_Waitall`).
    pub fn wait(mut self) -> Result<()> {
        self.pending.wait()
    }

    /// Whether every message has been sent (`MPI_Testall`); completes the request if so.
    pub fn test(&mut self) -> Result<bool> {
        self.pending.test()
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
    _comm: PhantomData<&'c ()>,
    _value: PhantomData<fn() -> T>,
}

// SAFETY: the handle of a communicator borrowed for 'c, usable from any thread MPI allows.
unsafe impl<T> Send for ObjRecvRequest<'_, T> {}

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
