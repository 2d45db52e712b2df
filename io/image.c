/* Reference-image decoding (libavformat/libavcodec/libswscale), the PIL-exact bilinear resize and
 * centre crop of LiveAvatar's pixel pipeline (liveavatar-system.md §1.2 step 2), and a PNG writer. */
#include "io/image.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/log.h"
#include "io/ppm.h"
#include "io/size_rule.h"

#if LAVR_HAVE_FFMPEG
#include <libavcodec/avcodec.h>
#include <libavformat/avformat.h>
#include <libavutil/imgutils.h>
#include <libavutil/pixdesc.h>
#include <libswscale/swscale.h>
#endif

void lavr_rgb8_free(lavr_rgb8 *img) {
    if (!img) return;
    free(img->rgb);
    memset(img, 0, sizeof *img);
}

void lavr_image_free(lavr_image *img) {
    if (!img) return;
    free(img->data);
    memset(img, 0, sizeof *img);
}

#if LAVR_HAVE_FFMPEG

/* A component in [0, 1] rounded to 8 bits. Alpha is dropped, as PIL's convert('RGB') in the reference
 * drops it: a transparent pixel keeps its colour channels. */
static uint8_t to_u8(double c) {
    long v = lrint(c * 255.0);
    return (uint8_t)(v < 0 ? 0 : v > 255 ? 255 : v);
}

/* RGB, gray and gray+alpha layouts of any depth <= 16 are read exactly, component by component. */
static int readable_directly(const AVPixFmtDescriptor *d) {
    if (d->flags & (AV_PIX_FMT_FLAG_PAL | AV_PIX_FMT_FLAG_BITSTREAM | AV_PIX_FMT_FLAG_FLOAT |
                    AV_PIX_FMT_FLAG_HWACCEL | AV_PIX_FMT_FLAG_BAYER))
        return 0;
    if (!(d->flags & AV_PIX_FMT_FLAG_RGB) && d->nb_components > 2) return 0;
    for (int c = 0; c < d->nb_components; c++)
        if (d->comp[c].depth > 16) return 0;
    return 1;
}

static lavr_status convert_direct(const AVFrame *f, const AVPixFmtDescriptor *d, lavr_rgb8 *out) {
    int64_t w = f->width;
    uint32_t *line = malloc(sizeof(uint32_t) * (size_t)w * 4);
    if (!line) return LAVR_FAIL(LAVR_E_NOMEM, "no memory for an image row of %lld pixels", (long long)w);
    int gray = d->nb_components <= 2;
    int ncolor = gray ? 1 : 3;
    double cmax = (double)((1u << d->comp[0].depth) - 1);
    for (int y = 0; y < f->height; y++) {
        for (int c = 0; c < d->nb_components; c++)
            av_read_image_line2(line + (int64_t)c * w, (const uint8_t **)f->data, f->linesize, d, 0, y, c, (int)w, 0, 4);
        uint8_t *row = out->rgb + (int64_t)y * w * 3;
        for (int64_t x = 0; x < w; x++) {
            for (int c = 0; c < 3; c++) row[x * 3 + c] = to_u8(line[(int64_t)(ncolor == 1 ? 0 : c) * w + x] / cmax);
        }
    }
    free(line);
    return LAVR_OK;
}

/* JPEG's full-range "yuvj" formats are deprecated inputs of swscale: use the plain format and
 * state the range instead. */
static enum AVPixelFormat unjpeg(enum AVPixelFormat f, int *full_range) {
    switch (f) {
    case AV_PIX_FMT_YUVJ420P: *full_range = 1; return AV_PIX_FMT_YUV420P;
    case AV_PIX_FMT_YUVJ422P: *full_range = 1; return AV_PIX_FMT_YUV422P;
    case AV_PIX_FMT_YUVJ444P: *full_range = 1; return AV_PIX_FMT_YUV444P;
    case AV_PIX_FMT_YUVJ440P: *full_range = 1; return AV_PIX_FMT_YUV440P;
    case AV_PIX_FMT_YUVJ411P: *full_range = 1; return AV_PIX_FMT_YUV411P;
    default: return f;
    }
}

/* YUV (JPEG, lossy WebP), palette, 1-bit and float layouts go through swscale to 16-bit RGBA
 * (bilinear chroma upsampling, accurate rounding). */
