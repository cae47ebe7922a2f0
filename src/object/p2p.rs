//! Moving one object message between two processes: the frame, then each out-of-band payload
//! as a message of its own with the same source, tag and communicator (as mpi4py's `pkl5`).
//!
//! The frame's first [`EAGER`] bytes are one message, which the receiver takes with a plain
//! `MPI_Recv` into a buffer of that size (one receive for a small object, no probe, and no
//! other receive can take it); a longer frame's rest, and then each payload, it matches with
//! `MPI_Mprobe` on the first message's actual source and tag, so it learns each size before
//! allocating. MPI's non-overtaking rule delivers a sender's messages in order on that (source,
//! tag), so as in `pkl5` two threads of one process must not send objects to the same
//! destination with the same tag at the same time, nor receive objects from the same source
//! with the same tag at the same time.
//!
//! Counts past 2^31 bytes go to MPI as one item of a big datatype
//! ([`bigcount`](crate::bigcount)), on both sides.

use super::codec::{decode_error, parse_header, Encoded, Header, Payload, EAGER, FLAG_CONTINUED, MAGIC};
use crate::bigcount::block;
use crate::comm::Communicator;
use crate::comm::{check_rank, check_tag};
use crate::error::{check, mpi_call, Error, Result};
use crate::ffi::{self, MPI_Comm, MPI_Message, MPI_Request};
use crate::runtime::enter_if_active;
use crate::status::Status;
use std::ffi::{c_int, c_void};

/// The send modes object messages use.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Mode {
    Standard,
    Synchronous,
    /// Through the attached buffer (`MPI_Bsend`); the caller checks that the parts fit.
    Buffered,
}

/// Checks a destination and a sending tag.
pub(crate) fn check_dest<C: Communicator + ?Sized>(comm: &C, dest: i32, tag: i32) -> Result<()> {
    check_rank(comm, dest, false)?;
    check_tag(tag)
}

/// Checks a source (or `ANY_SOURCE`) and a receiving tag (or `ANY_TAG`).
pub(crate) fn check_source<C: Communicator + ?Sized>(comm: &C, source: i32, tag: i32) -> Result<()> {
    check_rank(comm, source, true)?;
    if tag != ffi::ANY_TAG() {
        check_tag(tag)?;
    }
    Ok(())
}

/// Requests in flight; waited for on drop, so the memory they read or write outlives them.
#[derive(Default)]
pub(crate) struct Pending {
    reqs: Vec<MPI_Request>,
}

impl Pending {
    /// Whether no request is in flight.
    pub(crate) fn is_empty(&self) -> bool {
        self.reqs.is_empty()
    }

    pub(crate) fn wait(&mut self) -> Result<()> {
        if self.reqs.is_empty() {
            return Ok(());
        }
        let n = self.reqs.len() as c_int;
        let r = mpi_call!(MPI_Waitall(n, self.reqs.as_mut_ptr(), ffi::STATUSES_IGNORE()));
        // On error some requests may still be active: wait for each on drop.
        if r.is_ok() {
            self.reqs.clear();
        }
        r
    }

    /// Waits for every request; after an error, for each one still active, one by one, so
    /// that none is left reading memory (the first error is returned).
    pub(crate) fn wait_or_drain(&mut self) -> Result<()> {
        let Some(_call) = enter_if_active() else {
            self.reqs.clear();
            return Ok(());
        };
        let r = self.wait();
        if r.is_err() {
            for req in self.reqs.drain(..) {
                let mut req = req;
                if req != ffi::REQUEST_NULL() {
                    // SAFETY: a request this module started; waiting frees it.
                    unsafe { ffi::MPI_Wait(&mut req, ffi::STATUS_IGNORE()) };
                }
            }
        }
        r
    }

    pub(crate) fn test(&mut self) -> Result<bool> {
        if self.reqs.is_empty() {
            return Ok(true);
        }
        let mut flag: c_int = 0;
        let n = self.reqs.len() as c_int;
        mpi_call!(MPI_Testall(n, self.reqs.as_mut_ptr(), &mut flag, ffi::STATUSES_IGNORE()))?;
        if flag != 0 {
            self.reqs.clear();
        }
        Ok(flag != 0)
    }
}

