/* Device discovery through the CUDA runtime, linked statically so the binary also starts where no
 * driver is installed; any runtime error there means "no devices", never a failure. */
#include "parallel/device.h"

#include <stdio.h>
#include <string.h>

#if LAVR_HAVE_CUDA
#include <cuda_runtime_api.h>
#endif

int lavr_device_count(void) {
#if LAVR_HAVE_CUDA
    int count = 0;
    if (cudaGetDeviceCount(&count) != cudaSuccess) {
        /* no driver or no GPU: clear the sticky error so later CUDA calls do not report it */
        (void)cudaGetLastError();
        return 0;
    }
    return count;
#else
    return 0;
#endif
}

void lavr_device_memory(int device, uint64_t *used, uint64_t *total) {
    *used = *total = 0;
#if LAVR_HAVE_CUDA
    size_t free_b = 0, total_b = 0;
    if (device < 0 || cudaSetDevice(device) != cudaSuccess || cudaMemGetInfo(&free_b, &total_b) != cudaSuccess) {
        (void)cudaGetLastError();
        return;
    }
    *used = (uint64_t)(total_b - free_b);
    *total = (uint64_t)total_b;
#else
    (void)device;
#endif
}

uint64_t lavr_device_total_memory(int device) {
#if LAVR_HAVE_CUDA
    struct cudaDeviceProp p;
    if (device < 0 || cudaGetDeviceProperties(&p, device) != cudaSuccess) {
        (void)cudaGetLastError();
        return 0;
    }
    return (uint64_t)p.totalGlobalMem;
#else
    (void)device;
    return 0;
#endif
}

int lavr_device_mps(int device) {
#if LAVR_HAVE_CUDA
    int on = 0;
    if (device < 0 || cudaDeviceGetAttribute(&on, cudaDevAttrMpsEnabled, device) != cudaSuccess) {
        (void)cudaGetLastError();
        return 0;
    }
    return on != 0;
#else
    (void)device;
    return 0;
#endif
}

void lavr_device_name(int device, char *buf, int len) {
    if (len <= 0) return;
    if (device < 0)
        snprintf(buf, (size_t)len, "cpu");
    else
        snprintf(buf, (size_t)len, "cuda:%d", device);
}

int lavr_device_uuid(int device, unsigned char out[16]) {
    memset(out, 0, 16);
#if LAVR_HAVE_CUDA
    struct cudaDeviceProp p;
    if (device < 0 || cudaGetDeviceProperties(&p, device) != cudaSuccess) {
        (void)cudaGetLastError();
        return 0;
    }
    memcpy(out, p.uuid.bytes, 16);
    return 1;
#else
    (void)device;
    return 0;
#endif
}