static lavr_status convert_swscale(const AVFrame *f, const char *path, lavr_rgb8 *out) {
    int full_range = f->color_range == AVCOL_RANGE_JPEG;
    enum AVPixelFormat src_fmt = unjpeg((enum AVPixelFormat)f->format, &full_range);
    struct SwsContext *sws = sws_getContext(f->width, f->height, src_fmt, f->width, f->height, AV_PIX_FMT_RGBA64,
                                            SWS_BILINEAR | SWS_ACCURATE_RND | SWS_FULL_CHR_H_INT | SWS_FULL_CHR_H_INP,
                                            NULL, NULL, NULL);
    if (!sws)
        return LAVR_FAIL(LAVR_E_MEDIA, "%s: cannot convert pixel format %s to RGB", path,
                         av_get_pix_fmt_name((enum AVPixelFormat)f->format));
    int cs = f->colorspace == AVCOL_SPC_BT709 ? SWS_CS_ITU709 : SWS_CS_ITU601;
    sws_setColorspaceDetails(sws, sws_getCoefficients(cs), full_range, sws_getCoefficients(SWS_CS_DEFAULT), 1, 0,
                             1 << 16, 1 << 16);
    int64_t w = f->width, h = f->height;
    uint16_t *rgba = malloc(sizeof(uint16_t) * (size_t)(w * h * 4));
    if (!rgba) {
        sws_freeContext(sws);
        return LAVR_FAIL(LAVR_E_NOMEM, "no memory to convert a %lldx%lld image", (long long)w, (long long)h);
    }
    uint8_t *dst[4] = {(uint8_t *)rgba, NULL, NULL, NULL};
    int dst_stride[4] = {(int)(w * 8), 0, 0, 0};
    int rows = sws_scale(sws, (const uint8_t *const *)f->data, f->linesize, 0, (int)h, dst, dst_stride);
    sws_freeContext(sws);
    if (rows != h) {
        free(rgba);
        return LAVR_FAIL(LAVR_E_MEDIA, "%s: pixel conversion from %s failed", path,
                         av_get_pix_fmt_name((enum AVPixelFormat)f->format));
    }
    for (int64_t i = 0; i < w * h; i++)
        for (int c = 0; c < 3; c++) out->rgb[i * 3 + c] = to_u8(rgba[i * 4 + c] / 65535.0);
    free(rgba);
    return LAVR_OK;
}

static lavr_status frame_to_rgb8(const AVFrame *f, const char *path, lavr_rgb8 *out) {
    const AVPixFmtDescriptor *d = av_pix_fmt_desc_get((enum AVPixelFormat)f->format);
    if (!d) return LAVR_FAIL(LAVR_E_MEDIA, "%s: decoder returned an unknown pixel format", path);
    out->width = f->width;
    out->height = f->height;
    out->source_bits = d->comp[0].depth;
    out->source_has_alpha = (d->flags & AV_PIX_FMT_FLAG_ALPHA) != 0;
    out->source_gray = !(d->flags & AV_PIX_FMT_FLAG_RGB) && d->nb_components <= 2;
    snprintf(out->source_format, sizeof out->source_format, "%s", d->name);
    out->rgb = malloc((size_t)(out->width * out->height * 3));
    if (!out->rgb)
        return LAVR_FAIL(LAVR_E_NOMEM, "no memory for a %lldx%lld image", (long long)out->width, (long long)out->height);
    lavr_status st = readable_directly(d) ? convert_direct(f, d, out) : convert_swscale(f, path, out);
    if (st) lavr_rgb8_free(out);
    return st;
}

