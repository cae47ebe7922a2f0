//! The collectives themselves, on buffer specs: the checks, then one MPI call in the blocking,
//! immediate or persistent form ([`Start`]). The public methods of
//! [`Collective`](super::Collective) only take the specs of their buffers and pick the form.
//! This file has what every form shares and the collectives of equal blocks (barrier, bcast,
//! scatter, gather, allgather, alltoall); the vector forms are in `vector.rs`, the reductions in
//! `reduction.rs`.

use super::checks::Scratch;
use super::checks::{
    block_len, blocks_total, check_len, check_root, check_same_elements, require_intra, Role,
};
use super::persistent;
use crate::bigcount::{block, nonblocking_too_large};
use crate::buffer::{Spec, SpecMut};
use crate::comm::Communicator;
use crate::error::{check, mpi_call, Error, Result};
use crate::ffi::{self, MPI_Request};
use crate::transfer::pipeline::chunks;
use crate::transfer::pipeline_chunk;
use crate::transfer::stage::Transfer;
use std::ffi::{c_int, c_void};

/// Which form of a collective to start.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Start {
    /// `MPI_Bcast`: complete on return.
    Blocking,
    /// `MPI_Ibcast`: returns a request.
    Immediate,
    /// `MPI_Bcast_init`: returns an inactive persistent request.
    Persistent,
}

/// Makes one MPI call in the form `start` asks for, returning the request (null when
/// blocking).
macro_rules! start {
    ($start:expr, $blocking:ident, $immediate:ident, $persistent:ident, $($arg:expr),* $(,)?) => {
        match $start {
            // The null request is only built after the call, where a blocking caller drops it.
            Start::Blocking => mpi_call!($blocking($($arg),*)).map(|()| ffi::REQUEST_NULL()),
            Start::Immediate => {
                let mut req = ffi::REQUEST_NULL();
                mpi_call!($immediate($($arg),*, &mut req)).map(|()| req)
            }
            Start::Persistent => match persistent::fns().$persistent {
                Some(f) => $crate::runtime::may_call().map_err($crate::error::Error::from).and_then(|_call| {
                    let mut req = ffi::REQUEST_NULL();
                    // SAFETY: the MPI-4 signature with the same arguments as the blocking call;
                    // MPI is not finalised and this thread may call it (`_call` held across).
                    let code = unsafe { f($($arg),*, ffi::INFO_NULL(), &mut req) };
                    check(concat!(stringify!($blocking), "_init"), code).map(|()| req)
                }),
                None => Err(persistent::missing(stringify!($blocking))),
            },
        }
    };
}
pub(super) use start;

pub(super) const NULL: *const c_void = std::ptr::null();
pub(super) const NULL_MUT: *mut c_void = std::ptr::null_mut();

pub(super) fn in_place_ptr() -> *mut c_void {
    ffi::IN_PLACE()
}

/// A rank that found `err` in its own arguments after the others may already have entered the
/// collective: `call` makes the same collective with arguments built from what this rank can
/// tell the others send or expect (scratch memory, packed blocks), so that no rank waits for it
/// and no message is left behind for a later call; a nonblocking one is completed here. Then
/// `err` is returned. Persistent forms only report the error (see the module docs).
#[cold]
#[inline(never)]
pub(super) fn take_part(
    start: Start,
    err: Error,
    call: impl FnOnce() -> Result<MPI_Request>,
) -> Result<MPI_Request> {
    if start != Start::Persistent {
        if let Ok(mut req) = call() {
            if req != ffi::REQUEST_NULL() {
                let _ = mpi_call!(MPI_Wait(&mut req, ffi::STATUS_IGNORE()));
            }
        }
    }
    Err(err)
}

/// A reduction's count must fit one call unless it is blocking (then it is chunked).
#[inline(always)]
pub(super) fn reduction_fits(start: Start, count: usize) -> Result<()> {
    if start != Start::Blocking && c_int::try_from(count).is_err() {
        return Err(nonblocking_too_large("nonblocking or persistent reduction count", count));
    }
    Ok(())
}

pub(crate) fn barrier<C: Communicator + ?Sized>(comm: &C, start: Start) -> Result<MPI_Request> {
    start!(start, MPI_Barrier, MPI_Ibarrier, barrier, comm.as_raw())
}

