#!/usr/bin/env bash
# Installs the Debian 12 packages kscprobe needs to build, run and test. Idempotent: only
# missing packages are installed, and `apt-get update` runs only when something is missing.
set -euo pipefail

packages=(
  g++ cmake ninja-build ccache pkg-config
  libboost1.81-dev libssl-dev prometheus-cpp-dev libspdlog-dev libfmt-dev
  libtomlplusplus-dev libcli11-dev zlib1g-dev
)
if [[ "${1:-}" == "--test" ]]; then
  # promtool (from the prometheus package) checks the exposition in the end-to-end test.
  packages+=(libgtest-dev prometheus openssl)
fi

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
