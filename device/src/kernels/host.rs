//! Host fallbacks: the reductions and pack/unpack of the kernels, in Rust on host bytes. Used
//! where NVRTC (or CUDA) is absent, after staging device data to the host, and as the
//! reference the kernels are tested against. They compute what the kernels compute: integer
//! sums and products wrap, logical operations give 0 or 1, `f16`/`bf16` go through `f32` and
//! are rounded back to nearest even, `max`/`min` of a NaN and a number give the number
//! (`fmaxf`/`fminf`, `f32::max`/`f32::min`), the complex product is
//! `(a.re*b.re - a.im*b.im, a.re*b.im + a.im*b.re)` without fused multiply-add.

use super::{indexed_bytes, ReduceOp, Strided};
use crate::error::{DeviceError, DeviceResult};
use crate::DType;
use half::{bf16, f16};

/// `inout[i] = op(input[i], inout[i])` over `N`-byte elements, reading and writing bytes (the
/// slices need no alignment).
#[inline(always)]
fn zip<const N: usize>(inout: &mut [u8], input: &[u8], f: impl Fn([u8; N], [u8; N]) -> [u8; N]) {
    for (o, i) in inout.chunks_exact_mut(N).zip(input.chunks_exact(N)) {
        let mut a = [0u8; N];
        let mut b = [0u8; N];
        a.copy_from_slice(i);
        b.copy_from_slice(o);
        o.copy_from_slice(&f(a, b));
    }
}

macro_rules! int_reduce {
    ($op:expr, $t:ty, $inout:expr, $input:expr) => {{
        const N: usize = std::mem::size_of::<$t>();
        macro_rules! run {
            ($f:expr) => {
                zip::<N>($inout, $input, |a, b| {
                    let f: fn($t, $t) -> $t = $f;
                    f(<$t>::from_ne_bytes(a), <$t>::from_ne_bytes(b)).to_ne_bytes()
                })
            };
        }
        match $op {
            ReduceOp::Sum => run!(|a, b| a.wrapping_add(b)),
            ReduceOp::Prod => run!(|a, b| a.wrapping_mul(b)),
            ReduceOp::Max => run!(|a, b| a.max(b)),
            ReduceOp::Min => run!(|a, b| a.min(b)),
            ReduceOp::Land => run!(|a, b| (a != 0 && b != 0) as $t),
            ReduceOp::Lor => run!(|a, b| (a != 0 || b != 0) as $t),
            ReduceOp::Lxor => run!(|a, b| ((a != 0) != (b != 0)) as $t),
            ReduceOp::Band => run!(|a, b| a & b),
            ReduceOp::Bor => run!(|a, b| a | b),
            ReduceOp::Bxor => run!(|a, b| a ^ b),
        }
    }};
}

/// Floats: `load` gives the `$t` (`f32` or `f64`) to compute in, `store` rounds back.
macro_rules! float_reduce {
    ($op:expr, $t:ty, $n:expr, $inout:expr, $input:expr, $load:expr, $store:expr) => {{
        macro_rules! run {
            ($f:expr) => {
                zip::<$n>($inout, $input, |a, b| {
                    let f: fn($t, $t) -> $t = $f;
                    $store(f($load(a), $load(b)))
                })
            };
        }
        match $op {
            ReduceOp::Sum => run!(|a, b| a + b),
            ReduceOp::Prod => run!(|a, b| a * b),
            ReduceOp::Max => run!(|a, b| a.max(b)),
            ReduceOp::Min => run!(|a, b| a.min(b)),
            _ => unreachable!("checked by valid_for"),
        }
    }};
}

macro_rules! complex_reduce {
    ($op:expr, $t:ty, $inout:expr, $input:expr) => {{
        const W: usize = std::mem::size_of::<$t>();
        fn load(x: [u8; 2 * W]) -> ($t, $t) {
            let mut re = [0u8; W];
            let mut im = [0u8; W];
            re.copy_from_slice(&x[..W]);
            im.copy_from_slice(&x[W..]);
            (<$t>::from_ne_bytes(re), <$t>::from_ne_bytes(im))
        }
        fn store((re, im): ($t, $t)) -> [u8; 2 * W] {
            let mut x = [0u8; 2 * W];
            x[..W].copy_from_slice(&re.to_ne_bytes());
            x[W..].copy_from_slice(&im.to_ne_bytes());
            x
        }
        match $op {
            ReduceOp::Sum => zip::<{ 2 * W }>($inout, $input, |a, b| {
                let (a, b) = (load(a), load(b));
                store((a.0 + b.0, a.1 + b.1))
            }),
            ReduceOp::Prod => zip::<{ 2 * W }>($inout, $input, |a, b| {
                let (a, b) = (load(a), load(b));
                store((a.0 * b.0 - a.1 * b.1, a.0 * b.1 + a.1 * b.0))
            }),
            _ => unreachable!("checked by valid_for"),
        }
    }};
}

