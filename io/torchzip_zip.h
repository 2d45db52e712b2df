/* ZIP archive reader for torch checkpoints: the central directory (ZIP64 included) and random-access
 * reads of stored entries; deflated entries are inflated whole through zlib on first use. */
#ifndef LAVR_IO_TORCHZIP_ZIP_H
#define LAVR_IO_TORCHZIP_ZIP_H

#include <stdint.h>

#include "core/status.h"

typedef struct {
    char *name;
    int method;          /* 0 stored, 8 deflate */
    uint32_t crc;
    int64_t csize, usize; /* compressed / uncompressed bytes */
    int64_t header_offset; /* local header */
    int64_t data_offset;   /* first data byte, -1 until resolved */
} lavr_zip_entry;

typedef struct lavr_zip lavr_zip;

/* Reads the central directory. A file that is not a ZIP, or is truncated, is a LAVR_E_IO error
 * naming the path and what is wrong. */
lavr_status lavr_zip_open(const char *path, lavr_zip **out);
void lavr_zip_close(lavr_zip *z);
const char *lavr_zip_path(const lavr_zip *z);
int64_t lavr_zip_file_size(const lavr_zip *z);

int lavr_zip_count(const lavr_zip *z);
const lavr_zip_entry *lavr_zip_entry_at(const lavr_zip *z, int i);
/* Index of the entry with exactly this name, or -1. */
int lavr_zip_find(const lavr_zip *z, const char *name);

/* Copies bytes [offset, offset + n) of the uncompressed entry into dst. Stored entries are read in
 * place; a deflated entry is inflated once (CRC checked) and kept until another one is needed. */
lavr_status lavr_zip_read(lavr_zip *z, int entry, int64_t offset, int64_t n, void *dst);
/* The whole entry, malloc'd (caller frees), CRC checked. */
lavr_status lavr_zip_read_all(lavr_zip *z, int entry, void **out, int64_t *size);

#endif