pub(crate) fn bcast<C: Communicator + ?Sized>(
    comm: &C,
    start: Start,
    b: SpecMut,
    root: i32,
    t: &mut Transfer,
) -> Result<MPI_Request> {
    check_root(comm, root)?;
    if start == Start::Blocking && !comm.is_inter() && pipeline_chunk(b.bytes).is_some() {
        let raw = comm.as_raw();
        chunks(t, true, b.count, b.datatype, b.bytes, |off, n| {
            let ptr = b.ptr.cast::<u8>().wrapping_add(off).cast::<c_void>();
            mpi_call!(MPI_Bcast(ptr, n, b.datatype, root, raw))
        })?;
        return Ok(ffi::REQUEST_NULL());
    }
    let blk = block(b.count, b.datatype)?;
    start!(start, MPI_Bcast, MPI_Ibcast, bcast, b.ptr, blk.count, blk.datatype, root, comm.as_raw())
}

/// `send` is significant at the root, `recv` elsewhere; with `in_place` the root keeps its
/// own block in `send` and receives nothing.
pub(crate) fn scatter<C: Communicator + ?Sized>(
    comm: &C,
    start: Start,
    send: Option<Spec>,
    recv: SpecMut,
    in_place: bool,
    root: i32,
) -> Result<MPI_Request> {
    let role = check_root(comm, root)?;
    if in_place {
        require_intra(comm, "scatter in place")?;
    }
    let (sptr, sblk, rptr, rblk) = match role {
        Role::Root => {
            let args = (|| {
                let s = send.ok_or_else(|| super::missing("scatter", "the root needs a send buffer"))?;
                let n = block_len("scatter send buffer", s.count, comm.peer_count())?;
                let rptr = if in_place {
                    in_place_ptr()
                } else if comm.is_inter() {
                    NULL_MUT
                } else {
                    check_same_elements(s.kind, recv.kind)?;
                    check_len("scatter receive buffer", n, recv.count)?;
                    recv.ptr
                };
                let rn = if rptr == NULL_MUT || in_place { 0 } else { n };
                Ok((s.ptr, block(n, s.datatype)?, rptr, block(rn, recv.datatype)?))
            })();
            match args {
                Ok(a) => a,
                // The others expect blocks like this root's own receive buffer: zeros.
                Err(e) if !in_place && !comm.is_inter() => {
                    let peers = comm.peer_count().max(0) as usize;
                    let (Some(mut out), Some(mut own)) = (
                        Scratch::new(peers, recv.count, recv.datatype),
                        Scratch::new(1, recv.count, recv.datatype),
                    ) else {
                        return Err(e);
                    };
                    let blk = block(recv.count, recv.datatype)?;
                    let (sp, rp) = (out.ptr().cast_const(), own.ptr());
                    return take_part(start, e, || {
                        start!(
                            start,
                            MPI_Scatter,
                            MPI_Iscatter,
                            scatter,
                            sp,
                            blk.count,
                            blk.datatype,
                            rp,
                            blk.count,
                            blk.datatype,
                            root,
                            comm.as_raw()
                        )
                    });
                }
                Err(e) => return Err(e),
            }
        }
        Role::Leaf => (NULL, block(0, recv.datatype)?, recv.ptr, block(recv.count, recv.datatype)?),
        Role::Idle => (NULL, block(0, recv.datatype)?, NULL_MUT, block(0, recv.datatype)?),
    };
    start!(
        start,
        MPI_Scatter,
        MPI_Iscatter,
        scatter,
        sptr,
        sblk.count,
        sblk.datatype,
        rptr,
        rblk.count,
        rblk.datatype,
        root,
        comm.as_raw()
    )
}

