#!/usr/bin/env bash
# Two renders on one output (issue 17): two real renders with the same --out started at once: one renders
# to the uninterrupted bytes, the other refuses at once with one line naming the host and PID holding the
# stage directory, exit 2; then a render with another --out but the same --stage-dir as a running one, and
# one with the same --out but another --stage-dir, are refused the same way, and the running one still
# ends with the uninterrupted bytes.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
# shellcheck source=lib.sh
. "$here/lib.sh"
resume_init concurrent

args=("${base_args[@]}" --layout steps=2,tp=1,pp=1,aux=1)
host=$(hostname)

# check_refused NAME RC: exit 2 and one line naming the lock's holder
check_refused() {
  local line
  line=$(grep 'lavr: error:' "$work/$1.log" || true)
  echo "$1: exit $2: $line"
  [ "$2" -eq 2 ] || fail "$1: exit $2, expected 2"
  [ "$(printf '%s\n' "$line" | grep -c .)" -eq 1 ] || fail "$1: expected one error line"
  printf '%s\n' "$line" | grep -Eq -- "is in use by another render \\(host $host pid [0-9]+ since " ||
    fail "$1: the line does not name the host and PID holding the lock"
}

out=$work/job.mp4 stage=$work/job.stage
start_render first 3 "${args[@]}" --out "$out"
pid_first=$job_pid
start_render second 3 "${args[@]}" --out "$out"
pid_second=$job_pid
rc_first=0 rc_second=0
wait "$pid_first" || rc_first=$?
wait "$pid_second" || rc_second=$?
echo "started together: exits $rc_first and $rc_second"
if [ "$rc_first" -eq 0 ]; then check_refused second "$rc_second"; else
  [ "$rc_second" -eq 0 ] || fail "neither render finished (exits $rc_first, $rc_second)"
  check_refused first "$rc_first"
fi
check_same "$out" "$stage"

# the same stage directory under another --out, while the first render runs (paused)
out2=$work/job2.mp4
rm -rf "$stage" "$out"
start_render running 3 "${args[@]}" --out "$out"
pid_running=$job_pid
wait_log "$pipeline_re" || fail "running: ended before its pipeline started"
wait_ranks 3 || fail "running: ended before all its ranks started"
# its ranks are paused (SIGSTOP) while the others try, so it cannot finish first; the lock stays held
running_ranks=$(job_ranks | awk '{ printf " %s", $2 }')
# shellcheck disable=SC2086
kill -STOP $running_ranks
start_render other 3 "${args[@]}" --out "$out2" --stage-dir "$stage"
wait_render 60
check_refused other "$job_rc"
[ ! -e "$out2" ] && [ ! -e "$out2.part" ] || fail "other: wrote $out2 although refused"
# and the same --out under another --stage-dir: the output's own lock
start_render same-out 3 "${args[@]}" --out "$out" --stage-dir "$work/other.stage"
wait_render 60
check_refused same-out "$job_rc"
grep -q "the output '$out' is in use" "$work/same-out.log" || fail "same-out: the line does not name the output"
[ ! -e "$work/other.stage" ] || fail "same-out: left the stage directory $work/other.stage"
# shellcheck disable=SC2086
kill -CONT $running_ranks
job_pid=$pid_running job_log=$work/running.log
wait_render 120
[ "$job_rc" -eq 0 ] || fail "running: exit $job_rc"
check_same "$out" "$stage"
