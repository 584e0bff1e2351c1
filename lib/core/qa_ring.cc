/* Core ring tests, in-process (Boost.Test): every behaviour is checked through
 * the C++ template and, where the C ABI has it, through the C functions too.
 * SPDX-License-Identifier: GPL-3.0-or-later */
#define BOOST_TEST_MODULE doppler_ring
#include <boost/test/unit_test.hpp>

#include "qa_util.hpp"

#include <chrono>
#include <cstring>
#include <memory>
#include <thread>
#include <vector>

using namespace doppler;
using namespace qa;

namespace {

/// Owns a C ABI buffer.
template <class T>
using c_buf = std::unique_ptr<typename c_api<T>::buf, decltype(c_api<T>::destroy)>;
template <class T>
c_buf<T> c_create(size_t capacity)
{
    return c_buf<T>(c_api<T>::create(capacity), c_api<T>::destroy);
}

} // namespace

// ---------------------------------------------------------------------------
// wrap-around contiguity
// ---------------------------------------------------------------------------

BOOST_AUTO_TEST_CASE_TEMPLATE(mirror_aliases_the_same_bytes, T, all_types)
{
    ring<T> r(1);
    const uint64_t cap = r.capacity();
    T* d = static_cast<T*>(r.seg()->data());
    for (uint64_t i = 0; i < cap; ++i)
        d[i] = sample_of<T>(i);
    BOOST_TEST(first_mismatch(d + cap, cap, 0) ==
               cap); // second view sees the first's writes
    for (uint64_t i = 0; i < cap; ++i)
        d[cap + i] = sample_of<T>(1000 + i);
    BOOST_TEST(first_mismatch(d, cap, 1000) == cap); // and the other way round
}

BOOST_AUTO_TEST_CASE_TEMPLATE(block_across_the_end_is_one_range_cxx, T, all_types)
{
    ring<T> r(1);
    const uint64_t cap = r.capacity();
    // Every offset class: the block starts k samples before the end.
    for (uint64_t k : { uint64_t(1), uint64_t(3), cap / 2, cap - 1 }) {
        const uint64_t start = r.written();
        const uint64_t pad =
            (cap - k - start) & (cap - 1); // move the write index to cap - k
        auto a = seq<T>(start, pad);
        if (pad)
            BOOST_REQUIRE(r.write(a.data(), pad) && r.wait(pad, 0) && r.consume(pad));
        auto b = seq<T>(start + pad, cap);
        BOOST_REQUIRE(r.write(b.data(), cap)); // the whole ring, straddling
        auto v = r.wait(cap, 0);
        BOOST_REQUIRE(v);
        BOOST_TEST(v.data == static_cast<const T*>(r.seg()->data()) + (cap - k));
        BOOST_TEST(first_mismatch(v.data, cap, start + pad) == cap);
        BOOST_REQUIRE(r.consume(cap));
    }
}

BOOST_AUTO_TEST_CASE_TEMPLATE(block_across_the_end_is_one_range_c, T, all_types)
{
    using C = c_api<T>;
    auto b = c_create<T>(1);
    BOOST_REQUIRE(b);
    const size_t cap = C::capacity(b.get());
    const size_t pad = cap - 5;
    auto a = seq<T>(0, pad);
    BOOST_REQUIRE(C::write(b.get(), as_c(a.data()), pad));
    BOOST_REQUIRE(C::wait(b.get(), pad, 0));
    BOOST_REQUIRE(C::consume(b.get(), pad));
    auto all = seq<T>(pad, cap);
    BOOST_REQUIRE(C::write(b.get(), as_c(all.data()), cap));
    BOOST_TEST(C::available(b.get()) == cap);
    const T* p = as_cxx<T>(C::wait(b.get(), cap, 0));
    BOOST_REQUIRE(p);
    BOOST_TEST(first_mismatch(p, cap, pad) == cap);
    BOOST_TEST(C::consume(b.get(), cap));
}

// ---------------------------------------------------------------------------
// capacity
// ---------------------------------------------------------------------------

BOOST_AUTO_TEST_CASE_TEMPLATE(capacity_rounds_up, T, all_types)
{
    const uint64_t floor = page_samples<T>();
    BOOST_TEST(floor == 4096 / sizeof(T));
    const std::pair<uint64_t, uint64_t> cases[] = {
        { 1, floor },
        { floor - 1, floor },
        { floor, floor },
        { floor + 1, 2 * floor },
        { 1000, std::max<uint64_t>(1024, floor) },
        { 4096, 4096 },
        { 65536, 65536 },
        { 65537, 131072 },
    };
    for (auto [req, want] : cases) {
        BOOST_TEST_CONTEXT("requested " << req)
        {
            BOOST_TEST(ring<T>(req).capacity() == want);
            BOOST_TEST(segment::round_capacity(sample_traits<T>::type, req) == want);
            auto b = c_create<T>(size_t(req));
            BOOST_REQUIRE(b);
            BOOST_TEST(c_api<T>::capacity(b.get()) == want);
        }
    }
}

BOOST_AUTO_TEST_CASE_TEMPLATE(capacity_rounds_to_a_power_of_two_at_every_size,
                              T,
                              all_types)
{
    // The rounding alone (no memory is reserved): every size up to the
    // largest ring, including the big ones no other test creates.
    const sample_type t = sample_traits<T>::type;
    const uint64_t floor = page_samples<T>(), top = max_data_bytes / sizeof(T);
    uint64_t wrong = 0, first_wrong = 0;
    for (uint64_t p = 1; p <= top; p <<= 1)
        for (uint64_t req : { p - 1, p, p + 1, p + p / 2 }) {
            if (req == 0 || req > top)
                continue;
            const uint64_t cap = segment::round_capacity(t, req);
            const bool ok = (cap & (cap - 1)) == 0 && cap >= req && cap >= floor &&
                (cap == floor || cap < 2 * req);
            if (!ok && wrong++ == 0)
                first_wrong = req;
        }
    BOOST_TEST(wrong == 0u, "first bad rounding at " << first_wrong << " samples");
    BOOST_TEST(segment::round_capacity(t, top) == top);
}

