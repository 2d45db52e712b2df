#!/bin/sh
# lavr bench --e2e with the tiny model (2 ranks; on cuda both share GPU 0): every field of the report is there, and
# its numbers agree with each other and with the video: frames = blocks x 12 - 3, FPS = frames / rendering time, the
# MP4 (Y4M without FFmpeg) holds that many frames, the first frame comes after the setup broadcast. cuda without a
# GPU exits 77 (skipped).
# Usage: bench_e2e.sh cpu|cuda LAVR DIR MPIRUN...
set -eu
B=$1 L=$2 D=$3
shift 3
if [ "$B" = cuda ] && ! nvidia-smi -L > /dev/null 2>&1; then echo "no GPU: skipped"; exit 77; fi
rm -rf "$D" && mkdir -p "$D"
ext=mp4
"$L" version 2>/dev/null | grep -q "ffmpeg (images, mp4): no" && ext=y4m
"$@" -np 2 "$L" bench --e2e --config tiny --backend "$B" --size 64*64 --layout steps=1 --blocks 4 \
  --out "$D/e2e.$ext" > "$D/report.txt"
cat "$D/report.txt"
common="bench --e2e: tiny at 64x64|setup (s|VAE encode of the reference and 73 motion frames|umT5|wav2vec2|\
setup broadcast at|time to first frame:|dit s0 tp0 pp0|aux: VAE decode|aux: video write|aux share of its GPU:|\
FPS; steady|device memory (GiB)"
if [ "$B" = cpu ]; then fields="$common|plan n/a|GPU memory: none"
else fields="$common|GPU 0 (ranks 0,1): in use|of its GPU: [0-9]|(blocks 2..4); plan [0-9.]+ FPS"; fi
IFS='|'
for field in $fields; do
  grep -qE "$(printf '%s' "$field" | sed 's/[()]/\\&/g')" "$D/report.txt" || { echo "missing field: $field"; exit 1; }
done
unset IFS
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
if [ $ext = mp4 ]; then
  probed=$(ffprobe -v error -count_frames -select_streams v:0 -show_entries stream=nb_read_frames -of csv=p=0 "$D/e2e.mp4")
else # Y4M 4:4:4 at 64x64: the header line, then "FRAME\n" and 64 * 64 * 3 bytes per frame
  header=$(head -n 1 "$D/e2e.y4m" | wc -c)
  probed=$(( ($(wc -c < "$D/e2e.y4m") - header) / (6 + 64 * 64 * 3) ))
fi
[ "$probed" -eq "$frames" ] || { echo "the MP4 holds $probed frames, the report says $frames"; exit 1; }
echo "bench-e2e-consistent frames=$frames"
