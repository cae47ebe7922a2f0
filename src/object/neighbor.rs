//! Neighbourhood collectives of objects on topology communicators (mpi4py
//! `comm.neighbor_allgather(obj)` / `neighbor_alltoall(objs)`): each process sends to its
//! [`destinations`](crate::topology::Topology::destinations) and receives from its
//! [`sources`](crate::topology::Topology::sources), in their order, over the communicator's
//! private duplicate (as the other object collectives). A `PROC_NULL` neighbour (the edge of a
//! non-periodic Cartesian grid) gets nothing and gives `None`, as in mpi4py. When a process is
//! a neighbour more than once, its messages are matched in order, as MPI matches them for
//! distributed graphs.

use super::codec::Encoded;
use super::collective::{encode, private, recv_from, TAG};
use super::p2p::{isend_parts, parts, Mode, Pending};
use crate::collective::checks::length_error;
use crate::error::Result;
use crate::ffi;
use crate::topology::Topology;
use serde::de::DeserializeOwned;
use serde::Serialize;

/// Sends `encoded[k]` to destination `k`, receives one object from each source.
fn exchange<C, T>(comm: &C, encoded: &[Option<Encoded<'_>>]) -> Result<Vec<Option<T>>>
where
    C: Topology + ?Sized,
    T: DeserializeOwned,
{
    let raw = private(comm)?.raw();
    let mut pending = Pending::default();
    for (&dest, e) in comm.destinations().iter().zip(encoded) {
        if let Some(e) = e {
            isend_parts(raw, parts(e), dest, TAG, Mode::Standard, &mut pending)?;
        }
    }
    let mut got = Vec::with_capacity(comm.sources().len());
    for &src in comm.sources() {
        got.push(if src == ffi::PROC_NULL() { None } else { Some(recv_from::<T>(raw, src)?) });
    }
    pending.wait()?;
    Ok(got)
}

pub(crate) fn allgather<C, T>(comm: &C, obj: &T) -> Result<Vec<Option<T>>>
where
    C: Topology + ?Sized,
    T: Serialize + DeserializeOwned,
{
    let enc = encode(obj)?;
    // One encoding, sent to every destination.
    let mut pending = Pending::default();
    let raw = private(comm)?.raw();
    for &dest in comm.destinations() {
        if dest != ffi::PROC_NULL() {
            isend_parts(raw, parts(&enc), dest, TAG, Mode::Standard, &mut pending)?;
        }
    }
    let mut got = Vec::with_capacity(comm.sources().len());
    for &src in comm.sources() {
        got.push(if src == ffi::PROC_NULL() { None } else { Some(recv_from::<T>(raw, src)?) });
    }
    pending.wait()?;
    Ok(got)
}

pub(crate) fn alltoall<C, T>(comm: &C, objs: &[T]) -> Result<Vec<Option<T>>>
where
    C: Topology + ?Sized,
    T: Serialize + DeserializeOwned,
{
    let dests = comm.destinations();
    if objs.len() != dests.len() {
        return Err(length_error(
            "neighbor_alltoall_obj objects",
            format!("needs one object per destination ({}), has {}", dests.len(), objs.len()),
        ));
    }
    let encoded: Vec<Option<Encoded<'_>>> = objs
        .iter()
        .zip(dests)
        .map(|(o, &d)| if d == ffi::PROC_NULL() { Ok(None) } else { encode(o).map(Some) })
        .collect::<Result<_>>()?;
    exchange(comm, &encoded)
}
