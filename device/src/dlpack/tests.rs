//! CPU tests of import validation, deleter accounting and export round trips.

use super::ffi::{
    DLDataType, DLDataTypeCode as Code, DLDevice, DLDeviceType as Dev, DLManagedTensor,
    DLManagedTensorVersioned, DLPackVersion, DLTensor,
};
use super::*;
use crate::{cuda, DeviceBuffer, DeviceBufferMut, DeviceError, DeviceResult, StreamRef, SyncPolicy};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;

/// A producer that owns its data and arrays and counts deleter calls. The deleter only
/// counts (it frees nothing), so a second call would show up as a count of 2 rather than as
/// a use after free; the producer itself is freed by its `Drop`.
struct Producer {
    ctx: *mut ProducerCtx,
}

struct ProducerCtx {
    data: Vec<u64>,
    shape: Vec<i64>,
    strides: Option<Vec<i64>>,
    calls: AtomicUsize,
    versioned: DLManagedTensorVersioned,
    legacy: DLManagedTensor,
}

unsafe extern "C" fn count_versioned(m: *mut DLManagedTensorVersioned) {
    (*(*m).manager_ctx.cast::<ProducerCtx>()).calls.fetch_add(1, Ordering::SeqCst);
}

unsafe extern "C" fn count_legacy(m: *mut DLManagedTensor) {
    (*(*m).manager_ctx.cast::<ProducerCtx>()).calls.fetch_add(1, Ordering::SeqCst);
}

const fn dl(code: u32, bits: u8) -> DLDataType {
    DLDataType { code: code as u8, bits, lanes: 1 }
}

/// A stream handle that is never used as one.
fn fake_stream() -> StreamRef {
    StreamRef(std::ptr::null_mut::<u8>().wrapping_add(8).cast())
}

const CPU: DLDevice = DLDevice { device_type: Dev::kDLCPU, device_id: 0 };
const F64: DLDataType = dl(Code::kDLFloat, 64);

impl Producer {
    /// `data` as `u64` words (8-byte aligned storage), seen as `dtype` with `shape`.
    fn new(data: Vec<u64>, dtype: DLDataType, shape: &[i64]) -> Producer {
        let tensor = DLTensor {
            data: std::ptr::null_mut(),
            device: CPU,
            ndim: shape.len() as i32,
            dtype,
            shape: std::ptr::null_mut(),
            strides: std::ptr::null_mut(),
            byte_offset: 0,
        };
        let ctx = Box::into_raw(Box::new(ProducerCtx {
            data,
            shape: shape.to_vec(),
            strides: None,
            calls: AtomicUsize::new(0),
            versioned: DLManagedTensorVersioned {
                version: DLPackVersion { major: 1, minor: 1 },
                manager_ctx: std::ptr::null_mut(),
                deleter: Some(count_versioned),
                flags: 0,
                dl_tensor: tensor,
            },
            legacy: DLManagedTensor {
                dl_tensor: tensor,
                manager_ctx: std::ptr::null_mut(),
                deleter: Some(count_legacy),
            },
        }));
        let mut p = Producer { ctx };
        p.edit(|_| {});
        p
    }

    /// A 2x3 f64 tensor holding 0..6.
    fn f64_2x3() -> Producer {
        Producer::new((0..6).map(|i| (i as f64).to_bits()).collect(), F64, &[2, 3])
    }

    /// Edits the tensor description (both forms), then re-points data/shape/strides.
    fn edit(&mut self, f: impl Fn(&mut DLTensor)) -> &mut Self {
        // SAFETY: the context is live and not in use by an importer between calls.
        let ctx = unsafe { &mut *self.ctx };
        for t in [&mut ctx.versioned.dl_tensor, &mut ctx.legacy.dl_tensor] {
            t.data = ctx.data.as_mut_ptr().cast();
            t.shape = if ctx.shape.is_empty() { std::ptr::null_mut() } else { ctx.shape.as_mut_ptr() };
            t.strides = ctx.strides.as_mut().map_or(std::ptr::null_mut(), |s| s.as_mut_ptr());
            f(t);
        }
        ctx.versioned.manager_ctx = self.ctx.cast();
        ctx.legacy.manager_ctx = self.ctx.cast();
        self
    }

    fn strides(&mut self, strides: &[i64]) -> &mut Self {
        // SAFETY: as in `edit`.
        unsafe { (*self.ctx).strides = Some(strides.to_vec()) };
        self.edit(|_| {})
    }

    fn versioned(&mut self) -> *mut DLManagedTensorVersioned {
        // SAFETY: a live context.
        unsafe { std::ptr::addr_of_mut!((*self.ctx).versioned) }
    }

