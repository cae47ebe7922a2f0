//! The vector collectives on buffer specs (`…v` and `alltoallw`): a count and displacement
//! (and for `alltoallw` a datatype) per process, each block checked to lie inside its buffer.

use super::checks::{check_len, check_root, check_same_elements, check_varying, require_intra, Role};
use super::checks::{check_typed_blocks, check_typed_receive, packed_displs, Scratch};
use super::persistent;
use super::run::{in_place_ptr, start, take_part, Start, NULL, NULL_MUT};
use super::varying::TypedBlocks;
use crate::buffer::{Spec, SpecMut};
use crate::comm::Communicator;
use crate::error::{check, mpi_call, Result};
use crate::ffi::{self, MPI_Request};

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
