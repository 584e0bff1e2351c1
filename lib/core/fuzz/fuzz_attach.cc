/* -*- c++ -*- */
/*
 * libFuzzer target for the attach / validate path: the input is the whole
 * ring object (header page + data), as a hostile or corrupt peer could leave
 * it in /dev/shm. It is put in a memfd and attached exactly as a named ring
 * is (segment::attach_fd); then the consumer side is exercised on whatever
 * was accepted. It must never crash, hang or read out of bounds.
 *
 * Build: cmake -DDOPPLER_CORE_ONLY=ON -DDOPPLER_FUZZ=ON -DCMAKE_CXX_COMPILER=clang++
 * Run:   ./lib/core/fuzz_attach -max_len=20000 -max_total_time=60 ../lib/core/fuzz/corpus
 * SPDX-License-Identifier: GPL-3.0-or-later
 */
#include <doppler/ring.hpp>

#include <sys/mman.h>
#include <unistd.h>

using namespace doppler;

namespace {

template <class T>
void exercise(std::shared_ptr<segment> seg)
{
    ring<T> r(std::move(seg));
    // Read everything the (untrusted) indices claim is there: the view must
    // stay inside the mapping whatever the header says.
    uint64_t n = r.readable();
    if (n > 0) {
        auto v = r.wait(n, 0);
        if (v) {
            volatile uint8_t sink = 0;
            const auto* bytes = reinterpret_cast<const volatile uint8_t*>(v.data);
            for (size_t i = 0; i < n * sizeof(T); i += 64)
                sink = sink ^ bytes[i];
            sink = sink ^ bytes[n * sizeof(T) - 1];
            if (!r.consume(n)) // the n samples wait(n) just returned
                __builtin_trap();
        }
    }
    (void)r.available();
    (void)r.dropped();
    (void)r.closed();
}

} // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size)
{
    int fd = memfd_create("doppler-fuzz", MFD_CLOEXEC);
    if (fd < 0)
        return 0;
    size_t done = 0;
    while (done < size) {
        ssize_t w = write(fd, data + done, size - done);
        if (w <= 0)
            break;
        done += size_t(w);
    }
    try {
        auto seg = segment::attach_fd(fd, sample_type(0), true, "fuzz input");
        switch (seg->type()) {
        case sample_type::f32:
            exercise<f32>(std::move(seg));
            break;
        case sample_type::f64:
            exercise<f64>(std::move(seg));
            break;
        case sample_type::i16:
            exercise<i16>(std::move(seg));
            break;
        }
    } catch (const error&) {
        // Refused with a message: exactly what a corrupt object should get.
    }
    close(fd);
    return 0;
}
