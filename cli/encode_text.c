/* `lavr encode-text`: the prompt through the model file's tokenizer (or token ids given directly) and
 * the umT5 encoder, giving the context rows of the real tokens, added to a conditioning file. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <time.h>

#include "cli/args.h"
#include "cli/commands.h"
#include "core/log.h"
#include "core/tensor.h"
#include "io/h5model.h"
#include "models/conditioning.h"
#include "models/tokenizer.h"

#define NOPTS(a) ((int)(sizeof(a) / sizeof(a)[0]))

static double now_s(void) {
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (double)t.tv_sec + 1e-9 * (double)t.tv_nsec;
}

/* "1,2,3": decimal ids separated by commas, at most LAVR_TEXT_LEN of them. */
static lavr_status parse_ids(const char *text, int64_t *ids, int64_t *n) {
    *n = 0;
    const char *p = text;
    for (;;) {
        char *end;
        errno = 0;
        long long v = strtoll(p, &end, 10);
        CHECK_ARG(end != p && errno == 0 && v >= 0 && (*end == ',' || *end == 0),
                  "lavr encode-text: --ids expects comma-separated non-negative integers like 1,2,3, got '%s'", text);
        CHECK_ARG(*n < LAVR_TEXT_LEN, "lavr encode-text: --ids gives more than %d ids", LAVR_TEXT_LEN);
        ids[(*n)++] = v;
        if (*end == 0) return LAVR_OK;
        p = end + 1;
    }
}

lavr_status lavr_cmd_encode_text(int argc, char **argv) {
    cli_option opts[] = {
        {"model", 1, "lavr model file (uses /t5 and /tokenizer)", NULL},
        {"prompt", 1, "the prompt (UTF-8)", NULL},
        {"ids", 1, "token ids instead of a prompt, e.g. 37,5,1 (EOS is not added)", NULL},
        {"out", 1, "conditioning file to add the context to (created if missing)", NULL},
        {"help", 0, "this help", NULL},
    };
    TRY(cli_parse("encode-text", argc, argv, 2, opts, NOPTS(opts), NULL, 0, NULL));
    if (cli_flag(opts, NOPTS(opts), "help")) {
        cli_print_help("usage: lavr encode-text --model M.h5 (--prompt TEXT | --ids 1,2,3) --out COND.h5", opts,
                       NOPTS(opts));
        return LAVR_OK;
    }
    const char *model_path = cli_get(opts, NOPTS(opts), "model", NULL), *out = cli_get(opts, NOPTS(opts), "out", NULL);
    const char *prompt = cli_get(opts, NOPTS(opts), "prompt", NULL), *ids_text = cli_get(opts, NOPTS(opts), "ids", NULL);
    CHECK_ARG(model_path && out, "lavr encode-text: --model and --out are required");
    CHECK_ARG((prompt != NULL) != (ids_text != NULL), "lavr encode-text: give either --prompt TEXT or --ids 1,2,3");
    int64_t ids[LAVR_TEXT_LEN], n = 0;
    if (ids_text) TRY(parse_ids(ids_text, ids, &n));
    lavr_h5file *model = NULL;
    lavr_arena *arena = NULL;
    lavr_conditioning c = {0};
    lavr_status st;
    double t0 = now_s();
    TRY_GOTO(lavr_arena_create("encode-text", 0, &arena), st, done);
    TRY_GOTO(lavr_h5_open(model_path, &model), st, done);
    if (prompt) TRY_GOTO(lavr_cond_encode_text(model, prompt, arena, &c), st, done);
    else TRY_GOTO(lavr_cond_encode_ids(model, ids, n, arena, &c), st, done);
    if (c.prompt_dropped > 0)
        LOG_WARN("the prompt has %lld tokens; cut to the model's text length %lld (EOS kept): %lld dropped",
                 (long long)(c.context.shape[0] + c.prompt_dropped), (long long)c.context.shape[0],
                 (long long)c.prompt_dropped);
    TRY_GOTO(lavr_cond_save(out, &c), st, done);
    char a[64];
    printf("%s: %lld tokens (EOS included) -> context %s in %.2f s -> %s\n", prompt ? "prompt" : "ids",
           (long long)c.context.shape[0], lavr_tensor_describe(&c.context, a, sizeof a), now_s() - t0, out);
done:
    lavr_cond_free(&c);
    lavr_arena_destroy(arena);
    lavr_status close_st = lavr_h5_close(model);
    return st ? st : close_st;
}
