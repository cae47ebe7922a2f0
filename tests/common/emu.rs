//! Emulated device memory for tests on machines without a GPU.

use mpi4rs::device::{
    BufferView, BufferViewMut, DeviceBuffer, DeviceBufferMut, Element, Placement, StreamRef,
};

/// Host memory that claims to be on CUDA device 0; with
/// `mpi4rs::transfer::emulate_device_memory(true)` the router moves it as device memory.
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
