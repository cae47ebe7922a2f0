//! Point-to-point communication on any communicator (mpi4py's `Comm.Send` … `Comm.Mprobe`):
//! blocking, buffered/synchronous/ready modes, nonblocking, persistent, probes.
//!
//! Ranks and tags are checked before MPI is called; truncation is reported by MPI as an error
//! of class [`ErrorClass::Truncate`](crate::ErrorClass::Truncate), never as an overrun.
//!
//! ```no_run
//! use mpi4rs::prelude::*;
//! let env = mpi4rs::init()?;
//! let world = env.world();
//! let mut data = [0.0f64; 4];
//! match world.rank() {
//!     0 => world.send(&[1.0, 2.0, 3.0, 4.0], 1, 7)?,
//!     1 => { let status = world.recv(&mut data, 0, 7)?; assert_eq!(status.count::<f64>()?, 4); }
//!     _ => {}
//! }
//! # Ok::<(), mpi4rs::Error>(())
//! ```

use crate::buffer::{Buffer, BufferMut, Lend, LendMut};
use crate::comm::Communicator;
use crate::comm::{check_rank, check_tag, check_tag_any, may_match_own_send, refuse_unprobed_self_receive};
use crate::error::{check, mpi_call, Error, Result};
use crate::ffi::{self, MPI_Comm, MPI_Datatype, MPI_Request};
use crate::message::Message;
use crate::request::{PersistentRequest, Request};
use crate::scope::Scope;
use crate::status::Status;
use crate::transfer::stage::{Fill, Transfer};
use std::ffi::{c_int, c_void};

/// Any source, for receives and probes (`MPI_ANY_SOURCE`).
pub fn any_source() -> i32 {
    ffi::ANY_SOURCE()
}

/// Any tag, for receives and probes (`MPI_ANY_TAG`).
pub fn any_tag() -> i32 {
    ffi::ANY_TAG()
}

/// The null process: sends to it and receives from it complete at once (`MPI_PROC_NULL`).
pub fn proc_null() -> i32 {
    ffi::PROC_NULL()
}

/// A blocking receive that learns the message's size before any byte moves (`MPI_Mprobe`,
/// then `MPI_Mrecv` through [`Message`]), for receives that may match a message this process
/// sent to itself (see [`may_match_own_send`]). A message larger than `buf` is received into
/// scratch memory (consumed, as `MPI_Recv` would) and reported as [`Error::Truncated`].
#[cold]
fn recv_probed<C, B>(comm: &C, buf: &mut B, source: i32, tag: i32) -> Result<Status>
where
    C: Communicator + ?Sized,
    B: BufferMut + ?Sized,
{
    let mut raw = ffi::MESSAGE_NULL();
    let mut probed = Status::default();
    mpi_call!(MPI_Mprobe(source, tag, comm.as_raw(), &mut raw, &mut probed.0))?;
    let mut msg = Message::new(raw, &probed)?;
    match msg.recv(buf) {
        Err(e @ Error::Truncated { .. }) => {
            msg.discard()?;
            Err(e)
        }
        other => other,
    }
}

/// `sendrecv` as `isend`, `recv`, wait: what `MPI_Sendrecv` is defined to do. Taken for a
/// send to this process itself (Open MPI 4.1's `MPI_Sendrecv` to self reports a truncated
/// short message as a success with the truncated count, where `MPI_Recv` reports
/// `MPI_ERR_TRUNCATE`) and for a receive that may match a message from this process on an MPI
/// that writes such a message past a smaller buffer (the receive then learns the size first,
/// see [`recv_probed`]).
#[cold]
fn sendrecv_split<C, S, R>(
    comm: &C,
    sendbuf: &S,
    dest: i32,
    sendtag: i32,
    recvbuf: &mut R,
    source: i32,
    recvtag: i32,
) -> Result<Status>
where
    C: PointToPoint + ?Sized,
    S: Buffer + ?Sized,
    R: BufferMut + ?Sized,
{
    crate::scope::scope(|scope| {
        let sent = comm.isend(scope, sendbuf, dest, sendtag)?;
        let received = comm.recv(recvbuf, source, recvtag);
        // The send is waited for either way (the scope would otherwise); its error comes
        // after the receive's.
        let waited = sent.wait();
        let status = received?;
        waited?;
        Ok(status)
    })
}

