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

/// A buffer split into one block per process, each with its own datatype, for
/// [`alltoallw`](crate::Collective::alltoallw): `counts[i]` items of `types[i]` at byte
/// displacement `displs[i]`. Any host buffer serves as the bytes; every block must lie inside it.
///
/// ```
/// # fn f() -> mpi4rs::Result<()> {
/// use mpi4rs::{Datatype, VaryingW};
/// let env = mpi4rs::init()?;
/// let (f64s, i32s) = (Datatype::of::<f64>()?, Datatype::of::<i32>()?);
/// let bytes = [0u8; 24];
/// let w = VaryingW::new(&bytes[..], &[2, 2], &[0, 16], &[&f64s, &i32s]);
/// # Ok(()) }
/// ```
pub struct VaryingW<'a, B: ?Sized> {
    pub(crate) buf: &'a B,
    pub(crate) blocks: TypedBlocks<'a>,
}

/// A receive buffer with a datatype per process (see [`VaryingW`]).
pub struct VaryingWMut<'a, B: ?Sized> {
    pub(crate) buf: &'a mut B,
    pub(crate) blocks: TypedBlocks<'a>,
}

/// Counts, byte displacements and datatypes of [`VaryingW`]: the raw handles in the array MPI
/// reads, and each type's extents for the bounds check.
pub(crate) struct TypedBlocks<'a> {
    pub(crate) counts: &'a [i32],
    pub(crate) displs: &'a [i32],
    pub(crate) raw: Vec<crate::ffi::MPI_Datatype>,
    /// `(true_lb, true_extent, extent)` per block.
    pub(crate) spans: Vec<(isize, isize, isize)>,
    /// The displacements as `MPI_Aint`, made on first use (the neighbourhood form takes them
    /// so); kept here so that they live as long as a nonblocking operation may read them.
    aint_displs: std::cell::OnceCell<Vec<crate::ffi::MPI_Aint>>,
}

impl<'a> TypedBlocks<'a> {
    fn new(counts: &'a [i32], displs: &'a [i32], types: &[&'a crate::Datatype]) -> Self {
        let raw = types.iter().map(|t| t.as_raw()).collect();
        let spans = types
            .iter()
            .map(|t| {
                let ((tlb, text), (_, ext)) = (t.true_extent(), t.extent());
                (tlb, text, ext)
            })
            .collect();
        TypedBlocks { counts, displs, raw, spans, aint_displs: std::cell::OnceCell::new() }
    }

    /// The displacements as `MPI_Aint` (for `MPI_Neighbor_alltoallw`).
    pub(crate) fn aint_displs(&self) -> &[crate::ffi::MPI_Aint] {
        self.aint_displs.get_or_init(|| self.displs.iter().map(|&d| d as crate::ffi::MPI_Aint).collect())
    }
}

impl<'a, B: ?Sized> VaryingW<'a, B> {
    /// Blocks of `counts[i]` items of `types[i]` at byte displacement `displs[i]`. The types are
    /// borrowed, so they outlive any operation using them.
    pub fn new(buf: &'a B, counts: &'a [i32], displs: &'a [i32], types: &[&'a crate::Datatype]) -> Self {
        VaryingW { buf, blocks: TypedBlocks::new(counts, displs, types) }
    }
}

impl<'a, B: ?Sized> VaryingWMut<'a, B> {
    /// Blocks of `counts[i]` items of `types[i]` at byte displacement `displs[i]`.
    pub fn new(buf: &'a mut B, counts: &'a [i32], displs: &'a [i32], types: &[&'a crate::Datatype]) -> Self {
        VaryingWMut { buf, blocks: TypedBlocks::new(counts, displs, types) }
    }
}
