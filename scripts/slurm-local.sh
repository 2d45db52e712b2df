#!/usr/bin/env bash
# Starts or stops a private Slurm on this host without systemd (for CI and for trying the sbatch
# scripts): munged, slurmctld and one slurmd (this host), or one slurmd per name in LAVR_SLURM_HOSTS,
# each in a UTS namespace of that name, with every file under one directory.
#
# Usage (as root; needs Debian's slurm-wlm and munge):
#   bash scripts/slurm-local.sh start    # prints the SLURM_CONF to export, waits until the node is idle
#   LAVR_SLURM_HOSTS="node-a node-b" bash scripts/slurm-local.sh start   # two hosts on this machine
#   bash scripts/slurm-local.sh node-up node-b   # (re)starts one host's slurmd, waits until it is idle
#   export SLURM_CONF=/tmp/lavr-slurm/slurm.conf; sbatch ...; squeue
#   # the render script on this GPU-less node (2 ranks; tests/slurm/requeue.sh does this):
#   LAVR=build/lavr LAVR_LAYOUT=steps=1 sbatch --gres=none --ntasks-per-node=2 slurm/render-1node.sbatch \
#       --model tiny.h5 --image face.png --audio speech.wav --prompt "..." --size 64*64 --out out.mp4
#   bash scripts/slurm-local.sh stop     # cancels the jobs left, stops the daemons
# Environment: LAVR_SLURM_DIR (default /tmp/lavr-slurm), LAVR_SLURM_PORT (slurmctld port, default
# 16817; slurmd uses the next one, the hosts of LAVR_SLURM_HOSTS the ones after), so it does not clash
# with a real Slurm on the standard ports. The node is this host (its CPUs and memory from
# `slurmd -C`, address 127.0.0.1); the hosts of LAVR_SLURM_HOSTS get 127.0.0.2, .3, ..., 8 CPUs each
# (SlurmdParameters=config_overrides: more than the machine has) and a share of its memory. Debian's
# Slurm is built without multiple-slurmd support, so each host has its own NodeHostname (its name).
# One partition "local"; SelectType cons_tres by core, ProctrackType linuxproc, no cgroups, no accounting.
# Requeued jobs wait cred_expire (5 s here, 120 s by default) and the scheduler runs every 2 s.
set -euo pipefail

dir=${LAVR_SLURM_DIR:-/tmp/lavr-slurm}
port=${LAVR_SLURM_PORT:-16817}
conf=$dir/slurm.conf
hosts=${LAVR_SLURM_HOSTS:-}

die() { echo "slurm-local: $*" >&2; exit 1; }

pid_of() { # pid from a pid file, if that process is alive
  local f=$1 pid
  [ -s "$f" ] || return 1
  pid=$(cat "$f")
  kill -0 "$pid" 2>/dev/null || return 1
  echo "$pid"
}

stop_daemon() { # TERM, wait up to 10 s, then KILL
  local name=$1 f=$2 pid
  pid=$(pid_of "$f") || return 0
  kill "$pid" 2>/dev/null || true
  for _ in $(seq 100); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
  if kill -0 "$pid" 2>/dev/null; then
    echo "slurm-local: $name ($pid) did not stop on TERM, killing it" >&2
    kill -9 "$pid" 2>/dev/null || true
  fi
  rm -f "$f"
}

stop() {
  if pid_of "$dir/slurmctld.pid" >/dev/null; then
    local jobs
    jobs=$(SLURM_CONF=$conf squeue -h -o %i 2>/dev/null || true)
    if [ -n "$jobs" ]; then
      # shellcheck disable=SC2086
      SLURM_CONF=$conf scancel $jobs 2>/dev/null || true
      for _ in $(seq 50); do
        [ -z "$(SLURM_CONF=$conf squeue -h -o %i 2>/dev/null || true)" ] && break
        sleep 0.2
      done
    fi
  fi
  local h
  for h in $hosts; do stop_daemon "slurmd $h" "$dir/slurmd-$h.pid"; done
  stop_daemon slurmd "$dir/slurmd.pid"
  stop_daemon slurmctld "$dir/slurmctld.pid"
  stop_daemon munged "$dir/munge/munged.pid"
}

