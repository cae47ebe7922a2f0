#!/usr/bin/env bash
# The whole test suite, from a fresh clone: installs MPI if missing, checks formatting and
# lints, then runs every test (multi-rank jobs under mpiexec at 1-4 ranks, doc tests,
# examples) against Open MPI and then against MPICH; with Open MPI also the device paths on
# the CPU double of the CUDA driver (ci/device-double.sh, about 55 s once built).
# Usage: bash ci/test.sh            both MPI libraries
#        MPI=openmpi bash ci/test.sh    only one (openmpi | mpich)
set -euo pipefail
cd "$(dirname "$0")/.."
bash ci/install.sh
source ci/env.sh
which="${MPI:-both}"
start=$SECONDS

cargo fmt --all -- --check
if [ "$which" != mpich ]; then
  echo "=== Open MPI: clippy, build, tests ==="
  cargo clippy --workspace --all-targets -- -D warnings
  RUSTDOCFLAGS="-D warnings" cargo doc --workspace --no-deps
  cargo test --workspace
  echo "=== Open MPI: device paths through real cudarc code on the CUDA driver double ==="
  bash ci/device-double.sh
  echo "=== Open MPI: the build without CUDA (--no-default-features) ==="
  cargo clippy --workspace --all-targets --no-default-features -- -D warnings
  cargo test --workspace --no-default-features
fi
if [ "$which" != openmpi ]; then
  echo "=== MPICH: build, tests ==="
  (mpich_env; cargo test --workspace)
fi
echo "ci/test.sh: all green in $((SECONDS - start)) s"
