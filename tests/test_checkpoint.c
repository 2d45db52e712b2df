/* Checkpoint store (io/checkpoint.h): 3 "ranks" write parts of split tensors, whole tensors, ints and
 * strings; after commit any range reads back equal to the formula it was written from; torn, edited,
 * foreign and corrupted checkpoints are skipped for the newest good one; prune keeps the newest K. */
#include <ftw.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "check.h"
#include "core/tensor.h"
#include "io/checkpoint.h"

/* value of element (i, j, k) of the test tensors: small integers, exact in bf16 */
static double value_at(int64_t i, int64_t j, int64_t k) { return (double)(i * 64 + j * 8 + k) - 100.0; }

static char stage[512];
static lavr_arena *arena;
static const lavr_ckpt_identity identity = {"tiny.h5 sha256=abc", "image=1 audio=2 prompt=3 seed=7"};

/* [n0, n1, n2] tensor holding value_at(o0 + i, o1 + j, k) */
static lavr_tensor make_box(lavr_dtype dtype, int64_t o0, int64_t n0, int64_t o1, int64_t n1, int64_t n2) {
    lavr_tensor t;
    int64_t shape[3] = {n0, n1, n2};
    lavr_tensor_alloc(arena, dtype, 3, shape, "test box", &t);
    for (int64_t i = 0; i < n0; i++)
        for (int64_t j = 0; j < n1; j++)
            for (int64_t k = 0; k < n2; k++) lavr_tensor_set(&t, (int64_t[]){i, j, k}, value_at(o0 + i, o1 + j, k));
    return t;
}

/* t equals value_at over the box starting at (o0, o1, 0) */
static int box_matches(const lavr_tensor *t, lavr_dtype dtype, int64_t o0, int64_t n0, int64_t o1, int64_t n1,
                       int64_t n2) {
    if (t->dtype != dtype || t->ndim != 3 || t->shape[0] != n0 || t->shape[1] != n1 || t->shape[2] != n2) return 0;
    for (int64_t i = 0; i < n0; i++)
        for (int64_t j = 0; j < n1; j++)
            for (int64_t k = 0; k < n2; k++)
                if (lavr_tensor_get(t, (int64_t[]){i, j, k}) != value_at(o0 + i, o1 + j, k)) return 0;
    return 1;
}

/* Writes a complete 3-rank checkpoint after `clip` clips: kv/k [4, 5, 3] bf16 split over ranks 0/1
 * along heads (dim 0, 1 + 3 heads), vae/cache [2, 6, 4] f32 split over all three ranks along dim 1
 * (2 + 3 + 1), writer state whole on rank 2. */
static void write_checkpoint(int64_t clip, const char *inputs) {
    lavr_ckpt_file files[3];
    for (int r = 0; r < 3; r++) {
        lavr_ckpt_writer *w;
        CHECK_OK(lavr_ckpt_begin(stage, 4 * clip, r, &w));
        if (r < 2) {
            int64_t h0 = r == 0 ? 0 : 1, hn = r == 0 ? 1 : 3;
            lavr_tensor k = make_box(LAVR_BF16, h0, hn, 0, 5, 3);
            CHECK_OK(lavr_ckpt_put_part(w, "kv/k", &k, 0, h0, 4));
            lavr_tensor_free(&k);
        }
        int64_t c0 = (int64_t[]){0, 2, 5}[r], cn = (int64_t[]){2, 3, 1}[r];
        lavr_tensor cache = make_box(LAVR_F32, 0, 2, c0, cn, 4);
        CHECK_OK(lavr_ckpt_put_part(w, "vae/cache", &cache, 1, c0, 6));
        lavr_tensor_free(&cache);
        if (r == 2) {
            lavr_tensor frames = make_box(LAVR_F32, 0, 1, 0, 2, 2);
            CHECK_OK(lavr_ckpt_put_tensor(w, "writer/last_frames", &frames));
            lavr_tensor_free(&frames);
            CHECK_OK(lavr_ckpt_put_string(w, "writer_path", "out.mp4"));
        }
        CHECK_OK(lavr_ckpt_put_int(w, "blocks_done", 4 * clip + r));
        CHECK_OK(lavr_ckpt_finish(w, &files[r]));
        CHECK(files[r].bytes > 0 && strlen(files[r].sha256) == 64);
    }
    lavr_ckpt_manifest m = {clip, 4 * clip, "steps=1,tp=2,pp=1,aux=1", {identity.model, inputs}, 3, files};
    CHECK_OK(lavr_ckpt_commit(stage, &m));
}

