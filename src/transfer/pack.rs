//! Staging of derived layouts (`Typed`, `TypedMut`, subarray memory types) over device memory:
//! only the bytes the layout touches move between the device and the staging buffer, never the
//! holes between its items.
//!
//! The staging buffer keeps the layout's shape (MPI is given the same datatype at the same
//! origin), so the layout is described once as sorted, disjoint byte blocks of the staged
//! range, found exactly by unpacking marker bytes through the datatype (as the zero-copy
//! exchanges' overlap check does). The blocks then go through
//! [`gather_blocks`](mpi4rs_device::kernels::gather_blocks) and
//! [`scatter_blocks`](mpi4rs_device::kernels::scatter_blocks): packed on the device by the
//! pack kernels into one copy where NVRTC and a usable kernel binary exist, one asynchronous
//! copy per block otherwise (the host fallback, which the CPU double of the driver takes: slow
//! for layouts of many small blocks, one driver call each, but it never touches a hole). The
//! device bytes in a layout's holes are neither read nor written, so device work on them may
//! run while the operation is in flight.

use crate::error::{mpi_call, Error, Result};
use crate::ffi::{self, MPI_Aint, MPI_Datatype};
use mpi4rs_device::kernels::{gather_blocks, scatter_blocks};
use mpi4rs_device::{MemoryKind, Placement, StreamRef};
use std::ffi::c_void;

/// The bytes of a staged range that a layout touches: sorted, disjoint, non-adjacent
/// `(offset, length)` blocks counted from the range's first byte.
pub(crate) type Blocks = Vec<(usize, usize)>;

/// The blocks `count` items of `datatype` touch in a staged range of `bytes` bytes whose first
/// byte lies `below` bytes under the items' origin.
///
/// A datatype whose item is larger than MPI's `int` can describe to `MPI_Unpack`, or whose
/// blocks would leave the range (which `Typed`/`TypedMut` rule out), is staged whole.
pub(crate) fn blocks(datatype: MPI_Datatype, count: usize, below: usize, bytes: usize) -> Result<Blocks> {
    if count == 0 || bytes == 0 {
        return Ok(Vec::new());
    }
    let mut size: ffi::MPI_Count = 0;
    mpi_call!(MPI_Type_size_x(datatype, &mut size))?;
    if size <= 0 {
        return Ok(Vec::new());
    }
    let (mut lb, mut extent, mut tlb, mut text): (MPI_Aint, MPI_Aint, MPI_Aint, MPI_Aint) = (0, 0, 0, 0);
    mpi_call!(MPI_Type_get_extent(datatype, &mut lb, &mut extent))?;
    mpi_call!(MPI_Type_get_true_extent(datatype, &mut tlb, &mut text))?;
    let whole = vec![(0, bytes)];
    let (extent, tlb, text) = (aint(extent), aint(tlb), aint(text));
    let Some(item) = item_runs(datatype, size, tlb, text)? else { return Ok(whole) };
    let (Some(&(first, _)), Some(&(_, last))) = (item.first(), item.last()) else { return Ok(Vec::new()) };
    let (extent, below, bytes_i) = (extent as i128, below as i128, bytes as i128);
    // Item k's runs, shifted into the staged range; `None` if one leaves it.
    let shifted = |k: i128| {
        let shift = k * extent + below;
        item.iter().map(move |&(a, b)| (a as i128 + shift, b as i128 + shift))
    };
    let mut out: Blocks = Vec::new();
    // Appends run [a, b) of the staged range, merging it with the last block it touches.
    let mut push = |(a, b): (i128, i128)| {
        if a < 0 || b > bytes_i {
            return false;
        }
        let (a, b) = (a as usize, b as usize);
        match out.last_mut() {
            Some(last) if a <= last.0 + last.1 => last.1 = last.1.max(b - last.0),
            _ => out.push((a, b - a)),
        }
        true
    };
    if item.len() == 1 && last - first == extent as isize {
        // Dense: the items tile one block.
        let a = first as i128 + below;
        if !push((a, a + extent * count as i128)) {
            return Ok(whole);
        }
    } else if extent > 0 && (last - first) as i128 <= extent {
        // Items one after the other (the usual case: columns, subarrays, every other
        // element): their runs come sorted, no list to sort.
        for k in 0..count as i128 {
            for run in shifted(k) {
                if !push(run) {
                    return Ok(whole);
                }
            }
        }
    } else {
        // Items that interleave or go backwards: sort every run first.
        let mut runs: Vec<(i128, i128)> = (0..count as i128).flat_map(shifted).collect();
        runs.sort_unstable();
        if !runs.into_iter().all(&mut push) {
            return Ok(whole);
        }
    }
    Ok(out)
}

