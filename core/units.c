/* Parsing and printing of byte sizes and large counts, shared by the CLI, the planner and the
 * arena's error messages. */
#include "core/units.h"

#include <ctype.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <strings.h>

lavr_status lavr_parse_bytes(const char *text, uint64_t *out) {
    char *end = NULL;
    double v = strtod(text, &end);
    if (end == text || !(v >= 0) || isinf(v))
        return LAVR_FAIL(LAVR_E_ARG, "'%s' is not a byte size (examples: 22GiB, 24GB, 512MiB)", text);
    while (*end && isspace((unsigned char)*end)) end++;
    static const struct {
        const char *unit;
        double mult;
    } units[] = {{"", 1},          {"b", 1},           {"k", 1024.0},      {"kib", 1024.0},
                 {"kb", 1e3},      {"m", 1048576.0},   {"mib", 1048576.0}, {"mb", 1e6},
                 {"g", 1073741824.0}, {"gib", 1073741824.0}, {"gb", 1e9}, {"t", 1099511627776.0},
                 {"tib", 1099511627776.0}, {"tb", 1e12}};
    for (size_t i = 0; i < sizeof units / sizeof units[0]; i++) {
        if (strcasecmp(end, units[i].unit) == 0) {
            double bytes = v * units[i].mult;
            if (bytes > 1.8e19) return LAVR_FAIL(LAVR_E_ARG, "byte size '%s' is too large", text);
            *out = (uint64_t)llround(bytes);
            return LAVR_OK;
        }
    }
    return LAVR_FAIL(LAVR_E_ARG, "unknown unit in byte size '%s' (use B, KiB, MiB, GiB, TiB, KB, MB, GB or TB)", text);
}

const char *lavr_format_bytes(uint64_t bytes, char *buf, size_t len) {
    static const char *names[] = {"B", "KiB", "MiB", "GiB", "TiB"};
    double v = (double)bytes;
    int u = 0;
    while (v >= 1024.0 && u < 4) {
        v /= 1024.0;
        u++;
    }
    if (u == 0) snprintf(buf, len, "%llu B", (unsigned long long)bytes);
    else snprintf(buf, len, "%.2f %s", v, names[u]);
    return buf;
}

const char *lavr_format_count(uint64_t n, char *buf, size_t len) {
    char digits[32];
    int nd = snprintf(digits, sizeof digits, "%llu", (unsigned long long)n);
    size_t o = 0;
    for (int i = 0; i < nd && o + 1 < len; i++) {
        if (i > 0 && (nd - i) % 3 == 0 && o + 2 < len) buf[o++] = ',';
        buf[o++] = digits[i];
    }
    buf[o] = 0;
    return buf;
}
