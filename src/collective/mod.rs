//! Collective communication on intra- and intercommunicators (mpi4py's `Comm.Bcast` …
//! `Intracomm.Exscan`): blocking, nonblocking (`i…`) and persistent (`…_init`) forms, with the
//! in-place variants (`…_in_place`) wherever MPI allows them.
//!
//! Before MPI is called, every buffer length is checked against the others and against the
//! number of processes (one block per process for scatter, gather, allgather, alltoall;
//! counts and displacements inside the buffer for the vector forms), roots are checked, and
//! the reduction operation is checked against the element type. A mistake is an `Err`, never
//! an out-of-bounds read or write.
//!
//! Roots: on an intracommunicator, a rank. On an intercommunicator, as MPI defines it, the
//! root process passes [`root()`] (`MPI_ROOT`), the other processes of its group
//! [`proc_null`](crate::proc_null), and the processes of the other group the root's rank.
//!
//! Messages past 2^31 elements work in every blocking collective but the vector forms (see
//! `bigcount`); nonblocking reductions are limited to `int` counts.
//!
//! ```no_run
//! use mpi4rs::prelude::*;
//! let env = mpi4rs::init()?;
//! let world = env.world();
//! let (rank, size) = (world.rank(), world.size());
//! let mut data = vec![0.0f64; 4];
//! if rank == 0 { data = vec![1.0, 2.0, 3.0, 4.0]; }
//! world.bcast(&mut data, 0)?;
//! let mut sum = vec![0.0; 4];
//! world.allreduce(&data, &mut sum, &Op::SUM)?;
//! assert_eq!(sum[3], 4.0 * size as f64);
//! let mut all = vec![0i32; size as usize];
//! world.gather(&rank, if rank == 0 { Some(&mut all) } else { None }, 0)?;
//! # Ok::<(), mpi4rs::Error>(())
//! ```

pub(crate) mod bigcount;
pub(crate) mod checks;
mod persistent;
mod run;
mod varying;

pub use persistent::has_persistent_collectives;
pub use varying::{Varying, VaryingMut, VaryingW, VaryingWMut};

pub(crate) use checks::{check_len, check_same_elements};

use crate::buffer::{Buffer, BufferMut};
use crate::comm::Communicator;
use crate::error::{Error, Result};
use crate::ffi;
use crate::op::Op;
use crate::request::{PersistentRequest, Request};
use run::{Blocks, Elementwise, Start};

/// The root argument of the root process on an intercommunicator (`MPI_ROOT`).
pub fn root() -> i32 {
    ffi::ROOT()
}

#[cold]
fn missing(call: &str, what: &str) -> Error {
    Error::InvalidArgument(format!("{call}: {what}"))
}

impl<B: ?Sized> Varying<'_, B> {
    fn blocks(&self) -> Blocks<'_> {
        Blocks { counts: &self.counts, displs: &self.displs }
    }
}

impl<B: ?Sized> VaryingMut<'_, B> {
    fn blocks(&self) -> Blocks<'_> {
        Blocks { counts: &self.counts, displs: &self.displs }
    }
}

/// Collective operations, available on every [`Communicator`].
pub trait Collective: Communicator {
    /// Blocks until every process of the communicator has called it. (`MPI_Barrier`)
    fn barrier(&self) -> Result<()> {
        run::barrier(self, Start::Blocking).map(drop)
    }

