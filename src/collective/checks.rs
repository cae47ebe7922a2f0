//! Argument checks shared by the collectives: roots, lengths, element types, blocks and the
//! count/displacement arrays of the vector forms. Everything MPI would read or write is
//! checked against the buffers here, before MPI is called.

use crate::buffer::ElementKind;
use crate::comm::Communicator;
use crate::error::{Error, Result};
use crate::ffi;

/// What this process does in a rooted collective.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Role {
    /// The root: sends (bcast, scatter) or receives (gather, reduce).
    Root,
    /// Another process of the root's communicator (or of the remote group, on an
    /// intercommunicator).
    Leaf,
    /// A process of the root's group on an intercommunicator that is not the root
    /// (`PROC_NULL`): takes no part in the transfer.
    Idle,
}

/// Checks `root` and says what this process does.
#[inline]
pub(crate) fn check_root<C: Communicator + ?Sized>(comm: &C, root: i32) -> Result<Role> {
    if comm.is_inter() {
        if root == ffi::ROOT() {
            Ok(Role::Root)
        } else if root == ffi::PROC_NULL() {
            Ok(Role::Idle)
        } else if (0..comm.peer_count()).contains(&root) {
            Ok(Role::Leaf)
        } else {
            Err(invalid_root(root, comm.peer_count(), true))
        }
    } else if (0..comm.size()).contains(&root) {
        Ok(if root == comm.rank() { Role::Root } else { Role::Leaf })
    } else {
        Err(invalid_root(root, comm.size(), false))
    }
}

#[cold]
#[inline(never)]
fn invalid_root(root: i32, size: i32, inter: bool) -> Error {
    Error::InvalidRoot { root, size, inter }
}

#[cold]
#[inline(never)]
pub(crate) fn length_error(what: &'static str, detail: String) -> Error {
    Error::BufferLength { what, detail }
}

/// `actual` must equal `expected` (elements).
#[inline(always)]
pub(crate) fn check_len(what: &'static str, expected: usize, actual: usize) -> Result<()> {
    if expected == actual {
        Ok(())
    } else {
        Err(length_error(what, format!("needs {expected} elements, has {actual}")))
    }
}

/// `blocks` blocks of `per_block` elements: their total, or an error when it overflows (no
/// buffer holds that many elements, but a slice of zero-size elements can claim nearly as many).
#[inline(always)]
pub(crate) fn blocks_total(what: &'static str, per_block: usize, blocks: usize) -> Result<usize> {
    match per_block.checked_mul(blocks) {
        Some(total) => Ok(total),
        None => Err(length_error(
            what,
            format!("{blocks} blocks of {per_block} elements are more elements than an address space holds"),
        )),
    }
}

/// `count` must be a whole number of `blocks` equal blocks; returns the block length.
#[inline(always)]
pub(crate) fn block_len(what: &'static str, count: usize, blocks: i32) -> Result<usize> {
    let blocks = blocks.max(1) as usize;
    if count.is_multiple_of(blocks) {
        Ok(count / blocks)
    } else {
        Err(length_error(what, format!("{count} elements are not {blocks} equal blocks (one per process)")))
    }
}

/// The send and receive sides must carry the same element type where both are known.
#[inline(always)]
pub(crate) fn check_same_elements(send: ElementKind, recv: ElementKind) -> Result<()> {
    match (send, recv) {
        (ElementKind::Derived, _) | (_, ElementKind::Derived) => Ok(()),
        (a, b) if a == b => Ok(()),
        (a, b) => Err(Error::InvalidArgument(format!(
            "the send buffer holds {a:?} elements but the receive buffer {b:?}"
        ))),
    }
}

/// The operation is not defined on intercommunicators (scans, in-place forms).
#[inline(always)]
pub(crate) fn require_intra<C: Communicator + ?Sized>(comm: &C, what: &'static str) -> Result<()> {
    if comm.is_inter() {
        Err(Error::InvalidArgument(format!("{what} is defined on intracommunicators only")))
    } else {
        Ok(())
    }
}

/// Checks the `counts`/`displs` of a vector collective against the number of peers and the
/// buffer length (`len` datatype items): every block lies inside the buffer.
pub(crate) fn check_varying(
    what: &'static str,
    counts: &[i32],
    displs: &[i32],
    peers: i32,
    len: usize,
) -> Result<()> {
    let peers = peers.max(0) as usize;
    if counts.len() != peers || displs.len() != peers {
        return Err(length_error(
            what,
            format!(
                "needs one count and one displacement per process ({peers}), has {} counts and {} displacements",
                counts.len(),
                displs.len()
            ),
        ));
    }
    for (i, (&c, &d)) in counts.iter().zip(displs).enumerate() {
        if c < 0 || d < 0 {
            return Err(length_error(
                what,
                format!("block {i} has count {c} and displacement {d}: both must be >= 0"),
            ));
        }
        if d as usize + c as usize > len {
            return Err(length_error(
                what,
                format!("block {i} (displacement {d} + count {c}) runs past the end of the buffer ({len} elements)"),
            ));
        }
    }
    Ok(())
}