BOOST_AUTO_TEST_CASE_TEMPLATE(capacity_zero_or_too_large_is_einval, T, all_types)
{
    const uint64_t too_large = max_data_bytes / sizeof(T) + 1;
    for (uint64_t req : { uint64_t(0), too_large, uint64_t(SIZE_MAX) }) {
        BOOST_TEST_CONTEXT("requested " << req)
        {
            try {
                ring<T> r(req);
                BOOST_ERROR("a ring of " << req << " samples was created");
            } catch (const doppler::error& e) {
                BOOST_TEST(e.code().value() == EINVAL);
                BOOST_TEST(std::string(e.what()).find("capacity") != std::string::npos);
            }
            errno = 0;
            auto b = c_create<T>(size_t(req));
            BOOST_TEST(!b);
            BOOST_TEST(errno == EINVAL);
            BOOST_TEST(std::string(dp_last_error()).find("capacity") !=
                       std::string::npos);
        }
    }
}

BOOST_AUTO_TEST_CASE_TEMPLATE(the_largest_ring_holds_one_tebibyte_of_data, T, all_types)
{
    // The limit the documentation gives, written out (not max_data_bytes,
    // which a changed limit would change along with it). Only the rounding
    // runs: nothing of that size is reserved.
    const sample_type t = sample_traits<T>::type;
    const uint64_t tebibyte = uint64_t(1) << 40, top = tebibyte / sizeof(T);
    BOOST_TEST(segment::round_capacity(t, top) == top);
    for (uint64_t req : { top + 1, 2 * top }) {
        BOOST_TEST_CONTEXT("requested " << req)
        {
            try {
                const uint64_t cap = segment::round_capacity(t, req);
                BOOST_ERROR("a ring of " << cap * sizeof(T) << " bytes was accepted");
            } catch (const doppler::error& e) {
                BOOST_TEST(e.code().value() == EINVAL);
            }
        }
    }
}

BOOST_AUTO_TEST_CASE_TEMPLATE(capacity_beyond_memory_is_enomem_not_an_oom_kill,
                              T,
                              all_types)
{
    const uint64_t ram =
        uint64_t(sysconf(_SC_PHYS_PAGES)) * uint64_t(sysconf(_SC_PAGESIZE));
    const uint64_t req = 2 * ram / sizeof(T);
    // On a machine with more than 512 GiB twice its memory is beyond the
    // largest ring: then the request is refused as too large instead.
    const int want = req > max_data_bytes / sizeof(T) ? EINVAL : ENOMEM;
    try {
        ring<T> r(req);
        BOOST_ERROR("a ring larger than the machine's memory was created");
    } catch (const doppler::error& e) {
        BOOST_TEST(e.code().value() == want);
        BOOST_TEST(std::string(e.what()).find(want == ENOMEM ? "memory" : "capacity") !=
                   std::string::npos);
    }
    errno = 0;
    BOOST_TEST(!c_create<T>(size_t(req)));
    BOOST_TEST(errno == want);
}

// ---------------------------------------------------------------------------
// all-or-nothing writes, drops
// ---------------------------------------------------------------------------

BOOST_AUTO_TEST_CASE_TEMPLATE(writes_are_all_or_nothing_cxx, T, all_types)
{
    ring<T> r(1);
    const uint64_t cap = r.capacity();
    auto a = seq<T>(0, cap + 1);
    BOOST_TEST(r.write(a.data(), cap - 10));
    auto junk = seq<T>(999999, 20);
    BOOST_TEST(!r.write(junk.data(), 20)); // 10 free: refused whole
    BOOST_TEST(r.dropped() == 20u);
    BOOST_TEST(r.available() == cap - 10);
    BOOST_TEST(r.write(a.data() + cap - 10, 10)); // exactly fills
    BOOST_TEST(!r.write(junk.data(), 1));
    BOOST_TEST(r.dropped() == 21u);
    errno = 0;
    BOOST_TEST(!r.write(a.data(), cap + 1)); // can never fit: an error, not a drop
    BOOST_TEST(errno == EINVAL);
    BOOST_TEST(r.dropped() == 21u);
    BOOST_TEST(r.write(a.data(), 0));
    auto v = r.wait(cap, 0);
    BOOST_REQUIRE(v);
    BOOST_TEST(first_mismatch(v.data, cap, 0) == cap); // no refused sample landed
    BOOST_TEST(r.consume(cap));
    BOOST_TEST(r.write(a.data(), cap)); // room again after consume
    BOOST_TEST(r.dropped() == 21u);
}

BOOST_AUTO_TEST_CASE_TEMPLATE(writes_are_all_or_nothing_c, T, all_types)
{
    using C = c_api<T>;
    auto b = c_create<T>(1);
    BOOST_REQUIRE(b);
    const size_t cap = C::capacity(b.get());
    auto a = seq<T>(0, cap + 1);
    BOOST_TEST(C::write(b.get(), as_c(a.data()), cap - 3));
    BOOST_TEST(!C::write(b.get(), as_c(a.data()), 4));
    BOOST_TEST(!C::write(b.get(), as_c(a.data()), 7));
    BOOST_TEST(C::dropped(b.get()) == 11u);
    errno = 0;
    BOOST_TEST(!C::write(b.get(), as_c(a.data()), cap + 1));
    BOOST_TEST(errno == EINVAL);
    BOOST_TEST(C::dropped(b.get()) == 11u);
    BOOST_TEST(C::write(b.get(), as_c(a.data() + cap - 3), 3));
    BOOST_TEST(C::available(b.get()) == cap);
    const T* p = as_cxx<T>(C::wait(b.get(), cap, 0));
    BOOST_REQUIRE(p);
    BOOST_TEST(first_mismatch(p, cap, 0) == cap);
    errno = 0;
    BOOST_TEST(!C::consume(b.get(), cap + 1)); // more than is readable
    BOOST_TEST(errno == EINVAL);
    BOOST_TEST(C::consume(b.get(), cap));
    BOOST_TEST(C::available(b.get()) == 0u);
}

