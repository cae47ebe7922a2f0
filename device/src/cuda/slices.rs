//! cudarc's device slices as buffers: `CudaSlice<T>`, `CudaView<T>` and `CudaViewMut<T>`
//! describe themselves with their device, address and stream.

use crate::{BufferView, BufferViewMut, DeviceBuffer, DeviceBufferMut, Element, Placement, StreamRef};
use cudarc::driver::{CudaSlice, CudaView, CudaViewMut, DevicePtr, DevicePtrMut, DeviceSlice};

fn place<T, S: DeviceSlice<T> + ?Sized>(s: &S) -> Placement {
    let stream = s.stream();
    Placement::cuda(stream.context().ordinal() as i32, StreamRef(stream.cu_stream().cast()))
}

/// The view of a readable cudarc slice. `device_ptr` on the slice's own stream makes that
/// stream wait for writes recorded on other streams (cudarc's event tracking), so waiting for
/// the slice's stream covers them.
fn read_view<T: Element, S: DevicePtr<T> + ?Sized>(s: &S) -> BufferView {
    let place = place::<T, S>(s);
    let (ptr, _record) = s.device_ptr(s.stream());
    BufferView { ptr: ptr as *const std::ffi::c_void, len: s.len(), dtype: T::DTYPE, place }
}

fn write_view<T: Element, S: DevicePtrMut<T> + ?Sized>(s: &mut S) -> BufferViewMut {
    let place = place::<T, S>(s);
    let len = s.len();
    let stream = s.stream().clone();
    let (ptr, _record) = s.device_ptr_mut(&stream);
    BufferViewMut { ptr: ptr as *mut std::ffi::c_void, len, dtype: T::DTYPE, place }
}

// SAFETY: the views describe the slice's own allocation, borrowed with `self`.
#[cfg_attr(docsrs, doc(cfg(feature = "cuda")))]
unsafe impl<T: Element> DeviceBuffer for CudaSlice<T> {
    fn view(&self) -> BufferView {
        read_view(self)
    }
}
#[cfg_attr(docsrs, doc(cfg(feature = "cuda")))]
// SAFETY: the writable view is the slice's own allocation, borrowed mutably with `self`; any
// bit pattern of an `Element` is valid.
unsafe impl<T: Element> DeviceBufferMut for CudaSlice<T> {
    fn view_mut(&mut self) -> BufferViewMut {
        write_view(self)
    }
}
#[cfg_attr(docsrs, doc(cfg(feature = "cuda")))]
// SAFETY: a view of part of an allocation, borrowed with `self` for its lifetime.
unsafe impl<T: Element> DeviceBuffer for CudaView<'_, T> {
    fn view(&self) -> BufferView {
        read_view(self)
    }
}
#[cfg_attr(docsrs, doc(cfg(feature = "cuda")))]
// SAFETY: as for `CudaView`: the memory it borrows mutably, read through `&self`.
unsafe impl<T: Element> DeviceBuffer for CudaViewMut<'_, T> {
    fn view(&self) -> BufferView {
        read_view(self)
    }
}
#[cfg_attr(docsrs, doc(cfg(feature = "cuda")))]
// SAFETY: the memory this view borrows mutably, borrowed again mutably with `self`.
unsafe impl<T: Element> DeviceBufferMut for CudaViewMut<'_, T> {
    fn view_mut(&mut self) -> BufferViewMut {
        write_view(self)
    }
}
