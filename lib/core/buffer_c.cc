/* -*- c++ -*- */
/*
 * The C ABI: a thin shell over doppler::ring<T>. Each dp_buffer_T_t is a
 * ring<T>; every function forwards to one template below.
 * SPDX-License-Identifier: GPL-3.0-or-later
 */
#include <doppler/buffer.h>
#include <doppler/ring.hpp>

#include <memory>
#include <new>

using namespace doppler;

static_assert(sizeof(dp_f32_t) == sizeof(f32) && sizeof(dp_f64_t) == sizeof(f64) &&
                  sizeof(dp_i16_t) == sizeof(i16),
              "C sample types must match the C++ ones");

struct dp_buffer_f32 : ring<f32> {
    using ring::ring;
};
struct dp_buffer_f64 : ring<f64> {
    using ring::ring;
};
struct dp_buffer_i16 : ring<i16> {
    using ring::ring;
};

namespace {

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

template <class B>
B* create(size_t capacity) noexcept
{
    return guarded<B>([&] {
        return new B(
            segment::create(sample_traits<typename B::value_type>::type, capacity));
    });
}
template <class B>
B* create_named(const char* name, size_t capacity) noexcept
{
    if (!name)
        return fail_with<B>(EINVAL, "ring name is NULL");
    return guarded<B>([&] {
        return new B(segment::create_named(
            sample_traits<typename B::value_type>::type, name, capacity));
    });
}
template <class B>
B* attach(const char* name) noexcept
{
    if (!name)
        return fail_with<B>(EINVAL, "ring name is NULL");
    return guarded<B>([&] {
        return new B(segment::attach(name, sample_traits<typename B::value_type>::type));
    });
}
template <class B>
B* attach_reader(const char* name,
                 const char* reader,
                 bool tethered,
                 int64_t grace_ns) noexcept
{
    if (!name || !reader)
        return fail_with<B>(EINVAL, !name ? "ring name is NULL" : "reader name is NULL");
    return guarded<B>([&] {
        std::unique_ptr<B> b(
            new B(segment::attach(name, sample_traits<typename B::value_type>::type)));
        b->claim_reader(reader, tethered, grace_ns);
        return b.release();
    });
}
/// dp_tag_t -> tag_in, in a bounded local array (no allocation): writes of
/// more tags than that are refused with EINVAL.
constexpr size_t max_c_tags = 256;
template <class B, class S>
bool write_tags(B* b, const S* src, size_t n, const dp_tag_t* tags, size_t ntags) noexcept
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
    return b->write(reinterpret_cast<const typename B::value_type*>(src), n, in, ntags);
}
template <class B>
size_t tags(B* b, dp_tag_t* out, size_t max) noexcept
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

template <class B, class S>
bool write(B* b, const S* src, size_t n) noexcept
{
    return b->write(reinterpret_cast<const typename B::value_type*>(src), n);
}
template <class S, class B>
const S* wait(B* b, size_t n, int64_t timeout_ns) noexcept
{
    auto v = b->wait(n, timeout_ns);
    if (!v)
        errno = status_errno(v.why);
    return reinterpret_cast<const S*>(v.data);
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

// One line per function: the whole C ABI reads as one table.
// clang-format off
#define DP_BUFFER_DEFINE(T, S)                                                                               \
    dp_buffer_##T##_t* dp_buffer_##T##_create(size_t c) { return create<dp_buffer_##T##_t>(c); }             \
    dp_buffer_##T##_t* dp_buffer_##T##_create_named(const char* nm, size_t c)                                \
    {                                                                                                        \
        return create_named<dp_buffer_##T##_t>(nm, c);                                                       \
    }                                                                                                        \
    dp_buffer_##T##_t* dp_buffer_##T##_attach(const char* nm) { return attach<dp_buffer_##T##_t>(nm); }      \
    void dp_buffer_##T##_destroy(dp_buffer_##T##_t* b) { delete b; }                                         \
    bool dp_buffer_##T##_write(dp_buffer_##T##_t* b, const S* s, size_t n) { return write(b, s, n); }       \
    const S* dp_buffer_##T##_wait(dp_buffer_##T##_t* b, size_t n, int64_t t) { return wait<S>(b, n, t); }   \
    bool dp_buffer_##T##_consume(dp_buffer_##T##_t* b, size_t n) { return b->consume(n); }                  \
    size_t dp_buffer_##T##_available(const dp_buffer_##T##_t* b) { return b->available(); }                 \
    size_t dp_buffer_##T##_capacity(const dp_buffer_##T##_t* b) { return b->capacity(); }                   \
    uint64_t dp_buffer_##T##_dropped(const dp_buffer_##T##_t* b) { return b->dropped(); }                   \
    uint64_t dp_buffer_##T##_missed_wakes(const dp_buffer_##T##_t* b) { return b->missed_wakes(); }         \
    void dp_buffer_##T##_close(dp_buffer_##T##_t* b) { b->close(); }                                       \
    dp_buffer_##T##_t* dp_buffer_##T##_attach_reader(const char* nm, const char* rd, bool te, int64_t g)    \
    {                                                                                                        \
        return attach_reader<dp_buffer_##T##_t>(nm, rd, te, g);                                              \
    }                                                                                                        \
    bool dp_buffer_##T##_write_tags(dp_buffer_##T##_t* b, const S* s, size_t n, const dp_tag_t* t, size_t k) \
    {                                                                                                        \
        return write_tags(b, s, n, t, k);                                                                    \
    }                                                                                                        \
    size_t dp_buffer_##T##_tags(dp_buffer_##T##_t* b, dp_tag_t* o, size_t m) { return tags(b, o, m); }      \
    int64_t dp_buffer_##T##_consume_checked(dp_buffer_##T##_t* b, size_t n) { return b->consume_checked(n); } \
    uint64_t dp_buffer_##T##_stream(const dp_buffer_##T##_t* b) { return b->stream(); }                     \
    uint64_t dp_buffer_##T##_skipped(const dp_buffer_##T##_t* b) { return b->skipped(); }                   \
    uint64_t dp_buffer_##T##_tags_dropped(const dp_buffer_##T##_t* b) { return b->tags_dropped(); }         \
    uint64_t dp_buffer_##T##_written(const dp_buffer_##T##_t* b) { return b->written(); }                   \
    uint64_t dp_buffer_##T##_read_index(const dp_buffer_##T##_t* b) { return b->consumer_index(); }
// clang-format on

extern "C" {
DP_BUFFER_DEFINE(f32, dp_f32_t)
DP_BUFFER_DEFINE(f64, dp_f64_t)
DP_BUFFER_DEFINE(i16, dp_i16_t)
// The previous release's names (buffer.h): the same functions again.
DP_BUFFER_DEFINE(cf32, dp_f32_t)
DP_BUFFER_DEFINE(cf64, dp_f64_t)
}