    /// Nonblocking [`barrier`](Self::barrier) (`MPI_Ibarrier`): the buffers stay borrowed until the request completes.
    fn ibarrier(&self) -> Result<Request<'static>> {
        run::barrier(self, Start::Immediate).map(Request::new)
    }

    /// Persistent [`barrier`](Self::barrier) (`MPI_Barrier_init`, MPI-4; `MPIX_` on Open MPI 4.1): start it with
    /// [`PersistentRequest::start`] as often as needed. [`Error::Unsupported`] where the library has neither.
    fn barrier_init(&self) -> Result<PersistentRequest<'static>> {
        run::barrier(self, Start::Persistent).map(PersistentRequest::new)
    }

    /// Broadcasts `buf` from `root` to every process (on an intercommunicator, from the root group to the other). (`MPI_Bcast`)
    fn bcast<B: BufferMut + ?Sized>(&self, buf: &mut B, root: i32) -> Result<()> {
        run::bcast(self, Start::Blocking, buf.spec_mut()?, root).map(drop)
    }

    /// Nonblocking [`bcast`](Self::bcast) (`MPI_Ibcast`): the buffers stay borrowed until the request completes.
    fn ibcast<'b, B: BufferMut + ?Sized>(&self, buf: &'b mut B, root: i32) -> Result<Request<'b>> {
        run::bcast(self, Start::Immediate, buf.spec_mut()?, root).map(Request::new)
    }

    /// Persistent [`bcast`](Self::bcast) (`MPI_Bcast_init`, MPI-4; `MPIX_` on Open MPI 4.1): start it with
    /// [`PersistentRequest::start`] as often as needed. [`Error::Unsupported`] where the library has neither.
    fn bcast_init<'b, B: BufferMut + ?Sized>(
        &self,
        buf: &'b mut B,
        root: i32,
    ) -> Result<PersistentRequest<'b>> {
        run::bcast(self, Start::Persistent, buf.spec_mut()?, root).map(PersistentRequest::new)
    }

    /// Scatters equal blocks of `send` (significant at the root only; `None` elsewhere) so that process *i* receives block *i* into `recv`. `send` must hold one block of `recv.len()` elements per process. On an intercommunicator `recv` is ignored at the root. (`MPI_Scatter`)
    fn scatter<S: Buffer + ?Sized, R: BufferMut + ?Sized>(
        &self,
        send: Option<&S>,
        recv: &mut R,
        root: i32,
    ) -> Result<()> {
        run::scatter(
            self,
            Start::Blocking,
            send.map(|s| s.spec()).transpose()?,
            recv.spec_mut()?,
            false,
            root,
        )
        .map(drop)
    }

    /// Nonblocking [`scatter`](Self::scatter) (`MPI_Iscatter`): the buffers stay borrowed until the request completes.
    fn iscatter<'b, S: Buffer + ?Sized, R: BufferMut + ?Sized>(
        &self,
        send: Option<&'b S>,
        recv: &'b mut R,
        root: i32,
    ) -> Result<Request<'b>> {
        run::scatter(
            self,
            Start::Immediate,
            send.map(|s| s.spec()).transpose()?,
            recv.spec_mut()?,
            false,
            root,
        )
        .map(Request::new)
    }

    /// Persistent [`scatter`](Self::scatter) (`MPI_Scatter_init`, MPI-4; `MPIX_` on Open MPI 4.1): start it with
    /// [`PersistentRequest::start`] as often as needed. [`Error::Unsupported`] where the library has neither.
    fn scatter_init<'b, S: Buffer + ?Sized, R: BufferMut + ?Sized>(
        &self,
        send: Option<&'b S>,
        recv: &'b mut R,
        root: i32,
    ) -> Result<PersistentRequest<'b>> {
        run::scatter(
            self,
            Start::Persistent,
            send.map(|s| s.spec()).transpose()?,
            recv.spec_mut()?,
            false,
            root,
        )
        .map(PersistentRequest::new)
    }

    /// Scatter with `MPI_IN_PLACE`: at the root `buf` holds all blocks and its own stays where it is; elsewhere `buf` receives the block. (`MPI_Scatter`, in place)
    fn scatter_in_place<B: BufferMut + ?Sized>(&self, buf: &mut B, root: i32) -> Result<()> {
        {
            let b = buf.spec_mut()?;
            run::scatter(self, Start::Blocking, Some(b.as_spec()), b, true, root)
        }
        .map(drop)
    }

    /// Nonblocking [`scatter_in_place`](Self::scatter_in_place) (`MPI_Iscatter`): the buffers stay borrowed until the request completes.
    fn iscatter_in_place<'b, B: BufferMut + ?Sized>(&self, buf: &'b mut B, root: i32) -> Result<Request<'b>> {
        {
            let b = buf.spec_mut()?;
            run::scatter(self, Start::Immediate, Some(b.as_spec()), b, true, root)
        }
        .map(Request::new)
    }

    /// Persistent [`scatter_in_place`](Self::scatter_in_place) (`MPI_Scatter_init`, MPI-4; `MPIX_` on Open MPI 4.1): start it with
    /// [`PersistentRequest::start`] as often as needed. [`Error::Unsupported`] where the library has neither.
    fn scatter_in_place_init<'b, B: BufferMut + ?Sized>(
        &self,
        buf: &'b mut B,
        root: i32,
    ) -> Result<PersistentRequest<'b>> {
        {
            let b = buf.spec_mut()?;
            run::scatter(self, Start::Persistent, Some(b.as_spec()), b, true, root)
        }
        .map(PersistentRequest::new)
    }

    /// Gathers the equal blocks `send` of every process into `recv` at the root (significant there only; `None` elsewhere), block *i* from process *i*. (`MPI_Gather`)
    fn gather<S: Buffer + ?Sized, R: BufferMut + ?Sized>(
        &self,
        send: &S,
        recv: Option<&mut R>,
        root: i32,
    ) -> Result<()> {
        run::gather(self, Start::Blocking, send.spec()?, recv.map(|r| r.spec_mut()).transpose()?, false, root)
            .map(drop)
    }

    /// Nonblocking [`gather`](Self::gather) (`MPI_Igather`): the buffers stay borrowed until the request completes.
    fn igather<'b, S: Buffer + ?Sized, R: BufferMut + ?Sized>(
        &self,
        send: &'b S,
        recv: Option<&'b mut R>,
        root: i32,
    ) -> Result<Request<'b>> {
        run::gather(
            self,
            Start::Immediate,
            send.spec()?,
            recv.map(|r| r.spec_mut()).transpose()?,
            false,
            root,
        )
        .map(Request::new)
    }

    /// Persistent [`gather`](Self::gather) (`MPI_Gather_init`, MPI-4; `MPIX_` on Open MPI 4.1): start it with
    /// [`PersistentRequest::start`] as often as needed. [`Error::Unsupported`] where the library has neither.
    fn gather_init<'b, S: Buffer + ?Sized, R: BufferMut + ?Sized>(
        &self,
        send: &'b S,
        recv: Option<&'b mut R>,
        root: i32,
    ) -> Result<PersistentRequest<'b>> {
        run::gather(
            self,
            Start::Persistent,
            send.spec()?,
            recv.map(|r| r.spec_mut()).transpose()?,
            false,
            root,
        )
        .map(PersistentRequest::new)
    }

    /// Gather with `MPI_IN_PLACE`: at the root `buf` receives all blocks and its own is already at its place; elsewhere `buf` is the block sent. (`MPI_Gather`, in place)
    fn gather_in_place<B: BufferMut + ?Sized>(&self, buf: &mut B, root: i32) -> Result<()> {
        {
            let b = buf.spec_mut()?;
            run::gather(self, Start::Blocking, b.as_spec(), Some(b), true, root)
        }
        .map(drop)
    }

    /// Nonblocking [`gather_in_place`](Self::gather_in_place) (`MPI_Igather`): the buffers stay borrowed until the request completes.
    fn igather_in_place<'b, B: BufferMut + ?Sized>(&self, buf: &'b mut B, root: i32) -> Result<Request<'b>> {
        {
            let b = buf.spec_mut()?;
            run::gather(self, Start::Immediate, b.as_spec(), Some(b), true, root)
        }
        .map(Request::new)
    }

    /// Persistent [`gather_in_place`](Self::gather_in_place) (`MPI_Gather_init`, MPI-4; `MPIX_` on Open MPI 4.1): start it with
    /// [`PersistentRequest::start`] as often as needed. [`Error::Unsupported`] where the library has neither.
    fn gather_in_place_init<'b, B: BufferMut + ?Sized>(
        &self,
        buf: &'b mut B,
        root: i32,
    ) -> Result<PersistentRequest<'b>> {
        {
            let b = buf.spec_mut()?;
            run::gather(self, Start::Persistent, b.as_spec(), Some(b), true, root)
        }
        .map(PersistentRequest::new)
    }

    /// Gathers the equal blocks `send` of every process into `recv` on every process. (`MPI_Allgather`)
    fn allgather<S: Buffer + ?Sized, R: BufferMut + ?Sized>(&self, send: &S, recv: &mut R) -> Result<()> {
        run::allgather(self, Start::Blocking, Some(send.spec()?), recv.spec_mut()?).map(drop)
    }

    /// Nonblocking [`allgather`](Self::allgather) (`MPI_Iallgather`): the buffers stay borrowed until the request completes.
    fn iallgather<'b, S: Buffer + ?Sized, R: BufferMut + ?Sized>(
        &self,
        send: &'b S,
        recv: &'b mut R,
    ) -> Result<Request<'b>> {
        run::allgather(self, Start::Immediate, Some(send.spec()?), recv.spec_mut()?).map(Request::new)
    }

    /// Persistent [`allgather`](Self::allgather) (`MPI_Allgather_init`, MPI-4; `MPIX_` on Open MPI 4.1): start it with
    /// [`PersistentRequest::start`] as often as needed. [`Error::Unsupported`] where the library has neither.
    fn allgather_init<'b, S: Buffer + ?Sized, R: BufferMut + ?Sized>(
        &self,
        send: &'b S,
        recv: &'b mut R,
    ) -> Result<PersistentRequest<'b>> {
        run::allgather(self, Start::Persistent, Some(send.spec()?), recv.spec_mut()?)
            .map(PersistentRequest::new)
    }

    /// Allgather with `MPI_IN_PLACE`: each process's block is already at its place in `buf`. (`MPI_Allgather`, in place)
    fn allgather_in_place<B: BufferMut + ?Sized>(&self, buf: &mut B) -> Result<()> {
        run::allgather(self, Start::Blocking, None, buf.spec_mut()?).map(drop)
    }

    /// Nonblocking [`allgather_in_place`](Self::allgather_in_place) (`MPI_Iallgather`): the buffers stay borrowed until the request completes.
    fn iallgather_in_place<'b, B: BufferMut + ?Sized>(&self, buf: &'b mut B) -> Result<Request<'b>> {
        run::allgather(self, Start::Immediate, None, buf.spec_mut()?).map(Request::new)
    }

    /// Persistent [`allgather_in_place`](Self::allgather_in_place) (`MPI_Allgather_init`, MPI-4; `MPIX_` on Open MPI 4.1): start it with
    /// [`PersistentRequest::start`] as often as needed. [`Error::Unsupported`] where the library has neither.
    fn allgather_in_place_init<'b, B: BufferMut + ?Sized>(
        &self,
        buf: &'b mut B,
    ) -> Result<PersistentRequest<'b>> {
        run::allgather(self, Start::Persistent, None, buf.spec_mut()?).map(PersistentRequest::new)
    }

    /// Sends block *j* of `send` to process *j* and receives block *i* of `recv` from process *i*. (`MPI_Alltoall`)
    fn alltoall<S: Buffer + ?Sized, R: BufferMut + ?Sized>(&self, send: &S, recv: &mut R) -> Result<()> {
        run::alltoall(self, Start::Blocking, Some(send.spec()?), recv.spec_mut()?).map(drop)
    }

    /// Nonblocking [`alltoall`](Self::alltoall) (`MPI_Ialltoall`): the buffers stay borrowed until the request completes.
    fn ialltoall<'b, S: Buffer + ?Sized, R: BufferMut + ?Sized>(
        &self,
        send: &'b S,
        recv: &'b mut R,
    ) -> Result<Request<'b>> {
        run::alltoall(self, Start::Immediate, Some(send.spec()?), recv.spec_mut()?).map(Request::new)
    }

    /// Persistent [`alltoall`](Self::alltoall) (`MPI_Alltoall_init`, MPI-4; `MPIX_` on Open MPI 4.1): start it with
    /// [`PersistentRequest::start`] as often as needed. [`Error::Unsupported`] where the library has neither.
    fn alltoall_init<'b, S: Buffer + ?Sized, R: BufferMut + ?Sized>(
        &self,
        send: &'b S,
        recv: &'b mut R,
    ) -> Result<PersistentRequest<'b>> {
        run::alltoall(self, Start::Persistent, Some(send.spec()?), recv.spec_mut()?)
            .map(PersistentRequest::new)
    }

    /// Alltoall with `MPI_IN_PLACE`: `buf` holds the outgoing blocks and receives the incoming ones. (`MPI_Alltoall`, in place)
    fn alltoall_in_place<B: BufferMut + ?Sized>(&self, buf: &mut B) -> Result<()> {
        run::alltoall(self, Start::Blocking, None, buf.spec_mut()?).map(drop)
    }

    /// Nonblocking [`alltoall_in_place`](Self::alltoall_in_place) (`MPI_Ialltoall`): the buffers stay borrowed until the request completes.
    fn ialltoall_in_place<'b, B: BufferMut + ?Sized>(&self, buf: &'b mut B) -> Result<Request<'b>> {
        run::alltoall(self, Start::Immediate, None, buf.spec_mut()?).map(Request::new)
    }

    /// Persistent [`alltoall_in_place`](Self::alltoall_in_place) (`MPI_Alltoall_init`, MPI-4; `MPIX_` on Open MPI 4.1): start it with
    /// [`PersistentRequest::start`] as often as needed. [`Error::Unsupported`] where the library has neither.
    fn alltoall_in_place_init<'b, B: BufferMut + ?Sized>(
        &self,
        buf: &'b mut B,
    ) -> Result<PersistentRequest<'b>> {
        run::alltoall(self, Start::Persistent, None, buf.spec_mut()?).map(PersistentRequest::new)
    }

    /// Scatters blocks of varying size: process *i* receives `counts[i]` elements from `displs[i]` of the root's `send` (significant at the root only). (`MPI_Scatterv`)
    fn scatterv<S: Buffer + ?Sized, R: BufferMut + ?Sized>(
        &self,
        send: Option<&Varying<'_, S>>,
        recv: &mut R,
        root: i32,
    ) -> Result<()> {
        run::scatterv(
            self,
            Start::Blocking,
            match send {
                Some(v) => Some((v.buf.spec()?, v.blocks())),
                None => None,
            },
            recv.spec_mut()?,
            root,
        )
        .map(drop)
    }

    /// Nonblocking [`scatterv`](Self::scatterv) (`MPI_Iscatterv`): the buffers stay borrowed until the request completes.
    fn iscatterv<'b, S: Buffer + ?Sized, R: BufferMut + ?Sized>(
        &self,
        send: Option<&'b Varying<'b, S>>,
        recv: &'b mut R,
        root: i32,
    ) -> Result<Request<'b>> {
        run::scatterv(
            self,
            Start::Immediate,
            match send {
                Some(v) => Some((v.buf.spec()?, v.blocks())),
                None => None,
            },
            recv.spec_mut()?,
            root,
        )
        .map(Request::new)
    }

    /// Persistent [`scatterv`](Self::scatterv) (`MPI_Scatterv_init`, MPI-4; `MPIX_` on Open MPI 4.1): start it with
    /// [`PersistentRequest::start`] as often as needed. [`Error::Unsupported`] where the library has neither.
    fn scatterv_init<'b, S: Buffer + ?Sized, R: BufferMut + ?Sized>(
        &self,
        send: Option<&'b Varying<'b, S>>,
        recv: &'b mut R,
        root: i32,
    ) -> Result<PersistentRequest<'b>> {
        run::scatterv(
            self,
            Start::Persistent,
            match send {
                Some(v) => Some((v.buf.spec()?, v.blocks())),
                None => None,
            },
            recv.spec_mut()?,
            root,
        )
        .map(PersistentRequest::new)
    }

    /// Gathers blocks of varying size into `recv` at the root (significant there only): process *i*'s block lands at `displs[i]`. (`MPI_Gatherv`)
    fn gatherv<S: Buffer + ?Sized, R: BufferMut + ?Sized>(
        &self,
        send: &S,
        recv: Option<&mut VaryingMut<'_, R>>,
        root: i32,
    ) -> Result<()> {
        run::gatherv(
            self,
            Start::Blocking,
            send.spec()?,
            match recv {
                Some(v) => Some((v.buf.spec_mut()?, v.blocks())),
                None => None,
            },
            root,
        )
        .map(drop)
    }

    /// Nonblocking [`gatherv`](Self::gatherv) (`MPI_Igatherv`): the buffers stay borrowed until the request completes.
    fn igatherv<'b, S: Buffer + ?Sized, R: BufferMut + ?Sized>(
        &self,
        send: &'b S,
        recv: Option<&'b mut VaryingMut<'b, R>>,
        root: i32,
    ) -> Result<Request<'b>> {
        run::gatherv(
            self,
            Start::Immediate,
            send.spec()?,
            match recv {
                Some(v) => Some((v.buf.spec_mut()?, v.blocks())),
                None => None,
            },
            root,
        )
        .map(Request::new)
    }

    /// Persistent [`gatherv`](Self::gatherv) (`MPI_Gatherv_init`, MPI-4; `MPIX_` on Open MPI 4.1): start it with
    /// [`PersistentRequest::start`] as often as needed. [`Error::Unsupported`] where the library has neither.
    fn gatherv_init<'b, S: Buffer + ?Sized, R: BufferMut + ?Sized>(
        &self,
        send: &'b S,
        recv: Option<&'b mut VaryingMut<'b, R>>,
        root: i32,
    ) -> Result<PersistentRequest<'b>> {
        run::gatherv(
            self,
            Start::Persistent,
            send.spec()?,
            match recv {
                Some(v) => Some((v.buf.spec_mut()?, v.blocks())),
                None => None,
            },
            root,
        )
        .map(PersistentRequest::new)
    }

    /// Gathers blocks of varying size on every process. (`MPI_Allgatherv`)
    fn allgatherv<S: Buffer + ?Sized, R: BufferMut + ?Sized>(
        &self,
        send: &S,
        recv: &mut VaryingMut<'_, R>,
    ) -> Result<()> {
        run::allgatherv(self, Start::Blocking, Some(send.spec()?), recv.buf.spec_mut()?, recv.blocks())
            .map(drop)
    }

    /// Nonblocking [`allgatherv`](Self::allgatherv) (`MPI_Iallgatherv`): the buffers stay borrowed until the request completes.
    fn iallgatherv<'b, S: Buffer + ?Sized, R: BufferMut + ?Sized>(
        &self,
        send: &'b S,
        recv: &'b mut VaryingMut<'b, R>,
    ) -> Result<Request<'b>> {
        run::allgatherv(self, Start::Immediate, Some(send.spec()?), recv.buf.spec_mut()?, recv.blocks())
            .map(Request::new)
    }

    /// Persistent [`allgatherv`](Self::allgatherv) (`MPI_Allgatherv_init`, MPI-4; `MPIX_` on Open MPI 4.1): start it with
    /// [`PersistentRequest::start`] as often as needed. [`Error::Unsupported`] where the library has neither.
    fn allgatherv_init<'b, S: Buffer + ?Sized, R: BufferMut + ?Sized>(
        &self,
        send: &'b S,
        recv: &'b mut VaryingMut<'b, R>,
    ) -> Result<PersistentRequest<'b>> {
        run::allgatherv(self, Start::Persistent, Some(send.spec()?), recv.buf.spec_mut()?, recv.blocks())
            .map(PersistentRequest::new)
    }

    /// Allgatherv with `MPI_IN_PLACE`: each process's block is already at its place in `buf`. (`MPI_Allgatherv`, in place)
    fn allgatherv_in_place<B: BufferMut + ?Sized>(&self, buf: &mut VaryingMut<'_, B>) -> Result<()> {
        run::allgatherv(self, Start::Blocking, None, buf.buf.spec_mut()?, buf.blocks()).map(drop)
    }

    /// Nonblocking [`allgatherv_in_place`](Self::allgatherv_in_place) (`MPI_Iallgatherv`): the buffers stay borrowed until the request completes.
    fn iallgatherv_in_place<'b, B: BufferMut + ?Sized>(
        &self,
        buf: &'b mut VaryingMut<'b, B>,
    ) -> Result<Request<'b>> {
        run::allgatherv(self, Start::Immediate, None, buf.buf.spec_mut()?, buf.blocks()).map(Request::new)
    }

    /// Persistent [`allgatherv_in_place`](Self::allgatherv_in_place) (`MPI_Allgatherv_init`, MPI-4; `MPIX_` on Open MPI 4.1): start it with
    /// [`PersistentRequest::start`] as often as needed. [`Error::Unsupported`] where the library has neither.
    fn allgatherv_in_place_init<'b, B: BufferMut + ?Sized>(
        &self,
        buf: &'b mut VaryingMut<'b, B>,
    ) -> Result<PersistentRequest<'b>> {
        run::allgatherv(self, Start::Persistent, None, buf.buf.spec_mut()?, buf.blocks())
            .map(PersistentRequest::new)
    }

    /// All-to-all with blocks of varying size on both sides. (`MPI_Alltoallv`)
    fn alltoallv<S: Buffer + ?Sized, R: BufferMut + ?Sized>(
        &self,
        send: &Varying<'_, S>,
        recv: &mut VaryingMut<'_, R>,
    ) -> Result<()> {
        run::alltoallv(
            self,
            Start::Blocking,
            Some((send.buf.spec()?, send.blocks())),
            recv.buf.spec_mut()?,
            recv.blocks(),
        )
        .map(drop)
    }

    /// Nonblocking [`alltoallv`](Self::alltoallv) (`MPI_Ialltoallv`): the buffers stay borrowed until the request completes.
    fn ialltoallv<'b, S: Buffer + ?Sized, R: BufferMut + ?Sized>(
        &self,
        send: &'b Varying<'b, S>,
        recv: &'b mut VaryingMut<'b, R>,
    ) -> Result<Request<'b>> {
        run::alltoallv(
            self,
            Start::Immediate,
            Some((send.buf.spec()?, send.blocks())),
            recv.buf.spec_mut()?,
            recv.blocks(),
        )
        .map(Request::new)
    }

    /// Persistent [`alltoallv`](Self::alltoallv) (`MPI_Alltoallv_init`, MPI-4; `MPIX_` on Open MPI 4.1): start it with
    /// [`PersistentRequest::start`] as often as needed. [`Error::Unsupported`] where the library has neither.
    fn alltoallv_init<'b, S: Buffer + ?Sized, R: BufferMut + ?Sized>(
        &self,
        send: &'b Varying<'b, S>,
        recv: &'b mut VaryingMut<'b, R>,
    ) -> Result<PersistentRequest<'b>> {
        run::alltoallv(
            self,
            Start::Persistent,
            Some((send.buf.spec()?, send.blocks())),
            recv.buf.spec_mut()?,
            recv.blocks(),
        )
        .map(PersistentRequest::new)
    }

    /// Alltoallv with `MPI_IN_PLACE`: `buf` holds the outgoing blocks and receives the incoming ones in the same layout. (`MPI_Alltoallv`, in place)
    fn alltoallv_in_place<B: BufferMut + ?Sized>(&self, buf: &mut VaryingMut<'_, B>) -> Result<()> {
        run::alltoallv(self, Start::Blocking, None, buf.buf.spec_mut()?, buf.blocks()).map(drop)
    }

    /// Nonblocking [`alltoallv_in_place`](Self::alltoallv_in_place) (`MPI_Ialltoallv`): the buffers stay borrowed until the request completes.
    fn ialltoallv_in_place<'b, B: BufferMut + ?Sized>(
        &self,
        buf: &'b mut VaryingMut<'b, B>,
    ) -> Result<Request<'b>> {
        run::alltoallv(self, Start::Immediate, None, buf.buf.spec_mut()?, buf.blocks()).map(Request::new)
    }

    /// Persistent [`alltoallv_in_place`](Self::alltoallv_in_place) (`MPI_Alltoallv_init`, MPI-4; `MPIX_` on Open MPI 4.1): start it with
    /// [`PersistentRequest::start`] as often as needed. [`Error::Unsupported`] where the library has neither.
    fn alltoallv_in_place_init<'b, B: BufferMut + ?Sized>(
        &self,
        buf: &'b mut VaryingMut<'b, B>,
    ) -> Result<PersistentRequest<'b>> {
        run::alltoallv(self, Start::Persistent, None, buf.buf.spec_mut()?, buf.blocks())
            .map(PersistentRequest::new)
    }

    /// Reduces `send` of every process with `op` into `recv` at the root (significant there only; `None` elsewhere). (`MPI_Reduce`)
    fn reduce<S: Buffer + ?Sized, R: BufferMut + ?Sized>(
        &self,
        send: &S,
        recv: Option<&mut R>,
        op: &Op,
        root: i32,
    ) -> Result<()> {
        run::reduce(
            self,
            Start::Blocking,
            send.spec()?,
            recv.map(|r| r.spec_mut()).transpose()?,
            false,
            op,
            root,
        )
        .map(drop)
    }

    /// Nonblocking [`reduce`](Self::reduce) (`MPI_Ireduce`): the buffers stay borrowed until the request completes.
    fn ireduce<'b, S: Buffer + ?Sized, R: BufferMut + ?Sized>(
        &self,
        send: &'b S,
        recv: Option<&'b mut R>,
        op: &'b Op,
        root: i32,
    ) -> Result<Request<'b>> {
        run::reduce(
            self,
            Start::Immediate,
            send.spec()?,
            recv.map(|r| r.spec_mut()).transpose()?,
            false,
            op,
            root,
        )
        .map(Request::new)
    }

    /// Persistent [`reduce`](Self::reduce) (`MPI_Reduce_init`, MPI-4; `MPIX_` on Open MPI 4.1): start it with
    /// [`PersistentRequest::start`] as often as needed. [`Error::Unsupported`] where the library has neither.
    fn reduce_init<'b, S: Buffer + ?Sized, R: BufferMut + ?Sized>(
        &self,
        send: &'b S,
        recv: Option<&'b mut R>,
        op: &'b Op,
        root: i32,
    ) -> Result<PersistentRequest<'b>> {
        run::reduce(
            self,
            Start::Persistent,
            send.spec()?,
            recv.map(|r| r.spec_mut()).transpose()?,
            false,
            op,
            root,
        )
        .map(PersistentRequest::new)
    }

    /// Reduce with `MPI_IN_PLACE`: at the root `buf` is its contribution and receives the result; elsewhere `buf` is the contribution. (`MPI_Reduce`, in place)
    fn reduce_in_place<B: BufferMut + ?Sized>(&self, buf: &mut B, op: &Op, root: i32) -> Result<()> {
        {
            let b = buf.spec_mut()?;
            run::reduce(self, Start::Blocking, b.as_spec(), Some(b), true, op, root)
        }
        .map(drop)
    }

    /// Nonblocking [`reduce_in_place`](Self::reduce_in_place) (`MPI_Ireduce`): the buffers stay borrowed until the request completes.
    fn ireduce_in_place<'b, B: BufferMut + ?Sized>(
        &self,
        buf: &'b mut B,
        op: &'b Op,
        root: i32,
    ) -> Result<Request<'b>> {
        {
            let b = buf.spec_mut()?;
            run::reduce(self, Start::Immediate, b.as_spec(), Some(b), true, op, root)
        }
        .map(Request::new)
    }

    /// Persistent [`reduce_in_place`](Self::reduce_in_place) (`MPI_Reduce_init`, MPI-4; `MPIX_` on Open MPI 4.1): start it with
    /// [`PersistentRequest::start`] as often as needed. [`Error::Unsupported`] where the library has neither.
    fn reduce_in_place_init<'b, B: BufferMut + ?Sized>(
        &self,
        buf: &'b mut B,
        op: &'b Op,
        root: i32,
    ) -> Result<PersistentRequest<'b>> {
        {
            let b = buf.spec_mut()?;
            run::reduce(self, Start::Persistent, b.as_spec(), Some(b), true, op, root)
        }
        .map(PersistentRequest::new)
    }

    /// Reduces `send` of every process with `op` into `recv` on every process. (`MPI_Allreduce`)
    fn allreduce<S: Buffer + ?Sized, R: BufferMut + ?Sized>(
        &self,
        send: &S,
        recv: &mut R,
        op: &Op,
    ) -> Result<()> {
        run::elementwise(
            self,
            Start::Blocking,
            Elementwise::Allreduce,
            Some(send.spec()?),
            recv.spec_mut()?,
            op,
        )
        .map(drop)
    }

    /// Nonblocking [`allreduce`](Self::allreduce) (`MPI_Iallreduce`): the buffers stay borrowed until the request completes.
    fn iallreduce<'b, S: Buffer + ?Sized, R: BufferMut + ?Sized>(
        &self,
        send: &'b S,
        recv: &'b mut R,
        op: &'b Op,
    ) -> Result<Request<'b>> {
        run::elementwise(
            self,
            Start::Immediate,
            Elementwise::Allreduce,
            Some(send.spec()?),
            recv.spec_mut()?,
            op,
        )
        .map(Request::new)
    }

    /// Persistent [`allreduce`](Self::allreduce) (`MPI_Allreduce_init`, MPI-4; `MPIX_` on Open MPI 4.1): start it with
    /// [`PersistentRequest::start`] as often as needed. [`Error::Unsupported`] where the library has neither.
    fn allreduce_init<'b, S: Buffer + ?Sized, R: BufferMut + ?Sized>(
        &self,
        send: &'b S,
        recv: &'b mut R,
        op: &'b Op,
    ) -> Result<PersistentRequest<'b>> {
        run::elementwise(
            self,
            Start::Persistent,
            Elementwise::Allreduce,
            Some(send.spec()?),
            recv.spec_mut()?,
            op,
        )
        .map(PersistentRequest::new)
    }

    /// Allreduce with `MPI_IN_PLACE`: `buf` is this process's contribution and receives the result. (`MPI_Allreduce`, in place)
    fn allreduce_in_place<B: BufferMut + ?Sized>(&self, buf: &mut B, op: &Op) -> Result<()> {
        run::elementwise(self, Start::Blocking, Elementwise::Allreduce, None, buf.spec_mut()?, op).map(drop)
    }

    /// Nonblocking [`allreduce_in_place`](Self::allreduce_in_place) (`MPI_Iallreduce`): the buffers stay borrowed until the request completes.
    fn iallreduce_in_place<'b, B: BufferMut + ?Sized>(
        &self,
        buf: &'b mut B,
        op: &'b Op,
    ) -> Result<Request<'b>> {
        run::elementwise(self, Start::Immediate, Elementwise::Allreduce, None, buf.spec_mut()?, op)
            .map(Request::new)
    }

    /// Persistent [`allreduce_in_place`](Self::allreduce_in_place) (`MPI_Allreduce_init`, MPI-4; `MPIX_` on Open MPI 4.1): start it with
    /// [`PersistentRequest::start`] as often as needed. [`Error::Unsupported`] where the library has neither.
    fn allreduce_in_place_init<'b, B: BufferMut + ?Sized>(
        &self,
        buf: &'b mut B,
        op: &'b Op,
    ) -> Result<PersistentRequest<'b>> {
        run::elementwise(self, Start::Persistent, Elementwise::Allreduce, None, buf.spec_mut()?, op)
            .map(PersistentRequest::new)
    }

    /// Reduces `send` (one block per process) with `op` and scatters the result: process *i* receives block *i* into `recv`. (`MPI_Reduce_scatter_block`)
    fn reduce_scatter_block<S: Buffer + ?Sized, R: BufferMut + ?Sized>(
        &self,
        send: &S,
        recv: &mut R,
        op: &Op,
    ) -> Result<()> {
        run::reduce_scatter_block(self, Start::Blocking, Some(send.spec()?), recv.spec_mut()?, op).map(drop)
    }

    /// Nonblocking [`reduce_scatter_block`](Self::reduce_scatter_block) (`MPI_Ireduce_scatter_block`): the buffers stay borrowed until the request completes.
    fn ireduce_scatter_block<'b, S: Buffer + ?Sized, R: BufferMut + ?Sized>(
        &self,
        send: &'b S,
        recv: &'b mut R,
        op: &'b Op,
    ) -> Result<Request<'b>> {
        run::reduce_scatter_block(self, Start::Immediate, Some(send.spec()?), recv.spec_mut()?, op)
            .map(Request::new)
    }

    /// Persistent [`reduce_scatter_block`](Self::reduce_scatter_block) (`MPI_Reduce_scatter_block_init`, MPI-4; `MPIX_` on Open MPI 4.1): start it with
    /// [`PersistentRequest::start`] as often as needed. [`Error::Unsupported`] where the library has neither.
    fn reduce_scatter_block_init<'b, S: Buffer + ?Sized, R: BufferMut + ?Sized>(
        &self,
        send: &'b S,
        recv: &'b mut R,
        op: &'b Op,
    ) -> Result<PersistentRequest<'b>> {
        run::reduce_scatter_block(self, Start::Persistent, Some(send.spec()?), recv.spec_mut()?, op)
            .map(PersistentRequest::new)
    }

    /// Reduce_scatter_block with `MPI_IN_PLACE`: `buf` holds all blocks and receives this process's result in its first block. (`MPI_Reduce_scatter_block`, in place)
    fn reduce_scatter_block_in_place<B: BufferMut + ?Sized>(&self, buf: &mut B, op: &Op) -> Result<()> {
        run::reduce_scatter_block(self, Start::Blocking, None, buf.spec_mut()?, op).map(drop)
    }

    /// Nonblocking [`reduce_scatter_block_in_place`](Self::reduce_scatter_block_in_place) (`MPI_Ireduce_scatter_block`): the buffers stay borrowed until the request completes.
    fn ireduce_scatter_block_in_place<'b, B: BufferMut + ?Sized>(
        &self,
        buf: &'b mut B,
        op: &'b Op,
    ) -> Result<Request<'b>> {
        run::reduce_scatter_block(self, Start::Immediate, None, buf.spec_mut()?, op).map(Request::new)
    }

    /// Persistent [`reduce_scatter_block_in_place`](Self::reduce_scatter_block_in_place) (`MPI_Reduce_scatter_block_init`, MPI-4; `MPIX_` on Open MPI 4.1): start it with
    /// [`PersistentRequest::start`] as often as needed. [`Error::Unsupported`] where the library has neither.
    fn reduce_scatter_block_in_place_init<'b, B: BufferMut + ?Sized>(
        &self,
        buf: &'b mut B,
        op: &'b Op,
    ) -> Result<PersistentRequest<'b>> {
        run::reduce_scatter_block(self, Start::Persistent, None, buf.spec_mut()?, op)
            .map(PersistentRequest::new)
    }

    /// Reduces `send` with `op` and scatters the result in blocks of `counts[i]` elements: process *i* receives block *i* into `recv`. (`MPI_Reduce_scatter`)
    fn reduce_scatter<S: Buffer + ?Sized, R: BufferMut + ?Sized>(
        &self,
        send: &S,
        recv: &mut R,
        counts: &[i32],
        op: &Op,
    ) -> Result<()> {
        run::reduce_scatter(self, Start::Blocking, Some(send.spec()?), recv.spec_mut()?, counts, op).map(drop)
    }

    /// Nonblocking [`reduce_scatter`](Self::reduce_scatter) (`MPI_Ireduce_scatter`): the buffers stay borrowed until the request completes.
    fn ireduce_scatter<'b, S: Buffer + ?Sized, R: BufferMut + ?Sized>(
        &self,
        send: &'b S,
        recv: &'b mut R,
        counts: &'b [i32],
        op: &'b Op,
    ) -> Result<Request<'b>> {
        run::reduce_scatter(self, Start::Immediate, Some(send.spec()?), recv.spec_mut()?, counts, op)
            .map(Request::new)
    }

    /// Persistent [`reduce_scatter`](Self::reduce_scatter) (`MPI_Reduce_scatter_init`, MPI-4; `MPIX_` on Open MPI 4.1): start it with
    /// [`PersistentRequest::start`] as often as needed. [`Error::Unsupported`] where the library has neither.
    fn reduce_scatter_init<'b, S: Buffer + ?Sized, R: BufferMut + ?Sized>(
        &self,
        send: &'b S,
        recv: &'b mut R,
        counts: &'b [i32],
        op: &'b Op,
    ) -> Result<PersistentRequest<'b>> {
        run::reduce_scatter(self, Start::Persistent, Some(send.spec()?), recv.spec_mut()?, counts, op)
            .map(PersistentRequest::new)
    }

    /// Reduce_scatter with `MPI_IN_PLACE`: `buf` holds all blocks and receives this process's result at its start. (`MPI_Reduce_scatter`, in place)
    fn reduce_scatter_in_place<B: BufferMut + ?Sized>(
        &self,
        buf: &mut B,
        counts: &[i32],
        op: &Op,
    ) -> Result<()> {
        run::reduce_scatter(self, Start::Blocking, None, buf.spec_mut()?, counts, op).map(drop)
    }

    /// Nonblocking [`reduce_scatter_in_place`](Self::reduce_scatter_in_place) (`MPI_Ireduce_scatter`): the buffers stay borrowed until the request completes.
    fn ireduce_scatter_in_place<'b, B: BufferMut + ?Sized>(
        &self,
        buf: &'b mut B,
        counts: &'b [i32],
        op: &'b Op,
    ) -> Result<Request<'b>> {
        run::reduce_scatter(self, Start::Immediate, None, buf.spec_mut()?, counts, op).map(Request::new)
    }

    /// Persistent [`reduce_scatter_in_place`](Self::reduce_scatter_in_place) (`MPI_Reduce_scatter_init`, MPI-4; `MPIX_` on Open MPI 4.1): start it with
    /// [`PersistentRequest::start`] as often as needed. [`Error::Unsupported`] where the library has neither.
    fn reduce_scatter_in_place_init<'b, B: BufferMut + ?Sized>(
        &self,
        buf: &'b mut B,
        counts: &'b [i32],
        op: &'b Op,
    ) -> Result<PersistentRequest<'b>> {
        run::reduce_scatter(self, Start::Persistent, None, buf.spec_mut()?, counts, op)
            .map(PersistentRequest::new)
    }

    /// Inclusive prefix reduction: process *i* receives `send₀ op … op sendᵢ` in `recv`. (`MPI_Scan`)
    fn scan<S: Buffer + ?Sized, R: BufferMut + ?Sized>(&self, send: &S, recv: &mut R, op: &Op) -> Result<()> {
        run::elementwise(self, Start::Blocking, Elementwise::Scan, Some(send.spec()?), recv.spec_mut()?, op)
            .map(drop)
    }

    /// Nonblocking [`scan`](Self::scan) (`MPI_Iscan`): the buffers stay borrowed until the request completes.
    fn iscan<'b, S: Buffer + ?Sized, R: BufferMut + ?Sized>(
        &self,
        send: &'b S,
        recv: &'b mut R,
        op: &'b Op,
    ) -> Result<Request<'b>> {
        run::elementwise(self, Start::Immediate, Elementwise::Scan, Some(send.spec()?), recv.spec_mut()?, op)
            .map(Request::new)
    }

    /// Persistent [`scan`](Self::scan) (`MPI_Scan_init`, MPI-4; `MPIX_` on Open MPI 4.1): start it with
    /// [`PersistentRequest::start`] as often as needed. [`Error::Unsupported`] where the library has neither.
    fn scan_init<'b, S: Buffer + ?Sized, R: BufferMut + ?Sized>(
        &self,
        send: &'b S,
        recv: &'b mut R,
        op: &'b Op,
    ) -> Result<PersistentRequest<'b>> {
        run::elementwise(self, Start::Persistent, Elementwise::Scan, Some(send.spec()?), recv.spec_mut()?, op)
            .map(PersistentRequest::new)
    }

    /// Scan with `MPI_IN_PLACE`. (`MPI_Scan`, in place)
    fn scan_in_place<B: BufferMut + ?Sized>(&self, buf: &mut B, op: &Op) -> Result<()> {
        run::elementwise(self, Start::Blocking, Elementwise::Scan, None, buf.spec_mut()?, op).map(drop)
    }

    /// Nonblocking [`scan_in_place`](Self::scan_in_place) (`MPI_Iscan`): the buffers stay borrowed until the request completes.
    fn iscan_in_place<'b, B: BufferMut + ?Sized>(&self, buf: &'b mut B, op: &'b Op) -> Result<Request<'b>> {
        run::elementwise(self, Start::Immediate, Elementwise::Scan, None, buf.spec_mut()?, op)
            .map(Request::new)
    }

    /// Persistent [`scan_in_place`](Self::scan_in_place) (`MPI_Scan_init`, MPI-4; `MPIX_` on Open MPI 4.1): start it with
    /// [`PersistentRequest::start`] as often as needed. [`Error::Unsupported`] where the library has neither.
    fn scan_in_place_init<'b, B: BufferMut + ?Sized>(
        &self,
        buf: &'b mut B,
        op: &'b Op,
    ) -> Result<PersistentRequest<'b>> {
        run::elementwise(self, Start::Persistent, Elementwise::Scan, None, buf.spec_mut()?, op)
            .map(PersistentRequest::new)
    }

    /// Exclusive prefix reduction: process *i* > 0 receives `send₀ op … op sendᵢ₋₁`; `recv` of process 0 is left as it was. (`MPI_Exscan`)
    fn exscan<S: Buffer + ?Sized, R: BufferMut + ?Sized>(
        &self,
        send: &S,
        recv: &mut R,
        op: &Op,
    ) -> Result<()> {
        run::elementwise(self, Start::Blocking, Elementwise::Exscan, Some(send.spec()?), recv.spec_mut()?, op)
            .map(drop)
    }

    /// Nonblocking [`exscan`](Self::exscan) (`MPI_Iexscan`): the buffers stay borrowed until the request completes.
    fn iexscan<'b, S: Buffer + ?Sized, R: BufferMut + ?Sized>(
        &self,
        send: &'b S,
        recv: &'b mut R,
        op: &'b Op,
    ) -> Result<Request<'b>> {
        run::elementwise(
            self,
            Start::Immediate,
            Elementwise::Exscan,
            Some(send.spec()?),
            recv.spec_mut()?,
            op,
        )
        .map(Request::new)
    }

    /// Persistent [`exscan`](Self::exscan) (`MPI_Exscan_init`, MPI-4; `MPIX_` on Open MPI 4.1): start it with
    /// [`PersistentRequest::start`] as often as needed. [`Error::Unsupported`] where the library has neither.
    fn exscan_init<'b, S: Buffer + ?Sized, R: BufferMut + ?Sized>(
        &self,
        send: &'b S,
        recv: &'b mut R,
        op: &'b Op,
    ) -> Result<PersistentRequest<'b>> {
        run::elementwise(
            self,
            Start::Persistent,
            Elementwise::Exscan,
            Some(send.spec()?),
            recv.spec_mut()?,
            op,
        )
        .map(PersistentRequest::new)
    }

    /// Exscan with `MPI_IN_PLACE`. (`MPI_Exscan`, in place)
    fn exscan_in_place<B: BufferMut + ?Sized>(&self, buf: &mut B, op: &Op) -> Result<()> {
        run::elementwise(self, Start::Blocking, Elementwise::Exscan, None, buf.spec_mut()?, op).map(drop)
    }

    /// Nonblocking [`exscan_in_place`](Self::exscan_in_place) (`MPI_Iexscan`): the buffers stay borrowed until the request completes.
    fn iexscan_in_place<'b, B: BufferMut + ?Sized>(&self, buf: &'b mut B, op: &'b Op) -> Result<Request<'b>> {
        run::elementwise(self, Start::Immediate, Elementwise::Exscan, None, buf.spec_mut()?, op)
            .map(Request::new)
    }

    /// Persistent [`exscan_in_place`](Self::exscan_in_place) (`MPI_Exscan_init`, MPI-4; `MPIX_` on Open MPI 4.1): start it with
    /// [`PersistentRequest::start`] as often as needed. [`Error::Unsupported`] where the library has neither.
    fn exscan_in_place_init<'b, B: BufferMut + ?Sized>(
        &self,
        buf: &'b mut B,
        op: &'b Op,
    ) -> Result<PersistentRequest<'b>> {
        run::elementwise(self, Start::Persistent, Elementwise::Exscan, None, buf.spec_mut()?, op)
            .map(PersistentRequest::new)
    }

    /// All-to-all with a count, byte displacement and datatype per process on both sides
    /// (`MPI_Alltoallw`): every block is checked to lie inside its buffer.
    fn alltoallw<S: Buffer + ?Sized, R: BufferMut + ?Sized>(
        &self,
        send: &VaryingW<'_, S>,
        recv: &mut VaryingWMut<'_, R>,
    ) -> Result<()> {
        run::alltoallw(
            self,
            Start::Blocking,
            Some((send.buf.spec()?, &send.blocks)),
            recv.buf.spec_mut()?,
            &recv.blocks,
        )
        .map(drop)
    }

    /// Alltoallw with `MPI_IN_PLACE`: `buf` holds the outgoing blocks and receives the incoming ones
    /// in the same layout (`MPI_Alltoallw`).
    fn alltoallw_in_place<B: BufferMut + ?Sized>(&self, buf: &mut VaryingWMut<'_, B>) -> Result<()> {
        run::alltoallw(self, Start::Blocking, None, buf.buf.spec_mut()?, &buf.blocks).map(drop)
    }

    /// Nonblocking [`alltoallw`](Self::alltoallw) (`MPI_Ialltoallw`).
    fn ialltoallw<'b, S: Buffer + ?Sized, R: BufferMut + ?Sized>(
        &self,
        send: &'b VaryingW<'b, S>,
        recv: &'b mut VaryingWMut<'b, R>,
    ) -> Result<Request<'b>> {
        run::alltoallw(
            self,
            Start::Immediate,
            Some((send.buf.spec()?, &send.blocks)),
            recv.buf.spec_mut()?,
            &recv.blocks,
        )
        .map(Request::new)
    }

    /// Nonblocking [`alltoallw_in_place`](Self::alltoallw_in_place) (`MPI_Ialltoallw`).
    fn ialltoallw_in_place<'b, B: BufferMut + ?Sized>(
        &self,
        buf: &'b mut VaryingWMut<'b, B>,
    ) -> Result<Request<'b>> {
        run::alltoallw(self, Start::Immediate, None, buf.buf.spec_mut()?, &buf.blocks).map(Request::new)
    }

    /// Persistent [`alltoallw`](Self::alltoallw) (`MPI_Alltoallw_init`, MPI-4; `MPIX_` on Open MPI 4.1).
    fn alltoallw_init<'b, S: Buffer + ?Sized, R: BufferMut + ?Sized>(
        &self,
        send: &'b VaryingW<'b, S>,
        recv: &'b mut VaryingWMut<'b, R>,
    ) -> Result<PersistentRequest<'b>> {
        run::alltoallw(
            self,
            Start::Persistent,
            Some((send.buf.spec()?, &send.blocks)),
            recv.buf.spec_mut()?,
            &recv.blocks,
        )
        .map(PersistentRequest::new)
    }

    /// Persistent [`alltoallw_in_place`](Self::alltoallw_in_place) (`MPI_Alltoallw_init`, MPI-4; `MPIX_` on Open MPI 4.1).
    fn alltoallw_in_place_init<'b, B: BufferMut + ?Sized>(
        &self,
        buf: &'b mut VaryingWMut<'b, B>,
    ) -> Result<PersistentRequest<'b>> {
        run::alltoallw(self, Start::Persistent, None, buf.buf.spec_mut()?, &buf.blocks)
            .map(PersistentRequest::new)
    }
}

impl<C: Communicator + ?Sized> Collective for C {}
