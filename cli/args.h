/* Option parsing shared by the lavr commands: `--name value` or `--name=value`, flags without a
 * value, -h (= --help) and -o (= --output or --out) where the command has them, and one-line errors for unknown
 * or incomplete options (LiveAvatar's own flag names get the lavr equivalent, cli/official_flags.c). */
#ifndef LAVR_CLI_ARGS_H
#define LAVR_CLI_ARGS_H

#include <stdint.h>

#include "core/status.h"

typedef struct {
    const char *name;    /* without the leading dashes */
    const char *metavar; /* what the value is, as help shows it (FILE, W*H, N, auto|cpu|cuda); NULL: a flag */
    const char *help;
    const char *value;   /* filled by cli_parse (NULL when absent; "" for a present flag) */
} cli_option;

/* Parses argv[first..argc); positional arguments (not starting with -) are collected in order
 * into positional[] (at most max_positional). `command` names the command in error messages. */
lavr_status cli_parse(const char *command, int argc, char **argv, int first, cli_option *opts, int nopts,
                      const char **positional, int max_positional, int *npositional);
const cli_option *cli_find(const cli_option *opts, int nopts, const char *name);
/* Value of an option or fallback when absent. */
const char *cli_get(const cli_option *opts, int nopts, const char *name, const char *fallback);
int cli_flag(const cli_option *opts, int nopts, const char *name);
/* Integer value with a range check; absent options give fallback. */
lavr_status cli_get_int(const cli_option *opts, int nopts, const char *name, int64_t fallback, int64_t min,
                        int64_t max, int64_t *out);
/* The help on stdout: the synopsis ("usage: lavr CMD ..."), completed with "[--name METAVAR]" for
 * every option it does not name, so the usage lists every option; then `about` (may be NULL) and one
 * line per option. */
void cli_print_help(const char *synopsis, const char *about, const cli_option *opts, int nopts);

/* The answer to a flag of LiveAvatar's (or Wan's) scripts that lavr has under another name or not at
 * all, e.g. "sample_steps" (without dashes); NULL when the name is not one of theirs. */
const char *cli_official_flag(const char *name);

#endif
