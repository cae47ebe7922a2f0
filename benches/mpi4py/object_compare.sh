#!/usr/bin/env bash
# Object messaging against mpi4py's pkl5, side by side: the Rust and Python programs run
# alternately, ROUNDS times each, on the same MPI; printed: each round's times and, per case,
# the median over rounds of (object time / that program's own buffer time, paired within each
# iteration) and of (mpi4rs object time / pkl5 object time).
#
#   bash benches/mpi4py/object_compare.sh [ROUNDS] [ITERS]          # Open MPI
#   MPI=mpich bash benches/mpi4py/object_compare.sh [ROUNDS] [ITERS] # MPICH
#
# mpi4py must be built against the same MPI (`MPICC=mpicc pip install --no-binary mpi4py
# mpi4py`, plus numpy); for MPICH, a separate environment built with MPICC=mpicc.mpich
# (PYTHON=... names its interpreter).
set -euo pipefail
cd "$(dirname "$0")/../.."
source ci/env.sh
ROUNDS="${1:-5}"
ITERS="${2:-10}"
PYTHON="${PYTHON:-python3}"
if [ "${MPI:-openmpi}" = mpich ]; then mpich_env; fi
MPIEXEC="${MPIEXEC:-mpiexec}"
exe=$(cargo bench --bench object_compare --no-run --message-format=json 2>/dev/null \
  | "$PYTHON" -c 'import sys, json
for line in sys.stdin:
    m = json.loads(line)
    if m.get("reason") == "compiler-artifact" and m["target"]["name"] == "object_compare" and m.get("executable"):
        print(m["executable"])')
"$PYTHON" -c 'import mpi4py, numpy; from mpi4py import MPI; print("mpi4py", mpi4py.__version__, "on", MPI.Get_library_version().splitlines()[0])'
out=$(mktemp)
for r in $(seq "$ROUNDS"); do
  for mode_np in pingpong:2 gather:4; do
    mode=${mode_np%:*}; np=${mode_np#*:}
    "$MPIEXEC" -n "$np" "$exe" "$mode" "$ITERS" | sed "s/^/$r /" | tee -a "$out"
    "$MPIEXEC" -n "$np" "$PYTHON" benches/mpi4py/object_compare.py "$mode" "$ITERS" | sed "s/^/$r /" | tee -a "$out"
  done
done
"$PYTHON" - "$out" <<'PY'
import sys, collections
t = collections.defaultdict(dict)   # (lib, mode, case) -> {round: (seconds, paired ratio to buffer)}
for line in open(sys.argv[1]):
    r, lib, mode, case, s, ratio = line.split()
    t[(lib, mode, case)][int(r)] = (float(s), float(ratio))
def med(v):
    v = sorted(v); return v[len(v) // 2]
print("\ncase | mpi4rs/buffer | pkl5/buffer | mpi4rs ms | pkl5 ms | mpi4rs/pkl5 (time) -- medians over rounds; x/buffer: paired within a program")
for mode, cases in (("pingpong", ["object", "object-no-prefault"]), ("gather", ["object-ref", "object-clone"])):
    for case in cases:
        rs = t[("mpi4rs", mode, case)]
        py = t[("pkl5", mode, "object" if mode == "pingpong" else "object-ref")]
        rounds = sorted(set(rs) & set(py))
        print(f"{mode} {case} | {med([rs[r][1] for r in rounds]):.2f} | {med([py[r][1] for r in rounds]):.2f} | "
              f"{med([rs[r][0] for r in rounds]) * 1e3:.1f} | {med([py[r][0] for r in rounds]) * 1e3:.1f} | "
              f"{med([rs[r][0] / py[r][0] for r in rounds]):.2f}")
PY
rm -f "$out"