impl Drop for Pending {
    fn drop(&mut self) {
        if let Some(_call) = enter_if_active() {
            for r in &mut self.reqs {
                if *r != ffi::REQUEST_NULL() {
                    // SAFETY: a request this module started; waiting frees it.
                    unsafe { ffi::MPI_Wait(r, ffi::STATUS_IGNORE()) };
                }
            }
        }
    }
}

type SendFn = unsafe extern "C" fn(*const c_void, c_int, ffi::MPI_Datatype, c_int, c_int, MPI_Comm) -> c_int;
type IsendFn = unsafe extern "C" fn(
    *const c_void,
    c_int,
    ffi::MPI_Datatype,
    c_int,
    c_int,
    MPI_Comm,
    *mut MPI_Request,
) -> c_int;

/// The messages of a frame: its first [`EAGER`] bytes, and the rest if any.
pub(crate) fn frame_parts(frame: &[u8]) -> impl Iterator<Item = &[u8]> {
    let (first, rest) = frame.split_at(frame.len().min(EAGER));
    std::iter::once(first).chain((!rest.is_empty()).then_some(rest))
}

/// The messages of one object: the frame's, then the payloads.
pub(crate) fn parts<'e>(enc: &'e Encoded<'_>) -> impl Iterator<Item = &'e [u8]> {
    frame_parts(enc.frame()).chain((0..enc.payload_count()).map(|i| enc.payload(i)))
}

/// Sends `parts` to `dest` with blocking calls.
pub(crate) fn send_parts<'p>(
    comm: MPI_Comm,
    parts: impl Iterator<Item = &'p [u8]>,
    dest: i32,
    tag: i32,
    mode: Mode,
) -> Result<()> {
    let (f, call): (SendFn, _) = match mode {
        Mode::Standard => (ffi::MPI_Send, "MPI_Send"),
        Mode::Synchronous => (ffi::MPI_Ssend, "MPI_Ssend"),
        Mode::Buffered => (ffi::MPI_Bsend, "MPI_Bsend"),
    };
    for (i, p) in parts.enumerate() {
        let b = block(p.len(), ffi::BYTE())?;
        let _call = crate::error::require_not_finalized()?;
        // Synchronous mode is for the first message: once it has matched, the receiver has
        // started receiving the object, and it takes the rest when it completes the receive.
        let (f, call): (SendFn, _) =
            if i > 0 && mode == Mode::Synchronous { (ffi::MPI_Send, "MPI_Send") } else { (f, call) };
        // SAFETY: `p` is valid for reads for the whole (blocking) call.
        check(call, unsafe { f(p.as_ptr().cast(), b.count, b.datatype, dest, tag, comm) })?;
    }
    Ok(())
}

/// Starts sending `parts` to `dest`; the requests join `pending`. The caller keeps the parts
/// alive until `pending` completes.
pub(crate) fn isend_parts<'p>(
    comm: MPI_Comm,
    parts: impl Iterator<Item = &'p [u8]>,
    dest: i32,
    tag: i32,
    mode: Mode,
    pending: &mut Pending,
) -> Result<()> {
    let (f, call): (IsendFn, _) = match mode {
        Mode::Standard => (ffi::MPI_Isend, "MPI_Isend"),
        Mode::Synchronous => (ffi::MPI_Issend, "MPI_Issend"),
        Mode::Buffered => (ffi::MPI_Ibsend, "MPI_Ibsend"),
    };
    for (i, p) in parts.enumerate() {
        let b = block(p.len(), ffi::BYTE())?;
        let mut req = ffi::REQUEST_NULL();
        let _call = crate::error::require_not_finalized()?;
        // As in `send_parts`: synchronous mode for the first message only.
        let (f, call): (IsendFn, _) =
            if i > 0 && mode == Mode::Synchronous { (ffi::MPI_Isend, "MPI_Isend") } else { (f, call) };
        // SAFETY: the caller keeps `p` alive until the request completes.
        check(call, unsafe { f(p.as_ptr().cast(), b.count, b.datatype, dest, tag, comm, &mut req) })?;
        pending.reqs.push(req);
    }
    Ok(())
}

