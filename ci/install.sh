#!/usr/bin/env bash
# Installs what a fresh Debian/Ubuntu machine lacks to build and test mpi4rs:
# Open MPI and MPICH (both, side by side), libclang for rsmpi's bindgen, a C compiler.
# Idempotent: does nothing when everything is there. Needs root (or sudo).
set -euo pipefail
pkgs=(libopenmpi-dev openmpi-bin mpich libmpich-dev libclang-dev gcc pkg-config)
missing=()
for p in "${pkgs[@]}"; do
  dpkg -s "$p" >/dev/null 2>&1 || missing+=("$p")
done
if ((${#missing[@]})); then
  echo "ci/install.sh: installing ${missing[*]}"
  SUDO=""; [ "$(id -u)" = 0 ] || SUDO="sudo"
  $SUDO apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi
command -v cargo >/dev/null || { echo "ci/install.sh: cargo not found (install Rust with rustup)"; exit 1; }
