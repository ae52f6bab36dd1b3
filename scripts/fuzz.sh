#!/usr/bin/env bash
# Builds the libFuzzer targets in tests/fuzz/ with clang++ (AddressSanitizer and
# UndefinedBehaviorSanitizer, library included) in build/fuzz and runs each one for a bounded
# time on a fresh copy of its seed corpus:
#
#   bash scripts/fuzz.sh [SECONDS_PER_TARGET]      (default 60)
#
# Prints one line per target with its number of executions and exits non-zero if any target
# crashed, hung, ran out of memory or reported a sanitizer error; its log and the input that
# did it stay in build/fuzz. FUZZ_BUILD_JOBS sets the build's parallelism (default: nproc).
set -euo pipefail
cd "$(dirname "$0")/.."

seconds=${1:-60}
if ! [[ "$seconds" =~ ^[1-9][0-9]*$ ]]; then
  echo "usage: bash scripts/fuzz.sh [SECONDS_PER_TARGET]" >&2
  exit 2
fi

bash scripts/install-deps.sh

# Portable code (TAPEGRAD_NATIVE=OFF) so that every machine fuzzes the same SIMD kernels, and
# xtensor's own bounds and shape checks on (TAPEGRAD_XTENSOR_ASSERT). Without AVX-512DQ,
# xsimd 8.1's exp (behind exp, tanh, sigmoid, elu, pow) converts doubles to int64 one by
# one, which clang's float-cast-overflow check flags for NaN, infinite or huge inputs even
# though x86 gives the right result; that one check is off.
build=build/fuzz
cmake -S . -B "$build" -DCMAKE_CXX_COMPILER=clang++ -DCMAKE_BUILD_TYPE=RelWithDebInfo \
  -DTAPEGRAD_SANITIZE_EXCLUDE=float-cast-overflow \
  -DTAPEGRAD_FUZZ=ON -DTAPEGRAD_SANITIZE=fuzzer-no-link,address,undefined \
  -DTAPEGRAD_XTENSOR_ASSERT=ON -DTAPEGRAD_NATIVE=OFF \
  -DTAPEGRAD_BUILD_TESTS=OFF -DTAPEGRAD_BUILD_BENCHMARKS=OFF -DTAPEGRAD_BUILD_PROGRAMS=OFF
cmake --build "$build" -j"${FUZZ_BUILD_JOBS:-$(nproc)}" --target fuzz_idx fuzz_parameters fuzz_graph

# Unless built with -fno-sanitize-recover, UBSan prints a report and carries on; halting turns
# every report into a crash that libFuzzer records.
export UBSAN_OPTIONS=halt_on_error=1:print_stacktrace=1

summary=()
failed=0
for name in idx parameters graph; do
  target=fuzz_$name
  corpus=$build/corpus/$name
  artifacts=$build/artifacts/$name
  log=$build/$target.log
  # libFuzzer adds the inputs it finds to the corpus directory: never the repository's.
  rm -rf "$corpus" "$artifacts"
  mkdir -p "$corpus" "$artifacts"
  cp tests/fuzz/corpus/"$name"/* "$corpus"/

  echo "Running $target for $seconds s (log: $log)"
  status=0
  "$build/tests/fuzz/$target" "$corpus" -max_total_time="$seconds" -max_len=4096 -timeout=10 \
    -rss_limit_mb=2048 -print_final_stats=1 -artifact_prefix="$artifacts/" >"$log" 2>&1 ||
    status=$?

  runs=$(sed -n 's/^stat::number_of_executed_units: *//p' "$log" | tail -n 1)
  if [ -z "$runs" ]; then
    runs=$(sed -n 's/^Done \([0-9]*\) runs.*/\1/p' "$log" | tail -n 1)
  fi
  if [ "$status" -eq 0 ]; then
    summary+=("$target: ${runs:-?} executions in $seconds s, no findings")
  else
    failed=1
    summary+=("$target: FAILED (exit $status) after ${runs:-?} executions; log $log, input in $artifacts/")
    tail -n 60 "$log" >&2
  fi
done

printf '%s\n' "${summary[@]}"
exit "$failed"