/* Sends packets of the image stream until the decoder yields its first frame. */
static lavr_status decode_first_frame(AVFormatContext *fmt, AVCodecContext *dec, int stream, AVFrame *frame,
                                      const char *path) {
    AVPacket *pkt = av_packet_alloc();
    if (!pkt) return LAVR_FAIL(LAVR_E_NOMEM, "no memory for a packet");
    lavr_status st = LAVR_OK;
    int flushing = 0;
    for (;;) {
        int r = avcodec_receive_frame(dec, frame);
        if (r == 0) break;
        if (r != AVERROR(EAGAIN) || flushing) {
            st = LAVR_FAIL(LAVR_E_MEDIA, "%s: cannot decode the image: %s", path,
                           r == AVERROR_EOF ? "no picture in the file" : av_err2str(r));
            break;
        }
        r = av_read_frame(fmt, pkt);
        if (r == AVERROR_EOF) {
            flushing = 1;
            avcodec_send_packet(dec, NULL);
            continue;
        }
        if (r < 0) {
            st = LAVR_FAIL(LAVR_E_MEDIA, "%s: cannot read the image: %s", path, av_err2str(r));
            break;
        }
        if (pkt->stream_index == stream) r = avcodec_send_packet(dec, pkt);
        av_packet_unref(pkt);
        if (r < 0 && r != AVERROR(EAGAIN)) {
            st = LAVR_FAIL(LAVR_E_MEDIA, "%s: corrupt image data: %s", path, av_err2str(r));
            break;
        }
    }
    av_packet_free(&pkt);
    return st;
}

lavr_status lavr_image_decode(const char *path, lavr_rgb8 *out) {
    CHECK_ARG(path && out, "lavr_image_decode: NULL argument");
    memset(out, 0, sizeof *out);
    FILE *probe = fopen(path, "rb");
    if (!probe) return LAVR_FAIL(LAVR_E_IO, "cannot open image '%s': %m", path);
    fclose(probe);
    /* quiet: a damaged file makes the decoder log its own half-line ("[png @ 0x...] ...") on stderr, which
     * mpirun interleaves with the one error line below; that line says what failed */
    av_log_set_level(AV_LOG_QUIET);
    AVFormatContext *fmt = NULL;
    AVCodecContext *dec = NULL;
    AVFrame *frame = NULL;
    lavr_status st = LAVR_OK;
    int r = avformat_open_input(&fmt, path, NULL, NULL);
    if (r < 0) return LAVR_FAIL(LAVR_E_MEDIA, "'%s' is not a readable image: %s", path, av_err2str(r));
    const AVCodec *codec = NULL;
    int stream = av_find_best_stream(fmt, AVMEDIA_TYPE_VIDEO, -1, -1, &codec, 0);
    if (stream < 0 || !codec) {
        st = LAVR_FAIL(LAVR_E_MEDIA, "'%s' holds no picture FFmpeg can decode", path);
        goto done;
    }
    dec = avcodec_alloc_context3(codec);
    frame = av_frame_alloc();
    if (!dec || !frame) {
        st = LAVR_FAIL(LAVR_E_NOMEM, "no memory for an image decoder");
        goto done;
    }
    if ((r = avcodec_parameters_to_context(dec, fmt->streams[stream]->codecpar)) < 0 ||
        (r = avcodec_open2(dec, codec, NULL)) < 0) {
        st = LAVR_FAIL(LAVR_E_MEDIA, "%s: cannot open the %s decoder: %s", path, codec->name, av_err2str(r));
        goto done;
    }
    TRY_GOTO(decode_first_frame(fmt, dec, stream, frame, path), st, done);
    if (frame->width <= 0 || frame->height <= 0) {
        st = LAVR_FAIL(LAVR_E_MEDIA, "%s: decoded picture is empty", path);
        goto done;
    }
    TRY_GOTO(frame_to_rgb8(frame, path, out), st, done);
    LOG_DEBUG("image %s: %lldx%lld %s (%s, %d-bit%s)", path, (long long)out->width, (long long)out->height,
              codec->name, out->source_format, out->source_bits, out->source_has_alpha ? ", alpha dropped" : "");
done:
    av_frame_free(&frame);
    avcodec_free_context(&dec);
    avformat_close_input(&fmt);
    return st;
}

#else

/* Without FFmpeg lavr reads binary PPM itself (io/ppm.h). */
lavr_status lavr_image_decode(const char *path, lavr_rgb8 *out) {
    CHECK_ARG(path && out, "lavr_image_decode: NULL argument");
    memset(out, 0, sizeof *out);
    TRY(lavr_ppm_read(path, &out->rgb, &out->width, &out->height));
    out->source_bits = 8;
    snprintf(out->source_format, sizeof out->source_format, "rgb24");
    return LAVR_OK;
}

#endif

/* ---- PIL's bilinear resample ------------------------------------------------------------------ */

#define PIL_PRECISION_BITS 22 /* Pillow's 8-bit path: 32 - 8 - 2 */

