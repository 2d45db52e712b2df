/* The engine record's life in a run (kernels/conv_engines.h): preload from the caller's file and the machine cache,
 * write both back when tuning chose new engines. CPU code over io/conv_record.h and the context's record API. */
#include "kernels/conv_engines.h"

#include <stdio.h>
#include <string.h>

#include "core/log.h"

/* Preloads the record at path when it is usable; *taken: the shapes it added. */
static lavr_status preload_from(lavr_ctx *ctx, const char *path, const lavr_conv_record_tag *tag, int64_t *taken) {
    *taken = 0;
    lavr_conv_record r;
    int usable = 0;
    TRY(lavr_conv_record_load(path, tag, &r, &usable));
    lavr_status st = usable ? lavr_ctx_conv_engines_preload(ctx, &r, taken) : LAVR_OK;
    lavr_conv_record_free(&r);
    return st;
}

lavr_status lavr_conv_engines_open(lavr_ctx *ctx, const char *file, int use_cache, lavr_conv_engines *out) {
    memset(out, 0, sizeof *out);
    out->ctx = ctx;
    lavr_conv_record_tag tag;
    if (!lavr_ctx_conv_engines_tag(ctx, &tag)) return LAVR_OK;
    out->active = 1;
    if (file && snprintf(out->file, sizeof out->file, "%s", file) >= (int)sizeof out->file)
        return LAVR_FAIL(LAVR_E_ARG, "conv engine record: path '%s' is too long", file);
    if (use_cache && lavr_conv_record_cache_path(&tag, out->cache, sizeof out->cache)) {
        LOG_INFO("conv engines: no per-machine cache (%s)", lavr_error_message());
        lavr_error_clear();
        out->cache[0] = 0;
    }
    int64_t from_file = 0, from_cache = 0;
    if (out->file[0]) TRY(preload_from(ctx, out->file, &tag, &from_file));
    if (out->cache[0]) TRY(preload_from(ctx, out->cache, &tag, &from_cache));
    char what[384];
    lavr_conv_record_describe(&tag, what, sizeof what);
    LOG_INFO("conv engines for %s: %lld shape%s from %s, %lld from %s; other shapes are tuned", what,
             (long long)from_file, from_file == 1 ? "" : "s", out->file[0] ? out->file : "(no record file)",
             (long long)from_cache, out->cache[0] ? out->cache : "(no cache)");
    return LAVR_OK;
}

lavr_status lavr_conv_engines_save(lavr_conv_engines *e) {
    if (!e->active) return LAVR_OK;
    const int64_t timed = lavr_ctx_conv_engines_timed(e->ctx);
    if (timed == e->saved_timed) return LAVR_OK;
    lavr_conv_record r;
    TRY(lavr_ctx_conv_engines_export(e->ctx, &r));
    lavr_status st = e->file[0] ? lavr_conv_record_write(e->file, &r) : LAVR_OK;
    if (!st && e->cache[0] && lavr_conv_record_merge_into(e->cache, &r)) {
        LOG_WARN("conv engines: the per-machine cache is left alone for this run: %s", lavr_error_message());
        lavr_error_clear();
        e->cache[0] = 0;
    }
    lavr_conv_record_free(&r);
    if (!st) e->saved_timed = timed;
    return st;
}
