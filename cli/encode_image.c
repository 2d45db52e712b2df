/* `lavr encode-image`: the portrait through the size rule, preprocessing and the VAE encoder, giving the
 * reference latent and the 19 motion latents, added to a conditioning file (created if missing). */
#include <stdio.h>
#include <time.h>

#include "cli/args.h"
#include "cli/commands.h"
#include "core/tensor.h"
#include "io/h5model.h"
#include "models/conditioning.h"

#define NOPTS(a) ((int)(sizeof(a) / sizeof(a)[0]))

static double now_s(void) {
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (double)t.tv_sec + 1e-9 * (double)t.tv_nsec;
}

lavr_status lavr_cmd_encode_image(int argc, char **argv) {
    cli_option opts[] = {
        {"model", "FILE", "lavr model file (uses /vae and the /dit config)", NULL},
        {"image", "FILE", "portrait (JPEG, PNG, WebP)", NULL},
        {"size", "W*H", "maximum area as WIDTH*HEIGHT or WIDTHxHEIGHT (default 704*384); sides become multiples of 64", NULL},
        {"out", "FILE", "conditioning file to add the latents to (created if missing)", NULL},
        {"help", 0, "this help", NULL},
    };
    TRY(cli_parse("encode-image", argc, argv, 2, opts, NOPTS(opts), NULL, 0, NULL));
    if (cli_flag(opts, NOPTS(opts), "help")) {
        cli_print_help("usage: lavr encode-image --model M.h5 --image FILE [--size 704*384] --out COND.h5", NULL, opts,
                       NOPTS(opts));
        return LAVR_OK;
    }
    const char *model_path = cli_get(opts, NOPTS(opts), "model", NULL), *image = cli_get(opts, NOPTS(opts), "image", NULL);
    const char *out = cli_get(opts, NOPTS(opts), "out", NULL), *size = cli_get(opts, NOPTS(opts), "size", "704*384");
    CHECK_ARG(model_path && image && out, "lavr encode-image: --model, --image and --out are required");
    lavr_h5file *model = NULL;
    lavr_arena *arena = NULL;
    lavr_conditioning c = {0};
    lavr_status st;
    double t0 = now_s();
    TRY_GOTO(lavr_arena_create("encode-image", 0, &arena), st, done);
    TRY_GOTO(lavr_h5_open(model_path, &model), st, done);
    TRY_GOTO(lavr_cond_encode_image(model, image, size, arena, &c), st, done);
    TRY_GOTO(lavr_cond_save(out, &c), st, done);
    char a[64], b[64];
    printf("%s: %lldx%lld px (width x height) -> ref_latent %s, motion_latents %s in %.2f s -> %s\n", image,
           (long long)c.width, (long long)c.height, lavr_tensor_describe(&c.ref, a, sizeof a),
           lavr_tensor_describe(&c.motion, b, sizeof b), now_s() - t0, out);
done:
    lavr_cond_free(&c);
    lavr_arena_destroy(arena);
    lavr_status close_st = lavr_h5_close(model);
    return st ? st : close_st;
}
