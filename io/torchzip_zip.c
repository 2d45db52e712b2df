/* ZIP reader (io/torchzip_zip.h): end-of-central-directory search, ZIP64 records and extra fields,
 * local headers for the data offsets (torch pads them for alignment), zlib for deflated entries. */
#include "io/torchzip_zip.h"

#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include <zlib.h>

struct lavr_zip {
    char *path;
    int fd;
    int64_t size;
    int count;
    lavr_zip_entry *entries;
    int inflated_entry; /* entry held in `inflated`, -1 for none */
    unsigned char *inflated;
};

static uint16_t u16(const unsigned char *p) { return (uint16_t)(p[0] | p[1] << 8); }
static uint32_t u32(const unsigned char *p) { return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24; }
static uint64_t u64(const unsigned char *p) { return (uint64_t)u32(p) | (uint64_t)u32(p + 4) << 32; }

static lavr_status pread_all(const lavr_zip *z, void *dst, int64_t n, int64_t offset) {
    if (offset < 0 || n < 0 || offset + n > z->size)
        return LAVR_FAIL(LAVR_E_IO, "'%s' is truncated: needs bytes up to %lld but has %lld", z->path,
                         (long long)(offset + n), (long long)z->size);
    unsigned char *p = dst;
    while (n > 0) {
        ssize_t got = pread(z->fd, p, (size_t)(n > (1 << 30) ? (1 << 30) : n), (off_t)offset);
        if (got < 0 && errno == EINTR) continue;
        if (got <= 0) return LAVR_FAIL(LAVR_E_IO, "cannot read '%s' at byte %lld: %s", z->path, (long long)offset,
                                       got < 0 ? strerror(errno) : "unexpected end of file");
        p += got, n -= got, offset += got;
    }
    return LAVR_OK;
}

/* The end-of-central-directory record sits in the last 64 KiB + 22 bytes (after an optional comment). */
static lavr_status find_eocd(lavr_zip *z, int64_t *cd_offset, int64_t *cd_size, int64_t *count) {
    int64_t tail = z->size < 65557 ? z->size : 65557;
    unsigned char *buf = malloc((size_t)tail);
    if (!buf) return LAVR_FAIL(LAVR_E_NOMEM, "out of memory reading '%s'", z->path);
    lavr_status st = pread_all(z, buf, tail, z->size - tail);
    int64_t at = -1;
    for (int64_t i = tail - 22; !st && i >= 0; i--)
        if (u32(buf + i) == 0x06054b50) {
            at = i;
            break;
        }
    if (!st && at < 0) st = LAVR_FAIL(LAVR_E_IO, "'%s' is not a ZIP archive (no end of central directory; truncated?)", z->path);
    if (!st) {
        const unsigned char *e = buf + at;
        *count = u16(e + 10), *cd_size = u32(e + 12), *cd_offset = u32(e + 16);
        if ((*count == 0xffff || *cd_size == 0xffffffffLL || *cd_offset == 0xffffffffLL) && at >= 20 &&
            u32(e - 20) == 0x07064b50) {
            unsigned char rec[56];
            st = pread_all(z, rec, 56, (int64_t)u64(e - 20 + 8));
            if (!st && u32(rec) != 0x06064b50) st = LAVR_FAIL(LAVR_E_IO, "'%s': corrupt ZIP64 end record", z->path);
            if (!st) *count = (int64_t)u64(rec + 32), *cd_size = (int64_t)u64(rec + 40), *cd_offset = (int64_t)u64(rec + 48);
        }
    }
    free(buf);
    return st;
}

/* ZIP64 extra field (id 1): the 64-bit values of the fields that hold 0xffffffff, in order. */
static void apply_zip64(const unsigned char *extra, int len, lavr_zip_entry *e, int64_t *offset) {
    for (int i = 0; i + 4 <= len;) {
        int id = u16(extra + i), sz = u16(extra + i + 2);
        const unsigned char *p = extra + i + 4, *end = p + sz;
        if (i + 4 + sz > len) return;
        if (id == 1) {
            if (e->usize == 0xffffffffLL && p + 8 <= end) e->usize = (int64_t)u64(p), p += 8;
            if (e->csize == 0xffffffffLL && p + 8 <= end) e->csize = (int64_t)u64(p), p += 8;
            if (*offset == 0xffffffffLL && p + 8 <= end) *offset = (int64_t)u64(p);
        }
        i += 4 + sz;
    }
}

