//! Import: a managed tensor from another framework, validated, as a buffer of this crate.

use super::ffi::{DLDeviceType as Dev, DLManagedTensor, DLManagedTensorVersioned, DLTensor};
use super::{device_type_name, dtype_code_name, dtype_from_dl, FLAG_READ_ONLY, MAJOR_VERSION};
use crate::error::{DeviceError, DeviceResult};
use crate::policy::SyncPolicy;
use crate::{
    cuda, BufferView, BufferViewMut, DType, DeviceBuffer, DeviceBufferMut, MemoryKind, Placement, StreamRef,
};
use std::ffi::c_void;
use std::ptr::NonNull;

fn refuse<T>(why: impl Into<String>) -> DeviceResult<T> {
    Err(DeviceError::Dlpack(why.into()))
}

/// The producer's managed tensor, either form.
#[derive(Debug)]
enum Raw {
    Legacy(NonNull<DLManagedTensor>),
    Versioned(NonNull<DLManagedTensorVersioned>),
}

/// Owns a managed tensor: calls its deleter exactly once, when dropped. Created first thing
/// in an import, so every early return (and a panic) hands the tensor back to its producer.
#[derive(Debug)]
struct Managed(Raw);

impl Drop for Managed {
    fn drop(&mut self) {
        // SAFETY: the import's contract gave us the tensor; the deleter (which every DLPack
        // major version keeps at the same place) is called once, here, and never again.
        unsafe {
            match self.0 {
                Raw::Legacy(p) => {
                    if let Some(deleter) = (*p.as_ptr()).deleter {
                        deleter(p.as_ptr());
                    }
                }
                Raw::Versioned(p) => {
                    if let Some(deleter) = (*p.as_ptr()).deleter {
                        deleter(p.as_ptr());
                    }
                }
            }
        }
    }
}

impl Managed {
    /// The tensor description.
    ///
    /// # Safety
    /// For a versioned tensor, its major version must have been checked.
    unsafe fn dl_tensor(&self) -> &DLTensor {
        match self.0 {
            Raw::Legacy(p) => &(*p.as_ptr()).dl_tensor,
            Raw::Versioned(p) => &(*p.as_ptr()).dl_tensor,
        }
    }
}

/// The Rust alignment of an element of `dtype`.
const fn align_of(dtype: DType) -> usize {
    use std::mem::align_of;
    match dtype {
        DType::Bool | DType::I8 | DType::U8 => 1,
        DType::I16 | DType::U16 | DType::F16 | DType::BF16 => 2,
        DType::I32 | DType::U32 | DType::F32 | DType::C32 => 4,
        DType::I64 => align_of::<i64>(),
        DType::U64 => align_of::<u64>(),
        DType::F64 | DType::C64 => align_of::<f64>(),
    }
}

/// Maps the device to a memory kind, refusing devices this crate cannot reach.
fn check_device(t: &DLTensor) -> DeviceResult<MemoryKind> {
    let (kind, id) = (t.device.device_type, t.device.device_id);
    match kind {
        Dev::kDLCPU => Ok(MemoryKind::Host),
        Dev::kDLCUDAHost => Ok(MemoryKind::PinnedHost),
        Dev::kDLCUDA => {
            if id < 0 {
                return refuse(format!("CUDA device id {id} is negative"));
            }
            let current = cuda::current_device().map_err(|e| match e {
                DeviceError::NoCuda(why) => DeviceError::NoCuda(format!(
                    "cannot import a DLPack tensor in memory of CUDA device {id}: {why}"
                )),
                other => other,
            })?;
            if current != id {
                return refuse(format!(
                    "the tensor is in memory of CUDA device {id} but the current CUDA context is device \
                     {current}; make device {id} current before importing"
                ));
            }
            Ok(MemoryKind::Cuda { device: id })
        }
        Dev::kDLCUDAManaged => {
            // Managed memory is addressable from every context: only the device must exist.
            if id < 0 {
                return refuse(format!("CUDA device id {id} is negative"));
            }
            let info = cuda::probe().map_err(|e| match e {
                DeviceError::NoCuda(why) => DeviceError::NoCuda(format!(
                    "cannot import a DLPack tensor in managed memory of CUDA device {id}: {why}"
                )),
                other => other,
            })?;
            if id >= info.devices {
                return refuse(format!("CUDA device {id} does not exist ({} visible)", info.devices));
            }
            Ok(MemoryKind::CudaManaged { device: id })
        }
        other => refuse(format!(
            "device type {other} ({}) is not supported; only kDLCPU (1), kDLCUDA (2), kDLCUDAHost (3) and \
             kDLCUDAManaged (13) are",
            device_type_name(other)
        )),
    }
}

