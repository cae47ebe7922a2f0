//! What an MPI call needs from a buffer — address, count and datatype — and the traits that
//! give it. Every buffer operation goes through [`Buffer`] and [`BufferMut`], so this is the one
//! place where buffer kinds are told apart (the device release routes device memory here).
//!
//! Host buffers are a single value, a slice, an array or a `Vec` of a [`BufferElement`]. Types with an rsmpi [`Equivalence`] (including
//! `#[derive(Equivalence)]` structs) travel wrapped in [`Equivalent`] / [`EquivalentMut`].

use crate::error::Result;
use crate::ffi::MPI_Datatype;
use crate::predefined::mpi_datatype;
use crate::util::to_count;
use mpi::datatype::Equivalence;
use mpi::raw::AsRaw;
use mpi4rs_device::{DType, DeviceBuffer, DeviceBufferMut, Element, Placement};
use std::ffi::{c_int, c_void};

/// What the elements of a buffer are, as far as reductions care: predefined operations apply
/// to basic types and value-index pairs only.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ElementKind {
    /// One of the basic element types.
    Basic(DType),
    /// A value-index pair for `MAXLOC`/`MINLOC` ([`ValueIndex`](crate::ValueIndex)).
    Pair(crate::predefined::PairType),
    /// A derived or user datatype (rsmpi `Equivalence`, [`Datatype`](crate::Datatype)):
    /// user-defined operations created for it reduce it, and predefined ones do where its
    /// type map is one basic type (a [`Typed`](crate::Typed) column, a
    /// [`Strided`](crate::Strided) tensor: packed into contiguous elements first).
    Derived,
}

/// A read-only buffer as MPI sees it: `count` items of `datatype` at `ptr`, `bytes` long (the
/// memory MPI may touch, from `ptr`).
#[derive(Clone, Copy, Debug)]
pub struct Spec {
    pub(crate) ptr: *const c_void,
    pub(crate) count: usize,
    pub(crate) datatype: MPI_Datatype,
    pub(crate) bytes: usize,
    pub(crate) kind: ElementKind,
    /// For a derived layout, the one basic element type it consists of, where known: a
    /// reduction with a predefined operation packs such a layout into contiguous elements.
    pub(crate) base: Option<DType>,
    pub(crate) place: Placement,
}

/// A writable buffer as MPI sees it: `count` items of `datatype` at `ptr`, `bytes` long (the
/// memory MPI may touch, from `ptr`).
#[derive(Clone, Copy, Debug)]
pub struct SpecMut {
    pub(crate) ptr: *mut c_void,
    pub(crate) count: usize,
    pub(crate) datatype: MPI_Datatype,
    pub(crate) bytes: usize,
    pub(crate) kind: ElementKind,
    /// For a derived layout, the one basic element type it consists of, where known: a
    /// reduction with a predefined operation packs such a layout into contiguous elements.
    pub(crate) base: Option<DType>,
    pub(crate) place: Placement,
}

/// A buffer MPI can read from.
///
/// # Safety
/// The spec must describe `count` elements of `datatype` at `ptr`, valid for reads while the
/// borrow of `self` lasts.
pub unsafe trait Buffer {
    /// The address, count and datatype of this buffer.
    fn spec(&self) -> Result<Spec>;
}

/// A buffer MPI can write into.
///
/// # Safety
/// The spec must describe `count` elements of `datatype` at `ptr`, valid for writes of any bit
/// pattern of that datatype while the mutable borrow of `self` lasts.
pub unsafe trait BufferMut {
    /// The address, count and datatype of this buffer.
    fn spec_mut(&mut self) -> Result<SpecMut>;
}

macro_rules! spec_accessors {
    ($($spec:ident),*) => {$(
        impl $spec {
            /// Size of the buffer in bytes.
            pub fn bytes(&self) -> usize {
                self.bytes
            }

            /// Number of datatype items.
            pub fn count(&self) -> usize {
                self.count
            }

            /// What the items are.
            pub fn kind(&self) -> ElementKind {
                self.kind
            }

            /// Bytes of data the items hold, which is what a message of them carries: `bytes`
            /// for basic elements; for derived datatypes, whose `bytes` is the memory they span
            /// (holes included), `count` times the datatype's size.
            pub(crate) fn data_bytes(&self) -> Result<usize> {
                if self.kind != ElementKind::Derived {
                    return Ok(self.bytes);
                }
                let mut size: crate::ffi::MPI_Count = 0;
                crate::error::mpi_call!(MPI_Type_size_x(self.datatype, &mut size))?;
                #[allow(clippy::useless_conversion)]
                let size = usize::try_from(i64::from(size)).unwrap_or(0);
                Ok(size.saturating_mul(self.count))
            }

            /// The count as an MPI `int`, or [`Error::CountOverflow`].
            #[inline(always)]
            pub(crate) fn c_count(&self) -> Result<c_int> {
                to_count("buffer length", self.count)
            }
        }
    )*};
}
spec_accessors!(Spec, SpecMut);

