#!/usr/bin/env bash
# Installs what a fresh Debian/Ubuntu machine lacks to build and test mpi4rs:
# Open MPI and MPICH (both, side by side), libclang for rsmpi's bindgen, a C compiler, and
# NVRTC from PyPI's nvidia-cuda-nvrtc-cu12 wheel (no GPU needed) for the kernel compile check.
# Idempotent: does nothing when everything is there. Needs root (or sudo).
set -euo pipefail
pkgs=(libopenmpi-dev openmpi-bin mpich libmpich-dev libclang-dev gcc pkg-config)
missing=()
for p in "${pkgs[@]}"; do
  dpkg -s "$p" >/dev/null 2>&1 || missing+=("$p")
done
source "$(dirname "$0")/env.sh"
if [ -z "${MPI4RS_NVRTC:-}" ] && ! python3 -m pip --version >/dev/null 2>&1; then
  missing+=(python3-pip)
fi
if ((${#missing[@]})); then
  echo "ci/install.sh: installing ${missing[*]}"
  SUDO=""; [ "$(id -u)" = 0 ] || SUDO="sudo"
  $SUDO apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi
# NVRTC: the wheel into its own folder (--target: no virtualenv, no clash with a system Python
# that refuses pip). ci/env.sh points MPI4RS_NVRTC at it.
if [ -z "${MPI4RS_NVRTC:-}" ]; then
  echo "ci/install.sh: installing nvidia-cuda-nvrtc-cu12 into $MPI4RS_NVRTC_DIR"
  PIP_ROOT_USER_ACTION=ignore python3 -m pip install -q --disable-pip-version-check --no-deps --upgrade \
    --target "$MPI4RS_NVRTC_DIR" "nvidia-cuda-nvrtc-cu12>=12.0,<13"
fi
command -v cargo >/dev/null || { echo "ci/install.sh: cargo not found (install Rust with rustup)"; exit 1; }
