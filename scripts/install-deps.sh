#!/usr/bin/env bash
# Installs weft's build, test and benchmark dependencies (Debian 12 packages) if any
# is missing. Needs root (or sudo) only when something is missing.
set -euo pipefail

packages=(meson ninja-build g++ clang libclang-rt-14-dev pkg-config python3
          libboost-dev libgtest-dev libgmock-dev libbenchmark-dev libtbb-dev relacy-dev)

missing=()
for p in "${packages[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
[ ${#missing[@]} -eq 0 ] && exit 0

echo "weft: installing missing packages: ${missing[*]}"
sudo=""
if [ "$(id -u)" -ne 0 ]; then
  command -v sudo >/dev/null || { echo "weft: need root to install: ${missing[*]}" >&2; exit 1; }
  sudo="sudo"
fi
export DEBIAN_FRONTEND=noninteractive
$sudo apt-get update -qq
$sudo apt-get install -y -qq --no-install-recommends "${missing[@]}"
