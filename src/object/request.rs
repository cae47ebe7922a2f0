//! Requests of nonblocking object messages.
//!
//! [`ObjRequest`] is a send in flight, started in a [`Scope`](crate::Scope): it owns the
//! encoded frame and borrows the object (whose out-of-band payloads MPI reads where they lie)
//! for the scope's lifetime; dropping it waits, and if it is forgotten the scope waits for its
//! messages when it ends, before the object can be dropped or changed (the frame is then
//! leaked with the handle, never freed under MPI).
//!
//! [`ObjRecvRequest`] is a receive posted at the call, as mpi4py posts one: the object's first
//! message (its frame, at most [`EAGER`] bytes by the protocol) is received by an `MPI_Irecv`
//! into a buffer the request owns, so a synchronous send on the other side completes as soon
//! as it matches. [`test`](ObjRecvRequest::test) and [`wait`](ObjRecvRequest::wait) then take
//! the rest (the frame's continuation and the out-of-band payloads, which the sender has
//! started by then) through matched probes on the frame's source and tag. The buffer is owned
//! by the request, not lent: forgetting the request leaks it (MPI may still write there),
//! dropping an unfinished request cancels the receive (`MPI_Cancel`), or, when the frame had
//! already arrived, receives and discards the rest of the object, so no message stays behind.
//!
//! As in `pkl5`, an object receive in progress must be completed before another object
//! receive on the same communicator may match the same source and tag, since the payloads are
//! matched by source and tag.

