//! Raw layer: rsmpi's bindgen bindings (`mpi::ffi`) plus the constants that `mpi.h` defines
//! as macros, taken from `shim.c` so that they are right for Open MPI (pointer handles) and
//! MPICH (integer handles) alike. Nothing here is checked; `error::check` is.
#![allow(missing_docs, non_upper_case_globals)]

pub use mpi::ffi::*;
use std::ffi::c_int;

macro_rules! constants {
    ($($ty:ty: $($name:ident = $sym:ident),* ;)*) => {
        extern "C" { $($(static $sym: $ty;)*)* }
        $($(
            #[inline(always)]
            #[allow(non_snake_case)]
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
        C_DOUBLE_COMPLEX = MPI4RS_C_DOUBLE_COMPLEX, DATATYPE_NULL = MPI4RS_DATATYPE_NULL;
    MPI_Comm: COMM_WORLD = MPI4RS_COMM_WORLD, COMM_SELF = MPI4RS_COMM_SELF,
        COMM_NULL = MPI4RS_COMM_NULL;
    MPI_Group: GROUP_EMPTY = MPI4RS_GROUP_EMPTY, GROUP_NULL = MPI4RS_GROUP_NULL;
    MPI_Errhandler: ERRORS_RETURN = MPI4RS_ERRORS_RETURN,
        ERRORS_ARE_FATAL = MPI4RS_ERRORS_ARE_FATAL;
    MPI_Request: REQUEST_NULL = MPI4RS_REQUEST_NULL;
    MPI_Message: MESSAGE_NULL = MPI4RS_MESSAGE_NULL, MESSAGE_NO_PROC = MPI4RS_MESSAGE_NO_PROC;
    MPI_Info: INFO_NULL = MPI4RS_INFO_NULL;
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
        ERR_PENDING = MPI4RS_ERR_PENDING, ERR_TRUNCATE = MPI4RS_ERR_TRUNCATE;
    *mut MPI_Status: STATUS_IGNORE = MPI4RS_STATUS_IGNORE,
        STATUSES_IGNORE = MPI4RS_STATUSES_IGNORE;
}

extern "C" {
    pub fn mpi4rs_wtime() -> f64;
    pub fn mpi4rs_wtick() -> f64;
    pub fn mpi4rs_error_class_index(class: c_int) -> c_int;
}
