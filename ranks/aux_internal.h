/* The aux rank's state, shared by its pipeline (ranks/aux_worker.c) and its checkpoint and resume
 * logic (ranks/aux_checkpoint.c). Not for other modules. */
#ifndef LAVR_RANKS_AUX_INTERNAL_H
#define LAVR_RANKS_AUX_INTERNAL_H

#include <stdint.h>

#include "core/arena.h"
#include "io/audio.h"
#include "io/checkpoint.h"
#include "io/h5model.h"
#include "io/stage.h"
#include "kernels/conv_engines.h"
#include "io/video.h"
#include "models/config.h"
#include "models/decode_stream.h"
#include "models/vae.h"
#include "parallel/schedule.h"
#include "ranks/aux_worker.h"
#include "ranks/progress.h"

#define AUX_OUTPUT_FPS 25      /* LiveAvatar's output rate */
#define AUX_MAX_PENDING 64 /* checkpoint boundaries flagged but not yet committed */

typedef struct {
    lavr_comm *c;
    const lavr_aux_options *o;
    const lavr_roles *roles;
    lavr_arena *arena;
    lavr_conditioning cond;
    lavr_schedule sched;
    lavr_dit_config dit;
    double start_s;
    int64_t C, F, h, w, blk, vf, SA;
    /* feeding: inflight slots of one message per stage-0 tp rank */
    int nfeed, *feed_ranks;
    lavr_msg *feed;       /* [inflight * nfeed] */
    float *noise, *audio; /* scratch of the packet being built (isend packs it at once) */
    /* the audio features, read back from the stage's conditioning file one clip at a time (NULL:
     * they are in memory, cond.audio) */
    lavr_cond_audio *audio_file;
    float *clip_audio;    /* [48, states, dim] of clip_loaded */
    int64_t clip_loaded, audio_frames;
    lavr_msg clean;
    float *latent;        /* the clean latent received */
    int nref, *ref_ranks;
    lavr_msg *ref_msgs;   /* one per ref rank, in flight until the end */
    float *ref;
    /* output */
    lavr_stage *stage;
    lavr_vae *vae;
    lavr_decode_stream *decoder;
    lavr_video_writer *writer;
    float *frames;
    int64_t frames_written;
    int64_t video_frames;     /* the frames the video keeps (aux_worker.c video_frames) */
    double busy_s;            /* decoding and encoding the blocks (the summary's busy %) */
    lavr_progress *progress;
    /* checkpoints */
    char model_id[1024], inputs_id[1024];
    int64_t start_block;      /* resume point (0: fresh) */
    lavr_ckpt *resume_from;   /* open while the render is being set up from it */
    int64_t pending[AUX_MAX_PENDING], npending; /* flagged boundaries, oldest first */
    int64_t last_ckpt_clips;  /* clips done at the last checkpoint decision */
    double last_ckpt_s;
    int64_t stop_block;       /* block whose packet carried STOP, or -1 */
    int64_t committed;        /* blocks of the newest checkpoint committed or resumed from, -1: none */
    /* the first failure once the pipeline runs (a full disk, a rank's checkpoint part): nothing more is
     * written, the next packet stops every rank, and the render ends with this one line */
    lavr_status fault;
    char fault_message[1024];
    lavr_aux_stats meas;      /* measurements (o->stats gets them at the end) */
    lavr_conv_engines engines; /* the VAE context's tuned cuDNN engines: stage record and machine cache */
} aux_rank;

/* Records st (when it is the first failure) as the render's fault and clears the error; returns LAVR_OK. */
lavr_status aux_fault(aux_rank *a, lavr_status st);
/* The identity strings of this render (model file and inputs, not the layout). */
lavr_status aux_identity(aux_rank *a, lavr_h5file *model);
/* Applies --resume: finds the checkpoint to continue from (sets start_block and resume_from) or
 * clears the stage directory's checkpoints. */
lavr_status aux_find_resume(aux_rank *a);
/* Restores the decoder and reopens the writer as they stood at the checkpoint (outputs open). */
lavr_status aux_restore_outputs(aux_rank *a, const lavr_video_options *vo);
/* The flags of block n's packet (checkpoint before it, stop). */
int64_t aux_block_flags(aux_rank *a, int64_t n);
/* After every block before n is out: the aux part, the DiT ranks' entries, the manifest, pruning. */
lavr_status aux_checkpoint(aux_rank *a, int64_t n);

#endif
