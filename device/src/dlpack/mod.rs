//! DLPack: tensors shared with other frameworks (PyTorch, CuPy, JAX, NumPy, ...) without a copy.
//!
//! * **Import** ([`DlpackTensor`]): take a `DLManagedTensorVersioned` (DLPack 1.x) or a legacy
//!   `DLManagedTensor` from a producer, validate it, and use it as a [`DeviceBuffer`] (and,
//!   through [`DlpackTensor::writable`], as a [`DeviceBufferMut`] receive buffer).
//! * **Strided import** ([`StridedTensor`]): the same with any strides (transposed or
//!   Fortran-ordered, sliced, reversed, broadcast); not a [`DeviceBuffer`] (its elements are not
//!   contiguous) but lent to MPI operations through a derived datatype (`mpi4rs::Strided`,
//!   `mpi4rs::StridedMut`), which moves only the elements. [`ExportedTensor::restride`] exports
//!   such views.
//! * **Export** ([`export`], [`export_mut`], [`ExportedTensor`]): hand any buffer of this
//!   crate to a consumer as a managed tensor whose deleter drops the buffer.
//!
//! # What import checks
//! Before any byte is touched, import refuses, with a [`DeviceError::Dlpack`] that says why:
//! * a versioned tensor whose major version is not 1 (its layout is unknown; only its
//!   deleter, which every major version keeps in place, is used);
//! * device types other than CPU (`kDLCPU`, becomes [`MemoryKind::Host`]), CUDA host memory
//!   (`kDLCUDAHost`, becomes [`MemoryKind::PinnedHost`]), CUDA memory (`kDLCUDA`, becomes
//!   [`MemoryKind::Cuda`]) and CUDA managed memory (`kDLCUDAManaged`, becomes
//!   [`MemoryKind::CudaManaged`]: after synchronisation it goes to MPI directly); a CUDA tensor
//!   on another device than the calling thread's current context
//!   ([`cuda::current_device`](crate::cuda::current_device)), a managed tensor of a device
//!   that does not exist, and any CUDA or managed tensor when CUDA is unavailable (then the
//!   error is [`DeviceError::NoCuda`]);
//! * dtypes without a [`DType`]: codes `kDLInt`/`kDLUInt` with 8, 16, 32 or 64 bits,
//!   `kDLFloat` with 16, 32 or 64, `kDLBfloat` with 16, `kDLComplex` with 64 or 128, `kDLBool`
//!   with 8; and vector types (`lanes != 1`);
//! * a negative `ndim`, a negative dimension, an element count or byte size that overflows;
//! * for [`DlpackTensor`], a layout that is not compact row-major: `NULL` strides mean
//!   row-major; explicit strides must equal the row-major ones, except that a dimension of size
//!   1 may have any stride (and a tensor with no element any strides). Negative (reversed), zero
//!   (broadcast), gapped (sliced) and column-major strides are refused there: import such a
//!   tensor as a [`StridedTensor`] instead (or make it contiguous);
//! * for [`StridedTensor`], strides whose span of touched bytes overflows the address space or
//!   reaches below `data` (negative strides need a `byte_offset` that covers them: DLPack's
//!   `data` is where the producer's memory starts);
//! * a `NULL` data pointer with elements, a `byte_offset` that overflows, and a first element
//!   (data + `byte_offset`) that is not aligned for its dtype.
//!
//! A versioned tensor with `DLPACK_FLAG_BITMASK_READ_ONLY` set can be read but
//! [`DlpackTensor::writable`] refuses it, so it can never be a receive buffer.
//!
//! # Ownership: the deleter runs exactly once
//! The import functions take ownership of the managed tensor *whatever they return*: on
//! success the [`DlpackTensor`] calls the producer's deleter when it is dropped; on every
//! error the deleter has already been called before the error is returned. The caller must
//! not use or delete the pointer afterwards in either case.
//!
//! # Streams
//! In the Python exchange protocol the consumer passes its stream to `__dlpack__(stream=..)`
//! and the producer orders its work before that stream. Tell the imported tensor which stream
//! that was with [`DlpackTensor::with_stream`] (default: [`StreamRef::DEFAULT`], the legacy
//! default stream) so the synchronisation policy waits on the right one.
//!
//! ```
//! use mpi4rs_device::dlpack::{export_with_shape, DlpackTensor};
//! use mpi4rs_device::{DeviceBuffer, DType, MemoryKind};
//!
//! // A producer (here: this crate) hands out a versioned managed tensor...
//! let raw = export_with_shape(vec![1.0f32, 2.0, 3.0, 4.0, 5.0, 6.0], &[2, 3]).unwrap().into_raw();
//! // ...and a consumer imports it; the deleter (dropping the Vec) runs when `t` is dropped.
//! let t = unsafe { DlpackTensor::from_versioned(raw) }.unwrap();
//! assert_eq!((t.shape(), t.dtype(), t.memory()), (&[2usize, 3][..], DType::F32, MemoryKind::Host));
//! assert!(t.is_read_only()); // `export` shares read access only; `export_mut` does not set the flag
//! let view = t.view();
//! let data = unsafe { std::slice::from_raw_parts(view.ptr.cast::<f32>(), view.len) };
//! assert_eq!(data, &[1.0, 2.0, 3.0, 4.0, 5.0, 6.0]);
//! ```
//!
//! # Why `dlpack-rs`
//! The FFI structs come from the `dlpack-rs` crate ([`ffi`], re-exported): its types are
//! bindgen output of the upstream `dlpack.h` (1.3), they include `DLManagedTensorVersioned`,
//! `DLPackVersion` and the flag bit masks, the crate has no required dependency, and it checks
//! the struct sizes against the C ABI in its own tests. Hand-written structs would add nothing.

