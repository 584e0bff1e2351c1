/*
 * gr-doppler C ABI: lock-free double-mapped rings (one producer, up to 16 readers).
 * SPDX-License-Identifier: GPL-3.0-or-later
 *
 * Three ring types with the same functions: T in {f32, f64, i16}.
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
 * Streams, tags and readers (layout version 3; docs/architecture.md has the
 * byte map and the tag value encoding):
 *
 *   dp_buffer_T_t *dp_buffer_T_attach_reader(name, reader, tethered, grace_ns, history);
 *       attach as a named reader ("" or "default": the default reader);
 *       EBUSY: a live handle reads under that name; EUSERS: 16 readers already;
 *       a new reader starts up to `history` samples before the write index
 *       (within the current stream; dp_buffer_T_history says how many it got)
 *   bool     dp_buffer_T_write_tags(buf, src, n, tags, ntags);   tags[i].offset < n,
 *       non-decreasing; value bytes in the documented encoding (EINVAL otherwise)
 *   size_t   dp_buffer_T_tags(buf, out, max);   tags of the last wait's window:
 *       fills min(count, max) entries, returns the count
 *   int64_t  dp_buffer_T_consume_checked(buf, n);   samples of the window that
 *       were overwritten while held (untethered readers; 0 otherwise), -1 EINVAL
 *   uint64_t dp_buffer_T_stream / _skipped / _tags_dropped / _written / _read_index(buf);
 *
 * Blocking writes and wait strategies:
 *
 *   size_t   dp_buffer_T_write_blocking(buf, src, n, timeout_ns);   lossless,
 *       any n (more than the capacity streams through as readers read):
 *       copies what fits as room appears, until all n are written (returns n)
 *       or it gives up: returns how many were written and sets errno to
 *       ETIMEDOUT, EPIPE (this handle closed its stream), ECONNRESET (the
 *       slowest tethered reader died and none took its place in time),
 *       EBUSY or EBADMSG as write. Negative timeout: forever.
 *   bool     dp_buffer_T_set_wait_strategy(buf, DP_WAIT_PARK or DP_WAIT_POLL);
 *   int      dp_buffer_T_get_wait_strategy(buf);
 *       how this handle waits in wait() and write_blocking(): DP_WAIT_PARK
 *       (default: spin about 1-2 us, then sleep until woken; no CPU while
 *       waiting) or DP_WAIT_POLL (never sleeps: the lowest wake-up latency
 *       for one whole core spent while waiting). Another value: false, EINVAL.
 *
 * Inline calls. write, write_blocking, wait and consume are static inline
 * functions here: the common case (room or data already known, nothing else
 * to do) runs in the caller over the handle's state and the ring's shared
 * header (doppler/hot.h), and calls into the library (the *_slow symbols)
 * only otherwise; behaviour and errors are those described above. The same
 * functions are exported under the same names for callers that cannot
 * inline (FFI, dlsym, or DP_BUFFER_NO_INLINE defined before this header).
 *
 * dp_buffer_T_wait returns NULL with errno ENODATA at the end of a closed
 * stream and EPIPE at the end of a broken one (its producer died); the next
 * wait at that position moves on to the next stream.
 *
 * One thread produces (write), one reads (wait/consume) per handle. Handles
 * still alive at normal process exit are released (a producer ends its
 * stream, the last party removes the name); a fork() child's copies hold no
 * role.
 */
#ifndef DOPPLER_BUFFER_H
#define DOPPLER_BUFFER_H

#include <doppler/hot.h>

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

/** A tag. Writing: `offset` from the first sample of the write. Reading
 * (dp_buffer_T_tags): `offset` is the absolute sample index. key and value
 * point into the handle's private copy of the window's records, valid until
 * the next dp_buffer_T_tags on that handle. value: the encoded value
 * (type byte, then payload; see docs/architecture.md). */
typedef struct {
    uint64_t offset;
    const char* key;
    size_t key_len;
    const uint8_t* value;
    size_t value_len;
} dp_tag_t;