static char *ckpt_file(int64_t clip, const char *name) {
    static char path[700];
    snprintf(path, sizeof path, "%s/ckpt-%06lld/%s", stage, (long long)(4 * clip), name);
    return path;
}

static int exists(const char *path) {
    struct stat s;
    return stat(path, &s) == 0;
}

static long file_size(const char *path) {
    struct stat s;
    return stat(path, &s) == 0 ? (long)s.st_size : -1;
}

/* Overwrites one byte at offset (negative: from the end) */
static void poke(const char *path, long offset, char byte) {
    FILE *f = fopen(path, "r+b");
    CHECK(f != NULL);
    if (!f) return;
    fseek(f, offset, offset < 0 ? SEEK_END : SEEK_SET);
    fputc(byte, f);
    fclose(f);
}

static int64_t found_clip(lavr_ckpt_verify verify, const lavr_ckpt_identity *id, lavr_ckpt_search *s) {
    CHECK_OK(lavr_ckpt_find_latest(stage, id, verify, s));
    int64_t clip = s->found ? lavr_ckpt_clip(s->found) : -1;
    lavr_ckpt_close(s->found);
    s->found = NULL;
    return clip;
}

static void test_policy(void) {
    lavr_ckpt_policy p = {2, 0, 1};
    CHECK_OK(lavr_ckpt_policy_check(&p));
    CHECK(!lavr_ckpt_policy_due(&p, 1, 0, 1e9)); /* time-based is off */
    CHECK(lavr_ckpt_policy_due(&p, 2, 0, 0));
    CHECK(!lavr_ckpt_policy_due(&p, 3, 2, 0));
    CHECK(lavr_ckpt_policy_due(&p, 4, 2, 0));
    lavr_ckpt_policy q = {0, 600, 3};
    CHECK(!lavr_ckpt_policy_due(&q, 5, 4, 599.9));
    CHECK(lavr_ckpt_policy_due(&q, 5, 4, 600));
    CHECK(!lavr_ckpt_policy_due(&q, 4, 4, 1e9)); /* nothing new since the last one */
    lavr_ckpt_policy off = {0, 0, 1};
    CHECK(!lavr_ckpt_policy_due(&off, 100, 0, 1e9));
    lavr_ckpt_policy bad_keep = {1, 0, 0}, bad_clips = {-1, 0, 1}, bad_secs = {0, -5, 1};
    CHECK_FAILS(lavr_ckpt_policy_check(&bad_keep), LAVR_E_ARG);
    CHECK(strstr(lavr_error_message(), "at least 1") != NULL);
    CHECK_FAILS(lavr_ckpt_policy_check(&bad_clips), LAVR_E_ARG);
    CHECK_FAILS(lavr_ckpt_policy_check(&bad_secs), LAVR_E_ARG);
}

