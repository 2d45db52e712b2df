/* The render summary JSON of ranks/summary.h: one object, numbers in SI units (seconds, bytes, MiB
 * for memory), null for what the writing rank does not know. */
#include "ranks/summary.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "core/json.h"
#include "core/log.h"

static const char *exit_name(lavr_status st) {
    return st == LAVR_OK ? "finished" : st == LAVR_E_STOPPED ? "stopped" : "failed";
}

static void number_or_null(FILE *f, int known, double value, const char *format) {
    if (known) fprintf(f, format, value);
    else fputs("null", f);
}

static void write_rank(FILE *f, const lavr_rank_stats *r, double render_s) {
    fprintf(f, "    {\"rank\": %d, \"role\": ", r->rank);
    lavr_json_write_string(f, r->role);
    fputs(", \"busy_seconds\": ", f);
    number_or_null(f, r->busy_s >= 0, r->busy_s, "%.6f");
    fputs(", \"busy_percent\": ", f);
    number_or_null(f, r->busy_s >= 0 && render_s > 0, 100.0 * r->busy_s / (render_s > 0 ? render_s : 1), "%.2f");
    fprintf(f, ", \"forwards\": %lld, \"peak_rss_mib\": %.2f, \"peak_device_mib\": ", (long long)r->forwards,
            (double)r->peak_kb / 1024.0);
    number_or_null(f, r->device_peak_kb > 0, (double)r->device_peak_kb / 1024.0, "%.2f");
    fprintf(f, ", \"sent_bytes\": %lld, \"received_bytes\": %lld}", (long long)r->sent, (long long)r->received);
}

static void write_body(FILE *f, const lavr_render_summary *s) {
    const int frames_known = s->frames >= 0 && s->fps > 0;
    const double fps = s->render_s > 0 && s->frames_this_run >= 0 ? (double)s->frames_this_run / s->render_s : 0;
    fprintf(f, "{\n  \"exit\": \"%s\",\n  \"exit_code\": %d,\n  \"message\": ", exit_name(s->status),
            lavr_status_exit_code(s->status));
    lavr_json_write_string(f, s->message);
    fputs(",\n  \"origin\": ", f);
    lavr_json_write_string(f, s->origin);
    fprintf(f, ",\n  \"written_by_rank\": %d,\n  \"output\": ", s->writer_rank);
    lavr_json_write_string(f, s->out_path);
    fputs(",\n  \"layout\": ", f);
    lavr_json_write_string(f, s->layout);
    fputs(",\n  \"frames\": ", f);
    number_or_null(f, frames_known, (double)s->frames, "%.0f");
    fputs(",\n  \"frames_this_run\": ", f);
    number_or_null(f, s->frames_this_run >= 0, (double)s->frames_this_run, "%.0f");
    fputs(",\n  \"video_seconds\": ", f);
    number_or_null(f, frames_known, frames_known ? (double)s->frames / s->fps : 0, "%.4f");
    fputs(",\n  \"blocks_done\": ", f);
    number_or_null(f, s->blocks_done >= 0, (double)s->blocks_done, "%.0f");
    fputs(",\n  \"blocks\": ", f);
    number_or_null(f, s->blocks >= 0, (double)s->blocks, "%.0f");
    fprintf(f, ",\n  \"wall_seconds\": %.3f,\n  \"setup_seconds\": %.3f,\n  \"render_seconds\": %.3f,\n  \"fps\": ",
            s->wall_s, s->wall_s - s->render_s, s->render_s);
    number_or_null(f, s->render_s > 0 && s->frames_this_run >= 0, fps, "%.4f");
    fputs(",\n  \"realtime_factor\": ", f);
    number_or_null(f, s->render_s > 0 && s->frames_this_run >= 0 && s->fps > 0, s->fps > 0 ? fps / s->fps : 0, "%.4f");
    fputs(",\n  \"ranks\": [", f);
    for (int i = 0; i < s->nranks; i++) {
        fputs(i ? ",\n" : "\n", f);
        write_rank(f, &s->ranks[i], s->render_s);
    }
    fputs(s->nranks ? "\n  ]\n}\n" : "]\n}\n", f);
}

lavr_status lavr_render_summary_write(const char *path, const lavr_render_summary *s) {
    char partial[4096];
    if (snprintf(partial, sizeof partial, "%s.partial", path) >= (int)sizeof partial)
        return LAVR_FAIL(LAVR_E_ARG, "--summary-json '%s': path too long", path);
    FILE *f = fopen(partial, "w");
    if (!f) return LAVR_FAIL(LAVR_E_IO, "cannot write the summary '%s': %s", partial, strerror(errno));
    write_body(f, s);
    const int failed = ferror(f);
    if (fclose(f) != 0 || failed) {
        remove(partial);
        return LAVR_FAIL(LAVR_E_IO, "cannot write the summary '%s': %s", partial, strerror(errno));
    }
    const int failed_render = s->status != LAVR_OK && s->status != LAVR_E_STOPPED;
    if (!failed_render) {
        if (rename(partial, path) != 0)
            return LAVR_FAIL(LAVR_E_IO, "cannot rename '%s' to '%s': %s", partial, path, strerror(errno));
        return LAVR_OK;
    }
    /* the first failure's summary stays: a rank that fails because another one did (a lost peer) comes
     * later and must not hide the cause */
    const int linked = link(partial, path) == 0, first = linked || errno != EEXIST;
    const int link_errno = errno;
    remove(partial);
    if (!linked && first)
        return LAVR_FAIL(LAVR_E_IO, "cannot link '%s' to '%s': %s", partial, path, strerror(link_errno));
    if (!linked) LOG_DEBUG("%s already holds an earlier failure; kept", path);
    return LAVR_OK;
}

lavr_status lavr_render_summary_forget(const char *path) {
    if (unlink(path) != 0 && errno != ENOENT)
        return LAVR_FAIL(LAVR_E_ARG, "--summary-json '%s': cannot replace it: %s", path, strerror(errno));
    return LAVR_OK;
}

lavr_status lavr_render_summary_write_failed(const char *path, lavr_status failed, lavr_render_summary *s) {
    lavr_error_saved saved;
    lavr_error_save(&saved);
    char message[sizeof saved.text], origin[sizeof saved.origin];
    snprintf(message, sizeof message, "%s", lavr_error_user_message());
    snprintf(origin, sizeof origin, "%s", lavr_error_origin());
    s->status = failed;
    s->message = message;
    s->origin = origin[0] ? origin : NULL;
    if (lavr_render_summary_write(path, s)) LOG_WARN("%s", lavr_error_message());
    return lavr_error_restore(failed, &saved);
}
