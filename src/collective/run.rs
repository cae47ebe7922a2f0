//! The collectives themselves, on buffer specs: the checks, then one MPI call in the blocking,
//! immediate or persistent form. The public methods of [`Collective`](super::Collective) only
//! take the specs of their buffers and pick the form.

use super::checks::{
    block_len, blocks_total, check_len, check_root, check_same_elements, check_varying, require_intra, Role,
};
use super::checks::{check_typed_blocks, check_typed_receive, packed_displs, Scratch};
use super::persistent;
use super::varying::TypedBlocks;
use crate::bigcount::{block, nonblocking_too_large};
use crate::buffer::{Spec, SpecMut};
use crate::comm::Communicator;
use crate::error::{check, mpi_call, Error, Result};
use crate::ffi::{self, MPI_Request};
use crate::op::Op;
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
                Some(f) => $crate::runtime::may_call().map_err($crate::error::Error::from).and_then(|()| {
                    let mut req = ffi::REQUEST_NULL();
                    // SAFETY: the MPI-4 signature with the same arguments as the blocking call;
                    // MPI is not finalised and this thread may call it.
                    let code = unsafe { f($($arg),*, ffi::INFO_NULL(), &mut req) };
                    check(concat!(stringify!($blocking), "_init"), code).map(|()| req)
                }),
                None => Err(persistent::missing(stringify!($blocking))),
            },
        }
    };
}
pub(super) use start;

const NULL: *const c_void = std::ptr::null();
const NULL_MUT: *mut c_void = std::ptr::null_mut();

fn in_place_ptr() -> *mut c_void {
    ffi::IN_PLACE()
}