static void test_read_back(void) {
    lavr_ckpt_search s;
    CHECK_OK(lavr_ckpt_find_latest(stage, &identity, LAVR_CKPT_VERIFY_SHA256, &s));
    CHECK(s.found && s.skipped_torn == 0 && s.skipped_other == 0);
    if (!s.found) return;
    lavr_ckpt *c = s.found;
    CHECK(lavr_ckpt_clip(c) == 2 && lavr_ckpt_blocks(c) == 8 && lavr_ckpt_ranks(c) == 3);
    CHECK(strcmp(lavr_ckpt_layout(c), "steps=1,tp=2,pp=1,aux=1") == 0);
    CHECK(strstr(lavr_ckpt_dir(c), "ckpt-000008") != NULL);

    lavr_tensor t;
    CHECK_OK(lavr_ckpt_read_tensor(c, "kv/k", arena, &t));
    CHECK(box_matches(&t, LAVR_BF16, 0, 4, 0, 5, 3));
    lavr_tensor_free(&t);
    /* heads 0..1 cross the rank 0 / rank 1 boundary (another tp split) */
    CHECK_OK(lavr_ckpt_read_range(c, "kv/k", 0, 0, 2, arena, &t));
    CHECK(box_matches(&t, LAVR_BF16, 0, 2, 0, 5, 3));
    lavr_tensor_free(&t);
    /* a range along a dim that was not split: tokens 1..3 of every head, from both files */
    CHECK_OK(lavr_ckpt_read_range(c, "kv/k", 1, 1, 3, arena, &t));
    CHECK(box_matches(&t, LAVR_BF16, 0, 4, 1, 3, 3));
    lavr_tensor_free(&t);
    /* three parts along dim 1, read across all of them and inside one */
    CHECK_OK(lavr_ckpt_read_range(c, "vae/cache", 1, 1, 5, arena, &t));
    CHECK(box_matches(&t, LAVR_F32, 0, 2, 1, 5, 4));
    lavr_tensor_free(&t);
    CHECK_OK(lavr_ckpt_read_range(c, "vae/cache", 1, 3, 1, arena, &t));
    CHECK(box_matches(&t, LAVR_F32, 0, 2, 3, 1, 4));
    lavr_tensor_free(&t);
    CHECK_OK(lavr_ckpt_read_tensor(c, "writer/last_frames", arena, &t));
    CHECK(box_matches(&t, LAVR_F32, 0, 1, 0, 2, 2));
    lavr_tensor_free(&t);

    int64_t v = -1;
    char *str = NULL;
    CHECK_OK(lavr_ckpt_get_int(c, 1, "blocks_done", &v));
    CHECK(v == 9);
    CHECK_OK(lavr_ckpt_get_string(c, 2, "writer_path", &str));
    CHECK(str && strcmp(str, "out.mp4") == 0);
    free(str);
    /* an optional value: there on rank 2, absent (a part of an older lavr) on rank 1 */
    str = NULL;
    CHECK_OK(lavr_ckpt_get_optional_string(c, 2, "writer_path", &str));
    CHECK(str && strcmp(str, "out.mp4") == 0);
    free(str);
    str = (char *)"unset";
    CHECK_OK(lavr_ckpt_get_optional_string(c, 1, "writer_path", &str));
    CHECK(str == NULL);

    CHECK_FAILS(lavr_ckpt_read_tensor(c, "kv/v", arena, &t), LAVR_E_FORMAT);
    CHECK(strstr(lavr_error_message(), "'kv/v' is not in checkpoint") != NULL);
    CHECK_FAILS(lavr_ckpt_read_range(c, "kv/k", 0, 3, 2, arena, &t), LAVR_E_FORMAT);
    CHECK_FAILS(lavr_ckpt_get_int(c, 3, "blocks_done", &v), LAVR_E_FORMAT);
    CHECK(strstr(lavr_error_message(), "no rank 3") != NULL);
    CHECK_FAILS(lavr_ckpt_get_int(c, 0, "lavr_rank", &v), LAVR_E_ARG); /* reserved name */
    lavr_ckpt_close(c);
}

