//! Process topologies (mpi4py's `Topocomm`, `Cartcomm`, `Graphcomm` and `Distgraphcomm`):
//! communicators that know who their neighbours are.
//!
//! - [`CartComm`]: a Cartesian grid ([`Comm::create_cart`](crate::Comm::create_cart)), with
//!   coordinates, shifts, sub-grids; [`compute_dims`] picks a balanced grid.
//! - [`GraphComm`]: a graph every process knows in full
//!   ([`Comm::create_graph`](crate::Comm::create_graph)).
//! - [`DistGraphComm`]: a distributed graph, each process giving its own edges
//!   ([`Comm::create_dist_graph_adjacent`](crate::Comm::create_dist_graph_adjacent),
//!   [`Comm::create_dist_graph`](crate::Comm::create_dist_graph)).
//!
//! All three dereference to [`Comm`] and implement [`Communicator`], so every point-to-point,
//! collective and object operation works on them; they share the [`Topology`] trait (their
//! neighbours, in the order MPI uses them) and with it the neighbourhood collectives of
//! [`NeighborCollective`](crate::NeighborCollective). A plain communicator has no neighbour
//! collectives at all: converting one that has no topology (`CartComm::try_from(comm)`) is an
//! [`Error::Topology`]. [`topo_test`] says which topology any communicator has.
//!
//! Arguments are checked before MPI sees them: dimensions that are negative or need more
//! processes than there are ([`Error::InvalidDims`]), coordinates outside a non-periodic
//! dimension, graph edges to ranks that do not exist ([`Error::Topology`]).
//!
//! ```no_run
//! use mpi4rs::prelude::*;
//! let env = mpi4rs::init()?;
//! let world = env.world();
//! let dims = mpi4rs::compute_dims(world.size(), &[0, 0])?;
//! let cart = world.create_cart(&dims, &[true, false], false)?.expect("every rank fits the grid");
//! let (west, east) = cart.shift(0, 1)?;
//! let mut got = vec![0i32; cart.in_degree()];
//! cart.neighbor_allgather(&cart.rank(), &mut got)?; // from -x, +x, -y, +y
//! assert_eq!(got[1], if east == mpi4rs::proc_null() { 0 } else { east });
//! # let _ = west;
//! # Ok::<(), mpi4rs::Error>(())
//! ```

mod cart;
mod dist_graph;
mod graph;

pub use cart::{compute_dims, CartComm};
pub use dist_graph::DistGraphComm;
pub use graph::GraphComm;

use crate::comm::{Comm, Communicator};
use crate::error::{mpi_call, Error, Result};
use crate::ffi::{self, MPI_Comm};
use std::ffi::c_int;

/// The topology a communicator carries.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum TopologyKind {
    /// A Cartesian grid (`MPI_CART`).
    Cartesian,
    /// A graph (`MPI_GRAPH`).
    Graph,
    /// A distributed graph (`MPI_DIST_GRAPH`).
    DistGraph,
}

/// The topology of any communicator, `None` when it has none (`MPI_Topo_test`).
pub fn topo_test<C: Communicator + ?Sized>(comm: &C) -> Result<Option<TopologyKind>> {
    let mut status: c_int = 0;
    mpi_call!(MPI_Topo_test(comm.as_raw(), &mut status))?;
    Ok(if status == ffi::CART() {
        Some(TopologyKind::Cartesian)
    } else if status == ffi::GRAPH() {
        Some(TopologyKind::Graph)
    } else if status == ffi::DIST_GRAPH() {
        Some(TopologyKind::DistGraph)
    } else {
        None
    })
}

/// What communicators with a topology share (mpi4py's `Topocomm`): their neighbours, in the
/// order the neighbourhood collectives use them. The lists are read from MPI once, when the
/// communicator is made.
///
/// On a Cartesian grid both lists are, per dimension, the neighbour at −1 then the one at +1
/// (as [`CartComm::shift`] gives them), with [`proc_null`](crate::proc_null) past the ends of
/// a non-periodic dimension; on a graph both are the node's neighbours; on a distributed graph
/// they are the sources and destinations given when it was made.
pub trait Topology: Communicator {
    /// Which topology this is.
    fn kind(&self) -> TopologyKind;
    /// The processes this one receives from in a neighbourhood collective (in-neighbours).
    fn sources(&self) -> &[i32];
    /// The processes this one sends to in a neighbourhood collective (out-neighbours).
    fn destinations(&self) -> &[i32];
    /// Number of in-neighbours: blocks received by a neighbourhood collective.
    fn in_degree(&self) -> usize {
        self.sources().len()
    }
    /// Number of out-neighbours: blocks sent by a neighbourhood collective.
    fn out_degree(&self) -> usize {
        self.destinations().len()
    }
}

/// A communicator with a topology and its cached neighbour lists: the part the three kinds
/// share.
#[derive(Debug)]
pub(crate) struct Neighbours {
    pub(crate) comm: Comm,
    pub(crate) sources: Vec<i32>,
    pub(crate) destinations: Vec<i32>,
}

