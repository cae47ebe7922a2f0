/* The halo exchange in plain C, the floor examples/halo.rs measures mpi4rs against: the same
 * neighbour pattern as one MPI_Neighbor_alltoall, and written with MPI_Irecv/MPI_Isend +
 * MPI_Waitall. Linked into the examples and benches by build.rs. */
#include <mpi.h>

/* `iters` MPI_Neighbor_alltoall of `count` doubles per neighbour on the topology
 * communicator `comm`; returns the elapsed time (MPI_Wtime) of the loop on this rank. */
double mpi4rs_c_neighbor_alltoall(MPI_Comm comm, const double *s, double *r, int count, int iters) {
  double t0 = MPI_Wtime();
  for (int i = 0; i < iters; i++) {
    MPI_Neighbor_alltoall(s, count, MPI_DOUBLE, r, count, MPI_DOUBLE, comm);
  }
  return MPI_Wtime() - t0;
}

/* The same exchange with point-to-point calls: block k of `s` goes to dests[k] with tag k and
 * block k of `r` comes from sources[k] with tag k ^ 1 (a Cartesian grid's -1/+1 pairing);
 * `degree` <= 16 neighbours. */
double mpi4rs_c_halo_p2p(MPI_Comm comm, const int *sources, const int *dests, int degree,
                         const double *s, double *r, int count, int iters) {
  MPI_Request reqs[32];
  double t0 = MPI_Wtime();
  for (int i = 0; i < iters; i++) {
    for (int k = 0; k < degree; k++) {
      MPI_Irecv(r + (long)k * count, count, MPI_DOUBLE, sources[k], k ^ 1, comm, &reqs[k]);
    }
    for (int k = 0; k < degree; k++) {
      MPI_Isend(s + (long)k * count, count, MPI_DOUBLE, dests[k], k, comm, &reqs[degree + k]);
    }
    MPI_Waitall(2 * degree, reqs, MPI_STATUSES_IGNORE);
  }
  return MPI_Wtime() - t0;
}
