/* The cuDNN convolution engine record (io/conv_record.h) on the CPU: write/read round trip, the tag check (another
 * GPU, cuDNN or tuning count is ignored), empty and damaged files ignored with a warning, the cache merge keeping the
 * first writer's choices, and the cache path's precedence of LAVR_CACHE_DIR / XDG_CACHE_HOME / HOME. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "check.h"
#include "io/conv_record.h"

static const lavr_conv_record_tag H200 = {.gpu = "NVIDIA H200", .cc_major = 9, .cc_minor = 0,
                                          .cudnn_version = 91900, .tune = 8};

/* a distinct, plausible choice per i */
static lavr_conv_choice choice(int64_t i) {
    lavr_conv_choice c;
    memset(&c, 0, sizeof c);
    const int64_t fields[LAVR_CONV_RECORD_KEY] = {1, 96 + i, 96, 3, 4, 48 + i, 88, 3, 3, 3, 2, 46 + i, 86,
                                                  1, 1, 1, 0, 1, 1, 0, 1, 1};
    memcpy(c.key, fields, sizeof c.key);
    c.candidate = i % 8;
    c.heur_mode = i % 3;
    c.engine_index = 3 * i + 1;
    c.workspace_bytes = (i + 1) << 20;
    return c;
}

static int same_choices(const lavr_conv_record *a, const lavr_conv_record *b) {
    if (a->n != b->n) return 0;
    for (int64_t i = 0; i < a->n; i++) {
        const lavr_conv_choice *x = &a->choice[i], *y = lavr_conv_record_find(b, a->choice[i].key);
        if (!y || x->candidate != y->candidate || x->heur_mode != y->heur_mode || x->engine_index != y->engine_index ||
            x->workspace_bytes != y->workspace_bytes)
            return 0;
    }
    return 1;
}

static void write_bytes(const char *path, const char *bytes, size_t n) {
    FILE *f = fopen(path, "wb");
    CHECK(f != NULL);
    if (!f) return;
    if (n) CHECK(fwrite(bytes, 1, n, f) == n);
    fclose(f);
}

