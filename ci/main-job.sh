#!/usr/bin/env bash
# The main job: installs what is missing, builds the allreduce example in release mode and runs
# it on NP ranks (default 4; oversubscribed on a smaller machine): an allreduce (sum) of f64
# arrays from 8 B to 16 MiB, checked on every rank against the known answer, with the time per
# call and the ratio to the same loop in C (benches/c/allreduce.c) measured in the same run.
# Device arrays where a GPU is present (`-a auto`, the default), host arrays elsewhere.
# Usage: bash ci/main-job.sh [NP] [allreduce options...]      (Open MPI)
#        MPI=mpich bash ci/main-job.sh [NP] [options...]       (MPICH; target/mpich)
set -euo pipefail
cd "$(dirname "$0")/.."
bash ci/install.sh
source ci/env.sh
np="${1:-4}"
shift || true
mpiexec_cmd=(mpiexec)
if [ "${MPI:-openmpi}" = mpich ]; then
  mpich_env
  mpiexec_cmd=(mpiexec.mpich)
elif mpiexec --version 2>&1 | grep -qiE "open ?(mpi|rte)"; then
  mpiexec_cmd+=(--oversubscribe --bind-to none)
fi
opts=("$@")
# MPICH (ch4:ucx) busy-polls and never yields: oversubscribed, each call waits for the kernel
# to schedule every rank (about 8 ms on a 2-core VM), so mpi4py's 10000 loops would take minutes.
if [ "${MPI:-openmpi}" = mpich ] && [ "$np" -gt "$(nproc)" ] && [ $# -eq 0 ]; then
  opts=(-l 100 --loop-large 20)
fi
cargo build --release --example allreduce
"${mpiexec_cmd[@]}" -n "$np" "${CARGO_TARGET_DIR:-target}/release/examples/allreduce" ${opts[@]+"${opts[@]}"}
