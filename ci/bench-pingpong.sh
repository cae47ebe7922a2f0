#!/usr/bin/env bash
# Ping-pong, mpi4rs against the same loop in C on the same MPI, side by side in one run.
#
# Builds examples/pingpong (release) and the C stand-alone benches/c/pingpong.c
# (mpicc -O2 -DPINGPONG_MAIN, the same options and table), runs them alternately
# (C, mpi4rs, C, mpi4rs, ...) ROUNDS times each under `mpiexec -n 2`, and prints per size
# the median one-way time and bandwidth of each and the median over the rounds of the ratio
# mpi4rs / C within each back-to-back pair of runs (steadier than a ratio of medians where
# the machine's speed drifts between runs), with the targets:
# 8-byte latency within 10 % of C, bandwidth at 4 MiB and above at least 95 % of C.
# Both sides request the same thread level (MPI4RS_RC_THREAD_LEVEL, default single).
#
# Usage: bash ci/bench-pingpong.sh [ROUNDS]                       (Open MPI, ROUNDS=7)
#        MPI=mpich bash ci/bench-pingpong.sh [ROUNDS]             (MPICH; target/mpich)
#        MPICC=mpicc.mpich CARGO_TARGET_DIR=/work/target-mpich bash ci/bench-pingpong.sh
set -euo pipefail
cd "$(dirname "$0")/.."
target_dir="${CARGO_TARGET_DIR:-}"
source ci/env.sh
# Two ranks on two cores: busy-polling is what C programs get by default, so no yielding here.
unset OMPI_MCA_mpi_yield_when_idle
rounds="${1:-7}"
if [ "${MPI:-openmpi}" = mpich ] || [[ "${MPICC:-}" == *mpich* ]]; then
  mpich_env # MPICC, MPIEXEC, CARGO_TARGET_DIR (an explicit CARGO_TARGET_DIR wins)
  [ -n "$target_dir" ] && export CARGO_TARGET_DIR="$target_dir"
  mpicc=mpicc.mpich mpiexec=(mpiexec.mpich)
else
  mpicc="${MPICC:-mpicc}" mpiexec=(mpiexec --oversubscribe --bind-to none)
fi
target="${CARGO_TARGET_DIR:-target}"
cargo build --release --example pingpong -q
mkdir -p "$target"
$mpicc -O2 -DPINGPONG_MAIN benches/c/pingpong.c -o "$target/pingpong-c" -lm
out=$(mktemp)
trap 'rm -f "$out"' EXIT
if [ "$mpicc" = mpicc.mpich ]; then
  echo "# MPICH $(mpiexec.mpich --version | awk '/Version:/ {print $2; exit}')"
else
  echo "# $(mpiexec --version 2>&1 | head -1)"
fi
echo "# thread level ${MPI4RS_RC_THREAD_LEVEL:-single}; $rounds rounds each; $(nproc) cores; load before: $(cut -d' ' -f1-3 /proc/loadavg)"
small=(-m 8 -n 8 -s 10000 -l 400000)
large=(-m 4194304 -n 16777216 --skip-huge 5 --loop-huge 100)
for ((r = 0; r < rounds; r++)); do
  for sizes in small large; do
    for prog in c rust; do # the two runs of a pair back to back
      exe="$target/pingpong-c"
      [ $prog = rust ] && exe="$target/release/examples/pingpong"
      args="$sizes[@]"
      "${mpiexec[@]}" -n 2 "$exe" "${!args}" --no-header | sed "s/^/$r $prog /" >>"$out"
    done
  done
done
echo "# load after: $(cut -d' ' -f1-3 /proc/loadavg)"
python3 - "$out" <<'PY'
import statistics, sys
times = {}  # (prog, size) -> {round: one-way time}
for line in open(sys.argv[1]):
    f = line.split()
    times.setdefault((f[1], int(f[2])), {})[int(f[0])] = float(f[5])
print(f"{'size [B]':>10} {'C [us]':>10} {'mpi4rs [us]':>11} {'C [MB/s]':>10} {'mpi4rs [MB/s]':>13} "
      f"{'time r/c':>8}  {'bw r/c':>6}  {'pairs':>10}  target")
for size in sorted({s for _, s in times}):
    c, r = times[("c", size)], times[("rust", size)]
    tc, tr = statistics.median(c.values()), statistics.median(r.values())
    pairs = [r[k] / c[k] for k in c if k in r]  # the back-to-back pairs
    ratio = statistics.median(pairs)
    if size <= 8:
        verdict = f"latency {ratio:.3f} <= 1.10: {'met' if ratio <= 1.10 else 'MISSED'}"
    elif size >= 4 << 20:
        verdict = f"bandwidth {1 / ratio:.3f} >= 0.95: {'met' if 1 / ratio >= 0.95 else 'MISSED'}"
    else:
        verdict = ""
    print(f"{size:>10} {tc * 1e6:>10.3f} {tr * 1e6:>11.3f} {size / tc / 1e6:>10.1f} {size / tr / 1e6:>13.1f} "
          f"{ratio:>8.3f}  {1 / ratio:>6.3f}  {min(pairs):.2f}..{max(pairs):.2f}  {verdict}")
rounds = len(times[("c", 8)])
print(f"(times: medians of {rounds} runs each, one-way per message over the whole timed loop;")
print(f" ratios: medians of the {rounds} back-to-back C/mpi4rs pairs; pairs: their range)")
PY
