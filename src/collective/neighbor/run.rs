//! The neighbourhood collectives on buffer specs: the checks against the topology's degrees,
//! then one MPI call in the blocking, immediate or persistent form (the same `start!` as the
//! other collectives).

use super::super::checks::{
    blocks_total, check_len, check_same_elements, check_typed_blocks, check_typed_receive, check_varying,
    length_error,
};
use super::super::persistent;
use super::super::run::{start, Start};
use super::super::varying::TypedBlocks;
use super::super::Blocks;
use crate::bigcount::block;
use crate::buffer::{Spec, SpecMut};
use crate::error::{check, mpi_call, Result};
use crate::ffi::{self, MPI_Request};
use crate::topology::Topology;

/// `count` elements as `degree` equal blocks; the block length.
fn blocks_of(what: &'static str, count: usize, degree: usize) -> Result<usize> {
    if count.is_multiple_of(degree) {
        Ok(count / degree)
    } else {
        Err(length_error(what, format!("{count} elements are not {degree} equal blocks (one per neighbour)")))
    }
}

/// A degree as the `peers` of the vector checks.
fn peers(degree: usize) -> i32 {
    i32::try_from(degree).unwrap_or(i32::MAX)
}

pub(crate) fn allgather<T: Topology + ?Sized>(
    comm: &T,
    start: Start,
    send: Spec,
    recv: SpecMut,
) -> Result<MPI_Request> {
    check_same_elements(send.kind, recv.kind)?;
    const WHAT: &str = "neighbor_allgather receive buffer (one block per source)";
    check_len(WHAT, blocks_total(WHAT, send.count, comm.in_degree())?, recv.count)?;
    let (sblk, rblk) = (block(send.count, send.datatype)?, block(send.count, recv.datatype)?);
    start!(
        start,
        MPI_Neighbor_allgather,
        MPI_Ineighbor_allgather,
        neighbor_allgather,
        send.ptr,
        sblk.count,
        sblk.datatype,
        recv.ptr,
        rblk.count,
        rblk.datatype,
        comm.as_raw()
    )
}

pub(crate) fn alltoall<T: Topology + ?Sized>(
    comm: &T,
    start: Start,
    send: Spec,
    recv: SpecMut,
) -> Result<MPI_Request> {
    check_same_elements(send.kind, recv.kind)?;
    let (outs, ins) = (comm.out_degree(), comm.in_degree());
    const SEND: &str = "neighbor_alltoall send buffer (one block per destination)";
    const RECV: &str = "neighbor_alltoall receive buffer (one block per source)";
    let n = if outs > 0 {
        blocks_of(SEND, send.count, outs)?
    } else if ins > 0 {
        blocks_of(RECV, recv.count, ins)?
    } else {
        0
    };
    check_len(SEND, blocks_total(SEND, n, outs)?, send.count)?;
    check_len(RECV, blocks_total(RECV, n, ins)?, recv.count)?;
    let (sblk, rblk) = (block(n, send.datatype)?, block(n, recv.datatype)?);
    start!(
        start,
        MPI_Neighbor_alltoall,
        MPI_Ineighbor_alltoall,
        neighbor_alltoall,
        send.ptr,
        sblk.count,
        sblk.datatype,
        recv.ptr,
        rblk.count,
        rblk.datatype,
        comm.as_raw()
    )
}

pub(crate) fn allgatherv<T: Topology + ?Sized>(
    comm: &T,
    start: Start,
    send: Spec,
    recv: SpecMut,
    b: Blocks,
) -> Result<MPI_Request> {
    check_same_elements(send.kind, recv.kind)?;
    check_varying(
        "neighbor_allgatherv receive blocks (one per source)",
        b.counts,
        b.displs,
        peers(comm.in_degree()),
        recv.count,
    )?;
    start!(
        start,
        MPI_Neighbor_allgatherv,
        MPI_Ineighbor_allgatherv,
        neighbor_allgatherv,
        send.ptr,
        send.c_count()?,
        send.datatype,
        recv.ptr,
        b.counts.as_ptr(),
        b.displs.as_ptr(),
        recv.datatype,
        comm.as_raw()
    )
}

pub(crate) fn alltoallv<T: Topology + ?Sized>(
    comm: &T,
    start: Start,
    send: (Spec, Blocks),
    recv: SpecMut,
    rb: Blocks,
) -> Result<MPI_Request> {
    let (s, sb) = send;
    check_same_elements(s.kind, recv.kind)?;
    check_varying(
        "neighbor_alltoallv send blocks (one per destination)",
        sb.counts,
        sb.displs,
        peers(comm.out_degree()),
        s.count,
    )?;
    check_varying(
        "neighbor_alltoallv receive blocks (one per source)",
        rb.counts,
        rb.displs,
        peers(comm.in_degree()),
        recv.count,
    )?;
    start!(
        start,
        MPI_Neighbor_alltoallv,
        MPI_Ineighbor_alltoallv,
        neighbor_alltoallv,
        s.ptr,
        sb.counts.as_ptr(),
        sb.displs.as_ptr(),
        s.datatype,
        recv.ptr,
        rb.counts.as_ptr(),
        rb.displs.as_ptr(),
        recv.datatype,
        comm.as_raw()
    )
}

pub(crate) fn alltoallw<T: Topology + ?Sized>(
    comm: &T,
    start: Start,
    send: (Spec, &TypedBlocks),
    recv: SpecMut,
    rb: &TypedBlocks,
) -> Result<MPI_Request> {
    let (s, sb) = send;
    check_typed_receive("neighbor_alltoallw", recv.kind)?;
    check_typed_blocks(
        "neighbor_alltoallw send blocks (one per destination)",
        sb,
        peers(comm.out_degree()),
        s.bytes,
    )?;
    check_typed_blocks(
        "neighbor_alltoallw receive blocks (one per source)",
        rb,
        peers(comm.in_degree()),
        recv.bytes,
    )?;
    start!(
        start,
        MPI_Neighbor_alltoallw,
        MPI_Ineighbor_alltoallw,
        neighbor_alltoallw,
        s.ptr,
        sb.counts.as_ptr(),
        sb.aint_displs().as_ptr(),
        sb.raw.as_ptr(),
        recv.ptr,
        rb.counts.as_ptr(),
        rb.aint_displs().as_ptr(),
        rb.raw.as_ptr(),
        comm.as_raw()
    )
}
