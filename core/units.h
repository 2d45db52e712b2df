/* Human-readable byte sizes: parsing "22GiB" / "24GB" / "512M" for memory caps and formatting
 * sizes in messages and tables. */
#ifndef LAVR_UNITS_H
#define LAVR_UNITS_H

#include <stddef.h>
#include <stdint.h>

#include "core/status.h"

/* Accepts a number with an optional unit B, K/KB/KiB, M/MB/MiB, G/GB/GiB, T/TB/TiB (KB = 1000,
 * KiB = 1024; a bare K/M/G/T means the binary unit). */
lavr_status lavr_parse_bytes(const char *text, uint64_t *out);
/* Writes e.g. "1.50 GiB" or "512 B"; returns buf. */
const char *lavr_format_bytes(uint64_t bytes, char *buf, size_t len);
/* Writes an integer with thousands separators, e.g. 16,295,755,609; returns buf. */
const char *lavr_format_count(uint64_t n, char *buf, size_t len);

#endif
