# shellcheck shell=bash
# Helpers sourced by the crash/stop/resume tests (tests/resume/*.sh): the reference render made by
# setup.sh, renders started in the background, their ranks, checkpoints, seeded random moments, checks.
#
# Environment (ctest sets it, see tests/cli/resume.cmake): LAVR_BIN (the lavr binary), LAVR_TEST_TMP
# (scratch; the reference lives in $LAVR_TEST_TMP/resume-ref), LAVR_MPIEXEC (default mpirun),
# LAVR_RESUME_SEED (replay the random moments of an earlier run), LAVR_KEEP=1 (keep the work dir),
# LAVR_REF_DIR and LAVR_REF_LAYOUT (where setup.sh puts the reference and its layout; the multi-node
# tests use their own).

: "${LAVR_BIN:?set LAVR_BIN to the lavr binary}"
tmp_root=${LAVR_TEST_TMP:-/tmp}
ref_dir=${LAVR_REF_DIR:-$tmp_root/resume-ref}
# shellcheck disable=SC2034  # used by setup.sh and the multi-node tests
ref_layout=${LAVR_REF_LAYOUT:-steps=2,tp=1,pp=1,aux=1}
mpiexec=${LAVR_MPIEXEC:-mpirun}
export OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1 OMP_NUM_THREADS=${OMP_NUM_THREADS:-1}

# the render every test does: the sample inputs at 64*64 (8x8 latents), 3 clips = 12 blocks
ref_model=${LAVR_RESUME_MODEL:-$tmp_root/tiny.h5}
# shellcheck disable=SC2034  # used by the scripts that source this file
base_args=(--model "$ref_model" --image "$ref_dir/in/portrait.png" --audio "$ref_dir/in/speech.wav"
           --prompt "a person talking" --size 64*64 --num-clip 3 --progress lines)
ref_blocks=12
# the message of a render that continues from a checkpoint (cli/render.c)
resumed_re='resuming from .*ckpt-0*([0-9]+)'

started_pids=()
attempt=0
work=""

resume_init() { # resume_init NAME: work dir, cleanup trap, seed of the random moments
  for c in h5dump cmp; do command -v "$c" >/dev/null || { echo "skipped: $c not found"; exit 77; }; done
  if [ ! -s "$ref_dir/ref.mp4" ] || [ ! -s "$ref_dir/ref.bin" ]; then
    echo "FAIL: no reference render in $ref_dir (run tests/resume/setup.sh first)"
    exit 1
  fi
  work=$(mktemp -d "$tmp_root/resume-$1.XXXXXX")
  trap cleanup EXIT
  trap 'exit 130' INT TERM
  seed=${LAVR_RESUME_SEED:-$(( ($(date +%s%N) ^ $$) & 0x7fffffff ))}
  rng_state=$seed
  ref_seconds=$(cat "$ref_dir/ref.seconds")
  echo "seed $seed (replay with LAVR_RESUME_SEED=$seed); reference render: $ref_seconds s"
}

descendants() { # every process below pid $1 (one ps: a tree of 9 ranks under load is slow to walk)
  ps -e -o pid= -o ppid= | awk -v root="$1" '
    { kids[$2] = kids[$2] " " $1 }
    END { n = split(kids[root], q, " ")
          for (i = 1; i <= n; i++) { print q[i]; m = split(kids[q[i]], c, " "); for (j = 1; j <= m; j++) q[++n] = c[j] } }'
}

cleanup() { # kills what the test started (and what cleanup_more, if a test defines it, finds)
  local pid
  for pid in "${started_pids[@]}"; do
    if kill -0 "$pid" 2>/dev/null; then
      # shellcheck disable=SC2046
      kill -9 $(descendants "$pid") "$pid" 2>/dev/null || true
    fi
  done
  if declare -F cleanup_more >/dev/null; then cleanup_more; fi
  if [ "${LAVR_KEEP:-0}" = 1 ]; then echo "(files kept in $work)"; elif [ -n "$work" ]; then rm -rf "$work"; fi
}

