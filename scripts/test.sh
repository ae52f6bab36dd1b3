#!/usr/bin/env bash
# Sets everything up on a fresh Debian 12 machine and runs every test:
# installs missing packages, builds in Release and runs the suite with ctest.
set -euo pipefail
cd "$(dirname "$0")/.."

bash scripts/install-deps.sh
jobs=$(nproc)

cmake -S . -B build/release -DCMAKE_BUILD_TYPE=Release
cmake --build build/release -j"$jobs"
ctest --test-dir build/release --output-on-failure -j"$jobs"
