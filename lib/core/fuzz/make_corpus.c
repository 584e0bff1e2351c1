/*
 * Writes the fuzz starting corpus: one valid ring object per sample type, with a
 * few samples published and one consumed, copied from /dev/shm; then, from
 * the f32 one, the objects a corrupt or hostile peer could leave: each
 * header check failed on its own (some with every size consistent), indices
 * scribbled ahead of each other or wrapped, truncated objects; and f32 rings
 * that use layout 2's tables (tags of every value type encoded by hand, as a
 * C program would; three streams; named readers, one lapped) with their
 * own scribbles (tag area indices, reader table, seam table). CTest replays
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
    OFF_READER_SLOTS = 52, /* u16, with seam_count: one u32 */
    OFF_TAG_OFFSET = 56,
    OFF_TAG_BYTES = 60,
    OFF_WRITE_IDX = 64,
    OFF_STREAM = 80,
    OFF_HORIZON = 88,
    OFF_TAG_HEAD = 96,
    OFF_TAG_TAIL = 104,
    OFF_CLOSED = 120,
    OFF_PARKED_MASK = 128,
    OFF_SLOT_LOCK = 208,
    OFF_READER_MASK = 216, /* u32, with tethered_mask: one u64 */
    OFF_READERS = 768, /* 16 slots of 128 bytes; read_idx first */
    OFF_SEAMS = 2816, /* 32 records of 32 bytes */
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

/* Little-endian encoders for tag values (docs/architecture.md). */
static size_t put_u32(uint8_t* p, uint32_t v)
{
    memcpy(p, &v, 4);
    return 4;
}
static size_t put_str(uint8_t* p, int type, const char* s)
{
    size_t n = strlen(s);
    p[0] = (uint8_t)type;
    put_u32(p + 1, (uint32_t)n);
    memcpy(p + 5, s, n);
    return 5 + n;
}

static int snapshot(const char* name, const char* outdir, const char* seed)
{
    char from[128], to[512];
    snprintf(from, sizeof from, "/dev/shm/doppler.%s", name);
    snprintf(to, sizeof to, "%s/%s", outdir, seed);
    return copy_file(from, to);
}

/* Tags of every value type, a dropped marker, a stream_start marker. */
static int seed_tags(const char* outdir)
{
    char name[64];
    dp_f32_t src[64];
    uint8_t v[8][64];
    size_t len[8];
    double d = 2.5, c[2] = { 1.0, -1.0 };
    int64_t i = -7;
    uint64_t u = 1700000000;
    dp_tag_t tags[8];
    const char* keys[8] = { "none",    "bool", "int",  "rx_time",
                            "rx_freq", "iq",   "name", "meta" };
    size_t k, at;
    dp_buffer_f32_t* b;

    memset(src, 0x22, sizeof src);
    snprintf(name, sizeof name, "corpus-%d-tags", (int)getpid());
    b = dp_buffer_f32_create_named(name, 1);
    if (!b) {
        fprintf(stderr, "%s\n", dp_last_error());
        return 1;
    }
    v[0][0] = DP_VALUE_NONE, len[0] = 1;
    v[1][0] = DP_VALUE_BOOL, v[1][1] = 1, len[1] = 2;
    v[2][0] = DP_VALUE_INT64, memcpy(v[2] + 1, &i, 8), len[2] = 9;
    /* rx_time: (uint64 seconds, float64 fraction) */
    v[3][0] = DP_VALUE_TUPLE, put_u32(v[3] + 1, 2);
    v[3][5] = DP_VALUE_UINT64, memcpy(v[3] + 6, &u, 8);
    v[3][14] = DP_VALUE_FLOAT64, memcpy(v[3] + 15, &d, 8), len[3] = 23;
    v[4][0] = DP_VALUE_FLOAT64, memcpy(v[4] + 1, &d, 8), len[4] = 9;
    v[5][0] = DP_VALUE_COMPLEX128, memcpy(v[5] + 1, c, 16), len[5] = 17;
    len[6] = put_str(v[6], DP_VALUE_STR, "rx");
    /* {"a": [b"xy", None]} */
    at = 0;
    v[7][at++] = DP_VALUE_DICT, at += put_u32(v[7] + at, 1);
    at += put_u32(v[7] + at, 1), v[7][at++] = 'a';
    v[7][at++] = DP_VALUE_LIST, at += put_u32(v[7] + at, 2);
    at += put_str(v[7] + at, DP_VALUE_BYTES, "xy");
    v[7][at++] = DP_VALUE_NONE;
    len[7] = at;
    for (k = 0; k < 8; ++k) {
        tags[k].offset = k * 4;
        tags[k].key = keys[k];
        tags[k].key_len = strlen(keys[k]);
        tags[k].value = v[k];
        tags[k].value_len = len[k];
    }
    dp_buffer_f32_write_tags(b, src, 64, tags, 8);
    dp_buffer_f32_write(b, src, 512); /* refused: full; marks a gap */
    dp_buffer_f32_wait(b, 32, 0);
    dp_buffer_f32_consume(b, 32);
    dp_buffer_f32_write_tags(b, src, 16, tags + 3, 1); /* carries ("dropped", 512) */
    if (snapshot(name, outdir, "tags-f32") != 0)
        return 1;
    dp_buffer_f32_destroy(b);
    return 0;
}

