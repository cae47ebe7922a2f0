//! Export: any buffer of this crate handed to another framework as a managed tensor.

use super::ffi::{DLManagedTensor, DLManagedTensorVersioned, DLPackVersion, DLTensor, DLPACK_MINOR_VERSION};
use super::{device_to_dl, dtype_to_dl, FLAG_READ_ONLY, MAJOR_VERSION};
use crate::error::{DeviceError, DeviceResult};
use crate::{BufferView, DType, DeviceBuffer, DeviceBufferMut, MemoryKind, StreamRef};
use std::ptr::{addr_of_mut, NonNull};

/// One allocation per export: both managed forms (only one is handed over), the shape and
/// stride arrays they point to, and the owner of the data. Both deleters free all of it.
struct ExportCtx {
    versioned: DLManagedTensorVersioned,
    legacy: DLManagedTensor,
    shape: Box<[i64]>,
    strides: Box<[i64]>,
    view: BufferView,
    /// The owner, from `Box::into_raw`, dropped with the context. Boxed before its view was
    /// taken, so inline data (an array, a scalar) does not move afterwards; kept as a raw
    /// pointer, not a `Box`, because moving a `Box` would assert unique access to the data
    /// the view's address points into.
    owner: *mut dyn Send,
}

impl Drop for ExportCtx {
    fn drop(&mut self) {
        // SAFETY: from `Box::into_raw` in `export`/`export_mut`, dropped only here.
        drop(unsafe { Box::from_raw(self.owner) });
    }
}

/// Frees an export context, dropping the owner; a panic in the owner's `Drop` stops here
/// (it must not unwind into the consumer's C code).
///
/// # Safety
/// `ctx` came from `Box::into_raw` in `export_view` and is freed only once.
unsafe fn free_ctx(ctx: *mut ExportCtx) {
    if ctx.is_null() {
        return;
    }
    let dropped = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| drop(Box::from_raw(ctx))));
    if dropped.is_err() {
        eprintln!("mpi4rs-device: a DLPack-exported buffer panicked while being dropped");
    }
}

unsafe extern "C" fn delete_versioned(managed: *mut DLManagedTensorVersioned) {
    if !managed.is_null() {
        free_ctx((*managed).manager_ctx.cast());
    }
}

unsafe extern "C" fn delete_legacy(managed: *mut DLManagedTensor) {
    if !managed.is_null() {
        free_ctx((*managed).manager_ctx.cast());
    }
}

/// A buffer packaged as a DLPack managed tensor, not yet handed over.
///
/// [`into_raw`](Self::into_raw) (DLPack 1.x) or [`into_raw_legacy`](Self::into_raw_legacy)
/// hands the tensor to a consumer, whose call of the deleter drops the buffer. Dropping an
/// `ExportedTensor` that was never handed over runs the same deleter. Exactly one of these
/// happens, so the buffer is dropped exactly once.
///
/// The tensor is compact row-major, 1-D by default ([`reshape`](Self::reshape) changes the
/// shape), with explicit strides (DLPack 1.2 requires them) and `byte_offset` 0;
/// [`restride`](Self::restride) makes it a strided view of the buffer instead. DLPack has no
/// stream field: for device memory, the consumer must order its work after the buffer's
/// stream ([`stream`](Self::stream)), or the caller synchronises it before handing it over.
///
/// ```
/// use mpi4rs_device::dlpack::{export, ffi};
/// let mut t = export(vec![1u8, 2, 3, 4, 5, 6]);
/// t.reshape(&[3, 2]).unwrap();
/// let raw = t.into_raw();
/// // ... a consumer uses it, then calls its deleter, which drops the Vec:
/// unsafe {
///     assert_eq!(*(*raw).dl_tensor.shape.add(1), 2);
///     assert_eq!((*raw).dl_tensor.device.device_type, ffi::DLDeviceType::kDLCPU);
///     ((*raw).deleter.unwrap())(raw);
/// }
/// ```
pub struct ExportedTensor {
    ctx: NonNull<ExportCtx>,
}

// SAFETY: the context owns a `Send` owner (through a raw pointer) and plain data; nothing in
// it is tied to a thread.
unsafe impl Send for ExportedTensor {}

impl std::fmt::Debug for ExportedTensor {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ExportedTensor")
            .field("shape", &self.shape())
            .field("dtype", &self.dtype())
            .field("memory", &self.memory())
            .field("read_only", &self.is_read_only())
            .finish_non_exhaustive()
    }
}

/// Exports a buffer read-only: the versioned tensor carries `DLPACK_FLAG_BITMASK_READ_ONLY`
/// (the legacy form cannot say so: hand it only to a consumer that will not write). The
/// tensor is 1-D; the deleter drops `owner`.
pub fn export<B: DeviceBuffer + Send + 'static>(owner: B) -> ExportedTensor {
    let owner = Box::into_raw(Box::new(owner));
    // SAFETY: a live allocation, only read from now on (until the context drops it).
    let view = unsafe { (*owner).view() };
    export_view(owner, view, true)
}

