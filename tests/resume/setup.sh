#!/usr/bin/env bash
# Fixture of the resume tests: sample inputs, the tiny model (if the init test did not write it) and the
# uninterrupted reference render (steps=2, or $LAVR_REF_LAYOUT; no checkpoints) they compare against,
# with its wall time.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
# shellcheck source=lib.sh
. "$here/lib.sh"
command -v h5dump >/dev/null || { echo "skipped: h5dump not found"; exit 77; }

rm -rf "$ref_dir"
mkdir -p "$ref_dir"
"$LAVR_BIN" sample-inputs --out "$ref_dir/in" \
  --text "Hello there. This is a short test of the resume path. It is spoken slowly, so that the speech lasts for a few clips of video."
[ -s "$ref_model" ] || "$LAVR_BIN" init --config tiny --seed 7 -o "$ref_model" >/dev/null

# steps=2: 3 ranks, 2 DiT stages of 2 steps each + the aux rank; checkpoints off (the default is every 600 s)
[[ $ref_layout =~ ^steps=([0-9]+),tp=([0-9]+),pp=([0-9]+),aux=([0-9]+)$ ]] ||
  { echo "FAIL: LAVR_REF_LAYOUT '$ref_layout': use the full form steps=S,tp=T,pp=P,aux=A"; exit 1; }
ref_np=$(( BASH_REMATCH[1] * BASH_REMATCH[2] * BASH_REMATCH[3] + BASH_REMATCH[4] ))
cmd=("$mpiexec" --oversubscribe -np "$ref_np" "$LAVR_BIN" render "${base_args[@]}" --layout "$ref_layout"
     --out "$ref_dir/ref.mp4")
echo "${cmd[*]}"
t0=$(date +%s.%N)
if ! "${cmd[@]}" >"$ref_dir/ref.log" 2>&1; then
  cat "$ref_dir/ref.log"
  echo "FAIL: the reference render failed"
  exit 1
fi
t1=$(date +%s.%N)
awk -v a="$t0" -v b="$t1" 'BEGIN { printf "%.2f\n", b - a }' >"$ref_dir/ref.seconds"
h5dump -d /latents -b LE -o "$ref_dir/ref.bin" "$ref_dir/ref.stage/latents.h5" >/dev/null
[ -s "$ref_dir/ref.bin" ] || { echo "FAIL: no /latents in $ref_dir/ref.stage/latents.h5"; exit 1; }
if ls "$ref_dir"/ref.stage/ckpt-* >/dev/null 2>&1; then
  echo "FAIL: the reference render wrote a checkpoint without being asked to"
  exit 1
fi
grep -E 'render: [0-9]+ frames' "$ref_dir/ref.log"
echo "reference: $ref_dir/ref.mp4, $(stat -c %s "$ref_dir/ref.bin") bytes of latents, $(cat "$ref_dir/ref.seconds") s"