static lavr_status read_directory(lavr_zip *z) {
    int64_t cd_offset = 0, cd_size = 0, count = 0;
    TRY(find_eocd(z, &cd_offset, &cd_size, &count));
    if (cd_offset < 0 || cd_size < 0 || cd_offset + cd_size > z->size || count < 0 || count > cd_size / 46 + 1)
        return LAVR_FAIL(LAVR_E_IO, "'%s' is truncated or corrupt: central directory at %lld (+%lld bytes) in a %lld-byte file",
                         z->path, (long long)cd_offset, (long long)cd_size, (long long)z->size);
    unsigned char *cd = malloc((size_t)cd_size + 1);
    z->entries = calloc((size_t)count + 1, sizeof *z->entries);
    if (!cd || !z->entries) {
        free(cd);
        return LAVR_FAIL(LAVR_E_NOMEM, "out of memory for the directory of '%s'", z->path);
    }
    lavr_status st = pread_all(z, cd, cd_size, cd_offset);
    int64_t pos = 0;
    for (int64_t i = 0; !st && i < count; i++) {
        const unsigned char *h = cd + pos;
        if (pos + 46 > cd_size || u32(h) != 0x02014b50) {
            st = LAVR_FAIL(LAVR_E_IO, "'%s': corrupt central directory entry %lld", z->path, (long long)i);
            break;
        }
        int name_len = u16(h + 28), extra_len = u16(h + 30), comment_len = u16(h + 32);
        if (pos + 46 + name_len + extra_len + comment_len > cd_size) {
            st = LAVR_FAIL(LAVR_E_IO, "'%s': corrupt central directory entry %lld", z->path, (long long)i);
            break;
        }
        lavr_zip_entry *e = &z->entries[i];
        e->method = u16(h + 10), e->crc = u32(h + 16), e->csize = u32(h + 20), e->usize = u32(h + 24);
        int64_t offset = u32(h + 42);
        apply_zip64(h + 46 + name_len, extra_len, e, &offset);
        e->header_offset = offset, e->data_offset = -1;
        e->name = malloc((size_t)name_len + 1);
        if (!e->name) {
            st = LAVR_FAIL(LAVR_E_NOMEM, "out of memory");
            break;
        }
        memcpy(e->name, h + 46, (size_t)name_len);
        e->name[name_len] = 0;
        z->count++;
        pos += 46 + name_len + extra_len + comment_len;
    }
    free(cd);
    return st;
}

lavr_status lavr_zip_open(const char *path, lavr_zip **out) {
    CHECK_ARG(path && out, "lavr_zip_open: NULL argument");
    *out = NULL;
    lavr_zip *z = calloc(1, sizeof *z);
    if (!z || !(z->path = strdup(path))) {
        free(z);
        return LAVR_FAIL(LAVR_E_NOMEM, "out of memory opening '%s'", path);
    }
    z->inflated_entry = -1;
    z->fd = open(path, O_RDONLY);
    if (z->fd < 0) {
        lavr_status st = LAVR_FAIL(LAVR_E_IO, "cannot open '%s': %s", path, strerror(errno));
        free(z->path), free(z);
        return st;
    }
    struct stat sb;
    if (fstat(z->fd, &sb) != 0) {
        lavr_status st = LAVR_FAIL(LAVR_E_IO, "cannot stat '%s': %s", path, strerror(errno));
        lavr_zip_close(z);
        return st;
    }
    z->size = (int64_t)sb.st_size;
    lavr_status st = read_directory(z);
    if (st) {
        lavr_zip_close(z);
        return st;
    }
    *out = z;
    return LAVR_OK;
}

void lavr_zip_close(lavr_zip *z) {
    if (!z) return;
    if (z->fd >= 0) close(z->fd);
    for (int i = 0; i < z->count; i++) free(z->entries[i].name);
    free(z->entries);
    free(z->inflated);
    free(z->path);
    free(z);
}

const char *lavr_zip_path(const lavr_zip *z) { return z->path; }
int64_t lavr_zip_file_size(const lavr_zip *z) { return z->size; }
int lavr_zip_count(const lavr_zip *z) { return z->count; }
const lavr_zip_entry *lavr_zip_entry_at(const lavr_zip *z, int i) { return i >= 0 && i < z->count ? &z->entries[i] : NULL; }

int lavr_zip_find(const lavr_zip *z, const char *name) {
    for (int i = 0; i < z->count; i++)
        if (strcmp(z->entries[i].name, name) == 0) return i;
    return -1;
}

/* The local header's own name and extra lengths decide where the data starts. */
static lavr_status resolve_data(lavr_zip *z, lavr_zip_entry *e) {
    if (e->data_offset >= 0) return LAVR_OK;
    unsigned char h[30];
    TRY(pread_all(z, h, 30, e->header_offset));
    if (u32(h) != 0x04034b50) return LAVR_FAIL(LAVR_E_IO, "'%s': corrupt local header of '%s'", z->path, e->name);
    e->data_offset = e->header_offset + 30 + u16(h + 26) + u16(h + 28);
    if (e->method != 0 && e->method != 8)
        return LAVR_FAIL(LAVR_E_UNSUPPORTED, "'%s': entry '%s' uses ZIP compression method %d (only stored and deflate)",
                         z->path, e->name, e->method);
    if (e->method == 0 && e->csize != e->usize)
        return LAVR_FAIL(LAVR_E_IO, "'%s': stored entry '%s' has different sizes", z->path, e->name);
    if (e->data_offset + e->csize > z->size)
        return LAVR_FAIL(LAVR_E_IO, "'%s' is truncated: entry '%s' needs bytes up to %lld but the file has %lld", z->path,
                         e->name, (long long)(e->data_offset + e->csize), (long long)z->size);
    return LAVR_OK;
}

