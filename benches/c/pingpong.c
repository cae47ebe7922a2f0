/* The ping-pong loop in plain C: the floor mpi4rs is measured against.
 * - mpi4rs_c_pingpong() is linked into the criterion bench (benches/pingpong.rs);
 * - built with -DPINGPONG_MAIN (ci/bench-pingpong.sh) it is a stand-alone program with the
 *   options and the table of examples/pingpong.rs, which follows mpi4py.bench pingpong. */
#include <limits.h>
#include <math.h>
#include <mpi.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* `iters` round trips of `size` bytes between ranks 0 and 1 (a rank alone talks to itself).
 * Returns the elapsed time. */
double mpi4rs_c_pingpong(MPI_Comm comm, char *sbuf, char *rbuf, int size, int iters) {
  int rank, nprocs;
  MPI_Comm_rank(comm, &rank);
  MPI_Comm_size(comm, &nprocs);
  double t0 = MPI_Wtime();
  if (nprocs == 1) {
    for (int i = 0; i < iters; i++) {
      MPI_Sendrecv(sbuf, size, MPI_BYTE, 0, 0, rbuf, size, MPI_BYTE, 0, 0, comm, MPI_STATUS_IGNORE);
      MPI_Sendrecv(sbuf, size, MPI_BYTE, 0, 0, rbuf, size, MPI_BYTE, 0, 0, comm, MPI_STATUS_IGNORE);
    }
  } else if (rank == 0) {
    for (int i = 0; i < iters; i++) {
      MPI_Send(sbuf, size, MPI_BYTE, 1, 0, comm);
      MPI_Recv(rbuf, size, MPI_BYTE, 1, 0, comm, MPI_STATUS_IGNORE);
    }
  } else if (rank == 1) {
    for (int i = 0; i < iters; i++) {
      MPI_Recv(rbuf, size, MPI_BYTE, 0, 0, comm, MPI_STATUS_IGNORE);
      MPI_Send(sbuf, size, MPI_BYTE, 0, 0, comm);
    }
  }
  return MPI_Wtime() - t0;
}

