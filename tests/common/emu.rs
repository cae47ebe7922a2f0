//! Emulated device memory for machines without a GPU: a host vector whose view claims CUDA
//! device 0. With [`emulate`]`(true)` the router stages it exactly as real device memory,
//! copying with `memcpy`.

use mpi4rs::device::{
    BufferView, BufferViewMut, DeviceBuffer, DeviceBufferMut, Element, Placement, StreamRef,
};

/// Host memory that claims to be on CUDA device 0.
#[derive(Clone, Debug, PartialEq)]
pub struct Emu<T>(pub Vec<T>);

unsafe impl<T: Element> DeviceBuffer for Emu<T> {
    fn view(&self) -> BufferView {
        BufferView {
            place: Placement::cuda(0, StreamRef::DEFAULT),
            ..BufferView::host(self.0.as_ptr().cast(), self.0.len(), T::DTYPE)
        }
    }
}

unsafe impl<T: Element> DeviceBufferMut for Emu<T> {
    fn view_mut(&mut self) -> BufferViewMut {
        let v = BufferViewMut::host(self.0.as_mut_ptr().cast(), self.0.len(), T::DTYPE);
        BufferViewMut { place: Placement::cuda(0, StreamRef::DEFAULT), ..v }
    }
}

/// Switches the router's device-memory emulation (`transfer::emulate_device_memory`) on or off.
pub fn emulate(on: bool) {
    // SAFETY: while it is on, the only buffers the tests lend the router that claim device
    // memory are `Emu` and `EmuRaw` buffers (host memory whose views are exactly their
    // elements), and
    // every rank of a job switches it at the same point of the same case.
    unsafe { mpi4rs::transfer::emulate_device_memory(on) }
}

/// Emulated device memory reached only through a raw pointer, so that a test can write the
/// bytes a layout does not lend (its holes) while an operation is in flight, as device work on
/// another stream may.
pub struct EmuRaw<T> {
    ptr: *mut T,
    len: usize,
}

/// Writes elements of an [`EmuRaw`] through its pointer (no reference to the memory exists).
#[derive(Clone, Copy)]
pub struct RawWriter<T> {
    ptr: *mut T,
    len: usize,
}

impl<T: Element + Copy> EmuRaw<T> {
    pub fn new(v: Vec<T>) -> Self {
        let b = v.into_boxed_slice();
        let len = b.len();
        EmuRaw { ptr: Box::into_raw(b).cast(), len }
    }

    pub fn writer(&self) -> RawWriter<T> {
        RawWriter { ptr: self.ptr, len: self.len }
    }

    pub fn to_vec(&self) -> Vec<T> {
        // SAFETY: `len` initialised elements, read while no operation lends them.
        unsafe { std::slice::from_raw_parts(self.ptr, self.len) }.to_vec()
    }
}

impl<T> Drop for EmuRaw<T> {
    fn drop(&mut self) {
        // SAFETY: the box `new` leaked.
        drop(unsafe { Box::from_raw(std::ptr::slice_from_raw_parts_mut(self.ptr, self.len)) });
    }
}

impl<T: Copy> RawWriter<T> {
    pub fn set(&self, i: usize, value: T) {
        assert!(i < self.len);
        // SAFETY: inside the allocation; the tests write only bytes no operation lends.
        unsafe { self.ptr.add(i).write(value) }
    }
}

unsafe impl<T: Element> DeviceBuffer for EmuRaw<T> {
    fn view(&self) -> BufferView {
        BufferView {
            place: Placement::cuda(0, StreamRef::DEFAULT),
            ..BufferView::host(self.ptr.cast_const().cast(), self.len, T::DTYPE)
        }
    }
}

unsafe impl<T: Element> DeviceBufferMut for EmuRaw<T> {
    fn view_mut(&mut self) -> BufferViewMut {
        let v = BufferViewMut::host(self.ptr.cast(), self.len, T::DTYPE);
        BufferViewMut { place: Placement::cuda(0, StreamRef::DEFAULT), ..v }
    }
}
