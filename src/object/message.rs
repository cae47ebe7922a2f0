//! Matched probes of object messages ([`mprobe_obj`](super::ObjectComm::mprobe_obj),
//! [`improbe_obj`](super::ObjectComm::improbe_obj)): mpi4py's `comm.mprobe` / `improbe`
//! followed by `msg.recv()`, as `pkl5` offers them. The probe matches an object's first
//! message, so no other receive can take that object; its type is chosen when it is received.

use super::p2p::{check_matched, receive_matched, Incoming, RecvBuffer};
use crate::error::{mpi_call, Result};
use crate::ffi::{self, MPI_Comm, MPI_Message};
use crate::runtime::is_active;
use crate::status::Status;
use serde::de::DeserializeOwned;
use std::ffi::c_int;
use std::marker::PhantomData;

/// An object message matched by [`mprobe_obj`](super::ObjectComm::mprobe_obj) or
/// [`improbe_obj`](super::ObjectComm::improbe_obj), waiting to be received as a `T` with
/// [`recv`](Self::recv). Dropping it receives the object and discards it, so its messages do
/// not stay matched (or in the way of later receives) forever.
#[must_use = "a matched object can only be received through this handle (dropping discards it)"]
pub struct ObjMessage<'c> {
    comm: MPI_Comm,
    raw: MPI_Message,
    status: Status,
    _comm: PhantomData<(&'c (), crate::runtime::ThreadBound)>,
}

impl<'c> ObjMessage<'c> {
    /// Checks the matched first message of an object (`raw`, `status`).
    pub(crate) fn matched(comm: MPI_Comm, mut raw: MPI_Message, status: Status) -> Result<ObjMessage<'c>> {
        check_matched(&mut raw, &status)?;
        Ok(ObjMessage { comm, raw, status, _comm: PhantomData })
    }

    /// The status of the object's first message: its source and tag.
    pub fn status(&self) -> &Status {
        &self.status
    }

    /// The rank the object comes from.
    pub fn source(&self) -> i32 {
        self.status.source()
    }

    /// The object's tag.
    pub fn tag(&self) -> i32 {
        self.status.tag()
    }

    /// Receives the object as a `T` (mpi4py `msg.recv()`). A `T` that does not match what was
    /// sent is an [`Error::Decode`](crate::Error::Decode); the object's messages are consumed
    /// either way.
    pub fn recv<T: DeserializeOwned>(self) -> Result<T> {
        self.recv_status().map(|(v, _)| v)
    }

    /// [`recv`](Self::recv), also returning the status.
    pub fn recv_status<T: DeserializeOwned>(mut self) -> Result<(T, Status)> {
        let mut buf = RecvBuffer::new();
        let inc = self.take_into::<T>(&mut buf)?;
        let status = inc.status;
        Ok((inc.decode(&buf.frame)?, status))
    }

    /// Receives the frame and the payloads into `buf` (an error if already received).
    pub(crate) fn take_into<T: ?Sized>(&mut self, buf: &mut RecvBuffer) -> Result<Incoming> {
        receive_matched::<T>(self.comm, &mut self.raw, self.status, buf)
    }
}

impl Drop for ObjMessage<'_> {
    fn drop(&mut self) {
        if self.raw != ffi::MESSAGE_NULL() && is_active() {
            let mut buf = RecvBuffer::new();
            let _ = self.take_into::<()>(&mut buf);
        }
    }
}

/// `MPI_Improbe` on `comm`: the matched first message of an object, if one is there.
pub(crate) fn improbe<'c>(comm: MPI_Comm, source: i32, tag: i32) -> Result<Option<ObjMessage<'c>>> {
    let mut status = Status::default();
    let mut msg = ffi::MESSAGE_NULL();
    let mut flag: c_int = 0;
    mpi_call!(MPI_Improbe(source, tag, comm, &mut flag, &mut msg, &mut status.0))?;
    if flag == 0 {
        return Ok(None);
    }
    ObjMessage::matched(comm, msg, status).map(Some)
}

/// `MPI_Mprobe` on `comm`: the matched first message of an object.
pub(crate) fn mprobe<'c>(comm: MPI_Comm, source: i32, tag: i32) -> Result<ObjMessage<'c>> {
    let (msg, status) = super::p2p::mprobe(comm, source, tag)?;
    ObjMessage::matched(comm, msg, status)
}
