//! The kernel registry: CUDA C sources for device-side reductions and pack/unpack
//! (`kernels/*.cu`, built into the crate), compiled at run time with [NVRTC](crate::nvrtc),
//! cached per architecture and loaded once per device; launch functions on raw device
//! pointers and a [`StreamRef`]; and host fallbacks that compute the same results in Rust.
//!
//! - Reductions: [`reduce_device`] runs `inout = input op inout` on the device for every
//!   [`ReduceOp`] MPI defines on the [`DType`] ([`ReduceOp::valid_for`]); [`reduce_host`] does
//!   the same on host bytes.
//! - Pack/unpack: [`pack_strided`]/[`unpack_strided`] for vector-like layouts ([`Strided`]),
//!   [`pack_indexed`]/[`unpack_indexed`] for lists of `(byte offset, byte length)` blocks, and
//!   their host twins.
//! - Blocks of a layout to and from host memory: [`gather_blocks`]/[`scatter_blocks`] move only
//!   the listed blocks, packed by the kernels where they run, one copy per block otherwise.
//!
//! Compilation: PTX for `compute_XY` of the device's compute capability (clamped to what the
//! loaded NVRTC supports), options from [`compile_options`]; PTX is cached per (file,
//! architecture), the module per (device, file), the function handles per (device, name). Where
//! NVRTC or CUDA is absent the device functions return an error ([`DeviceError::Nvrtc`] or
//! [`DeviceError::NoCuda`]), and where the driver cannot load the compiled kernels
//! ([`DeviceError::NoKernel`]); the caller stages to the host and uses the host fallback.
//! Nothing panics on a machine without either.

use crate::error::{DeviceError, DeviceResult};
use crate::{nvrtc, DType, StreamRef};
use std::collections::HashMap;
use std::ffi::c_void;
use std::sync::{Arc, Mutex};

mod blocks;
mod host;
#[cfg(feature = "cuda")]
mod launch;
#[cfg(test)]
mod tests;

pub use blocks::{gather_blocks, pack_kernels_ready, scatter_blocks, BlockMethod};
pub use host::{pack_indexed_host, pack_strided_host, reduce_host, unpack_indexed_host, unpack_strided_host};

/// A predefined MPI reduction operation that the kernels (and [`reduce_host`]) implement.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum ReduceOp {
    /// `MPI_SUM` (integers wrap).
    Sum,
    /// `MPI_PROD` (integers wrap).
    Prod,
    /// `MPI_MAX` (not complex, not bool; a NaN loses to a number).
    Max,
    /// `MPI_MIN` (not complex, not bool; a NaN loses to a number).
    Min,
    /// `MPI_LAND` (integers and bool; the result is 0 or 1).
    Land,
    /// `MPI_LOR` (integers and bool; the result is 0 or 1).
    Lor,
    /// `MPI_LXOR` (integers and bool; the result is 0 or 1).
    Lxor,
    /// `MPI_BAND` (integers).
    Band,
    /// `MPI_BOR` (integers).
    Bor,
    /// `MPI_BXOR` (integers).
    Bxor,
}

impl ReduceOp {
    /// Every operation.
    pub const ALL: [ReduceOp; 10] = [
        ReduceOp::Sum,
        ReduceOp::Prod,
        ReduceOp::Max,
        ReduceOp::Min,
        ReduceOp::Land,
        ReduceOp::Lor,
        ReduceOp::Lxor,
        ReduceOp::Band,
        ReduceOp::Bor,
        ReduceOp::Bxor,
    ];

    /// The lower-case name used in kernel names, e.g. `"sum"`.
    pub const fn name(self) -> &'static str {
        match self {
            ReduceOp::Sum => "sum",
            ReduceOp::Prod => "prod",
            ReduceOp::Max => "max",
            ReduceOp::Min => "min",
            ReduceOp::Land => "land",
            ReduceOp::Lor => "lor",
            ReduceOp::Lxor => "lxor",
            ReduceOp::Band => "band",
            ReduceOp::Bor => "bor",
            ReduceOp::Bxor => "bxor",
        }
    }

    /// Whether MPI defines this operation on `dtype`: sum and product on numbers (integers,
    /// floats, complex), max and min on integers and floats, logical operations on integers
    /// and bool, bitwise operations on integers.
    pub const fn valid_for(self, dtype: DType) -> bool {
        use DType::*;
        let integer = matches!(dtype, I8 | I16 | I32 | I64 | U8 | U16 | U32 | U64);
        let float = matches!(dtype, F16 | BF16 | F32 | F64);
        let complex = matches!(dtype, C32 | C64);
        match self {
            ReduceOp::Sum | ReduceOp::Prod => integer || float || complex,
            ReduceOp::Max | ReduceOp::Min => integer || float,
            ReduceOp::Land | ReduceOp::Lor | ReduceOp::Lxor => integer || matches!(dtype, Bool),
            ReduceOp::Band | ReduceOp::Bor | ReduceOp::Bxor => integer,
        }
    }
}

