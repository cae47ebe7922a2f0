"""mpi4py.futures side of benches/mpi4py/pool_compare.sh: the cost per task of `submit` +
`result` for empty tasks (the mpi4rs side is examples/pool_throughput.rs, timed the same way:
a warm-up map of 100 tasks, then N submissions, then N results).

    mpiexec -n 2 python pool_compare.py split N     # MPICommExecutor: rank 1 is the worker
    mpiexec -n 1 python pool_compare.py spawn N     # MPIPoolExecutor(max_workers=1)
"""
import sys

from mpi4py import MPI
from mpi4py.futures import MPICommExecutor, MPIPoolExecutor


def empty(_):
    return None


def bench(executor, n):
    list(executor.map(empty, [None] * 100))  # warm-up
    start = MPI.Wtime()
    futures = [executor.submit(empty, None) for _ in range(n)]
    for f in futures:
        f.result()
    return MPI.Wtime() - start


def main():
    mode, n = sys.argv[1], int(sys.argv[2])
    if mode == "split":
        with MPICommExecutor(MPI.COMM_WORLD, root=0) as executor:
            if executor is None:
                return
            secs = bench(executor, n)
    else:
        with MPIPoolExecutor(max_workers=1) as executor:
            executor.bootup()
            secs = bench(executor, n)
    import mpi4py

    print(
        f"mpi4py {mpi4py.__version__} {mode}: submit + result {secs / n * 1e6:.3f} us/task "
        f"({n} empty tasks, thread level {MPI.Query_thread()})"
    )


if __name__ == "__main__":
    main()
