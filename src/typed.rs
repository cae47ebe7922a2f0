//! [`Typed`] and [`TypedMut`]: a host or device buffer lent to any operation under a derived
//! datatype's layout, checked against the memory it is laid over when the view is made.

use crate::buffer::{Buffer, BufferMut, ElementKind, Lend, LendMut, Spec, SpecMut};
use crate::datatype::{invalid, query_layout};
use crate::datatype::{Datatype, Layout};
use crate::error::Result;
use crate::ffi::MPI_Datatype;
use mpi4rs_device::DType;
use std::ffi::c_void;
use std::marker::PhantomData;

// ---------------------------------------------------------------------------------------------
// Buffers with a derived layout

/// The byte range `[lo, hi)` that `count` items of `layout` touch, relative to the start
/// (`None` when they touch nothing).
fn touched(layout: &Layout, count: usize) -> Option<(i128, i128)> {
    if count == 0 || layout.size == 0 {
        return None;
    }
    let span = (count as i128 - 1) * layout.extent as i128;
    let lo = layout.true_lb as i128 + span.min(0);
    let hi = layout.true_lb as i128 + layout.true_extent as i128 + span.max(0);
    Some((lo, hi))
}

/// The size in bytes of one item of the committed datatype `raw`, and the byte range that
/// `count` items of it touch from their origin (`None` when they touch nothing): what one-sided
/// operations check target ranges with.
pub(crate) fn size_and_span(raw: MPI_Datatype, count: usize) -> Result<(usize, Option<(i128, i128)>)> {
    let layout = query_layout(raw)?;
    Ok((layout.size, touched(&layout, count)))
}

/// Checks that `count` items of `datatype` placed `offset` bytes into a buffer of `bytes` bytes
/// lie inside it; gives the end of the touched range counted from the items' origin, the bytes
/// from there on that the view may access. That is 0 when the range ends at or below the
/// origin, which does not make the view empty: "empty" is zero items or items of zero size
/// (the router passes MPI the real address unless the view is empty in that sense).
pub(crate) fn check_fits(count: usize, datatype: &Datatype, offset: usize, bytes: usize) -> Result<usize> {
    if offset > bytes {
        return Err(invalid(format!("offset {offset} is past the end of the {bytes}-byte buffer")));
    }
    match touched(&datatype.layout, count) {
        None => Ok(0),
        Some((lo, hi)) if offset as i128 + lo >= 0 && offset as i128 + hi <= bytes as i128 => {
            Ok(hi.max(0) as usize)
        }
        Some((lo, hi)) => Err(invalid(format!(
            "{count} items of the datatype (true lb {}, true extent {}, extent {}) at offset {offset} touch \
             bytes {}..{} of a {bytes}-byte buffer",
            datatype.layout.true_lb,
            datatype.layout.true_extent,
            datatype.layout.extent,
            offset as i128 + lo,
            offset as i128 + hi
        ))),
    }
}

/// A read-only buffer seen through a datatype: `count` items of `datatype` laid over the
/// memory of a host buffer from its first byte (mpi4py's `[buf, count, datatype]`). Every
/// buffer operation accepts it.
///
/// The layout is checked when the view is made: the bytes it touches (from the true lower
/// bound of the first item to the true upper bound of the last) must lie inside the buffer.
/// To start elsewhere, lay it over a subslice (`&a[offset..]`), or give the origin as a byte
/// offset with [`with_offset`](Self::with_offset) (needed for layouts that reach below their
/// origin, such as negative strides).
///
/// ```no_run
/// use mpi4rs::prelude::*;
/// use mpi4rs::{Datatype, Typed};
///
/// let env = mpi4rs::init()?;
/// let world = env.world();
/// // Column 2 of a 3 x 4 row-major matrix.
/// let column = Datatype::vector(3, 1, 4, &Datatype::of::<f32>()?)?;
/// let m = [0.5f32; 12];
/// if world.rank() == 0 && world.size() > 1 {
///     world.send(&Typed::new(&m[2..], 1, &column)?, 1, 0)?;
/// }
/// // Three items would run past the end: an error, not an overrun.
/// assert!(Typed::new(&m[2..], 3, &column).is_err());
/// # Ok::<(), mpi4rs::Error>(())
/// ```
pub struct Typed<'a> {
    ptr: *const c_void,
    count: usize,
    datatype: &'a Datatype,
    bytes: usize,
    place: mpi4rs_device::Placement,
    _data: PhantomData<&'a ()>,
}

