/* -*- c++ -*- */
/*
 * The C ABI: a thin shell over doppler::ring<T>. A dp_buffer_T_t pointer is
 * the address of its ring<T>'s hot state (hot.h), which buffer.h's inline
 * functions use directly; every function here converts it back and forwards
 * to one template below. The hot calls are exported too (for callers that
 * do not inline them), and their *_slow twins are what the inline versions
 * call when the inline path cannot finish.
 * SPDX-License-Identifier: GPL-3.0-or-later
 */
#define DP_BUFFER_NO_INLINE // this file defines the exported versions
#include <doppler/buffer.h>
#include <doppler/ring.hpp>

#include <memory>
#include <new>

using namespace doppler;

static_assert(sizeof(dp_f32_t) == sizeof(f32) && sizeof(dp_f64_t) == sizeof(f64) &&
                  sizeof(dp_i16_t) == sizeof(i16),
              "C sample types must match the C++ ones");

namespace {

/// C handle <-> ring<T>: the handle pointer is the ring's hot state.
template <class T>
ring<T>* of(const void* b) noexcept
{
    return static_cast<ring<T>*>(
        detail::handle::of(static_cast<dp_hot*>(const_cast<void*>(b))));
}
template <class B, class T>
B* handle_of(ring<T>* r) noexcept
{
    return reinterpret_cast<B*>(r->hot());
}

thread_local std::string last_error;

template <class B>
B* fail_with(int err, const char* what)
{
    last_error = what;
    errno = err;
    return nullptr;
}

/// Runs a constructor-like call; C++ exceptions become NULL + errno.
template <class B, class F>
B* guarded(F make) noexcept
{
    try {
        last_error.clear();
        return make();
    } catch (const doppler::error& e) {
        return fail_with<B>(e.code().value(), e.what());
    } catch (const std::bad_alloc&) {
        return fail_with<B>(ENOMEM, "out of memory");
    } catch (const std::exception& e) {
        return fail_with<B>(EIO, e.what());
    }
}

template <class B, class T>
B* create(size_t capacity) noexcept
{
    return guarded<B>([&] {
        return handle_of<B>(
            new ring<T>(segment::create(sample_traits<T>::type, capacity)));
    });
}
template <class B, class T>
B* create_named(const char* name, size_t capacity) noexcept
{
    if (!name)
        return fail_with<B>(EINVAL, "ring name is NULL");
    return guarded<B>([&] {
        return handle_of<B>(
            new ring<T>(segment::create_named(sample_traits<T>::type, name, capacity)));
    });
}
template <class B, class T>
B* attach(const char* name) noexcept
{
    if (!name)
        return fail_with<B>(EINVAL, "ring name is NULL");
    return guarded<B>([&] {
        return handle_of<B>(new ring<T>(segment::attach(name, sample_traits<T>::type)));
    });
}
template <class B, class T>
B* attach_reader(const char* name,
                 const char* reader,
                 bool tethered,
                 int64_t grace_ns,
                 uint64_t history) noexcept
{
    if (!name || !reader)
        return fail_with<B>(EINVAL, !name ? "ring name is NULL" : "reader name is NULL");
    return guarded<B>([&] {
        std::unique_ptr<ring<T>> r(
            new ring<T>(segment::attach(name, sample_traits<T>::type)));
        r->claim_reader(reader, tethered, grace_ns, audience::api, history);
        return handle_of<B>(r.release());
    });
}
/// dp_tag_t -> tag_in, in a bounded local array (no allocation): writes of
/// more tags than that are refused with EINVAL.
constexpr size_t max_c_tags = 256;
template <class T, class S>
bool write_tags(
    ring<T>* b, const S* src, size_t n, const dp_tag_t* tags, size_t ntags) noexcept
{
    if (ntags > max_c_tags || (ntags && !tags)) {
        last_error = "at most 256 tags per write, and a non-NULL array";
        errno = EINVAL;
        return false;
    }
    tag_in in[max_c_tags];
    for (size_t i = 0; i < ntags; ++i) {
        if (!tags[i].key || !tags[i].value) {
            last_error = "a tag's key or value is NULL";
            errno = EINVAL;
            return false;
        }
        in[i] = { tags[i].offset,
                  std::string_view(tags[i].key, tags[i].key_len),
                  std::string_view(reinterpret_cast<const char*>(tags[i].value),
                                   tags[i].value_len) };
    }
    return b->write(reinterpret_cast<const T*>(src), n, in, ntags);
}
template <class T>
size_t tags(ring<T>* b, dp_tag_t* out, size_t max) noexcept
{
    tag_cursor c = b->tags();
    tag_view t;
    size_t count = 0;
    while (c.next(t)) {
        if (count < max && out)
            out[count] = {
                t.index, t.key.data(), t.key.size(), t.value.data(), t.value.size()
            };
        ++count;
    }
    return count;
}

template <class T, class S>
bool write(ring<T>* b, const S* src, size_t n) noexcept
{
    return b->write(reinterpret_cast<const T*>(src), n);
}
template <class T, class S>
size_t write_blocking(ring<T>* b, const S* src, size_t n, int64_t timeout_ns) noexcept
{
    uint64_t done = 0;
    const status s =
        b->write_blocking(reinterpret_cast<const T*>(src), n, timeout_ns, &done);
    if (s != status::ok)
        errno = s == status::end_of_stream ? EPIPE
            : s == status::broken          ? ECONNRESET
                                           : status_errno(s);
    return size_t(done);
}
template <class S, class T>
const S* wait(ring<T>* b, size_t n, int64_t timeout_ns) noexcept
{
    auto v = b->wait(n, timeout_ns);
    if (!v)
        errno = status_errno(v.why);
    return reinterpret_cast<const S*>(v.data);
}
template <class T>
bool set_wait_strategy(ring<T>* b, int strategy) noexcept
{
    if (strategy != DP_WAIT_PARK && strategy != DP_WAIT_POLL) {
        errno = EINVAL;
        return false;
    }
    b->set_wait_strategy(strategy == DP_WAIT_POLL ? wait_strategy::poll
                                                  : wait_strategy::park);
    return true;
}

} // namespace