/// `recv` is significant at the root, `send` elsewhere; with `in_place` the root's own block
/// is already in `recv`.
pub(crate) fn gather<C: Communicator + ?Sized>(
    comm: &C,
    start: Start,
    send: Spec,
    recv: Option<SpecMut>,
    in_place: bool,
    root: i32,
) -> Result<MPI_Request> {
    let role = check_root(comm, root)?;
    if in_place {
        require_intra(comm, "gather in place")?;
    }
    let (sptr, sblk, rptr, rblk) = match role {
        Role::Root => {
            let args = (|| {
                let r = recv.ok_or_else(|| super::missing("gather", "the root needs a receive buffer"))?;
                let n = block_len("gather receive buffer", r.count, comm.peer_count())?;
                let (sptr, sn) = if in_place {
                    (in_place_ptr().cast_const(), 0)
                } else if comm.is_inter() {
                    (NULL, 0)
                } else {
                    check_same_elements(send.kind, r.kind)?;
                    const WHAT: &str = "gather receive buffer (one block per process)";
                    check_len(
                        WHAT,
                        blocks_total(WHAT, send.count, comm.peer_count().max(0) as usize)?,
                        r.count,
                    )?;
                    (send.ptr, n)
                };
                Ok((sptr, block(sn, send.datatype)?, r.ptr, block(n, r.datatype)?))
            })();
            match args {
                Ok(a) => a,
                // The others send blocks like this root's own send buffer: take them in scratch.
                Err(e) if !in_place && !comm.is_inter() => {
                    let peers = comm.peer_count().max(0) as usize;
                    let Some(mut all) = Scratch::new(peers, send.count, send.datatype) else { return Err(e) };
                    let blk = block(send.count, send.datatype)?;
                    let rp = all.ptr();
                    return take_part(start, e, || {
                        start!(
                            start,
                            MPI_Gather,
                            MPI_Igather,
                            gather,
                            send.ptr,
                            blk.count,
                            blk.datatype,
                            rp,
                            blk.count,
                            blk.datatype,
                            root,
                            comm.as_raw()
                        )
                    });
                }
                Err(e) => return Err(e),
            }
        }
        Role::Leaf => (send.ptr, block(send.count, send.datatype)?, NULL_MUT, block(0, send.datatype)?),
        Role::Idle => (NULL, block(0, send.datatype)?, NULL_MUT, block(0, send.datatype)?),
    };
    start!(
        start,
        MPI_Gather,
        MPI_Igather,
        gather,
        sptr,
        sblk.count,
        sblk.datatype,
        rptr,
        rblk.count,
        rblk.datatype,
        root,
        comm.as_raw()
    )
}

/// `send: None` is in place: this process's block is already at its place in `recv`.
pub(crate) fn allgather<C: Communicator + ?Sized>(
    comm: &C,
    start: Start,
    send: Option<Spec>,
    recv: SpecMut,
) -> Result<MPI_Request> {
    let (sptr, sblk, n) = match send {
        None => {
            require_intra(comm, "allgather in place")?;
            (
                in_place_ptr().cast_const(),
                block(0, recv.datatype)?,
                block_len("allgather buffer", recv.count, comm.size())?,
            )
        }
        Some(s) => {
            check_same_elements(s.kind, recv.kind)?;
            const WHAT: &str = "allgather receive buffer (one block per process)";
            check_len(WHAT, blocks_total(WHAT, s.count, comm.peer_count().max(0) as usize)?, recv.count)?;
            (s.ptr, block(s.count, s.datatype)?, s.count)
        }
    };
    let rblk = block(n, recv.datatype)?;
    start!(
        start,
        MPI_Allgather,
        MPI_Iallgather,
        allgather,
        sptr,
        sblk.count,
        sblk.datatype,
        recv.ptr,
        rblk.count,
        rblk.datatype,
        comm.as_raw()
    )
}

/// `send: None` is in place: `recv` holds the outgoing blocks and is overwritten.
pub(crate) fn alltoall<C: Communicator + ?Sized>(
    comm: &C,
    start: Start,
    send: Option<Spec>,
    recv: SpecMut,
) -> Result<MPI_Request> {
    let peers = comm.peer_count();
    let rn = block_len("alltoall receive buffer", recv.count, peers)?;
    let (sptr, sblk) = match send {
        None => {
            require_intra(comm, "alltoall in place")?;
            (in_place_ptr().cast_const(), block(0, recv.datatype)?)
        }
        Some(s) => {
            check_same_elements(s.kind, recv.kind)?;
            let sn = block_len("alltoall send buffer", s.count, peers)?;
            if !comm.is_inter() {
                check_len("alltoall receive buffer", s.count, recv.count)?;
            }
            (s.ptr, block(sn, s.datatype)?)
        }
    };
    let rblk = block(rn, recv.datatype)?;
    start!(
        start,
        MPI_Alltoall,
        MPI_Ialltoall,
        alltoall,
        sptr,
        sblk.count,
        sblk.datatype,
        recv.ptr,
        rblk.count,
        rblk.datatype,
        comm.as_raw()
    )
}
