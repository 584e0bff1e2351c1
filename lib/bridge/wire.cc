/* -*- c++ -*- */
/*
 * The gr-zeromq tag header: writing it from ring tags, reading it into ring
 * tags (format and mapping: wire.hpp).
 *
 * Reading is in two passes per PMT. pmt_extent() walks the raw bytes without
 * recursion (a counter of values still to read: every container adds its
 * elements to it) and checks each length and count against what is left
 * before using it; it decides whether the message is well formed and where
 * each PMT ends. Only then does the converter read the PMT again, recursing
 * at most max_value_depth deep, and it may still refuse a well-formed value
 * the ring cannot carry: that tag is skipped, the message goes on.
 * SPDX-License-Identifier: GPL-3.0-or-later
 */
#include "wire.hpp"

#include "pmt_table.hpp"

#include <algorithm>
#include <cstdarg>
#include <cstdio>
#include <cstring>

namespace doppler {
namespace wire {

namespace {

// ---------------------------------------------------------------------------
// bytes
// ---------------------------------------------------------------------------

// The header's own integers are in host order (gr-zeromq writes them with
// ostream::write); this code assumes a little-endian host, as the ring does.
template <class V>
V load_host(const uint8_t* p) noexcept
{
    V v;
    std::memcpy(&v, p, sizeof v);
    return v;
}
template <class V>
void put_host(std::string& out, V v)
{
    char b[sizeof v];
    std::memcpy(b, &v, sizeof v);
    out.append(b, sizeof v);
}

// PMT's numbers are big-endian.
uint16_t be16(const uint8_t* p) noexcept
{
    return uint16_t(p[0] << 8 | p[1]);
}
uint32_t be32(const uint8_t* p) noexcept
{
    return uint32_t(p[0]) << 24 | uint32_t(p[1]) << 16 | uint32_t(p[2]) << 8 | p[3];
}
uint64_t be64(const uint8_t* p) noexcept
{
    return uint64_t(be32(p)) << 32 | be32(p + 4);
}
double be_f64(const uint8_t* p) noexcept
{
    const uint64_t bits = be64(p);
    double d;
    std::memcpy(&d, &bits, 8);
    return d;
}
float be_f32(const uint8_t* p) noexcept
{
    const uint32_t bits = be32(p);
    float f;
    std::memcpy(&f, &bits, 4);
    return f;
}

void put_be(std::string& out, uint64_t v, int bytes)
{
    char b[8];
    for (int i = 0; i < bytes; ++i)
        b[i] = char(v >> (8 * (bytes - 1 - i)));
    out.append(b, size_t(bytes));
}
void put_be_f64(std::string& out, double d)
{
    uint64_t bits;
    std::memcpy(&bits, &d, 8);
    put_be(out, bits, 8);
}

// ---------------------------------------------------------------------------
// names for messages (switches shaped like vocabulary.cc's names)
// ---------------------------------------------------------------------------

const char* pst_name(uint8_t t) noexcept
{
    switch (t) {
    case pst::true_:
        return "true";
    case pst::false_:
        return "false";
    case pst::symbol:
        return "symbol";
    case pst::int32:
        return "int32";
    case pst::float64:
        return "double";
    case pst::complex128:
        return "complex";
    case pst::null:
        return "null";
    case pst::pair:
        return "pair";
    case pst::vector:
        return "vector";
    case pst::dict:
        return "dict";
    case pst::uniform_vector:
        return "uniform vector";
    case pst::uint64:
        return "uint64";
    case pst::tuple:
        return "tuple";
    case pst::int64:
        return "int64";
    case pst::comment:
        return "comment";
    }
    return "unknown";
}

/// Bytes per element of a uniform vector subtype, 0 if unknown. (Shaped like
/// tag_area.cc's skip(), which sizes ring values: another encoding.)
size_t uvi_bytes(uint8_t sub) noexcept
{
    switch (sub) {
    case pst::uvi_u8:
    case pst::uvi_s8:
        return 1;
    case pst::uvi_u16:
    case pst::uvi_s16:
        return 2;
    case pst::uvi_u32:
    case pst::uvi_s32:
    case pst::uvi_f32:
        return 4;
    case pst::uvi_u64:
    case pst::uvi_s64:
    case pst::uvi_f64:
    case pst::uvi_c32:
        return 8;
    case pst::uvi_c64:
        return 16;
    }
    return 0;
}

/// The row of pmt_table.hpp a serialized PMT of type byte t (and, for a
/// uniform vector, subtype sub) is.
pmt_table::kind kind_of(uint8_t t, uint8_t sub) noexcept
{
    using pmt_table::kind;
    switch (t) {
    case pst::true_:
    case pst::false_:
        return kind::boolean;
    case pst::null:
        return kind::null;
    case pst::symbol:
        return kind::symbol;
    case pst::int32:
    case pst::int64:
        return kind::integer;
    case pst::uint64:
        return kind::uint64;
    case pst::float64:
        return kind::real;
    case pst::complex128:
        return kind::complex;
    case pst::vector:
        return kind::vector;
    case pst::tuple:
        return kind::tuple;
    case pst::dict:
        return kind::dict;
    case pst::pair:
        return kind::pair;
    case pst::uniform_vector:
        switch (sub) {
        case pst::uvi_u8:
            return kind::u8vector;
        case pst::uvi_s8:
            return kind::s8vector;
        case pst::uvi_u16:
            return kind::u16vector;
        case pst::uvi_s16:
            return kind::s16vector;
        case pst::uvi_u32:
            return kind::u32vector;
        case pst::uvi_s32:
            return kind::s32vector;
        case pst::uvi_u64:
            return kind::u64vector;
        case pst::uvi_s64:
            return kind::s64vector;
        case pst::uvi_f32:
            return kind::f32vector;
        case pst::uvi_f64:
            return kind::f64vector;
        case pst::uvi_c32:
            return kind::c32vector;
        case pst::uvi_c64:
            return kind::c64vector;
        }
        return kind::other;
    }
    return kind::other;
}

void say(std::string& msg, const char* fmt, ...) __attribute__((format(printf, 2, 3)));
void say(std::string& msg, const char* fmt, ...)
{
    char buf[320];
    va_list ap;
    va_start(ap, fmt);
    const int len = std::vsnprintf(buf, sizeof buf, fmt, ap);
    va_end(ap);
    msg.assign(buf, len < 0 ? 0 : std::min(size_t(len), sizeof buf - 1));
}

// ---------------------------------------------------------------------------
// pass 1: the extent of one serialized PMT
// ---------------------------------------------------------------------------

struct walk_error {
    header_status status = header_status::malformed;
    char what[160] = "";
};

/// Length of the PMT at [p, p + n), or 0 with *err set. Never reads
/// outside [p, p + n); iterates (no recursion) over at most n values.
size_t pmt_extent(const uint8_t* p, size_t n, walk_error* err) noexcept
{
    size_t at = 0;
    uint64_t pending = 1; // values still to read
    auto truncated = [&](const char* inside) -> size_t {
        err->status = header_status::truncated;
        std::snprintf(err->what,
                      sizeof err->what,
                      "message ends inside %s (at byte %zu of %zu)",
                      inside,
                      at,
                      n);
        return 0;
    };
    while (pending != 0) {
        // Every value takes at least its type byte: this also bounds the
        // counts added below before any loop runs on them.
        if (pending > n - at)
            return truncated(at == n ? "a PMT (its type byte)"
                                     : "a container (fewer bytes left than elements)");
        const uint8_t t = p[at++];
        --pending;
        const size_t left = n - at;
        switch (t) {
        case pst::true_:
        case pst::false_:
        case pst::null:
            break;
        case pst::symbol: {
            if (left < 2)
                return truncated("a symbol's length");
            const size_t len = be16(p + at);
            if (left - 2 < len)
                return truncated("a symbol");
            at += 2 + len;
            break;
        }
        case pst::int32:
            if (left < 4)
                return truncated("an int32");
            at += 4;
            break;
        case pst::float64:
        case pst::uint64:
        case pst::int64:
            if (left < 8)
                return truncated("a 64-bit number");
            at += 8;
            break;
        case pst::complex128:
            if (left < 16)
                return truncated("a complex");
            at += 16;
            break;
        case pst::pair:
        case pst::dict:
            pending += 2; // car, cdr
            break;
        case pst::vector:
        case pst::tuple:
            if (left < 4)
                return truncated("a vector's or tuple's count");
            pending += be32(p + at); // checked against what is left at the loop top
            at += 4;
            break;
        case pst::uniform_vector: {
            if (left < 6)
                return truncated("a uniform vector's subtype, count or padding size");
            const uint8_t sub = p[at];
            const uint64_t count = be32(p + at + 1);
            const size_t npad = p[at + 5];
            const size_t width = uvi_bytes(sub);
            if (width == 0) {
                err->status = header_status::malformed;
                std::snprintf(err->what,
                              sizeof err->what,
                              "uniform vector subtype 0x%02x is not one GNU Radio writes",
                              sub);
                return 0;
            }
            at += 6;
            if (n - at < npad)
                return truncated("a uniform vector's padding");
            at += npad;
            if ((n - at) / width < count) // no product that could overflow
                return truncated("a uniform vector's elements");
            at += size_t(count * width);
            break;
        }
        default:
            err->status = header_status::malformed;
            std::snprintf(err->what,
                          sizeof err->what,
                          t == pst::comment
                              ? "PMT type 0x%02x (comment) is not a value (GNU Radio "
                                "refuses it too)"
                              : "unknown PMT type 0x%02x",
                          t);
            return 0;
        }
    }
    return at;
}

// ---------------------------------------------------------------------------
// pass 2: a well-formed PMT into the ring encoding
// ---------------------------------------------------------------------------

/// Converts one PMT that pmt_extent accepted (so no length is checked again
/// here) into the ring encoding at the end of out. On a value the ring
/// cannot carry returns false with `why` set; the caller cuts out back.
class converter
{
public:
    explicit converter(std::string& out) : out_(out), start_(out.size()) { }
    char why[160] = "";

