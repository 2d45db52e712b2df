#!/usr/bin/env bash
# On the GPU machine (developer tool): configures and builds lavr against the CUDA toolkit and the cuDNN that
# ships in PyTorch's wheel there, then runs the GPU tests and the named benchmarks, logging under $OUT.
# Usage: bash scripts/gpu-check.sh [tests] [bench ARGS...]...   e.g. bash scripts/gpu-check.sh tests
set -u
cd "$(dirname "$0")/.."
O=${OUT:-$PWD/gpu-out}; mkdir -p "$O"
CUDNN=$(python3 -c "import nvidia.cudnn as c; print(list(c.__path__)[0])" 2>/dev/null || echo /usr/local/cuda)
export LD_LIBRARY_PATH=$CUDNN/lib:/usr/local/cuda/lib64:${LD_LIBRARY_PATH:-}
export OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1 NCCL_NVLS_ENABLE=0
GOLDEN=${LAVR_GOLDEN_DIR:-$PWD/.golden}
{ nvidia-smi --query-gpu=name,memory.total,driver_version --format=csv; git log --oneline -1; } > "$O/machine.txt" 2>&1
cmake -S . -B build-gpu -DLAVR_FFMPEG=OFF -DLAVR_SNDFILE=OFF -DCMAKE_CUDA_COMPILER=/usr/local/cuda/bin/nvcc \
      -DCUDNN_ROOT="$CUDNN" -DLAVR_GOLDEN_DIR="$GOLDEN" > "$O/build.log" 2>&1 &&
  cmake --build build-gpu -j"$(nproc)" >> "$O/build.log" 2>&1 || { tail -40 "$O/build.log"; exit 1; }
grep "lavr:" "$O/build.log"
for step in "$@"; do
  case "$step" in
    tests) timeout 900 ctest --test-dir build-gpu -L gpu --output-on-failure -j4 > "$O/gpu-tests.log" 2>&1
           tail -25 "$O/gpu-tests.log" ;;
    *) eval "timeout 300 $step" >> "$O/bench.log" 2>&1; echo "== $step: rc $?"; tail -30 "$O/bench.log" | grep -v "^$" | tail -22 ;;
  esac
done
