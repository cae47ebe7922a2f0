/* The allreduce loop in plain C: the floor mpi4rs is measured against. Linked into the
 * criterion bench (benches/allreduce.rs) and into the examples (examples/allreduce.rs compares
 * against it in the same run) by build.rs. */
#include <mpi.h>

/* `iters` MPI_Allreduce(SUM) of `count` doubles from `s` into `r` on `comm`; returns the
 * elapsed time (MPI_Wtime) of the whole loop on this rank. */
double mpi4rs_c_allreduce(MPI_Comm comm, const double *s, double *r, int count, int iters) {
  double t0 = MPI_Wtime();
  for (int i = 0; i < iters; i++) {
    MPI_Allreduce(s, r, count, MPI_DOUBLE, MPI_SUM, comm);
  }
  return MPI_Wtime() - t0;
}