typedef struct {
    int64_t *first;  /* first input index per output index */
    int64_t *count;  /* taps per output index */
    int32_t *weight; /* ksize per output index, fixed point */
    int64_t ksize;
} resample_taps;

static double triangle(double x) {
    if (x < 0) x = -x;
    return x < 1.0 ? 1.0 - x : 0.0;
}

static void taps_free(resample_taps *t) {
    free(t->first);
    free(t->count);
    free(t->weight);
}

/* Output pixel centres map back to (i+0.5)*scale; when shrinking, the triangle is widened by the
 * scale factor (antialiasing); weights are normalised, then rounded half away from zero. */
static lavr_status taps_make(int64_t in, int64_t out, resample_taps *t) {
    double scale = (double)in / (double)out, filterscale = scale > 1.0 ? scale : 1.0;
    double support = 1.0 * filterscale;
    t->ksize = (int64_t)ceil(support) * 2 + 1;
    t->first = malloc(sizeof(int64_t) * (size_t)out);
    t->count = malloc(sizeof(int64_t) * (size_t)out);
    t->weight = calloc((size_t)(out * t->ksize), sizeof(int32_t));
    double *k = malloc(sizeof(double) * (size_t)t->ksize);
    if (!t->first || !t->count || !t->weight || !k) {
        taps_free(t);
        free(k);
        return LAVR_FAIL(LAVR_E_NOMEM, "no memory for resize weights (%lld -> %lld)", (long long)in, (long long)out);
    }
    for (int64_t o = 0; o < out; o++) {
        double center = ((double)o + 0.5) * scale, sum = 0.0, ss = 1.0 / filterscale;
        int64_t lo = (int64_t)(center - support + 0.5), hi = (int64_t)(center + support + 0.5);
        if (lo < 0) lo = 0;
        if (hi > in) hi = in;
        int64_t n = hi - lo;
        for (int64_t j = 0; j < n; j++) sum += k[j] = triangle(((double)(j + lo) - center + 0.5) * ss);
        for (int64_t j = 0; j < n; j++) {
            double v = sum != 0.0 ? k[j] / sum : 0.0;
            v *= (double)(1 << PIL_PRECISION_BITS);
            t->weight[o * t->ksize + j] = (int32_t)(v < 0 ? v - 0.5 : v + 0.5);
        }
        t->first[o] = lo;
        t->count[o] = n;
    }
    free(k);
    return LAVR_OK;
}

static uint8_t clip8(int64_t acc) {
    acc >>= PIL_PRECISION_BITS;
    return (uint8_t)(acc < 0 ? 0 : acc > 255 ? 255 : acc);
}

/* One separable pass over interleaved RGB: along x (horizontal=1) or along y. */
static void resample_pass(const uint8_t *src, int64_t sw, int64_t sh, uint8_t *dst, int64_t dw, int64_t dh,
                          const resample_taps *t, int horizontal) {
#pragma omp parallel for
    for (int64_t y = 0; y < dh; y++) {
        for (int64_t x = 0; x < dw; x++) {
            int64_t o = horizontal ? x : y;
            const int32_t *w = t->weight + o * t->ksize;
            for (int c = 0; c < 3; c++) {
                int64_t acc = 1 << (PIL_PRECISION_BITS - 1);
                for (int64_t j = 0; j < t->count[o]; j++) {
                    int64_t sx = horizontal ? t->first[o] + j : x, sy = horizontal ? y : t->first[o] + j;
                    acc += (int64_t)src[(sy * sw + sx) * 3 + c] * w[j];
                }
                dst[(y * dw + x) * 3 + c] = clip8(acc);
            }
        }
    }
    (void)sh;
}

/* Pillow resizes horizontally first, keeping 8-bit intermediates, and skips an unchanged axis. */
static lavr_status pil_resize(const lavr_rgb8 *src, int64_t w, int64_t h, uint8_t **out) {
    uint8_t *cur = NULL;
    int64_t cw = src->width;
    const uint8_t *in = src->rgb;
    lavr_status st = LAVR_OK;
    if (w != src->width) {
        resample_taps t;
        TRY(taps_make(src->width, w, &t));
        cur = malloc((size_t)(w * src->height * 3));
        if (cur) resample_pass(in, src->width, src->height, cur, w, src->height, &t, 1);
        taps_free(&t);
        if (!cur) return LAVR_FAIL(LAVR_E_NOMEM, "no memory to resize an image");
        in = cur;
        cw = w;
    }
    uint8_t *res = malloc((size_t)(w * h * 3));
    if (!res) {
        free(cur);
        return LAVR_FAIL(LAVR_E_NOMEM, "no memory to resize an image");
    }
    if (h != src->height) {
        resample_taps t;
        TRY_GOTO(taps_make(src->height, h, &t), st, fail);
        resample_pass(in, cw, src->height, res, w, h, &t, 0);
        taps_free(&t);
    } else {
        memcpy(res, in, (size_t)(w * h * 3));
    }
    free(cur);
    *out = res;
    return LAVR_OK;
fail:
    free(cur);
    free(res);
    return st;
}