/// What import learned from a tensor's description.
struct Checked {
    dtype: DType,
    shape: Vec<usize>,
    /// Element strides (row-major ones where the producer gave `NULL`).
    strides: Vec<isize>,
    len: usize,
    /// The first element (data + `byte_offset`).
    ptr: *mut c_void,
    /// Bytes of the touched span below `ptr` (negative strides).
    below: usize,
    /// Length in bytes of the touched span (0 for an empty tensor).
    span: usize,
}

/// Validates everything but the version and the device: dtype, shape, strides, address.
/// Unless `strided`, the strides must be the compact row-major ones.
///
/// # Safety
/// `t.shape` and a non-null `t.strides` point to `t.ndim` values.
unsafe fn check_layout(t: &DLTensor, strided: bool) -> DeviceResult<Checked> {
    let dt = t.dtype;
    if dt.lanes != 1 {
        return refuse(format!("vector dtypes are not supported (lanes = {}, must be 1)", dt.lanes));
    }
    let Some(dtype) = dtype_from_dl(dt) else {
        return refuse(format!(
            "unsupported dtype: code {} ({}) with {} bits",
            dt.code,
            dtype_code_name(dt.code),
            dt.bits
        ));
    };

    let Ok(ndim) = usize::try_from(t.ndim) else {
        return refuse(format!("ndim {} is negative", t.ndim));
    };
    if ndim > 0 && t.shape.is_null() {
        return refuse(format!("shape is NULL for a tensor of {ndim} dimensions"));
    }
    let dims: &[i64] = if ndim == 0 { &[] } else { std::slice::from_raw_parts(t.shape, ndim) };
    let mut shape = Vec::with_capacity(ndim);
    for (i, &d) in dims.iter().enumerate() {
        match usize::try_from(d) {
            Ok(d) => shape.push(d),
            Err(_) => return refuse(format!("dimension {i} of shape {dims:?} is negative")),
        }
    }
    let len = if shape.contains(&0) {
        0
    } else {
        shape.iter().try_fold(1usize, |n, &d| n.checked_mul(d)).ok_or_else(|| {
            DeviceError::Dlpack(format!("the element count of shape {dims:?} overflows usize"))
        })?
    };
    let bytes = match len.checked_mul(dtype.size()) {
        Some(b) if b <= isize::MAX as usize => b,
        _ => return refuse(format!("{len} elements of {dtype} exceed the address space")),
    };

    let given: Option<&[i64]> =
        (!t.strides.is_null() && ndim > 0).then(|| std::slice::from_raw_parts(t.strides, ndim));
    if let (Some(strides), false, true) = (given, strided, len > 0) {
        check_strides(dims, strides)?;
    }
    let strides = match given {
        Some(s) => match s.iter().map(|&x| isize::try_from(x)).collect::<Result<Vec<_>, _>>() {
            Ok(v) => v,
            Err(_) => return refuse(format!("strides {s:?} exceed the address space")),
        },
        None => row_major(&shape),
    };
    // The bytes the elements touch, relative to the first one: [lo, hi).
    let (below, above) = if len == 0 {
        (0, 0)
    } else if !strided {
        (0, bytes)
    } else {
        span_of(&shape, &strides, dtype.size())?
    };

    let Ok(offset) = usize::try_from(t.byte_offset) else {
        return refuse(format!("byte_offset {} exceeds the address space", t.byte_offset));
    };
    let ptr = if t.data.is_null() {
        if len > 0 {
            return refuse(format!("data is NULL for a tensor of {len} elements"));
        }
        // An empty tensor may have no storage: a dangling, aligned address that is never read.
        std::ptr::null_mut::<u8>().wrapping_add(align_of(dtype)).cast()
    } else {
        if below > offset {
            return refuse(format!(
                "strides {strides:?} for shape {shape:?} reach {below} bytes below the first element, but \
                 byte_offset is only {offset}: the elements would lie below the data pointer, outside \
                 the tensor's memory"
            ));
        }
        let start = (t.data as usize).checked_add(offset);
        if start.and_then(|s| s.checked_add(above)).is_none() {
            return refuse(format!("data + byte_offset {offset} + {above} bytes overflow the address space"));
        }
        let ptr = t.data.cast::<u8>().wrapping_add(offset).cast::<c_void>();
        if !(ptr as usize).is_multiple_of(align_of(dtype)) {
            return refuse(format!(
                "the first element (data {:p} + byte_offset {offset}) is not aligned to {} bytes for {dtype}",
                t.data,
                align_of(dtype)
            ));
        }
        ptr
    };
    Ok(Checked { dtype, shape, strides, len, ptr, below, span: below + above })
}

