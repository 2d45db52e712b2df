#!/usr/bin/env bash
# Two-host test (issue 21): `lavr topo` for steps=4,tp=2 on hostfiles/two-node-example through
# mpirun.sh. Requires ranks 0-3 on node-a and 4-8 (the aux rank last) on node-b, node-local ranks
# counted per host, each tp pair on one host, the roles of the one-node plan, devices chosen by the
# node-local rank (cuda:local%N with N GPUs, cpu without), and Open MPI's transport per pair of ranks
# (its verbose output): self or shared memory within a host, TCP between the hosts, every pair seen.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
# shellcheck source=cluster.sh
. "$here/cluster.sh"
: "${LAVR_BIN:?set LAVR_BIN to the lavr binary}"
cluster_check
export OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1 OMP_NUM_THREADS=${OMP_NUM_THREADS:-1}

work=$(mktemp -d "${LAVR_TEST_TMP:-/tmp}/multinode-topo.XXXXXX")
export LAVR_CLUSTER_ID=$work LAVR_CLUSTER_TMP=$work/ompi
mkdir -p "$LAVR_CLUSTER_TMP"
cleanup() {
  cluster_kill_all
  if [ "${LAVR_KEEP:-0}" = 1 ]; then echo "(files kept in $work)"; else rm -rf "$work"; fi
}
trap cleanup EXIT
trap 'exit 130' INT TERM
fail() {
  echo "FAIL: $*"
  for f in plan.txt table.txt verbose.txt; do echo "--- $f"; head -n 60 "$work/$f" 2>/dev/null || true; done
  echo "(LAVR_KEEP=1 keeps $work)"
  exit 1
}

layout=steps=4,tp=2,pp=1,aux=1 tp=2 np=9
mapfile -t hosts < <(cluster_layout)
[ "${#hosts[@]}" -eq "$np" ] || fail "$cluster_hostfile has ${#hosts[@]} slots, the layout needs $np"

# the one-node plan: the roles, and this machine's GPU count (every "host" sees the same GPUs)
"$LAVR_BIN" topo --layout "$layout" >"$work/plan.txt" || fail "lavr topo (plan) failed"
gpus=$(sed -n 's/.*with its \([0-9][0-9]*\) CUDA device.*/\1/p' "$work/plan.txt")
[ -n "$gpus" ] || fail "the plan does not say how many CUDA devices this machine has"

# every pair of ranks connected at start-up (add_procs_cutoff), each connection's transport logged
timeout -k 5 120 bash "$cluster_mpirun" -np "$np" --mca mpi_add_procs_cutoff 1024 --mca btl_base_verbose 100 \
  "$LAVR_BIN" topo --layout "$layout" >"$work/table.txt" 2>"$work/verbose.txt" || fail "two-host lavr topo failed"
cat "$work/table.txt"

# the table: rank host local role stage steps tp pp layers prev next device
rows() { awk '$1 ~ /^[0-9]+$/ && NF >= 12' "$1"; }
roles() { awk '{ for (i = NF - 8; i < NF; i++) printf "%s ", $i; print "" }'; } # role .. next
[ "$(rows "$work/table.txt" | wc -l)" -eq "$np" ] || fail "the table does not have $np rows"
declare -A local_count=()
for ((r = 0; r < np; r++)); do
  read -r rank host local role _ _ tpc _ _ _ _ device < <(rows "$work/table.txt" | sed -n "$((r + 1))p")
  h=${hosts[$r]}
  want_local=${local_count[$h]:-0}
  local_count[$h]=$((want_local + 1))
  want_device=cpu
  [ "$gpus" -gt 0 ] && want_device=cuda:$((want_local % gpus))
  [ "$rank $host $local $device" = "$r $h $want_local $want_device" ] ||
    fail "row $r: rank $rank host $host local $local device $device, expected $r $h $want_local $want_device"
  [ "$(rows "$work/table.txt" | sed -n "$((r + 1))p" | roles)" = "$(rows "$work/plan.txt" | sed -n "$((r + 1))p" | roles)" ] ||
    fail "row $r: roles differ from the one-node plan"
  # tp index i of a DiT rank: its group is the tp ranks from r - i on, all on this rank's host
  if [ "$role" = dit ] && [ "${tpc%/*}" -eq 0 ]; then
    for ((k = 1; k < tp; k++)); do
      [ "${hosts[$((r + k))]}" = "$h" ] || fail "tp group of ranks $r-$((r + tp - 1)) spans two hosts"
    done
  fi
done
# GPUs shared within a host are named per host (only with GPUs)
notes=$(grep -c '^note: cuda:[0-9]* on node-[ab] is shared by ranks' "$work/table.txt" || true)
if [ "$gpus" -eq 0 ]; then [ "$notes" -eq 0 ] || fail "device notes without GPUs"; fi
if [ "$gpus" -gt 0 ] && [ "$np" -gt "$gpus" ]; then [ "$notes" -gt 0 ] || fail "no note on GPUs shared within a host"; fi

cluster_check_transports "$work/verbose.txt" 1 || fail "transports between the ranks (above)"
echo "PASS: two-host topo: ranks 0-3 on node-a, 4-8 on node-b, node-local ranks and devices, tp pairs inside a host, TCP only between hosts"
