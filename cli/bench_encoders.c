/* `lavr bench --encoders`: umT5 of a model preset on one GPU (or the CPU reference) with weights generated where the
 * model lives (no checkpoint), then wav2vec2 (cli/bench_w2v.c): the time of one prompt encode for each token count asked (default the full 512 and a
 * typical 100), over repeated runs after a warm-up, the peak device memory against lavr_t5_device_bytes (which
 * sizes the arena, as the aux rank's T5 context does), and optionally ms per op type. One process, no MPI. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "cli/args.h"
#include "cli/bench_encoders.h"
#include "cli/bench_w2v.h"
#include "core/rng.h"
#include "core/units.h"
#include "kernels/ctx.h"
#include "models/config.h"
#include "models/t5.h"
#include "models/tokenizer.h"

#define TARGET_T5_S 0.3 /* the target for umT5-XXL on one H200 */
#define MAX_COUNTS 8

static double now_s(void) {
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (double)t.tv_sec + 1e-9 * (double)t.tv_nsec;
}

typedef struct {
    lavr_t5_config cfg;
    int64_t tokens[MAX_COUNTS];
    int ncounts;
    int64_t repeat, seed;
    int on_cpu, profile;
    lavr_ctx_cuda_options ctx;
} enc_bench_args;

/* "512,100" -> counts in [1, LAVR_TEXT_LEN] */
static lavr_status parse_counts(const char *text, enc_bench_args *a) {
    const char *p = text;
    a->ncounts = 0;
    while (*p) {
        char *end = NULL;
        const long long v = strtoll(p, &end, 10);
        CHECK_ARG(end != p && v >= 1 && v <= LAVR_TEXT_LEN && a->ncounts < MAX_COUNTS && (*end == ',' || !*end),
                  "bench: --tokens '%s': up to %d comma-separated counts in [1, %d]", text, MAX_COUNTS, LAVR_TEXT_LEN);
        a->tokens[a->ncounts++] = v;
        p = *end ? end + 1 : end;
    }
    CHECK_ARG(a->ncounts > 0, "bench: --tokens is empty");
    return LAVR_OK;
}

static void print_profile(const double *ms, const int64_t *calls, double scale) {
    double total = 0;
    for (int i = 0; i < LAVR_CTX_PROF_CATEGORIES; i++) total += ms[i];
    for (int i = 0; i < LAVR_CTX_PROF_CATEGORIES; i++)
        if (calls[i])
            printf("    %-22s %9.2f ms  %6.1f%%  %7.1f calls\n", lavr_ctx_prof_name(i), ms[i] * scale,
                   total > 0 ? 100.0 * ms[i] / total : 0.0, (double)calls[i] * scale);
}

/* One token count: a warm-up encode, then `repeat` timed ones (each returns with the rows on the host). */
static lavr_status time_count(lavr_t5 *t5, lavr_ctx *ctx, lavr_arena *host, const enc_bench_args *a, int64_t n) {
    const lavr_t5_config *c = &a->cfg;
    int64_t *ids = malloc((size_t)n * sizeof *ids);
    float *out = malloc((size_t)(n * c->dim) * sizeof *out);
    lavr_status st = ids && out ? LAVR_OK : LAVR_FAIL(LAVR_E_NOMEM, "bench: %lld tokens", (long long)n);
    for (int64_t i = 0; !st && i < n; i++)
        ids[i] = i == n - 1 ? 1 : lavr_rng_randint((uint64_t)a->seed, 77, (uint64_t)i, 2, c->vocab - 1); /* EOS last */
    if (!st) st = lavr_t5_encode(t5, ids, n, NULL, out);
    double prof[LAVR_CTX_PROF_CATEGORIES] = {0}, ms[LAVR_CTX_PROF_CATEGORIES];
    int64_t prof_calls[LAVR_CTX_PROF_CATEGORIES] = {0}, calls[LAVR_CTX_PROF_CATEGORIES];
    if (!st && a->profile) st = lavr_ctx_profile_take(ctx, ms, calls);
    double sum = 0, lo = 1e30, hi = 0;
    for (int64_t r = 0; !st && r < a->repeat; r++) {
        const double t0 = now_s();
        st = lavr_t5_encode(t5, ids, n, NULL, out);
        const double dt = now_s() - t0;
        sum += dt, lo = dt < lo ? dt : lo, hi = dt > hi ? dt : hi;
        if (!st && a->profile) {
            st = lavr_ctx_profile_take(ctx, ms, calls);
            for (int i = 0; i < LAVR_CTX_PROF_CATEGORIES; i++) prof[i] += ms[i], prof_calls[i] += calls[i];
        }
    }
    if (!st) {
        char b1[32], b2[32];
        uint64_t weights = 0, work = 0;
        lavr_t5_device_bytes(c, n, &weights, &work);
        const double mean = sum / (double)a->repeat;
        printf("%4lld tokens: mean %.1f ms (min %.1f, max %.1f) over %lld encodes", (long long)n, 1e3 * mean, 1e3 * lo,
               1e3 * hi, (long long)a->repeat);
        if (a->on_cpu) {
            printf("; host arena peak %s\n", lavr_format_bytes((uint64_t)lavr_arena_peak(host), b1, sizeof b1));
        } else {
            printf(" (target <= %.0f ms: %s); peak device memory %s (weights + this encode's planned work %s, plus "
                   "the cuBLASLt workspace)\n",
                   1e3 * TARGET_T5_S, mean <= TARGET_T5_S ? "met" : "missed",
                   lavr_format_bytes(lavr_ctx_peak_bytes(ctx), b1, sizeof b1),
                   lavr_format_bytes(weights + work, b2, sizeof b2));
        }
        if (a->profile) print_profile(prof, prof_calls, 1.0 / (double)a->repeat);
    }
    free(ids);
    free(out);
    return st;
}

