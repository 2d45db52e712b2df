#!/usr/bin/env bash
# Slurm requeue test (ctest label `slurm`): starts a private Slurm (scripts/slurm-local.sh), submits
# tests/slurm/progress.sbatch, requeues it from outside (scontrol requeue, as preemption does), then
# sends the batch shell USR1 (what --signal=B:USR1@T sends before the time limit) so the job saves
# and requeues itself; checks every step ran, each run resumed where the last stopped, and that the
# job saw SLURM_RESTART_COUNT 1 and 2. Exit 77 (skipped) without root or without slurm-wlm/munge.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$here/../.." && pwd)

for c in munged mungekey slurmctld slurmd sbatch scontrol squeue; do
  command -v "$c" >/dev/null || { echo "skipped: $c not found (apt-get install slurm-wlm munge)"; exit 77; }
done
[ "$(id -u)" -eq 0 ] || { echo "skipped: a private slurmd needs root"; exit 77; }

work=$(mktemp -d "${LAVR_TEST_TMP:-/tmp}/slurm-requeue.XXXXXX")
export LAVR_SLURM_DIR=$work/slurm LAVR_SLURM_PORT=${LAVR_SLURM_PORT:-16837}
export SLURM_CONF=$LAVR_SLURM_DIR/slurm.conf
cleanup() {
  bash "$root/scripts/slurm-local.sh" stop >/dev/null 2>&1 || true
  [ "${keep:-0}" = 1 ] || rm -rf "$work"
}
trap cleanup EXIT
fail() {
  echo "FAIL: $*"
  echo "--- progress"; cat "$work/progress" 2>/dev/null || true
  echo "--- job output"; cat "$work/job.out" 2>/dev/null || true
  echo "--- job"; scontrol show job "${job:-0}" 2>/dev/null || true
  echo "--- slurmctld.log (tail)"; tail -n 20 "$LAVR_SLURM_DIR/log/slurmctld.log" 2>/dev/null || true
  keep=1
  echo "(files kept in $work)"
  exit 1
}

bash "$root/scripts/slurm-local.sh" start
steps=12
: >"$work/progress"
job=$(sbatch --parsable -o "$work/job.out" "$here/progress.sbatch" "$work" "$steps") || fail "sbatch failed"
echo "submitted job $job"

wait_for() { # wait_for SECONDS DESCRIPTION COMMAND...
  local limit=$1 what=$2
  shift 2
  for _ in $(seq $((limit * 5))); do
    "$@" && return 0
    sleep 0.2
  done
  fail "timed out after ${limit}s waiting for $what"
}
has() { grep -q -- "$1" "$work/progress"; }
completed() { scontrol show job "$job" | grep -q 'JobState=COMPLETED'; }

t0=$SECONDS
wait_for 20 "step 3 of the first run" has "done 3 run=0"
scontrol requeue "$job" || fail "scontrol requeue failed"
echo "requeued from outside after $((SECONDS - t0))s"

wait_for 30 "the second run to pass its first step" grep -q "done [0-9]* run=1" "$work/progress"
scancel --batch --signal=USR1 "$job" || fail "scancel --signal=USR1 failed"
echo "sent USR1 to the batch shell after $((SECONDS - t0))s"

wait_for 40 "the job to complete" completed
echo "completed after $((SECONDS - t0))s"

# every step done, each run starting after the last step the previous run saved
for run in 0 1 2; do has "start run=$run" || fail "no run with SLURM_RESTART_COUNT=$run"; done
for s in $(seq "$steps"); do has "done $s run=" || fail "step $s never done"; done
first1=$(grep -m1 -o "done [0-9]* run=1" "$work/progress" | cut -d' ' -f2)
first2=$(grep -m1 -o "done [0-9]* run=2" "$work/progress" | cut -d' ' -f2)
last0=$(grep -o "done [0-9]* run=0" "$work/progress" | tail -n1 | cut -d' ' -f2)
saved1=$(grep -o "checkpointed [0-9]* run=1" "$work/progress" | cut -d' ' -f2)
[ "$first1" -ge 4 ] && [ "$first1" -le $((last0 + 1)) ] || fail "run 1 started at step $first1 (run 0 reached $last0)"
[ -n "$saved1" ] || fail "run 1 did not checkpoint on USR1"
has "requeue run=1" || fail "run 1 did not requeue itself after exiting 75"
[ "$first2" -eq $((saved1 + 1)) ] || fail "run 2 started at step $first2, run 1 saved step $saved1"
has "finished run=2" || fail "run 2 did not finish"
scontrol show job "$job" | grep -q "Restarts=2" || fail "Slurm does not count 2 restarts"
echo "PASS: job $job ran 3 times (restart counts 0, 1, 2), resumed at steps $first1 and $first2, all $steps steps done"