impl std::fmt::Display for ReduceOp {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.name())
    }
}

/// The suffix of `dtype` in kernel names: `i8` … `u64`, `bool`, `f16`, `bf16`, `f32`, `f64`,
/// `c32` (`Complex<f32>`), `c64` (`Complex<f64>`).
pub const fn type_suffix(dtype: DType) -> &'static str {
    match dtype {
        DType::C32 => "c32",
        DType::C64 => "c64",
        other => other.name(),
    }
}

/// The kernel that runs `op` on `dtype`, e.g. `mpi4rs_reduce_sum_f32`; an error when MPI
/// does not define the operation on the type.
pub fn reduce_kernel_name(op: ReduceOp, dtype: DType) -> DeviceResult<String> {
    if op.valid_for(dtype) {
        Ok(format!("mpi4rs_reduce_{}_{}", op.name(), type_suffix(dtype)))
    } else {
        Err(DeviceError::Unsupported(format!("reduction {op} is not defined on {dtype}")))
    }
}

/// All element types, in kernel-name order.
const DTYPES: [DType; 15] = [
    DType::I8,
    DType::I16,
    DType::I32,
    DType::I64,
    DType::U8,
    DType::U16,
    DType::U32,
    DType::U64,
    DType::Bool,
    DType::F16,
    DType::BF16,
    DType::F32,
    DType::F64,
    DType::C32,
    DType::C64,
];

/// The unit sizes (bytes) the pack kernels move.
const UNITS: [usize; 5] = [16, 8, 4, 2, 1];

/// A kernel source file of `kernels/`, built into the crate.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum KernelFile {
    /// `kernels/reduce.cu`: elementwise reductions.
    Reduce,
    /// `kernels/pack.cu`: pack and unpack of strided and indexed buffers.
    Pack,
}

impl KernelFile {
    /// Every kernel file.
    pub const ALL: [KernelFile; 2] = [KernelFile::Reduce, KernelFile::Pack];

    /// The file name, e.g. `"reduce.cu"`.
    pub const fn file_name(self) -> &'static str {
        match self {
            KernelFile::Reduce => "reduce.cu",
            KernelFile::Pack => "pack.cu",
        }
    }

    /// The CUDA C source.
    pub const fn source(self) -> &'static str {
        match self {
            KernelFile::Reduce => include_str!("../../kernels/reduce.cu"),
            KernelFile::Pack => include_str!("../../kernels/pack.cu"),
        }
    }

    /// The names of every kernel the file defines (its PTX has exactly these `.entry`s).
    pub fn entry_names(self) -> Vec<String> {
        match self {
            KernelFile::Reduce => ReduceOp::ALL
                .iter()
                .flat_map(|&op| DTYPES.iter().filter_map(move |&t| reduce_kernel_name(op, t).ok()))
                .collect(),
            KernelFile::Pack => ["pack_strided", "unpack_strided", "pack_indexed", "unpack_indexed"]
                .iter()
                .flat_map(|kind| UNITS.iter().map(move |u| format!("mpi4rs_{kind}_{u}")))
                .collect(),
        }
    }
}

/// What NVRTC produces for a kernel file.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Target {
    /// PTX for virtual architecture `compute_XY` (e.g. 80): JIT-compiled by the driver, runs
    /// on that architecture and newer ones, needs a driver at least as new as NVRTC.
    Ptx(u32),
    /// CUBIN for real architecture `sm_XY`: runs on that architecture only, loads on any
    /// driver of NVRTC's CUDA major version.
    Cubin(u32),
}

/// The NVRTC options the kernels are compiled with for `target`. `--fmad=false` keeps float
/// results equal to the host fallback's (no fused multiply-add); the reductions are bound by
/// memory bandwidth, not arithmetic.
pub fn compile_options(target: Target) -> Vec<String> {
    let arch = match target {
        Target::Ptx(a) => format!("--gpu-architecture=compute_{a}"),
        Target::Cubin(a) => format!("--gpu-architecture=sm_{a}"),
    };
    vec![arch, "--fmad=false".into()]
}

