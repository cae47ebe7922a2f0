//! The predefined MPI datatypes of the element types a buffer can hold ([`DType`]), in both
//! directions, the library's own `f16`/`bf16` types, and NumPy-style type strings. Below the
//! buffer layer: buffers name their datatype through [`mpi_datatype`].

use crate::error::{mpi_call, Error, Result};
use crate::ffi::{self, MPI_Datatype};
use mpi4rs_device::DType;
use std::ffi::c_int;
use std::sync::{Mutex, OnceLock};

/// An MPI datatype handle that may be shared between threads (predefined and committed
/// library-owned types are immutable).
#[derive(Clone, Copy)]
struct SharedDatatype(MPI_Datatype);
// SAFETY: the handle is only read after it is committed; MPI datatypes are thread-safe to use.
unsafe impl Send for SharedDatatype {}
// SAFETY: see Send; only read.
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
            // SAFETY: committed types this library created; nothing is in flight at finalize
            // (called after `runtime::record_finalize`, which refuses every other thread).
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

// ---------------------------------------------------------------------------------------------
// The reverse mapping: MPI datatype handle -> element type, and NumPy type strings.

/// The element type a predefined MPI datatype handle carries, if it is one mpi4rs knows:
/// the handles [`mpi_datatype`] gives (including the library's `f16`/`bf16` types), rsmpi's
/// handles for the same types, and the C types of `mpi.h` (`MPI_INT`, `MPI_LONG`,
/// `MPI_UNSIGNED_CHAR`, `MPI_BYTE` as `u8`, `MPI_AINT`, …) by their size.
///
/// Only compares handles, so any value may be passed; derived datatypes (even a `dup` of a
/// predefined one, which [`Datatype::dtype`](crate::Datatype::dtype) does recognise) give `None`.
pub fn dtype_of_handle(raw: MPI_Datatype) -> Option<DType> {
    let null = ffi::DATATYPE_NULL();
    if raw == null {
        return None;
    }
    if raw == half_type(0) {
        return Some(DType::F16);
    }
    if raw == half_type(1) {
        return Some(DType::BF16);
    }
    let mut size: c_int = 0;
    // SAFETY: compares the handle with predefined ones; writes `size` only.
    let kind = unsafe { ffi::mpi4rs_named_kind(raw, &mut size) };
    let kind = u8::try_from(kind).ok()?;
    Some(match (kind, size) {
        (b'b', 1) => DType::Bool,
        (b'i', 1) => DType::I8,
        (b'i', 2) => DType::I16,
        (b'i', 4) => DType::I32,
        (b'i', 8) => DType::I64,
        (b'u', 1) => DType::U8,
        (b'u', 2) => DType::U16,
        (b'u', 4) => DType::U32,
        (b'u', 8) => DType::U64,
        (b'f', 4) => DType::F32,
        (b'f', 8) => DType::F64,
        (b'c', 8) => DType::C32,
        (b'c', 16) => DType::C64,
        _ => return None,
    })
}

/// The NumPy type string of an element type, without byte-order character: `"b1"`, `"i4"`,
/// `"u8"`, `"f2"`, `"f8"`, `"c16"`, … `bf16` has no NumPy type string; mpi4rs writes it
/// `"bf2"` (kind `bf`, 2 bytes) and reads it back with [`parse_typestr`].
pub fn typestr(dtype: DType) -> &'static str {
    match dtype {
        DType::Bool => "b1",
        DType::I8 => "i1",
        DType::I16 => "i2",
        DType::I32 => "i4",
        DType::I64 => "i8",
        DType::U8 => "u1",
        DType::U16 => "u2",
        DType::U32 => "u4",
        DType::U64 => "u8",
        DType::F16 => "f2",
        DType::BF16 => "bf2",
        DType::F32 => "f4",
        DType::F64 => "f8",
        DType::C32 => "c8",
        DType::C64 => "c16",
    }
}

/// Reads a NumPy type string (`"f8"`, `"<i4"`, `"|b1"`, `"c16"`, `"?"` for bool, and `"bf2"`
/// for bfloat16) into an element type. A byte-order character is allowed when it is native
/// (`=`, `|`, or `<` / `>` matching this machine); anything else is
/// [`Error::InvalidArgument`].
pub fn parse_typestr(s: &str) -> Result<DType> {
    let unknown = || {
        Error::InvalidArgument(format!("unknown type string {s:?} (expected e.g. \"f8\", \"i4\", \"c16\")"))
    };
    let native = if cfg!(target_endian = "little") { '<' } else { '>' };
    let body = match s.chars().next() {
        Some(c) if c == '=' || c == '|' || c == native => &s[1..],
        Some('<' | '>') => {
            return Err(Error::InvalidArgument(format!(
                "type string {s:?}: only native byte order is supported"
            )))
        }
        _ => s,
    };
    DType::ALL
        .iter()
        .copied()
        .find(|&d| typestr(d) == body || (body == "?" && d == DType::Bool))
        .ok_or_else(unknown)
}