type SendFn = unsafe extern "C" fn(*const c_void, c_int, MPI_Datatype, c_int, c_int, MPI_Comm) -> c_int;
type IsendFn = unsafe extern "C" fn(
    *const c_void,
    c_int,
    MPI_Datatype,
    c_int,
    c_int,
    MPI_Comm,
    *mut MPI_Request,
) -> c_int;

/// The send modes of MPI.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Mode {
    Standard,
    Buffered,
    Synchronous,
    Ready,
}

impl Mode {
    fn blocking(self) -> (SendFn, &'static str) {
        match self {
            Mode::Standard => (ffi::MPI_Send, "MPI_Send"),
            Mode::Buffered => (ffi::MPI_Bsend, "MPI_Bsend"),
            Mode::Synchronous => (ffi::MPI_Ssend, "MPI_Ssend"),
            Mode::Ready => (ffi::MPI_Rsend, "MPI_Rsend"),
        }
    }
    fn immediate(self) -> (IsendFn, &'static str) {
        match self {
            Mode::Standard => (ffi::MPI_Isend, "MPI_Isend"),
            Mode::Buffered => (ffi::MPI_Ibsend, "MPI_Ibsend"),
            Mode::Synchronous => (ffi::MPI_Issend, "MPI_Issend"),
            Mode::Ready => (ffi::MPI_Irsend, "MPI_Irsend"),
        }
    }
    fn persistent(self) -> (IsendFn, &'static str) {
        match self {
            Mode::Standard => (ffi::MPI_Send_init, "MPI_Send_init"),
            Mode::Buffered => (ffi::MPI_Bsend_init, "MPI_Bsend_init"),
            Mode::Synchronous => (ffi::MPI_Ssend_init, "MPI_Ssend_init"),
            Mode::Ready => (ffi::MPI_Rsend_init, "MPI_Rsend_init"),
        }
    }
}

/// A blocking send in `mode`. Inlined so that each public send calls its MPI function directly
/// (the mode is a constant there): about 50 instructions less per message.
#[inline(always)]
fn send_mode<C, B>(comm: &C, mode: Mode, buf: &B, dest: i32, tag: i32) -> Result<()>
where
    C: Communicator + ?Sized,
    B: Buffer + ?Sized,
{
    check_rank(comm, dest, false)?;
    check_tag(tag)?;
    let mut t = Transfer::new("send");
    let s = t.read(buf)?;
    if mode == Mode::Buffered {
        crate::bsend::check_fits(s.data_bytes()?)?;
    }
    let (f, call) = mode.blocking();
    // SAFETY: `s` describes the checked send buffer, borrowed for the call; MPI is active.
    crate::error::gated!(check(call, unsafe {
        f(s.ptr, s.c_count()?, s.datatype, dest, tag, comm.as_raw())
    }))??;
    t.blocking(None)
}

/// Starts an immediate (`persistent = false`) or persistent send in `mode`.
fn isend_with<C, B>(
    comm: &C,
    mode: Mode,
    persistent: bool,
    buf: &B,
    dest: i32,
    tag: i32,
) -> Result<(MPI_Request, Transfer)>
where
    C: Communicator + ?Sized,
    B: Buffer + ?Sized,
{
    check_rank(comm, dest, false)?;
    check_tag(tag)?;
    let mut t = Transfer::new("isend");
    let s = t.read(buf)?;
    if mode == Mode::Buffered {
        crate::bsend::check_fits(s.data_bytes()?)?;
    }
    let (f, call) = if persistent { mode.persistent() } else { mode.immediate() };
    let mut req = ffi::REQUEST_NULL();
    // SAFETY: `s` describes the checked buffer, lent to the request until `t` completes it;
    // MPI is active.
    crate::error::gated!(check(call, unsafe {
        f(s.ptr, s.c_count()?, s.datatype, dest, tag, comm.as_raw(), &mut req)
    }))??;
    Ok((req, t))
}

