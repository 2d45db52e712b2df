/* The lavr commands: each takes the full argv (argv[1] is the command name), parses its own
 * options with cli/args.h and returns a status that main turns into a message and exit code. */
#ifndef LAVR_CLI_COMMANDS_H
#define LAVR_CLI_COMMANDS_H

#include "core/status.h"

lavr_status lavr_cmd_version(int argc, char **argv);
lavr_status lavr_cmd_init(int argc, char **argv);
lavr_status lavr_cmd_inspect(int argc, char **argv);
lavr_status lavr_cmd_topo(int argc, char **argv);
lavr_status lavr_cmd_sample_inputs(int argc, char **argv);
lavr_status lavr_cmd_prep_image(int argc, char **argv);
lavr_status lavr_cmd_encode(int argc, char **argv);
lavr_status lavr_cmd_check_golden(int argc, char **argv);
lavr_status lavr_cmd_dit_run(int argc, char **argv);
lavr_status lavr_cmd_encode_image(int argc, char **argv);
lavr_status lavr_cmd_encode_text(int argc, char **argv);
lavr_status lavr_cmd_encode_audio(int argc, char **argv);
lavr_status lavr_cmd_decode_latents(int argc, char **argv);
lavr_status lavr_cmd_convert(int argc, char **argv);
lavr_status lavr_cmd_plan(int argc, char **argv);
lavr_status lavr_cmd_bench(int argc, char **argv);
lavr_status lavr_cmd_render(int argc, char **argv);
lavr_status lavr_cmd_tokenize(int argc, char **argv);

#endif
