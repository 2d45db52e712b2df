/* Per-rank memory arena: every large buffer of a rank is taken from one arena with a hard byte cap
 * and a high-water mark, so running out is a clear error naming the request, not a crash. */
#ifndef LAVR_ARENA_H
#define LAVR_ARENA_H

#include <stddef.h>

#include "core/status.h"

typedef struct lavr_arena lavr_arena;

/* cap_bytes 0 means no cap. name appears in error messages ("host", "cuda:0"). */
lavr_status lavr_arena_create(const char *name, size_t cap_bytes, lavr_arena **out);
/* Frees what is still allocated and the arena itself. NULL is allowed. */
void lavr_arena_destroy(lavr_arena *arena);
/* 64-byte aligned, uninitialised. `what` names the request for the error message. */
lavr_status lavr_arena_alloc(lavr_arena *arena, size_t bytes, const char *what, void **out);
void lavr_arena_free(lavr_arena *arena, void *ptr);

size_t lavr_arena_used(const lavr_arena *arena);
size_t lavr_arena_peak(const lavr_arena *arena);
size_t lavr_arena_cap(const lavr_arena *arena);
const char *lavr_arena_name(const lavr_arena *arena);

#endif