/// The image of `file` for `target` (PTX text or a CUBIN), compiled with NVRTC on first use
/// and cached for the process. A kernel that does not compile gives [`DeviceError::Nvrtc`]
/// with the compiler's log.
pub fn image(file: KernelFile, target: Target) -> DeviceResult<Arc<[u8]>> {
    type Cache = HashMap<(KernelFile, Target), Arc<[u8]>>;
    static CACHE: Mutex<Option<Cache>> = Mutex::new(None);
    let mut cache = CACHE.lock().unwrap_or_else(|e| e.into_inner());
    let cache = cache.get_or_insert_with(HashMap::new);
    if let Some(p) = cache.get(&(file, target)) {
        return Ok(p.clone());
    }
    let options = compile_options(target);
    let opts: Vec<&str> = options.iter().map(String::as_str).collect();
    let image: Arc<[u8]> = match target {
        Target::Ptx(_) => nvrtc::compile(file.source(), file.file_name(), &opts)?.into_bytes().into(),
        Target::Cubin(_) => nvrtc::compile_cubin(file.source(), file.file_name(), &opts)?.into(),
    };
    cache.insert((file, target), image.clone());
    Ok(image)
}

/// The PTX of `file` for virtual architecture `arch` ([`image`] with [`Target::Ptx`]).
pub fn ptx(file: KernelFile, arch: u32) -> DeviceResult<String> {
    image(file, Target::Ptx(arch)).map(|b| String::from_utf8_lossy(&b).into_owned())
}

/// The architecture to compile for on a device of compute capability `cc` (e.g. 86): `cc`
/// itself when NVRTC supports it, else the newest supported one below it (PTX runs on newer
/// GPUs); `supported` empty means "unknown, take `cc`".
pub fn choose_arch(cc: u32, supported: &[i32]) -> DeviceResult<u32> {
    if supported.is_empty() || supported.contains(&(cc as i32)) {
        return Ok(cc);
    }
    supported.iter().filter(|&&a| a >= 0 && (a as u32) <= cc).max().map(|&a| a as u32).ok_or_else(|| {
        DeviceError::Nvrtc(format!(
            "this NVRTC supports compute_{} and up, the device is compute_{cc}",
            supported.iter().min().copied().unwrap_or(0)
        ))
    })
}

/// A vector-like layout: `count` blocks of `block_bytes` bytes, block `b` starting `b * stride`
/// bytes after block 0 (the stride may be negative or smaller than the block, as MPI allows).
/// Packed, the blocks lie back to back: `count * block_bytes` bytes.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Strided {
    /// Number of blocks.
    pub count: usize,
    /// Bytes in each block.
    pub block_bytes: usize,
    /// Bytes from the start of one block to the start of the next.
    pub stride: isize,
}

impl Strided {
    /// The size of the packed data, `count * block_bytes` (`None` on overflow).
    pub fn packed_bytes(&self) -> Option<usize> {
        self.count.checked_mul(self.block_bytes)
    }
}

/// The size of indexed blocks packed: the sum of their lengths (`None` on overflow).
fn indexed_bytes(blocks: &[(isize, usize)]) -> Option<usize> {
    blocks.iter().try_fold(0usize, |acc, &(_, len)| acc.checked_add(len))
}

/// The widest unit (16, 8, 4, 2 or 1 bytes) dividing every value.
fn unit_for(values: impl Iterator<Item = usize> + Clone) -> usize {
    UNITS.into_iter().find(|&u| values.clone().all(|v| v % u == 0)).unwrap_or(1)
}

#[cfg(not(feature = "cuda"))]
fn no_cuda<T>() -> DeviceResult<T> {
    Err(DeviceError::NoCuda("mpi4rs-device was built without the `cuda` feature".into()))
}

/// Enqueues `inout[i] = op(input[i], inout[i])` for `len` elements of `dtype` on `stream` of
/// `device`, compiling and loading the kernel on first use.
///
/// Errors: [`DeviceError::Unsupported`] for an operation MPI does not define on the type,
/// [`DeviceError::Nvrtc`] without NVRTC, [`DeviceError::NoCuda`] without a driver,
/// [`DeviceError::NoKernel`] where the driver cannot load the kernels; the caller
/// then stages to the host and uses [`reduce_host`].
///
/// # Safety
/// `inout` and `input` must be device memory of `device` holding `len` elements of `dtype`
/// each, valid until the work on `stream` completes, and must not overlap.
pub unsafe fn reduce_device(
    op: ReduceOp,
    dtype: DType,
    inout: *mut c_void,
    input: *const c_void,
    len: usize,
    device: i32,
    stream: StreamRef,
) -> DeviceResult<()> {
    let name = reduce_kernel_name(op, dtype)?;
    if len == 0 {
        return Ok(());
    }
    #[cfg(feature = "cuda")]
    {
        launch::reduce(&name, inout, input, len, device, stream)
    }
    #[cfg(not(feature = "cuda"))]
    {
        let _ = (name, inout, input, device, stream);
        no_cuda()
    }
}

