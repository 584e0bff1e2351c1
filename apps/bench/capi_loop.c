/* capi_loop: the two-thread pipeline over the C ABI that bench_ring
 * measures: a producer thread writing chunks with
 * dp_buffer_f32_write_blocking, a consumer thread that waits for each chunk,
 * reads every sample and consumes it, on two CPUs (bench_pin.h). Plain C,
 * as a C caller writes it.
 *
 * Built twice: as is (buffer.h's inline calls) and, through capi_loop_ool.c,
 * with DP_BUFFER_NO_INLINE (every call goes into the library, as before the
 * calls were inline), so bench_ring compares the two in one run.
 * SPDX-License-Identifier: GPL-3.0-or-later */
#include "bench_pin.h"

#include <doppler/buffer.h>

#include <pthread.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#ifndef CAPI_THREADS
#define CAPI_THREADS capi_threads
#endif

struct consumer_job {
    dp_buffer_f32_t* buf;
    uint64_t total, chunk, sink;
    int failed;
};

static int64_t clock_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

static void* consume_all(void* arg)
{
    struct consumer_job* job = (struct consumer_job*)arg;
    uint64_t x = 0;
    bench_pin(1);
    for (uint64_t k = 0; k < job->total; k += job->chunk) {
        const dp_f32_t* v = dp_buffer_f32_wait(job->buf, job->chunk, -1);
        if (!v || job->chunk == 0) {
            job->failed = 1;
            break;
        }
        /* Read every sample (XOR of the bit patterns): nothing is optimised away. */
        for (uint64_t i = 0; i < job->chunk; ++i) {
            uint64_t bits;
            memcpy(&bits, v + i, sizeof bits);
            x ^= bits;
        }
        if (!dp_buffer_f32_consume(job->buf, job->chunk)) {
            job->failed = 1;
            break;
        }
    }
    job->sink = x;
    return NULL;
}

/* Samples per second through a new in-process ring of `capacity` samples
 * (made with this process's default handshake), or -1 if a call failed. */
double CAPI_THREADS(uint64_t capacity, uint64_t total, uint64_t chunk, uint64_t* sink)
{
    dp_buffer_f32_t* buf = dp_buffer_f32_create(capacity);
    dp_f32_t* src = (dp_f32_t*)calloc(chunk, sizeof *src);
    struct consumer_job job = { buf, total, chunk, 0, 0 };
    pthread_t consumer;
    int64_t t0 = 0, t1 = 0;
    int failed = !buf || !src;
    if (failed)
        goto out;
    for (uint64_t i = 0; i < chunk; ++i) {
        src[i].re = (float)i;
        src[i].im = -(float)i;
    }
    bench_pin(0);
    t0 = clock_ns();
    if (pthread_create(&consumer, NULL, consume_all, &job) != 0) {
        failed = 1;
        goto out;
    }
    for (uint64_t k = 0; k < total; k += chunk)
        if (dp_buffer_f32_write_blocking(buf, src, chunk, -1) != chunk) {
            failed = 1;
            break;
        }
    dp_buffer_f32_close(buf);
    pthread_join(consumer, NULL);
    t1 = clock_ns();
    bench_unpin();
    failed |= job.failed;
    *sink ^= job.sink;
out:
    free(src);
    if (buf)
        dp_buffer_f32_destroy(buf);
    return failed ? -1.0 : (double)total * 1e9 / (double)(t1 - t0);
}
