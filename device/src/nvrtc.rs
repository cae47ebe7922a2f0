//! NVRTC, CUDA's run-time compiler, loaded at run time with `libloading`.
//!
//! NVRTC belongs to the toolkit, not the driver, and needs no GPU: PyPI's
//! `nvidia-cuda-nvrtc-cu12` wheel puts `libnvrtc.so.12` on a CPU-only machine, which is how CI
//! compiles every kernel. It is also independent of the `cuda` feature.
//!
//! This is our own loader rather than cudarc's `nvrtc` module: cudarc looks for the library of
//! the CUDA major version it was built for (`libnvrtc.so.12` with `cuda-12080`) and would miss
//! `libnvrtc.so.13` on a CUDA 13 machine (and it panics when none is found). Here the
//! candidates are, in order:
//! 1. `$MPI4RS_NVRTC`, a full path; when set, it is the only candidate;
//! 2. `libnvrtc.so.13`, `libnvrtc.so.12`, `libnvrtc.so.11.2`, `libnvrtc.so` through the
//!    dynamic loader's search (`LD_LIBRARY_PATH`, the ld cache);
//! 3. the same names under `$CUDA_HOME/lib64`, `$CUDA_PATH/lib64` and `/usr/local/cuda/lib64`.
//!
//! A pip wheel's library is found through `MPI4RS_NVRTC` or `LD_LIBRARY_PATH` (set by
//! `ci/env.sh`); nothing runs Python at run time. `MPI4RS_NO_NVRTC=1` switches NVRTC off (the
//! host fallbacks take over). Nothing here panics when the library is missing: every function
//! returns [`DeviceError::Nvrtc`].
//!
//! ```
//! match mpi4rs_device::nvrtc::probe() {
//!     Ok((major, minor)) => println!("NVRTC {major}.{minor}"),
//!     Err(e) => println!("no run-time compilation: {e}"),
//! }
//! ```

use crate::error::{DeviceError, DeviceResult};
use libloading::Library;
use std::ffi::{c_char, c_int, c_void, CStr, CString};
use std::path::PathBuf;
use std::sync::{Mutex, OnceLock};

type Program = *mut c_void;
type NvrtcResult = c_int;

/// The NVRTC entry points we call, resolved once.
struct Api {
    path: String,
    version: (i32, i32),
    get_error_string: unsafe extern "C" fn(NvrtcResult) -> *const c_char,
    create_program: unsafe extern "C" fn(
        *mut Program,
        *const c_char,
        *const c_char,
        c_int,
        *const *const c_char,
        *const *const c_char,
    ) -> NvrtcResult,
    compile_program: unsafe extern "C" fn(Program, c_int, *const *const c_char) -> NvrtcResult,
    get_program_log_size: unsafe extern "C" fn(Program, *mut usize) -> NvrtcResult,
    get_program_log: unsafe extern "C" fn(Program, *mut c_char) -> NvrtcResult,
    get_ptx_size: unsafe extern "C" fn(Program, *mut usize) -> NvrtcResult,
    get_ptx: unsafe extern "C" fn(Program, *mut c_char) -> NvrtcResult,
    destroy_program: unsafe extern "C" fn(*mut Program) -> NvrtcResult,
    get_cubin_size: Option<unsafe extern "C" fn(Program, *mut usize) -> NvrtcResult>,
    get_cubin: Option<unsafe extern "C" fn(Program, *mut c_char) -> NvrtcResult>,
    get_num_supported_archs: Option<unsafe extern "C" fn(*mut c_int) -> NvrtcResult>,
    get_supported_archs: Option<unsafe extern "C" fn(*mut c_int) -> NvrtcResult>,
    /// Keeps the function pointers above valid; never unloaded.
    _lib: Library,
}

/// The library names tried through the dynamic loader, newest first.
const NAMES: &[&str] = &["libnvrtc.so.13", "libnvrtc.so.12", "libnvrtc.so.11.2", "libnvrtc.so"];

