#!/usr/bin/env bash
# Check of the rank lookup the resume tests rely on (lib.sh rank_pid): a fake job whose "ranks" carry
# OMPI_COMM_WORLD_RANK followed by 100 KB more environment (more than a pipe holds) must be found on
# every call, an exited (zombie) one must not, and a missing rank must give "".
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
# shellcheck source=lib.sh
. "$here/lib.sh"

pad=$(head -c 100000 /dev/zero | tr '\0' x)
# the fake mpirun: ranks 0 and 1 sleep, rank 2 exits at once and stays a zombie (its parent never waits)
bash -c 'env OMPI_COMM_WORLD_RANK=0 PAD="$1" sleep 300 & env OMPI_COMM_WORLD_RANK=1 PAD="$1" sleep 300 &
         env OMPI_COMM_WORLD_RANK=2 PAD="$1" true & exec sleep 300' fake-mpirun "$pad" &
job_pid=$!
trap 'kill $(descendants "$job_pid") "$job_pid" 2>/dev/null || true' EXIT
for _ in $(seq 100); do [ "$(descendants "$job_pid" | wc -l)" -ge 3 ] && break; sleep 0.05; done
sleep 0.2
for r in 0 1; do
  for i in $(seq 25); do
    pid=$(rank_pid "$r")
    [ -n "$pid" ] || { echo "FAIL: rank $r (alive) not found on call $i"; exit 1; }
    grep -qxzF "OMPI_COMM_WORLD_RANK=$r" "/proc/$pid/environ" || { echo "FAIL: rank $r: pid $pid is another rank"; exit 1; }
  done
done
[ -z "$(rank_pid 2)" ] || { echo "FAIL: the exited rank 2 was reported as running"; exit 1; }
[ -z "$(rank_pid 3)" ] || { echo "FAIL: rank 3 does not exist but was found"; exit 1; }
echo "PASS: live ranks found on each of 50 calls, the exited and the missing rank not"