impl<'a> Typed<'a> {
    /// Lays `count` items of `datatype` over `buf`; [`Error::InvalidArgument`](crate::Error::InvalidArgument) if they do not
    /// fit inside it.
    pub fn new<B: Buffer + ?Sized>(buf: &'a B, count: usize, datatype: &'a Datatype) -> Result<Typed<'a>> {
        Typed::with_offset(buf, 0, count, datatype)
    }

    /// Like [`new`](Self::new) with the items' origin `byte_offset` bytes into `buf`, so that
    /// layouts reaching below their origin (negative strides or displacements) can be used:
    /// the bytes they touch must still lie inside `buf`.
    pub fn with_offset<B: Buffer + ?Sized>(
        buf: &'a B,
        byte_offset: usize,
        count: usize,
        datatype: &'a Datatype,
    ) -> Result<Typed<'a>> {
        let s = buf.spec()?;
        let bytes = check_fits(count, datatype, byte_offset, s.bytes)?;
        // SAFETY: byte_offset <= s.bytes (checked), so the pointer stays inside the buffer.
        let ptr = unsafe { s.ptr.cast::<u8>().add(byte_offset) }.cast();
        Ok(Typed { ptr, count, datatype, bytes, place: s.place, _data: PhantomData })
    }

    /// The datatype of the view.
    pub fn datatype(&self) -> &'a Datatype {
        self.datatype
    }

    /// The number of items.
    pub fn count(&self) -> usize {
        self.count
    }
}

// SAFETY: `new` checked that the items lie inside the borrowed buffer, which (like the
// datatype) stays borrowed for 'a; `bytes` is the end of the touched range, within the buffer.
unsafe impl Buffer for Typed<'_> {
    #[inline]
    fn spec(&self) -> Result<Spec> {
        Ok(Spec {
            ptr: self.ptr,
            count: self.count,
            datatype: self.datatype.raw,
            bytes: self.bytes,
            kind: self.datatype.kind,
            base: self.datatype.base,
            place: self.place,
        })
    }
}

/// A writable buffer seen through a datatype: `count` items of `datatype` laid over the memory
/// of a host buffer (see [`Typed`]), to receive into.
///
/// Besides the bounds check, the buffer's elements must accept whatever MPI writes: buffers of
/// plain numbers always do; `bool` buffers are refused (MPI would write the message's bytes
/// into them unchecked, and a byte other than 0 or 1 is not a `bool`: lay the view over `u8`s
/// instead; plain `bool` slices do receive, through a checked byte copy, see
/// [`transfer`](crate::transfer)); buffers of derived element types (rsmpi `Equivalence`
/// structs, other views) are refused.
///
/// ```no_run
/// use mpi4rs::prelude::*;
/// use mpi4rs::{Datatype, TypedMut};
///
/// let env = mpi4rs::init()?;
/// let world = env.world();
/// // Receive 3 values into every other element of `a`.
/// let every_other = Datatype::resized(0, 16, &Datatype::of::<f64>()?)?;
/// let mut a = [0.0f64; 6];
/// if world.rank() == 1 {
///     world.recv(&mut TypedMut::new(&mut a, 3, &every_other)?, 0, 0)?;
/// }
/// # Ok::<(), mpi4rs::Error>(())
/// ```
pub struct TypedMut<'a> {
    ptr: *mut c_void,
    count: usize,
    datatype: &'a Datatype,
    bytes: usize,
    place: mpi4rs_device::Placement,
    _data: PhantomData<&'a mut ()>,
}

