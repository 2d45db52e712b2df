/* The flags of LiveAvatar's inference scripts (minimal_inference/s2v_streaming_interact.py, its
 * shell launchers and Gradio app; liveavatar-system.md §3) that users bring to lavr, each with a
 * one-line answer: the lavr option that does it, or why lavr has none. Flags lavr spells the same way
 * (--size, --prompt, --image, --audio, --fp8) never get here: they are lavr render options. */
#include <string.h>

#include "cli/args.h"

typedef struct {
    const char *name; /* as LiveAvatar spells it, without the dashes */
    const char *answer;
} official_flag;

static const official_flag flags[] = {
    {"ckpt_dir", "lavr reads one converted model file: lavr convert --wan DIR --lora liveavatar.safetensors "
                 "-o model.h5, then pass --model model.h5"},
    {"load_lora", "the LoRA is merged once by lavr convert --wan DIR --lora liveavatar.safetensors -o model.h5"},
    {"lora_path_dmd", "the LoRA is merged once by lavr convert --wan DIR --lora FILE -o model.h5"},
    {"lora_path", "the LoRA is merged once by lavr convert --wan DIR --lora FILE -o model.h5"},
    {"training_config", "not needed: lavr convert takes the LoRA's rank and alpha from the LoRA file "
                        "(--lora-scale overrides)"},
    {"using_merged_ckpt", "a lavr model file is always merged (lavr convert); pass it with --model"},
    {"save_file", "use --out FILE.mp4"},
    {"save_dir", "use --out DIR/NAME.mp4 (the stage directory goes beside it, --stage-dir moves it)"},
    {"base_seed", "use --seed N (default 0, never random; lavr's noise generator is not PyTorch's, so a "
                  "seed does not reproduce the original's noise)"},
    {"num_clip", "use --num-clip N (default: every clip the audio gives)"},
    {"sample_steps", "lavr always runs the 4 distilled steps LiveAvatar's LoRA was trained for; "
                     "--layout steps=S spreads them over S pipeline stages"},
    {"infer_frames", "lavr renders LiveAvatar's 48 frames per clip (the trained value its scripts pass); "
                     "--num-clip N limits the clips"},
    {"frame_num", "unused by the original's s2v path; a clip is 48 frames (--num-clip N limits the clips)"},
    {"sample_solver", "lavr has the Euler solver, the only one the original's s2v path runs"},
    {"sample_shift", "the schedule's shift is 3 as in the original, which ignores the flag"},
    {"sample_guide_scale", "there is no classifier-free guidance in the distilled model (the original "
                           "ignores the flag; its scripts pass 0)"},
    {"enable_online_decode", "always on: the aux rank decodes every block with the streaming VAE as it "
                             "arrives and writes the MP4 as it goes"},
    {"enable_vae_parallel", "always on: the aux rank (the last rank of --layout ...,aux=1) runs the VAE"},
    {"num_gpus_dit", "--layout steps=S,tp=T,pp=P runs S*T*P DiT ranks (+ the aux rank); lavr plan --gpus N "
                     "lists the layouts that fit"},
    {"single_gpu", "one GPU: mpirun -np 2 lavr render --layout steps=1 ... (the DiT rank and the aux rank "
                   "share it; lavr plan --gpus 1 says whether it fits)"},
    {"offload_model", "lavr keeps each rank's weights on its GPU: lavr plan --gpus N --gpu-mem M lists the "
                      "layouts that fit (tp/pp shard the DiT, --fp8 halves its weights)"},
    {"offload_kv_cache", "lavr keeps the KV caches on the GPU: lavr plan --gpus N --gpu-mem M lists the "
                         "layouts that fit (steps/tp/pp split the caches)"},
    {"convert_model_dtype", "always: lavr convert stores the DiT in bf16 and it runs in bf16 (--fp8 for FP8 "
                            "Linears)"},
    {"t5_cpu", "use --t5 host (default auto: umT5 on the aux rank's GPU when no DiT rank shares it, else on "
               "the host)"},
    {"t5_fsdp", "no FSDP: umT5 runs once on the aux rank"},
    {"dit_fsdp", "no FSDP: --layout tp=T shards every DiT layer over T GPUs, pp=P splits the layers"},
    {"ulysses_size", "no sequence parallelism (the original asserts 1): --layout tp=T shards the DiT's "
                     "heads over T GPUs"},
    {"task", "lavr renders s2v-14B (LiveAvatar) only; the model file says what it holds (lavr inspect)"},
    {"pose_video", "not supported: lavr renders without a pose video (the original's default)"},
    {"start_from_ref", "unused by the original's inference; nothing to set"},
    {"drop_motion_noisy", "unused by the original's inference; nothing to set"},
    {"use_dataset", "unused by the original's inference; give --image, --audio and --prompt"},
    {"dataset_sample_idx", "unused by the original's inference; give --image, --audio and --prompt"},
    {"enable_tts", "no text-to-speech: give a speech file with --audio (lavr sample-inputs makes one with "
                   "espeak-ng)"},
    {"tts_prompt_audio", "no text-to-speech: give a speech file with --audio"},
    {"tts_prompt_text", "no text-to-speech: give a speech file with --audio"},
    {"tts_text", "no text-to-speech: give a speech file with --audio"},
    {"use_prompt_extend", "no prompt extension: pass the final prompt with --prompt"},
    {"prompt_extend_method", "no prompt extension: pass the final prompt with --prompt"},
    {"prompt_extend_model", "no prompt extension: pass the final prompt with --prompt"},
    {"prompt_extend_target_lang", "no prompt extension: pass the final prompt with --prompt"},
    {"n_prompt", "there is no negative prompt (no classifier-free guidance in the distilled model)"},
    {"server_port", "no web UI: lavr render is a batch command (mpirun ... lavr render)"},
    {"server_name", "no web UI: lavr render is a batch command (mpirun ... lavr render)"},
};

const char *cli_official_flag(const char *name) {
    for (size_t i = 0; i < sizeof flags / sizeof flags[0]; i++)
        if (strcmp(flags[i].name, name) == 0) return flags[i].answer;
    return NULL;
}
