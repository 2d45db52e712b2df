/* Device arena of kernels/cuda/device_arena.h: one cudaMalloc reserved up front, carved by a first-fit
 * list of segments kept sorted by offset (few, large allocations per rank, so a linear list suffices). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "kernels/cuda/cuda_check.h"
#include "kernels/cuda/ops_cuda.h"
#include "kernels/cuda/device_arena.h"
extern "C" {
#include "core/units.h"
}

namespace {

struct segment {
    size_t offset, size;
    int live;
};

} // namespace

struct lavr_device_arena {
    char name[32];
    char *base;
    size_t cap, used, peak;
    segment *seg;
    int nseg, max_seg;
};

static size_t round_up(size_t n) { return (n + LAVR_DEVICE_ARENA_ALIGN - 1) / LAVR_DEVICE_ARENA_ALIGN * LAVR_DEVICE_ARENA_ALIGN; }

lavr_status lavr_device_arena_create(const char *name, size_t cap_bytes, lavr_device_arena **out) {
    *out = NULL;
    size_t free_b = 0, total_b = 0;
    CUDA_TRY(cudaMemGetInfo(&free_b, &total_b));
    char a[32], b[32], c[32];
    if (cap_bytes == 0) {
        if (free_b <= LAVR_DEVICE_ARENA_HEADROOM)
            return LAVR_FAIL(LAVR_E_NOMEM, "device arena '%s': only %s free on the device (%s total)", name,
                             lavr_format_bytes(free_b, a, sizeof a), lavr_format_bytes(total_b, b, sizeof b));
        cap_bytes = free_b - LAVR_DEVICE_ARENA_HEADROOM;
    }
    cap_bytes = round_up(cap_bytes);
    lavr_device_arena *ar = (lavr_device_arena *)calloc(1, sizeof *ar);
    if (!ar) return LAVR_FAIL(LAVR_E_NOMEM, "device arena '%s': host record", name);
    snprintf(ar->name, sizeof ar->name, "%s", name);
    ar->cap = cap_bytes;
    ar->max_seg = 64;
    ar->seg = (segment *)malloc((size_t)ar->max_seg * sizeof(segment));
    if (!ar->seg) {
        free(ar);
        return LAVR_FAIL(LAVR_E_NOMEM, "device arena '%s': segment list", name);
    }
    cudaError_t e = cudaMalloc((void **)&ar->base, cap_bytes);
    if (e != cudaSuccess) {
        cudaGetLastError(); /* clear the sticky-free error state of the failed allocation */
        free(ar->seg);
        free(ar);
        return LAVR_FAIL(LAVR_E_NOMEM, "device arena '%s': cannot reserve the cap of %s (%s free of %s on the device): %s; "
                         "another process may hold the device (nvidia-smi), --gpu-mem sets the share lavr plans for",
                         name, lavr_format_bytes(cap_bytes, a, sizeof a), lavr_format_bytes(free_b, b, sizeof b),
                         lavr_format_bytes(total_b, c, sizeof c), cudaGetErrorString(e));
    }
    ar->seg[0] = segment{0, cap_bytes, 0};
    ar->nseg = 1;
    *out = ar;
    return LAVR_OK;
}

void lavr_device_arena_destroy(lavr_device_arena *arena) {
    if (!arena) return;
    cudaFree(arena->base);
    free(arena->seg);
    free(arena);
}

