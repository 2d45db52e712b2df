/* Checkpoint directories and their MANIFEST (io/checkpoint.h): the policy, the atomic commit, the
 * search for the newest valid checkpoint (torn and foreign ones skipped with a reason) and pruning. */
#include "io/checkpoint.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "core/log.h"
#include "core/sha256.h"
#include "io/checkpoint_internal.h"

#define MANIFEST_MAX_BYTES (1 << 20)
#define IDENTITY_MAX 1023

/* ---- policy ------------------------------------------------------------------------------- */

lavr_status lavr_ckpt_policy_check(const lavr_ckpt_policy *p) {
    CHECK_ARG(p, "lavr_ckpt_policy_check: NULL argument");
    CHECK_ARG(p->every_clips >= 0, "checkpoint interval must be 0 (off) or a number of clips, not %lld",
              (long long)p->every_clips);
    CHECK_ARG(p->every_seconds >= 0 && isfinite(p->every_seconds),
              "checkpoint interval must be 0 (off) or a number of seconds, not %g", p->every_seconds);
    CHECK_ARG(p->keep_last >= 1, "checkpoints to keep must be at least 1, not %lld", (long long)p->keep_last);
    return LAVR_OK;
}

int lavr_ckpt_policy_due(const lavr_ckpt_policy *p, int64_t clips_done, int64_t clips_at_last,
                         double seconds_since_last) {
    if (clips_done <= clips_at_last) return 0;
    if (p->every_clips > 0 && clips_done - clips_at_last >= p->every_clips) return 1;
    return p->every_seconds > 0 && seconds_since_last >= p->every_seconds;
}

/* ---- names and small file helpers ---------------------------------------------------------- */

void lavr_ckpt_rank_file_name(int rank, char name[32]) { snprintf(name, 32, "rank-%d.h5", rank); }

static char *ckpt_dir_path(const char *stage_dir, int64_t clip) {
    size_t n = strlen(stage_dir) + 32;
    char *p = malloc(n);
    if (p) snprintf(p, n, "%s/ckpt-%06lld", stage_dir, (long long)clip);
    return p;
}

static char *join(const char *dir, const char *name) {
    size_t n = strlen(dir) + strlen(name) + 2;
    char *p = malloc(n);
    if (p) snprintf(p, n, "%s/%s", dir, name);
    return p;
}

/* "ckpt-000016" -> 16 (blocks done); -1 for anything else */
static int64_t clip_of_entry(const char *name) {
    if (strncmp(name, "ckpt-", 5) != 0 || !name[5]) return -1;
    int64_t v = 0;
    for (const char *c = name + 5; *c; c++) {
        if (*c < '0' || *c > '9' || v > INT64_MAX / 10 - 10) return -1;
        v = v * 10 + (*c - '0');
    }
    return v;
}

static lavr_status fsync_path(const char *path, int directory) {
    int fd = open(path, directory ? O_RDONLY | O_DIRECTORY : O_RDONLY);
    if (fd < 0) return LAVR_FAIL(LAVR_E_IO, "cannot open '%s' to sync it: %s", path, strerror(errno));
    int r = fsync(fd);
    int err = errno;
    close(fd);
    if (r != 0) return LAVR_FAIL(LAVR_E_IO, "cannot sync '%s' to disk: %s", path, strerror(err));
    return LAVR_OK;
}

static int cmp_desc(const void *a, const void *b) {
    int64_t x = *(const int64_t *)a, y = *(const int64_t *)b;
    return x < y ? 1 : x > y ? -1 : 0;
}

/* Block counts of the ckpt-* directories, newest first; *n = 0 when the stage dir does not exist. */
static lavr_status list_checkpoints(const char *stage_dir, int64_t **clips, int64_t *n) {
    *clips = NULL;
    *n = 0;
    DIR *d = opendir(stage_dir);
    if (!d) {
        if (errno == ENOENT) return LAVR_OK;
        return LAVR_FAIL(LAVR_E_IO, "cannot list the stage directory '%s': %s", stage_dir, strerror(errno));
    }
    int64_t cap = 0;
    lavr_status st = LAVR_OK;
    for (struct dirent *e; (e = readdir(d));) {
        int64_t clip = clip_of_entry(e->d_name);
        if (clip < 0) continue;
        if (*n == cap) {
            cap = cap ? 2 * cap : 16;
            int64_t *grown = realloc(*clips, (size_t)cap * sizeof **clips);
            if (!grown) {
                st = LAVR_FAIL(LAVR_E_NOMEM, "out of memory listing '%s'", stage_dir);
                break;
            }
            *clips = grown;
        }
        (*clips)[(*n)++] = clip;
    }
    closedir(d);
    if (st) {
        free(*clips);
        *clips = NULL;
        *n = 0;
        return st;
    }
    if (*n) qsort(*clips, (size_t)*n, sizeof **clips, cmp_desc);
    return LAVR_OK;
}

