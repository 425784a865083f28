#!/usr/bin/env bash
# The GPU checks, in one call, on a machine with an NVIDIA GPU and driver:
#   1. build (or reuse build/) and check the GPU is visible;
#   2. the end-to-end suites with every model compiled --target=cuda and run
#      on the GPU, each output compared with ONNX Runtime (CPU);
#   3. the GPU benchmarks (GEMV / GEMM bandwidth and TFLOP/s against the
#      device's peak).
# Results go to ${OUT:-out/gpu-check}: pytest.log, gpu_bench.md.
# Exit status: non-zero when a test fails or no GPU is usable.
set -uo pipefail
cd "$(dirname "$0")/.."
OUT="${OUT:-out/gpu-check}"
mkdir -p "$OUT"
PY="${PYTHON:-.venv/bin/python}"
[ -x "$PY" ] || PY=python3

if [ ! -x build/bin/sparsa-compile ]; then
  scripts/build.sh || exit 1
fi
if ! "$PY" -c 'import ctypes; ctypes.CDLL("libcuda.so.1")' 2>/dev/null; then
  echo "gpu-check: no CUDA driver (libcuda.so.1) on this machine" >&2
  exit 2
fi
command -v nvidia-smi >/dev/null && nvidia-smi -L | tee "$OUT/gpus.txt"

status=0
# The suites whose tests compile and run models (the CPU-only ones, e.g.
# the importer's error messages or the profiler, are left to the CPU run).
SUITES=$(cat test/Integration/model-suites.txt)
SPARSA_TEST_GPU=cuda timeout "${TEST_TIMEOUT:-420}" "$PY" -m pytest $SUITES -q \
  -p no:cacheprovider --maxfail=20 -o addopts="" 2>&1 | tee "$OUT/pytest.log" | tail -30
[ "${PIPESTATUS[0]}" -eq 0 ] || status=1

PYTHONPATH=python timeout "${BENCH_TIMEOUT:-300}" "$PY" -m sparsa.bench --gpu \
  --out "$OUT" --iters 20 || status=1
exit $status