    fn legacy(&mut self) -> *mut DLManagedTensor {
        // SAFETY: a live context.
        unsafe { std::ptr::addr_of_mut!((*self.ctx).legacy) }
    }

    fn calls(&self) -> usize {
        // SAFETY: a live context.
        unsafe { (*self.ctx).calls.load(Ordering::SeqCst) }
    }

    /// Imports the versioned form.
    fn import(&mut self) -> DeviceResult<DlpackTensor> {
        unsafe { DlpackTensor::from_versioned(self.versioned()) }
    }

    /// Imports the legacy form.
    fn import_legacy(&mut self) -> DeviceResult<DlpackTensor> {
        unsafe { DlpackTensor::from_legacy(self.legacy()) }
    }

    /// Imports both forms, expecting the same refusal and one deleter call each; returns the
    /// message.
    fn refused(&mut self, needle: &str) -> String {
        let before = self.calls();
        let e = self.import().expect_err("versioned import should fail");
        assert_eq!(self.calls(), before + 1, "deleter not called exactly once on error: {e}");
        let msg = e.to_string();
        assert!(msg.contains(needle), "{msg:?} lacks {needle:?}");
        let e = self.import_legacy().expect_err("legacy import should fail");
        assert_eq!(self.calls(), before + 2, "deleter not called exactly once on legacy error: {e}");
        assert_eq!(e.to_string(), msg);
        msg
    }
}

impl Drop for Producer {
    fn drop(&mut self) {
        // SAFETY: allocated in `new`, dropped once.
        drop(unsafe { Box::from_raw(self.ctx) });
    }
}

fn read<T: Copy>(b: &impl DeviceBuffer) -> Vec<T> {
    let v = b.view();
    assert!(v.memory().is_host());
    assert_eq!(v.dtype.size(), std::mem::size_of::<T>());
    unsafe { std::slice::from_raw_parts(v.ptr.cast::<T>(), v.len) }.to_vec()
}

#[test]
fn imports_a_versioned_cpu_tensor_and_deletes_it_once_on_drop() {
    let mut p = Producer::f64_2x3();
    let t = p.import().unwrap();
    assert_eq!(p.calls(), 0);
    assert_eq!((t.shape(), t.ndim(), t.len(), t.bytes()), (&[2usize, 3][..], 2, 6, 48));
    assert_eq!((t.dtype(), t.memory(), t.stream()), (DType::F64, MemoryKind::Host, None));
    assert_eq!((t.is_read_only(), t.version(), t.is_empty()), (false, Some((1, 1)), false));
    assert_eq!(read::<f64>(&t), [0.0, 1.0, 2.0, 3.0, 4.0, 5.0]);
    assert_eq!(t.dl_tensor().ndim, 2);
    let v = t.view();
    assert_eq!((v.len, v.place.stream, v.place.policy), (6, None, None));
    drop(t);
    assert_eq!(p.calls(), 1);
}

#[test]
fn imports_a_legacy_cpu_tensor_and_deletes_it_once_on_drop() {
    let mut p = Producer::f64_2x3();
    let t = p.import_legacy().unwrap();
    assert_eq!((t.shape(), t.version(), t.is_read_only()), (&[2usize, 3][..], None, false));
    assert_eq!(read::<f64>(&t), [0.0, 1.0, 2.0, 3.0, 4.0, 5.0]);
    assert_eq!(p.calls(), 0);
    drop(t);
    assert_eq!(p.calls(), 1);
}

#[test]
fn refuses_unsupported_device_types() {
    for (kind, name) in [(Dev::kDLOpenCL, "kDLOpenCL"), (Dev::kDLROCM, "kDLROCM"), (99, "unknown")] {
        let mut p = Producer::f64_2x3();
        p.edit(|t| t.device.device_type = kind);
        let msg = p.refused(name);
        assert!(msg.contains("not supported"), "{msg}");
    }
}

#[test]
fn cuda_host_memory_is_pinned_host_and_needs_no_cuda() {
    let mut p = Producer::f64_2x3();
    p.edit(|t| t.device = DLDevice { device_type: Dev::kDLCUDAHost, device_id: 0 });
    let t = p.import().unwrap().with_stream(fake_stream());
    assert_eq!((t.memory(), t.stream()), (MemoryKind::PinnedHost, None));
    assert_eq!(read::<f64>(&t)[5], 5.0);
}