/* ---- manifest text ------------------------------------------------------------------------- */

typedef struct {
    char *text;
    size_t len, cap;
    int failed;
} text_buf;

__attribute__((format(printf, 2, 3))) static void append(text_buf *b, const char *fmt, ...) {
    if (b->failed) return;
    for (;;) {
        va_list ap;
        va_start(ap, fmt);
        int n = vsnprintf(b->text ? b->text + b->len : NULL, b->text ? b->cap - b->len : 0, fmt, ap);
        va_end(ap);
        if (n < 0) {
            b->failed = 1;
            return;
        }
        if (b->text && b->len + (size_t)n < b->cap) {
            b->len += (size_t)n;
            return;
        }
        size_t cap = 2 * (b->cap + (size_t)n + 256);
        char *grown = realloc(b->text, cap);
        if (!grown) {
            b->failed = 1;
            return;
        }
        b->text = grown;
        b->cap = cap;
    }
}

static int one_line(const char *s) { return s && !strchr(s, '\n') && !strchr(s, '\r') && strlen(s) <= IDENTITY_MAX; }

static int is_hex64(const char *s) {
    if (strlen(s) != 64) return 0;
    for (int i = 0; i < 64; i++)
        if (!((s[i] >= '0' && s[i] <= '9') || (s[i] >= 'a' && s[i] <= 'f'))) return 0;
    return 1;
}

typedef struct {
    int64_t clip, blocks;
    char *layout, *model, *inputs;
    int nfiles;
    lavr_ckpt_file *files;
} manifest;

static void manifest_free(manifest *m) {
    free(m->layout);
    free(m->model);
    free(m->inputs);
    free(m->files);
    memset(m, 0, sizeof *m);
}

/* Next line of text (NUL-terminated in place); NULL at the end. */
static char *next_line(char **cursor) {
    char *s = *cursor;
    if (!s || !*s) return NULL;
    char *nl = strchr(s, '\n');
    if (nl) {
        *nl = 0;
        *cursor = nl + 1;
    } else {
        *cursor = s + strlen(s);
    }
    return s;
}

/* "key value": the value after "key ", or NULL when the line has another key. */
static const char *value_of(const char *line, const char *key) {
    size_t k = strlen(key);
    return line && strncmp(line, key, k) == 0 && line[k] == ' ' ? line + k + 1 : NULL;
}

static int parse_int(const char *s, int64_t *out) {
    if (!s || !*s) return 0;
    char *end;
    errno = 0;
    long long v = strtoll(s, &end, 10);
    if (errno || *end || v < 0) return 0;
    *out = v;
    return 1;
}

static char *dup_or_null(const char *s) { return s ? strdup(s) : NULL; }