#ifdef PINGPONG_MAIN
int main(int argc, char **argv) {
  long min_size = 1, max_size = 1L << 30, large_size = 1 << 14, huge_size = 1 << 20;
  long skip = 100, loop = 10000, skip_large = 10, loop_large = 1000, skip_huge = 1, loop_huge = 10;
  int verbose = 1, header = 1, stats = 1;
  for (int i = 1; i < argc; i++) {
    const char *a = argv[i], *v = i + 1 < argc ? argv[i + 1] : "0";
    if (!strcmp(a, "-q") || !strcmp(a, "--quiet")) { verbose = 0; continue; }
    if (!strcmp(a, "--no-header")) { header = 0; continue; }
    if (!strcmp(a, "--no-stats")) { stats = 0; continue; }
    if (!strcmp(a, "-a") || !strcmp(a, "--array")) { /* host memory either way */
      if (i + 1 >= argc || (strcmp(argv[i + 1], "numpy") && strcmp(argv[i + 1], "none"))) {
        fprintf(stderr, "%s: only host buffers (numpy, none) here\n", a);
        return 2;
      }
      i++;
      continue;
    }
    long *dst = !strcmp(a, "-m") || !strcmp(a, "--min-size") ? &min_size
              : !strcmp(a, "-n") || !strcmp(a, "--max-size") ? &max_size
              : !strcmp(a, "-s") || !strcmp(a, "--skip") ? &skip
              : !strcmp(a, "-l") || !strcmp(a, "--loop") ? &loop
              : !strcmp(a, "--skip-large") ? &skip_large : !strcmp(a, "--loop-large") ? &loop_large
              : !strcmp(a, "--large-size") ? &large_size : !strcmp(a, "--skip-huge") ? &skip_huge
              : !strcmp(a, "--loop-huge") ? &loop_huge : !strcmp(a, "--huge-size") ? &huge_size : NULL;
    if (!dst) { fprintf(stderr, "unknown option %s\n", a); return 2; }
    if (i + 1 >= argc) { fprintf(stderr, "%s needs a value\n", a); return 2; }
    char *end;
    *dst = strtol(v, &end, 10);
    if (*v == '\0' || *end != '\0' || *dst < 0) { fprintf(stderr, "%s: not a number: %s\n", a, v); return 2; }
    i++;
  }
  /* The same thread level as mpi4rs would ask for (MPI4RS_RC_THREAD_LEVEL, default single),
   * so both sides of the comparison pay the same locking costs inside MPI; "init" calls plain
   * MPI_Init, what most C programs do. */
  const char *lvl = getenv("MPI4RS_RC_THREAD_LEVEL");
  int required = !lvl ? MPI_THREAD_SINGLE
               : !strcmp(lvl, "single") ? MPI_THREAD_SINGLE
               : !strcmp(lvl, "funneled") ? MPI_THREAD_FUNNELED
               : !strcmp(lvl, "serialized") ? MPI_THREAD_SERIALIZED : MPI_THREAD_MULTIPLE;
  int provided;
  if (lvl && !strcmp(lvl, "init"))
    MPI_Init(&argc, &argv);
  else
    MPI_Init_thread(&argc, &argv, required, &provided);
  int rank;
  MPI_Comm_rank(MPI_COMM_WORLD, &rank);
  for (int k = 0; k < 33; k++) {
    long nbytes = 1L << k;
    if (nbytes < min_size || nbytes > max_size) continue;
    if (nbytes > INT_MAX) { /* mpi4rs reports the same as a count overflow */
      fprintf(stderr, "message size %ld does not fit an MPI int count\n", nbytes);
      MPI_Abort(MPI_COMM_WORLD, 1);
    }
    if (nbytes > large_size) { skip = skip < skip_large ? skip : skip_large; loop = loop < loop_large ? loop : loop_large; }
    if (nbytes > huge_size) { skip = skip < skip_huge ? skip : skip_huge; loop = loop < loop_huge ? loop : loop_huge; }
    char *sbuf = malloc(nbytes), *rbuf = malloc(nbytes);
    memset(sbuf, 'a', nbytes);
    memset(rbuf, 0, nbytes);
    MPI_Barrier(MPI_COMM_WORLD);
    mpi4rs_c_pingpong(MPI_COMM_WORLD, sbuf, rbuf, (int)nbytes, (int)skip);
    long blocks = loop < 1 ? 1 : loop > 10 ? 10 : loop;
    double total = 0, means[10];
    int nmeans = 0;
    for (long b = 0; b < blocks; b++) {
      long iters = loop / blocks + (b < loop % blocks);
      double t = mpi4rs_c_pingpong(MPI_COMM_WORLD, sbuf, rbuf, (int)nbytes, (int)iters);
      total += t;
      if (iters > 0) means[nmeans++] = t / (2.0 * iters);
    }
    free(sbuf);
    free(rbuf);
    if (!verbose || rank != 0) continue;
    if (header) {
      header = 0;
      printf("# MPI PingPong Test\n# Size [B]  Bandwidth [MB/s]%s\n",
             stats ? " | Time Mean [s] \xc2\xb1 StdDev [s]  Samples" : "");
    }
    double mean = loop > 0 ? total / (2.0 * loop) : NAN, m = 0, ss = 0;
    for (int i = 0; i < nmeans; i++) m += means[i] / nmeans;
    for (int i = 0; i < nmeans; i++) ss += (means[i] - m) * (means[i] - m);
    double sd = nmeans > 1 ? sqrt(ss / (nmeans - 1)) : 0.0;
    printf("%10ld%18.2f", nbytes, nbytes / mean / 1e6);
    if (stats) printf(" | %.7e \xc2\xb1 %.4e %8ld", mean, sd, loop);
    printf("\n");
    fflush(stdout);
  }
  MPI_Finalize();
  return 0;
}
#endif
