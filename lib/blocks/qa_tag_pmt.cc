/* -*- c++ -*- */
/*
 * QA of the PMT <-> ring tag conversion (tag_pmt.h): every row of its table
 * (lib/common/pmt_table.hpp) both ways, what has no encoding, the depth and key limits,
 * and tags packed for commit() read back through a ring. SPDX-License-Identifier:
 * GPL-3.0-or-later
 */
#define BOOST_TEST_MODULE qa_tag_pmt
#include <boost/test/unit_test.hpp>

#include "tag_pmt.h"

#include <doppler/ring.hpp>

#include <boost/any.hpp>

#include <complex>
#include <cstdint>
#include <string>
#include <vector>

using gr::doppler::detail::decode_pmt;
using gr::doppler::detail::encode_pmt;
using gr::doppler::detail::ring_tags;

namespace {

/// Encode, validate as a reader would, decode.
pmt::pmt_t through_ring(const pmt::pmt_t& v)
{
    std::string bytes;
    BOOST_REQUIRE_MESSAGE(encode_pmt(v, bytes), pmt::write_string(v));
    size_t used = 0;
    const char* why = nullptr;
    const auto* p = reinterpret_cast<const uint8_t*>(bytes.data());
    BOOST_REQUIRE_MESSAGE(doppler::validate_value(p, bytes.size(), &used, &why),
                          pmt::write_string(v) << ": " << why);
    BOOST_REQUIRE_EQUAL(used, bytes.size());
    return decode_pmt(doppler::value_view(p, bytes.size()));
}

/// The type byte of v's encoding.
doppler::value_type encoded_type(const pmt::pmt_t& v)
{
    std::string bytes;
    BOOST_REQUIRE(encode_pmt(v, bytes));
    return doppler::value_type(uint8_t(bytes[0]));
}

bool encodable(const pmt::pmt_t& v)
{
    std::string bytes;
    return encode_pmt(v, bytes);
}

pmt::pmt_t rx_time(uint64_t secs, double frac)
{
    return pmt::make_tuple(pmt::from_uint64(secs), pmt::from_double(frac));
}

pmt::pmt_t nested_tuples(int depth)
{
    pmt::pmt_t v = pmt::from_long(1);
    for (int i = 0; i < depth; ++i)
        v = pmt::make_tuple(v);
    return v;
}

gr::tag_t tag(uint64_t offset, const std::string& key, const pmt::pmt_t& value)
{
    gr::tag_t t;
    t.offset = offset;
    t.key = pmt::intern(key);
    t.value = value;
    return t;
}

} // namespace

BOOST_AUTO_TEST_CASE(scalars_come_back_equal_and_of_the_same_pmt_type)
{
    using vt = doppler::value_type;
    const std::vector<std::pair<pmt::pmt_t, vt>> rows = {
        { pmt::PMT_NIL, vt::none },
        { pmt::PMT_T, vt::boolean },
        { pmt::PMT_F, vt::boolean },
        { pmt::from_long(-42), vt::int64 },
        { pmt::from_long(INT64_MIN), vt::int64 },
        { pmt::from_uint64(UINT64_MAX), vt::uint64 },
        { pmt::from_double(2.5e9), vt::float64 },
        { pmt::from_complex(1.5, -2.0), vt::complex128 },
        { pmt::intern("hello"), vt::str },
    };
    for (const auto& [v, type] : rows) {
        BOOST_TEST_CONTEXT(pmt::write_string(v))
        {
            BOOST_TEST(int(encoded_type(v)) == int(type));
            const pmt::pmt_t back = through_ring(v);
            BOOST_TEST(pmt::equal(back, v));
            // Same PMT type, not only an equal number.
            BOOST_TEST(pmt::is_integer(back) == pmt::is_integer(v));
            BOOST_TEST(pmt::is_uint64(back) == pmt::is_uint64(v));
            BOOST_TEST(pmt::is_real(back) == pmt::is_real(v));
        }
    }
}

BOOST_AUTO_TEST_CASE(rx_time_round_trips_as_a_tuple_of_uint64_and_double)
{
    const pmt::pmt_t t = rx_time(1700000000, 0.123456789);
    BOOST_TEST(int(encoded_type(t)) == int(doppler::value_type::tuple));
    const pmt::pmt_t back = through_ring(t);
    BOOST_REQUIRE(pmt::is_tuple(back));
    BOOST_TEST(pmt::is_uint64(pmt::tuple_ref(back, 0)));
    BOOST_TEST(pmt::to_uint64(pmt::tuple_ref(back, 0)) == 1700000000u);
    BOOST_TEST(pmt::to_double(pmt::tuple_ref(back, 1)) == 0.123456789);
    BOOST_TEST(pmt::equal(back, t));
}