// ---------------------------------------------------------------------------
// end of stream, timeouts, bad arguments
// ---------------------------------------------------------------------------

BOOST_AUTO_TEST_CASE_TEMPLATE(close_drains_then_end_of_stream, T, all_types)
{
    ring<T> r(1);
    auto a = seq<T>(0, 100);
    BOOST_REQUIRE(r.write(a.data(), 100));
    r.close();
    BOOST_TEST(r.closed());
    auto v = r.wait(60, generous_ns);
    BOOST_REQUIRE(v);
    BOOST_TEST(first_mismatch(v.data, 60, 0) == 60u);
    BOOST_TEST(r.consume(60));
    BOOST_TEST(r.wait(41, generous_ns).why ==
               status::end_of_stream); // 40 remain: fewer than asked
    v = r.wait(40, generous_ns);
    BOOST_REQUIRE(v);
    BOOST_TEST(first_mismatch(v.data, 40, 60) == 40u);
    BOOST_TEST(r.consume(40));
    r.close(); // idempotent
    // The end was reported once: the next wait waits for the next stream.
    BOOST_TEST(r.wait(1, 0).why == status::timeout);
    BOOST_TEST(r.stream() == 2u);
}

BOOST_AUTO_TEST_CASE_TEMPLATE(close_drains_then_enodata_c, T, all_types)
{
    using C = c_api<T>;
    auto b = c_create<T>(1);
    BOOST_REQUIRE(b);
    auto a = seq<T>(0, 10);
    BOOST_REQUIRE(C::write(b.get(), as_c(a.data()), 10));
    C::close(b.get());
    errno = 0;
    BOOST_TEST(!C::wait(b.get(), 11, -1));
    BOOST_TEST(errno == ENODATA);
    const T* p = as_cxx<T>(C::wait(b.get(), 10, -1));
    BOOST_REQUIRE(p);
    BOOST_TEST(first_mismatch(p, 10, 0) == 10u);
    BOOST_TEST(C::consume(b.get(), 10));
    errno = 0; // reported once: the next wait waits for the next stream
    BOOST_TEST(!C::wait(b.get(), 1, 0));
    BOOST_TEST(errno == ETIMEDOUT);
}

BOOST_AUTO_TEST_CASE_TEMPLATE(timeouts, T, all_types)
{
    ring<T> r(1);
    BOOST_TEST(r.wait(1, 0).why == status::timeout);
    BOOST_TEST(r.wait(1, 1'000'000).why == status::timeout);
    auto a = seq<T>(0, 5);
    BOOST_REQUIRE(r.write(a.data(), 5));
    BOOST_TEST(r.wait(6, 0).why == status::timeout); // some data, not enough
    BOOST_TEST(r.wait(6, 2'000'000).why == status::timeout);
    auto v = r.wait(5, 0);
    BOOST_REQUIRE(v);
    BOOST_TEST(first_mismatch(v.data, 5, 0) == 5u);

    using C = c_api<T>;
    auto b = c_create<T>(1);
    BOOST_REQUIRE(b);
    for (int64_t t : { int64_t(0), int64_t(1'000'000) }) {
        errno = 0;
        BOOST_TEST(!C::wait(b.get(), 1, t));
        BOOST_TEST(errno == ETIMEDOUT);
    }
}

BOOST_AUTO_TEST_CASE_TEMPLATE(bad_wait_and_consume_arguments, T, all_types)
{
    ring<T> r(1);
    BOOST_TEST(r.wait(0, 0).why == status::invalid);
    BOOST_TEST(r.wait(r.capacity() + 1, -1).why ==
               status::invalid); // would never return otherwise
    errno = 0;
    BOOST_TEST(!r.consume(1));
    BOOST_TEST(errno == EINVAL);

    using C = c_api<T>;
    auto b = c_create<T>(1);
    BOOST_REQUIRE(b);
    for (size_t n : { size_t(0), C::capacity(b.get()) + 1 }) {
        errno = 0;
        BOOST_TEST(!C::wait(b.get(), n, -1));
        BOOST_TEST(errno == EINVAL);
    }
}

BOOST_AUTO_TEST_CASE(consume_by_a_non_consumer_cannot_move_the_read_index)
{
    ring<f32> producer_side(1);
    auto a = seq<f32>(0, 100);
    BOOST_REQUIRE(producer_side.write(a.data(), 100));
    auto v = producer_side.wait(100, 0); // this handle is now the consumer too
    BOOST_REQUIRE(v);
    BOOST_REQUIRE(producer_side.consume(100));
    // A second handle on the same segment that never waited is no consumer:
    // even consume(0) must not store its (zero) read position.
    ring<f32> other(producer_side.seg());
    BOOST_TEST(!other.consume(0));
    BOOST_TEST(published_read_index(producer_side) == 100u);
}

