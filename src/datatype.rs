//! The mapping from element types to MPI datatypes (mpi4py's `util.dtlib`, in the direction
//! buffers need it), including the 2-byte types MPI lacks (`f16`, `bf16`).

use crate::error::{mpi_call, Result};
use crate::ffi::{self, MPI_Datatype};
use mpi4rs_device::DType;
use std::sync::OnceLock;

/// An MPI datatype handle that may be shared between threads (predefined and committed
/// library-owned types are immutable).
#[derive(Clone, Copy)]
struct SharedDatatype(MPI_Datatype);
// SAFETY: the handle is only read after it is committed; MPI datatypes are thread-safe to use.
unsafe impl Send for SharedDatatype {}
unsafe impl Sync for SharedDatatype {}

/// `[f16, bf16]`: two bytes each, as distinct committed types so that predefined reductions
/// cannot silently treat them as integers.
static HALF_TYPES: OnceLock<[SharedDatatype; 2]> = OnceLock::new();

fn two_bytes(name: &str) -> Result<MPI_Datatype> {
    let mut t = ffi::DATATYPE_NULL();
    mpi_call!(MPI_Type_contiguous(2, ffi::BYTE(), &mut t))?;
    mpi_call!(MPI_Type_commit(&mut t))?;
    let cname = std::ffi::CString::new(name).expect("static name");
    mpi_call!(MPI_Type_set_name(t, cname.as_ptr()))?;
    Ok(t)
}

/// Creates the `f16`/`bf16` datatypes; called once by [`crate::init_with`].
pub(crate) fn init_half_types() -> Result<()> {
    if HALF_TYPES.get().is_none() {
        let types =
            [SharedDatatype(two_bytes("MPI4RS_FLOAT16")?), SharedDatatype(two_bytes("MPI4RS_BFLOAT16")?)];
        let _ = HALF_TYPES.set(types);
    }
    Ok(())
}

/// Frees the `f16`/`bf16` datatypes; called just before `MPI_Finalize` (MPI cannot be
/// initialised again, so nothing can use them afterwards).
pub(crate) fn free_half_types() {
    if let Some(types) = HALF_TYPES.get() {
        for t in types {
            let mut raw = t.0;
            // SAFETY: committed types this library created; nothing is in flight at finalize.
            unsafe { ffi::MPI_Type_free(&mut raw) };
        }
    }
}

fn half_type(index: usize) -> MPI_Datatype {
    // init_with creates them before any communicator exists, so every caller sees them.
    HALF_TYPES.get().map(|t| t[index].0).unwrap_or_else(ffi::DATATYPE_NULL)
}

/// The MPI datatype that carries elements of `dtype`.
#[inline]
pub fn mpi_datatype(dtype: DType) -> MPI_Datatype {
    match dtype {
        DType::Bool => ffi::C_BOOL(),
        DType::I8 => ffi::INT8_T(),
        DType::I16 => ffi::INT16_T(),
        DType::I32 => ffi::INT32_T(),
        DType::I64 => ffi::INT64_T(),
        DType::U8 => ffi::UINT8_T(),
        DType::U16 => ffi::UINT16_T(),
        DType::U32 => ffi::UINT32_T(),
        DType::U64 => ffi::UINT64_T(),
        DType::F16 => half_type(0),
        DType::BF16 => half_type(1),
        DType::F32 => ffi::FLOAT(),
        DType::F64 => ffi::DOUBLE(),
        DType::C32 => ffi::C_FLOAT_COMPLEX(),
        DType::C64 => ffi::C_DOUBLE_COMPLEX(),
    }
}
