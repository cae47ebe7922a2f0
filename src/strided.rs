//! [`Strided`] and [`StridedMut`]: tensors with any strides (transposed or Fortran-ordered,
//! sliced, reversed, broadcast) lent to every operation, host or device, through a derived
//! datatype built from their shape and strides.
//!
//! A DLPack [`StridedTensor`] (or a shape and strides laid over any buffer, with
//! [`Strided::over`]) becomes one item of nested `MPI_Type_create_hvector`s, one level per
//! dimension (adjacent dimensions that tile each other merged, a unit innermost stride made
//! `MPI_Type_contiguous`), whose origin is the tensor's first element: negative strides reach
//! below it, and the view is checked like a [`Typed`](crate::Typed) at an offset to lie inside
//! the bytes the tensor spans. The transfer router then treats it like any derived layout:
//! device memory is staged through only the bytes the elements occupy, and reductions with a
//! predefined operation pack the elements into contiguous order first (MPI libraries apply
//! predefined operations to contiguous elements only).
//!
//! A writable view refuses tensors that repeat an element (stride 0, or strides that make two
//! indices meet): a receive would write the element twice, with one of the values lost.

use crate::buffer::{Buffer, BufferMut, ElementKind, Lend, LendMut, Spec, SpecMut};
use crate::datatype::{invalid, Datatype};
use crate::error::Result;
use crate::region::{runs, Region};
use crate::typed::check_fits;
use mpi4rs_device::dlpack::StridedTensor;
use mpi4rs_device::{DType, Placement};
use std::ffi::c_void;
use std::marker::PhantomData;

/// The datatype and item count covering a tensor of `dtype` with `shape` and element
/// `strides`, origin at its first element. Dimensions of size 1 do not matter; a dimension
/// whose stride is the next one's stride times its size merges with it; a tensor that is then
/// contiguous is plain elements.
fn tensor_datatype(dtype: DType, shape: &[usize], strides: &[isize]) -> Result<(Datatype, usize)> {
    let size = dtype.size() as isize;
    if shape.contains(&0) {
        return Ok((Datatype::from_dtype(dtype)?, 0));
    }
    // (size, element stride), innermost first.
    let mut dims: Vec<(usize, isize)> = Vec::new();
    for (&d, &s) in shape.iter().zip(strides).rev().filter(|(&d, _)| d != 1) {
        if let Some(last) = dims.last_mut() {
            let tiles = isize::try_from(last.0).ok().and_then(|n| last.1.checked_mul(n));
            if tiles == Some(s) {
                last.0 = last.0.checked_mul(d).ok_or_else(|| too_large(shape))?;
                continue;
            }
        }
        dims.push((d, s));
    }
    let mut dt = Datatype::from_dtype(dtype)?;
    match dims[..] {
        [] => return Ok((dt, 1)),
        [(d, 1)] => return Ok((dt, d)),
        _ => {}
    }
    for (i, &(d, s)) in dims.iter().enumerate() {
        dt = if i == 0 && s == 1 {
            Datatype::contiguous(d, &dt)?
        } else {
            Datatype::hvector(d, 1, s.checked_mul(size).ok_or_else(|| too_large(shape))?, &dt)?
        };
    }
    Ok((dt, 1))
}

/// The bytes the elements of a non-empty tensor touch around its first element, `[lo, hi)`,
/// computed exactly; `None` when the elements, counted with their repeats, would not fit in
/// the address space (MPI could not count their bytes).
fn byte_range(size: usize, shape: &[usize], strides: &[isize]) -> Option<(i128, i128)> {
    let elements = shape.iter().try_fold(1usize, |n, &d| n.checked_mul(d))?;
    elements.checked_mul(size).filter(|&b| b <= isize::MAX as usize)?;
    Some(mpi4rs_device::dlpack::strided_span(size, shape, strides))
}

fn too_large(shape: &[usize]) -> crate::Error {
    invalid(format!("a tensor of shape {shape:?} is too large to describe"))
}