lavr_status lavr_device_arena_alloc(lavr_device_arena *ar, size_t bytes, const char *what, void **out) {
    *out = NULL;
    const size_t need = round_up(bytes ? bytes : 1);
    int best = -1;
    size_t largest = 0;
    for (int i = 0; i < ar->nseg; i++) {
        if (ar->seg[i].live) continue;
        if (ar->seg[i].size > largest) largest = ar->seg[i].size;
        if (best < 0 && ar->seg[i].size >= need) best = i;
    }
    if (best < 0) {
        char req[32], cap[32], use[32], peak[32], big[32];
        lavr_format_bytes(bytes, req, sizeof req);
        lavr_format_bytes(ar->cap, cap, sizeof cap);
        lavr_format_bytes(ar->used, use, sizeof use);
        lavr_format_bytes(ar->peak, peak, sizeof peak);
        lavr_format_bytes(largest, big, sizeof big);
        if (ar->used + need > ar->cap)
            return LAVR_FAIL(LAVR_E_NOMEM,
                             "device memory cap of arena '%s' exceeded: request of %s for %s, cap %s, in use %s, peak %s",
                             ar->name, req, what ? what : "(unnamed)", cap, use, peak);
        return LAVR_FAIL(LAVR_E_NOMEM,
                         "device arena '%s' fragmented: request of %s for %s, largest free block %s, cap %s, in use %s, "
                         "peak %s",
                         ar->name, req, what ? what : "(unnamed)", big, cap, use, peak);
    }
    if (ar->seg[best].size > need) { /* split: the tail stays free */
        if (ar->nseg == ar->max_seg) {
            segment *grown = (segment *)realloc(ar->seg, (size_t)ar->max_seg * 2 * sizeof(segment));
            if (!grown) return LAVR_FAIL(LAVR_E_NOMEM, "device arena '%s': segment list", ar->name);
            ar->seg = grown;
            ar->max_seg *= 2;
        }
        memmove(&ar->seg[best + 2], &ar->seg[best + 1], (size_t)(ar->nseg - best - 1) * sizeof(segment));
        ar->seg[best + 1] = segment{ar->seg[best].offset + need, ar->seg[best].size - need, 0};
        ar->seg[best].size = need;
        ar->nseg++;
    }
    ar->seg[best].live = 1;
    ar->used += need;
    if (ar->used > ar->peak) ar->peak = ar->used;
    *out = ar->base + ar->seg[best].offset;
    return LAVR_OK;
}

lavr_status lavr_device_arena_free(lavr_device_arena *ar, void *ptr) {
    if (!ptr) return LAVR_OK;
    const char *p = (const char *)ptr;
    int lo = 0, hi = ar->nseg - 1, at = -1;
    if (p >= ar->base && p < ar->base + ar->cap) {
        const size_t off = (size_t)(p - ar->base);
        while (lo <= hi) {
            const int mid = (lo + hi) / 2;
            if (ar->seg[mid].offset == off) {
                at = mid;
                break;
            }
            if (ar->seg[mid].offset < off)
                lo = mid + 1;
            else
                hi = mid - 1;
        }
    }
    if (at < 0 || !ar->seg[at].live)
        return LAVR_FAIL(LAVR_E_INTERNAL, "device arena '%s': free of %p, which is not a live block of it", ar->name, ptr);
    ar->seg[at].live = 0;
    ar->used -= ar->seg[at].size;
    if (at + 1 < ar->nseg && !ar->seg[at + 1].live) { /* merge with the next free segment */
        ar->seg[at].size += ar->seg[at + 1].size;
        memmove(&ar->seg[at + 1], &ar->seg[at + 2], (size_t)(ar->nseg - at - 2) * sizeof(segment));
        ar->nseg--;
    }
    if (at > 0 && !ar->seg[at - 1].live) { /* and with the previous one */
        ar->seg[at - 1].size += ar->seg[at].size;
        memmove(&ar->seg[at], &ar->seg[at + 1], (size_t)(ar->nseg - at - 1) * sizeof(segment));
        ar->nseg--;
    }
    return LAVR_OK;
}

size_t lavr_device_arena_cap(const lavr_device_arena *arena) { return arena->cap; }
size_t lavr_device_arena_used(const lavr_device_arena *arena) { return arena->used; }
size_t lavr_device_arena_peak(const lavr_device_arena *arena) { return arena->peak; }
void lavr_device_arena_reset_peak(lavr_device_arena *arena) { arena->peak = arena->used; }

void lavr_device_arena_describe(const lavr_device_arena *arena, char *buf, size_t len) {
    char peak[32], cap[32];
    snprintf(buf, len, "%s: peak %s of %s cap", arena->name, lavr_format_bytes(arena->peak, peak, sizeof peak),
             lavr_format_bytes(arena->cap, cap, sizeof cap));
}
