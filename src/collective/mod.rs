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
//! Mistakes only one rank can see (the root's buffers of a rooted collective, one rank's
//! counts or displacements of a vector form) do not leave the others behind: that rank still
//! takes part in the collective, with scratch memory shaped by what it can tell the others send
//! or expect (its own block size, its counts laid end to end), then returns the error. The
//! other ranks complete normally, so nobody hangs and no message is left over for the next
//! call; what they received from the failing rank is zeros. This covers `gather`, `scatter`,
//! `gatherv`, `scatterv`, `reduce` on intracommunicators, and `gatherv`, `scatterv`,
//! `allgatherv`, `alltoallv` wherever the failing rank's counts are usable (one count >= 0
//! per process), in their blocking and nonblocking forms (the nonblocking form is completed
//! before the error is returned). Where that rank cannot tell the shape (its counts are
//! unusable, an intercommunicator root without a usable buffer, in-place forms, the
//! neighbourhood and `alltoallw` forms) and for persistent forms, it only returns the error:
//! end the job then (for instance through [`run`](crate::run)). Mistakes every rank makes
//! alike (a bad root, mismatched element types) are reported by every rank without a call.
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

pub(crate) mod checks;
mod neighbor;
mod persistent;
mod reduce_local;
mod run;
mod varying;

pub use neighbor::{NeighborCollective, NeighborExchange};
pub use persistent::has_persistent_collectives;
pub use varying::{Varying, VaryingMut, VaryingW, VaryingWMut};

pub(crate) use checks::{check_len, check_same_elements};

use crate::buffer::{Buffer, BufferElement, BufferMut};
use crate::comm::Communicator;
use crate::error::{Error, Result};
use crate::ffi;
use crate::op::Op;
use crate::request::{PersistentRequest, Request};
use crate::scope::Scope;
use crate::transfer::stage::{Fill, Transfer};
use run::{Blocks, Elementwise, Start};

/// The root argument of the root process on an intercommunicator (`MPI_ROOT`).
pub fn root() -> i32 {
    ffi::ROOT()
}

