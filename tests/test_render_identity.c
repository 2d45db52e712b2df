/* The render's checkpoint identity (ranks/aux_checkpoint.c) includes the DiT's precision: a checkpoint written
 * without --fp8 is not resumed by a render with --fp8 (nor the reverse); the refusal names the field. The same
 * render (same fp8) finds it. */
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "check.h"
#include "ranks/aux_internal.h"
#include "tiny_model.h"

static char dir[512], model[600], stage[600];

/* the identity of a render with these options; the conditioning is given, so no input file is read */
static void identity(lavr_aux_options *o, aux_rank *a) {
    memset(a, 0, sizeof *a);
    a->o = o;
    lavr_h5file *f = NULL;
    CHECK_OK(lavr_h5_open(model, &f));
    CHECK_OK(aux_identity(a, f));
    CHECK_OK(lavr_h5_close(f));
}

/* one committed checkpoint after clip 1 with the identity of a, a single rank file */
static void write_checkpoint(const aux_rank *a) {
    lavr_ckpt_writer *w = NULL;
    lavr_ckpt_file file;
    CHECK_OK(lavr_ckpt_begin(stage, 4, 0, &w));
    CHECK_OK(lavr_ckpt_put_int(w, "blocks_done", 4));
    CHECK_OK(lavr_ckpt_finish(w, &file));
    lavr_ckpt_manifest m = {1, 4, "steps=1,tp=1,pp=1,aux=1", {a->model_id, a->inputs_id}, 1, &file};
    CHECK_OK(lavr_ckpt_commit(stage, &m));
}

int main(void) {
    const char *tmp = getenv("LAVR_TEST_TMP");
    snprintf(dir, sizeof dir, "%s/render_identity.XXXXXX", tmp ? tmp : "/tmp");
    if (!mkdtemp(dir)) {
        perror("mkdtemp");
        return 1;
    }
    snprintf(model, sizeof model, "%s/tiny.h5", dir);
    snprintf(stage, sizeof stage, "%s/job.stage", dir);
    lavr_model_config cfg;
    CHECK_OK(tiny_model_write(model, 7, 0, 0, &cfg));

    lavr_conditioning cond;
    memset(&cond, 0, sizeof cond);
    memset(cond.image_sha, 'a', 64), memset(cond.audio_sha, 'b', 64), memset(cond.prompt_sha, 'c', 64);
    lavr_aux_options o;
    memset(&o, 0, sizeof o);
    o.model_path = model, o.cond = &cond, o.size = "64*64", o.stage_dir = stage, o.resume = LAVR_RESUME_AUTO;
    o.layout_text = "steps=1,tp=1,pp=1,aux=1";
    aux_rank bf16, fp8;
    identity(&o, &bf16);
    CHECK(strstr(bf16.model_id, " fp8=0") != NULL);
    o.fp8 = 1;
    identity(&o, &fp8);
    CHECK(strstr(fp8.model_id, " fp8=1") != NULL);
    CHECK(strcmp(bf16.inputs_id, fp8.inputs_id) == 0);

    /* a bf16 render stopped after clip 1 */
    CHECK(mkdir(stage, 0777) == 0);
    write_checkpoint(&bf16);
    /* the same render continues from it */
    CHECK_OK(aux_find_resume(&bf16));
    CHECK(bf16.start_block == 4 && bf16.resume_from != NULL);
    lavr_ckpt_close(bf16.resume_from);
    /* with --fp8: refused (auto and yes), the field named, the checkpoint left alone */
    CHECK_FAILS(aux_find_resume(&fp8), LAVR_E_ARG);
    const char *msg = lavr_error_message();
    printf("refusal: %s\n", msg);
    CHECK(strstr(msg, "holds checkpoints of another render") != NULL);
    CHECK(strstr(msg, "checkpoint 'fp8=0', this run 'fp8=1'") != NULL);
    CHECK(strstr(msg, "--resume no") != NULL);
    o.resume = LAVR_RESUME_YES;
    CHECK_FAILS(aux_find_resume(&fp8), LAVR_E_ARG);
    CHECK(fp8.start_block == 0 && fp8.resume_from == NULL);
    o.resume = LAVR_RESUME_AUTO;
    o.fp8 = 0;
    identity(&o, &bf16);
    CHECK_OK(aux_find_resume(&bf16));
    CHECK(bf16.start_block == 4);
    lavr_ckpt_close(bf16.resume_from);

    CHECK_OK(lavr_ckpt_remove_all(stage));
    rmdir(stage);
    unlink(model);
    rmdir(dir);
    return check_summary("test_render_identity");
}
