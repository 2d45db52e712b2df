#!/bin/sh
# Launch agent of the one-machine two-host cluster (Open MPI's plm_rsh_agent, in place of ssh): runs the
# daemon command Open MPI gives for host $1 here, as ssh would there: in a UTS namespace named $1, with a
# fresh login environment (only LAVR_CLUSTER_ID, which tags the processes of one test run, is kept).
# With LAVR_CLUSTER_LOCAL=DIR the host also gets a mount namespace with its own empty DIR (a tmpfs):
# a disk of its own, which the other host does not see.
host=$1
shift
ns=--uts
[ -n "${LAVR_CLUSTER_LOCAL:-}" ] && ns="--uts --mount"
# shellcheck disable=SC2086  # $ns is one or two options
exec env -i PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin HOME="${HOME:-/root}" \
  LAVR_CLUSTER_ID="${LAVR_CLUSTER_ID:-}" unshare $ns sh -c '
    hostname "$0" || exit 1
    if [ -n "$1" ]; then mount -t tmpfs "local-$0" "$1" || exit 1; fi
    shift
    exec sh -c "$*"' "$host" "${LAVR_CLUSTER_LOCAL:-}" "$@"