/// Whether no two indices of a tensor with `shape` and `strides` address the same element,
/// by a sufficient test: with the dimensions sorted by stride, each stride passes the
/// farthest reach of the smaller ones. `None` when the test cannot tell.
fn surely_disjoint(shape: &[usize], strides: &[isize]) -> Option<bool> {
    let mut dims: Vec<(i128, i128)> = shape
        .iter()
        .zip(strides)
        .filter(|(&d, _)| d > 1)
        .map(|(&d, &s)| (s.unsigned_abs() as i128, d as i128))
        .collect();
    if dims.iter().any(|&(s, _)| s == 0) {
        return Some(false);
    }
    dims.sort_unstable();
    let mut reach = 0i128;
    for (s, d) in dims {
        if s <= reach {
            return None;
        }
        reach = reach.saturating_add(s.saturating_mul(d - 1));
    }
    Some(true)
}

/// What both views hold.
struct Parts {
    ptr: *mut c_void,
    datatype: Datatype,
    count: usize,
    bytes: usize,
    dtype: DType,
    place: Placement,
    /// Where the origin lies in the memory the view was checked against, in bytes.
    origin: usize,
}

/// Lays a tensor of `dtype` (`shape`, element `strides`) with its first element
/// `byte_offset` bytes into memory of `bytes` bytes at `base`, checking it lies inside.
fn parts(
    base: *mut c_void,
    bytes: usize,
    place: Placement,
    dtype: DType,
    byte_offset: usize,
    shape: &[usize],
    strides: &[isize],
) -> Result<Parts> {
    if shape.len() != strides.len() {
        return Err(invalid(format!(
            "shape {shape:?} and strides {strides:?} have different numbers of dimensions"
        )));
    }
    // Checked here, exactly, before MPI sees the layout: MPI computes a datatype's bounds in
    // 64-bit arithmetic that wraps (5 elements 2^62 bytes apart report a true extent of one
    // element), so its bounds alone cannot be trusted for strides this code takes from users.
    if !shape.contains(&0) {
        let (lo, hi) = byte_range(dtype.size(), shape, strides).ok_or_else(|| too_large(shape))?;
        let (first, end) = (byte_offset as i128 + lo, byte_offset as i128 + hi);
        if first < 0 || end > bytes as i128 {
            return Err(invalid(format!(
                "shape {shape:?} with strides {strides:?} from byte {byte_offset} touches bytes \
                 {first}..{end}, outside the {bytes}-byte buffer"
            )));
        }
    }
    let (datatype, count) = tensor_datatype(dtype, shape, strides)?;
    let end = check_fits(count, &datatype, byte_offset, bytes)?;
    // SAFETY: `check_fits` checked byte_offset <= bytes, so the pointer stays inside the memory.
    let ptr = unsafe { base.cast::<u8>().add(byte_offset) }.cast();
    Ok(Parts { ptr, datatype, count, bytes: end, dtype, place, origin: byte_offset })
}

/// The parts of a buffer view, whose elements must be basic.
fn buffer_parts(
    spec: (*mut c_void, usize, ElementKind, Placement),
    offset: usize,
    shape: &[usize],
    strides: &[isize],
) -> Result<Parts> {
    let (ptr, bytes, kind, place) = spec;
    let ElementKind::Basic(dtype) = kind else {
        return Err(invalid(format!("a strided view needs a buffer of plain elements, not {kind:?}")));
    };
    let byte_offset = offset
        .checked_mul(dtype.size())
        .ok_or_else(|| invalid(format!("element offset {offset} is past the end of the buffer")))?;
    parts(ptr, bytes, place, dtype, byte_offset, shape, strides)
}

/// The parts of a DLPack strided tensor, laid over the bytes it spans.
fn tensor_parts(t: &StridedTensor) -> Result<Parts> {
    let (below, span) = t.byte_span();
    // The span starts `below` bytes under the first element (import checked it lies above
    // the tensor's data pointer), so this stays inside the tensor's memory.
    let base = t.origin().cast::<u8>().wrapping_sub(below).cast();
    parts(base, span, t.placement(), t.dtype(), below, t.shape(), t.strides())
}

