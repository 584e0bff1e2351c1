/* Tags (Boost.Test): exact indices, every value type through the encoding
 * and back, the decoder's refusals, a full tag area, tags visible only with
 * their samples, the markers the ring adds (stream_start, dropped), and the
 * C ABI.
 * SPDX-License-Identifier: GPL-3.0-or-later */
#define BOOST_TEST_MODULE doppler_tags
#include <boost/test/unit_test.hpp>

#include "qa_util.hpp"

#include <map>
#include <string>
#include <vector>

using namespace doppler;
using namespace qa;

namespace {

struct seen {
    uint64_t index;
    std::string key;
    std::string value; // encoded bytes
};

template <class T>
std::vector<seen> tags_of(ring<T>& r)
{
    std::vector<seen> out;
    tag_cursor c = r.tags();
    tag_view t;
    while (c.next(t))
        out.push_back({ t.index,
                        std::string(t.key),
                        std::string(reinterpret_cast<const char*>(t.value.data()),
                                    t.value.size()) });
    BOOST_TEST(!c.corrupt());
    return out;
}

/// Every value type once, nested too.
std::vector<std::string> all_values()
{
    std::vector<std::string> v(12);
    encode::none(v[0]);
    encode::boolean(v[1], true);
    encode::int64(v[2], -1234567890123);
    encode::uint64(v[3], ~uint64_t(0));
    encode::float64(v[4], 2.4e9);
    encode::complex128(v[5], 1.5, -0.25);
    encode::str(v[6], "r\xc3\xa9sum\xc3\xa9");
    encode::bytes(v[7], std::string("\0\1\2", 3));
    encode::tuple(v[8], 2); // rx_time: (uint64 seconds, float64 fraction)
    encode::uint64(v[8], 1700000000);
    encode::float64(v[8], 0.125);
    encode::list(v[9], 0);
    encode::dict(v[10], 2);
    encode::key(v[10], "freq");
    encode::float64(v[10], 100e6);
    encode::key(v[10], "chain");
    encode::list(v[10], 2);
    encode::str(v[10], "lna");
    encode::tuple(v[10], 0);
    encode::boolean(v[11], false);
    return v;
}

uint64_t as_u64(const std::string& encoded)
{
    value_view v(reinterpret_cast<const uint8_t*>(encoded.data()), encoded.size());
    return v.type() == value_type::uint64 ? v.as_uint64() : ~uint64_t(0);
}

} // namespace

BOOST_AUTO_TEST_CASE(tags_arrive_at_exact_indices_and_every_value_type_round_trips)
{
    ring<f32> r(4096);
    const auto values = all_values();
    std::vector<tag_in> in;
    for (size_t i = 0; i < values.size(); ++i)
        in.push_back({ 3 * i, "key", values[i] });
    auto a = seq<f32>(0, 100);
    BOOST_REQUIRE(r.write(a.data(), 100, in.data(), in.size()));
    auto v = r.wait(100, generous_ns);
    BOOST_REQUIRE(v);
    const auto got = tags_of(r);
    // stream_start first (at 0), then ours in order.
    BOOST_REQUIRE(got.size() == values.size() + 1);
    BOOST_TEST(got[0].key == tag_stream_start);
    BOOST_TEST(got[0].index == 0u);
    BOOST_TEST(as_u64(got[0].value) == 1u);
    for (size_t i = 0; i < values.size(); ++i) {
        BOOST_TEST(got[i + 1].index == 3 * i);
        BOOST_TEST(got[i + 1].key == "key");
        BOOST_TEST(got[i + 1].value == values[i], "value " << i << " differs");
    }
    // Decoded, not only compared: the nested dict reads back field by field.
    value_view d(reinterpret_cast<const uint8_t*>(got[11].value.data()),
                 got[11].value.size());
    BOOST_REQUIRE(bool(d.type() == value_type::dict));
    auto it = d.items();
    value_view e;
    BOOST_REQUIRE(it.next(e));
    BOOST_TEST(it.key() == "freq");
    BOOST_TEST(e.as_float64() == 100e6);
    BOOST_REQUIRE(it.next(e));
    BOOST_TEST(it.key() == "chain");
    BOOST_TEST(e.count() == 2u);
    BOOST_TEST(!it.next(e));
}