BOOST_AUTO_TEST_CASE(an_index_pair_that_moved_since_it_was_checked_is_described_as_such)
{
    // Impossible pairs say what is impossible about them.
    BOOST_TEST(detail::describe_indices(true, 3, 10, 1024)
                   .find("read index (10) is ahead of its write index (3)") !=
               std::string::npos);
    BOOST_TEST(
        detail::describe_indices(true, 5000, 10, 1024)
            .find("4990 samples ahead of its read index (10), more than the capacity "
                  "(1024)") != std::string::npos);
    // A pair that is possible now was impossible when it was loaded: an
    // index moved in between (two threads writing through one handle). Not
    // "0 samples ahead ... more than the capacity".
    for (const uint64_t r : { uint64_t(100), uint64_t(90) }) {
        const std::string why = detail::describe_indices(true, 100, r, 1024);
        BOOST_TEST(why.find("more than the capacity") == std::string::npos, why);
        BOOST_TEST(why.find("samples ahead") == std::string::npos, why);
        BOOST_TEST(why.find("has moved since") != std::string::npos, why);
        BOOST_TEST(why.find("two threads wrote through one handle") != std::string::npos,
                   why);
    }
}

// ---------------------------------------------------------------------------
// a blocking write of any length
// ---------------------------------------------------------------------------

/// Reads `total` samples of r in pieces of at most a quarter of the capacity
/// (each piece's tags kept, except the ring's own stream_start); the index of
/// the first sample that is not sample_of(its index), or total.
template <class T>
uint64_t
read_all(ring<T>& r, uint64_t total, std::vector<std::pair<uint64_t, std::string>>& tags)
{
    uint64_t k = 0;
    while (k < total) {
        const uint64_t n = std::min<uint64_t>(r.capacity() / 4, total - k);
        auto v = r.wait(n, generous_ns);
        if (!v)
            return k;
        tag_cursor c = r.tags();
        tag_view t;
        while (c.next(t))
            if (t.key != tag_stream_start)
                tags.emplace_back(t.index, std::string(t.key));
        const size_t m = first_mismatch(v.data, n, k);
        if (m != n)
            return k + m;
        if (!r.consume(n))
            return k;
        k += n;
    }
    return k;
}

BOOST_AUTO_TEST_CASE_TEMPLATE(
    a_blocking_write_longer_than_the_capacity_streams_through_with_its_tags, T, all_types)
{
    ring<T> r(1);
    const uint64_t cap = r.capacity(), total = 10 * cap + 7;
    std::vector<T> a(total);
    for (uint64_t i = 0; i < total; ++i)
        a[i] = sample_of<T>(i);
    std::string v;
    encode::int64(v, 1);
    // The first piece is exactly the (empty) ring: tags on both sides of its
    // end, one in the middle of a later piece, the last sample.
    const tag_in tags[] = { { 0, "first", v },
                            { cap - 1, "end1", v },
                            { cap, "start2", v },
                            { 5 * cap + 3, "middle", v },
                            { total - 1, "last", v } };
    std::vector<std::pair<uint64_t, std::string>> seen;
    uint64_t intact = 0;
    std::thread reader([&] { intact = read_all(r, total, seen); });
    uint64_t done = 0;
    const status s = r.write_blocking(a.data(), total, generous_ns, &done, tags, 5);
    reader.join();
    BOOST_TEST(s == status::ok);
    BOOST_TEST(done == total);
    BOOST_TEST(intact == total, "first wrong sample at " << intact);
    const std::vector<std::pair<uint64_t, std::string>> want = { { 0, "first" },
                                                                 { cap - 1, "end1" },
                                                                 { cap, "start2" },
                                                                 { 5 * cap + 3,
                                                                   "middle" },
                                                                 { total - 1, "last" } };
    BOOST_TEST((seen == want));
}

BOOST_AUTO_TEST_CASE_TEMPLATE(
    the_c_blocking_write_longer_than_the_capacity_streams_through, T, all_types)
{
    using C = c_api<T>;
    auto b = c_create<T>(1);
    BOOST_REQUIRE(b);
    const uint64_t cap = C::capacity(b.get()), total = 10 * cap + 7;
    std::vector<T> a(total);
    for (uint64_t i = 0; i < total; ++i)
        a[i] = sample_of<T>(i);
    uint64_t intact = 0; // read through the C ABI too, a quarter ring at a time
    std::thread reader([&] {
        while (intact < total) {
            const uint64_t n = std::min<uint64_t>(cap / 4, total - intact);
            const auto* p = as_cxx<T>(C::wait(b.get(), n, generous_ns));
            if (!p || first_mismatch(p, n, intact) != n || !C::consume(b.get(), n))
                return;
            intact += n;
        }
    });
    const size_t wrote = C::write_blocking(b.get(), as_c(a.data()), total, generous_ns);
    reader.join();
    BOOST_TEST(wrote == total);
    BOOST_TEST(intact == total, "first wrong sample at " << intact);
    // The non-blocking write keeps its all-or-nothing limit.
    errno = 0;
    BOOST_TEST(!C::write(b.get(), as_c(a.data()), cap + 1));
    BOOST_TEST(errno == EINVAL);
}

// ---------------------------------------------------------------------------
// publication: the samples are in the ring before the index that makes them
// readable
// ---------------------------------------------------------------------------

namespace {

/// The wake hook (detail::set_wake_hook) of the test below: it runs in the
/// writing thread when a write that found the reader parked has stored the
/// write index and not yet woken it. Every sample published by then must
/// be in place; `intact` counts those that are, from `from` (the write's
/// first sample) on.
struct at_wake {
    static inline const ring<f32>* r = nullptr;
    static inline uint64_t from = 0;
    static inline int calls = 0;
    static inline uint64_t intact = 0;
    static void look() noexcept
    {
        const uint64_t w = r->written();
        const f32* d = static_cast<const f32*>(r->seg()->data());
        intact = first_mismatch(d + (from & (r->capacity() - 1)), w - from, from);
        ++calls;
    }
};

/// Until the default reader is announced in the parked mask, bounded by
/// generous_ns: from then on until it has its samples, every publish looks
/// at it (and wakes it if they are what it waits for).
bool until_announced(const control* c)
{
    const int64_t end = detail::now_ns() + generous_ns;
    while ((c->parked_mask.load(std::memory_order_seq_cst) & 1u) == 0)
        if (detail::now_ns() > end)
            return false;
        else
            std::this_thread::sleep_for(std::chrono::microseconds(200));
    return true;
}

} // namespace

