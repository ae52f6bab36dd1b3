#!/usr/bin/env bash
# Sets everything up on a fresh Debian 12 machine and runs every test, fastest stage first:
#  1. the suite in a Release build (ctest), with the dependency, layering and format checks
#     and the data-parallel tests under mpirun;
#  2. the suite again in a Debug build with AddressSanitizer, UndefinedBehaviorSanitizer
#     (leak checking on) and xtensor's assertions;
#  3. the threading tests under ThreadSanitizer;
#  4. each fuzz target for a bounded time (TAPEGRAD_FUZZ_SECONDS, default 60).
# The last line counts every test of every stage that ran: "tests: N passed, M failed,
# K skipped". The first failing stage ends the run (exit 1) after printing that line.
set -uo pipefail
cd "$(dirname "$0")/.."

passed=0 failed=0 skipped=0
logs=$(mktemp -d)
trap 'echo "tests: $passed passed, $failed failed, $skipped skipped"' EXIT

# Adds the outcome of every test case in a ctest JUnit file to the counts. ctest marks both
# GTEST_SKIP and a missing executable "notrun"; only the first is a skip.
count_junit() {
  local counts
  counts=$(awk '
    /<testcase / { if (match($0, /status="[a-z]*"/)) status = substr($0, RSTART + 8, RLENGTH - 9)
                   if (status == "run") pass++; else if (status == "fail") fail++; else pending = 1; next }
    pending && /<skipped message=/ { if ($0 ~ /SKIP_REGULAR_EXPRESSION_MATCHED|Disabled/) skip++; else fail++; pending = 0 }
    END { printf "%d %d %d\n", pass, fail, skip }' "$1")
  read -r p f s <<<"$counts"
  passed=$((passed + p)) failed=$((failed + f)) skipped=$((skipped + s))
}

# Runs ctest in a build tree (extra arguments go to ctest) and counts its tests.
run_ctest() {
  local build=$1 junit
  shift
  junit="$logs/$(basename "$build").xml"
  ctest --test-dir "$build" --output-on-failure -j"$jobs" --output-junit "$junit" "$@"
  local status=$?
  if [ -f "$junit" ]; then count_junit "$junit"; elif [ $status -ne 0 ]; then failed=$((failed + 1)); fi
  return $status
}

# Runs a build step; a failure counts as one failed test and ends the run.
must() {
  "$@" || { failed=$((failed + 1)); echo "test.sh: failed: $*" >&2; exit 1; }
}

stage_done() {
  [ "$1" -eq 0 ] || { echo "test.sh: stage '$2' failed" >&2; exit 1; }
}

must bash scripts/install-deps.sh
jobs=$(nproc)
# Sanitizer builds: Debug (xtensor's assertions on) at -O1 to keep the run short, and
# without -march=native, whose AVX-512 paths in xsimd 8.1 do not compile at -O0 and are
# covered by the Release run.
sanitized=(-DCMAKE_BUILD_TYPE=Debug "-DCMAKE_CXX_FLAGS_DEBUG=-g -O1" -DTAPEGRAD_NATIVE=OFF -DTAPEGRAD_BUILD_BENCHMARKS=OFF)

echo "== Release build and tests"
must cmake -S . -B build/release -DCMAKE_BUILD_TYPE=Release -DTAPEGRAD_BUILD_TESTS=ON -DTAPEGRAD_DISTRIBUTED=ON
must cmake --build build/release -j"$jobs"
run_ctest build/release
stage_done $? release

echo "== Debug build with AddressSanitizer + UndefinedBehaviorSanitizer + XTENSOR_ENABLE_ASSERT"
must cmake -S . -B build/asan -DTAPEGRAD_SANITIZE=address,undefined -DTAPEGRAD_BUILD_TESTS=ON "${sanitized[@]}"
must cmake --build build/asan -j"$jobs"
ASAN_OPTIONS=detect_leaks=1:abort_on_error=1 UBSAN_OPTIONS=print_stacktrace=1 run_ctest build/asan
stage_done $? asan

echo "== Threading tests under ThreadSanitizer"
must cmake -S . -B build/tsan -DTAPEGRAD_SANITIZE=thread -DTAPEGRAD_BUILD_TESTS=ON -DTAPEGRAD_BUILD_PROGRAMS=OFF "${sanitized[@]}"
must cmake --build build/tsan -j"$jobs" --target engine_tests
TSAN_OPTIONS=halt_on_error=1 run_ctest build/tsan -R '^Threads\.'
stage_done $? tsan

echo "== Fuzzing"
bash scripts/fuzz.sh "${TAPEGRAD_FUZZ_SECONDS:-60}" | tee "$logs/fuzz.log"
fuzz_status=${PIPESTATUS[0]}
passed=$((passed + $(grep -c ', no findings$' "$logs/fuzz.log")))
failed=$((failed + $(grep -c ': FAILED' "$logs/fuzz.log")))
if [ "$fuzz_status" -ne 0 ] && ! grep -q ': FAILED' "$logs/fuzz.log"; then failed=$((failed + 1)); fi
stage_done "$fuzz_status" fuzz
