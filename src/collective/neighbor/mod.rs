//! Neighbourhood collectives (mpi4py's `Topocomm.Neighbor_allgather` …): every process
//! exchanges blocks with its neighbours in a [`Topology`] only, in the order of
//! [`sources`](Topology::sources) (blocks received) and
//! [`destinations`](Topology::destinations) (blocks sent). Blocking, nonblocking (`i…`) and
//! persistent (`…_init`, MPI-4; `MPIX_` on Open MPI 4.1) forms, on host and device buffers.
//!
//! Buffers are checked against the degrees before MPI is called: a receive buffer must hold
//! exactly one block per source, an all-to-all send buffer one block per destination, and
//! every block of the vector forms must lie inside its buffer; a mistake is
//! [`Error::BufferLength`](crate::Error::BufferLength). On a Cartesian grid, blocks from
//! [`proc_null`](crate::proc_null) neighbours (past the end of a non-periodic dimension) are
//! left as they were.
//!
//! ```no_run
//! use mpi4rs::prelude::*;
//! let env = mpi4rs::init()?;
//! let world = env.world();
//! let cart = world.create_cart(&[world.size()], &[true], false)?.unwrap();
//! // One value to each neighbour (left, right), one from each.
//! let send = [cart.rank() * 10, cart.rank() * 10 + 1];
//! let mut recv = [0; 2];
//! cart.neighbor_alltoall(&send, &mut recv)?;
//! let n = cart.size();
//! assert_eq!(recv, [((cart.rank() + n - 1) % n) * 10 + 1, ((cart.rank() + 1) % n) * 10]);
//! # Ok::<(), mpi4rs::Error>(())
//! ```

mod run;
mod within;

pub use within::NeighborExchange;

use super::run::Start;
use super::{Varying, VaryingMut, VaryingW, VaryingWMut};
use crate::buffer::{Buffer, BufferMut};
use crate::error::Result;
use crate::ffi;
use crate::request::{PersistentRequest, Request};
use crate::scope::Scope;
use crate::topology::Topology;
use crate::transfer::stage::{Fill, Transfer};

/// How a receive buffer of equal blocks is staged: every block is written unless some source
/// is `PROC_NULL` (a Cartesian edge), whose block keeps what it held.
fn blocks_fill<T: Topology + ?Sized>(comm: &T) -> Fill {
    if comm.sources().contains(&ffi::PROC_NULL()) {
        Fill::Update
    } else {
        Fill::Overwrite
    }
}

/// The neighbourhood collectives, available on every [`Topology`] communicator.
pub trait NeighborCollective: Topology {
    /// Sends `send` to every destination and receives one block of the same length from every
    /// source into `recv`, block *i* from `sources()[i]`. (`MPI_Neighbor_allgather`)
    fn neighbor_allgather<S: Buffer + ?Sized, R: BufferMut + ?Sized>(
        &self,
        send: &S,
        recv: &mut R,
    ) -> Result<()> {
        let mut t = Transfer::new("neighbor_allgather");
        run::allgather(self, Start::Blocking, t.read(send)?, t.write(recv, blocks_fill(self))?)
            .and_then(|_| t.blocking(None))
    }

