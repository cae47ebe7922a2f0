//! Graph topologies (mpi4py's `Graphcomm`): every process gives the whole graph.

use super::{c_len, ints, topology_comm, Neighbours, TopologyKind};
use crate::comm::{Comm, Communicator};
use crate::error::{mpi_call, Error, Result};
use crate::ffi::{self, MPI_Comm};
use std::ffi::c_int;

/// A communicator whose processes are the nodes of a graph (`MPI_Graph_create`): made by
/// [`Comm::create_graph`], freed on drop.
///
/// ```no_run
/// use mpi4rs::prelude::*;
/// let env = mpi4rs::init()?;
/// let world = env.world();
/// // A star: node 0 is joined to every other node.
/// let n = world.size();
/// let mut index = vec![n - 1];
/// let mut edges: Vec<i32> = (1..n).collect();
/// for i in 1..n {
///     index.push(index[i as usize - 1] + 1);
///     edges.push(0);
/// }
/// let graph = world.create_graph(&index, &edges, false)?.unwrap();
/// assert_eq!(graph.neighbors_of(0)?.len(), n as usize - 1);
/// # Ok::<(), mpi4rs::Error>(())
/// ```
#[derive(Debug)]
pub struct GraphComm {
    n: Neighbours,
}

topology_comm!(GraphComm, TopologyKind::Graph);

/// Checks a graph in MPI's form: node *i*'s neighbours are `edges[index[i-1]..index[i]]`.
fn check_graph(index: &[i32], edges: &[i32], size: i32) -> Result<()> {
    let nnodes = index.len();
    if nnodes == 0 {
        return Err(Error::Topology("a graph needs at least one node (index is empty)".into()));
    }
    if nnodes > size.max(0) as usize {
        return Err(Error::Topology(format!(
            "the graph has {nnodes} nodes but the communicator only {size} processes"
        )));
    }
    let mut start = 0;
    for (i, &end) in index.iter().enumerate() {
        if end < start {
            return Err(Error::Topology(format!(
                "index[{i}] = {end} is below the previous entry {start}: index holds running totals of degrees"
            )));
        }
        start = end;
    }
    if start as usize != edges.len() {
        return Err(Error::Topology(format!(
            "the last index entry is {start} but there are {} edges: they must be equal",
            edges.len()
        )));
    }
    let mut from = 0;
    for (node, &end) in index.iter().enumerate() {
        for &to in &edges[from as usize..end as usize] {
            if !(0..nnodes as i32).contains(&to) {
                return Err(Error::Topology(format!(
                    "node {node} has an edge to {to}, which is not a node of the graph (0..{nnodes})"
                )));
            }
        }
        from = end;
    }
    Ok(())
}

impl Comm {
    /// Makes a graph topology (`MPI_Graph_create`): node *i* (rank *i*) is joined to
    /// `edges[index[i-1]..index[i]]` (`index[-1]` being 0), every process passing the same
    /// graph. Collective. Processes beyond the graph's nodes get `None`. [`Error::Topology`]
    /// for an index that is not non-decreasing or does not end at `edges.len()`, an edge to a
    /// node that does not exist, or more nodes than processes.
    pub fn create_graph(&self, index: &[i32], edges: &[i32], reorder: bool) -> Result<Option<GraphComm>> {
        check_graph(index, edges, self.size())?;
        let nnodes = c_len("number of graph nodes", index.len())?;
        let mut c = ffi::COMM_NULL();
        mpi_call!(MPI_Graph_create(
            self.as_raw(),
            nnodes,
            ints(index),
            ints(edges),
            reorder as c_int,
            &mut c
        ))?;
        Ok(Neighbours::adopt(c, TopologyKind::Graph)?.map(|n| GraphComm { n }))
    }