/* Checks the trailing checksum line, then parses the body strictly. 0 = ok, else a reason. */
static int parse_manifest(char *text, size_t n, manifest *m, char *reason, size_t rlen) {
    memset(m, 0, sizeof *m);
    if (n == 0 || text[n - 1] != '\n') {
        snprintf(reason, rlen, "MANIFEST is truncated (no final newline)");
        return -1;
    }
    text[n - 1] = 0;
    char *last = strrchr(text, '\n');
    char *check_line = last ? last + 1 : text;
    const char *sum = value_of(check_line, "checksum");
    if (!sum || !is_hex64(sum)) {
        snprintf(reason, rlen, "MANIFEST is truncated (no checksum line)");
        return -1;
    }
    size_t body_len = (size_t)(check_line - text);
    char actual[65];
    if (lavr_sha256_hex(text, body_len, actual)) {
        snprintf(reason, rlen, "%s", lavr_error_message());
        return -1;
    }
    if (strcmp(actual, sum) != 0) {
        snprintf(reason, rlen, "MANIFEST checksum mismatch (edited or partly written)");
        return -1;
    }
    if (last) *last = 0;
    else text[0] = 0;

    char *cursor = text;
    int64_t version = 0, nfiles = 0;
    const char *l;
    if (!parse_int(value_of(next_line(&cursor), "lavr-checkpoint"), &version) || version != 1) {
        snprintf(reason, rlen, "MANIFEST is not a lavr-checkpoint 1 manifest");
        return -1;
    }
    int ok = parse_int(value_of(next_line(&cursor), "clip"), &m->clip) &&
             parse_int(value_of(next_line(&cursor), "blocks"), &m->blocks);
    if (ok) ok = (m->layout = dup_or_null(value_of(next_line(&cursor), "layout"))) != NULL;
    if (ok) ok = (m->model = dup_or_null(value_of(next_line(&cursor), "model"))) != NULL;
    if (ok) ok = (m->inputs = dup_or_null(value_of(next_line(&cursor), "inputs"))) != NULL;
    if (ok) ok = parse_int(value_of(next_line(&cursor), "files"), &nfiles) && nfiles >= 1 && nfiles <= 1 << 20;
    if (ok) ok = (m->files = calloc((size_t)nfiles, sizeof *m->files)) != NULL;
    if (ok) m->nfiles = (int)nfiles;
    for (int r = 0; ok && r < m->nfiles; r++) {
        l = value_of(next_line(&cursor), "file");
        int rank = -1, used = 0;
        long long bytes = -1;
        char name[32] = {0}, sha[65] = {0}, want[32];
        ok = l && sscanf(l, "%d %31s %lld %64s%n", &rank, name, &bytes, sha, &used) == 4 && !l[used];
        lavr_ckpt_rank_file_name(r, want);
        ok = ok && rank == r && strcmp(name, want) == 0 && bytes >= 0 && is_hex64(sha);
        if (ok) {
            memcpy(m->files[r].name, name, sizeof name);
            m->files[r].bytes = bytes;
            memcpy(m->files[r].sha256, sha, sizeof sha);
        }
    }
    if (ok) ok = next_line(&cursor) == NULL;
    if (!ok) {
        snprintf(reason, rlen, "MANIFEST is malformed");
        manifest_free(m);
        return -1;
    }
    return 0;
}

/* Reads and parses dir/MANIFEST; 0 = ok, else a reason. */
static int load_manifest(const char *dir, manifest *m, char *reason, size_t rlen) {
    memset(m, 0, sizeof *m);
    char *path = join(dir, LAVR_CKPT_MANIFEST);
    FILE *f = path ? fopen(path, "rb") : NULL;
    if (!f) {
        snprintf(reason, rlen, errno == ENOENT ? "no MANIFEST (torn checkpoint)" : "cannot read MANIFEST: %s",
                 strerror(errno));
        free(path);
        return -1;
    }
    free(path);
    char *text = malloc(MANIFEST_MAX_BYTES + 1);
    size_t n = text ? fread(text, 1, MANIFEST_MAX_BYTES + 1, f) : 0;
    int read_error = ferror(f);
    fclose(f);
    int r = -1;
    if (!text) snprintf(reason, rlen, "out of memory reading MANIFEST");
    else if (read_error) snprintf(reason, rlen, "cannot read MANIFEST");
    else if (n > MANIFEST_MAX_BYTES) snprintf(reason, rlen, "MANIFEST is larger than %d bytes", MANIFEST_MAX_BYTES);
    else r = parse_manifest(text, n, m, reason, rlen);
    free(text);
    return r;
}

/* ---- commit -------------------------------------------------------------------------------- */

static lavr_status write_all(int fd, const char *path, const char *data, size_t n) {
    while (n > 0) {
        ssize_t w = write(fd, data, n);
        if (w < 0 && errno == EINTR) continue;
        if (w <= 0) return LAVR_FAIL(LAVR_E_IO, "cannot write '%s': %s", path, w < 0 ? strerror(errno) : "short write");
        data += w;
        n -= (size_t)w;
    }
    return LAVR_OK;
}

