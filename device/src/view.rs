//! The runtime view of a buffer and the traits that produce one.

use crate::DType;
use std::ffi::c_void;

/// Where a buffer's bytes live.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum MemoryKind {
    /// Ordinary (pageable) host memory.
    Host,
    /// Page-locked host memory, readable by the CPU and DMA-able by a GPU.
    PinnedHost,
    /// Memory of the CUDA device with this ordinal.
    Cuda {
        /// The CUDA device ordinal.
        device: i32,
    },
}

impl MemoryKind {
    /// True for memory the CPU can read and write directly.
    pub const fn is_host(self) -> bool {
        matches!(self, MemoryKind::Host | MemoryKind::PinnedHost)
    }
}

/// A read-only description of a contiguous buffer.
#[derive(Clone, Copy, Debug)]
pub struct BufferView {
    /// Address of the first element.
    pub ptr: *const c_void,
    /// Number of elements.
    pub len: usize,
    /// Element type.
    pub dtype: DType,
    /// Where the bytes live.
    pub memory: MemoryKind,
}

/// A writable description of a contiguous buffer.
#[derive(Clone, Copy, Debug)]
pub struct BufferViewMut {
    /// Address of the first element.
    pub ptr: *mut c_void,
    /// Number of elements.
    pub len: usize,
    /// Element type.
    pub dtype: DType,
    /// Where the bytes live.
    pub memory: MemoryKind,
}

impl BufferView {
    /// Size in bytes.
    pub const fn bytes(&self) -> usize {
        self.len * self.dtype.size()
    }
}

impl BufferViewMut {
    /// Size in bytes.
    pub const fn bytes(&self) -> usize {
        self.len * self.dtype.size()
    }
}

/// A buffer that can be read: it describes itself as a [`BufferView`].
///
/// # Safety
/// The view must describe memory that stays valid and unaliased by writers for as long as the
/// borrow of `self` that produced it.
pub unsafe trait DeviceBuffer {
    /// The view of this buffer.
    fn view(&self) -> BufferView;
}

/// A buffer that can be written: it describes itself as a [`BufferViewMut`].
///
/// # Safety
/// The view must describe memory that stays valid and exclusively borrowed for as long as the
/// mutable borrow of `self` that produced it, and any bit pattern of its dtype must be valid.
pub unsafe trait DeviceBufferMut: DeviceBuffer {
    /// The writable view of this buffer.
    fn view_mut(&mut self) -> BufferViewMut;
}
