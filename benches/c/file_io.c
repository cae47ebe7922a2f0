/* The collective file I/O loop in plain C: the floor mpi4rs is measured against. Linked into
 * the criterion bench benches/file_io.rs by build.rs. */
#include <mpi.h>

/* `iters` times: MPI_File_write_at_all of `count` bytes from `buf` at byte `offset`, then
 * MPI_File_read_at_all of them back into `buf`; returns the elapsed time (MPI_Wtime) of the
 * whole loop on this rank. */
double mpi4rs_c_file_io(MPI_File fh, MPI_Offset offset, unsigned char *buf, int count, int iters) {
  MPI_Status status;
  double t0 = MPI_Wtime();
  for (int i = 0; i < iters; i++) {
    MPI_File_write_at_all(fh, offset, buf, count, MPI_UINT8_T, &status);
    MPI_File_read_at_all(fh, offset, buf, count, MPI_UINT8_T, &status);
  }
  return MPI_Wtime() - t0;
}