/// Enqueues the packing of the blocks of `layout` at `src` (block 0 at `src`) into `dst`, back
/// to back, on `stream` of `device`.
///
/// # Safety
/// `src` must address every block of `layout` and `dst` `layout.packed_bytes()` bytes, device
/// memory of `device`, valid until the work on `stream` completes, not overlapping.
pub unsafe fn pack_strided(
    dst: *mut c_void,
    src: *const c_void,
    layout: Strided,
    device: i32,
    stream: StreamRef,
) -> DeviceResult<()> {
    strided(true, dst, src, layout, device, stream)
}

/// Enqueues the inverse of [`pack_strided`]: the contiguous `src` scattered into the blocks of
/// `layout` at `dst`.
///
/// # Safety
/// As [`pack_strided`], with the roles of the buffers exchanged; blocks must not overlap.
pub unsafe fn unpack_strided(
    dst: *mut c_void,
    src: *const c_void,
    layout: Strided,
    device: i32,
    stream: StreamRef,
) -> DeviceResult<()> {
    strided(false, dst, src, layout, device, stream)
}

unsafe fn strided(
    pack: bool,
    dst: *mut c_void,
    src: *const c_void,
    layout: Strided,
    device: i32,
    stream: StreamRef,
) -> DeviceResult<()> {
    let what = if pack { "pack_strided" } else { "unpack_strided" };
    if layout.packed_bytes().is_none() {
        return Err(DeviceError::Unsupported(format!("{what}: the layout's size overflows")));
    }
    if layout.count == 0 || layout.block_bytes == 0 {
        return Ok(());
    }
    let unit =
        unit_for([layout.block_bytes, layout.stride.unsigned_abs(), dst as usize, src as usize].into_iter());
    #[cfg(feature = "cuda")]
    {
        let name = format!("mpi4rs_{what}_{unit}");
        launch::strided(
            &name,
            dst,
            src,
            (layout.count, layout.block_bytes / unit, layout.stride),
            device,
            stream,
        )
    }
    #[cfg(not(feature = "cuda"))]
    {
        let _ = (unit, device, stream);
        no_cuda()
    }
}

/// Enqueues the packing of `blocks`, each `(byte offset from src, byte length)`, from `src`
/// into `dst` back to back, on `stream` of `device`. The block table is copied to the device
/// (stream-ordered allocation where the device supports it).
///
/// # Safety
/// Every block must lie in device memory of `device` at `src`, and `dst` must hold the sum of
/// the lengths; both valid until the work on `stream` completes, not overlapping.
pub unsafe fn pack_indexed(
    dst: *mut c_void,
    src: *const c_void,
    blocks: &[(isize, usize)],
    device: i32,
    stream: StreamRef,
) -> DeviceResult<()> {
    indexed(true, dst, src, blocks, device, stream)
}

/// Enqueues the inverse of [`pack_indexed`]: the contiguous `src` scattered into `blocks`,
/// each `(byte offset from dst, byte length)`.
///
/// # Safety
/// As [`pack_indexed`], with the roles of the buffers exchanged; blocks must not overlap.
pub unsafe fn unpack_indexed(
    dst: *mut c_void,
    src: *const c_void,
    blocks: &[(isize, usize)],
    device: i32,
    stream: StreamRef,
) -> DeviceResult<()> {
    indexed(false, dst, src, blocks, device, stream)
}

unsafe fn indexed(
    pack: bool,
    dst: *mut c_void,
    src: *const c_void,
    blocks: &[(isize, usize)],
    device: i32,
    stream: StreamRef,
) -> DeviceResult<()> {
    let what = if pack { "pack_indexed" } else { "unpack_indexed" };
    if indexed_bytes(blocks).is_none() {
        return Err(DeviceError::Unsupported(format!("{what}: the blocks' total size overflows")));
    }
    let blocks: Vec<(isize, usize)> = blocks.iter().copied().filter(|&(_, len)| len > 0).collect();
    if blocks.is_empty() {
        return Ok(());
    }
    let unit = unit_for(
        blocks.iter().flat_map(|&(off, len)| [off.unsigned_abs(), len]).chain([dst as usize, src as usize]),
    );
    // The table the kernel reads: offsets (bytes), lengths (units), positions (units).
    let n = blocks.len();
    let mut table = vec![0i64; 3 * n];
    let mut at = 0usize;
    for (i, &(off, len)) in blocks.iter().enumerate() {
        table[i] = off as i64;
        table[n + i] = (len / unit) as i64;
        table[2 * n + i] = (at / unit) as i64;
        at += len;
    }
    #[cfg(feature = "cuda")]
    {
        let name = format!("mpi4rs_{what}_{unit}");
        launch::indexed(&name, dst, src, &table, device, stream)
    }
    #[cfg(not(feature = "cuda"))]
    {
        let _ = (table, device, stream);
        no_cuda()
    }
}
