/* -*- c++ -*- */
/*
 * libFuzzer target for the attach / validate path: the input is the whole
 * ring object (control page + tag area + data), as a hostile or corrupt peer
 * could leave it in /dev/shm. It is put in a memfd and attached exactly as a
 * named ring is (segment::attach_fd); then, on whatever was accepted, the
 * reader table (the default reader and a named untethered one are claimed),
 * the seam table (stream bookkeeping of every wait), the tag area (every
 * record of every window walked and every value decoded) and a producer's
 * write with a tag (which reclaims tag space over the fuzzed records) are
 * exercised. It must never crash, hang or read out of bounds.
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

/// Touch every byte of a decoded value (containers recursively).
uint64_t walk(const value_view& v)
{
    uint64_t h = uint64_t(v.type());
    switch (v.type()) {
    case value_type::str:
    case value_type::bytes:
        for (char c : v.as_str())
            h = h * 31 + uint8_t(c);
        break;
    case value_type::tuple:
    case value_type::list:
    case value_type::dict: {
        auto it = v.items();
        value_view e;
        while (it.next(e))
            h = h * 31 + walk(e) + it.key().size();
        break;
    }
    case value_type::int64:
        h += uint64_t(v.as_int64());
        break;
    default:
        break;
    }
    return h;
}

/// Read everything a reader is offered, with its tags; then release it.
template <class T>
void read_all(ring<T>& r)
{
    volatile uint64_t sink = 0;
    for (int round = 0; round < 3; ++round) {
        uint64_t n = r.poll_available();
        if (n == 0) {
            (void)r.wait(1, 0); // stream ends, broken producers, next streams
            continue;
        }
        auto v = r.wait(n, 0);
        if (!v)
            continue;
        // The view must stay inside the mapping whatever the header says.
        const auto* bytes = reinterpret_cast<const volatile uint8_t*>(v.data);
        for (size_t i = 0; i < n * sizeof(T); i += 64)
            sink = sink ^ bytes[i];
        sink = sink ^ bytes[n * sizeof(T) - 1];
        tag_cursor c = r.tags();
        tag_view t;
        while (c.next(t))
            sink = sink + t.index + t.key.size() + walk(t.value);
        (void)r.consume_checked(n);
    }
    (void)r.available();
    (void)r.stream();
    (void)r.skipped();
}

template <class T>
void exercise(std::shared_ptr<segment> seg)
{
    {
        ring<T> r(seg);
        read_all(r);
        (void)r.dropped();
        (void)r.closed();
        (void)r.tags_dropped();
        (void)r.missed_wakes();
    }
    try {
        ring<T> named(seg);
        named.claim_reader("fuzz", false, 0);
        read_all(named);
    } catch (const error&) {
        // a live holder or a full table, as the fuzzed table says
    }
    {
        ring<T> p(seg);
        T s[4] {};
        std::string v;
        encode::tuple(v, 2);
        encode::uint64(v, 7);
        encode::str(v, "x");
        const tag_in t { 1, "k", v };
        (void)p.write(s, 4, &t, 1); // reclaims tag space over the fuzzed records
        ring<T> r(seg);
        read_all(r);
    }
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
