/* The LiveAvatar output-size rule (liveavatar-system.md §1.2): `--size W*H` is a maximum pixel
 * area, the aspect ratio comes from the reference image, and both sides become multiples of 64. */
#ifndef LAVR_IO_SIZE_RULE_H
#define LAVR_IO_SIZE_RULE_H

#include <stdint.h>

#include "core/status.h"

/* Side limits of a --size string (each side a positive integer; 64 is the smallest usable side). */
#define LAVR_SIZE_MIN_SIDE 64
#define LAVR_SIZE_MAX_SIDE 16384

/* Parses "704*384" (LiveAvatar's form), "704x384" or "704X384": WIDTH*HEIGHT or WIDTHxHEIGHT, decimal,
 * no spaces. Any other form fails with LAVR_E_ARG and a message listing the accepted forms. */
lavr_status lavr_size_parse(const char *text, int64_t *width, int64_t *height);

/* get_size_less_than_area: the largest (height, width), both multiples of `divisor`, reachable
 * by scaling (h0, w0) and rounding each side up, whose area is <= max_area. `iteration` (may be
 * NULL) receives the index of the accepted scale (-1 when the fallback was used). */
lavr_status lavr_size_less_than_area(int64_t h0, int64_t w0, int64_t max_area, int64_t divisor,
                                     int64_t *height, int64_t *width, int *iteration);

#endif
