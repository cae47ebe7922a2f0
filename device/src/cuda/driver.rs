//! The build with the `cuda` feature: cudarc's driver API with dynamic loading.

use super::CudaInfo;
use crate::error::{DeviceError, DeviceResult};
use crate::{MemoryKind, StreamRef};
use cudarc::driver::{result, sys, CudaContext};
use std::collections::HashMap;
use std::ffi::c_void;
use std::sync::{Arc, Mutex, OnceLock};

fn driver_error(call: &'static str, e: result::DriverError) -> DeviceError {
    let message = match e.error_string() {
        Ok(s) => format!("{} ({:?})", s.to_string_lossy(), e.0),
        Err(_) => format!("{:?}", e.0),
    };
    DeviceError::Cuda { call, message }
}

/// Finds the driver, initialises it and counts devices, once per process.
pub fn probe() -> DeviceResult<CudaInfo> {
    static PROBE: OnceLock<DeviceResult<CudaInfo>> = OnceLock::new();
    PROBE.get_or_init(probe_uncached).clone()
}

fn probe_uncached() -> DeviceResult<CudaInfo> {
    if let Some(why) = super::disabled_by_env() {
        return Err(DeviceError::NoCuda(why));
    }
    // SAFETY: only tries to open the library; nothing is called through it.
    if !unsafe { sys::is_culib_present() } {
        return Err(DeviceError::NoCuda("the CUDA driver library (libcuda.so) was not found".into()));
    }
    result::init().map_err(|e| DeviceError::NoCuda(format!("cuInit failed: {e:?}")))?;
    let devices = result::device::get_count().map_err(|e| driver_error("cuDeviceGetCount", e))?;
    if devices < 1 {
        return Err(DeviceError::NoCuda("the driver sees no CUDA device".into()));
    }
    let mut driver_version = 0;
    // SAFETY: the driver is initialised; the pointer is valid.
    unsafe { sys::cuDriverGetVersion(&mut driver_version) }
        .result()
        .map_err(|e| driver_error("cuDriverGetVersion", e))?;
    Ok(CudaInfo { devices, driver_version })
}

#[cfg_attr(docsrs, doc(cfg(feature = "cuda")))]
/// The primary context of `device` (cudarc's [`CudaContext`]), created once and kept.
pub fn context(device: i32) -> DeviceResult<Arc<CudaContext>> {
    let info = probe()?;
    if device < 0 || device >= info.devices {
        return Err(DeviceError::Unsupported(format!(
            "CUDA device {device} does not exist ({} visible)",
            info.devices
        )));
    }
    static CONTEXTS: Mutex<Option<HashMap<i32, Arc<CudaContext>>>> = Mutex::new(None);
    let mut map = CONTEXTS.lock().unwrap_or_else(|e| e.into_inner());
    let map = map.get_or_insert_with(HashMap::new);
    if let Some(ctx) = map.get(&device) {
        return Ok(ctx.clone());
    }
    let ctx = CudaContext::new(device as usize).map_err(|e| driver_error("cuDevicePrimaryCtxRetain", e))?;
    map.insert(device, ctx.clone());
    Ok(ctx)
}

/// Makes `device`'s primary context current on the calling thread.
fn bind(device: i32) -> DeviceResult<()> {
    context(device)?.bind_to_thread().map_err(|e| driver_error("cuCtxSetCurrent", e))
}

/// Waits for the work queued on `stream` of `device`.
pub fn stream_synchronize(device: i32, stream: StreamRef) -> DeviceResult<()> {
    bind(device)?;
    // SAFETY: the stream handle came from a live buffer of this device.
    unsafe { result::stream::synchronize(stream.0 as sys::CUstream) }
        .map_err(|e| driver_error("cuStreamSynchronize", e))
}

/// Waits for all work on `device`.
pub fn device_synchronize(device: i32) -> DeviceResult<()> {
    bind(device)?;
    result::ctx::synchronize().map_err(|e| driver_error("cuCtxSynchronize", e))
}