/// Point-to-point operations, available on every [`Communicator`].
pub trait PointToPoint: Communicator {
    /// Sends `buf` to `dest` (`MPI_Send`).
    #[inline]
    fn send<B: Buffer + ?Sized>(&self, buf: &B, dest: i32, tag: i32) -> Result<()> {
        send_mode(self, Mode::Standard, buf, dest, tag)
    }

    /// Buffered-mode send through the attached buffer (`MPI_Bsend`, see
    /// [`attach_buffer`](crate::attach_buffer)).
    fn bsend<B: Buffer + ?Sized>(&self, buf: &B, dest: i32, tag: i32) -> Result<()> {
        send_mode(self, Mode::Buffered, buf, dest, tag)
    }

    /// Synchronous-mode send: completes once the receive has started (`MPI_Ssend`).
    fn ssend<B: Buffer + ?Sized>(&self, buf: &B, dest: i32, tag: i32) -> Result<()> {
        send_mode(self, Mode::Synchronous, buf, dest, tag)
    }

    /// Ready-mode send: the matching receive must already be posted (`MPI_Rsend`).
    fn rsend<B: Buffer + ?Sized>(&self, buf: &B, dest: i32, tag: i32) -> Result<()> {
        send_mode(self, Mode::Ready, buf, dest, tag)
    }

    /// Receives into `buf` from `source` (or [`any_source`]) with `tag` (or [`any_tag`])
    /// (`MPI_Recv`). A message larger than `buf` is an error of class `Truncate`.
    #[inline(always)]
    fn recv<B: BufferMut + ?Sized>(&self, buf: &mut B, source: i32, tag: i32) -> Result<Status> {
        check_rank(self, source, true)?;
        check_tag_any(tag, true)?;
        if may_match_own_send(self, source) {
            return recv_probed(self, buf, source, tag);
        }
        let mut t = Transfer::new("recv");
        let s = t.write(buf, Fill::Received)?;
        let mut status = Status::default();
        mpi_call!(MPI_Recv(s.ptr, s.c_count()?, s.datatype, source, tag, self.as_raw(), &mut status.0))?;
        t.blocking(Some(&status))?;
        Ok(status)
    }

    /// Sends `sendbuf` to `dest` and receives into `recvbuf` from `source` (`MPI_Sendrecv`).
    #[allow(clippy::too_many_arguments)]
    fn sendrecv<S: Buffer + ?Sized, R: BufferMut + ?Sized>(
        &self,
        sendbuf: &S,
        dest: i32,
        sendtag: i32,
        recvbuf: &mut R,
        source: i32,
        recvtag: i32,
    ) -> Result<Status> {
        check_rank(self, dest, false)?;
        check_tag(sendtag)?;
        check_rank(self, source, true)?;
        check_tag_any(recvtag, true)?;
        if dest == self.rank() || may_match_own_send(self, source) {
            return sendrecv_split(self, sendbuf, dest, sendtag, recvbuf, source, recvtag);
        }
        let mut t = Transfer::new("sendrecv");
        let s = t.read(sendbuf)?;
        let r = t.write(recvbuf, Fill::Received)?;
        let mut status = Status::default();
        mpi_call!(MPI_Sendrecv(
            s.ptr,
            s.c_count()?,
            s.datatype,
            dest,
            sendtag,
            r.ptr,
            r.c_count()?,
            r.datatype,
            source,
            recvtag,
            self.as_raw(),
            &mut status.0
        ))?;
        t.blocking(Some(&status))?;
        Ok(status)
    }

    /// Sends region `send` of `buf` to `dest` and receives region `recv` of the same buffer
    /// from `source` (`MPI_Sendrecv` within one array, e.g. a ghost column next to the column
    /// sent). The receive region must share no byte with the send region: checked before
    /// MPI is called. For a loop, build an [`Exchange`](crate::Exchange) once instead.
    #[allow(clippy::too_many_arguments)]
    fn sendrecv_within<B: BufferMut + ?Sized>(
        &self,
        buf: &mut B,
        send: crate::Region<'_>,
        dest: i32,
        sendtag: i32,
        recv: crate::Region<'_>,
        source: i32,
        recvtag: i32,
    ) -> Result<Status> {
        crate::exchange::sendrecv_within(self, buf, send, dest, sendtag, recv, source, recvtag)
    }

