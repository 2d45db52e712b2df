/* Media commands: `lavr sample-inputs` (portrait + speech for the demo), `lavr prep-image` (the
 * size rule and pixel pipeline on one image) and `lavr encode` (PNG frames + audio -> MP4). */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "cli/args.h"
#include "cli/commands.h"
#include "core/log.h"
#include "io/audio.h"
#include "io/image.h"
#include "io/sample_inputs.h"
#include "io/size_rule.h"
#include "io/video.h"

#define NOPTS(a) ((int)(sizeof(a) / sizeof(a)[0]))

lavr_status lavr_cmd_sample_inputs(int argc, char **argv) {
    cli_option opts[] = {
        {"out", 1, "folder for portrait.png and speech.wav (created)", NULL},
        {"text", 1, "what the speech says", NULL},
        {"voice", 1, "espeak-ng voice (default en)", NULL},
        {"width", 1, "portrait width (default 512)", NULL},
        {"height", 1, "portrait height (default 704)", NULL},
        {"help", 0, "this help", NULL},
    };
    TRY(cli_parse("sample-inputs", argc, argv, 2, opts, NOPTS(opts), NULL, 0, NULL));
    if (cli_flag(opts, NOPTS(opts), "help")) {
        cli_print_help("usage: lavr sample-inputs --out DIR [--text TEXT] [--voice en]", opts, NOPTS(opts));
        return LAVR_OK;
    }
    const char *dir = cli_get(opts, NOPTS(opts), "out", NULL);
    CHECK_ARG(dir, "lavr sample-inputs: --out DIR is required");
    int64_t w, h;
    TRY(cli_get_int(opts, NOPTS(opts), "width", 512, 16, 8192, &w));
    TRY(cli_get_int(opts, NOPTS(opts), "height", 704, 16, 8192, &h));
    struct stat sb;
    if (mkdir(dir, 0777) != 0 && (stat(dir, &sb) != 0 || !S_ISDIR(sb.st_mode)))
        return LAVR_FAIL(LAVR_E_IO, "cannot create folder '%s': %m", dir);
    size_t n = strlen(dir) + 32;
    char *portrait = malloc(n), *speech = malloc(n);
    if (!portrait || !speech) {
        free(portrait);
        free(speech);
        return LAVR_FAIL(LAVR_E_NOMEM, "no memory");
    }
    snprintf(portrait, n, "%s/portrait.png", dir);
    snprintf(speech, n, "%s/speech.wav", dir);
    const char *text = cli_get(opts, NOPTS(opts), "text",
                               "Hello! I am a synthetic avatar. Every frame you see was rendered from this voice, "
                               "one block at a time.");
    lavr_status st = lavr_sample_portrait_png(portrait, w, h);
    if (!st) st = lavr_sample_speech(speech, text, cli_get(opts, NOPTS(opts), "voice", "en"));
    if (!st) printf("wrote %s (%lldx%lld) and %s\n", portrait, (long long)w, (long long)h, speech);
    free(portrait);
    free(speech);
    return st;
}

lavr_status lavr_cmd_prep_image(int argc, char **argv) {
    cli_option opts[] = {
        {"image", 1, "reference image (JPEG, PNG, WebP)", NULL},
        {"size", 1, "maximum area as WIDTH*HEIGHT or WIDTHxHEIGHT (default 704*384)", NULL},
        {"out", 1, "write the preprocessed picture as PNG (optional)", NULL},
        {"help", 0, "this help", NULL},
    };
    TRY(cli_parse("prep-image", argc, argv, 2, opts, NOPTS(opts), NULL, 0, NULL));
    if (cli_flag(opts, NOPTS(opts), "help")) {
        cli_print_help("usage: lavr prep-image --image FILE [--size 704*384] [--out FILE.png]", opts, NOPTS(opts));
        return LAVR_OK;
    }
    const char *path = cli_get(opts, NOPTS(opts), "image", NULL);
    CHECK_ARG(path, "lavr prep-image: --image FILE is required");
    int64_t sw, sh;
    TRY(lavr_size_parse(cli_get(opts, NOPTS(opts), "size", "704*384"), &sw, &sh));
    lavr_image img;
    TRY(lavr_image_load(path, sw * sh, &img));
    printf("%s -> %lldx%lld (width x height; max area %lld)\n", path, (long long)img.width, (long long)img.height,
           (long long)(sw * sh));
    lavr_status st = LAVR_OK;
    const char *out = cli_get(opts, NOPTS(opts), "out", NULL);
    if (out) {
        int64_t plane = img.width * img.height;
        uint8_t *rgb = malloc((size_t)(plane * 3));
        if (!rgb) st = LAVR_FAIL(LAVR_E_NOMEM, "no memory");
        for (int64_t i = 0; rgb && i < plane; i++)
            for (int c = 0; c < 3; c++) rgb[i * 3 + c] = (uint8_t)lrintf((img.data[c * plane + i] + 1.0f) * 127.5f);
        if (!st) st = lavr_png_write(out, rgb, img.width, img.height);
        free(rgb);
    }
    lavr_image_free(&img);
    return st;
}

