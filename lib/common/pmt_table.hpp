/* -*- c++ -*- */
/*
 * gr-doppler: how each kind of GNU Radio PMT becomes a ring tag value, and a
 * ring tag value a PMT. The one table both converters follow: the blocks
 * (lib/blocks/tag_pmt.cc: PMT objects, Buffer Sink and Buffer Source) and the
 * bridge's wire codec (lib/bridge/wire.cc: PMTs as gr-zeromq serializes
 * them). Each of them only says which kind of PMT it holds (by PMT's
 * predicates, or by the serialization's type byte) and asks here what it
 * becomes. No GNU Radio here: PMT kinds and ring value types
 * (include/doppler/tags.hpp) only. For users: docs/blocks.md, "The value
 * mapping", which lib/bridge's docs point at.
 * SPDX-License-Identifier: GPL-3.0-or-later
 *
 *   PMT kind                      ring value               back to PMT
 *   PMT_NIL (also the empty dict) none                     PMT_NIL
 *   #t, #f                        bool                     #t, #f
 *   integer (from_long)           int64                    integer
 *   uint64 (from_uint64)          uint64                   uint64
 *   real (from_double)            float64                  real
 *   complex                       complex                  complex
 *   symbol                        str                      symbol
 *   u8vector (a blob is one)      bytes                    u8vector
 *   s8/s16/s32/s64 vector         list of int64            vector of integers
 *   u16/u32/u64 vector            list of uint64           vector of uint64s
 *   f32/f64 vector                list of float64          vector of reals
 *   c32/c64 vector                list of complex          vector of complexes
 *   tuple                         tuple                    tuple; an empty one: an
 *                                                          empty vector
 *   vector                        list                     vector
 *   dict, symbol keys             dict (the dict's order)  dict, same order; an
 *                                                          empty one: PMT_NIL
 *   pair chain (a b c)            list [a, b, c]           vector
 *   dotted (a . b), (a b . c)     list [a, b], [a, b, c]   vector
 *   anything else (an `any`, ...) not carried: the tag is skipped
 *
 * The rules beside the rows:
 *  - A uniform vector's elements keep their sign (a u32 vector's elements
 *    are uint64 in the ring, as a u64 vector's are); the vector itself comes
 *    back as a PMT vector of numbers, since a ring value has no uniform
 *    vector type (only u8, as bytes). f32 and c32 elements are widened.
 *  - A pair chain is followed through its cdrs while they are pairs and not
 *    dicts; a last cdr other than PMT_NIL is the list's last element (so
 *    cons(a, dict) is [a, dict], and (a . b) and (a b) are both [a, b]).
 *  - A dict whose key is not a symbol, or whose entry is not a
 *    (key . value) pair, is not carried.
 *  - Containers (tuple, vector, dict, pair chain, and a uniform vector other
 *    than u8, which is a list) nest at most max_container_depth deep: a
 *    container at depth max_value_depth (the outermost value is depth 1) is
 *    not carried, even an empty one.
 *  - A key is a symbol of 1 to max_key_bytes bytes; any other key is not
 *    carried.
 *  - An empty tuple comes back as an empty vector: GNU Radio's
 *    pmt::deserialize cannot read an empty tuple, so the wire cannot carry
 *    one, and the blocks do the same so that a tag reads the same whichever
 *    way it came.
 * A tag that is not carried is skipped (and counted) on its own; the other
 * tags and the samples go on.
 */
#pragma once

#include <doppler/tags.hpp>

#include <complex>
#include <cstddef>
#include <cstdint>
#include <string>
#include <type_traits>

