#!/usr/bin/env bash
# Builds the CPU double of the CUDA driver (cuda_double.c, tests only) as libcuda.so and
# libcuda.so.1 in DIR (default: $CARGO_TARGET_DIR/cuda-double, else target/cuda-double) and
# prints DIR: put it first in LD_LIBRARY_PATH and cudarc loads the double instead of a driver.
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
dir="${1:-${CARGO_TARGET_DIR:-$here/../../target}/cuda-double}"
mkdir -p "$dir"
src="$here/cuda_double.c"
if [ ! -f "$dir/libcuda.so.1" ] || [ "$src" -nt "$dir/libcuda.so.1" ]; then
  ${CC:-gcc} -std=c11 -O2 -g -Wall -Wextra -Werror -fPIC -shared -fvisibility=hidden -pthread \
    -Wl,-soname,libcuda.so.1 -o "$dir/libcuda.so.1" "$src"
fi
ln -sf libcuda.so.1 "$dir/libcuda.so"
cd "$dir" && pwd
