/* `lavr convert`: turns the official downloads (a ckpt/Wan2.2-S2V-14B directory and optionally the
 * LiveAvatar LoRA) into one lavr model file; the work is in io/convert.c. */
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cli/args.h"
#include "cli/commands.h"
#include "io/convert.h"

static const char synopsis[] = "usage: lavr convert --wan DIR [--lora FILE] -o|--output OUT.h5 [--fp8] [--compress N]";
static const char about[] =
    "DIR holds: config.json, diffusion_pytorch_model-0000K-of-0000N.safetensors + .index.json (or one\n"
    "diffusion_pytorch_model.safetensors), models_t5_umt5-xxl-enc-bf16.pth, Wan2.1_VAE.pth,\n"
    "wav2vec2-large-xlsr-53-english/ (config.json, preprocessor_config.json, model.safetensors or\n"
    "pytorch_model.bin), google/umt5-xxl/ (tokenizer.json or spiece.model).";

lavr_status lavr_cmd_convert(int argc, char **argv) {
    cli_option opts[] = {
        {"wan", "DIR", "the Wan2.2-S2V-14B download directory", NULL},
        {"lora", "FILE", "LiveAvatar LoRA (liveavatar.safetensors) merged into the DiT", NULL},
        {"lora-scale", "X", "override the LoRA scale alpha/rank (default: file metadata, else 64/rank)", NULL},
        {"output", "FILE", "output model file (also -o FILE); written as FILE.partial, renamed when complete", NULL},
        {"fp8", 0, "also store FP8 e4m3 copies of the DiT Linear weights under /dit_fp8", NULL},
        {"compress", "0-9", "deflate level 0-9 (default 0: none)", NULL},
        {"quiet", 0, "no progress lines", NULL},
        {"help", 0, "show this help", NULL},
    };
    const int nopts = (int)(sizeof opts / sizeof opts[0]);
    TRY(cli_parse("convert", argc, argv, 2, opts, nopts, NULL, 0, NULL));
    if (cli_flag(opts, nopts, "help")) {
        cli_print_help(synopsis, about, opts, nopts);
        return LAVR_OK;
    }
    int64_t compress;
    TRY(cli_get_int(opts, nopts, "compress", 0, 0, 9, &compress));
    lavr_convert_options o = {
        .wan_dir = cli_get(opts, nopts, "wan", NULL),
        .lora_path = cli_get(opts, nopts, "lora", NULL),
        .out_path = cli_get(opts, nopts, "output", NULL),
        .fp8 = cli_flag(opts, nopts, "fp8"),
        .compress = (int)compress,
        .progress = !cli_flag(opts, nopts, "quiet"),
    };
    CHECK_ARG(o.wan_dir && *o.wan_dir, "lavr convert: missing --wan DIR (the Wan2.2-S2V-14B download directory)");
    CHECK_ARG(o.out_path && *o.out_path, "lavr convert: missing output file (-o OUT.h5)");
    CHECK_ARG(access(o.wan_dir, R_OK | X_OK) == 0, "lavr convert: --wan '%s' is not a readable directory", o.wan_dir);
    const char *scale = cli_get(opts, nopts, "lora-scale", NULL);
    if (scale) {
        char *end;
        o.lora_scale = strtod(scale, &end);
        CHECK_ARG(end != scale && !*end && o.lora_scale > 0, "lavr convert: --lora-scale '%s' is not a positive number", scale);
        CHECK_ARG(o.lora_path, "lavr convert: --lora-scale needs --lora FILE");
    }
    return lavr_convert(&o);
}
