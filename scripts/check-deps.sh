#!/usr/bin/env bash
# Checks that every CMake package (find_package, find_dependency), imported target
# (Name::target) and program (find_program) that the CMake files of the project use is
# provided by a package that the install script installs, so that a fresh machine has it.
#
#   bash scripts/check-deps.sh [INSTALL_SCRIPT]     (default: scripts/install-deps.sh)
#   bash scripts/check-deps.sh --used               prints the names the CMake files use
#
# Prints each missing name with the file that uses it and exits 1 if there is one.
set -euo pipefail
cd "$(dirname "$0")/.."
list_used=false
if [ "${1:-}" = --used ]; then list_used=true; shift; fi
install_script=${1:-scripts/install-deps.sh}

provided=$(bash "$install_script" --table | awk '{ for (i = 3; i <= NF; ++i) print $i }' | sort -u)

cmake_files=$(git ls-files 'CMakeLists.txt' '*/CMakeLists.txt' '*.cmake' '*.cmake.in' 2>/dev/null ||
  find . -path ./build -prune -o \( -name CMakeLists.txt -o -name '*.cmake' -o -name '*.cmake.in' \) -print)

missing=0
while read -r file; do
  [ -f "$file" ] || continue
  # Comments removed, so that prose naming a package does not count.
  code=$(sed 's/#.*$//' "$file")
  names=$(
    grep -oE '(find_package|find_dependency)\([[:space:]]*[A-Za-z0-9_.-]+' <<<"$code" | sed -E 's/.*\([[:space:]]*//'
    grep -oE 'find_program\([[:space:]]*[A-Za-z0-9_]+[[:space:]]+(NAMES[[:space:]]+)?[A-Za-z0-9_.+-]+' <<<"$code" | awk '{ print $NF }'
    grep -oE '\b[A-Za-z][A-Za-z0-9_]*::[A-Za-z0-9_]+\b' <<<"$code"
  ) || true
  for name in $(sort -u <<<"$names"); do
    case "$name" in
      tapegrad | tapegrad::*) continue ;; # the project itself
    esac
    if $list_used; then echo "$name"; continue; fi
    if ! grep -qxF -- "$name" <<<"$provided"; then
      echo "check-deps: $file uses '$name', which no package in $install_script provides"
      missing=1
    fi
  done
done <<<"$cmake_files"

$list_used && exit 0
if [ "$missing" -ne 0 ]; then
  echo "check-deps: add the Debian package that provides it to the table in $install_script"
  exit 1
fi
echo "check-deps: every CMake package, imported target and program is installed by $install_script"