impl Neighbours {
    /// Wraps `comm`, which must carry topology `kind`, and reads its neighbours.
    pub(crate) fn of(comm: Comm, kind: TopologyKind) -> Result<Neighbours> {
        match topo_test(&comm)? {
            Some(k) if k == kind => {}
            other => {
                return Err(Error::Topology(format!(
                    "expected a communicator with a {kind:?} topology, got {}",
                    match other {
                        Some(k) => format!("a {k:?} topology"),
                        None => "one without a topology".into(),
                    }
                )))
            }
        }
        let raw = comm.as_raw();
        let (sources, destinations) = match kind {
            TopologyKind::Cartesian => {
                let list = cart::neighbour_list(raw)?;
                (list.clone(), list)
            }
            TopologyKind::Graph => {
                let list = graph::neighbours_of(raw, comm.rank())?;
                (list.clone(), list)
            }
            TopologyKind::DistGraph => {
                let (s, d, _) = dist_graph::query(raw)?;
                (s, d)
            }
        };
        Ok(Neighbours { comm, sources, destinations })
    }

    /// Adopts a communicator MPI just made (`None` for `COMM_NULL`).
    pub(crate) fn adopt(raw: MPI_Comm, kind: TopologyKind) -> Result<Option<Neighbours>> {
        match Comm::adopt(raw)? {
            Some(comm) => Neighbours::of(comm, kind).map(Some),
            None => Ok(None),
        }
    }

    /// A duplicate (`MPI_Comm_dup` keeps the topology).
    pub(crate) fn dup(&self, kind: TopologyKind) -> Result<Neighbours> {
        Neighbours::of(self.comm.dup()?, kind)
    }
}

/// The number of processes a list of dimensions asks for, or `None` if it overflows.
pub(crate) fn product(dims: &[i32]) -> Option<i64> {
    dims.iter().try_fold(1i64, |p, &d| p.checked_mul(d as i64).filter(|p| *p <= i32::MAX as i64))
}

/// The answer of `MPI_Cart_map` / `MPI_Graph_map` for a topology of `nodes` processes: `None`
/// for `MPI_UNDEFINED`, and also for a rank that is not a node. Open MPI 4.1 returns the
/// caller's own rank even to processes beyond the topology (open-mpi/ompi#11444); no valid
/// answer is `nodes` or more, so those are mapped to `None` as the standard says.
pub(crate) fn mapped_rank(rank: c_int, nodes: i64) -> Option<i32> {
    (rank != ffi::UNDEFINED() && (0..nodes).contains(&(rank as i64))).then_some(rank)
}

/// A slice's length as an MPI `int`.
pub(crate) fn c_len(what: &'static str, len: usize) -> Result<c_int> {
    crate::util::to_count(what, len)
}

/// A pointer MPI may read `len` ints from (never dangling: MPI checks some pointers for null
/// even when it reads nothing).
pub(crate) fn ints(v: &[i32]) -> *const c_int {
    static NONE: [c_int; 1] = [0];
    if v.is_empty() {
        NONE.as_ptr()
    } else {
        v.as_ptr()
    }
}

/// Implements [`Communicator`], [`Topology`], `Deref<Target = Comm>` and the conversions for
/// a topology communicator whose `Neighbours` is in field `n`.
macro_rules! topology_comm {
    ($ty:ident, $kind:expr) => {
        impl $crate::comm::Communicator for $ty {
            #[inline]
            fn as_raw(&self) -> $crate::ffi::MPI_Comm {
                self.n.comm.as_raw()
            }
            #[inline]
            fn size(&self) -> i32 {
                self.n.comm.size()
            }
            #[inline]
            fn rank(&self) -> i32 {
                self.n.comm.rank()
            }
            #[inline]
            fn peer_count(&self) -> i32 {
                self.n.comm.size()
            }
            fn is_inter(&self) -> bool {
                false
            }
        }

        impl $crate::topology::Topology for $ty {
            fn kind(&self) -> $crate::topology::TopologyKind {
                $kind
            }
            #[inline]
            fn sources(&self) -> &[i32] {
                &self.n.sources
            }
            #[inline]
            fn destinations(&self) -> &[i32] {
                &self.n.destinations
            }
        }

        impl std::ops::Deref for $ty {
            type Target = $crate::comm::Comm;
            fn deref(&self) -> &$crate::comm::Comm {
                &self.n.comm
            }
        }

        impl From<$ty> for $crate::comm::Comm {
            /// The plain communicator (it keeps its topology in MPI).
            fn from(c: $ty) -> $crate::comm::Comm {
                c.n.comm
            }
        }

        impl TryFrom<$crate::comm::Comm> for $ty {
            type Error = $crate::error::Error;
            /// Takes a communicator that carries this topology (e.g. one from rsmpi or from
            /// `dup`); [`Error::Topology`]($crate::Error::Topology) for any other (which is
            /// then freed).
            fn try_from(comm: $crate::comm::Comm) -> $crate::error::Result<$ty> {
                $ty::wrap($crate::topology::Neighbours::of(comm, $kind)?)
            }
        }
    };
}
pub(crate) use topology_comm;
