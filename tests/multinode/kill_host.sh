#!/usr/bin/env bash
# Two-host crash test (issue 21): the steps=4,tp=2 render of render.sh, checkpointing every clip, loses
# one whole host (kill -9 of every process on it: Open MPI's daemon and its ranks) at a seeded random
# moment after its first checkpoint; mpirun must end the job; the rerun loses the other host soon after
# it says it continues from a checkpoint; the third run ends. The MP4 bytes and latents must equal
# the one-node render's. The seed also picks which host goes first.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
# shellcheck source=cluster.sh
. "$here/cluster.sh"
# shellcheck source=../resume/lib.sh
. "$here/../resume/lib.sh"
cluster_check
resume_init multinode-kill
export LAVR_CLUSTER_ID=$work LAVR_CLUSTER_TMP=$work/ompi
mkdir -p "$LAVR_CLUSTER_TMP"
cleanup_more() { cluster_kill_all; }
mpiexec=$cluster_mpirun
np=$(cluster_layout | wc -l)

# run_host_lost NAME WHEN HOST STAGE ARG...: a render whose HOST dies 0..$kill_hi (0.2) x the reference's wall
# time after WHEN: "ckpt" (its first committed checkpoint) or "resumed" (it said it continues from one).
# Sets $killed_at_ckpt (newest committed checkpoint at the kill, -2 when the render ended first) and $job_complete
# (1: the aux wrote the whole video, so the kill landed as the job was ending, whatever mpirun's exit code).
run_host_lost() {
  local name=$1 when=$2 host=$3 stage=$4 delay left n
  shift 4
  start_render "$name" "$np" "$@"
  case $when in
    ckpt) wait_ckpt_after "$stage" -1 || true ;;
    resumed) wait_log "$resumed_re" || true ;;
  esac
  draw 0 "$kill_hi"
  delay=$(times_ref "$drawn")
  killed_at_ckpt=-2
  if sleep_alive "$delay" && wait_ranks "$np"; then
    killed_at_ckpt=$(newest_ckpt "$stage")
    n=$(cluster_kill_host "$host")
    # at least Open MPI's daemon and the host's ranks
    [ "$n" -gt "$(cluster_layout | grep -cx "$host")" ] || fail "$name: only $n processes found on $host"
    lost="$lost $host"
    echo "$name: killed the $n processes on $host at $(elapsed) s ($when + $delay s; newest committed checkpoint: $killed_at_ckpt)"
  else
    echo "$name: ended before the kill ($when + $delay s)"
  fi
  wait_render
  echo "$name: exit $job_rc, resumed from $(resumed_from "$job_log"), newest checkpoint now $(newest_ckpt "$stage")"
  job_complete=0
  if grep -Eq '\] wrote .*: [0-9]+ frames' "$job_log"; then job_complete=1; fi
  if [ "$killed_at_ckpt" -ge -1 ]; then
    [ "$job_complete" -eq 0 ] || echo "$name: (finished although $host was killed, exit $job_rc: the kill came as it exited)"
    # mpirun has ended: nothing of this job may be left on either host
    for _ in $(seq 400); do
      left=$(cluster_pids)
      [ -z "$left" ] && break
      sleep 0.05
    done
    [ -z "$left" ] || fail "$name: processes $(echo "$left" | tr '\n' ' ')left on the hosts 20 s after mpirun ended"
  fi
}

out=$work/lost.mp4 stage=$work/lost.stage
args=("${base_args[@]}" --layout "$ref_layout" --checkpoint-clips 1 --out "$out")
lost=""
draw_int 2
first=node-a second=node-b
[ "$drawn" -eq 1 ] && first=node-b second=node-a

# a host whose ranks have done their last work can die without stopping the render (stage 0 ends its blocks
# first): a late moment can land there, so each new round draws from half the window of the one before
kill_hi=0.2
for round in 1 2 3 4; do
  run_host_lost lost-1 ckpt "$first" "$stage" "${args[@]}"
  [ "$killed_at_ckpt" -ge 0 ] || fail "lost-1 ended before $first was killed"
  [ "$job_complete" -eq 1 ] || break
  # the first run wrote the whole video before the host's loss took effect (a loaded machine): nothing is left to
  # resume, so the video must be right and the crash test goes again from scratch with new moments
  check_same "$out" "$stage"
  echo "round $round: lost-1 finished before $first's loss took effect; again from scratch"
  rm -rf "$out" "$stage"
  lost=""
  kill_hi=$(awk -v h="$kill_hi" 'BEGIN { print h / 2 }')
  [ "$round" -lt 4 ] || fail "lost-1 finished before its host's loss took effect in 4 rounds"
done
kill_hi=0.2
min=$killed_at_ckpt
run_host_lost lost-2 resumed "$second" "$stage" "${args[@]}"
expect_resumed lost-2 "$min"
[ "$killed_at_ckpt" -ge 0 ] && min=$killed_at_ckpt
[ "$job_rc" -eq 0 ] || [ "$job_complete" -eq 1 ] || run_to_end lost-3 "$np" "$stage" "$min" "${args[@]}"
check_same "$out" "$stage"
echo "PASS: lost$lost (kill -9 of every process on the host), resumed to identical output"