BOOST_AUTO_TEST_CASE(a_write_copies_its_samples_before_it_publishes_them)
{
    // Three writes, each of exactly what a parked reader waits for, each
    // looked at from the wake hook: the first (the slow path, which starts
    // the stream), a plain one (the inline path, hot.h) and one with a tag
    // (the slow path), which crosses the end of the ring.
    ring<f32> r(1);
    const uint64_t cap = r.capacity();
    // A sample not copied yet never looks like the one expected there.
    std::memset(r.seg()->data(), 0xff, cap * sizeof(f32));
    at_wake::r = &r;
    detail::set_wake_hook(at_wake::look);
    std::string v;
    encode::int64(v, 1);
    const tag_in tag[] = { { 0, "mark", v } };
    struct one_write {
        uint64_t n;
        size_t ntags;
        const char* what;
    };
    const one_write writes[] = { { cap / 2, 0, "first write" },
                                 { cap / 4, 0, "plain write" },
                                 { cap / 2, 1, "write with a tag" } };
    uint64_t k = 0;
    for (const one_write& w : writes) {
        const auto a = seq<f32>(k, w.n);
        uint64_t read = 0; // what the woken reader found in place
        std::thread reader([&] {
            const auto got = r.wait(w.n, generous_ns);
            if (!got)
                return;
            read = first_mismatch(got.data, w.n, k);
            if (!r.consume(w.n))
                read = 0;
        });
        BOOST_REQUIRE(until_announced(r.seg()->ctl()));
        at_wake::from = k;
        at_wake::calls = 0;
        at_wake::intact = 0;
        BOOST_REQUIRE(r.write(a.data(), w.n, tag, w.ntags));
        reader.join();
        BOOST_TEST(at_wake::calls == 1, w.what << ": the reader was not woken");
        if (at_wake::calls == 1)
            BOOST_TEST(at_wake::intact == w.n, w.what << ": published, not yet copied");
        BOOST_TEST(read == w.n, w.what);
        k += w.n;
    }
    detail::set_wake_hook(nullptr);
}

// ---------------------------------------------------------------------------
// two threads, every sample in order. The long runs depend on the test above:
// without a write that wakes a reader parked for its samples, every park of
// their many waits would end only at its slice, then a second of waiting for
// the late wake (note_if_missed), hours in all.
// ---------------------------------------------------------------------------

BOOST_AUTO_TEST_CASE(
    hundred_million_samples_in_order,
    *boost::unit_test::depends_on("a_write_copies_its_samples_before_it_publishes_them"))
{
    using T = i16;
    const uint64_t total =
        uint64_t(100'000'000 * scale()); // 10^8 unless DOPPLER_QA_SCALE says otherwise
    ring<T> r(4096);
    const uint64_t cap = r.capacity();
    BOOST_REQUIRE(cap == 4096u);

    std::thread producer([&] {
        rng g { 0x9e3779b97f4a7c15ull };
        std::vector<T> buf(cap);
        uint64_t k = 0;
        while (k < total) {
            const uint64_t n =
                std::min<uint64_t>(g.upto(g.next() & 1 ? 64 : cap / 2), total - k);
            if (g.next() & 1) { // write_blocking with a copy
                for (uint64_t i = 0; i < n; ++i)
                    buf[i] = sample_of<T>(k + i);
                if (r.write_blocking(buf.data(), n, generous_ns) != status::ok)
                    break;
            } else { // zero-copy: generate straight into the ring
                if (r.wait_space(n, generous_ns) != status::ok)
                    break;
                T* p = r.write_ptr();
                for (uint64_t i = 0; i < n; ++i)
                    p[i] = sample_of<T>(k + i);
                r.commit(n);
            }
            k += n;
        }
        r.close();
    });

    // Both sides ask for at most cap/2: a consumer waiting for more than is
    // there then always leaves the producer room (asking for more, the two
    // could legitimately wait on each other forever).
    rng g { 12345 };
    uint64_t k = 0, bad_at = UINT64_MAX;
    status last = status::ok;
    while (bad_at == UINT64_MAX) {
        const uint64_t want = g.upto(g.next() & 1 ? 64 : cap / 2);
        auto v = r.wait(want, generous_ns);
        uint64_t n = want;
        if (!v) {
            last = v.why;
            n = r.poll_available(); // end of stream: take what remains, if any
            if (last != status::end_of_stream || n == 0)
                break;
            v = r.wait(n, 0);
            if (!v)
                break;
        }
        const size_t m = first_mismatch(v.data, n, k);
        if (m != n)
            bad_at = k + m;
        BOOST_REQUIRE(r.consume(n));
        k += n;
        if (last == status::end_of_stream)
            break; // the end is reported once: that was the rest
    }
    producer.join();
    BOOST_TEST(bad_at == UINT64_MAX, "first wrong sample at " << bad_at);
    BOOST_TEST(last == status::end_of_stream);
    BOOST_TEST(k == total);
    BOOST_TEST(r.dropped() == 0u);
}

