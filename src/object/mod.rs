//! Object messaging: mpi4py's lowercase methods (`send`, `recv`, `bcast`, `scatter`, `gather`,
//! `reduce`, …) for any `Serialize` / `DeserializeOwned` type, on intra- and
//! intercommunicators, through the [`ObjectComm`] trait (in the prelude).
//!
//! mpi4py pickles; mpi4rs encodes with serde in MessagePack ([`codec`] says why and how).
//! Decoding is data only: no code runs, and truncated, corrupted or forged bytes give an
//! [`Error::Decode`](crate::Error::Decode), never a panic, nor an allocation larger than what
//! the message really holds. Large arrays inside an object ([`OobVec`], [`OobBytes`], or a
//! `Vec<T>` field marked `#[serde(with = "mpi4rs::object::oob")]`) travel out of band as
//! mpi4py's `util.pkl5` sends them: from where they lie, into their final allocation, past
//! 2 GiB if need be ([`threshold`], `MPI4RS_OBJECT_THRESHOLD`, default 256 KiB).
//!
//! ```no_run
//! use mpi4rs::prelude::*;
//! use mpi4rs::object::OobVec;
//! use serde::{Deserialize, Serialize};
//!
//! #[derive(Serialize, Deserialize, Debug, PartialEq)]
//! struct Step { n: u64, label: String, field: OobVec<f64> }
//!
//! let env = mpi4rs::init()?;
//! let world = env.world();
//! let (rank, size) = (world.rank(), world.size());
//! if rank == 0 {
//!     let step = Step { n: 1, label: "u".into(), field: vec![0.5; 1 << 20].into() };
//!     world.send_obj(&step, 1 % size, 0)?;          // the 8 MiB field travels out of band
//! }
//! if rank == 1 % size {
//!     let step: Step = world.recv_obj(0, 0)?;
//!     assert_eq!(step.field.len(), 1 << 20);
//! }
//! let total = world.allreduce_obj(rank as u64, |a, b| a + b)?;   // any closure, in a tree
//! let names: Vec<String> = world.allgather_obj(format!("rank {rank}"))?;
//! # Ok::<(), mpi4rs::Error>(())
//! ```
//!
//! | mpi4py | mpi4rs |
//! |---|---|
//! | `comm.send(obj, dest, tag)`, `ssend` | `comm.send_obj(&obj, dest, tag)`, `ssend_obj` |
//! | `comm.recv(None, source, tag, status)` | `comm.recv_obj::<T>(source, tag)`, `recv_obj_status` → `(T, Status)` |
//! | `comm.recv(buf, source, tag)` (reused buffer) | `comm.recv_obj_with::<T>(&mut RecvBuffer, source, tag)`, `buf.recycle(vec)` |
//! | `comm.sendrecv(obj, dest, st, None, source, rt)` | `comm.sendrecv_obj::<S, R>(&obj, dest, st, source, rt)` → `Option<R>` |
//! | `comm.isend`, `issend` → `Request.wait()` | `mpi4rs::scope(\|s\| comm.isend_obj(s, &obj, ..))`, `issend_obj` → [`ObjRequest`] |
//! | `comm.irecv(source, tag)` → `req.wait()` returns the object | `comm.irecv_obj::<T>(source, tag)` → [`ObjRecvRequest`] (posted at the call), `wait()` → `T` |
//! | `comm.bsend(obj, dest, tag)` | `comm.bsend_obj(&obj, dest, tag)` (after [`attach_buffer`](crate::attach_buffer)) |
//! | `comm.mprobe(source, tag)`, `improbe` → `msg.recv()` | `comm.mprobe_obj(source, tag)` → [`ObjMessage`], `improbe_obj` → `Option<_>`; `msg.recv::<T>()` |
//! | `Request.waitall`, `testall`, `waitany`, `testany` (also mixed with buffer requests) | [`wait_all`], [`test_all`], [`wait_any`], [`test_any`] over [`Completion`]s |
//! | `comm.bcast(obj, root)` | `comm.bcast_obj(&mut obj, root)` (in place) |
//! | `comm.scatter(objs, root)` | `comm.scatter_obj(Some(objs) / None, root)` → `Option<T>` |
//! | `comm.gather(obj, root)` | `comm.gather_obj(obj, root)` → `Some(Vec<T>)` at the root; `gather_obj_ref(&obj, root)` |
//! | `comm.allgather(obj)`, `alltoall(objs)` | `comm.allgather_obj(obj)` (`allgather_obj_ref(&obj)`), `alltoall_obj(objs)` → `Vec<T>` |
//! | `comm.neighbor_allgather(obj)`, `neighbor_alltoall(objs)` | `neighbor_allgather_obj(&obj)`, `neighbor_alltoall_obj(&objs)` → `Vec<Option<T>>` |
//! | `comm.reduce(obj, op, root)`, `allreduce(obj, op)` | `comm.reduce_obj(obj, op, root)` → `Option<T>`, `allreduce_obj(obj, op)` → `T` |
//! | `comm.scan(obj, op)`, `exscan(obj, op)` | `comm.scan_obj(obj, op)` → `T`, `exscan_obj(obj, op)` → `Option<T>` (`None` at rank 0) |
//! | the same with `op=MPI.SUM`, `MAX`, … | `reduce_obj_op(obj, &Op::SUM, root)`, `allreduce_obj_op`, `scan_obj_op`, `exscan_obj_op` ([`Reducible`] types) |
//! | `mpi4py.util.pkl5` (out-of-band buffers, > 2 GiB) | built in: [`OobVec`], [`OobBytes`], [`oob`] |
//! | `pkl5` threshold | [`set_threshold`], `MPI4RS_OBJECT_THRESHOLD` |
//!
//! Values are taken by reference where they are only sent, by value where they may end up in
//! the result (gather, reductions), so no `Clone` is needed except by the scans.
//!
//! Nonblocking sends lend the object (its out-of-band payloads are read where they lie), so
//! they are started in a [`Scope`], like buffer requests: the object is borrowed
//! for the scope's lifetime and the scope waits for a forgotten [`ObjRequest`] before it ends.
//! Nonblocking receives ([`ObjRecvRequest`]) post the receive of the object's first message at
//! the call, into a buffer the request owns (not lent: a forgotten request leaks it), so they
//! need no scope either.

