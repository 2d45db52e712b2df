#!/usr/bin/env bash
# Refusal test (issue 7): with the checkpoints of a stopped render in the stage directory, another
# prompt (--resume yes), another seed (--resume auto) or another model is refused with one line and
# exit 2, as is --resume yes where there is no checkpoint; the refusals leave the checkpoints alone,
# so the original command then completes to the uninterrupted render's bytes; --resume no starts over.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
# shellcheck source=lib.sh
. "$here/lib.sh"
resume_init refuse

out=$work/job.mp4 stage=$work/job.stage
args=("${base_args[@]}" --layout steps=2,tp=1,pp=1,aux=1 --checkpoint-clips 1)
start_render refuse-first 3 "${args[@]}" --out "$out"
wait_ckpt_after "$stage" -1 || fail "refuse-first ended without a checkpoint"
stop_with refuse-first USR1 mpirun "$stage"
manifests() { cat "$stage"/ckpt-*/MANIFEST | sha256sum; }
before=$(manifests)

# refused NAME REGEX ARG...: exit 2 with exactly one error line, matching REGEX
refused() {
  local name=$1 re=$2 line
  shift 2
  start_render "$name" 3 "$@"
  wait_render 60
  line=$(grep 'lavr: error:' "$job_log" || true)
  echo "$name: exit $job_rc: $line"
  [ "$job_rc" -eq 2 ] || fail "$name: exit $job_rc, expected 2"
  [ "$(printf '%s\n' "$line" | grep -c .)" -eq 1 ] || fail "$name: expected one error line"
  printf '%s\n' "$line" | grep -Eq -- "$re" || fail "$name: the message does not match /$re/"
}
other_prompt=("${args[@]}")
for i in "${!other_prompt[@]}"; do
  if [ "${other_prompt[i]}" = "a person talking" ]; then other_prompt[i]="a person singing"; fi
done
one_clip=("${other_prompt[@]}") # (an option given twice is refused)
for i in "${!one_clip[@]}"; do
  if [ "${one_clip[i]}" = --num-clip ]; then one_clip[i + 1]=1; fi
done

refused refuse-prompt 'other inputs' "${other_prompt[@]}" --out "$out" --resume yes
refused refuse-seed 'other inputs.*--resume no' "${args[@]}" --seed 5 --out "$out" --resume auto
"$LAVR_BIN" init --config tiny --seed 8 -o "$work/other.h5" >/dev/null
model_args=("${args[@]}")
for i in "${!model_args[@]}"; do
  if [ "${model_args[i]}" = "$ref_model" ]; then model_args[i]=$work/other.h5; fi
done
refused refuse-model 'another model' "${model_args[@]}" --out "$out" --resume yes
refused refuse-none 'nothing to resume' "${args[@]}" --out "$work/none.mp4" --resume yes
[ "$(manifests)" = "$before" ] || fail "a refused run changed the checkpoints"

# a copy keeps the old checkpoints for --resume no (a completed render removes its checkpoints)
cp -a "$stage" "$work/fresh.stage"
run_to_end refuse-resume 3 "$stage" "$stopped_at" "${args[@]}" --out "$out" --resume auto
check_same "$out" "$stage"

# where auto refuses (other inputs), --resume no starts over
run_to_end refuse-fresh 3 "$work/fresh.stage" -1 "${one_clip[@]}" --out "$work/fresh.mp4" --resume no
[ "$(resumed_from "$job_log")" -eq -1 ] || fail "refuse-fresh: --resume no continued from a checkpoint"
grep -q 'render: 45 frames' "$job_log" || fail "refuse-fresh: not a fresh 1-clip render"
echo "PASS: other prompt, seed and model refused (exit 2, one line), checkpoints untouched, resume completed, --resume no started over"
