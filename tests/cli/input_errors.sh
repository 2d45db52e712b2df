#!/usr/bin/env bash
# One bad input of `lavr render` per case (issue 17), each found before any weight loads: exit 2, one error
# line from rank 0 matching the case's pattern, no MPI_ABORT, no stage directory and no video left behind.
# Usage: input_errors.sh CASE (ctest runs every case of the table; `input_errors.sh list` prints them).
set -euo pipefail
: "${LAVR_BIN:?}" "${LAVR_TEST_TMP:?}" "${LAVR_RENDER_INPUTS:?}"
mpiexec=${LAVR_MPIEXEC:-mpirun}
in=$LAVR_RENDER_INPUTS

# case | what replaces the good input | pattern of the error line
table=(
  "image-corrupt|--image=bad/corrupt.png|--image: .*corrupt.png: corrupt image data"
  "image-empty|--image=bad/empty.png|--image: 'bad/empty.png' is not a readable image"
  "image-truncated|--image=bad/truncated.png|--image: .*truncated.png: corrupt image data"
  "image-directory|--image=bad/dir.png|image '.*dir.png' is a directory"
  "audio-empty|--audio=bad/empty.wav|--audio: audio file '.*empty.wav' is empty \\(0 bytes\\)"
  "audio-zero-samples|--audio=bad/zero.wav|--audio: audio file '.*zero.wav' holds no samples"
  "audio-text|--audio=bad/text.wav|--audio: '.*text.wav' is not readable audio"
  "audio-directory|--audio=bad/dir.wav|audio '.*dir.wav' is a directory"
  "out-no-extension|--out=out/video|--out '.*video' has no extension"
  "out-directory|--out=bad/dir.mp4|--out '.*dir.mp4' is a directory"
  "out-empty|--out=|--out is empty"
  "out-unknown-extension|--out=out/video.xyz|--out '.*video.xyz': FFmpeg knows no container for '.xyz'"
  "stage-is-a-file|--stage-dir=bad/stagefile|--stage-dir '.*stagefile' is a file, not a directory"
  "backend-cuda-without-gpu|--backend=cuda|--backend cuda: (this lavr was built without CUDA|this rank sees no CUDA device)"
  "resume-yes-nothing|--resume=yes|--resume yes: there is nothing to resume in"
)
if [ "${1:-}" = list ]; then for row in "${table[@]}"; do echo "${row%%|*}"; done; exit 0; fi
row=""
for r in "${table[@]}"; do [ "${r%%|*}" = "${1:-}" ] && row=$r; done
[ -n "$row" ] || { echo "FAIL: unknown case '${1:-}'"; exit 1; }
IFS='|' read -r name change pattern <<<"$row"

work=$LAVR_TEST_TMP/input_errors/$name
rm -rf "$work"
mkdir -p "$work/bad" "$work/out" "$work/bad/dir.png" "$work/bad/dir.wav" "$work/bad/dir.mp4"
cd "$work"
# the good inputs copied first: every bad one is made from this case's own copy
mkdir -p good
cp "$in/portrait.png" "$in/speech.wav" good/ || { echo "FAIL: $name: cannot copy the inputs from $in"; exit 1; }
in=$work/good
# the portrait with 3000 bytes of its compressed data zeroed (header intact), the same bytes every run
{ head -c 2000 "$in/portrait.png"; head -c 3000 /dev/zero; tail -c +5001 "$in/portrait.png"; } >bad/corrupt.png
: >bad/empty.png
head -c 3000 "$in/portrait.png" >bad/truncated.png
: >bad/empty.wav
# a WAV header announcing 16-bit mono at 16 kHz with no data
printf 'RIFF$\0\0\0WAVEfmt \020\0\0\0\001\0\001\0\200>\0\0\0}\0\0\002\0\020\0data\0\0\0\0' >bad/zero.wav
echo "this is text, not audio" >bad/text.wav
echo "not a directory" >bad/stagefile

opt=${change%%=*} value=${change#*=}
args=(--model "$LAVR_TEST_TMP/tiny.h5" --image "$in/portrait.png" --audio "$in/speech.wav" --prompt "a person talking"
      --size 64*64 --num-clip 1 --layout steps=1 --out "$work/out/video.mp4")
replaced=0
for i in "${!args[@]}"; do
  if [ "${args[i]}" = "$opt" ]; then args[i + 1]=$value; replaced=1; fi
done
[ "$replaced" = 1 ] || args+=("$opt" "$value")

rc=0
# -q: without Open MPI's own notices after a non-zero exit (their delivery sometimes fails with an
# "ORTE_ERROR_LOG ... show_help.c" line); an abort still shows as a rank-prefixed error line
"$mpiexec" -q --oversubscribe -np 2 "$LAVR_BIN" render "${args[@]}" >run.log 2>&1 || rc=$?
line=$(grep 'lavr: error:' run.log || true)
echo "$name: exit $rc: $line"
fail() { echo "FAIL: $name: $*"; echo "--- log"; cat run.log; exit 1; }
[ "$rc" -eq 2 ] || fail "exit $rc, expected 2"
[ "$(printf '%s\n' "$line" | grep -c .)" -eq 1 ] || fail "expected one error line"
printf '%s\n' "$line" | grep -Eq -- "^lavr: error: $pattern" ||
  fail "the line does not match /$pattern/ or is not rank 0's (a rank-prefixed line is an abort)"
! grep -Eq 'MPI_ABORT|ORTE_ERROR_LOG' run.log || fail "the job was aborted"
! grep -Eq 'encoding |rendering [0-9]+ clip' run.log || fail "work started before the input was refused"
left=$(find out -mindepth 1 | sort | tr '\n' ' ')
[ -z "$left" ] || fail "left behind in out/: $left"
if [ "$opt" != --stage-dir ] && [ "$opt" != --out ] && [ -e out/video.stage ]; then fail "left a stage directory"; fi
echo "PASS: $name"