/// Accepts strides equal to the compact row-major ones, where size-1 dimensions may have any
/// stride (the caller skips tensors without elements).
fn check_strides(shape: &[i64], strides: &[i64]) -> DeviceResult<()> {
    let mut expected = vec![0i64; shape.len()];
    let mut next = 1i64;
    for i in (0..shape.len()).rev() {
        expected[i] = next;
        // Cannot overflow: the element count fits in usize and every dimension is >= 1 here.
        next = next.saturating_mul(shape[i]);
    }
    for (i, (&d, (&s, &e))) in shape.iter().zip(strides.iter().zip(&expected)).enumerate() {
        if d == 1 || s == e {
            continue;
        }
        let what = if s < 0 {
            format!("stride {s} of dimension {i} is negative (a reversed view)")
        } else if s == 0 {
            format!("stride 0 of dimension {i} (size {d}) repeats elements (a broadcast view)")
        } else {
            format!("stride {s} of dimension {i} should be {e} (a sliced, gapped or transposed view)")
        };
        return refuse(format!(
            "{what}: strides {strides:?} for shape {shape:?} are not compact row-major (expected \
             {expected:?}); a DlpackTensor must be contiguous: import it as a StridedTensor (any strides) or make a contiguous copy first"
        ));
    }
    Ok(())
}

/// The compact row-major element strides of `shape`.
fn row_major(shape: &[usize]) -> Vec<isize> {
    let mut strides = vec![1isize; shape.len()];
    for i in (0..shape.len().saturating_sub(1)).rev() {
        strides[i] = strides[i + 1].saturating_mul(shape[i + 1].max(1) as isize);
    }
    strides
}

/// The bytes the elements of a non-empty tensor of `size`-byte elements touch around its
/// first element, `[lo, hi)` with `lo <= 0 < hi`, computed exactly in `i128` (saturating, so a
/// span too large for any address space stays too large instead of wrapping).
///
/// ```
/// // 3 rows of 2 f64, transposed (strides in elements): the last element is 8 * (2 + 1) bytes on.
/// assert_eq!(mpi4rs_device::dlpack::strided_span(8, &[2, 3], &[1, 2]), (0, 48));
/// // Reversed: two elements lie below the first one.
/// assert_eq!(mpi4rs_device::dlpack::strided_span(8, &[3], &[-1]), (-16, 8));
/// ```
pub fn strided_span(size: usize, shape: &[usize], strides: &[isize]) -> (i128, i128) {
    let (mut lo, mut hi) = (0i128, size as i128);
    for (&d, &s) in shape.iter().zip(strides) {
        // |d - 1| < 2^64, |s| <= 2^63, size <= 2^64: at most 2^191 in magnitude, so saturate;
        // callers refuse any span beyond the address space.
        let reach = (d as i128 - 1).saturating_mul(s as i128).saturating_mul(size as i128);
        if reach < 0 {
            lo = lo.saturating_add(reach);
        } else {
            hi = hi.saturating_add(reach);
        }
    }
    (lo, hi)
}

/// [`strided_span`] as how many bytes lie below the first element and how many from it on,
/// refusing a span that does not fit in the address space.
fn span_of(shape: &[usize], strides: &[isize], size: usize) -> DeviceResult<(usize, usize)> {
    let (lo, hi) = strided_span(size, shape, strides);
    if hi.saturating_sub(lo) > isize::MAX as i128 {
        return refuse(format!(
            "strides {strides:?} for shape {shape:?} span {} bytes, more than the address space",
            hi.saturating_sub(lo)
        ));
    }
    Ok(((-lo) as usize, hi as usize))
}

