//! Pipelined staging of blocking reductions and broadcasts: the message is cut into chunks
//! (the same cut on every rank, see [`pipeline_chunk`]) and, for staged buffers, the device
//! copies of one chunk overlap the MPI call on another.
//!
//! All device-to-staging copies are enqueued at once, one event after each chunk; the loop
//! then waits for chunk *k*'s event, runs MPI on chunk *k* and enqueues chunk *k*'s copy back
//! to the device, which the device performs while MPI works on chunk *k + 1*. With one
//! stream per buffer (the copies must stay ordered with the buffer's other work) the time is
//! about one chunk's copy in, plus the MPI calls, plus one chunk's copy back, instead of
//! all copies plus all MPI.

use super::pipeline_chunk;
use super::stage::Transfer;
use crate::bigcount::{chunked, extent, CHUNK};
use crate::error::Result;
use crate::ffi::MPI_Datatype;
use mpi4rs_device::staging::chunk_plan;
use std::ffi::c_int;

/// Calls `f(byte_offset, count)` over pieces of `count` items of `datatype` (`bytes` in all):
/// pipeline chunks where [`pipeline_chunk`] says so and `blocking`, otherwise pieces small
/// enough for an `int` count (one call when it already is).
#[inline(always)]
pub(crate) fn chunks(
    t: &mut Transfer,
    blocking: bool,
    count: usize,
    datatype: MPI_Datatype,
    bytes: usize,
    f: impl FnMut(usize, c_int) -> Result<()>,
) -> Result<()> {
    if blocking {
        if let Some(chunk_bytes) = pipeline_chunk(bytes) {
            return pipelined(t, count, datatype, chunk_bytes, f);
        }
    }
    chunked(count, datatype, f)
}

#[cold]
#[inline(never)]
fn pipelined(
    t: &mut Transfer,
    count: usize,
    datatype: MPI_Datatype,
    chunk_bytes: usize,
    mut f: impl FnMut(usize, c_int) -> Result<()>,
) -> Result<()> {
    let ext = extent(datatype)?.max(1);
    let plan = chunk_plan(count, ext, chunk_bytes.min(CHUNK.saturating_mul(ext)));
    let deferred = t.has_deferred();
    if deferred {
        t.enqueue_chunks_in(&plan)?;
    }
    super::CHUNKS.fetch_add(plan.len(), std::sync::atomic::Ordering::Relaxed);
    for (k, r) in plan.iter().enumerate() {
        if deferred {
            t.wait_chunk_in(k)?;
        }
        f(r.start * ext, r.len() as c_int)?;
        if deferred {
            t.chunk_out(r)?;
        }
    }
    Ok(())
}