    bool value(const uint8_t*& p, int depth)
    {
        using pmt_table::kind;
        const uint8_t t = *p++;
        // pmt_extent saw a uniform vector's subtype: it is there.
        const kind k = kind_of(t, t == pst::uniform_vector ? p[0] : 0);
        if (!pmt_table::of(k).carried)
            return fail("PMT type 0x%02x (%s) is not carried", t, pst_name(t));
        if (pmt_table::container(k) && !container(depth))
            return false;
        switch (k) {
        case kind::boolean:
            encode::boolean(out_, t == pst::true_);
            return true;
        case kind::null:
            encode::none(out_);
            return true;
        case kind::symbol: {
            const size_t len = be16(p);
            encode::str(out_,
                        std::string_view(reinterpret_cast<const char*>(p + 2), len));
            p += 2 + len;
            return fits();
        }
        case kind::integer:
            if (t == pst::int32) {
                encode::int64(out_, int32_t(be32(p)));
                p += 4;
            } else {
                encode::int64(out_, int64_t(be64(p)));
                p += 8;
            }
            return true;
        case kind::uint64:
            encode::uint64(out_, be64(p));
            p += 8;
            return true;
        case kind::real:
            encode::float64(out_, be_f64(p));
            p += 8;
            return true;
        case kind::complex:
            encode::complex128(out_, be_f64(p), be_f64(p + 8));
            p += 16;
            return true;
        case kind::vector:
        case kind::tuple: {
            const uint32_t count = be32(p);
            p += 4;
            pmt_table::open_container(out_, k, count);
            for (uint32_t i = 0; i < count; ++i)
                if (!value(p, depth + 1) || !fits())
                    return false;
            return true;
        }
        case kind::pair:
            return pairs(p, depth);
        case kind::dict:
            return dict(p, depth);
        default:
            return uniform(p, k);
        }
    }

private:
    std::string& out_;
    const size_t start_;

