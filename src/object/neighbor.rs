//! Neighbourhood collectives of objects on topology communicators (mpi4py
//! `comm.neighbor_allgather(obj)` / `neighbor_alltoall(objs)`): each process sends to its
//! [`destinations`](crate::topology::Topology::destinations) and receives from its
//! [`sources`](crate::topology::Topology::sources), in their order, over the communicator's
//! private duplicate (as the other object collectives). A `PROC_NULL` neighbour (the edge of a
//! non-periodic Cartesian grid) gets nothing and gives `None`, as in mpi4py. On a Cartesian
//! grid a block sent in one direction arrives in the receiver's slot of the opposite one, also
//! when a neighbour is met twice (periodic dimensions of size 1 or 2); on a graph, a process
//! that is a neighbour more than once has its messages matched in order, as MPI does.

use super::codec::Encoded;
use super::collective::{defer_decode, encode, private, TAG};
use super::p2p::{isend_parts, parts, recv_incoming, Mode, Pending, RecvBuffer};
use crate::collective::checks::length_error;
use crate::error::Result;
use crate::ffi;
use crate::topology::{Topology, TopologyKind};
use serde::de::DeserializeOwned;
use serde::Serialize;

/// The first tag of the Cartesian slots on the private communicator.
const SLOT_TAG: i32 = 16;

/// The tags of the messages to destination `k` and from source `j`. On a Cartesian grid,
/// destination `2d` is the neighbour below in dimension `d` and `2d + 1` the one above, and the
/// block sent below arrives in the receiver's slot of its neighbour above: tags name the
/// receiver's slot, so that a neighbour met twice (a periodic dimension of size 1 or 2) gets
/// each block in its right place. Other topologies match in order, with the collectives' tag.
fn tags<C: Topology + ?Sized>(comm: &C) -> (impl Fn(usize) -> i32, impl Fn(usize) -> i32) {
    let cart = comm.kind() == TopologyKind::Cartesian;
    (
        move |k: usize| if cart { SLOT_TAG + (k ^ 1) as i32 } else { TAG },
        move |j: usize| if cart { SLOT_TAG + j as i32 } else { TAG },
    )
}

/// Sends `encoded(k)` to each destination `k` (none for `PROC_NULL`), receives one object from
/// each source.
fn exchange<'e, C, T>(comm: &C, encoded: impl Fn(usize) -> Option<&'e Encoded<'e>>) -> Result<Vec<Option<T>>>
where
    C: Topology + ?Sized,
    T: DeserializeOwned,
{
    let raw = private(comm)?.raw();
    let (send_tag, recv_tag) = tags(comm);
    let mut pending = Pending::default();
    for (k, &dest) in comm.destinations().iter().enumerate() {
        if dest == ffi::PROC_NULL() {
            continue;
        }
        if let Some(e) = encoded(k) {
            isend_parts(raw, parts(e), dest, send_tag(k), Mode::Standard, &mut pending)?;
        }
    }
    let mut got = Vec::with_capacity(comm.sources().len());
    let mut failed = None;
    for (j, &src) in comm.sources().iter().enumerate() {
        got.push(if src == ffi::PROC_NULL() {
            None
        } else {
            let mut buf = RecvBuffer::new();
            recv_incoming::<T>(raw, src, recv_tag(j), &mut buf)?
                .decode(&buf.frame)
                .map(Some)
                .or_else(|e| defer_decode(&mut failed, e))?
        });
    }
    pending.wait()?;
    failed.map_or(Ok(got), Err)
}

pub(crate) fn allgather<C, T>(comm: &C, obj: &T) -> Result<Vec<Option<T>>>
where
    C: Topology + ?Sized,
    T: Serialize + DeserializeOwned,
{
    let enc = encode(obj)?;
    exchange(comm, |_| Some(&enc))
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
    exchange(comm, |k| encoded[k].as_ref())
}
