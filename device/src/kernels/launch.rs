//! Loading compiled kernels into a device's primary context and launching them on a raw stream
//! (the build with the `cuda` feature).

use super::{choose_arch, image, KernelFile, Target};
use crate::error::{DeviceError, DeviceResult};
use crate::{cuda, nvrtc, StreamRef};
use cudarc::driver::{result, sys};
use std::collections::hash_map::Entry;
use std::collections::HashMap;
use std::ffi::{c_void, CString};
use std::sync::Mutex;

/// Threads per block of every launch.
const THREADS: u32 = 256;

/// A loaded module or function handle. Modules live in the device's primary context, which
/// `cuda::context` keeps for the whole process, so the handles never dangle; they are never
/// unloaded.
#[derive(Clone, Copy)]
struct Handle<T>(T);
// SAFETY: module and function handles are process-wide tokens, usable from any thread that
// binds their context.
unsafe impl<T> Send for Handle<T> {}

/// What is known and loaded on one device.
struct DeviceKernels {
    /// The device's compute capability as `XY`.
    cc: u32,
    /// The virtual architecture for PTX (`cc`, or the newest NVRTC knows below it).
    arch: u32,
    sms: u32,
    modules: HashMap<KernelFile, Handle<sys::CUmodule>>,
    functions: HashMap<String, Handle<sys::CUfunction>>,
}

fn driver_error(call: &'static str, e: result::DriverError) -> DeviceError {
    let message = match e.error_string() {
        Ok(s) => format!("{} ({:?})", s.to_string_lossy(), e.0),
        Err(_) => format!("{:?}", e.0),
    };
    DeviceError::Cuda { call, message }
}

static DEVICES: Mutex<Option<HashMap<i32, DeviceKernels>>> = Mutex::new(None);

/// Binds `device`'s context to this thread and returns the handle of kernel `name` of `file`,
/// compiling and loading the file on first use, with the device's multiprocessor count.
fn function(device: i32, file: KernelFile, name: &str) -> DeviceResult<(sys::CUfunction, u32)> {
    let ctx = cuda::context(device)?;
    ctx.bind_to_thread().map_err(|e| driver_error("cuCtxSetCurrent", e))?;
    let mut devices = DEVICES.lock().unwrap_or_else(|e| e.into_inner());
    let devices = devices.get_or_insert_with(HashMap::new);
    let state = match devices.entry(device) {
        Entry::Occupied(e) => e.into_mut(),
        Entry::Vacant(e) => {
            // NVRTC first: without it nothing can run, and its error says so.
            let supported = nvrtc::supported_archs()?;
            let (major, minor) =
                ctx.compute_capability().map_err(|e| driver_error("cuDeviceGetAttribute", e))?;
            let arch = choose_arch((major * 10 + minor) as u32, &supported)?;
            let sms = ctx
                .attribute(sys::CUdevice_attribute::CU_DEVICE_ATTRIBUTE_MULTIPROCESSOR_COUNT)
                .map_err(|e| driver_error("cuDeviceGetAttribute", e))?;
            e.insert(DeviceKernels {
                cc: (major * 10 + minor) as u32,
                arch,
                sms: sms.max(1) as u32,
                modules: HashMap::new(),
                functions: HashMap::new(),
            })
        }
    };
    if let Some(f) = state.functions.get(name) {
        return Ok((f.0, state.sms));
    }
    let module = match state.modules.get(&file) {
        Some(m) => m.0,
        None => {
            let m = load_module(file, state.cc, state.arch)?;
            state.modules.insert(file, Handle(m));
            m
        }
    };
    let c_name = CString::new(name).map_err(|_| DeviceError::Unsupported(format!("kernel name {name:?}")))?;
    // SAFETY: a live module of the bound context.
    let f = unsafe { result::module::get_function(module, c_name) }
        .map_err(|e| driver_error("cuModuleGetFunction", e))?;
    state.functions.insert(name.to_string(), Handle(f));
    Ok((f, state.sms))
}

/// Compiles and loads the pack kernel `name` on `device` (what [`function`] does before a
/// launch), so that callers can choose the host fallback before they commit to the kernels.
pub(super) fn load(device: i32, name: &str) -> DeviceResult<()> {
    function(device, KernelFile::Pack, name).map(drop)
}

/// Loads `file` into the bound context: a CUBIN for `sm_<cc>` when NVRTC knows the device
/// (`arch == cc`; it loads even where the driver is older than NVRTC), else, or when that
/// fails, PTX for `compute_<arch>`.
fn load_module(file: KernelFile, cc: u32, arch: u32) -> DeviceResult<sys::CUmodule> {
    if arch == cc {
        if let Ok(cubin) = image(file, Target::Cubin(cc)) {
            // SAFETY: a complete CUBIN image from NVRTC; the context is bound.
            if let Ok(m) = unsafe { result::module::load_data(cubin.as_ptr().cast()) } {
                return Ok(m);
            }
        }
    }
    let ptx = image(file, Target::Ptx(arch))?;
    let text = CString::new(ptx.to_vec())
        .map_err(|_| DeviceError::Nvrtc(format!("the PTX of {} contains a NUL byte", file.file_name())))?;
    // SAFETY: a NUL-terminated PTX image; the context is bound.
    unsafe { result::module::load_data(text.as_ptr().cast()) }.map_err(|e| {
        use sys::CUresult::*;
        let no_image = matches!(
            e.0,
            CUDA_ERROR_NO_BINARY_FOR_GPU
                | CUDA_ERROR_INVALID_IMAGE
                | CUDA_ERROR_INVALID_PTX
                | CUDA_ERROR_UNSUPPORTED_PTX_VERSION
                | CUDA_ERROR_JIT_COMPILER_NOT_FOUND
        );
        let old_driver = matches!(e.0, CUDA_ERROR_INVALID_PTX | CUDA_ERROR_UNSUPPORTED_PTX_VERSION);
        let mut err = driver_error("cuModuleLoadData", e);
        if let DeviceError::Cuda { message, .. } = &mut err {
            message.push_str(&format!(" loading the PTX of {} for compute_{arch}", file.file_name()));
            if old_driver {
                message.push_str(" (a driver older than NVRTC rejects its PTX version)");
            }
            if no_image {
                // The driver has no binary it can run: the caller takes the host fallback.
                return DeviceError::NoKernel(std::mem::take(message));
            }
        }
        err
    })
}

