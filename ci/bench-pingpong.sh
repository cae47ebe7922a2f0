#!/usr/bin/env bash
# Ping-pong, mpi4rs against the same loop in C on the same MPI, side by side in one run.
# Builds examples/pingpong (release) and benches/c/pingpong.c (mpicc -O2), then runs them
# alternately ROUNDS times each on 2 ranks and prints the median one-way time per message
# size and the ratio mpi4rs / C (time for latency, bandwidth for large messages).
# Both sides request the same thread level (MPI4RS_RC_THREAD_LEVEL, default multiple).
# Usage: bash ci/bench-pingpong.sh [ROUNDS]          (MPI=mpich for MPICH)
set -euo pipefail
cd "$(dirname "$0")/.."
source ci/env.sh
# Two ranks on two cores: busy-polling is what C programs get by default, so no yielding here.
unset OMPI_MCA_mpi_yield_when_idle
rounds="${1:-7}"
mpicc=mpicc mpiexec=(mpiexec)
if [ "${MPI:-openmpi}" = mpich ]; then
  mpich_env
  mpicc=mpicc.mpich mpiexec=(mpiexec.mpich)
else
  mpiexec+=(--bind-to none)
fi
target="${CARGO_TARGET_DIR:-target}"
cargo build --release --example pingpong -q
mkdir -p "$target"
$mpicc -O2 -DPINGPONG_MAIN benches/c/pingpong.c -o "$target/pingpong-c" -lm
out=$(mktemp)
echo "# $("${mpiexec[@]}" --version 2>&1 | head -1); thread level ${MPI4RS_RC_THREAD_LEVEL:-multiple}; $rounds rounds; load: $(cut -d' ' -f1-3 /proc/loadavg)"
for ((r = 0; r < rounds; r++)); do
  for prog in c rust; do
    exe="$target/pingpong-c"; [ $prog = rust ] && exe="$target/release/examples/pingpong"
    "${mpiexec[@]}" -n 2 "$exe" -m 8 -n 8 -s 10000 -l 400000 --no-header | sed "s/^/$prog /" >> "$out"
    "${mpiexec[@]}" -n 2 "$exe" -m 4194304 -n 16777216 --skip-huge 5 --loop-huge 100 --no-header | sed "s/^/$prog /" >> "$out"
  done
done
python3 - "$out" <<'PY'
import statistics, sys
times = {}
for line in open(sys.argv[1]):
    f = line.split()
    times.setdefault((f[0], int(f[1])), []).append(float(f[4]))
print(f"{'size [B]':>10} {'C time [s]':>12} {'mpi4rs [s]':>12} {'C MB/s':>9} {'mpi4rs MB/s':>11} {'time ratio':>10} {'bw ratio':>9}")
for size in sorted({s for _, s in times}):
    c, r = statistics.median(times[("c", size)]), statistics.median(times[("rust", size)])
    print(f"{size:>10} {c:>12.4e} {r:>12.4e} {size / c / 1e6:>9.1f} {size / r / 1e6:>11.1f} {r / c:>10.3f} {c / r:>9.3f}")
PY
rm -f "$out"
