#!/usr/bin/env bash
# Sets everything up on a fresh Debian 12 machine and runs the main job: installs the packages
# that building and training need (Fashion-MNIST among them), builds tapegrad-train in
# Release (no tests, benchmarks or fuzzers, so nothing they need can stop it) and trains.
# Extra arguments go to tapegrad-train (see --help).
set -euo pipefail
cd "$(dirname "$0")/.."

bash scripts/install-deps.sh --for train
cmake -S . -B build/train -DCMAKE_BUILD_TYPE=Release -DTAPEGRAD_BUILD_TESTS=OFF \
  -DTAPEGRAD_BUILD_BENCHMARKS=OFF -DTAPEGRAD_FUZZ=OFF -DTAPEGRAD_BUILD_PROGRAMS=ON
cmake --build build/train -j"$(nproc)" --target tapegrad-train
exec ./build/train/src/programs/tapegrad-train "$@"
