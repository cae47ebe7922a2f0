#!/usr/bin/env bash
# What the thread level costs an 8-byte ping-pong: a C program that calls plain MPI_Init
# against mpi4rs at its default level (no MPI4RS_RC_THREAD_LEVEL) and at `single` and
# `multiple`, run alternately (C, default, single, multiple, C, ...) ROUNDS times under
# `mpiexec -n 2`; prints per program the median time and the median over rounds of its ratio
# to the C run of the same round.
# Usage: bash ci/bench-thread-level.sh [ROUNDS]        (Open MPI; ROUNDS=9)
#        MPI=mpich bash ci/bench-thread-level.sh [ROUNDS]
set -euo pipefail
cd "$(dirname "$0")/.."
target_dir="${CARGO_TARGET_DIR:-}"
source ci/env.sh
unset OMPI_MCA_mpi_yield_when_idle # busy-polling, as C programs get by default
rounds="${1:-9}"
if [ "${MPI:-openmpi}" = mpich ]; then
  mpich_env
  [ -n "$target_dir" ] && export CARGO_TARGET_DIR="$target_dir"
  mpicc=mpicc.mpich mpiexec=(mpiexec.mpich)
else
  mpicc=mpicc mpiexec=(mpiexec --oversubscribe --bind-to none)
fi
target="${CARGO_TARGET_DIR:-target}"
cargo build --release --example pingpong -q
mkdir -p "$target"
$mpicc -O2 -DPINGPONG_MAIN benches/c/pingpong.c -o "$target/pingpong-c" -lm
out=$(mktemp)
trap 'rm -f "$out"' EXIT
args=(-m 8 -n 8 -s 10000 -l 200000 --no-header)
echo "# $($mpicc -show | awk '{print $1}') / $("${mpiexec[@]}" --version 2>&1 | head -1); $rounds rounds; load before: $(cut -d' ' -f1-3 /proc/loadavg)"
for ((r = 0; r < rounds; r++)); do
  for prog in c-init default single multiple; do
    case $prog in
      c-init) env MPI4RS_RC_THREAD_LEVEL=init "${mpiexec[@]}" -n 2 "$target/pingpong-c" "${args[@]}" ;;
      default) env -u MPI4RS_RC_THREAD_LEVEL "${mpiexec[@]}" -n 2 "$target/release/examples/pingpong" "${args[@]}" ;;
      *) env MPI4RS_RC_THREAD_LEVEL=$prog "${mpiexec[@]}" -n 2 "$target/release/examples/pingpong" "${args[@]}" ;;
    esac | sed "s/^/$r $prog /" >>"$out"
  done
done
echo "# load after: $(cut -d' ' -f1-3 /proc/loadavg)"
python3 - "$out" <<'PY'
import statistics, sys
t = {}
for line in open(sys.argv[1]):
    f = line.split()
    t.setdefault(f[1], {})[int(f[0])] = float(f[5])
c = t["c-init"]
print(f"{'program':<22} {'median time':>12} {'ratio to C MPI_Init':>20} {'middle half':>16}")
for prog in ["c-init", "default", "single", "multiple"]:
    ratios = sorted(t[prog][r] / c[r] for r in t[prog] if r in c)
    q = len(ratios) // 4
    name = {"c-init": "C, MPI_Init", "default": "mpi4rs default"}.get(prog, f"mpi4rs {prog}")
    print(f"{name:<22} {statistics.median(t[prog].values())*1e6:>9.3f} us {statistics.median(ratios):>20.3f} "
          f"{ratios[q]:>7.3f} .. {ratios[-1-q]:.3f}")
PY
