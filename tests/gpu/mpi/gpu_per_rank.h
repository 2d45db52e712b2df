/* The skip rule of the GPU tests under mpirun: every rank needs a GPU of its own (NCCL refuses two ranks on
 * one device), so a node must have at least as many CUDA devices (cudaGetDeviceCount) as ranks on it. */
#ifndef LAVR_TESTS_GPU_PER_RANK_H
#define LAVR_TESTS_GPU_PER_RANK_H

#include <mpi.h>

#include "parallel/device.h"

/* 1 when every node of the job has a device per rank on it; every rank gets the same answer (collective).
 * *devices: this node's count. */
static int gpu_per_rank(int *devices) {
    MPI_Comm node;
    int ranks_here = 0, mine = 0, all = 0;
    *devices = lavr_device_count();
    if (MPI_Comm_split_type(MPI_COMM_WORLD, MPI_COMM_TYPE_SHARED, 0, MPI_INFO_NULL, &node) != MPI_SUCCESS) return 0;
    MPI_Comm_size(node, &ranks_here);
    MPI_Comm_free(&node);
    mine = *devices > 0 && *devices >= ranks_here;
    if (MPI_Allreduce(&mine, &all, 1, MPI_INT, MPI_MIN, MPI_COMM_WORLD) != MPI_SUCCESS) return 0;
    return all;
}

#endif