/// Size in bytes of a probed or received message (also past 2^31).
pub(crate) fn probed_bytes(status: &Status) -> Result<usize> {
    // MPI_Get_count is the cheaper call; past 2^31 bytes it says UNDEFINED.
    let mut small: c_int = 0;
    mpi_call!(MPI_Get_count(&status.0, ffi::BYTE(), &mut small))?;
    if small >= 0 && small != ffi::UNDEFINED() {
        return Ok(small as usize);
    }
    let mut count: ffi::MPI_Count = 0;
    mpi_call!(MPI_Get_elements_x(&status.0, ffi::BYTE(), &mut count))?;
    #[allow(clippy::unnecessary_cast)]
    usize::try_from(count as i64)
        .map_err(|_| Error::InvalidArgument(format!("a probed message reports {count} bytes")))
}

pub(crate) fn mprobe(comm: MPI_Comm, source: i32, tag: i32) -> Result<(MPI_Message, Status)> {
    let mut status = Status::default();
    let mut msg = ffi::MESSAGE_NULL();
    mpi_call!(MPI_Mprobe(source, tag, comm, &mut msg, &mut status.0))?;
    Ok((msg, status))
}

/// Receives the matched message, of exactly `len` bytes, at `dst`, which holds `len` bytes.
pub(crate) fn mrecv(msg: &mut MPI_Message, dst: *mut u8, len: usize) -> Result<()> {
    let b = block(len, ffi::BYTE())?;
    let mut status = Status::default();
    mpi_call!(MPI_Mrecv(dst.cast(), b.count, b.datatype, msg, &mut status.0))
}

/// Receives a matched message of `bytes` bytes that will not be used, so it does not stay
/// matched forever.
pub(crate) fn discard(mut msg: MPI_Message, bytes: usize) {
    let mut sink: Vec<u8> = Vec::new();
    if sink.try_reserve_exact(bytes).is_ok() {
        // Written by MPI, never read.
        let _ = mrecv(&mut msg, sink.as_mut_ptr(), bytes);
    }
}

/// A reusable receive buffer ([`recv_obj_with`](super::ObjectComm::recv_obj_with)): the
/// frame's allocation, and out-of-band arrays handed back with [`recycle`](Self::recycle),
/// which later receives fill instead of allocating. A loop that recycles what it received
/// allocates nothing once warm.
///
/// ```no_run
/// use mpi4rs::prelude::*;
/// use mpi4rs::object::RecvBuffer;
/// let env = mpi4rs::init()?;
/// let world = env.world();
/// let mut buf = RecvBuffer::new();
/// for _ in 0..100 {
///     let (field, _status): (OobVec<f64>, _) = world.recv_obj_with(&mut buf, 0, 0)?;
///     // … use field …
///     buf.recycle(field);            // its allocation receives the next one
/// }
/// # Ok::<(), mpi4rs::Error>(())
/// ```
#[derive(Default)]
pub struct RecvBuffer {
    pub(crate) frame: Vec<u8>,
    pub(crate) stash: Vec<Payload>,
}

impl RecvBuffer {
    /// How many recycled allocations a buffer keeps (the oldest goes first).
    pub const MAX_STASHED: usize = 16;

    /// An empty buffer.
    pub fn new() -> Self {
        RecvBuffer::default()
    }

    /// Keeps the allocation of `v` (an `OobVec<T>` or `Vec<T>`) for a later payload of the
    /// same element type that fits in it.
    pub fn recycle<T: mpi4rs_device::Element>(&mut self, v: impl Into<Vec<T>>) {
        if let Some(p) = Payload::recycle(v.into()) {
            if self.stash.len() == Self::MAX_STASHED {
                self.stash.remove(0);
            }
            self.stash.push(p);
        }
    }

    /// Bytes held for reuse: the frame's capacity and the recycled allocations'.
    pub fn capacity(&self) -> usize {
        self.frame.capacity() + self.stash.iter().map(|p| p.capacity()).sum::<usize>()
    }
}

