#!/usr/bin/env bash
# Runs a bench built on benches/common (allreduce, file_io) in its side-by-side mode
# (`-- none`: no criterion groups) on the chosen MPI, with the machine's load around it: the
# bench starts itself under mpiexec at each rank count and times mpi4rs and the C loop
# alternately in ROUNDS pairs of adjacent blocks of at least 50 ms per size.
#
# Usage: bash ci/bench-paired.sh BENCH [ROUNDS]             (Open MPI, ROUNDS=15)
#        MPI=mpich bash ci/bench-paired.sh BENCH [ROUNDS]   (MPICH; target/mpich)
#        NPS=2 bash ci/bench-paired.sh BENCH                 (rank counts, comma-separated;
#                                                            default: the bench's own)
set -euo pipefail
cd "$(dirname "$0")/.."
bench="$1"
target_dir="${CARGO_TARGET_DIR:-}"
source ci/env.sh
if [ "${MPI:-openmpi}" = mpich ] || [[ "${MPICC:-}" == *mpich* ]]; then
  mpich_env # MPICC, MPIEXEC, CARGO_TARGET_DIR (an explicit CARGO_TARGET_DIR wins)
  [ -n "$target_dir" ] && export CARGO_TARGET_DIR="$target_dir"
  echo "# MPICH $(mpiexec.mpich --version | awk '/Version:/ {print $2; exit}')"
else
  echo "# $(mpiexec --version 2>&1 | head -1)"
fi
[ -n "${NPS:-}" ] && export MPI4RS_BENCH_NPS="$NPS"
echo "# $(nproc) cores; TMPDIR=${TMPDIR:-/tmp}; load before: $(cut -d' ' -f1-3 /proc/loadavg)"
MPI4RS_BENCH_ROUNDS="${2:-15}" cargo bench --bench "$bench" -- none
echo "# load after: $(cut -d' ' -f1-3 /proc/loadavg)"