pub mod codec;
mod collective;
mod message;
mod neighbor;
pub mod oob;
pub mod ops;
mod p2p;
mod reduce;
mod request;
pub mod set;

pub use codec::{
    set_prefault, set_threshold, threshold, Encoded, Payload, DEFAULT_THRESHOLD, EAGER, PREFAULT_MIN,
    THRESHOLD_ENV,
};
pub use message::ObjMessage;
pub use oob::{OobBytes, OobVec};
pub use ops::Reducible;
pub use p2p::RecvBuffer;
pub use request::{ObjRecvRequest, ObjRequest};
pub use set::{test_all, test_any, wait_all, wait_any, Completion};

use crate::comm::Communicator;
use crate::error::Result;
use crate::ffi;
use crate::op::Op;
use crate::scope::Scope;
use crate::status::Status;
use crate::topology::Topology;
use p2p::{check_dest, check_source, isend_parts, parts, recv_incoming, send_parts, Mode, Pending};
use serde::de::DeserializeOwned;
use serde::Serialize;
use std::cell::Cell;

/// Encodes with the process's threshold.
fn encode<T: Serialize + ?Sized>(obj: &T) -> Result<Encoded<'_>> {
    codec::encode_with(obj, threshold()?)
}

fn send_mode<C: Communicator + ?Sized, T: Serialize + ?Sized>(
    comm: &C,
    obj: &T,
    dest: i32,
    tag: i32,
    mode: Mode,
) -> Result<()> {
    check_dest(comm, dest, tag)?;
    if dest == ffi::PROC_NULL() {
        return Ok(());
    }
    // Blocking sends encode into a frame buffer kept per thread (up to 1 MiB), so small
    // messages cost no allocation.
    thread_local! {
        static FRAME: Cell<Vec<u8>> = const { Cell::new(Vec::new()) };
    }
    let enc = codec::encode_into(obj, threshold()?, FRAME.with(Cell::take))?;
    let sent = send_parts(comm.as_raw(), parts(&enc), dest, tag, mode);
    let frame = enc.into_frame();
    if frame.capacity() <= 1 << 20 {
        FRAME.with(|c| c.set(frame));
    }
    sent
}