/* Three streams: closed, closed, open (the producer handle still holds it). */
static int seed_streams(const char* outdir)
{
    char name[64];
    dp_f32_t src[100];
    dp_buffer_f32_t *b, *p;
    int run;
    memset(src, 0x33, sizeof src);
    snprintf(name, sizeof name, "corpus-%d-streams", (int)getpid());
    b = dp_buffer_f32_create_named(name, 1);
    if (!b)
        return 1;
    for (run = 0; run < 3; ++run) {
        p = dp_buffer_f32_attach(name);
        if (!p)
            return 1;
        dp_buffer_f32_write(p, src, 100);
        if (run < 2)
            dp_buffer_f32_destroy(p); /* ends the stream */
        else if (snapshot(name, outdir, "streams-f32") != 0)
            return 1;
        else
            dp_buffer_f32_destroy(p);
        while (dp_buffer_f32_wait(b, 50, 0))
            dp_buffer_f32_consume(b, 50);
    }
    dp_buffer_f32_destroy(b);
    return 0;
}

/* Readers: the default one, a tethered "rec", an untethered "gui" that was lapped. */
static int seed_readers(const char* outdir)
{
    char name[64];
    dp_f32_t src[512];
    dp_buffer_f32_t *b, *rec, *gui;
    int k;
    memset(src, 0x44, sizeof src);
    snprintf(name, sizeof name, "corpus-%d-readers", (int)getpid());
    b = dp_buffer_f32_create_named(name, 1);
    if (!b)
        return 1;
    rec = dp_buffer_f32_attach_reader(name, "rec", true, 1000000000, 0);
    gui = dp_buffer_f32_attach_reader(name, "gui", false, 0, 0);
    if (!rec || !gui) {
        fprintf(stderr, "%s\n", dp_last_error());
        return 1;
    }
    dp_buffer_f32_wait(gui, 1, 0); /* claims; nothing there yet */
    for (k = 0; k < 3; ++k) {
        dp_buffer_f32_write(b, src, 256);
        if (dp_buffer_f32_wait(b, 256, 0))
            dp_buffer_f32_consume(b, 256);
        if (dp_buffer_f32_wait(rec, 256, 0))
            dp_buffer_f32_consume(rec, 256);
    }
    dp_buffer_f32_wait(gui, 1, 0); /* lapped: skipped > 0 */
    if (snapshot(name, outdir, "readers-f32") != 0)
        return 1;
    dp_buffer_f32_destroy(gui);
    dp_buffer_f32_destroy(rec);
    dp_buffer_f32_destroy(b);
    return 0;
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

    if (seed_tags(argv[1]) || seed_streams(argv[1]) || seed_readers(argv[1]))
        return 1;

    char path[512];
    snprintf(path, sizeof path, "%s/valid-f32", argv[1]);
    if (load(path) != 0)
        return 1;
    const size_t page = (size_t)sysconf(_SC_PAGESIZE), n = object_size;
    const size_t header = (size_t)(uint32_t)field64(OFF_HEADER_BYTES);
    const uint64_t cap = field64(OFF_CAPACITY), w = field64(OFF_WRITE_IDX),
                   r = field64(OFF_READERS);
    int bad = 0;
    /* one header check failed at a time */
    bad |= variant(argv[1], "bad-magic", OFF_MAGIC, 8, 0x1122334455667788ull, n);
    bad |= variant(argv[1], "uninitialised", OFF_MAGIC, 8, 0, n);
    bad |= variant(argv[1], "bad-version", OFF_VERSION, 4, 99, n);
    bad |= variant(argv[1], "unknown-type", OFF_TYPE, 4, 99, n);
    bad |= variant(argv[1], "wrong-sample-size", OFF_SAMPLE_SIZE, 4, 4, n);
    bad |= variant(argv[1], "zero-sample-size", OFF_SAMPLE_SIZE, 4, 0, n);
    bad |= variant(
        argv[1], "header-two-pages", OFF_HEADER_BYTES, 4, header + page, n + page);
    bad |=
        variant(argv[1], "capacity-not-power-of-two", OFF_CAPACITY, 8, cap + cap / 2, n);
    bad |= variant(argv[1], "capacity-huge", OFF_CAPACITY, 8, (uint64_t)1 << 62, n);
    bad |= variant(
        argv[1], "data-size-twice", OFF_DATA_BYTES, 8, 2 * (n - header), 2 * n - header);
    bad |= variant(argv[1], "flags-set", OFF_FLAGS, 4, 2, n); /* bit 0 is the handshake */
    bad |=
        variant(argv[1], "reader-table-size", OFF_READER_SLOTS, 4, 17 | (32u << 16), n);
    bad |= variant(argv[1], "tag-offset", OFF_TAG_OFFSET, 4, 2 * page, n);
    bad |= variant(argv[1], "tag-bytes-odd", OFF_TAG_BYTES, 4, page + 16, n);
    bad |= variant(argv[1], "truncated-data", 0, 0, 0, n - page / 2);
    bad |= variant(argv[1], "truncated-header", 0, 0, 0, page / 2);
    bad |= variant(argv[1], "header-only", 0, 0, 0, page);
    /* valid headers, scribbled indices: views must stay in the mapping */
    bad |= variant(argv[1], "read-ahead-of-write", OFF_READERS, 8, w + 5 * cap + 3, n);
    bad |= variant(argv[1], "write-far-ahead", OFF_WRITE_IDX, 8, r + 9 * cap + 11, n);
    bad |= variant(argv[1], "read-index-wrapped", OFF_READERS, 8, UINT64_MAX - 2, n);
    bad |= variant(argv[1], "closed", OFF_CLOSED, 4, 1, n);
    bad |= variant(argv[1], "horizon-far-ahead", OFF_HORIZON, 8, w + 3 * cap, n);
    bad |= variant(argv[1], "stream-far-ahead", OFF_STREAM, 8, 1000, n);
    bad |= variant(argv[1], "parked-mask-all", OFF_PARKED_MASK, 4, 0xffffffffu, n);
    bad |= variant(argv[1], "slot-lock-stale", OFF_SLOT_LOCK, 8, 0x7fffffffull, n);
    bad |= variant(argv[1], "reader-masks-all", OFF_READER_MASK, 8, ~(uint64_t)0, n);

    /* the tables of layout 2, scribbled */
    snprintf(path, sizeof path, "%s/tags-f32", argv[1]);
    if (load(path) != 0)
        return 1;
    const uint64_t head = field64(OFF_TAG_HEAD);
    bad |=
        variant(argv[1], "tag-head-far-ahead", OFF_TAG_HEAD, 8, head + 5 * page + 8, n);
    bad |= variant(argv[1], "tag-tail-ahead-of-head", OFF_TAG_TAIL, 8, head + 16, n);
    bad |= variant(argv[1],
                   "tag-record-length",
                   page + 8,
                   4,
                   0xfffffff0u,
                   n); /* first record's value_len */
    bad |= variant(argv[1],
                   "tag-record-kind",
                   page + 12,
                   4,
                   0x00ff0007u,
                   n); /* key_len 7, kind 255 */
    snprintf(path, sizeof path, "%s/streams-f32", argv[1]);
    if (load(path) != 0)
        return 1;
    bad |= variant(argv[1], "seam-end-before-first", OFF_SEAMS + 32 * 2 + 16, 8, 1, n);
    bad |= variant(argv[1], "seam-stream-mismatch", OFF_SEAMS + 32 * 3, 8, 7, n);
    bad |= variant(argv[1], "seam-reason-garbage", OFF_SEAMS + 32 * 1 + 24, 4, 99, n);
    snprintf(path, sizeof path, "%s/readers-f32", argv[1]);
    if (load(path) != 0)
        return 1;
    bad |= variant(argv[1],
                   "reader-holder-self-pid",
                   OFF_READERS + 128 * 2 + 80,
                   8,
                   (uint64_t)getpid(),
                   n);
    bad |= variant(argv[1],
                   "reader-name-unterminated",
                   OFF_READERS + 128 * 1 + 96,
                   8,
                   0x4141414141414141ull,
                   n);
    bad |= variant(
        argv[1], "reader-position-ahead", OFF_READERS + 128 * 2, 8, UINT64_MAX / 2, n);
    return bad ? 1 : 0;
}