/// A rank that found `err` in its own arguments after the others may already have entered the
/// collective: `call` makes the same collective with arguments built from what this rank can
/// tell the others send or expect (scratch memory, packed blocks), so that no rank waits for it
/// and no message is left behind for a later call; a nonblocking one is completed here. Then
/// `err` is returned. Persistent forms only report the error (see the module docs).
#[cold]
#[inline(never)]
fn take_part(start: Start, err: Error, call: impl FnOnce() -> Result<MPI_Request>) -> Result<MPI_Request> {
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
fn reduction_fits(start: Start, count: usize) -> Result<()> {
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

/// Blocks per process of a vector collective.
pub(crate) struct Blocks<'a> {
    pub(crate) counts: &'a [i32],
    pub(crate) displs: &'a [i32],
}

pub(crate) fn scatterv<C: Communicator + ?Sized>(
    comm: &C,
    start: Start,
    send: Option<(Spec, Blocks)>,
    recv: SpecMut,
    root: i32,
) -> Result<MPI_Request> {
    let role = check_root(comm, root)?;
    let (sptr, counts, displs, sdt, rptr, rcount) = match role {
        Role::Root => {
            let args = (|| {
                let (s, b) = send
                    .as_ref()
                    .ok_or_else(|| super::missing("scatterv", "the root needs a send buffer"))?;
                check_varying("scatterv send blocks", b.counts, b.displs, comm.peer_count(), s.count)?;
                let (rptr, rcount) = if comm.is_inter() {
                    (NULL_MUT, 0)
                } else {
                    check_same_elements(s.kind, recv.kind)?;
                    let mine = b.counts[comm.rank() as usize];
                    check_len("scatterv receive buffer (this process's block)", mine as usize, recv.count)?;
                    (recv.ptr, mine)
                };
                Ok((s.ptr, b.counts.as_ptr(), b.displs.as_ptr(), s.datatype, rptr, rcount))
            })();
            match (args, &send) {
                (Ok(a), _) => a,
                // The counts say what each process expects: zeros, packed.
                (Err(e), Some((s, b))) => {
                    let Some((displs, total)) = packed_displs(b.counts, comm.peer_count()) else {
                        return Err(e);
                    };
                    let mine = if comm.is_inter() { 0 } else { b.counts[comm.rank() as usize] };
                    let (Some(mut out), Some(mut own)) =
                        (Scratch::new(1, total, s.datatype), Scratch::new(1, mine as usize, s.datatype))
                    else {
                        return Err(e);
                    };
                    let (sp, rp) =
                        (out.ptr().cast_const(), if comm.is_inter() { NULL_MUT } else { own.ptr() });
                    return take_part(start, e, || {
                        start!(
                            start,
                            MPI_Scatterv,
                            MPI_Iscatterv,
                            scatterv,
                            sp,
                            b.counts.as_ptr(),
                            displs.as_ptr(),
                            s.datatype,
                            rp,
                            mine,
                            s.datatype,
                            root,
                            comm.as_raw()
                        )
                    });
                }
                (Err(e), None) => return Err(e),
            }
        }
        Role::Leaf => (NULL, std::ptr::null(), std::ptr::null(), recv.datatype, recv.ptr, recv.c_count()?),
        Role::Idle => (NULL, std::ptr::null(), std::ptr::null(), recv.datatype, NULL_MUT, 0),
    };
    start!(
        start,
        MPI_Scatterv,
        MPI_Iscatterv,
        scatterv,
        sptr,
        counts,
        displs,
        sdt,
        rptr,
        rcount,
        recv.datatype,
        root,
        comm.as_raw()
    )
}

pub(crate) fn gatherv<C: Communicator + ?Sized>(
    comm: &C,
    start: Start,
    send: Spec,
    recv: Option<(SpecMut, Blocks)>,
    root: i32,
) -> Result<MPI_Request> {
    let role = check_root(comm, root)?;
    let (sptr, scount, rptr, counts, displs, rdt) = match role {
        Role::Root => {
            let args = (|| {
                let (r, b) = recv
                    .as_ref()
                    .ok_or_else(|| super::missing("gatherv", "the root needs a receive buffer"))?;
                check_varying("gatherv receive blocks", b.counts, b.displs, comm.peer_count(), r.count)?;
                let (sptr, scount) = if comm.is_inter() {
                    (NULL, 0)
                } else {
                    check_same_elements(send.kind, r.kind)?;
                    let mine = b.counts[comm.rank() as usize];
                    check_len("gatherv send buffer (this process's block)", mine as usize, send.count)?;
                    (send.ptr, mine)
                };
                Ok((sptr, scount, r.ptr, b.counts.as_ptr(), b.displs.as_ptr(), r.datatype))
            })();
            match (args, &recv) {
                (Ok(a), _) => a,
                // The counts say what each process sends: take it in scratch, packed.
                (Err(e), Some((r, b))) => {
                    let Some((displs, total)) = packed_displs(b.counts, comm.peer_count()) else {
                        return Err(e);
                    };
                    let mine = if comm.is_inter() { 0 } else { b.counts[comm.rank() as usize] };
                    let (Some(mut all), Some(mut own)) =
                        (Scratch::new(1, total, r.datatype), Scratch::new(1, mine as usize, r.datatype))
                    else {
                        return Err(e);
                    };
                    let (sp, rp) = (if comm.is_inter() { NULL } else { own.ptr().cast_const() }, all.ptr());
                    return take_part(start, e, || {
                        start!(
                            start,
                            MPI_Gatherv,
                            MPI_Igatherv,
                            gatherv,
                            sp,
                            mine,
                            r.datatype,
                            rp,
                            b.counts.as_ptr(),
                            displs.as_ptr(),
                            r.datatype,
                            root,
                            comm.as_raw()
                        )
                    });
                }
                (Err(e), None) => return Err(e),
            }
        }
        Role::Leaf => {
            (send.ptr, send.c_count()?, NULL_MUT, std::ptr::null(), std::ptr::null(), send.datatype)
        }
        Role::Idle => (NULL, 0, NULL_MUT, std::ptr::null(), std::ptr::null(), send.datatype),
    };
    start!(
        start,
        MPI_Gatherv,
        MPI_Igatherv,
        gatherv,
        sptr,
        scount,
        send.datatype,
        rptr,
        counts,
        displs,
        rdt,
        root,
        comm.as_raw()
    )
}

/// `send: None` is in place: this process's block is already at `displs[rank]` in `recv`.
pub(crate) fn allgatherv<C: Communicator + ?Sized>(
    comm: &C,
    start: Start,
    send: Option<Spec>,
    recv: SpecMut,
    b: Blocks,
) -> Result<MPI_Request> {
    let args = (|| {
        check_varying("allgatherv receive blocks", b.counts, b.displs, comm.peer_count(), recv.count)?;
        Ok(match send {
            None => {
                require_intra(comm, "allgatherv in place")?;
                (in_place_ptr().cast_const(), 0, recv.datatype)
            }
            Some(s) => {
                check_same_elements(s.kind, recv.kind)?;
                if !comm.is_inter() {
                    let mine = b.counts[comm.rank() as usize] as usize;
                    check_len("allgatherv send buffer (this process's block)", mine, s.count)?;
                }
                (s.ptr, s.c_count()?, s.datatype)
            }
        })
    })();
    let (sptr, scount, sdt) = match args {
        Ok(a) => a,
        // The counts say what every process sends: send zeros for this one, take all in scratch.
        Err(e) if !comm.is_inter() => {
            let Some((displs, total)) = packed_displs(b.counts, comm.peer_count()) else { return Err(e) };
            let mine = b.counts[comm.rank() as usize];
            let (Some(mut own), Some(mut all)) =
                (Scratch::new(1, mine as usize, recv.datatype), Scratch::new(1, total, recv.datatype))
            else {
                return Err(e);
            };
            let (sp, rp, dt) = (own.ptr().cast_const(), all.ptr(), recv.datatype);
            return take_part(start, e, || {
                start!(
                    start,
                    MPI_Allgatherv,
                    MPI_Iallgatherv,
                    allgatherv,
                    sp,
                    mine,
                    dt,
                    rp,
                    b.counts.as_ptr(),
                    displs.as_ptr(),
                    dt,
                    comm.as_raw()
                )
            });
        }
        Err(e) => return Err(e),
    };
    start!(
        start,
        MPI_Allgatherv,
        MPI_Iallgatherv,
        allgatherv,
        sptr,
        scount,
        sdt,
        recv.ptr,
        b.counts.as_ptr(),
        b.displs.as_ptr(),
        recv.datatype,
        comm.as_raw()
    )
}

/// `send: None` is in place: `recv` holds the outgoing blocks (same layout) and is overwritten.
pub(crate) fn alltoallv<C: Communicator + ?Sized>(
    comm: &C,
    start: Start,
    send: Option<(Spec, Blocks)>,
    recv: SpecMut,
    rb: Blocks,
) -> Result<MPI_Request> {
    let peers = comm.peer_count();
    let args = (|| {
        check_varying("alltoallv receive blocks", rb.counts, rb.displs, peers, recv.count)?;
        Ok(match &send {
            None => {
                require_intra(comm, "alltoallv in place")?;
                (in_place_ptr().cast_const(), std::ptr::null(), std::ptr::null(), recv.datatype)
            }
            Some((s, sb)) => {
                check_same_elements(s.kind, recv.kind)?;
                check_varying("alltoallv send blocks", sb.counts, sb.displs, peers, s.count)?;
                (s.ptr, sb.counts.as_ptr(), sb.displs.as_ptr(), s.datatype)
            }
        })
    })();
    let (sptr, scounts, sdispls, sdt) = match args {
        Ok(a) => a,
        // The counts say what goes to and comes from every process: zeros out, scratch in.
        Err(e) => {
            let (scounts, sdt) = match &send {
                Some((s, sb)) => (sb.counts, s.datatype),
                None => (rb.counts, recv.datatype),
            };
            let (Some((sdispls, stotal)), Some((rdispls, rtotal))) =
                (packed_displs(scounts, peers), packed_displs(rb.counts, peers))
            else {
                return Err(e);
            };
            let (Some(mut out), Some(mut inc)) =
                (Scratch::new(1, stotal, sdt), Scratch::new(1, rtotal, recv.datatype))
            else {
                return Err(e);
            };
            let (sp, rp, rdt) = (out.ptr().cast_const(), inc.ptr(), recv.datatype);
            return take_part(start, e, || {
                start!(
                    start,
                    MPI_Alltoallv,
                    MPI_Ialltoallv,
                    alltoallv,
                    sp,
                    scounts.as_ptr(),
                    sdispls.as_ptr(),
                    sdt,
                    rp,
                    rb.counts.as_ptr(),
                    rdispls.as_ptr(),
                    rdt,
                    comm.as_raw()
                )
            });
        }
    };
    start!(
        start,
        MPI_Alltoallv,
        MPI_Ialltoallv,
        alltoallv,
        sptr,
        scounts,
        sdispls,
        sdt,
        recv.ptr,
        rb.counts.as_ptr(),
        rb.displs.as_ptr(),
        recv.datatype,
        comm.as_raw()
    )
}

/// `recv` is significant at the root, `send` elsewhere; with `in_place` the root's own
/// contribution is already in `recv`.
#[allow(clippy::too_many_arguments)]
pub(crate) fn reduce<C: Communicator + ?Sized>(
    comm: &C,
    start: Start,
    send: Spec,
    recv: Option<SpecMut>,
    in_place: bool,
    op: &Op,
    root: i32,
    t: &mut Transfer,
) -> Result<MPI_Request> {
    let role = check_root(comm, root)?;
    let (sptr, rptr, count, datatype, mpi_op, bytes) = match role {
        Role::Root => {
            let args = (|| {
                let r = recv.ok_or_else(|| super::missing("reduce", "the root needs a receive buffer"))?;
                let sptr = if in_place {
                    require_intra(comm, "reduce in place")?;
                    in_place_ptr().cast_const()
                } else if comm.is_inter() {
                    send.ptr // not read, but MPICH refuses a null pointer here
                } else {
                    check_same_elements(send.kind, r.kind)?;
                    check_len("reduce receive buffer", send.count, r.count)?;
                    send.ptr
                };
                Ok((sptr, r.ptr, r.count, r.datatype, op.for_reduction(r.kind, r.datatype)?, r.bytes))
            })();
            match args {
                Ok(a) => a,
                // The others contribute what this root's send buffer holds: reduce zeros with
                // them into scratch, cut into the same pieces.
                Err(e) if !in_place && !comm.is_inter() => {
                    let Ok(mpi_op) = op.for_reduction(send.kind, send.datatype) else { return Err(e) };
                    let (Some(mut zeros), Some(mut out)) = (
                        Scratch::new(1, send.count, send.datatype),
                        Scratch::new(1, send.count, send.datatype),
                    ) else {
                        return Err(e);
                    };
                    if reduction_fits(start, send.count).is_err() {
                        return Err(e);
                    }
                    let (sp, rp) = (zeros.ptr().cast_const(), out.ptr());
                    let (dt, raw) = (send.datatype, comm.as_raw());
                    let mut fresh = Transfer::new("reduce");
                    return take_part(start, e, || {
                        let mut req = ffi::REQUEST_NULL();
                        chunks(
                            &mut fresh,
                            start == Start::Blocking,
                            send.count,
                            dt,
                            send.bytes,
                            |off, n| {
                                let (s, r) = offset(sp, rp, off);
                                req = start!(
                                    start,
                                    MPI_Reduce,
                                    MPI_Ireduce,
                                    reduce,
                                    s,
                                    r,
                                    n,
                                    dt,
                                    mpi_op,
                                    root,
                                    raw
                                )?;
                                Ok(())
                            },
                        )?;
                        Ok(req)
                    });
                }
                Err(e) => return Err(e),
            }
        }
        Role::Leaf => {
            let mpi_op = op.for_reduction(send.kind, send.datatype)?;
            (send.ptr, NULL_MUT, send.count, send.datatype, mpi_op, send.bytes)
        }
        Role::Idle => (NULL, NULL_MUT, 0, ffi::BYTE(), ffi::SUM(), 0),
    };
    reduction_fits(start, count)?;
    let mut req = ffi::REQUEST_NULL();
    // Intercommunicators are not pipelined: their idle processes cannot know the size.
    let pipelinable = start == Start::Blocking && !comm.is_inter();
    chunks(t, pipelinable, count, datatype, bytes, |off, n| {
        let (s, r) = offset(sptr, rptr, off);
        req = start!(start, MPI_Reduce, MPI_Ireduce, reduce, s, r, n, datatype, mpi_op, root, comm.as_raw())?;
        Ok(())
    })?;
    Ok(req)
}

/// Advances real buffer addresses by `off` bytes (null and `MPI_IN_PLACE` stay as they are).
#[inline(always)]
fn offset(s: *const c_void, r: *mut c_void, off: usize) -> (*const c_void, *mut c_void) {
    if off == 0 {
        return (s, r);
    }
    let keep = |p: *const c_void| p.is_null() || p == in_place_ptr().cast_const();
    let s = if keep(s) { s } else { s.wrapping_byte_add(off) };
    let r = if keep(r.cast_const()) { r } else { r.wrapping_byte_add(off) };
    (s, r)
}

/// The element-wise reductions that differ only in their MPI call: allreduce, scan, exscan.
#[derive(Clone, Copy, PartialEq, Eq)]
pub(crate) enum Elementwise {
    Allreduce,
    Scan,
    Exscan,
}

/// `send: None` is in place: `recv` holds this process's contribution and gets the result.
/// Forced inline: each public method passes constant `start` and `which`, so the matches on
/// them fold away and only the checks and one MPI call remain on the hot path.
#[inline(always)]
pub(crate) fn elementwise<C: Communicator + ?Sized>(
    comm: &C,
    start: Start,
    which: Elementwise,
    send: Option<Spec>,
    recv: SpecMut,
    op: &Op,
    t: &mut Transfer,
) -> Result<MPI_Request> {
    if which != Elementwise::Allreduce {
        require_intra(comm, if which == Elementwise::Scan { "scan" } else { "exscan" })?;
    }
    let sptr = match send {
        None => {
            require_intra(comm, "an in-place reduction")?;
            in_place_ptr().cast_const()
        }
        Some(s) => {
            check_same_elements(s.kind, recv.kind)?;
            check_len("receive buffer", s.count, recv.count)?;
            s.ptr
        }
    };
    let mpi_op = op.for_reduction(recv.kind, recv.datatype)?;
    reduction_fits(start, recv.count)?;
    let (dt, raw) = (recv.datatype, comm.as_raw());
    let mut req = ffi::REQUEST_NULL();
    chunks(t, start == Start::Blocking && !comm.is_inter(), recv.count, dt, recv.bytes, |off, n| {
        let (s, r) = offset(sptr, recv.ptr, off);
        req = match which {
            Elementwise::Allreduce => {
                start!(start, MPI_Allreduce, MPI_Iallreduce, allreduce, s, r, n, dt, mpi_op, raw)
            }
            Elementwise::Scan => start!(start, MPI_Scan, MPI_Iscan, scan, s, r, n, dt, mpi_op, raw),
            Elementwise::Exscan => start!(start, MPI_Exscan, MPI_Iexscan, exscan, s, r, n, dt, mpi_op, raw),
        }?;
        Ok(())
    })?;
    Ok(req)
}

/// `send: None` is in place: `recv` holds all blocks and gets the result in its first block.
pub(crate) fn reduce_scatter_block<C: Communicator + ?Sized>(
    comm: &C,
    start: Start,
    send: Option<Spec>,
    recv: SpecMut,
    op: &Op,
) -> Result<MPI_Request> {
    require_intra(comm, "reduce_scatter_block")?;
    let (sptr, n) = match send {
        None => {
            (in_place_ptr().cast_const(), block_len("reduce_scatter_block buffer", recv.count, comm.size())?)
        }
        Some(s) => {
            check_same_elements(s.kind, recv.kind)?;
            const WHAT: &str = "reduce_scatter_block send buffer (one block per process)";
            check_len(WHAT, blocks_total(WHAT, recv.count, comm.size().max(0) as usize)?, s.count)?;
            (s.ptr, recv.count)
        }
    };
    let mpi_op = op.for_reduction(recv.kind, recv.datatype)?;
    let n = c_int::try_from(n).map_err(|_| nonblocking_too_large("reduce_scatter_block block length", n))?;
    start!(
        start,
        MPI_Reduce_scatter_block,
        MPI_Ireduce_scatter_block,
        reduce_scatter_block,
        sptr,
        recv.ptr,
        n,
        recv.datatype,
        mpi_op,
        comm.as_raw()
    )
}

/// `send: None` is in place: `recv` holds all blocks and gets the result in its first
/// `counts[rank]` elements.
pub(crate) fn reduce_scatter<C: Communicator + ?Sized>(
    comm: &C,
    start: Start,
    send: Option<Spec>,
    recv: SpecMut,
    counts: &[i32],
    op: &Op,
) -> Result<MPI_Request> {
    require_intra(comm, "reduce_scatter")?;
    let size = comm.size() as usize;
    if counts.len() != size || counts.iter().any(|&c| c < 0) {
        return Err(super::checks::length_error(
            "reduce_scatter counts",
            format!("needs {size} counts >= 0 (one per process), has {counts:?}"),
        ));
    }
    let total: usize = counts.iter().map(|&c| c as usize).sum();
    let sptr = match send {
        None => {
            check_len("reduce_scatter buffer (sum of counts)", total, recv.count)?;
            in_place_ptr().cast_const()
        }
        Some(s) => {
            check_same_elements(s.kind, recv.kind)?;
            check_len("reduce_scatter send buffer (sum of counts)", total, s.count)?;
            check_len("reduce_scatter receive buffer", counts[comm.rank() as usize] as usize, recv.count)?;
            s.ptr
        }
    };
    let mpi_op = op.for_reduction(recv.kind, recv.datatype)?;
    start!(
        start,
        MPI_Reduce_scatter,
        MPI_Ireduce_scatter,
        reduce_scatter,
        sptr,
        recv.ptr,
        counts.as_ptr(),
        recv.datatype,
        mpi_op,
        comm.as_raw()
    )
}

/// `send: None` is in place: `recv` holds the outgoing blocks (same layout) and is overwritten.
pub(crate) fn alltoallw<C: Communicator + ?Sized>(
    comm: &C,
    start: Start,
    send: Option<(Spec, &TypedBlocks)>,
    recv: SpecMut,
    rb: &TypedBlocks,
) -> Result<MPI_Request> {
    let peers = comm.peer_count();
    check_typed_receive("alltoallw", recv.kind)?;
    check_typed_blocks("alltoallw receive blocks", rb, peers, recv.bytes)?;
    let (sptr, scounts, sdispls, stypes) = match send {
        None => {
            require_intra(comm, "alltoallw in place")?;
            (in_place_ptr().cast_const(), std::ptr::null(), std::ptr::null(), std::ptr::null())
        }
        Some((s, sb)) => {
            check_typed_blocks("alltoallw send blocks", sb, peers, s.bytes)?;
            (s.ptr, sb.counts.as_ptr(), sb.displs.as_ptr(), sb.raw.as_ptr())
        }
    };
    if start == Start::Blocking && !comm.is_inter() && comm.size() == 1 {
        // Open MPI 4.1's coll/self MPI_Alltoallw scales the byte displacement by the extent
        // (`rbuf + rdispls[0] * rextent`), writing outside the checked block (heap
        // corruption). On one process: in place moves nothing; otherwise the nonblocking
        // form, which is correct in every library, completed at once.
        if send.is_none() {
            return Ok(ffi::REQUEST_NULL());
        }
        let mut req = ffi::REQUEST_NULL();
        mpi_call!(MPI_Ialltoallw(
            sptr,
            scounts,
            sdispls,
            stypes,
            recv.ptr,
            rb.counts.as_ptr(),
            rb.displs.as_ptr(),
            rb.raw.as_ptr(),
            comm.as_raw(),
            &mut req
        ))?;
        mpi_call!(MPI_Wait(&mut req, ffi::STATUS_IGNORE()))?;
        return Ok(ffi::REQUEST_NULL());
    }
    start!(
        start,
        MPI_Alltoallw,
        MPI_Ialltoallw,
        alltoallw,
        sptr,
        scounts,
        sdispls,
        stypes,
        recv.ptr,
        rb.counts.as_ptr(),
        rb.displs.as_ptr(),
        rb.raw.as_ptr(),
        comm.as_raw()
    )
}