static lavr_status inflate_entry(lavr_zip *z, lavr_zip_entry *e, unsigned char *dst) {
    unsigned char *src = malloc((size_t)e->csize + 1);
    if (!src) return LAVR_FAIL(LAVR_E_NOMEM, "out of memory inflating '%s'", e->name);
    lavr_status st = pread_all(z, src, e->csize, e->data_offset);
    z_stream s;
    memset(&s, 0, sizeof s);
    int rc = Z_OK;
    if (!st && (rc = inflateInit2(&s, -MAX_WBITS)) != Z_OK) /* raw deflate, as in ZIP */
        st = LAVR_FAIL(LAVR_E_INTERNAL, "zlib inflateInit2 failed (%d)", rc);
    if (!st) {
        /* zlib counts in 32 bits: feed and drain in pieces of at most 1 GiB */
        int64_t in_done = 0, out_done = 0;
        const int64_t piece = 1 << 30;
        do {
            if (s.avail_in == 0 && in_done < e->csize) {
                int64_t n = e->csize - in_done < piece ? e->csize - in_done : piece;
                s.next_in = src + in_done, s.avail_in = (uInt)n, in_done += n;
            }
            int64_t room = e->usize - out_done < piece ? e->usize - out_done : piece;
            s.next_out = dst + out_done, s.avail_out = (uInt)room;
            rc = inflate(&s, Z_NO_FLUSH);
            out_done += room - (int64_t)s.avail_out;
        } while (rc == Z_OK && (s.avail_in > 0 || in_done < e->csize || out_done < e->usize));
        if (rc != Z_STREAM_END || out_done != e->usize)
            st = LAVR_FAIL(LAVR_E_IO, "'%s': entry '%s' is corrupt (deflate stream %s)", z->path, e->name,
                           rc == Z_STREAM_END || rc == Z_OK ? "has the wrong length" : s.msg ? s.msg : "error");
        inflateEnd(&s);
    }
    free(src);
    return st;
}

static lavr_status check_crc(const lavr_zip *z, const lavr_zip_entry *e, const unsigned char *data) {
    uLong crc = crc32(0L, Z_NULL, 0);
    for (int64_t done = 0; done < e->usize;) {
        int64_t n = e->usize - done > (1 << 30) ? (1 << 30) : e->usize - done;
        crc = crc32(crc, data + done, (uInt)n);
        done += n;
    }
    if ((uint32_t)crc != e->crc)
        return LAVR_FAIL(LAVR_E_IO, "'%s': entry '%s' is corrupt (CRC-32 %08x, the directory says %08x)", z->path, e->name,
                         (unsigned)crc, (unsigned)e->crc);
    return LAVR_OK;
}

lavr_status lavr_zip_read_all(lavr_zip *z, int entry, void **out, int64_t *size) {
    CHECK_ARG(entry >= 0 && entry < z->count, "lavr_zip_read_all: bad entry %d", entry);
    lavr_zip_entry *e = &z->entries[entry];
    TRY(resolve_data(z, e));
    unsigned char *buf = malloc((size_t)e->usize + 1);
    if (!buf) return LAVR_FAIL(LAVR_E_NOMEM, "out of memory for '%s' (%lld bytes)", e->name, (long long)e->usize);
    lavr_status st = e->method == 0 ? pread_all(z, buf, e->usize, e->data_offset) : inflate_entry(z, e, buf);
    if (!st) st = check_crc(z, e, buf);
    if (st) {
        free(buf);
        return st;
    }
    buf[e->usize] = 0;
    *out = buf, *size = e->usize;
    return LAVR_OK;
}

lavr_status lavr_zip_read(lavr_zip *z, int entry, int64_t offset, int64_t n, void *dst) {
    CHECK_ARG(entry >= 0 && entry < z->count, "lavr_zip_read: bad entry %d", entry);
    lavr_zip_entry *e = &z->entries[entry];
    TRY(resolve_data(z, e));
    if (offset < 0 || n < 0 || offset + n > e->usize)
        return LAVR_FAIL(LAVR_E_FORMAT, "'%s': read of bytes [%lld, %lld) is outside entry '%s' (%lld bytes)", z->path,
                         (long long)offset, (long long)(offset + n), e->name, (long long)e->usize);
    if (e->method == 0) return pread_all(z, dst, n, e->data_offset + offset);
    if (z->inflated_entry != entry) {
        free(z->inflated);
        z->inflated = NULL, z->inflated_entry = -1;
        void *buf;
        int64_t size;
        TRY(lavr_zip_read_all(z, entry, &buf, &size));
        z->inflated = buf, z->inflated_entry = entry;
    }
    memcpy(dst, z->inflated + offset, (size_t)n);
    return LAVR_OK;
}
