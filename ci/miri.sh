#!/usr/bin/env bash
# Miri over the unit tests of the MPI-free code: the whole device crate (DLPack import/export,
# views, host buffers, staging, the CPU double's logic; CUDA and NVRTC report themselves
# absent under Miri, so tests that need them skip) and the main crate's unit tests (object
# codec, exchange regions, datatype layouts, configuration, file modes; the two that read MPI's
# constants are ignored under Miri). Not in ci/test.sh: about 4-5 minutes from a fresh machine
# (nightly toolchain, Miri's sysroot, the build), over the budget. Results: README, "Testing".
# Usage: bash ci/miri.sh
set -euo pipefail
cd "$(dirname "$0")/.."
start=$SECONDS
rustup toolchain install nightly --profile minimal
rustup component add --toolchain nightly miri rust-src
export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-target}/miri"
cargo +nightly miri setup
cargo +nightly miri test -p mpi4rs-device
cargo +nightly miri test -p mpi4rs --lib
echo "ci/miri.sh: all green in $((SECONDS - start)) s"
