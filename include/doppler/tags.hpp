/* -*- c++ -*- */
/*
 * gr-doppler: tags carried with the samples: the value encoding (fixed, so any
 * language can read it without GNU Radio), tags as a producer hands them in,
 * and tags as a reader sees them (views into the shared tag area, no copies).
 * SPDX-License-Identifier: GPL-3.0-or-later
 *
 * Value encoding (little-endian, byte-packed, no alignment): one type byte,
 * then the payload.
 *
 *   0 none      (nothing)
 *   1 bool      u8 (0 or 1)
 *   2 int64     i64
 *   3 uint64    u64
 *   4 float64   f64 (IEEE 754)
 *   5 complex   f64 real, f64 imaginary
 *   6 str       u32 length, UTF-8 bytes
 *   7 bytes     u32 length, bytes
 *   8 tuple     u32 count, count values
 *   9 list      u32 count, count values
 *  10 dict      u32 count, count times (u32 key length, UTF-8 key, value)
 *
 * Containers nest at most max_container_depth (31) deep. A decoder checks every
 * length against what is left of the record before it reads (validate()).
 */
#pragma once

#include <doppler/layout.hpp>

#include <cstddef>
#include <cstdint>
#include <cstring>
#include <string>
#include <string_view>

namespace doppler {

enum class value_type : uint8_t {
    none = 0,
    boolean = 1,
    int64 = 2,
    uint64 = 3,
    float64 = 4,
    complex128 = 5,
    str = 6,
    bytes = 7,
    tuple = 8,
    list = 9,
    dict = 10,
};
/// Deepest value (the outermost value is depth 1). A container's elements
/// are one deeper than the container, so a container at this depth could
/// hold nothing valid and is refused: see max_container_depth.
constexpr int max_value_depth = 32;
/// Most tuples, lists and dicts nested inside one another: 31 (a container
/// at depth max_value_depth is refused, even an empty one). This is the
/// limit the documentation states.
constexpr int max_container_depth = max_value_depth - 1;
/// Longest tag key in bytes.
constexpr size_t max_key_bytes = 255;

// ---------------------------------------------------------------------------
// Encoding: append to a std::string (outside the hot path; the bindings
// encode, the ring only copies bytes).
// ---------------------------------------------------------------------------
namespace encode {
void none(std::string& out);
void boolean(std::string& out, bool v);
void int64(std::string& out, int64_t v);
void uint64(std::string& out, uint64_t v);
void float64(std::string& out, double v);
void complex128(std::string& out, double re, double im);
void str(std::string& out, std::string_view utf8);
void bytes(std::string& out, std::string_view b);
/// Containers: the header, then `count` values (dict: count times key() + a value).
void tuple(std::string& out, uint32_t count);
void list(std::string& out, uint32_t count);
void dict(std::string& out, uint32_t count);
void key(std::string& out, std::string_view utf8);
} // namespace encode

/// Check that [p, p + n) starts with one well-formed value; its length in
/// *used. On failure returns false and *why says what was wrong. Never reads
/// outside [p, p + n).
bool validate_value(const uint8_t* p, size_t n, size_t* used, const char** why) noexcept;

/// A validated encoded value, read in place.
class value_view
{
public:
    value_view() = default;
    /// p must hold a value that validate_value accepted.
    value_view(const uint8_t* p, size_t n) noexcept : p_(p), n_(n) { }

    value_type type() const noexcept { return value_type(p_[0]); }
    const uint8_t* data() const noexcept { return p_; }
    size_t size() const noexcept { return n_; } ///< encoded bytes

    bool as_bool() const noexcept { return p_[1] != 0; }
    int64_t as_int64() const noexcept { return load<int64_t>(1); }
    uint64_t as_uint64() const noexcept { return load<uint64_t>(1); }
    double as_float64() const noexcept { return load<double>(1); }
    double real() const noexcept { return load<double>(1); }
    double imag() const noexcept { return load<double>(9); }
    /// str or bytes payload.
    std::string_view as_str() const noexcept
    {
        return { reinterpret_cast<const char*>(p_ + 5), load<uint32_t>(1) };
    }
    /// Elements of a tuple, list or dict.
    uint32_t count() const noexcept { return load<uint32_t>(1); }

    /// Walks the elements of a tuple, list or dict in order. For a dict,
    /// key() is the entry's key.
    class iterator
    {
    public:
        bool next(value_view& out) noexcept;
        std::string_view key() const noexcept { return key_; }

    private:
        friend class value_view;
        const uint8_t* p_ = nullptr;
        const uint8_t* end_ = nullptr;
        uint32_t left_ = 0;
        bool dict_ = false;
        std::string_view key_;
    };
    iterator items() const noexcept;

private:
    template <class V>
    V load(size_t at) const noexcept
    {
        V v;
        std::memcpy(&v, p_ + at, sizeof v);
        return v;
    }
    const uint8_t* p_ = nullptr;
    size_t n_ = 0;
};

// ---------------------------------------------------------------------------
// Tags in and out
// ---------------------------------------------------------------------------

/// A tag handed to a write: `offset` relative to the first sample of the
/// write, `value` already encoded (encode::).
struct tag_in {
    uint64_t offset;
    std::string_view key;
    std::string_view value;
};

/// A tag as a reader sees it: views into the ring (or into the reader's own
/// handle for the "skipped" marker), valid until the reader's next consume.
struct tag_view {
    uint64_t index; ///< absolute sample index
    std::string_view key;
    value_view value;
};

/// Keys of the tags the ring adds itself.
constexpr const char* tag_stream_start = "stream_start"; ///< uint64 stream number
constexpr const char* tag_dropped = "dropped"; ///< uint64 samples refused before it
constexpr const char* tag_skipped = "skipped"; ///< uint64 samples this reader missed

/// Tags of one window [first, last), in index order. Iterates the raw
/// records without allocating; a record that fails validation ends the
/// walk (corrupt() then says so).
class tag_cursor
{
public:
    tag_cursor() = default;
    bool next(tag_view& out) noexcept;
    /// True if the walk stopped at a record that was not well formed.
    bool corrupt() const noexcept { return corrupt_; }

private:
    template <class T>
    friend class ring;
    const uint8_t* area_ = nullptr; // tag area base
    uint64_t bytes_ = 0; // tag area size (power of two)
    uint64_t pos_ = 0, head_ = 0; // byte positions (free-running)
    uint64_t first_ = 0, last_ = 0; // window
    const uint8_t* extra_ = nullptr; // a local record delivered first (skipped)
    bool corrupt_ = false;
};

namespace detail {
/// Parse the record at byte position pos of a tag area. Returns its length
/// (a skip record's length reaches the physical end), or 0 if it is not a
/// well-formed record. On success *rec is the header and *key / *value point
/// into the area. The value is validated (validate_value).
uint64_t parse_tag_record(const uint8_t* area,
                          uint64_t bytes,
                          uint64_t pos,
                          tag_record* rec,
                          std::string_view* key,
                          value_view* value) noexcept;
} // namespace detail

} // namespace doppler