/// Starts sending `obj`: the messages in flight and the frame they read, or `None` for
/// `PROC_NULL`. The caller keeps both (and `obj`) until the messages are sent.
fn isend_start<'b, C: Communicator + ?Sized, T: Serialize + ?Sized>(
    comm: &C,
    obj: &'b T,
    dest: i32,
    tag: i32,
    mode: Mode,
) -> Result<Option<(Pending, Encoded<'b>)>> {
    check_dest(comm, dest, tag)?;
    if dest == ffi::PROC_NULL() {
        return Ok(None);
    }
    let enc = encode(obj)?;
    let mut pending = Pending::default();
    // On an error, `pending` (dropped before `enc`) waits for what was started.
    isend_parts(comm.as_raw(), parts(&enc), dest, tag, mode, &mut pending)?;
    Ok(Some((pending, enc)))
}

fn isend_mode<'s, C: Communicator + ?Sized, T: Serialize + ?Sized>(
    comm: &C,
    scope: &'s Scope<'s, '_>,
    obj: &'s T,
    dest: i32,
    tag: i32,
    mode: Mode,
) -> Result<ObjRequest<'s>> {
    Ok(match isend_start(comm, obj, dest, tag, mode)? {
        Some((pending, enc)) => ObjRequest::new(scope.core(), pending, Some(enc)),
        None => ObjRequest::done(),
    })
}

/// Runs `f` with a receive buffer whose frame allocation is kept per thread (up to 1 MiB), so
/// that receives without a [`RecvBuffer`] of their own cost no allocation for small objects.
fn with_frame_buffer<R>(f: impl FnOnce(&mut RecvBuffer) -> R) -> R {
    thread_local! {
        static FRAME: Cell<Vec<u8>> = const { Cell::new(Vec::new()) };
    }
    let mut buf = RecvBuffer { frame: FRAME.with(Cell::take), stash: Vec::new() };
    let r = f(&mut buf);
    if buf.frame.capacity() <= 1 << 20 {
        FRAME.with(|c| c.set(std::mem::take(&mut buf.frame)));
    }
    r
}

/// Object messaging, available on every [`Communicator`] (mpi4py's lowercase methods; the
/// table in the [module documentation](self) maps one to the other).
///
/// Tags and ranks are checked as for buffers; on an intercommunicator, ranks and roots name
/// the remote group as MPI defines. Receives learn the message size from a matched probe
/// (`MPI_Mprobe`), so no size is given in advance.
pub trait ObjectComm: Communicator {
    /// Sends `obj` to `dest` (mpi4py `comm.send`). Out-of-band payloads are sent from where
    /// they lie, after the frame, with the same tag. A send to `PROC_NULL` does nothing.
    fn send_obj<T: Serialize + ?Sized>(&self, obj: &T, dest: i32, tag: i32) -> Result<()> {
        send_mode(self, obj, dest, tag, Mode::Standard)
    }

    /// Synchronous-mode [`send_obj`](Self::send_obj): returns once the receiver has started
    /// receiving (mpi4py `comm.ssend`).
    fn ssend_obj<T: Serialize + ?Sized>(&self, obj: &T, dest: i32, tag: i32) -> Result<()> {
        send_mode(self, obj, dest, tag, Mode::Synchronous)
    }

