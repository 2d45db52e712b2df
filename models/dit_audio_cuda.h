/* The DiT's causal audio encoder (model-spec §3.3) on a CUDA device (CUDA builds): the first pp index's encoder
 * weights and buffers in the rank's arena (sizes from models/dit_dev.h), and a memo of the last blocks' tokens. */
#ifndef LAVR_MODELS_DIT_AUDIO_CUDA_H
#define LAVR_MODELS_DIT_AUDIO_CUDA_H

#include <stdint.h>

#include "core/status.h"
#include "kernels/cuda/device_arena.h"
#include "kernels/cuda/ops_cuda.h"
#include "models/dit.h"

typedef struct lavr_dit_cuda_audio lavr_dit_cuda_audio;

/* Allocates the encoder from arena and uploads m's encoder weights (m->audio: conv and final_linear weights must
 * hold bf16 values, as LiveAvatar's checkpoint does); blas and stream are the caller's. m may be freed after. */
lavr_status lavr_dit_cuda_audio_create(const lavr_dit *m, lavr_device_arena *arena, lavr_cuda_blas *blas, void *stream,
                                       lavr_dit_cuda_audio **out);
void lavr_dit_cuda_audio_destroy(lavr_dit_cuda_audio *au);

/* A block's audio tokens, as lavr_dit_audio_tokens computes them on the host, into device a_loc [F][NT+1][d] and
 * a_glob [F][d]: frames is the block's host audio [states * audio_dim][4F]. The last LAVR_DIT_DEV_AUDIO_MEMO
 * distinct frame sets are remembered (the rank's steps of a block encode it once): a repeat is a device copy.
 * Enqueued on the stream (the frames are uploaded before return). */
lavr_status lavr_dit_cuda_audio_tokens(lavr_dit_cuda_audio *au, const float *frames, float *a_loc, float *a_glob);
/* Encodes run so far (memo misses). */
int64_t lavr_dit_cuda_audio_encodes(const lavr_dit_cuda_audio *au);

#endif