static lavr_status run(enc_bench_args *a) {
    const lavr_t5_config *c = &a->cfg;
    int64_t most = 0;
    for (int i = 0; i < a->ncounts; i++) most = a->tokens[i] > most ? a->tokens[i] : most;
    uint64_t weights = 0, work = 0;
    lavr_t5_device_bytes(c, most, &weights, &work);
    if (!a->ctx.mem_cap) a->ctx.mem_cap = weights + work; /* what the aux's T5 context reserves */
    lavr_arena *host = NULL;
    lavr_ctx *ctx = NULL;
    lavr_t5 *t5 = NULL;
    lavr_status st;
    char b1[32], b2[32];
    TRY(lavr_arena_create("bench encoders host", 0, &host));
    if (a->on_cpu) TRY_GOTO(lavr_ctx_create_cpu(host, &ctx), st, done);
    else TRY_GOTO(lavr_ctx_create_cuda(&a->ctx, &ctx), st, done);
    if (a->profile) TRY_GOTO(lavr_ctx_profile(ctx, 1), st, done);
    const double t0 = now_s();
    TRY_GOTO(lavr_t5_create_generated(c, (uint64_t)a->seed, ctx, &t5), st, done);
    printf("umT5 (vocab %lld, dim %lld, %lld layers, %lld heads, FFN %lld) on %s\n", (long long)c->vocab,
           (long long)c->dim, (long long)c->num_layers, (long long)c->num_heads, (long long)c->dim_ffn,
           lavr_ctx_describe(ctx));
    if (a->on_cpu)
        printf("  weights generated in %.2f s\n", now_s() - t0);
    else
        printf("  weights generated on the device in %.2f s: %s (the token embedding is computed on the host per "
               "token); arena cap %s\n", now_s() - t0, lavr_format_bytes(weights, b1, sizeof b1),
               lavr_format_bytes(a->ctx.mem_cap, b2, sizeof b2));
    for (int i = 0; i < a->ncounts; i++) TRY_GOTO(time_count(t5, ctx, host, a, a->tokens[i]), st, done);
    st = LAVR_OK;
done:
    lavr_t5_destroy(t5);
    lavr_ctx_destroy(ctx);
    lavr_arena_destroy(host);
    return st;
}

