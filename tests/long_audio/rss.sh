#!/usr/bin/env bash
# The aux rank's memory does not grow with the audio's length: two renders of 2 clips (--num-clip 2,
# layout steps=1) of the tiny model, from SHORT and LONG minutes of speech (the sample sentence looped
# by ffmpeg, at its own 22.05 kHz so the streaming resampler runs too); the aux's peak RSS (the
# summary's "peak MiB", VmHWM: setup included) must agree within 10 %, and the long audio's features
# must all be in the stage's conditioning file. Usage: rss.sh SHORT_MIN LONG_MIN
set -euo pipefail
short=${1:?usage: rss.sh SHORT_MIN LONG_MIN}
long=${2:?usage: rss.sh SHORT_MIN LONG_MIN}
: "${LAVR_BIN:?set LAVR_BIN to the lavr binary}"
tmp_root=${LAVR_TEST_TMP:-/tmp}
model=${LAVR_RSS_MODEL:-$tmp_root/tiny.h5}
mpiexec=${LAVR_MPIEXEC:-mpirun}
export OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1 OMP_NUM_THREADS=${OMP_NUM_THREADS:-1}
for c in ffmpeg h5ls; do command -v "$c" >/dev/null || { echo "skipped: $c not found"; exit 77; }; done
work=$(mktemp -d "$tmp_root/long-audio.XXXXXX")
trap 'rm -rf "$work"' EXIT
[ -s "$model" ] || "$LAVR_BIN" init --config tiny --seed 7 -o "$model" >/dev/null
"$LAVR_BIN" sample-inputs --out "$work/in" --text "Hello there. This is a test of a long speech." >/dev/null

peak_of() { # peak_of MINUTES: renders and prints the aux's peak MiB
  local m=$1 out="$work/m$1"
  ffmpeg -v error -y -stream_loop -1 -i "$work/in/speech.wav" -t $((m * 60)) "$out.wav"
  if ! "$mpiexec" --oversubscribe -np 2 "$LAVR_BIN" render --model "$model" --image "$work/in/portrait.png" \
      --audio "$out.wav" --prompt "a person talking" --size 64*64 --layout steps=1 --num-clip 2 \
      --progress lines --out "$out.mp4" >"$out.log" 2>&1; then
    cat "$out.log" >&2
    echo "FAIL: the render of $m min of audio failed" >&2
    exit 1
  fi
  # every video frame of the whole audio has its features in the file: 25 per second at least
  local frames
  frames=$(h5ls "$out.stage/conditioning.h5/audio" | sed -n 's/.*Dataset {\([0-9]*\),.*/\1/p')
  if [ -z "$frames" ] || [ "$frames" -lt $((m * 60 * 25)) ]; then
    echo "FAIL: $out.stage/conditioning.h5 holds ${frames:-no} audio frames for $m min" >&2
    exit 1
  fi
  echo "$m min of audio: $frames feature frames, $(grep -E 'render: [0-9]+ frames' "$out.log")" >&2
  awk '$2 == "aux" { print $3 }' "$out.log"
}

a=$(peak_of "$short")
b=$(peak_of "$long")
echo "aux peak RSS: $a MiB for $short min of audio, $b MiB for $long min"
awk -v a="$a" -v b="$b" 'BEGIN { d = b - a; if (d < 0) d = -d; if (a > 0 && d <= 0.10 * a) { print "within 10 %"; exit 0 }
  print "FAIL: more than 10 % apart"; exit 1 }'
