#!/usr/bin/env bash
# The device paths through real cudarc code, on a machine without a GPU: builds the CPU double
# of the CUDA driver (tests/cuda-double, for tests only), puts it where cudarc loads libcuda.so
# from (LD_LIBRARY_PATH), and runs
#   - the device suite (tests/device.rs) with real CudaSlice buffers: p2p, collectives,
#     requests, the pipeline, derived layouts, strided DLPack tensors, reduce_local's host
#     fallback, and the proofs that the double catches a skipped stream synchronisation and a
#     host read of device memory;
#   - the device crate's tests (DLPack, staging pool, kernels' host fallbacks);
#   - the main job on device arrays: allreduce -a cuda, whose table header names device arrays
#     and the staged path;
#   - the device bench (benches/device.rs) as a smoke test, up to 16 MiB (one iteration per
#     block; the GPU run in ci/gpu.sh measures up to 256 MiB).
# Every copy on the double's streams waits CUDA_DOUBLE_DELAY_US first (default 200 us), so a
# missing synchronisation shows up as wrong data. What only a GPU proves: docs/device-double.md.
# Usage: bash ci/device-double.sh [NP]     (Open MPI; MPI=mpich for MPICH)
set -euo pipefail
cd "$(dirname "$0")/.."
bash ci/install.sh
source ci/env.sh
np="${1:-2}"
start=$SECONDS
mpiexec_cmd=(mpiexec)
if [ "${MPI:-openmpi}" = mpich ]; then
  mpich_env
  mpiexec_cmd=(mpiexec.mpich)
elif mpiexec --version 2>&1 | grep -qiE "open ?(mpi|rte)"; then
  mpiexec_cmd+=(--oversubscribe --bind-to none)
fi
dir="$(bash tests/cuda-double/build.sh)"
export LD_LIBRARY_PATH="$dir${LD_LIBRARY_PATH:+:$LD_LIBRARY_PATH}"
export CUDA_DOUBLE_DELAY_US="${CUDA_DOUBLE_DELAY_US:-200}"
echo "=== CUDA driver double: $dir/libcuda.so.1 (each copy delayed ${CUDA_DOUBLE_DELAY_US} us)"
echo "=== device suite on the double"
cargo test --test device
echo "=== device crate on the double"
cargo test -p mpi4rs-device
echo "=== device bench on the double (smoke test, up to 16 MiB)"
MPI4RS_BENCH_NPS=2 MPI4RS_BENCH_MAX=16M cargo test --bench device -- none
echo "=== main job on device arrays ($np ranks)"
# The dev profile (what `cargo test` already built): figures from the double mean nothing.
cargo build --example allreduce
out="$("${mpiexec_cmd[@]}" -n "$np" "${CARGO_TARGET_DIR:-target}/debug/examples/allreduce" -a cuda \
  --sizes 8,1K,64K,1M,16M -l 50 --loop-large 5 --loop-huge 3)"
echo "$out"
grep -q "CUDA device arrays, non-CUDA-aware MPI: staged path" <<<"$out" \
  || { echo "ci/device-double.sh: the table does not say device arrays on the staged path"; exit 1; }
echo "ci/device-double.sh: all green in $((SECONDS - start)) s (figures from the double mean nothing)"
