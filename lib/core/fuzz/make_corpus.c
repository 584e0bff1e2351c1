/*
 * Writes the fuzz seed corpus: one valid ring object per sample type, with a
 * few samples published and one consumed, copied from /dev/shm.
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

#define SEED(T, S)                                                                       \
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

int main(int argc, char** argv)
{
    if (argc != 2) {
        fprintf(stderr, "usage: %s OUTDIR\n", argv[0]);
        return 2;
    }
    SEED(f32, dp_f32_t);
    SEED(f64, dp_f64_t);
    SEED(i16, dp_i16_t);
    return 0;
}
