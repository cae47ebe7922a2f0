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
mod reduction;
mod run;
mod varying;
mod vector;

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
use reduction::Elementwise;
use run::Start;
use vector::Blocks;

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

/// Writes the three forms of a collective from one body: the blocking method, its
/// nonblocking `i…` form (lends the buffers for the scope, returns a [`Request`]) and its
/// persistent `…_init` form (a [`PersistentRequest`]; MPI-4, or `MPIX_` on Open MPI 4.1).
/// Each parameter is written `name: blocking type => scoped type`; the body sees `start`
/// ([`Start`]), the transfer `t` made by the constructor expression, and (if named) `blocking`:
/// whether the operation may pipeline its staged buffers (the blocking form, on an
/// intracommunicator; operations that never pipeline pass `false` to their transfer).
macro_rules! collective {
    (
        $(#[$doc:meta])*
        fn $name:ident, $iname:ident ($impi:literal), $init:ident ($mpi_init:literal);
        [$($gens:tt)*] (&$this:ident $(, $p:ident: $tb:ty => $ts:ty)* $(,)?);
        |$start:ident, $t:ident $(, $blocking:ident)?| $new:expr => $call:expr;
    ) => {
        $(#[$doc])*
        fn $name<$($gens)*>(&$this $(, $p: $tb)*) -> Result<()> {
            let $start = Start::Blocking;
            // Staged buffers are left to the pipeline only where it runs: it never does on an
            // intercommunicator (its idle processes cannot know the size).
            $(let $blocking = !$this.is_inter();)?
            let mut $t = $new;
            $call.and_then(|_| $t.blocking(None))
        }

        #[doc = concat!("Nonblocking [`", stringify!($name), "`](Self::", stringify!($name), ") (`", $impi,
            "`): the buffers stay borrowed until the request completes.")]
        fn $iname<'s, $($gens)*>(&$this, scope: &'s Scope<'s, '_> $(, $p: $ts)*) -> Result<Request<'s>> {
            let $start = Start::Immediate;
            $(let $blocking = false;)?
            let mut $t = $new;
            $call.map(|r| $t.request(scope, r))
        }

        #[doc = concat!("Persistent [`", stringify!($name), "`](Self::", stringify!($name), ") (`", $mpi_init,
            "`, MPI-4; `MPIX_` on Open MPI 4.1): start it with\n[`PersistentRequest::start`] as often as needed. ",
            "[`Error::Unsupported`] where the library has neither.")]
        fn $init<'s, $($gens)*>(&$this, scope: &'s Scope<'s, '_> $(, $p: $ts)*) -> Result<PersistentRequest<'s>> {
            let $start = Start::Persistent;
            $(let $blocking = false;)?
            let mut $t = $new;
            $call.map(|r| $t.persistent(scope, r))
        }
    };
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

    collective! {
        /// Broadcasts `buf` from `root` to every process (on an intercommunicator, from the root group to the other). (`MPI_Bcast`)
        fn bcast, ibcast ("MPI_Ibcast"), bcast_init ("MPI_Bcast_init");
        [B: BufferMut + ?Sized] (&self, buf: &mut B => &'s mut B, root: i32 => i32);
        |start, t, blocking| Transfer::new("bcast").pipelined_if(blocking) => run::bcast(self, start, t.write(buf, bcast_fill(self, root))?, root, &mut t);
    }

    collective! {
        /// Scatters equal blocks of `send` (significant at the root only; `None` elsewhere) so that process *i* receives block *i* into `recv`. `send` must hold one block of `recv.len()` elements per process. On an intercommunicator `recv` is ignored at the root. (`MPI_Scatter`)
        fn scatter, iscatter ("MPI_Iscatter"), scatter_init ("MPI_Scatter_init");
        [S: Buffer + ?Sized, R: BufferMut + ?Sized] (&self, send: Option<&S> => Option<&'s S>, recv: &mut R => &'s mut R, root: i32 => i32);
        |start, t| Transfer::new("scatter") => run::scatter(self, start, t.read_opt(send)?, t.write(recv, Fill::Update)?, false, root);
    }

    collective! {
        /// Scatter with `MPI_IN_PLACE`: at the root `buf` holds all blocks and its own stays where it is; elsewhere `buf` receives the block. (`MPI_Scatter`, in place)
        fn scatter_in_place, iscatter_in_place ("MPI_Iscatter"), scatter_in_place_init ("MPI_Scatter_init");
        [B: BufferMut + ?Sized] (&self, buf: &mut B => &'s mut B, root: i32 => i32);
        |start, t| Transfer::new("scatter") => { let b = t.write(buf, Fill::Update)?; run::scatter(self, start, Some(b.as_spec()), b, true, root) };
    }

    collective! {
        /// Gathers the equal blocks `send` of every process into `recv` at the root (significant there only; `None` elsewhere), block *i* from process *i*. (`MPI_Gather`)
        fn gather, igather ("MPI_Igather"), gather_init ("MPI_Gather_init");
        [S: Buffer + ?Sized, R: BufferMut + ?Sized] (&self, send: &S => &'s S, recv: Option<&mut R> => Option<&'s mut R>, root: i32 => i32);
        |start, t| Transfer::new("gather") => run::gather(self, start, t.read(send)?, t.write_opt(recv, Fill::Update)?, false, root);
    }

    collective! {
        /// Gather with `MPI_IN_PLACE`: at the root `buf` receives all blocks and its own is already at its place; elsewhere `buf` is the block sent. (`MPI_Gather`, in place)
        fn gather_in_place, igather_in_place ("MPI_Igather"), gather_in_place_init ("MPI_Gather_init");
        [B: BufferMut + ?Sized] (&self, buf: &mut B => &'s mut B, root: i32 => i32);
        |start, t| Transfer::new("gather") => { let b = t.write(buf, Fill::Update)?; run::gather(self, start, b.as_spec(), Some(b), true, root) };
    }

    collective! {
        /// Gathers the equal blocks `send` of every process into `recv` on every process. (`MPI_Allgather`)
        fn allgather, iallgather ("MPI_Iallgather"), allgather_init ("MPI_Allgather_init");
        [S: Buffer + ?Sized, R: BufferMut + ?Sized] (&self, send: &S => &'s S, recv: &mut R => &'s mut R);
        |start, t| Transfer::new("allgather") => run::allgather(self, start, Some(t.read(send)?), t.write(recv, Fill::Overwrite)?);
    }

    collective! {
        /// Allgather with `MPI_IN_PLACE`: each process's block is already at its place in `buf`. (`MPI_Allgather`, in place)
        fn allgather_in_place, iallgather_in_place ("MPI_Iallgather"), allgather_in_place_init ("MPI_Allgather_init");
        [B: BufferMut + ?Sized] (&self, buf: &mut B => &'s mut B);
        |start, t| Transfer::new("allgather") => run::allgather(self, start, None, t.write(buf, Fill::Update)?);
    }

    collective! {
        /// Sends block *j* of `send` to process *j* and receives block *i* of `recv` from process *i*. (`MPI_Alltoall`)
        fn alltoall, ialltoall ("MPI_Ialltoall"), alltoall_init ("MPI_Alltoall_init");
        [S: Buffer + ?Sized, R: BufferMut + ?Sized] (&self, send: &S => &'s S, recv: &mut R => &'s mut R);
        |start, t| Transfer::new("alltoall") => run::alltoall(self, start, Some(t.read(send)?), t.write(recv, Fill::Overwrite)?);
    }

    collective! {
        /// Alltoall with `MPI_IN_PLACE`: `buf` holds the outgoing blocks and receives the incoming ones. (`MPI_Alltoall`, in place)
        fn alltoall_in_place, ialltoall_in_place ("MPI_Ialltoall"), alltoall_in_place_init ("MPI_Alltoall_init");
        [B: BufferMut + ?Sized] (&self, buf: &mut B => &'s mut B);
        |start, t| Transfer::new("alltoall") => run::alltoall(self, start, None, t.write(buf, Fill::Update)?);
    }

    collective! {
        /// Scatters blocks of varying size: process *i* receives `counts[i]` elements from `displs[i]` of the root's `send` (significant at the root only). (`MPI_Scatterv`)
        fn scatterv, iscatterv ("MPI_Iscatterv"), scatterv_init ("MPI_Scatterv_init");
        [S: Buffer + ?Sized, R: BufferMut + ?Sized] (&self, send: Option<&Varying<'_, S>> => Option<&'s Varying<'s, S>>, recv: &mut R => &'s mut R, root: i32 => i32);
        |start, t| Transfer::new("scatterv") => vector::scatterv(self, start, match send { Some(v) => Some((t.read(v.buf)?, v.blocks())), None => None, }, t.write(recv, Fill::Update)?, root);
    }

    collective! {
        /// Gathers blocks of varying size into `recv` at the root (significant there only): process *i*'s block lands at `displs[i]`. (`MPI_Gatherv`)
        fn gatherv, igatherv ("MPI_Igatherv"), gatherv_init ("MPI_Gatherv_init");
        [S: Buffer + ?Sized, R: BufferMut + ?Sized] (&self, send: &S => &'s S, recv: Option<&mut VaryingMut<'_, R>> => Option<&'s mut VaryingMut<'_, R>>, root: i32 => i32);
        |start, t| Transfer::new("gatherv") => vector::gatherv(self, start, t.read(send)?, match recv { Some(v) => Some((t.write(v.buf, Fill::Update)?, v.blocks())), None => None, }, root);
    }

    collective! {
        /// Gathers blocks of varying size on every process. (`MPI_Allgatherv`)
        fn allgatherv, iallgatherv ("MPI_Iallgatherv"), allgatherv_init ("MPI_Allgatherv_init");
        [S: Buffer + ?Sized, R: BufferMut + ?Sized] (&self, send: &S => &'s S, recv: &mut VaryingMut<'_, R> => &'s mut VaryingMut<'_, R>);
        |start, t| Transfer::new("allgatherv") => vector::allgatherv(self, start, Some(t.read(send)?), t.write(recv.buf, Fill::Update)?, recv.blocks());
    }

    collective! {
        /// Allgatherv with `MPI_IN_PLACE`: each process's block is already at its place in `buf`. (`MPI_Allgatherv`, in place)
        fn allgatherv_in_place, iallgatherv_in_place ("MPI_Iallgatherv"), allgatherv_in_place_init ("MPI_Allgatherv_init");
        [B: BufferMut + ?Sized] (&self, buf: &mut VaryingMut<'_, B> => &'s mut VaryingMut<'_, B>);
        |start, t| Transfer::new("allgatherv") => vector::allgatherv(self, start, None, t.write(buf.buf, Fill::Update)?, buf.blocks());
    }

    collective! {
        /// All-to-all with blocks of varying size on both sides. (`MPI_Alltoallv`)
        fn alltoallv, ialltoallv ("MPI_Ialltoallv"), alltoallv_init ("MPI_Alltoallv_init");
        [S: Buffer + ?Sized, R: BufferMut + ?Sized] (&self, send: &Varying<'_, S> => &'s Varying<'s, S>, recv: &mut VaryingMut<'_, R> => &'s mut VaryingMut<'_, R>);
        |start, t| Transfer::new("alltoallv") => vector::alltoallv(self, start, Some((t.read(send.buf)?, send.blocks())), t.write(recv.buf, Fill::Update)?, recv.blocks());
    }

    collective! {
        /// Alltoallv with `MPI_IN_PLACE`: `buf` holds the outgoing blocks and receives the incoming ones in the same layout. (`MPI_Alltoallv`, in place)
        fn alltoallv_in_place, ialltoallv_in_place ("MPI_Ialltoallv"), alltoallv_in_place_init ("MPI_Alltoallv_init");
        [B: BufferMut + ?Sized] (&self, buf: &mut VaryingMut<'_, B> => &'s mut VaryingMut<'_, B>);
        |start, t| Transfer::new("alltoallv") => vector::alltoallv(self, start, None, t.write(buf.buf, Fill::Update)?, buf.blocks());
    }

    collective! {
        /// Reduces `send` of every process with `op` into `recv` at the root (significant there only; `None` elsewhere). (`MPI_Reduce`)
        fn reduce, ireduce ("MPI_Ireduce"), reduce_init ("MPI_Reduce_init");
        [S: Buffer + ?Sized, R: BufferMut + ?Sized] (&self, send: &S => &'s S, recv: Option<&mut R> => Option<&'s mut R>, op: &Op => &'s Op, root: i32 => i32);
        |start, t, blocking| Transfer::reduction("reduce", op, blocking) => reduction::reduce(self, start, t.read(send)?, t.write_opt(recv, Fill::Update)?, false, op, root, &mut t);
    }

    collective! {
        /// Reduce with `MPI_IN_PLACE`: at the root `buf` is its contribution and receives the result; elsewhere `buf` is the contribution. (`MPI_Reduce`, in place)
        fn reduce_in_place, ireduce_in_place ("MPI_Ireduce"), reduce_in_place_init ("MPI_Reduce_init");
        [B: BufferMut + ?Sized] (&self, buf: &mut B => &'s mut B, op: &Op => &'s Op, root: i32 => i32);
        |start, t, blocking| Transfer::reduction("reduce", op, blocking) => { let b = t.write(buf, Fill::Update)?; reduction::reduce(self, start, b.as_spec(), Some(b), true, op, root, &mut t) };
    }

    /// Reduces one value of every process with `op` and returns the result on every process
    /// (`MPI_Allreduce` of one element): `let r = comm.allreduce_value(residual, &Op::SUM)?`.
    /// Any predefined operation that fits the type, or a user operation.
    fn allreduce_value<T: BufferElement>(&self, value: T, op: &Op) -> Result<T> {
        let mut out = value;
        self.allreduce(&value, &mut out, op)?;
        Ok(out)
    }

    collective! {
        /// Reduces `send` of every process with `op` into `recv` on every process. (`MPI_Allreduce`)
        fn allreduce, iallreduce ("MPI_Iallreduce"), allreduce_init ("MPI_Allreduce_init");
        [S: Buffer + ?Sized, R: BufferMut + ?Sized] (&self, send: &S => &'s S, recv: &mut R => &'s mut R, op: &Op => &'s Op);
        |start, t, blocking| Transfer::reduction("allreduce", op, blocking) => reduction::elementwise(self, start, Elementwise::Allreduce, Some(t.read(send)?), t.write(recv, Fill::Overwrite)?, op, &mut t);
    }

    collective! {
        /// Allreduce with `MPI_IN_PLACE`: `buf` is this process's contribution and receives the result. (`MPI_Allreduce`, in place)
        fn allreduce_in_place, iallreduce_in_place ("MPI_Iallreduce"), allreduce_in_place_init ("MPI_Allreduce_init");
        [B: BufferMut + ?Sized] (&self, buf: &mut B => &'s mut B, op: &Op => &'s Op);
        |start, t, blocking| Transfer::reduction("allreduce", op, blocking) => reduction::elementwise(self, start, Elementwise::Allreduce, None, t.write(buf, Fill::Update)?, op, &mut t);
    }

    collective! {
        /// Reduces `send` (one block per process) with `op` and scatters the result: process *i* receives block *i* into `recv`. (`MPI_Reduce_scatter_block`)
        fn reduce_scatter_block, ireduce_scatter_block ("MPI_Ireduce_scatter_block"), reduce_scatter_block_init ("MPI_Reduce_scatter_block_init");
        [S: Buffer + ?Sized, R: BufferMut + ?Sized] (&self, send: &S => &'s S, recv: &mut R => &'s mut R, op: &Op => &'s Op);
        |start, t| Transfer::reduction("reduce_scatter_block", op, false) => reduction::reduce_scatter_block(self, start, Some(t.read(send)?), t.write(recv, Fill::Overwrite)?, op);
    }

    collective! {
        /// Reduce_scatter_block with `MPI_IN_PLACE`: `buf` holds all blocks and receives this process's result in its first block. (`MPI_Reduce_scatter_block`, in place)
        fn reduce_scatter_block_in_place, ireduce_scatter_block_in_place ("MPI_Ireduce_scatter_block"), reduce_scatter_block_in_place_init ("MPI_Reduce_scatter_block_init");
        [B: BufferMut + ?Sized] (&self, buf: &mut B => &'s mut B, op: &Op => &'s Op);
        |start, t| Transfer::reduction("reduce_scatter_block", op, false) => reduction::reduce_scatter_block(self, start, None, t.write(buf, Fill::Update)?, op);
    }

    collective! {
        /// Reduces `send` with `op` and scatters the result in blocks of `counts[i]` elements: process *i* receives block *i* into `recv`. (`MPI_Reduce_scatter`)
        fn reduce_scatter, ireduce_scatter ("MPI_Ireduce_scatter"), reduce_scatter_init ("MPI_Reduce_scatter_init");
        [S: Buffer + ?Sized, R: BufferMut + ?Sized] (&self, send: &S => &'s S, recv: &mut R => &'s mut R, counts: &[i32] => &'s [i32], op: &Op => &'s Op);
        |start, t| Transfer::reduction("reduce_scatter", op, false) => reduction::reduce_scatter(self, start, Some(t.read(send)?), t.write(recv, Fill::Overwrite)?, counts, op);
    }

    collective! {
        /// Reduce_scatter with `MPI_IN_PLACE`: `buf` holds all blocks and receives this process's result at its start. (`MPI_Reduce_scatter`, in place)
        fn reduce_scatter_in_place, ireduce_scatter_in_place ("MPI_Ireduce_scatter"), reduce_scatter_in_place_init ("MPI_Reduce_scatter_init");
        [B: BufferMut + ?Sized] (&self, buf: &mut B => &'s mut B, counts: &[i32] => &'s [i32], op: &Op => &'s Op);
        |start, t| Transfer::reduction("reduce_scatter", op, false) => reduction::reduce_scatter(self, start, None, t.write(buf, Fill::Update)?, counts, op);
    }

    collective! {
        /// Inclusive prefix reduction: process *i* receives `send₀ op … op sendᵢ` in `recv`. (`MPI_Scan`)
        fn scan, iscan ("MPI_Iscan"), scan_init ("MPI_Scan_init");
        [S: Buffer + ?Sized, R: BufferMut + ?Sized] (&self, send: &S => &'s S, recv: &mut R => &'s mut R, op: &Op => &'s Op);
        |start, t, blocking| Transfer::reduction("scan", op, blocking) => reduction::elementwise(self, start, Elementwise::Scan, Some(t.read(send)?), t.write(recv, Fill::Overwrite)?, op, &mut t);
    }

    collective! {
        /// Scan with `MPI_IN_PLACE`. (`MPI_Scan`, in place)
        fn scan_in_place, iscan_in_place ("MPI_Iscan"), scan_in_place_init ("MPI_Scan_init");
        [B: BufferMut + ?Sized] (&self, buf: &mut B => &'s mut B, op: &Op => &'s Op);
        |start, t, blocking| Transfer::reduction("scan", op, blocking) => reduction::elementwise(self, start, Elementwise::Scan, None, t.write(buf, Fill::Update)?, op, &mut t);
    }

    collective! {
        /// Exclusive prefix reduction: process *i* > 0 receives `send₀ op … op sendᵢ₋₁`; `recv` of process 0 is left as it was. (`MPI_Exscan`)
        fn exscan, iexscan ("MPI_Iexscan"), exscan_init ("MPI_Exscan_init");
        [S: Buffer + ?Sized, R: BufferMut + ?Sized] (&self, send: &S => &'s S, recv: &mut R => &'s mut R, op: &Op => &'s Op);
        |start, t, blocking| Transfer::reduction("exscan", op, blocking) => reduction::elementwise(self, start, Elementwise::Exscan, Some(t.read(send)?), t.write(recv, Fill::Update)?, op, &mut t);
    }

    collective! {
        /// Exscan with `MPI_IN_PLACE`. (`MPI_Exscan`, in place)
        fn exscan_in_place, iexscan_in_place ("MPI_Iexscan"), exscan_in_place_init ("MPI_Exscan_init");
        [B: BufferMut + ?Sized] (&self, buf: &mut B => &'s mut B, op: &Op => &'s Op);
        |start, t, blocking| Transfer::reduction("exscan", op, blocking) => reduction::elementwise(self, start, Elementwise::Exscan, None, t.write(buf, Fill::Update)?, op, &mut t);
    }

    collective! {
        /// All-to-all with a count, byte displacement and datatype per process on both sides
        /// (`MPI_Alltoallw`): every block is checked to lie inside its buffer.
        fn alltoallw, ialltoallw ("MPI_Ialltoallw"), alltoallw_init ("MPI_Alltoallw_init");
        [S: Buffer + ?Sized, R: BufferMut + ?Sized] (&self, send: &VaryingW<'_, S> => &'s VaryingW<'s, S>, recv: &mut VaryingWMut<'_, R> => &'s mut VaryingWMut<'_, R>);
        |start, t| Transfer::new("alltoallw") => vector::alltoallw(self, start, Some((t.read(send.buf)?, &send.blocks)), t.write(recv.buf, Fill::Update)?, &recv.blocks);
    }

    collective! {
        /// Alltoallw with `MPI_IN_PLACE`: `buf` holds the outgoing blocks and receives the incoming ones
        /// in the same layout (`MPI_Alltoallw`).
        fn alltoallw_in_place, ialltoallw_in_place ("MPI_Ialltoallw"), alltoallw_in_place_init ("MPI_Alltoallw_init");
        [B: BufferMut + ?Sized] (&self, buf: &mut VaryingWMut<'_, B> => &'s mut VaryingWMut<'_, B>);
        |start, t| Transfer::new("alltoallw") => vector::alltoallw(self, start, None, t.write(buf.buf, Fill::Update)?, &buf.blocks);
    }
}

impl<C: Communicator + ?Sized> Collective for C {}