/// Checks that `op` applies to `dtype` and that both buffers hold the same whole number of
/// elements; returns that number.
pub(crate) fn check_reduce(
    op: ReduceOp,
    dtype: DType,
    inout_bytes: usize,
    input_bytes: usize,
) -> DeviceResult<usize> {
    if !op.valid_for(dtype) {
        return Err(DeviceError::Unsupported(format!("reduction {} is not defined on {dtype}", op.name())));
    }
    if inout_bytes != input_bytes || !inout_bytes.is_multiple_of(dtype.size()) {
        return Err(DeviceError::Unsupported(format!(
            "reduction {} on {dtype}: buffers of {inout_bytes} and {input_bytes} bytes (need equal lengths, a multiple of {})",
            op.name(),
            dtype.size()
        )));
    }
    Ok(inout_bytes / dtype.size())
}

/// `inout = input op inout`, elementwise, on host bytes holding elements of `dtype` (native
/// byte order, any alignment). Refuses an operation MPI does not define on the type
/// ([`ReduceOp::valid_for`]) and buffers of different or partial lengths with
/// [`DeviceError::Unsupported`].
///
/// ```
/// use mpi4rs_device::{kernels::{reduce_host, ReduceOp}, DType};
/// let mut acc: Vec<u8> = [1i32, 2, 3].iter().flat_map(|x| x.to_ne_bytes()).collect();
/// let inp: Vec<u8> = [10i32, 20, 30].iter().flat_map(|x| x.to_ne_bytes()).collect();
/// reduce_host(ReduceOp::Sum, DType::I32, &mut acc, &inp)?;
/// assert_eq!(acc[..4], 11i32.to_ne_bytes());
/// assert!(reduce_host(ReduceOp::Band, DType::F32, &mut acc, &inp).is_err());
/// # Ok::<(), mpi4rs_device::DeviceError>(())
/// ```
pub fn reduce_host(op: ReduceOp, dtype: DType, inout: &mut [u8], input: &[u8]) -> DeviceResult<()> {
    check_reduce(op, dtype, inout.len(), input.len())?;
    match dtype {
        DType::I8 => int_reduce!(op, i8, inout, input),
        DType::I16 => int_reduce!(op, i16, inout, input),
        DType::I32 => int_reduce!(op, i32, inout, input),
        DType::I64 => int_reduce!(op, i64, inout, input),
        DType::U8 => int_reduce!(op, u8, inout, input),
        DType::U16 => int_reduce!(op, u16, inout, input),
        DType::U32 => int_reduce!(op, u32, inout, input),
        DType::U64 => int_reduce!(op, u64, inout, input),
        // Booleans: any nonzero byte reads as true; the result is 0 or 1 (like the kernel).
        DType::Bool => int_reduce!(op, u8, inout, input),
        DType::F16 => {
            float_reduce!(op, f32, 2, inout, input, |x| f16::from_bits(u16::from_ne_bytes(x)).to_f32(), |y| {
                f16::from_f32(y).to_bits().to_ne_bytes()
            })
        }
        DType::BF16 => float_reduce!(
            op,
            f32,
            2,
            inout,
            input,
            |x| bf16::from_bits(u16::from_ne_bytes(x)).to_f32(),
            |y| bf16::from_f32(y).to_bits().to_ne_bytes()
        ),
        DType::F32 => float_reduce!(op, f32, 4, inout, input, f32::from_ne_bytes, f32::to_ne_bytes),
        DType::F64 => float_reduce!(op, f64, 8, inout, input, f64::from_ne_bytes, f64::to_ne_bytes),
        DType::C32 => complex_reduce!(op, f32, inout, input),
        DType::C64 => complex_reduce!(op, f64, inout, input),
    }
    Ok(())
}

