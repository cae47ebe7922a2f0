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
echo "=== layers: no import cycles between files, every import downwards (src/lib.rs) ==="
# module-cycles comes with shared/ beside the repository (as in CI); without it only the
# layer table is checked, against the same import graph when the tool is found.
if [ -f ../shared/tools/module-cycles ]; then python3 ../shared/tools/module-cycles src device/src; fi
python3 ci/layers.py
if [ "$which" != mpich ]; then
  echo "=== Open MPI: clippy, build, tests ==="
  cargo clippy --workspace --all-targets -- -D warnings
  RUSTDOCFLAGS="-D warnings" cargo doc --workspace --no-deps
  echo "=== packaging: both crates as crates.io would get them, built from the .crate files ==="
  # About 2 min on 2 shared cores from cold (75 s CPU), seconds when warm. Its own target
  # directory: the verification build of the unpacked crate gets the same fingerprints as the
  # workspace's, and would leave a build-script output (without the C bench loops) that the
  # next workspace build takes as fresh.
  # cargo unpacks the just-packaged mpi4rs-device into $CARGO_HOME/registry/src/-<hash of the
  # temporary registry's path>/ and reuses an unpacking already there: a cargo home kept between
  # runs of a clone at the same path would build the verification against an old
  # mpi4rs-device (CI failed so: "no `env` in `mpi4rs_device`"). Remove those unpackings first.
  rm -rf "${CARGO_HOME:-$HOME/.cargo}"/registry/src/-*/mpi4rs-device-* \
         "${CARGO_HOME:-$HOME/.cargo}"/registry/src/-*/mpi4rs-[0-9]*
  (export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-target}/package-check"
   cargo package --workspace --allow-dirty 2>&1 | grep -v "^warning: ignoring .* not included in the published package"
   cargo publish --dry-run -p mpi4rs-device --allow-dirty)
  cargo test --workspace
  # The launchers answer libtest's --list (cargo nextest lists through it) without running.
  cargo test -q --test p2p -- --list --format terse | grep -x 'p2p\[np=2\]: test' >/dev/null
  echo "=== Open MPI: device paths through real cudarc code on the CUDA driver double ==="
  bash ci/device-double.sh
  echo "=== Open MPI: the build without CUDA (--no-default-features) ==="
  cargo clippy --workspace --all-targets --no-default-features -- -D warnings
  cargo test --workspace --no-default-features
  echo "=== the declared minimum Rust version (rust-version) builds the library ==="
  # The library only: on 2 cores it costs about 40 s to install the toolchain and 75-140 s to
  # build; --all-targets (tests, examples, benches: criterion) would add about 3 more minutes.
  # Built once with --all-targets when 1.88 was set (tests/common's ensure_eq! needed a match).
  msrv="$(sed -n 's/^rust-version = "\(.*\)"/\1/p' Cargo.toml)"
  rustup toolchain install "$msrv" --profile minimal
  cargo "+$msrv" build --workspace --lib --locked
fi
if [ "$which" != openmpi ]; then
  echo "=== MPICH: build, tests ==="
  (mpich_env; cargo test --workspace)
fi
# Network transport only, so nothing silently depends on one shared-memory node: a subset of
# suites with Open MPI's TCP BTL (no vader; 8-byte latency 0.9 -> 7.9 us, so really TCP), and
# MPICH with its own shared memory off (MPIR_CVAR_NOLOCAL=1). UCX still picks its own
# shared-memory transports for local peers there: UCX_TLS=tcp,self would force TCP, but
# MPICH 4.0.2 + UCX 1.13 over TCP hangs in MPI_Finalize at 4 oversubscribed ranks in 2 of 6
# runs of a plain C program (MPI_Init, 50 allreduces, MPI_Finalize), so it cannot gate CI.
# About 10 s of run time for both (the test binaries are built above).
net_suites=(--test p2p --test collective --test exchange)
if [ "$which" != mpich ]; then
  echo "=== Open MPI, TCP only: ${net_suites[*]} ==="
  OMPI_MCA_btl=self,tcp cargo test "${net_suites[@]}"
fi
if [ "$which" != openmpi ]; then
  echo "=== MPICH, its shared memory off: ${net_suites[*]} ==="
  (mpich_env; MPIR_CVAR_NOLOCAL=1 cargo test "${net_suites[@]}")
fi
echo "ci/test.sh: all green in $((SECONDS - start)) s"