    /// Starts sending `obj` in `scope` (mpi4py `comm.isend`); `obj` stays borrowed for the
    /// scope's lifetime, and the scope waits for the send if the request is forgotten.
    ///
    /// ```no_run
    /// use mpi4rs::prelude::*;
    /// let env = mpi4rs::init()?;
    /// let world = env.world();
    /// let (me, n) = (world.rank(), world.size());
    /// let note = format!("from {me}");
    /// let got: String = mpi4rs::scope(|s| {
    ///     let req = world.isend_obj(s, &note, (me + 1) % n, 0)?;
    ///     let got = world.recv_obj((me + n - 1) % n, 0)?;
    ///     req.wait()?;
    ///     Ok(got)
    /// })?;
    /// # Ok::<(), mpi4rs::Error>(())
    /// ```
    fn isend_obj<'s, T: Serialize + ?Sized>(
        &self,
        scope: &'s Scope<'s, '_>,
        obj: &'s T,
        dest: i32,
        tag: i32,
    ) -> Result<ObjRequest<'s>> {
        isend_mode(self, scope, obj, dest, tag, Mode::Standard)
    }

    /// Starts a synchronous-mode send of `obj` in `scope` (mpi4py `comm.issend`).
    fn issend_obj<'s, T: Serialize + ?Sized>(
        &self,
        scope: &'s Scope<'s, '_>,
        obj: &'s T,
        dest: i32,
        tag: i32,
    ) -> Result<ObjRequest<'s>> {
        isend_mode(self, scope, obj, dest, tag, Mode::Synchronous)
    }

    /// Receives an object from `source` (or [`any_source`](crate::any_source)) with `tag` (or
    /// [`any_tag`](crate::any_tag)) (mpi4py `comm.recv`). Receiving from `PROC_NULL` is an
    /// error: no object comes from it (see [`sendrecv_obj`](Self::sendrecv_obj)).
    fn recv_obj<T: DeserializeOwned>(&self, source: i32, tag: i32) -> Result<T> {
        self.recv_obj_status(source, tag).map(|(v, _)| v)
    }

    /// [`recv_obj`](Self::recv_obj), also returning the status of the object's frame message
    /// (its source and tag).
    fn recv_obj_status<T: DeserializeOwned>(&self, source: i32, tag: i32) -> Result<(T, Status)> {
        with_frame_buffer(|buf| self.recv_obj_with(buf, source, tag))
    }

    /// [`recv_obj_status`](Self::recv_obj_status) with a reusable [`RecvBuffer`]: the frame
    /// is received into its allocation, and out-of-band arrays into allocations handed back to
    /// it with [`RecvBuffer::recycle`] where they fit, so a loop allocates nothing once warm.
    fn recv_obj_with<T: DeserializeOwned>(
        &self,
        buf: &mut RecvBuffer,
        source: i32,
        tag: i32,
    ) -> Result<(T, Status)> {
        check_source(self, source, tag)?;
        let incoming = recv_incoming::<T>(self.as_raw(), source, tag, buf)?;
        let status = incoming.status;
        Ok((incoming.decode(&buf.frame)?, status))
    }

    /// Starts receiving an object (mpi4py `comm.irecv`): the receive of its first message is
    /// posted now, so a synchronous send on the other side can complete before this process
    /// waits; [`ObjRecvRequest::wait`] returns the object.
    fn irecv_obj<T: DeserializeOwned>(&self, source: i32, tag: i32) -> Result<ObjRecvRequest<'_, T>> {
        check_source(self, source, tag)?;
        ObjRecvRequest::post(self.as_raw(), source, tag)
    }

    /// Sends `obj` to `dest` and receives an object from `source` at the same time (mpi4py
    /// `comm.sendrecv`); `None` when `source` is `PROC_NULL`.
    fn sendrecv_obj<S: Serialize + ?Sized, R: DeserializeOwned>(
        &self,
        obj: &S,
        dest: i32,
        sendtag: i32,
        source: i32,
        recvtag: i32,
    ) -> Result<Option<R>> {
        check_source(self, source, recvtag)?;
        // The messages are waited for before the frame goes, on every path: a tuple drops its
        // fields in order, and Pending waits when dropped.
        let mut started = isend_start(self, obj, dest, sendtag, Mode::Standard)?;
        let got = if source == ffi::PROC_NULL() { None } else { Some(self.recv_obj(source, recvtag)?) };
        if let Some((pending, _)) = started.as_mut() {
            pending.wait()?;
        }
        Ok(got)
    }

    /// Broadcasts `obj` from `root` (mpi4py `comm.bcast`): every other process's `obj` is
    /// replaced by the root's. On an intercommunicator the root passes
    /// [`root()`](crate::root), its group's other processes `PROC_NULL` (their `obj` is left
    /// alone), and the other group the root's rank.
    fn bcast_obj<T: Serialize + DeserializeOwned>(&self, obj: &mut T, root: i32) -> Result<()> {
        collective::bcast(self, obj, root)
    }

    /// Broadcasts the root's value and returns it on every process: the root passes
    /// `Some(value)`, the others `None` (their argument is ignored), so no placeholder is
    /// needed: `let params: Params = comm.bcast_obj_from((rank == 0).then(read_params), 0)?`.
    /// If the root passes `None`, every process gets the same error (nobody waits forever).
    /// On an intercommunicator the root's group gets its own argument back.
    fn bcast_obj_from<T: Serialize + DeserializeOwned>(&self, value: Option<T>, root: i32) -> Result<T> {
        let mut v = value;
        collective::bcast(self, &mut v, root)?;
        v.ok_or_else(|| {
            crate::Error::InvalidArgument("bcast_obj_from: the root passed no value (None)".into())
        })
    }

    /// Scatters `objs` (at the root: one per process, `None` elsewhere) so that process *i*
    /// gets `objs[i]` (mpi4py `comm.scatter`); `None` where nothing is received (the root's
    /// group on an intercommunicator).
    fn scatter_obj<T: Serialize + DeserializeOwned>(
        &self,
        objs: Option<Vec<T>>,
        root: i32,
    ) -> Result<Option<T>> {
        collective::scatter(self, objs, root)
    }

    /// Gathers every process's `obj` at the root, in rank order (mpi4py `comm.gather`):
    /// `Some` at the root, `None` elsewhere.
    fn gather_obj<T: Serialize + DeserializeOwned>(&self, obj: T, root: i32) -> Result<Option<Vec<T>>> {
        collective::gather(self, obj, root)
    }

    /// Every process's `obj`, in rank order, at every process (mpi4py `comm.allgather`); on an
    /// intercommunicator, the other group's.
    fn allgather_obj<T: Serialize + DeserializeOwned>(&self, obj: T) -> Result<Vec<T>> {
        collective::allgather(self, obj)
    }

    /// Sends `objs[j]` to process *j* and returns what each process sent here, in rank order
    /// (mpi4py `comm.alltoall`). `objs` holds one object per process (of the remote group, on
    /// an intercommunicator).
    fn alltoall_obj<T: Serialize + DeserializeOwned>(&self, objs: Vec<T>) -> Result<Vec<T>> {
        collective::alltoall(self, objs)
    }

    /// Reduces every process's `obj` with `op` (associative; combined in rank order) in a
    /// binomial tree (mpi4py `comm.reduce`): `Some` at the root, `None` elsewhere. On an
    /// intercommunicator the root receives the reduction of the other group.
    fn reduce_obj<T, F>(&self, obj: T, op: F, root: i32) -> Result<Option<T>>
    where
        T: Serialize + DeserializeOwned,
        F: Fn(T, T) -> T,
    {
        reduce::reduce(self, obj, op, root)
    }

    /// The reduction of every process's `obj` with `op`, at every process (mpi4py
    /// `comm.allreduce`); on an intercommunicator, each group gets the other group's.
    fn allreduce_obj<T, F>(&self, obj: T, op: F) -> Result<T>
    where
        T: Serialize + DeserializeOwned,
        F: Fn(T, T) -> T,
    {
        reduce::allreduce(self, obj, op)
    }

    /// Inclusive prefix reduction: process *i* gets `op` over processes 0..=i (mpi4py
    /// `comm.scan`). Intracommunicators only.
    fn scan_obj<T, F>(&self, obj: T, op: F) -> Result<T>
    where
        T: Serialize + DeserializeOwned + Clone,
        F: Fn(T, T) -> T,
    {
        reduce::scan(self, obj, op, false)?
            .ok_or_else(|| crate::Error::InvalidArgument("internal: inclusive scan without a value".into()))
    }

    /// Exclusive prefix reduction: process *i* gets `op` over processes 0..i, rank 0 `None`
    /// (mpi4py `comm.exscan`). Intracommunicators only.
    fn exscan_obj<T, F>(&self, obj: T, op: F) -> Result<Option<T>>
    where
        T: Serialize + DeserializeOwned + Clone,
        F: Fn(T, T) -> T,
    {
        reduce::scan(self, obj, op, true)
    }

    /// Buffered-mode [`send_obj`](Self::send_obj) through the attached buffer (mpi4py
    /// `comm.bsend`): returns once the object's messages are copied there. Attach at least
    /// the object's frame and payload bytes plus one [`bsend_overhead`](crate::bsend_overhead)
    /// per message (an object is one message, two for a frame past 4 KiB, plus one per
    /// out-of-band payload); a buffer too small is an [`Error::BsendBuffer`](crate::Error::BsendBuffer)
    /// before anything is sent.
    fn bsend_obj<T: Serialize + ?Sized>(&self, obj: &T, dest: i32, tag: i32) -> Result<()> {
        check_dest(self, dest, tag)?;
        if dest == ffi::PROC_NULL() {
            return Ok(());
        }
        let enc = encode(obj)?;
        let (count, bytes) = parts(&enc).fold((0usize, 0usize), |(c, b), p| (c + 1, b + p.len()));
        crate::bsend::check_fits(bytes + count.saturating_sub(1) * crate::bsend_overhead())?;
        send_parts(self.as_raw(), parts(&enc), dest, tag, Mode::Buffered)
    }

    /// Waits for an object from `source` (or [`any_source`](crate::any_source)) with `tag`
    /// (or [`any_tag`](crate::any_tag)) and matches it (mpi4py `comm.mprobe`): no other
    /// receive can take it; [`ObjMessage::recv`] receives it as the type chosen then, and
    /// [`ObjMessage::source`] / [`tag`](ObjMessage::tag) say where it came from first. Probing
    /// `PROC_NULL` is an error (no object comes from it).
    fn mprobe_obj(&self, source: i32, tag: i32) -> Result<ObjMessage<'_>> {
        check_source(self, source, tag)?;
        message::mprobe(self.as_raw(), source, tag)
    }

    /// [`mprobe_obj`](Self::mprobe_obj) without waiting (mpi4py `comm.improbe`): `None` when
    /// no object matches now.
    fn improbe_obj(&self, source: i32, tag: i32) -> Result<Option<ObjMessage<'_>>> {
        check_source(self, source, tag)?;
        message::improbe(self.as_raw(), source, tag)
    }

    /// [`gather_obj`](Self::gather_obj) of a borrowed value: nothing is moved or copied on the
    /// sending processes (their value is encoded where it lies); the root clones its own
    /// value into the result.
    fn gather_obj_ref<T: Serialize + DeserializeOwned + Clone>(
        &self,
        obj: &T,
        root: i32,
    ) -> Result<Option<Vec<T>>> {
        collective::gather_ref(self, obj, root)
    }

    /// [`allgather_obj`](Self::allgather_obj) of a borrowed value (cloned once into this
    /// process's own place of the result, on an intracommunicator).
    fn allgather_obj_ref<T: Serialize + DeserializeOwned + Clone>(&self, obj: &T) -> Result<Vec<T>> {
        collective::allgather_ref(self, obj)
    }

    /// [`reduce_obj`](Self::reduce_obj) with a predefined operation (mpi4py
    /// `comm.reduce(x, op=MPI.SUM, root)`): numbers, `bool`s, complex numbers, and element by
    /// element `Vec`s, arrays and [`OobVec`]s of them (see [`ops`]). An operation the type does
    /// not define is an error on every process before anything is sent; arrays of different
    /// lengths an error at the root.
    fn reduce_obj_op<T: Reducible>(&self, obj: T, op: &Op, root: i32) -> Result<Option<T>> {
        let b = ops::builtin_for::<T>(op)?;
        reduce::reduce(self, Ok(obj), ops::closure::<T>(b), root)?.map(ops::outcome).transpose()
    }

    /// [`allreduce_obj`](Self::allreduce_obj) with a predefined operation (mpi4py
    /// `comm.allreduce(x, op=MPI.SUM)`); arrays of different lengths give every process the
    /// same error.
    ///
    /// ```no_run
    /// use mpi4rs::prelude::*;
    /// let env = mpi4rs::init()?;
    /// let world = env.world();
    /// let sums: Vec<f64> = world.allreduce_obj_op(vec![1.0, world.rank() as f64], &Op::SUM)?;
    /// let any: bool = world.allreduce_obj_op(world.rank() == 0, &Op::LOR)?;
    /// # Ok::<(), mpi4rs::Error>(())
    /// ```
    fn allreduce_obj_op<T: Reducible>(&self, obj: T, op: &Op) -> Result<T> {
        let b = ops::builtin_for::<T>(op)?;
        ops::outcome(reduce::allreduce(self, Ok(obj), ops::closure::<T>(b))?)
    }

    /// [`scan_obj`](Self::scan_obj) with a predefined operation (mpi4py
    /// `comm.scan(x, op=MPI.SUM)`).
    fn scan_obj_op<T: Reducible>(&self, obj: T, op: &Op) -> Result<T> {
        let b = ops::builtin_for::<T>(op)?;
        let r = reduce::scan(self, Ok(obj), ops::closure::<T>(b), false)?;
        ops::outcome(r.ok_or_else(|| {
            crate::Error::InvalidArgument("internal: inclusive scan without a value".into())
        })?)
    }

    /// [`exscan_obj`](Self::exscan_obj) with a predefined operation: `None` at rank 0.
    fn exscan_obj_op<T: Reducible>(&self, obj: T, op: &Op) -> Result<Option<T>> {
        let b = ops::builtin_for::<T>(op)?;
        reduce::scan(self, Ok(obj), ops::closure::<T>(b), true)?.map(ops::outcome).transpose()
    }

    /// Sends `obj` to every destination of this topology communicator and returns what each
    /// source sent, in the order of [`sources`](Topology::sources) (mpi4py
    /// `comm.neighbor_allgather`); `None` for a `PROC_NULL` source (the edge of a
    /// non-periodic Cartesian grid).
    fn neighbor_allgather_obj<T: Serialize + DeserializeOwned>(&self, obj: &T) -> Result<Vec<Option<T>>>
    where
        Self: Topology,
    {
        neighbor::allgather(self, obj)
    }

    /// Sends `objs[k]` to destination *k* of this topology communicator and returns what each
    /// source sent here, in the order of [`sources`](Topology::sources) (mpi4py
    /// `comm.neighbor_alltoall`); `objs` holds one object per destination (those for a
    /// `PROC_NULL` destination are not sent), and a `PROC_NULL` source gives `None`.
    fn neighbor_alltoall_obj<T: Serialize + DeserializeOwned>(&self, objs: &[T]) -> Result<Vec<Option<T>>>
    where
        Self: Topology,
    {
        neighbor::alltoall(self, objs)
    }
}

impl<C: Communicator + ?Sized> ObjectComm for C {}