fn out_of_range(what: &str) -> DeviceError {
    DeviceError::Unsupported(format!("{what}: a block lies outside the buffer"))
}

/// The byte range of block `b` of `layout` inside a buffer whose block 0 starts at `origin`.
fn strided_block(
    layout: &Strided,
    origin: usize,
    b: usize,
    len: usize,
    what: &str,
) -> DeviceResult<std::ops::Range<usize>> {
    let start = (b as isize)
        .checked_mul(layout.stride)
        .and_then(|off| (origin as isize).checked_add(off))
        .filter(|s| *s >= 0)
        .ok_or_else(|| out_of_range(what))? as usize;
    let end =
        start.checked_add(layout.block_bytes).filter(|e| *e <= len).ok_or_else(|| out_of_range(what))?;
    Ok(start..end)
}

fn check_packed(layout_bytes: Option<usize>, packed: usize, what: &str) -> DeviceResult<usize> {
    match layout_bytes {
        Some(n) if n <= packed => Ok(n),
        Some(n) => Err(DeviceError::Unsupported(format!(
            "{what}: the contiguous buffer has {packed} bytes, the layout needs {n}"
        ))),
        None => Err(DeviceError::Unsupported(format!("{what}: the layout's size overflows"))),
    }
}

/// Packs the blocks of `layout` from `src` (block 0 at byte `origin`, which matters when the
/// stride is negative) into the front of `dst`, back to back.
pub fn pack_strided_host(dst: &mut [u8], src: &[u8], origin: usize, layout: Strided) -> DeviceResult<()> {
    check_packed(layout.packed_bytes(), dst.len(), "pack_strided_host")?;
    let bb = layout.block_bytes;
    for b in 0..layout.count {
        let r = strided_block(&layout, origin, b, src.len(), "pack_strided_host")?;
        dst[b * bb..(b + 1) * bb].copy_from_slice(&src[r]);
    }
    Ok(())
}

/// The inverse of [`pack_strided_host`]: scatters the contiguous front of `src` into the blocks
/// of `layout` in `dst` (block 0 at byte `origin`); bytes between blocks are left alone.
pub fn unpack_strided_host(dst: &mut [u8], origin: usize, src: &[u8], layout: Strided) -> DeviceResult<()> {
    check_packed(layout.packed_bytes(), src.len(), "unpack_strided_host")?;
    let bb = layout.block_bytes;
    for b in 0..layout.count {
        let r = strided_block(&layout, origin, b, dst.len(), "unpack_strided_host")?;
        dst[r].copy_from_slice(&src[b * bb..(b + 1) * bb]);
    }
    Ok(())
}

fn indexed_block(offset: isize, len: usize, buf: usize, what: &str) -> DeviceResult<std::ops::Range<usize>> {
    let start = usize::try_from(offset).map_err(|_| out_of_range(what))?;
    let end = start.checked_add(len).filter(|e| *e <= buf).ok_or_else(|| out_of_range(what))?;
    Ok(start..end)
}

/// Packs the blocks `(byte offset, byte length)` of `blocks` from `src` into the front of
/// `dst`, in the order given.
pub fn pack_indexed_host(dst: &mut [u8], src: &[u8], blocks: &[(isize, usize)]) -> DeviceResult<()> {
    check_packed(indexed_bytes(blocks), dst.len(), "pack_indexed_host")?;
    let mut at = 0;
    for &(offset, len) in blocks {
        let r = indexed_block(offset, len, src.len(), "pack_indexed_host")?;
        dst[at..at + len].copy_from_slice(&src[r]);
        at += len;
    }
    Ok(())
}

/// The inverse of [`pack_indexed_host`].
pub fn unpack_indexed_host(dst: &mut [u8], src: &[u8], blocks: &[(isize, usize)]) -> DeviceResult<()> {
    check_packed(indexed_bytes(blocks), src.len(), "unpack_indexed_host")?;
    let mut at = 0;
    for &(offset, len) in blocks {
        let r = indexed_block(offset, len, dst.len(), "unpack_indexed_host")?;
        dst[r].copy_from_slice(&src[at..at + len]);
        at += len;
    }
    Ok(())
}
