#!/usr/bin/env bash
# Installs the Debian 12 packages lavr needs (skipped when all are present) and builds into build/.
# Usage: bash scripts/setup.sh [extra cmake options, e.g. -DLAVR_CUDA=OFF]
set -euo pipefail
cd "$(dirname "$0")/.."

packages=(build-essential cmake pkg-config
          openmpi-bin libopenmpi-dev
          libhdf5-dev hdf5-tools
          ffmpeg libavformat-dev libavcodec-dev libavutil-dev libswscale-dev libswresample-dev
          libsndfile1-dev libsamplerate0-dev libssl-dev espeak-ng
          python3-sentencepiece) # tests/tokenizer/sp_compare.py: lavr tokenize against SentencePiece
# Slurm + MUNGE only where asked (CI sets it): tests/slurm/requeue.sh starts a private Slurm with them
if [ "${LAVR_SETUP_SLURM:-0}" = 1 ]; then packages+=(slurm-wlm munge); fi
missing=()
for p in "${packages[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if [ ${#missing[@]} -gt 0 ]; then
  echo "setup: installing ${missing[*]}"
  SUDO=""
  [ "$(id -u)" -ne 0 ] && SUDO=sudo
  $SUDO apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi

cmake -S . -B build -DCMAKE_BUILD_TYPE=Release "$@" >/dev/null
cmake --build build -j"$(nproc)"
echo "setup: built build/lavr"