BOOST_AUTO_TEST_CASE(containers_come_back_equal_in_their_order)
{
    pmt::pmt_t d = pmt::make_dict();
    d = pmt::dict_add(d, pmt::intern("freq"), pmt::from_double(1e9));
    d = pmt::dict_add(d, pmt::intern("gain"), pmt::from_long(30));
    d = pmt::dict_add(d, pmt::intern("time"), rx_time(5, 0.5));
    pmt::pmt_t vec = pmt::make_vector(3, pmt::PMT_NIL);
    pmt::vector_set(vec, 0, pmt::intern("a"));
    pmt::vector_set(vec, 1, pmt::from_complex(0, 1));
    pmt::vector_set(vec, 2, d);
    const uint8_t raw[] = { 0, 1, 255 };
    for (const pmt::pmt_t& v : { d,
                                 vec,
                                 pmt::make_vector(0, pmt::PMT_NIL),
                                 pmt::init_u8vector(3, raw),
                                 nested_tuples(doppler::max_value_depth - 1) })
        BOOST_TEST_CONTEXT(pmt::write_string(v))
        {
            BOOST_TEST(pmt::equal(through_ring(v), v));
        }
    // An empty tuple is a tuple in the ring and an empty vector out of it
    // (pmt_table.hpp: GNU Radio cannot deserialize an empty tuple).
    BOOST_TEST(int(encoded_type(pmt::make_tuple())) == int(doppler::value_type::tuple));
    BOOST_TEST(
        pmt::equal(through_ring(pmt::make_tuple()), pmt::make_vector(0, pmt::PMT_NIL)));
    BOOST_TEST(int(encoded_type(d)) == int(doppler::value_type::dict));
    BOOST_TEST(int(encoded_type(vec)) == int(doppler::value_type::list));
    BOOST_TEST(int(encoded_type(pmt::init_u8vector(3, raw))) ==
               int(doppler::value_type::bytes));
    // A blob is a u8vector in PMT: bytes too.
    BOOST_TEST(int(encoded_type(pmt::make_blob("xy", 2))) ==
               int(doppler::value_type::bytes));
}

BOOST_AUTO_TEST_CASE(other_uniform_vectors_become_lists_of_numbers_of_the_same_sign)
{
    const std::vector<float> f = { 1.5f, -2.25f };
    const std::vector<int16_t> s = { -3, 7 };
    const std::vector<uint32_t> u32 = { UINT32_MAX, 1 };
    const std::vector<uint64_t> u = { UINT64_MAX, 1 };
    const std::vector<std::complex<float>> c = { { 1, 2 }, { -3, 4 } };
    const pmt::pmt_t fv = through_ring(pmt::init_f32vector(f.size(), f));
    const pmt::pmt_t sv = through_ring(pmt::init_s16vector(s.size(), s));
    const pmt::pmt_t u32v = through_ring(pmt::init_u32vector(u32.size(), u32));
    const pmt::pmt_t uv = through_ring(pmt::init_u64vector(u.size(), u));
    const pmt::pmt_t cv = through_ring(pmt::init_c32vector(c.size(), c));
    for (const auto& v : { fv, sv, u32v, uv, cv }) {
        BOOST_REQUIRE(pmt::is_vector(v));
        BOOST_TEST(pmt::length(v) == 2u);
    }
    BOOST_TEST(pmt::to_double(pmt::vector_ref(fv, 1)) == -2.25);
    BOOST_TEST(pmt::is_integer(pmt::vector_ref(sv, 0)));
    BOOST_TEST(pmt::to_long(pmt::vector_ref(sv, 0)) == -3);
    BOOST_TEST(pmt::is_uint64(pmt::vector_ref(u32v, 0)));
    BOOST_TEST(pmt::to_uint64(pmt::vector_ref(u32v, 0)) == UINT32_MAX);
    BOOST_TEST(pmt::is_uint64(pmt::vector_ref(uv, 0)));
    BOOST_TEST(pmt::to_uint64(pmt::vector_ref(uv, 0)) == UINT64_MAX);
    BOOST_TEST(pmt::to_complex(pmt::vector_ref(cv, 1)) == std::complex<double>(-3, 4));
}

BOOST_AUTO_TEST_CASE(pair_chains_become_lists_of_their_elements)
{
    const pmt::pmt_t one = pmt::from_long(1), two = pmt::from_long(2);
    const pmt::pmt_t list = pmt::list2(one, two);
    const pmt::pmt_t vec12 = through_ring(pmt::list2(one, two));
    BOOST_TEST(int(encoded_type(list)) == int(doppler::value_type::list));
    BOOST_REQUIRE(pmt::is_vector(vec12));
    BOOST_TEST(pmt::length(vec12) == 2u);
    BOOST_TEST(pmt::to_long(pmt::vector_ref(vec12, 1)) == 2);
    // A dotted pair has its cdr as the last element: (1 . 2) reads as (1 2).
    BOOST_TEST(pmt::equal(through_ring(pmt::cons(one, two)), vec12));
    // A dict as a cdr ends the chain as one element.
    pmt::pmt_t d = pmt::dict_add(pmt::make_dict(), pmt::intern("a"), pmt::PMT_T);
    const pmt::pmt_t with_dict = through_ring(pmt::cons(one, d));
    BOOST_REQUIRE(pmt::is_vector(with_dict));
    BOOST_TEST(pmt::length(with_dict) == 2u);
    BOOST_TEST(pmt::is_dict(pmt::vector_ref(with_dict, 1)));
}