#[test]
fn managed_tensor_is_its_own_memory_kind() {
    let mut p = Producer::f64_2x3();
    p.edit(|t| t.device = DLDevice { device_type: Dev::kDLCUDAManaged, device_id: 0 });
    match cuda::probe() {
        Err(_) => {
            let e = p.import().unwrap_err();
            assert!(matches!(e, DeviceError::NoCuda(_)), "{e:?}");
            assert!(e.to_string().contains("managed memory of CUDA device 0"), "{e}");
        }
        Ok(info) => {
            // The data pointer is host memory, but import never touches it.
            let t = p.import().unwrap().with_stream(fake_stream());
            assert_eq!(t.memory(), MemoryKind::CudaManaged { device: 0 });
            assert!(t.memory().host_accessible() && !t.memory().is_host());
            assert_eq!(device_to_dl(t.memory()).device_type, Dev::kDLCUDAManaged);
            drop(t);
            p.edit(|t| t.device.device_id = info.devices);
            p.refused("does not exist");
        }
    }
    let mut p = Producer::f64_2x3();
    p.edit(|t| t.device = DLDevice { device_type: Dev::kDLCUDAManaged, device_id: -1 });
    p.refused("negative");
}

#[test]
fn cuda_tensor_is_refused_without_cuda_or_on_another_device() {
    let mut p = Producer::f64_2x3();
    p.edit(|t| t.device = DLDevice { device_type: Dev::kDLCUDA, device_id: 0 });
    match cuda::current_device() {
        Err(_) => {
            let e = p.import().unwrap_err();
            assert!(matches!(e, DeviceError::NoCuda(_)), "{e:?}");
            assert!(e.to_string().contains("CUDA device 0"), "{e}");
            assert_eq!(p.calls(), 1);
            let e = p.import_legacy().unwrap_err();
            assert!(matches!(e, DeviceError::NoCuda(_)), "{e:?}");
            assert_eq!(p.calls(), 2);
        }
        Ok(current) => {
            // The data pointer is host memory, but import never touches it.
            p.edit(|t| t.device.device_id = current);
            let t = p.import().unwrap().with_stream(fake_stream()).with_policy(SyncPolicy::Trust);
            assert_eq!(t.memory(), MemoryKind::Cuda { device: current });
            let v = t.view();
            assert_eq!((v.place.stream, v.place.policy), (Some(fake_stream()), Some(SyncPolicy::Trust)));
            drop(t);
            assert_eq!(p.calls(), 1);
            p.edit(|t| t.device.device_id = current + 1);
            p.refused("current CUDA context is device");
        }
    }
    let mut p = Producer::f64_2x3();
    p.edit(|t| t.device = DLDevice { device_type: Dev::kDLCUDA, device_id: -1 });
    p.refused("negative");
}

#[test]
fn dtype_table_round_trips() {
    for d in DType::ALL {
        let dl = dtype_to_dl(d);
        assert_eq!(u32::from(dl.bits) * u32::from(dl.lanes), 8 * d.size() as u32, "{d}");
        assert_eq!(dtype_from_dl(dl), Some(d));
    }
    assert_eq!(dtype_from_dl(dl(Code::kDLBfloat, 16)), Some(DType::BF16));
    assert_eq!(dtype_from_dl(dl(Code::kDLComplex, 128)), Some(DType::C64));
    assert_eq!(dtype_from_dl(dl(Code::kDLBool, 8)), Some(DType::Bool));
}

#[test]
fn imports_every_supported_dtype() {
    for (code, bits, dtype) in [
        (Code::kDLInt, 8, DType::I8),
        (Code::kDLUInt, 16, DType::U16),
        (Code::kDLFloat, 16, DType::F16),
        (Code::kDLBfloat, 16, DType::BF16),
        (Code::kDLComplex, 64, DType::C32),
        (Code::kDLComplex, 128, DType::C64),
        (Code::kDLBool, 8, DType::Bool),
    ] {
        let mut p = Producer::new(vec![0; 4], dl(code, bits), &[2]);
        let t = p.import().unwrap();
        assert_eq!((t.dtype(), t.len(), t.view().bytes()), (dtype, 2, 2 * dtype.size()));
        drop(t);
        assert_eq!(p.calls(), 1);
    }
}

#[test]
fn refuses_unsupported_dtype_codes_bits_and_lanes() {
    for (dtype, needle) in [
        (dl(Code::kDLOpaqueHandle, 64), "kDLOpaqueHandle"),
        (dl(Code::kDLFloat8_e4m3fn, 8), "float8"),
        (dl(Code::kDLBcomplex, 32), "kDLBcomplex"),
        (dl(42, 32), "code 42"),
        (dl(Code::kDLInt, 128), "128 bits"),
        (dl(Code::kDLFloat, 8), "kDLFloat) with 8 bits"),
        (dl(Code::kDLBfloat, 32), "kDLBfloat) with 32 bits"),
        (dl(Code::kDLBool, 1), "kDLBool) with 1 bits"),
        (DLDataType { code: Code::kDLFloat as u8, bits: 32, lanes: 4 }, "lanes = 4"),
        (DLDataType { code: Code::kDLFloat as u8, bits: 32, lanes: 0 }, "lanes = 0"),
    ] {
        let mut p = Producer::f64_2x3();
        p.edit(|t| t.dtype = dtype);
        p.refused(needle);
    }
}