static lavr_status write_manifest(const char *dir, const char *text, size_t n) {
    char *tmp = join(dir, LAVR_CKPT_MANIFEST ".tmp"), *final = join(dir, LAVR_CKPT_MANIFEST);
    lavr_status st = LAVR_OK;
    if (!tmp || !final) {
        st = LAVR_FAIL(LAVR_E_NOMEM, "out of memory");
        goto done;
    }
    int fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC, 0644);
    if (fd < 0) {
        st = LAVR_FAIL(LAVR_E_IO, "cannot create '%s': %s", tmp, strerror(errno));
        goto done;
    }
    st = write_all(fd, tmp, text, n);
    if (!st && fsync(fd) != 0) st = LAVR_FAIL(LAVR_E_IO, "cannot sync '%s' to disk: %s", tmp, strerror(errno));
    if (close(fd) != 0 && !st) st = LAVR_FAIL(LAVR_E_IO, "cannot close '%s': %s", tmp, strerror(errno));
    if (!st && rename(tmp, final) != 0)
        st = LAVR_FAIL(LAVR_E_IO, "cannot rename '%s' to '%s': %s", tmp, final, strerror(errno));
    if (!st) st = fsync_path(dir, 1);
done:
    free(tmp);
    free(final);
    return st;
}

lavr_status lavr_ckpt_commit(const char *stage_dir, const lavr_ckpt_manifest *m) {
    CHECK_ARG(stage_dir && m && m->files && m->nfiles >= 1 && m->layout, "lavr_ckpt_commit: missing argument");
    CHECK_ARG(m->clip >= 0 && m->blocks >= 0, "lavr_ckpt_commit: negative clip or block count");
    CHECK_ARG(one_line(m->layout) && one_line(m->id.model) && one_line(m->id.inputs),
              "checkpoint identity strings must be single lines of at most %d bytes", IDENTITY_MAX);
    char *dir = ckpt_dir_path(stage_dir, m->blocks);
    if (!dir) return LAVR_FAIL(LAVR_E_NOMEM, "out of memory");
    lavr_status st = LAVR_OK;
    text_buf b = {0};
    append(&b, "lavr-checkpoint 1\nclip %lld\nblocks %lld\nlayout %s\nmodel %s\ninputs %s\nfiles %d\n",
           (long long)m->clip, (long long)m->blocks, m->layout, m->id.model, m->id.inputs, m->nfiles);
    for (int r = 0; r < m->nfiles && !st; r++) {
        const lavr_ckpt_file *e = &m->files[r];
        char want[32];
        lavr_ckpt_rank_file_name(r, want);
        if (strncmp(e->name, want, sizeof want) != 0 || !is_hex64(e->sha256)) {
            st = LAVR_FAIL(LAVR_E_INTERNAL, "checkpoint entry %d is not rank %d's finished file", r, r);
            break;
        }
        char *path = join(dir, e->name);
        struct stat s;
        if (!path) st = LAVR_FAIL(LAVR_E_NOMEM, "out of memory");
        else if (stat(path, &s) != 0)
            st = LAVR_FAIL(LAVR_E_IO, "checkpoint file '%s' is not visible to the committing rank: %s", path,
                           strerror(errno));
        else if ((int64_t)s.st_size != e->bytes)
            st = LAVR_FAIL(LAVR_E_IO, "checkpoint file '%s' has %lld bytes, its rank wrote %lld", path,
                           (long long)s.st_size, (long long)e->bytes);
        free(path);
        append(&b, "file %d %s %lld %s\n", r, e->name, (long long)e->bytes, e->sha256);
    }
    if (!st && b.failed) st = LAVR_FAIL(LAVR_E_NOMEM, "out of memory writing the manifest");
    if (!st) {
        char sum[65];
        st = lavr_sha256_hex(b.text, b.len, sum);
        if (!st) append(&b, "checksum %s\n", sum);
        if (!st && b.failed) st = LAVR_FAIL(LAVR_E_NOMEM, "out of memory writing the manifest");
    }
    if (!st) st = write_manifest(dir, b.text, b.len);
    /* the ckpt-* entry itself must be durable too */
    if (!st) st = fsync_path(stage_dir, 1);
    if (!st) LOG_INFO("checkpoint %s committed (%lld clips, %lld blocks, %d rank files)", dir, (long long)m->clip,
                      (long long)m->blocks, m->nfiles);
    if (st) lavr_error_wrap(st, "while committing checkpoint %s", dir);
    free(b.text);
    free(dir);
    return st;
}

