#!/usr/bin/env bash
# Installs the Debian packages floq needs, if any is missing. Needs root (apt-get).
set -euo pipefail
pkgs=(build-essential pkg-config openmpi-bin libopenmpi-dev libopenblas-dev libmsgpack-dev
      libmujoco-dev zlib1g-dev libzip-dev libhdf5-dev gnuplot-nox valgrind slurm-wlm
      clang libclang-rt-14-dev)
missing=()
for p in "${pkgs[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed' || missing+=("$p")
done
if [ ${#missing[@]} -eq 0 ]; then
  echo "setup: all ${#pkgs[@]} packages present"
  exit 0
fi
if [ "$(id -u)" -ne 0 ]; then
  echo "setup: missing packages: ${missing[*]}; run 'sudo make setup' or install them with apt-get" >&2
  exit 1
fi
echo "setup: installing ${missing[*]}"
export DEBIAN_FRONTEND=noninteractive
apt-get update -q
apt-get -o DPkg::Lock::Timeout=600 install -y -q "${missing[@]}"