/// A tensor imported through DLPack: it owns the producer's managed tensor, calls its deleter
/// once when dropped, and reads as a [`DeviceBuffer`] of its (validated, contiguous) elements.
///
/// Writing needs the checked step [`writable`](DlpackTensor::writable), which refuses a
/// read-only tensor. See [the module documentation](super) for everything import checks.
///
/// ```
/// use mpi4rs_device::dlpack::{export_mut, DlpackTensor};
/// use mpi4rs_device::{DeviceBuffer, DeviceBufferMut};
///
/// let raw = export_mut(vec![0i32; 4]).into_raw_legacy();
/// let mut t = unsafe { DlpackTensor::from_legacy(raw) }.unwrap();
/// let mut w = t.writable().unwrap(); // legacy tensors carry no read-only flag
/// let view = w.view_mut();
/// unsafe { std::slice::from_raw_parts_mut(view.ptr.cast::<i32>(), view.len) }.fill(7);
/// let view = t.view();
/// assert_eq!(unsafe { std::slice::from_raw_parts(view.ptr.cast::<i32>(), view.len) }, &[7; 4]);
/// ```
#[derive(Debug)]
pub struct DlpackTensor {
    managed: Managed,
    ptr: *mut c_void,
    len: usize,
    dtype: DType,
    shape: Vec<usize>,
    memory: MemoryKind,
    stream: StreamRef,
    policy: Option<SyncPolicy>,
    read_only: bool,
    version: Option<(u32, u32)>,
}

// SAFETY: the import functions require a tensor that may be used, and whose deleter may be
// called, from any thread (DLPack producers take the locks they need, e.g. Python's GIL, in
// their deleters). Shared references only read fields and produce views; the deleter is
// called only through `Drop`.
unsafe impl Send for DlpackTensor {}
// SAFETY: see Send; `&DlpackTensor` only reads fields and produces views.
unsafe impl Sync for DlpackTensor {}

impl DlpackTensor {
    /// Imports a DLPack 1.x `DLManagedTensorVersioned`, taking ownership of it.
    ///
    /// Whatever this returns, the tensor now belongs to this crate: on success the returned
    /// value calls the deleter when dropped, on error the deleter has already been called.
    /// A NULL pointer is refused (there is nothing to delete).
    ///
    /// # Safety
    /// `managed` must be NULL or a valid managed tensor that the caller owns and does not use
    /// afterwards, with `shape` (and non-NULL `strides`) pointing to `ndim` values and `data`
    /// to the memory it describes, all valid until the deleter is called. The data must not be
    /// written by others while this tensor is read or written through a view (beyond the
    /// device work ordered through its stream), and the tensor and its deleter must be usable
    /// from any thread.
    pub unsafe fn from_versioned(managed: *mut DLManagedTensorVersioned) -> DeviceResult<Self> {
        let Some(p) = NonNull::new(managed) else {
            return refuse("the DLManagedTensorVersioned pointer is NULL");
        };
        let managed = Managed(Raw::Versioned(p));
        let (version, flags) = ((*p.as_ptr()).version, (*p.as_ptr()).flags);
        if version.major != MAJOR_VERSION {
            return refuse(format!(
                "DLPack version {}.{} is not supported (major version must be {MAJOR_VERSION})",
                version.major, version.minor
            ));
        }
        Self::checked(managed, flags & FLAG_READ_ONLY != 0, Some((version.major, version.minor)))
    }

    /// Imports a legacy (pre-1.0) `DLManagedTensor`, taking ownership of it. Legacy tensors
    /// carry no read-only flag: mark one with [`read_only`](Self::read_only) when the producer
    /// shares it read-only.
    ///
    /// Ownership and errors as in [`from_versioned`](Self::from_versioned).
    ///
    /// # Safety
    /// As for [`from_versioned`](Self::from_versioned).
    pub unsafe fn from_legacy(managed: *mut DLManagedTensor) -> DeviceResult<Self> {
        let Some(p) = NonNull::new(managed) else {
            return refuse("the DLManagedTensor pointer is NULL");
        };
        Self::checked(Managed(Raw::Legacy(p)), false, None)
    }

    /// Validates an owned tensor; an error drops `managed`, which calls the deleter.
    unsafe fn checked(managed: Managed, read_only: bool, version: Option<(u32, u32)>) -> DeviceResult<Self> {
        Ok(Self::checked_layout(managed, read_only, version, false)?.0)
    }

