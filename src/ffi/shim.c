/* MPI constants that mpi.h defines as macros. Their types differ between Open MPI (pointers)
 * and MPICH (integers), so they are exported as typed symbols that Rust links against. */
#include <mpi.h>
#include <stdint.h>

#define H(type, name) const type MPI4RS_##name = MPI_##name;

H(MPI_Datatype, BYTE) H(MPI_Datatype, PACKED) H(MPI_Datatype, C_BOOL)
H(MPI_Datatype, INT8_T) H(MPI_Datatype, INT16_T) H(MPI_Datatype, INT32_T) H(MPI_Datatype, INT64_T)
H(MPI_Datatype, UINT8_T) H(MPI_Datatype, UINT16_T) H(MPI_Datatype, UINT32_T) H(MPI_Datatype, UINT64_T)
H(MPI_Datatype, FLOAT) H(MPI_Datatype, DOUBLE)
H(MPI_Datatype, C_FLOAT_COMPLEX) H(MPI_Datatype, C_DOUBLE_COMPLEX)
H(MPI_Datatype, DATATYPE_NULL)
H(MPI_Datatype, SHORT_INT) H(MPI_Datatype, 2INT) H(MPI_Datatype, LONG_INT)
H(MPI_Datatype, FLOAT_INT) H(MPI_Datatype, DOUBLE_INT)
H(MPI_Op, OP_NULL) H(MPI_Op, MAX) H(MPI_Op, MIN) H(MPI_Op, SUM) H(MPI_Op, PROD)
H(MPI_Op, LAND) H(MPI_Op, BAND) H(MPI_Op, LOR) H(MPI_Op, BOR) H(MPI_Op, LXOR) H(MPI_Op, BXOR)
H(MPI_Op, MAXLOC) H(MPI_Op, MINLOC) H(MPI_Op, REPLACE) H(MPI_Op, NO_OP)

H(MPI_Comm, COMM_WORLD) H(MPI_Comm, COMM_SELF) H(MPI_Comm, COMM_NULL)
H(MPI_Group, GROUP_EMPTY) H(MPI_Group, GROUP_NULL)
H(MPI_Errhandler, ERRORS_RETURN) H(MPI_Errhandler, ERRORS_ARE_FATAL)
H(MPI_Request, REQUEST_NULL)
H(MPI_Message, MESSAGE_NULL) H(MPI_Message, MESSAGE_NO_PROC)
H(MPI_Info, INFO_NULL)
/* info objects and dynamic processes */
H(MPI_Info, INFO_ENV)
H(int, MAX_INFO_KEY) H(int, MAX_INFO_VAL) H(int, MAX_PORT_NAME)

H(int, SUCCESS) H(int, UNDEFINED) H(int, PROC_NULL) H(int, ANY_SOURCE) H(int, ANY_TAG) H(int, ROOT)
H(int, IDENT) H(int, CONGRUENT) H(int, SIMILAR) H(int, UNEQUAL)
H(int, COMM_TYPE_SHARED)
H(int, THREAD_SINGLE) H(int, THREAD_FUNNELED) H(int, THREAD_SERIALIZED) H(int, THREAD_MULTIPLE)
H(int, BSEND_OVERHEAD)
H(int, MAX_ERROR_STRING) H(int, MAX_OBJECT_NAME) H(int, MAX_PROCESSOR_NAME)
H(int, MAX_LIBRARY_VERSION_STRING)
H(int, TAG_UB) H(int, UNIVERSE_SIZE) H(int, APPNUM) H(int, WTIME_IS_GLOBAL)
H(int, ERR_IN_STATUS) H(int, ERR_PENDING) H(int, ERR_TRUNCATE)
H(int, ORDER_C) H(int, ORDER_FORTRAN)
H(int, DISTRIBUTE_BLOCK) H(int, DISTRIBUTE_CYCLIC) H(int, DISTRIBUTE_NONE)
H(int, DISTRIBUTE_DFLT_DARG)
H(int, COMBINER_NAMED) H(int, COMBINER_DUP)
H(int, CART) H(int, GRAPH) H(int, DIST_GRAPH)

void *const MPI4RS_IN_PLACE = MPI_IN_PLACE;
MPI_Status *const MPI4RS_STATUS_IGNORE = MPI_STATUS_IGNORE;
MPI_Status *const MPI4RS_STATUSES_IGNORE = MPI_STATUSES_IGNORE;

/* Not constant expressions in MPICH (addresses of library variables): functions. */
int *mpi4rs_unweighted(void) { return MPI_UNWEIGHTED; }
int *mpi4rs_weights_empty(void) { return MPI_WEIGHTS_EMPTY; }

double mpi4rs_wtime(void) { return MPI_Wtime(); }
double mpi4rs_wtick(void) { return MPI_Wtick(); }