/* ---- search -------------------------------------------------------------------------------- */

/* Files listed, present with their size and (verify) hash; 0 = ok, else a reason. */
static int check_files(const char *dir, const manifest *m, lavr_ckpt_verify verify, char *reason, size_t rlen) {
    for (int r = 0; r < m->nfiles; r++) {
        const lavr_ckpt_file *e = &m->files[r];
        char *path = join(dir, e->name);
        struct stat s;
        int bad = 1;
        if (!path) snprintf(reason, rlen, "out of memory");
        else if (stat(path, &s) != 0) snprintf(reason, rlen, "%s is missing", e->name);
        else if ((int64_t)s.st_size != e->bytes)
            snprintf(reason, rlen, "%s has %lld bytes, the manifest says %lld", e->name, (long long)s.st_size,
                     (long long)e->bytes);
        else if (verify == LAVR_CKPT_VERIFY_SHA256) {
            char hex[65];
            if (lavr_sha256_file_hex(path, hex)) snprintf(reason, rlen, "%s", lavr_error_message());
            else if (strcmp(hex, e->sha256) != 0) snprintf(reason, rlen, "%s checksum mismatch", e->name);
            else bad = 0;
        } else {
            bad = 0;
        }
        free(path);
        if (bad) return -1;
    }
    return 0;
}

static lavr_status make_found(char *dir, manifest *m, lavr_ckpt **out) {
    lavr_ckpt *c = calloc(1, sizeof *c);
    lavr_h5file **open = calloc((size_t)m->nfiles, sizeof *open);
    if (!c || !open) {
        free(c);
        free(open);
        return LAVR_FAIL(LAVR_E_NOMEM, "out of memory");
    }
    c->dir = dir;
    c->clip = m->clip;
    c->blocks = m->blocks;
    c->layout = m->layout;
    c->nfiles = m->nfiles;
    c->files = m->files;
    c->open = open;
    m->layout = NULL;
    m->files = NULL;
    manifest_free(m);
    *out = c;
    return LAVR_OK;
}

/* The tokens of two identity strings ("key=value ..." separated by spaces) that differ, as
 * "checkpoint 'seed=7', this run 'seed=8'"; the whole strings when they differ otherwise. */
static void identity_diff(const char *ckpt, const char *run, char *out, size_t n) {
    char a[1100], b[1100];
    snprintf(a, sizeof a, "%s", ckpt);
    snprintf(b, sizeof b, "%s", run);
    char *ta[64], *tb[64], *save = NULL;
    int na = 0, nb = 0;
    for (char *t = strtok_r(a, " ", &save); t && na < 64; t = strtok_r(NULL, " ", &save)) ta[na++] = t;
    for (char *t = strtok_r(b, " ", &save); t && nb < 64; t = strtok_r(NULL, " ", &save)) tb[nb++] = t;
    out[0] = 0;
    size_t used = 0;
    int listed = 0;
    for (int i = 0; i < na && na == nb; i++) {
        if (strcmp(ta[i], tb[i]) == 0) continue;
        int w = snprintf(out + used, n - used, "%scheckpoint '%.100s', this run '%.100s'", listed ? "; " : "", ta[i],
                         tb[i]);
        if (w < 0 || (size_t)w >= n - used) break;
        used += (size_t)w;
        listed++;
    }
    if (!listed) snprintf(out, n, "checkpoint: '%.200s', this run: '%.200s'", ckpt, run);
}