impl std::fmt::Debug for RecvBuffer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RecvBuffer")
            .field("frame", &self.frame.capacity())
            .field("stash", &self.stash.len())
            .finish()
    }
}

/// A received object message, not yet decoded.
pub(crate) struct Incoming {
    pub(crate) header: Header,
    pub(crate) payloads: Vec<Payload>,
    pub(crate) status: Status,
}

impl Incoming {
    /// The messages to forward this object unchanged: `frame`, then the payloads.
    pub(crate) fn parts<'s>(&'s self, frame: &'s [u8]) -> impl Iterator<Item = &'s [u8]> {
        frame_parts(frame).chain(self.payloads.iter().map(|p| p.as_slice()))
    }

    /// Decodes the object (consumes the payloads).
    pub(crate) fn decode<T: serde::de::DeserializeOwned>(self, frame: &[u8]) -> Result<T> {
        super::codec::decode_parsed(frame, &self.header, self.payloads)
    }
}

/// Receives one object message from `source` with `tag`: the frame into `buf.frame` (its
/// allocation reused), the payloads into recycled allocations of `buf` where they fit. `T`
/// names errors.
///
/// The frame's first [`EAGER`] bytes are one message, received with a plain `MPI_Recv` into a
/// buffer of that size (no probe: a small object costs one receive, as a buffer does); a longer
/// frame says so in its flags and its rest follows as a second message, matched with
/// `MPI_Mprobe` so that its size is known before anything is allocated.
pub(crate) fn recv_incoming<T: ?Sized>(
    comm: MPI_Comm,
    source: i32,
    tag: i32,
    buf: &mut RecvBuffer,
) -> Result<Incoming> {
    if self_may_overflow(comm, source)? {
        // Matched first, so that the receive is of the message's own size.
        let (mut raw, status) = mprobe(comm, source, tag)?;
        check_matched(&mut raw, &status)?;
        return receive_matched::<T>(comm, &mut raw, status, buf);
    }
    let frame = &mut buf.frame;
    frame.clear();
    frame.reserve(EAGER);
    let mut status = Status::default();
    let b = block(EAGER, ffi::BYTE())?;
    let r =
        mpi_call!(MPI_Recv(frame.as_mut_ptr().cast(), b.count, b.datatype, source, tag, comm, &mut status.0));
    if let Err(e) = r {
        // The message is consumed either way; one longer than EAGER is not an object message.
        return Err(match e.class() {
            Some(crate::ErrorClass::Truncate) => decode_error::<T>(format!(
                "the first message of an object holds more than the {EAGER} bytes the protocol allows (not an object message?)"
            )),
            _ => e,
        });
    }
    if status.source() == ffi::PROC_NULL() {
        return Err(from_proc_null());
    }
    let n = probed_bytes(&status)?.min(EAGER);
    // SAFETY: MPI wrote the n bytes of the message (at most EAGER, the room given).
    unsafe { frame.set_len(n) };
    finish::<T>(comm, status, buf)
}

/// Whether a receive of `EAGER` bytes from `source` on `comm` could match a longer message
/// this process sent itself, on an MPI that writes such a message past the end of a smaller
/// receive buffer (see `crate::truncation`; Open MPI's `self` transport when its RDMA paths
/// could not be switched off). Such receives match first (`MPI_Mprobe`) and receive the
/// message at its size.
pub(crate) fn self_may_overflow(comm: MPI_Comm, source: i32) -> Result<bool> {
    if !crate::runtime::guard_self_receives() {
        return Ok(false);
    }
    if source == ffi::PROC_NULL() {
        return Ok(false);
    }
    let mut inter: c_int = 0;
    mpi_call!(MPI_Comm_test_inter(comm, &mut inter))?;
    if inter != 0 {
        return Ok(false); // only the remote group sends here
    }
    if source == ffi::ANY_SOURCE() {
        return Ok(true);
    }
    let mut me: c_int = 0;
    mpi_call!(MPI_Comm_rank(comm, &mut me))?;
    Ok(me == source)
}