impl SpecMut {
    /// The same buffer, read-only.
    #[inline(always)]
    pub(crate) fn as_spec(&self) -> Spec {
        Spec {
            ptr: self.ptr,
            count: self.count,
            datatype: self.datatype,
            bytes: self.bytes,
            kind: self.kind,
            base: self.base,
            place: self.place,
        }
    }
}

/// An element type that host buffers hold: every [`Element`] (integers, floats, `bool`,
/// `f16`/`bf16`, complex) and the [`ValueIndex`](crate::ValueIndex) pairs of `MAXLOC`/`MINLOC`.
///
/// # Safety
/// [`datatype`](Self::datatype) must describe the memory layout of `Self` exactly, and every
/// bit pattern MPI may write into it must be a valid `Self`.
pub unsafe trait BufferElement: Copy + 'static {
    /// What the element is, for checking operations against it.
    fn kind() -> ElementKind;
    /// The MPI datatype of one element.
    fn datatype() -> MPI_Datatype;
}

/// Implements [`BufferElement`] for element types of the device crate. (One impl per type
/// rather than a blanket over `Element`, so that containers such as `Vec<T>` can be buffers
/// too: coherence could not rule out a foreign `Vec<T>: Element`.)
macro_rules! basic_elements {
    ($($t:ty),* $(,)?) => {$(
        // SAFETY: mpi_datatype gives the predefined (or library-made 2-byte) type of the
        // same layout; Element guarantees the bit patterns.
        unsafe impl BufferElement for $t {
            #[inline(always)]
            fn kind() -> ElementKind {
                ElementKind::Basic(<$t as Element>::DTYPE)
            }
            #[inline(always)]
            fn datatype() -> MPI_Datatype {
                mpi_datatype(<$t as Element>::DTYPE)
            }
        }
    )*};
}

basic_elements! {
    bool, i8, i16, i32, i64, isize, u8, u16, u32, u64, usize,
    half::f16, half::bf16, f32, f64, num_complex::Complex<f32>, num_complex::Complex<f64>,
}

#[inline(always)]
fn slice_spec<T: BufferElement>(s: &[T]) -> Spec {
    Spec {
        ptr: s.as_ptr().cast(),
        count: s.len(),
        datatype: T::datatype(),
        bytes: std::mem::size_of_val(s),
        kind: T::kind(),
        base: None,
        place: Placement::HOST,
    }
}

#[inline(always)]
fn slice_spec_mut<T: BufferElement>(s: &mut [T]) -> SpecMut {
    let bytes = std::mem::size_of_val(s);
    SpecMut {
        ptr: s.as_mut_ptr().cast(),
        count: s.len(),
        datatype: T::datatype(),
        bytes,
        kind: T::kind(),
        base: None,
        place: Placement::HOST,
    }
}

/// Implements the buffer traits for host containers of [`BufferElement`]s through their slice.
/// (Device memory types get their own impls in the device router, which stages or passes
/// them according to [`MemoryKind`](mpi4rs_device::MemoryKind).)
macro_rules! host_buffers {
    ($([$($g:tt)*] $t:ty => |$s:ident| $slice:expr, $slice_mut:expr);* $(;)?) => {$(
        // SAFETY: the spec describes exactly the elements of the borrowed container.
        unsafe impl<$($g)*> Buffer for $t {
            #[inline(always)]
            fn spec(&self) -> Result<Spec> { let $s = self; Ok(slice_spec($slice)) }
        }
        // SAFETY: as above; BufferElement guarantees any bit pattern MPI writes is valid.
        unsafe impl<$($g)*> BufferMut for $t {
            #[inline(always)]
            fn spec_mut(&mut self) -> Result<SpecMut> { let $s = self; Ok(slice_spec_mut($slice_mut)) }
        }
    )*};
}

