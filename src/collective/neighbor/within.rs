//! `neighbor_alltoallw` out of and into one buffer: a plan of one send region per destination
//! and one receive region per source, checked disjoint byte for byte once, then run blocking,
//! nonblocking or persistent on the buffer it is given.

use super::super::persistent;
use super::super::run::{start, Start};
use crate::buffer::{BufferMut, LendMut};
use crate::datatype::Datatype;
use crate::error::{check, mpi_call, Error, Result};
use crate::exchange::check_buffer;
use crate::ffi::{self, MPI_Aint, MPI_Datatype, MPI_Request};
use crate::region::{check_disjoint, runs, Part, Region};
use crate::request::{PersistentRequest, Request};
use crate::scope::Scope;
use crate::topology::Topology;
use crate::transfer::stage::{Fill, Transfer};
use crate::util::to_count;
use std::ffi::c_int;
use std::rc::Rc;

/// The arrays MPI reads: counts, byte displacements and datatypes of each side. Shared with
/// the scopes of running operations, which keep them until the operations are done.
struct Arrays {
    send_counts: Vec<c_int>,
    send_displs: Vec<MPI_Aint>,
    send_types: Vec<MPI_Datatype>,
    recv_counts: Vec<c_int>,
    recv_displs: Vec<MPI_Aint>,
    recv_types: Vec<MPI_Datatype>,
    /// The datatypes behind the raw handles, freed with the arrays.
    owned: Vec<Datatype>,
}

/// A `neighbor_alltoallw` out of and into one buffer (see
/// [`NeighborCollective`](crate::NeighborCollective) for the topology order): region `k` of
/// `send` goes to destination `k`, region `k` of `recv` receives from source `k`. Every
/// receive region must be disjoint from every other region, checked when the plan is made.
///
/// ```no_run
/// use mpi4rs::prelude::*;
/// use mpi4rs::{Datatype, NeighborExchange, Region};
/// let env = mpi4rs::init()?;
/// let world = env.world();
/// let ring = world.create_cart(&[world.size()], &[true], false)?.unwrap();
/// // [ghost_left, a, b, ghost_right]: send a left and b right, receive into the ghosts.
/// let f = Datatype::of::<f64>()?;
/// let plan = NeighborExchange::new(
///     &[Region::new(&f, 8, 1), Region::new(&f, 16, 1)],
///     &[Region::new(&f, 0, 1), Region::new(&f, 24, 1)],
/// )?;
/// let mut line = [0.0, 1.0, 2.0, 0.0];
/// plan.run(&ring, &mut line)?;
/// # Ok::<(), mpi4rs::Error>(())
/// ```
pub struct NeighborExchange {
    arrays: Rc<Arrays>,
    min_bytes: usize,
}

impl NeighborExchange {
    /// A plan sending `send[k]` to destination `k` and receiving `recv[k]` from source `k`.
    pub fn new(send: &[Region<'_>], recv: &[Region<'_>]) -> Result<NeighborExchange> {
        let mut all_runs = Vec::with_capacity(send.len() + recv.len());
        for (k, r) in recv.iter().enumerate() {
            let (runs, self_overlap) = runs(r)?;
            if self_overlap {
                return Err(Error::InvalidArgument(format!(
                    "receive region {k} touches some bytes twice (its items overlap)"
                )));
            }
            all_runs.push((true, k, runs));
        }
        for (k, r) in send.iter().enumerate() {
            all_runs.push((false, k, runs(r)?.0));
        }
        let parts: Vec<Part<'_>> = all_runs
            .iter()
            .map(|(recv, k, runs)| Part {
                runs,
                recv: *recv,
                name: format!("{} region {k}", if *recv { "receive" } else { "send" }),
            })
            .collect();
        check_disjoint(&parts)?;
        let min_bytes = all_runs.iter().map(|(_, _, r)| r.end()).max().unwrap_or(0);
        let mut owned = Vec::with_capacity(send.len() + recv.len());
        let mut side = |regions: &[Region<'_>]| -> Result<(Vec<c_int>, Vec<MPI_Aint>, Vec<MPI_Datatype>)> {
            let mut counts = Vec::with_capacity(regions.len());
            let mut displs = Vec::with_capacity(regions.len());
            let mut types = Vec::with_capacity(regions.len());
            for r in regions {
                counts.push(to_count("region count", r.count)?);
                displs.push(MPI_Aint::try_from(r.offset).map_err(|_| {
                    Error::InvalidArgument(format!("region offset {} does not fit MPI_Aint", r.offset))
                })?);
                let dt = r.datatype.dup()?;
                types.push(dt.as_raw());
                owned.push(dt);
            }
            Ok((counts, displs, types))
        };
        let (send_counts, send_displs, send_types) = side(send)?;
        let (recv_counts, recv_displs, recv_types) = side(recv)?;
        let arrays =
            Arrays { send_counts, send_displs, send_types, recv_counts, recv_displs, recv_types, owned };
        Ok(NeighborExchange { arrays: Rc::new(arrays), min_bytes })
    }

