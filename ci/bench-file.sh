#!/usr/bin/env bash
# Collective file I/O, mpi4rs against the same loop in C on the same MPI, side by side in one run.
#
# Runs the file_io bench (benches/file_io.rs) in its side-by-side mode (`-- none`: no criterion
# groups): it starts itself under mpiexec at 1, 2 and then 4 ranks (4 on a 2-core machine is
# oversubscribed, the ranks yielding when idle); every rank writes SIZE bytes of one file in
# TMPDIR with write_at_all and reads them back with read_at_all, mpi4rs and the C loop
# (benches/c/file_io.c) alternately in ROUNDS pairs of adjacent blocks of at least 50 ms per size
# (4 KiB ... 16 MiB per rank). It prints per size the median time per write + read of each, the
# median of the paired ratios mpi4rs / C with the middle half of them, and the verdict against
# the target (within 10 % of C). The file stays in the page cache: these are MPI-IO path
# figures, not storage bandwidths.
#
# Usage: bash ci/bench-file.sh [ROUNDS]             (Open MPI, ROUNDS=15; 5 is a quick look)
#        MPI=mpich bash ci/bench-file.sh [ROUNDS]   (MPICH; target/mpich)
#        NPS=2 bash ci/bench-file.sh                 (rank counts, comma-separated)
set -euo pipefail
cd "$(dirname "$0")/.."
target_dir="${CARGO_TARGET_DIR:-}"
source ci/env.sh
if [ "${MPI:-openmpi}" = mpich ] || [[ "${MPICC:-}" == *mpich* ]]; then
  mpich_env # MPICC, MPIEXEC, CARGO_TARGET_DIR (an explicit CARGO_TARGET_DIR wins)
  [ -n "$target_dir" ] && export CARGO_TARGET_DIR="$target_dir"
  echo "# MPICH $(mpiexec.mpich --version | awk '/Version:/ {print $2; exit}')"
else
  echo "# $(mpiexec --version 2>&1 | head -1)"
fi
echo "# $(nproc) cores; TMPDIR=${TMPDIR:-/tmp}; load before: $(cut -d' ' -f1-3 /proc/loadavg)"
MPI4RS_BENCH_ROUNDS="${1:-15}" MPI4RS_BENCH_NPS="${NPS:-1,2,4}" cargo bench --bench file_io -- none
echo "# load after: $(cut -d' ' -f1-3 /proc/loadavg)"
