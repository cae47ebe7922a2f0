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
    // memory are `Emu` buffers (host vectors whose views are exactly their elements), and
    // every rank of a job switches it at the same point of the same case.
    unsafe { mpi4rs::transfer::emulate_device_memory(on) }
}