    /// The rank this process would have in the graph (`MPI_Graph_map`), `None` if it would be
    /// left out. Same checks as [`create_graph`](Self::create_graph).
    pub fn graph_map(&self, index: &[i32], edges: &[i32]) -> Result<Option<i32>> {
        check_graph(index, edges, self.size())?;
        let nnodes = c_len("number of graph nodes", index.len())?;
        let mut rank: c_int = 0;
        mpi_call!(MPI_Graph_map(self.as_raw(), nnodes, ints(index), ints(edges), &mut rank))?;
        Ok(super::mapped_rank(rank, nnodes as i64))
    }
}

/// The neighbours of `rank` in a graph communicator (`MPI_Graph_neighbors`).
pub(super) fn neighbours_of(raw: MPI_Comm, rank: i32) -> Result<Vec<i32>> {
    let mut count: c_int = 0;
    mpi_call!(MPI_Graph_neighbors_count(raw, rank, &mut count))?;
    let mut list = vec![0; count.max(1) as usize];
    mpi_call!(MPI_Graph_neighbors(raw, rank, count, list.as_mut_ptr()))?;
    list.truncate(count.max(0) as usize);
    Ok(list)
}

impl GraphComm {
    fn wrap(n: Neighbours) -> Result<GraphComm> {
        Ok(GraphComm { n })
    }

    /// Takes ownership of a raw communicator that carries a graph topology.
    ///
    /// # Safety
    /// `raw` must be a valid intracommunicator that nothing else frees.
    pub unsafe fn from_raw(raw: MPI_Comm) -> Result<GraphComm> {
        Neighbours::adopt(raw, TopologyKind::Graph)?
            .ok_or_else(|| Error::Topology("COMM_NULL has no topology".into()))
            .and_then(GraphComm::wrap)
    }

    /// Number of nodes and of edges (`MPI_Graphdims_get`); an edge given in both directions
    /// counts twice.
    pub fn graph_dims(&self) -> Result<(i32, i32)> {
        let (mut nnodes, mut nedges) = (0, 0);
        mpi_call!(MPI_Graphdims_get(self.as_raw(), &mut nnodes, &mut nedges))?;
        Ok((nnodes, nedges))
    }

    /// The whole graph as `(index, edges)` (`MPI_Graph_get`).
    pub fn topo(&self) -> Result<(Vec<i32>, Vec<i32>)> {
        let (nnodes, nedges) = self.graph_dims()?;
        let (mut index, mut edges) = (vec![0; nnodes.max(1) as usize], vec![0; nedges.max(1) as usize]);
        mpi_call!(MPI_Graph_get(self.as_raw(), nnodes, nedges, index.as_mut_ptr(), edges.as_mut_ptr()))?;
        index.truncate(nnodes.max(0) as usize);
        edges.truncate(nedges.max(0) as usize);
        Ok((index, edges))
    }

    /// The neighbours of node `rank` (`MPI_Graph_neighbors`); [`Error::Topology`] for a
    /// rank that is not a node.
    pub fn neighbors_of(&self, rank: i32) -> Result<Vec<i32>> {
        self.check_node(rank)?;
        neighbours_of(self.as_raw(), rank)
    }

    /// How many neighbours node `rank` has (`MPI_Graph_neighbors_count`).
    pub fn neighbor_count_of(&self, rank: i32) -> Result<usize> {
        self.check_node(rank)?;
        let mut count: c_int = 0;
        mpi_call!(MPI_Graph_neighbors_count(self.as_raw(), rank, &mut count))?;
        Ok(count.max(0) as usize)
    }

    fn check_node(&self, rank: i32) -> Result<()> {
        if (0..self.size()).contains(&rank) {
            Ok(())
        } else {
            Err(Error::Topology(format!("rank {rank} is not a node of the graph (0..{})", self.size())))
        }
    }

    /// Duplicates the communicator with its topology (`MPI_Comm_dup`).
    pub fn dup(&self) -> Result<GraphComm> {
        GraphComm::wrap(self.n.dup(TopologyKind::Graph)?)
    }
}