#[test]
fn refuses_bad_shapes() {
    let mut p = Producer::f64_2x3();
    p.edit(|t| t.ndim = -1);
    p.refused("ndim -1 is negative");

    let mut p = Producer::new(vec![0; 6], F64, &[2, -3]);
    p.refused("dimension 1 of shape [2, -3] is negative");

    let mut p = Producer::f64_2x3();
    p.edit(|t| t.shape = std::ptr::null_mut());
    p.refused("shape is NULL");

    let mut p = Producer::new(vec![0; 6], F64, &[1 << 40, 1 << 40]);
    p.refused("overflows usize");

    // Fits in usize, but not as bytes.
    let mut p = Producer::new(vec![0; 6], F64, &[1 << 61]);
    p.refused("exceed the address space");
}

#[test]
fn scalars_and_empty_tensors() {
    // ndim 0, shape NULL: one element.
    let mut p = Producer::new(vec![7.5f64.to_bits()], F64, &[]);
    let t = p.import().unwrap();
    assert_eq!((t.shape(), t.len()), (&[][..], 1));
    assert_eq!(read::<f64>(&t), [7.5]);
    drop(t);
    assert_eq!(p.calls(), 1);

    // No element, NULL data and odd strides: accepted, with an aligned address.
    let mut p = Producer::new(vec![], F64, &[1 << 40, 1 << 40, 0]);
    p.strides(&[-5, 0, 3]).edit(|t| t.data = std::ptr::null_mut());
    let t = p.import().unwrap();
    assert_eq!((t.len(), t.is_empty()), (0, true));
    assert!(!t.view().ptr.is_null());
    assert_eq!(t.view().ptr as usize % 8, 0);
    drop(t);
    assert_eq!(p.calls(), 1);

    let mut p = Producer::f64_2x3();
    p.edit(|t| t.data = std::ptr::null_mut());
    p.refused("data is NULL for a tensor of 6 elements");
}

#[test]
fn accepts_compact_strides() {
    for strides in [&[3, 1][..], &[3, 1]] {
        let mut p = Producer::f64_2x3();
        p.strides(strides);
        assert_eq!(read::<f64>(&p.import().unwrap()), [0.0, 1.0, 2.0, 3.0, 4.0, 5.0]);
        assert_eq!(p.calls(), 1);
    }
    // Size-1 dimensions may have any stride (PyTorch gives them arbitrary ones).
    let mut p = Producer::new(vec![0; 6], F64, &[1, 2, 1, 3]);
    p.strides(&[-4, 3, 0, 1]);
    let t = p.import().unwrap();
    assert_eq!(t.shape(), &[1, 2, 1, 3]);
    drop(t);
    assert_eq!(p.calls(), 1);
}

#[test]
fn refuses_negative_zero_gapped_and_transposed_strides() {
    for (shape, strides, needle) in [
        (&[6][..], &[-1][..], "stride -1 of dimension 0 is negative"),
        (&[2, 3], &[-3, 1], "negative (a reversed view)"),
        (&[2, 3], &[0, 1], "stride 0 of dimension 0 (size 2)"),
        (&[3], &[2], "stride 2 of dimension 0 should be 1"),
        (&[2, 3], &[4, 1], "stride 4 of dimension 0 should be 3"),
        (&[2, 3], &[1, 2], "stride 1 of dimension 0 should be 3"),
    ] {
        let mut p = Producer::new(vec![0; 8], F64, shape);
        p.strides(strides);
        let msg = p.refused(needle);
        assert!(msg.contains("not compact row-major"), "{msg}");
    }
}

#[test]
fn honours_byte_offset() {
    let mut p = Producer::new((0..8).map(|i| (i as f64).to_bits()).collect(), F64, &[4]);
    p.edit(|t| t.byte_offset = 16);
    let t = p.import().unwrap();
    assert_eq!(read::<f64>(&t), [2.0, 3.0, 4.0, 5.0]);
    drop(t);
    assert_eq!(p.calls(), 1);

    // f32 elements at a 4-byte offset: aligned.
    let mut p = Producer::new(vec![0, u64::from(9.0f32.to_bits())], dl(Code::kDLFloat, 32), &[1]);
    p.edit(|t| t.byte_offset = 8);
    assert_eq!(read::<f32>(&p.import().unwrap()), [9.0]);

    let mut p = Producer::f64_2x3();
    p.edit(|t| t.byte_offset = 3);
    p.refused("not aligned to 8 bytes for f64");

    let mut p = Producer::f64_2x3();
    p.edit(|t| t.byte_offset = u64::MAX - 7);
    p.refused("overflow");
}