/// A tensor with any strides, to be read: a DLPack [`StridedTensor`] ([`new`](Self::new)), or
/// a shape and element strides laid over any buffer of plain elements, host or device
/// ([`over`](Self::over)). Every buffer operation accepts it, moving only the elements (see
/// [the module documentation](self)).
///
/// ```no_run
/// use mpi4rs::prelude::*;
/// use mpi4rs::Strided;
///
/// let env = mpi4rs::init()?;
/// let world = env.world();
/// // The transpose of a 3 x 4 row-major matrix (a 4 x 3 Fortran-ordered one), sent in its
/// // index order: 0, 4, 8, 1, 5, 9, ...
/// let m: Vec<f64> = (0..12).map(f64::from).collect();
/// let t = Strided::over(&m, 0, &[4, 3], &[1, 4])?;
/// if world.rank() == 0 && world.size() > 1 {
///     world.send(&t, 1, 0)?;
/// }
/// // Reaching past the end is an error, not an overrun.
/// assert!(Strided::over(&m, 1, &[4, 3], &[1, 4]).is_err());
/// # Ok::<(), mpi4rs::Error>(())
/// ```
pub struct Strided<'a> {
    parts: Parts,
    _data: PhantomData<&'a ()>,
}

impl<'a> Strided<'a> {
    /// A DLPack tensor with any strides, read through its layout.
    pub fn new(tensor: &'a StridedTensor) -> Result<Strided<'a>> {
        Ok(Strided { parts: tensor_parts(tensor)?, _data: PhantomData })
    }

    /// The elements of `buf` with `shape` and element `strides` (negative or zero allowed),
    /// the first (index 0) `offset` elements into `buf`. Every element addressed must lie
    /// inside `buf`.
    pub fn over<B: Buffer + ?Sized>(
        buf: &'a B,
        offset: usize,
        shape: &[usize],
        strides: &[isize],
    ) -> Result<Strided<'a>> {
        let s = buf.spec()?;
        let spec = (s.ptr.cast_mut(), s.bytes, s.kind, s.place);
        Ok(Strided { parts: buffer_parts(spec, offset, shape, strides)?, _data: PhantomData })
    }

    /// The datatype that describes the tensor (one item of it, origin at the first element).
    pub fn datatype(&self) -> &Datatype {
        &self.parts.datatype
    }
}

/// A tensor with any strides, to be written (received into, reduced into, read from a file):
/// see [`Strided`]. Refused for read-only DLPack tensors, for `bool` elements (MPI could write
/// bytes that are not 0 or 1: use `u8`), and for tensors whose indices repeat an element
/// (stride 0, overlapping strides), which a receive would write twice.
///
/// ```no_run
/// use mpi4rs::prelude::*;
/// use mpi4rs::StridedMut;
///
/// let env = mpi4rs::init()?;
/// let world = env.world();
/// // Receive 3 values into column 1 of a 3 x 4 matrix, bottom up.
/// let mut m = vec![0.0f64; 12];
/// if world.rank() == 1 {
///     world.recv(&mut StridedMut::over(&mut m, 9, &[3], &[-4])?, 0, 0)?;
/// }
/// // A broadcast view cannot be received into.
/// assert!(StridedMut::over(&mut m, 0, &[3, 4], &[0, 1]).is_err());
/// # Ok::<(), mpi4rs::Error>(())
/// ```
pub struct StridedMut<'a> {
    parts: Parts,
    _data: PhantomData<&'a mut ()>,
}

impl<'a> StridedMut<'a> {
    /// A writable DLPack tensor with any strides.
    pub fn new(tensor: &'a mut StridedTensor) -> Result<StridedMut<'a>> {
        if tensor.is_read_only() {
            return Err(invalid(format!(
                "the DLPack tensor ({} elements of {}) is read-only and cannot be written",
                tensor.len(),
                tensor.dtype()
            )));
        }
        StridedMut::checked(tensor_parts(tensor)?, tensor.shape(), tensor.strides())
    }

    /// The elements of `buf` with `shape` and element `strides`, the first `offset` elements
    /// into `buf` (see [`Strided::over`]).
    pub fn over<B: BufferMut + ?Sized>(
        buf: &'a mut B,
        offset: usize,
        shape: &[usize],
        strides: &[isize],
    ) -> Result<StridedMut<'a>> {
        let s = buf.spec_mut()?;
        let parts = buffer_parts((s.ptr, s.bytes, s.kind, s.place), offset, shape, strides)?;
        StridedMut::checked(parts, shape, strides)
    }