    /// Sends `buf` to `dest`, then replaces its contents with a message from `source`
    /// (`MPI_Sendrecv_replace`).
    fn sendrecv_replace<B: BufferMut + ?Sized>(
        &self,
        buf: &mut B,
        dest: i32,
        sendtag: i32,
        source: i32,
        recvtag: i32,
    ) -> Result<Status> {
        check_rank(self, dest, false)?;
        check_tag(sendtag)?;
        check_rank(self, source, true)?;
        check_tag_any(recvtag, true)?;
        refuse_unprobed_self_receive(self, source, "sendrecv_replace")?;
        let mut t = Transfer::new("sendrecv_replace");
        let s = t.write(buf, Fill::Update)?;
        let mut status = Status::default();
        mpi_call!(MPI_Sendrecv_replace(
            s.ptr,
            s.c_count()?,
            s.datatype,
            dest,
            sendtag,
            source,
            recvtag,
            self.as_raw(),
            &mut status.0
        ))?;
        t.blocking(Some(&status))?;
        Ok(status)
    }

    /// Starts a send (`MPI_Isend`); `buf` stays borrowed until the request completes.
    fn isend<'s, L: Lend<'s>>(
        &self,
        scope: &'s Scope<'s, '_>,
        buf: L,
        dest: i32,
        tag: i32,
    ) -> Result<Request<'s>> {
        isend_with(self, Mode::Standard, false, buf.target(), dest, tag).map(|(r, t)| t.request(scope, r))
    }

    /// Starts a buffered-mode send (`MPI_Ibsend`).
    fn ibsend<'s, L: Lend<'s>>(
        &self,
        scope: &'s Scope<'s, '_>,
        buf: L,
        dest: i32,
        tag: i32,
    ) -> Result<Request<'s>> {
        isend_with(self, Mode::Buffered, false, buf.target(), dest, tag).map(|(r, t)| t.request(scope, r))
    }

    /// Starts a synchronous-mode send (`MPI_Issend`).
    fn issend<'s, L: Lend<'s>>(
        &self,
        scope: &'s Scope<'s, '_>,
        buf: L,
        dest: i32,
        tag: i32,
    ) -> Result<Request<'s>> {
        isend_with(self, Mode::Synchronous, false, buf.target(), dest, tag).map(|(r, t)| t.request(scope, r))
    }

    /// Starts a ready-mode send (`MPI_Irsend`).
    fn irsend<'s, L: Lend<'s>>(
        &self,
        scope: &'s Scope<'s, '_>,
        buf: L,
        dest: i32,
        tag: i32,
    ) -> Result<Request<'s>> {
        isend_with(self, Mode::Ready, false, buf.target(), dest, tag).map(|(r, t)| t.request(scope, r))
    }

    /// Starts a receive (`MPI_Irecv`); `buf` stays mutably borrowed until it completes.
    fn irecv<'s, L: LendMut<'s>>(
        &self,
        scope: &'s Scope<'s, '_>,
        mut buf: L,
        source: i32,
        tag: i32,
    ) -> Result<Request<'s>> {
        check_rank(self, source, true)?;
        check_tag_any(tag, true)?;
        refuse_unprobed_self_receive(self, source, "irecv")?;
        let mut t = Transfer::new("irecv");
        let s = t.write(buf.target_mut(), Fill::Received)?;
        let mut req = ffi::REQUEST_NULL();
        mpi_call!(MPI_Irecv(s.ptr, s.c_count()?, s.datatype, source, tag, self.as_raw(), &mut req))?;
        Ok(t.request(scope, req))
    }

    /// A persistent standard-mode send (`MPI_Send_init`); start it with
    /// [`PersistentRequest::start`].
    fn send_init<'s, L: Lend<'s>>(
        &self,
        scope: &'s Scope<'s, '_>,
        buf: L,
        dest: i32,
        tag: i32,
    ) -> Result<PersistentRequest<'s>> {
        isend_with(self, Mode::Standard, true, buf.target(), dest, tag).map(|(r, t)| t.persistent(scope, r))
    }

    /// A persistent buffered-mode send (`MPI_Bsend_init`).
    fn bsend_init<'s, L: Lend<'s>>(
        &self,
        scope: &'s Scope<'s, '_>,
        buf: L,
        dest: i32,
        tag: i32,
    ) -> Result<PersistentRequest<'s>> {
        isend_with(self, Mode::Buffered, true, buf.target(), dest, tag).map(|(r, t)| t.persistent(scope, r))
    }

    /// A persistent synchronous-mode send (`MPI_Ssend_init`).
    fn ssend_init<'s, L: Lend<'s>>(
        &self,
        scope: &'s Scope<'s, '_>,
        buf: L,
        dest: i32,
        tag: i32,
    ) -> Result<PersistentRequest<'s>> {
        isend_with(self, Mode::Synchronous, true, buf.target(), dest, tag)
            .map(|(r, t)| t.persistent(scope, r))
    }

    /// A persistent ready-mode send (`MPI_Rsend_init`).
    fn rsend_init<'s, L: Lend<'s>>(
        &self,
        scope: &'s Scope<'s, '_>,
        buf: L,
        dest: i32,
        tag: i32,
    ) -> Result<PersistentRequest<'s>> {
        isend_with(self, Mode::Ready, true, buf.target(), dest, tag).map(|(r, t)| t.persistent(scope, r))
    }

    /// A persistent receive (`MPI_Recv_init`).
    fn recv_init<'s, L: LendMut<'s>>(
        &self,
        scope: &'s Scope<'s, '_>,
        mut buf: L,
        source: i32,
        tag: i32,
    ) -> Result<PersistentRequest<'s>> {
        check_rank(self, source, true)?;
        check_tag_any(tag, true)?;
        refuse_unprobed_self_receive(self, source, "recv_init")?;
        let mut t = Transfer::new("recv_init");
        let s = t.write(buf.target_mut(), Fill::Received)?;
        let mut req = ffi::REQUEST_NULL();
        mpi_call!(MPI_Recv_init(s.ptr, s.c_count()?, s.datatype, source, tag, self.as_raw(), &mut req))?;
        Ok(t.persistent(scope, req))
    }

    /// Waits for a matching message without receiving it (`MPI_Probe`).
    fn probe(&self, source: i32, tag: i32) -> Result<Status> {
        check_rank(self, source, true)?;
        check_tag_any(tag, true)?;
        let mut status = Status::default();
        mpi_call!(MPI_Probe(source, tag, self.as_raw(), &mut status.0))?;
        Ok(status)
    }

    /// Checks for a matching message without receiving it (`MPI_Iprobe`).
    fn iprobe(&self, source: i32, tag: i32) -> Result<Option<Status>> {
        check_rank(self, source, true)?;
        check_tag_any(tag, true)?;
        let mut status = Status::default();
        let mut flag: c_int = 0;
        mpi_call!(MPI_Iprobe(source, tag, self.as_raw(), &mut flag, &mut status.0))?;
        Ok((flag != 0).then_some(status))
    }

    /// Waits for a matching message and removes it from matching, so that only the returned
    /// [`Message`] can receive it (`MPI_Mprobe`).
    fn mprobe(&self, source: i32, tag: i32) -> Result<(Message, Status)> {
        check_rank(self, source, true)?;
        check_tag_any(tag, true)?;
        let mut status = Status::default();
        let mut msg = ffi::MESSAGE_NULL();
        mpi_call!(MPI_Mprobe(source, tag, self.as_raw(), &mut msg, &mut status.0))?;
        Ok((Message::new(msg, &status)?, status))
    }

    /// Like [`mprobe`](Self::mprobe) without waiting (`MPI_Improbe`).
    fn improbe(&self, source: i32, tag: i32) -> Result<Option<(Message, Status)>> {
        check_rank(self, source, true)?;
        check_tag_any(tag, true)?;
        let mut status = Status::default();
        let mut msg = ffi::MESSAGE_NULL();
        let mut flag: c_int = 0;
        mpi_call!(MPI_Improbe(source, tag, self.as_raw(), &mut flag, &mut msg, &mut status.0))?;
        if flag == 0 {
            return Ok(None);
        }
        Ok(Some((Message::new(msg, &status)?, status)))
    }
}

impl<C: Communicator + ?Sized> PointToPoint for C {}
