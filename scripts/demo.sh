#!/usr/bin/env bash
# The demo on the embedded default: generates sample inputs, writes the tiny synthetic model,
# inspects it and shows the role layout of a 5-rank run. It grows into a render as that lands.
set -euo pipefail
cd "$(dirname "$0")/.."
mkdir -p demo
export OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1
./build/lavr sample-inputs --out demo
./build/lavr prep-image --image demo/portrait.png --size 256*256 --out demo/portrait_256.png
./build/lavr init --config tiny --seed 7 -o demo/tiny.h5
./build/lavr inspect demo/tiny.h5 --tensors=false
mpirun --oversubscribe -np 5 ./build/lavr topo --config tiny --layout steps=4,tp=1,pp=1,aux=1
echo "demo: inputs and model written to demo/"
