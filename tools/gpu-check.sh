#!/usr/bin/env bash
# The GPU checks, in one call, on a machine with an NVIDIA GPU and driver:
#   1. build (or reuse build/) and check the GPU is visible; where the
#      compiler cannot be built or run (no LLVM/MLIR 22) but
#      tools/gpu-prepare.sh's out/gpu-carry/ is present, its recorded
#      libraries are replayed instead of compiling (same tests, same models);
#   2. the end-to-end suites with every model compiled --target=cuda and run
#      on the GPU, each output compared with ONNX Runtime (CPU);
#   3. the GPU benchmarks (GEMV / GEMM bandwidth and TFLOP/s against the
#      device's peak; variants of the code generator side by side), then
#      the same models once more with SPARSA_CUDA_TRACE=1: each kernel's
#      device time.
# The benchmarks run first: they are the shortest and their figures are
# kept even if the suites then run out of time.
# Results go to ${OUT:-out/gpu-check}: gpus.txt, baseline.md (copy and read
# bandwidth, cuBLAS on the same shapes: tools/gpu-baseline.py),
# gpu_bench.md, trace.log, pytest.log. SKIP_TESTS=1: the benchmarks alone.
# Python wheels in .whl/, or packages unpacked from .whl/site-*.tar.xz (e.g.
# the ONNX Runtime the suites are checked with here, where the machine's own
# is older), go first into a temporary folder put on PYTHONPATH.
# Exit status: non-zero when a test fails or no GPU is usable.
set -uo pipefail
cd "$(dirname "$0")/.."
OUT="${OUT:-out/gpu-check}"
mkdir -p "$OUT"
PY="${PYTHON:-.venv/bin/python}"
[ -x "$PY" ] || PY=python3

if compgen -G ".whl/*.whl" >/dev/null || compgen -G ".whl/site-*.tar.xz" >/dev/null; then
  mkdir -p /tmp/sparsa-site
  ! compgen -G ".whl/*.whl" >/dev/null ||
    "$PY" -m pip install -q --no-index --no-deps --no-compile --no-cache-dir --upgrade \
      --target /tmp/sparsa-site .whl/*.whl
  # (Or unpacked packages, xz-compressed to fit the carry limit.)
  for t in .whl/site-*.tar.xz; do [ -f "$t" ] && tar -xJf "$t" -C /tmp/sparsa-site; done
  export PYTHONPATH="/tmp/sparsa-site${PYTHONPATH:+:$PYTHONPATH}"
  "$PY" -c 'import onnxruntime as o; print("gpu-check: ONNX Runtime", o.__version__)'
fi

if [ -f out/gpu-carry/prebuilt.tar.xz ] && ! build/bin/sparsa-compile --version >/dev/null 2>&1; then
  REPLAY=/tmp/sparsa-gpu-replay
  rm -rf "$REPLAY" && mkdir -p "$REPLAY/lib"
  # The runtime, and the OpenMP runtime the CPU libraries need.
  cp out/gpu-carry/*.so* "$REPLAY/lib/" || exit 1
  export LD_LIBRARY_PATH="$REPLAY/lib${LD_LIBRARY_PATH:+:$LD_LIBRARY_PATH}"
  "$PY" -c 'import sys, tarfile; tarfile.open(sys.argv[1]).extractall(sys.argv[2])' \
    out/gpu-carry/prebuilt.tar.xz "$REPLAY" || exit 1
  export SPARSA_BUILD_DIR="$REPLAY" SPARSA_PREBUILT_DIR="$REPLAY/prebuilt" SPARSA_PREBUILT_MODE=replay
  echo "gpu-check: replaying $(ls "$REPLAY/prebuilt" | wc -l) recorded compiles (out/gpu-carry)"
elif [ ! -x build/bin/sparsa-compile ]; then
  scripts/build.sh || exit 1
fi
if ! "$PY" -c 'import ctypes; ctypes.CDLL("libcuda.so.1")' 2>/dev/null; then
  echo "gpu-check: no CUDA driver (libcuda.so.1) on this machine" >&2
  exit 2
fi
command -v nvidia-smi >/dev/null && nvidia-smi -L | tee "$OUT/gpus.txt"

status=0
# The device's own ceilings and cuBLAS on the same shapes (where PyTorch is).
timeout 120 "$PY" tools/gpu-baseline.py | tee "$OUT/baseline.md"
# The benchmark's libraries (up to 1 GiB of weights each) stay out of $OUT
# (in $BENCH_DIR when given, kept; else a temporary folder).
KEEP_BENCH="${BENCH_DIR:+1}"
BENCH_DIR="${BENCH_DIR:-$(mktemp -d)}"
BENCH_PATH="python${PYTHONPATH:+:$PYTHONPATH}"
PYTHONPATH="$BENCH_PATH" timeout "${BENCH_TIMEOUT:-300}" "$PY" -m sparsa.bench --gpu \
  --out "$BENCH_DIR" --markdown "$OUT/gpu_bench.md" --iters 20 --threads "$(nproc)" || status=1
# Per-kernel device times of the main cases (events around each launch).
SPARSA_CUDA_TRACE=1 PYTHONPATH="$BENCH_PATH" timeout "${TRACE_TIMEOUT:-120}" "$PY" -m sparsa.bench \
  --gpu --cases "${TRACE_CASES:-tiny_f32,gemv_f32_4k,gemv_f32_16k,gemv_f32_b8_8k,gemm_f32_4k,gemm_f32_4k/regs}" \
  --out "$BENCH_DIR" --iters 10 --threads "$(nproc)" >"$OUT/trace.log" 2>&1 || status=1
grep -E "^\| |sparsa cuda trace" "$OUT/trace.log"
[ -n "$KEEP_BENCH" ] || rm -rf "$BENCH_DIR"

# The suites whose tests compile and run models (the CPU-only ones, e.g.
# the importer's error messages or the profiler, are left to the CPU run).
SUITES=$(cat test/Integration/model-suites.txt)
PARALLEL=""
"$PY" -c 'import xdist' 2>/dev/null && PARALLEL="-n ${JOBS:-8}"
if [ -z "${SKIP_TESTS:-}" ]; then
  SPARSA_TEST_GPU=cuda timeout "${TEST_TIMEOUT:-420}" "$PY" -m pytest $SUITES -q -rs \
    -p no:cacheprovider --maxfail=20 -o addopts="" $PARALLEL 2>&1 | tee "$OUT/pytest.log" | tail -30
  [ "${PIPESTATUS[0]}" -eq 0 ] || status=1
fi

exit $status
