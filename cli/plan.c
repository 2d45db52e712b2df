/* `lavr plan`: the render layouts of a GPU count in bf16 and FP8 with every rank's predicted whole-device memory
 * (parallel/plan.h), whether the busiest GPU fits a per-GPU cap and the predicted speed, fastest fitting first;
 * `--table` answers "which layout for my GPUs" for the usual machines. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli/args.h"
#include "cli/commands.h"
#include "core/units.h"
#include "io/size_rule.h"
#include "models/config.h"
#include "parallel/plan.h"

static double gib(uint64_t b) { return (double)b / (double)(1ull << 30); }

/* "--fp8" or "" and the stated choices of the model */
static void describe(const lavr_plan_options *o, char *buf, size_t len) {
    snprintf(buf, len, "%s, one shared sink per rank, %s, umT5 %s, aux encoders freed after the setup",
             o->fp8 ? "FP8 DiT Linears (--fp8)" : "bf16 DiT", o->aux_on_gpu ? "the aux rank's VAE on its GPU" : "the aux rank on the host",
             o->t5_on_gpu == LAVR_PLAN_T5_AUTO ? "on the aux GPU when no DiT rank shares it, else on the host"
             : o->t5_on_gpu ? "on the aux GPU" : "on the host");
}

static void print_ranks(const lavr_plan_rank *ranks, int n) {
    printf("  %4s %4s  %-15s %7s %7s %6s %7s %6s %6s %6s %7s %5s %5s %5s %5s %7s %8s %8s\n", "rank", "gpu", "role",
           "weights", "kv-win", "sink", "text-kv", "work", "setup", "vae", "arena", "ctx", "nccl", "libs", "t5",
           "total", "ms/step", "ms/block");
    for (int i = 0; i < n; i++) {
        const lavr_plan_rank *r = &ranks[i];
        char gpu[16];
        if (r->gpu >= 0) snprintf(gpu, sizeof gpu, "%d", r->gpu);
        else snprintf(gpu, sizeof gpu, "host");
        printf("  %4d %4s  %-15s %7.2f %7.2f %6.2f %7.2f %6.2f %6.2f %6.2f %7.2f %5.2f %5.2f %5.2f %5.2f %7.2f %8.1f "
               "%8.1f\n",
               i, gpu, r->role, gib(r->weights), gib(r->kv_window), gib(r->sink), gib(r->text_kv), gib(r->work),
               gib(r->setup), gib(r->vae_cache + r->vae_act), gib(r->arena), gib(r->context), gib(r->nccl),
               gib(r->blas + r->cudnn + r->graphs), gib(r->t5), gib(r->total), r->step_ms, r->block_ms);
    }
}

/* one layout: its line, its ranks; returns the status of planning it */
static lavr_status print_layout(const lavr_model_config *cfg, int64_t w, int64_t h, const lavr_layout *l,
                                const lavr_plan_options *o, int index, int with_ranks) {
    const int n = lavr_layout_ranks(l);
    lavr_plan_rank *ranks = calloc((size_t)n, sizeof *ranks);
    if (!ranks) return LAVR_FAIL(LAVR_E_NOMEM, "plan: %d rank rows", n);
    lavr_status st = lavr_plan_layout(cfg, w, h, l, o, ranks);
    if (!st) {
        char text[96], peak_s[32];
        lavr_layout_format(l, text, sizeof text);
        int at = 0;
        const uint64_t peak = lavr_plan_peak_gpu(ranks, n, o->gpus, &at);
        lavr_format_bytes(peak, peak_s, sizeof peak_s);
        const int fits = !o->gpu_mem || peak <= o->gpu_mem;
        char idx[16] = "";
        if (index > 0) snprintf(idx, sizeof idx, "%d. ", index);
        printf("%s%s%s: %d ranks on %d GPU%s, busiest GPU %d needs %s, %s, %.1f FPS predicted\n", idx, text,
               o->fp8 ? " --fp8" : "", n, o->gpus, o->gpus == 1 ? "" : "s", ranks[at].gpu, peak_s,
               !o->gpu_mem ? "no cap" : (fits ? "fits" : "OVER THE CAP"), lavr_plan_fps(cfg, ranks, n));
        if (with_ranks) print_ranks(ranks, n);
    }
    free(ranks);
    return st;
}

/* The machines of the "which layout for my GPUs" table, each card's budget its size in GB (24GB = 22.35 GiB,
 * 80GB = 74.5 GiB, 141GB = 131.3 GiB: 1.6, 5.1 and 9.1 GiB under what the cards have, for the driver and the rest) */
static const struct {
    int gpus;
    const char *card, *mem;
} machines[] = {{1, "80 GB", "80GB"}, {1, "141 GB (H200)", "141GB"}, {4, "24 GB", "24GB"},
                {4, "80 GB", "80GB"},  {8, "80 GB", "80GB"}};