/// How a broadcast's buffer is staged: the source of the data only reads it.
fn bcast_fill<C: Communicator + ?Sized>(comm: &C, root: i32) -> Fill {
    let source =
        if comm.is_inter() { root == ffi::ROOT() || root == ffi::PROC_NULL() } else { comm.rank() == root };
    if source {
        Fill::Unchanged
    } else {
        Fill::Overwrite
    }
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
        run::barrier(self, Start::Immediate).map(Request::unscoped)
    }

    /// Persistent [`barrier`](Self::barrier) (`MPI_Barrier_init`, MPI-4; `MPIX_` on Open MPI 4.1): start it with
    /// [`PersistentRequest::start`] as often as needed. [`Error::Unsupported`] where the library has neither.
    fn barrier_init(&self) -> Result<PersistentRequest<'static>> {
        run::barrier(self, Start::Persistent).map(PersistentRequest::unscoped)
    }

    /// Broadcasts `buf` from `root` to every process (on an intercommunicator, from the root group to the other). (`MPI_Bcast`)
    fn bcast<B: BufferMut + ?Sized>(&self, buf: &mut B, root: i32) -> Result<()> {
        let mut t = Transfer::new("bcast").pipelined();
        run::bcast(self, Start::Blocking, t.write(buf, bcast_fill(self, root))?, root, &mut t)
            .and_then(|_| t.blocking(None))
    }

    /// Nonblocking [`bcast`](Self::bcast) (`MPI_Ibcast`): the buffers stay borrowed until the request completes.
    fn ibcast<'s, B: BufferMut + ?Sized>(
        &self,
        scope: &'s Scope<'s, '_>,
        buf: &'s mut B,
        root: i32,
    ) -> Result<Request<'s>> {
        let mut t = Transfer::new("bcast");
        run::bcast(self, Start::Immediate, t.write(buf, bcast_fill(self, root))?, root, &mut t)
            .map(|r| t.request(scope, r))
    }

    /// Persistent [`bcast`](Self::bcast) (`MPI_Bcast_init`, MPI-4; `MPIX_` on Open MPI 4.1): start it with
    /// [`PersistentRequest::start`] as often as needed. [`Error::Unsupported`] where the library has neither.
    fn bcast_init<'s, B: BufferMut + ?Sized>(
        &self,
        scope: &'s Scope<'s, '_>,
        buf: &'s mut B,
        root: i32,
    ) -> Result<PersistentRequest<'s>> {
        let mut t = Transfer::new("bcast");
        run::bcast(self, Start::Persistent, t.write(buf, bcast_fill(self, root))?, root, &mut t)
            .map(|r| t.persistent(scope, r))
    }

    /// Scatters equal blocks of `send` (significant at the root only; `None` elsewhere) so that process *i* receives block *i* into `recv`. `send` must hold one block of `recv.len()` elements per process. On an intercommunicator `recv` is ignored at the root. (`MPI_Scatter`)
    fn scatter<S: Buffer + ?Sized, R: BufferMut + ?Sized>(
        &self,
        send: Option<&S>,
        recv: &mut R,
        root: i32,
    ) -> Result<()> {
        let mut t = Transfer::new("scatter");
        run::scatter(self, Start::Blocking, t.read_opt(send)?, t.write(recv, Fill::Update)?, false, root)
            .and_then(|_| t.blocking(None))
    }

    /// Nonblocking [`scatter`](Self::scatter) (`MPI_Iscatter`): the buffers stay borrowed until the request completes.
    fn iscatter<'s, S: Buffer + ?Sized, R: BufferMut + ?Sized>(
        &self,
        scope: &'s Scope<'s, '_>,
        send: Option<&'s S>,
        recv: &'s mut R,
        root: i32,
    ) -> Result<Request<'s>> {
        let mut t = Transfer::new("scatter");
        run::scatter(self, Start::Immediate, t.read_opt(send)?, t.write(recv, Fill::Update)?, false, root)
            .map(|r| t.request(scope, r))
    }

    /// Persistent [`scatter`](Self::scatter) (`MPI_Scatter_init`, MPI-4; `MPIX_` on Open MPI 4.1): start it with
    /// [`PersistentRequest::start`] as often as needed. [`Error::Unsupported`] where the library has neither.
    fn scatter_init<'s, S: Buffer + ?Sized, R: BufferMut + ?Sized>(
        &self,
        scope: &'s Scope<'s, '_>,
        send: Option<&'s S>,
        recv: &'s mut R,
        root: i32,
    ) -> Result<PersistentRequest<'s>> {
        let mut t = Transfer::new("scatter");
        run::scatter(self, Start::Persistent, t.read_opt(send)?, t.write(recv, Fill::Update)?, false, root)
            .map(|r| t.persistent(scope, r))
    }

    /// Scatter with `MPI_IN_PLACE`: at the root `buf` holds all blocks and its own stays where it is; elsewhere `buf` receives the block. (`MPI_Scatter`, in place)
    fn scatter_in_place<B: BufferMut + ?Sized>(&self, buf: &mut B, root: i32) -> Result<()> {
        let mut t = Transfer::new("scatter");
        {
            let b = t.write(buf, Fill::Update)?;
            run::scatter(self, Start::Blocking, Some(b.as_spec()), b, true, root)
        }
        .and_then(|_| t.blocking(None))
    }

    /// Nonblocking [`scatter_in_place`](Self::scatter_in_place) (`MPI_Iscatter`): the buffers stay borrowed until the request completes.
    fn iscatter_in_place<'s, B: BufferMut + ?Sized>(
        &self,
        scope: &'s Scope<'s, '_>,
        buf: &'s mut B,
        root: i32,
    ) -> Result<Request<'s>> {
        let mut t = Transfer::new("scatter");
        {
            let b = t.write(buf, Fill::Update)?;
            run::scatter(self, Start::Immediate, Some(b.as_spec()), b, true, root)
        }
        .map(|r| t.request(scope, r))
    }

    /// Persistent [`scatter_in_place`](Self::scatter_in_place) (`MPI_Scatter_init`, MPI-4; `MPIX_` on Open MPI 4.1): start it with
    /// [`PersistentRequest::start`] as often as needed. [`Error::Unsupported`] where the library has neither.
    fn scatter_in_place_init<'s, B: BufferMut + ?Sized>(
        &self,
        scope: &'s Scope<'s, '_>,
        buf: &'s mut B,
        root: i32,
    ) -> Result<PersistentRequest<'s>> {
        let mut t = Transfer::new("scatter");
        {
            let b = t.write(buf, Fill::Update)?;
            run::scatter(self, Start::Persistent, Some(b.as_spec()), b, true, root)
        }
        .map(|r| t.persistent(scope, r))
    }

    /// Gathers the equal blocks `send` of every process into `recv` at the root (significant there only; `None` elsewhere), block *i* from process *i*. (`MPI_Gather`)
    fn gather<S: Buffer + ?Sized, R: BufferMut + ?Sized>(
        &self,
        send: &S,
        recv: Option<&mut R>,
        root: i32,
    ) -> Result<()> {
        let mut t = Transfer::new("gather");
        run::gather(self, Start::Blocking, t.read(send)?, t.write_opt(recv, Fill::Update)?, false, root)
            .and_then(|_| t.blocking(None))
    }

    /// Nonblocking [`gather`](Self::gather) (`MPI_Igather`): the buffers stay borrowed until the request completes.
    fn igather<'s, S: Buffer + ?Sized, R: BufferMut + ?Sized>(
        &self,
        scope: &'s Scope<'s, '_>,
        send: &'s S,
        recv: Option<&'s mut R>,
        root: i32,
    ) -> Result<Request<'s>> {
        let mut t = Transfer::new("gather");
        run::gather(self, Start::Immediate, t.read(send)?, t.write_opt(recv, Fill::Update)?, false, root)
            .map(|r| t.request(scope, r))
    }

    /// Persistent [`gather`](Self::gather) (`MPI_Gather_init`, MPI-4; `MPIX_` on Open MPI 4.1): start it with
    /// [`PersistentRequest::start`] as often as needed. [`Error::Unsupported`] where the library has neither.
    fn gather_init<'s, S: Buffer + ?Sized, R: BufferMut + ?Sized>(
        &self,
        scope: &'s Scope<'s, '_>,
        send: &'s S,
        recv: Option<&'s mut R>,
        root: i32,
    ) -> Result<PersistentRequest<'s>> {
        let mut t = Transfer::new("gather");
        run::gather(self, Start::Persistent, t.read(send)?, t.write_opt(recv, Fill::Update)?, false, root)
            .map(|r| t.persistent(scope, r))
    }

    /// Gather with `MPI_IN_PLACE`: at the root `buf` receives all blocks and its own is already at its place; elsewhere `buf` is the block sent. (`MPI_Gather`, in place)
    fn gather_in_place<B: BufferMut + ?Sized>(&self, buf: &mut B, root: i32) -> Result<()> {
        let mut t = Transfer::new("gather");
        {
            let b = t.write(buf, Fill::Update)?;
            run::gather(self, Start::Blocking, b.as_spec(), Some(b), true, root)
        }
        .and_then(|_| t.blocking(None))
    }

    /// Nonblocking [`gather_in_place`](Self::gather_in_place) (`MPI_Igather`): the buffers stay borrowed until the request completes.
    fn igather_in_place<'s, B: BufferMut + ?Sized>(
        &self,
        scope: &'s Scope<'s, '_>,
        buf: &'s mut B,
        root: i32,
    ) -> Result<Request<'s>> {
        let mut t = Transfer::new("gather");
        {
            let b = t.write(buf, Fill::Update)?;
            run::gather(self, Start::Immediate, b.as_spec(), Some(b), true, root)
        }
        .map(|r| t.request(scope, r))
    }

    /// Persistent [`gather_in_place`](Self::gather_in_place) (`MPI_Gather_init`, MPI-4; `MPIX_` on Open MPI 4.1): start it with
    /// [`PersistentRequest::start`] as often as needed. [`Error::Unsupported`] where the library has neither.
    fn gather_in_place_init<'s, B: BufferMut + ?Sized>(
        &self,
        scope: &'s Scope<'s, '_>,
        buf: &'s mut B,
        root: i32,
    ) -> Result<PersistentRequest<'s>> {
        let mut t = Transfer::new("gather");
        {
            let b = t.write(buf, Fill::Update)?;
            run::gather(self, Start::Persistent, b.as_spec(), Some(b), true, root)
        }
        .map(|r| t.persistent(scope, r))
    }

    /// Gathers the equal blocks `send` of every process into `recv` on every process. (`MPI_Allgather`)
    fn allgather<S: Buffer + ?Sized, R: BufferMut + ?Sized>(&self, send: &S, recv: &mut R) -> Result<()> {
        let mut t = Transfer::new("allgather");
        run::allgather(self, Start::Blocking, Some(t.read(send)?), t.write(recv, Fill::Overwrite)?)
            .and_then(|_| t.blocking(None))
    }

    /// Nonblocking [`allgather`](Self::allgather) (`MPI_Iallgather`): the buffers stay borrowed until the request completes.
    fn iallgather<'s, S: Buffer + ?Sized, R: BufferMut + ?Sized>(
        &self,
        scope: &'s Scope<'s, '_>,
        send: &'s S,
        recv: &'s mut R,
    ) -> Result<Request<'s>> {
        let mut t = Transfer::new("allgather");
        run::allgather(self, Start::Immediate, Some(t.read(send)?), t.write(recv, Fill::Overwrite)?)
            .map(|r| t.request(scope, r))
    }

    /// Persistent [`allgather`](Self::allgather) (`MPI_Allgather_init`, MPI-4; `MPIX_` on Open MPI 4.1): start it with
    /// [`PersistentRequest::start`] as often as needed. [`Error::Unsupported`] where the library has neither.
    fn allgather_init<'s, S: Buffer + ?Sized, R: BufferMut + ?Sized>(
        &self,
        scope: &'s Scope<'s, '_>,
        send: &'s S,
        recv: &'s mut R,
    ) -> Result<PersistentRequest<'s>> {
        let mut t = Transfer::new("allgather");
        run::allgather(self, Start::Persistent, Some(t.read(send)?), t.write(recv, Fill::Overwrite)?)
            .map(|r| t.persistent(scope, r))
    }

    /// Allgather with `MPI_IN_PLACE`: each process's block is already at its place in `buf`. (`MPI_Allgather`, in place)
    fn allgather_in_place<B: BufferMut + ?Sized>(&self, buf: &mut B) -> Result<()> {
        let mut t = Transfer::new("allgather");
        run::allgather(self, Start::Blocking, None, t.write(buf, Fill::Update)?)
            .and_then(|_| t.blocking(None))
    }

    /// Nonblocking [`allgather_in_place`](Self::allgather_in_place) (`MPI_Iallgather`): the buffers stay borrowed until the request completes.
    fn iallgather_in_place<'s, B: BufferMut + ?Sized>(
        &self,
        scope: &'s Scope<'s, '_>,
        buf: &'s mut B,
    ) -> Result<Request<'s>> {
        let mut t = Transfer::new("allgather");
        run::allgather(self, Start::Immediate, None, t.write(buf, Fill::Update)?).map(|r| t.request(scope, r))
    }

    /// Persistent [`allgather_in_place`](Self::allgather_in_place) (`MPI_Allgather_init`, MPI-4; `MPIX_` on Open MPI 4.1): start it with
    /// [`PersistentRequest::start`] as often as needed. [`Error::Unsupported`] where the library has neither.
    fn allgather_in_place_init<'s, B: BufferMut + ?Sized>(
        &self,
        scope: &'s Scope<'s, '_>,
        buf: &'s mut B,
    ) -> Result<PersistentRequest<'s>> {
        let mut t = Transfer::new("allgather");
        run::allgather(self, Start::Persistent, None, t.write(buf, Fill::Update)?)
            .map(|r| t.persistent(scope, r))
    }

    /// Sends block *j* of `send` to process *j* and receives block *i* of `recv` from process *i*. (`MPI_Alltoall`)
    fn alltoall<S: Buffer + ?Sized, R: BufferMut + ?Sized>(&self, send: &S, recv: &mut R) -> Result<()> {
        let mut t = Transfer::new("alltoall");
        run::alltoall(self, Start::Blocking, Some(t.read(send)?), t.write(recv, Fill::Overwrite)?)
            .and_then(|_| t.blocking(None))
    }

    /// Nonblocking [`alltoall`](Self::alltoall) (`MPI_Ialltoall`): the buffers stay borrowed until the request completes.
    fn ialltoall<'s, S: Buffer + ?Sized, R: BufferMut + ?Sized>(
        &self,
        scope: &'s Scope<'s, '_>,
        send: &'s S,
        recv: &'s mut R,
    ) -> Result<Request<'s>> {
        let mut t = Transfer::new("alltoall");
        run::alltoall(self, Start::Immediate, Some(t.read(send)?), t.write(recv, Fill::Overwrite)?)
            .map(|r| t.request(scope, r))
    }

    /// Persistent [`alltoall`](Self::alltoall) (`MPI_Alltoall_init`, MPI-4; `MPIX_` on Open MPI 4.1): start it with
    /// [`PersistentRequest::start`] as often as needed. [`Error::Unsupported`] where the library has neither.
    fn alltoall_init<'s, S: Buffer + ?Sized, R: BufferMut + ?Sized>(
        &self,
        scope: &'s Scope<'s, '_>,
        send: &'s S,
        recv: &'s mut R,
    ) -> Result<PersistentRequest<'s>> {
        let mut t = Transfer::new("alltoall");
        run::alltoall(self, Start::Persistent, Some(t.read(send)?), t.write(recv, Fill::Overwrite)?)
            .map(|r| t.persistent(scope, r))
    }

    /// Alltoall with `MPI_IN_PLACE`: `buf` holds the outgoing blocks and receives the incoming ones. (`MPI_Alltoall`, in place)
    fn alltoall_in_place<B: BufferMut + ?Sized>(&self, buf: &mut B) -> Result<()> {
        let mut t = Transfer::new("alltoall");
        run::alltoall(self, Start::Blocking, None, t.write(buf, Fill::Update)?).and_then(|_| t.blocking(None))
    }

    /// Nonblocking [`alltoall_in_place`](Self::alltoall_in_place) (`MPI_Ialltoall`): the buffers stay borrowed until the request completes.
    fn ialltoall_in_place<'s, B: BufferMut + ?Sized>(
        &self,
        scope: &'s Scope<'s, '_>,
        buf: &'s mut B,
    ) -> Result<Request<'s>> {
        let mut t = Transfer::new("alltoall");
        run::alltoall(self, Start::Immediate, None, t.write(buf, Fill::Update)?).map(|r| t.request(scope, r))
    }

    /// Persistent [`alltoall_in_place`](Self::alltoall_in_place) (`MPI_Alltoall_init`, MPI-4; `MPIX_` on Open MPI 4.1): start it with
    /// [`PersistentRequest::start`] as often as needed. [`Error::Unsupported`] where the library has neither.
    fn alltoall_in_place_init<'s, B: BufferMut + ?Sized>(
        &self,
        scope: &'s Scope<'s, '_>,
        buf: &'s mut B,
    ) -> Result<PersistentRequest<'s>> {
        let mut t = Transfer::new("alltoall");
        run::alltoall(self, Start::Persistent, None, t.write(buf, Fill::Update)?)
            .map(|r| t.persistent(scope, r))
    }

    /// Scatters blocks of varying size: process *i* receives `counts[i]` elements from `displs[i]` of the root's `send` (significant at the root only). (`MPI_Scatterv`)
    fn scatterv<S: Buffer + ?Sized, R: BufferMut + ?Sized>(
        &self,
        send: Option<&Varying<'_, S>>,
        recv: &mut R,
        root: i32,
    ) -> Result<()> {
        let mut t = Transfer::new("scatterv");
        run::scatterv(
            self,
            Start::Blocking,
            match send {
                Some(v) => Some((t.read(v.buf)?, v.blocks())),
                None => None,
            },
            t.write(recv, Fill::Update)?,
            root,
        )
        .and_then(|_| t.blocking(None))
    }

    /// Nonblocking [`scatterv`](Self::scatterv) (`MPI_Iscatterv`): the buffers stay borrowed until the request completes.
    fn iscatterv<'s, S: Buffer + ?Sized, R: BufferMut + ?Sized>(
        &self,
        scope: &'s Scope<'s, '_>,
        send: Option<&'s Varying<'s, S>>,
        recv: &'s mut R,
        root: i32,
    ) -> Result<Request<'s>> {
        let mut t = Transfer::new("scatterv");
        run::scatterv(
            self,
            Start::Immediate,
            match send {
                Some(v) => Some((t.read(v.buf)?, v.blocks())),
                None => None,
            },
            t.write(recv, Fill::Update)?,
            root,
        )
        .map(|r| t.request(scope, r))
    }

    /// Persistent [`scatterv`](Self::scatterv) (`MPI_Scatterv_init`, MPI-4; `MPIX_` on Open MPI 4.1): start it with
    /// [`PersistentRequest::start`] as often as needed. [`Error::Unsupported`] where the library has neither.
    fn scatterv_init<'s, S: Buffer + ?Sized, R: BufferMut + ?Sized>(
        &self,
        scope: &'s Scope<'s, '_>,
        send: Option<&'s Varying<'s, S>>,
        recv: &'s mut R,
        root: i32,
    ) -> Result<PersistentRequest<'s>> {
        let mut t = Transfer::new("scatterv");
        run::scatterv(
            self,
            Start::Persistent,
            match send {
                Some(v) => Some((t.read(v.buf)?, v.blocks())),
                None => None,
            },
            t.write(recv, Fill::Update)?,
            root,
        )
        .map(|r| t.persistent(scope, r))
    }

    /// Gathers blocks of varying size into `recv` at the root (significant there only): process *i*'s block lands at `displs[i]`. (`MPI_Gatherv`)
    fn gatherv<S: Buffer + ?Sized, R: BufferMut + ?Sized>(
        &self,
        send: &S,
        recv: Option<&mut VaryingMut<'_, R>>,
        root: i32,
    ) -> Result<()> {
        let mut t = Transfer::new("gatherv");
        run::gatherv(
            self,
            Start::Blocking,
            t.read(send)?,
            match recv {
                Some(v) => Some((t.write(v.buf, Fill::Update)?, v.blocks())),
                None => None,
            },
            root,
        )
        .and_then(|_| t.blocking(None))
    }

    /// Nonblocking [`gatherv`](Self::gatherv) (`MPI_Igatherv`): the buffers stay borrowed until the request completes.
    fn igatherv<'s, S: Buffer + ?Sized, R: BufferMut + ?Sized>(
        &self,
        scope: &'s Scope<'s, '_>,
        send: &'s S,
        recv: Option<&'s mut VaryingMut<'_, R>>,
        root: i32,
    ) -> Result<Request<'s>> {
        let mut t = Transfer::new("gatherv");
        run::gatherv(
            self,
            Start::Immediate,
            t.read(send)?,
            match recv {
                Some(v) => Some((t.write(v.buf, Fill::Update)?, v.blocks())),
                None => None,
            },
            root,
        )
        .map(|r| t.request(scope, r))
    }

    /// Persistent [`gatherv`](Self::gatherv) (`MPI_Gatherv_init`, MPI-4; `MPIX_` on Open MPI 4.1): start it with
    /// [`PersistentRequest::start`] as often as needed. [`Error::Unsupported`] where the library has neither.
    fn gatherv_init<'s, S: Buffer + ?Sized, R: BufferMut + ?Sized>(
        &self,
        scope: &'s Scope<'s, '_>,
        send: &'s S,
        recv: Option<&'s mut VaryingMut<'_, R>>,
        root: i32,
    ) -> Result<PersistentRequest<'s>> {
        let mut t = Transfer::new("gatherv");
        run::gatherv(
            self,
            Start::Persistent,
            t.read(send)?,
            match recv {
                Some(v) => Some((t.write(v.buf, Fill::Update)?, v.blocks())),
                None => None,
            },
            root,
        )
        .map(|r| t.persistent(scope, r))
    }

    /// Gathers blocks of varying size on every process. (`MPI_Allgatherv`)
    fn allgatherv<S: Buffer + ?Sized, R: BufferMut + ?Sized>(
        &self,
        send: &S,
        recv: &mut VaryingMut<'_, R>,
    ) -> Result<()> {
        let mut t = Transfer::new("allgatherv");
        run::allgatherv(
            self,
            Start::Blocking,
            Some(t.read(send)?),
            t.write(recv.buf, Fill::Update)?,
            recv.blocks(),
        )
        .and_then(|_| t.blocking(None))
    }

    /// Nonblocking [`allgatherv`](Self::allgatherv) (`MPI_Iallgatherv`): the buffers stay borrowed until the request completes.
    fn iallgatherv<'s, S: Buffer + ?Sized, R: BufferMut + ?Sized>(
        &self,
        scope: &'s Scope<'s, '_>,
        send: &'s S,
        recv: &'s mut VaryingMut<'_, R>,
    ) -> Result<Request<'s>> {
        let mut t = Transfer::new("allgatherv");
        run::allgatherv(
            self,
            Start::Immediate,
            Some(t.read(send)?),
            t.write(recv.buf, Fill::Update)?,
            recv.blocks(),
        )
        .map(|r| t.request(scope, r))
    }

    /// Persistent [`allgatherv`](Self::allgatherv) (`MPI_Allgatherv_init`, MPI-4; `MPIX_` on Open MPI 4.1): start it with
    /// [`PersistentRequest::start`] as often as needed. [`Error::Unsupported`] where the library has neither.
    fn allgatherv_init<'s, S: Buffer + ?Sized, R: BufferMut + ?Sized>(
        &self,
        scope: &'s Scope<'s, '_>,
        send: &'s S,
        recv: &'s mut VaryingMut<'_, R>,
    ) -> Result<PersistentRequest<'s>> {
        let mut t = Transfer::new("allgatherv");
        run::allgatherv(
            self,
            Start::Persistent,
            Some(t.read(send)?),
            t.write(recv.buf, Fill::Update)?,
            recv.blocks(),
        )
        .map(|r| t.persistent(scope, r))
    }

    /// Allgatherv with `MPI_IN_PLACE`: each process's block is already at its place in `buf`. (`MPI_Allgatherv`, in place)
    fn allgatherv_in_place<B: BufferMut + ?Sized>(&self, buf: &mut VaryingMut<'_, B>) -> Result<()> {
        let mut t = Transfer::new("allgatherv");
        run::allgatherv(self, Start::Blocking, None, t.write(buf.buf, Fill::Update)?, buf.blocks())
            .and_then(|_| t.blocking(None))
    }

    /// Nonblocking [`allgatherv_in_place`](Self::allgatherv_in_place) (`MPI_Iallgatherv`): the buffers stay borrowed until the request completes.
    fn iallgatherv_in_place<'s, B: BufferMut + ?Sized>(
        &self,
        scope: &'s Scope<'s, '_>,
        buf: &'s mut VaryingMut<'_, B>,
    ) -> Result<Request<'s>> {
        let mut t = Transfer::new("allgatherv");
        run::allgatherv(self, Start::Immediate, None, t.write(buf.buf, Fill::Update)?, buf.blocks())
            .map(|r| t.request(scope, r))
    }

    /// Persistent [`allgatherv_in_place`](Self::allgatherv_in_place) (`MPI_Allgatherv_init`, MPI-4; `MPIX_` on Open MPI 4.1): start it with
    /// [`PersistentRequest::start`] as often as needed. [`Error::Unsupported`] where the library has neither.
    fn allgatherv_in_place_init<'s, B: BufferMut + ?Sized>(
        &self,
        scope: &'s Scope<'s, '_>,
        buf: &'s mut VaryingMut<'_, B>,
    ) -> Result<PersistentRequest<'s>> {
        let mut t = Transfer::new("allgatherv");
        run::allgatherv(self, Start::Persistent, None, t.write(buf.buf, Fill::Update)?, buf.blocks())
            .map(|r| t.persistent(scope, r))
    }

    /// All-to-all with blocks of varying size on both sides. (`MPI_Alltoallv`)
    fn alltoallv<S: Buffer + ?Sized, R: BufferMut + ?Sized>(
        &self,
        send: &Varying<'_, S>,
        recv: &mut VaryingMut<'_, R>,
    ) -> Result<()> {
        let mut t = Transfer::new("alltoallv");
        run::alltoallv(
            self,
            Start::Blocking,
            Some((t.read(send.buf)?, send.blocks())),
            t.write(recv.buf, Fill::Update)?,
            recv.blocks(),
        )
        .and_then(|_| t.blocking(None))
    }

    /// Nonblocking [`alltoallv`](Self::alltoallv) (`MPI_Ialltoallv`): the buffers stay borrowed until the request completes.
    fn ialltoallv<'s, S: Buffer + ?Sized, R: BufferMut + ?Sized>(
        &self,
        scope: &'s Scope<'s, '_>,
        send: &'s Varying<'s, S>,
        recv: &'s mut VaryingMut<'_, R>,
    ) -> Result<Request<'s>> {
        let mut t = Transfer::new("alltoallv");
        run::alltoallv(
            self,
            Start::Immediate,
            Some((t.read(send.buf)?, send.blocks())),
            t.write(recv.buf, Fill::Update)?,
            recv.blocks(),
        )
        .map(|r| t.request(scope, r))
    }

    /// Persistent [`alltoallv`](Self::alltoallv) (`MPI_Alltoallv_init`, MPI-4; `MPIX_` on Open MPI 4.1): start it with
    /// [`PersistentRequest::start`] as often as needed. [`Error::Unsupported`] where the library has neither.
    fn alltoallv_init<'s, S: Buffer + ?Sized, R: BufferMut + ?Sized>(
        &self,
        scope: &'s Scope<'s, '_>,
        send: &'s Varying<'s, S>,
        recv: &'s mut VaryingMut<'_, R>,
    ) -> Result<PersistentRequest<'s>> {
        let mut t = Transfer::new("alltoallv");
        run::alltoallv(
            self,
            Start::Persistent,
            Some((t.read(send.buf)?, send.blocks())),
            t.write(recv.buf, Fill::Update)?,
            recv.blocks(),
        )
        .map(|r| t.persistent(scope, r))
    }

    /// Alltoallv with `MPI_IN_PLACE`: `buf` holds the outgoing blocks and receives the incoming ones in the same layout. (`MPI_Alltoallv`, in place)
    fn alltoallv_in_place<B: BufferMut + ?Sized>(&self, buf: &mut VaryingMut<'_, B>) -> Result<()> {
        let mut t = Transfer::new("alltoallv");
        run::alltoallv(self, Start::Blocking, None, t.write(buf.buf, Fill::Update)?, buf.blocks())
            .and_then(|_| t.blocking(None))
    }

    /// Nonblocking [`alltoallv_in_place`](Self::alltoallv_in_place) (`MPI_Ialltoallv`): the buffers stay borrowed until the request completes.
    fn ialltoallv_in_place<'s, B: BufferMut + ?Sized>(
        &self,
        scope: &'s Scope<'s, '_>,
        buf: &'s mut VaryingMut<'_, B>,
    ) -> Result<Request<'s>> {
        let mut t = Transfer::new("alltoallv");
        run::alltoallv(self, Start::Immediate, None, t.write(buf.buf, Fill::Update)?, buf.blocks())
            .map(|r| t.request(scope, r))
    }

    /// Persistent [`alltoallv_in_place`](Self::alltoallv_in_place) (`MPI_Alltoallv_init`, MPI-4; `MPIX_` on Open MPI 4.1): start it with
    /// [`PersistentRequest::start`] as often as needed. [`Error::Unsupported`] where the library has neither.
    fn alltoallv_in_place_init<'s, B: BufferMut + ?Sized>(
        &self,
        scope: &'s Scope<'s, '_>,
        buf: &'s mut VaryingMut<'_, B>,
    ) -> Result<PersistentRequest<'s>> {
        let mut t = Transfer::new("alltoallv");
        run::alltoallv(self, Start::Persistent, None, t.write(buf.buf, Fill::Update)?, buf.blocks())
            .map(|r| t.persistent(scope, r))
    }

    /// Reduces `send` of every process with `op` into `recv` at the root (significant there only; `None` elsewhere). (`MPI_Reduce`)
    fn reduce<S: Buffer + ?Sized, R: BufferMut + ?Sized>(
        &self,
        send: &S,
        recv: Option<&mut R>,
        op: &Op,
        root: i32,
    ) -> Result<()> {
        let mut t = Transfer::reduction("reduce", op, true);
        run::reduce(
            self,
            Start::Blocking,
            t.read(send)?,
            t.write_opt(recv, Fill::Update)?,
            false,
            op,
            root,
            &mut t,
        )
        .and_then(|_| t.blocking(None))
    }

    /// Nonblocking [`reduce`](Self::reduce) (`MPI_Ireduce`): the buffers stay borrowed until the request completes.
    fn ireduce<'s, S: Buffer + ?Sized, R: BufferMut + ?Sized>(
        &self,
        scope: &'s Scope<'s, '_>,
        send: &'s S,
        recv: Option<&'s mut R>,
        op: &'s Op,
        root: i32,
    ) -> Result<Request<'s>> {
        let mut t = Transfer::reduction("reduce", op, false);
        run::reduce(
            self,
            Start::Immediate,
            t.read(send)?,
            t.write_opt(recv, Fill::Update)?,
            false,
            op,
            root,
            &mut t,
        )
        .map(|r| t.request(scope, r))
    }

    /// Persistent [`reduce`](Self::reduce) (`MPI_Reduce_init`, MPI-4; `MPIX_` on Open MPI 4.1): start it with
    /// [`PersistentRequest::start`] as often as needed. [`Error::Unsupported`] where the library has neither.
    fn reduce_init<'s, S: Buffer + ?Sized, R: BufferMut + ?Sized>(
        &self,
        scope: &'s Scope<'s, '_>,
        send: &'s S,
        recv: Option<&'s mut R>,
        op: &'s Op,
        root: i32,
    ) -> Result<PersistentRequest<'s>> {
        let mut t = Transfer::reduction("reduce", op, false);
        run::reduce(
            self,
            Start::Persistent,
            t.read(send)?,
            t.write_opt(recv, Fill::Update)?,
            false,
            op,
            root,
            &mut t,
        )
        .map(|r| t.persistent(scope, r))
    }

    /// Reduce with `MPI_IN_PLACE`: at the root `buf` is its contribution and receives the result; elsewhere `buf` is the contribution. (`MPI_Reduce`, in place)
    fn reduce_in_place<B: BufferMut + ?Sized>(&self, buf: &mut B, op: &Op, root: i32) -> Result<()> {
        let mut t = Transfer::reduction("reduce", op, true);
        {
            let b = t.write(buf, Fill::Update)?;
            run::reduce(self, Start::Blocking, b.as_spec(), Some(b), true, op, root, &mut t)
        }
        .and_then(|_| t.blocking(None))
    }

    /// Nonblocking [`reduce_in_place`](Self::reduce_in_place) (`MPI_Ireduce`): the buffers stay borrowed until the request completes.
    fn ireduce_in_place<'s, B: BufferMut + ?Sized>(
        &self,
        scope: &'s Scope<'s, '_>,
        buf: &'s mut B,
        op: &'s Op,
        root: i32,
    ) -> Result<Request<'s>> {
        let mut t = Transfer::reduction("reduce", op, false);
        {
            let b = t.write(buf, Fill::Update)?;
            run::reduce(self, Start::Immediate, b.as_spec(), Some(b), true, op, root, &mut t)
        }
        .map(|r| t.request(scope, r))
    }

    /// Persistent [`reduce_in_place`](Self::reduce_in_place) (`MPI_Reduce_init`, MPI-4; `MPIX_` on Open MPI 4.1): start it with
    /// [`PersistentRequest::start`] as often as needed. [`Error::Unsupported`] where the library has neither.
    fn reduce_in_place_init<'s, B: BufferMut + ?Sized>(
        &self,
        scope: &'s Scope<'s, '_>,
        buf: &'s mut B,
        op: &'s Op,
        root: i32,
    ) -> Result<PersistentRequest<'s>> {
        let mut t = Transfer::reduction("reduce", op, false);
        {
            let b = t.write(buf, Fill::Update)?;
            run::reduce(self, Start::Persistent, b.as_spec(), Some(b), true, op, root, &mut t)
        }
        .map(|r| t.persistent(scope, r))
    }

    /// Reduces one value of every process with `op` and returns the result on every process
    /// (`MPI_Allreduce` of one element): `let r = comm.allreduce_value(residual, &Op::SUM)?`.
    /// Any predefined operation that fits the type, or a user operation.
    fn allreduce_value<T: BufferElement>(&self, value: T, op: &Op) -> Result<T> {
        let mut out = value;
        self.allreduce(&value, &mut out, op)?;
        Ok(out)
    }

    /// Reduces `send` of every process with `op` into `recv` on every process. (`MPI_Allreduce`)
    fn allreduce<S: Buffer + ?Sized, R: BufferMut + ?Sized>(
        &self,
        send: &S,
        recv: &mut R,
        op: &Op,
    ) -> Result<()> {
        let mut t = Transfer::reduction("allreduce", op, true);
        run::elementwise(
            self,
            Start::Blocking,
            Elementwise::Allreduce,
            Some(t.read(send)?),
            t.write(recv, Fill::Overwrite)?,
            op,
            &mut t,
        )
        .and_then(|_| t.blocking(None))
    }

    /// Nonblocking [`allreduce`](Self::allreduce) (`MPI_Iallreduce`): the buffers stay borrowed until the request completes.
    fn iallreduce<'s, S: Buffer + ?Sized, R: BufferMut + ?Sized>(
        &self,
        scope: &'s Scope<'s, '_>,
        send: &'s S,
        recv: &'s mut R,
        op: &'s Op,
    ) -> Result<Request<'s>> {
        let mut t = Transfer::reduction("allreduce", op, false);
        run::elementwise(
            self,
            Start::Immediate,
            Elementwise::Allreduce,
            Some(t.read(send)?),
            t.write(recv, Fill::Overwrite)?,
            op,
            &mut t,
        )
        .map(|r| t.request(scope, r))
    }

    /// Persistent [`allreduce`](Self::allreduce) (`MPI_Allreduce_init`, MPI-4; `MPIX_` on Open MPI 4.1): start it with
    /// [`PersistentRequest::start`] as often as needed. [`Error::Unsupported`] where the library has neither.
    fn allreduce_init<'s, S: Buffer + ?Sized, R: BufferMut + ?Sized>(
        &self,
        scope: &'s Scope<'s, '_>,
        send: &'s S,
        recv: &'s mut R,
        op: &'s Op,
    ) -> Result<PersistentRequest<'s>> {
        let mut t = Transfer::reduction("allreduce", op, false);
        run::elementwise(
            self,
            Start::Persistent,
            Elementwise::Allreduce,
            Some(t.read(send)?),
            t.write(recv, Fill::Overwrite)?,
            op,
            &mut t,
        )
        .map(|r| t.persistent(scope, r))
    }

    /// Allreduce with `MPI_IN_PLACE`: `buf` is this process's contribution and receives the result. (`MPI_Allreduce`, in place)
    fn allreduce_in_place<B: BufferMut + ?Sized>(&self, buf: &mut B, op: &Op) -> Result<()> {
        let mut t = Transfer::reduction("allreduce", op, true);
        run::elementwise(
            self,
            Start::Blocking,
            Elementwise::Allreduce,
            None,
            t.write(buf, Fill::Update)?,
            op,
            &mut t,
        )
        .and_then(|_| t.blocking(None))
    }

    /// Nonblocking [`allreduce_in_place`](Self::allreduce_in_place) (`MPI_Iallreduce`): the buffers stay borrowed until the request completes.
    fn iallreduce_in_place<'s, B: BufferMut + ?Sized>(
        &self,
        scope: &'s Scope<'s, '_>,
        buf: &'s mut B,
        op: &'s Op,
    ) -> Result<Request<'s>> {
        let mut t = Transfer::reduction("allreduce", op, false);
        run::elementwise(
            self,
            Start::Immediate,
            Elementwise::Allreduce,
            None,
            t.write(buf, Fill::Update)?,
            op,
            &mut t,
        )
        .map(|r| t.request(scope, r))
    }

    /// Persistent [`allreduce_in_place`](Self::allreduce_in_place) (`MPI_Allreduce_init`, MPI-4; `MPIX_` on Open MPI 4.1): start it with
    /// [`PersistentRequest::start`] as often as needed. [`Error::Unsupported`] where the library has neither.
    fn allreduce_in_place_init<'s, B: BufferMut + ?Sized>(
        &self,
        scope: &'s Scope<'s, '_>,
        buf: &'s mut B,
        op: &'s Op,
    ) -> Result<PersistentRequest<'s>> {
        let mut t = Transfer::reduction("allreduce", op, false);
        run::elementwise(
            self,
            Start::Persistent,
            Elementwise::Allreduce,
            None,
            t.write(buf, Fill::Update)?,
            op,
            &mut t,
        )
        .map(|r| t.persistent(scope, r))
    }

    /// Reduces `send` (one block per process) with `op` and scatters the result: process *i* receives block *i* into `recv`. (`MPI_Reduce_scatter_block`)
    fn reduce_scatter_block<S: Buffer + ?Sized, R: BufferMut + ?Sized>(
        &self,
        send: &S,
        recv: &mut R,
        op: &Op,
    ) -> Result<()> {
        let mut t = Transfer::reduction("reduce_scatter_block", op, true);
        run::reduce_scatter_block(
            self,
            Start::Blocking,
            Some(t.read(send)?),
            t.write(recv, Fill::Overwrite)?,
            op,
        )
        .and_then(|_| t.blocking(None))
    }

    /// Nonblocking [`reduce_scatter_block`](Self::reduce_scatter_block) (`MPI_Ireduce_scatter_block`): the buffers stay borrowed until the request completes.
    fn ireduce_scatter_block<'s, S: Buffer + ?Sized, R: BufferMut + ?Sized>(
        &self,
        scope: &'s Scope<'s, '_>,
        send: &'s S,
        recv: &'s mut R,
        op: &'s Op,
    ) -> Result<Request<'s>> {
        let mut t = Transfer::reduction("reduce_scatter_block", op, false);
        run::reduce_scatter_block(
            self,
            Start::Immediate,
            Some(t.read(send)?),
            t.write(recv, Fill::Overwrite)?,
            op,
        )
        .map(|r| t.request(scope, r))
    }

    /// Persistent [`reduce_scatter_block`](Self::reduce_scatter_block) (`MPI_Reduce_scatter_block_init`, MPI-4; `MPIX_` on Open MPI 4.1): start it with
    /// [`PersistentRequest::start`] as often as needed. [`Error::Unsupported`] where the library has neither.
    fn reduce_scatter_block_init<'s, S: Buffer + ?Sized, R: BufferMut + ?Sized>(
        &self,
        scope: &'s Scope<'s, '_>,
        send: &'s S,
        recv: &'s mut R,
        op: &'s Op,
    ) -> Result<PersistentRequest<'s>> {
        let mut t = Transfer::reduction("reduce_scatter_block", op, false);
        run::reduce_scatter_block(
            self,
            Start::Persistent,
            Some(t.read(send)?),
            t.write(recv, Fill::Overwrite)?,
            op,
        )
        .map(|r| t.persistent(scope, r))
    }

    /// Reduce_scatter_block with `MPI_IN_PLACE`: `buf` holds all blocks and receives this process's result in its first block. (`MPI_Reduce_scatter_block`, in place)
    fn reduce_scatter_block_in_place<B: BufferMut + ?Sized>(&self, buf: &mut B, op: &Op) -> Result<()> {
        let mut t = Transfer::reduction("reduce_scatter_block", op, true);
        run::reduce_scatter_block(self, Start::Blocking, None, t.write(buf, Fill::Update)?, op)
            .and_then(|_| t.blocking(None))
    }

    /// Nonblocking [`reduce_scatter_block_in_place`](Self::reduce_scatter_block_in_place) (`MPI_Ireduce_scatter_block`): the buffers stay borrowed until the request completes.
    fn ireduce_scatter_block_in_place<'s, B: BufferMut + ?Sized>(
        &self,
        scope: &'s Scope<'s, '_>,
        buf: &'s mut B,
        op: &'s Op,
    ) -> Result<Request<'s>> {
        let mut t = Transfer::reduction("reduce_scatter_block", op, false);
        run::reduce_scatter_block(self, Start::Immediate, None, t.write(buf, Fill::Update)?, op)
            .map(|r| t.request(scope, r))
    }

    /// Persistent [`reduce_scatter_block_in_place`](Self::reduce_scatter_block_in_place) (`MPI_Reduce_scatter_block_init`, MPI-4; `MPIX_` on Open MPI 4.1): start it with
    /// [`PersistentRequest::start`] as often as needed. [`Error::Unsupported`] where the library has neither.
    fn reduce_scatter_block_in_place_init<'s, B: BufferMut + ?Sized>(
        &self,
        scope: &'s Scope<'s, '_>,
        buf: &'s mut B,
        op: &'s Op,
    ) -> Result<PersistentRequest<'s>> {
        let mut t = Transfer::reduction("reduce_scatter_block", op, false);
        run::reduce_scatter_block(self, Start::Persistent, None, t.write(buf, Fill::Update)?, op)
            .map(|r| t.persistent(scope, r))
    }

    /// Reduces `send` with `op` and scatters the result in blocks of `counts[i]` elements: process *i* receives block *i* into `recv`. (`MPI_Reduce_scatter`)
    fn reduce_scatter<S: Buffer + ?Sized, R: BufferMut + ?Sized>(
        &self,
        send: &S,
        recv: &mut R,
        counts: &[i32],
        op: &Op,
    ) -> Result<()> {
        let mut t = Transfer::reduction("reduce_scatter", op, true);
        run::reduce_scatter(
            self,
            Start::Blocking,
            Some(t.read(send)?),
            t.write(recv, Fill::Overwrite)?,
            counts,
            op,
        )
        .and_then(|_| t.blocking(None))
    }

    /// Nonblocking [`reduce_scatter`](Self::reduce_scatter) (`MPI_Ireduce_scatter`): the buffers stay borrowed until the request completes.
    fn ireduce_scatter<'s, S: Buffer + ?Sized, R: BufferMut + ?Sized>(
        &self,
        scope: &'s Scope<'s, '_>,
        send: &'s S,
        recv: &'s mut R,
        counts: &'s [i32],
        op: &'s Op,
    ) -> Result<Request<'s>> {
        let mut t = Transfer::reduction("reduce_scatter", op, false);
        run::reduce_scatter(
            self,
            Start::Immediate,
            Some(t.read(send)?),
            t.write(recv, Fill::Overwrite)?,
            counts,
            op,
        )
        .map(|r| t.request(scope, r))
    }

    /// Persistent [`reduce_scatter`](Self::reduce_scatter) (`MPI_Reduce_scatter_init`, MPI-4; `MPIX_` on Open MPI 4.1): start it with
    /// [`PersistentRequest::start`] as often as needed. [`Error::Unsupported`] where the library has neither.
    fn reduce_scatter_init<'s, S: Buffer + ?Sized, R: BufferMut + ?Sized>(
        &self,
        scope: &'s Scope<'s, '_>,
        send: &'s S,
        recv: &'s mut R,
        counts: &'s [i32],
        op: &'s Op,
    ) -> Result<PersistentRequest<'s>> {
        let mut t = Transfer::reduction("reduce_scatter", op, false);
        run::reduce_scatter(
            self,
            Start::Persistent,
            Some(t.read(send)?),
            t.write(recv, Fill::Overwrite)?,
            counts,
            op,
        )
        .map(|r| t.persistent(scope, r))
    }

    /// Reduce_scatter with `MPI_IN_PLACE`: `buf` holds all blocks and receives this process's result at its start. (`MPI_Reduce_scatter`, in place)
    fn reduce_scatter_in_place<B: BufferMut + ?Sized>(
        &self,
        buf: &mut B,
        counts: &[i32],
        op: &Op,
    ) -> Result<()> {
        let mut t = Transfer::reduction("reduce_scatter", op, true);
        run::reduce_scatter(self, Start::Blocking, None, t.write(buf, Fill::Update)?, counts, op)
            .and_then(|_| t.blocking(None))
    }

    /// Nonblocking [`reduce_scatter_in_place`](Self::reduce_scatter_in_place) (`MPI_Ireduce_scatter`): the buffers stay borrowed until the request completes.
    fn ireduce_scatter_in_place<'s, B: BufferMut + ?Sized>(
        &self,
        scope: &'s Scope<'s, '_>,
        buf: &'s mut B,
        counts: &'s [i32],
        op: &'s Op,
    ) -> Result<Request<'s>> {
        let mut t = Transfer::reduction("reduce_scatter", op, false);
        run::reduce_scatter(self, Start::Immediate, None, t.write(buf, Fill::Update)?, counts, op)
            .map(|r| t.request(scope, r))
    }

    /// Persistent [`reduce_scatter_in_place`](Self::reduce_scatter_in_place) (`MPI_Reduce_scatter_init`, MPI-4; `MPIX_` on Open MPI 4.1): start it with
    /// [`PersistentRequest::start`] as often as needed. [`Error::Unsupported`] where the library has neither.
    fn reduce_scatter_in_place_init<'s, B: BufferMut + ?Sized>(
        &self,
        scope: &'s Scope<'s, '_>,
        buf: &'s mut B,
        counts: &'s [i32],
        op: &'s Op,
    ) -> Result<PersistentRequest<'s>> {
        let mut t = Transfer::reduction("reduce_scatter", op, false);
        run::reduce_scatter(self, Start::Persistent, None, t.write(buf, Fill::Update)?, counts, op)
            .map(|r| t.persistent(scope, r))
    }

    /// Inclusive prefix reduction: process *i* receives `send₀ op … op sendᵢ` in `recv`. (`MPI_Scan`)
    fn scan<S: Buffer + ?Sized, R: BufferMut + ?Sized>(&self, send: &S, recv: &mut R, op: &Op) -> Result<()> {
        let mut t = Transfer::reduction("scan", op, true);
        run::elementwise(
            self,
            Start::Blocking,
            Elementwise::Scan,
            Some(t.read(send)?),
            t.write(recv, Fill::Overwrite)?,
            op,
            &mut t,
        )
        .and_then(|_| t.blocking(None))
    }

    /// Nonblocking [`scan`](Self::scan) (`MPI_Iscan`): the buffers stay borrowed until the request completes.
    fn iscan<'s, S: Buffer + ?Sized, R: BufferMut + ?Sized>(
        &self,
        scope: &'s Scope<'s, '_>,
        send: &'s S,
        recv: &'s mut R,
        op: &'s Op,
    ) -> Result<Request<'s>> {
        let mut t = Transfer::reduction("scan", op, false);
        run::elementwise(
            self,
            Start::Immediate,
            Elementwise::Scan,
            Some(t.read(send)?),
            t.write(recv, Fill::Overwrite)?,
            op,
            &mut t,
        )
        .map(|r| t.request(scope, r))
    }

    /// Persistent [`scan`](Self::scan) (`MPI_Scan_init`, MPI-4; `MPIX_` on Open MPI 4.1): start it with
    /// [`PersistentRequest::start`] as often as needed. [`Error::Unsupported`] where the library has neither.
    fn scan_init<'s, S: Buffer + ?Sized, R: BufferMut + ?Sized>(
        &self,
        scope: &'s Scope<'s, '_>,
        send: &'s S,
        recv: &'s mut R,
        op: &'s Op,
    ) -> Result<PersistentRequest<'s>> {
        let mut t = Transfer::reduction("scan", op, false);
        run::elementwise(
            self,
            Start::Persistent,
            Elementwise::Scan,
            Some(t.read(send)?),
            t.write(recv, Fill::Overwrite)?,
            op,
            &mut t,
        )
        .map(|r| t.persistent(scope, r))
    }

    /// Scan with `MPI_IN_PLACE`. (`MPI_Scan`, in place)
    fn scan_in_place<B: BufferMut + ?Sized>(&self, buf: &mut B, op: &Op) -> Result<()> {
        let mut t = Transfer::reduction("scan", op, true);
        run::elementwise(
            self,
            Start::Blocking,
            Elementwise::Scan,
            None,
            t.write(buf, Fill::Update)?,
            op,
            &mut t,
        )
        .and_then(|_| t.blocking(None))
    }

    /// Nonblocking [`scan_in_place`](Self::scan_in_place) (`MPI_Iscan`): the buffers stay borrowed until the request completes.
    fn iscan_in_place<'s, B: BufferMut + ?Sized>(
        &self,
        scope: &'s Scope<'s, '_>,
        buf: &'s mut B,
        op: &'s Op,
    ) -> Result<Request<'s>> {
        let mut t = Transfer::reduction("scan", op, false);
        run::elementwise(
            self,
            Start::Immediate,
            Elementwise::Scan,
            None,
            t.write(buf, Fill::Update)?,
            op,
            &mut t,
        )
        .map(|r| t.request(scope, r))
    }

    /// Persistent [`scan_in_place`](Self::scan_in_place) (`MPI_Scan_init`, MPI-4; `MPIX_` on Open MPI 4.1): start it with
    /// [`PersistentRequest::start`] as often as needed. [`Error::Unsupported`] where the library has neither.
    fn scan_in_place_init<'s, B: BufferMut + ?Sized>(
        &self,
        scope: &'s Scope<'s, '_>,
        buf: &'s mut B,
        op: &'s Op,
    ) -> Result<PersistentRequest<'s>> {
        let mut t = Transfer::reduction("scan", op, false);
        run::elementwise(
            self,
            Start::Persistent,
            Elementwise::Scan,
            None,
            t.write(buf, Fill::Update)?,
            op,
            &mut t,
        )
        .map(|r| t.persistent(scope, r))
    }

    /// Exclusive prefix reduction: process *i* > 0 receives `send₀ op … op sendᵢ₋₁`; `recv` of process 0 is left as it was. (`MPI_Exscan`)
    fn exscan<S: Buffer + ?Sized, R: BufferMut + ?Sized>(
        &self,
        send: &S,
        recv: &mut R,
        op: &Op,
    ) -> Result<()> {
        let mut t = Transfer::reduction("exscan", op, true);
        run::elementwise(
            self,
            Start::Blocking,
            Elementwise::Exscan,
            Some(t.read(send)?),
            t.write(recv, Fill::Update)?,
            op,
            &mut t,
        )
        .and_then(|_| t.blocking(None))
    }

    /// Nonblocking [`exscan`](Self::exscan) (`MPI_Iexscan`): the buffers stay borrowed until the request completes.
    fn iexscan<'s, S: Buffer + ?Sized, R: BufferMut + ?Sized>(
        &self,
        scope: &'s Scope<'s, '_>,
        send: &'s S,
        recv: &'s mut R,
        op: &'s Op,
    ) -> Result<Request<'s>> {
        let mut t = Transfer::reduction("exscan", op, false);
        run::elementwise(
            self,
            Start::Immediate,
            Elementwise::Exscan,
            Some(t.read(send)?),
            t.write(recv, Fill::Update)?,
            op,
            &mut t,
        )
        .map(|r| t.request(scope, r))
    }

    /// Persistent [`exscan`](Self::exscan) (`MPI_Exscan_init`, MPI-4; `MPIX_` on Open MPI 4.1): start it with
    /// [`PersistentRequest::start`] as often as needed. [`Error::Unsupported`] where the library has neither.
    fn exscan_init<'s, S: Buffer + ?Sized, R: BufferMut + ?Sized>(
        &self,
        scope: &'s Scope<'s, '_>,
        send: &'s S,
        recv: &'s mut R,
        op: &'s Op,
    ) -> Result<PersistentRequest<'s>> {
        let mut t = Transfer::reduction("exscan", op, false);
        run::elementwise(
            self,
            Start::Persistent,
            Elementwise::Exscan,
            Some(t.read(send)?),
            t.write(recv, Fill::Update)?,
            op,
            &mut t,
        )
        .map(|r| t.persistent(scope, r))
    }

    /// Exscan with `MPI_IN_PLACE`. (`MPI_Exscan`, in place)
    fn exscan_in_place<B: BufferMut + ?Sized>(&self, buf: &mut B, op: &Op) -> Result<()> {
        let mut t = Transfer::reduction("exscan", op, true);
        run::elementwise(
            self,
            Start::Blocking,
            Elementwise::Exscan,
            None,
            t.write(buf, Fill::Update)?,
            op,
            &mut t,
        )
        .and_then(|_| t.blocking(None))
    }

    /// Nonblocking [`exscan_in_place`](Self::exscan_in_place) (`MPI_Iexscan`): the buffers stay borrowed until the request completes.
    fn iexscan_in_place<'s, B: BufferMut + ?Sized>(
        &self,
        scope: &'s Scope<'s, '_>,
        buf: &'s mut B,
        op: &'s Op,
    ) -> Result<Request<'s>> {
        let mut t = Transfer::reduction("exscan", op, false);
        run::elementwise(
            self,
            Start::Immediate,
            Elementwise::Exscan,
            None,
            t.write(buf, Fill::Update)?,
            op,
            &mut t,
        )
        .map(|r| t.request(scope, r))
    }

    /// Persistent [`exscan_in_place`](Self::exscan_in_place) (`MPI_Exscan_init`, MPI-4; `MPIX_` on Open MPI 4.1): start it with
    /// [`PersistentRequest::start`] as often as needed. [`Error::Unsupported`] where the library has neither.
    fn exscan_in_place_init<'s, B: BufferMut + ?Sized>(
        &self,
        scope: &'s Scope<'s, '_>,
        buf: &'s mut B,
        op: &'s Op,
    ) -> Result<PersistentRequest<'s>> {
        let mut t = Transfer::reduction("exscan", op, false);
        run::elementwise(
            self,
            Start::Persistent,
            Elementwise::Exscan,
            None,
            t.write(buf, Fill::Update)?,
            op,
            &mut t,
        )
        .map(|r| t.persistent(scope, r))
    }

    /// All-to-all with a count, byte displacement and datatype per process on both sides
    /// (`MPI_Alltoallw`): every block is checked to lie inside its buffer.
    fn alltoallw<S: Buffer + ?Sized, R: BufferMut + ?Sized>(
        &self,
        send: &VaryingW<'_, S>,
        recv: &mut VaryingWMut<'_, R>,
    ) -> Result<()> {
        let mut t = Transfer::new("alltoallw");
        run::alltoallw(
            self,
            Start::Blocking,
            Some((t.read(send.buf)?, &send.blocks)),
            t.write(recv.buf, Fill::Update)?,
            &recv.blocks,
        )
        .and_then(|_| t.blocking(None))
    }

    /// Alltoallw with `MPI_IN_PLACE`: `buf` holds the outgoing blocks and receives the incoming ones
    /// in the same layout (`MPI_Alltoallw`).
    fn alltoallw_in_place<B: BufferMut + ?Sized>(&self, buf: &mut VaryingWMut<'_, B>) -> Result<()> {
        let mut t = Transfer::new("alltoallw");
        run::alltoallw(self, Start::Blocking, None, t.write(buf.buf, Fill::Update)?, &buf.blocks)
            .and_then(|_| t.blocking(None))
    }

    /// Nonblocking [`alltoallw`](Self::alltoallw) (`MPI_Ialltoallw`).
    fn ialltoallw<'s, S: Buffer + ?Sized, R: BufferMut + ?Sized>(
        &self,
        scope: &'s Scope<'s, '_>,
        send: &'s VaryingW<'s, S>,
        recv: &'s mut VaryingWMut<'_, R>,
    ) -> Result<Request<'s>> {
        let mut t = Transfer::new("alltoallw");
        run::alltoallw(
            self,
            Start::Immediate,
            Some((t.read(send.buf)?, &send.blocks)),
            t.write(recv.buf, Fill::Update)?,
            &recv.blocks,
        )
        .map(|r| t.request(scope, r))
    }

    /// Nonblocking [`alltoallw_in_place`](Self::alltoallw_in_place) (`MPI_Ialltoallw`).
    fn ialltoallw_in_place<'s, B: BufferMut + ?Sized>(
        &self,
        scope: &'s Scope<'s, '_>,
        buf: &'s mut VaryingWMut<'_, B>,
    ) -> Result<Request<'s>> {
        let mut t = Transfer::new("alltoallw");
        run::alltoallw(self, Start::Immediate, None, t.write(buf.buf, Fill::Update)?, &buf.blocks)
            .map(|r| t.request(scope, r))
    }

    /// Persistent [`alltoallw`](Self::alltoallw) (`MPI_Alltoallw_init`, MPI-4; `MPIX_` on Open MPI 4.1).
    fn alltoallw_init<'s, S: Buffer + ?Sized, R: BufferMut + ?Sized>(
        &self,
        scope: &'s Scope<'s, '_>,
        send: &'s VaryingW<'s, S>,
        recv: &'s mut VaryingWMut<'_, R>,
    ) -> Result<PersistentRequest<'s>> {
        let mut t = Transfer::new("alltoallw");
        run::alltoallw(
            self,
            Start::Persistent,
            Some((t.read(send.buf)?, &send.blocks)),
            t.write(recv.buf, Fill::Update)?,
            &recv.blocks,
        )
        .map(|r| t.persistent(scope, r))
    }

    /// Persistent [`alltoallw_in_place`](Self::alltoallw_in_place) (`MPI_Alltoallw_init`, MPI-4; `MPIX_` on Open MPI 4.1).
    fn alltoallw_in_place_init<'s, B: BufferMut + ?Sized>(
        &self,
        scope: &'s Scope<'s, '_>,
        buf: &'s mut VaryingWMut<'_, B>,
    ) -> Result<PersistentRequest<'s>> {
        let mut t = Transfer::new("alltoallw");
        run::alltoallw(self, Start::Persistent, None, t.write(buf.buf, Fill::Update)?, &buf.blocks)
            .map(|r| t.persistent(scope, r))
    }
}

impl<C: Communicator + ?Sized> Collective for C {}
