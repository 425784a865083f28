#!/usr/bin/env bash
# The ASan + UBSan part of the test command (scripts/test.sh runs it):
# builds build-asan/ (scripts/build.sh --sanitize), then under the
# sanitizers runs the lit suite and the whole end-to-end suite (the
# importer, the bad-input list, the runtime and stress tests, every fused
# family against ONNX Runtime), then a smoke run of every fuzz target
# (scripts/fuzz.sh, FUZZ_SECONDS each, default 60, seed 1).
# Last line: "SANITIZED: P passed, F failed".
set -uo pipefail
cd "$(dirname "$0")/.."
export PATH="/usr/lib/llvm-22/bin:$PATH"
pass=0
fail=0
if ! scripts/build.sh --sanitize >/dev/null; then
  echo "sanitized build failed"
  echo "SANITIZED: 0 passed, 1 failed"
  exit 1
fi
asan_rt=$(clang-22 -print-file-name=libclang_rt.asan-x86_64.so)
# Leaks are not checked in the suites (Python and the ONNX library keep
# memory until exit); the runtime fuzz target checks them.
# allow_user_poisoning=0: LLVM's BumpPtrAllocator poisons each new slab in
# instrumented code (ours, where its inline slow path runs) and unpoisons
# what it hands out only there; the uninstrumented MLIR library then hands
# out the rest of such a slab still poisoned (use-after-poison reports on
# MLIR's own storage, seen for a StringAttr allocated after our attribute
# storage opened a slab).
export ASAN_OPTIONS=detect_leaks=0:abort_on_error=1:allocator_may_return_null=1:verify_asan_link_order=0:allow_user_poisoning=0
export UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1

echo "== lit under ASan + UBSan (build-asan/test)"
lit_out=$(lit -sv build-asan/test 2>&1); lit_rc=$?
echo "$lit_out" | grep -E "^(FAIL|UNRESOLVED|XPASS|TIMEOUT):" || true
n=$(echo "$lit_out" | awk '$1 == "Passed:" { print $2 }')
pass=$((pass + ${n:-0}))
if [ $lit_rc -ne 0 ]; then
  n=$(echo "$lit_out" | awk '$1 ~ /^(Failed|Unresolved|Timed|Unexpectedly):$/ { s += $NF } END { print s + 0 }')
  fail=$((fail + (n > 0 ? n : 1)))
fi

echo "== pytest under ASan + UBSan (test/Integration)"
# The runtime library Python loads must be the instrumented one.
if ! nm -D build-asan/lib/libsparsa_runtime.so | grep __asan_report_load >/dev/null; then
  echo "build-asan/lib/libsparsa_runtime.so is not instrumented"
  fail=$((fail + 1))
fi
# The suite in two halves run side by side (every other test file), one
# per core: each pytest is mostly one compiler or model process at a time.
mkdir -p build-asan/test-logs
files=(test/Integration/test_*.py)
half_a=() half_b=()
for i in "${!files[@]}"; do
  if (( i % 2 == 0 )); then half_a+=("${files[$i]}"); else half_b+=("${files[$i]}"); fi
done
run_half() {
  SPARSA_BUILD_DIR=build-asan LD_PRELOAD="$asan_rt" \
    .venv/bin/python -m pytest -q -p no:cacheprovider --basetemp="build-asan/test-logs/tmp-$1" \
    "${@:2}" >"build-asan/test-logs/pytest-$1.log" 2>&1
}
run_half a "${half_a[@]}" &
pid_a=$!
run_half b "${half_b[@]}" &
pid_b=$!
wait $pid_a; rc_a=$?
wait $pid_b; rc_b=$?
for h in a b; do
  py_out=$(cat "build-asan/test-logs/pytest-$h.log")
  echo "$py_out" | grep -E "^(FAILED|ERROR)|ERROR: AddressSanitizer|runtime error" || true
  echo "$py_out" | tail -n 1
  n=$(echo "$py_out" | tail -n 1 | grep -oE "[0-9]+ passed" | grep -oE "[0-9]+")
  pass=$((pass + ${n:-0}))
  n=$(echo "$py_out" | tail -n 1 | grep -oE "[0-9]+ (failed|errors?)" | awk '{ s += $1 } END { print s + 0 }')
  rc=$([ $h = a ] && echo $rc_a || echo $rc_b)
  [ "$rc" -ne 0 ] && fail=$((fail + (${n:-0} > 0 ? n : 1)))
done

echo "== fuzz smoke (${FUZZ_SECONDS:-60} s per target)"
if FUZZ_SEED=${FUZZ_SEED:-1} scripts/fuzz.sh "${FUZZ_SECONDS:-60}"; then pass=$((pass + 1)); else fail=$((fail + 1)); fi
echo "SANITIZED: $pass passed, $fail failed"
[ $fail -eq 0 ]