/* A rank file with a tensor whose parts leave a gap: reading it is refused, not zero-filled. */
static void test_gap_refused(void) {
    lavr_ckpt_file files[2];
    for (int r = 0; r < 2; r++) {
        lavr_ckpt_writer *w;
        CHECK_OK(lavr_ckpt_begin(stage, 4, r, &w));
        lavr_tensor part = make_box(LAVR_F32, r * 3, 1, 0, 2, 2); /* heads 0 and 3 of 4 */
        CHECK_OK(lavr_ckpt_put_part(w, "kv/k", &part, 0, r * 3, 4));
        lavr_tensor_free(&part);
        CHECK_OK(lavr_ckpt_finish(w, &files[r]));
    }
    lavr_ckpt_manifest m = {1, 4, "steps=1,tp=2", identity, 2, files};
    CHECK_OK(lavr_ckpt_commit(stage, &m));
    lavr_ckpt_search s;
    CHECK_OK(lavr_ckpt_find_latest(stage, &identity, LAVR_CKPT_VERIFY_SIZES, &s));
    CHECK(s.found && lavr_ckpt_clip(s.found) == 1);
    if (!s.found) return;
    lavr_tensor t;
    CHECK_FAILS(lavr_ckpt_read_tensor(s.found, "kv/k", arena, &t), LAVR_E_FORMAT);
    CHECK(strstr(lavr_error_message(), "cover 8 of the 16") != NULL);
    CHECK_OK(lavr_ckpt_read_range(s.found, "kv/k", 0, 3, 1, arena, &t));
    CHECK(box_matches(&t, LAVR_F32, 3, 1, 0, 2, 2));
    lavr_tensor_free(&t);
    lavr_ckpt_close(s.found);
}

static void test_torn_and_foreign(void) {
    lavr_ckpt_search s;
    write_checkpoint(4, identity.inputs);
    CHECK(found_clip(LAVR_CKPT_VERIFY_SIZES, &identity, &s) == 4);

    /* a newer checkpoint whose manifest never got written (crash while ranks were writing) */
    lavr_ckpt_writer *w;
    CHECK_OK(lavr_ckpt_begin(stage, 20, 0, &w));
    lavr_ckpt_abandon(w);
    CHECK(found_clip(LAVR_CKPT_VERIFY_SIZES, &identity, &s) == 4 && s.skipped_torn == 1);

    /* clip 6 complete, then its manifest truncated by 10 bytes */
    write_checkpoint(6, identity.inputs);
    CHECK(found_clip(LAVR_CKPT_VERIFY_SIZES, &identity, &s) == 6);
    const char *man6 = ckpt_file(6, "MANIFEST");
    CHECK(truncate(man6, file_size(man6) - 10) == 0);
    CHECK(found_clip(LAVR_CKPT_VERIFY_SIZES, &identity, &s) == 4 && s.skipped_torn == 2);

    /* clip 7 complete, then one character of its manifest edited (checksum line intact) */
    write_checkpoint(7, identity.inputs);
    poke(ckpt_file(7, "MANIFEST"), 20, 'x');
    CHECK(found_clip(LAVR_CKPT_VERIFY_SIZES, &identity, &s) == 4 && s.skipped_torn == 3);

    /* clip 8 complete, then a rank file grows: size check catches it */
    write_checkpoint(8, identity.inputs);
    FILE *f = fopen(ckpt_file(8, "rank-1.h5"), "ab");
    CHECK(f && fputc(0, f) == 0 && fclose(f) == 0);
    CHECK(found_clip(LAVR_CKPT_VERIFY_SIZES, &identity, &s) == 4 && s.skipped_torn == 4);

    /* clip 9 complete, then one byte of a rank file flipped: only the SHA-256 check catches it */
    write_checkpoint(9, identity.inputs);
    poke(ckpt_file(9, "rank-2.h5"), -1, 0x5a);
    CHECK(found_clip(LAVR_CKPT_VERIFY_SIZES, &identity, &s) == 9);
    CHECK(found_clip(LAVR_CKPT_VERIFY_SHA256, &identity, &s) == 4 && s.skipped_torn == 5);

    /* clip 10 complete but for other inputs: skipped with a reason naming both */
    write_checkpoint(10, "image=1 audio=2 prompt=4 seed=7");
    CHECK(found_clip(LAVR_CKPT_VERIFY_SHA256, &identity, &s) == 4 && s.skipped_other == 1);
    CHECK_MSG(strstr(s.other_reason, "ckpt-000040 is for other inputs") && strstr(s.other_reason, "prompt=4") &&
                  strstr(s.other_reason, "prompt=3"),
              "reason: %s", s.other_reason);
    lavr_ckpt_identity other_model = {"s2v.h5", identity.inputs};
    CHECK(found_clip(LAVR_CKPT_VERIFY_SIZES, &other_model, &s) == -1 && s.skipped_other == 6);
    CHECK(strstr(s.other_reason, "another model") != NULL);

    /* beginning clip 10 again removes its manifest first: a crash now leaves it torn, not stale; a part
     * given up (a failed write) is deleted, the others stay */
    CHECK_OK(lavr_ckpt_begin(stage, 40, 5, &w));
    CHECK(exists(ckpt_file(10, "rank-5.h5")));
    lavr_ckpt_abandon(w);
    CHECK(!exists(ckpt_file(10, "MANIFEST")) && !exists(ckpt_file(10, "rank-5.h5")));

    /* prune keep 2 counts committed manifests (files are not checked): 9 and 8 stay, and 10 (torn,
     * but newer than them); 7 and 6 (bad manifests) and everything older go */
    CHECK_OK(lavr_ckpt_prune(stage, 2));
    CHECK(exists(ckpt_file(10, "rank-1.h5")) && exists(ckpt_file(9, "MANIFEST")) && exists(ckpt_file(8, "MANIFEST")));
    for (int64_t clip = 1; clip <= 7; clip++) CHECK_MSG(!exists(ckpt_file(clip, "")), "ckpt %lld still there", (long long)clip);
    CHECK(found_clip(LAVR_CKPT_VERIFY_SHA256, &identity, &s) == -1 && s.skipped_torn == 3);
}

