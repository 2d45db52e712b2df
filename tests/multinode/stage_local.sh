#!/usr/bin/env bash
# Two-host test (issue 21): a render whose --stage-dir is on a disk of each host's own (agent.sh with
# LAVR_CLUSTER_LOCAL: a private tmpfs per host) must stop before any heavy work with exit code 2 and
# one line naming a rank on node-a that cannot see the stage directory the aux rank on node-b wrote:
# checkpoints there could never be resumed. (multinode_render passes the same check on a shared one.)
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
# shellcheck source=cluster.sh
. "$here/cluster.sh"
# shellcheck source=../resume/lib.sh
. "$here/../resume/lib.sh"
cluster_check
resume_init multinode-stage-local
export LAVR_CLUSTER_ID=$work LAVR_CLUSTER_TMP=$work/ompi LAVR_CLUSTER_LOCAL=$work/local
mkdir -p "$LAVR_CLUSTER_TMP" "$LAVR_CLUSTER_LOCAL"
cleanup_more() { cluster_kill_all; }
mpiexec=$cluster_mpirun
np=$(cluster_layout | wc -l)

start_render local "$np" "${base_args[@]}" --layout "$ref_layout" --stage-dir "$LAVR_CLUSTER_LOCAL/stage" \
  --out "$work/local.mp4"
wait_render 60
cat "$job_log"
[ "$job_rc" -eq 2 ] || fail "exit $job_rc, expected 2 (a bad input)"
want="lavr: error: --stage-dir '$LAVR_CLUSTER_LOCAL/stage' is not shared: rank [0-3] on node-a does not see the file the aux rank \\(rank $((np - 1)) on node-b\\) wrote there"
[ "$(grep -cE -- "$want" "$job_log")" -eq 1 ] || fail "not one line saying the stage directory is not shared"
! grep -q 'encoding' "$job_log" || fail "the aux rank started encoding before the check"
[ ! -e "$work/local.mp4" ] || fail "an MP4 was written"
[ ! -e "$LAVR_CLUSTER_LOCAL/stage" ] || fail "the stage directory appeared outside the hosts' own disks"
echo "PASS: a stage directory local to each host is refused before the render starts"
