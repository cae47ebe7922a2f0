# Sourced by the ci/ scripts: settings for running MPI jobs as root on a small machine.
export OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1
export OMPI_MCA_rmaps_base_oversubscribe=1 OMPI_MCA_mpi_yield_when_idle=1
export OMPI_MCA_btl_vader_single_copy_mechanism=none
# Build against MPICH instead of Open MPI: `MPI=mpich bash ci/test.sh`.
mpich_env() {
  export MPICC=mpicc.mpich MPIEXEC=mpiexec.mpich CARGO_TARGET_DIR="${CARGO_TARGET_DIR_MPICH:-target/mpich}"
}
# NVRTC for the kernel compile check: the wheel ci/install.sh put in MPI4RS_NVRTC_DIR, else one
# pip installed into this Python, else whatever MPI4RS_NVRTC already says. CI requires it
# (MPI4RS_REQUIRE_NVRTC=0 to let the compile test skip instead).
export MPI4RS_NVRTC_DIR="${MPI4RS_NVRTC_DIR:-$HOME/.cache/mpi4rs/nvrtc}"
if [ -z "${MPI4RS_NVRTC:-}" ]; then
  for f in "$MPI4RS_NVRTC_DIR"/nvidia/cuda_nvrtc/lib/libnvrtc.so.*; do
    [ -f "$f" ] && MPI4RS_NVRTC="$f" && break
  done
fi
if [ -z "${MPI4RS_NVRTC:-}" ] && command -v python3 >/dev/null; then
  MPI4RS_NVRTC="$(python3 -c '
import glob, os, site, sysconfig
dirs = {sysconfig.get_paths()[k] for k in ("purelib", "platlib")}
dirs.update(getattr(site, "getsitepackages", lambda: [])())
hits = [p for d in sorted(dirs) for p in glob.glob(os.path.join(d, "nvidia/cuda_nvrtc/lib/libnvrtc.so.*"))]
print(hits[0] if hits else "")' 2>/dev/null || true)"
fi
[ -n "${MPI4RS_NVRTC:-}" ] && export MPI4RS_NVRTC || unset MPI4RS_NVRTC
export MPI4RS_REQUIRE_NVRTC="${MPI4RS_REQUIRE_NVRTC:-1}"
