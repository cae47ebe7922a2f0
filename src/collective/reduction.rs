//! The reductions on buffer specs: `reduce`, the element-wise ones (`allreduce`, `scan`,
//! `exscan`), `reduce_scatter_block` and `reduce_scatter`, with the operation checked against
//! the element type and blocking reductions chunked past 2^31 elements.

use super::checks::Scratch;
use super::checks::{
    block_len, blocks_total, check_len, check_root, check_same_elements, require_intra, Role,
};
use super::persistent;
use super::run::{in_place_ptr, reduction_fits, start, take_part, Start, NULL, NULL_MUT};
use crate::bigcount::nonblocking_too_large;
use crate::buffer::{Spec, SpecMut};
use crate::comm::Communicator;
use crate::error::{check, mpi_call, Result};
use crate::ffi::{self, MPI_Request};
use crate::op::Op;
use crate::transfer::pipeline::chunks;
use crate::transfer::pipeline_chunk;
use crate::transfer::stage::Transfer;
use std::ffi::{c_int, c_void};

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
    // Intercommunicators are not pipelined: their idle processes cannot know the size.
    let pipelinable = start == Start::Blocking && !comm.is_inter();
    // One call with an `int` count and no pipeline, written out (as in `elementwise`).
    if let Ok(n) = c_int::try_from(count) {
        if !pipelinable || pipeline_chunk(bytes).is_none() {
            return start!(
                start,
                MPI_Reduce,
                MPI_Ireduce,
                reduce,
                sptr,
                rptr,
                n,
                datatype,
                mpi_op,
                root,
                comm.as_raw()
            );
        }
    }
    let mut req = ffi::REQUEST_NULL();
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
    let call = Call { which, start, dt, mpi_op, raw };
    let blocking = start == Start::Blocking && !comm.is_inter();
    // The common case, one call with an `int` count and no pipeline, is written out here,
    // where `start` and `which` are constants: through the closure below (called from three
    // places, so not inlined) it cost the matches and the captures on every call.
    if let Ok(n) = c_int::try_from(recv.count) {
        if !blocking || pipeline_chunk(recv.bytes).is_none() {
            return call.run(sptr, recv.ptr, n);
        }
    }
    let mut req = ffi::REQUEST_NULL();
    chunks(t, blocking, recv.count, dt, recv.bytes, |off, n| {
        let (s, r) = offset(sptr, recv.ptr, off);
        req = call.run(s, r, n)?;
        Ok(())
    })?;
    Ok(req)
}

/// One MPI call of an element-wise reduction, for any piece of its buffers.
#[derive(Clone, Copy)]
struct Call {
    which: Elementwise,
    start: Start,
    dt: ffi::MPI_Datatype,
    mpi_op: ffi::MPI_Op,
    raw: ffi::MPI_Comm,
}

impl Call {
    #[inline(always)]
    fn run(self, s: *const c_void, r: *mut c_void, n: c_int) -> Result<MPI_Request> {
        let Call { which, start, dt, mpi_op, raw } = self;
        match which {
            Elementwise::Allreduce => {
                start!(start, MPI_Allreduce, MPI_Iallreduce, allreduce, s, r, n, dt, mpi_op, raw)
            }
            Elementwise::Scan => start!(start, MPI_Scan, MPI_Iscan, scan, s, r, n, dt, mpi_op, raw),
            Elementwise::Exscan => start!(start, MPI_Exscan, MPI_Iexscan, exscan, s, r, n, dt, mpi_op, raw),
        }
    }
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
