#!/usr/bin/env bash
# Stop test (issue 7): SIGUSR1 to mpirun soon after a render's pipeline started, then SIGTERM to the
# aux rank of the resumed render; each must finish its blocks, commit a new checkpoint and exit 75,
# and a third run must complete with the MP4 bytes and latents of the uninterrupted render. The first
# stop comes early (about block 4 of 12) so that the resumed render still has blocks to send after
# the steps * pp + 2 = 4 its pipeline starts with; a stop can only ride on a block not yet sent.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
# shellcheck source=lib.sh
. "$here/lib.sh"
resume_init signal

out=$work/sig.mp4 stage=$work/sig.stage
args=("${base_args[@]}" --layout steps=2,tp=1,pp=1,aux=1 --checkpoint-clips 1 --out "$out")

start_render sig-1 3 "${args[@]}"
wait_log "$pipeline_re" || fail "sig-1 ended before its pipeline started"
stop_with sig-1 USR1 mpirun "$stage" 0.05

start_render sig-2 3 "${args[@]}"
wait_log "$resumed_re" || fail "sig-2 did not say it continues from a checkpoint"
expect_resumed sig-2 "$stopped_at"
stop_with sig-2 TERM 2 "$stage"

run_to_end sig-3 3 "$stage" "$stopped_at" "${args[@]}"
check_same "$out" "$stage"
echo "PASS: USR1 to mpirun and TERM to the aux rank each stopped with exit 75 and a checkpoint; resumed to identical output"