/* "`--layout L --fp8`, -np N, 20.79 GiB, 21.2 FPS" for the fastest choice of one precision that fits, or "none fits" */
static void table_cell(const lavr_model_config *cfg, int64_t w, int64_t h, const lavr_plan_options *o, int fp8) {
    lavr_plan_choice c[1];
    const int n = lavr_plan_choices(cfg, w, h, o, fp8, !fp8, c, 1);
    if (n == 0 || !c[0].fits) {
        printf(" none fits |");
        return;
    }
    char text[96], peak[32];
    lavr_layout_format(&c[0].layout, text, sizeof text);
    lavr_format_bytes(c[0].peak, peak, sizeof peak);
    printf(" `--layout %s%s`, -np %d: %s, %.1f FPS |", text, fp8 ? " --fp8" : "", lavr_layout_ranks(&c[0].layout), peak,
           c[0].fps);
}

static lavr_status print_table(const lavr_model_config *cfg, int64_t w, int64_t h, const lavr_plan_options *base) {
    printf("Fastest render layout that fits, at %lldx%lld (busiest GPU's predicted bytes, predicted FPS):\n\n",
           (long long)w, (long long)h);
    printf("| GPUs | card | --gpu-mem | FP8 (--fp8) | bf16 |\n");
    printf("|---|---|---|---|---|\n");
    for (size_t m = 0; m < sizeof machines / sizeof machines[0]; m++) {
        lavr_plan_options o = *base;
        o.gpus = machines[m].gpus;
        o.aux_gpu = -1;
        TRY(lavr_parse_bytes(machines[m].mem, &o.gpu_mem));
        printf("| %d | %s | %s |", o.gpus, machines[m].card, machines[m].mem);
        table_cell(cfg, w, h, &o, 1);
        table_cell(cfg, w, h, &o, 0);
        printf("\n");
    }
    return LAVR_OK;
}