BOOST_AUTO_TEST_CASE(values_without_an_encoding_are_refused)
{
    pmt::pmt_t int_keys = pmt::make_dict();
    int_keys = pmt::dict_add(int_keys, pmt::from_long(1), pmt::PMT_T);
    pmt::pmt_t inner_int_keys = pmt::make_vector(1, int_keys);
    BOOST_TEST(!encodable(int_keys));
    BOOST_TEST(!encodable(inner_int_keys)); // refused wherever it sits
    BOOST_TEST(!encodable(pmt::make_any(boost::any(1))));
    BOOST_TEST(!encodable(nested_tuples(doppler::max_value_depth)));
    BOOST_TEST(encodable(nested_tuples(doppler::max_value_depth - 1)));
    // A uniform vector (but u8, which is bytes) is a list: a container.
    const std::vector<uint16_t> u16 = { 1 };
    pmt::pmt_t deep = pmt::init_u16vector(1, u16);
    for (int i = 1; i < doppler::max_value_depth; ++i)
        deep = pmt::make_tuple(deep);
    BOOST_TEST(!encodable(deep));
    BOOST_TEST(encodable(pmt::tuple_ref(deep, 0)));
}

BOOST_AUTO_TEST_CASE(keys_must_be_symbols_of_one_to_255_bytes)
{
    std::string out;
    BOOST_TEST(ring_tags::encode_key(pmt::intern("rx_time"), out));
    BOOST_TEST(out == "rx_time");
    BOOST_TEST(ring_tags::encode_key(pmt::intern(std::string(255, 'k')), out));
    BOOST_TEST(!ring_tags::encode_key(pmt::intern(std::string(256, 'k')), out));
    BOOST_TEST(!ring_tags::encode_key(pmt::intern(""), out));
    BOOST_TEST(!ring_tags::encode_key(pmt::from_long(3), out));
}

BOOST_AUTO_TEST_CASE(packed_tags_are_relative_sorted_and_skip_what_has_no_encoding)
{
    ring_tags packed;
    std::vector<gr::tag_t> tags = { tag(107, "b", pmt::from_long(2)),
                                    tag(100, "a", pmt::from_long(1)),
                                    tag(103, "bad", pmt::make_any(boost::any(1))),
                                    tag(107, "c", pmt::from_long(3)) };
    std::vector<std::string> skipped;
    packed.pack(tags, 100, [&](const gr::tag_t& t) {
        skipped.push_back(pmt::symbol_to_string(t.key));
    });
    BOOST_TEST(skipped == std::vector<std::string> { "bad" });
    BOOST_REQUIRE(packed.size() == 3u);
    BOOST_TEST(packed.data()[0].offset == 0u);
    BOOST_TEST(packed.data()[0].key == "a");
    BOOST_TEST(packed.data()[1].offset == 7u);
    BOOST_TEST(packed.data()[1].key == "b"); // equal offsets keep their order
    BOOST_TEST(packed.data()[2].key == "c");

    // Through a ring: each tag at its sample, values equal.
    doppler::ring<doppler::f32> r(512);
    std::vector<doppler::f32> samples(10);
    BOOST_REQUIRE(r.write(samples.data(), samples.size())); // indices 0..9
    auto v = r.wait(10);
    BOOST_REQUIRE(v);
    BOOST_REQUIRE(r.consume(10));
    r.write_ptr(8);
    r.commit(8, packed.data(), packed.size()); // indices 10..17
    v = r.wait(8);
    BOOST_REQUIRE(v);
    doppler::tag_cursor c = r.tags();
    doppler::tag_view t;
    std::vector<std::string> seen; // "index key"
    while (c.next(t)) {
        seen.push_back(std::to_string(t.index) + " " + std::string(t.key));
        if (t.key == "c")
            BOOST_TEST(pmt::equal(decode_pmt(t.value), pmt::from_long(3)));
    }
    BOOST_TEST(!c.corrupt());
    const std::vector<std::string> want = { "10 a", "17 b", "17 c" };
    BOOST_TEST(seen == want, boost::test_tools::per_element());
}

BOOST_AUTO_TEST_CASE(packing_again_reuses_the_buffers)
{
    ring_tags packed;
    std::vector<gr::tag_t> tags = { tag(0, "rx_time", rx_time(1, 0.5)),
                                    tag(1, "rx_freq", pmt::from_double(1e9)) };
    packed.pack(tags, 0, [](const gr::tag_t&) {});
    const void* before = packed.data();
    for (int i = 0; i < 100; ++i)
        packed.pack(tags, 0, [](const gr::tag_t&) {});
    BOOST_TEST(packed.data() == before);
    BOOST_TEST(packed.size() == 2u);
    BOOST_TEST(packed.data()[1].key == "rx_freq");
}