    /// Validates an owned tensor, with any strides when `strided` (then the returned tensor's
    /// `ptr` and `len` are the first element and the element count, not a contiguous view).
    unsafe fn checked_layout(
        managed: Managed,
        read_only: bool,
        version: Option<(u32, u32)>,
        strided: bool,
    ) -> DeviceResult<(Self, Vec<isize>, usize, usize)> {
        let t = managed.dl_tensor();
        let memory = check_device(t)?;
        let Checked { dtype, shape, strides, len, ptr, below, span } = check_layout(t, strided)?;
        let tensor = DlpackTensor {
            managed,
            ptr,
            len,
            dtype,
            shape,
            memory,
            stream: StreamRef::DEFAULT,
            policy: None,
            read_only,
            version,
        };
        Ok((tensor, strides, below, span))
    }

    /// The stream on which the producer made the data ready (the stream passed to the
    /// producer's `__dlpack__(stream=..)`); used for CUDA memory only. The default is
    /// [`StreamRef::DEFAULT`].
    pub fn with_stream(mut self, stream: StreamRef) -> Self {
        self.stream = stream;
        self
    }

    /// A synchronisation policy for this tensor only (else the global one applies).
    pub fn with_policy(mut self, policy: SyncPolicy) -> Self {
        self.policy = Some(policy);
        self
    }

    /// Marks the tensor read-only, so that [`writable`](Self::writable) refuses it.
    pub fn read_only(mut self) -> Self {
        self.read_only = true;
        self
    }

    /// The shape (row-major; empty for a scalar).
    pub fn shape(&self) -> &[usize] {
        &self.shape
    }

    /// The number of dimensions.
    pub fn ndim(&self) -> usize {
        self.shape.len()
    }

    /// The element type.
    pub fn dtype(&self) -> DType {
        self.dtype
    }

    /// The number of elements (the product of the shape).
    pub fn len(&self) -> usize {
        self.len
    }

    /// True when the tensor has no element.
    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    /// The size in bytes.
    pub fn bytes(&self) -> usize {
        self.len * self.dtype.size()
    }

    /// True when the producer shared the tensor read-only (`DLPACK_FLAG_BITMASK_READ_ONLY`)
    /// or it was marked so with [`read_only`](Self::read_only).
    pub fn is_read_only(&self) -> bool {
        self.read_only
    }

    /// Where the bytes live.
    pub fn memory(&self) -> MemoryKind {
        self.memory
    }

    /// The stream of the data: `Some` for CUDA memory, `None` for host memory.
    pub fn stream(&self) -> Option<StreamRef> {
        matches!(self.memory, MemoryKind::Cuda { .. }).then_some(self.stream)
    }

    /// The DLPack version `(major, minor)` of a versioned tensor; `None` for a legacy one.
    pub fn version(&self) -> Option<(u32, u32)> {
        self.version
    }

    /// The producer's tensor description, as it came.
    pub fn dl_tensor(&self) -> &DLTensor {
        // SAFETY: the version was checked at import; the tensor lives until drop.
        unsafe { self.managed.dl_tensor() }
    }

    /// Writable access (for a receive buffer), refused for a read-only tensor.
    pub fn writable(&mut self) -> DeviceResult<DlpackTensorMut<'_>> {
        if self.read_only {
            return refuse(format!(
                "the tensor ({} elements of {}) is read-only and cannot be written (e.g. used as a receive buffer)",
                self.len, self.dtype
            ));
        }
        Ok(DlpackTensorMut { tensor: self })
    }

    fn place(&self) -> Placement {
        Placement { memory: self.memory, stream: self.stream(), policy: self.policy }
    }
}

// SAFETY: the view describes the validated, contiguous elements, alive until drop.
unsafe impl DeviceBuffer for DlpackTensor {
    fn view(&self) -> BufferView {
        BufferView { ptr: self.ptr, len: self.len, dtype: self.dtype, place: self.place() }
    }
}

/// Writable access to a [`DlpackTensor`] that is not read-only, from
/// [`DlpackTensor::writable`]; it dereferences to the tensor.
#[derive(Debug)]
pub struct DlpackTensorMut<'a> {
    tensor: &'a mut DlpackTensor,
}