lavr_status lavr_cmd_plan(int argc, char **argv) {
    cli_option opts[] = {
        {"config", 1, "model preset: tiny or s2v-14b (default s2v-14b)", NULL},
        {"size", 1, "generated video size W*H in pixels, multiples of 16 (default 704*384)", NULL},
        {"gpus", 1, "GPUs on the node (default 1)", NULL},
        {"gpu-mem", 1, "memory per GPU, the whole device, e.g. 22GiB or 24GB (default: no cap)", NULL},
        {"layout", 1, "plan only this layout (steps=S,tp=T,pp=P,aux=A)", NULL},
        {"fp8", 0, "FP8 DiT Linears only (render --fp8); default: bf16 and FP8", NULL},
        {"bf16", 0, "bf16 DiT Linears only", NULL},
        {"t5", 1, "where the aux rank runs umT5 in the setup: auto (default, as lavr render: the aux GPU when no DiT rank "
               "shares it), gpu (freed after the setup) or host", NULL},
        {"aux", 1, "where the aux rank decodes: gpu (default: the VAE on a GPU) or host", NULL},
        {"aux-gpu", 1, "the aux rank's GPU (default: a GPU no DiT rank uses, else the last DiT rank's)", NULL},
        {"all", 0, "print every rank of every layout, also those over the cap", NULL},
        {"table", 0, "which layout for 1x80 GB, 1x141 GB, 4x24 GB, 4x80 GB and 8x80 GB GPUs", NULL},
        {"help", 0, "print this help", NULL},
    };
    const int nopts = (int)(sizeof opts / sizeof opts[0]);
    TRY(cli_parse("plan", argc, argv, 2, opts, nopts, NULL, 0, NULL));
    if (cli_flag(opts, nopts, "help")) {
        cli_print_help("usage: lavr plan [--config s2v-14b] [--size 704*384] [--gpus 4] [--gpu-mem 22GiB] [--fp8|--bf16]\n"
                       "                 [--layout L] [--t5 auto|gpu|host] [--aux gpu|host] [--aux-gpu N] [--all] [--table]\n"
                       "Lists the render layouts (steps x tp x pp DiT ranks + 1 aux rank) for the GPU count in bf16 and FP8,\n"
                       "those that fit first, fastest first, with every rank's predicted device memory in GiB (arena\n"
                       "parts, then the CUDA context, NCCL and library workspaces outside it) and the predicted speed.",
                       opts, nopts);
        return LAVR_OK;
    }
    lavr_model_config cfg;
    TRY(lavr_config_preset(cli_get(opts, nopts, "config", "s2v-14b"), &cfg));
    int64_t width, height, gpus, aux_gpu;
    TRY(lavr_size_parse(cli_get(opts, nopts, "size", "704*384"), &width, &height));
    TRY(lavr_plan_size_check(width, height));
    TRY(cli_get_int(opts, nopts, "gpus", 1, 1, 1024, &gpus));
    TRY(cli_get_int(opts, nopts, "aux-gpu", -1, 0, gpus - 1, &aux_gpu));
    lavr_plan_options o = lavr_plan_options_default();
    o.gpus = (int)gpus;
    o.aux_gpu = (int)aux_gpu;
    const int fp8_only = cli_flag(opts, nopts, "fp8"), bf16_only = cli_flag(opts, nopts, "bf16");
    CHECK_ARG(!(fp8_only && bf16_only), "plan: --fp8 and --bf16 exclude each other");
    const char *t5 = cli_get(opts, nopts, "t5", "auto");
    CHECK_ARG(!strcmp(t5, "host") || !strcmp(t5, "gpu") || !strcmp(t5, "auto"),
              "plan: --t5 must be auto, gpu or host, not '%s'", t5);
    o.t5_on_gpu = !strcmp(t5, "auto") ? LAVR_PLAN_T5_AUTO : !strcmp(t5, "gpu");
    const char *aux = cli_get(opts, nopts, "aux", "gpu");
    CHECK_ARG(strcmp(aux, "host") == 0 || strcmp(aux, "gpu") == 0, "plan: --aux must be gpu or host, not '%s'", aux);
    o.aux_on_gpu = strcmp(aux, "gpu") == 0;
    o.w2v_on_gpu = o.aux_on_gpu;
    const char *mem = cli_get(opts, nopts, "gpu-mem", NULL);
    if (mem) TRY(lavr_parse_bytes(mem, &o.gpu_mem));
    CHECK_ARG(!mem || o.gpu_mem > 0, "plan: --gpu-mem %s: give the memory per GPU (e.g. 24GB), or leave --gpu-mem out "
              "for no cap", mem);
    if (cli_flag(opts, nopts, "table")) return print_table(&cfg, width, height, &o);

    char cap_s[32] = "no cap", model[256];
    if (o.gpu_mem) lavr_format_bytes(o.gpu_mem, cap_s, sizeof cap_s);
    const char *only = cli_get(opts, nopts, "layout", NULL);
    o.fp8 = fp8_only;
    describe(&o, model, sizeof model);
    printf("plan: %s at %lldx%lld (latent %lldx%lld), %d GPU%s, %s per GPU (whole device)\n", cfg.preset,
           (long long)width, (long long)height, (long long)width / 8, (long long)height / 8, o.gpus,
           o.gpus == 1 ? "" : "s", cap_s);
    const int both = !only && !fp8_only && !bf16_only;
    printf("model: %s%s; GiB per rank: arena parts, then outside it the CUDA context, NCCL, libs (cuBLASLt, cuDNN, "
           "CUDA graphs), t5 (umT5's own context in the setup); aux: arena = weights + max(setup, vae)\n",
           both ? "bf16 and FP8 DiT Linears" : "", both ? strchr(model, ',') : model);
    if (only) {
        lavr_layout l;
        TRY(lavr_layout_parse(only, &l));
        printf("\n");
        return print_layout(&cfg, width, height, &l, &o, 0, 1);
    }
    lavr_plan_choice ch[256];
    const int n = lavr_plan_choices(&cfg, width, height, &o, fp8_only, bf16_only, ch, 256);
    if (n == 0)
        return LAVR_FAIL(LAVR_E_ARG, "plan: no layout: %d GPU%s cannot hold steps x tp x pp DiT ranks (tp dividing %lld "
                         "heads and %lld FFN) + 1 aux", o.gpus, o.gpus == 1 ? "" : "s", (long long)cfg.dit.num_heads,
                         (long long)cfg.dit.ffn_dim);
    const int all = cli_flag(opts, nopts, "all");
    int nfit = 0;
    for (int i = 0; i < n; i++) nfit += ch[i].fits;
    if (nfit) printf("\nlayouts that fit, fastest first:\n");
    for (int i = 0; i < n; i++) {
        if (i == nfit) printf("\n%s:\n", nfit ? "over the cap" : "no layout fits the cap; the smallest first");
        lavr_plan_options lo = o;
        lo.fp8 = ch[i].fp8;
        TRY(print_layout(&cfg, width, height, &ch[i].layout, &lo, i + 1, ch[i].fits || all || (i == 0 && !nfit)));
    }
    if (nfit) {
        char text[96];
        lavr_layout_format(&ch[0].layout, text, sizeof text);
        lavr_plan_options lo = o;
        lo.fp8 = ch[0].fp8;
        describe(&lo, model, sizeof model);
        printf("\nfastest that fits: %s%s (%.1f FPS predicted; %s)\n", text, ch[0].fp8 ? " --fp8" : "", ch[0].fps, model);
        printf("  mpirun -np %d lavr render --layout %s%s%s%s ...\n", lavr_layout_ranks(&ch[0].layout), text,
               ch[0].fp8 ? " --fp8" : "", o.gpu_mem ? " --gpu-mem " : "", o.gpu_mem ? mem : "");
        return LAVR_OK;
    }
    /* nothing fits: an error after the table, naming the smallest need (choices are then smallest first) */
    char need[32];
    lavr_format_bytes(ch[0].peak, need, sizeof need);
    return LAVR_FAIL(LAVR_E_ARG, "plan: no layout fits the cap of %s per GPU; the smallest needs %s%s", cap_s, need,
                     ch[0].fp8 || bf16_only ? "" : " (try --fp8)");
}