    bool fail(const char* fmt, ...) __attribute__((format(printf, 2, 3)))
    {
        va_list ap;
        va_start(ap, fmt);
        std::vsnprintf(why, sizeof why, fmt, ap);
        va_end(ap);
        return false;
    }
    /// The value so far still fits a ring tag record.
    bool fits()
    {
        if (out_.size() - start_ <= max_value_bytes)
            return true;
        return fail("larger than the %zu bytes a ring tag value can have",
                    max_value_bytes);
    }
    bool room(uint64_t more)
    {
        if (more <= max_value_bytes - std::min(max_value_bytes, out_.size() - start_))
            return true;
        return fail("larger than the %zu bytes a ring tag value can have",
                    max_value_bytes);
    }
    /// A container at this depth is allowed (the outermost value is depth 1,
    /// the same rule as validate_value).
    bool container(int depth)
    {
        if (pmt_table::container_fits(depth))
            return true;
        return fail("nested deeper than the ring's %d levels", max_value_depth);
    }
    void patch_count(size_t at, uint32_t count)
    {
        std::memcpy(&out_[at + 1], &count, 4); // after the type byte, little-endian
    }

    /// A uniform vector: bytes (u8), else a list of its elements, each as
    /// the table's element type.
    bool uniform(const uint8_t*& p, pmt_table::kind k)
    {
        using pmt_table::kind;
        const uint8_t sub = p[0];
        const uint32_t count = be32(p + 1);
        p += 6 + p[5]; // subtype, count, npad, the padding
        if (k == kind::u8vector) {
            if (!room(5 + uint64_t(count)))
                return false;
            encode::bytes(out_,
                          std::string_view(reinterpret_cast<const char*>(p), count));
            p += count;
            return true;
        }
        const bool cplx = k == kind::c32vector || k == kind::c64vector;
        if (!room(5 + uint64_t(count) * (cplx ? 17 : 9)))
            return false;
        pmt_table::open_container(out_, k, count);
        const size_t width = uvi_bytes(sub);
        for (uint32_t i = 0; i < count; ++i, p += width) {
            // One case per uniform vector row of pmt_table.hpp, as in kind_of().
            switch (k) {
            case kind::s8vector:
                pmt_table::put_element(out_, k, int8_t(p[0]));
                break;
            case kind::u16vector:
                pmt_table::put_element(out_, k, be16(p));
                break;
            case kind::s16vector:
                pmt_table::put_element(out_, k, int16_t(be16(p)));
                break;
            case kind::u32vector:
                pmt_table::put_element(out_, k, be32(p));
                break;
            case kind::s32vector:
                pmt_table::put_element(out_, k, int32_t(be32(p)));
                break;
            case kind::u64vector:
                pmt_table::put_element(out_, k, be64(p));
                break;
            case kind::s64vector:
                pmt_table::put_element(out_, k, int64_t(be64(p)));
                break;
            case kind::f32vector:
                pmt_table::put_element(out_, k, be_f32(p));
                break;
            case kind::f64vector:
                pmt_table::put_element(out_, k, be_f64(p));
                break;
            case kind::c32vector:
                pmt_table::put_element(
                    out_, k, std::complex<float>(be_f32(p), be_f32(p + 4)));
                break;
            case kind::c64vector:
                pmt_table::put_element(
                    out_, k, std::complex<double>(be_f64(p), be_f64(p + 8)));
                break;
            default:
                break;
            }
        }
        return true;
    }

