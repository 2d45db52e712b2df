#!/usr/bin/env bash
# Stop inside clip 0 at 64*128, where the clip-1 reference the aux rank sends with clean block 0 is over
# MPI's eager limit: SIGUSR1 to mpirun as the pipeline starts must end the job with exit 75 (the DiT
# ranks take that reference before stopping, else the aux rank waits on its send for ever), and the
# same command must then finish with the bytes of an uninterrupted 2-clip render at that size.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
# shellcheck source=lib.sh
. "$here/lib.sh"
resume_init clip0

args=(--model "$ref_model" --image "$ref_dir/in/portrait.png" --audio "$ref_dir/in/speech.wav"
      --prompt "a person talking" --size 64*128 --num-clip 2 --progress lines --layout steps=2,tp=1,pp=1,aux=1)
run_to_end clip0-ref 3 "$work/ref.stage" -1 "${args[@]}" --out "$work/ref.mp4" --stage-dir "$work/ref.stage"

out=$work/stop.mp4 stage=$work/stop.stage
start_render clip0-stop 3 "${args[@]}" --out "$out"
wait_log "$pipeline_re" || fail "clip0-stop ended before its pipeline started"
kill -s USR1 "$job_pid"
wait_render 60
echo "clip0-stop: exit $job_rc, newest checkpoint $(newest_ckpt "$stage")"
[ "$job_rc" -eq 75 ] || fail "clip0-stop: exit $job_rc after SIGUSR1, expected 75"
[ "$(newest_ckpt "$stage")" -le 4 ] || fail "clip0-stop: stopped after clip 0 ($(newest_ckpt "$stage") blocks)"

run_to_end clip0-end 3 "$stage" "$(newest_ckpt "$stage")" "${args[@]}" --out "$out"
cmp "$out" "$work/ref.mp4" || fail "the resumed MP4 differs from the uninterrupted render's"
echo "PASS: a stop inside clip 0 at 64x128 ended with exit 75 and resumed to identical output"
