#!/usr/bin/env bash
# Full-disk test (issue 17): the render on a small tmpfs runs out of space after its first checkpoint; it
# must end with one error line naming the file and the free space, exit 1, leave a previous file at --out
# untouched and the checkpoint intact; with space freed the same command resumes to the uninterrupted bytes.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
# shellcheck source=lib.sh
. "$here/lib.sh"
resume_init disk_full

disk=$work/disk
mkdir -p "$disk"
# 11 MiB: the stage files and the checkpoint before block 4 (6.6 MiB) fit, the one before block 8 does not
# (measured: from 7.8 to 14 MiB the render fails the same way)
mount -t tmpfs -o size=11M tmpfs "$disk" 2>/dev/null || { echo "skipped: cannot mount a tmpfs (needs root)"; exit 77; }
cleanup_more() { umount "$disk" 2>/dev/null || true; }
out=$disk/job.mp4 stage=$disk/job.stage
head -c 327680 /dev/urandom >"$work/previous.mp4"
cp "$work/previous.mp4" "$out" # a previous good video at --out
args=("${base_args[@]}" --layout steps=2,tp=1,pp=1,aux=1 --checkpoint-clips 1 --out "$out")

start_render full 3 "${args[@]}"
wait_render 120
line=$(grep 'lavr: error:' "$job_log" || true)
echo "full: exit $job_rc: $line"
[ "$job_rc" -eq 1 ] || fail "full: exit $job_rc, expected 1"
[ "$(printf '%s\n' "$line" | grep -c .)" -eq 1 ] || fail "full: expected one error line"
printf '%s\n' "$line" | grep -Eq -- "'$disk/[^']+': No space left on device|'$disk/[^']+' \\(No space left on device\\)" ||
  fail "full: the line does not name the file and the cause"
printf '%s\n' "$line" | grep -Eq -- "[0-9.]+ (B|KiB|MiB) free on the file system of '$disk" || fail "full: no free space in the line"
printf '%s\n' "$line" | grep -q -- "checkpoint after 4 blocks in $stage is intact" || fail "full: the line does not say what is left"
! grep -Eq 'Segmentation fault|MPI_ABORT' "$job_log" || fail "full: a rank crashed or aborted"
cmp "$work/previous.mp4" "$out" || fail "full: the previous $out was overwritten"
[ "$(newest_ckpt "$stage")" -eq 4 ] || fail "full: newest committed checkpoint $(newest_ckpt "$stage"), expected 4"

mount -o remount,size=64M "$disk" # space freed
run_to_end resumed 3 "$stage" 4 "${args[@]}"
check_same "$out" "$stage"