lavr_status lavr_bench_encoders(int argc, char **argv) {
    cli_option opts[] = {
        {"encoders", 0, "benchmark the setup's encoders, umT5 and wav2vec2 (this mode)", NULL},
        {"encoder", 1, "t5, w2v or all (default)", NULL},
        {"seconds", 1, "wav2vec2: audio lengths to time, comma-separated (default 60,300: the 60 s target, and two "
                       "lengths for the cost of 1 h and 10,000 s)", NULL},
        {"attention", 1, "wav2vec2 on cuda: auto (default: cuDNN's fused SDPA when available) or own", NULL},
        {"config", 1, "model preset: s2v-14b (default) or tiny", NULL},
        {"tokens", 1, "prompt lengths to time, comma-separated, 1 to 512 (default 512,100)", NULL},
        {"repeat", 1, "timed encodes per length after one warm-up (default 5)", NULL},
        {"backend", 1, "cuda (default) or cpu (the reference ops; slow at full size)", NULL},
        {"device", 1, "CUDA device (default 0)", NULL},
        {"gpu-mem", 1, "device arena cap (default: exactly what the model and the longest encode need)", NULL},
        {"seed", 1, "seed of the generated weights and ids (default 1)", NULL},
        {"profile", 0, "time every op with CUDA events and print ms per op type per encode", NULL},
        {"help", 0, "print this help", NULL},
    };
    const int nopts = (int)(sizeof opts / sizeof opts[0]);
    TRY(cli_parse("bench", argc, argv, 2, opts, nopts, NULL, 0, NULL));
    if (cli_flag(opts, nopts, "help")) {
        cli_print_help("usage: lavr bench --encoders [--encoder t5|w2v|all] [--config s2v-14b|tiny] [--tokens 512,100]\n"
                       "           [--seconds 60,300] [--repeat N] [--backend cuda|cpu] [--device N] [--gpu-mem M]\n"
                       "           [--seed N] [--attention auto|own] [--profile]\n"
                       "Runs the render's prompt encode (umT5) and speech encode (wav2vec2) with weights generated on the\n"
                       "device and reports the time of one encode per prompt or audio length and the peak device memory.",
                       opts, nopts);
        return LAVR_OK;
    }
    enc_bench_args a;
    memset(&a, 0, sizeof a);
    lavr_model_config cfg;
    TRY(lavr_config_preset(cli_get(opts, nopts, "config", "s2v-14b"), &cfg));
    a.cfg = cfg.t5;
    TRY(parse_counts(cli_get(opts, nopts, "tokens", "512,100"), &a));
    TRY(cli_get_int(opts, nopts, "repeat", 5, 1, 1000, &a.repeat));
    TRY(cli_get_int(opts, nopts, "seed", 1, 0, INT64_MAX, &a.seed));
    int64_t device = 0;
    TRY(cli_get_int(opts, nopts, "device", 0, 0, 1023, &device));
    a.ctx.device = (int)device;
    a.ctx.name = "bench t5";
    a.ctx.conv = LAVR_CONV_OWN; /* no convolutions: no cuDNN handle, as the aux rank's T5 context */
    const char *mem = cli_get(opts, nopts, "gpu-mem", NULL);
    if (mem) TRY(lavr_parse_bytes(mem, &a.ctx.mem_cap));
    a.profile = cli_flag(opts, nopts, "profile");
    const char *backend = cli_get(opts, nopts, "backend", "cuda");
    CHECK_ARG(!strcmp(backend, "cuda") || !strcmp(backend, "cpu"), "bench: --backend '%s': use cuda or cpu", backend);
    a.on_cpu = !strcmp(backend, "cpu");
    CHECK_ARG(!(a.on_cpu && a.profile), "bench: --profile times CUDA ops; drop it with --backend cpu");
    CHECK_ARG(!(a.on_cpu && mem), "bench: --gpu-mem is for --backend cuda");
    const char *which = cli_get(opts, nopts, "encoder", "all"), *attention = cli_get(opts, nopts, "attention", "auto");
    CHECK_ARG(!strcmp(which, "t5") || !strcmp(which, "w2v") || !strcmp(which, "all"),
              "bench: --encoder '%s': use t5, w2v or all", which);
    CHECK_ARG(!strcmp(attention, "auto") || !strcmp(attention, "own"), "bench: --attention '%s': use auto or own",
              attention);
    lavr_bench_w2v_args w = {.cfg = cfg.w2v, .repeat = a.repeat, .seed = a.seed, .on_cpu = a.on_cpu,
                             .profile = a.profile, .own_attention = !strcmp(attention, "own"),
                             .ctx = {.device = (int)device, .mem_cap = a.ctx.mem_cap, .name = "bench w2v"}};
    TRY(lavr_bench_w2v_parse_seconds(cli_get(opts, nopts, "seconds", "60,300"), &w));
    if (strcmp(which, "w2v")) TRY(run(&a));
    if (strcmp(which, "t5")) TRY(lavr_bench_w2v(&w));
    return LAVR_OK;
}