namespace doppler {
namespace pmt_table {

/// The kinds of PMT a tag value can be, one per row of the table.
enum class kind : uint8_t {
    null,
    boolean,
    integer,
    uint64,
    real,
    complex,
    symbol,
    u8vector,
    s8vector,
    s16vector,
    s32vector,
    s64vector,
    u16vector,
    u32vector,
    u64vector,
    f32vector,
    f64vector,
    c32vector,
    c64vector,
    tuple,
    vector,
    dict,
    pair,
    other,
};
constexpr size_t kinds = size_t(kind::other) + 1;

struct row {
    kind pmt;
    const char* name; ///< for messages
    bool carried; ///< false: a tag with such a value is skipped
    value_type ring; ///< what it becomes (meaningless if not carried)
    value_type element; ///< a uniform vector's elements; else the same as ring
};

// clang-format off
inline constexpr row rows[kinds] = {
    { kind::null,      "PMT_NIL",   true,  value_type::none,       value_type::none },
    { kind::boolean,   "bool",      true,  value_type::boolean,    value_type::boolean },
    { kind::integer,   "integer",   true,  value_type::int64,      value_type::int64 },
    { kind::uint64,    "uint64",    true,  value_type::uint64,     value_type::uint64 },
    { kind::real,      "real",      true,  value_type::float64,    value_type::float64 },
    { kind::complex,   "complex",   true,  value_type::complex128, value_type::complex128 },
    { kind::symbol,    "symbol",    true,  value_type::str,        value_type::str },
    { kind::u8vector,  "u8vector",  true,  value_type::bytes,      value_type::bytes },
    { kind::s8vector,  "s8vector",  true,  value_type::list,       value_type::int64 },
    { kind::s16vector, "s16vector", true,  value_type::list,       value_type::int64 },
    { kind::s32vector, "s32vector", true,  value_type::list,       value_type::int64 },
    { kind::s64vector, "s64vector", true,  value_type::list,       value_type::int64 },
    { kind::u16vector, "u16vector", true,  value_type::list,       value_type::uint64 },
    { kind::u32vector, "u32vector", true,  value_type::list,       value_type::uint64 },
    { kind::u64vector, "u64vector", true,  value_type::list,       value_type::uint64 },
    { kind::f32vector, "f32vector", true,  value_type::list,       value_type::float64 },
    { kind::f64vector, "f64vector", true,  value_type::list,       value_type::float64 },
    { kind::c32vector, "c32vector", true,  value_type::list,       value_type::complex128 },
    { kind::c64vector, "c64vector", true,  value_type::list,       value_type::complex128 },
    { kind::tuple,     "tuple",     true,  value_type::tuple,      value_type::tuple },
    { kind::vector,    "vector",    true,  value_type::list,       value_type::list },
    { kind::dict,      "dict",      true,  value_type::dict,       value_type::dict },
    { kind::pair,      "pair",      true,  value_type::list,       value_type::list },
    { kind::other,     "other",     false, value_type::none,       value_type::none },
};
// clang-format on

constexpr bool rows_in_kind_order() noexcept
{
    for (size_t i = 0; i < kinds; ++i)
        if (size_t(rows[i].pmt) != i)
            return false;
    return true;
}
static_assert(rows_in_kind_order(), "rows[k] must be the row of kind k");

/// The row of a kind.
constexpr const row& of(kind k) noexcept
{
    return rows[size_t(k)];
}

/// A value of this kind is a ring container (tuple, list or dict), which
/// counts against the nesting limit.
constexpr bool container(kind k) noexcept
{
    const value_type t = of(k).ring;
    return of(k).carried &&
        (t == value_type::tuple || t == value_type::list || t == value_type::dict);
}

/// A container may stand at `depth` (the outermost value is depth 1): the
/// rule validate_value applies.
constexpr bool container_fits(int depth) noexcept
{
    return depth < max_value_depth;
}

/// A key of `bytes` bytes is carried (it must also be a symbol).
constexpr bool key_fits(size_t bytes) noexcept
{
    return bytes >= 1 && bytes <= max_key_bytes;
}

/// Append the ring header of a container of kind k with `count` elements
/// (a tuple, or a list: vectors, pair chains, uniform vectors).
inline void open_container(std::string& out, kind k, uint32_t count)
{
    if (of(k).ring == value_type::tuple)
        encode::tuple(out, count);
    else if (of(k).ring == value_type::dict)
        encode::dict(out, count);
    else
        encode::list(out, count);
}

/// Append one element `x` of a uniform vector of kind k (not u8: bytes) as
/// the table's element type.
template <class E>
void put_element(std::string& out, kind k, E x)
{
    if constexpr (std::is_same_v<E, std::complex<float>> ||
                  std::is_same_v<E, std::complex<double>>) {
        encode::complex128(out, double(x.real()), double(x.imag()));
    } else {
        switch (of(k).element) {
        case value_type::uint64:
            encode::uint64(out, uint64_t(x));
            return;
        case value_type::float64:
            encode::float64(out, double(x));
            return;
        default:
            encode::int64(out, int64_t(x));
            return;
        }
    }
}

/// The kind of PMT a (validated) ring value becomes.
inline kind back(const value_view& v) noexcept
{
    switch (v.type()) {
    case value_type::none:
        return kind::null;
    case value_type::boolean:
        return kind::boolean;
    case value_type::int64:
        return kind::integer;
    case value_type::uint64:
        return kind::uint64;
    case value_type::float64:
        return kind::real;
    case value_type::complex128:
        return kind::complex;
    case value_type::str:
        return kind::symbol;
    case value_type::bytes:
        return kind::u8vector;
    case value_type::tuple:
        return v.count() != 0 ? kind::tuple : kind::vector;
    case value_type::list:
        return kind::vector;
    case value_type::dict:
        return v.count() != 0 ? kind::dict : kind::null;
    }
    return kind::other; // not reached: the value was validated
}

} // namespace pmt_table
} // namespace doppler
