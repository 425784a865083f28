#!/usr/bin/env bash
# Runs every test: the lit regression suite (dialects, importer, passes,
# drivers) and the end-to-end pytest suite against ONNX Runtime, ONNX's
# conformance tests, a benchmark smoke run, then both suites again under
# ASan + UBSan and a smoke run of each fuzz target; prints one pass/fail
# count. Exit status is non-zero if anything failed.
set -uo pipefail
cd "$(dirname "$0")/.."
scripts/setup.sh || exit 1
scripts/build.sh >/dev/null || { echo "build failed"; exit 1; }
export PATH="/usr/lib/llvm-22/bin:$PATH"

# Sums the counts of the given lit result kinds ("Passed", "Failed", ...).
lit_count() { echo "$1" | awk -v kinds="$2" '
  BEGIN { n = split(kinds, k, ",") }
  { for (i = 1; i <= n; i++) if ($1 == k[i] ":") s += $2 }
  END { print s + 0 }'; }
# Sums pytest's "N passed" / "N failed" / "N error(s)" summary counts.
py_count() { echo "$1" | tail -n 1 | grep -oE "[0-9]+ ($2)" | awk '{ s += $1 } END { print s + 0 }'; }

echo "== lit (build/test)"
lit_out=$(lit -sv build/test 2>&1); lit_rc=$?
echo "$lit_out" | grep -E "^(FAIL|UNRESOLVED|XPASS|TIMEOUT):" || true
lit_pass=$(lit_count "$lit_out" "Passed")
lit_fail=$(lit_count "$lit_out" "Failed,Unresolved,Timed Out,Unexpectedly Passed")

# Every model a test compiles for the CPU is also compiled with
# --target=cuda (ptxas for sm_80 and sm_90; no GPU needed): conftest.py.
# Alongside it (the two share the machine's cores; each pytest is mostly
# one compiler process at a time), the GPU device mapping run on the host
# (--x-gpu-emulate): the suites that compile and run models
# (test/Integration/model-suites.txt), each output against ONNX Runtime
# again.
echo "== pytest (test/Integration), and the GPU device mapping emulated on the CPU alongside"
mkdir -p build/test-logs
SPARSA_CHECK_CUDA=1 .venv/bin/python -m pytest test/Integration -q -p no:cacheprovider \
  --basetemp=build/test-logs/tmp-main >build/test-logs/pytest.log 2>&1 &
py_pid=$!
SPARSA_TEST_GPU=emulate .venv/bin/python -m pytest -q -p no:cacheprovider \
  --basetemp=build/test-logs/tmp-emulate $(cat test/Integration/model-suites.txt) \
  >build/test-logs/pytest-emulate.log 2>&1 &
emu_pid=$!
wait $py_pid; py_rc=$?
wait $emu_pid; emu_rc=$?
py_out=$(cat build/test-logs/pytest.log)
emu_out=$(cat build/test-logs/pytest-emulate.log)
echo "$py_out" | grep -E "^(FAILED|ERROR)" || true
echo "$py_out" | tail -n 1
py_pass=$(py_count "$py_out" "passed")
py_fail=$(py_count "$py_out" "failed|errors?")
echo "-- emulated GPU device mapping"
echo "$emu_out" | grep -E "^(FAILED|ERROR)" || true
echo "$emu_out" | tail -n 1
py_pass=$((py_pass + $(py_count "$emu_out" "passed")))
py_fail=$((py_fail + $(py_count "$emu_out" "failed|errors?")))
[ $emu_rc -eq 0 ] || py_rc=1

# ONNX's backend node tests of every targeted op: one gate on the pass
# rate (the per-case table is written to build/conformance.md).
echo "== ONNX conformance (floor 95 %)"
conf_out=$(.venv/bin/python -m sparsa.conformance --out build/conformance.md \
  --json build/conformance.json --min-pass-rate 0.95 2>&1); conf_rc=$?
echo "$conf_out" | tail -n 1
conf_pass=$((conf_rc == 0 ? 1 : 0))
conf_fail=$((conf_rc == 0 ? 0 : 1))

# The benchmark harness at its smoke size: it must run end to end and
# match ONNX Runtime; its timings are printed, never asserted.
echo "== benchmark smoke (no timing assertions)"
bench_out=$(.venv/bin/python -m sparsa.bench --suite smoke --iters 3 --threads 1,2 \
  --out build/bench 2>&1); bench_rc=$?
echo "$bench_out" | grep -E "^(error|wrote)" || echo "$bench_out" | tail -n 5
conf_pass=$((conf_pass + (bench_rc == 0 ? 1 : 0)))
conf_fail=$((conf_fail + (bench_rc == 0 ? 0 : 1)))

# ASan + UBSan: a sanitized build (build-asan/), lit and the end-to-end
# suite under it, and a one-minute smoke run of each fuzz target
# (docs/reliability.md).
san_out=$(scripts/test-sanitized.sh 2>&1); san_rc=$?
echo "$san_out" | grep -vE "^SANITIZED:"
san_pass=$(echo "$san_out" | tail -n 1 | grep -oE "[0-9]+ passed" | grep -oE "[0-9]+")
san_fail=$(echo "$san_out" | tail -n 1 | grep -oE "[0-9]+ failed" | grep -oE "[0-9]+")
san_pass=${san_pass:-0}
san_fail=${san_fail:-0}
[ $san_rc -ne 0 ] && [ "$san_fail" -eq 0 ] && san_fail=1

pass=$((lit_pass + py_pass + conf_pass + san_pass))
fail=$((lit_fail + py_fail + conf_fail + san_fail))
if [ $lit_rc -ne 0 ] || [ $py_rc -ne 0 ] || [ $conf_rc -ne 0 ] || [ $bench_rc -ne 0 ] ||
   [ $san_rc -ne 0 ]; then
  [ "$fail" -eq 0 ] && fail=1
  echo "TESTS: $pass passed, $fail failed (lit $lit_pass passed / $lit_fail failed, pytest $py_pass passed / $py_fail failed, conformance and bench gates $conf_pass passed / $conf_fail failed, sanitized $san_pass passed / $san_fail failed)"
  exit 1
fi
echo "TESTS: $pass passed, 0 failed (lit $lit_pass, pytest $py_pass, conformance and bench gates 2, sanitized lit + pytest + fuzz smoke $san_pass)"
