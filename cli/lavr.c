/* Entry point of the lavr binary: the command table, help, and the one place where a failed
 * command's message is printed and turned into an exit code. */
#include <stdio.h>
#include <string.h>

#include "cli/commands.h"
#include "core/log.h"
#include "core/signals.h"
#include "core/status.h"
#include "io/h5util.h"
#include "parallel/mpi.h"

typedef struct {
    const char *name;
    lavr_status (*run)(int argc, char **argv);
    const char *summary;
} command;

static const command commands[] = {
    {"bench", lavr_cmd_bench, "run the DiT schedule on generated weights and report ms per block-step, FPS, memory"},
    {"check-golden", lavr_cmd_check_golden, "run golden files from the official implementation and compare every output"},
    {"convert", lavr_cmd_convert, "convert the official checkpoints (safetensors, LoRA, .pth, HF) into one lavr model file"},
    {"decode-latents", lavr_cmd_decode_latents, "decode latent blocks with the streaming VAE into an MP4"},
    {"dit-run", lavr_cmd_dit_run, "render clean latent blocks with the DiT on one process (tiny/any checkpoint)"},
    {"encode", lavr_cmd_encode, "write an MP4 (H.264 + AAC, fragmented) from PNG frames and an audio file"},
    {"encode-audio", lavr_cmd_encode_audio, "wav2vec2 features of a speech file bucketed to 25 fps (conditioning file)"},
    {"encode-image", lavr_cmd_encode_image, "VAE-encode a portrait into reference and motion latents (conditioning file)"},
    {"encode-text", lavr_cmd_encode_text, "tokenize and umT5-encode a prompt (conditioning file)"},
    {"init", lavr_cmd_init, "write a model checkpoint with deterministic random weights (or --dry-run counts)"},
    {"inspect", lavr_cmd_inspect, "list a model file's config, tensors, shapes, dtypes and totals"},
    {"plan", lavr_cmd_plan, "list the layouts that fit a GPU count and memory, with predicted bytes per rank"},
    {"prep-image", lavr_cmd_prep_image, "show the size rule's output size for an image and write the preprocessed picture"},
    {"render", lavr_cmd_render, "render a talking-avatar MP4 from a portrait, speech and a prompt (under mpirun)"},
    {"sample-inputs", lavr_cmd_sample_inputs, "write a synthetic portrait and espeak-ng speech for the demo"},
    {"tokenize", lavr_cmd_tokenize, "print a prompt's umT5 token ids (EOS included) as the render computes them"},
    {"topo", lavr_cmd_topo, "show which rank plays which role on which device for a layout (under mpirun)"},
    {"version", lavr_cmd_version, "print the version and the features this build has"},
};
#define NCOMMANDS ((int)(sizeof commands / sizeof commands[0]))

static void usage(FILE *f) {
    fprintf(f, "usage: lavr COMMAND [options]   (lavr COMMAND --help for its options)\n\ncommands:\n");
    for (int i = 0; i < NCOMMANDS; i++) fprintf(f, "  %-15s %s\n", commands[i].name, commands[i].summary);
}

/* Exit codes (documented in README, lavr_status_exit_code): 0 ok, 2 bad arguments or input, 75 stopped
 * on a signal after a checkpoint (run the same command again to continue), 1 any other failure. */
static int exit_code(lavr_status st) { return lavr_status_exit_code(st); }

int main(int argc, char **argv) {
    lavr_h5u_no_exit_close();
    if (argc < 2 || strcmp(argv[1], "--help") == 0 || strcmp(argv[1], "-h") == 0 || strcmp(argv[1], "help") == 0) {
        usage(argc < 2 ? stderr : stdout);
        return argc < 2 ? 2 : 0;
    }
    if (strcmp(argv[1], "--version") == 0) return exit_code(lavr_cmd_version(argc, argv));
    for (int i = 0; i < NCOMMANDS; i++) {
        if (strcmp(argv[1], commands[i].name) != 0) continue;
        lavr_status st = commands[i].run(argc, argv);
        if (st) {
            /* the user's line has no source location (LAVR_DEBUG=1 shows it); the debug log keeps it */
            LOG_DEBUG("%s failed: %s", commands[i].name, lavr_error_message());
            lavr_mpi_report_failure(st, lavr_error_user_message());
        }
        return exit_code(st);
    }
    fprintf(stderr, "lavr: unknown command '%s'\n", argv[1]);
    usage(stderr);
    return 2;
}
