/* -*- c++ -*- */
/*
 * QA: the two places that turn a GNU Radio PMT into a ring tag value and
 * back follow one table (lib/common/pmt_table.hpp). Every kind of PMT goes
 * through the blocks (tag_pmt.h, PMT objects) and through the bridge's wire
 * codec (wire.hpp, the PMT as GNU Radio's pmt::serialize writes it in a
 * gr-zeromq header), with GNU Radio's own pmt library on both ends; the ring
 * values must be the same bytes, and the PMTs they become again the same
 * PMTs (pmt::serialize of both the same bytes: the same types, not only
 * equal values).
 * SPDX-License-Identifier: GPL-3.0-or-later
 */
#define BOOST_TEST_MODULE qa_pmt_paths
#include <boost/test/unit_test.hpp>

#include "tag_pmt.h"
#include "wire.hpp"

#include <boost/any.hpp>

#include <complex>
#include <cstdint>
#include <cstring>
#include <set>
#include <sstream>
#include <string>
#include <vector>

namespace wire = doppler::wire;
using gr::doppler::detail::decode_pmt;
using gr::doppler::detail::encode_pmt;
using gr::doppler::detail::kind_of;
using gr::doppler::detail::ring_tags;
using kind = doppler::pmt_table::kind;

namespace {

/// What a path made of one tag: carried or skipped, and the ring value.
struct outcome {
    bool carried = false;
    std::string ring;
    bool operator==(const outcome& o) const
    {
        return carried == o.carried && ring == o.ring;
    }
};

std::ostream& operator<<(std::ostream& os, const outcome& o)
{
    os << (o.carried ? "carried:" : "skipped");
    static const char digits[] = "0123456789abcdef";
    for (unsigned char c : o.ring)
        os << digits[c >> 4] << digits[c & 15];
    return os;
}

/// The Buffer Sink's way: a stream tag's key and value.
outcome via_blocks(const pmt::pmt_t& key, const pmt::pmt_t& value)
{
    outcome o;
    std::string k;
    o.carried = ring_tags::encode_key(key, k) && encode_pmt(value, o.ring);
    if (!o.carried)
        o.ring.clear();
    return o;
}

/// The receiving bridge's way: a gr-zeromq header (as tag_headers.cc writes
/// it, with pmt::serialize) holding the one tag, decoded.
outcome via_wire(const pmt::pmt_t& key, const pmt::pmt_t& value)
{
    std::string msg;
    const auto host = [&msg](auto v) { // the header's own integers: host order
        msg.append(reinterpret_cast<const char*>(&v), sizeof v);
    };
    host(wire::header_magic);
    msg.push_back(char(wire::header_version));
    host(uint64_t(100)); // first item
    host(uint64_t(1)); // tags
    host(uint64_t(100)); // the tag's item
    msg += pmt::serialize_str(key);
    msg += pmt::serialize_str(value);
    msg += pmt::serialize_str(pmt::PMT_F); // srcid
    msg += "item";
    wire::decoded d;
    const auto r =
        wire::decode_header(reinterpret_cast<const uint8_t*>(msg.data()), msg.size(), d);
    BOOST_REQUIRE_MESSAGE(r.status == wire::header_status::ok, d.message);
    BOOST_REQUIRE_EQUAL(d.size() + d.skipped, 1u);
    outcome o;
    if (d.size() == 1) {
        BOOST_TEST(d[0].offset == 0u);
        o.carried = true;
        o.ring = std::string(d[0].value);
    }
    return o;
}

/// The Buffer Source's way back.
pmt::pmt_t back_via_blocks(const std::string& ring)
{
    return decode_pmt(
        doppler::value_view(reinterpret_cast<const uint8_t*>(ring.data()), ring.size()));
}

/// The sending bridge's way back, read with pmt::deserialize as a GNU Radio
/// ZMQ source reads it.
pmt::pmt_t back_via_wire(const std::string& ring)
{
    const wire::tag t(7, "k", ring);
    std::string msg;
    wire::encode_stats stats;
    wire::encode_header(msg, 7, &t, 1, &stats);
    BOOST_REQUIRE_MESSAGE(stats.written == 1u,
                          (stats.first_skip ? stats.first_skip : ""));
    std::stringbuf sb(msg.substr(wire::header_fixed_bytes + 8));
    const pmt::pmt_t key = pmt::deserialize(sb);
    BOOST_REQUIRE(pmt::eq(key, pmt::intern("k")));
    return pmt::deserialize(sb);
}

pmt::pmt_t dict(std::initializer_list<std::pair<const char*, pmt::pmt_t>> kv)
{
    pmt::pmt_t d = pmt::make_dict();
    for (const auto& [k, v] : kv)
        d = pmt::dict_add(d, pmt::intern(k), v);
    return d;
}

pmt::pmt_t nest(pmt::pmt_t v, int containers)
{
    for (int i = 0; i < containers; ++i)
        v = pmt::make_tuple(v);
    return v;
}

template <class E>
std::vector<E> two(E a, E b)
{
    return { a, b };
}

} // namespace