mod export;
mod import;
#[cfg(test)]
mod tests;

/// The raw DLPack ABI (`dlpack.h` 1.x), from the `dlpack-rs` crate.
pub use dlpack_rs::ffi;

pub use export::{export, export_mut, export_with_shape, ExportedTensor};
pub use import::{strided_span, DlpackTensor, DlpackTensorMut, StridedTensor};

use crate::{DType, MemoryKind};
#[cfg(doc)]
use crate::{DeviceBuffer, DeviceBufferMut, DeviceError, StreamRef};
use ffi::{DLDataType, DLDataTypeCode as Code, DLDevice, DLDeviceType as Dev};

/// `DLPACK_FLAG_BITMASK_READ_ONLY` as the type of `DLManagedTensorVersioned::flags`.
pub const FLAG_READ_ONLY: u64 = ffi::DLPACK_FLAG_BITMASK_READ_ONLY;

/// The DLPack major version this crate reads and writes.
pub const MAJOR_VERSION: u32 = 1;

/// The [`DType`] of a DLPack dtype, if this crate has one.
pub fn dtype_from_dl(dt: DLDataType) -> Option<DType> {
    if dt.lanes != 1 {
        return None;
    }
    Some(match (u32::from(dt.code), dt.bits) {
        (Code::kDLInt, 8) => DType::I8,
        (Code::kDLInt, 16) => DType::I16,
        (Code::kDLInt, 32) => DType::I32,
        (Code::kDLInt, 64) => DType::I64,
        (Code::kDLUInt, 8) => DType::U8,
        (Code::kDLUInt, 16) => DType::U16,
        (Code::kDLUInt, 32) => DType::U32,
        (Code::kDLUInt, 64) => DType::U64,
        (Code::kDLFloat, 16) => DType::F16,
        (Code::kDLFloat, 32) => DType::F32,
        (Code::kDLFloat, 64) => DType::F64,
        (Code::kDLBfloat, 16) => DType::BF16,
        (Code::kDLComplex, 64) => DType::C32,
        (Code::kDLComplex, 128) => DType::C64,
        (Code::kDLBool, 8) => DType::Bool,
        _ => return None,
    })
}

/// The DLPack dtype of a [`DType`] (one lane).
pub const fn dtype_to_dl(dtype: DType) -> DLDataType {
    let (code, bits) = match dtype {
        DType::Bool => (Code::kDLBool, 8),
        DType::I8 => (Code::kDLInt, 8),
        DType::I16 => (Code::kDLInt, 16),
        DType::I32 => (Code::kDLInt, 32),
        DType::I64 => (Code::kDLInt, 64),
        DType::U8 => (Code::kDLUInt, 8),
        DType::U16 => (Code::kDLUInt, 16),
        DType::U32 => (Code::kDLUInt, 32),
        DType::U64 => (Code::kDLUInt, 64),
        DType::F16 => (Code::kDLFloat, 16),
        DType::BF16 => (Code::kDLBfloat, 16),
        DType::F32 => (Code::kDLFloat, 32),
        DType::F64 => (Code::kDLFloat, 64),
        DType::C32 => (Code::kDLComplex, 64),
        DType::C64 => (Code::kDLComplex, 128),
    };
    DLDataType { code: code as u8, bits, lanes: 1 }
}

/// The DLPack device of a memory kind.
pub const fn device_to_dl(memory: MemoryKind) -> DLDevice {
    match memory {
        MemoryKind::Host => DLDevice { device_type: Dev::kDLCPU, device_id: 0 },
        MemoryKind::PinnedHost => DLDevice { device_type: Dev::kDLCUDAHost, device_id: 0 },
        MemoryKind::Cuda { device } => DLDevice { device_type: Dev::kDLCUDA, device_id: device },
        MemoryKind::CudaManaged { device } => {
            DLDevice { device_type: Dev::kDLCUDAManaged, device_id: device }
        }
    }
}

/// A name for a DLPack device type, for messages.
fn device_type_name(t: u32) -> &'static str {
    match t {
        Dev::kDLCPU => "kDLCPU",
        Dev::kDLCUDA => "kDLCUDA",
        Dev::kDLCUDAHost => "kDLCUDAHost",
        Dev::kDLOpenCL => "kDLOpenCL",
        Dev::kDLVulkan => "kDLVulkan",
        Dev::kDLMetal => "kDLMetal",
        Dev::kDLVPI => "kDLVPI",
        Dev::kDLROCM => "kDLROCM",
        Dev::kDLROCMHost => "kDLROCMHost",
        Dev::kDLExtDev => "kDLExtDev",
        Dev::kDLCUDAManaged => "kDLCUDAManaged",
        Dev::kDLOneAPI => "kDLOneAPI",
        Dev::kDLWebGPU => "kDLWebGPU",
        Dev::kDLHexagon => "kDLHexagon",
        Dev::kDLMAIA => "kDLMAIA",
        _ => "unknown",
    }
}

/// A name for a DLPack dtype code, for messages.
fn dtype_code_name(code: u8) -> &'static str {
    match u32::from(code) {
        Code::kDLInt => "kDLInt",
        Code::kDLUInt => "kDLUInt",
        Code::kDLFloat => "kDLFloat",
        Code::kDLOpaqueHandle => "kDLOpaqueHandle",
        Code::kDLBfloat => "kDLBfloat",
        Code::kDLComplex => "kDLComplex",
        Code::kDLBool => "kDLBool",
        7..=17 => "a float8/float6/float4 code",
        Code::kDLBcomplex => "kDLBcomplex",
        _ => "unknown",
    }
}
