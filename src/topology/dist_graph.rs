//! Distributed graph topologies (mpi4py's `Distgraphcomm`): each process gives its own edges.

use super::{c_len, ints, topology_comm, Neighbours, TopologyKind};
use crate::comm::{Comm, Communicator};
use crate::error::{mpi_call, Error, Result};
use crate::ffi::{self, MPI_Comm};
use std::ffi::c_int;

/// A communicator with a distributed graph topology (`MPI_Dist_graph_create_adjacent`,
/// `MPI_Dist_graph_create`): made by [`Comm::create_dist_graph_adjacent`] or
/// [`Comm::create_dist_graph`], freed on drop. Its [`sources`](super::Topology::sources) and
/// [`destinations`](super::Topology::destinations) are this process's in- and out-edges, with
/// their weights when the graph has them.
///
/// ```no_run
/// use mpi4rs::prelude::*;
/// let env = mpi4rs::init()?;
/// let world = env.world();
/// let (me, n) = (world.rank(), world.size());
/// // A directed ring: receive from the left, send to the right.
/// let ring = world.create_dist_graph_adjacent(&[(me + n - 1) % n], None, &[(me + 1) % n], None, false)?;
/// let mut left = 0;
/// ring.neighbor_alltoall(&me, &mut left)?;
/// assert_eq!(left, (me + n - 1) % n);
/// # Ok::<(), mpi4rs::Error>(())
/// ```
#[derive(Debug)]
pub struct DistGraphComm {
    n: Neighbours,
    weights: Option<(Vec<i32>, Vec<i32>)>,
}

topology_comm!(DistGraphComm, TopologyKind::DistGraph);

/// `ranks` must all be ranks of a communicator of `size` processes.
fn check_ranks(what: &str, ranks: &[i32], size: i32) -> Result<()> {
    match ranks.iter().position(|r| !(0..size).contains(r)) {
        None => Ok(()),
        Some(i) => Err(Error::Topology(format!(
            "{what}[{i}] = {} is not a rank of the communicator (0..{size})",
            ranks[i]
        ))),
    }
}

/// Weights must match their edges one to one and be non-negative.
fn check_weights(what: &str, weights: Option<&[i32]>, edges: usize) -> Result<()> {
    let Some(w) = weights else { return Ok(()) };
    if w.len() != edges {
        return Err(Error::Topology(format!(
            "{} {what} weights for {edges} edges: give one per edge",
            w.len()
        )));
    }
    match w.iter().position(|&x| x < 0) {
        None => Ok(()),
        Some(i) => Err(Error::Topology(format!("{what} weight {i} is {}: weights are >= 0", w[i]))),
    }
}

/// The weights argument: `MPI_UNWEIGHTED`, `MPI_WEIGHTS_EMPTY` for an empty weighted list.
fn weights_ptr(weights: Option<&[i32]>) -> *const c_int {
    match weights {
        // SAFETY: the shim returns the library's constant.
        None => unsafe { ffi::mpi4rs_unweighted() }.cast_const(),
        // SAFETY: the shim returns the library's constant.
        Some([]) => unsafe { ffi::mpi4rs_weights_empty() }.cast_const(),
        Some(w) => w.as_ptr(),
    }
}

impl Comm {
    /// Makes a distributed graph from this process's own edges
    /// (`MPI_Dist_graph_create_adjacent`): it receives from `sources` and sends to
    /// `destinations` in neighbourhood collectives, in that order. Weights are optional, but
    /// both or neither (and the same choice on every process). Collective.
    /// [`Error::Topology`] for a rank outside the communicator, weights that do not match
    /// their edges or are negative.
    pub fn create_dist_graph_adjacent(
        &self,
        sources: &[i32],
        source_weights: Option<&[i32]>,
        destinations: &[i32],
        destination_weights: Option<&[i32]>,
        reorder: bool,
    ) -> Result<DistGraphComm> {
        check_ranks("sources", sources, self.size())?;
        check_ranks("destinations", destinations, self.size())?;
        if source_weights.is_some() != destination_weights.is_some() {
            return Err(Error::Topology(
                "give weights for both sources and destinations, or for neither".into(),
            ));
        }
        check_weights("source", source_weights, sources.len())?;
        check_weights("destination", destination_weights, destinations.len())?;
        let mut c = ffi::COMM_NULL();
        mpi_call!(MPI_Dist_graph_create_adjacent(
            self.as_raw(),
            c_len("number of sources", sources.len())?,
            ints(sources),
            weights_ptr(source_weights),
            c_len("number of destinations", destinations.len())?,
            ints(destinations),
            weights_ptr(destination_weights),
            ffi::INFO_NULL(),
            reorder as c_int,
            &mut c
        ))?;
        adopt_some(c)
    }

