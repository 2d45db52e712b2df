#!/usr/bin/env bash
# Two-host test (issue 21): the tiny render of the resume tests with layout steps=4,tp=2 on
# hostfiles/two-node-example through mpirun.sh (stages 0-1 on node-a, stages 2-3 and the aux rank on
# node-b: the stage 1 -> 2 hand-off and the aux rank's traffic with node-a go over TCP). Checks where
# each rank runs while it renders; the MP4 bytes and the latents must equal the one-node render's
# (tests/resume/setup.sh with LAVR_REF_LAYOUT=steps=4,tp=2,pp=1,aux=1).
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
# shellcheck source=cluster.sh
. "$here/cluster.sh"
# shellcheck source=../resume/lib.sh
. "$here/../resume/lib.sh"
cluster_check
resume_init multinode-render
export LAVR_CLUSTER_ID=$work LAVR_CLUSTER_TMP=$work/ompi
mkdir -p "$LAVR_CLUSTER_TMP"
cleanup_more() { cluster_kill_all; }
mpiexec=$cluster_mpirun
mapfile -t hosts < <(cluster_layout)
np=${#hosts[@]}

out=$work/two.mp4 stage=$work/two.stage
start_render two "$np" "${base_args[@]}" --layout "$ref_layout" --out "$out"
wait_ranks "$np" || fail "the render ended before all $np ranks were seen"
for ((r = 0; r < np; r++)); do
  host=$(cluster_host_of "$(rank_pid "$r")")
  [ "$host" = "${hosts[$r]}" ] || fail "rank $r runs on '${host}', expected ${hosts[$r]}"
done
echo "two: ranks 0-$((np - 1)) on ${hosts[*]}"
wait_render
[ "$job_rc" -eq 0 ] || fail "the two-host render exited with $job_rc"
grep -E 'render: [0-9]+ frames' "$job_log"
check_same "$out" "$stage"
echo "PASS: two-host render (layout $ref_layout) identical to the one-node render"