lavr_status lavr_image_fit(const lavr_rgb8 *src, int64_t height, int64_t width, float *out) {
    CHECK_ARG(src && src->rgb && out, "lavr_image_fit: NULL argument");
    CHECK_ARG(height > 0 && width > 0, "lavr_image_fit: bad output size %lldx%lld", (long long)width, (long long)height);
    /* torchvision Resize(int): shorter side -> min(H, W), longer side int(short_new * long / short). */
    int64_t target = height < width ? height : width, rw, rh;
    if (src->width <= src->height) {
        rw = target;
        rh = (int64_t)((double)target * (double)src->height / (double)src->width);
    } else {
        rh = target;
        rw = (int64_t)((double)target * (double)src->width / (double)src->height);
    }
    if (rw < 1) rw = 1;
    if (rh < 1) rh = 1;
    uint8_t *resized = NULL;
    TRY(pil_resize(src, rw, rh, &resized));
    /* CenterCrop: pad (crop - size) // 2 before and the rest after when too small; otherwise
     * offset round((size - crop) / 2) with Python's round-half-even (rint). */
    int64_t off_x = rw >= width ? (int64_t)rint((double)(rw - width) / 2.0) : -((width - rw) / 2);
    int64_t off_y = rh >= height ? (int64_t)rint((double)(rh - height) / 2.0) : -((height - rh) / 2);
    int64_t plane = height * width;
    for (int64_t y = 0; y < height; y++) {
        int64_t sy = y + off_y;
        for (int64_t x = 0; x < width; x++) {
            int64_t sx = x + off_x;
            int inside = sy >= 0 && sy < rh && sx >= 0 && sx < rw;
            for (int c = 0; c < 3; c++) {
                float v = inside ? (float)resized[(sy * rw + sx) * 3 + c] / 255.0f : 0.0f; /* ToTensor */
                out[c * plane + y * width + x] = v * 2.0f - 1.0f;
            }
        }
    }
    free(resized);
    return LAVR_OK;
}

lavr_status lavr_image_load(const char *path, int64_t max_area, lavr_image *out) {
    CHECK_ARG(out, "lavr_image_load: NULL output");
    memset(out, 0, sizeof *out);
    lavr_rgb8 rgb;
    TRY(lavr_image_decode(path, &rgb));
    int64_t h, w;
    lavr_status st = LAVR_OK;
    TRY_GOTO(lavr_size_less_than_area(rgb.height, rgb.width, max_area, 64, &h, &w, NULL), st, done);
    out->data = malloc(sizeof(float) * (size_t)(3 * h * w));
    if (!out->data) {
        st = LAVR_FAIL(LAVR_E_NOMEM, "no memory for a %lldx%lld image", (long long)w, (long long)h);
        goto done;
    }
    out->height = h;
    out->width = w;
    TRY_GOTO(lavr_image_fit(&rgb, h, w, out->data), st, done);
    LOG_INFO("image %s: %lldx%lld %s%s -> %lldx%lld (max area %lld)", path, (long long)rgb.width,
             (long long)rgb.height, rgb.source_format, rgb.source_has_alpha ? " (alpha dropped, as PIL's convert('RGB'))" : "",
             (long long)w, (long long)h, (long long)max_area);
done:
    if (st) lavr_image_free(out);
    lavr_rgb8_free(&rgb);
    return st;
}

/* ---- PNG writer ------------------------------------------------------------------------------- */

static uint32_t crc_update(uint32_t crc, const uint8_t *p, size_t n) {
    for (size_t i = 0; i < n; i++) {
        crc ^= p[i];
        for (int k = 0; k < 8; k++) crc = (crc >> 1) ^ (0xEDB88320u & (0u - (crc & 1u)));
    }
    return crc;
}

