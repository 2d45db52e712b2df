/* GPU check of the NCCL bootstrap (parallel/nccl.h) under mpirun: all-reduce and ring send/recv of f32
 * and bf16 data against the same operations through MPI on the host, then a receive nobody answers,
 * which must time out and abort instead of hanging. mpi-ranks: 2
 * Run: OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1 NCCL_NVLS_ENABLE=0 \
 *      mpirun -np 2 build/tests/gpu_test_nccl   (one GPU per rank; exits 77 without GPUs) */
#include <cuda_runtime_api.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "check.h"
#include "gpu/mpi/gpu_per_rank.h"
#include "core/dtype.h"
#include "core/rng.h"
#include "parallel/device.h"
#include "parallel/mpi.h"
#include "parallel/nccl.h"

static int rank, size;

static float *random_host(int64_t n, int purpose) {
    float *x = malloc((size_t)n * sizeof(float));
    lavr_rng_normal(5, lavr_rng_stream(LAVR_STREAM_TEST, (uint32_t)purpose, (uint32_t)rank, 0), 0, n, x);
    return x;
}

/* Copies `bytes` to a fresh device buffer. */
static void *to_device(const void *h, size_t bytes) {
    void *d = NULL;
    CHECK(cudaMalloc(&d, bytes) == cudaSuccess);
    CHECK(cudaMemcpy(d, h, bytes, cudaMemcpyHostToDevice) == cudaSuccess);
    return d;
}

static void test_allreduce(lavr_nccl *c, cudaStream_t s) {
    const int64_t n = (1 << 20) + 3;
    float *x = random_host(n, 1), *want = malloc((size_t)n * sizeof(float)), *got = malloc((size_t)n * sizeof(float));
    CHECK(MPI_Allreduce(x, want, (int)n, MPI_FLOAT, MPI_SUM, MPI_COMM_WORLD) == MPI_SUCCESS);
    float *d = to_device(x, (size_t)n * sizeof(float));
    CHECK_OK(lavr_nccl_allreduce_sum(c, d, n, LAVR_F32, s));
    CHECK_OK(lavr_nccl_sync(c, s, 60, NULL));
    CHECK(cudaMemcpy(got, d, (size_t)n * sizeof(float), cudaMemcpyDeviceToHost) == cudaSuccess);
    /* sums of 2 terms are exact in any order; more ranks may add in another order */
    double err = 0, ref = 0;
    for (int64_t i = 0; i < n; i++) {
        err += ((double)got[i] - want[i]) * ((double)got[i] - want[i]);
        ref += (double)want[i] * want[i];
    }
    const double rel = isfinite(err) ? sqrt(err / ref) : INFINITY;
    if (rank == 0) printf("  all-reduce f32 x %lld on %d ranks: rel L2 %.3g vs MPI (tol %g)\n", (long long)n, size, rel, size == 2 ? 0.0 : 1e-6);
    CHECK(size == 2 ? rel == 0 : rel <= 1e-6);

    /* bf16: NCCL rounds after each addition; with 2 ranks that is bf16(a + b) exactly */
    uint16_t *xb = malloc((size_t)n * sizeof(uint16_t)), *gb = malloc((size_t)n * sizeof(uint16_t));
    for (int64_t i = 0; i < n; i++) {
        xb[i] = lavr_f32_to_bf16(x[i]);
        x[i] = lavr_bf16_to_f32(xb[i]);
    }
    CHECK(MPI_Allreduce(x, want, (int)n, MPI_FLOAT, MPI_SUM, MPI_COMM_WORLD) == MPI_SUCCESS);
    uint16_t *db = to_device(xb, (size_t)n * sizeof(uint16_t));
    CHECK_OK(lavr_nccl_allreduce_sum(c, db, n, LAVR_BF16, s));
    CHECK_OK(lavr_nccl_sync(c, s, 60, NULL));
    CHECK(cudaMemcpy(gb, db, (size_t)n * sizeof(uint16_t), cudaMemcpyDeviceToHost) == cudaSuccess);
    int64_t differ = 0, far = 0;
    for (int64_t i = 0; i < n; i++) {
        const float g = lavr_bf16_to_f32(gb[i]);
        differ += gb[i] != lavr_f32_to_bf16(want[i]);
        far += !(fabsf(g - want[i]) <= (float)size * fabsf(want[i]) / 128.0f + 1e-3f);
    }
    if (rank == 0) printf("  all-reduce bf16: %lld of %lld differ from bf16(MPI sum), %lld beyond %d bf16 steps\n", (long long)differ, (long long)n, (long long)far, size);
    CHECK(far == 0 && (size > 2 || differ == 0));
    cudaFree(d);
    cudaFree(db);
    free(x); free(want); free(got); free(xb); free(gb);
}

