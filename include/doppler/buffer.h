/*
 * gr-doppler C ABI: lock-free SPSC double-mapped rings.
 * SPDX-License-Identifier: GPL-3.0-or-later
 *
 * Three ring types with the same functions: T in {f32, f64, i16} (cf32 and cf64: the
 * previous names, still exported).
 *
 *   dp_buffer_T_t *dp_buffer_T_create(size_t capacity);          in-process
 *   dp_buffer_T_t *dp_buffer_T_create_named(const char *name, size_t capacity);
 *   dp_buffer_T_t *dp_buffer_T_attach(const char *name);         by name
 *   void           dp_buffer_T_destroy(dp_buffer_T_t *);
 *   bool           dp_buffer_T_write(buf, const sample *src, size_t n);
 *   const sample  *dp_buffer_T_wait(buf, size_t n, int64_t timeout_ns);
 *   bool           dp_buffer_T_consume(buf, size_t n);
 *   size_t         dp_buffer_T_available / _capacity(buf);
 *   uint64_t       dp_buffer_T_dropped(buf);
 *   uint64_t       dp_buffer_T_missed_wakes(buf);   lost wake-ups: 0 unless broken
 *   void           dp_buffer_T_close(buf);
 *
 * Errors: creation and attach return NULL and set errno (ENOENT no such ring,
 * EEXIST name taken, EINVAL bad name or capacity, EACCES another user's ring,
 * EPROTOTYPE ring of another sample type, EBADMSG not a valid ring, ENOSPC
 * /dev/shm full, ENOMEM); dp_last_error() gives the full sentence.
 * dp_buffer_T_wait returns NULL with errno ETIMEDOUT (timeout), ENODATA (closed
 * by the producer and fewer than n samples remain), EPIPE (producer died without
 * closing), EINVAL (n == 0 or n > capacity), EBUSY (another handle, in another
 * process or in this one, is the consumer) or EBADMSG (the shared write index
 * is impossible: the ring's header was overwritten). A negative timeout waits
 * forever. dp_buffer_T_write returns false with errno EBUSY, EPIPE (closed),
 * EINVAL or EBADMSG for a refused request; a full ring is a drop (errno
 * untouched, counted in dp_buffer_T_dropped).
 *
 * One thread produces (write), one consumes (wait/consume) per ring. Handles
 * still alive at normal process exit are released (a producer closes, a
 * creator removes the name); a fork() child's copies hold no role.
 */
#ifndef DOPPLER_BUFFER_H
#define DOPPLER_BUFFER_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

/** Complex float, layout-compatible with std::complex<float> and float _Complex. */
typedef struct {
    float re, im;
} dp_f32_t;
/** Complex double, layout-compatible with std::complex<double>. */
typedef struct {
    double re, im;
} dp_f64_t;
/** One interleaved int16 I/Q pair. */
typedef struct {
    int16_t i, q;
} dp_i16_t;

typedef struct dp_buffer_f32 dp_buffer_f32_t;
typedef struct dp_buffer_f64 dp_buffer_f64_t;
typedef struct dp_buffer_i16 dp_buffer_i16_t;

/** Message of the last failed call on this thread ("" if none). */
const char* dp_last_error(void);

#define DP_BUFFER_DECLARE(T, S)                                                          \
    dp_buffer_##T##_t* dp_buffer_##T##_create(size_t capacity);                          \
    dp_buffer_##T##_t* dp_buffer_##T##_create_named(const char* name, size_t capacity);  \
    dp_buffer_##T##_t* dp_buffer_##T##_attach(const char* name);                         \
    void dp_buffer_##T##_destroy(dp_buffer_##T##_t* buf);                                \
    bool dp_buffer_##T##_write(dp_buffer_##T##_t* buf, const S* src, size_t n);          \
    const S* dp_buffer_##T##_wait(dp_buffer_##T##_t* buf, size_t n, int64_t timeout_ns); \
    bool dp_buffer_##T##_consume(dp_buffer_##T##_t* buf, size_t n);                      \
    size_t dp_buffer_##T##_available(const dp_buffer_##T##_t* buf);                      \
    size_t dp_buffer_##T##_capacity(const dp_buffer_##T##_t* buf);                       \
    uint64_t dp_buffer_##T##_dropped(const dp_buffer_##T##_t* buf);                      \
    uint64_t dp_buffer_##T##_missed_wakes(const dp_buffer_##T##_t* buf);                 \
    void dp_buffer_##T##_close(dp_buffer_##T##_t* buf);

DP_BUFFER_DECLARE(f32, dp_f32_t)
DP_BUFFER_DECLARE(f64, dp_f64_t)
DP_BUFFER_DECLARE(i16, dp_i16_t)

/* Names of the previous release (cf32 / cf64 / ci16), kept for one release:
 * same types, same functions, exported under both names. New code uses the
 * f32 / f64 / i16 names, which match doppler.buffer and the blocks. */
typedef dp_f32_t dp_cf32_t;
typedef dp_f64_t dp_cf64_t;
typedef dp_i16_t dp_ci16_t;
typedef dp_buffer_f32_t dp_buffer_cf32_t;
typedef dp_buffer_f64_t dp_buffer_cf64_t;
DP_BUFFER_DECLARE(cf32, dp_f32_t)
DP_BUFFER_DECLARE(cf64, dp_f64_t)

#undef DP_BUFFER_DECLARE

#ifdef __cplusplus
}
#endif

#endif /* DOPPLER_BUFFER_H */