/// Exports a buffer that the consumer may write (no read-only flag). The tensor is 1-D; the
/// deleter drops `owner`.
pub fn export_mut<B: DeviceBufferMut + Send + 'static>(owner: B) -> ExportedTensor {
    let owner = Box::into_raw(Box::new(owner));
    // SAFETY: a live allocation; the writable view is handed to the consumer.
    let view = unsafe { (*owner).view_mut() }.as_view();
    export_view(owner, view, false)
}

/// [`export`] with a shape whose product must equal the buffer's length; on error the owner
/// is dropped.
pub fn export_with_shape<B: DeviceBuffer + Send + 'static>(
    owner: B,
    shape: &[usize],
) -> DeviceResult<ExportedTensor> {
    let mut t = export(owner);
    t.reshape(shape)?;
    Ok(t)
}

/// Packages an owner (from `Box::into_raw`, now owned by the context) and its view.
fn export_view(owner: *mut dyn Send, view: BufferView, read_only: bool) -> ExportedTensor {
    // `len` fits in isize (it describes memory), hence in i64.
    let shape: Box<[i64]> = Box::new([view.len as i64]);
    let strides: Box<[i64]> = Box::new([1]);
    let tensor = DLTensor {
        data: view.ptr.cast_mut(),
        device: device_to_dl(view.place.memory),
        ndim: 1,
        dtype: dtype_to_dl(view.dtype),
        shape: std::ptr::null_mut(),
        strides: std::ptr::null_mut(),
        byte_offset: 0,
    };
    let ctx = Box::into_raw(Box::new(ExportCtx {
        versioned: DLManagedTensorVersioned {
            version: DLPackVersion { major: MAJOR_VERSION, minor: DLPACK_MINOR_VERSION },
            manager_ctx: std::ptr::null_mut(),
            deleter: Some(delete_versioned),
            flags: if read_only { FLAG_READ_ONLY } else { 0 },
            dl_tensor: tensor,
        },
        legacy: DLManagedTensor {
            dl_tensor: tensor,
            manager_ctx: std::ptr::null_mut(),
            deleter: Some(delete_legacy),
        },
        shape,
        strides,
        view,
        owner,
    }));
    // SAFETY: just allocated, not shared yet.
    unsafe {
        (*ctx).versioned.manager_ctx = ctx.cast();
        (*ctx).legacy.manager_ctx = ctx.cast();
    }
    let mut t = ExportedTensor { ctx: NonNull::new(ctx).expect("Box::into_raw is never NULL") };
    t.point_at_arrays();
    t
}

impl ExportedTensor {
    fn ctx(&self) -> &ExportCtx {
        // SAFETY: owned until handed over or dropped.
        unsafe { self.ctx.as_ref() }
    }

    /// Points both managed forms at the current shape and stride arrays.
    fn point_at_arrays(&mut self) {
        // SAFETY: owned and not handed over, so nothing else reads the context.
        let ctx = unsafe { self.ctx.as_mut() };
        let ndim = ctx.shape.len() as i32;
        let (shape, strides) = (ctx.shape.as_mut_ptr(), ctx.strides.as_mut_ptr());
        for t in [&mut ctx.versioned.dl_tensor, &mut ctx.legacy.dl_tensor] {
            (t.ndim, t.shape, t.strides) = (ndim, shape, strides);
        }
    }

    /// Gives the tensor a row-major shape; its product must equal [`len`](Self::len). An
    /// empty shape makes a scalar (one element).
    pub fn reshape(&mut self, shape: &[usize]) -> DeviceResult<()> {
        let len = self.len();
        let product = shape.iter().try_fold(1usize, |n, &d| n.checked_mul(d));
        if product != Some(len) {
            return Err(DeviceError::Unsupported(match product {
                Some(p) => format!("shape {shape:?} has {p} elements, the buffer {len}"),
                None => format!("the element count of shape {shape:?} overflows usize"),
            }));
        }
        if i32::try_from(shape.len()).is_err() {
            return Err(DeviceError::Unsupported(format!("{} dimensions are too many", shape.len())));
        }
        // Every dimension and partial product is at most `len` (or the shape has a 0), so
        // each fits in i64.
        let dims: Box<[i64]> = shape.iter().map(|&d| d as i64).collect();
        let mut strides = vec![1i64; shape.len()].into_boxed_slice();
        for i in (0..shape.len().saturating_sub(1)).rev() {
            strides[i] = strides[i + 1].saturating_mul(dims[i + 1]);
        }
        // SAFETY: owned and not handed over.
        let ctx = unsafe { self.ctx.as_mut() };
        (ctx.shape, ctx.strides) = (dims, strides);
        ctx.versioned.dl_tensor.byte_offset = 0;
        ctx.legacy.dl_tensor.byte_offset = 0;
        self.point_at_arrays();
        Ok(())
    }

