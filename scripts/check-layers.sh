#!/usr/bin/env bash
# Checks that dependencies point one way (src/CMakeLists.txt draws the layers): every
# #include "..." in the library's sources and headers must stay within what its layer may use.
#
#   bash scripts/check-layers.sh [ROOT]      (default: this checkout)
#
#   core         engine, ops, gradcheck (include/tapegrad/*.hpp, detail/)  uses core
#   data         data, io                                                   uses data, errors.hpp
#   nn           nn, optim                                                  uses nn, core, data
#   distributed  distributed                                                uses distributed, core
#
# A layer's private headers under src/ (engine/, ops/, io/) are its own. Programs, examples,
# tests and benchmarks sit on top and may use everything. Prints every forbidden include
# and exits 1 if there is one.
set -euo pipefail
cd "${1:-$(dirname "$0")/..}"

layer_of_file() {
  case $1 in
    src/engine/* | src/ops/* | src/gradcheck/* | include/tapegrad/detail/*) echo core ;;
    src/data/* | src/io/* | include/tapegrad/data/* | include/tapegrad/io/*) echo data ;;
    src/nn/* | src/optim/* | include/tapegrad/nn/* | include/tapegrad/optim/*) echo nn ;;
    src/distributed/* | include/tapegrad/distributed.hpp) echo distributed ;;
    include/tapegrad/*.hpp) echo core ;;
    *) echo top ;;
  esac
}

# The layer an included path belongs to; private headers are marked as such.
layer_of_include() {
  case $1 in
    tapegrad/errors.hpp) echo errors ;;
    tapegrad/detail/*) echo core ;;
    tapegrad/data/* | tapegrad/io/*) echo data ;;
    tapegrad/nn/* | tapegrad/optim/*) echo nn ;;
    tapegrad/distributed.hpp) echo distributed ;;
    tapegrad/*) echo core ;;
    engine/* | ops/* | gradcheck/*) echo core-private ;;
    io/* | data/*) echo data-private ;;
    *) echo other ;;
  esac
}

allowed() { # layer, included layer
  case "$1:$2" in
    *:errors | *:other) return 0 ;;
    core:core | core:core-private) return 0 ;;
    data:data | data:data-private) return 0 ;;
    nn:nn | nn:core | nn:data) return 0 ;;
    distributed:distributed | distributed:core) return 0 ;;
    *) return 1 ;;
  esac
}

bad=0
files=$(git ls-files 'src/*.cpp' 'src/*.hpp' 'include/*.hpp' 2>/dev/null ||
  find src include -name '*.cpp' -o -name '*.hpp')
for file in $files; do
  layer=$(layer_of_file "$file")
  [ "$layer" = top ] && continue
  while read -r included; do
    [ -n "$included" ] || continue
    target=$(layer_of_include "$included")
    if ! allowed "$layer" "$target"; then
      echo "check-layers: $file ($layer) includes \"$included\" ($target)"
      bad=1
    fi
  done < <(sed -n 's/^[[:space:]]*#[[:space:]]*include[[:space:]]*"\([^"]*\)".*/\1/p' "$file")
done
if [ "$bad" -ne 0 ]; then
  echo "check-layers: see the layers in src/CMakeLists.txt"
  exit 1
fi
echo "check-layers: every include stays within its layer's dependencies"
