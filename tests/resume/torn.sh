#!/usr/bin/env bash
# Torn checkpoint test (issue 7): a render stopped by SIGUSR1 leaves two committed checkpoints; with
# the newest one's MANIFEST deleted (and, in a copy of the stage directory, truncated to half) the
# rerun must skip it, continue from the older one and still write the uninterrupted render's bytes.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
# shellcheck source=lib.sh
. "$here/lib.sh"
resume_init torn

out=$work/torn.mp4 stage=$work/torn.stage
args=(--layout steps=2,tp=1,pp=1,aux=1 --checkpoint-clips 1)
start_render torn-1 3 "${base_args[@]}" "${args[@]}" --out "$out"
wait_ckpt_after "$stage" -1 || fail "torn-1 ended without a checkpoint"
stop_with torn-1 USR1 mpirun "$stage"
mapfile -t kept < <(committed_ckpts "$stage")
[ "${#kept[@]}" -ge 2 ] || fail "expected 2 committed checkpoints after the stop, found: ${kept[*]:-none}"
newest=${kept[-1]} older=${kept[-2]}
newest_dir=$(printf 'ckpt-%06d' "$newest")
echo "committed: ${kept[*]}; tearing $newest_dir, expecting to continue from $older"

cp -a "$stage" "$work/trunc.stage"
cp "$out.part" "$work/trunc.mp4.part" # a stopped render leaves its video under the .part name

# tear_case NAME OUT STAGE: the rerun continues from the older checkpoint, names the skipped one
tear_case() {
  run_to_end "$1" 3 "$3" "$older" "${base_args[@]}" "${args[@]}" --out "$2"
  [ "$(resumed_from "$job_log")" -eq "$older" ] ||
    fail "$1: continued from $(resumed_from "$job_log"), expected the older checkpoint $older"
  grep -q -- "$newest_dir" "$job_log" || fail "$1: the log does not name the skipped $newest_dir"
  check_same "$2" "$3"
}

rm "$stage/$newest_dir/MANIFEST"
tear_case torn-missing "$out" "$stage"

manifest=$work/trunc.stage/$newest_dir/MANIFEST
truncate -s $(( $(stat -c %s "$manifest") / 2 )) "$manifest"
tear_case torn-truncated "$work/trunc.mp4" "$work/trunc.stage"
echo "PASS: a checkpoint without MANIFEST and one with a truncated MANIFEST were skipped; identical output"