static void test_commit_errors(void) {
    lavr_ckpt_file files[1];
    lavr_ckpt_writer *w;
    CHECK_OK(lavr_ckpt_begin(stage, 80, 0, &w));
    CHECK_FAILS(lavr_ckpt_put_int(w, "bad name", 1), LAVR_E_ARG);
    CHECK_FAILS(lavr_ckpt_put_int(w, "lavr_blocks", 1), LAVR_E_ARG);
    CHECK_OK(lavr_ckpt_finish(w, &files[0]));
    lavr_ckpt_manifest m = {20, 80, "steps=1", {"a\nb", "x"}, 1, files};
    CHECK_FAILS(lavr_ckpt_commit(stage, &m), LAVR_E_ARG);
    m.id = identity;
    files[0].bytes += 1;
    CHECK_FAILS(lavr_ckpt_commit(stage, &m), LAVR_E_IO);
    CHECK(strstr(lavr_error_message(), "its rank wrote") != NULL);
    CHECK(!exists(ckpt_file(20, "MANIFEST")));
    files[0].bytes -= 1;
    CHECK_OK(lavr_ckpt_commit(stage, &m));
    CHECK(exists(ckpt_file(20, "MANIFEST")) && !exists(ckpt_file(20, "MANIFEST.tmp")));
}

static int remove_entry(const char *path, const struct stat *sb, int flag, struct FTW *ftw) {
    (void)sb, (void)flag, (void)ftw;
    return remove(path);
}

int main(void) {
    const char *tmp = getenv("LAVR_TEST_TMP");
    snprintf(stage, sizeof stage, "%s/ckpt-test-%d", tmp ? tmp : "/tmp", (int)getpid());
    CHECK_OK(lavr_arena_create("test", 0, &arena));

    lavr_ckpt_search s;
    CHECK(found_clip(LAVR_CKPT_VERIFY_SHA256, &identity, &s) == -1 && s.skipped_torn == 0); /* no stage dir yet */
    test_policy();
    test_gap_refused();
    write_checkpoint(2, identity.inputs);
    test_read_back();
    test_torn_and_foreign();
    test_commit_errors();

    nftw(stage, remove_entry, 16, FTW_DEPTH | FTW_PHYS);
    lavr_arena_destroy(arena);
    return check_summary("test_checkpoint");
}
