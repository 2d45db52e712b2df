#!/usr/bin/env bash
# The demo on the embedded default: generates sample inputs, writes the tiny synthetic model, shows
# the role layout of a 5-rank run and renders a talking-avatar video with it (demo/demo.mp4).
set -euo pipefail
cd "$(dirname "$0")/.."
mkdir -p demo
export OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1
# 5 ranks share the machine's cores
ncores=$(nproc)
export OMP_NUM_THREADS=$(( ncores / 5 > 0 ? ncores / 5 : 1 ))
./build/lavr sample-inputs --out demo
./build/lavr prep-image --image demo/portrait.png --size 256*256 --out demo/portrait_256.png
./build/lavr init --config tiny --seed 7 -o demo/tiny.h5
./build/lavr inspect demo/tiny.h5 --tensors=false
mpirun --oversubscribe -np 5 ./build/lavr topo --config tiny --layout steps=4,tp=1,pp=1,aux=1
# LiveAvatar's layout: 4 DiT ranks (one denoising step each) + the aux rank (encoders, VAE, MP4)
mpirun --oversubscribe -np 5 ./build/lavr render --model demo/tiny.h5 --image demo/portrait.png \
    --audio demo/speech.wav --prompt "a person talking to the camera" --size 256*256 \
    --layout steps=4,tp=1,pp=1,aux=1 --out demo/demo.mp4
echo "demo: inputs, model, video (demo/demo.mp4) and its stage directory (demo/demo.stage: latents, packet log) written to demo/"