lavr_status lavr_ckpt_find_latest(const char *stage_dir, const lavr_ckpt_identity *id, lavr_ckpt_verify verify,
                                  lavr_ckpt_search *result) {
    CHECK_ARG(stage_dir && id && id->model && id->inputs && result, "lavr_ckpt_find_latest: NULL argument");
    memset(result, 0, sizeof *result);
    int64_t *clips, n;
    TRY(list_checkpoints(stage_dir, &clips, &n));
    lavr_status st = LAVR_OK;
    for (int64_t i = 0; i < n && !st && !result->found; i++) {
        char *dir = ckpt_dir_path(stage_dir, clips[i]);
        if (!dir) {
            st = LAVR_FAIL(LAVR_E_NOMEM, "out of memory");
            break;
        }
        manifest m;
        char reason[600];
        int bad = load_manifest(dir, &m, reason, sizeof reason);
        if (!bad && m.blocks != clips[i]) {
            snprintf(reason, sizeof reason, "its MANIFEST is for block %lld", (long long)m.blocks);
            bad = 1;
        }
        if (!bad && id && (strcmp(m.model, id->model) != 0 || strcmp(m.inputs, id->inputs) != 0)) {
            int model = strcmp(m.model, id->model) != 0;
            char diff[480];
            identity_diff(model ? m.model : m.inputs, model ? id->model : id->inputs, diff, sizeof diff);
            snprintf(reason, sizeof reason, "is for %s (%s)", model ? "another model" : "other inputs", diff);
            LOG_WARN("checkpoint %s ignored: it %s", dir, reason);
            if (!result->skipped_other++)
                snprintf(result->other_reason, sizeof result->other_reason, "%.200s %.600s", dir, reason);
            manifest_free(&m);
            free(dir);
            continue;
        }
        if (!bad) bad = check_files(dir, &m, verify, reason, sizeof reason);
        if (bad) {
            LOG_WARN("checkpoint %s ignored: %s", dir, reason);
            result->skipped_torn++;
            manifest_free(&m);
            free(dir);
            continue;
        }
        st = make_found(dir, &m, &result->found);
        if (st) {
            manifest_free(&m);
            free(dir);
        }
    }
    free(clips);
    return st;
}

lavr_status lavr_ckpt_open(const char *stage_dir, int64_t blocks, const lavr_ckpt_identity *id,
                           lavr_ckpt_verify verify, lavr_ckpt **out) {
    CHECK_ARG(stage_dir && blocks >= 0 && (!id || (id->model && id->inputs)) && out, "lavr_ckpt_open: bad argument");
    *out = NULL;
    char *dir = ckpt_dir_path(stage_dir, blocks);
    if (!dir) return LAVR_FAIL(LAVR_E_NOMEM, "out of memory");
    manifest m;
    char reason[600];
    int bad = load_manifest(dir, &m, reason, sizeof reason);
    if (!bad && m.blocks != blocks) {
        snprintf(reason, sizeof reason, "its MANIFEST is for block %lld", (long long)m.blocks);
        bad = 2;
    }
    if (!bad && id && (strcmp(m.model, id->model) != 0 || strcmp(m.inputs, id->inputs) != 0)) {
        snprintf(reason, sizeof reason, "it is for %s", strcmp(m.model, id->model) != 0 ? "another model" : "other inputs");
        bad = 2;
    }
    if (!bad && check_files(dir, &m, verify, reason, sizeof reason)) bad = 2;
    if (bad) {
        if (bad == 2) manifest_free(&m);
        lavr_status st = LAVR_FAIL(LAVR_E_FORMAT, "checkpoint %s cannot be used: %s", dir, reason);
        free(dir);
        return st;
    }
    lavr_status st = make_found(dir, &m, out);
    if (st) {
        manifest_free(&m);
        free(dir);
    }
    return st;
}

void lavr_ckpt_close(lavr_ckpt *c) {
    if (!c) return;
    lavr_ckpt_close_rank_files(c);
    free(c->open);
    free(c->files);
    free(c->layout);
    free(c->dir);
    free(c);
}

const char *lavr_ckpt_dir(const lavr_ckpt *c) { return c->dir; }
int64_t lavr_ckpt_clip(const lavr_ckpt *c) { return c->clip; }
int64_t lavr_ckpt_blocks(const lavr_ckpt *c) { return c->blocks; }
const char *lavr_ckpt_layout(const lavr_ckpt *c) { return c->layout; }
int lavr_ckpt_ranks(const lavr_ckpt *c) { return c->nfiles; }

/* ---- pruning ------------------------------------------------------------------------------- */

