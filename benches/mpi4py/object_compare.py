"""mpi4py's half of benches/mpi4py/object_compare.sh (see object_compare.rs for the cases).

pkl5 (mpi4py.util.pkl5) sends numpy arrays out of band, as mpi4rs sends OobVec; its `recv`
allocates a fresh array per message, and `gather` takes the object by reference.
"""
import sys
import numpy as np
from mpi4py import MPI
from mpi4py.util import pkl5

world = MPI.COMM_WORLD
comm = pkl5.Intracomm(world)
me = world.Get_rank()


def median(v):
    v = sorted(v)
    return v[len(v) // 2]


def pingpong(iters):
    n = (64 << 20) >> 3
    rec = {"id": 42, "x": 1.5, "y": -2.25, "name": "pingpong", "data": np.full(n, 0.5)}
    send = np.full(n, 0.5)
    recv = np.zeros(n)
    ack = bytearray(1)
    variants = ("buffer", "object")
    times = [[] for _ in variants]
    for i in range(iters + 2):
        for v, variant in enumerate(variants):
            world.Barrier()
            t0 = MPI.Wtime()
            if me == 0:
                if variant == "buffer":
                    world.Send(send, 1, 0)
                else:
                    comm.send(rec, 1, 0)
                world.Recv(ack, 1, 1)
            elif me == 1:
                if variant == "buffer":
                    world.Recv(recv, 0, 0)
                else:
                    got = comm.recv(None, 0, 0)
                    del got
                world.Send(ack, 0, 1)
            if i >= 2:
                times[v].append(MPI.Wtime() - t0)
    return summarise(variants, times)


def summarise(variants, times):
    return [(name, median(t), median([a / b for a, b in zip(t, times[0])])) for name, t in zip(variants, times)]


def gather(iters):
    n = (16 << 20) >> 3
    size = world.Get_size()
    data = np.full(n, float(me))
    allbuf = np.zeros(n * size) if me == 0 else None
    variants = ("buffer", "object-ref")
    times = [[] for _ in variants]
    for i in range(iters + 2):
        for v, variant in enumerate(variants):
            world.Barrier()
            t0 = MPI.Wtime()
            if variant == "buffer":
                world.Gather(data, allbuf, 0)
            else:
                got = comm.gather(data, 0)
                del got
            if i >= 2:
                times[v].append(MPI.Wtime() - t0)
    return summarise(variants, times)


mode = sys.argv[1] if len(sys.argv) > 1 else "pingpong"
iters = int(sys.argv[2]) if len(sys.argv) > 2 else 10
figures = gather(iters) if mode == "gather" else pingpong(iters)
if me == 0:
    for name, t, ratio in figures:
        print(f"pkl5 {mode} {name} {t:.6f} {ratio:.4f}")
