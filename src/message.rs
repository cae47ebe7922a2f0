//! Matched messages from [`mprobe`](crate::PointToPoint::mprobe): received only through the
//! returned [`Message`], so no other receive can steal them (mpi4py's `Message`).

use crate::buffer::BufferMut;
use crate::error::{mpi_call, Error, Result};
use crate::ffi::{self, MPI_Message};
use crate::request::Request;
use crate::scope::Scope;
use crate::status::Status;
use crate::transfer::stage::{Fill, Transfer};

/// A message matched by a probe, waiting to be received.
///
/// A receive whose buffer is too small returns [`Error::Truncated`] and leaves the message
/// matched, so it can be received again into a larger buffer.
#[must_use = "a matched message can only be received through this handle"]
pub struct Message {
    raw: MPI_Message,
    bytes: usize,
    /// Neither `Send` nor `Sync`: see [`crate::thread`].
    _thread: crate::runtime::ThreadBound,
}

impl Message {
    pub(crate) fn new(raw: MPI_Message, status: &Status) -> Result<Message> {
        Ok(Message { raw, bytes: status.bytes()?, _thread: std::marker::PhantomData })
    }

    /// Size of the message in bytes.
    pub fn bytes(&self) -> usize {
        self.bytes
    }

    /// Whether this is the message of a probe on `PROC_NULL` (`MPI_MESSAGE_NO_PROC`).
    pub fn is_no_proc(&self) -> bool {
        self.raw == ffi::MESSAGE_NO_PROC()
    }

    /// Checks that the message is still pending and fits `buf`, and routes `buf`.
    fn prepare<B: BufferMut + ?Sized>(
        &self,
        buf: &mut B,
        t: &mut Transfer,
    ) -> Result<crate::buffer::SpecMut> {
        if self.raw == ffi::MESSAGE_NULL() {
            return Err(Error::InvalidArgument("this message has already been received".into()));
        }
        let spec = t.write(buf, Fill::Received)?;
        let room = spec.data_bytes()?;
        if self.bytes > room {
            return Err(Error::Truncated { message_bytes: self.bytes, buffer_bytes: room });
        }
        Ok(spec)
    }

    /// Receives the message into `buf` (`MPI_Mrecv`).
    pub fn recv<B: BufferMut + ?Sized>(&mut self, buf: &mut B) -> Result<Status> {
        let mut t = Transfer::new("mrecv");
        let s = self.prepare(buf, &mut t)?;
        let mut status = Status::default();
        mpi_call!(MPI_Mrecv(s.ptr, s.c_count()?, s.datatype, &mut self.raw, &mut status.0))?;
        t.blocking(Some(&status))?;
        Ok(status)
    }

    /// Starts receiving the message into `buf` (`MPI_Imrecv`).
    pub fn irecv<'s, B: BufferMut + ?Sized>(
        &mut self,
        scope: &'s Scope<'s, '_>,
        buf: &'s mut B,
    ) -> Result<Request<'s>> {
        let mut t = Transfer::new("imrecv");
        let s = self.prepare(buf, &mut t)?;
        let mut req = ffi::REQUEST_NULL();
        mpi_call!(MPI_Imrecv(s.ptr, s.c_count()?, s.datatype, &mut self.raw, &mut req))?;
        Ok(t.request(scope, req))
    }
}