    /// Gives the tensor any shape and element strides, with its first element `offset`
    /// elements into the buffer (DLPack's `byte_offset`): a transposed, sliced, reversed
    /// (negative strides) or broadcast (stride 0) view of the buffer, for consumers that take
    /// strided tensors. Every element the view addresses must lie inside the buffer.
    pub fn restride(&mut self, shape: &[usize], strides: &[isize], offset: usize) -> DeviceResult<()> {
        let len = self.len();
        let bad = |why: String| Err(DeviceError::Unsupported(why));
        if shape.len() != strides.len() {
            return bad(format!("shape {shape:?} and strides {strides:?} differ in length"));
        }
        if i32::try_from(shape.len()).is_err() {
            return bad(format!("{} dimensions are too many", shape.len()));
        }
        // DLPack's shape is `int64_t`, and consumers count the elements (and their bytes) in
        // 64 bits: a broadcast (stride 0) or empty view could otherwise claim any shape.
        let elements = shape.iter().try_fold(1usize, |n, &d| n.checked_mul(d));
        let fits = |n: usize| n.checked_mul(self.dtype().size()).is_some_and(|b| b <= isize::MAX as usize);
        if shape.iter().any(|&d| i64::try_from(d).is_err()) || !elements.is_some_and(fits) {
            return bad(format!("shape {shape:?} has more elements than a tensor can count"));
        }
        let empty = shape.contains(&0);
        // The elements addressed, relative to the first: [lo, hi].
        let (mut lo, mut hi) = (0i128, 0i128);
        for (&d, &s) in shape.iter().zip(strides) {
            let reach = (d as i128 - 1).saturating_mul(s as i128);
            if reach < 0 {
                lo = lo.saturating_add(reach);
            } else {
                hi = hi.saturating_add(reach);
            }
        }
        let (first, last) = (offset as i128 + lo, offset as i128 + hi);
        if offset > len || (!empty && (first < 0 || last >= len as i128)) {
            return bad(format!(
                "shape {shape:?} with strides {strides:?} from element {offset} addresses elements \
                 {first}..={last}, outside the buffer's {len}"
            ));
        }
        // Each dimension fits in i64 (checked above); strides are isize, i64 on 64-bit targets.
        let dims: Box<[i64]> = shape.iter().map(|&d| d as i64).collect();
        let steps: Box<[i64]> = strides.iter().map(|&s| s as i64).collect();
        let byte_offset = (offset * self.dtype().size()) as u64;
        // SAFETY: owned and not handed over.
        let ctx = unsafe { self.ctx.as_mut() };
        (ctx.shape, ctx.strides) = (dims, steps);
        ctx.versioned.dl_tensor.byte_offset = byte_offset;
        ctx.legacy.dl_tensor.byte_offset = byte_offset;
        self.point_at_arrays();
        Ok(())
    }

    /// The shape.
    pub fn shape(&self) -> Vec<usize> {
        self.ctx().shape.iter().map(|&d| d as usize).collect()
    }

    /// The number of elements of the buffer.
    pub fn len(&self) -> usize {
        self.ctx().view.len
    }

    /// True when the buffer has no element.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// The element type.
    pub fn dtype(&self) -> DType {
        self.ctx().view.dtype
    }

    /// Where the bytes live.
    pub fn memory(&self) -> MemoryKind {
        self.ctx().view.place.memory
    }

    /// The stream of the buffer's producing work (device memory), which the consumer must
    /// order its work after.
    pub fn stream(&self) -> Option<StreamRef> {
        self.ctx().view.place.stream
    }

    /// True when the versioned form carries the read-only flag (from [`export`]).
    pub fn is_read_only(&self) -> bool {
        self.ctx().versioned.flags & FLAG_READ_ONLY != 0
    }

    /// Hands the DLPack 1.x managed tensor over: the consumer must call its deleter exactly
    /// once, which drops the buffer.
    pub fn into_raw(self) -> *mut DLManagedTensorVersioned {
        let ctx = self.ctx.as_ptr();
        std::mem::forget(self);
        // SAFETY: a live context; the pointer is derived from the context's own allocation.
        unsafe { addr_of_mut!((*ctx).versioned) }
    }

    /// Hands the legacy (pre-1.0) managed tensor over: the consumer must call its deleter
    /// exactly once, which drops the buffer. The legacy form has no read-only flag.
    pub fn into_raw_legacy(self) -> *mut DLManagedTensor {
        let ctx = self.ctx.as_ptr();
        std::mem::forget(self);
        // SAFETY: as above.
        unsafe { addr_of_mut!((*ctx).legacy) }
    }
}

impl Drop for ExportedTensor {
    fn drop(&mut self) {
        // Never handed over: run the deleter a consumer would have run.
        // SAFETY: the context is live and owned; the deleter frees it once.
        unsafe { delete_versioned(addr_of_mut!((*self.ctx.as_ptr()).versioned)) }
    }
}