#[test]
fn version_major_must_be_one() {
    for major in [0, 2, u32::MAX] {
        let mut p = Producer::f64_2x3();
        unsafe { (*p.versioned()).version = DLPackVersion { major, minor: 0 } };
        let e = p.import().unwrap_err();
        assert!(e.to_string().contains(&format!("DLPack version {major}.0 is not supported")), "{e}");
        assert_eq!(p.calls(), 1);
    }
    // Any minor version of 1.x is fine.
    let mut p = Producer::f64_2x3();
    unsafe { (*p.versioned()).version = DLPackVersion { major: 1, minor: 99 } };
    assert_eq!(p.import().unwrap().version(), Some((1, 99)));
    assert_eq!(p.calls(), 1);
}

#[test]
fn read_only_tensors_cannot_be_received_into() {
    let mut p = Producer::f64_2x3();
    unsafe { (*p.versioned()).flags = FLAG_READ_ONLY };
    let mut t = p.import().unwrap();
    assert!(t.is_read_only());
    let e = t.writable().unwrap_err();
    assert!(matches!(e, DeviceError::Dlpack(_)));
    assert!(e.to_string().contains("read-only"), "{e}");
    assert_eq!(read::<f64>(&t)[1], 1.0); // still readable
    drop(t);
    assert_eq!(p.calls(), 1);

    // A legacy tensor marked read-only by the importer.
    let mut t = p.import_legacy().unwrap().read_only();
    assert!(t.writable().is_err());
    drop(t);
    assert_eq!(p.calls(), 2);
}

#[test]
fn writable_tensors_are_written_in_place() {
    let mut p = Producer::f64_2x3();
    unsafe { (*p.versioned()).flags = 2 }; // IS_COPIED: no effect
    let mut t = p.import().unwrap();
    {
        let mut w = t.writable().unwrap();
        assert_eq!(w.len(), 6);
        let v = w.view_mut();
        assert_eq!((v.len, v.dtype, v.memory()), (6, DType::F64, MemoryKind::Host));
        unsafe { std::slice::from_raw_parts_mut(v.ptr.cast::<f64>(), v.len) }.fill(-1.0);
        assert_eq!(read::<f64>(&w), [-1.0; 6]);
    }
    drop(t);
    assert_eq!(p.calls(), 1);
    assert_eq!(unsafe { f64::from_bits((&(*p.ctx).data)[3]) }, -1.0);
}

#[test]
fn null_pointers_and_null_deleters() {
    let e = unsafe { DlpackTensor::from_versioned(std::ptr::null_mut()) }.unwrap_err();
    assert!(e.to_string().contains("NULL"));
    assert!(unsafe { DlpackTensor::from_legacy(std::ptr::null_mut()) }.is_err());

    // A NULL deleter is allowed: nothing is called, on success or on error.
    let mut p = Producer::f64_2x3();
    unsafe { (*p.versioned()).deleter = None };
    drop(p.import().unwrap());
    p.edit(|t| t.ndim = -2);
    assert!(p.import().is_err());
    assert_eq!(p.calls(), 0);
}

#[test]
fn imported_and_exported_tensors_are_send() {
    fn send<T: Send>() {}
    fn sync<T: Sync>() {}
    send::<DlpackTensor>();
    sync::<DlpackTensor>();
    send::<ExportedTensor>();

    let mut p = Producer::f64_2x3();
    let t = p.import().unwrap();
    std::thread::spawn(move || drop(t)).join().unwrap();
    assert_eq!(p.calls(), 1);
}

/// A buffer that counts its drops.
struct Counted {
    data: Vec<f32>,
    drops: Arc<AtomicUsize>,
}

impl Counted {
    fn new(data: Vec<f32>) -> (Counted, Arc<AtomicUsize>) {
        let drops = Arc::new(AtomicUsize::new(0));
        (Counted { data, drops: drops.clone() }, drops)
    }
}

impl Drop for Counted {
    fn drop(&mut self) {
        self.drops.fetch_add(1, Ordering::SeqCst);
    }
}

unsafe impl DeviceBuffer for Counted {
    fn view(&self) -> crate::BufferView {
        self.data.view()
    }
}

unsafe impl DeviceBufferMut for Counted {
    fn view_mut(&mut self) -> crate::BufferViewMut {
        self.data.view_mut()
    }
}

