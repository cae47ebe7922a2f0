#!/usr/bin/env bash
# Collective file I/O, mpi4rs against the same loop in C on the same MPI, side by side in one run.
#
# Runs the file_io bench (benches/file_io.rs) through ci/bench-paired.sh at 1, 2 and then 4
# ranks (4 on a 2-core machine is oversubscribed, the ranks yielding when idle): every rank
# writes SIZE bytes of one file in TMPDIR with write_at_all and reads them back with
# read_at_all, mpi4rs and the C loop (benches/c/file_io.c) alternately in ROUNDS pairs of
# adjacent blocks per size (4 KiB ... 16 MiB per rank). It prints per size the median time per
# write + read of each, the median of the paired ratios mpi4rs / C with the middle half of
# them, and the verdict against the target (within 10 % of C). The file stays in the page
# cache: these are MPI-IO path figures, not storage bandwidths.
#
# Usage: bash ci/bench-file.sh [ROUNDS]             (Open MPI, ROUNDS=15; 5 is a quick look)
#        MPI=mpich bash ci/bench-file.sh [ROUNDS]   (MPICH; target/mpich)
#        NPS=2 bash ci/bench-file.sh                 (rank counts, comma-separated)
set -euo pipefail
exec bash "$(dirname "$0")/bench-paired.sh" file_io "${1:-15}"