static void put_be32(uint8_t *p, uint32_t v) {
    p[0] = (uint8_t)(v >> 24), p[1] = (uint8_t)(v >> 16), p[2] = (uint8_t)(v >> 8), p[3] = (uint8_t)v;
}

/* Chunk = length, type, data, CRC over type+data. */
static int write_chunk(FILE *f, const char *type, const uint8_t *data, uint32_t len) {
    uint8_t head[8];
    put_be32(head, len);
    memcpy(head + 4, type, 4);
    uint32_t crc = crc_update(0xFFFFFFFFu, head + 4, 4);
    crc = crc_update(crc, data, len) ^ 0xFFFFFFFFu;
    uint8_t tail[4];
    put_be32(tail, crc);
    return fwrite(head, 1, 8, f) == 8 && (len == 0 || fwrite(data, 1, len, f) == len) && fwrite(tail, 1, 4, f) == 4;
}

lavr_status lavr_png_write(const char *path, const uint8_t *rgb, int64_t width, int64_t height) {
    CHECK_ARG(path && rgb, "lavr_png_write: NULL argument");
    CHECK_ARG(width > 0 && height > 0 && width < (1 << 24) && height < (1 << 24), "PNG size %lldx%lld out of range",
              (long long)width, (long long)height);
    /* zlib stream of stored deflate blocks: each row is filter byte 0 + the RGB bytes. */
    int64_t raw_len = height * (1 + width * 3);
    int64_t nblocks = (raw_len + 65534) / 65535;
    int64_t z_len = 2 + raw_len + nblocks * 5 + 4;
    CHECK_ARG(z_len < 0x7fffffffLL, "PNG %lldx%lld too large for one chunk", (long long)width, (long long)height);
    uint8_t *raw = malloc((size_t)raw_len), *z = malloc((size_t)z_len);
    if (!raw || !z) {
        free(raw);
        free(z);
        return LAVR_FAIL(LAVR_E_NOMEM, "no memory to write PNG '%s'", path);
    }
    for (int64_t y = 0; y < height; y++) {
        raw[y * (1 + width * 3)] = 0;
        memcpy(raw + y * (1 + width * 3) + 1, rgb + y * width * 3, (size_t)(width * 3));
    }
    uint32_t s1 = 1, s2 = 0; /* Adler-32 */
    for (int64_t i = 0; i < raw_len; i++) {
        s1 = (s1 + raw[i]) % 65521u;
        s2 = (s2 + s1) % 65521u;
    }
    uint8_t *p = z;
    *p++ = 0x78, *p++ = 0x01;
    for (int64_t off = 0; off < raw_len; off += 65535) {
        uint32_t n = (uint32_t)(raw_len - off < 65535 ? raw_len - off : 65535);
        *p++ = off + n == raw_len ? 1 : 0;
        *p++ = (uint8_t)n, *p++ = (uint8_t)(n >> 8), *p++ = (uint8_t)~n, *p++ = (uint8_t)(~n >> 8);
        memcpy(p, raw + off, n);
        p += n;
    }
    put_be32(p, (s2 << 16) | s1);
    free(raw);
    uint8_t ihdr[13];
    put_be32(ihdr, (uint32_t)width);
    put_be32(ihdr + 4, (uint32_t)height);
    ihdr[8] = 8, ihdr[9] = 2, ihdr[10] = 0, ihdr[11] = 0, ihdr[12] = 0; /* 8-bit RGB, no interlace */
    static const uint8_t signature[8] = {0x89, 'P', 'N', 'G', '\r', '\n', 0x1a, '\n'};
    FILE *f = fopen(path, "wb");
    if (!f) {
        free(z);
        return LAVR_FAIL(LAVR_E_IO, "cannot create '%s': %m", path);
    }
    int ok = fwrite(signature, 1, 8, f) == 8 && write_chunk(f, "IHDR", ihdr, 13) &&
             write_chunk(f, "IDAT", z, (uint32_t)z_len) && write_chunk(f, "IEND", NULL, 0);
    free(z);
    if (fclose(f) != 0) ok = 0;
    if (!ok) return LAVR_FAIL(LAVR_E_IO, "cannot write '%s' (disk full?)", path);
    return LAVR_OK;
}
