#!/usr/bin/env bash
# On a GPU machine (developer tool): the planner against the device, rank by rank. Runs `lavr bench` for the single
# GPU layouts and, with --only-rank, every DiT rank of the 4 x 24 GB layouts (capped at 22 GiB) and one of 4 x 80 GB
# on this machine's GPU 0, and prints each rank's measured whole-device need (arena peak + what lives outside the
# arena) next to the plan. Then the busiest GPU of the 4 x 22 GiB plan as the render fills it: its DiT rank and the aux's
# VAE as two processes on one GPU, each with the cap the plan gives it, and nvidia-smi's peak of the whole device.
# Build first (bash scripts/gpu-check.sh builds build-gpu/). Logs under $OUT.
# Usage: bash scripts/plan-check.sh [lavr binary, default build-gpu/lavr]
set -u
cd "$(dirname "$0")/.."
L=${1:-build-gpu/lavr}
O=${OUT:-$PWD/gpu-out}; mkdir -p "$O"
CUDNN=$(python3 -c "import nvidia.cudnn as c; print(list(c.__path__)[0])" 2>/dev/null || echo /usr/local/cuda)
export LD_LIBRARY_PATH=$CUDNN/lib:/usr/local/cuda/lib64:${LD_LIBRARY_PATH:-}
export OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1 NCCL_NVLS_ENABLE=0 CUDA_VISIBLE_DEVICES=${CUDA_VISIBLE_DEVICES:-0}
B="mpirun -np 1 $L bench --config s2v-14b --size 704*384 --blocks 8 --warmup 5"
{ nvidia-smi --query-gpu=name,memory.total,driver_version --format=csv; git log --oneline -1; } > "$O/plan-machine.txt" 2>&1
"$L" plan --gpus 4 --gpu-mem 22GiB > "$O/plan-4x22.txt" 2>&1
run() { # run NAME ARGS...: one bench; its rank line (and the outside-the-arena breakdown) printed with the name
  local name=$1 log="$O/plan-$1.log"
  shift
  echo "== $name: $B $*" > "$log"
  timeout 300 $B "$@" >> "$log" 2>&1
  local rc=$?
  cat "$log" >> "$O/plan-check.log"
  printf '%-18s rc %d %s\n' "$name" "$rc" "$(grep -E '^ +[0-9]+ +[0-9]+ +[0-9]+ +[0-9]+ +[0-9]+-[0-9]+ ' "$log" | head -1)"
  grep -E '^outside the arena|lavr: error' "$log" | sed "s/^/                   /"
}
echo "columns: rank stage tp device steps ms/step plan min max prefill weights arena-pk plan outside plan dev-need plan ratio"
run bf16-steps1 --layout steps=1,tp=1,pp=1,aux=0
run fp8-steps1 --layout steps=1,tp=1,pp=1,aux=0 --fp8
run fp8-contiguous --layout steps=1,tp=1,pp=1,aux=0 --fp8 --sink contiguous
for r in 0 1 2 3; do run "4x22-tp2pp2-r$r" --layout steps=1,tp=2,pp=2,aux=0 --fp8 --gpu-mem 22GiB --only-rank $r; done
run 4x22-tp4-r0 --layout steps=1,tp=4,pp=1,aux=0 --fp8 --gpu-mem 22GiB --only-rank 0
run 4x22-pp3-r0 --layout steps=1,tp=1,pp=3,aux=0 --fp8 --gpu-mem 22GiB --only-rank 0
run 4x80-steps4-r3 --layout steps=4,tp=1,pp=1,aux=0 --gpu-mem 76GiB --only-rank 3
for r in 0 1 3; do run "4x22-split-r$r" --layout steps=2,tp=1,pp=2,aux=0,layers=22+18 --fp8 --gpu-mem 22GiB --only-rank $r; done

# GPU 3 of steps=2,tp=1,pp=2,aux=1,layers=22+18 --fp8 under 22 GiB: DiT rank 3 (plan 17.72 GiB whole device) and the
# aux (plan 4.04 GiB) share 0.24 GiB of slack: rank 3 may use 17.84 GiB, the aux's arena 3.26 + 0.12 GiB
smi="$O/beside-smi.txt"
nvidia-smi --query-gpu=memory.used --format=csv,noheader,nounits -i 0 -lms 100 > "$smi" 2>&1 &
spid=$!
timeout 300 $B --layout steps=2,tp=1,pp=2,aux=0,layers=22+18 --fp8 --gpu-mem 17.84GiB --only-rank 3 > "$O/beside-dit.log" 2>&1 &
dpid=$!
timeout 300 "$L" bench --vae --gpu-mem 3.38GiB --blocks 12 > "$O/beside-vae.log" 2>&1
vrc=$?
wait $dpid
drc=$?
kill $spid 2>/dev/null
peak=$(sort -n "$smi" | tail -1)
echo "beside: DiT rank 3 rc $drc, aux VAE rc $vrc, whole-device peak ${peak} MiB of 22528 (22 GiB)"
grep -E '^ +3 +1 ' "$O/beside-dit.log" | head -1
grep -E '^decode: (5|[0-9]+) blocks|peak device memory' "$O/beside-vae.log"
