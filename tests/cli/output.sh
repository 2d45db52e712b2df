#!/usr/bin/env bash
# The render's MP4 against ffprobe's reading of the user's speech file: it ends where the speech ends
# (ceil(25 S/R) - 3 frames; duration and both streams within one frame of the speech less 3/25 s),
# its sound is the file's (rate, channels; a WAV encoded at >= 192 kb/s, AAC copied packet for packet),
# --keep-tail keeps whole clips and a speech of 0.12 s or less is refused with exit 2 before any model loads.
# Usage: output.sh CASE (wav | aac | tail) LAVR TINY_MODEL INPUTS_DIR TMP_DIR; 1 clip at 64*64, steps=1.
set -u
case_name=$1 lavr=$2 tiny=$3 inputs=$4 tmp=$5/$1
mpirun_cmd=${LAVR_MPIRUN:-mpirun --oversubscribe}
rm -rf "$tmp" && mkdir -p "$tmp" || exit 1
fail=0
bad() { echo "FAIL: $*"; fail=1; }

render() { # OUT AUDIO [options]: a one-clip render of the sample portrait
  local out=$1 audio=$2
  shift 2
  # shellcheck disable=SC2086
  $mpirun_cmd -np 2 "$lavr" render --model "$tiny" --image "$inputs/portrait.png" --audio "$audio" \
    --prompt "a person talking" --size 64*64 --layout steps=1 --out "$out" "$@" >"$out.log" 2>&1
}
probe() { # FILE STREAM(v|a|"") ENTRIES: values, one per line
  if [ -n "$2" ]; then ffprobe -v error -select_streams "$2" -show_entries "$3" -of default=nw=1:nk=1 "$1"
  else ffprobe -v error -show_entries "$3" -of default=nw=1:nk=1 "$1"; fi
}
near() { # A B: |A - B| <= 1/25 s
  awk -v a="$1" -v b="$2" 'BEGIN { d = a - b; if (d < 0) d = -d; exit !(d <= 0.04 + 1e-6) }'
}

# the speech as ffprobe reads it: S samples at R Hz, its duration, the frames the video must keep
speech_facts() { # FILE -> sets S R C secs frames
  S=$(ffmpeg -v error -i "$1" -map 0:a -f s16le -ac 1 - | wc -c | awk '{ print $1 / 2 }')
  R=$(probe "$1" a stream=sample_rate)
  C=$(probe "$1" a stream=channels)
  secs=$(awk -v s="$S" -v r="$R" 'BEGIN { printf "%.6f", s / r }')
  frames=$(awk -v s="$S" -v r="$R" 'BEGIN { f = 25 * s / r; c = int(f); if (c < f) c++; print c - 3 }')
}

check_ends_with_speech() { # MP4 SPEECH: frame count, durations, rate and channels
  local mp4=$1 nframes vdur adur fdur
  speech_facts "$2"
  nframes=$(ffprobe -v error -count_frames -select_streams v -show_entries stream=nb_read_frames -of csv=p=0 "$mp4")
  vdur=$(probe "$mp4" v stream=duration)
  adur=$(probe "$mp4" a stream=duration)
  fdur=$(probe "$mp4" "" format=duration)
  local want
  want=$(awk -v s="$secs" 'BEGIN { printf "%.6f", s - 0.12 }')
  echo "$mp4: $nframes frames (want $frames), duration $fdur (video $vdur, audio $adur), speech $secs s - 0.12 = $want"
  [ "$nframes" = "$frames" ] || bad "$mp4 has $nframes frames, the speech gives $frames"
  near "$fdur" "$want" || bad "$mp4 lasts $fdur s, the speech less 3/25 s is $want s"
  near "$vdur" "$adur" || bad "$mp4: video $vdur s and audio $adur s differ by more than a frame"
  near "$adur" "$want" || bad "$mp4: the audio lasts $adur s, the speech less 3/25 s is $want s"
  [ "$(probe "$mp4" a stream=sample_rate)" = "$R" ] || bad "$mp4: audio rate $(probe "$mp4" a stream=sample_rate), the file's is $R"
  [ "$(probe "$mp4" a stream=channels)" = "$C" ] || bad "$mp4: $(probe "$mp4" a stream=channels) channels, the file has $C"
}

