/* Reference-image input and PNG output: decode JPEG/PNG/WebP (FFmpeg's libraries), drop alpha
 * (as PIL's convert('RGB')), resize the shorter side (PIL's antialiased bilinear) and centre-crop to the
 * generated size, giving the float [3,H,W] picture in [-1,1] that the VAE encodes. */
#ifndef LAVR_IO_IMAGE_H
#define LAVR_IO_IMAGE_H

#include <stdint.h>

#include "core/status.h"

/* A decoded picture as 8-bit RGB, rows interleaved (R,G,B per pixel), without alpha. */
typedef struct {
    int64_t width, height;
    uint8_t *rgb;          /* width*height*3 bytes, malloc'd */
    int source_bits;       /* bits per component in the file (8, 16, ...) */
    int source_has_alpha;  /* 1 when the file had alpha (dropped: colour channels kept) */
    int source_gray;       /* 1 when the file was grayscale */
    char source_format[32];/* FFmpeg's pixel format name of the decoded file, e.g. "rgba" */
} lavr_rgb8;

/* The picture that enters the VAE: planar [3, height, width] floats in [-1, 1]. */
typedef struct {
    int64_t width, height;
    float *data;           /* 3*height*width floats, malloc'd */
} lavr_image;

/* Decodes the first frame of an image file through FFmpeg; a build without FFmpeg reads binary PPM only. */
lavr_status lavr_image_decode(const char *path, lavr_rgb8 *out);
void lavr_rgb8_free(lavr_rgb8 *img);

/* torchvision Resize(min(height,width)) + CenterCrop((height,width)) + ToTensor + x*2-1: the
 * shorter side is resized to min(height, width) with PIL's bilinear filter (triangle kernel
 * widened by the downscale factor, 22-bit fixed-point weights, rounding to 8 bits after the
 * horizontal and after the vertical pass), the result is centre-cropped, zero (black) padding
 * where it is smaller. out holds 3*height*width floats. */
lavr_status lavr_image_fit(const lavr_rgb8 *src, int64_t height, int64_t width, float *out);

/* decode + size rule (io/size_rule.h, divisor 64, max_area from --size) + fit. */
lavr_status lavr_image_load(const char *path, int64_t max_area, lavr_image *out);
void lavr_image_free(lavr_image *img);

/* Writes 8-bit RGB rows as a PNG (uncompressed deflate blocks; needs no library, so debugging
 * frames and sample inputs work in builds without FFmpeg). */
lavr_status lavr_png_write(const char *path, const uint8_t *rgb, int64_t width, int64_t height);

#endif
