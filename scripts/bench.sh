#!/usr/bin/env bash
# Runs the performance suite: tapegrad and LibTorch on the same workloads, alternating, in
# one go, and prints medians and ratios (docs/performance.md). Installs libtorch-dev if it
# is missing. Usage: bash scripts/bench.sh [rounds, default 3]
set -euo pipefail
cd "$(dirname "$0")/.."
rounds=${1:-3}

bash scripts/install-deps.sh --for bench
cmake -S . -B build/release -DCMAKE_BUILD_TYPE=Release -DTAPEGRAD_BENCH_LIBTORCH=ON
cmake --build build/release -j"$(nproc)" --target bench_tapegrad bench_libtorch tapegrad-train libtorch_train

bin=build/release/benchmarks
out=build/bench-results
rm -rf "$out" && mkdir -p "$out"
# LibTorch's OpenMP pool spins on 2 cores unless told to wait passively: its best setting.
export OMP_WAIT_POLICY=PASSIVE
echo "machine: $(nproc) cores, $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | xargs)"
echo "OPENBLAS_CORETYPE=${OPENBLAS_CORETYPE:-unset} OPENBLAS_L2_SIZE=${OPENBLAS_L2_SIZE:-unset} (as the environment sets them, for both)"

for round in $(seq "$rounds"); do
  echo "round $round/$rounds"
  "$bin/bench_tapegrad" --benchmark_format=json --benchmark_min_time=0.5 > "$out/tapegrad-$round.json"
  "$bin/bench_libtorch" --benchmark_format=json --benchmark_min_time=0.5 > "$out/libtorch-$round.json"
  # Peak RSS needs a process of its own per library.
  "$bin/bench_tapegrad" --benchmark_filter='BM_MlpStep/1/' --benchmark_format=json > "$out/rss-tapegrad-$round.json"
  "$bin/bench_libtorch" --benchmark_filter='BM_MlpStep/1/' --benchmark_format=json > "$out/rss-libtorch-$round.json"
  # Whole MLP runs; one CNN epoch each (a CNN epoch is ~100x an MLP epoch).
  for threads in 1 2; do
    for model in mlp cnn; do
      epochs=(); [ "$model" = cnn ] && epochs=(--epochs 1)
      build/release/src/programs/tapegrad-train --model "$model" "${epochs[@]}" --threads "$threads" \
        --out "$out/run-$model-$threads" > "$out/tapegrad-train-$model-$threads-$round.log"
      "$bin/libtorch_train" --model "$model" "${epochs[@]}" --threads "$threads" \
        > "$out/libtorch-train-$model-$threads-$round.log"
    done
  done
done

python3 benchmarks/compare.py "$out"