/// A receive side with a datatype per block cannot be a `bool` buffer: the datatypes may write
/// bytes other than 0 and 1.
pub(crate) fn check_typed_receive(op: &str, kind: ElementKind) -> Result<()> {
    if kind == ElementKind::Basic(mpi4rs_device::DType::Bool) {
        return Err(Error::InvalidArgument(format!(
            "{op} cannot receive into a bool buffer: the datatypes may write bytes other than 0 and 1"
        )));
    }
    Ok(())
}

/// Checks the blocks of an `alltoallw` side: one per peer, each inside the buffer's `bytes`.
pub(crate) fn check_typed_blocks(
    what: &'static str,
    b: &super::varying::TypedBlocks,
    peers: i32,
    bytes: usize,
) -> Result<()> {
    let peers = peers.max(0) as usize;
    if b.counts.len() != peers || b.displs.len() != peers || b.raw.len() != peers {
        return Err(length_error(
            what,
            format!(
                "needs a count, a displacement and a datatype per process ({peers}), has {}, {} and {}",
                b.counts.len(),
                b.displs.len(),
                b.raw.len()
            ),
        ));
    }
    for i in 0..peers {
        let (c, d) = (b.counts[i], b.displs[i]);
        if c < 0 || d < 0 {
            return Err(length_error(
                what,
                format!("block {i} has count {c} and displacement {d}: both must be >= 0"),
            ));
        }
        if c == 0 {
            continue;
        }
        let (tlb, text, ext) = b.spans[i];
        let start = d as i128 + tlb as i128;
        let end = start + (c as i128 - 1) * ext as i128 + text as i128;
        let low = start.min(start + (c as i128 - 1) * ext as i128);
        if low < 0 || end > bytes as i128 {
            return Err(length_error(
                what,
                format!("block {i} ({c} items at byte {d}) touches bytes {low}..{end}, outside the buffer's {bytes}"),
            ));
        }
    }
    Ok(())
}

/// Zeroed memory for `blocks` blocks of `per_block` items of `datatype`, laid end to end: what
/// a rank that found an argument error takes part in the collective with (see the module docs
/// of [`collective`](super)). `None` when that is more than memory holds.
pub(crate) struct Scratch {
    buf: Vec<u8>,
    /// Where item 0 starts in `buf` (a datatype may reach below its origin).
    origin: usize,
}

impl Scratch {
    #[allow(clippy::unnecessary_cast)] // MPI_Aint is isize (Open MPI) or c_long (MPICH)
    pub(crate) fn new(blocks: usize, per_block: usize, datatype: ffi::MPI_Datatype) -> Option<Scratch> {
        let items = per_block.checked_mul(blocks)?;
        if items == 0 {
            return Some(Scratch { buf: Vec::new(), origin: 0 });
        }
        let (mut lb, mut ext, mut tlb, mut text) = (0, 0, 0, 0);
        crate::error::mpi_call!(MPI_Type_get_extent(datatype, &mut lb, &mut ext)).ok()?;
        crate::error::mpi_call!(MPI_Type_get_true_extent(datatype, &mut tlb, &mut text)).ok()?;
        let (ext, tlb, text) = (i128::from(ext as i64), i128::from(tlb as i64), i128::from(text as i64));
        let span = (items as i128 - 1) * ext;
        let (lo, hi) = (tlb + span.min(0), tlb + text + span.max(0));
        let bytes = usize::try_from(hi - lo.min(0)).ok()?;
        let mut buf = Vec::new();
        buf.try_reserve_exact(bytes).ok()?;
        buf.resize(bytes, 0);
        Some(Scratch { buf, origin: usize::try_from(-lo.min(0)).ok()? })
    }

    pub(crate) fn ptr(&mut self) -> *mut std::ffi::c_void {
        self.buf.as_mut_ptr().wrapping_add(self.origin).cast()
    }
}

/// Displacements that lay the blocks of `counts` end to end, and their total, if `counts` has
/// one count >= 0 per peer and the total fits an `int` (what a rank whose own displacements
/// were wrong can still take part with).
pub(crate) fn packed_displs(counts: &[i32], peers: i32) -> Option<(Vec<i32>, usize)> {
    if counts.len() != peers.max(0) as usize || counts.iter().any(|&c| c < 0) {
        return None;
    }
    let mut displs = Vec::with_capacity(counts.len());
    let mut total: i32 = 0;
    for &c in counts {
        displs.push(total);
        total = total.checked_add(c)?;
    }
    Some((displs, total as usize))
}
