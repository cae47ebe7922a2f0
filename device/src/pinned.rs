//! Page-locked host memory that the CPU reads at full speed (not write-combined).

use crate::error::DeviceResult;
use crate::{cuda, BufferView, BufferViewMut, DeviceBuffer, DeviceBufferMut, Element, MemoryKind, Placement};
use std::ops::{Deref, DerefMut};

/// `len` elements of `T` in page-locked host memory: a host buffer the GPU can copy to and
/// from asynchronously. Needs CUDA ([`cuda::probe`]).
///
/// ```
/// use mpi4rs_device::{DeviceBuffer, MemoryKind, PinnedBuffer};
/// match PinnedBuffer::<f32>::zeroed(1024) {
///     Ok(buf) => assert_eq!(buf.view().memory(), MemoryKind::PinnedHost),
///     Err(e) => println!("no CUDA here: {e}"),
/// }
/// ```
pub struct PinnedBuffer<T: Element> {
    ptr: *mut T,
    len: usize,
}

// SAFETY: owned memory of Send + Sync elements.
unsafe impl<T: Element> Send for PinnedBuffer<T> {}
// SAFETY: as for Send; `&PinnedBuffer` gives only shared reads.
unsafe impl<T: Element> Sync for PinnedBuffer<T> {}

impl<T: Element> PinnedBuffer<T> {
    /// Allocates `len` zeroed elements (zero bits are a valid value of every [`Element`]).
    pub fn zeroed(len: usize) -> DeviceResult<Self> {
        let bytes = len.checked_mul(std::mem::size_of::<T>()).ok_or_else(|| {
            crate::DeviceError::Unsupported(format!("{len} elements of {} overflow usize", T::DTYPE))
        })?;
        // SAFETY: freed in Drop; zeroed below before any read.
        let ptr = unsafe { cuda::pinned_alloc(bytes)? }.cast::<T>();
        // SAFETY: `bytes` bytes were just allocated.
        unsafe { std::ptr::write_bytes(ptr.cast::<u8>(), 0, bytes) };
        Ok(PinnedBuffer { ptr, len })
    }

    /// Allocates a copy of `data`.
    pub fn from_slice(data: &[T]) -> DeviceResult<Self> {
        let mut buf = Self::zeroed(data.len())?;
        buf.copy_from_slice(data);
        Ok(buf)
    }
}

impl<T: Element> Deref for PinnedBuffer<T> {
    type Target = [T];
    fn deref(&self) -> &[T] {
        // SAFETY: `len` initialised elements, owned by self.
        unsafe { std::slice::from_raw_parts(self.ptr, self.len) }
    }
}

impl<T: Element> DerefMut for PinnedBuffer<T> {
    fn deref_mut(&mut self) -> &mut [T] {
        // SAFETY: as above, borrowed mutably.
        unsafe { std::slice::from_raw_parts_mut(self.ptr, self.len) }
    }
}

impl<T: Element> Drop for PinnedBuffer<T> {
    fn drop(&mut self) {
        // SAFETY: allocated by pinned_alloc, not used after this.
        unsafe { cuda::pinned_free(self.ptr.cast()) }
    }
}

const PINNED: Placement = Placement { memory: MemoryKind::PinnedHost, stream: None, policy: None };

// SAFETY: the view describes the owned allocation, borrowed with self.
unsafe impl<T: Element> DeviceBuffer for PinnedBuffer<T> {
    fn view(&self) -> BufferView {
        BufferView { ptr: self.ptr.cast(), len: self.len, dtype: T::DTYPE, place: PINNED }
    }
}

// SAFETY: the owned allocation, borrowed mutably with `self`.
unsafe impl<T: Element> DeviceBufferMut for PinnedBuffer<T> {
    fn view_mut(&mut self) -> BufferViewMut {
        BufferViewMut { ptr: self.ptr.cast(), len: self.len, dtype: T::DTYPE, place: PINNED }
    }
}
