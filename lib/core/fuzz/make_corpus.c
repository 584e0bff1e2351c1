/*
 * Writes the fuzz starting corpus: one valid ring object per sample type, with a
 * few samples published and one consumed, copied from /dev/shm; then, from
 * the f32 one, the objects a corrupt or hostile peer could leave: each
 * header check failed on its own (some with every size consistent), indices
 * scribbled ahead of each other or wrapped, truncated objects. CTest replays
 * every file (fuzz_attach_corpus), so each of these runs in every ASan build.
 * Plain C over the C ABI (it doubles as a check that the ABI works from C).
 * Usage: make_corpus OUTDIR
 * SPDX-License-Identifier: GPL-3.0-or-later
 */
#include <doppler/buffer.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static int copy_file(const char* from, const char* to)
{
    FILE* in = fopen(from, "rb");
    FILE* out = fopen(to, "wb");
    char buf[4096];
    size_t n;
    if (!in || !out) {
        perror(in ? to : from);
        return -1;
    }
    while ((n = fread(buf, 1, sizeof buf, in)) > 0)
        fwrite(buf, 1, n, out);
    fclose(in);
    return fclose(out);
}

#define ENTRY(T, S)                                                                      \
    do {                                                                                 \
        char name[64], from[128], to[512];                                               \
        S src[3];                                                                        \
        memset(src, 0x11, sizeof src);                                                   \
        snprintf(name, sizeof name, "corpus-%d-" #T, (int)getpid());                     \
        dp_buffer_##T##_t* b = dp_buffer_##T##_create_named(name, 1);                    \
        if (!b) {                                                                        \
            fprintf(stderr, "%s\n", dp_last_error());                                    \
            return 1;                                                                    \
        }                                                                                \
        dp_buffer_##T##_write(b, src, 3);                                                \
        dp_buffer_##T##_wait(b, 1, 0);                                                   \
        dp_buffer_##T##_consume(b, 1);                                                   \
        snprintf(from, sizeof from, "/dev/shm/doppler.%s", name);                        \
        snprintf(to, sizeof to, "%s/valid-" #T, argv[1]);                                \
        if (copy_file(from, to) != 0)                                                    \
            return 1;                                                                    \
        dp_buffer_##T##_destroy(b);                                                      \
    } while (0)

/* Field offsets of the control block (include/doppler/layout.hpp, pinned
 * there by static_asserts; this file is C and cannot include it). */
enum {
    OFF_MAGIC = 0,
    OFF_VERSION = 8,
    OFF_TYPE = 12,
    OFF_SAMPLE_SIZE = 16,
    OFF_HEADER_BYTES = 20,
    OFF_CAPACITY = 24,
    OFF_DATA_BYTES = 32,
    OFF_FLAGS = 48,
    OFF_WRITE_IDX = 64,
    OFF_CLOSED = 80,
    OFF_READ_IDX = 128,
};

static unsigned char object[1 << 16];
static size_t object_size;

static int load(const char* path)
{
    FILE* in = fopen(path, "rb");
    if (!in) {
        perror(path);
        return -1;
    }
    object_size = fread(object, 1, sizeof object, in);
    fclose(in);
    return 0;
}

/* Writes `object` with the 32- or 64-bit field at `at` set to v (size 0:
 * no field), cut or zero-extended to `size` bytes. */
static int
variant(const char* dir, const char* name, size_t at, int width, uint64_t v, size_t size)
{
    unsigned char copy[sizeof object];
    char path[512];
    memcpy(copy, object, sizeof copy);
    if (width == 4) {
        uint32_t w = (uint32_t)v;
        memcpy(copy + at, &w, 4);
    } else if (width == 8) {
        memcpy(copy + at, &v, 8);
    }
    snprintf(path, sizeof path, "%s/%s", dir, name);
    FILE* out = fopen(path, "wb");
    if (!out) {
        perror(path);
        return -1;
    }
    fwrite(copy, 1, size, out);
    return fclose(out);
}

static uint64_t field64(size_t at)
{
    uint64_t v;
    memcpy(&v, object + at, 8);
    return v;
}

int main(int argc, char** argv)
{
    if (argc != 2) {
        fprintf(stderr, "usage: %s OUTDIR\n", argv[0]);
        return 2;
    }
    ENTRY(f32, dp_f32_t);
    ENTRY(f64, dp_f64_t);
    ENTRY(i16, dp_i16_t);

    char path[512];
    snprintf(path, sizeof path, "%s/valid-f32", argv[1]);
    if (load(path) != 0)
        return 1;
    const size_t page = (size_t)sysconf(_SC_PAGESIZE), n = object_size;
    const uint64_t cap = field64(OFF_CAPACITY), w = field64(OFF_WRITE_IDX),
                   r = field64(OFF_READ_IDX);
    int bad = 0;
    /* one header check failed at a time */
    bad |= variant(argv[1], "bad-magic", OFF_MAGIC, 8, 0x1122334455667788ull, n);
    bad |= variant(argv[1], "uninitialised", OFF_MAGIC, 8, 0, n);
    bad |= variant(argv[1], "bad-version", OFF_VERSION, 4, 99, n);
    bad |= variant(argv[1], "unknown-type", OFF_TYPE, 4, 99, n);
    bad |= variant(argv[1], "wrong-sample-size", OFF_SAMPLE_SIZE, 4, 4, n);
    bad |= variant(argv[1], "zero-sample-size", OFF_SAMPLE_SIZE, 4, 0, n);
    bad |= variant(argv[1], "header-two-pages", OFF_HEADER_BYTES, 4, 2 * page, n + page);
    bad |=
        variant(argv[1], "capacity-not-power-of-two", OFF_CAPACITY, 8, cap + cap / 2, n);
    bad |= variant(argv[1], "capacity-huge", OFF_CAPACITY, 8, (uint64_t)1 << 62, n);
    bad |= variant(
        argv[1], "data-size-twice", OFF_DATA_BYTES, 8, 2 * (n - page), 2 * n - page);
    bad |= variant(argv[1], "flags-set", OFF_FLAGS, 4, 1, n);
    bad |= variant(argv[1], "truncated-data", 0, 0, 0, n - page / 2);
    bad |= variant(argv[1], "truncated-header", 0, 0, 0, page / 2);
    bad |= variant(argv[1], "header-only", 0, 0, 0, page);
    /* valid headers, scribbled indices: views must stay in the mapping */
    bad |= variant(argv[1], "read-ahead-of-write", OFF_READ_IDX, 8, w + 5 * cap + 3, n);
    bad |= variant(argv[1], "write-far-ahead", OFF_WRITE_IDX, 8, r + 9 * cap + 11, n);
    bad |= variant(argv[1], "read-index-wrapped", OFF_READ_IDX, 8, UINT64_MAX - 2, n);
    bad |= variant(argv[1], "closed", OFF_CLOSED, 4, 1, n);
    return bad ? 1 : 0;
}