impl<'a> TypedMut<'a> {
    /// Lays `count` items of `datatype` over `buf`; [`Error::InvalidArgument`](crate::Error::InvalidArgument) if they do not
    /// fit inside it or the buffer's elements cannot take what the datatype writes.
    pub fn new<B: BufferMut + ?Sized>(
        buf: &'a mut B,
        count: usize,
        datatype: &'a Datatype,
    ) -> Result<TypedMut<'a>> {
        TypedMut::with_offset(buf, 0, count, datatype)
    }

    /// Like [`new`](Self::new) with the items' origin `byte_offset` bytes into `buf` (see
    /// [`Typed::with_offset`]).
    pub fn with_offset<B: BufferMut + ?Sized>(
        buf: &'a mut B,
        byte_offset: usize,
        count: usize,
        datatype: &'a Datatype,
    ) -> Result<TypedMut<'a>> {
        let s = buf.spec_mut()?;
        match s.kind {
            ElementKind::Basic(DType::Bool) => {
                return Err(invalid(
                    "a bool buffer cannot take a writable datatype layout: MPI could write bytes that are \
                     not 0 or 1 into it (any message, file or window may hold them); lay the view over a \
                     u8 buffer and convert"
                        .into(),
                ))
            }
            ElementKind::Derived => {
                return Err(invalid(
                    "a buffer of derived elements (an EquivalentMut or another view) cannot take a \
                     derived layout; lay it over a buffer of plain numbers"
                        .into(),
                ))
            }
            _ => {}
        }
        let bytes = check_fits(count, datatype, byte_offset, s.bytes)?;
        // SAFETY: byte_offset <= s.bytes (checked), so the pointer stays inside the buffer.
        let ptr = unsafe { s.ptr.cast::<u8>().add(byte_offset) }.cast();
        Ok(TypedMut { ptr, count, datatype, bytes, place: s.place, _data: PhantomData })
    }

    /// The datatype of the view.
    pub fn datatype(&self) -> &'a Datatype {
        self.datatype
    }

    /// The number of items.
    pub fn count(&self) -> usize {
        self.count
    }
}

// SAFETY: the items lie inside the mutably borrowed buffer (checked in `new`), whose elements
// accept any bit pattern the datatype's items can write (also checked there).
unsafe impl Buffer for TypedMut<'_> {
    #[inline]
    fn spec(&self) -> Result<Spec> {
        Ok(Spec {
            ptr: self.ptr,
            count: self.count,
            datatype: self.datatype.raw,
            bytes: self.bytes,
            kind: self.datatype.kind,
            base: self.datatype.base,
            place: self.place,
        })
    }
}

// SAFETY: as above.
unsafe impl BufferMut for TypedMut<'_> {
    #[inline]
    fn spec_mut(&mut self) -> Result<SpecMut> {
        Ok(SpecMut {
            ptr: self.ptr,
            count: self.count,
            datatype: self.datatype.raw,
            bytes: self.bytes,
            kind: self.datatype.kind,
            base: self.datatype.base,
            place: self.place,
        })
    }
}

impl<'s> Lend<'s> for Typed<'s> {
    type Target = Typed<'s>;
    #[inline(always)]
    fn target(&self) -> &Self::Target {
        self
    }
}

impl<'s> LendMut<'s> for TypedMut<'s> {
    type Target = TypedMut<'s>;
    #[inline(always)]
    fn target_mut(&mut self) -> &mut Self::Target {
        self
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn layout(size: usize, lb: isize, extent: isize, true_lb: isize, true_extent: isize) -> Layout {
        Layout { size, lb, extent, true_lb, true_extent }
    }

    #[test]
    fn touched_range() {
        let l = layout(8, 0, 16, 0, 8); // an f64 resized to 16 bytes
        assert_eq!(touched(&l, 0), None);
        assert_eq!(touched(&l, 1), Some((0, 8)));
        assert_eq!(touched(&l, 3), Some((0, 40)));
        let neg = layout(8, -16, 16, -16, 8); // extent going down from a negative lb
        assert_eq!(touched(&neg, 2), Some((-16, 8)));
        let backwards = layout(8, 0, -8, 0, 8);
        assert_eq!(touched(&backwards, 3), Some((-16, 8)));
        assert_eq!(touched(&layout(0, 0, 0, 0, 0), 5), None);
    }
}
