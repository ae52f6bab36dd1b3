#!/usr/bin/env bash
# Installs the Debian packages tapegrad needs to build, test and train, plus any named as
# arguments (scripts/bench.sh adds libtorch-dev). Idempotent: packages already present are
# left alone, and apt is only called when one is missing.
set -euo pipefail

packages=(
  cmake g++ make pkg-config
  libxtensor-dev libxtensor-blas-dev libxsimd-dev libopenblas-dev
  libfmt-dev libgtest-dev googletest libbenchmark-dev zlib1g-dev
  dataset-fashion-mnist
  "$@"
)

missing=()
for p in "${packages[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done

if [ ${#missing[@]} -eq 0 ]; then
  exit 0
fi

sudo_cmd=()
if [ "$(id -u)" -ne 0 ]; then sudo_cmd=(sudo); fi

echo "Installing: ${missing[*]}"
"${sudo_cmd[@]}" apt-get update -qq
DEBIAN_FRONTEND=noninteractive "${sudo_cmd[@]}" apt-get install -y -qq --no-install-recommends "${missing[@]}"
