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

/// A uniform vector's elements as a list, each through `put`.
template <class E, class Put>
bool uniform_list(const pmt::pmt_t& v, std::string& out, Put put)
{
    size_t bytes = 0;
    const auto* p = static_cast<const E*>(pmt::uniform_vector_elements(v, bytes));
    const size_t n = bytes / sizeof(E);
    if (n > UINT32_MAX)
        return false;
    encode::list(out, uint32_t(n));
    for (size_t i = 0; i < n; ++i)
        put(out, p[i]);
    return true;
}

bool encode_uniform(const pmt::pmt_t& v, std::string& out)
{
    const auto as_int = [](std::string& o, auto x) { encode::int64(o, int64_t(x)); };
    const auto as_real = [](std::string& o, auto x) { encode::float64(o, double(x)); };
    const auto as_complex = [](std::string& o, auto x) {
        encode::complex128(o, double(x.real()), double(x.imag()));
    };
    if (pmt::is_u8vector(v)) {
        size_t n = 0;
        const uint8_t* p = pmt::u8vector_elements(v, n);
        if (n > UINT32_MAX)
            return false;
        encode::bytes(out, std::string_view(reinterpret_cast<const char*>(p), n));
        return true;
    }
    if (pmt::is_s8vector(v))
        return uniform_list<int8_t>(v, out, as_int);
    if (pmt::is_s16vector(v))
        return uniform_list<int16_t>(v, out, as_int);
    if (pmt::is_s32vector(v))
        return uniform_list<int32_t>(v, out, as_int);
    if (pmt::is_s64vector(v))
        return uniform_list<int64_t>(v, out, as_int);
    if (pmt::is_u16vector(v))
        return uniform_list<uint16_t>(v, out, as_int);
    if (pmt::is_u32vector(v))
        return uniform_list<uint32_t>(v, out, as_int);
    if (pmt::is_u64vector(v))
        return uniform_list<uint64_t>(
            v, out, [](std::string& o, uint64_t x) { encode::uint64(o, x); });
    if (pmt::is_f32vector(v))
        return uniform_list<float>(v, out, as_real);
    if (pmt::is_f64vector(v))
        return uniform_list<double>(v, out, as_real);
    if (pmt::is_c32vector(v))
        return uniform_list<std::complex<float>>(v, out, as_complex);
    if (pmt::is_c64vector(v))
        return uniform_list<std::complex<double>>(v, out, as_complex);
    return false;
}

} // namespace

bool ring_tags::encode_key(const pmt::pmt_t& key, std::string& out)
{
    if (!pmt::is_symbol(key))
        return false;
    const std::string k = pmt::symbol_to_string(key);
    if (k.empty() || k.size() > dp::max_key_bytes)
        return false;
    out += k;
    return true;
}

bool encode_pmt(const pmt::pmt_t& v, std::string& out, int depth)
{
    if (depth > dp::max_value_depth)
        return false;
    // PMT_NIL is also the empty dict (is_dict): test it first.
    if (pmt::is_null(v)) {
        encode::none(out);
        return true;
    }
    if (pmt::is_bool(v)) {
        encode::boolean(out, pmt::to_bool(v));
        return true;
    }
    if (pmt::is_integer(v)) {
        encode::int64(out, int64_t(pmt::to_long(v)));
        return true;
    }
    if (pmt::is_uint64(v)) {
        encode::uint64(out, pmt::to_uint64(v));
        return true;
    }
    if (pmt::is_real(v)) {
        encode::float64(out, pmt::to_double(v));
        return true;
    }
    if (pmt::is_complex(v)) {
        const std::complex<double> c = pmt::to_complex(v);
        encode::complex128(out, c.real(), c.imag());
        return true;
    }
    if (pmt::is_symbol(v)) {
        encode::str(out, pmt::symbol_to_string(v));
        return true;
    }
    if (pmt::is_uniform_vector(v))
        return encode_uniform(v, out);
    // Containers: a container at the deepest level could hold nothing valid.
    if (depth >= dp::max_value_depth)
        return false;
    if (pmt::is_tuple(v) || pmt::is_vector(v)) {
        const bool tuple = pmt::is_tuple(v);
        const size_t n = pmt::length(v);
        if (n > UINT32_MAX)
            return false;
        tuple ? encode::tuple(out, uint32_t(n)) : encode::list(out, uint32_t(n));
        for (size_t i = 0; i < n; ++i)
            if (!encode_pmt(
                    tuple ? pmt::tuple_ref(v, i) : pmt::vector_ref(v, i), out, depth + 1))
                return false;
        return true;
    }
    if (pmt::is_dict(v)) {
        // An association list: ((key . value) ...), symbol keys only.
        uint32_t n = 0;
        for (pmt::pmt_t p = v; !pmt::is_null(p); p = pmt::cdr(p)) {
            if (!pmt::is_pair(p) || !pmt::is_pair(pmt::car(p)) ||
                !pmt::is_symbol(pmt::car(pmt::car(p))) || n == UINT32_MAX)
                return false;
            ++n;
        }
        encode::dict(out, n);
        for (pmt::pmt_t p = v; !pmt::is_null(p); p = pmt::cdr(p)) {
            const pmt::pmt_t kv = pmt::car(p);
            encode::key(out, pmt::symbol_to_string(pmt::car(kv)));
            if (!encode_pmt(pmt::cdr(kv), out, depth + 1))
                return false;
        }
        return true;
    }
    return false; // a plain pair or list, an `any`, ...
}

pmt::pmt_t decode_pmt(const value_view& v)
{
    switch (v.type()) {
    case value_type::none:
        return pmt::PMT_NIL;
    case value_type::boolean:
        return pmt::from_bool(v.as_bool());
    case value_type::int64:
        return pmt::from_long(long(v.as_int64()));
    case value_type::uint64:
        return pmt::from_uint64(v.as_uint64());
    case value_type::float64:
        return pmt::from_double(v.as_float64());
    case value_type::complex128:
        return pmt::from_complex(v.real(), v.imag());
    case value_type::str:
        return pmt::string_to_symbol(std::string(v.as_str()));
    case value_type::bytes: {
        const std::string_view b = v.as_str();
        return pmt::init_u8vector(b.size(), reinterpret_cast<const uint8_t*>(b.data()));
    }
    case value_type::tuple:
    case value_type::list: {
        pmt::pmt_t vec = pmt::make_vector(v.count(), pmt::PMT_NIL);
        auto it = v.items();
        value_view e;
        for (size_t i = 0; it.next(e); ++i)
            pmt::vector_set(vec, i, decode_pmt(e));
        return v.type() == value_type::tuple ? pmt::to_tuple(vec) : vec;
    }
    case value_type::dict: {
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
    }
    return pmt::PMT_NIL; // not reached: the value was validated
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