    fn checked(parts: Parts, shape: &[usize], strides: &[isize]) -> Result<StridedMut<'a>> {
        if parts.dtype == DType::Bool {
            return Err(invalid(
                "a bool tensor cannot be written through a strided view: MPI could write bytes that \
                 are not 0 or 1 into it; use u8 elements and convert"
                    .into(),
            ));
        }
        let repeats = match surely_disjoint(shape, strides) {
            Some(disjoint) => !disjoint,
            // Exact: the bytes the layout touches, mapped through MPI.
            None => runs(&Region::new(&parts.datatype, parts.origin, parts.count))?.1,
        };
        if repeats && parts.count > 0 {
            return Err(invalid(format!(
                "strides {strides:?} for shape {shape:?} address some element more than once (a \
                 broadcast or overlapping view): writing into it would write that element twice"
            )));
        }
        Ok(StridedMut { parts, _data: PhantomData })
    }

    /// The datatype that describes the tensor (one item of it, origin at the first element).
    pub fn datatype(&self) -> &Datatype {
        &self.parts.datatype
    }
}

impl Parts {
    fn spec(&self) -> Spec {
        Spec {
            ptr: self.ptr,
            count: self.count,
            datatype: self.datatype.raw,
            bytes: self.bytes,
            kind: self.datatype.kind,
            base: Some(self.dtype),
            place: self.place,
        }
    }
}

// SAFETY: `parts` checked that the item lies inside the memory borrowed for 'a (a buffer's
// view, or the span of a DLPack tensor whose import checked it); `bytes` is the end of the
// touched range from the origin; the datatype lives as long as the view.
unsafe impl Buffer for Strided<'_> {
    #[inline]
    fn spec(&self) -> Result<Spec> {
        Ok(self.parts.spec())
    }
}

// SAFETY: as for `Strided`.
unsafe impl Buffer for StridedMut<'_> {
    #[inline]
    fn spec(&self) -> Result<Spec> {
        Ok(self.parts.spec())
    }
}

// SAFETY: as for `Strided`; the memory is borrowed mutably (or the DLPack tensor is writable
// and borrowed mutably), its elements are plain numbers that take any bit pattern, and no
// byte is addressed twice (checked in `checked`).
unsafe impl BufferMut for StridedMut<'_> {
    #[inline]
    fn spec_mut(&mut self) -> Result<SpecMut> {
        let s = self.parts.spec();
        Ok(SpecMut {
            ptr: s.ptr.cast_mut(),
            count: s.count,
            datatype: s.datatype,
            bytes: s.bytes,
            kind: s.kind,
            base: s.base,
            place: s.place,
        })
    }
}

impl<'s> Lend<'s> for Strided<'s> {
    type Target = Strided<'s>;
    #[inline(always)]
    fn target(&self) -> &Self::Target {
        self
    }
}

impl<'s> LendMut<'s> for StridedMut<'s> {
    type Target = StridedMut<'s>;
    #[inline(always)]
    fn target_mut(&mut self) -> &mut Self::Target {
        self
    }
}

#[cfg(test)]
mod tests {
    use super::surely_disjoint;

    #[test]
    fn disjointness_test() {
        assert_eq!(surely_disjoint(&[3, 4], &[4, 1]), Some(true));
        assert_eq!(surely_disjoint(&[4, 3], &[1, 4]), Some(true));
        assert_eq!(surely_disjoint(&[3], &[-4]), Some(true));
        assert_eq!(surely_disjoint(&[3, 4], &[0, 1]), Some(false));
        assert_eq!(surely_disjoint(&[1, 4], &[0, 1]), Some(true)); // size-1 dims do not matter
        assert_eq!(surely_disjoint(&[3, 3], &[1, 1]), None); // overlapping: the exact check decides
        assert_eq!(surely_disjoint(&[3, 2], &[2, 3]), None); // interleaved but disjoint
    }
}
