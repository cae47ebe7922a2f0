#!/usr/bin/env bash
# The main job: installs what is missing, builds the examples in release mode and runs the
# ring test on 4 ranks (the allreduce example takes its place once collectives exist).
# Usage: bash ci/main-job.sh [NP]
set -euo pipefail
cd "$(dirname "$0")/.."
bash ci/install.sh
source ci/env.sh
np="${1:-4}"
cargo build --release --examples
mpiexec_cmd=(mpiexec)
if mpiexec --version 2>&1 | grep -qiE "open ?(mpi|rte)"; then mpiexec_cmd+=(--oversubscribe --bind-to none); fi
"${mpiexec_cmd[@]}" -n "$np" target/release/examples/helloworld
"${mpiexec_cmd[@]}" -n "$np" target/release/examples/ringtest -n 1024 -l 1000
