/* The one-sided (RMA) constants of mpi.h that are macros, exported as typed symbols like the
 * ones in shim.c (kept apart so that the window code's constants live in one place). */
#include <mpi.h>

#define H(type, name) const type MPI4RS_##name = MPI_##name;

H(MPI_Win, WIN_NULL)
H(int, WIN_BASE) H(int, WIN_SIZE) H(int, WIN_DISP_UNIT) H(int, WIN_CREATE_FLAVOR) H(int, WIN_MODEL)
H(int, WIN_FLAVOR_CREATE) H(int, WIN_FLAVOR_ALLOCATE) H(int, WIN_FLAVOR_DYNAMIC)
H(int, WIN_FLAVOR_SHARED) H(int, WIN_SEPARATE) H(int, WIN_UNIFIED)
H(int, LOCK_EXCLUSIVE) H(int, LOCK_SHARED)
H(int, MODE_NOCHECK) H(int, MODE_NOSTORE) H(int, MODE_NOPUT) H(int, MODE_NOPRECEDE)
H(int, MODE_NOSUCCEED)