/* ring: each rank sends to rank+1 and receives from rank-1, as one NCCL group, vs MPI_Sendrecv */
static void test_ring(lavr_nccl *c, cudaStream_t s, lavr_dtype dt) {
    const int64_t n = 405504 / 2 + 7; /* a latent block of bf16 values, plus an odd tail */
    const size_t es = lavr_dtype_size(dt), bytes = (size_t)n * es;
    float *x = random_host(n, 2);
    unsigned char *h = malloc(bytes), *want = malloc(bytes), *got = malloc(bytes);
    for (int64_t i = 0; i < n; i++) lavr_dtype_store(dt, h, i, x[i]);
    const int next = (rank + 1) % size, prev = (rank + size - 1) % size;
    CHECK(MPI_Sendrecv(h, (int)bytes, MPI_BYTE, next, 7, want, (int)bytes, MPI_BYTE, prev, 7, MPI_COMM_WORLD,
                       MPI_STATUS_IGNORE) == MPI_SUCCESS);
    void *ds = to_device(h, bytes), *dr = NULL;
    CHECK(cudaMalloc(&dr, bytes) == cudaSuccess);
    CHECK(cudaMemset(dr, 0xff, bytes) == cudaSuccess);
    CHECK_OK(lavr_nccl_group_begin(c));
    CHECK_OK(lavr_nccl_send(c, ds, n, dt, next, s));
    CHECK_OK(lavr_nccl_recv(c, dr, n, dt, prev, s));
    CHECK_OK(lavr_nccl_group_end(c));
    CHECK_OK(lavr_nccl_sync(c, s, 60, NULL));
    CHECK(cudaMemcpy(got, dr, bytes, cudaMemcpyDeviceToHost) == cudaSuccess);
    const int same = memcmp(got, want, bytes) == 0;
    if (rank == 0) printf("  ring send/recv %s x %lld: %s\n", lavr_dtype_name(dt), (long long)n, same ? "identical to MPI" : "DIFFERENT");
    CHECK(same);
    cudaFree(ds);
    cudaFree(dr);
    free(x); free(h); free(want); free(got);
}

int main(int argc, char **argv) {
    if (lavr_mpi_start(&argc, &argv)) {
        fprintf(stderr, "%s\n", lavr_error_message());
        return 1;
    }
    rank = lavr_mpi_world_rank();
    size = lavr_mpi_world_size();
    MPI_Comm node;
    int local = 0, devices = 0;
    CHECK(MPI_Comm_split_type(MPI_COMM_WORLD, MPI_COMM_TYPE_SHARED, rank, MPI_INFO_NULL, &node) == MPI_SUCCESS);
    CHECK(MPI_Comm_rank(node, &local) == MPI_SUCCESS);
    const int own_gpus = gpu_per_rank(&devices);
    if (!own_gpus || size < 2) {
        if (rank == 0) printf("test_nccl: needs a GPU on every rank and 2+ ranks (a GPU of its own: %d on this node), skipped\n", devices);
        lavr_mpi_finish();
        return 77;
    }
    lavr_nccl *c = NULL;
    CHECK_OK(lavr_nccl_create(MPI_COMM_WORLD, local % devices, 60, &c));
    if (c) {
        CHECK(lavr_nccl_rank(c) == rank && lavr_nccl_size(c) == size);
        cudaStream_t s;
        CHECK(cudaStreamCreate(&s) == cudaSuccess);
        if (rank == 0) printf("nccl on %d ranks (rank 0: cuda:%d)\n", size, local % devices);
        test_allreduce(c, s);
        test_ring(c, s, LAVR_F32);
        test_ring(c, s, LAVR_BF16);
        lavr_nccl_destroy(c);

        /* every rank waits for a message nobody sends: the wait must time out and abort, not hang */
        lavr_nccl *lonely = NULL;
        CHECK_OK(lavr_nccl_create(MPI_COMM_WORLD, local % devices, 60, &lonely));
        float *buf = NULL;
        CHECK(cudaMalloc((void **)&buf, 1024 * sizeof(float)) == cudaSuccess);
        if (lonely) {
            /* one answered exchange first, so the peer connections exist before the lonely receive */
            CHECK_OK(lavr_nccl_group_begin(lonely));
            CHECK_OK(lavr_nccl_send(lonely, buf, 16, LAVR_F32, (rank + 1) % size, s));
            CHECK_OK(lavr_nccl_recv(lonely, buf + 512, 16, LAVR_F32, (rank + size - 1) % size, s));
            CHECK_OK(lavr_nccl_group_end(lonely));
            CHECK_OK(lavr_nccl_sync(lonely, s, 60, NULL));
            CHECK_OK(lavr_nccl_recv(lonely, buf, 1024, LAVR_F32, (rank + 1) % size, s));
            CHECK_FAILS(lavr_nccl_sync(lonely, s, 2, NULL), LAVR_E_CUDA);
            if (rank == 0) printf("  unanswered recv: %s\n", lavr_error_message());
            CHECK(strstr(lavr_error_message(), "stream not done after 2 s") != NULL);
            CHECK_FAILS(lavr_nccl_allreduce_sum(lonely, buf, 1024, LAVR_F32, s), LAVR_E_CUDA);
            lavr_nccl_destroy(lonely);
        }
        CHECK(cudaStreamSynchronize(s) == cudaSuccess);
        cudaFree(buf);
        cudaStreamDestroy(s);
    }
    int failures = check_failures, total = 0;
    MPI_Allreduce(&failures, &total, 1, MPI_INT, MPI_SUM, MPI_COMM_WORLD);
    if (rank == 0) printf("test_nccl: %d failed checks over %d ranks\n", total, size);
    MPI_Comm_free(&node);
    lavr_mpi_finish();
    return total ? 1 : 0;
}
