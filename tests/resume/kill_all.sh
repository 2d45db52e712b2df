#!/usr/bin/env bash
# Crash test (issue 7): kill -9 mpirun and every rank of a checkpointing steps=2 render at once, at a
# seeded random moment after its first checkpoint, rerun the same command, and require the MP4 bytes
# and the latents to equal the uninterrupted render's.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
# shellcheck source=lib.sh
. "$here/lib.sh"
resume_init kill-all
# mpirun killed with -9 cannot remove its session directory and shared-memory files: keep them in
# the work directory, which the cleanup removes
mkdir -p "$work/ompi"
export OMPI_MCA_orte_tmpdir_base=$work/ompi OMPI_MCA_btl_vader_backing_directory=$work/ompi

out=$work/all.mp4 stage=$work/all.stage
args=("${base_args[@]}" --layout steps=2,tp=1,pp=1,aux=1 --checkpoint-clips 1 --out "$out")
for round in 1 2 3; do
  run_killed "all-$round" 3 ckpt all "$stage" "${args[@]}"
  [ "$killed_at_ckpt" -ge 0 ] || fail "all-$round ended before the kill"
  [ "$job_complete" -eq 1 ] || break
  # the kill landed after the aux wrote the whole video (a loaded machine): check it, then again from scratch
  check_same "$out" "$stage"
  echo "round $round: the render finished before its kill took effect; again from scratch"
  rm -rf "$out" "$stage"
  [ "$round" -lt 3 ] || fail "the render finished before its kill took effect in 3 rounds"
done
run_to_end all-next 3 "$stage" "$killed_at_ckpt" "${args[@]}"
check_same "$out" "$stage"
echo "PASS: kill -9 of every rank and mpirun, resumed to identical output"
