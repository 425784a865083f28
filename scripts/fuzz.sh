#!/usr/bin/env bash
# Runs the libFuzzer targets of the sanitized build (scripts/build.sh
# --sanitize): first every committed regression input of each target
# (fuzz/regressions/TARGET/), then SECONDS of fuzzing per target, two at a
# time, from the seed corpus (test models, fuzz/make_seeds.py) plus what
# earlier runs kept in build-asan/fuzz/corpus/TARGET. Findings are written to
# build-asan/fuzz/findings/; exit status 1 if any target found something.
#   scripts/fuzz.sh [SECONDS] [TARGET...]      (default 60 s, all four)
# FUZZ_SEED (default 0: a random seed each run) fixes libFuzzer's seed; the
# test command's smoke run uses 1, so that CI repeats a run made here.
set -uo pipefail
cd "$(dirname "$0")/.."
secs=${1:-60}
shift || true
targets=("$@")
[ ${#targets[@]} -eq 0 ] && targets=(sparsa-fuzz-onnx-proto sparsa-fuzz-onnx-text
                                     sparsa-fuzz-compile sparsa-fuzz-runtime)
B=build-asan
F=$B/fuzz
mkdir -p "$F/corpus" "$F/findings" "$F/logs"
# (allow_user_poisoning=0: see scripts/test-sanitized.sh.)
export ASAN_OPTIONS=${ASAN_OPTIONS:-abort_on_error=1:detect_leaks=1:allocator_may_return_null=1:verify_asan_link_order=0:allow_user_poisoning=0}
export UBSAN_OPTIONS=${UBSAN_OPTIONS:-print_stacktrace=1:halt_on_error=1}

.venv/bin/python fuzz/make_seeds.py "$F/seeds" . || { echo "fuzz: cannot write seeds"; exit 1; }
# The runtime target runs fuzz/runtime-model.onnxtxt, compiled by the
# sanitized compiler.
export SPARSA_FUZZ_MODEL=$F/runtime-model.so
ASAN_OPTIONS=detect_leaks=0:verify_asan_link_order=0:allow_user_poisoning=0 $B/bin/sparsa-compile fuzz/runtime-model.onnxtxt \
  -o "$SPARSA_FUZZ_MODEL" || { echo "fuzz: cannot compile the runtime model"; exit 1; }

run_target() {
  local t=$1 log=$F/logs/$1.log
  local corpus=$F/corpus/$t
  mkdir -p "$corpus"
  local seeds=()
  [ -d "$F/seeds/$t" ] && seeds=("$F/seeds/$t")
  if [ -d "fuzz/regressions/$t" ] && [ -n "$(ls -A "fuzz/regressions/$t")" ]; then
    if ! $B/bin/$t fuzz/regressions/$t/* >"$log.regressions" 2>&1; then
      echo "$t: a regression input fails again ($log.regressions)"
      return 1
    fi
  fi
  $B/bin/$t -seed="${FUZZ_SEED:-0}" -max_total_time="$secs" -timeout=60 -rss_limit_mb=4096 -max_len=16384 \
    -print_final_stats=1 -artifact_prefix="$F/findings/$t-" \
    "$corpus" "${seeds[@]}" >"$log" 2>&1
  local rc=$?
  local execs
  execs=$(grep -oE "stat::number_of_executed_units: *[0-9]+" "$log" | grep -oE "[0-9]+$" | tail -n 1)
  if [ $rc -ne 0 ]; then
    echo "$t: FINDING after ${execs:-?} executions ($log; inputs in $F/findings/)"
    grep -E "^(==|SUMMARY|sparsa-fuzz finding|.*runtime error)" "$log" | head -5
    return 1
  fi
  echo "$t: ${execs:-?} executions in ${secs}s, no finding"
}

status=0
pids=()
for t in "${targets[@]}"; do
  run_target "$t" &
  pids+=($!)
  if [ ${#pids[@]} -ge 2 ]; then
    wait "${pids[0]}" || status=1
    pids=("${pids[@]:1}")
  fi
done
for p in "${pids[@]}"; do wait "$p" || status=1; done
exit $status