    /// A chain of pairs (a b c), (a . b) or (a b . c): a list of the cars,
    /// and of the last cdr unless it is null (pmt_table.hpp). A dict as a
    /// cdr (type 0x09) ends the chain as its last element.
    bool pairs(const uint8_t*& p, int depth)
    {
        const size_t head = out_.size();
        encode::list(out_, 0);
        uint32_t count = 0;
        for (;;) {
            if (count == UINT32_MAX)
                return fail("a list of more than %u elements", UINT32_MAX);
            if (!value(p, depth + 1) || !fits()) // the car
                return false;
            ++count;
            const uint8_t next = *p; // the cdr's type byte (pmt_extent saw it)
            if (next == pst::pair) {
                ++p;
                continue;
            }
            if (next == pst::null) {
                ++p;
                break;
            }
            if (!value(p, depth + 1) || !fits()) // a dotted tail
                return false;
            ++count;
            break;
        }
        patch_count(head, count);
        return true;
    }

    /// A dict: a chain whose cars are (key . value) pairs with symbol keys.
    bool dict(const uint8_t*& p, int depth)
    {
        const size_t head = out_.size();
        encode::dict(out_, 0);
        uint32_t count = 0;
        for (;;) {
            if (count == UINT32_MAX)
                return fail("a dict of more than %u entries", UINT32_MAX);
            if (p[0] != pst::pair)
                return fail("dict entry %u is PMT type 0x%02x (%s), not a (key . value) "
                            "pair",
                            count,
                            p[0],
                            pst_name(p[0]));
            if (p[1] != pst::symbol)
                return fail("dict key %u is PMT type 0x%02x (%s), not a symbol",
                            count,
                            p[1],
                            pst_name(p[1]));
            const size_t klen = be16(p + 2);
            encode::key(out_,
                        std::string_view(reinterpret_cast<const char*>(p + 4), klen));
            p += 4 + klen;
            if (!value(p, depth + 1) || !fits()) // the entry's cdr is the value
                return false;
            ++count;
            const uint8_t next = *p++; // the chain's cdr
            if (next == pst::dict || next == pst::pair) // as pmt::deserialize reads it
                continue;
            if (next == pst::null)
                break;
            return fail(
                "dict ends in PMT type 0x%02x (%s), not in null", next, pst_name(next));
        }
        patch_count(head, count);
        return true;
    }
};

// ---------------------------------------------------------------------------
// ring value -> PMT
// ---------------------------------------------------------------------------

void put_symbol(std::string& out, std::string_view s)
{
    out.push_back(char(pst::symbol));
    put_be(out, s.size(), 2);
    out.append(s.data(), s.size());
}

/// Append the PMT serialization of a validated ring value; nullptr, or why
/// GNU Radio could not read it (then out holds a partial value: the caller
/// cuts it off).
const char* put_pmt(std::string& out, const value_view& v)
{
    using pmt_table::kind;
    const kind k = pmt_table::back(v);
    switch (k) {
    case kind::null:
        out.push_back(char(pst::null));
        return nullptr;
    case kind::boolean:
        out.push_back(char(v.as_bool() ? pst::true_ : pst::false_));
        return nullptr;
    case kind::integer: {
        const int64_t i = v.as_int64();
        if (i >= INT32_MIN && i <= INT32_MAX) { // as pmt::serialize chooses
            out.push_back(char(pst::int32));
            put_be(out, uint32_t(int32_t(i)), 4);
        } else {
            out.push_back(char(pst::int64));
            put_be(out, uint64_t(i), 8);
        }
        return nullptr;
    }
    case kind::uint64:
        out.push_back(char(pst::uint64));
        put_be(out, v.as_uint64(), 8);
        return nullptr;
    case kind::real:
        out.push_back(char(pst::float64));
        put_be_f64(out, v.as_float64());
        return nullptr;
    case kind::complex:
        out.push_back(char(pst::complex128));
        put_be_f64(out, v.real());
        put_be_f64(out, v.imag());
        return nullptr;
    case kind::symbol:
        if (v.as_str().size() > max_symbol_bytes)
            return "a str value longer than 1024 bytes (GNU Radio refuses longer "
                   "symbols)";
        put_symbol(out, v.as_str());
        return nullptr;
    case kind::u8vector: {
        const std::string_view b = v.as_str();
        out.push_back(char(pst::uniform_vector));
        out.push_back(char(pst::uvi_u8));
        put_be(out, b.size(), 4);
        out.push_back(1); // npad, and one zero byte of padding, as pmt::serialize
        out.push_back(0);
        out.append(b.data(), b.size());
        return nullptr;
    }
    case kind::tuple:
    case kind::vector: {
        // An empty tuple is a vector (pmt_table::back): pmt::deserialize
        // cannot read an empty tuple.
        out.push_back(char(k == kind::tuple ? pst::tuple : pst::vector));
        put_be(out, v.count(), 4);
        auto it = v.items();
        value_view e;
        while (it.next(e))
            if (const char* why = put_pmt(out, e))
                return why;
        return nullptr;
    }
    case kind::dict: {
        // (k1 . v1) (k2 . v2) ... as dcons cells: 0x09, (0x07 key value), ...,
        // then null (the empty dict is null: pmt_table::back).
        auto it = v.items();
        value_view e;
        while (it.next(e)) {
            if (it.key().size() > max_symbol_bytes)
                return "a dict key longer than 1024 bytes (GNU Radio refuses longer "
                       "symbols)";
            out.push_back(char(pst::dict));
            out.push_back(char(pst::pair));
            put_symbol(out, it.key());
            if (const char* why = put_pmt(out, e))
                return why;
        }
        out.push_back(char(pst::null));
        return nullptr;
    }
    default:
        return "an unknown ring value type";
    }
}

} // namespace

// An enum's names as a switch, like vocabulary.cc's: -Wswitch names a new value.
const char* to_string(header_status s) noexcept
{
    switch (s) {
    case header_status::ok:
        return "ok";
    case header_status::no_header:
        return "no header";
    case header_status::truncated:
        return "truncated";
    case header_status::bad_version:
        return "bad version";
    case header_status::malformed:
        return "malformed";
    }
    return "?";
}

size_t encode_header(std::string& out,
                     uint64_t first_index,
                     const tag* tags,
                     size_t ntags,
                     encode_stats* stats)
{
    const size_t start = out.size();
    put_host(out, header_magic);
    out.push_back(char(header_version));
    put_host(out, first_index);
    const size_t count_at = out.size();
    put_host(out, uint64_t(0)); // the tag count, once known
    encode_stats s;
    for (size_t i = 0; i < ntags; ++i) {
        const tag& t = tags[i];
        const size_t mark = out.size();
        const char* why = nullptr;
        size_t used = 0;
        if (t.key.size() > max_symbol_bytes) {
            why = "a key longer than 1024 bytes (GNU Radio refuses longer symbols)";
        } else if (!validate_value(reinterpret_cast<const uint8_t*>(t.value.data()),
                                   t.value.size(),
                                   &used,
                                   nullptr) ||
                   used != t.value.size()) {
            why = "a value that is not one well-formed ring value";
        } else {
            put_host(out, t.index);
            put_symbol(out, t.key);
            why = put_pmt(
                out, value_view(reinterpret_cast<const uint8_t*>(t.value.data()), used));
            out.push_back(char(pst::false_)); // srcid: #f, as gr::tag_t's default
        }
        if (why) {
            out.resize(mark);
            if (s.skipped++ == 0)
                s.first_skip = why;
        } else {
            ++s.written;
        }
    }
    std::memcpy(&out[count_at], &s.written, 8);
    if (stats)
        *stats = s;
    return out.size() - start;
}

void decoded::clear() noexcept
{
    first_index = announced = skipped = outside = 0;
    message.clear();
    arena_.clear();
    entries_.clear();
    tags_.clear();
}

void decoded::publish()
{
    tags_.clear();
    for (const entry& e : entries_)
        tags_.push_back({ e.offset,
                          std::string_view(arena_.data() + e.key_at, e.key_len),
                          std::string_view(arena_.data() + e.value_at, e.value_len) });
}

void decoded::keep_within(uint64_t nitems)
{
    // A tag before the first item has a wrapped (huge) relative offset.
    const auto end =
        std::remove_if(entries_.begin(), entries_.end(), [nitems](const entry& e) {
            return e.offset >= nitems;
        });
    outside += uint64_t(entries_.end() - end);
    entries_.erase(end, entries_.end());
    auto before = [](const entry& a, const entry& b) {
        return a.offset != b.offset ? a.offset < b.offset : a.seq < b.seq;
    };
    if (!std::is_sorted(entries_.begin(), entries_.end(), before))
        std::sort(entries_.begin(), entries_.end(), before); // in place
    publish();
}

decode_result decode_header(const uint8_t* p, size_t n, decoded& out)
{
    out.clear();
    decode_result r;
    auto refuse = [&](header_status s) {
        out.arena_.clear();
        out.entries_.clear();
        out.tags_.clear();
        r.status = s;
        r.used = 0;
        return r;
    };
    if (n < 2 || load_host<uint16_t>(p) != header_magic) {
        r.status = header_status::no_header;
        r.used = 0;
        return r;
    }
    if (n < 3) {
        say(out.message, "tag header: message of 2 bytes ends after the magic");
        return refuse(header_status::truncated);
    }
    if (p[2] != header_version) {
        say(out.message,
            "tag header: version 0x%02x, this codec reads version 0x%02x",
            p[2],
            header_version);
        return refuse(header_status::bad_version);
    }
    if (n < header_fixed_bytes) {
        say(out.message,
            "tag header: message of %zu bytes ends inside the %zu-byte fixed header",
            n,
            header_fixed_bytes);
        return refuse(header_status::truncated);
    }
    out.first_index = load_host<uint64_t>(p + 3);
    out.announced = load_host<uint64_t>(p + 11);
    size_t at = header_fixed_bytes;
    // A tag takes at least its index and three one-byte PMTs: a count beyond
    // that is refused before anything is reserved or looped over.
    constexpr size_t min_tag_bytes = 8 + 3;
    if (out.announced > (n - at) / min_tag_bytes) {
        say(out.message,
            "tag header: announces %llu tags, but the %zu bytes after the fixed header "
            "hold at most %zu",
            (unsigned long long)out.announced,
            n - at,
            (n - at) / min_tag_bytes);
        return refuse(header_status::truncated);
    }
    walk_error err;
    for (uint64_t i = 0; i < out.announced; ++i) {
        if (n - at < 8) {
            say(out.message,
                "tag header: tag %llu: message ends inside its item index",
                (unsigned long long)i);
            return refuse(header_status::truncated);
        }
        const uint64_t index = load_host<uint64_t>(p + at);
        at += 8;
        const uint8_t* part[3];
        size_t len[3];
        static const char* const names[3] = { "key", "value", "srcid" };
        for (int k = 0; k < 3; ++k) {
            part[k] = p + at;
            len[k] = pmt_extent(p + at, n - at, &err);
            if (len[k] == 0) {
                say(out.message,
                    "tag header: tag %llu %s: %s",
                    (unsigned long long)i,
                    names[k],
                    err.what);
                return refuse(err.status);
            }
            at += len[k];
        }
        // Well formed: from here on a problem skips this tag only.
        auto skip = [&](const char* fmt, auto... args) {
            if (out.skipped++ == 0) {
                char what[200];
                std::snprintf(what, sizeof what, fmt, args...);
                say(out.message,
                    "tag header: tag %llu %s; tag skipped",
                    (unsigned long long)i,
                    what);
            }
        };
        const uint8_t* key = part[0];
        if (key[0] != pst::symbol) {
            skip("key: PMT type 0x%02x (%s), not a symbol", key[0], pst_name(key[0]));
            continue;
        }
        const size_t klen = be16(key + 1);
        if (!pmt_table::key_fits(klen)) {
            skip("key: %zu bytes, a ring's keys are 1 to %zu bytes", klen, max_key_bytes);
            continue;
        }
        const size_t key_at = out.arena_.size();
        out.arena_.append(reinterpret_cast<const char*>(key + 3), klen);
        const size_t value_at = out.arena_.size();
        converter c(out.arena_);
        const uint8_t* v = part[1];
        bool ok = c.value(v, 1);
        const char* invalid = nullptr;
        if (ok &&
            !validate_value(reinterpret_cast<const uint8_t*>(out.arena_.data()) +
                                value_at,
                            out.arena_.size() - value_at,
                            nullptr,
                            &invalid)) {
            // Cannot happen if the converter and validate_value agree; a
            // tag the ring would refuse is skipped here all the same.
            std::snprintf(c.why, sizeof c.why, "converted value invalid: %s", invalid);
            ok = false;
        }
        if (!ok) {
            out.arena_.resize(key_at);
            skip("value: %s", c.why);
            continue;
        }
        out.entries_.push_back({ index - out.first_index,
                                 i,
                                 key_at,
                                 klen,
                                 value_at,
                                 out.arena_.size() - value_at });
    }
    out.publish();
    r.status = header_status::ok;
    r.used = at;
    return r;
}

} // namespace wire
} // namespace doppler
