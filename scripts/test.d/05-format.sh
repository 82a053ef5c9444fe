#!/usr/bin/env bash
# clang-format (.clang-format: Google, 100 columns) over every tracked C++ file: lists the files
# it would change and fails if there is any. Fix with `clang-format -i FILE...`.
set -euo pipefail
cd "$(dirname "$0")/../.."
command -v clang-format >/dev/null || { echo "format: clang-format is missing" >&2; exit 1; }
mapfile -t files < <(git ls-files -- '*.cpp' '*.hpp')
((${#files[@]} > 0)) || { echo "format: no C++ file found by git ls-files" >&2; exit 1; }
unformatted=()
for f in "${files[@]}"; do
  if ! clang-format --dry-run --Werror "$f" >/dev/null 2>&1; then
    unformatted+=("$f")
  fi
done
if ((${#unformatted[@]})); then
  echo "format: ${#unformatted[@]} of ${#files[@]} files are not formatted by clang-format:" >&2
  printf '  %s\n' "${unformatted[@]}" >&2
  exit 1
fi
echo "format: ${#files[@]} files formatted"