BOOST_AUTO_TEST_CASE(tags_are_visible_only_with_their_samples)
{
    ring<i16> r(1);
    std::string v;
    encode::int64(v, 42);
    const tag_in t[] = { { 7, "at7", v } };
    auto a = seq<i16>(0, 10);
    BOOST_REQUIRE(r.write(a.data(), 10, t, 1));
    BOOST_REQUIRE(r.wait(5, 0));
    auto w = tags_of(r); // window [0, 5): stream_start only
    BOOST_REQUIRE(w.size() == 1u);
    BOOST_TEST(w[0].key == tag_stream_start);
    BOOST_TEST(r.consume(5));
    BOOST_REQUIRE(r.wait(2, 0)); // [5, 7): nothing
    BOOST_TEST(tags_of(r).empty());
    BOOST_TEST(r.consume(2));
    BOOST_REQUIRE(r.wait(3, 0)); // [7, 10): the tag, once
    w = tags_of(r);
    BOOST_REQUIRE(w.size() == 1u);
    BOOST_TEST(w[0].index == 7u);
    BOOST_TEST(w[0].key == "at7");
    BOOST_TEST(r.consume(3));
    BOOST_TEST(r.tags().corrupt() == false);
}

BOOST_AUTO_TEST_CASE(a_full_tag_area_drops_and_counts_tags_never_samples)
{
    ring<f32> r(1); // one page of tag area
    const uint64_t area = r.seg()->tag_bytes();
    std::string big(200, 'x'), value;
    encode::bytes(value, big);
    const uint64_t per = tag_record_bytes(3, value.size());
    const uint64_t fit = area / per; // about this many fit (minus the marker)
    std::vector<tag_in> in(fit + 5, tag_in { 0, "big", value });
    for (size_t i = 0; i < in.size(); ++i)
        in[i].offset = i;
    auto a = seq<f32>(0, in.size());
    BOOST_REQUIRE(r.write(a.data(), in.size(), in.data(), in.size())); // samples: all
    BOOST_TEST(r.written() == in.size());
    BOOST_TEST(r.dropped() == 0u);
    BOOST_TEST(r.tags_dropped() >= 5u);
    auto v = r.wait(in.size(), 0);
    BOOST_REQUIRE(v);
    const auto got = tags_of(r);
    BOOST_TEST(got.size() + r.tags_dropped() == in.size() + 1); // + stream_start
    for (size_t i = 1; i < got.size(); ++i) // the ones that fit: the first ones, in order
        BOOST_TEST(got[i].index == i - 1);
    BOOST_TEST(r.consume(in.size()));
    // Consumed: the space comes back for the next tags.
    const uint64_t before = r.tags_dropped();
    BOOST_REQUIRE(r.write(a.data(), 4, in.data(), 4));
    BOOST_TEST(r.tags_dropped() == before);
    BOOST_REQUIRE(r.wait(4, 0));
    BOOST_TEST(tags_of(r).size() == 4u);
}

BOOST_AUTO_TEST_CASE(dropped_markers_sit_at_the_gaps_and_add_up_to_the_dropped_counter)
{
    ring<f32> r(1); // 512 samples
    const uint64_t cap = r.capacity();
    rng g { 77 };
    uint64_t k = 0, refused_since = 0;
    std::map<uint64_t, uint64_t> expect; // index -> count
    uint64_t markers = 0, seen_upto = 0;
    for (int i = 0; i < 2000; ++i) {
        const uint64_t n = 1 + g.upto(100);
        auto a = seq<f32>(k, n);
        if (r.write(a.data(), n)) {
            if (refused_since)
                expect[k] = refused_since;
            refused_since = 0;
            k += n;
        } else {
            refused_since += n;
        }
        if (g.next() % 3 == 0) { // read some now and then; the ring fills up
            const uint64_t m = r.poll_available();
            if (m && r.wait(m, 0)) {
                for (const auto& t : tags_of(r))
                    if (t.key == tag_dropped) {
                        BOOST_TEST(expect.count(t.index) == 1u);
                        BOOST_TEST(as_u64(t.value) == expect[t.index]);
                        markers += as_u64(t.value);
                    }
                BOOST_TEST(r.consume(m));
                seen_upto += m;
            }
        }
    }
    const uint64_t m = r.poll_available();
    if (m && r.wait(m, 0))
        for (const auto& t : tags_of(r))
            if (t.key == tag_dropped)
                markers += as_u64(t.value);
    BOOST_TEST(r.dropped() > 0u);
    BOOST_TEST(markers + refused_since ==
               r.dropped()); // the last refusals have no sample yet
    (void)cap;
    (void)seen_upto;
}

