#!/usr/bin/env bash
# Slurm requeue test (ctest label `slurm`): starts a private one-node Slurm (scripts/slurm-local.sh),
# submits the tiny render with slurm/render-1node.sbatch, or LAVR_SBATCH_SCRIPT (the srun variant), (2 tasks,
# steps=1, no GPUs), requeues it from
# outside once a checkpoint exists (scontrol requeue, as preemption does: TERM to the job), then sends
# the batch shell USR1 (what --signal=B:USR1@T sends before the time limit) so the ranks checkpoint,
# exit 75 and the script requeues the job. Checks that each rerun continued from a checkpoint and that
# the MP4 and latents equal an uninterrupted render's. Exit 77 (skipped) without root or without
# Debian's slurm-wlm and munge.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$here/../.." && pwd)
: "${LAVR_BIN:?set LAVR_BIN to the lavr binary}"

for c in munged mungekey slurmctld slurmd sbatch scontrol squeue h5dump; do
  command -v "$c" >/dev/null || { echo "skipped: $c not found (apt-get install slurm-wlm munge hdf5-tools)"; exit 77; }
done
[ "$(id -u)" -eq 0 ] || { echo "skipped: a private slurmd needs root"; exit 77; }

work=$(mktemp -d "${LAVR_TEST_TMP:-/tmp}/slurm-requeue.XXXXXX")
export LAVR_SLURM_DIR=$work/slurm LAVR_SLURM_PORT=${LAVR_SLURM_PORT:-16837}
export SLURM_CONF=$LAVR_SLURM_DIR/slurm.conf
export OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1 OMP_NUM_THREADS=${OMP_NUM_THREADS:-1}
ref_pid=""
cleanup() {
  [ -n "$ref_pid" ] && kill -9 "$ref_pid" 2>/dev/null
  bash "$root/scripts/slurm-local.sh" stop >/dev/null 2>&1 || true
  if [ "${LAVR_KEEP:-0}" = 1 ]; then echo "(files kept in $work)"; else rm -rf "$work"; fi
}
trap cleanup EXIT
trap 'exit 130' INT TERM
fail() {
  echo "FAIL: $*"
  echo "--- job output ($work/job.out)"; cat "$work/job.out" 2>/dev/null || true
  echo "--- checkpoints"; ls -l "$work"/stage/ckpt-* 2>/dev/null || true
  echo "--- job"; scontrol show job "${job:-0}" 2>/dev/null || true
  echo "--- slurmctld.log (tail)"; tail -n 20 "$LAVR_SLURM_DIR/log/slurmctld.log" 2>/dev/null || true
  echo "--- slurmd.log (tail)"; tail -n 20 "$LAVR_SLURM_DIR/log/slurmd.log" 2>/dev/null || true
  echo "(LAVR_KEEP=1 keeps $work)"
  exit 1
}

# the tiny render: sample speech of about 3 clips at 64*64, one checkpoint per clip
"$LAVR_BIN" sample-inputs --out "$work/in" \
  --text "Hello there. This is a short test of the resume path. It is spoken slowly, so that the speech lasts for a few clips of video." >/dev/null
"$LAVR_BIN" init --config tiny --seed 7 -o "$work/tiny.h5" >/dev/null
args=(--model "$work/tiny.h5" --image "$work/in/portrait.png" --audio "$work/in/speech.wav"
      --prompt "a person talking" --size 64*64 --num-clip 3 --progress lines)
layout=steps=1,tp=1,pp=1,aux=1

# uninterrupted reference, outside Slurm
"${LAVR_MPIEXEC:-mpirun}" --oversubscribe -np 2 "$LAVR_BIN" render "${args[@]}" --layout "$layout" \
  --out "$work/ref.mp4" >"$work/ref.log" 2>&1 &
ref_pid=$!
wait "$ref_pid" || { cat "$work/ref.log"; fail "the reference render failed"; }
ref_pid=""
h5dump -d /latents -b LE -o "$work/ref.bin" "$work/ref.stage/latents.h5" >/dev/null

bash "$root/scripts/slurm-local.sh" start
# the CI node has no GPUs and 2 CPUs: no gres, 2 tasks; the binary, layout and stage come through
# the environment (sbatch passes it on)
export LAVR=$LAVR_BIN LAVR_LAYOUT=$layout LAVR_STAGE_DIR=$work/stage
# LAVR_SBATCH_SCRIPT: render-1node.sbatch (mpirun, the default) or render-1node-srun.sbatch (srun --mpi=pmix)
script=$root/slurm/${LAVR_SBATCH_SCRIPT:-render-1node.sbatch}
job=$(sbatch --parsable --cpus-per-task=1 --gres=none --ntasks-per-node=2 -o "$work/job.out" "$script" \
  "${args[@]}" --checkpoint-clips 1 --out "$work/job.mp4") || fail "sbatch failed"
echo "submitted job $job"

wait_for() { # wait_for SECONDS DESCRIPTION COMMAND...
  local limit=$1 what=$2
  shift 2
  for _ in $(seq $((limit * 10))); do
    "$@" && return 0
    sleep 0.1
  done
  fail "timed out after ${limit}s waiting for $what"
}
committed() { ls "$work"/stage/ckpt-*/MANIFEST >/dev/null 2>&1; }
# (grep reads a here-string, not a pipe: under pipefail, grep -q leaving early fails the pipe by SIGPIPE)
completed() { grep -q 'JobState=COMPLETED' <<<"$(scontrol show job "$job")"; }
# the log of run N (from its header line on)
run_log() { sed -n "/lavr-render: job $job run $1 /,\$p" "$work/job.out" 2>/dev/null; }
resumed_in_run() { grep -Eq 'resuming from .*ckpt-' <<<"$(run_log "$1")"; }

t0=$SECONDS
wait_for 60 "a committed checkpoint in run 0" committed
scontrol requeue "$job" || fail "scontrol requeue failed"
echo "requeued from outside after $((SECONDS - t0))s"

wait_for 60 "run 1 to continue from a checkpoint" resumed_in_run 1
scancel --batch --signal=USR1 "$job" || fail "scancel --signal=USR1 failed"
echo "sent USR1 to the batch shell after $((SECONDS - t0))s"

wait_for 90 "the job to complete" completed
echo "completed after $((SECONDS - t0))s"

grep -q 'checkpointed and stopped; requeueing' <<<"$(run_log 1)" || fail "run 1 did not stop with 75 and requeue itself"
resumed_in_run 2 || fail "run 2 did not continue from a checkpoint"
grep -q 'lavr-render: finished' <<<"$(run_log 2)" || fail "run 2 did not finish"
grep -q "Restarts=2" <<<"$(scontrol show job "$job")" || fail "Slurm does not count 2 restarts"
cmp "$work/job.mp4" "$work/ref.mp4" || fail "the requeued render's MP4 differs from the uninterrupted one"
h5dump -d /latents -b LE -o "$work/job.bin" "$work/stage/latents.h5" >/dev/null
cmp "$work/job.bin" "$work/ref.bin" || fail "the requeued render's latents differ from the uninterrupted ones"
grep -Eo 'resuming from [^,;]*' "$work/job.out" | sed 's/^/  /'
echo "PASS: job $job ran 3 times (requeued from outside, then by itself on USR1), resumed each time, output identical"
