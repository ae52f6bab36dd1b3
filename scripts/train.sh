#!/usr/bin/env bash
# Sets everything up on a fresh Debian 12 machine and runs the main job: installs missing
# packages (Fashion-MNIST among them), builds in Release and trains the default MLP.
# Extra arguments go to tapegrad-train (see --help).
set -euo pipefail
cd "$(dirname "$0")/.."

bash scripts/install-deps.sh
cmake -S . -B build/release -DCMAKE_BUILD_TYPE=Release
cmake --build build/release -j"$(nproc)" --target tapegrad-train
exec ./build/release/src/programs/tapegrad-train "$@"
