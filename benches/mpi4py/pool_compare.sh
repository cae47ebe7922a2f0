#!/usr/bin/env bash
# submit + result per empty task: mpi4rs::futures (examples/pool_throughput.rs) against
# mpi4py.futures (pool_compare.py), one split worker (mpiexec -n 2) and one spawned worker,
# in alternating runs. mpi4rs runs twice: at the default THREAD_SINGLE (no progress thread) and
# at THREAD_MULTIPLE (progress thread; mpi4py's default level is MULTIPLE).
#
#   bash benches/mpi4py/pool_compare.sh [ROUNDS=5] [TASKS=10000]
#
# PYTHON: a Python with mpi4py built against the same MPI (default python3), e.g.
#   python3 -m venv target/pyvenv && MPICC=mpicc target/pyvenv/bin/pip install --no-binary mpi4py mpi4py
#   PYTHON=target/pyvenv/bin/python bash benches/mpi4py/pool_compare.sh
set -euo pipefail
cd "$(dirname "$0")/../.."
ROUNDS="${1:-5}"
TASKS="${2:-10000}"
PYTHON="${PYTHON:-python3}"
source ci/env.sh
"$PYTHON" -c 'import mpi4py' 2>/dev/null || { echo "no mpi4py in $PYTHON (see the header of $0)"; exit 1; }
cargo build --release --example pool_throughput >&2
EXE="${CARGO_TARGET_DIR:-target}/release/examples/pool_throughput"
MPIEXEC="${MPIEXEC:-mpiexec}"
LAUNCH=("$MPIEXEC")
"$MPIEXEC" --version 2>/dev/null | grep -Eq "Open MPI|OpenRTE" && LAUNCH+=(--bind-to none)
PY=benches/mpi4py/pool_compare.py
out=$(mktemp -d)
trap 'rm -rf "$out"' EXIT

rust() { # mode np [env] -> us/task of submit + result
  env "${@:3}" timeout 300 "${LAUNCH[@]}" -n "$2" "$EXE" ${1:+--spawn 1} -n "$TASKS" | awk '/^submit \+ result/ {print $(NF-1)}'
}
python() { # mode np
  timeout 300 "${LAUNCH[@]}" -n "$2" "$PYTHON" "$PY" "$1" "$TASKS" | awk '/submit \+ result/ {print $7}'
}
for r in $(seq "$ROUNDS"); do
  for mode in split spawn; do
    np=2; flag=""; [ "$mode" = spawn ] && { np=1; flag=spawn; }
    rust "$flag" $np MPI4RS_RC_THREAD_LEVEL=single >> "$out/rust-$mode"
    python "$mode" $np >> "$out/mpi4py-$mode"
    rust "$flag" $np MPI4RS_RC_THREAD_LEVEL=multiple >> "$out/rust-mt-$mode"
  done
  echo "round $r done" >&2
done
median() { sort -g "$1" | awk '{a[NR]=$1} END {print (NR % 2) ? a[(NR+1)/2] : (a[NR/2] + a[NR/2+1]) / 2}'; }
echo "# submit + result, us per empty task, $TASKS tasks, $ROUNDS alternating rounds ($("$MPIEXEC" --version 2>&1 | head -1))"
printf "%-8s %-34s %-34s %-34s %s\n" worker "mpi4rs THREAD_SINGLE" "mpi4rs THREAD_MULTIPLE (thread)" "mpi4py.futures" "mpi4py / mpi4rs (single, multiple)"
for mode in split spawn; do
  a=$(median "$out/rust-$mode"); b=$(median "$out/rust-mt-$mode"); c=$(median "$out/mpi4py-$mode")
  printf "%-8s %-34s %-34s %-34s %s\n" "$mode" "$a [$(tr '\n' ' ' < "$out/rust-$mode")]" \
    "$b [$(tr '\n' ' ' < "$out/rust-mt-$mode")]" "$c [$(tr '\n' ' ' < "$out/mpi4py-$mode")]" \
    "$(awk -v a="$a" -v b="$b" -v c="$c" 'BEGIN {printf "%.0f x, %.0f x", c / a, c / b}')"
done