#[test]
fn export_import_round_trip_versioned() {
    let (owner, drops) = Counted::new((0..12).map(|i| i as f32).collect());
    let e = export_with_shape(owner, &[3, 4]).unwrap();
    assert_eq!((e.shape(), e.len(), e.dtype(), e.memory()), (vec![3, 4], 12, DType::F32, MemoryKind::Host));
    assert!(e.is_read_only() && !e.is_empty() && e.stream().is_none());
    let raw = e.into_raw();
    unsafe {
        let t = &(*raw).dl_tensor;
        assert_eq!((*raw).version.major, 1);
        assert_eq!((t.ndim, *t.shape, *t.shape.add(1), *t.strides, *t.strides.add(1)), (2, 3, 4, 4, 1));
    }
    let mut t = unsafe { DlpackTensor::from_versioned(raw) }.unwrap();
    assert_eq!((t.shape(), t.dtype(), t.is_read_only()), (&[3usize, 4][..], DType::F32, true));
    assert_eq!(read::<f32>(&t), (0..12).map(|i| i as f32).collect::<Vec<_>>());
    assert!(t.writable().is_err());
    assert_eq!(drops.load(Ordering::SeqCst), 0);
    drop(t);
    assert_eq!(drops.load(Ordering::SeqCst), 1);
}

#[test]
fn export_import_round_trip_legacy_and_writable() {
    let (owner, drops) = Counted::new(vec![1.0, 2.0, 3.0]);
    let raw = export_mut(owner).into_raw_legacy();
    let mut t = unsafe { DlpackTensor::from_legacy(raw) }.unwrap();
    assert_eq!((t.shape(), t.version()), (&[3usize][..], None));
    {
        let mut w = t.writable().unwrap();
        let v = w.view_mut();
        unsafe { *v.ptr.cast::<f32>().add(2) = 30.0 };
    }
    assert_eq!(read::<f32>(&t), [1.0, 2.0, 30.0]);
    drop(t);
    assert_eq!(drops.load(Ordering::SeqCst), 1);

    // export_mut's versioned form is writable too.
    let (owner, drops) = Counted::new(vec![5.0]);
    let e = export_mut(owner);
    assert!(!e.is_read_only());
    let mut t = unsafe { DlpackTensor::from_versioned(e.into_raw()) }.unwrap();
    assert!(t.writable().is_ok());
    drop(t);
    assert_eq!(drops.load(Ordering::SeqCst), 1);
}

#[test]
fn exported_tensor_dropped_unhanded_drops_its_owner_once() {
    let (owner, drops) = Counted::new(vec![1.0; 4]);
    let e = export(owner);
    assert_eq!(drops.load(Ordering::SeqCst), 0);
    drop(e);
    assert_eq!(drops.load(Ordering::SeqCst), 1);

    // A consumer that calls the deleter directly.
    let (owner, drops) = Counted::new(vec![1.0; 4]);
    let raw = export(owner).into_raw_legacy();
    unsafe { ((*raw).deleter.unwrap())(raw) };
    assert_eq!(drops.load(Ordering::SeqCst), 1);

    // Sent to another thread and dropped there.
    let (owner, drops) = Counted::new(vec![1.0; 4]);
    let e = export(owner);
    std::thread::spawn(move || drop(e)).join().unwrap();
    assert_eq!(drops.load(Ordering::SeqCst), 1);
}

#[test]
fn export_shapes_are_checked() {
    let (owner, drops) = Counted::new(vec![0.0; 6]);
    let mut e = export(owner);
    let err = e.reshape(&[4, 2]).unwrap_err();
    assert!(err.to_string().contains("shape [4, 2] has 8 elements, the buffer 6"), "{err}");
    let err = e.reshape(&[usize::MAX, 2, 0]).unwrap_err();
    assert!(err.to_string().contains("overflows"), "{err}");
    // Still usable after a refused reshape, with its old shape.
    assert_eq!(e.shape(), [6]);
    e.reshape(&[1, 2, 3]).unwrap();
    assert_eq!(e.shape(), [1, 2, 3]);
    let t = unsafe { DlpackTensor::from_versioned(e.into_raw()) }.unwrap();
    assert_eq!(t.shape(), &[1, 2, 3]);
    drop(t);
    assert_eq!(drops.load(Ordering::SeqCst), 1);

    // On a refused shape, export_with_shape drops the owner (once).
    let (owner, drops) = Counted::new(vec![0.0; 6]);
    assert!(export_with_shape(owner, &[5]).is_err());
    assert_eq!(drops.load(Ordering::SeqCst), 1);

    // A scalar, and an empty buffer.
    let t =
        unsafe { DlpackTensor::from_versioned(export_with_shape(2.5f64, &[]).unwrap().into_raw()) }.unwrap();
    assert_eq!((t.shape(), read::<f64>(&t)), (&[][..], vec![2.5]));
    let t = unsafe { DlpackTensor::from_versioned(export(Vec::<u16>::new()).into_raw()) }.unwrap();
    assert_eq!((t.shape(), t.len(), t.dtype()), (&[0usize][..], 0, DType::U16));
}

