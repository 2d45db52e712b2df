#!/usr/bin/env bash
# Layout change test (issue 7): a steps=2 render stopped by SIGUSR1 continues as steps=1 (2 ranks),
# is stopped again and ends as steps=4 (5 ranks); the summation order is the same (tp=1), so the
# latents and the MP4 must equal the uninterrupted steps=2 render's bit for bit. The first stop comes
# soon after the pipeline started (about block 4), so the steps=1 run still has blocks to send after
# the 3 its pipeline starts with (a stop rides on a block not yet sent).
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
# shellcheck source=lib.sh
. "$here/lib.sh"
resume_init layout

out=$work/lay.mp4 stage=$work/lay.stage
args=("${base_args[@]}" --checkpoint-clips 1 --out "$out")

start_render lay-steps2 3 "${args[@]}" --layout steps=2,tp=1,pp=1,aux=1
wait_log "$pipeline_re" || fail "lay-steps2 ended before its pipeline started"
stop_with lay-steps2 USR1 mpirun "$stage" 0.05

start_render lay-steps1 2 "${args[@]}" --layout steps=1,tp=1,pp=1,aux=1
wait_log "$resumed_re" || fail "lay-steps1 did not continue from the steps=2 checkpoint"
expect_resumed lay-steps1 "$stopped_at"
stop_with lay-steps1 USR1 mpirun "$stage"

run_to_end lay-steps4 5 "$stage" "$stopped_at" "${args[@]}" --layout steps=4,tp=1,pp=1,aux=1
check_same "$out" "$stage"
echo "PASS: steps=2 -> steps=1 -> steps=4 resumed to the latents and MP4 of the uninterrupted steps=2 render"