static lavr_status remove_dir(const char *dir) {
    char *manifest_path = join(dir, LAVR_CKPT_MANIFEST);
    if (!manifest_path) return LAVR_FAIL(LAVR_E_NOMEM, "out of memory");
    int r = unlink(manifest_path);
    int err = errno;
    free(manifest_path);
    if (r != 0 && err != ENOENT) return LAVR_FAIL(LAVR_E_IO, "cannot delete %s/MANIFEST: %s", dir, strerror(err));
    DIR *d = opendir(dir);
    if (!d) return LAVR_FAIL(LAVR_E_IO, "cannot list '%s': %s", dir, strerror(errno));
    lavr_status st = LAVR_OK;
    for (struct dirent *e; !st && (e = readdir(d));) {
        if (!strcmp(e->d_name, ".") || !strcmp(e->d_name, "..")) continue;
        char *path = join(dir, e->d_name);
        if (!path) st = LAVR_FAIL(LAVR_E_NOMEM, "out of memory");
        else if (unlink(path) != 0) st = LAVR_FAIL(LAVR_E_IO, "cannot delete '%s': %s", path, strerror(errno));
        free(path);
    }
    closedir(d);
    if (!st && rmdir(dir) != 0) st = LAVR_FAIL(LAVR_E_IO, "cannot delete '%s': %s", dir, strerror(errno));
    return st;
}

lavr_status lavr_ckpt_prune(const char *stage_dir, int64_t keep_last) {
    CHECK_ARG(stage_dir && keep_last >= 1, "lavr_ckpt_prune: keep_last must be at least 1");
    int64_t *clips, n;
    TRY(list_checkpoints(stage_dir, &clips, &n));
    lavr_status st = LAVR_OK;
    int64_t committed = 0;
    for (int64_t i = 0; i < n && !st; i++) {
        char *dir = ckpt_dir_path(stage_dir, clips[i]);
        if (!dir) {
            st = LAVR_FAIL(LAVR_E_NOMEM, "out of memory");
            break;
        }
        if (committed >= keep_last) {
            st = remove_dir(dir);
            if (!st) LOG_DEBUG("checkpoint %s deleted (keeping the newest %lld)", dir, (long long)keep_last);
        } else {
            manifest m;
            char reason[600];
            if (load_manifest(dir, &m, reason, sizeof reason) == 0) {
                committed++;
                manifest_free(&m);
            }
        }
        free(dir);
    }
    free(clips);
    return st;
}

lavr_status lavr_ckpt_remove_all(const char *stage_dir) {
    CHECK_ARG(stage_dir, "lavr_ckpt_remove_all: NULL argument");
    int64_t *numbers, n;
    TRY(list_checkpoints(stage_dir, &numbers, &n));
    lavr_status st = LAVR_OK;
    for (int64_t i = 0; i < n && !st; i++) {
        char *dir = ckpt_dir_path(stage_dir, numbers[i]);
        st = dir ? remove_dir(dir) : LAVR_FAIL(LAVR_E_NOMEM, "out of memory");
        free(dir);
    }
    free(numbers);
    return st;
}

/* ---- begin (needs the directory naming above) ------------------------------------------------ */

static lavr_status make_dir(const char *path) {
    if (mkdir(path, 0755) == 0 || errno == EEXIST) {
        struct stat s;
        if (stat(path, &s) == 0 && S_ISDIR(s.st_mode)) return LAVR_OK;
        return LAVR_FAIL(LAVR_E_IO, "'%s' exists and is not a directory", path);
    }
    return LAVR_FAIL(LAVR_E_IO, "cannot create directory '%s': %s", path, strerror(errno));
}

lavr_status lavr_ckpt_prepare_dir(const char *stage_dir, int64_t clip, char **dir_out) {
    CHECK_ARG(stage_dir && clip >= 0 && dir_out, "lavr_ckpt_begin: bad argument");
    *dir_out = NULL;
    TRY(make_dir(stage_dir));
    char *dir = ckpt_dir_path(stage_dir, clip);
    if (!dir) return LAVR_FAIL(LAVR_E_NOMEM, "out of memory");
    lavr_status st = make_dir(dir);
    /* a manifest from an earlier attempt at this clip would describe files about to be rewritten */
    const char *stale[2] = {LAVR_CKPT_MANIFEST, LAVR_CKPT_MANIFEST ".tmp"};
    for (int i = 0; i < 2 && !st; i++) {
        char *path = join(dir, stale[i]);
        if (!path) st = LAVR_FAIL(LAVR_E_NOMEM, "out of memory");
        else if (unlink(path) != 0 && errno != ENOENT)
            st = LAVR_FAIL(LAVR_E_IO, "cannot delete the old '%s': %s", path, strerror(errno));
        free(path);
    }
    if (st) {
        free(dir);
        return st;
    }
    *dir_out = dir;
    return LAVR_OK;
}
