#!/usr/bin/env bash
# On the GPU machine (developer tool), after `bash scripts/gpu-check.sh` built build-gpu: the device-resident DiT
# rank's tests (the device audio encoder, the device Euler step) and the CUDA engine and render tests they touch.
# Usage: bash scripts/gpu-devloop.sh   (pass: every test "Passed"; the two new tests print their measurements)
set -u
cd "$(dirname "$0")/.."
O=${OUT:-$PWD/gpu-out}; mkdir -p "$O"
CUDNN=$(python3 -c "import nvidia.cudnn as c; print(list(c.__path__)[0])" 2>/dev/null || echo /usr/local/cuda)
export LD_LIBRARY_PATH=$CUDNN/lib:/usr/local/cuda/lib64:${LD_LIBRARY_PATH:-}
export OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1 NCCL_NVLS_ENABLE=0
timeout 900 ctest --test-dir build-gpu --output-on-failure -V \
  -R 'gpu_test_dit_audio_cuda|gpu_test_dit_engine_step|gpu_test_dit_engine_cuda|gpu_test_dit_memory|gpu_test_dit_cuda$|gpu_test_render_cuda' \
  > "$O/gpu-devloop.log" 2>&1
rc=$?
grep -E "audio encoder arena|block [01]:|Euler step|velocities over|Test +#|tests passed|FAIL" "$O/gpu-devloop.log"
exit $rc
