#!/usr/bin/env bash
# Sets everything up on a fresh Debian 12 machine and runs every test:
#  1. the suite in a Release build (ctest);
#  2. the suite again in a Debug build with AddressSanitizer, UndefinedBehaviorSanitizer and
#     xtensor's assertions;
#  3. the threading tests under ThreadSanitizer;
#  4. each fuzz target for a bounded time (TAPEGRAD_FUZZ_SECONDS, default 60).
set -euo pipefail
cd "$(dirname "$0")/.."

bash scripts/install-deps.sh
jobs=$(nproc)
# Sanitizer builds: Debug (xtensor's assertions on) at -O1 to keep the run short, and
# without -march=native, whose AVX-512 paths in xsimd 8.1 do not compile at -O0 and are
# covered by the Release run.
sanitized=(-DCMAKE_BUILD_TYPE=Debug "-DCMAKE_CXX_FLAGS_DEBUG=-g -O1" -DTAPEGRAD_NATIVE=OFF -DTAPEGRAD_BUILD_BENCHMARKS=OFF)
logs=$(mktemp -d)

# ctest, keeping its summary for the totals at the end.
run_ctest() {
  local name=$1
  shift
  ctest "$@" --output-on-failure -j"$jobs" | tee "$logs/$name.log"
}

echo "== Release build and tests"
cmake -S . -B build/release -DCMAKE_BUILD_TYPE=Release
cmake --build build/release -j"$jobs"
run_ctest release --test-dir build/release

echo "== Debug build with AddressSanitizer + UndefinedBehaviorSanitizer + XTENSOR_ENABLE_ASSERT"
cmake -S . -B build/asan -DTAPEGRAD_SANITIZE=address,undefined "${sanitized[@]}"
cmake --build build/asan -j"$jobs"
ASAN_OPTIONS=detect_leaks=1:abort_on_error=1 UBSAN_OPTIONS=print_stacktrace=1 \
  run_ctest asan --test-dir build/asan

echo "== Threading tests under ThreadSanitizer"
cmake -S . -B build/tsan -DTAPEGRAD_SANITIZE=thread -DTAPEGRAD_BUILD_PROGRAMS=OFF "${sanitized[@]}"
cmake --build build/tsan -j"$jobs" --target engine_tests
TSAN_OPTIONS=halt_on_error=1 build/tsan/tests/engine_tests --gtest_filter='Threads.*' | tee "$logs/tsan.log"

echo "== Fuzzing"
bash scripts/fuzz.sh "${TAPEGRAD_FUZZ_SECONDS:-60}"

# One closing line over everything above (each step stops the script on a failure).
ctest_total=$(grep -h -oE 'tests passed, [0-9]+ tests failed out of [0-9]+' "$logs"/release.log "$logs"/asan.log |
  awk '{ total += $NF } END { print total }')
tsan_total=$(grep -oE '\[  PASSED  \] [0-9]+' "$logs/tsan.log" | awk '{ print $NF }')
echo "tests: $((ctest_total + tsan_total)) passed, 0 failed"
