//! Messages past 2^31 elements on MPI libraries whose counts are `int` (all of MPI-3.1, and
//! the non-`_c` calls of MPI-4).
//!
//! - Element-wise reductions and scans are *chunked*: the blocking call is repeated on pieces
//!   of at most 2^30 elements, which gives the same result because every element is reduced
//!   independently.
//! - Everything else sends one item of a *big datatype*: 2^30-element chunks plus a
//!   remainder, resized so that consecutive items (the blocks of gather, scatter …) follow
//!   each other exactly as the elements would.
//!
//! Small counts take neither path: the count goes to MPI as it is.

use crate::error::{mpi_call, Error, Result};
use crate::ffi::{self, MPI_Datatype};
use std::ffi::c_int;

/// Elements per chunk of the large-count schemes.
pub(crate) const CHUNK: usize = 1 << 30;

/// A count and datatype MPI accepts for `count` items of `datatype`, owning the datatype when
/// one had to be built.
pub(crate) struct Block {
    pub(crate) count: c_int,
    pub(crate) datatype: MPI_Datatype,
    owned: bool,
}

impl Drop for Block {
    fn drop(&mut self) {
        if !self.owned {
            return;
        }
        // Built on this thread, which may not be the main one: freed under the gate.
        if let Some(_call) = crate::runtime::enter_if_active() {
            // SAFETY: built and committed by `block`; MPI lets a datatype be freed while
            // operations started with it are pending.
            unsafe { ffi::MPI_Type_free(&mut self.datatype) };
        }
    }
}

/// `count` items of `datatype` as (count, datatype): the same when `count` fits an `int`,
/// otherwise one item of a big datatype of that many elements.
#[inline(always)]
pub(crate) fn block(count: usize, datatype: MPI_Datatype) -> Result<Block> {
    match c_int::try_from(count) {
        Ok(count) => Ok(Block { count, datatype, owned: false }),
        Err(_) => big_block(count, datatype),
    }
}

/// The extent of one item of `datatype` in bytes.
pub(crate) fn extent(datatype: MPI_Datatype) -> Result<usize> {
    let (mut lb, mut extent) = (0, 0);
    mpi_call!(MPI_Type_get_extent(datatype, &mut lb, &mut extent))?;
    Ok(extent.max(0) as usize)
}

/// The bytes `count` items of extent `ext` span, as an MPI address (an error past it: items of
/// zero size can be counted past what any memory holds).
fn span(count: usize, ext: usize) -> Result<ffi::MPI_Aint> {
    count.checked_mul(ext).and_then(|b| ffi::MPI_Aint::try_from(b).ok()).ok_or(Error::CountOverflow {
        what: "items (count times extent in bytes)",
        value: count,
        max: isize::MAX as usize / ext.max(1),
    })
}

#[cold]
fn big_block(count: usize, datatype: MPI_Datatype) -> Result<Block> {
    let ext = extent(datatype)?;
    let total = span(count, ext)?;
    let (whole, rest) = (count / CHUNK, count % CHUNK);
    let mut temps = Temps(Vec::new());
    let chunk = temps.contiguous(CHUNK, datatype)?;
    let chunks = temps.contiguous(whole, chunk)?;
    let joined = if rest == 0 {
        chunks
    } else {
        let tail = temps.contiguous(rest, datatype)?;
        let lens = [1, 1];
        let displs = [0, span(whole * CHUNK, ext)?];
        let types = [chunks, tail];
        let mut t = ffi::DATATYPE_NULL();
        mpi_call!(MPI_Type_create_struct(2, lens.as_ptr(), displs.as_ptr(), types.as_ptr(), &mut t))?;
        temps.0.push(t);
        t
    };
    let mut big = ffi::DATATYPE_NULL();
    mpi_call!(MPI_Type_create_resized(joined, 0, total, &mut big))?;
    mpi_call!(MPI_Type_commit(&mut big))?;
    Ok(Block { count: 1, datatype: big, owned: true })
}

/// Intermediate datatypes, freed when the big one is built (it keeps what it needs).
struct Temps(Vec<MPI_Datatype>);

impl Temps {
    fn contiguous(&mut self, n: usize, old: MPI_Datatype) -> Result<MPI_Datatype> {
        let n = c_int::try_from(n).map_err(|_| Error::CountOverflow {
            what: "elements / 2^30",
            value: n,
            max: c_int::MAX as usize,
        })?;
        let mut t = ffi::DATATYPE_NULL();
        mpi_call!(MPI_Type_contiguous(n, old, &mut t))?;
        self.0.push(t);
        Ok(t)
    }
}

impl Drop for Temps {
    fn drop(&mut self) {
        if self.0.is_empty() {
            return;
        }
        let Some(_call) = crate::runtime::enter_if_active() else { return };
        for t in &mut self.0 {
            // SAFETY: uncommitted intermediates this module built.
            unsafe { ffi::MPI_Type_free(t) };
        }
    }
}

/// Calls `f(byte_offset, count)` on consecutive pieces of `count` items of `datatype`, each
/// small enough for an `int` count (one call when it already is).
#[inline(always)]
pub(crate) fn chunked(
    count: usize,
    datatype: MPI_Datatype,
    mut f: impl FnMut(usize, c_int) -> Result<()>,
) -> Result<()> {
    if let Ok(n) = c_int::try_from(count) {
        return f(0, n);
    }
    let ext = extent(datatype)?;
    span(count, ext)?; // every offset below is smaller
    let mut done = 0;
    while done < count {
        let n = (count - done).min(CHUNK);
        f(done * ext, n as c_int)?;
        done += n;
    }
    Ok(())
}

/// The error for a large count where only the blocking form can split the message.
#[cold]
pub(crate) fn nonblocking_too_large(what: &'static str, value: usize) -> Error {
    Error::CountOverflow { what, value, max: c_int::MAX as usize }
}
