#!/bin/sh
# lavr bench --e2e on the CPU with the tiny model (2 ranks): every field of the report is there, and its numbers
# agree with each other and with the video: frames = blocks x 12 - 3, FPS = frames / rendering time, the MP4 holds
# that many frames (ffprobe), the first frame comes after the setup broadcast.
# Usage: bench_e2e.sh LAVR DIR MPIRUN...
set -eu
L=$1 D=$2
shift 2
rm -rf "$D" && mkdir -p "$D"
"$@" -np 2 "$L" bench --e2e --config tiny --backend cpu --size 64*64 --layout steps=1 --blocks 4 \
  --out "$D/e2e.mp4" > "$D/report.txt"
cat "$D/report.txt"
for field in "bench --e2e: tiny at 64x64" "setup (s" "VAE encode of the reference and 73 motion frames" "umT5" \
             "wav2vec2" "setup broadcast at" "time to first frame:" "dit s0 tp0 pp0" "aux: VAE decode" \
             "aux: video write" "aux share of its GPU:" "FPS; steady" "plan n/a" "device memory (GiB)" \
             "GPU memory: none"; do
  grep -qF "$field" "$D/report.txt" || { echo "missing field: $field"; exit 1; }
done
line=$(grep '^frames: ' "$D/report.txt")
frames=$(echo "$line" | sed 's/^frames: \([0-9]*\) written (\([0-9]*\) blocks.*/\1/')
blocks=$(echo "$line" | sed 's/^frames: \([0-9]*\) written (\([0-9]*\) blocks.*/\2/')
seconds=$(echo "$line" | sed 's/.* in \([0-9.]*\) s rendering -> \([0-9.]*\) FPS.*/\1/')
fps=$(echo "$line" | sed 's/.* in \([0-9.]*\) s rendering -> \([0-9.]*\) FPS.*/\2/')
[ "$frames" -eq $((blocks * 12 - 3)) ] || { echo "frames $frames, blocks $blocks"; exit 1; }
awk -v f="$frames" -v s="$seconds" -v r="$fps" 'BEGIN { d = f / s - r; exit !(d < 0.01 + r * 0.001 && d > -0.01 - r * 0.001) }' ||
  { echo "FPS $fps is not $frames / $seconds"; exit 1; }
setup=$(sed -n 's/.*setup broadcast at \([0-9.]*\).*/\1/p' "$D/report.txt")
first=$(sed -n 's/^time to first frame: \([0-9.]*\) s.*/\1/p' "$D/report.txt")
awk -v a="$setup" -v b="$first" 'BEGIN { exit !(b >= a) }' || { echo "first frame $first before the setup $setup"; exit 1; }
probed=$(ffprobe -v error -count_frames -select_streams v:0 -show_entries stream=nb_read_frames -of csv=p=0 "$D/e2e.mp4")
[ "$probed" -eq "$frames" ] || { echo "the MP4 holds $probed frames, the report says $frames"; exit 1; }
echo "bench-e2e-consistent frames=$frames"
