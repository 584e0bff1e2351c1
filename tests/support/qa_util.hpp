/* Helpers shared by the Boost.Test files (core and bridge).
 * SPDX-License-Identifier: GPL-3.0-or-later */
#pragma once

#include <doppler/buffer.h>
#include <doppler/ring.hpp>

#include <boost/mpl/list.hpp>

#include <sys/wait.h>
#include <unistd.h>

#include <cstdio>

#include <atomic>
#include <cstdlib>
#include <ostream>
#include <string>
#include <vector>

namespace doppler {
/// Lets BOOST_TEST print a status when a comparison fails.
inline std::ostream& operator<<(std::ostream& os, status s)
{
    return os << status_name(s);
}
inline std::ostream& operator<<(std::ostream& os, handshake h)
{
    return os << (h == handshake::membarrier ? "membarrier" : "seq_cst");
}
inline std::ostream& operator<<(std::ostream& os, wait_strategy w)
{
    return os << (w == wait_strategy::poll ? "poll" : "park");
}
} // namespace doppler

namespace qa {

using namespace doppler;

using all_types = boost::mpl::list<f32, f64, i16>;

/// A sample that encodes the counter k exactly (sequence-number checks).
/// i16 carries 32 bits, f32 48 bits (two exact 24-bit floats), f64 53 bits.
template <class T>
T sample_of(uint64_t k);
template <>
inline f32 sample_of<f32>(uint64_t k)
{
    return f32(float(k & 0xffffff), float((k >> 24) & 0xffffff));
}
template <>
inline f64 sample_of<f64>(uint64_t k)
{
    return f64(double(k), -double(k));
}
template <>
inline i16 sample_of<i16>(uint64_t k)
{
    return i16 { int16_t(uint16_t(k)), int16_t(uint16_t(k >> 16)) };
}

/// What has been written into the temporary file f so far (a logger's
/// output, say); f stays positioned at its end.
inline std::string contents(FILE* f)
{
    std::fflush(f);
    std::string s(size_t(std::ftell(f)), '\0');
    std::rewind(f);
    s.resize(std::fread(&s[0], 1, s.size(), f));
    std::fseek(f, 0, SEEK_END);
    return s;
}

template <class T>
bool same(const T& a, const T& b)
{
    return std::memcmp(&a, &b, sizeof(T)) == 0;
}

/// Index of the first sample in [p, p+n) that is not sample_of(first + i), or n.
template <class T>
size_t first_mismatch(const T* p, size_t n, uint64_t first)
{
    for (size_t i = 0; i < n; ++i)
        if (!same(p[i], sample_of<T>(first + i)))
            return i;
    return n;
}

/// Samples per 4 KiB page: the capacity floor of each type.
template <class T>
uint64_t page_samples()
{
    return uint64_t(sysconf(_SC_PAGESIZE)) / sizeof(T);
}

/// The C ABI of type T as one struct of function pointers, so a test can be
/// a template over the type and still go through the exported C symbols: one
/// alias per dp_buffer_T_* function of buffer.h, alike by design.
template <class T>
struct c_api;

#define QA_C_API(CXX, T, S)                                                              \
    template <>                                                                          \
    struct c_api<CXX> {                                                                  \
        using buf = dp_buffer_##T##_t;                                                   \
        using sample = S;                                                                \
        static constexpr auto create = dp_buffer_##T##_create;                           \
        static constexpr auto create_named = dp_buffer_##T##_create_named;               \
        static constexpr auto attach = dp_buffer_##T##_attach;                           \
        static constexpr auto destroy = dp_buffer_##T##_destroy;                         \
        static constexpr auto write = dp_buffer_##T##_write;                             \
        static constexpr auto write_blocking = dp_buffer_##T##_write_blocking;           \
        static constexpr auto wait = dp_buffer_##T##_wait;                               \
        static constexpr auto consume = dp_buffer_##T##_consume;                         \
        static constexpr auto available = dp_buffer_##T##_available;                     \
        static constexpr auto capacity = dp_buffer_##T##_capacity;                       \
        static constexpr auto dropped = dp_buffer_##T##_dropped;                         \
        static constexpr auto missed_wakes = dp_buffer_##T##_missed_wakes;               \
        static constexpr auto close = dp_buffer_##T##_close;                             \
    };
QA_C_API(f32, f32, dp_f32_t)
QA_C_API(f64, f64, dp_f64_t)
QA_C_API(i16, i16, dp_i16_t)
#undef QA_C_API

/// Converts between the C and C++ sample types (same layout, checked in buffer_c.cc).
template <class T>
const typename c_api<T>::sample* as_c(const T* p)
{
    return reinterpret_cast<const typename c_api<T>::sample*>(p);
}
template <class T>
const T* as_cxx(const typename c_api<T>::sample* p)
{
    return reinterpret_cast<const T*>(p);
}

/// Multiplier for the long sequence tests: DOPPLER_QA_SCALE (e.g. 0.1 under
/// the sanitizers, which check the same paths with fewer samples); default 1.
inline double scale()
{
    const char* s = std::getenv("DOPPLER_QA_SCALE");
    const double v = s ? std::atof(s) : 1.0;
    return v > 0 ? v : 1.0;
}

/// A ring name no other test (or concurrent run) uses.
inline std::string unique_name(const char* what)
{
    static std::atomic<int> counter { 0 };
    return std::string("qa-") + what + "-" + std::to_string(getpid()) + "-" +
        std::to_string(counter.fetch_add(1, std::memory_order_relaxed));
}

/// n consecutive sequence samples starting at counter `first`.
template <class T>
std::vector<T> seq(uint64_t first, size_t n)
{
    std::vector<T> v(n);
    for (size_t i = 0; i < n; ++i)
        v[i] = sample_of<T>(first + i);
    return v;
}

/// The position r's reader published in the shared header (what producers
/// and other processes see), as opposed to r.read_index(), which a handle
/// that reads answers from its own state.
template <class T>
uint64_t published_read_index(const ring<T>& r)
{
    return r.seg()->ctl()->readers[r.reader_slot_index()].read_idx.load(
        std::memory_order_acquire);
}

/// The value of the "skipped" tag in the window r's last wait gave (what an
/// untethered reader was moved past), 0 if there is none.
template <class T>
uint64_t skipped_tag(ring<T>& r)
{
    tag_cursor c = r.tags();
    tag_view t;
    while (c.next(t))
        if (t.key == tag_skipped)
            return t.value.as_uint64();
    return 0;
}

/// Bounds every wait in the tests: a bug fails, never hangs.
constexpr int64_t generous_ns = 10'000'000'000;

/// xorshift64: cheap, deterministic chunk sizes and choices.
/// errno of what `f` throws as doppler::error (0 if it does not throw), and its message.
template <class F>
int error_of(F f, std::string* what = nullptr)
{
    try {
        f();
    } catch (const doppler::error& e) {
        if (what)
            *what = e.what();
        return e.code().value();
    }
    return 0;
}

struct rng {
    uint64_t s;
    uint64_t next()
    {
        s ^= s << 13;
        s ^= s >> 7;
        s ^= s << 17;
        return s;
    }
    uint64_t upto(uint64_t n) { return 1 + next() % n; } // 1..n
};

} // namespace qa

namespace qa {

/// Run `body` (returning an int) in a forked child that SIGALRM kills after
/// `seconds`; returns its exit code (128 + signal if killed). For calls that
/// would hang or spin if the code under test were wrong: the test fails
/// instead of stalling the suite. The child leaves with _exit.
template <class F>
int bounded_child(unsigned seconds, F body)
{
    std::fflush(stdout);
    const pid_t pid = fork();
    if (pid < 0)
        return -1;
    if (pid == 0) {
        alarm(seconds);
        int rc = 99;
        try {
            rc = body();
        } catch (...) {
        }
        _exit(rc);
    }
    int st = 0;
    if (waitpid(pid, &st, 0) != pid)
        return -1;
    return WIFEXITED(st) ? WEXITSTATUS(st) : 128 + WTERMSIG(st);
}

} // namespace qa