fail() { # print what ran and every attempt's log (ranks prefix their lines), then exit 1
  echo "FAIL: $*"
  echo "--- commands"
  cat "$work/commands" 2>/dev/null || true
  local log
  for log in "$work"/*.log; do
    [ -e "$log" ] || continue
    echo "--- $(basename "$log")"
    cat "$log"
  done
  echo "--- checkpoints"
  ls -l "$work"/*.stage/ckpt-* 2>/dev/null || true
  echo "(seed $seed; LAVR_KEEP=1 keeps $work)"
  exit 1
}

draw() { # draw LO HI: sets $drawn to a uniform number in [LO, HI) from the seeded generator
  rng_state=$(( rng_state * 6364136223846793005 + 1442695040888963407 ))
  drawn=$(awk -v u=$(( (rng_state >> 33) & 0x7fffffff )) -v lo="$1" -v hi="$2" \
    'BEGIN { printf "%.3f", lo + (hi - lo) * u / 2147483648 }')
}

draw_int() { # draw_int N: sets $drawn to an integer in [0, N)
  rng_state=$(( rng_state * 6364136223846793005 + 1442695040888963407 ))
  drawn=$(( ((rng_state >> 33) & 0x7fffffff) % $1 ))
}

times_ref() { awk -v f="$1" -v t="$ref_seconds" 'BEGIN { printf "%.3f", f * t }'; } # seconds = f x reference

start_render() { # start_render NAME NP ARG...: mpirun in the background, log in $work/NAME.log
  local name=$1 np=$2
  shift 2
  attempt=$((attempt + 1))
  job_log=$work/$name.log
  printf '%s\n' "$name: $mpiexec --oversubscribe -np $np $LAVR_BIN render $*" >>"$work/commands"
  "$mpiexec" --oversubscribe -np "$np" "$LAVR_BIN" render "$@" >"$job_log" 2>&1 &
  job_pid=$!
  job_start=$(date +%s.%N)
  started_pids+=("$job_pid")
}

job_alive() { kill -0 "$job_pid" 2>/dev/null; }
elapsed() { awk -v a="$job_start" -v b="$(date +%s.%N)" 'BEGIN { printf "%.2f", b - a }'; }

wait_render() { # wait_render [SECONDS]: waits for the job; sets $job_rc
  local limit=${1:-90} i
  for ((i = 0; i < limit * 20; i++)); do
    job_alive || break
    sleep 0.05
  done
  job_alive && fail "render $(basename "$job_log" .log) still running after ${limit}s"
  job_rc=0
  wait "$job_pid" || job_rc=$?
}

sleep_alive() { # sleep_alive SECONDS: sleeps, or less when the job ends first; 1 if it ended
  local until_t
  until_t=$(awk -v a="$(date +%s.%N)" -v d="$1" 'BEGIN { printf "%.3f", a + d }')
  while job_alive; do
    awk -v u="$until_t" -v n="$(date +%s.%N)" 'BEGIN { exit !(n >= u) }' && return 0
    sleep 0.02
  done
  return 1
}

# Every reader below consumes its whole input: a reader that exits early (grep -q, awk's exit) under
# pipefail can kill the writer with SIGPIPE and fail the pipeline, which lost ranks under load
# (cli_resume_signal "rank 2 not found"). An exited rank's environ reads empty, so it is not listed.
job_ranks() { # "RANK PID" of each MPI rank of the current job running now
  local pid r
  for pid in $(descendants "$job_pid"); do
    r=$({ tr '\0' '\n' <"/proc/$pid/environ"; } 2>/dev/null | sed -n 's/^OMPI_COMM_WORLD_RANK=//p')
    if [ -n "$r" ]; then echo "$r $pid"; fi
  done
}

rank_pid() { # rank_pid R: pid of MPI rank R of the current job ("" when gone)
  job_ranks | awk -v r="$1" '$1 == r && !found { print $2; found = 1 }'
}

wait_ranks() { # wait_ranks NP: until mpirun has started all NP ranks; 1 if the job ended first
  while job_alive; do
    [ "$(job_ranks | wc -l)" -ge "$1" ] && return 0
    sleep 0.02
  done
  return 1
}

newest_ckpt() { # newest_ckpt STAGE: blocks of the newest committed checkpoint (with a MANIFEST), or -1
  local m n best=-1
  for m in "$1"/ckpt-*/MANIFEST; do
    [ -e "$m" ] || continue
    n=$(basename "$(dirname "$m")")
    n=$((10#${n#ckpt-}))
    [ "$n" -gt "$best" ] && best=$n
  done
  echo "$best"
}

committed_ckpts() { # committed_ckpts STAGE: blocks of every committed checkpoint, oldest first
  local m n
  for m in "$1"/ckpt-*/MANIFEST; do
    [ -e "$m" ] || continue
    n=$(basename "$(dirname "$m")")
    echo $((10#${n#ckpt-}))
  done | sort -n
}

# wait_ckpt_after STAGE BLOCKS: until a checkpoint newer than BLOCKS is committed; 1 if the job ended
wait_ckpt_after() {
  while job_alive; do
    [ "$(newest_ckpt "$1")" -gt "$2" ] && return 0
    sleep 0.02
  done
  [ "$(newest_ckpt "$1")" -gt "$2" ]
}

# the aux rank's line just before its pipeline starts (ranks/aux_worker.c)
pipeline_re='rendering [0-9]+ clips? '

wait_log() { # wait_log REGEX: until the job's log matches; 1 if the job ended first
  while job_alive; do
    grep -Eq -- "$1" "$job_log" && return 0
    sleep 0.02
  done
  grep -Eq -- "$1" "$job_log"
}

resumed_from() { # resumed_from LOG: blocks of the checkpoint the render continued from, or -1
  local b
  b=$(grep -Eo -- "$resumed_re" "$1" | head -n 1 | sed -E "s/$resumed_re/\\1/") || true
  echo "${b:--1}"
}

check_same() { # check_same MP4 STAGE: MP4 bytes and /latents equal the uninterrupted reference
  [ -s "$1" ] || fail "$1 missing"
  cmp "$1" "$ref_dir/ref.mp4" || fail "$1 differs from the uninterrupted render $ref_dir/ref.mp4"
  h5dump -d /latents -b LE -o "$work/latents.bin" "$2/latents.h5" >/dev/null ||
    fail "h5dump -d /latents $2/latents.h5 failed"
  cmp "$work/latents.bin" "$ref_dir/ref.bin" || fail "$2/latents.h5 /latents differs from the uninterrupted render's"
  echo "$(basename "$1"): MP4 and latents identical to the uninterrupted render"
}

# run_killed NAME NP WHEN WHO STAGE ARG...: one render killed with -9 at a seeded random moment.
# WHEN: "any" = 0.05..0.85 x the reference's wall time after the start (setup, rendering or a
# checkpoint write), "ckpt" = 0..0.2 x that after this run committed a new checkpoint or said it
# continues from one, whichever comes first (a clip takes about 0.2 x), "resumed" = 0..0.2 x after
# the run said it continues from a checkpoint. WHO: a rank
# number, or "all" (every rank and mpirun at once). Sets $killed_at_ckpt (newest committed
# checkpoint when the signal went, -2 when the run ended before it).
run_killed() {
  local name=$1 np=$2 when=$3 who=$4 stage=$5 before delay ranks="" pid r p
  shift 5
  before=$(newest_ckpt "$stage")
  start_render "$name" "$np" "$@"
  killed_at_ckpt=-2
  case $when in
    any) draw 0.05 0.85 ;;
    ckpt)
      while job_alive && [ "$(newest_ckpt "$stage")" -le "$before" ] && ! grep -Eq -- "$resumed_re" "$job_log"; do
        sleep 0.02
      done
      draw 0 0.2
      ;;
    resumed) wait_log "$resumed_re" || true; draw 0 0.2 ;;
  esac
  delay=$(times_ref "$drawn")
  if sleep_alive "$delay" && wait_ranks "$np"; then
    ranks=$(job_ranks | awk '{ printf " %s", $2 }')
    killed_at_ckpt=$(newest_ckpt "$stage")
    if [ "$who" = all ]; then
      # shellcheck disable=SC2086
      kill -9 "$job_pid" $ranks 2>/dev/null || true
    else
      pid=$(rank_pid "$who")
      if [ -n "$pid" ]; then kill -9 "$pid" 2>/dev/null || true; fi
    fi
    echo "$name: killed $( [ "$who" = all ] && echo "mpirun and every rank" || echo "rank $who" ) at $(elapsed) s" \
      "($when + $delay s; newest committed checkpoint: $killed_at_ckpt)"
  else
    echo "$name: ended before the kill ($when + $delay s)"
  fi
  wait_render
  echo "$name: exit $job_rc, resumed from $(resumed_from "$job_log"), newest checkpoint now $(newest_ckpt "$stage")"
  # no rank may outlive the job
  for ((r = 0; r < 50; r++)); do
    pid=""
    for p in ${ranks:-}; do kill -0 "$p" 2>/dev/null && pid="$pid $p"; done
    [ -z "$pid" ] && break
    sleep 0.1
  done
  if [ -n "$pid" ]; then
    # shellcheck disable=SC2086
    kill -9 $pid 2>/dev/null || true
    fail "$name: ranks$pid still running 5 s after mpirun ended"
  fi
  # the kill may land after the aux wrote the whole video (a rank killed on its way out): the render is complete,
  # whatever mpirun's exit code, and the same command then renders afresh rather than resume
  job_complete=0
  if grep -Eq '\] wrote .*: [0-9]+ frames' "$job_log"; then job_complete=1; fi
  if [ "$killed_at_ckpt" -ge -1 ] && [ "$job_complete" -eq 1 ]; then
    echo "$name: (finished although killed, exit $job_rc: the kill came as it exited)"
  fi
}

# expect_resumed NAME MIN: the job continued from a checkpoint of at least MIN blocks (when MIN >= 0)
expect_resumed() {
  local from
  from=$(resumed_from "$job_log")
  if [ "$2" -ge 0 ] && [ "$from" -lt "$2" ]; then
    fail "$1: continued from checkpoint $from, but checkpoint $2 was committed before it started"
  fi
}

# run_to_end NAME NP STAGE MIN ARG...: a render left alone must exit 0; when MIN >= 0 it must have
# continued from a checkpoint of at least MIN blocks (the newest committed before it started).
run_to_end() {
  local name=$1 np=$2 stage=$3 min=$4
  shift 4
  start_render "$name" "$np" "$@"
  wait_render
  echo "$name: exit $job_rc, resumed from $(resumed_from "$job_log"), newest checkpoint now $(newest_ckpt "$stage")"
  [ "$job_rc" -eq 0 ] || fail "$name: exit $job_rc"
  expect_resumed "$name" "$min"
}

# stop_with NAME SIGNAL WHO STAGE [MAX]: sends SIGNAL to WHO (mpirun or a rank number) of the running
# job after a seeded delay (0..MAX x the reference's wall time, MAX 0.1 by default), then requires exit 75
# and a committed checkpoint newer than the ones before the signal; sets $stopped_at to its blocks.
# A stop travels in a block packet, so it must come before the aux rank sent the last block: a resumed
# render sends min(blocks left, steps * pp + 2) at once when its pipeline starts; the callers leave
# it more blocks than that (see signal.sh).
stop_with() {
  local name=$1 sig=$2 who=$3 stage=$4 max=${5:-0.1} before pid delay manifest
  draw 0 "$max"
  delay=$(times_ref "$drawn")
  sleep_alive "$delay" || fail "$name ended before the $sig signal (delay $delay s)"
  before=$(newest_ckpt "$stage")
  if [ "$who" = mpirun ]; then pid=$job_pid; else pid=$(rank_pid "$who"); fi
  [ -n "$pid" ] || fail "$name: rank $who not found"
  kill -s "$sig" "$pid"
  echo "$name: SIG$sig to $who at $(elapsed) s (newest committed checkpoint: $before)"
  wait_render 60
  stopped_at=$(newest_ckpt "$stage")
  echo "$name: exit $job_rc, newest checkpoint now $stopped_at ($(committed_ckpts "$stage" | tr '\n' ' '))"
  if [ "$job_rc" -eq 0 ] && grep -q 'every remaining block was already sent' "$job_log"; then
    fail "$name: SIG$sig came after the last block was sent, so the render finished (the test sent it too late)"
  fi
  [ "$job_rc" -eq 75 ] || fail "$name: exit $job_rc after SIG$sig, expected 75 (checkpointed and stopped)"
  [ "$stopped_at" -gt "$before" ] || fail "$name: no new checkpoint committed on SIG$sig"
  [ "$stopped_at" -lt "$ref_blocks" ] || fail "$name: stopped after the last block ($stopped_at)"
  manifest=$(printf '%s/ckpt-%06d/MANIFEST' "$stage" "$stopped_at")
  grep -qx "blocks $stopped_at" "$manifest" || fail "$manifest does not say 'blocks $stopped_at'"
}
