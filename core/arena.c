/* Host implementation of the arena: malloc with a 64-byte header holding the size, plus byte
 * accounting under a mutex (kernels may allocate scratch from worker threads). */
#include "core/arena.h"

#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/units.h"

#define ARENA_HEADER 64

struct lavr_arena {
    char name[32];
    size_t cap, used, peak;
    pthread_mutex_t lock;
};

lavr_status lavr_arena_create(const char *name, size_t cap_bytes, lavr_arena **out) {
    lavr_arena *a = calloc(1, sizeof *a);
    if (!a) return LAVR_FAIL(LAVR_E_NOMEM, "cannot allocate arena '%s'", name);
    snprintf(a->name, sizeof a->name, "%s", name);
    a->cap = cap_bytes;
    pthread_mutex_init(&a->lock, NULL);
    *out = a;
    return LAVR_OK;
}

void lavr_arena_destroy(lavr_arena *arena) {
    if (!arena) return;
    pthread_mutex_destroy(&arena->lock);
    free(arena);
}

lavr_status lavr_arena_alloc(lavr_arena *arena, size_t bytes, const char *what, void **out) {
    *out = NULL;
    pthread_mutex_lock(&arena->lock);
    size_t used = arena->used;
    int over = arena->cap && (bytes > arena->cap || used > arena->cap - bytes);
    if (!over) arena->used += bytes;
    if (arena->used > arena->peak) arena->peak = arena->used;
    pthread_mutex_unlock(&arena->lock);
    if (over) {
        char req[32], cap[32], cur[32];
        lavr_format_bytes(bytes, req, sizeof req);
        lavr_format_bytes(arena->cap, cap, sizeof cap);
        lavr_format_bytes(used, cur, sizeof cur);
        return LAVR_FAIL(LAVR_E_NOMEM, "memory cap of arena '%s' exceeded: request of %s for %s, cap %s, in use %s",
                         arena->name, req, what ? what : "(unnamed)", cap, cur);
    }
    unsigned char *p = NULL;
    if (posix_memalign((void **)&p, 64, bytes + ARENA_HEADER) != 0 || !p) {
        pthread_mutex_lock(&arena->lock);
        arena->used -= bytes;
        pthread_mutex_unlock(&arena->lock);
        char req[32];
        lavr_format_bytes(bytes, req, sizeof req);
        return LAVR_FAIL(LAVR_E_NOMEM, "host out of memory: request of %s for %s in arena '%s'", req,
                         what ? what : "(unnamed)", arena->name);
    }
    memcpy(p, &bytes, sizeof bytes);
    *out = p + ARENA_HEADER;
    return LAVR_OK;
}

void lavr_arena_free(lavr_arena *arena, void *ptr) {
    if (!ptr) return;
    unsigned char *p = (unsigned char *)ptr - ARENA_HEADER;
    size_t bytes;
    memcpy(&bytes, p, sizeof bytes);
    pthread_mutex_lock(&arena->lock);
    arena->used -= bytes;
    pthread_mutex_unlock(&arena->lock);
    free(p);
}

size_t lavr_arena_used(const lavr_arena *arena) { return arena->used; }
size_t lavr_arena_peak(const lavr_arena *arena) { return arena->peak; }
size_t lavr_arena_cap(const lavr_arena *arena) { return arena->cap; }
const char *lavr_arena_name(const lavr_arena *arena) { return arena->name; }
