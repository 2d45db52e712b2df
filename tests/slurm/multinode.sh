#!/usr/bin/env bash
# Two-host Slurm test (issue 21, ctest label `slurm`): a private Slurm whose two nodes node-a and
# node-b are slurmd daemons on this machine, each in its own UTS namespace (scripts/slurm-local.sh
# with LAVR_SLURM_HOSTS), runs the tiny steps=4,tp=2 render through slurm/render-multinode.sbatch
# as written (2 nodes, 4 + 5 tasks, its own hostfile; no GPUs: --gres=none), with Open MPI's transports
# set through the environment as docs/multinode.md says. Checks the placement table the script
# prints, the transport of each connection (TCP between the nodes), then kills every process on
# node-b (its slurmd included: a node crash) at a seeded random moment after the first checkpoint,
# brings node-b back, submits the same command again and requires it to continue from a checkpoint
# and end with the MP4 and latents of the one-node render (tests/resume/setup.sh, as multinode_setup).
# Exit 77 (skipped) without root, UTS namespaces or Debian's slurm-wlm and munge.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$here/../.." && pwd)
for c in munged mungekey slurmctld slurmd sbatch scontrol squeue sinfo; do
  command -v "$c" >/dev/null || { echo "skipped: $c not found (apt-get install slurm-wlm munge)"; exit 77; }
done
[ "$(id -u)" -eq 0 ] || { echo "skipped: a private slurmd needs root"; exit 77; }
# shellcheck source=../multinode/cluster.sh
. "$root/tests/multinode/cluster.sh"
# shellcheck source=../resume/lib.sh
. "$root/tests/resume/lib.sh"
cluster_check
resume_init slurm-multinode
export LAVR_CLUSTER_ID=$work
# slurmctld, the default slurmd port and one per host: 4 ports, free ones at random (others may run
# this test on the same machine)
if [ -z "${LAVR_SLURM_PORT:-}" ]; then
  for _ in $(seq 20); do
    LAVR_SLURM_PORT=$((20000 + RANDOM % 20000))
    ss -Hltn "( sport >= :$LAVR_SLURM_PORT and sport <= :$((LAVR_SLURM_PORT + 3)) )" 2>/dev/null | grep -q . || break
  done
fi
export LAVR_SLURM_DIR=$work/slurm LAVR_SLURM_PORT LAVR_SLURM_HOSTS="node-a node-b"
export SLURM_CONF=$LAVR_SLURM_DIR/slurm.conf
cleanup_more() {
  bash "$root/scripts/slurm-local.sh" stop >/dev/null 2>&1 || true
  cluster_kill_all
}
slurm_fail() {
  for j in ${jobs_submitted:-}; do
    echo "--- job $j ($work/job-$j.out)"; cat "$work/job-$j.out" 2>/dev/null || true
    scontrol show job "$j" 2>/dev/null | grep -E 'JobState|NodeList|ExitCode' || true
  done
  echo "--- slurm logs (tails)"; tail -n 15 "$LAVR_SLURM_DIR"/log/*.log 2>/dev/null || true
  fail "$@"
}

wait_for() { # wait_for SECONDS DESCRIPTION COMMAND...
  local limit=$1 what=$2
  shift 2
  for _ in $(seq $((limit * 20))); do
    "$@" && return 0
    sleep 0.05
  done
  slurm_fail "timed out after ${limit}s waiting for $what"
}
job_state() { scontrol show job "$1" 2>/dev/null | sed -n 's/.*JobState=\([A-Z_]*\).*/\1/p'; }
job_ended() { case $(job_state "$1") in COMPLETED|FAILED|CANCELLED|TIMEOUT|NODE_FAIL|OUT_OF_MEMORY) return 0 ;; esac; return 1; }
job_said() { grep -Eq -- "$2" "$work/job-$1.out" 2>/dev/null; }
committed() { [ "$(newest_ckpt "$stage")" -ge 0 ]; }
ranks_on() { # ranks_on HOST: how many MPI ranks of this run are alive on HOST
  local pid n=0
  for pid in $(cluster_pids "$1"); do
    grep -qz '^OMPI_COMM_WORLD_RANK=' "/proc/$pid/environ" 2>/dev/null && n=$((n + 1))
  done
  echo "$n"
}
no_ranks_on() { [ "$(ranks_on "$1")" -eq 0 ]; }