fn candidates() -> Vec<PathBuf> {
    if let Some(path) = std::env::var_os("MPI4RS_NVRTC").filter(|p| !p.is_empty()) {
        return vec![PathBuf::from(path)];
    }
    let mut list: Vec<PathBuf> = NAMES.iter().map(PathBuf::from).collect();
    let mut dirs: Vec<PathBuf> = ["CUDA_HOME", "CUDA_PATH"]
        .iter()
        .filter_map(|v| std::env::var_os(v).filter(|p| !p.is_empty()))
        .map(|p| PathBuf::from(p).join("lib64"))
        .collect();
    dirs.push(PathBuf::from("/usr/local/cuda/lib64"));
    for dir in dirs {
        list.extend(NAMES.iter().map(|n| dir.join(n)));
    }
    list
}

fn disabled_by_env() -> Option<String> {
    if cfg!(miri) {
        return Some("Miri cannot load libnvrtc".into());
    }
    crate::env::switched_off("MPI4RS_NO_NVRTC")
}

/// Resolves one symbol as a function pointer of type `T`.
///
/// # Safety
/// `T` must be the C signature of `name`.
unsafe fn symbol<T: Copy>(lib: &Library, name: &str) -> Result<T, String> {
    lib.get::<T>(name.as_bytes()).map(|s| *s).map_err(|e| format!("symbol {name} missing: {e}"))
}

fn load(path: &PathBuf) -> Result<Api, String> {
    // SAFETY: loading NVRTC runs its initialisers only, which have no preconditions.
    let lib = unsafe { Library::new(path) }.map_err(|e| e.to_string())?;
    // SAFETY: every type below is the documented signature of the NVRTC function (nvrtc.h).
    unsafe {
        let version_fn: unsafe extern "C" fn(*mut c_int, *mut c_int) -> NvrtcResult =
            symbol(&lib, "nvrtcVersion")?;
        let (mut major, mut minor) = (0, 0);
        let code = version_fn(&mut major, &mut minor);
        if code != 0 {
            return Err(format!("nvrtcVersion returned {code}"));
        }
        Ok(Api {
            path: path.display().to_string(),
            version: (major, minor),
            get_error_string: symbol(&lib, "nvrtcGetErrorString")?,
            create_program: symbol(&lib, "nvrtcCreateProgram")?,
            compile_program: symbol(&lib, "nvrtcCompileProgram")?,
            get_program_log_size: symbol(&lib, "nvrtcGetProgramLogSize")?,
            get_program_log: symbol(&lib, "nvrtcGetProgramLog")?,
            get_ptx_size: symbol(&lib, "nvrtcGetPTXSize")?,
            get_ptx: symbol(&lib, "nvrtcGetPTX")?,
            destroy_program: symbol(&lib, "nvrtcDestroyProgram")?,
            get_cubin_size: symbol(&lib, "nvrtcGetCUBINSize").ok(),
            get_cubin: symbol(&lib, "nvrtcGetCUBIN").ok(),
            get_num_supported_archs: symbol(&lib, "nvrtcGetNumSupportedArchs").ok(),
            get_supported_archs: symbol(&lib, "nvrtcGetSupportedArchs").ok(),
            _lib: lib,
        })
    }
}

fn load_first() -> Result<Api, String> {
    if let Some(why) = disabled_by_env() {
        return Err(why);
    }
    let mut tried = Vec::new();
    for path in candidates() {
        match load(&path) {
            Ok(api) => return Ok(api),
            Err(e) => tried.push(format!("{}: {e}", path.display())),
        }
    }
    Err(format!(
        "libnvrtc was not found (set MPI4RS_NVRTC to its full path, or add its directory to LD_LIBRARY_PATH); tried {}",
        tried.join("; ")
    ))
}

fn api() -> DeviceResult<&'static Api> {
    static API: OnceLock<Result<Api, String>> = OnceLock::new();
    API.get_or_init(load_first).as_ref().map_err(|e| DeviceError::Nvrtc(e.clone()))
}