use super::codec::{decode_error, Encoded, EAGER};
use super::message;
use super::p2p::{finish, from_proc_null, probed_bytes, self_may_overflow, Pending, RecvBuffer};
use crate::bigcount::block;
use crate::error::{mpi_call, Error, Result};
use crate::ffi::{self, MPI_Comm, MPI_Request};
use crate::runtime::enter_if_active;
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

    /// Whether every message has been sent, as far as this handle knows (no MPI call).
    pub fn is_complete(&self) -> bool {
        self.pending.borrow().is_empty()
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

/// A nonblocking object receive ([`irecv_obj`](super::ObjectComm::irecv_obj)), posted at the
/// call; its [`wait`](Self::wait) returns the object.
#[must_use = "dropping an object receive cancels it"]
pub struct ObjRecvRequest<'c, T> {
    comm: MPI_Comm,
    /// The frame's receive; `REQUEST_NULL` once it completed.
    raw: MPI_Request,
    /// The frame buffer MPI writes into: `EAGER` bytes, owned by this request (freed by drop
    /// after the receive completed or was cancelled, leaked if the request is forgotten).
    frame: *mut u8,
    /// The buffer's capacity (at least `EAGER`).
    cap: usize,
    /// `Some((source, tag))` when nothing is posted (see [`post`](Self::post)): the object is
    /// matched with a probe at test or wait.
    lazy: Option<(i32, i32)>,
    state: State<T>,
    _comm: PhantomData<(&'c (), crate::runtime::ThreadBound)>,
}

enum State<T> {
    /// The frame's receive is posted.
    Posted,
    /// Completed by a set operation ([`wait_all`](super::wait_all) …); the result is kept for
    /// [`wait`](ObjRecvRequest::wait) or [`test`](ObjRecvRequest::test).
    Ready(Result<(T, Status)>),
    /// The result was handed out (or the receive was never posted: the request was made
    /// complete).
    Taken,
}

// Neither Send nor Sync: `_comm` borrows a communicator, which stays on its thread (see
// `crate::thread`), and the raw pointer is the request's own buffer.

impl<'c, T: DeserializeOwned> ObjRecvRequest<'c, T> {
    /// Posts the receive of an object's first message from `source` with `tag` on `comm`;
    /// where that receive could match a longer message of this process's own on Open MPI
    /// (see [`self_may_overflow`]), nothing is posted and the object is matched by a probe at
    /// test or wait instead.
    pub(crate) fn post(comm: MPI_Comm, source: i32, tag: i32) -> Result<Self> {
        // No object comes from PROC_NULL (and MPICH's status of such a receive does not say
        // where it came from): the request holds that error.
        if source == ffi::PROC_NULL() || self_may_overflow(comm, source)? {
            return Ok(ObjRecvRequest {
                comm,
                raw: ffi::REQUEST_NULL(),
                frame: std::ptr::null_mut(),
                cap: 0,
                lazy: Some((source, tag)),
                state: if source == ffi::PROC_NULL() {
                    State::Ready(Err(from_proc_null()))
                } else {
                    State::Posted
                },
                _comm: PhantomData,
            });
        }
        let mut v = std::mem::ManuallyDrop::new(Vec::<u8>::with_capacity(EAGER));
        let (frame, cap) = (v.as_mut_ptr(), v.capacity());
        let mut req = ObjRecvRequest {
            comm,
            raw: ffi::REQUEST_NULL(),
            frame,
            cap,
            lazy: None,
            state: State::Posted,
            _comm: PhantomData,
        };
        let b = block(EAGER, ffi::BYTE())?;
        // SAFETY: `frame` holds EAGER bytes, owned by `req` until the receive completes or is
        // cancelled (its drop sees to that), leaked if `req` is forgotten.
        mpi_call!(MPI_Irecv(frame.cast(), b.count, b.datatype, source, tag, comm, &mut req.raw))?;
        Ok(req)
    }

    /// Waits for the object and returns it.
    pub fn wait(self) -> Result<T> {
        self.wait_status().map(|(v, _)| v)
    }

    /// Waits for the object; returns it with the status of its message (source, tag).
    pub fn wait_status(mut self) -> Result<(T, Status)> {
        if let (State::Posted, Some((source, tag))) = (&self.state, self.lazy) {
            let done = message::mprobe(self.comm, source, tag).and_then(|m| m.recv_status::<T>());
            self.state = State::Ready(done);
        }
        if matches!(self.state, State::Posted) {
            let mut status = Status::default();
            let r = mpi_call!(MPI_Wait(&mut self.raw, &mut status.0));
            self.raw = ffi::REQUEST_NULL();
            let done = r.map_err(|e| self.frame_error(e)).and_then(|()| self.finish(status));
            self.state = State::Ready(done);
        }
        self.take().unwrap_or_else(|| Err(completed()))
    }

    /// Receives the object if its first message has arrived (`Some`, after taking the rest),
    /// without waiting otherwise. After `Some`, the request is complete and may not be tested
    /// again.
    pub fn test(&mut self) -> Result<Option<T>> {
        Ok(self.test_status()?.map(|(v, _)| v))
    }

    /// [`test`](Self::test), also returning the status of the object's message.
    pub fn test_status(&mut self) -> Result<Option<(T, Status)>> {
        match self.poll() {
            Ok(false) => return Ok(None),
            Ok(true) => {}
            Err(e) => {
                self.state = State::Taken;
                return Err(e);
            }
        }
        self.take().unwrap_or_else(|| Err(completed())).map(Some)
    }

    /// Whether the receive is still in progress (not yet completed by a wait, test or set
    /// operation).
    pub fn is_pending(&self) -> bool {
        matches!(self.state, State::Posted)
    }

    /// Completes the receive if the frame is there; `Ok(true)` once the result is kept
    /// (an error too is kept, and returned as well).
    pub(crate) fn poll(&mut self) -> Result<bool> {
        match self.state {
            State::Ready(_) => return Ok(true),
            State::Taken => return Err(completed()),
            State::Posted => {}
        }
        if let Some((source, tag)) = self.lazy {
            let done = match message::improbe(self.comm, source, tag) {
                Ok(None) => return Ok(false),
                Ok(Some(m)) => m.recv_status::<T>(),
                Err(e) => Err(e),
            };
            let err = done.as_ref().err().cloned();
            self.state = State::Ready(done);
            return err.map_or(Ok(true), Err);
        }
        let mut status = Status::default();
        let mut flag: std::ffi::c_int = 0;
        let r = mpi_call!(MPI_Test(&mut self.raw, &mut flag, &mut status.0));
        let done = match r {
            Ok(()) if flag == 0 => return Ok(false),
            Ok(()) => self.finish(status),
            Err(e) => {
                // The receive completed with an error (and was freed).
                self.raw = ffi::REQUEST_NULL();
                Err(self.frame_error(e))
            }
        };
        self.raw = ffi::REQUEST_NULL();
        let err = done.as_ref().err().cloned();
        self.state = State::Ready(done);
        match err {
            Some(e) => Err(e),
            None => Ok(true),
        }
    }

    fn take(&mut self) -> Option<Result<(T, Status)>> {
        match std::mem::replace(&mut self.state, State::Taken) {
            State::Ready(r) => Some(r),
            other => {
                self.state = other;
                None
            }
        }
    }

    /// The frame arrived (the receive is complete, `status` its status): the rest, decoded.
    fn finish(&mut self, status: Status) -> Result<(T, Status)> {
        if status.source() == ffi::PROC_NULL() {
            return Err(from_proc_null());
        }
        let n = probed_bytes(&status)?.min(EAGER);
        let mut buf = RecvBuffer { frame: self.frame_vec(n), stash: Vec::new() };
        let inc = finish::<T>(self.comm, status, &mut buf)?;
        let status = inc.status;
        Ok((inc.decode(&buf.frame)?, status))
    }

    fn frame_error(&self, e: Error) -> Error {
        match e.class() {
            Some(crate::ErrorClass::Truncate) => decode_error::<T>(format!(
                "the first message of an object holds more than the {EAGER} bytes the protocol allows (not an object message?)"
            )),
            _ => e,
        }
    }
}

impl<T> ObjRecvRequest<'_, T> {
    /// Takes the frame buffer out of the request as a `Vec` of its first `n` bytes (written by
    /// the completed receive); the request then owns a fresh, empty buffer.
    fn frame_vec(&mut self, n: usize) -> Vec<u8> {
        let ptr = std::mem::replace(&mut self.frame, std::ptr::null_mut());
        // SAFETY: `ptr` came from a Vec<u8> of capacity `cap` that nothing else owns; the
        // receive into it is complete and wrote its first `n` (≤ EAGER) bytes.
        unsafe { Vec::from_raw_parts(ptr, n, self.cap) }
    }
}

