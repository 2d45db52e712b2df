/* `lavr plan`: every layout of a GPU count with the predicted device memory of each rank (parallel/plan.h),
 * whether it fits a per-GPU cap and its predicted speed; the fastest layout that fits is marked. */
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

static void print_layout(const lavr_layout *l, const lavr_plan_rank *ranks, int n, const lavr_plan_options *o,
                         double fps, int fits, int fastest) {
    char text[96], peak_s[32];
    lavr_layout_format(l, text, sizeof text);
    int at = 0;
    const uint64_t peak = lavr_plan_peak_gpu(ranks, n, o->gpus, &at);
    lavr_format_bytes(peak, peak_s, sizeof peak_s);
    printf("\nlayout %s: %d ranks on %d GPU%s, busiest GPU %s (cuda:%d), %s, %.1f FPS predicted%s\n", text, n,
           o->gpus, o->gpus == 1 ? "" : "s", peak_s, ranks[at].gpu,
           !o->gpu_mem ? "no cap" : (fits ? "fits" : "OVER THE CAP"), fps, fastest ? "  <- fastest that fits" : "");
    printf("  %4s %4s  %-16s %8s %8s %8s %8s %8s %8s %8s %8s %8s %9s\n", "rank", "gpu", "role", "weights", "kv-win",
           "sink", "text-kv", "vae-cch", "activ", "comm", "wkspace", "total", "ms/block");
    for (int i = 0; i < n; i++) {
        const lavr_plan_rank *r = &ranks[i];
        printf("  %4d %4d  %-16s %8.2f %8.2f %8.2f %8.2f %8.2f %8.2f %8.2f %8.2f %8.2f %9.1f\n", i, r->gpu, r->role,
               gib(r->weights), gib(r->kv_window), gib(r->sink), gib(r->text_kv), gib(r->vae_cache),
               gib(r->activations), gib(r->comm), gib(r->workspace), gib(r->total), r->block_ms);
    }
}

