#!/usr/bin/env bash
# Allreduce, mpi4rs against the same loop in C on the same MPI, side by side in one run.
#
# Runs the allreduce bench (benches/allreduce.rs) through ci/bench-paired.sh (`-- none`: no
# criterion groups): it starts itself under mpiexec at 2 and then 4 ranks (4 on a 2-core
# machine is oversubscribed, the ranks yielding when idle), times mpi4rs and the C loop
# (benches/c/allreduce.c) alternately in ROUNDS pairs of adjacent blocks of at least 50 ms per size
# (8 B ... 64 MiB of f64, sum) and prints per size the median time per call of each, the median
# of the paired ratios mpi4rs / C with the middle half of them, and the verdict against the
# targets: within 10 % of C up to 64 KiB, within 5 % from 1 MiB.
#
# Usage: bash ci/bench-allreduce.sh [ROUNDS]             (Open MPI, ROUNDS=15; 5 is a quick look)
#        MPI=mpich bash ci/bench-allreduce.sh [ROUNDS]   (MPICH; target/mpich)
#        NPS=2 bash ci/bench-allreduce.sh                 (rank counts, comma-separated)
set -euo pipefail
exec bash "$(dirname "$0")/bench-paired.sh" allreduce "${1:-15}"
