#!/usr/bin/env bash
# Crash test (issue 7): kill -9 one rank of a checkpointing steps=2 render at seeded random moments:
# a DiT rank anywhere in the run, the aux rank soon after the next run committed a checkpoint or said
# it resumes, the DiT rank soon after the third run said it resumes. Reruns the same command until it
# exits 0 and requires the MP4 bytes and latents to equal the uninterrupted render's (setup.sh).
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
# shellcheck source=lib.sh
. "$here/lib.sh"
resume_init kill-one

out=$work/one.mp4 stage=$work/one.stage
args=("${base_args[@]}" --layout steps=2,tp=1,pp=1,aux=1 --checkpoint-clips 1 --out "$out")
draw_int 2
dit=$drawn
# each attempt that got past its setup must continue from the newest checkpoint of the one before
for round in 1 2 3; do
  min=-1
  for plan in "any $dit" "ckpt 2" "resumed $dit"; do
    read -r when who <<<"$plan"
    run_killed "one-$((attempt + 1))" 3 "$when" "$who" "$stage" "${args[@]}"
    if [ "$when" != any ]; then expect_resumed "one-$attempt" "$min"; fi
    min=$killed_at_ckpt
    if [ "$job_rc" -eq 0 ] || [ "$job_complete" -eq 1 ]; then break; fi
  done
  { [ "$when" = any ] && [ "$job_complete" -eq 1 ]; } || break
  # the first run wrote the whole video before its kill landed (a loaded machine): nothing was resumed, so the
  # video must be right and the crash test goes again from scratch with new moments
  check_same "$out" "$stage"
  echo "round $round: the first run finished before its kill took effect; again from scratch"
  rm -rf "$out" "$stage"
done
[ "$job_rc" -eq 0 ] || [ "$job_complete" -eq 1 ] || run_to_end "one-$((attempt + 1))" 3 "$stage" "$min" "${args[@]}"
grep -Eq -- "$resumed_re" "$work"/one-*.log || fail "no run continued from a checkpoint"
check_same "$out" "$stage"
echo "PASS: kill -9 of DiT rank $dit and of the aux rank, resumed to identical output"