extern "C" const char* dp_last_error(void)
{
    return last_error.c_str();
}

extern "C" size_t dp_value_check(const uint8_t* p, size_t n)
{
    size_t used = 0;
    return p && validate_value(p, n, &used, nullptr) ? used : 0;
}

// One line per function: the whole C ABI reads as one table. B is the C
// handle type, X the ring's sample type, S the C sample type.
// clang-format off
#define DP_BUFFER_DEFINE(T, X, S)                                                                            \
    dp_buffer_##T##_t* dp_buffer_##T##_create(size_t c) { return create<dp_buffer_##T##_t, X>(c); }          \
    dp_buffer_##T##_t* dp_buffer_##T##_create_named(const char* nm, size_t c)                                \
    {                                                                                                        \
        return create_named<dp_buffer_##T##_t, X>(nm, c);                                                    \
    }                                                                                                        \
    dp_buffer_##T##_t* dp_buffer_##T##_attach(const char* nm) { return attach<dp_buffer_##T##_t, X>(nm); }   \
    void dp_buffer_##T##_destroy(dp_buffer_##T##_t* b) { delete of<X>(b); }                                  \
    bool dp_buffer_##T##_write(dp_buffer_##T##_t* b, const S* s, size_t n) { return write(of<X>(b), s, n); } \
    const S* dp_buffer_##T##_wait(dp_buffer_##T##_t* b, size_t n, int64_t t) { return wait<S>(of<X>(b), n, t); } \
    bool dp_buffer_##T##_consume(dp_buffer_##T##_t* b, size_t n) { return of<X>(b)->consume(n); }           \
    size_t dp_buffer_##T##_available(const dp_buffer_##T##_t* b) { return of<X>(b)->available(); }          \
    size_t dp_buffer_##T##_capacity(const dp_buffer_##T##_t* b) { return of<X>(b)->capacity(); }            \
    uint64_t dp_buffer_##T##_dropped(const dp_buffer_##T##_t* b) { return of<X>(b)->dropped(); }            \
    uint64_t dp_buffer_##T##_missed_wakes(const dp_buffer_##T##_t* b) { return of<X>(b)->missed_wakes(); }  \
    void dp_buffer_##T##_close(dp_buffer_##T##_t* b) { of<X>(b)->close(); }                                \
    dp_buffer_##T##_t* dp_buffer_##T##_attach_reader(const char* nm, const char* rd, bool te, int64_t g,    \
                                                     uint64_t h)                                             \
    {                                                                                                        \
        return attach_reader<dp_buffer_##T##_t, X>(nm, rd, te, g, h);                                        \
    }                                                                                                        \
    uint64_t dp_buffer_##T##_history(const dp_buffer_##T##_t* b) { return of<X>(b)->history(); }            \
    bool dp_buffer_##T##_write_tags(dp_buffer_##T##_t* b, const S* s, size_t n, const dp_tag_t* t, size_t k) \
    {                                                                                                        \
        return write_tags(of<X>(b), s, n, t, k);                                                             \
    }                                                                                                        \
    size_t dp_buffer_##T##_tags(dp_buffer_##T##_t* b, dp_tag_t* o, size_t m) { return tags(of<X>(b), o, m); } \
    int64_t dp_buffer_##T##_consume_checked(dp_buffer_##T##_t* b, size_t n) { return of<X>(b)->consume_checked(n); } \
    uint64_t dp_buffer_##T##_stream(const dp_buffer_##T##_t* b) { return of<X>(b)->stream(); }              \
    uint64_t dp_buffer_##T##_skipped(const dp_buffer_##T##_t* b) { return of<X>(b)->skipped(); }            \
    uint64_t dp_buffer_##T##_tags_dropped(const dp_buffer_##T##_t* b) { return of<X>(b)->tags_dropped(); }  \
    uint64_t dp_buffer_##T##_written(const dp_buffer_##T##_t* b) { return of<X>(b)->written(); }            \
    uint64_t dp_buffer_##T##_read_index(const dp_buffer_##T##_t* b) { return of<X>(b)->read_index(); }

