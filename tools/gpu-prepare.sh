#!/usr/bin/env bash
# Prepares the GPU checks for a machine that has an NVIDIA GPU but cannot
# build Sparsa (no LLVM/MLIR 22 there, e.g. the lent H200 machine): runs the
# end-to-end suites here with every model also compiled --target=cuda and
# the GPU benchmark's models compiled, all recorded as prebuilt libraries
# (SPARSA_PREBUILT_MODE=record, python/sparsa/_compiler.py). Writes
# out/gpu-carry/: prebuilt.tar.xz and libsparsa_runtime.so. There,
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
# The carried files must fit the device tool's 64 MiB: recordings whose
# estimated compressed size is over CAP_MB are replaced by an omitted.txt,
# and their tests are reported as skipped there, with that reason.
"$PY" - "$REC/prebuilt" "${CAP_MB:-6}" <<'PYEOF' || status=1
import os, sys, zlib
root, cap = sys.argv[1], float(sys.argv[2]) * 2**20
omitted = 0
for key in sorted(os.listdir(root)):
    entry = os.path.join(root, key)
    estimate = 0
    for name in os.listdir(entry):
        path = os.path.join(entry, name)
        size = os.path.getsize(path)
        with open(path, "rb") as f:
            sample = f.read(4 << 20)
        estimate += size * len(zlib.compress(sample, 1)) / max(1, len(sample))
    if estimate > cap:
        for name in os.listdir(entry):
            os.remove(os.path.join(entry, name))
        with open(os.path.join(entry, "omitted.txt"), "w") as f:
            f.write(f"about {estimate / 2**20:.0f} MiB compressed, over the {cap / 2**20:.0f} "
                    "MiB a recording may take in the carried bundle (tools/gpu-prepare.sh)")
        omitted += 1
print(f"gpu-prepare: {omitted} recordings too large to carry, omitted")
PYEOF
tar -C "$REC" -cf - prebuilt | xz -T2 -6 > "$CARRY/prebuilt.tar.xz" || status=1
cp build/lib/libsparsa_runtime.so "$CARRY/" || status=1
echo "gpu-prepare: $(ls "$REC/prebuilt" | wc -l) recorded compiles, $(du -sh "$CARRY" | cut -f1) in $CARRY"
exit $status
