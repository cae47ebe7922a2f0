/* MPI_Sendrecv of a process to itself, 1 KiB to 16 MiB: what Open MPI's self transport costs
 * with and without its RDMA paths (docs/performance.md, "Messages to oneself").
 *   mpicc -O2 -o /tmp/self_sendrecv benches/c/self_sendrecv.c
 *   mpiexec -n 1 /tmp/self_sendrecv
 *   OMPI_MCA_btl_self_flags=send,inplace mpiexec -n 1 /tmp/self_sendrecv */
#include <mpi.h>
#include <stdio.h>
#include <stdlib.h>
int main(int argc, char**argv){
  MPI_Init(&argc,&argv);
  int me; MPI_Comm_rank(MPI_COMM_WORLD,&me);
  int sizes[] = {1024, 65536, 1<<20, 16<<20};
  for (int i=0;i<4;i++){ int n=sizes[i]; char*a=malloc(n),*b=malloc(n); int reps = n>=(1<<20)?200:5000;
    for (int w=0; w<10; w++) MPI_Sendrecv(a,n,MPI_BYTE,me,0,b,n,MPI_BYTE,me,0,MPI_COMM_WORLD,MPI_STATUS_IGNORE);
    double t=MPI_Wtime(); for (int r=0;r<reps;r++) MPI_Sendrecv(a,n,MPI_BYTE,me,0,b,n,MPI_BYTE,me,0,MPI_COMM_WORLD,MPI_STATUS_IGNORE);
    t=MPI_Wtime()-t; if(!me) printf("%8d B: %.2f us  %.2f GB/s\n", n, t/reps*1e6, (double)n*reps/t/1e9); free(a); free(b);}
  MPI_Finalize();
}