host_buffers! {
    [T: BufferElement] T => |s| std::slice::from_ref(s), std::slice::from_mut(s);
    [T: BufferElement] [T] => |s| s, s;
    [T: BufferElement] Vec<T> => |s| &s[..], &mut s[..];
    [T: BufferElement, const N: usize] [T; N] => |s| &s[..], &mut s[..];
}

/// Any [`DeviceBuffer`] (a type of the device crate whose memory kind is known only at run
/// time: a DLPack tensor, a user's own device type), lent to an operation. Host memory passes
/// straight through; device memory goes to the [transfer router](crate::transfer).
///
/// cudarc's `CudaSlice`/`CudaView`/`CudaViewMut`, [`PinnedBuffer`](mpi4rs_device::PinnedBuffer)
/// and DLPack tensors are buffers themselves and need no wrapper.
pub struct Device<'a, B: ?Sized>(pub &'a B);

/// A writable [`DeviceBufferMut`], lent to an operation (see [`Device`]).
pub struct DeviceMut<'a, B: ?Sized>(pub &'a mut B);

/// The spec of a device-crate view: basic elements, wherever they live.
#[inline]
pub(crate) fn view_spec(v: mpi4rs_device::BufferView) -> Spec {
    Spec {
        ptr: v.ptr,
        count: v.len,
        datatype: mpi_datatype(v.dtype),
        bytes: v.bytes(),
        kind: ElementKind::Basic(v.dtype),
        base: None,
        place: v.place,
    }
}

/// The spec of a writable device-crate view.
#[inline]
pub(crate) fn view_spec_mut(v: mpi4rs_device::BufferViewMut) -> SpecMut {
    SpecMut {
        ptr: v.ptr,
        count: v.len,
        datatype: mpi_datatype(v.dtype),
        bytes: v.bytes(),
        kind: ElementKind::Basic(v.dtype),
        base: None,
        place: v.place,
    }
}

// SAFETY: the view describes the borrowed buffer (DeviceBuffer's contract); the router hands
// MPI either host memory or device memory a CUDA-aware MPI reads.
unsafe impl<B: DeviceBuffer + ?Sized> Buffer for Device<'_, B> {
    fn spec(&self) -> Result<Spec> {
        Ok(view_spec(self.0.view()))
    }
}

// SAFETY: as for Device.
unsafe impl<B: DeviceBufferMut + ?Sized> BufferMut for DeviceMut<'_, B> {
    fn spec_mut(&mut self) -> Result<SpecMut> {
        Ok(view_spec_mut(self.0.view_mut()))
    }
}

/// Implements the buffer traits for device-crate types through their views (`mut`: writable
/// too).
macro_rules! device_buffers {
    ($([$($g:tt)*] $t:ty);* $(;)?) => {$(
        // SAFETY: the view describes the borrowed buffer (DeviceBuffer's contract).
        unsafe impl<$($g)*> Buffer for $t {
            fn spec(&self) -> Result<Spec> { Ok(view_spec(DeviceBuffer::view(self))) }
        }
    )*};
    (mut $([$($g:tt)*] $t:ty);* $(;)?) => {$(
        device_buffers!([$($g)*] $t);
        // SAFETY: as above (DeviceBufferMut's contract).
        unsafe impl<$($g)*> BufferMut for $t {
            fn spec_mut(&mut self) -> Result<SpecMut> { Ok(view_spec_mut(DeviceBufferMut::view_mut(self))) }
        }
    )*};
}

