/* The ping-pong loop in plain C, the floor that mpi4rs is measured against.
 * Linked into the criterion bench (mpi4rs_c_pingpong) and, built with -DPINGPONG_MAIN by
 * ci/bench.sh, a stand-alone program printing mpi4py.bench's pingpong table. */
#include <mpi.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* Ranks 0 and 1 exchange `size` bytes `loop` times after `skip` warm-up rounds.
 * Returns the elapsed time of the timed loop on rank 0 (0 elsewhere). */
double mpi4rs_c_pingpong(MPI_Comm comm, char *buf, int size, int skip, int loop) {
  int rank;
  MPI_Comm_rank(comm, &rank);
  double t0 = 0;
  for (int i = 0; i < skip + loop; i++) {
    if (i == skip) t0 = MPI_Wtime();
    if (rank == 0) {
      MPI_Send(buf, size, MPI_BYTE, 1, 0, comm);
      MPI_Recv(buf, size, MPI_BYTE, 1, 0, comm, MPI_STATUS_IGNORE);
    } else if (rank == 1) {
      MPI_Recv(buf, size, MPI_BYTE, 0, 0, comm, MPI_STATUS_IGNORE);
      MPI_Send(buf, size, MPI_BYTE, 0, 0, comm);
    }
  }
  return rank == 0 ? MPI_Wtime() - t0 : 0.0;
}

#ifdef PINGPONG_MAIN
int main(int argc, char **argv) {
  long min_size = 1, max_size = 1L << 30;
  int skip = 100, loop = 10000, skip_large = 10, loop_large = 1000, large = 1 << 14;
  for (int i = 1; i + 1 < argc; i += 2) {
    if (!strcmp(argv[i], "-m")) min_size = atol(argv[i + 1]);
    else if (!strcmp(argv[i], "-n")) max_size = atol(argv[i + 1]);
    else if (!strcmp(argv[i], "-s")) skip = skip_large = atoi(argv[i + 1]);
    else if (!strcmp(argv[i], "-l")) loop = loop_large = atoi(argv[i + 1]);
  }
  MPI_Init(&argc, &argv);
  int rank;
  MPI_Comm_rank(MPI_COMM_WORLD, &rank);
  char *buf = malloc(max_size > 0 ? max_size : 1);
  memset(buf, 'a', max_size > 0 ? max_size : 1);
  if (rank == 0)
    printf("# %-8s%20s | %s\n", "Size [B]", "Bandwidth [MB/s]", "Time Mean [s]");
  for (long size = min_size; size <= max_size; size = size > 0 ? size * 2 : 1) {
    int s = size >= large ? skip_large : skip, l = size >= large ? loop_large : loop;
    MPI_Barrier(MPI_COMM_WORLD);
    double t = mpi4rs_c_pingpong(MPI_COMM_WORLD, buf, (int)size, s, l);
    if (rank == 0) {
      double mean = t / (2.0 * l);
      printf("%-10ld%20.2f | %.7e\n", size, size / 1e6 / mean, mean);
      fflush(stdout);
    }
  }
  free(buf);
  MPI_Finalize();
  return 0;
}
#endif
