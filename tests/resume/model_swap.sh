#!/usr/bin/env bash
# A changed model under the same path (issue 17): a render stopped after a checkpoint; another model of
# the same preset, of the same size, is written to the model's path; continuing is refused with one line
# naming the field that differs (the content fingerprint), exit 2, the checkpoints untouched; with the first
# model back, the render continues to the uninterrupted bytes.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
# shellcheck source=lib.sh
. "$here/lib.sh"
resume_init model_swap

mkdir -p "$work/models"
model=$work/models/tiny.h5 # the same name as the reference's, so only the content can tell them apart
cp "$ref_model" "$model"
out=$work/job.mp4 stage=$work/job.stage
args=("${base_args[@]}" --layout steps=2,tp=1,pp=1,aux=1 --checkpoint-clips 1 --out "$out")
for i in "${!args[@]}"; do
  if [ "${args[i]}" = "$ref_model" ]; then args[i]=$model; fi
done
start_render first 3 "${args[@]}"
wait_ckpt_after "$stage" -1 || fail "first ended without a checkpoint"
stop_with first USR1 mpirun "$stage"
before=$(cat "$stage"/ckpt-*/MANIFEST | sha256sum)

"$LAVR_BIN" init --config tiny --seed 8 -o "$work/other.h5" >/dev/null
[ "$(stat -c %s "$work/other.h5")" -eq "$(stat -c %s "$model")" ] ||
  fail "the other model's size differs: the test needs one the old identity (name, size, configs) cannot tell apart"
cp "$model" "$work/first.h5"
cp "$work/other.h5" "$model"
for mode in yes auto; do
  start_render "swapped-$mode" 3 "${args[@]}" --resume "$mode"
  wait_render 60
  line=$(grep 'lavr: error:' "$job_log" || true)
  echo "swapped-$mode: exit $job_rc: $line"
  [ "$job_rc" -eq 2 ] || fail "swapped-$mode: exit $job_rc, expected 2 (a resume across two models)"
  [ "$(printf '%s\n' "$line" | grep -c .)" -eq 1 ] || fail "swapped-$mode: expected one error line"
  printf '%s\n' "$line" | grep -Eq -- "is for another model \\(checkpoint 'content=[0-9a-f]{64}', this run 'content=[0-9a-f]{64}'\\)" ||
    fail "swapped-$mode: the line does not name the content field"
done
[ "$(cat "$stage"/ckpt-*/MANIFEST | sha256sum)" = "$before" ] || fail "a refused run changed the checkpoints"

cp "$work/first.h5" "$model"
run_to_end back 3 "$stage" "$stopped_at" "${args[@]}"
check_same "$out" "$stage"
