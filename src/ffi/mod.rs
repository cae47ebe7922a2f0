//! Raw layer: rsmpi's bindgen bindings (`mpi::ffi`) plus the constants that `mpi.h` defines
//! as macros, taken from `shim.c` so that they are right for Open MPI (pointer handles) and
//! MPICH (integer handles) alike. Nothing here is checked; `error::check` is.
#![allow(missing_docs, non_upper_case_globals)]

pub use mpi::ffi::*;
use std::ffi::{c_char, c_int, c_void, CStr};

extern "C" {
    fn dlsym(handle: *mut c_void, symbol: *const c_char) -> *mut c_void;
}

/// The first `len` characters of a C buffer filled by MPI, as a `String` (lossy UTF-8).
pub(crate) fn string_from_c(buf: &[c_char], len: c_int) -> String {
    let len = (len.max(0) as usize).min(buf.len());
    let bytes: Vec<u8> = buf[..len].iter().map(|&c| c as u8).take_while(|&b| b != 0).collect();
    String::from_utf8_lossy(&bytes).into_owned()
}

/// `dlsym(RTLD_DEFAULT, name)` (RTLD_DEFAULT is the null handle on glibc and musl): an MPI
/// function outside `mpi.h` (MPI-4 calls on an MPI-3.1 library, `MPIX_` extensions), or null
/// where the loaded library lacks it.
pub(crate) fn lookup_symbol(name: &CStr) -> *mut c_void {
    // SAFETY: a plain symbol lookup in the already loaded objects.
    unsafe { dlsym(std::ptr::null_mut(), name.as_ptr()) }
}

macro_rules! constants {
    ($($ty:ty: $($name:ident = $sym:ident),* ;)*) => {
        extern "C" { $($(static $sym: $ty;)*)* }
        $($(
            #[inline(always)]
            #[allow(non_snake_case)]
            // SAFETY: reads a constant the MPI library exports.
            pub fn $name() -> $ty { unsafe { $sym } }
        )*)*
    };
}

