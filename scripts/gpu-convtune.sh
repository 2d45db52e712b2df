#!/usr/bin/env bash
# On the GPU machine, after scripts/gpu-check.sh built build-gpu (developer tool): the cuDNN engine record end to
# end. The GPU test (tune -> record -> preloaded context, same bytes), then `lavr bench --vae` twice with one
# --conv-record file: run 1 tunes and writes it, run 2 must time nothing, print the same SHA-256 and the tuned time.
# Usage: bash scripts/gpu-convtune.sh [extra bench args, e.g. --profile]     Prints PASS or FAIL lines; logs in $OUT.
set -u
cd "$(dirname "$0")/.."
O=${OUT:-$PWD/gpu-out}; mkdir -p "$O"
CUDNN=$(python3 -c "import nvidia.cudnn as c; print(list(c.__path__)[0])" 2>/dev/null || echo /usr/local/cuda)
export LD_LIBRARY_PATH=$CUDNN/lib:/usr/local/cuda/lib64:${LD_LIBRARY_PATH:-}
[ -x build-gpu/lavr ] || { echo "FAIL: no build-gpu/lavr (run bash scripts/gpu-check.sh first)"; exit 1; }
fail=0
timeout 600 ctest --test-dir build-gpu -R gpu_test_conv_engines_cuda --output-on-failure > "$O/convtune-test.log" 2>&1
if grep -q "100% tests passed" "$O/convtune-test.log"; then echo "PASS: gpu_test_conv_engines_cuda"
else echo "FAIL: gpu_test_conv_engines_cuda"; tail -20 "$O/convtune-test.log"; fail=1; fi
grep -E "^run [12]:" "$O/convtune-test.log"
REC="$O/conv-record.h5"; rm -f "$REC"
for run in 1 2; do
  timeout 300 ./build-gpu/lavr bench --vae --conv-record "$REC" "$@" > "$O/convtune-bench$run.log" 2>&1 ||
    { echo "FAIL: bench run $run exited $?"; tail -20 "$O/convtune-bench$run.log"; exit 1; }
  grep -E "^decode: [0-9]+ blocks|^sha256:|^conv engines:|peak device memory|^encode:" "$O/convtune-bench$run.log" |
    sed "s/^/run $run: /"
done
h1=$(grep "^sha256:" "$O/convtune-bench1.log"); h2=$(grep "^sha256:" "$O/convtune-bench2.log")
if [ -n "$h1" ] && [ "$h1" = "$h2" ]; then echo "PASS: both bench runs print the same SHA-256"
else echo "FAIL: the bench runs' SHA-256 differ"; fail=1; fi
if grep -q "^conv engines: 0 shapes chosen by timing" "$O/convtune-bench2.log"; then echo "PASS: run 2 timed nothing"
else echo "FAIL: run 2 tuned shapes the record should have held"; fail=1; fi
exit $fail
