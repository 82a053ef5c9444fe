#!/usr/bin/env bash
# Installs the Debian 12 packages kscprobe needs. Idempotent: only missing packages are
# installed, and `apt-get update` runs only when something is missing.
#   scripts/install-deps.sh          build and run (scripts/packages/build.txt)
#   scripts/install-deps.sh --test   also every test stage (scripts/packages/test*.txt)
set -euo pipefail
cd "$(dirname "$0")"

lists=(packages/build.txt)
if [[ "${1:-}" == "--test" ]]; then
  lists+=(packages/test*.txt)
fi
mapfile -t packages < <(cat "${lists[@]}" | sed -e 's/#.*//' -e 's/[[:space:]]//g' | grep -v '^$' | sort -u)

missing=()
for p in "${packages[@]}"; do
  if ! dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed"; then
    missing+=("$p")
  fi
done
if ((${#missing[@]})); then
  echo "Installing: ${missing[*]}"
  sudo_cmd=()
  if [[ $(id -u) -ne 0 ]]; then sudo_cmd=(sudo); fi
  "${sudo_cmd[@]}" apt-get update -q
  DEBIAN_FRONTEND=noninteractive "${sudo_cmd[@]}" apt-get install -y -q --no-install-recommends \
    "${missing[@]}"
fi
