/* `lavr tokenize`: a prompt's umT5 token ids as the render computes them (Wan's cleaning, the charsmap,
 * unigram Viterbi, EOS), space-separated on one line, from a model file or a tokenizer file alone. */
#include <stdio.h>
#include <unistd.h>

#include "cli/args.h"
#include "cli/commands.h"
#include "core/log.h"
#include "io/h5model.h"
#include "models/conditioning.h"
#include "models/tokenizer.h"

#define NOPTS(a) ((int)(sizeof(a) / sizeof(a)[0]))

/* The ids cut to text_len (the model's, or --text-len), and how many were cut. */
static lavr_status tokenize(const char *model_path, const char *tok_path, const char *prompt, int64_t text_len,
                            int64_t *ids, int64_t *n, int64_t *dropped) {
    if (model_path) {
        lavr_h5file *model = NULL;
        TRY(lavr_h5_open(model_path, &model));
        lavr_status st = lavr_cond_prompt_ids(model, prompt, ids, n, dropped);
        lavr_status close_st = lavr_h5_close(model);
        return st ? st : close_st;
    }
    lavr_tokenizer *tok = NULL;
    TRY(lavr_tokenizer_load(tok_path, &tok));
    int64_t total = 0;
    lavr_status st = lavr_tokenizer_encode_counted(tok, prompt, text_len, ids, n, &total);
    lavr_tokenizer_destroy(tok);
    TRY(st);
    *dropped = total - *n;
    return LAVR_OK;
}

lavr_status lavr_cmd_tokenize(int argc, char **argv) {
    cli_option opts[] = {
        {"model", 1, "FILE: lavr model file (its /tokenizer, cut to its text length)", NULL},
        {"tokenizer", 1, "FILE: a tokenizer.json or spiece.model instead of a model file", NULL},
        {"prompt", 1, "TEXT: the prompt (UTF-8)", NULL},
        {"text-len", 1, "N: ids per prompt, EOS included, with --tokenizer (default 512, umT5's)", NULL},
        {"help", 0, "this help", NULL},
    };
    TRY(cli_parse("tokenize", argc, argv, 2, opts, NOPTS(opts), NULL, 0, NULL));
    if (cli_flag(opts, NOPTS(opts), "help")) {
        cli_print_help("usage: lavr tokenize (--model M.h5 | --tokenizer FILE [--text-len N]) --prompt TEXT\n"
                       "Prints the prompt's token ids, EOS included, space-separated on one line; a prompt longer\n"
                       "than the text length is cut to it (EOS kept) with a warning on stderr.",
                       opts, NOPTS(opts));
        return LAVR_OK;
    }
    const char *model = cli_get(opts, NOPTS(opts), "model", NULL), *tok = cli_get(opts, NOPTS(opts), "tokenizer", NULL);
    const char *prompt = cli_get(opts, NOPTS(opts), "prompt", NULL);
    CHECK_ARG((model != NULL) != (tok != NULL), "lavr tokenize: give either --model M.h5 or --tokenizer FILE");
    CHECK_ARG(prompt, "lavr tokenize: --prompt TEXT is required");
    CHECK_ARG(!model || !cli_get(opts, NOPTS(opts), "text-len", NULL),
              "lavr tokenize: --text-len goes with --tokenizer (a model file sets its own text length)");
    const char *file = model ? model : tok;
    CHECK_ARG(access(file, R_OK) == 0, "lavr tokenize: %s '%s' does not exist or is not readable",
              model ? "model" : "tokenizer", file);
    int64_t text_len = 0, ids[LAVR_TEXT_LEN], n = 0, dropped = 0;
    TRY(cli_get_int(opts, NOPTS(opts), "text-len", LAVR_TEXT_LEN, 1, LAVR_TEXT_LEN, &text_len));
    TRY(tokenize(model, tok, prompt, text_len, ids, &n, &dropped));
    if (dropped > 0)
        LOG_WARN("the prompt has %lld tokens; cut to the text length %lld (EOS kept): %lld dropped",
                 (long long)(n + dropped), (long long)n, (long long)dropped);
    for (int64_t i = 0; i < n; i++) printf("%s%lld", i ? " " : "", (long long)ids[i]);
    printf("\n");
    return LAVR_OK;
}