BOOST_AUTO_TEST_CASE(
    every_pmt_kind_becomes_the_same_ring_value_and_pmt_through_the_blocks_and_the_wire)
{
    const uint8_t raw[] = { 0, 1, 128, 255 };
    const pmt::pmt_t bare_pair = pmt::cons(pmt::intern("a"), pmt::from_long(1));
    const pmt::pmt_t values[] = {
        pmt::PMT_NIL,
        pmt::PMT_T,
        pmt::PMT_F,
        pmt::from_long(0),
        pmt::from_long(INT32_MIN),
        pmt::from_long(int64_t(INT32_MAX) + 1),
        pmt::from_long(INT64_MIN),
        pmt::from_uint64(0),
        pmt::from_uint64(UINT64_MAX),
        pmt::from_double(-0.0),
        pmt::from_double(1e300),
        pmt::from_complex(1.5, -0.25),
        pmt::intern("r\xc3\xa9sum\xc3\xa9"),
        pmt::intern(""),
        pmt::init_u8vector(4, raw),
        pmt::init_u8vector(0, raw),
        pmt::init_s8vector(2, two<int8_t>(INT8_MIN, INT8_MAX)),
        pmt::init_s16vector(2, two<int16_t>(INT16_MIN, INT16_MAX)),
        pmt::init_s32vector(2, two<int32_t>(INT32_MIN, INT32_MAX)),
        pmt::init_s64vector(2, two<int64_t>(INT64_MIN, INT64_MAX)),
        pmt::init_u16vector(2, two<uint16_t>(0, UINT16_MAX)),
        pmt::init_u32vector(2, two<uint32_t>(0, UINT32_MAX)),
        pmt::init_u64vector(2, two<uint64_t>(0, UINT64_MAX)),
        pmt::init_f32vector(2, two<float>(1.5f, -0.1f)),
        pmt::init_f64vector(2, two<double>(0.1, -1e-300)),
        pmt::init_c32vector(1, std::vector<std::complex<float>> { { 1.f, -2.5f } }),
        pmt::init_c64vector(1, std::vector<std::complex<double>> { { 0.1, 0.2 } }),
        pmt::make_tuple(pmt::from_uint64(1700000000), pmt::from_double(0.5)), // rx_time
        pmt::make_tuple(),
        pmt::make_tuple(pmt::make_tuple()),
        pmt::make_vector(0, pmt::PMT_NIL),
        pmt::make_vector(2, pmt::intern("x")),
        dict({ { "freq", pmt::from_double(1e8) }, { "name", pmt::intern("lna") } }),
        dict({ { "inner", dict({ { "t", pmt::make_tuple(pmt::PMT_NIL) } }) } }),
        pmt::dict_add(pmt::make_dict(), pmt::from_long(1), pmt::PMT_T), // int key
        bare_pair, // (a . 1)
        pmt::list1(pmt::PMT_T),
        pmt::list3(pmt::from_long(1), pmt::intern("a"), pmt::PMT_T),
        pmt::cons(pmt::from_long(1), pmt::cons(pmt::from_long(2), pmt::from_long(3))),
        pmt::list1(bare_pair), // a list of pairs, not a dict
        pmt::cons(pmt::from_long(7), dict({ { "a", pmt::PMT_T } })), // a dict as cdr
        pmt::list2(dict({ { "m", pmt::from_long(1) } }), pmt::init_u8vector(2, raw)),
        dict({ { "l", pmt::list2(pmt::from_long(1), pmt::from_long(2)) } }),
        pmt::make_vector(1, bare_pair),
        // At the nesting limit: the outermost value is depth 1, a container
        // at depth max_value_depth is not carried.
        nest(pmt::from_long(1), doppler::max_container_depth),
        nest(pmt::from_long(1), doppler::max_container_depth + 1),
        nest(pmt::init_u32vector(2, two<uint32_t>(1, 2)),
             doppler::max_container_depth - 1),
        nest(pmt::init_u32vector(2, two<uint32_t>(1, 2)), doppler::max_container_depth),
        nest(pmt::init_u8vector(1, raw), doppler::max_container_depth),
        nest(pmt::list1(pmt::PMT_T), doppler::max_container_depth - 1),
        nest(pmt::list1(pmt::PMT_T), doppler::max_container_depth),
        nest(dict({ { "d", pmt::PMT_F } }), doppler::max_container_depth),
    };

    std::set<kind> seen;
    int carried = 0, skipped = 0;
    const pmt::pmt_t key = pmt::intern("k");
    for (const pmt::pmt_t& v : values) {
        seen.insert(kind_of(v));
        BOOST_TEST_CONTEXT(pmt::write_string(v))
        {
            const outcome blocks = via_blocks(key, v);
            const outcome wire = via_wire(key, v);
            BOOST_TEST(blocks == wire);
            if (!blocks.carried || !wire.carried) {
                ++skipped;
                continue;
            }
            ++carried;
            const pmt::pmt_t a = back_via_blocks(blocks.ring);
            const pmt::pmt_t b = back_via_wire(wire.ring);
            BOOST_TEST(pmt::equal(a, b),
                       pmt::write_string(a) << " vs " << pmt::write_string(b));
            BOOST_TEST(pmt::serialize_str(a) == pmt::serialize_str(b));
        }
    }
    // Every row of the table but `other`, which pmt::serialize cannot write
    // (so no wire carries one): the blocks skip it.
    for (size_t k = 0; k < doppler::pmt_table::kinds; ++k)
        if (kind(k) != kind::other)
            BOOST_TEST(seen.count(kind(k)) == 1u, doppler::pmt_table::of(kind(k)).name);
    const pmt::pmt_t any = pmt::make_any(boost::any(1));
    BOOST_TEST(int(kind_of(any)) == int(kind::other));
    BOOST_TEST(!via_blocks(key, any).carried);
    BOOST_CHECK_THROW(pmt::serialize_str(any), std::exception);
    BOOST_TEST(carried > 30);
    BOOST_TEST(skipped >= 5);

    // Keys: a symbol of 1 to max_key_bytes bytes, on both paths.
    for (const pmt::pmt_t& k :
         { pmt::intern("rx_time"),
           pmt::intern(""),
           pmt::intern(std::string(doppler::max_key_bytes, 'k')),
           pmt::intern(std::string(doppler::max_key_bytes + 1, 'k')),
           pmt::from_long(3),
           pmt::PMT_NIL })
        BOOST_TEST_CONTEXT("key " << pmt::write_string(k))
        {
            BOOST_TEST(via_blocks(k, pmt::PMT_T) == via_wire(k, pmt::PMT_T));
        }
}