impl std::ops::Deref for DlpackTensorMut<'_> {
    type Target = DlpackTensor;
    fn deref(&self) -> &DlpackTensor {
        self.tensor
    }
}

// SAFETY: as for `DlpackTensor`.
unsafe impl DeviceBuffer for DlpackTensorMut<'_> {
    fn view(&self) -> BufferView {
        self.tensor.view()
    }
}

// SAFETY: the tensor is not read-only and is borrowed exclusively; the import contract
// excludes other writers.
unsafe impl DeviceBufferMut for DlpackTensorMut<'_> {
    fn view_mut(&mut self) -> BufferViewMut {
        let t = &*self.tensor;
        BufferViewMut { ptr: t.ptr, len: t.len, dtype: t.dtype, place: t.place() }
    }
}

/// A tensor imported through DLPack with any strides: transposed (Fortran-ordered), sliced
/// (gapped), reversed (negative strides) or broadcast (stride 0), as well as contiguous.
///
/// Its elements need not be contiguous, so it is not a [`DeviceBuffer`]; the MPI crate lends it
/// to any operation through a derived datatype built from its shape and strides
/// (`mpi4rs::Strided`), which moves only the bytes the elements occupy. A contiguous one
/// becomes a [`DlpackTensor`] with [`into_contiguous`](Self::into_contiguous).
///
/// Import checks everything [`DlpackTensor`] checks except compactness, and that the span of
/// bytes the elements touch, from the lowest to the end of the highest, fits in the address
/// space and does not reach below `data` (DLPack's `data` is where the producer's memory
/// begins; elements below it would lie outside the tensor). Stride 0 repeats elements: such a
/// tensor can be sent, but receiving into it is refused (one element would be written twice).
///
/// ```
/// use mpi4rs_device::dlpack::{export_mut, StridedTensor};
///
/// // Column 1 of a 3 x 4 row-major matrix, exported as a strided view...
/// let mut e = export_mut((0..12).map(|i| i as f64).collect::<Vec<_>>());
/// e.restride(&[3], &[4], 1).unwrap();
/// // ...and imported: three elements, four apart.
/// let t = unsafe { StridedTensor::from_versioned(e.into_raw()) }.unwrap();
/// assert_eq!((t.shape(), t.strides(), t.is_contiguous()), (&[3usize][..], &[4isize][..], false));
/// assert_eq!(t.byte_span(), (0, 72)); // bytes 0..72 from the first element, which is 8 into the data
/// let col: Vec<f64> = (0..3).map(|i| unsafe { *t.origin().cast::<f64>().add(4 * i) }).collect();
/// assert_eq!(col, [1.0, 5.0, 9.0]);
/// ```
#[derive(Debug)]
pub struct StridedTensor {
    /// The tensor, whose `ptr` is the first element and `len` the element count (its
    /// contiguous view is never handed out unless the strides are compact).
    tensor: DlpackTensor,
    strides: Vec<isize>,
    below: usize,
    span: usize,
}

impl StridedTensor {
    /// Imports a DLPack 1.x `DLManagedTensorVersioned` with any strides, taking ownership of it
    /// (on error the deleter has already been called).
    ///
    /// # Safety
    /// As for [`DlpackTensor::from_versioned`]; `data` must be the start of memory that holds
    /// every element the shape and strides address from `data + byte_offset`.
    pub unsafe fn from_versioned(managed: *mut DLManagedTensorVersioned) -> DeviceResult<Self> {
        let Some(p) = NonNull::new(managed) else {
            return refuse("the DLManagedTensorVersioned pointer is NULL");
        };
        let managed = Managed(Raw::Versioned(p));
        let (version, flags) = ((*p.as_ptr()).version, (*p.as_ptr()).flags);
        if version.major != MAJOR_VERSION {
            return refuse(format!(
                "DLPack version {}.{} is not supported (major version must be {MAJOR_VERSION})",
                version.major, version.minor
            ));
        }
        let version = Some((version.major, version.minor));
        Self::new(DlpackTensor::checked_layout(managed, flags & FLAG_READ_ONLY != 0, version, true)?)
    }

