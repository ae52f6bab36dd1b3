#!/usr/bin/env bash
# scripts/check-deps.sh passes on the project's install script, and fails, naming what is
# missing, when any package that provides a name to the CMake files is taken off its table.
set -euo pipefail
cd "$(dirname "$0")/../.."

bash scripts/check-deps.sh >/dev/null
used=$(bash scripts/check-deps.sh --used | sort -u)
copy=$(mktemp)
trap 'rm -f "$copy"' EXIT
checked=0
while read -r package group provides; do
  [ -n "$provides" ] || continue # nothing the CMake files could name (a dataset, a runtime)
  sed "/^$package[[:space:]]/d" scripts/install-deps.sh >"$copy"
  if output=$(bash scripts/check-deps.sh "$copy"); then
    # Passing is right only if no CMake file uses anything this package provides.
    for name in $provides; do
      if grep -qxF -- "$name" <<<"$used"; then
        echo "check-deps passed without $package ($group), whose $name a CMake file uses" >&2
        exit 1
      fi
    done
  elif ! grep -q "no package in $copy provides" <<<"$output"; then
    echo "check-deps failed without $package but did not say what is missing: $output" >&2
    exit 1
  fi
  checked=$((checked + 1))
done < <(bash scripts/install-deps.sh --table)
echo "removing each of $checked packages from the table is caught"
