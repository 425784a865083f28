#!/usr/bin/env bash
# Configures (once) and builds Sparsa with the fast configuration: clang-22 +
# lld + ccache, Release, tools linked to libMLIR.so.
#   scripts/build.sh              build/: everything and the docs
#   scripts/build.sh --sanitize   build-asan/: Sparsa's code with ASan + UBSan
#                                 (SPARSA_SANITIZE), the tools, the runtime
#                                 and the fuzz targets
set -euo pipefail
cd "$(dirname "$0")/.."
# Paths relative to the checkout in ccache's keys: clones share the cache.
export CCACHE_BASEDIR="$PWD"
dir=build
flags=()
targets=(all mlir-doc)
if [ "${1:-}" = "--sanitize" ]; then
  dir=build-asan
  flags=(-DSPARSA_SANITIZE=ON)
  targets=(sparsa-opt sparsa-compile sparsa-run sparsa_runtime mlir-doc
           sparsa-fuzz-onnx-proto sparsa-fuzz-onnx-text sparsa-fuzz-compile
           sparsa-fuzz-runtime)
fi
if [ ! -f "$dir/build.ninja" ]; then
  cmake -G Ninja -S . -B "$dir" \
    -DMLIR_DIR=/usr/lib/llvm-22/lib/cmake/mlir \
    -DCMAKE_BUILD_TYPE=Release \
    -DCMAKE_C_COMPILER=clang-22 -DCMAKE_CXX_COMPILER=clang++-22 \
    -DLLVM_USE_LINKER=lld -DCMAKE_CXX_COMPILER_LAUNCHER=ccache "${flags[@]}" >/dev/null
fi
ninja -C "$dir" -j"${JOBS:-$(nproc)}" "${targets[@]}"
