/* Helper of tests/resume/aux_backend.sh: inputs every build reads (binary PPM portrait, 16 kHz WAV), the
 * bit-exact comparison of two latent stage files, and the frame-by-frame comparison of two Y4M videos.
 *
 *   resume_tool inputs DIR SECONDS        DIR/portrait.ppm (64x64) and DIR/speech.wav (SECONDS of voice)
 *   resume_tool latents A.h5 B.h5         exit 0 when /latents hold the same blocks with the same bits
 *   resume_tool y4m A.y4m B.y4m CUT TOL   same header and frame count; frames [0, CUT) byte-identical; from CUT
 *                                         on, every block of 12 frames within rel L2 TOL (TOL 0: byte-identical)
 *
 * The Y4M tolerance is measured on the stored 4:4:4 planes, centred (Y - 125.5, Cb - 128, Cr - 128, the middle
 * of the limited range), so a value near 1 means unrelated frames and the figure is comparable with the VAE's
 * CUDA-vs-CPU rel L2 on frames in [-1, 1]. Exit 1: a difference (one line saying where), 2: bad use or input. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "io/sample_inputs.h"
#include "io/stage.h"

#define BLOCK_FRAMES 12 /* frames a latent block decodes to (after the first) */

static int fail_status(lavr_status st) {
    fprintf(stderr, "resume_tool: %s\n", lavr_error_message());
    return st == LAVR_E_ARG || st == LAVR_E_FORMAT || st == LAVR_E_IO ? 2 : 1;
}

static int inputs(const char *dir, const char *seconds) {
    char image[4096], audio[4096];
    snprintf(image, sizeof image, "%s/portrait.ppm", dir);
    snprintf(audio, sizeof audio, "%s/speech.wav", dir);
    lavr_status st = lavr_sample_portrait_ppm(image, 64, 64);
    if (!st) st = lavr_sample_voice_wav(audio, atof(seconds));
    if (st) return fail_status(st);
    printf("inputs: %s, %s (%s s)\n", image, audio, seconds);
    return 0;
}

static int latents(const char *pa, const char *pb) {
    lavr_stage *a = NULL, *b = NULL;
    float *la = NULL, *lb = NULL;
    int rc = 1;
    lavr_status st = lavr_stage_open(pa, 0, &a);
    if (!st) st = lavr_stage_open(pb, 0, &b);
    if (st) {
        rc = fail_status(st);
        goto done;
    }
    const lavr_stage_info *ia = lavr_stage_info_of(a), *ib = lavr_stage_info_of(b);
    const int64_t na = lavr_stage_blocks(a), nb = lavr_stage_blocks(b);
    if (ia->C != ib->C || ia->F != ib->F || ia->h != ib->h || ia->w != ib->w || na != nb) {
        printf("latents differ: %s has %lld blocks of [%lld, %lld, %lld, %lld], %s %lld of [%lld, %lld, %lld, %lld]\n",
               pa, (long long)na, (long long)ia->C, (long long)ia->F, (long long)ia->h, (long long)ia->w, pb,
               (long long)nb, (long long)ib->C, (long long)ib->F, (long long)ib->h, (long long)ib->w);
        goto done;
    }
    const int64_t n = ia->C * ia->F * ia->h * ia->w;
    la = malloc((size_t)n * sizeof *la);
    lb = malloc((size_t)n * sizeof *lb);
    if (!la || !lb) {
        fprintf(stderr, "resume_tool: out of memory\n");
        goto done;
    }
    for (int64_t k = 0; k < na; k++) {
        st = lavr_stage_read(a, k, la);
        if (!st) st = lavr_stage_read(b, k, lb);
        if (st) {
            rc = fail_status(st);
            goto done;
        }
        if (memcmp(la, lb, (size_t)n * sizeof *la) != 0) {
            printf("latents differ: block %lld of %lld\n", (long long)k, (long long)na);
            goto done;
        }
    }
    printf("latents: %lld blocks, bit-identical\n", (long long)na);
    rc = 0;
done:
    free(la);
    free(lb);
    lavr_stage_close(a);
    lavr_stage_close(b);
    return rc;
}

typedef struct {
    unsigned char *data;
    long size, header, frame; /* file bytes, header line bytes, bytes per frame ("FRAME\n" + planes) */
    long long w, h, frames;
} y4m;

