#!/bin/sh
# Launch agent of the one-machine two-host cluster (Open MPI's plm_rsh_agent, in place of ssh): runs the
# daemon command Open MPI gives for host $1 here, as ssh would there: in a UTS namespace named $1, with a
# fresh login environment (only LAVR_CLUSTER_ID, which tags the processes of one test run, is kept).
host=$1
shift
exec env -i PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin HOME="${HOME:-/root}" \
  LAVR_CLUSTER_ID="${LAVR_CLUSTER_ID:-}" unshare --uts sh -c 'hostname "$0" && exec sh -c "$*"' "$host" "$@"
