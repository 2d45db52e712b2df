/* Checks io/torchzip.c against checkpoints saved by real torch (tests/fixtures/torch/, written by
 * tests/fixtures/make_torch_fixtures.py): every tensor's dtype, shape, strides, offset and bits. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "check.h"
#include "io/torchzip.h"

#define MAX_TOKENS 128

/* The files make_torch_fixtures.py writes; each must be named in expected.txt. */
static const char *const required_files[] = {"t5_tiny.pth", "vae_tiny.pth", "pytorch_model.bin", "legacy.pth"};
enum { N_REQUIRED = sizeof required_files / sizeof required_files[0] };

static int split(char *line, char **tok) {
    int n = 0;
    for (char *p = strtok(line, " \t\r\n"); p && n < MAX_TOKENS; p = strtok(NULL, " \t\r\n")) tok[n++] = p;
    return n;
}

/* "-" (0-dim) or a comma list; returns -1 when malformed. */
static int parse_dims(const char *s, int64_t *out) {
    if (strcmp(s, "-") == 0) return 0;
    int n = 0;
    for (const char *p = s; n < LAVR_MAX_DIMS;) {
        char *end;
        out[n++] = strtoll(p, &end, 10);
        if (end == p) return -1;
        if (*end == 0) return n;
        if (*end != ',') return -1;
        p = end + 1;
    }
    return -1;
}

static uint32_t element_bits(const unsigned char *buf, int64_t i, int64_t es) {
    if (es == 2) {
        uint16_t h;
        memcpy(&h, buf + i * es, 2);
        return h;
    }
    uint32_t w;
    memcpy(&w, buf + i * es, 4);
    return w;
}

/* tensor FILE NAME DTYPE SHAPE OFFSET STRIDE NUMEL SUM32 all|ends HEX... */
static void check_tensor(lavr_torchzip *tz, char **tok, int ntok, const char *where) {
    lavr_dtype dtype;
    int64_t shape[LAVR_MAX_DIMS], stride[LAVR_MAX_DIMS];
    int nd = ntok >= 10 ? parse_dims(tok[4], shape) : -1, ns = nd >= 0 ? parse_dims(tok[6], stride) : -1;
    const int64_t numel = ntok >= 10 ? strtoll(tok[7], NULL, 10) : -1;
    const int all = ntok >= 10 && strcmp(tok[9], "all") == 0;
    if (nd < 0 || ns != nd || lavr_dtype_from_name(tok[3], &dtype) || numel < 0 ||
        ntok != 10 + (all ? numel : 8) || (!all && strcmp(tok[9], "ends") != 0)) {
        CHECK_MSG(0, "%s: malformed tensor line", where);
        return;
    }
    const char *name = tok[2];
    const lavr_tz_tensor *t = lavr_tz_find(tz, name);
    CHECK_MSG(t != NULL, "%s: tensor '%s' not found by the reader", where, name);
    if (!t) return;
    CHECK_MSG(t->dtype == dtype, "%s: '%s' read as %s, torch saved %s", where, name, lavr_dtype_name(t->dtype), tok[3]);
    CHECK_MSG(t->ndim == nd, "%s: '%s' has %d dims, torch saved %d", where, name, t->ndim, nd);
    CHECK_MSG(t->storage_offset == strtoll(tok[5], NULL, 10), "%s: '%s' storage offset %lld, torch saved %s", where, name,
              (long long)t->storage_offset, tok[5]);
    if (t->dtype != dtype || t->ndim != nd) return;
    int64_t count = 1;
    for (int d = 0; d < nd; d++) {
        CHECK_MSG(t->shape[d] == shape[d] && t->stride[d] == stride[d], "%s: '%s' dim %d: size %lld stride %lld, torch saved %lld %lld",
                  where, name, d, (long long)t->shape[d], (long long)t->stride[d], (long long)shape[d], (long long)stride[d]);
        count *= shape[d];
    }
    CHECK_MSG(count == numel, "%s: shape and element count disagree", where);
    if (count != numel) return;

    const int64_t es = (int64_t)lavr_dtype_size(dtype), rows = nd ? shape[0] : 1, row_len = rows ? numel / rows : 0;
    unsigned char *all_rows = malloc((size_t)(numel * es + es)), *one_row = malloc((size_t)(row_len * es + es));
    if (!all_rows || !one_row) {
        CHECK_MSG(0, "%s: out of memory", where);
        free(all_rows), free(one_row);
        return;
    }
    CHECK_OK(lavr_tz_read_rows(tz, t, 0, rows, all_rows));
    uint32_t sum = 0;
    for (int64_t i = 0; i < numel; i++) sum += element_bits(all_rows, i, es);
    CHECK_MSG(sum == (uint32_t)strtoul(tok[8], NULL, 16), "%s: '%s' bit sum %08x, torch's %s", where, name, (unsigned)sum, tok[8]);
    const int n_listed = all ? (int)numel : 8;
    for (int k = 0; k < n_listed; k++) {
        const int64_t i = all || k < 4 ? k : numel - 8 + k;
        const uint32_t want = (uint32_t)strtoul(tok[10 + k], NULL, 16), got = element_bits(all_rows, i, es);
        CHECK_MSG(got == want, "%s: '%s' element %lld is %0*x, torch saved %s", where, name, (long long)i, (int)(2 * es),
                  (unsigned)got, tok[10 + k]);
    }
    /* reading one row at a time (a row start inside the storage) gives the same bytes */
    for (int64_t r = 0; r < rows; r++) {
        CHECK_OK(lavr_tz_read_rows(tz, t, r, 1, one_row));
        CHECK_MSG(memcmp(one_row, all_rows + r * row_len * es, (size_t)(row_len * es)) == 0, "%s: '%s' row %lld read alone differs",
                  where, name, (long long)r);
    }
    free(all_rows);
    free(one_row);
}