    /// Imports a legacy (pre-1.0) `DLManagedTensor` with any strides, taking ownership of it.
    ///
    /// # Safety
    /// As for [`from_versioned`](Self::from_versioned).
    pub unsafe fn from_legacy(managed: *mut DLManagedTensor) -> DeviceResult<Self> {
        let Some(p) = NonNull::new(managed) else {
            return refuse("the DLManagedTensor pointer is NULL");
        };
        Self::new(DlpackTensor::checked_layout(Managed(Raw::Legacy(p)), false, None, true)?)
    }

    fn new((tensor, strides, below, span): (DlpackTensor, Vec<isize>, usize, usize)) -> DeviceResult<Self> {
        Ok(StridedTensor { tensor, strides, below, span })
    }

    /// See [`DlpackTensor::with_stream`].
    pub fn with_stream(mut self, stream: StreamRef) -> Self {
        self.tensor.stream = stream;
        self
    }

    /// See [`DlpackTensor::with_policy`].
    pub fn with_policy(mut self, policy: SyncPolicy) -> Self {
        self.tensor.policy = Some(policy);
        self
    }

    /// Marks the tensor read-only: it can no longer be written (e.g. received into).
    pub fn read_only(mut self) -> Self {
        self.tensor.read_only = true;
        self
    }

    /// The shape (logical, row-major order of the indices; empty for a scalar).
    pub fn shape(&self) -> &[usize] {
        &self.tensor.shape
    }

    /// The strides in elements, one per dimension (the row-major ones when the producer gave
    /// none). They may be negative or zero.
    pub fn strides(&self) -> &[isize] {
        &self.strides
    }

    /// The number of dimensions.
    pub fn ndim(&self) -> usize {
        self.tensor.shape.len()
    }

    /// The element type.
    pub fn dtype(&self) -> DType {
        self.tensor.dtype
    }

    /// The number of elements (the product of the shape).
    pub fn len(&self) -> usize {
        self.tensor.len
    }

    /// True when the tensor has no element.
    pub fn is_empty(&self) -> bool {
        self.tensor.len == 0
    }

    /// Whether the elements are compact row-major (the strides a [`DlpackTensor`] accepts).
    pub fn is_contiguous(&self) -> bool {
        let shape = &self.tensor.shape;
        self.is_empty()
            || row_major(shape).iter().zip(&self.strides).zip(shape).all(|((e, s), &d)| d == 1 || e == s)
    }

    /// The address of the first element (`data + byte_offset`, the element of index 0).
    pub fn origin(&self) -> *mut c_void {
        self.tensor.ptr
    }

    /// The bytes the elements touch, around [`origin`](Self::origin): `(below, len)` for
    /// `[origin - below, origin - below + len)`; `(0, 0)` for an empty tensor.
    pub fn byte_span(&self) -> (usize, usize) {
        (self.below, self.span)
    }

    /// True when the tensor is read-only (see [`DlpackTensor::is_read_only`]).
    pub fn is_read_only(&self) -> bool {
        self.tensor.read_only
    }

    /// Where the bytes live.
    pub fn memory(&self) -> MemoryKind {
        self.tensor.memory
    }

    /// The stream of the data: `Some` for CUDA memory, `None` for host memory.
    pub fn stream(&self) -> Option<StreamRef> {
        self.tensor.stream()
    }

    /// Where the bytes live, their stream and synchronisation policy, as a buffer view carries
    /// them.
    pub fn placement(&self) -> Placement {
        self.tensor.place()
    }

    /// The DLPack version `(major, minor)` of a versioned tensor; `None` for a legacy one.
    pub fn version(&self) -> Option<(u32, u32)> {
        self.tensor.version
    }

    /// The producer's tensor description, as it came.
    pub fn dl_tensor(&self) -> &DLTensor {
        self.tensor.dl_tensor()
    }

    /// The tensor as a [`DlpackTensor`] if its elements are compact row-major, else itself.
    // The error hands the tensor back unchanged (like `Rc::try_unwrap`); boxing it would cost
    // an allocation for nothing.
    #[allow(clippy::result_large_err)]
    pub fn into_contiguous(self) -> Result<DlpackTensor, StridedTensor> {
        if self.is_contiguous() {
            Ok(self.tensor)
        } else {
            Err(self)
        }
    }
}

impl From<DlpackTensor> for StridedTensor {
    fn from(tensor: DlpackTensor) -> Self {
        let strides = row_major(&tensor.shape);
        let span = tensor.bytes();
        StridedTensor { tensor, strides, below: 0, span }
    }
}