/* Maps an MPI error class to the position of the same class in mpi4rs::ErrorClass
 * (0 = a class this table does not know, e.g. one the library defined itself). */
int mpi4rs_error_class_index(int cls) {
  static const int table[] = {
    MPI_SUCCESS, MPI_ERR_BUFFER, MPI_ERR_COUNT, MPI_ERR_TYPE, MPI_ERR_TAG, MPI_ERR_COMM,
    MPI_ERR_RANK, MPI_ERR_REQUEST, MPI_ERR_ROOT, MPI_ERR_GROUP, MPI_ERR_OP, MPI_ERR_TOPOLOGY,
    MPI_ERR_DIMS, MPI_ERR_ARG, MPI_ERR_UNKNOWN, MPI_ERR_TRUNCATE, MPI_ERR_OTHER, MPI_ERR_INTERN,
    MPI_ERR_IN_STATUS, MPI_ERR_PENDING, MPI_ERR_KEYVAL, MPI_ERR_NO_MEM, MPI_ERR_BASE,
    MPI_ERR_INFO_KEY, MPI_ERR_INFO_VALUE, MPI_ERR_INFO_NOKEY, MPI_ERR_SPAWN, MPI_ERR_PORT,
    MPI_ERR_SERVICE, MPI_ERR_NAME, MPI_ERR_WIN, MPI_ERR_SIZE, MPI_ERR_DISP, MPI_ERR_INFO,
    MPI_ERR_LOCKTYPE, MPI_ERR_ASSERT, MPI_ERR_RMA_CONFLICT, MPI_ERR_RMA_SYNC, MPI_ERR_RMA_RANGE,
    MPI_ERR_RMA_ATTACH, MPI_ERR_RMA_SHARED, MPI_ERR_RMA_FLAVOR, MPI_ERR_FILE, MPI_ERR_NOT_SAME,
    MPI_ERR_AMODE, MPI_ERR_UNSUPPORTED_DATAREP, MPI_ERR_UNSUPPORTED_OPERATION,
    MPI_ERR_NO_SUCH_FILE, MPI_ERR_FILE_EXISTS, MPI_ERR_BAD_FILE, MPI_ERR_ACCESS,
    MPI_ERR_NO_SPACE, MPI_ERR_QUOTA, MPI_ERR_READ_ONLY, MPI_ERR_FILE_IN_USE,
    MPI_ERR_DUP_DATAREP, MPI_ERR_CONVERSION, MPI_ERR_IO,
  };
  for (unsigned i = 1; i < sizeof table / sizeof table[0]; i++)
    if (table[i] == cls) return (int)i;
  return cls == MPI_SUCCESS ? -1 : 0;
}

/* What a predefined datatype holds, for mapping handles back to element types: 'b' (boolean),
 * 'i' / 'u' (signed / unsigned integer), 'f' (real floating point), 'c' (complex), with its
 * size in bytes in *size; 0 for any other handle. The C types give the sizes, so `long` and
 * friends map right on every platform; rsmpi's handles are among these. */
int mpi4rs_named_kind(MPI_Datatype t, int *size) {
#define K(name, kind, ctype) if (t == MPI_##name) { *size = (int)sizeof(ctype); return kind; }
  if (t == MPI_DATATYPE_NULL) return 0;
  K(C_BOOL, 'b', _Bool)
  K(INT8_T, 'i', int8_t) K(INT16_T, 'i', int16_t) K(INT32_T, 'i', int32_t) K(INT64_T, 'i', int64_t)
  K(UINT8_T, 'u', uint8_t) K(UINT16_T, 'u', uint16_t) K(UINT32_T, 'u', uint32_t)
  K(UINT64_T, 'u', uint64_t)
  K(SIGNED_CHAR, 'i', signed char) K(SHORT, 'i', short) K(INT, 'i', int) K(LONG, 'i', long)
  K(LONG_LONG_INT, 'i', long long) K(LONG_LONG, 'i', long long)
  K(UNSIGNED_CHAR, 'u', unsigned char) K(UNSIGNED_SHORT, 'u', unsigned short)
  K(UNSIGNED, 'u', unsigned) K(UNSIGNED_LONG, 'u', unsigned long)
  K(UNSIGNED_LONG_LONG, 'u', unsigned long long) K(BYTE, 'u', unsigned char)
  K(AINT, 'i', MPI_Aint) K(OFFSET, 'i', MPI_Offset) K(COUNT, 'i', MPI_Count)
  K(FLOAT, 'f', float) K(DOUBLE, 'f', double)
  K(C_COMPLEX, 'c', float _Complex) K(C_FLOAT_COMPLEX, 'c', float _Complex)
  K(C_DOUBLE_COMPLEX, 'c', double _Complex)
#undef K
  return 0;
}