int main(void) {
    const char *fixtures = getenv("LAVR_TORCH_FIXTURES"), *source = getenv("LAVR_SOURCE_DIR");
    char dir[2048], expected[2100], path[4096], where[2200];
    if (fixtures) snprintf(dir, sizeof dir, "%s", fixtures);
    else snprintf(dir, sizeof dir, "%s/tests/fixtures/torch", source ? source : ".");
    snprintf(expected, sizeof expected, "%s/expected.txt", dir);
    FILE *f = fopen(expected, "r");
    CHECK_MSG(f != NULL, "cannot open '%s': the torch fixtures are missing; make them with "
              "`python3 tests/fixtures/make_torch_fixtures.py tests/fixtures/torch` (needs torch)", expected);
    if (!f) return check_summary("test_torch_fixtures");

    static char line[1 << 16];
    char *tok[MAX_TOKENS];
    int seen[N_REQUIRED] = {0}, line_no = 0, expected_count = -1, listed = 0, n_tensors = 0;
    char current[256] = "";
    lavr_torchzip *tz = NULL;
    while (fgets(line, sizeof line, f)) {
        line_no++;
        snprintf(where, sizeof where, "%s:%d", expected, line_no);
        CHECK_MSG(strchr(line, '\n') != NULL, "%s: line too long", where);
        int ntok = split(line, tok);
        if (ntok == 0 || tok[0][0] == '#') continue;
        for (int i = 0; ntok >= 2 && i < N_REQUIRED; i++)
            if (strcmp(tok[1], required_files[i]) == 0) seen[i] = 1;
        if (strcmp(tok[0], "file") == 0 && ntok == 3) {
            if (tz) CHECK_MSG(listed == expected_count, "'%s': expected.txt lists %d tensors, its file line says %d", current, listed, expected_count);
            lavr_tz_close(tz);
            tz = NULL;
            snprintf(current, sizeof current, "%s", tok[1]);
            expected_count = atoi(tok[2]), listed = 0;
            snprintf(path, sizeof path, "%s/%s", dir, current);
            CHECK_OK(lavr_tz_open(path, &tz));
            if (tz) CHECK_MSG(lavr_tz_count(tz) == expected_count, "'%s': the reader finds %d tensors, torch saved %d", path,
                              lavr_tz_count(tz), expected_count);
        } else if (strcmp(tok[0], "tensor") == 0 && ntok >= 3) {
            CHECK_MSG(strcmp(tok[1], current) == 0, "%s: tensor line for '%s' outside its file block", where, tok[1]);
            listed++, n_tensors++;
            if (tz && strcmp(tok[1], current) == 0) check_tensor(tz, tok, ntok, where);
        } else if (strcmp(tok[0], "legacy") == 0 && ntok == 2) {
            snprintf(path, sizeof path, "%s/%s", dir, tok[1]);
            lavr_torchzip *old = NULL;
            CHECK_FAILS(lavr_tz_open(path, &old), LAVR_E_UNSUPPORTED);
            CHECK_MSG(strstr(lavr_error_message(), "legacy (pre-1.6) torch format") != NULL, "%s: message was: %s", where,
                      lavr_error_message());
            lavr_tz_close(old);
        } else {
            CHECK_MSG(0, "%s: unknown record '%s'", where, tok[0]);
        }
    }
    fclose(f);
    if (tz) CHECK_MSG(listed == expected_count, "'%s': expected.txt lists %d tensors, its file line says %d", current, listed, expected_count);
    lavr_tz_close(tz);
    for (int i = 0; i < N_REQUIRED; i++) CHECK_MSG(seen[i], "expected.txt does not cover %s", required_files[i]);
    printf("test_torch_fixtures: %d tensors compared\n", n_tensors);
    return check_summary("test_torch_fixtures");
}
