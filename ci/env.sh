# Sourced by the ci/ scripts: settings for running MPI jobs as root on a small machine.
export OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1
export OMPI_MCA_rmaps_base_oversubscribe=1 OMPI_MCA_mpi_yield_when_idle=1
export OMPI_MCA_btl_vader_single_copy_mechanism=none
# Build against MPICH instead of Open MPI: `MPI=mpich bash ci/test.sh`.
mpich_env() {
  export MPICC=mpicc.mpich MPIEXEC=mpiexec.mpich CARGO_TARGET_DIR="${CARGO_TARGET_DIR_MPICH:-target/mpich}"
}