/** Value type bytes of the tag encoding. */
enum {
    DP_VALUE_NONE = 0,
    DP_VALUE_BOOL = 1,
    DP_VALUE_INT64 = 2,
    DP_VALUE_UINT64 = 3,
    DP_VALUE_FLOAT64 = 4,
    DP_VALUE_COMPLEX128 = 5,
    DP_VALUE_STR = 6,
    DP_VALUE_BYTES = 7,
    DP_VALUE_TUPLE = 8,
    DP_VALUE_LIST = 9,
    DP_VALUE_DICT = 10
};

/** How a handle waits (dp_buffer_T_set_wait_strategy). */
enum { DP_WAIT_PARK = 0, DP_WAIT_POLL = 1 };

/** Length of the well-formed value at the start of [p, p + n), or 0 if it
 * is not one (every length checked against n). */
size_t dp_value_check(const uint8_t* p, size_t n);

typedef struct dp_buffer_f32 dp_buffer_f32_t;
typedef struct dp_buffer_f64 dp_buffer_f64_t;
typedef struct dp_buffer_i16 dp_buffer_i16_t;

/** Message of the last failed call on this thread ("" if none). */
const char* dp_last_error(void);

/* Out of line always. */
#define DP_BUFFER_DECLARE(T, S)                                                          \
    dp_buffer_##T##_t* dp_buffer_##T##_create(size_t capacity);                          \
    dp_buffer_##T##_t* dp_buffer_##T##_create_named(const char* name, size_t capacity);  \
    dp_buffer_##T##_t* dp_buffer_##T##_attach(const char* name);                         \
    void dp_buffer_##T##_destroy(dp_buffer_##T##_t* buf);                                \
    size_t dp_buffer_##T##_available(const dp_buffer_##T##_t* buf);                      \
    size_t dp_buffer_##T##_capacity(const dp_buffer_##T##_t* buf);                       \
    uint64_t dp_buffer_##T##_dropped(const dp_buffer_##T##_t* buf);                      \
    uint64_t dp_buffer_##T##_missed_wakes(const dp_buffer_##T##_t* buf);                 \
    void dp_buffer_##T##_close(dp_buffer_##T##_t* buf);                                  \
    dp_buffer_##T##_t* dp_buffer_##T##_attach_reader(const char* name,                   \
                                                     const char* reader,                 \
                                                     bool tethered,                      \
                                                     int64_t grace_ns,                   \
                                                     uint64_t history);                  \
    uint64_t dp_buffer_##T##_history(const dp_buffer_##T##_t* buf);                      \
    bool dp_buffer_##T##_write_tags(dp_buffer_##T##_t* buf,                              \
                                    const S* src,                                        \
                                    size_t n,                                            \
                                    const dp_tag_t* tags,                                \
                                    size_t ntags);                                       \
    size_t dp_buffer_##T##_tags(dp_buffer_##T##_t* buf, dp_tag_t* out, size_t max);      \
    int64_t dp_buffer_##T##_consume_checked(dp_buffer_##T##_t* buf, size_t n);           \
    uint64_t dp_buffer_##T##_stream(const dp_buffer_##T##_t* buf);                       \
    uint64_t dp_buffer_##T##_skipped(const dp_buffer_##T##_t* buf);                      \
    uint64_t dp_buffer_##T##_tags_dropped(const dp_buffer_##T##_t* buf);                 \
    uint64_t dp_buffer_##T##_written(const dp_buffer_##T##_t* buf);                      \
    uint64_t dp_buffer_##T##_read_index(const dp_buffer_##T##_t* buf);

/* The hot calls, out of line (the exported symbols). */
#define DP_BUFFER_DECLARE_HOT(T, S)                                                      \
    bool dp_buffer_##T##_write(dp_buffer_##T##_t* buf, const S* src, size_t n);          \
    const S* dp_buffer_##T##_wait(dp_buffer_##T##_t* buf, size_t n, int64_t timeout_ns); \
    bool dp_buffer_##T##_consume(dp_buffer_##T##_t* buf, size_t n);