lavr_status lavr_cmd_plan(int argc, char **argv) {
    cli_option opts[] = {
        {"config", 1, "model preset: tiny or s2v-14b (default s2v-14b)", NULL},
        {"size", 1, "generated video size W*H in pixels, multiples of 16 (default 704*384)", NULL},
        {"gpus", 1, "GPUs on the node (default 1)", NULL},
        {"gpu-mem", 1, "memory cap per GPU, e.g. 22GiB or 24GB (default: no cap)", NULL},
        {"layout", 1, "plan only this layout (steps=S,tp=T,pp=P,aux=A)", NULL},
        {"fp8", 0, "fp8 e4m3 DiT linear weights (LiveAvatar --fp8)", NULL},
        {"t5", 1, "where the aux rank runs umT5: host (default; once per prompt) or gpu (as LiveAvatar)", NULL},
        {"text-kv", 1, "element type of the cached text K/V: fp32 (default, the CPU path) or bf16", NULL},
        {"help", 0, "print this help", NULL},
    };
    const int nopts = (int)(sizeof opts / sizeof opts[0]);
    TRY(cli_parse("plan", argc, argv, 2, opts, nopts, NULL, 0, NULL));
    if (cli_flag(opts, nopts, "help")) {
        cli_print_help("usage: lavr plan [--config s2v-14b] [--size 704*384] [--gpus 4] [--gpu-mem 24GB] [--fp8]\n"
                       "Lists every layout (steps x tp x pp DiT ranks + 1 aux rank) for the GPU count, one rank per\n"
                       "GPU or the aux rank sharing GPU 0, with predicted bytes per rank (GiB) and predicted speed.",
                       opts, nopts);
        return LAVR_OK;
    }
    lavr_model_config cfg;
    TRY(lavr_config_preset(cli_get(opts, nopts, "config", "s2v-14b"), &cfg));
    int64_t width, height, gpus;
    TRY(lavr_size_parse(cli_get(opts, nopts, "size", "704*384"), &width, &height));
    TRY(cli_get_int(opts, nopts, "gpus", 1, 1, 1024, &gpus));
    lavr_plan_options o = lavr_plan_options_default();
    o.gpus = (int)gpus;
    o.fp8 = cli_flag(opts, nopts, "fp8");
    const char *t5 = cli_get(opts, nopts, "t5", "host");
    CHECK_ARG(strcmp(t5, "host") == 0 || strcmp(t5, "gpu") == 0, "plan: --t5 must be host or gpu, not '%s'", t5);
    o.t5_on_host = strcmp(t5, "host") == 0;
    const char *tkv = cli_get(opts, nopts, "text-kv", "fp32");
    CHECK_ARG(strcmp(tkv, "fp32") == 0 || strcmp(tkv, "bf16") == 0, "plan: --text-kv must be fp32 or bf16, not '%s'",
              tkv);
    o.text_kv_bytes = strcmp(tkv, "fp32") == 0 ? 4 : 2;
    const char *mem = cli_get(opts, nopts, "gpu-mem", NULL);
    if (mem) TRY(lavr_parse_bytes(mem, &o.gpu_mem));
    CHECK_ARG(!mem || o.gpu_mem > 0, "plan: --gpu-mem %s: give the memory per GPU (e.g. 24GB), or leave --gpu-mem out "
              "for no cap", mem);

    lavr_layout cand[256];
    int nc;
    const char *only = cli_get(opts, nopts, "layout", NULL);
    if (only) {
        TRY(lavr_layout_parse(only, &cand[0]));
        nc = 1;
    } else {
        nc = lavr_plan_candidates(&cfg, o.gpus, cand, 256);
        if (nc > 256) nc = 256;
    }
    char cap_s[32] = "no cap";
    if (o.gpu_mem) lavr_format_bytes(o.gpu_mem, cap_s, sizeof cap_s);
    printf("plan: %s at %lldx%lld (latent %lldx%lld), %d GPU%s, cap %s per GPU, %s DiT linear weights, %s text K/V, umT5 on the %s\n",
           cfg.preset, (long long)width, (long long)height, (long long)width / 8, (long long)height / 8, o.gpus,
           o.gpus == 1 ? "" : "s", cap_s, o.fp8 ? "fp8" : "bf16", o.text_kv_bytes == 4 ? "fp32" : "bf16", o.t5_on_host ? "host" : "GPU");
    if (nc == 0) {
        return LAVR_FAIL(LAVR_E_ARG, "plan: no layout: %d GPU%s cannot hold steps x tp x pp DiT ranks (tp dividing %lld "
                         "heads and %lld FFN) + 1 aux", o.gpus, o.gpus == 1 ? "" : "s", (long long)cfg.dit.num_heads,
                         (long long)cfg.dit.ffn_dim);
    }

    /* two passes: find the fastest layout that fits, then print every layout */
    lavr_plan_rank *ranks[256] = {0};
    double fps[256];
    int fits[256], best = -1;
    uint64_t smallest = UINT64_MAX; /* the lowest busiest-GPU peak over the candidates */
    lavr_status st = LAVR_OK;
    for (int i = 0; i < nc && !st; i++) {
        const int n = lavr_layout_ranks(&cand[i]);
        ranks[i] = calloc((size_t)n, sizeof(lavr_plan_rank));
        if (!ranks[i]) {
            st = LAVR_FAIL(LAVR_E_NOMEM, "plan: %d rank rows", n);
            break;
        }
        st = lavr_plan_layout(&cfg, width, height, &cand[i], &o, ranks[i]);
        if (st) break;
        fps[i] = lavr_plan_fps(&cfg, ranks[i], n);
        const uint64_t peak = lavr_plan_peak_gpu(ranks[i], n, o.gpus, NULL);
        if (peak < smallest) smallest = peak;
        fits[i] = !o.gpu_mem || peak <= o.gpu_mem;
        if (fits[i] && (best < 0 || fps[i] > fps[best])) best = i;
    }
    for (int i = 0; i < nc && !st; i++)
        print_layout(&cand[i], ranks[i], lavr_layout_ranks(&cand[i]), &o, fps[i], fits[i], i == best && nc > 1);
    if (!st && best < 0) {
        char need[32];
        lavr_format_bytes(smallest, need, sizeof need);
        fflush(stdout);
        st = LAVR_FAIL(LAVR_E_ARG, "plan: no layout fits the cap of %s per GPU; the smallest needs %s%s", cap_s, need,
                       o.fp8 ? "" : " (try --fp8)");
    }
    if (!st && best >= 0) {
        char text[96];
        lavr_layout_format(&cand[best], text, sizeof text);
        printf("\nfastest that fits: %s (%.1f FPS predicted; memory excludes the CUDA context)\n", text, fps[best]);
    }
    for (int i = 0; i < nc; i++) free(ranks[i]);
    return st;
}