BOOST_AUTO_TEST_CASE(
    blocking_write_with_a_slow_consumer_loses_nothing,
    *boost::unit_test::depends_on("a_write_copies_its_samples_before_it_publishes_them"))
{
    using T = f32;
    constexpr uint64_t total = 50'000;
    ring<T> r(1); // 512 samples: the producer is blocked most of the time
    std::vector<status> results;
    std::thread producer([&] {
        auto a = seq<T>(0, total);
        for (uint64_t k = 0; k < total; k += 300)
            results.push_back(r.write_blocking(
                a.data() + k, std::min<uint64_t>(300, total - k), generous_ns));
        r.close();
    });
    uint64_t k = 0, bad = 0;
    for (bool end = false; !end;) {
        auto v = r.wait(64, generous_ns);
        const uint64_t n = v ? 64 : r.poll_available();
        end = !v; // the end is reported once: what remains is the last
        if (!v && (v.why != status::end_of_stream || n == 0 || !(v = r.wait(n, 0))))
            break;
        bad += first_mismatch(v.data, n, k) != n;
        BOOST_REQUIRE(r.consume(n));
        k += n;
        if ((k / 64) % 16 == 0)
            std::this_thread::sleep_for(std::chrono::microseconds(200)); // slow consumer
    }
    producer.join();
    BOOST_TEST(k == total);
    BOOST_TEST(bad == 0u);
    BOOST_TEST(r.dropped() == 0u);
    for (status s : results)
        BOOST_TEST(s == status::ok);
}

BOOST_AUTO_TEST_CASE(wait_space_times_out_on_a_full_ring)
{
    ring<f64> r(1);
    auto a = seq<f64>(0, r.capacity());
    BOOST_REQUIRE(r.write(a.data(), r.capacity()));
    BOOST_TEST(r.wait_space(1, 0) == status::timeout);
    BOOST_TEST(r.wait_space(1, 1'000'000) == status::timeout);
    BOOST_TEST(r.write_blocking(a.data(), 1, 1'000'000) == status::timeout);
    BOOST_TEST(r.dropped() == 0u); // a blocking write that timed out is not a drop
    BOOST_TEST(r.wait_space(r.capacity() + 1, -1) == status::invalid);
}

// ---------------------------------------------------------------------------
// a peer that scribbles on the indices (deterministic; the fuzz stage tries
// many more headers, this checks the clamps every build)
// ---------------------------------------------------------------------------

BOOST_AUTO_TEST_CASE_TEMPLATE(scribbled_indices_never_leave_the_mapping, T, all_types)
{
    ring<T> r(1);
    const uint64_t cap = r.capacity();
    control* c = r.seg()->ctl();
    const T* lo = static_cast<const T*>(r.seg()->data());
    const T* hi = lo + 2 * cap; // end of the mirror
    auto a = seq<T>(0, cap);
    BOOST_REQUIRE(r.write(a.data(), 100));

    // The consumer's index far ahead of the producer's: the ring reads as
    // no more than its capacity to everyone, and the producer writes nothing
    // (the impossible index is an error, EBADMSG, not a drop).
    c->readers[0].read_idx.store(100 + 5 * cap + 3, std::memory_order_relaxed);
    BOOST_TEST(r.available() <= cap);
    BOOST_TEST(r.space(cap) == 0u);
    errno = 0;
    BOOST_TEST(!r.write(a.data(), 1));
    BOOST_TEST(errno == EBADMSG);
    BOOST_TEST(r.dropped() == 0u);

    // The producer's index far ahead of the consumer's: available() is at
    // most the capacity, and a consumer gets status::corrupt, no view.
    c->readers[0].read_idx.store(7, std::memory_order_relaxed);
    c->write_idx.store(7 + 9 * cap + 11, std::memory_order_relaxed);
    {
        ring<T> consumer(r.seg());
        BOOST_TEST(consumer.available() == cap);
        BOOST_TEST(consumer.poll_available() == 0u);
        BOOST_TEST(consumer.wait(cap, 0).why == status::corrupt);
    } // gives the consumer role up

    // Indices wrapped around 2^64 (8 samples apart: possible): views stay
    // inside the mapping.
    c->readers[0].read_idx.store(UINT64_MAX - 2, std::memory_order_relaxed);
    c->write_idx.store(5, std::memory_order_relaxed);
    ring<T> wrapped(r.seg());
    BOOST_TEST(wrapped.available() == 8u);
    auto w = wrapped.wait(8, 0);
    BOOST_REQUIRE(w);
    BOOST_TEST((w.data >= lo && w.data + 8 <= hi));
}

BOOST_AUTO_TEST_CASE(consume_more_than_the_last_wait_saw_is_refused)
{
    ring<f32> r(1);
    auto a = seq<f32>(0, 10);
    BOOST_REQUIRE(r.write(a.data(), 10));
    BOOST_REQUIRE(r.wait(4, 0));
    errno = 0;
    BOOST_TEST(!r.consume(11)); // 10 are readable
    BOOST_TEST(errno == EINVAL);
    BOOST_TEST(published_read_index(r) == 0u);
    BOOST_TEST(r.consume(10));
    BOOST_TEST(published_read_index(r) == 10u);
}

BOOST_AUTO_TEST_CASE_TEMPLATE(writes_after_close_are_refused_and_not_drops, T, all_types)
{
    ring<T> r(1);
    auto a = seq<T>(0, 10);
    BOOST_REQUIRE(r.write(a.data(), 10));
    r.close();
    errno = 0;
    BOOST_TEST(!r.write(a.data(), 1)); // room, but the stream has ended
    BOOST_TEST(errno == EPIPE);
    BOOST_TEST(r.space(1) == 0u);
    BOOST_TEST(r.wait_space(1, 0) == status::end_of_stream);
    BOOST_TEST(r.write_blocking(a.data(), 1, generous_ns) == status::end_of_stream);
    BOOST_TEST(r.written() == 10u);
    BOOST_TEST(r.dropped() == 0u);
}

