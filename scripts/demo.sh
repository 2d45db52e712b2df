#!/usr/bin/env bash
# The demo: a render on the embedded tiny model, whose random weights make the picture noise, showing
# what is real around the networks: the size rule's crop, the role table, a stop with a checkpoint and
# the continuation, and the video's length and sound taken from the speech. Writes demo/ (under a minute).
set -euo pipefail
cd "$(dirname "$0")/.."
export OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1 OMP_NUM_THREADS=1
lavr=./build/lavr out=demo
log=$(mktemp)
trap 'rm -f "$log"' EXIT
step() { printf '\n== %s\n' "$*"; }
rm -rf "$out" && mkdir -p "$out"

step "Inputs: a drawn portrait and a spoken sentence (espeak-ng); nothing is downloaded"
$lavr sample-inputs --out $out --text "Hello! I am a synthetic avatar."
$lavr init --config tiny --seed 7 -o $out/tiny.h5 >/dev/null
cat <<EOF
The model, $out/tiny.h5, is lavr's 'tiny' preset with RANDOM weights (the real LiveAvatar model is the
50 GB download in the README). So the video will show noise, not a talking face. What is real is
everything around the networks, shown below.
EOF

step "1. The size rule: --size W*H is a maximum pixel area, not a shape: the portrait's aspect ratio is kept and both sides become multiples of 64 (resized, then centre-cropped)"
printf "the default --size 704*384 (the real model): "
$lavr prep-image --image $out/portrait.png --size 704*384 2>/dev/null
printf "this demo's --size 128*64 (written to $out/portrait_crop.png): "
$lavr prep-image --image $out/portrait.png --size 128*64 --out $out/portrait_crop.png 2>/dev/null

step "2. The roles: one MPI rank per GPU; here 2 DiT stages (2 of the 4 denoising steps each) and the aux rank"
mpirun --oversubscribe -np 3 $lavr topo --config tiny --layout steps=2,tp=1,pp=1,aux=1

step "3. Render, stopped as soon as it starts (kill -USR1 to mpirun: a checkpoint at the next block, exit 75)"
render=(mpirun --oversubscribe -np 3 $lavr render --model $out/tiny.h5 --image $out/portrait.png
        --audio $out/speech.wav --prompt "a person talking to the camera" --size 128*64
        --layout steps=2,tp=1,pp=1,aux=1 --out $out/demo.mp4)
"${render[@]}" >"$log" 2>&1 &
pid=$!
until grep -q "rendering" "$log" || ! kill -0 $pid 2>/dev/null; do sleep 0.1; done
kill -USR1 $pid 2>/dev/null || true
rc=0
wait $pid || rc=$?
grep -E "rendering|clip .* done|committed|stop|lavr: error" "$log" || true
echo "exit code $rc"
step "   ... and the same command again continues from the checkpoint (to the MP4 a render that never stopped writes, byte for byte: the test suite checks it)"
"${render[@]}" 2>&1 | grep -E "resum|clip .* done|wrote|render:|lavr: error"

step "4. The video ends with the speech, and its sound is the speech file itself"
seconds=$(ffprobe -v error -show_entries format=duration -of csv=p=0 $out/speech.wav)
rate=$(ffprobe -v error -show_entries stream=sample_rate -of csv=p=0 $out/speech.wav)
clips=$(sed -n 's/.*rendering \([0-9]*\) clips\{0,1\} .*/\1/p' "$log" | head -1)
frames=$(ffprobe -v error -count_frames -select_streams v -show_entries stream=nb_read_frames -of csv=p=0 $out/demo.mp4)
awk -v s="$seconds" -v c="$clips" -v f="$frames" 'BEGIN {
  k = 25 * s; n = int(k); if (n < k) n++
  printf "speech %.2f s: %d clips of 48 frames computed, the first 3 dropped (%d frames)\n", s, c, 48 * c - 3
  printf "video: the frames that start before the speech ends: ceil(25 x %.3f) - 3 = %d; the MP4 has %d\n", s, n - 3, f }'
ffprobe -v error -show_entries stream=codec_name,sample_rate,channels,duration -of compact=p=0 $out/demo.mp4
echo "The sound is speech.wav at its $rate Hz, from 3/25 s on: the first frame shown is generated frame 3,"
echo "drawn from the speech at 3/25 s. So the MP4 is 0.12 s shorter than the speech, and in step with it."

rm -rf $out/demo.stage # latents, packet log and conditioning: what let the render continue; done now
step "Written to $out/: portrait.png + speech.wav (inputs), tiny.h5 (the model), portrait_crop.png (the size rule's picture), demo.mp4 (the video)"
