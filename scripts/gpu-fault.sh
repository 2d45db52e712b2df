#!/usr/bin/env bash
# On the GPU machine (developer tool): a DiT rank's run-time failure on CUDA ends the job with one line
# (docs/errors.md): tp=1 on one GPU, and tp=2 over NCCL on two GPUs with either tp rank failing as its forward
# starts (the peer then waits in an NCCL all-reduce: lavr_nccl_sync must see the fault notice and abort).
# Usage: bash scripts/gpu-fault.sh  (builds build-gpu-fault with FFmpeg and libsndfile when found; logs under $OUT)
set -u
cd "$(dirname "$0")/.."
O=${OUT:-$PWD/gpu-out}; mkdir -p "$O"
CUDNN=$(python3 -c "import nvidia.cudnn as c; print(list(c.__path__)[0])" 2>/dev/null || echo /usr/local/cuda)
export LD_LIBRARY_PATH=$CUDNN/lib:/usr/local/cuda/lib64:${LD_LIBRARY_PATH:-}
export OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1 NCCL_NVLS_ENABLE=0
B=build-gpu-fault
cmake -S . -B $B -DCMAKE_BUILD_TYPE=Release -DCMAKE_CUDA_COMPILER=/usr/local/cuda/bin/nvcc -DCUDNN_ROOT="$CUDNN" \
      > "$O/fault-build.log" 2>&1 && cmake --build $B -j"$(nproc)" --target lavr >> "$O/fault-build.log" 2>&1 ||
  { tail -40 "$O/fault-build.log"; exit 1; }
grep "lavr:" "$O/fault-build.log"
L=$PWD/$B/lavr D=$O/fault
rm -rf "$D"; mkdir -p "$D"
$L init --config tiny --seed 7 -o "$D/tiny.h5" > /dev/null || exit 1
$L sample-inputs --out "$D/in" --text "Hello there. This is a short test." > /dev/null || exit 1
gpus=$(nvidia-smi -L | wc -l)
# fault NAME NP LAVR_FAIL_AT LAYOUT: exit code, the error lines, seconds from the failure to the end
fault() {
  local log=$D/$1.log t0 t1 rc
  : > "$log"
  LAVR_FAIL_AT=$3 mpirun --oversubscribe -np "$2" "$L" render --model "$D/tiny.h5" --image "$D/in/portrait.png" \
    --audio "$D/in/speech.wav" --prompt "a person talking" --size 256*256 --backend cuda --layout "$4" \
    --out "$D/$1.mp4" > "$log" 2>&1 &
  local pid=$!
  while kill -0 $pid 2>/dev/null && ! grep -qs 'LAVR_FAIL_AT: failing now' "$log"; do sleep 0.1; done
  t0=$(date +%s.%N)
  timeout 120 tail --pid=$pid -f /dev/null; wait $pid; rc=$?; t1=$(date +%s.%N)
  echo "== $1: exit $rc, ended $(awk -v a="$t0" -v b="$t1" 'BEGIN { printf "%.1f", b - a }') s after the failure"
  grep -E 'lavr: error|MPI_ABORT|Segmentation' "$log"
}
fault tp1 2 rank=0,block=1 steps=1,tp=1,pp=1
if [ "$gpus" -ge 2 ]; then
  fault tp2-rank1 3 rank=1,block=1,at=forward steps=1,tp=2,pp=1
  fault tp2-rank0 3 rank=0,block=2,at=forward steps=1,tp=2,pp=1
else
  echo "== tp2: skipped (1 GPU; run on nvidia-h200-x2)"
fi