/// An MPI address-sized integer (isize for Open MPI, c_long for MPICH) as `isize`.
#[inline(always)]
#[allow(clippy::unnecessary_cast, clippy::useless_conversion)]
fn aint(v: MPI_Aint) -> isize {
    v as isize
}

/// The runs one item touches relative to its origin (`None`: too large to map, stage whole).
fn item_runs(
    dt: MPI_Datatype,
    size: ffi::MPI_Count,
    tlb: isize,
    text: isize,
) -> Result<Option<Vec<(isize, isize)>>> {
    let Ok(size) = usize::try_from(size) else { return Ok(None) };
    crate::region::touched_runs(dt, size, tlb, text)
}

fn device_and_stream(place: &Placement) -> Result<(i32, StreamRef)> {
    let MemoryKind::Cuda { device } = place.memory else {
        return Err(Error::UnsupportedBuffer(format!("cannot stage {:?} memory", place.memory)));
    };
    Ok((device, place.stream.unwrap_or(StreamRef::DEFAULT)))
}

/// Copies the `blocks` of the device range at `dev` into the same offsets of the staging buffer
/// `host` (both `bytes` long), and waits for them. `emulated`: the "device" range is host memory
/// (`transfer::emulate_device_memory`), copied with `memcpy`.
pub(crate) fn gather(
    place: &Placement,
    dev: *const c_void,
    host: *mut u8,
    bytes: usize,
    blocks: &Blocks,
    emulated: bool,
) -> Result<()> {
    if emulated {
        for &(off, n) in blocks {
            // SAFETY: emulated device memory is host memory of `bytes` bytes (the caller of
            // `emulate_device_memory` promised it); the staging buffer holds `bytes` too, and
            // the blocks lie inside the range (`blocks` checks it).
            unsafe { std::ptr::copy_nonoverlapping(dev.cast::<u8>().add(off), host.add(off), n) };
        }
        return Ok(());
    }
    let (device, stream) = device_and_stream(place)?;
    // SAFETY: `dev` is the borrowed device range and `host` the staging buffer, both `bytes`
    // long and not otherwise used until this returns (it waits for the copies).
    unsafe { gather_blocks(device, stream, dev, host, bytes, blocks) }?;
    Ok(())
}

/// Enqueues the copies of the `blocks` of the staging buffer `host` back into the device range
/// at `dev` on the buffer's stream. The staging buffer must not be reused before that work has
/// run (the stage records an event for it), and its bytes are unspecified afterwards.
pub(crate) fn scatter(
    place: &Placement,
    dev: *mut c_void,
    host: *mut u8,
    bytes: usize,
    blocks: &Blocks,
    emulated: bool,
) -> Result<()> {
    if emulated {
        for &(off, n) in blocks {
            // SAFETY: as in `gather`, the other way round.
            unsafe { std::ptr::copy_nonoverlapping(host.add(off), dev.cast::<u8>().add(off), n) };
        }
        return Ok(());
    }
    let (device, stream) = device_and_stream(place)?;
    // SAFETY: as in `gather`; the staging buffer outlives the copies (its pending event).
    unsafe { scatter_blocks(device, stream, dev, host, bytes, blocks) }?;
    Ok(())
}
