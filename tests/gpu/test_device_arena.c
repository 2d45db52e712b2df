/* GPU checks of the device arena (kernels/cuda/device_arena.h): alignment, disjoint usable blocks,
 * the high-water mark, coalescing frees, and the LAVR_E_NOMEM message at the cap. Exits 77 without a GPU. */
#include <cuda_runtime_api.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include "check.h"
#include "kernels/cuda/device_arena.h"
#include "parallel/device.h"

#define MIB ((size_t)1 << 20)

int main(void) {
    if (lavr_device_count() == 0) {
        printf("test_device_arena: no CUDA device, skipped\n");
        return 77;
    }
    lavr_device_arena *a = NULL;
    CHECK_OK(lavr_device_arena_create("cuda:0", 64 * MIB, &a));
    if (!a) return check_summary("test_device_arena");
    CHECK(lavr_device_arena_cap(a) == 64 * MIB && lavr_device_arena_used(a) == 0);

    /* odd sizes: every block aligned, accounted at its rounded size, and writable without overlap */
    void *p[6];
    const size_t sizes[6] = {1, 1000, 10 * MIB + 3, 0, 7 * MIB, 255};
    size_t expect_used = 0;
    for (int i = 0; i < 6; i++) {
        CHECK_OK(lavr_device_arena_alloc(a, sizes[i], "block", &p[i]));
        CHECK(((uintptr_t)p[i] % LAVR_DEVICE_ARENA_ALIGN) == 0);
        const size_t r = sizes[i] ? (sizes[i] + 255) / 256 * 256 : 256;
        expect_used += r;
        CHECK(cudaMemset(p[i], 0x10 + i, sizes[i] ? sizes[i] : 1) == cudaSuccess);
    }
    CHECK(lavr_device_arena_used(a) == expect_used && lavr_device_arena_peak(a) == expect_used);
    for (int i = 0; i < 6; i++) {
        unsigned char first = 0, last = 0;
        const size_t n = sizes[i] ? sizes[i] : 1;
        CHECK(cudaMemcpy(&first, p[i], 1, cudaMemcpyDeviceToHost) == cudaSuccess);
        CHECK(cudaMemcpy(&last, (char *)p[i] + n - 1, 1, cudaMemcpyDeviceToHost) == cudaSuccess);
        CHECK_MSG(first == 0x10 + i && last == 0x10 + i, "block %d overwritten (%x %x)", i, first, last);
    }

    /* over the cap: a clear NOMEM naming the request, the cap and the peak */
    void *big = NULL;
    CHECK_FAILS(lavr_device_arena_alloc(a, 60 * MIB, "kv window", &big), LAVR_E_NOMEM);
    const char *msg = lavr_error_message();
    printf("over the cap: %s\n", msg);
    CHECK(strstr(msg, "request of 60.00 MiB for kv window") && strstr(msg, "cap 64.00 MiB") && strstr(msg, "peak 17."));
    CHECK(big == NULL);

    /* frees coalesce: after freeing everything the whole cap is one block again */
    const size_t peak = lavr_device_arena_peak(a);
    for (int i = 5; i >= 0; i -= 2) CHECK_OK(lavr_device_arena_free(a, p[i]));
    for (int i = 0; i < 6; i += 2) CHECK_OK(lavr_device_arena_free(a, p[i]));
    CHECK(lavr_device_arena_used(a) == 0 && lavr_device_arena_peak(a) == peak);
    CHECK_OK(lavr_device_arena_alloc(a, 64 * MIB, "everything", &big));
    CHECK(lavr_device_arena_peak(a) == 64 * MIB);
    CHECK_FAILS(lavr_device_arena_free(a, (char *)big + 256), LAVR_E_INTERNAL);
    CHECK_OK(lavr_device_arena_free(a, big));

    /* fragmentation is named as such: two 16 MiB holes cannot hold 20 MiB */
    void *q[4];
    for (int i = 0; i < 4; i++) CHECK_OK(lavr_device_arena_alloc(a, 16 * MIB, "quarter", &q[i]));
    CHECK_OK(lavr_device_arena_free(a, q[0]));
    CHECK_OK(lavr_device_arena_free(a, q[2]));
    CHECK_FAILS(lavr_device_arena_alloc(a, 20 * MIB, "frame", &big), LAVR_E_NOMEM);
    CHECK(strstr(lavr_error_message(), "fragmented") != NULL);
    char line[128];
    lavr_device_arena_describe(a, line, sizeof line);
    printf("%s\n", line);
    CHECK(strcmp(line, "cuda:0: peak 64.00 MiB of 64.00 MiB cap") == 0);
    lavr_device_arena_destroy(a);

    /* a cap beyond the card is refused at creation, not at first use */
    size_t free_b = 0, total_b = 0;
    CHECK(cudaMemGetInfo(&free_b, &total_b) == cudaSuccess);
    CHECK_FAILS(lavr_device_arena_create("cuda:0", total_b + 1024 * MIB, &a), LAVR_E_NOMEM);
    printf("too large: %s\n", lavr_error_message());
    return check_summary("test_device_arena");
}