// ---------------------------------------------------------------------------
// impossible shared indices: status::corrupt at once, whatever the timeout
// ---------------------------------------------------------------------------

namespace {
/// Status of a call made in a child bounded to 10 s (a call that would spin
/// or wait out its timeout forever fails the test instead of hanging it).
template <class F>
status in_child(F call)
{
    const int rc = bounded_child(10, [&] { return int(call()); });
    BOOST_TEST_MESSAGE("child exit code " << rc);
    return rc < 64 ? status(rc) : status(64);
}
constexpr int64_t forever = -1;
constexpr int64_t short_ns = 100'000'000;

/// A ring's worth `a` written, read and consumed, then written again: the
/// ring full a lap on, its read index at its capacity. False if a step failed.
template <class T>
bool full_a_lap_on(ring<T>& r, const std::vector<T>& a)
{
    const uint64_t cap = r.capacity();
    return r.write(a.data(), cap) && r.wait(cap, 0) && r.consume(cap) &&
        r.write(a.data(), cap);
}
} // namespace

BOOST_AUTO_TEST_CASE_TEMPLATE(
    blocking_write_reports_corrupt_when_the_read_index_is_ahead_of_the_write_index,
    T,
    all_types)
{
    for (int64_t timeout : { short_ns, forever, int64_t(0) }) {
        const status s = in_child([&] {
            ring<T> r(1);
            auto a = seq<T>(0, r.capacity());
            if (!r.write(a.data(), r.capacity())) // full
                return status(60);
            r.seg()->ctl()->readers[0].read_idx.store(r.capacity() + 100);
            const status got = r.write_blocking(a.data(), 1, timeout);
            if (r.corruption().find("read index (" + std::to_string(r.capacity() + 100) +
                                    ") is ahead of its write index") == std::string::npos)
                return status(61);
            return got;
        });
        BOOST_TEST(s == status::corrupt);
    }
}

BOOST_AUTO_TEST_CASE_TEMPLATE(
    blocking_write_reports_corrupt_when_the_read_index_is_more_than_the_capacity_behind,
    T,
    all_types)
{
    for (int64_t timeout : { short_ns, forever }) {
        const status s = in_child([&] {
            ring<T> r(1);
            const uint64_t cap = r.capacity();
            auto a = seq<T>(0, cap);
            if (!full_a_lap_on(r, a))
                return status(60);
            r.seg()->ctl()->readers[0].read_idx.store(
                0); // 2 * cap behind the write index
            return r.write_blocking(a.data(), 1, timeout);
        });
        BOOST_TEST(s == status::corrupt);
    }
}

// Mirrors the blocking-write test above: the same full ring a lap on, for
// wait_space and for a read index either way impossible.
BOOST_AUTO_TEST_CASE_TEMPLATE(wait_space_reports_corrupt_for_either_impossible_read_index,
                              T,
                              all_types)
{
    for (uint64_t scribble : { uint64_t(1) << 40, uint64_t(0) })
        for (int64_t timeout : { short_ns, forever }) {
            const status s = in_child([&] {
                ring<T> r(1);
                const uint64_t cap = r.capacity();
                auto a = seq<T>(0, cap);
                if (!full_a_lap_on(r, a))
                    return status(60);
                r.seg()->ctl()->readers[0].read_idx.store(scribble);
                return r.wait_space(cap, timeout);
            });
            BOOST_TEST(s == status::corrupt);
        }
}

BOOST_AUTO_TEST_CASE_TEMPLATE(wait_reports_corrupt_for_either_impossible_write_index,
                              T,
                              all_types)
{
    // Behind the consumer's read position, or more than the capacity ahead.
    for (int64_t scribble : { int64_t(-5), int64_t(1) << 20 })
        for (int64_t timeout : { short_ns, forever, int64_t(0) }) {
            const status s = in_child([&] {
                ring<T> r(1);
                auto a = seq<T>(0, 10);
                if (!r.write(a.data(), 10) || !r.wait(10, 0) || !r.consume(10))
                    return status(60);
                r.seg()->ctl()->write_idx.store(uint64_t(10 + scribble));
                return r.wait(1, timeout).why;
            });
            BOOST_TEST(s == status::corrupt);
        }
}

BOOST_AUTO_TEST_CASE(poll_readable_and_consume_refuse_an_impossible_write_index)
{
    ring<f32> r(1);
    auto a = seq<f32>(0, 10);
    BOOST_REQUIRE(r.write(a.data(), 10));
    BOOST_REQUIRE(r.wait(10, 0));
    BOOST_REQUIRE(r.consume(10));
    r.seg()->ctl()->write_idx.store(3); // behind the read position (10)
    BOOST_TEST(r.poll(1).why == status::corrupt);
    BOOST_TEST(r.poll_available() == 0u);
    errno = 0;
    BOOST_TEST(!r.consume(1));
    BOOST_TEST(errno == EBADMSG);
    BOOST_TEST(published_read_index(r) == 10u); // nothing moved
    BOOST_TEST(r.corruption().find("read index (10) is ahead of its write index (3)") !=
               std::string::npos);
}

BOOST_AUTO_TEST_CASE(c_abi_wait_on_an_impossible_write_index_is_ebadmsg)
{
    const std::string name = unique_name("scribble");
    auto owner = ring<f32>::create_named(name, 1);
    auto* b = dp_buffer_f32_attach(name.c_str());
    BOOST_REQUIRE(b);
    auto a = seq<f32>(0, 10);
    BOOST_REQUIRE(dp_buffer_f32_write(b, as_c(a.data()), 10));
    owner->seg()->ctl()->write_idx.store(uint64_t(1) << 33);
    errno = 0;
    BOOST_TEST(!dp_buffer_f32_wait(b, 1, short_ns));
    BOOST_TEST(errno == EBADMSG);
    dp_buffer_f32_destroy(b);
}

