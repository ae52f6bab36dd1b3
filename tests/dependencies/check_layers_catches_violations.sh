#!/usr/bin/env bash
# scripts/check-layers.sh passes on the tree, and fails, naming the file and the include,
# on copies of it where a lower layer reaches up or into another layer's private headers.
set -euo pipefail
cd "$(dirname "$0")/../.."

bash scripts/check-layers.sh >/dev/null
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT

expect_caught() { # file, include, expected layers in the message
  rm -rf "$work/tree" && mkdir -p "$work/tree"
  cp -r src include "$work/tree/"
  sed -i "1i #include \"$2\"" "$work/tree/$1"
  if output=$(bash scripts/check-layers.sh "$work/tree"); then
    echo "check-layers passed with $1 including $2" >&2
    exit 1
  fi
  grep -qF "check-layers: $1 ($3)" <<<"$output" || {
    echo "check-layers did not name $1 including $2: $output" >&2
    exit 1
  }
}

expect_caught src/engine/tensor.cpp tapegrad/nn/module.hpp "core) includes \"tapegrad/nn/module.hpp\" (nn"
expect_caught src/optim/optimizer.cpp engine/gemm.hpp "nn) includes \"engine/gemm.hpp\" (core-private"
expect_caught src/io/npz.cpp tapegrad/tensor.hpp "data) includes \"tapegrad/tensor.hpp\" (core"
expect_caught include/tapegrad/ops.hpp tapegrad/data/loader.hpp "core) includes \"tapegrad/data/loader.hpp\" (data"
expect_caught src/distributed/distributed.cpp tapegrad/nn/module.hpp "distributed) includes \"tapegrad/nn/module.hpp\" (nn"
echo "every forbidden include tried is caught"
