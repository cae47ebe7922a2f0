//! Buffers with a count and displacement per process, for the vector collectives
//! (`scatterv`, `gatherv`, `allgatherv`, `alltoallv`): mpi4py's `[buf, counts, displs]`.

use std::borrow::Cow;

/// A send buffer split into one block per process: `counts[i]` items from offset `displs[i]`
/// (both in items of the buffer's datatype).
///
/// ```
/// use mpi4rs::Varying;
/// let data = [1.0f64, 2.0, 3.0, 4.0, 5.0, 6.0];
/// let v = Varying::packed(&data, &[1, 2, 3]); // displacements 0, 1, 3
/// assert_eq!(v.displs(), &[0, 1, 3]);
/// ```
pub struct Varying<'a, B: ?Sized> {
    pub(crate) buf: &'a B,
    pub(crate) counts: Cow<'a, [i32]>,
    pub(crate) displs: Cow<'a, [i32]>,
}

/// A receive buffer split into one block per process (see [`Varying`]).
pub struct VaryingMut<'a, B: ?Sized> {
    pub(crate) buf: &'a mut B,
    pub(crate) counts: Cow<'a, [i32]>,
    pub(crate) displs: Cow<'a, [i32]>,
}

/// Displacements of blocks laid end to end (saturating: an overflow is caught by the
/// bounds check).
fn packed_displs(counts: &[i32]) -> Vec<i32> {
    let mut at = 0i32;
    counts
        .iter()
        .map(|&c| {
            let d = at;
            at = at.saturating_add(c.max(0));
            d
        })
        .collect()
}

impl<'a, B: ?Sized> Varying<'a, B> {
    /// Blocks of `counts[i]` items at `displs[i]`.
    pub fn new(buf: &'a B, counts: &'a [i32], displs: &'a [i32]) -> Self {
        Varying { buf, counts: Cow::Borrowed(counts), displs: Cow::Borrowed(displs) }
    }

    /// Blocks of `counts[i]` items laid end to end.
    pub fn packed(buf: &'a B, counts: &'a [i32]) -> Self {
        Varying { buf, displs: Cow::Owned(packed_displs(counts)), counts: Cow::Borrowed(counts) }
    }

    /// The counts.
    pub fn counts(&self) -> &[i32] {
        &self.counts
    }

    /// The displacements.
    pub fn displs(&self) -> &[i32] {
        &self.displs
    }
}

impl<'a, B: ?Sized> VaryingMut<'a, B> {
    /// Blocks of `counts[i]` items at `displs[i]`.
    pub fn new(buf: &'a mut B, counts: &'a [i32], displs: &'a [i32]) -> Self {
        VaryingMut { buf, counts: Cow::Borrowed(counts), displs: Cow::Borrowed(displs) }
    }

    /// Blocks of `counts[i]` items laid end to end.
    pub fn packed(buf: &'a mut B, counts: &'a [i32]) -> Self {
        VaryingMut { buf, displs: Cow::Owned(packed_displs(counts)), counts: Cow::Borrowed(counts) }
    }

    /// The counts.
    pub fn counts(&self) -> &[i32] {
        &self.counts
    }

    /// The displacements.
    pub fn displs(&self) -> &[i32] {
        &self.displs
    }
}