// What came with the inline calls (buffer.h: DP_BUFFER_DECLARE_MORE, and the
// out-of-line write_blocking).
#define DP_BUFFER_DEFINE_MORE(T, X, S)                                                                       \
    size_t dp_buffer_##T##_write_blocking(dp_buffer_##T##_t* b, const S* s, size_t n, int64_t t)            \
    {                                                                                                        \
        return write_blocking(of<X>(b), s, n, t);                                                            \
    }                                                                                                        \
    bool dp_buffer_##T##_set_wait_strategy(dp_buffer_##T##_t* b, int w) { return set_wait_strategy(of<X>(b), w); } \
    int dp_buffer_##T##_get_wait_strategy(const dp_buffer_##T##_t* b)                                        \
    {                                                                                                        \
        return of<X>(b)->get_wait_strategy() == wait_strategy::poll ? DP_WAIT_POLL : DP_WAIT_PARK;           \
    }                                                                                                        \
    bool dp_buffer_##T##_write_slow(dp_buffer_##T##_t* b, const S* s, size_t n) { return write(of<X>(b), s, n); } \
    size_t dp_buffer_##T##_write_blocking_slow(dp_buffer_##T##_t* b, const S* s, size_t n, int64_t t)       \
    {                                                                                                        \
        return write_blocking(of<X>(b), s, n, t);                                                            \
    }                                                                                                        \
    const S* dp_buffer_##T##_wait_slow(dp_buffer_##T##_t* b, size_t n, int64_t t) { return wait<S>(of<X>(b), n, t); } \
    bool dp_buffer_##T##_consume_slow(dp_buffer_##T##_t* b, size_t n) { return of<X>(b)->consume(n); }
// clang-format on

extern "C" {
DP_BUFFER_DEFINE(f32, f32, dp_f32_t)
DP_BUFFER_DEFINE(f64, f64, dp_f64_t)
DP_BUFFER_DEFINE(i16, i16, dp_i16_t)
DP_BUFFER_DEFINE_MORE(f32, f32, dp_f32_t)
DP_BUFFER_DEFINE_MORE(f64, f64, dp_f64_t)
DP_BUFFER_DEFINE_MORE(i16, i16, dp_i16_t)
}