/// Finds NVRTC (once per process) and returns its version, e.g. `(12, 9)`.
pub fn probe() -> DeviceResult<(i32, i32)> {
    api().map(|a| a.version)
}

/// True when [`probe`] succeeds.
pub fn available() -> bool {
    probe().is_ok()
}

/// The path or name NVRTC was loaded from.
pub fn library_path() -> DeviceResult<&'static str> {
    api().map(|a| a.path.as_str())
}

/// The virtual architectures this NVRTC compiles for, e.g. `[50, 52, ..., 90, 100, 120]`
/// (`nvrtcGetSupportedArchs`; an empty list from an NVRTC older than 11.2, which lacks it).
pub fn supported_archs() -> DeviceResult<Vec<i32>> {
    let api = api()?;
    let (Some(num), Some(get)) = (api.get_num_supported_archs, api.get_supported_archs) else {
        return Ok(Vec::new());
    };
    let mut n: c_int = 0;
    // SAFETY: writes one int.
    check(api, "nvrtcGetNumSupportedArchs", unsafe { num(&mut n) })?;
    let mut archs = vec![0 as c_int; n.max(0) as usize];
    if !archs.is_empty() {
        // SAFETY: the buffer holds the `n` ints NVRTC reported.
        check(api, "nvrtcGetSupportedArchs", unsafe { get(archs.as_mut_ptr()) })?;
    }
    Ok(archs)
}

fn error_string(api: &Api, code: NvrtcResult) -> String {
    // SAFETY: NVRTC returns a static string for every code (or null).
    let p = unsafe { (api.get_error_string)(code) };
    if p.is_null() {
        format!("error {code}")
    } else {
        // SAFETY: a NUL-terminated static string.
        unsafe { CStr::from_ptr(p) }.to_string_lossy().into_owned()
    }
}

fn check(api: &Api, call: &str, code: NvrtcResult) -> DeviceResult<()> {
    if code == 0 {
        Ok(())
    } else {
        Err(DeviceError::Nvrtc(format!("{call} failed: {}", error_string(api, code))))
    }
}

/// Destroys the program on every way out of [`compile`].
struct ProgramGuard<'a> {
    api: &'a Api,
    prog: Program,
}

impl Drop for ProgramGuard<'_> {
    fn drop(&mut self) {
        // SAFETY: a program created by nvrtcCreateProgram, destroyed once.
        unsafe { (self.api.destroy_program)(&mut self.prog) };
    }
}

impl ProgramGuard<'_> {
    fn read(
        &self,
        size_fn: unsafe extern "C" fn(Program, *mut usize) -> NvrtcResult,
        get_fn: unsafe extern "C" fn(Program, *mut c_char) -> NvrtcResult,
        what: &str,
    ) -> DeviceResult<Vec<u8>> {
        let mut size = 0usize;
        // SAFETY: a live program; writes one size_t.
        check(self.api, what, unsafe { size_fn(self.prog, &mut size) })?;
        let mut buf = vec![0u8; size.max(1)];
        // SAFETY: the buffer holds the `size` bytes NVRTC reported.
        check(self.api, what, unsafe { get_fn(self.prog, buf.as_mut_ptr().cast()) })?;
        buf.truncate(size);
        Ok(buf)
    }
}

/// Text without its trailing NUL (logs and PTX come NUL-terminated).
fn text(mut bytes: Vec<u8>) -> String {
    let end = bytes.iter().position(|&b| b == 0).unwrap_or(bytes.len());
    bytes.truncate(end);
    String::from_utf8_lossy(&bytes).into_owned()
}

/// What to take out of a compiled program.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Output {
    Ptx,
    Cubin,
}