packet_hashes() { # FILE: md5 of every audio packet
  ffprobe -v error -select_streams a -show_entries packet=data_hash -show_data_hash md5 -of csv=p=0 "$1"
}

case $case_name in
wav)
  # a 48 kHz stereo WAV whose noise needs every bit the encoder is given: its bit rate shows the target
  ffmpeg -v error -y -i "$inputs/speech.wav" -f lavfi -i "anoisesrc=d=2:c=white:r=48000:a=0.3" -filter_complex \
    "[0]aresample=48000,pan=stereo|c0=c0|c1=c0[s];[s][1]amix=inputs=2:duration=first" -ar 48000 -ac 2 \
    "$tmp/speech48.wav" || exit 1
  render "$tmp/wav.mp4" "$tmp/speech48.wav" || { cat "$tmp/wav.mp4.log"; exit 1; }
  check_ends_with_speech "$tmp/wav.mp4" "$tmp/speech48.wav"
  [ "$(probe "$tmp/wav.mp4" a stream=codec_name)" = aac ] || bad "wav.mp4: audio is not AAC"
  rate=$(probe "$tmp/wav.mp4" a stream=bit_rate)
  echo "wav.mp4: audio bit rate $rate"
  [ "$rate" -ge 192000 ] || bad "wav.mp4: audio at $rate b/s, expected >= 192 kb/s"
  ;;
aac)
  ffmpeg -v error -y -i "$inputs/speech.wav" -ar 44100 -ac 2 -c:a aac -b:a 128k "$tmp/speech.m4a" || exit 1
  render "$tmp/aac.mp4" "$tmp/speech.m4a" || { cat "$tmp/aac.mp4.log"; exit 1; }
  # the copied track starts at the AAC frame nearest to 3/25 s: within half a frame (12 ms) of it
  check_ends_with_speech "$tmp/aac.mp4" "$tmp/speech.m4a"
  packet_hashes "$tmp/speech.m4a" >"$tmp/in.md5"
  total=$(packet_hashes "$tmp/aac.mp4" | wc -l)
  own=$(packet_hashes "$tmp/aac.mp4" | grep -c -x -F -f "$tmp/in.md5")
  echo "aac.mp4: $own of $total audio packets are the file's own"
  [ "$total" -gt 10 ] && [ "$own" = "$total" ] || bad "aac.mp4: $own of $total audio packets copied from the file"
  ;;
tail)
  render "$tmp/tail.mp4" "$inputs/speech.wav" --keep-tail || { cat "$tmp/tail.mp4.log"; exit 1; }
  n=$(ffprobe -v error -count_frames -select_streams v -show_entries stream=nb_read_frames -of csv=p=0 "$tmp/tail.mp4")
  d=$(probe "$tmp/tail.mp4" v stream=duration)
  echo "tail.mp4: $n frames, video $d s"
  [ "$n" = 45 ] && near "$d" 1.80 || bad "--keep-tail: $n frames ($d s), one whole clip is 45 (1.80 s)"
  # 0.1 s of speech: nothing after the 3 dropped frames; refused by rank 0 before the model loads
  ffmpeg -v error -y -i "$inputs/speech.wav" -t 0.1 "$tmp/short.wav" || exit 1
  render "$tmp/short.mp4" "$tmp/short.wav"
  rc=$?
  cat "$tmp/short.mp4.log"
  [ "$rc" = 2 ] || bad "0.1 s of speech: exit $rc, expected 2"
  grep -q "lavr: error: audio '[^']*short.wav' lasts 0.100 s: the video starts 3/25 s into the speech" "$tmp/short.mp4.log" ||
    bad "0.1 s of speech: not the one-line refusal"
  [ "$(grep -c 'lavr: error' "$tmp/short.mp4.log")" = 1 ] || bad "0.1 s of speech: the error is not printed once"
  grep -q "encoding" "$tmp/short.mp4.log" && bad "0.1 s of speech: refused only after the encoders ran"
  [ -e "$tmp/short.mp4" ] || [ -e "$tmp/short.stage" ] && bad "0.1 s of speech: an output or stage directory was left"
  ;;
*) echo "unknown case $case_name"; exit 1 ;;
esac
[ $fail = 0 ] && echo "output-$case_name-ok"
exit $fail