device_buffers!(mut [T: Element] mpi4rs_device::PinnedBuffer<T>);
device_buffers!(mut [T: Element] mpi4rs_device::ManagedBuffer<T>);
device_buffers!([] mpi4rs_device::DlpackTensor);
device_buffers!(mut [] mpi4rs_device::DlpackTensorMut<'_>);

#[cfg(feature = "cuda")]
device_buffers!(mut [T: Element] mpi4rs_device::cudarc::driver::CudaSlice<T>;
    [T: Element] mpi4rs_device::cudarc::driver::CudaViewMut<'_, T>);
#[cfg(feature = "cuda")]
device_buffers!([T: Element] mpi4rs_device::cudarc::driver::CudaView<'_, T>);

/// A slice of an rsmpi [`Equivalence`] type (e.g. a `#[derive(Equivalence)]` struct), to send.
///
/// ```no_run
/// use mpi::traits::Equivalence;
/// use mpi4rs::prelude::*;
///
/// #[derive(Equivalence, Clone, Copy, Default)]
/// struct Particle { x: [f64; 3], id: u32 }
///
/// let env = mpi4rs::init()?;
/// let world = env.world();
/// let mut parts = [Particle::default(); 4];
/// if world.rank() == 0 {
///     world.send(&Equivalent(&parts), 1, 0)?;
/// } else if world.rank() == 1 {
///     world.recv(&mut EquivalentMut(&mut parts), 0, 0)?;
/// }
/// # Ok::<(), mpi4rs::Error>(())
/// ```
pub struct Equivalent<'a, T>(pub &'a [T]);

/// A mutable slice of an rsmpi [`Equivalence`] type, to receive into.
pub struct EquivalentMut<'a, T>(pub &'a mut [T]);

// SAFETY: the slice's own memory, borrowed with `self`, described by rsmpi's datatype for `T`.
unsafe impl<T: Equivalence> Buffer for Equivalent<'_, T> {
    fn spec(&self) -> Result<Spec> {
        Ok(Spec {
            ptr: self.0.as_ptr().cast(),
            count: self.0.len(),
            datatype: T::equivalent_datatype().as_raw(),
            bytes: std::mem::size_of_val(self.0),
            kind: ElementKind::Derived,
            base: None,
            place: Placement::HOST,
        })
    }
}

// SAFETY: the slice's own memory, borrowed mutably with `self`; `T: Equivalence` types are
// plain data that the datatype describes (rsmpi's contract), and types with a `bool` in them
// are refused (MPI would write any byte a message holds into it).
unsafe impl<T: Equivalence> BufferMut for EquivalentMut<'_, T> {
    fn spec_mut(&mut self) -> Result<SpecMut> {
        let datatype = T::equivalent_datatype().as_raw();
        if crate::predefined::long_lived_type_has_bool(datatype)? {
            return Err(crate::error::Error::UnsupportedBuffer(format!(
                "{} holds a bool, which MPI would write with any byte a message carries: receive \
                 into a type with u8 in its place",
                std::any::type_name::<T>()
            )));
        }
        Ok(SpecMut {
            ptr: self.0.as_mut_ptr().cast(),
            count: self.0.len(),
            datatype,
            bytes: std::mem::size_of_val(self.0),
            kind: ElementKind::Derived,
            base: None,
            place: Placement::HOST,
        })
    }
}

/// A buffer lent to a nonblocking or persistent operation for the scope's lifetime `'s`:
/// a reference `&'s B` to any [`Buffer`], or a [`Typed`](crate::Typed) view by value, so that
/// a view can be made inline (`comm.isend(s, Typed::new(&grid, 1, &column)?, …)`) instead of
/// in a `let` before the call.
pub trait Lend<'s> {
    /// The buffer lent.
    type Target: Buffer + ?Sized;
    /// The buffer lent.
    fn target(&self) -> &Self::Target;
}

impl<'s, B: Buffer + ?Sized> Lend<'s> for &'s B {
    type Target = B;
    #[inline(always)]
    fn target(&self) -> &B {
        self
    }
}

/// A writable buffer lent for the scope's lifetime `'s`: `&'s mut B` for any [`BufferMut`],
/// or a [`TypedMut`](crate::TypedMut) view by value (see [`Lend`]).
pub trait LendMut<'s> {
    /// The buffer lent.
    type Target: BufferMut + ?Sized;
    /// The buffer lent.
    fn target_mut(&mut self) -> &mut Self::Target;
}

impl<'s, B: BufferMut + ?Sized> LendMut<'s> for &'s mut B {
    type Target = B;
    #[inline(always)]
    fn target_mut(&mut self) -> &mut B {
        self
    }
}

impl<'s, B: DeviceBuffer + ?Sized> Lend<'s> for Device<'s, B> {
    type Target = Device<'s, B>;
    #[inline(always)]
    fn target(&self) -> &Self::Target {
        self
    }
}

impl<'s, B: DeviceBufferMut + ?Sized> LendMut<'s> for DeviceMut<'s, B> {
    type Target = DeviceMut<'s, B>;
    #[inline(always)]
    fn target_mut(&mut self) -> &mut Self::Target {
        self
    }
}
