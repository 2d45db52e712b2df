/* Binary PPM (P6, 8-bit RGB) written and read by lavr itself: the portrait format of builds without FFmpeg
 * (io/image.c reads it there; `lavr bench --e2e` draws its portrait in it). */
#ifndef LAVR_IO_PPM_H
#define LAVR_IO_PPM_H

#include <stdint.h>

#include "core/status.h"

/* rgb: width*height*3 bytes, rows interleaved. Written beside the name, then renamed. */
lavr_status lavr_ppm_write(const char *path, const uint8_t *rgb, int64_t width, int64_t height);
/* A P6 file with maxval 255 into *rgb (malloc'd, width*height*3 bytes); anything else is a one-line
 * LAVR_E_FORMAT naming the file. */
lavr_status lavr_ppm_read(const char *path, uint8_t **rgb, int64_t *width, int64_t *height);

#endif
