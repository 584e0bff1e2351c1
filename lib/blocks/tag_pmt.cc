/* -*- c++ -*- */
/*
 * SPDX-License-Identifier: GPL-3.0-or-later
 */
#include "tag_pmt.h"

#include <climits>
#include <complex>
#include <utility>

namespace gr {
namespace doppler {
namespace detail {

namespace encode = dp::encode;
using dp::value_type;
using dp::value_view;

namespace {

/// A uniform vector's elements as a list, each as the table's element type.
template <class E>
bool uniform_list(const pmt::pmt_t& v, pmt_table::kind k, std::string& out)
{
    size_t bytes = 0;
    const auto* p = static_cast<const E*>(pmt::uniform_vector_elements(v, bytes));
    const size_t n = bytes / sizeof(E);
    if (n > UINT32_MAX)
        return false;
    pmt_table::open_container(out, k, uint32_t(n));
    for (size_t i = 0; i < n; ++i)
        pmt_table::put_element(out, k, p[i]);
    return true;
}

// One case per uniform vector row of pmt_table.hpp; wire.cc's decoder has the
// same cases for gr-zeromq's bytes.
bool encode_uniform(const pmt::pmt_t& v, pmt_table::kind k, std::string& out)
{
    using pmt_table::kind;
    switch (k) {
    case kind::u8vector: {
        size_t n = 0;
        const uint8_t* p = pmt::u8vector_elements(v, n);
        if (n > UINT32_MAX)
            return false;
        encode::bytes(out, std::string_view(reinterpret_cast<const char*>(p), n));
        return true;
    }
    case kind::s8vector:
        return uniform_list<int8_t>(v, k, out);
    case kind::s16vector:
        return uniform_list<int16_t>(v, k, out);
    case kind::s32vector:
        return uniform_list<int32_t>(v, k, out);
    case kind::s64vector:
        return uniform_list<int64_t>(v, k, out);
    case kind::u16vector:
        return uniform_list<uint16_t>(v, k, out);
    case kind::u32vector:
        return uniform_list<uint32_t>(v, k, out);
    case kind::u64vector:
        return uniform_list<uint64_t>(v, k, out);
    case kind::f32vector:
        return uniform_list<float>(v, k, out);
    case kind::f64vector:
        return uniform_list<double>(v, k, out);
    case kind::c32vector:
        return uniform_list<std::complex<float>>(v, k, out);
    case kind::c64vector:
        return uniform_list<std::complex<double>>(v, k, out);
    default:
        return false;
    }
}

/// The cdr that continues a pair chain: a pair that is not a dict
/// (pmt_table.hpp: a dict ends the chain as its last element).
bool continues_chain(const pmt::pmt_t& cdr)
{
    return pmt::is_pair(cdr) && !pmt::is_dict(cdr);
}

} // namespace

pmt_table::kind kind_of(const pmt::pmt_t& v)
{
    using pmt_table::kind;
    // PMT_NIL is also the empty dict (is_dict): test it first.
    if (pmt::is_null(v))
        return kind::null;
    if (pmt::is_bool(v))
        return kind::boolean;
    if (pmt::is_integer(v))
        return kind::integer;
    if (pmt::is_uint64(v))
        return kind::uint64;
    if (pmt::is_real(v))
        return kind::real;
    if (pmt::is_complex(v))
        return kind::complex;
    if (pmt::is_symbol(v))
        return kind::symbol;
    if (pmt::is_uniform_vector(v)) {
        if (pmt::is_u8vector(v))
            return kind::u8vector;
        if (pmt::is_s8vector(v))
            return kind::s8vector;
        if (pmt::is_s16vector(v))
            return kind::s16vector;
        if (pmt::is_s32vector(v))
            return kind::s32vector;
        if (pmt::is_s64vector(v))
            return kind::s64vector;
        if (pmt::is_u16vector(v))
            return kind::u16vector;
        if (pmt::is_u32vector(v))
            return kind::u32vector;
        if (pmt::is_u64vector(v))
            return kind::u64vector;
        if (pmt::is_f32vector(v))
            return kind::f32vector;
        if (pmt::is_f64vector(v))
            return kind::f64vector;
        if (pmt::is_c32vector(v))
            return kind::c32vector;
        if (pmt::is_c64vector(v))
            return kind::c64vector;
        return kind::other;
    }
    if (pmt::is_tuple(v))
        return kind::tuple;
    if (pmt::is_vector(v))
        return kind::vector;
    // A dict is a pair too: test it first.
    if (pmt::is_dict(v))
        return kind::dict;
    if (pmt::is_pair(v))
        return kind::pair;
    return kind::other; // an `any`, a msg_accepter, ...
}

bool ring_tags::encode_key(const pmt::pmt_t& key, std::string& out)
{
    if (!pmt::is_symbol(key))
        return false;
    const std::string k = pmt::symbol_to_string(key);
    if (!pmt_table::key_fits(k.size()))
        return false;
    out += k;
    return true;
}

bool encode_pmt(const pmt::pmt_t& v, std::string& out, int depth)
{
    using pmt_table::kind;
    if (depth > dp::max_value_depth)
        return false;
    const kind k = kind_of(v);
    if (!pmt_table::of(k).carried)
        return false;
    if (pmt_table::container(k) && !pmt_table::container_fits(depth))
        return false;
    switch (k) {
    case kind::null:
        encode::none(out);
        return true;
    case kind::boolean:
        encode::boolean(out, pmt::to_bool(v));
        return true;
    case kind::integer:
        encode::int64(out, int64_t(pmt::to_long(v)));
        return true;
    case kind::uint64:
        encode::uint64(out, pmt::to_uint64(v));
        return true;
    case kind::real:
        encode::float64(out, pmt::to_double(v));
        return true;
    case kind::complex: {
        const std::complex<double> c = pmt::to_complex(v);
        encode::complex128(out, c.real(), c.imag());
        return true;
    }
    case kind::symbol:
        encode::str(out, pmt::symbol_to_string(v));
        return true;
    case kind::tuple:
    case kind::vector: {
        const bool tuple = k == kind::tuple;
        const size_t n = pmt::length(v);
        if (n > UINT32_MAX)
            return false;
        pmt_table::open_container(out, k, uint32_t(n));
        for (size_t i = 0; i < n; ++i)
            if (!encode_pmt(
                    tuple ? pmt::tuple_ref(v, i) : pmt::vector_ref(v, i), out, depth + 1))
                return false;
        return true;
    }
    case kind::dict: {
        // An association list: ((key . value) ...), symbol keys only.
        uint32_t n = 0;
        for (pmt::pmt_t p = v; !pmt::is_null(p); p = pmt::cdr(p)) {
            if (!pmt::is_pair(p) || !pmt::is_pair(pmt::car(p)) ||
                !pmt::is_symbol(pmt::car(pmt::car(p))) || n == UINT32_MAX)
                return false;
            ++n;
        }
        pmt_table::open_container(out, k, n);
        for (pmt::pmt_t p = v; !pmt::is_null(p); p = pmt::cdr(p)) {
            const pmt::pmt_t kv = pmt::car(p);
            encode::key(out, pmt::symbol_to_string(pmt::car(kv)));
            if (!encode_pmt(pmt::cdr(kv), out, depth + 1))
                return false;
        }
        return true;
    }
    case kind::pair: {
        // The cars, then a last cdr that is not PMT_NIL (pmt_table.hpp).
        uint32_t n = 0;
        for (pmt::pmt_t p = v;; p = pmt::cdr(p)) {
            if (n >= UINT32_MAX - 1)
                return false;
            ++n;
            if (continues_chain(pmt::cdr(p)))
                continue;
            if (!pmt::is_null(pmt::cdr(p)))
                ++n;
            break;
        }
        pmt_table::open_container(out, k, n);
        for (pmt::pmt_t p = v;; p = pmt::cdr(p)) {
            if (!encode_pmt(pmt::car(p), out, depth + 1))
                return false;
            const pmt::pmt_t next = pmt::cdr(p);
            if (continues_chain(next))
                continue;
            return pmt::is_null(next) || encode_pmt(next, out, depth + 1);
        }
    }
    default:
        return encode_uniform(v, k, out);
    }
}

pmt::pmt_t decode_pmt(const value_view& v)
{
    using pmt_table::kind;
    switch (pmt_table::back(v)) {
    case kind::null:
        return pmt::PMT_NIL;
    case kind::boolean:
        return pmt::from_bool(v.as_bool());
    case kind::integer:
        return pmt::from_long(long(v.as_int64()));
    case kind::uint64:
        return pmt::from_uint64(v.as_uint64());
    case kind::real:
        return pmt::from_double(v.as_float64());
    case kind::complex:
        return pmt::from_complex(v.real(), v.imag());
    case kind::symbol:
        return pmt::string_to_symbol(std::string(v.as_str()));
    case kind::u8vector: {
        const std::string_view b = v.as_str();
        return pmt::init_u8vector(b.size(), reinterpret_cast<const uint8_t*>(b.data()));
    }
    case kind::tuple:
    case kind::vector: {
        pmt::pmt_t vec = pmt::make_vector(v.count(), pmt::PMT_NIL);
        auto it = v.items();
        value_view e;
        for (size_t i = 0; it.next(e); ++i)
            pmt::vector_set(vec, i, decode_pmt(e));
        return pmt_table::back(v) == kind::tuple ? pmt::to_tuple(vec) : vec;
    }
    case kind::dict: {
        // dcons() puts an entry in front: build from the last entry back so
        // the dict keeps the ring's order.
        std::vector<std::pair<pmt::pmt_t, pmt::pmt_t>> entries;
        entries.reserve(v.count());
        auto it = v.items();
        value_view e;
        while (it.next(e))
            entries.emplace_back(pmt::string_to_symbol(std::string(it.key())),
                                 decode_pmt(e));
        pmt::pmt_t d = pmt::make_dict();
        for (auto i = entries.rbegin(); i != entries.rend(); ++i)
            d = pmt::dcons(pmt::cons(i->first, i->second), d);
        return d;
    }
    default:
        return pmt::PMT_NIL; // not reached: back() gives no other kind
    }
}

void ring_tags::sort_by_offset() noexcept
{
    for (size_t i = 1; i < d_out.size(); ++i)
        for (size_t j = i; j > 0 && d_out[j - 1].offset > d_out[j].offset; --j)
            std::swap(d_out[j - 1], d_out[j]);
}

} // namespace detail
} // namespace doppler
} // namespace gr
