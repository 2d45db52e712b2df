# shellcheck shell=bash
# Helpers of the two-host tests (tests/multinode/*.sh, tests/slurm/multinode.sh): prerequisites of the
# one-machine cluster, where hostfiles/two-node-example puts each rank, and the processes of one host.
#
# A "host" is a UTS namespace named after it (agent.sh, or the private Slurm's slurmd); every process
# of one test run carries LAVR_CLUSTER_ID=<its work directory> in its environment, so a test finds and
# kills its own processes only, even when others run the same test on this machine.

cluster_dir=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
# shellcheck disable=SC2034  # used by the scripts that source this file
cluster_mpirun=$cluster_dir/mpirun.sh
cluster_hostfile=${LAVR_CLUSTER_HOSTFILE:-$cluster_dir/../../hostfiles/two-node-example}

cluster_check() { # exit 77 (skipped) unless this machine can play two hosts
  local c
  for c in unshare nsenter hostname; do
    command -v "$c" >/dev/null || { echo "skipped: $c not found (util-linux, hostname)"; exit 77; }
  done
  if ! unshare --uts true 2>/dev/null; then
    echo "skipped: unshare --uts failed: the two hosts need root with CAP_SYS_ADMIN (a UTS namespace each)"
    exit 77
  fi
}

cluster_layout() { # host of each rank, one per line, as mpirun --map-by slot fills the hostfile
  awk '!/^[[:space:]]*(#|$)/ { n = 1; for (i = 2; i <= NF; i++) if ($i ~ /^slots=/) n = substr($i, 7) + 0
                               for (k = 0; k < n; k++) print $1 }' "$cluster_hostfile"
}

cluster_host_of() { # cluster_host_of PID: the host name a process sees ("" when it is gone)
  nsenter -t "$1" -u hostname 2>/dev/null || true
}

cluster_pids() { # cluster_pids [HOST]: this run's processes on the hosts (on HOST only, when given)
  local mine ino path pid
  mine=$(stat -L -c %i /proc/self/ns/uts)
  # one stat for all processes (some end meanwhile); those in this shell's UTS namespace are not on a host
  { stat -L -c '%i %n' /proc/[0-9]*/ns/uts 2>/dev/null || true; } | while read -r ino path; do
    [ "$ino" = "$mine" ] && continue
    pid=${path#/proc/}
    pid=${pid%%/*}
    grep -qzxF "LAVR_CLUSTER_ID=$LAVR_CLUSTER_ID" "/proc/$pid/environ" 2>/dev/null || continue
    if [ -z "${1:-}" ] || [ "$(cluster_host_of "$pid")" = "$1" ]; then echo "$pid"; fi
  done
}

cluster_kill_host() { # cluster_kill_host HOST: kill -9 every process on HOST at once; prints how many
  local pids
  pids=$(cluster_pids "$1")
  # shellcheck disable=SC2086
  if [ -n "$pids" ]; then kill -9 $pids 2>/dev/null || true; fi
  echo "$pids" | grep -c . || true
}

cluster_kill_all() { # every process of this run on the hosts (cleanup)
  local pids
  pids=$(cluster_pids)
  # shellcheck disable=SC2086
  if [ -n "$pids" ]; then kill -9 $pids 2>/dev/null || true; fi
}

# cluster_check_transports LOG [RUNS]: Open MPI's choice of transport for each pair of ranks in LOG
# (mpirun with --mca btl_base_verbose 100; "[HOST:PID] mca: bml: Using BTL btl for send to
# [[JOB,1],RANK] on node NODE") matches the hosts of cluster_layout: self to itself, shared memory
# (vader) within a host, TCP between hosts, each in each direction at least once; with RUNS, LOG
# holds RUNS mpiruns that connected every pair at start-up (--mca mpi_add_procs_cutoff 1024).
# Prints a summary; returns 1 (after saying why) on a mismatch.
cluster_check_transports() {
  local summary want
  awk -v hosts="$(cluster_layout | tr '\n' ' ')" -v runs="${2:-0}" '
    BEGIN { n = split(hosts, host, " ") }
    /mca: bml: Using [a-z]+ btl for send to/ {
      from = $1; sub(/^\[/, "", from); sub(/:.*/, "", from)
      btl = $5; to = $NF; rank = $(NF - 3); sub(/.*,/, "", rank); sub(/\]\]/, "", rank)
      if (to != host[rank + 1]) { printf "rank %d is on %s, Open MPI says %s\n", rank, host[rank + 1], to; bad = 1 }
      want = from != to ? "tcp" : (btl == "self" ? "self" : "vader")
      if (btl != want) { printf "%s to rank %d on %s: %s, expected %s\n", $1, rank, to, btl, want; bad = 1 }
      pairs[$1 " " rank]++; lines++
    }
    END {
      if (runs > 0 && lines != runs * n * n) {
        printf "%d connections logged, expected %d (every pair of %d ranks)\n", lines, runs * n * n, n; bad = 1
      }
      for (p in pairs) if (pairs[p] != 1) { printf "pair %s logged %d times\n", p, pairs[p]; bad = 1 }
      exit bad
    }' "$1" || return 1
  summary=$(awk '/mca: bml: Using/ { f = $1; sub(/^\[/, "", f); sub(/:.*/, "", f); print f " -> " $NF ": " $5 }' "$1" |
    sort | uniq -c | awk '{ printf "%s%s %s %s %s (%d)", sep, $2, $3, $4, $5, $1; sep = ", " }')
  echo "transports: $summary"
  for want in "node-a -> node-b: tcp" "node-b -> node-a: tcp" "node-a -> node-a: vader" "node-b -> node-b: vader"; do
    [[ $summary == *"$want"* ]] || { echo "no connection $want"; return 1; }
  done
}
