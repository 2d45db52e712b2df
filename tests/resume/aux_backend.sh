#!/usr/bin/env bash
# Stop and resume across aux backends (issue 15): a render whose aux rank decodes on FIRST (cpu|cuda) fails at
# block 6 (LAVR_FAIL_AT, after its checkpoint at block 4) and is continued with the aux on SECOND. What must hold,
# against an uninterrupted render with the aux on FIRST (the DiT on cuda when either is cuda, else on cpu):
#   - the latents, bit for bit: the DiT state is in the checkpoint and the conditioning (encoded on FIRST) is
#     taken from the stage directory, so the backend of the aux does not reach them;
#   - the speech WAV, byte for byte;
#   - the Y4M's header and its 45 frames up to the checkpoint (blocks 0..3), byte for byte: the resumed run keeps
#     them as FIRST decoded them;
#   - the frames from block 4 on: decoded on SECOND from the checkpoint's decoder caches (float32, backend-
#     independent) and the same latents. SECOND = FIRST: byte-identical. SECOND != FIRST: every block of 12
#     frames within rel L2 2e-2 of the reference (tests/gpu/test_vae_cuda.c's CUDA-vs-CPU limit for a decoder
#     state continued on the other backend), and the resumed run says in one line that it switched.
# Y4M in every build (no FFmpeg needed, and its frames are compared as stored); the MP4 encoder would only see
# the same RGB frames. Inputs: a PPM portrait and a 16 kHz WAV, which every build reads. Skipped (77) when a
# cuda side has no GPU or no CUDA build.
# Usage: aux_backend.sh FIRST SECOND RESUME_TOOL   (environment as tests/resume/lib.sh says)
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
# shellcheck source=lib.sh
. "$here/lib.sh"
first=$1 second=$2 tool=$3
dit=cpu
for b in "$first" "$second"; do
  case $b in
    cpu) ;;
    cuda)
      dit=cuda
      version=$("$LAVR_BIN" version)
      if ! grep -q 'cuda backend: built' <<<"$version" || grep -q '(0 devices visible)' <<<"$version"; then
        echo "skipped: no CUDA device (or no CUDA build)"
        exit 77
      fi
      ;;
    *) echo "usage: aux_backend.sh cpu|cuda cpu|cuda RESUME_TOOL"; exit 2 ;;
  esac
done
seed=none # (lib.sh's fail() names it; nothing here is drawn at random)
work=$(mktemp -d "$tmp_root/resume-aux-$first-$second.XXXXXX")
trap cleanup EXIT
trap 'exit 130' INT TERM
# the cuDNN engines both cuda-aux runs take: the reference tunes them, the interrupted run reads them (docs/cuda.md)
export LAVR_CACHE_DIR=$work/cache

mkdir -p "$work/in"
"$tool" inputs "$work/in" 6.5 || fail "cannot write the inputs"
"$LAVR_BIN" init --config tiny --seed 7 -o "$work/tiny.h5" >/dev/null || fail "lavr init failed"
args=(--model "$work/tiny.h5" --image "$work/in/portrait.ppm" --audio "$work/in/speech.wav"
      --prompt "a person talking" --size 64*64 --num-clip 3 --layout "steps=1,tp=1,pp=1,aux=1" --backend "$dit"
      --progress lines)
cut_block=4 fail_block=6
cut_frames=$((12 * cut_block - 3))
if [ "$first" = "$second" ]; then tol=0; else tol=2e-2; fi

start_render "ref-$first" 2 "${args[@]}" --aux-backend "$first" --out "$work/ref.y4m"
wait_render 300
[ "$job_rc" -eq 0 ] || fail "the reference render (aux on $first) exited $job_rc"

out=$work/run.y4m stage=$work/run.stage
export LAVR_FAIL_AT=rank=1,block=$fail_block
start_render "stop-$first" 2 "${args[@]}" --aux-backend "$first" --checkpoint-clips 1 --out "$out"
wait_render 300
unset LAVR_FAIL_AT
grep -q "LAVR_FAIL_AT: failing now, at block $fail_block" "$job_log" || fail "the aux rank did not fail at block $fail_block"
[ "$job_rc" -eq 1 ] || fail "the interrupted render exited $job_rc, expected 1 (the injected failure)"
[ "$(newest_ckpt "$stage")" -eq "$cut_block" ] ||
  fail "newest checkpoint after the failure: $(newest_ckpt "$stage"), expected $cut_block"
echo "stop-$first: failed at block $fail_block as asked, checkpoint $cut_block committed"

start_render "resume-$second" 2 "${args[@]}" --aux-backend "$second" --checkpoint-clips 1 --out "$out"
wait_render 300
[ "$job_rc" -eq 0 ] || fail "the resumed render (aux on $second) exited $job_rc"
[ "$(resumed_from "$job_log")" -eq "$cut_block" ] ||
  fail "the resumed render continued from checkpoint $(resumed_from "$job_log"), expected $cut_block"
switched='resuming across aux backends'
if [ "$first" != "$second" ]; then
  line=$(grep -c "$switched: the video up to block $cut_block was decoded on $first, the rest is decoded on $second" \
    "$job_log" || true)
  [ "$line" -eq 1 ] || fail "the resumed render did not say once that it switched from $first to $second"
  grep "$switched" "$job_log" | head -n 1
elif grep -q "$switched" "$job_log"; then
  fail "the resumed render says it switched aux backends, but both runs used $first"
fi

"$tool" latents "$work/ref.stage/latents.h5" "$stage/latents.h5" || fail "the latents differ from the reference's"
cmp "$work/ref.wav" "$work/run.wav" || fail "the WAV differs from the reference's"
"$tool" y4m "$out" "$work/ref.y4m" "$cut_frames" "$tol" || fail "the video differs from the reference's"
echo "PASS: aux $first -> $second: latents and WAV identical to the uninterrupted aux-$first render, the video" \
  "identical up to the checkpoint and $([ "$tol" = 0 ] && echo "after it" || echo "within rel L2 $tol after it")"