    /// The number of bytes the buffer must have.
    pub fn min_bytes(&self) -> usize {
        self.min_bytes
    }

    fn call<T, B>(&self, comm: &T, how: Start, buf: &mut B, t: &mut Transfer) -> Result<MPI_Request>
    where
        T: Topology + ?Sized,
        B: BufferMut + ?Sized,
    {
        let a = &*self.arrays;
        if a.send_counts.len() != comm.out_degree() || a.recv_counts.len() != comm.in_degree() {
            return Err(Error::BufferLength {
                what: "neighbor exchange regions",
                detail: format!(
                    "{} send and {} receive regions for {} destinations and {} sources",
                    a.send_counts.len(),
                    a.recv_counts.len(),
                    comm.out_degree(),
                    comm.in_degree()
                ),
            });
        }
        let s = buf.spec_mut()?;
        check_buffer(&s, self.min_bytes, a.owned[a.send_types.len()..].iter())?;
        let s = t.write_spec(s, Fill::Update)?;
        start!(
            how,
            MPI_Neighbor_alltoallw,
            MPI_Ineighbor_alltoallw,
            neighbor_alltoallw,
            s.ptr.cast_const(),
            a.send_counts.as_ptr(),
            a.send_displs.as_ptr(),
            a.send_types.as_ptr(),
            s.ptr,
            a.recv_counts.as_ptr(),
            a.recv_displs.as_ptr(),
            a.recv_types.as_ptr(),
            comm.as_raw()
        )
    }

    /// Runs the exchange on `buf` (`MPI_Neighbor_alltoallw`).
    pub fn run<T, B>(&self, comm: &T, buf: &mut B) -> Result<()>
    where
        T: Topology + ?Sized,
        B: BufferMut + ?Sized,
    {
        let mut t = Transfer::new("neighbor_exchange");
        self.call(comm, Start::Blocking, buf, &mut t)?;
        t.blocking(None)
    }

    /// Starts the exchange on `buf`, lent for the scope (`MPI_Ineighbor_alltoallw`).
    pub fn start<'s, T, L>(&self, comm: &T, scope: &'s Scope<'s, '_>, mut buf: L) -> Result<Request<'s>>
    where
        T: Topology + ?Sized,
        L: LendMut<'s>,
    {
        let mut t = Transfer::new("neighbor_exchange");
        let raw = self.call(comm, Start::Immediate, buf.target_mut(), &mut t)?;
        scope.core().keep(Box::new(Rc::clone(&self.arrays)));
        Ok(t.request(scope, raw))
    }

    /// The persistent exchange on `buf`, lent for the scope (`MPI_Neighbor_alltoallw_init`,
    /// MPI-4; `MPIX_` on Open MPI 4.1); e.g. in [`Persistent::new`](crate::Persistent::new).
    pub fn init<'s, T, L>(
        &self,
        comm: &T,
        scope: &'s Scope<'s, '_>,
        mut buf: L,
    ) -> Result<PersistentRequest<'s>>
    where
        T: Topology + ?Sized,
        L: LendMut<'s>,
    {
        let mut t = Transfer::new("neighbor_exchange");
        let raw = self.call(comm, Start::Persistent, buf.target_mut(), &mut t)?;
        scope.core().keep(Box::new(Rc::clone(&self.arrays)));
        Ok(t.persistent(scope, raw))
    }
}