#[test]
fn exported_inline_data_does_not_move() {
    // An array lives inline in its owner: export boxes the owner before taking its address.
    let e = export([1u8, 2, 3, 4, 5, 6, 7, 8]);
    let moved = vec![e];
    let t = unsafe { DlpackTensor::from_versioned(moved.into_iter().next().unwrap().into_raw()) }.unwrap();
    assert_eq!(read::<u8>(&t), [1, 2, 3, 4, 5, 6, 7, 8]);
}

#[test]
fn export_devices_map_back() {
    assert_eq!(device_to_dl(MemoryKind::Host).device_type, Dev::kDLCPU);
    assert_eq!(device_to_dl(MemoryKind::PinnedHost).device_type, Dev::kDLCUDAHost);
    let d = device_to_dl(MemoryKind::Cuda { device: 3 });
    assert_eq!((d.device_type, d.device_id), (Dev::kDLCUDA, 3));
}

/// Runs only where a GPU is present: a cudarc slice exported, imported and copied back.
#[cfg(feature = "cuda")]
#[test]
fn cuda_slice_round_trip_when_a_gpu_is_present() {
    if cuda::probe().is_err() {
        return;
    }
    let ctx = cuda::context(0).unwrap();
    let stream = ctx.default_stream();
    let slice = stream.clone_htod(&[1.0f32, 2.0, 3.0]).unwrap();
    let e = export(slice);
    assert_eq!(e.memory(), MemoryKind::Cuda { device: 0 });
    let s = e.stream().expect("a CUDA buffer has a stream");
    ctx.bind_to_thread().unwrap();
    let t = unsafe { DlpackTensor::from_versioned(e.into_raw()) }.unwrap().with_stream(s);
    assert_eq!((t.memory(), t.stream(), t.len()), (MemoryKind::Cuda { device: 0 }, Some(s), 3));
    let mut host = [0f32; 3];
    unsafe { cuda::copy_to_host_async(0, host.as_mut_ptr().cast(), t.view().ptr, 12, s) }.unwrap();
    cuda::stream_synchronize(0, s).unwrap();
    assert_eq!(host, [1.0, 2.0, 3.0]);
    drop(t); // frees the CudaSlice through the deleter
    stream.synchronize().unwrap();
}

// ---------------------------------------------------------------------------------------------
// Strided tensors

impl Producer {
    fn import_strided(&mut self) -> DeviceResult<StridedTensor> {
        unsafe { StridedTensor::from_versioned(self.versioned()) }
    }
    fn import_strided_legacy(&mut self) -> DeviceResult<StridedTensor> {
        unsafe { StridedTensor::from_legacy(self.legacy()) }
    }
}

/// The elements of a strided host tensor in row-major index order.
fn gather_f64(t: &StridedTensor) -> Vec<f64> {
    let mut out = Vec::new();
    let (shape, strides) = (t.shape(), t.strides());
    let mut idx = vec![0usize; shape.len()];
    for _ in 0..t.len() {
        let off: isize = idx.iter().zip(strides).map(|(&i, &s)| i as isize * s).sum();
        out.push(unsafe { *t.origin().cast::<f64>().offset(off) });
        for d in (0..shape.len()).rev() {
            idx[d] += 1;
            if idx[d] < shape[d] {
                break;
            }
            idx[d] = 0;
        }
    }
    out
}

#[test]
fn strided_imports_transposed_sliced_reversed_and_broadcast_tensors() {
    // (shape, strides, byte_offset, elements in index order, (below, span))
    type Case<'a> = (&'a [i64], &'a [i64], u64, &'a [f64], (usize, usize));
    let cases: [Case; 5] = [
        (&[3, 2], &[1, 3], 0, &[0.0, 3.0, 1.0, 4.0, 2.0, 5.0], (0, 48)), // transpose (Fortran order)
        (&[2], &[3], 8, &[1.0, 4.0], (0, 32)),                           // column 1
        (&[2, 3], &[-3, -1], 40, &[5.0, 4.0, 3.0, 2.0, 1.0, 0.0], (40, 48)), // reversed both ways
        (&[2, 3], &[0, 1], 0, &[0.0, 1.0, 2.0, 0.0, 1.0, 2.0], (0, 24)), // broadcast rows
        (&[2, 3], &[3, 1], 0, &[0.0, 1.0, 2.0, 3.0, 4.0, 5.0], (0, 48)), // contiguous
    ];
    for (shape, strides, offset, want, span) in cases {
        let mut p = Producer::new((0..6).map(|i| (i as f64).to_bits()).collect(), F64, shape);
        p.strides(strides);
        p.edit(|t| t.byte_offset = offset);
        let t = p.import_strided().unwrap();
        assert_eq!(t.strides(), strides.iter().map(|&s| s as isize).collect::<Vec<_>>());
        assert_eq!(gather_f64(&t), want, "shape {shape:?} strides {strides:?}");
        assert_eq!(t.byte_span(), span);
        let contiguous = strides == [3, 1];
        assert_eq!(t.is_contiguous(), contiguous);
        match t.into_contiguous() {
            Ok(c) => assert!(contiguous && read::<f64>(&c) == want),
            Err(t) => assert!(!contiguous && t.len() == want.len()),
        }
        assert_eq!(p.calls(), 1);
        drop(p.import_strided_legacy().unwrap());
        assert_eq!(p.calls(), 2);
        // DlpackTensor still refuses every non-compact layout, naming StridedTensor.
        if !contiguous {
            p.refused("import it as a StridedTensor");
        }
    }
    // NULL strides: row-major.
    let mut p = Producer::f64_2x3();
    let t = p.import_strided().unwrap();
    assert_eq!((t.strides(), t.is_contiguous()), (&[3isize, 1][..], true));
}