/// Enqueues a device-to-host copy on `stream`.
///
/// # Safety
/// `src` must be `bytes` of device memory and `dst` `bytes` of host memory, both valid until
/// the copy completes.
pub unsafe fn copy_to_host_async(
    device: i32,
    dst: *mut c_void,
    src: *const c_void,
    bytes: usize,
    stream: StreamRef,
) -> DeviceResult<()> {
    bind(device)?;
    sys::cuMemcpyDtoHAsync_v2(dst, src as sys::CUdeviceptr, bytes, stream.0 as sys::CUstream)
        .result()
        .map_err(|e| driver_error("cuMemcpyDtoHAsync", e))
}

/// Enqueues a host-to-device copy on `stream`.
///
/// # Safety
/// As [`copy_to_host_async`], the other way round.
pub unsafe fn copy_to_device_async(
    device: i32,
    dst: *mut c_void,
    src: *const c_void,
    bytes: usize,
    stream: StreamRef,
) -> DeviceResult<()> {
    bind(device)?;
    sys::cuMemcpyHtoDAsync_v2(dst as sys::CUdeviceptr, src, bytes, stream.0 as sys::CUstream)
        .result()
        .map_err(|e| driver_error("cuMemcpyHtoDAsync", e))
}

/// Allocates page-locked host memory, portable to every context and *not* write-combined
/// (the CPU reads staging buffers; cudarc's `alloc_pinned` is write-combined).
///
/// # Safety
/// Free it with [`pinned_free`].
pub unsafe fn pinned_alloc(bytes: usize) -> DeviceResult<*mut c_void> {
    bind(0)?;
    result::malloc_host(bytes.max(1), sys::CU_MEMHOSTALLOC_PORTABLE)
        .map_err(|e| driver_error("cuMemHostAlloc", e))
}

/// Frees memory from [`pinned_alloc`].
///
/// # Safety
/// `ptr` came from [`pinned_alloc`] and is not used afterwards.
pub unsafe fn pinned_free(ptr: *mut c_void) {
    if !ptr.is_null() && probe().is_ok() {
        let _ = result::free_host(ptr);
    }
}

/// Allocates `bytes` of managed memory (`cuMemAllocManaged`, attached globally) on `device`.
///
/// # Safety
/// Free it with [`managed_free`].
pub unsafe fn managed_alloc(device: i32, bytes: usize) -> DeviceResult<*mut c_void> {
    bind(device)?;
    let p = result::malloc_managed(bytes.max(1), sys::CUmemAttach_flags::CU_MEM_ATTACH_GLOBAL)
        .map_err(|e| driver_error("cuMemAllocManaged", e))?;
    Ok(p as *mut c_void)
}

/// Frees memory from [`managed_alloc`] (after the device's work on it: `cuMemFree`
/// synchronises).
///
/// # Safety
/// `ptr` came from [`managed_alloc`] on `device` and is not used afterwards.
pub unsafe fn managed_free(device: i32, ptr: *mut c_void) {
    if !ptr.is_null() && bind(device).is_ok() {
        let _ = result::free_sync(ptr as sys::CUdeviceptr);
    }
}