/* PNG frames DIR/frame_000000.png, frame_000001.png ... are read one at a time (constant memory). */
lavr_status lavr_cmd_encode(int argc, char **argv) {
    cli_option opts[] = {
        {"frames", 1, "folder of frame_000000.png, frame_000001.png, ... (all one size)", NULL},
        {"audio", 1, "sound to mux (any format FFmpeg reads; AAC copied, else encoded at 192 kb/s)", NULL},
        {"out", 1, "output .mp4 (H.264 + AAC, fragmented) or .y4m (+ .wav)", NULL},
        {"fps", 1, "frames per second (default 25)", NULL},
        {"crf", 1, "libx264 quality, 0..51 (default 18)", NULL},
        {"preset", 1, "libx264 preset (default medium)", NULL},
        {"keyint", 1, "frames per keyframe / MP4 fragment (default 25)", NULL},
        {"audio-offset-frames", 1, "video frames' time of the audio to skip so frame 0 plays with what follows (default 0)", NULL},
        {"help", 0, "this help", NULL},
    };
    TRY(cli_parse("encode", argc, argv, 2, opts, NOPTS(opts), NULL, 0, NULL));
    if (cli_flag(opts, NOPTS(opts), "help")) {
        cli_print_help("usage: lavr encode --frames DIR [--audio FILE] --out FILE.mp4 [--crf 18 --preset medium]", opts,
                       NOPTS(opts));
        return LAVR_OK;
    }
    const char *dir = cli_get(opts, NOPTS(opts), "frames", NULL), *out = cli_get(opts, NOPTS(opts), "out", NULL);
    CHECK_ARG(dir && out, "lavr encode: --frames DIR and --out FILE are required");
    lavr_video_options o;
    lavr_video_options_default(&o);
    int64_t fps, crf, keyint, offset;
    TRY(cli_get_int(opts, NOPTS(opts), "fps", 25, 1, 1000, &fps));
    TRY(cli_get_int(opts, NOPTS(opts), "crf", 18, 0, 51, &crf));
    TRY(cli_get_int(opts, NOPTS(opts), "keyint", fps, 1, 100000, &keyint));
    TRY(cli_get_int(opts, NOPTS(opts), "audio-offset-frames", 0, 0, 100000000, &offset));
    o.fps = (int)fps, o.crf = (int)crf, o.keyint = (int)keyint;
    o.preset = cli_get(opts, NOPTS(opts), "preset", "medium");
    size_t n = strlen(dir) + 32;
    char *name = malloc(n);
    if (!name) return LAVR_FAIL(LAVR_E_NOMEM, "no memory");
    lavr_audio audio = {0};
    lavr_video_writer *w = NULL;
    lavr_rgb8 frame = {0};
    lavr_status st = LAVR_OK;
    const char *audio_path = cli_get(opts, NOPTS(opts), "audio", NULL);
    if (audio_path) {
        TRY_GOTO(lavr_audio_probe(audio_path, &audio), st, done); /* not audio: refused before any frame */
        o.audio_path = audio_path;
        o.audio_skip_frames = offset;
    }
    for (int64_t i = 0;; i++) {
        snprintf(name, n, "%s/frame_%06lld.png", dir, (long long)i);
        struct stat sb;
        if (stat(name, &sb) != 0) {
            if (i == 0) st = LAVR_FAIL(LAVR_E_IO, "no frames: '%s' does not exist", name);
            break;
        }
        TRY_GOTO(lavr_image_decode(name, &frame), st, done);
        if (!w) {
            o.width = frame.width, o.height = frame.height;
            TRY_GOTO(lavr_video_writer_open(out, &o, &w), st, done);
        } else if (frame.width != o.width || frame.height != o.height) {
            st = LAVR_FAIL(LAVR_E_FORMAT, "'%s' is %lldx%lld but the first frame is %lldx%lld", name,
                           (long long)frame.width, (long long)frame.height, (long long)o.width, (long long)o.height);
            goto done;
        }
        TRY_GOTO(lavr_video_writer_append_rgb8(w, frame.rgb, 1), st, done);
        lavr_rgb8_free(&frame);
    }
done:
    if (w) {
        lavr_status cst = lavr_video_writer_close(w);
        if (!st) st = cst;
    }
    lavr_rgb8_free(&frame);
    lavr_audio_free(&audio);
    free(name);
    return st;
}