/// The value types MPI pairs with an `int` index.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum PairType {
    /// `ValueIndex<i16>` (`MPI_SHORT_INT`).
    I16,
    /// `ValueIndex<i32>` (`MPI_2INT`).
    I32,
    /// `ValueIndex<i64>` (`MPI_LONG_INT`, `long` being 64 bits on the platforms we build for).
    I64,
    /// `ValueIndex<f32>` (`MPI_FLOAT_INT`).
    F32,
    /// `ValueIndex<f64>` (`MPI_DOUBLE_INT`).
    F64,
}

impl PairType {
    /// The predefined MPI datatype of the pair.
    pub fn mpi_datatype(self) -> MPI_Datatype {
        match self {
            PairType::I16 => ffi::SHORT_INT(),
            PairType::I32 => ffi::TWO_INT(),
            PairType::I64 => ffi::LONG_INT(),
            PairType::F32 => ffi::FLOAT_INT(),
            PairType::F64 => ffi::DOUBLE_INT(),
        }
    }
}

/// Whether `raw`, a datatype handle that stays valid for the rest of the process (the types of
/// rsmpi's `Equivalence`, which rsmpi commits once and keeps), has `MPI_C_BOOL` anywhere in it.
/// MPI writes such a type's `bool` bytes with whatever a matching message holds; a receive
/// into Rust `bool`s must not take them. Walked once per handle (cached: the handles are never
/// freed, so a cached answer cannot go to another type).
pub(crate) fn long_lived_type_has_bool(raw: MPI_Datatype) -> Result<bool> {
    // A few entries (one per `Equivalence` type received into): searched in order.
    static KNOWN: Mutex<Vec<(SharedDatatype, bool)>> = Mutex::new(Vec::new());
    let lock = || KNOWN.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
    if let Some(&(_, b)) = lock().iter().find(|(t, _)| t.0 == raw) {
        return Ok(b);
    }
    let found = has_bool(raw, 0)?;
    lock().push((SharedDatatype(raw), found));
    Ok(found)
}

/// Walks `raw`'s constructor tree (`MPI_Type_get_envelope`/`get_contents`) for `MPI_C_BOOL`.
fn has_bool(raw: MPI_Datatype, depth: u32) -> Result<bool> {
    if raw == ffi::C_BOOL() {
        return Ok(true);
    }
    let (mut ni, mut na, mut nd, mut combiner): (c_int, c_int, c_int, c_int) = (0, 0, 0, 0);
    mpi_call!(MPI_Type_get_envelope(raw, &mut ni, &mut na, &mut nd, &mut combiner))?;
    if combiner == ffi::COMBINER_NAMED() {
        return Ok(false);
    }
    if depth >= 64 {
        return Err(Error::InvalidArgument("a datatype nested more than 64 levels deep".into()));
    }
    let to_len = |n: c_int| usize::try_from(n).unwrap_or(0);
    let mut ints = vec![0 as c_int; to_len(ni)];
    let mut addrs = vec![0 as ffi::MPI_Aint; to_len(na)];
    let mut types = vec![ffi::DATATYPE_NULL(); to_len(nd)];
    mpi_call!(MPI_Type_get_contents(
        raw,
        ni,
        na,
        nd,
        ints.as_mut_ptr(),
        addrs.as_mut_ptr(),
        types.as_mut_ptr()
    ))?;
    let mut found = Ok(false);
    for t in &mut types {
        if matches!(found, Ok(false)) {
            found = has_bool(*t, depth + 1);
        }
        // get_contents returns new handles for derived types (to be freed), not for named ones.
        let (mut a, mut b, mut c, mut named) = (0, 0, 0, 0);
        if mpi_call!(MPI_Type_get_envelope(*t, &mut a, &mut b, &mut c, &mut named)).is_ok()
            && named != ffi::COMBINER_NAMED()
        {
            mpi_call!(MPI_Type_free(t))?;
        }
    }
    found
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    #[cfg_attr(miri, ignore = "reads MPI's constants")]
    fn handles_map_back_before_init() {
        // No test in this binary initialises MPI; dtype_of_handle compares handles only, so it
        // works before init too.
        assert_eq!(dtype_of_handle(ffi::DOUBLE()), Some(DType::F64));
        assert_eq!(dtype_of_handle(ffi::C_DOUBLE_COMPLEX()), Some(DType::C64));
        assert_eq!(dtype_of_handle(ffi::DATATYPE_NULL()), None);
        assert_eq!(dtype_of_handle(ffi::DOUBLE_INT()), None);
    }

    #[test]
    fn typestr_round_trip() {
        for d in DType::ALL {
            assert_eq!(parse_typestr(typestr(d)).unwrap(), d);
        }
        assert_eq!(parse_typestr("<f8").unwrap(), DType::F64);
        assert_eq!(parse_typestr("|b1").unwrap(), DType::Bool);
        assert_eq!(parse_typestr("?").unwrap(), DType::Bool);
        assert_eq!(parse_typestr("=c16").unwrap(), DType::C64);
        for bad in ["", "f3", "x8", "i16", "<", "f8 ", "F8", ">f8"] {
            assert!(matches!(parse_typestr(bad), Err(Error::InvalidArgument(_))), "{bad:?}");
        }
    }
}
