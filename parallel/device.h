/* The accelerators a process can see: how many CUDA devices and how to name one ("cuda:0" or "cpu").
 * Never fails: a build without CUDA, or a machine without driver or GPU, simply has 0 devices. */
#ifndef LAVR_PARALLEL_DEVICE_H
#define LAVR_PARALLEL_DEVICE_H

#include <stdint.h>

/* Number of CUDA devices visible to this process; 0 without CUDA support, driver or GPU. */
int lavr_device_count(void);
/* Bytes in use (every process on it, as cudaMemGetInfo sees them) and in all on device N, which becomes the
 * current device; 0 and 0 for a negative device, without CUDA or when the runtime fails. */
void lavr_device_memory(int device, uint64_t *used, uint64_t *total);
/* Total bytes of device N without making a CUDA context on it; 0 for a negative device, without CUDA or on error. */
uint64_t lavr_device_total_memory(int device);
/* 1 when this process's contexts on device N are shared through MPS (the Multi-Process Service runs), else 0. */
int lavr_device_mps(int device);
/* "cuda:N" for device N >= 0, "cpu" for a negative device (the CPU backend). */
void lavr_device_name(int device, char *buf, int len);
/* The 16-byte UUID of device N (cudaDeviceProp.uuid, unique across nodes): 1 when known, 0 for a negative
 * device, without CUDA or on error (out zeroed). Two ranks whose UUIDs match share one GPU. */
int lavr_device_uuid(int device, unsigned char out[16]);

#endif
