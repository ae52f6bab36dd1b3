#!/usr/bin/env bash
# Installs the Debian packages tapegrad needs; it needs root or sudo. Idempotent: apt is only
# called when a package is missing.
#
#   bash scripts/install-deps.sh                  build, tests, fuzzers and programs
#   bash scripts/install-deps.sh --for train      only what building and running tapegrad-train needs
#   bash scripts/install-deps.sh --for bench      everything, plus LibTorch for the comparisons
#   bash scripts/install-deps.sh --table          prints the table below (scripts/check-deps.sh reads it)
#
# Extra arguments are installed as well.
set -euo pipefail

# One package a line: its group, then what it gives the build: CMake packages (find_package),
# imported targets and programs (find_program). scripts/check-deps.sh fails when a CMake file
# uses a name that no line here provides. (Debian's oneDNN package finds OpenCL when it is
# found itself, though it only recommends the package. Debian's libzip CMake package fails
# unless the zipcmp, zipmerge and ziptool programs are installed, though libzip-dev does not
# depend on their packages. clang++ finds OpenMP only with LLVM's runtime, libomp-dev: the fuzz
# build needs it.)
table='
cmake                   build  cmake ctest
g++                     build  g++ OpenMP OpenMP::OpenMP_CXX
make                    build  make
pkg-config              build  pkg-config
libxtensor-dev          build  xtensor xtensor::use_xsimd xtensor::optimize
libxsimd-dev            build  xsimd
libopenblas-dev         build  BLAS BLAS::BLAS
libdnnl-dev             build  dnnl DNNL::dnnl
ocl-icd-opencl-dev      build  OpenCL
libfmt-dev              build  fmt fmt::fmt
zlib1g-dev              build  ZLIB ZLIB::ZLIB
libzip-dev              build  libzip libzip::zip
zipcmp                  build
zipmerge                build
ziptool                 build
libcli11-dev            build  CLI11 CLI11::CLI11
dataset-fashion-mnist   train
libgtest-dev            test   GTest GTest::gtest GTest::gtest_main
libgmock-dev            test   GTest::gmock GTest::gmock_main
libbenchmark-dev        test   benchmark benchmark::benchmark
graphviz                test   dot
libopenmpi-dev          test   MPI MPI::MPI_CXX
openmpi-bin             test   mpirun mpiexec
procps                  test   pgrep
clang                   test   clang++
clang-format            test   clang-format
libclang-rt-14-dev      test
libomp-dev              test
libtorch-dev            bench  Torch
python3                 bench  python3
'

groups=(build train test)
extra=()
while [ $# -gt 0 ]; do
  case "$1" in
    --table) printf '%s\n' "$table" | sed '/^$/d'; exit 0 ;;
    --for)
      case "${2:-}" in
        train) groups=(build train) ;;
        all) groups=(build train test) ;;
        bench) groups=(build train test bench) ;;
        *) echo "install-deps.sh: --for takes train, all or bench" >&2; exit 2 ;;
      esac
      shift 2 ;;
    *) extra+=("$1"); shift ;;
  esac
done

packages=()
while read -r package group _; do
  [ -n "$package" ] || continue
  for wanted in "${groups[@]}"; do
    if [ "$group" = "$wanted" ]; then packages+=("$package"); fi
  done
done <<<"$table"
packages+=(${extra[@]+"${extra[@]}"})

missing=()
for p in "${packages[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
[ ${#missing[@]} -eq 0 ] && exit 0

sudo_cmd=()
if [ "$(id -u)" -ne 0 ]; then sudo_cmd=(sudo); fi
echo "Installing: ${missing[*]}"
"${sudo_cmd[@]}" apt-get update -qq
DEBIAN_FRONTEND=noninteractive "${sudo_cmd[@]}" apt-get install -y -qq --no-install-recommends "${missing[@]}"