/// Blocks for `work` items, `per_block` per block: enough to fill the device, no more (the
/// kernels loop over the rest).
fn grid(work: u64, per_block: u64, sms: u32) -> u32 {
    let wanted = work.div_ceil(per_block.max(1)).max(1);
    wanted.min(u64::from(sms) * 32).min(u64::from(i32::MAX as u32)) as u32
}

unsafe fn launch(
    f: sys::CUfunction,
    blocks: u32,
    stream: StreamRef,
    params: &mut [*mut c_void],
    name: &str,
) -> DeviceResult<()> {
    result::launch_kernel(f, (blocks, 1, 1), (THREADS, 1, 1), 0, stream.0 as sys::CUstream, params).map_err(
        |e| {
            let mut err = driver_error("cuLaunchKernel", e);
            if let DeviceError::Cuda { message, .. } = &mut err {
                message.push_str(&format!(" ({name})"));
            }
            err
        },
    )
}

/// Launches reduction kernel `name` over `len` elements.
pub(super) unsafe fn reduce(
    name: &str,
    inout: *mut c_void,
    input: *const c_void,
    len: usize,
    device: i32,
    stream: StreamRef,
) -> DeviceResult<()> {
    let (f, sms) = function(device, KernelFile::Reduce, name)?;
    let mut a = inout as u64;
    let mut b = input as u64;
    let mut n = len as u64;
    let mut params =
        [(&mut a as *mut u64).cast::<c_void>(), (&mut b as *mut u64).cast(), (&mut n as *mut u64).cast()];
    launch(f, grid(n, u64::from(THREADS), sms), stream, &mut params, name)
}

/// Launches strided kernel `name` over `count` blocks of `blocklen` units.
pub(super) unsafe fn strided(
    name: &str,
    dst: *mut c_void,
    src: *const c_void,
    (count, blocklen, stride): (usize, usize, isize),
    device: i32,
    stream: StreamRef,
) -> DeviceResult<()> {
    let (f, sms) = function(device, KernelFile::Pack, name)?;
    let mut d = dst as u64;
    let mut s = src as u64;
    let mut c = count as u64;
    let mut l = blocklen as u64;
    let mut st = stride as i64;
    let mut params = [
        (&mut d as *mut u64).cast::<c_void>(),
        (&mut s as *mut u64).cast(),
        (&mut c as *mut u64).cast(),
        (&mut l as *mut u64).cast(),
        (&mut st as *mut i64).cast(),
    ];
    launch(f, grid(c * l, u64::from(THREADS), sms), stream, &mut params, name)
}

/// Copies `table` to the device and launches indexed kernel `name` over its blocks.
pub(super) unsafe fn indexed(
    name: &str,
    dst: *mut c_void,
    src: *const c_void,
    table: &[i64],
    device: i32,
    stream: StreamRef,
) -> DeviceResult<()> {
    let (f, sms) = function(device, KernelFile::Pack, name)?;
    let raw_stream = stream.0 as sys::CUstream;
    let bytes = std::mem::size_of_val(table);
    let nblocks = (table.len() / 3) as u64;
    // Stream-ordered allocation keeps everything asynchronous; a device without memory pools
    // gets a plain allocation and a synchronised stream instead.
    let (dev_table, ordered) = match result::malloc_async(raw_stream, bytes) {
        Ok(p) => (p, true),
        Err(_) => (result::malloc_sync(bytes).map_err(|e| driver_error("cuMemAlloc", e))?, false),
    };
    let free = |p: sys::CUdeviceptr| {
        if ordered {
            let _ = result::free_async(p, raw_stream);
        } else {
            let _ = result::stream::synchronize(raw_stream);
            let _ = result::free_sync(p);
        }
    };
    // A copy from pageable memory returns once the bytes are staged, so `table` may go.
    if let Err(e) = result::memcpy_htod_async(dev_table, table, raw_stream) {
        free(dev_table);
        return Err(driver_error("cuMemcpyHtoDAsync", e));
    }
    let mut d = dst as u64;
    let mut s = src as u64;
    let mut t = dev_table;
    let mut n = nblocks;
    let mut params = [
        (&mut d as *mut u64).cast::<c_void>(),
        (&mut s as *mut u64).cast(),
        (&mut t as *mut sys::CUdeviceptr).cast(),
        (&mut n as *mut u64).cast(),
    ];
    let launched = launch(f, grid(nblocks, 1, sms), stream, &mut params, name);
    free(dev_table);
    launched
}