#[test]
fn strided_refuses_elements_below_data_and_huge_spans() {
    let mut p = Producer::f64_2x3();
    p.strides(&[-3, 1]);
    let before = p.calls();
    let e = p.import_strided().unwrap_err().to_string();
    assert!(e.contains("reach 24 bytes below the first element") && e.contains("outside"), "{e}");
    assert_eq!(p.calls(), before + 1);
    p.edit(|t| t.byte_offset = 16); // still 8 bytes short
    assert!(p.import_strided().is_err());
    p.edit(|t| t.byte_offset = 24);
    assert_eq!(gather_f64(&p.import_strided().unwrap()), [3.0, 4.0, 5.0, 0.0, 1.0, 2.0]);

    let mut p = Producer::f64_2x3();
    p.strides(&[i64::MAX / 2, 1]);
    let e = p.import_strided().unwrap_err().to_string();
    assert!(e.contains("more than the address space"), "{e}");
    let mut p = Producer::f64_2x3();
    p.strides(&[3, 1]);
    p.edit(|t| t.byte_offset = 4);
    assert!(p.import_strided().unwrap_err().to_string().contains("not aligned"));
    // Read-only flag and marking carry over.
    let mut p = Producer::f64_2x3();
    unsafe { (*p.versioned()).flags = FLAG_READ_ONLY };
    assert!(p.import_strided().unwrap().is_read_only());
    assert!(p.import_strided_legacy().unwrap().read_only().is_read_only());
}

#[test]
fn export_restride_round_trips_and_is_checked() {
    let data: Vec<f64> = (0..12).map(|i| i as f64).collect();
    let mut e = export_mut(data.clone());
    e.restride(&[4, 3], &[1, 4], 0).unwrap(); // the transpose of a 3 x 4 matrix
    let t = unsafe { StridedTensor::from_versioned(e.into_raw()) }.unwrap();
    assert_eq!(gather_f64(&t), [0.0, 4.0, 8.0, 1.0, 5.0, 9.0, 2.0, 6.0, 10.0, 3.0, 7.0, 11.0]);
    assert!(!t.is_read_only());
    let mut e = export(data.clone());
    e.restride(&[3], &[-4], 9).unwrap(); // column 1, bottom up
    let t = unsafe { StridedTensor::from_legacy(e.into_raw_legacy()) }.unwrap();
    assert_eq!(gather_f64(&t), [9.0, 5.0, 1.0]);
    let mut e = export(data);
    for (shape, strides, offset) in [
        (&[3][..], &[-4][..], 7),
        (&[4, 3][..], &[1, 4][..], 1),
        (&[2][..], &[1, 1][..], 0),
        (&[1][..], &[1][..], 13),
    ] {
        let err = e.restride(shape, strides, offset).unwrap_err().to_string();
        assert!(err.contains("outside the buffer") || err.contains("differ in length"), "{err}");
    }
    // Shapes a DLPack consumer cannot count (int64_t dimensions, 64-bit element and byte
    // counts) are refused, even where stride 0 or a 0 dimension keeps them inside the buffer.
    for shape in [&[usize::MAX][..], &[0, usize::MAX][..], &[1 << 40, 1 << 40][..]] {
        let err = e.restride(shape, &[0, 0][..shape.len()], 0).unwrap_err().to_string();
        assert!(err.contains("more elements than"), "{err}");
    }
    e.restride(&[1 << 20, 4], &[0, 1], 0).unwrap();
    // Empty views may sit anywhere up to the end.
    e.restride(&[0, 5], &[100, 1], 12).unwrap();
    e.reshape(&[12]).unwrap();
    let t = unsafe { DlpackTensor::from_versioned(e.into_raw()) }.unwrap();
    assert_eq!(read::<f64>(&t)[11], 11.0);
}