int main(void) {
    const char *tmp = getenv("LAVR_TEST_TMP");
    char dir[1024], path[1200], other[1200];
    snprintf(dir, sizeof dir, "%s/conv_record.%ld", tmp ? tmp : "/tmp", (long)getpid());
    CHECK(mkdir(dir, 0755) == 0);
    snprintf(path, sizeof path, "%s/engines.h5", dir);

    /* round trip, with the first choice of a repeated shape kept */
    lavr_conv_record r;
    lavr_conv_record_init(&r, &H200);
    for (int64_t i = 0; i < 70; i++) {
        const lavr_conv_choice c = choice(i);
        int added = 0;
        CHECK_OK(lavr_conv_record_add(&r, &c, &added));
        CHECK(added == 1);
    }
    lavr_conv_choice again = choice(5);
    again.candidate = 7;
    int added = 1;
    CHECK_OK(lavr_conv_record_add(&r, &again, &added));
    CHECK(added == 0 && r.n == 70 && lavr_conv_record_find(&r, again.key)->candidate == choice(5).candidate);
    CHECK_OK(lavr_conv_record_write(path, &r));
    char part[1300];
    snprintf(part, sizeof part, "%s.part.%ld", path, (long)getpid());
    CHECK(access(part, F_OK) != 0); /* renamed into place */
    lavr_conv_record back;
    CHECK_OK(lavr_conv_record_read(path, &back));
    CHECK(lavr_conv_record_same_tag(&back.tag, &H200));
    CHECK(same_choices(&r, &back) && same_choices(&back, &r));
    lavr_conv_record_free(&back);
    int usable = 0;
    CHECK_OK(lavr_conv_record_load(path, &H200, &back, &usable));
    CHECK(usable == 1 && back.n == 70);
    lavr_conv_record_free(&back);

    /* an empty record is a valid record */
    lavr_conv_record none;
    lavr_conv_record_init(&none, &H200);
    snprintf(other, sizeof other, "%s/empty-record.h5", dir);
    CHECK_OK(lavr_conv_record_write(other, &none));
    CHECK_OK(lavr_conv_record_load(other, &H200, &back, &usable));
    CHECK(usable == 1 && back.n == 0);
    lavr_conv_record_free(&back);

    /* another GPU, compute capability, cuDNN or tuning count: ignored (tuning runs), not an error */
    lavr_conv_record_tag tags[4] = {H200, H200, H200, H200};
    snprintf(tags[0].gpu, sizeof tags[0].gpu, "NVIDIA H100 80GB HBM3");
    tags[1].cc_minor = 1;
    tags[2].cudnn_version = 91400;
    tags[3].tune = 4;
    for (int t = 0; t < 4; t++) {
        CHECK(!lavr_conv_record_same_tag(&tags[t], &H200));
        usable = 1;
        CHECK_OK(lavr_conv_record_load(path, &tags[t], &back, &usable));
        CHECK(usable == 0 && back.n == 0 && lavr_conv_record_same_tag(&back.tag, &tags[t]));
        lavr_conv_record_free(&back);
    }

    /* missing, empty, damaged (a truncated record), not HDF5: read says why, load ignores them */
    snprintf(other, sizeof other, "%s/missing.h5", dir);
    CHECK_FAILS(lavr_conv_record_read(other, &back), LAVR_E_IO);
    usable = 1;
    CHECK_OK(lavr_conv_record_load(other, &H200, &back, &usable));
    CHECK(usable == 0 && back.n == 0);
    snprintf(other, sizeof other, "%s/empty.h5", dir);
    write_bytes(other, "", 0);
    CHECK(lavr_conv_record_read(other, &back) != LAVR_OK);
    CHECK(strstr(lavr_error_message(), "empty.h5") != NULL);
    usable = 1;
    CHECK_OK(lavr_conv_record_load(other, &H200, &back, &usable));
    CHECK(usable == 0);
    lavr_conv_record_free(&back);
    snprintf(other, sizeof other, "%s/text.h5", dir);
    write_bytes(other, "not an engine record\n", 21);
    CHECK(lavr_conv_record_read(other, &back) != LAVR_OK);
    CHECK_OK(lavr_conv_record_load(other, &H200, &back, &usable));
    CHECK(usable == 0);
    lavr_conv_record_free(&back);
    FILE *f = fopen(path, "rb");
    char *bytes = malloc(1 << 20);
    const size_t n = f && bytes ? fread(bytes, 1, 1 << 20, f) : 0;
    if (f) fclose(f);
    CHECK(n > 512);
    snprintf(other, sizeof other, "%s/truncated.h5", dir);
    write_bytes(other, bytes, n / 2);
    free(bytes);
    CHECK(lavr_conv_record_read(other, &back) != LAVR_OK);
    CHECK_OK(lavr_conv_record_load(other, &H200, &back, &usable));
    CHECK(usable == 0);
    lavr_conv_record_free(&back);

    /* the cache merge: the file's choices stay (first writer wins), new shapes are added; into a new directory */
    snprintf(other, sizeof other, "%s/cache/sub/engines.h5", dir);
    lavr_conv_record first, second;
    lavr_conv_record_init(&first, &H200);
    lavr_conv_record_init(&second, &H200);
    for (int64_t i = 0; i < 10; i++) {
        const lavr_conv_choice c = choice(i);
        CHECK_OK(lavr_conv_record_add(&first, &c, NULL));
    }
    for (int64_t i = 5; i < 15; i++) {
        lavr_conv_choice c = choice(i);
        c.candidate = 7 - c.candidate; /* a different run's timing */
        CHECK_OK(lavr_conv_record_add(&second, &c, NULL));
    }
    CHECK_OK(lavr_conv_record_merge_into(other, &first));
    CHECK_OK(lavr_conv_record_merge_into(other, &second));
    CHECK_OK(lavr_conv_record_read(other, &back));
    CHECK(back.n == 15);
    for (int64_t i = 0; i < 15; i++) {
        const lavr_conv_choice c = choice(i);
        const lavr_conv_choice *got = lavr_conv_record_find(&back, c.key);
        CHECK(got && got->candidate == (i < 10 ? c.candidate : 7 - c.candidate));
    }
    lavr_conv_record_free(&back);
    /* a cache file for another tag is replaced by the merge */
    lavr_conv_record foreign;
    lavr_conv_record_init(&foreign, &tags[2]);
    CHECK_OK(lavr_conv_record_write(path, &foreign));
    CHECK_OK(lavr_conv_record_merge_into(path, &first));
    CHECK_OK(lavr_conv_record_read(path, &back));
    CHECK(lavr_conv_record_same_tag(&back.tag, &H200) && same_choices(&back, &first));
    lavr_conv_record_free(&back);
    /* a directory that cannot be made: an error the caller turns into a warning */
    snprintf(other, sizeof other, "%s/engines.h5/below/x.h5", dir);
    CHECK(lavr_conv_record_merge_into(other, &first) != LAVR_OK);
    lavr_conv_record_free(&first);
    lavr_conv_record_free(&second);
    lavr_conv_record_free(&foreign);
    lavr_conv_record_free(&r);

    /* the cache path: LAVR_CACHE_DIR, then XDG_CACHE_HOME/lavr, then HOME/.cache/lavr; named by the tag */
    char cache[2048];
    setenv("LAVR_CACHE_DIR", "/c/own", 1);
    setenv("XDG_CACHE_HOME", "/c/xdg", 1);
    setenv("HOME", "/c/home", 1);
    CHECK_OK(lavr_conv_record_cache_path(&H200, cache, sizeof cache));
    CHECK_MSG(!strcmp(cache, "/c/own/conv-engines-NVIDIA_H200-sm90-cudnn91900-tune8.h5"), "%s", cache);
    unsetenv("LAVR_CACHE_DIR");
    CHECK_OK(lavr_conv_record_cache_path(&tags[0], cache, sizeof cache));
    CHECK_MSG(!strcmp(cache, "/c/xdg/lavr/conv-engines-NVIDIA_H100_80GB_HBM3-sm90-cudnn91900-tune8.h5"), "%s", cache);
    unsetenv("XDG_CACHE_HOME");
    CHECK_OK(lavr_conv_record_cache_path(&H200, cache, sizeof cache));
    CHECK_MSG(!strcmp(cache, "/c/home/.cache/lavr/conv-engines-NVIDIA_H200-sm90-cudnn91900-tune8.h5"), "%s", cache);
    unsetenv("HOME");
    CHECK_FAILS(lavr_conv_record_cache_path(&H200, cache, sizeof cache), LAVR_E_IO);
    lavr_error_clear();

    char cmd[1200];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", dir);
    CHECK(system(cmd) == 0);
    return check_summary("test_conv_record");
}