bash "$root/scripts/slurm-local.sh" start
# the network as docs/multinode.md says for Slurm (srun gives the remote daemon this environment);
# verbose transports and every pair connected at start-up, for the check below
export OMPI_MCA_pml=ob1 OMPI_MCA_btl=self,vader,tcp OMPI_MCA_btl_tcp_if_include=127.0.0.0/8 \
  OMPI_MCA_oob_tcp_if_include=127.0.0.0/8 OMPI_MCA_btl_base_verbose=100 OMPI_MCA_mpi_add_procs_cutoff=1024
# the script's defaults otherwise: 2 nodes, 4 + 5 tasks, layout steps=4,tp=2,pp=1,aux=1
export LAVR=$LAVR_BIN LAVR_CONFIG=tiny LAVR_STAGE_DIR=$work/stage
out=$work/slurm.mp4 stage=$LAVR_STAGE_DIR
submit() { # submit: the same sbatch command each time; sets $job
  job=$(sbatch --parsable --cpus-per-task=1 --nodes=2 --gres=none -o "$work/job-%j.out" "$root/slurm/render-multinode.sbatch" \
    "${base_args[@]}" --checkpoint-clips 1 --out "$out") || slurm_fail "sbatch failed"
  jobs_submitted="${jobs_submitted:-} $job"
  echo "submitted job $job"
}

check_placement() { # the placement table lavr topo printed at the start of job $1
  local r want_host want_local rank host lrank
  declare -A count=()
  mapfile -t hosts < <(cluster_layout)
  for ((r = 0; r < ${#hosts[@]}; r++)); do
    want_host=${hosts[$r]}
    want_local=${count[$want_host]:-0}
    count[$want_host]=$((want_local + 1))
    read -r rank host lrank _ < <(awk -v r="$r" '$1 == r && $2 ~ /^node-/ && NF == 12' "$work/job-$1.out" | head -n 1) || true
    [ "${rank:-} ${host:-} ${lrank:-}" = "$r $want_host $want_local" ] ||
      slurm_fail "job $1: placement of rank $r is '${rank:-} ${host:-} ${lrank:-}', expected $r $want_host $want_local"
  done
  echo "job $1: ranks 0-$((${#hosts[@]} - 1)) on ${hosts[*]} (lavr topo in the job log)"
}

# run 1: node-b crashes (every process on it, slurmd included) soon after the first checkpoint
submit
first=$job
wait_for 120 "job $first to commit a checkpoint" committed
draw 0 0.2
delay=$(times_ref "$drawn")
sleep "$delay" # the moment of the crash, drawn from the seed (not a synchronisation)
[ "$(ranks_on node-b)" -gt 0 ] || slurm_fail "job $first: no rank alive on node-b $delay s after the first checkpoint"
at=$(newest_ckpt "$stage")
n=$(cluster_kill_host node-b)
echo "job $first: killed the $n processes on node-b (slurmd, job step, Open MPI daemon, ranks)" \
  "$delay s after the first checkpoint; newest committed checkpoint: $at"
wait_for 60 "job $first's script to see the failure" job_said "$first" 'lavr-render: failed with exit code'
wait_for 10 "the ranks on node-a to end" no_ranks_on node-a
bash "$root/scripts/slurm-local.sh" node-up node-b
wait_for 60 "job $first to end" job_ended "$first"
echo "job $first: $(job_state "$first")"
check_placement "$first"

# run 2: the same command again continues from the newest checkpoint and finishes
submit
wait_for 180 "job $job to end" job_ended "$job"
[ "$(job_state "$job")" = COMPLETED ] || slurm_fail "job $job ended $(job_state "$job")"
job_said "$job" 'lavr-render: finished' || slurm_fail "job $job did not say it finished"
from=$(resumed_from "$work/job-$job.out")
if [ "$from" -lt 0 ] || [ "$from" -lt "$at" ]; then
  slurm_fail "job $job continued from checkpoint $from, checkpoint $at was committed before the crash"
fi
echo "job $job: continued from checkpoint $from, COMPLETED"
check_placement "$job"
cluster_check_transports "$work/job-$job.out" 2 || slurm_fail "transports in job $job (above)"
check_same "$out" "$stage"
echo "PASS: two-node Slurm job lost node-b, the resubmitted job resumed to identical output"
