#!/usr/bin/env bash
# Checks that every C++ source in the repository is formatted as .clang-format says; prints
# the files that are not (fix them with clang-format -i FILE) and exits 1 if there is one.
#
#   bash scripts/check-format.sh [CLANG_FORMAT]      (default: clang-format)
set -euo pipefail
cd "$(dirname "$0")/.."
clang_format=${1:-clang-format}
unformatted=()
while read -r file; do
  if ! "$clang_format" --dry-run -Werror "$file" >/dev/null 2>&1; then unformatted+=("$file"); fi
done < <(git ls-files '*.cpp' '*.hpp')
if [ ${#unformatted[@]} -ne 0 ]; then
  printf 'check-format: not formatted: %s\n' "${unformatted[@]}"
  echo "check-format: run clang-format -i on them"
  exit 1
fi
echo "check-format: every C++ file is formatted"