/// The memory kind of an address, as the driver knows it: device memory with its ordinal,
/// managed memory, page-locked host memory, or ordinary host memory (an address the driver
/// does not know).
pub fn pointer_memory(ptr: *const c_void) -> DeviceResult<MemoryKind> {
    probe()?;
    let mut kind: u32 = 0;
    // SAFETY: the attribute query writes one unsigned int.
    let code = unsafe {
        sys::cuPointerGetAttribute(
            (&mut kind as *mut u32).cast(),
            sys::CUpointer_attribute::CU_POINTER_ATTRIBUTE_MEMORY_TYPE,
            ptr as sys::CUdeviceptr,
        )
    };
    if code != sys::CUresult::CUDA_SUCCESS {
        return Ok(MemoryKind::Host);
    }
    if kind == sys::CUmemorytype::CU_MEMORYTYPE_HOST as u32 {
        return Ok(MemoryKind::PinnedHost);
    }
    let mut device: i32 = 0;
    // SAFETY: as above, one int.
    unsafe {
        sys::cuPointerGetAttribute(
            (&mut device as *mut i32).cast(),
            sys::CUpointer_attribute::CU_POINTER_ATTRIBUTE_DEVICE_ORDINAL,
            ptr as sys::CUdeviceptr,
        )
    }
    .result()
    .map_err(|e| driver_error("cuPointerGetAttribute", e))?;
    let mut managed: i32 = 0;
    // SAFETY: as above, one int (a driver that cannot answer leaves 0: device memory).
    let _ = unsafe {
        sys::cuPointerGetAttribute(
            (&mut managed as *mut i32).cast(),
            sys::CUpointer_attribute::CU_POINTER_ATTRIBUTE_IS_MANAGED,
            ptr as sys::CUdeviceptr,
        )
    };
    Ok(if managed != 0 { MemoryKind::CudaManaged { device } } else { MemoryKind::Cuda { device } })
}

/// The device of the calling thread's current context (device 0 when none is current).
pub fn current_device() -> DeviceResult<i32> {
    probe()?;
    match result::ctx::get_current().map_err(|e| driver_error("cuCtxGetCurrent", e))? {
        None => Ok(0),
        Some(_) => {
            let mut device = 0;
            // SAFETY: a context is current; writes one CUdevice.
            unsafe { sys::cuCtxGetDevice(&mut device) }
                .result()
                .map_err(|e| driver_error("cuCtxGetDevice", e))?;
            Ok(device)
        }
    }
}

/// A CUDA event, recorded on a stream; destroyed on drop.
#[derive(Debug)]
pub struct Event {
    raw: sys::CUevent,
    device: i32,
}

// SAFETY: event handles may be used from any thread once the context is bound there.
unsafe impl Send for Event {}
// SAFETY: as for Send: `&Event` only records, queries and waits on the event, which CUDA allows
// from any thread.
unsafe impl Sync for Event {}

impl Event {
    /// Records an event on `stream` of `device`.
    pub fn record(device: i32, stream: StreamRef) -> DeviceResult<Event> {
        bind(device)?;
        let raw = result::event::create(sys::CUevent_flags::CU_EVENT_DISABLE_TIMING)
            .map_err(|e| driver_error("cuEventCreate", e))?;
        let event = Event { raw, device };
        // SAFETY: a fresh event and a live stream of the bound context.
        unsafe { result::event::record(raw, stream.0 as sys::CUstream) }
            .map_err(|e| driver_error("cuEventRecord", e))?;
        Ok(event)
    }

    /// Waits until the recorded work is done.
    pub fn synchronize(&self) -> DeviceResult<()> {
        bind(self.device)?;
        // SAFETY: a live event.
        unsafe { result::event::synchronize(self.raw) }.map_err(|e| driver_error("cuEventSynchronize", e))
    }

    /// Whether the recorded work is done.
    pub fn is_done(&self) -> DeviceResult<bool> {
        bind(self.device)?;
        // SAFETY: a live event.
        match unsafe { sys::cuEventQuery(self.raw) } {
            sys::CUresult::CUDA_SUCCESS => Ok(true),
            sys::CUresult::CUDA_ERROR_NOT_READY => Ok(false),
            code => Err(driver_error("cuEventQuery", result::DriverError(code))),
        }
    }
}

impl Drop for Event {
    fn drop(&mut self) {
        if bind(self.device).is_ok() {
            // SAFETY: the event is ours and no longer used.
            let _ = unsafe { result::event::destroy(self.raw) };
        }
    }
}
