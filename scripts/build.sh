#!/usr/bin/env bash
# Configures (once) and builds Sparsa in build/ with the fast configuration:
# clang-22 + lld + ccache, Release, tools linked to libMLIR.so.
set -euo pipefail
cd "$(dirname "$0")/.."
if [ ! -f build/build.ninja ]; then
  cmake -G Ninja -S . -B build \
    -DMLIR_DIR=/usr/lib/llvm-22/lib/cmake/mlir \
    -DCMAKE_BUILD_TYPE=Release \
    -DCMAKE_C_COMPILER=clang-22 -DCMAKE_CXX_COMPILER=clang++-22 \
    -DLLVM_USE_LINKER=lld -DCMAKE_CXX_COMPILER_LAUNCHER=ccache >/dev/null
fi
ninja -C build -j"${JOBS:-$(nproc)}" all mlir-doc
