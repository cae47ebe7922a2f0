//! The runtime view of a buffer and the traits that produce one.

use crate::policy::SyncPolicy;
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
    /// CUDA managed (unified) memory (`cuMemAllocManaged`, DLPack's `kDLCUDAManaged`), last
    /// attached to the device with this ordinal: the CPU can address it, so once the work
    /// that produces it is synchronised any MPI reads and writes it directly, without staging.
    CudaManaged {
        /// The CUDA device ordinal.
        device: i32,
    },
}

impl MemoryKind {
    /// True for host memory (pageable or pinned): nothing to synchronise before the CPU reads
    /// it. Managed memory is not host memory in this sense; see [`host_accessible`](Self::host_accessible).
    pub const fn is_host(self) -> bool {
        matches!(self, MemoryKind::Host | MemoryKind::PinnedHost)
    }

    /// True for memory the CPU can address: host memory and, once the device work on it is
    /// synchronised, managed memory.
    pub const fn host_accessible(self) -> bool {
        matches!(self, MemoryKind::Host | MemoryKind::PinnedHost | MemoryKind::CudaManaged { .. })
    }

    /// The CUDA device ordinal of device or managed memory; `None` for host memory.
    pub const fn cuda_device(self) -> Option<i32> {
        match self {
            MemoryKind::Cuda { device } | MemoryKind::CudaManaged { device } => Some(device),
            MemoryKind::Host | MemoryKind::PinnedHost => None,
        }
    }
}

/// A raw CUDA stream handle (`CUstream`); the null handle is the legacy default stream.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct StreamRef(pub *mut c_void);

impl StreamRef {
    /// The legacy default stream (the null handle).
    pub const DEFAULT: StreamRef = StreamRef(std::ptr::null_mut());
}

// SAFETY: a CUstream handle is an opaque token valid from any thread of the process.
unsafe impl Send for StreamRef {}
// SAFETY: as for Send: the handle is only copied and passed to CUDA.
unsafe impl Sync for StreamRef {}

/// Where a buffer lives and how to synchronise with the work that produces or consumes it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Placement {
    /// The memory kind.
    pub memory: MemoryKind,
    /// The stream whose queued work produces (or will consume) the buffer; `None` for host
    /// memory.
    pub stream: Option<StreamRef>,
    /// A synchronisation policy for this buffer only; `None` follows the global one
    /// ([`sync_policy`](crate::sync_policy)).
    pub policy: Option<SyncPolicy>,
}

impl Placement {
    /// Pageable host memory: nothing to synchronise.
    pub const HOST: Placement = Placement { memory: MemoryKind::Host, stream: None, policy: None };

    /// Memory of CUDA device `device`, produced on `stream`.
    pub const fn cuda(device: i32, stream: StreamRef) -> Placement {
        Placement { memory: MemoryKind::Cuda { device }, stream: Some(stream), policy: None }
    }

    /// The policy that applies to this buffer: its own, else the global one.
    pub fn effective_policy(&self) -> SyncPolicy {
        self.policy.unwrap_or_else(crate::policy::sync_policy)
    }
}

/// A read-only description of a contiguous buffer.
#[derive(Clone, Copy, Debug)]
pub struct BufferView {
    /// Address of the first element (a device address for device memory).
    pub ptr: *const c_void,
    /// Number of elements.
    pub len: usize,
    /// Element type.
    pub dtype: DType,
    /// Where the bytes live, and their stream.
    pub place: Placement,
}

/// A writable description of a contiguous buffer.
#[derive(Clone, Copy, Debug)]
pub struct BufferViewMut {
    /// Address of the first element (a device address for device memory).
    pub ptr: *mut c_void,
    /// Number of elements.
    pub len: usize,
    /// Element type.
    pub dtype: DType,
    /// Where the bytes live, and their stream.
    pub place: Placement,
}

impl BufferView {
    /// A view of `len` elements of `dtype` in host memory at `ptr`.
    pub const fn host(ptr: *const c_void, len: usize, dtype: DType) -> Self {
        BufferView { ptr, len, dtype, place: Placement::HOST }
    }

    /// Size in bytes.
    pub const fn bytes(&self) -> usize {
        self.len * self.dtype.size()
    }

    /// Where the bytes live.
    pub const fn memory(&self) -> MemoryKind {
        self.place.memory
    }
}

impl BufferViewMut {
    /// A view of `len` elements of `dtype` in host memory at `ptr`.
    pub const fn host(ptr: *mut c_void, len: usize, dtype: DType) -> Self {
        BufferViewMut { ptr, len, dtype, place: Placement::HOST }
    }

    /// Size in bytes.
    pub const fn bytes(&self) -> usize {
        self.len * self.dtype.size()
    }

    /// Where the bytes live.
    pub const fn memory(&self) -> MemoryKind {
        self.place.memory
    }

    /// The same buffer, read-only.
    pub const fn as_view(&self) -> BufferView {
        BufferView { ptr: self.ptr, len: self.len, dtype: self.dtype, place: self.place }
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

/// A buffer lent with its own synchronisation policy, overriding the global one for the
/// operations it is passed to.
///
/// ```
/// use mpi4rs_device::{DeviceBuffer, SyncPolicy, WithPolicy};
/// let v = vec![1.0f32; 4];
/// let lent = WithPolicy(&v, SyncPolicy::Trust);
/// assert_eq!(lent.view().place.policy, Some(SyncPolicy::Trust));
/// ```
pub struct WithPolicy<B>(pub B, pub SyncPolicy);

// SAFETY: the view of the buffer `B` points to, borrowed through `self`; only the policy
// changes.
unsafe impl<B: std::ops::Deref> DeviceBuffer for WithPolicy<B>
where
    B::Target: DeviceBuffer,
{
    fn view(&self) -> BufferView {
        let mut v = self.0.view();
        v.place.policy = Some(self.1);
        v
    }
}

// SAFETY: the writable view of the buffer `B` points to, borrowed mutably through `self`;
// only the policy changes.
unsafe impl<B: std::ops::DerefMut> DeviceBufferMut for WithPolicy<B>
where
    B::Target: DeviceBufferMut,
{
    fn view_mut(&mut self) -> BufferViewMut {
        let mut v = self.0.view_mut();
        v.place.policy = Some(self.1);
        v
    }
}