static int y4m_read(const char *path, y4m *v) {
    memset(v, 0, sizeof *v);
    FILE *f = fopen(path, "rb");
    if (!f) {
        fprintf(stderr, "resume_tool: cannot open '%s'\n", path);
        return 2;
    }
    fseek(f, 0, SEEK_END);
    v->size = ftell(f);
    rewind(f);
    v->data = malloc((size_t)v->size + 1);
    if (!v->data || fread(v->data, 1, (size_t)v->size, f) != (size_t)v->size) {
        fclose(f);
        fprintf(stderr, "resume_tool: cannot read '%s'\n", path);
        return 2;
    }
    fclose(f);
    v->data[v->size] = 0;
    const unsigned char *nl = memchr(v->data, '\n', (size_t)v->size);
    if (!nl || sscanf((const char *)v->data, "YUV4MPEG2 W%lld H%lld", &v->w, &v->h) != 2 ||
        !strstr((const char *)v->data, " C444")) {
        fprintf(stderr, "resume_tool: '%s' is not a 4:4:4 Y4M of lavr\n", path);
        return 2;
    }
    v->header = (long)(nl - v->data) + 1;
    v->frame = 6 + 3 * (long)(v->w * v->h);
    if ((v->size - v->header) % v->frame != 0) {
        fprintf(stderr, "resume_tool: '%s' ends inside a frame\n", path);
        return 2;
    }
    v->frames = (v->size - v->header) / v->frame;
    return 0;
}

static int frames(const char *pa, const char *pb, long long cut, double tol) {
    y4m a, b;
    int rc = y4m_read(pa, &a);
    if (!rc) rc = y4m_read(pb, &b);
    else b.data = NULL;
    if (rc) goto done;
    rc = 1;
    if (a.header != b.header || memcmp(a.data, b.data, (size_t)a.header) != 0 || a.frames != b.frames) {
        printf("videos differ: headers or frame counts (%lld and %lld frames)\n", a.frames, b.frames);
        goto done;
    }
    if (cut < 0 || cut > a.frames) {
        printf("videos: the cut %lld is outside the %lld frames\n", cut, a.frames);
        goto done;
    }
    for (long long i = 0; i < cut; i++) {
        const long at = a.header + (long)i * a.frame;
        if (memcmp(a.data + at, b.data + at, (size_t)a.frame) != 0) {
            printf("videos differ: frame %lld (before the cut at %lld) is not byte-identical\n", i, cut);
            goto done;
        }
    }
    const long plane = (long)(a.w * a.h);
    const long at = a.header + (long)cut * a.frame;
    const int same_after = memcmp(a.data + at, b.data + at, (size_t)(a.size - at)) == 0;
    double worst = 0;
    int max_abs = 0;
    for (long long f0 = cut; f0 < a.frames; f0 += BLOCK_FRAMES) {
        const long long f1 = f0 + BLOCK_FRAMES < a.frames ? f0 + BLOCK_FRAMES : a.frames;
        double num = 0, den = 0;
        for (long long i = f0; i < f1; i++) {
            const unsigned char *x = a.data + a.header + (long)i * a.frame + 6, *y = b.data + b.header + (long)i * b.frame + 6;
            for (long k = 0; k < 3 * plane; k++) {
                const double centre = k < plane ? 125.5 : 128.0, d = (double)x[k] - (double)y[k], r = y[k] - centre;
                num += d * d;
                den += r * r;
                if (abs(x[k] - y[k]) > max_abs) max_abs = abs(x[k] - y[k]);
            }
        }
        const double rel = den > 0 ? sqrt(num / den) : (num > 0 ? INFINITY : 0);
        if (rel > worst) worst = rel;
        if (rel > tol) {
            printf("videos differ: frames %lld..%lld rel L2 %.3g over %.3g\n", f0, f1 - 1, rel, tol);
            goto done;
        }
    }
    if (tol == 0 && !same_after) {
        printf("videos differ after the cut (byte-identical required)\n");
        goto done;
    }
    printf("videos: %lld frames, %lld before the cut byte-identical; after it %s (worst block rel L2 %.3g, limit "
           "%.3g; max |diff| %d)\n",
           a.frames, cut, same_after ? "byte-identical too" : "within the tolerance", worst, tol, max_abs);
    rc = 0;
done:
    free(a.data);
    free(b.data);
    return rc;
}

int main(int argc, char **argv) {
    if (argc == 4 && !strcmp(argv[1], "inputs")) return inputs(argv[2], argv[3]);
    if (argc == 4 && !strcmp(argv[1], "latents")) return latents(argv[2], argv[3]);
    if (argc == 6 && !strcmp(argv[1], "y4m")) return frames(argv[2], argv[3], atoll(argv[4]), atof(argv[5]));
    fprintf(stderr, "usage: resume_tool inputs DIR SECONDS | latents A.h5 B.h5 | y4m A.y4m B.y4m CUT TOL\n");
    return 2;
}
