//! Regions of one buffer seen through datatypes, and the check that lets one call send from
//! and receive into the same array: every receive region must be disjoint from every other
//! region of the call, byte for byte.
//!
//! A [`Region`] is `count` items of a [`Datatype`] whose origin lies `offset` bytes into the
//! buffer (mpi4py's `[buf, count, datatype]` with a displacement). The bytes it touches are
//! found exactly, once per datatype, by asking MPI to unpack a marker through it; a halo
//! exchange's face and ghost regions are then checked pairwise in time proportional to the
//! number of contiguous runs they have.

use crate::buffer::ElementKind;
use crate::datatype::Datatype;
use crate::error::{mpi_call, Error, Result};
use crate::ffi;
use std::ffi::c_int;

/// `count` items of `datatype` with their origin `offset` bytes into a buffer.
#[derive(Clone, Copy)]
pub struct Region<'a> {
    /// The layout of one item.
    pub datatype: &'a Datatype,
    /// Where the items' origin lies in the buffer, in bytes.
    pub offset: usize,
    /// How many items.
    pub count: usize,
}

impl<'a> Region<'a> {
    /// `count` items of `datatype` from byte `offset` of the buffer.
    pub fn new(datatype: &'a Datatype, offset: usize, count: usize) -> Region<'a> {
        Region { datatype, offset, count }
    }

    /// One item of `datatype` at the start of the buffer (the usual halo face).
    pub fn of(datatype: &'a Datatype) -> Region<'a> {
        Region { datatype, offset: 0, count: 1 }
    }
}

/// The bytes a region touches: sorted, disjoint, non-adjacent `[lo, hi)` runs, counted from the
/// start of the buffer.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub(crate) struct Runs(pub(crate) Vec<(usize, usize)>);

impl Runs {
    /// The end of the last run (0 when empty).
    pub(crate) fn end(&self) -> usize {
        self.0.last().map_or(0, |r| r.1)
    }
}

/// The runs `region` touches, counted from the buffer's start. `self_overlap` is whether two
/// of its items (or two parts of one item) touch the same byte, which a receive must not do.
pub(crate) fn runs(region: &Region<'_>) -> Result<(Runs, bool)> {
    let dt = region.datatype;
    let size = dt.size();
    if region.count == 0 || size == 0 {
        return Ok((Runs::default(), false));
    }
    let one = item_runs(dt)?;
    let one_total: usize = one.iter().map(|(a, b)| (b - a) as usize).sum();
    let mut overlap = one_total < size;
    let (_, extent) = dt.extent();
    let mut all: Vec<(isize, isize)> = Vec::new();
    let dense = one.len() == 1 && extent > 0 && one[0].1 - one[0].0 == extent;
    if dense {
        let n = isize::try_from(region.count).map_err(|_| too_large(region))?;
        let hi =
            extent.checked_mul(n).and_then(|l| one[0].0.checked_add(l)).ok_or_else(|| too_large(region))?;
        all.push((one[0].0, hi));
    } else {
        for k in 0..region.count {
            let shift = (k as isize).checked_mul(extent).ok_or_else(|| too_large(region))?;
            all.extend(one.iter().map(|&(a, b)| (a + shift, b + shift)));
        }
        all.sort_unstable();
        overlap |= all.windows(2).any(|w| w[1].0 < w[0].1);
    }
    let offset = isize::try_from(region.offset).map_err(|_| too_large(region))?;
    let mut out: Vec<(usize, usize)> = Vec::with_capacity(all.len());
    for (a, b) in all {
        let (a, b) = (a + offset, b + offset);
        if a < 0 {
            return Err(Error::InvalidArgument(format!(
                "a region of {} item(s) at byte offset {} reaches {} bytes below the start of the buffer",
                region.count, region.offset, -a
            )));
        }
        let (a, b) = (a as usize, b as usize);
        match out.last_mut() {
            Some(last) if a <= last.1 => last.1 = last.1.max(b),
            _ => out.push((a, b)),
        }
    }
    Ok((Runs(out), overlap))
}

fn too_large(region: &Region<'_>) -> Error {
    Error::InvalidArgument(format!(
        "a region of {} items at offset {} is too large",
        region.count, region.offset
    ))
}

/// The runs one item of `dt` touches, relative to its origin (see [`touched_runs`]).
fn item_runs(dt: &Datatype) -> Result<Vec<(isize, isize)>> {
    let size = dt.size();
    let (tlb, text) = dt.true_extent();
    // A predefined type touches its true extent once. A derived one as long as its data may
    // still repeat some bytes and skip others (elements 0, 1, 1, 2, 5, 6, 6, 7): only the
    // marker tells.
    if dt.kind != ElementKind::Derived && text > 0 && text as usize == size {
        return Ok(vec![(tlb, tlb + text)]);
    }
    touched_runs(dt.as_raw(), size, tlb, text)?
        .ok_or_else(|| Error::InvalidArgument(format!("a datatype of {size} bytes is too large to map")))
}

/// The byte runs one item of the committed datatype `dt` (`size` bytes of data, true lower
/// bound `tlb`, true extent `text`) touches, relative to its origin: MPI unpacks `size` marker
/// bytes through the datatype into zeroed scratch covering its true extent, and the marked
/// bytes are the ones it touches (native representation copies bytes as they are). `None`
/// when `size` is too large for one `MPI_Unpack` (more than `c_int::MAX` bytes).
pub(crate) fn touched_runs(
    dt: ffi::MPI_Datatype,
    size: usize,
    tlb: isize,
    text: isize,
) -> Result<Option<Vec<(isize, isize)>>> {
    if text <= 0 {
        return Ok(Some(Vec::new()));
    }
    let Ok(insize) = c_int::try_from(size) else { return Ok(None) };
    let mut scratch = zeroed_scratch(text as usize)?;
    let mut marks = Vec::new();
    marks.try_reserve_exact(size).map_err(|_| no_scratch(size))?;
    marks.resize(size, 0xFFu8);
    let mut position: c_int = 0;
    // The origin of the item lies `-tlb` bytes from the scratch's start, so that the touched
    // bytes [tlb, tlb + text) fall exactly on the scratch; the pointer is only formed for MPI.
    let origin = scratch.as_mut_ptr().wrapping_offset(-tlb);
    mpi_call!(MPI_Unpack(
        marks.as_ptr().cast(),
        insize,
        &mut position,
        origin.cast(),
        1,
        dt,
        ffi::COMM_SELF()
    ))?;
    let mut runs = Vec::new();
    let mut i = 0;
    while i < scratch.len() {
        if scratch[i] == 0 {
            i += 1;
            continue;
        }
        let start = i;
        while i < scratch.len() && scratch[i] != 0 {
            i += 1;
        }
        runs.push((tlb + start as isize, tlb + i as isize));
    }
    Ok(Some(runs))
}

/// `len` zeroed bytes (left to the allocator's zeroed pages, so a sparse layout's scratch costs
/// little real memory), or an error where the allocator has not that much: never an abort.
fn zeroed_scratch(len: usize) -> Result<Vec<u8>> {
    if len == 0 {
        return Ok(Vec::new());
    }
    let layout = std::alloc::Layout::array::<u8>(len).map_err(|_| no_scratch(len))?;
    // SAFETY: `layout` has a nonzero size (`len > 0`).
    let ptr = unsafe { std::alloc::alloc_zeroed(layout) };
    if ptr.is_null() {
        return Err(no_scratch(len));
    }
    // SAFETY: `ptr` comes from the global allocator with `layout` (`len` bytes, alignment 1),
    // every byte initialised (zeroed); length and capacity are both `len`.
    Ok(unsafe { Vec::from_raw_parts(ptr, len, len) })
}

#[cold]
fn no_scratch(len: usize) -> Error {
    Error::InvalidArgument(format!(
        "finding the bytes a layout touches needs {len} bytes of scratch memory, which could not be allocated"
    ))
}

/// One region of a call, for [`check_disjoint`]: its runs, whether it is received into, and a
/// name for the error.
pub(crate) struct Part<'r> {
    pub(crate) runs: &'r Runs,
    pub(crate) recv: bool,
    pub(crate) name: String,
}

/// Checks that every receive region is disjoint from every other region: the error names the
/// first overlapping pair and the bytes they share.
pub(crate) fn check_disjoint(parts: &[Part<'_>]) -> Result<()> {
    let mut all: Vec<(usize, usize, usize)> = Vec::new();
    for (i, p) in parts.iter().enumerate() {
        all.extend(p.runs.0.iter().map(|&(a, b)| (a, b, i)));
    }
    all.sort_unstable();
    // Runs still open at the current start; runs of one part never overlap each other.
    let mut open: Vec<(usize, usize, usize)> = Vec::new();
    for &(a, b, i) in &all {
        open.retain(|&(_, hi, _)| hi > a);
        for &(oa, ob, j) in &open {
            if j != i && (parts[i].recv || parts[j].recv) {
                let (p, q) = (&parts[j], &parts[i]);
                return Err(Error::InvalidArgument(format!(
                    "{} and {} overlap (bytes {}..{} of the buffer): a region received into must not \
                     share bytes with any other region of the same call",
                    p.name,
                    q.name,
                    a.max(oa),
                    b.min(ob)
                )));
            }
        }
        open.push((a, b, i));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn part<'a>(runs: &'a Runs, recv: bool, name: &str) -> Part<'a> {
        Part { runs, recv, name: name.into() }
    }

    #[test]
    fn disjoint_regions_pass_and_overlaps_are_named() {
        let a = Runs(vec![(0, 8), (32, 40)]);
        let b = Runs(vec![(8, 16), (40, 48)]);
        let c = Runs(vec![(36, 44)]);
        assert!(check_disjoint(&[part(&a, true, "a"), part(&b, true, "b")]).is_ok());
        let e = check_disjoint(&[part(&a, true, "a"), part(&c, false, "c")]).unwrap_err();
        assert!(e.to_string().contains("a and c overlap (bytes 36..40"), "{e}");
        // Two sends may share bytes.
        assert!(check_disjoint(&[part(&a, false, "a"), part(&c, false, "c")]).is_ok());
        // A receive over a send's bytes may not, whichever comes first.
        assert!(check_disjoint(&[part(&c, true, "c"), part(&a, false, "a")]).is_err());
    }
}
