#!/usr/bin/env bash
# Two-host test (issue 21): `lavr topo` for steps=4,tp=2 on hostfiles/two-node-example through
# mpirun.sh. Requires ranks 0-3 on node-a and 4-8 (the aux rank last) on node-b, node-local ranks
# counted per host, each tp pair on one host, the roles of the one-node plan, each host placing its
# ranks on its own GPUs (this machine's, and 4 per host with LAVR_FAKE_DEVICES), and Open MPI's
# transport per pair of ranks (its verbose output): self or shared memory within a host, TCP between
# the hosts, every pair seen.
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
  for f in plan.txt table.txt table-4.txt verbose.txt; do echo "--- $f"; head -n 60 "$work/$f" 2>/dev/null || true; done
  echo "(LAVR_KEEP=1 keeps $work)"
  exit 1
}

steps=4 tp=2 pps=1 layout=steps=4,tp=2,pp=1,aux=1 np=9
mapfile -t hosts < <(cluster_layout)
[ "${#hosts[@]}" -eq "$np" ] || fail "$cluster_hostfile has ${#hosts[@]} slots, the layout needs $np"

# the one-node plan: the roles, and this machine's GPU count (every "host" sees the same GPUs)
"$LAVR_BIN" topo --layout "$layout" >"$work/plan.txt" || fail "lavr topo (plan) failed"
gpus=$(sed -n 's/.*with its \([0-9][0-9]*\) CUDA device.*/\1/p' "$work/plan.txt")
[ -n "$gpus" ] || fail "the plan does not say how many CUDA devices this machine has"

# the table: rank host local role stage steps tp pp layers prev next device
rows() { awk '$1 ~ /^[0-9]+$/ && NF >= 12' "$1"; }
roles() { awk '{ for (i = NF - 8; i < NF; i++) printf "%s ", $i; print "" }'; } # role .. next

# check_table FILE GPUS: hosts, node-local ranks, roles, tp groups and devices of a two-host table
# whose hosts have GPUS GPUs each. The expected devices follow docs/aux.md's rule, host by host: DiT
# ranks take the GPUs in pipeline order (wrapping round), the aux rank the first free one, else the
# one of the finisher (the last stage's last pp index, tp 0) when it is on its host, else the one of
# its host's last DiT rank. Each GPU of a host with two or more ranks has a note naming host and ranks.
check_table() {
  local file=$1 g=$2 r rank host lrank role stage pp device h want_local want key
  local dit=$((steps * tp * pps)) finisher=$(((steps - 1) * tp * pps + (pps - 1) * tp))
  declare -A count=() ndit=() last_dit=() group_host=()
  local -a dev=()
  [ "$(rows "$file" | wc -l)" -eq "$np" ] || fail "$(basename "$file"): not $np rows"
  for ((r = 0; r < np; r++)); do
    h=${hosts[$r]}
    if [ "$g" -eq 0 ]; then dev[r]=-1
    elif [ "$r" -lt "$dit" ]; then dev[r]=$(( ${ndit[$h]:-0} % g ))
    elif [ "${ndit[$h]:-0}" -lt "$g" ]; then dev[r]=${ndit[$h]:-0}
    elif [ "${hosts[$finisher]}" = "$h" ]; then dev[r]=${dev[$finisher]}
    else dev[r]=${dev[${last_dit[$h]}]}
    fi
    if [ "$r" -lt "$dit" ]; then ndit[$h]=$(( ${ndit[$h]:-0} + 1 )); last_dit[$h]=$r; fi
  done
  for ((r = 0; r < np; r++)); do
    read -r rank host lrank role stage _ _ pp _ _ _ device < <(rows "$file" | sed -n "$((r + 1))p")
    h=${hosts[$r]}
    want_local=${count[$h]:-0}
    count[$h]=$((want_local + 1))
    want=cpu
    if [ "${dev[$r]}" -ge 0 ]; then want=cuda:${dev[$r]}; fi
    [ "$rank $host $lrank $device" = "$r $h $want_local $want" ] ||
      fail "$(basename "$file") row $r: rank $rank host $host local $lrank device $device, expected $r $h $want_local $want"
    [ "$(rows "$file" | sed -n "$((r + 1))p" | roles)" = "$(rows "$work/plan.txt" | sed -n "$((r + 1))p" | roles)" ] ||
      fail "$(basename "$file") row $r: roles differ from the one-node plan"
    # the ranks of one stage and pp index form a tp group: one host for all of them
    if [ "$role" = dit ]; then
      key="$stage ${pp%/*}"
      [ "${group_host[$key]:-$host}" = "$host" ] || fail "the tp group of stage $stage pp ${pp%/*} spans two hosts"
      group_host[$key]=$host
    fi
  done
  want=$(for ((r = 0; r < np; r++)); do if [ "${dev[$r]}" -ge 0 ]; then echo "${hosts[$r]} ${dev[$r]} $r"; fi; done |
    awk '{ k = $1 " " $2; n[k]++; ranks[k] = ranks[k] " " $3 }
         END { for (k in n) if (n[k] > 1) { split(k, p, " "); print "note: cuda:" p[2] " on " p[1] " is shared by ranks" ranks[k] } }' | sort)
  [ "$(grep '^note: cuda' "$file" | sort)" = "$want" ] ||
    fail "$(basename "$file"): notes on shared GPUs differ from: ${want:-(none)}"
}

# every pair of ranks connected at start-up (add_procs_cutoff), each connection's transport logged
timeout -k 5 120 bash "$cluster_mpirun" -np "$np" --mca mpi_add_procs_cutoff 1024 --mca btl_base_verbose 100 \
  "$LAVR_BIN" topo --layout "$layout" >"$work/table.txt" 2>"$work/verbose.txt" || fail "two-host lavr topo failed"
cat "$work/table.txt"
check_table "$work/table.txt" "$gpus"
cluster_check_transports "$work/verbose.txt" 1 || fail "transports between the ranks (above)"

# node-local placement with 4 GPUs per host, as in the hostfile's comment (the aux rank shares the
# finisher's): LAVR_FAKE_DEVICES, passed to the other host with -x like any variable lavr needs there
g=4
LAVR_FAKE_DEVICES=$g timeout -k 5 120 bash "$cluster_mpirun" -x LAVR_FAKE_DEVICES -np "$np" \
  "$LAVR_BIN" topo --layout "$layout" >"$work/table-$g.txt" 2>&1 || fail "two-host lavr topo with $g GPUs failed"
check_table "$work/table-$g.txt" "$g"
echo "with $g GPUs per host: $(rows "$work/table-$g.txt" | awk '{ printf "%s%s:%s", sep, $1, $NF; sep = " " }')"
echo "PASS: two-host topo: ranks on ${hosts[*]}, node-local ranks and devices, tp groups inside a host, TCP only between hosts"