    /// Makes a distributed graph from edges any process may give (`MPI_Dist_graph_create`):
    /// for each `sources[i]`, `degrees[i]` edges from it to the next `degrees[i]` entries of
    /// `destinations`, with optional `weights` (one per edge). Collective. [`Error::Topology`]
    /// for ranks outside the communicator, negative degrees, degrees that do not add up to
    /// the destinations, or weights that do not match.
    pub fn create_dist_graph(
        &self,
        sources: &[i32],
        degrees: &[i32],
        destinations: &[i32],
        weights: Option<&[i32]>,
        reorder: bool,
    ) -> Result<DistGraphComm> {
        check_ranks("sources", sources, self.size())?;
        check_ranks("destinations", destinations, self.size())?;
        if degrees.len() != sources.len() {
            return Err(Error::Topology(format!(
                "{} degrees for {} sources: give one degree per source",
                degrees.len(),
                sources.len()
            )));
        }
        if let Some(i) = degrees.iter().position(|&d| d < 0) {
            return Err(Error::Topology(format!("degree {i} is {}: degrees are >= 0", degrees[i])));
        }
        let total: i64 = degrees.iter().map(|&d| d as i64).sum();
        if total != destinations.len() as i64 {
            return Err(Error::Topology(format!(
                "the degrees add up to {total} edges but {} destinations are given",
                destinations.len()
            )));
        }
        check_weights("edge", weights, destinations.len())?;
        let mut c = ffi::COMM_NULL();
        mpi_call!(MPI_Dist_graph_create(
            self.as_raw(),
            c_len("number of sources", sources.len())?,
            ints(sources),
            ints(degrees),
            ints(destinations),
            weights_ptr(weights),
            ffi::INFO_NULL(),
            reorder as c_int,
            &mut c
        ))?;
        adopt_some(c)
    }
}

fn adopt_some(c: MPI_Comm) -> Result<DistGraphComm> {
    Neighbours::adopt(c, TopologyKind::DistGraph)?
        .ok_or_else(|| Error::Topology("COMM_NULL has no topology".into()))
        .and_then(DistGraphComm::wrap)
}

/// This process's in- and out-neighbours, with the weights if the graph has them
/// (`MPI_Dist_graph_neighbors_count`, `MPI_Dist_graph_neighbors`).
pub(super) type Query = (Vec<i32>, Vec<i32>, Option<(Vec<i32>, Vec<i32>)>);

pub(super) fn query(raw: MPI_Comm) -> Result<Query> {
    let (mut indeg, mut outdeg, mut weighted) = (0, 0, 0);
    mpi_call!(MPI_Dist_graph_neighbors_count(raw, &mut indeg, &mut outdeg, &mut weighted))?;
    let (ni, no) = (indeg.max(0) as usize, outdeg.max(0) as usize);
    let (mut s, mut sw) = (vec![0; ni.max(1)], vec![0; ni.max(1)]);
    let (mut d, mut dw) = (vec![0; no.max(1)], vec![0; no.max(1)]);
    mpi_call!(MPI_Dist_graph_neighbors(
        raw,
        indeg,
        s.as_mut_ptr(),
        sw.as_mut_ptr(),
        outdeg,
        d.as_mut_ptr(),
        dw.as_mut_ptr()
    ))?;
    for (v, n) in [(&mut s, ni), (&mut sw, ni), (&mut d, no), (&mut dw, no)] {
        v.truncate(n);
    }
    Ok((s, d, (weighted != 0).then_some((sw, dw))))
}

impl DistGraphComm {
    fn wrap(n: Neighbours) -> Result<DistGraphComm> {
        let (_, _, weights) = query(n.comm.as_raw())?;
        Ok(DistGraphComm { n, weights })
    }

    /// Takes ownership of a raw communicator that carries a distributed graph topology.
    ///
    /// # Safety
    /// `raw` must be a valid intracommunicator that nothing else frees.
    pub unsafe fn from_raw(raw: MPI_Comm) -> Result<DistGraphComm> {
        adopt_some(raw)
    }

    /// Whether the graph was made with weights.
    pub fn is_weighted(&self) -> bool {
        self.weights.is_some()
    }

    /// The weights of the in-edges, in the order of [`sources`](super::Topology::sources);
    /// `None` for an unweighted graph.
    pub fn source_weights(&self) -> Option<&[i32]> {
        self.weights.as_ref().map(|(s, _)| &s[..])
    }

    /// The weights of the out-edges, in the order of
    /// [`destinations`](super::Topology::destinations); `None` for an unweighted graph.
    pub fn destination_weights(&self) -> Option<&[i32]> {
        self.weights.as_ref().map(|(_, d)| &d[..])
    }

    /// Duplicates the communicator with its topology (`MPI_Comm_dup`).
    pub fn dup(&self) -> Result<DistGraphComm> {
        DistGraphComm::wrap(self.n.dup(TopologyKind::DistGraph)?)
    }
}
