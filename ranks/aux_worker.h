/* The aux role of a render: computes the conditioning once (portrait, prompt, speech), broadcasts
 * it, feeds stage 0 one block packet (noise + audio slice) at a time, collects each clean latent,
 * stages it, decodes it with the streaming VAE and appends the frames to the MP4 as they come. It
 * also runs the checkpoints: it decides them (policy, stop signal), flags the block packets, writes
 * its own part, collects the DiT ranks' entries and commits the manifest; and it finds the one a
 * render resumes from. */
#ifndef LAVR_RANKS_AUX_WORKER_H
#define LAVR_RANKS_AUX_WORKER_H

#include <stdint.h>

#include "core/status.h"
#include "io/checkpoint.h"
#include "kernels/ctx.h"
#include "models/conditioning.h"
#include "models/generated_model.h"
#include "models/streaming.h"
#include "parallel/comm.h"
#include "parallel/mpi.h"
#include "ranks/dit_engine.h"
#include "ranks/dit_stage.h"

typedef enum {
    LAVR_RESUME_AUTO, /* continue from the newest valid checkpoint of this render if there is one */
    LAVR_RESUME_YES,  /* continue; no usable checkpoint is an error */
    LAVR_RESUME_NO,   /* start over: the stage directory's checkpoints are deleted */
} lavr_resume_mode;

/* What the working aux rank measured (lavr bench --e2e), in seconds on its clock from the start of lavr_aux_run. */
typedef struct {
    /* the encoders: VAE encode of the reference and motion frames (image decode and fit included), umT5 (the
     * tokenizer included), wav2vec2 (audio decode and bucketing included); each loads its own weights */
    double image_s, text_s, audio_s;
    double gen_vae_s, gen_t5_s, gen_w2v_s; /* of which making generated weights (models/generated_model.h), 0: a file */
    double setup_s;           /* start -> the setup broadcast (model open, the encoders) */
    double first_frame_s;     /* start -> the first frames written */
    double render_s;          /* the block loop: the first packet fed -> the last frames written */
    double first_block_s, last_block_s; /* when the first / last block's frames were written */
    double decode_s, write_s; /* the blocks' streaming VAE decode and video writer, summed */
    int64_t blocks, frames;
    int64_t width, height;    /* the generated video's size (the size rule's pick) */
    int device;               /* the aux rank's GPU, -1: the host */
    uint64_t reserved, peak, device_used; /* its context's device bytes (as lavr_dit_report) */
    int ndit;
    lavr_dit_report *dit;     /* [ndit] what each DiT rank sent; malloc'd, the caller frees */
} lavr_aux_stats;

typedef struct {
    const char *model_path;
    const lavr_generated_model *generated; /* set: the encoders' and the VAE's weights made on the fly, not read */
    const char *image_path, *audio_path, *prompt, *size; /* the user's inputs (unused when cond is set) */
    const lavr_conditioning *cond; /* precomputed conditioning (tests): the encoders are skipped */
    lavr_ctx *vae_ctx;             /* where the VAE (portrait encode, streaming decode) and wav2vec2 run; NULL: the
                                      CPU */
    const char *out_path;          /* MP4 (or .y4m); NULL: no video */
    /* stage directory (latents.h5, video.log.h5, conditioning.h5, ckpt-<blocks>/); NULL: no staging,
     * no checkpoints */
    const char *stage_dir;
    lavr_resume_mode resume;
    lavr_ckpt_policy policy;
    int64_t max_clips;             /* --num-clip; 0: all the audio gives */
    int keep_tail;                 /* --keep-tail: write whole clips (default: the video ends with the speech) */
    lavr_stream_options stream;
    const char *layout_text;
    int fp8;                       /* the DiT's Linears in FP8 (render --fp8): part of the render's identity */
    int progress_live;             /* 1: a live status line (stderr is a terminal) */
    int64_t fail_block;            /* testing aid (LAVR_FAIL_AT): fail when this block arrives; -1 never */
    lavr_backend backend;          /* where the aux networks compute (--backend / --aux-backend) */
    int device;                    /* CUDA backend: the node-local GPU placement gave (parallel/placement.h) */
    int t5_on_gpu;                 /* CUDA backend: umT5 encodes the prompt on `device`, in a context of its own that
                                      is freed right after (else on the host) */
    lavr_aux_stats *stats;         /* optional: filled at the end (measurements) */
    /* optional: called with every clean latent [C, F, h, w] in block order (tests) */
    lavr_status (*on_latent)(void *user, int64_t block, const float *latent, int64_t n);
    void *user;
} lavr_aux_options;

/* Frames of a render's video that start before the speech ends, for `samples` samples at `rate` Hz:
 * ceil(25 samples / rate) - 3 (the first 3 generated frames are dropped; <= 0 for 0.12 s or less). The
 * video keeps these, at most whole clips' 48 clips - 3 (docs/render.md). */
int64_t lavr_speech_frames(int64_t samples, int rate);
/* The reason a speech too short for lavr_speech_frames is refused. */
#define LAVR_SHORT_SPEECH                                                                                         \
    "the video starts 3/25 s into the speech (the first 3 generated frames are dropped), so a speech of 0.12 s " \
    "or less leaves nothing to show; give a longer one, or --keep-tail for whole clips"

/* LAVR_E_STOPPED when the render stopped after a checkpoint (a stop signal). */
lavr_status lavr_aux_run(lavr_comm *c, const lavr_roles *roles, const lavr_aux_options *o);

#endif