fn compile_to(source: &str, name: &str, options: &[&str], output: Output) -> DeviceResult<Vec<u8>> {
    let api = api()?;
    let nul = |what: &str| DeviceError::Nvrtc(format!("{what} contains a NUL byte"));
    let c_source = CString::new(source).map_err(|_| nul("the source"))?;
    let c_name = CString::new(name).map_err(|_| nul("the program name"))?;
    let c_options = options
        .iter()
        .map(|o| CString::new(*o).map_err(|_| nul("an option")))
        .collect::<DeviceResult<Vec<_>>>()?;
    let option_ptrs: Vec<*const c_char> = c_options.iter().map(|o| o.as_ptr()).collect();

    // Older NVRTC releases are not thread safe; compiles are rare (results are cached).
    static LOCK: Mutex<()> = Mutex::new(());
    let _serial = LOCK.lock().unwrap_or_else(|e| e.into_inner());

    let mut prog: Program = std::ptr::null_mut();
    // SAFETY: valid C strings; no headers passed (count 0, null arrays).
    check(api, "nvrtcCreateProgram", unsafe {
        (api.create_program)(
            &mut prog,
            c_source.as_ptr(),
            c_name.as_ptr(),
            0,
            std::ptr::null(),
            std::ptr::null(),
        )
    })?;
    let guard = ProgramGuard { api, prog };
    // SAFETY: a live program and `option_ptrs.len()` valid C strings.
    let code = unsafe { (api.compile_program)(prog, option_ptrs.len() as c_int, option_ptrs.as_ptr()) };
    if code != 0 {
        let log = guard
            .read(api.get_program_log_size, api.get_program_log, "nvrtcGetProgramLog")
            .map(text)
            .unwrap_or_else(|e| format!("(no log: {e})"));
        return Err(DeviceError::Nvrtc(format!(
            "{name} did not compile ({}) with options [{}]:\n{}",
            error_string(api, code),
            options.join(" "),
            log.trim_end()
        )));
    }
    match output {
        Output::Ptx => guard.read(api.get_ptx_size, api.get_ptx, "nvrtcGetPTX"),
        Output::Cubin => match (api.get_cubin_size, api.get_cubin) {
            (Some(size), Some(get)) => guard.read(size, get, "nvrtcGetCUBIN"),
            _ => Err(DeviceError::Nvrtc("this NVRTC cannot produce CUBIN (older than 11.1)".into())),
        },
    }
}

/// Compiles CUDA C++ `source` (named `name` in messages) with NVRTC `options` (e.g.
/// `--gpu-architecture=compute_80`) and returns the PTX. A source that does not compile gives
/// [`DeviceError::Nvrtc`] with NVRTC's log.
pub fn compile(source: &str, name: &str, options: &[&str]) -> DeviceResult<String> {
    compile_to(source, name, options, Output::Ptx).map(text)
}

/// Compiles `source` for a real architecture (options with `--gpu-architecture=sm_XY`) and
/// returns the CUBIN (an ELF image). Unlike PTX, which a driver older than the NVRTC that made
/// it refuses, a CUBIN loads on any driver of the same CUDA major version. Errors as
/// [`compile`]; options naming a virtual `compute_XY` architecture give no CUBIN (an error).
pub fn compile_cubin(source: &str, name: &str, options: &[&str]) -> DeviceResult<Vec<u8>> {
    compile_to(source, name, options, Output::Cubin)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn candidates_start_with_the_newest_major() {
        if std::env::var_os("MPI4RS_NVRTC").is_none() {
            let c = candidates();
            assert_eq!(c[0], PathBuf::from("libnvrtc.so.13"));
            assert_eq!(c[1], PathBuf::from("libnvrtc.so.12"));
        }
    }

    #[test]
    fn a_broken_source_gives_the_log_not_a_panic() {
        match compile("extern \"C\" __global__ void k() { not_declared(); }", "broken.cu", &[]) {
            Ok(_) => panic!("a broken source compiled"),
            Err(DeviceError::Nvrtc(msg)) => {
                if available() {
                    assert!(msg.contains("broken.cu") && msg.contains("not_declared"), "{msg}");
                }
            }
            Err(e) => panic!("unexpected error {e}"),
        }
    }

    #[test]
    fn nul_in_source_is_an_error() {
        if available() {
            assert!(matches!(compile("a\0b", "x.cu", &[]), Err(DeviceError::Nvrtc(_))));
        }
    }
}