/* Added with the inline calls: blocking writes, wait strategies, and the
 * slow paths the inline calls fall back to (not for direct use). */
#define DP_BUFFER_DECLARE_MORE(T, S)                                                     \
    bool dp_buffer_##T##_set_wait_strategy(dp_buffer_##T##_t* buf, int strategy);        \
    int dp_buffer_##T##_get_wait_strategy(const dp_buffer_##T##_t* buf);                 \
    bool dp_buffer_##T##_write_slow(dp_buffer_##T##_t* buf, const S* src, size_t n);     \
    size_t dp_buffer_##T##_write_blocking_slow(                                          \
        dp_buffer_##T##_t* buf, const S* src, size_t n, int64_t timeout_ns);             \
    const S* dp_buffer_##T##_wait_slow(                                                  \
        dp_buffer_##T##_t* buf, size_t n, int64_t timeout_ns);                           \
    bool dp_buffer_##T##_consume_slow(dp_buffer_##T##_t* buf, size_t n);

#ifdef DP_BUFFER_NO_INLINE
#define DP_BUFFER_HOT(T, S)                                                              \
    DP_BUFFER_DECLARE_HOT(T, S)                                                          \
    size_t dp_buffer_##T##_write_blocking(                                               \
        dp_buffer_##T##_t* buf, const S* src, size_t n, int64_t timeout_ns);
#else
/* The common case in the caller (hot.h); anything else in the library. */
#define DP_BUFFER_HOT(T, S)                                                              \
    static inline bool dp_buffer_##T##_write(                                            \
        dp_buffer_##T##_t* buf, const S* src, size_t n)                                  \
    {                                                                                    \
        return dp_hot_write((dp_hot_t*)buf, src, n, sizeof(S)) ||                        \
            dp_buffer_##T##_write_slow(buf, src, n);                                     \
    }                                                                                    \
    static inline size_t dp_buffer_##T##_write_blocking(                                 \
        dp_buffer_##T##_t* buf, const S* src, size_t n, int64_t timeout_ns)              \
    {                                                                                    \
        return dp_hot_write((dp_hot_t*)buf, src, n, sizeof(S))                           \
            ? n                                                                          \
            : dp_buffer_##T##_write_blocking_slow(buf, src, n, timeout_ns);              \
    }                                                                                    \
    static inline const S* dp_buffer_##T##_wait(                                         \
        dp_buffer_##T##_t* buf, size_t n, int64_t timeout_ns)                            \
    {                                                                                    \
        const void* p = dp_hot_view((dp_hot_t*)buf, n, sizeof(S));                       \
        return p ? (const S*)p : dp_buffer_##T##_wait_slow(buf, n, timeout_ns);          \
    }                                                                                    \
    static inline bool dp_buffer_##T##_consume(dp_buffer_##T##_t* buf, size_t n)         \
    {                                                                                    \
        return dp_hot_consume((dp_hot_t*)buf, n) ||                                      \
            dp_buffer_##T##_consume_slow(buf, n);                                        \
    }
#endif

DP_BUFFER_DECLARE(f32, dp_f32_t)
DP_BUFFER_DECLARE(f64, dp_f64_t)
DP_BUFFER_DECLARE(i16, dp_i16_t)
DP_BUFFER_DECLARE_MORE(f32, dp_f32_t)
DP_BUFFER_DECLARE_MORE(f64, dp_f64_t)
DP_BUFFER_DECLARE_MORE(i16, dp_i16_t)
DP_BUFFER_HOT(f32, dp_f32_t)
DP_BUFFER_HOT(f64, dp_f64_t)
DP_BUFFER_HOT(i16, dp_i16_t)

#undef DP_BUFFER_DECLARE
#undef DP_BUFFER_DECLARE_HOT
#undef DP_BUFFER_DECLARE_MORE
#undef DP_BUFFER_HOT

#ifdef __cplusplus
}
#endif

#endif /* DOPPLER_BUFFER_H */
