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

/* The zero-copy halo exchange of examples/jacobi.rs in C: an (nx + 2) x (ny + 2) row-major
 * grid of doubles with one ghost layer, its four faces and ghost lines as subarray datatypes
 * over the grid itself, eight persistent requests (the same tags as mpi4rs::Halo: 2d for what
 * travels down dimension d, 2d + 1 for what travels up), `iters` rounds of MPI_Startall +
 * MPI_Waitall. Returns the elapsed time of the loop on this rank. */
double mpi4rs_c_halo_subarray(MPI_Comm cart, double *grid, int nx, int ny, int iters) {
  int sizes[2] = {nx + 2, ny + 2};
  int interior[2] = {nx, ny};
  MPI_Datatype types[8];
  MPI_Request reqs[8];
  int n = 0;
  for (int d = 0; d < 2; d++) {
    int lower, upper;
    MPI_Cart_shift(cart, d, 1, &lower, &upper);
    int sub[2] = {interior[0], interior[1]};
    sub[d] = 1;
    int at[4] = {0, interior[d] + 1, 1, interior[d]}; /* recv low, recv high, send low, send high */
    int peer[4] = {lower, upper, lower, upper};
    int tag[4] = {2 * d + 1, 2 * d, 2 * d, 2 * d + 1};
    for (int k = 0; k < 4; k++) {
      int starts[2] = {1, 1};
      starts[d] = at[k];
      MPI_Type_create_subarray(2, sizes, sub, starts, MPI_ORDER_C, MPI_DOUBLE, &types[n + k]);
      MPI_Type_commit(&types[n + k]);
    }
    /* Receives first, as mpi4rs posts them. */
    for (int k = 0; k < 4; k++) {
      if (k < 2) {
        MPI_Recv_init(grid, 1, types[n + k], peer[k], tag[k], cart, &reqs[n + k]);
      }
    }
    for (int k = 2; k < 4; k++) {
      MPI_Send_init(grid, 1, types[n + k], peer[k], tag[k], cart, &reqs[n + k]);
    }
    n += 4;
  }
  double t0 = MPI_Wtime();
  for (int i = 0; i < iters; i++) {
    MPI_Startall(8, reqs);
    MPI_Waitall(8, reqs, MPI_STATUSES_IGNORE);
  }
  double t = MPI_Wtime() - t0;
  for (int k = 0; k < 8; k++) {
    MPI_Request_free(&reqs[k]);
    MPI_Type_free(&types[k]);
  }
  return t;
}
