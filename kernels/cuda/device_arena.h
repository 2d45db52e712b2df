/* The per-rank device memory arena: one cudaMalloc of the cap (--gpu-mem) at creation, aligned
 * first-fit sub-allocations with coalescing frees, and a high-water mark; a request that does not fit
 * is a LAVR_E_NOMEM naming the request, the cap, the use and the peak, never a CUDA OOM later.
 * Not thread-safe: one owner thread per arena. Callable from C11. */
#ifndef LAVR_KERNELS_CUDA_DEVICE_ARENA_H
#define LAVR_KERNELS_CUDA_DEVICE_ARENA_H

#include <stddef.h>

#ifdef __cplusplus
extern "C" {
#endif

#include "core/status.h"

#define LAVR_DEVICE_ARENA_ALIGN 256 /* cuBLASLt and vector loads want 16+ bytes; 256 keeps every view aligned */
/* With cap 0 the arena takes what the current device has free minus this headroom (CUDA context
 * growth, cuBLASLt workspaces and NCCL buffers live outside the arena). */
#define LAVR_DEVICE_ARENA_HEADROOM ((size_t)1 << 30)

typedef struct lavr_device_arena lavr_device_arena;

/* Reserves cap_bytes (rounded up to the alignment) on the current device. name appears in messages
 * ("cuda:0"). */
lavr_status lavr_device_arena_create(const char *name, size_t cap_bytes, lavr_device_arena **out);
/* Releases the reservation (outstanding allocations become invalid). NULL is allowed. */
void lavr_device_arena_destroy(lavr_device_arena *arena);
/* A block of at least `bytes` (0 is allowed), LAVR_DEVICE_ARENA_ALIGN aligned, uninitialised. */
lavr_status lavr_device_arena_alloc(lavr_device_arena *arena, size_t bytes, const char *what, void **out);
/* Returns a block to the arena; NULL is ignored, a pointer the arena did not give is LAVR_E_INTERNAL. */
lavr_status lavr_device_arena_free(lavr_device_arena *arena, void *ptr);

size_t lavr_device_arena_cap(const lavr_device_arena *arena);
size_t lavr_device_arena_used(const lavr_device_arena *arena);  /* bytes in live blocks (aligned sizes) */
size_t lavr_device_arena_peak(const lavr_device_arena *arena);  /* high-water mark of used */
void lavr_device_arena_reset_peak(lavr_device_arena *arena);   /* high-water mark := what is in use now */
/* "cuda:0: peak 21.30 GiB of 22.00 GiB cap" for the end-of-run report. */
void lavr_device_arena_describe(const lavr_device_arena *arena, char *buf, size_t len);

#ifdef __cplusplus
}
#endif

#endif
