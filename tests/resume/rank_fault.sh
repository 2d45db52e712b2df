#!/usr/bin/env bash
# A DiT rank's own failure during the render (issue 17; LAVR_FAIL_AT stands in for a CUDA error or an
# out-of-memory): the last stage's pp 1 rank of steps=2,tp=1,pp=2 fails at block 6, after the checkpoint
# before block 4. The job must end with one line from rank 0 naming that rank, exit 1, no MPI_ABORT, every
# rank gone within 10 s, the previous file at --out untouched, the checkpoint intact and the --summary-json
# saying so; then a stage-0 pp 1 rank fails the resumed run at block 9 the same way, and the same command
# without the fault continues from the newest committed checkpoint to the bytes of the uninterrupted render
# (pp splits layers, not sums).
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
# shellcheck source=lib.sh
. "$here/lib.sh"
resume_init rank_fault

out=$work/fault.mp4 stage=$work/fault.stage summary=$work/fault.json
head -c 65536 /dev/urandom >"$work/previous.mp4"
cp "$work/previous.mp4" "$out" # a previous good video at --out
args=("${base_args[@]}" --layout steps=2,tp=1,pp=2,aux=1 --checkpoint-clips 1 --out "$out" --summary-json "$summary")

# fails_with NAME RANK ROLE BLOCK MIN_CKPT: a render with LAVR_FAIL_AT=rank=RANK,block=BLOCK ends as it should
fails_with() {
  local name=$1 rank=$2 role=$3 block=$4 min=$5 line t0 t1
  LAVR_FAIL_AT=rank=$rank,block=$block start_render "$name" 5 "${args[@]}"
  wait_log 'LAVR_FAIL_AT: failing now' || true
  t0=$(date +%s.%N)
  wait_render 120
  t1=$(date +%s.%N)
  line=$(grep 'lavr: error' "$job_log" || true)
  echo "$name: exit $job_rc: $line"
  [ "$job_rc" -eq 1 ] || fail "$name: exit $job_rc, expected 1"
  [ "$(printf '%s\n' "$line" | grep -c .)" -eq 1 ] || fail "$name: expected one error line"
  [ "$line" = "lavr: error: rank $rank ($role): injected failure at block $block (LAVR_FAIL_AT, a testing aid)" ] ||
    fail "$name: the line does not name rank $rank ($role) and its message"
  ! grep -Eq 'MPI_ABORT|Segmentation fault' "$job_log" || fail "$name: a rank aborted or crashed"
  awk -v a="$t0" -v b="$t1" 'BEGIN { exit !(b - a < 10) }' || fail "$name: the job took more than 10 s to end"
  cmp "$work/previous.mp4" "$out" || fail "$name: the previous $out was changed"
  [ "$(newest_ckpt "$stage")" -ge "$min" ] || fail "$name: newest checkpoint $(newest_ckpt "$stage"), expected >= $min"
  python3 - "$summary" "$rank" "$role" <<'PY' || fail "$name: the summary does not record the failure"
import json, sys
s = json.load(open(sys.argv[1]))
assert s["exit"] == "failed" and s["exit_code"] == 1, s
assert s["message"].startswith("rank %s (%s): injected failure" % (sys.argv[2], sys.argv[3])), s["message"]
assert s["origin"].startswith("ranks/dit_stage.c:"), s["origin"]
PY
}

fails_with last-stage 3 "dit s1 tp0 pp1" 6 4
# (the checkpoint before block 8 may be torn: the fault stops the ranks that had not written their part yet)
fails_with stage0-pp1 1 "dit s0 tp0 pp1" 9 4
[ "$(resumed_from "$job_log")" -eq 4 ] || fail "stage0-pp1 did not continue from the first run's checkpoint"
run_to_end resumed 5 "$stage" "$(newest_ckpt "$stage")" "${args[@]}"
check_same "$out" "$stage"
echo "PASS: two DiT rank failures ended in one line each, and the rerun resumed to the uninterrupted bytes"