node_lines() { # the NodeName lines and the per-slurmd paths
  local node_line h i=0 n mem
  # e.g. "NodeName=vm CPUs=2 Boards=1 SocketsPerBoard=1 CoresPerSocket=2 ThreadsPerCore=1 RealMemory=24105"
  node_line=$(slurmd -C | head -n 1)
  [[ $node_line == NodeName=*RealMemory=* ]] || die "slurmd -C did not describe this host: $node_line"
  if [ -z "$hosts" ]; then
    printf '%s\n' "SlurmdSpoolDir=$dir/spool" "SlurmdPidFile=$dir/slurmd.pid" "SlurmdLogFile=$dir/log/slurmd.log" \
      "$node_line NodeAddr=127.0.0.1 State=UNKNOWN"
    return
  fi
  n=$(echo "$hosts" | wc -w)
  mem=$(( ${node_line##*RealMemory=} / n ))
  printf '%s\n' "SlurmdSpoolDir=$dir/spool/%n" "SlurmdPidFile=$dir/slurmd-%n.pid" "SlurmdLogFile=$dir/log/slurmd-%n.log" \
    "SlurmdParameters=config_overrides"
  for h in $hosts; do
    i=$((i + 1))
    echo "NodeName=$h NodeHostname=$h NodeAddr=127.0.0.$((i + 1)) Port=$((port + 1 + i)) CPUs=8 Boards=1" \
      "SocketsPerBoard=1 CoresPerSocket=8 ThreadsPerCore=1 RealMemory=$mem State=UNKNOWN"
  done
}

write_conf() {
  local host nodes
  host=$(hostname -s)
  nodes=$(node_lines)
  cat >"$conf" <<EOF
# Written by scripts/slurm-local.sh: a private Slurm for tests, everything under $dir.
ClusterName=lavr-local
SlurmctldHost=$host(127.0.0.1)
SlurmctldPort=$port
SlurmdPort=$((port + 1))
SlurmUser=root
SlurmdUser=root
AuthType=auth/munge
CredType=cred/munge
AuthInfo=socket=$dir/munge/munge.socket,cred_expire=5
StateSaveLocation=$dir/state
SlurmctldPidFile=$dir/slurmctld.pid
SlurmctldLogFile=$dir/log/slurmctld.log
ProctrackType=proctrack/linuxproc
TaskPlugin=task/none
SwitchType=switch/none
MpiDefault=none
SelectType=select/cons_tres
SelectTypeParameters=CR_Core
SchedulerType=sched/builtin
SchedulerParameters=sched_interval=2
AccountingStorageType=accounting_storage/none
JobAcctGatherType=jobacct_gather/none
JobCompType=jobcomp/none
ReturnToService=2
JobRequeue=1
KillWait=5
MinJobAge=600
$nodes
PartitionName=local Nodes=ALL Default=YES MaxTime=INFINITE State=UP
EOF
}

start() {
  [ "$(id -u)" -eq 0 ] || die "needs root (SlurmUser=root, slurmd starts jobs as their user)"
  for c in munged mungekey slurmctld slurmd sinfo; do
    command -v "$c" >/dev/null || die "$c not found: apt-get install slurm-wlm munge"
  done
  stop
  rm -rf "$dir"
  mkdir -p "$dir/state" "$dir/spool" "$dir/log" "$dir/munge"
  chmod 0700 "$dir/munge"
  mungekey --create --keyfile="$dir/munge/munge.key"
  chmod 0400 "$dir/munge/munge.key"
  munged --force --key-file="$dir/munge/munge.key" --socket="$dir/munge/munge.socket" \
    --pid-file="$dir/munge/munged.pid" --log-file="$dir/munge/munged.log" --seed-file="$dir/munge/munged.seed"
  write_conf
  slurmctld -f "$conf"
  if [ -z "$hosts" ]; then
    slurmd -f "$conf" -N "$(hostname -s)"
  else
    local h
    for h in $hosts; do start_host "$h"; done
  fi
  wait_idle "$(sinfo_nodes)"
}

sinfo_nodes() { if [ -z "$hosts" ]; then hostname -s; else echo "$hosts"; fi; }

start_host() { # slurmd of host $1 in a UTS namespace named $1
  mkdir -p "$dir/spool/$1"
  unshare --uts sh -c 'hostname "$0" && exec slurmd -f "$1" -N "$0"' "$1" "$conf" ||
    die "could not start slurmd for $1 (unshare --uts needs root with CAP_SYS_ADMIN)"
}

wait_idle() { # wait_idle "NODE...": until each is idle (30 s at most)
  export SLURM_CONF=$conf
  local node state="" all
  for _ in $(seq 150); do
    all=1
    for node in $1; do
      state=$(sinfo -h -n "$node" -N -o %T 2>/dev/null || true)
      [ "$state" = idle ] || { all=0; break; }
    done
    [ "$all" = 1 ] && break
    sleep 0.2
  done
  if [ "$all" != 1 ]; then
    tail -n 5 "$dir"/log/*.log >&2 || true
    stop
    die "node $node did not become idle within 30 s (state: '${state:-none}'; logs above, in $dir/log)"
  fi
  echo "slurm-local: idle: $1; export SLURM_CONF=$conf"
}

node_up() { # restarts the slurmd of host $1 (after a test killed it) and waits until the node is idle
  [[ " $hosts " == *" $1 "* ]] || die "node-up $1: not one of LAVR_SLURM_HOSTS ($hosts)"
  stop_daemon "slurmd $1" "$dir/slurmd-$1.pid"
  start_host "$1"
  wait_idle "$1"
}

case "${1:-}" in
  start) start ;;
  stop) stop; echo "slurm-local: stopped" ;;
  node-up) node_up "${2:?usage: $0 node-up HOST}" ;;
  *) echo "usage: $0 start|stop|node-up HOST   (env LAVR_SLURM_DIR, LAVR_SLURM_PORT, LAVR_SLURM_HOSTS)" >&2; exit 2 ;;
esac