constants! {
    MPI_Datatype: BYTE = MPI4RS_BYTE, PACKED = MPI4RS_PACKED, C_BOOL = MPI4RS_C_BOOL,
        INT8_T = MPI4RS_INT8_T, INT16_T = MPI4RS_INT16_T, INT32_T = MPI4RS_INT32_T,
        INT64_T = MPI4RS_INT64_T, UINT8_T = MPI4RS_UINT8_T, UINT16_T = MPI4RS_UINT16_T,
        UINT32_T = MPI4RS_UINT32_T, UINT64_T = MPI4RS_UINT64_T, FLOAT = MPI4RS_FLOAT,
        DOUBLE = MPI4RS_DOUBLE, C_FLOAT_COMPLEX = MPI4RS_C_FLOAT_COMPLEX,
        C_DOUBLE_COMPLEX = MPI4RS_C_DOUBLE_COMPLEX, DATATYPE_NULL = MPI4RS_DATATYPE_NULL,
        SHORT_INT = MPI4RS_SHORT_INT, TWO_INT = MPI4RS_2INT, LONG_INT = MPI4RS_LONG_INT,
        FLOAT_INT = MPI4RS_FLOAT_INT, DOUBLE_INT = MPI4RS_DOUBLE_INT;
    MPI_Op: OP_NULL = MPI4RS_OP_NULL, MAX = MPI4RS_MAX, MIN = MPI4RS_MIN, SUM = MPI4RS_SUM,
        PROD = MPI4RS_PROD, LAND = MPI4RS_LAND, BAND = MPI4RS_BAND, LOR = MPI4RS_LOR,
        BOR = MPI4RS_BOR, LXOR = MPI4RS_LXOR, BXOR = MPI4RS_BXOR, MAXLOC = MPI4RS_MAXLOC,
        MINLOC = MPI4RS_MINLOC, REPLACE = MPI4RS_REPLACE, NO_OP = MPI4RS_NO_OP;
    *mut std::ffi::c_void: IN_PLACE = MPI4RS_IN_PLACE;
    MPI_Comm: COMM_WORLD = MPI4RS_COMM_WORLD, COMM_SELF = MPI4RS_COMM_SELF,
        COMM_NULL = MPI4RS_COMM_NULL;
    MPI_Group: GROUP_EMPTY = MPI4RS_GROUP_EMPTY, GROUP_NULL = MPI4RS_GROUP_NULL;
    MPI_Errhandler: ERRORS_RETURN = MPI4RS_ERRORS_RETURN,
        ERRORS_ARE_FATAL = MPI4RS_ERRORS_ARE_FATAL;
    MPI_Request: REQUEST_NULL = MPI4RS_REQUEST_NULL;
    MPI_Message: MESSAGE_NULL = MPI4RS_MESSAGE_NULL, MESSAGE_NO_PROC = MPI4RS_MESSAGE_NO_PROC;
    MPI_Info: INFO_NULL = MPI4RS_INFO_NULL;
    MPI_Info: INFO_ENV = MPI4RS_INFO_ENV;
    c_int: MAX_INFO_KEY = MPI4RS_MAX_INFO_KEY, MAX_INFO_VAL = MPI4RS_MAX_INFO_VAL,
        MAX_PORT_NAME = MPI4RS_MAX_PORT_NAME;
    c_int: SUCCESS = MPI4RS_SUCCESS, UNDEFINED = MPI4RS_UNDEFINED, PROC_NULL = MPI4RS_PROC_NULL,
        ANY_SOURCE = MPI4RS_ANY_SOURCE, ANY_TAG = MPI4RS_ANY_TAG, ROOT = MPI4RS_ROOT,
        IDENT = MPI4RS_IDENT, CONGRUENT = MPI4RS_CONGRUENT, SIMILAR = MPI4RS_SIMILAR,
        UNEQUAL = MPI4RS_UNEQUAL, COMM_TYPE_SHARED = MPI4RS_COMM_TYPE_SHARED,
        THREAD_SINGLE = MPI4RS_THREAD_SINGLE, THREAD_FUNNELED = MPI4RS_THREAD_FUNNELED,
        THREAD_SERIALIZED = MPI4RS_THREAD_SERIALIZED, THREAD_MULTIPLE = MPI4RS_THREAD_MULTIPLE,
        BSEND_OVERHEAD = MPI4RS_BSEND_OVERHEAD, MAX_ERROR_STRING = MPI4RS_MAX_ERROR_STRING,
        MAX_OBJECT_NAME = MPI4RS_MAX_OBJECT_NAME, MAX_PROCESSOR_NAME = MPI4RS_MAX_PROCESSOR_NAME,
        MAX_LIBRARY_VERSION_STRING = MPI4RS_MAX_LIBRARY_VERSION_STRING, TAG_UB = MPI4RS_TAG_UB,
        UNIVERSE_SIZE = MPI4RS_UNIVERSE_SIZE, APPNUM = MPI4RS_APPNUM,
        WTIME_IS_GLOBAL = MPI4RS_WTIME_IS_GLOBAL, ERR_IN_STATUS = MPI4RS_ERR_IN_STATUS,
        ERR_PENDING = MPI4RS_ERR_PENDING, ERR_TRUNCATE = MPI4RS_ERR_TRUNCATE,
        ORDER_C = MPI4RS_ORDER_C, ORDER_FORTRAN = MPI4RS_ORDER_FORTRAN,
        DISTRIBUTE_BLOCK = MPI4RS_DISTRIBUTE_BLOCK, DISTRIBUTE_CYCLIC = MPI4RS_DISTRIBUTE_CYCLIC,
        DISTRIBUTE_NONE = MPI4RS_DISTRIBUTE_NONE,
        DISTRIBUTE_DFLT_DARG = MPI4RS_DISTRIBUTE_DFLT_DARG,
        COMBINER_NAMED = MPI4RS_COMBINER_NAMED, COMBINER_DUP = MPI4RS_COMBINER_DUP,
        CART = MPI4RS_CART, GRAPH = MPI4RS_GRAPH, DIST_GRAPH = MPI4RS_DIST_GRAPH;
    *mut MPI_Status: STATUS_IGNORE = MPI4RS_STATUS_IGNORE,
        STATUSES_IGNORE = MPI4RS_STATUSES_IGNORE;
}

extern "C" {
    pub fn mpi4rs_wtime() -> f64;
    pub fn mpi4rs_wtick() -> f64;
    /// `MPI_UNWEIGHTED`.
    pub fn mpi4rs_unweighted() -> *mut c_int;
    /// `MPI_WEIGHTS_EMPTY`.
    pub fn mpi4rs_weights_empty() -> *mut c_int;
    pub fn mpi4rs_error_class_index(class: c_int) -> c_int;
    /// `b'b'`, `b'i'`, `b'u'`, `b'f'` or `b'c'` for a predefined datatype of that kind (its size
    /// in bytes through `size`), 0 for any other handle. Compares handles only.
    pub fn mpi4rs_named_kind(datatype: MPI_Datatype, size: *mut c_int) -> c_int;
}

mod rma;
pub use rma::*;
