/* Constants and trampolines for per-handle control (error handlers, attributes, split types,
 * datatype introspection), kept apart from shim.c like rma.c. Constants a library lacks are
 * exported as MPI4RS_ABSENT (INT_MIN), which Rust turns into Error::Unsupported. */
#include <mpi.h>
#include <limits.h>

#define H(type, name) const type MPI4RS_##name = MPI_##name;
#define ABSENT INT_MIN
const int MPI4RS_ABSENT = ABSENT;

H(MPI_Errhandler, ERRHANDLER_NULL)
H(int, KEYVAL_INVALID) H(int, ERR_OTHER) H(int, ERR_ARG)
H(int, COMBINER_CONTIGUOUS) H(int, COMBINER_VECTOR)
H(int, COMBINER_HVECTOR) H(int, COMBINER_INDEXED) H(int, COMBINER_HINDEXED)
H(int, COMBINER_INDEXED_BLOCK) H(int, COMBINER_HINDEXED_BLOCK) H(int, COMBINER_STRUCT)
H(int, COMBINER_SUBARRAY) H(int, COMBINER_DARRAY) H(int, COMBINER_RESIZED)
H(int, COMBINER_F90_REAL) H(int, COMBINER_F90_COMPLEX) H(int, COMBINER_F90_INTEGER)

/* Split types: MPI-4's hardware types (MPICH 4 defines them as macros; Open MPI 4.1 has
 * none), Open MPI's own (an enum, so detected by the library), MPICH's neighbourhood type. */
#ifdef MPI_COMM_TYPE_HW_GUIDED
const int MPI4RS_COMM_TYPE_HW_GUIDED = MPI_COMM_TYPE_HW_GUIDED;
#else
const int MPI4RS_COMM_TYPE_HW_GUIDED = ABSENT;
#endif
#ifdef MPI_COMM_TYPE_HW_UNGUIDED
const int MPI4RS_COMM_TYPE_HW_UNGUIDED = MPI_COMM_TYPE_HW_UNGUIDED;
#else
const int MPI4RS_COMM_TYPE_HW_UNGUIDED = ABSENT;
#endif
#ifdef MPIX_COMM_TYPE_NEIGHBORHOOD
const int MPI4RS_COMM_TYPE_NEIGHBORHOOD = MPIX_COMM_TYPE_NEIGHBORHOOD;
#else
const int MPI4RS_COMM_TYPE_NEIGHBORHOOD = ABSENT;
#endif
#ifdef OPEN_MPI
#define O(name) const int MPI4RS_COMM_TYPE_##name = OMPI_COMM_TYPE_##name;
#else
#define O(name) const int MPI4RS_COMM_TYPE_##name = ABSENT;
#endif
O(HWTHREAD) O(CORE) O(L1CACHE) O(L2CACHE) O(L3CACHE) O(SOCKET) O(NUMA) O(BOARD) O(HOST) O(CU)
O(CLUSTER)

/* Error handler functions are variadic in C, which stable Rust cannot define: these C
 * functions are what MPI calls, and they forward the two fixed arguments to Rust. */
typedef void (*mpi4rs_comm_cb)(MPI_Comm *, int *);
typedef void (*mpi4rs_win_cb)(MPI_Win *, int *);
typedef void (*mpi4rs_file_cb)(MPI_File *, int *);
static mpi4rs_comm_cb comm_cb;
static mpi4rs_win_cb win_cb;
static mpi4rs_file_cb file_cb;

static void comm_tramp(MPI_Comm *comm, int *code, ...) { if (comm_cb) comm_cb(comm, code); }
static void win_tramp(MPI_Win *win, int *code, ...) { if (win_cb) win_cb(win, code); }
static void file_tramp(MPI_File *file, int *code, ...) { if (file_cb) file_cb(file, code); }

int mpi4rs_comm_create_errhandler(mpi4rs_comm_cb cb, MPI_Errhandler *eh) {
    comm_cb = cb;
    return MPI_Comm_create_errhandler(comm_tramp, eh);
}
int mpi4rs_win_create_errhandler(mpi4rs_win_cb cb, MPI_Errhandler *eh) {
    win_cb = cb;
    return MPI_Win_create_errhandler(win_tramp, eh);
}
int mpi4rs_file_create_errhandler(mpi4rs_file_cb cb, MPI_Errhandler *eh) {
    file_cb = cb;
    return MPI_File_create_errhandler(file_tramp, eh);
}