#[cold]
pub(crate) fn from_proc_null() -> Error {
    Error::InvalidArgument("no object comes from PROC_NULL (sendrecv_obj returns None for it)".into())
}

/// Receives the rest of an object whose first message is in `buf.frame`: the frame's
/// continuation, if any, then the payloads.
pub(crate) fn finish<T: ?Sized>(comm: MPI_Comm, status: Status, buf: &mut RecvBuffer) -> Result<Incoming> {
    let (src, tag) = (status.source(), status.tag());
    let frame = &mut buf.frame;
    if frame.len() > 2 && frame[0] == MAGIC && frame[2] & FLAG_CONTINUED != 0 {
        if frame.len() != EAGER {
            return Err(decode_error::<T>(format!(
                "the frame says it continues in another message, but its first part holds {} bytes, not {EAGER}",
                frame.len()
            )));
        }
        let (mut msg, st) = mprobe(comm, src, tag)?;
        let extra = probed_bytes(&st)?;
        if frame.try_reserve_exact(extra).is_err() {
            discard(msg, extra);
            return Err(Error::InvalidArgument(format!(
                "out of memory for an object message of {extra} bytes"
            )));
        }
        // SAFETY: room for `extra` more bytes reserved; MPI writes all of them, then they count.
        unsafe {
            mrecv(&mut msg, frame.as_mut_ptr().add(EAGER), extra)?;
            frame.set_len(EAGER + extra);
        }
    }
    let header = parse_header::<T>(frame)?;
    let mut payloads = Vec::with_capacity(header.payloads.len());
    for (i, &(dtype, count)) in header.payloads.iter().enumerate() {
        let (mut pmsg, pstatus) = mprobe(comm, src, tag)?;
        let got = probed_bytes(&pstatus)?;
        let want = header.payload_bytes(i);
        if got != want {
            discard(pmsg, got);
            return Err(decode_error::<T>(format!(
                "payload {i}: the header announces {want} bytes of {dtype}, but the next message from rank {src} with tag {tag} holds {got}"
            )));
        }
        let mut p = Payload::alloc_uninit(dtype, count, &mut buf.stash)?;
        // MPI writes all `want` bytes: the payload is filled.
        mrecv(&mut pmsg, p.as_mut_ptr(), want)?;
        payloads.push(p);
    }
    Ok(Incoming { header, payloads, status })
}

/// Checks the matched first message of an object (`raw`, `status`): not `PROC_NULL`'s, and no
/// longer than the [`EAGER`] bytes a first message may hold (a longer one is received and
/// dropped, and is an error).
pub(crate) fn check_matched(raw: &mut MPI_Message, status: &Status) -> Result<()> {
    if *raw == ffi::MESSAGE_NO_PROC() {
        return Err(from_proc_null());
    }
    let n = probed_bytes(status)?;
    if n > EAGER {
        discard(std::mem::replace(raw, ffi::MESSAGE_NULL()), n);
        return Err(decode_error::<()>(format!(
            "the matched message holds {n} bytes, more than the {EAGER} the first message of an object may (not an object message?)"
        )));
    }
    Ok(())
}

/// Receives a matched object (its first message `raw`, checked by [`check_matched`]) into
/// `buf`: the frame, then the payloads; `raw` is `MESSAGE_NULL` afterwards (an error if it
/// already was).
pub(crate) fn receive_matched<T: ?Sized>(
    comm: MPI_Comm,
    raw: &mut MPI_Message,
    status: Status,
    buf: &mut RecvBuffer,
) -> Result<Incoming> {
    if *raw == ffi::MESSAGE_NULL() {
        return Err(Error::InvalidArgument("this object message has already been received".into()));
    }
    let n = probed_bytes(&status)?;
    let frame = &mut buf.frame;
    frame.clear();
    frame.reserve(EAGER);
    // Checked in `check_matched`: n ≤ EAGER.
    mrecv(raw, frame.as_mut_ptr(), n)?;
    *raw = ffi::MESSAGE_NULL();
    // SAFETY: MPI wrote the n bytes of the message.
    unsafe { frame.set_len(n) };
    finish::<T>(comm, status, buf)
}