BOOST_AUTO_TEST_CASE(nonblocking_write_refuses_an_impossible_read_index_without_a_drop)
{
    ring<i16> r(1);
    const uint64_t cap = r.capacity();
    auto a = seq<i16>(0, cap);
    BOOST_REQUIRE(r.write(a.data(), cap)); // full: the next write reloads read_idx
    r.seg()->ctl()->readers[0].read_idx.store(cap + 50);
    errno = 0;
    BOOST_TEST(!r.write(a.data(), 1));
    BOOST_TEST(errno == EBADMSG);
    BOOST_TEST(r.dropped() == 0u);
    BOOST_TEST(r.read_index_corrupt());
    BOOST_TEST(r.space(1) == 0u);
}

BOOST_AUTO_TEST_CASE(a_parked_wait_notices_an_index_scribbled_while_it_sleeps)
{
    const status s = in_child([] {
        ring<f64> r(1);
        auto a = seq<f64>(0, 10);
        if (!r.write(a.data(), 10) || !r.wait(10, 0) || !r.consume(10))
            return status(60);
        std::thread scribbler([&] {
            // Once the consumer is parked, move the write index behind it and
            // wake it the way a producer would.
            while (!r.seg()->ctl()->readers[0].parked.load())
                std::this_thread::yield();
            r.seg()->ctl()->write_idx.store(2);
            detail::wake(r.seg()->ctl()->readers[0].parked);
        });
        const status got = r.wait(5, generous_ns).why;
        scribbler.join();
        return got;
    });
    BOOST_TEST(s == status::corrupt);
}

// ---------------------------------------------------------------------------
// roles belong to handles: one producer and one consumer handle per ring,
// whatever the process
// ---------------------------------------------------------------------------

BOOST_AUTO_TEST_CASE_TEMPLATE(a_second_producer_handle_in_this_process_is_refused,
                              T,
                              all_types)
{
    ring<T> first(1);
    auto a = seq<T>(0, 20);
    BOOST_REQUIRE(first.write(a.data(), 10));
    ring<T> second(first.seg());
    errno = 0;
    BOOST_TEST(!second.write(a.data(), 10));
    BOOST_TEST(errno == EBUSY);
    BOOST_TEST(second.holder_pid() == int(getpid()));
    BOOST_TEST(second.holder_is_this_process());
    BOOST_TEST(second.busy_message(true).find("another handle in this same process") !=
               std::string::npos);
    BOOST_TEST(second.wait_space(1, 0) == status::busy);
    BOOST_TEST(second.write_blocking(a.data(), 1, 0) == status::busy);
    BOOST_TEST(second.space(1) == 0u);
    BOOST_TEST(!second.claim_producer());
    // The first producer's stream is untouched: 10 samples, in order.
    BOOST_TEST(first.written() == 10u);
    BOOST_REQUIRE(first.write(a.data() + 10, 10));
    auto v = first.wait(20, 0);
    BOOST_REQUIRE(v);
    BOOST_TEST(first_mismatch(v.data, 20, 0) == 20u);
}

BOOST_AUTO_TEST_CASE_TEMPLATE(a_second_consumer_handle_in_this_process_is_refused,
                              T,
                              all_types)
{
    auto first = std::make_unique<ring<T>>(1);
    auto a = seq<T>(0, 20);
    BOOST_REQUIRE(first->write(a.data(), 20));
    BOOST_REQUIRE(first->wait(5, 0));
    BOOST_REQUIRE(first->consume(5));
    ring<T> second(first->seg());
    BOOST_TEST(second.wait(1, 0).why == status::busy);
    BOOST_TEST(second.holder_is_this_process());
    BOOST_TEST(second.poll_available() == 0u);
    BOOST_TEST(!second.consume(1));
    BOOST_TEST(published_read_index(*first) == 5u);
    // Once the first handle is gone, the role is free: the second resumes
    // at the first unconsumed sample.
    first.reset();
    auto v = second.wait(15, 0);
    BOOST_REQUIRE(v);
    BOOST_TEST(first_mismatch(v.data, 15, 5) == 15u);
}

BOOST_AUTO_TEST_CASE(two_handles_on_one_named_ring_in_one_process_hold_one_role_each)
{
    const std::string name = unique_name("handles");
    auto creator = ring<f32>::create_named(name, 1);
    auto p1 = ring<f32>::attach(name);
    auto p2 = ring<f32>::attach(name);
    auto a = seq<f32>(0, 10);
    BOOST_REQUIRE(p1->write(a.data(), 10));
    errno = 0;
    BOOST_TEST(!p2->write(a.data(), 10)); // same object through another mapping
    BOOST_TEST(errno == EBUSY);
    BOOST_TEST(!creator->claim_producer());
    BOOST_TEST(creator->holder_is_this_process());
    BOOST_TEST(p2->claim_reader()); // the other role is free
    BOOST_TEST(!creator->claim_reader());

    // The C ABI: two handles by name, the second cannot produce.
    auto* c1 = dp_buffer_f32_attach(name.c_str());
    BOOST_REQUIRE(c1);
    errno = 0;
    BOOST_TEST(!dp_buffer_f32_write(c1, as_c(a.data()), 1));
    BOOST_TEST(errno == EBUSY);
    BOOST_TEST(!dp_buffer_f32_wait(c1, 1, 0));
    BOOST_TEST(errno == EBUSY);
    dp_buffer_f32_destroy(c1);
    auto v = p2->wait(10, 0);
    BOOST_REQUIRE(v);
    BOOST_TEST(first_mismatch(v.data, 10, 0) == 10u);
}