    /// Nonblocking [`neighbor_allgather`](Self::neighbor_allgather) (`MPI_Ineighbor_allgather`):
    /// the buffers stay borrowed until the request completes.
    fn ineighbor_allgather<'s, S: Buffer + ?Sized, R: BufferMut + ?Sized>(
        &self,
        scope: &'s Scope<'s, '_>,
        send: &'s S,
        recv: &'s mut R,
    ) -> Result<Request<'s>> {
        let mut t = Transfer::new("neighbor_allgather");
        run::allgather(self, Start::Immediate, t.read(send)?, t.write(recv, blocks_fill(self))?)
            .map(|r| t.request(scope, r))
    }

    /// Persistent [`neighbor_allgather`](Self::neighbor_allgather) (`MPI_Neighbor_allgather_init`,
    /// MPI-4; `MPIX_` on Open MPI 4.1): start it with [`PersistentRequest::start`] as often as
    /// needed. [`Error::Unsupported`](crate::Error::Unsupported) where the library has neither.
    fn neighbor_allgather_init<'s, S: Buffer + ?Sized, R: BufferMut + ?Sized>(
        &self,
        scope: &'s Scope<'s, '_>,
        send: &'s S,
        recv: &'s mut R,
    ) -> Result<PersistentRequest<'s>> {
        let mut t = Transfer::new("neighbor_allgather");
        run::allgather(self, Start::Persistent, t.read(send)?, t.write(recv, blocks_fill(self))?)
            .map(|r| t.persistent(scope, r))
    }

    /// Sends `send` to every destination and receives blocks of varying size from the
    /// sources: `recv.counts()[i]` elements from `sources()[i]` at `recv.displs()[i]`.
    /// (`MPI_Neighbor_allgatherv`)
    fn neighbor_allgatherv<S: Buffer + ?Sized, R: BufferMut + ?Sized>(
        &self,
        send: &S,
        recv: &mut VaryingMut<'_, R>,
    ) -> Result<()> {
        let mut t = Transfer::new("neighbor_allgatherv");
        run::allgatherv(self, Start::Blocking, t.read(send)?, t.write(recv.buf, Fill::Update)?, recv.blocks())
            .and_then(|_| t.blocking(None))
    }

    /// Nonblocking [`neighbor_allgatherv`](Self::neighbor_allgatherv) (`MPI_Ineighbor_allgatherv`).
    fn ineighbor_allgatherv<'s, S: Buffer + ?Sized, R: BufferMut + ?Sized>(
        &self,
        scope: &'s Scope<'s, '_>,
        send: &'s S,
        recv: &'s mut VaryingMut<'_, R>,
    ) -> Result<Request<'s>> {
        let mut t = Transfer::new("neighbor_allgatherv");
        run::allgatherv(
            self,
            Start::Immediate,
            t.read(send)?,
            t.write(recv.buf, Fill::Update)?,
            recv.blocks(),
        )
        .map(|r| t.request(scope, r))
    }

    /// Persistent [`neighbor_allgatherv`](Self::neighbor_allgatherv)
    /// (`MPI_Neighbor_allgatherv_init`, MPI-4; `MPIX_` on Open MPI 4.1).
    fn neighbor_allgatherv_init<'s, S: Buffer + ?Sized, R: BufferMut + ?Sized>(
        &self,
        scope: &'s Scope<'s, '_>,
        send: &'s S,
        recv: &'s mut VaryingMut<'_, R>,
    ) -> Result<PersistentRequest<'s>> {
        let mut t = Transfer::new("neighbor_allgatherv");
        run::allgatherv(
            self,
            Start::Persistent,
            t.read(send)?,
            t.write(recv.buf, Fill::Update)?,
            recv.blocks(),
        )
        .map(|r| t.persistent(scope, r))
    }

    /// Sends block *j* of `send` to `destinations()[j]` and receives block *i* of `recv` from
    /// `sources()[i]`, all blocks of one length. (`MPI_Neighbor_alltoall`)
    fn neighbor_alltoall<S: Buffer + ?Sized, R: BufferMut + ?Sized>(
        &self,
        send: &S,
        recv: &mut R,
    ) -> Result<()> {
        let mut t = Transfer::new("neighbor_alltoall");
        run::alltoall(self, Start::Blocking, t.read(send)?, t.write(recv, blocks_fill(self))?)
            .and_then(|_| t.blocking(None))
    }

    /// Nonblocking [`neighbor_alltoall`](Self::neighbor_alltoall) (`MPI_Ineighbor_alltoall`).
    fn ineighbor_alltoall<'s, S: Buffer + ?Sized, R: BufferMut + ?Sized>(
        &self,
        scope: &'s Scope<'s, '_>,
        send: &'s S,
        recv: &'s mut R,
    ) -> Result<Request<'s>> {
        let mut t = Transfer::new("neighbor_alltoall");
        run::alltoall(self, Start::Immediate, t.read(send)?, t.write(recv, blocks_fill(self))?)
            .map(|r| t.request(scope, r))
    }

    /// Persistent [`neighbor_alltoall`](Self::neighbor_alltoall) (`MPI_Neighbor_alltoall_init`,
    /// MPI-4; `MPIX_` on Open MPI 4.1).
    fn neighbor_alltoall_init<'s, S: Buffer + ?Sized, R: BufferMut + ?Sized>(
        &self,
        scope: &'s Scope<'s, '_>,
        send: &'s S,
        recv: &'s mut R,
    ) -> Result<PersistentRequest<'s>> {
        let mut t = Transfer::new("neighbor_alltoall");
        run::alltoall(self, Start::Persistent, t.read(send)?, t.write(recv, blocks_fill(self))?)
            .map(|r| t.persistent(scope, r))
    }

    /// All-to-all with the neighbours, blocks of varying size: `send.counts()[j]` elements at
    /// `send.displs()[j]` go to `destinations()[j]`, `recv.counts()[i]` arrive from
    /// `sources()[i]` at `recv.displs()[i]`. (`MPI_Neighbor_alltoallv`)
    fn neighbor_alltoallv<S: Buffer + ?Sized, R: BufferMut + ?Sized>(
        &self,
        send: &Varying<'_, S>,
        recv: &mut VaryingMut<'_, R>,
    ) -> Result<()> {
        let mut t = Transfer::new("neighbor_alltoallv");
        run::alltoallv(
            self,
            Start::Blocking,
            (t.read(send.buf)?, send.blocks()),
            t.write(recv.buf, Fill::Update)?,
            recv.blocks(),
        )
        .and_then(|_| t.blocking(None))
    }

    /// Nonblocking [`neighbor_alltoallv`](Self::neighbor_alltoallv) (`MPI_Ineighbor_alltoallv`).
    fn ineighbor_alltoallv<'s, S: Buffer + ?Sized, R: BufferMut + ?Sized>(
        &self,
        scope: &'s Scope<'s, '_>,
        send: &'s Varying<'s, S>,
        recv: &'s mut VaryingMut<'_, R>,
    ) -> Result<Request<'s>> {
        let mut t = Transfer::new("neighbor_alltoallv");
        run::alltoallv(
            self,
            Start::Immediate,
            (t.read(send.buf)?, send.blocks()),
            t.write(recv.buf, Fill::Update)?,
            recv.blocks(),
        )
        .map(|r| t.request(scope, r))
    }

    /// Persistent [`neighbor_alltoallv`](Self::neighbor_alltoallv)
    /// (`MPI_Neighbor_alltoallv_init`, MPI-4; `MPIX_` on Open MPI 4.1).
    fn neighbor_alltoallv_init<'s, S: Buffer + ?Sized, R: BufferMut + ?Sized>(
        &self,
        scope: &'s Scope<'s, '_>,
        send: &'s Varying<'s, S>,
        recv: &'s mut VaryingMut<'_, R>,
    ) -> Result<PersistentRequest<'s>> {
        let mut t = Transfer::new("neighbor_alltoallv");
        run::alltoallv(
            self,
            Start::Persistent,
            (t.read(send.buf)?, send.blocks()),
            t.write(recv.buf, Fill::Update)?,
            recv.blocks(),
        )
        .map(|r| t.persistent(scope, r))
    }

    /// All-to-all with the neighbours, a count, byte displacement and datatype per block
    /// (`MPI_Neighbor_alltoallw`): e.g. a halo exchange straight out of and into a grid, rows
    /// and columns described by datatypes. Every block is checked to lie inside its buffer.
    fn neighbor_alltoallw<S: Buffer + ?Sized, R: BufferMut + ?Sized>(
        &self,
        send: &VaryingW<'_, S>,
        recv: &mut VaryingWMut<'_, R>,
    ) -> Result<()> {
        let mut t = Transfer::new("neighbor_alltoallw");
        run::alltoallw(
            self,
            Start::Blocking,
            (t.read(send.buf)?, &send.blocks),
            t.write(recv.buf, Fill::Update)?,
            &recv.blocks,
        )
        .and_then(|_| t.blocking(None))
    }

    /// Nonblocking [`neighbor_alltoallw`](Self::neighbor_alltoallw) (`MPI_Ineighbor_alltoallw`).
    fn ineighbor_alltoallw<'s, S: Buffer + ?Sized, R: BufferMut + ?Sized>(
        &self,
        scope: &'s Scope<'s, '_>,
        send: &'s VaryingW<'s, S>,
        recv: &'s mut VaryingWMut<'_, R>,
    ) -> Result<Request<'s>> {
        let mut t = Transfer::new("neighbor_alltoallw");
        run::alltoallw(
            self,
            Start::Immediate,
            (t.read(send.buf)?, &send.blocks),
            t.write(recv.buf, Fill::Update)?,
            &recv.blocks,
        )
        .map(|r| t.request(scope, r))
    }

    /// Persistent [`neighbor_alltoallw`](Self::neighbor_alltoallw)
    /// (`MPI_Neighbor_alltoallw_init`, MPI-4; `MPIX_` on Open MPI 4.1).
    fn neighbor_alltoallw_init<'s, S: Buffer + ?Sized, R: BufferMut + ?Sized>(
        &self,
        scope: &'s Scope<'s, '_>,
        send: &'s VaryingW<'s, S>,
        recv: &'s mut VaryingWMut<'_, R>,
    ) -> Result<PersistentRequest<'s>> {
        let mut t = Transfer::new("neighbor_alltoallw");
        run::alltoallw(
            self,
            Start::Persistent,
            (t.read(send.buf)?, &send.blocks),
            t.write(recv.buf, Fill::Update)?,
            &recv.blocks,
        )
        .map(|r| t.persistent(scope, r))
    }
}

impl<T: Topology + ?Sized> NeighborCollective for T {}
