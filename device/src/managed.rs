//! CUDA managed (unified) memory: one allocation the CPU and the GPU both address.

use crate::error::DeviceResult;
use crate::{
    cuda, BufferView, BufferViewMut, DeviceBuffer, DeviceBufferMut, Element, MemoryKind, Placement, StreamRef,
};
use std::ops::{Deref, DerefMut};

/// `len` elements of `T` in CUDA managed memory (`cuMemAllocManaged`, attached globally),
/// associated with a device and a stream. Its views say [`MemoryKind::CudaManaged`]: the MPI
/// layer synchronises the stream as the [`SyncPolicy`](crate::SyncPolicy) says and then hands
/// the pointer to MPI directly, CUDA-aware or not, with no staging copy.
///
/// The CPU reads and writes it through `Deref`/`DerefMut`. Device work on it is queued through
/// raw pointers ([`as_device_ptr`](Self::as_device_ptr), unsafe), and must be finished before
/// the CPU touches the memory ([`synchronize`](Self::synchronize)); on GPUs without concurrent
/// managed access (before Pascal, or Windows) the CPU must not touch it while *any* kernel runs.
///
/// ```
/// use mpi4rs_device::{DeviceBuffer, ManagedBuffer, MemoryKind};
/// match ManagedBuffer::<f32>::zeroed(0, 1024) {
///     Ok(buf) => assert_eq!(buf.view().memory(), MemoryKind::CudaManaged { device: 0 }),
///     Err(e) => println!("no CUDA here: {e}"),
/// }
/// ```
pub struct ManagedBuffer<T: Element> {
    ptr: *mut T,
    len: usize,
    place: Placement,
}

// SAFETY: owned memory of Send + Sync elements; the stream is a process-wide token.
unsafe impl<T: Element> Send for ManagedBuffer<T> {}
// SAFETY: as for Send; `&ManagedBuffer` gives only shared reads.
unsafe impl<T: Element> Sync for ManagedBuffer<T> {}

impl<T: Element> ManagedBuffer<T> {
    /// Allocates `len` zeroed elements of managed memory on `device`, associated with its
    /// legacy default stream (zero bits are a valid value of every [`Element`]).
    pub fn zeroed(device: i32, len: usize) -> DeviceResult<Self> {
        let bytes = len.checked_mul(std::mem::size_of::<T>()).ok_or_else(|| {
            crate::DeviceError::Unsupported(format!("{len} elements of {} overflow usize", T::DTYPE))
        })?;
        // SAFETY: freed in Drop; zeroed below before any read.
        let ptr = unsafe { cuda::managed_alloc(device, bytes)? }.cast::<T>();
        // SAFETY: `bytes` bytes of fresh managed memory, addressable by the CPU; no device work
        // has been queued on it.
        unsafe { std::ptr::write_bytes(ptr.cast::<u8>(), 0, bytes) };
        let place = Placement {
            memory: MemoryKind::CudaManaged { device },
            stream: Some(StreamRef::DEFAULT),
            policy: None,
        };
        Ok(ManagedBuffer { ptr, len, place })
    }

    /// Allocates a copy of `data` on `device`.
    pub fn from_slice(device: i32, data: &[T]) -> DeviceResult<Self> {
        let mut buf = Self::zeroed(device, data.len())?;
        buf.copy_from_slice(data);
        Ok(buf)
    }

    /// The same buffer, with device work on it queued on `stream` (what the synchronisation
    /// before MPI waits for).
    pub fn with_stream(mut self, stream: StreamRef) -> Self {
        self.place.stream = Some(stream);
        self
    }

    /// The device address, for kernels and copies (the same address the CPU uses).
    pub fn as_device_ptr(&self) -> *mut std::ffi::c_void {
        self.ptr.cast()
    }

    /// Waits for the work queued on the buffer's stream.
    pub fn synchronize(&self) -> DeviceResult<()> {
        let device = self.place.memory.cuda_device().unwrap_or(0);
        cuda::stream_synchronize(device, self.place.stream.unwrap_or(StreamRef::DEFAULT))
    }
}

impl<T: Element> Deref for ManagedBuffer<T> {
    type Target = [T];
    fn deref(&self) -> &[T] {
        // SAFETY: `len` initialised elements, owned by self and addressable by the CPU.
        unsafe { std::slice::from_raw_parts(self.ptr, self.len) }
    }
}

impl<T: Element> DerefMut for ManagedBuffer<T> {
    fn deref_mut(&mut self) -> &mut [T] {
        // SAFETY: as above, borrowed mutably.
        unsafe { std::slice::from_raw_parts_mut(self.ptr, self.len) }
    }
}

impl<T: Element> Drop for ManagedBuffer<T> {
    fn drop(&mut self) {
        let device = self.place.memory.cuda_device().unwrap_or(0);
        // SAFETY: allocated by managed_alloc on `device`, not used after this.
        unsafe { cuda::managed_free(device, self.ptr.cast()) }
    }
}

// SAFETY: the view describes the owned allocation, borrowed with self.
unsafe impl<T: Element> DeviceBuffer for ManagedBuffer<T> {
    fn view(&self) -> BufferView {
        BufferView { ptr: self.ptr.cast(), len: self.len, dtype: T::DTYPE, place: self.place }
    }
}

// SAFETY: the owned allocation, borrowed mutably with `self`.
unsafe impl<T: Element> DeviceBufferMut for ManagedBuffer<T> {
    fn view_mut(&mut self) -> BufferViewMut {
        BufferViewMut { ptr: self.ptr.cast(), len: self.len, dtype: T::DTYPE, place: self.place }
    }
}
