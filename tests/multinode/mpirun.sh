#!/usr/bin/env bash
# mpirun on the one-machine two-host cluster: hosts node-a and node-b of hostfiles/two-node-example (or
# $LAVR_CLUSTER_HOSTFILE), each started by agent.sh in its own UTS namespace; shared memory within a
# host, TCP on the loopback range between hosts (pml ob1: no UCX, which would find the shared memory).
# Usage: bash tests/multinode/mpirun.sh -np 9 build/lavr topo --layout steps=4,tp=2,pp=1,aux=1
# Environment: LAVR_CLUSTER_TMP (Open MPI's session directories and shared-memory files, default /tmp
# and /dev/shm: a test that kills processes keeps them in its work directory), LAVR_CLUSTER_ID (tag
# of the processes, for cleanup), OMP_NUM_THREADS and OMP_WAIT_POLICY (passed on with -x when set).
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
args=(--hostfile "${LAVR_CLUSTER_HOSTFILE:-$here/../../hostfiles/two-node-example}" --map-by slot
      --mca plm_rsh_agent "$here/agent.sh"
      --mca pml ob1 --mca btl self,vader,tcp
      --mca btl_tcp_if_include 127.0.0.0/8 --mca oob_tcp_if_include 127.0.0.0/8)
if [ -n "${LAVR_CLUSTER_TMP:-}" ]; then
  args+=(--mca orte_tmpdir_base "$LAVR_CLUSTER_TMP" --mca btl_vader_backing_directory "$LAVR_CLUSTER_TMP")
fi
for v in OMP_NUM_THREADS OMP_WAIT_POLICY; do
  if [ -n "${!v:-}" ]; then args+=(-x "$v"); fi
done
exec "${LAVR_MPIRUN:-mpirun}" "${args[@]}" "$@"