#[cold]
fn completed() -> Error {
    Error::InvalidArgument("this object receive has already completed".into())
}

impl<T> Drop for ObjRecvRequest<'_, T> {
    fn drop(&mut self) {
        if self.raw != ffi::REQUEST_NULL() {
            let Some(_call) = enter_if_active() else {
                // MPI is gone and may have written: leak the buffer rather than guess.
                return;
            };
            let mut status = Status::default();
            // SAFETY: the request this handle posted; waiting after cancelling frees it.
            let waited = unsafe {
                ffi::MPI_Cancel(&mut self.raw);
                ffi::MPI_Wait(&mut self.raw, &mut status.0)
            };
            if waited != ffi::SUCCESS() {
                return; // the buffer is leaked: nothing more is known about the receive
            }
            if !status.is_cancelled().unwrap_or(true) && status.source() != ffi::PROC_NULL() {
                // The frame arrived before the cancel: take the rest of the object and drop it.
                if let Ok(n) = probed_bytes(&status) {
                    let frame = self.frame_vec(n.min(EAGER));
                    let mut buf = RecvBuffer { frame, stash: Vec::new() };
                    let _ = finish::<T>(self.comm, status, &mut buf);
                }
            }
        }
        if !self.frame.is_null() {
            // SAFETY: no receive is posted into the buffer any more; it came from a Vec<u8> of
            // capacity `cap`.
            drop(unsafe { Vec::from_raw_parts(self.frame, 0, self.cap) });
        }
    }
}
