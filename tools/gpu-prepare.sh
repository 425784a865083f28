#!/usr/bin/env bash
# Prepares the GPU checks for a machine that has an NVIDIA GPU but cannot
# build Sparsa (no LLVM/MLIR 22 there, e.g. the lent H200 machine): runs the
# end-to-end suites here with every model also compiled --target=cuda and
# the GPU benchmark's models compiled, all recorded as prebuilt libraries
# (SPARSA_PREBUILT_MODE=record, python/sparsa/_compiler.py). Writes
# out/gpu-carry/: prebuilt.tar.xz, libsparsa_runtime.so and libomp.so.5. There,
# tools/gpu-check.sh replays the recording: the same tests, run on the GPU.
# The suites here are a normal CPU run as well (each output against ONNX
# Runtime); the exit status is theirs.
set -uo pipefail
cd "$(dirname "$0")/.."
PY="${PYTHON:-.venv/bin/python}"
CARRY=out/gpu-carry
REC=out/gpu-record
rm -rf "$CARRY" "$REC"
mkdir -p "$CARRY" "$REC/prebuilt"
[ -x build/bin/sparsa-compile ] || scripts/build.sh || exit 1
export SPARSA_PREBUILT_DIR="$PWD/$REC/prebuilt" SPARSA_PREBUILT_MODE=record
status=0
SPARSA_TEST_GPU=record "$PY" -m pytest $(cat test/Integration/model-suites.txt) -q \
  -p no:cacheprovider 2>&1 | tail -5
[ "${PIPESTATUS[0]}" -eq 0 ] || status=1
PYTHONPATH=python "$PY" -m sparsa.bench --gpu --compile-only --out "$REC/bench" >/dev/null \
  || status=1
rm -rf "$REC/bench"
# The carried files must fit the device tool's 64 MiB: gpu-pack.py takes
# recordings smallest first up to a budget (of estimated compressed bytes;
# the LZMA stream also shares the weights a model's CPU and CUDA libraries
# have in common, as they are packed side by side); the others are
# replaced by an omitted.txt, and their tests are reported as skipped there.
"$PY" tools/gpu-pack.py "$REC/prebuilt" "$CARRY/prebuilt.tar.xz" "${BUDGET_MB:-200}" || status=1
cp build/lib/libsparsa_runtime.so "$CARRY/" || status=1
cp -L /usr/lib/llvm-22/lib/libomp.so.5 "$CARRY/" || status=1  # the CPU libraries' OpenMP
echo "gpu-prepare: $(ls "$REC/prebuilt" | wc -l) recorded compiles, $(du -sh "$CARRY" | cut -f1) in $CARRY"
exit $status