BOOST_AUTO_TEST_CASE(the_decoder_refuses_every_truncation_and_nesting_too_deep)
{
    const auto values = all_values();
    for (const auto& v : values) {
        const auto* p = reinterpret_cast<const uint8_t*>(v.data());
        size_t used = 0;
        BOOST_TEST(validate_value(p, v.size(), &used, nullptr));
        BOOST_TEST(used == v.size());
        for (size_t cut = 0; cut < v.size(); ++cut) { // every shorter prefix is refused
            const char* why = nullptr;
            BOOST_TEST(!validate_value(p, cut, &used, &why), "prefix " << cut);
            BOOST_TEST(std::string(why).size() > 0u);
        }
    }
    std::string deep;
    for (int i = 0; i < max_value_depth; ++i)
        encode::list(deep, 1);
    encode::none(deep);
    const char* why = nullptr;
    BOOST_TEST(!validate_value(
        reinterpret_cast<const uint8_t*>(deep.data()), deep.size(), nullptr, &why));
    BOOST_TEST(std::string(why) == "values nested too deep");
    std::string huge_count;
    encode::list(huge_count, 0xffffffffu);
    BOOST_TEST(!validate_value(reinterpret_cast<const uint8_t*>(huge_count.data()),
                               huge_count.size(),
                               nullptr,
                               nullptr));
    const uint8_t bad_type[] = { 99 }, bad_bool[] = { 1, 2 };
    BOOST_TEST(!validate_value(bad_type, 1, nullptr, nullptr));
    BOOST_TEST(!validate_value(bad_bool, 2, nullptr, nullptr));
    // A write whose value is not well formed is refused at the door.
    ring<f32> r(1);
    const tag_in t[] = { { 0, "k", std::string_view("\x63", 1) } };
    auto a = seq<f32>(0, 1);
    BOOST_REQUIRE(r.write(a.data(), 1, t, 1));
    BOOST_TEST(r.tags_dropped() == 1u);
}

BOOST_AUTO_TEST_CASE(tags_out_of_order_or_past_the_block_are_einval_and_write_nothing)
{
    ring<f32> r(1);
    std::string v;
    encode::none(v);
    auto a = seq<f32>(0, 10);
    const tag_in past[] = { { 10, "k", v } };
    BOOST_TEST(!r.write(a.data(), 10, past, 1));
    BOOST_TEST(errno == EINVAL);
    const tag_in unordered[] = { { 5, "k", v }, { 4, "k", v } };
    BOOST_TEST(!r.write(a.data(), 10, unordered, 2));
    BOOST_TEST(errno == EINVAL);
    BOOST_TEST(r.written() == 0u);
    BOOST_TEST(r.dropped() == 0u);
}

BOOST_AUTO_TEST_CASE(c_abi_writes_and_reads_tags_in_the_documented_encoding)
{
    auto* b = dp_buffer_f64_create(1);
    BOOST_REQUIRE(b);
    // rx_freq = 100e6, encoded by hand as a C program would.
    uint8_t freq[9] = { DP_VALUE_FLOAT64 };
    const double f = 100e6;
    std::memcpy(freq + 1, &f, 8);
    BOOST_TEST(dp_value_check(freq, 9) == 9u);
    BOOST_TEST(dp_value_check(freq, 8) == 0u);
    const dp_tag_t in[] = { { 2, "rx_freq", 7, freq, 9 } };
    auto a = seq<f64>(0, 4);
    BOOST_REQUIRE(dp_buffer_f64_write_tags(b, as_c(a.data()), 4, in, 1));
    BOOST_REQUIRE(dp_buffer_f64_wait(b, 4, 0));
    dp_tag_t out[4];
    const size_t n = dp_buffer_f64_tags(b, out, 4);
    BOOST_REQUIRE(n == 2u); // stream_start, rx_freq
    BOOST_TEST(std::string(out[0].key, out[0].key_len) == tag_stream_start);
    BOOST_TEST(out[1].offset == 2u); // absolute index when read
    BOOST_TEST(std::string(out[1].key, out[1].key_len) == "rx_freq");
    BOOST_TEST(out[1].value_len == 9u);
    BOOST_TEST(std::memcmp(out[1].value, freq, 9) == 0);
    BOOST_TEST(dp_buffer_f64_tags(b, nullptr, 0) == 2u); // count only
    BOOST_TEST(dp_buffer_f64_stream(b) == 1u);
    BOOST_TEST(dp_buffer_f64_consume_checked(b, 4) == 0);
    dp_buffer_f64_destroy(b);
}
