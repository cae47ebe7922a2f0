//! Constants and error-handler trampolines for per-handle control, from `handles.c`.
#![allow(missing_docs)]

use super::{MPI_Comm, MPI_Errhandler, MPI_File, MPI_Win};
use std::ffi::c_int;

constants! {
    MPI_Errhandler: ERRHANDLER_NULL = MPI4RS_ERRHANDLER_NULL;
    c_int: ABSENT = MPI4RS_ABSENT, KEYVAL_INVALID = MPI4RS_KEYVAL_INVALID,
        ERR_OTHER = MPI4RS_ERR_OTHER, ERR_ARG = MPI4RS_ERR_ARG,
        COMBINER_CONTIGUOUS = MPI4RS_COMBINER_CONTIGUOUS, COMBINER_VECTOR = MPI4RS_COMBINER_VECTOR,
        COMBINER_HVECTOR = MPI4RS_COMBINER_HVECTOR, COMBINER_INDEXED = MPI4RS_COMBINER_INDEXED,
        COMBINER_HINDEXED = MPI4RS_COMBINER_HINDEXED,
        COMBINER_INDEXED_BLOCK = MPI4RS_COMBINER_INDEXED_BLOCK,
        COMBINER_HINDEXED_BLOCK = MPI4RS_COMBINER_HINDEXED_BLOCK,
        COMBINER_STRUCT = MPI4RS_COMBINER_STRUCT, COMBINER_SUBARRAY = MPI4RS_COMBINER_SUBARRAY,
        COMBINER_DARRAY = MPI4RS_COMBINER_DARRAY, COMBINER_RESIZED = MPI4RS_COMBINER_RESIZED,
        COMBINER_F90_REAL = MPI4RS_COMBINER_F90_REAL,
        COMBINER_F90_COMPLEX = MPI4RS_COMBINER_F90_COMPLEX,
        COMBINER_F90_INTEGER = MPI4RS_COMBINER_F90_INTEGER,
        COMM_TYPE_HW_GUIDED = MPI4RS_COMM_TYPE_HW_GUIDED,
        COMM_TYPE_HW_UNGUIDED = MPI4RS_COMM_TYPE_HW_UNGUIDED,
        COMM_TYPE_NEIGHBORHOOD = MPI4RS_COMM_TYPE_NEIGHBORHOOD,
        COMM_TYPE_HWTHREAD = MPI4RS_COMM_TYPE_HWTHREAD, COMM_TYPE_CORE = MPI4RS_COMM_TYPE_CORE,
        COMM_TYPE_L1CACHE = MPI4RS_COMM_TYPE_L1CACHE, COMM_TYPE_L2CACHE = MPI4RS_COMM_TYPE_L2CACHE,
        COMM_TYPE_L3CACHE = MPI4RS_COMM_TYPE_L3CACHE, COMM_TYPE_SOCKET = MPI4RS_COMM_TYPE_SOCKET,
        COMM_TYPE_NUMA = MPI4RS_COMM_TYPE_NUMA, COMM_TYPE_BOARD = MPI4RS_COMM_TYPE_BOARD,
        COMM_TYPE_HOST = MPI4RS_COMM_TYPE_HOST, COMM_TYPE_CU = MPI4RS_COMM_TYPE_CU,
        COMM_TYPE_CLUSTER = MPI4RS_COMM_TYPE_CLUSTER;
}

extern "C" {
    /// `MPI_Comm_create_errhandler` with a C trampoline that calls `cb` (the same `cb` every
    /// time: it is kept in one static).
    pub fn mpi4rs_comm_create_errhandler(
        cb: unsafe extern "C" fn(*mut MPI_Comm, *mut c_int),
        eh: *mut MPI_Errhandler,
    ) -> c_int;
    /// `MPI_Win_create_errhandler` through a trampoline, as above.
    pub fn mpi4rs_win_create_errhandler(
        cb: unsafe extern "C" fn(*mut MPI_Win, *mut c_int),
        eh: *mut MPI_Errhandler,
    ) -> c_int;
    /// `MPI_File_create_errhandler` through a trampoline, as above.
    pub fn mpi4rs_file_create_errhandler(
        cb: unsafe extern "C" fn(*mut MPI_File, *mut c_int),
        eh: *mut MPI_Errhandler,
    ) -> c_int;
}
