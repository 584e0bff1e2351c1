/* -*- c++ -*- */
/*
 * gr-doppler wire codec: a ring's tags in GNU Radio's gr-zeromq message
 * format, so that a stock ZMQ PULL/SUB Source with pass_tags=True receives
 * what we send and a stock ZMQ PUSH/PUB Sink with pass_tags=True can feed a
 * ring. Only the bytes: no sockets, no GNU Radio, no ZeroMQ.
 * SPDX-License-Identifier: GPL-3.0-or-later
 *
 * The message (gr-zeromq, lib/tag_headers.cc, GNU Radio 3.10; checked against
 * bytes sent by GNU Radio 3.10.5.1's push_sink)
 * ------------------------------------------------------------------------
 * With pass_tags on, every message is a header followed by the raw items:
 *
 *   u16 magic 0x5FF0, u8 version 0x01          host order (little-endian here)
 *   u64 offset: absolute index of the message's first item (sender's count)
 *   u64 tag count
 *   per tag: u64 absolute item index          host order
 *            PMT key     (a symbol)            pmt::serialize, big-endian
 *            PMT value
 *            PMT srcid   (#f, or the block's alias symbol)
 *   items
 *
 * The srcid is part of every tag (gr::tag_t carries one). We ignore it on the
 * way in and send #f, GNU Radio's own default, on the way out.
 *
 * PMT serialization (pmt_serial_tags.h / pmt_serialize.cc): one type byte,
 * then the payload, every number big-endian.
 *
 *   0x00 PST_TRUE            -
 *   0x01 PST_FALSE           -
 *   0x02 PST_SYMBOL          u16 length, bytes (GNU Radio refuses > 1024)
 *   0x03 PST_INT32           i32 (a long that fits 32 bits)
 *   0x04 PST_DOUBLE          f64
 *   0x05 PST_COMPLEX         f64 real, f64 imaginary
 *   0x06 PST_NULL            - (PMT_NIL: the empty list, the empty dict)
 *   0x07 PST_PAIR            car, cdr (a list is a chain of pairs ending in NULL)
 *   0x08 PST_VECTOR          u32 count, count values
 *   0x09 PST_DICT            car (a (key . value) pair), cdr (the rest: 0x09..., 0x06)
 *   0x0a PST_UNIFORM_VECTOR  u8 subtype, u32 count, u8 npad, npad bytes, elements
 *                            subtypes 0x00 u8 0x01 s8 0x02 u16 0x03 s16 0x04 u32
 *                            0x05 s32 0x06 u64 0x07 s64 0x08 f32 0x09 f64
 *                            0x0a c32 0x0b c64
 *   0x0b PST_UINT64          u64
 *   0x0c PST_TUPLE           u32 count, count values
 *   0x0d PST_INT64           i64 (a long that does not fit 32 bits)
 *   0x3b PST_COMMENT         not a value (GNU Radio's reader refuses it too)
 *
 * Value mapping
 * ------------------------------------------------------------------------
 * Which ring value (include/doppler/tags.hpp) each kind of PMT becomes and
 * back is the table the blocks follow too: lib/common/pmt_table.hpp
 * (for users: docs/blocks.md, "The value mapping"). wire.cc only tells the
 * kind from the type byte (PST_TRUE/PST_FALSE are bool, PST_INT32/PST_INT64
 * an integer, PST_PAIR a pair chain, a uniform vector by its subtype) and
 * reads or writes the bytes. What the wire adds to the table:
 *   int64                        sent as PST_INT32 if it fits 32 bits, else
 *                                PST_INT64 (as pmt::serialize chooses)
 *   str, dict key                over 1024 bytes the tag is not sent (GNU
 *                                Radio refuses longer symbols)
 *   a received value             whose ring encoding exceeds max_value_bytes:
 *                                the tag is skipped
 *   tag key                      PST_SYMBOL; srcid PST_FALSE
 *
 * So rx_time from gr-uhd, a tuple (uint64 full seconds, double fractional
 * seconds), is a ring tuple (uint64, float64) and goes back out as the same
 * PMT tuple.
 *
 * What happens to a tag the ring cannot carry
 * ------------------------------------------------------------------------
 * Two kinds of trouble, kept apart:
 *  - A malformed header: the bytes cannot be walked (a length or count runs
 *    past the end of the message, an unknown PMT type code or uniform vector
 *    subtype, a wrong version). The whole message is refused: where the
 *    items start is not known, so nothing of it can be trusted.
 *  - A well-formed tag the ring cannot carry: the key is not a symbol of 1
 *    to max_key_bytes bytes, a dict key is not a symbol, a dict entry
 *    is not a (key . value) pair, nesting deeper than max_value_depth, a
 *    value whose ring encoding would exceed max_value_bytes. Its extent is
 *    known (every PMT is walked first, without recursion), so that tag alone
 *    is skipped and counted; the other tags and the items go on.
 * The same holds when sending: a tag whose value GNU Radio could not read
 * (a string over 1024 bytes) or that is not a valid ring value is skipped
 * and counted, never sent.
 *
 * Item offsets
 * ------------------------------------------------------------------------
 * A GNU Radio source uses the header's offset only to make each tag
 * relative to the message's first item, then puts the tag at that item's
 * place in its own output count (base_impl.cc: tag.offset -= offset, then
 * += its nitems_written at the item). The sender's numbering never reaches
 * the receiver's flowgraph: messages are simply concatenated, a gap between
 * two messages' offsets is not noticed, and the first message need not start
 * at 0. A tag whose index is before the message's first item or past its
 * last item is dropped silently. decoded::keep_within does the same for us.
 */
#pragma once

#include <doppler/tags.hpp>

#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

namespace doppler {
namespace wire {

constexpr uint16_t header_magic = 0x5FF0;
constexpr uint8_t header_version = 0x01;
/// magic, version, offset, tag count.
constexpr size_t header_fixed_bytes = 2 + 1 + 8 + 8;
/// GNU Radio's pmt::deserialize refuses longer symbols ("very long symbol").
constexpr size_t max_symbol_bytes = 1024;
/// Largest ring encoding of one received value: the ring refuses a tag record
/// over half its tag area, which is at most max_tag_bytes.
constexpr size_t max_value_bytes = size_t(max_tag_bytes / 2);

/// PMT serialization type codes (GNU Radio's pmt_serial_tags.h).
namespace pst {
constexpr uint8_t true_ = 0x00;
constexpr uint8_t false_ = 0x01;
constexpr uint8_t symbol = 0x02;
constexpr uint8_t int32 = 0x03;
constexpr uint8_t float64 = 0x04;
constexpr uint8_t complex128 = 0x05;
constexpr uint8_t null = 0x06;
constexpr uint8_t pair = 0x07;
constexpr uint8_t vector = 0x08;
constexpr uint8_t dict = 0x09;
constexpr uint8_t uniform_vector = 0x0a;
constexpr uint8_t uint64 = 0x0b;
constexpr uint8_t tuple = 0x0c;
constexpr uint8_t int64 = 0x0d;
constexpr uint8_t comment = 0x3b;
/// Uniform vector subtypes (the byte after PST_UNIFORM_VECTOR).
constexpr uint8_t uvi_u8 = 0x00;
constexpr uint8_t uvi_s8 = 0x01;
constexpr uint8_t uvi_u16 = 0x02;
constexpr uint8_t uvi_s16 = 0x03;
constexpr uint8_t uvi_u32 = 0x04;
constexpr uint8_t uvi_s32 = 0x05;
constexpr uint8_t uvi_u64 = 0x06;
constexpr uint8_t uvi_s64 = 0x07;
constexpr uint8_t uvi_f32 = 0x08;
constexpr uint8_t uvi_f64 = 0x09;
constexpr uint8_t uvi_c32 = 0x0a;
constexpr uint8_t uvi_c64 = 0x0b;
} // namespace pst

// ---------------------------------------------------------------------------
// Sending
// ---------------------------------------------------------------------------

/// A tag to send: absolute item index, key, value in the ring encoding.
struct tag {
    uint64_t index = 0;
    std::string_view key;
    std::string_view value;

    tag() = default;
    tag(uint64_t i, std::string_view k, std::string_view v) : index(i), key(k), value(v)
    {
    }
    /// A tag as a ring reader sees it.
    explicit tag(const tag_view& t)
        : index(t.index)
        , key(t.key)
        , value(reinterpret_cast<const char*>(t.value.data()), t.value.size())
    {
    }
};

struct encode_stats {
    uint64_t written = 0; ///< tags in the header
    uint64_t skipped = 0; ///< tags left out
    /// Why the first skipped tag was left out (a static string), or nullptr.
    const char* first_skip = nullptr;
};

/// Append the header for a message whose first item has absolute index
/// first_index, with these tags, to out; the caller appends the items after
/// it. The tags go in the order given (a GNU Radio source does not need them
/// sorted). Returns the bytes appended. Nothing is allocated once out has
/// the capacity. A tag that cannot be sent (encode_stats::first_skip) is
/// left out and counted. A GNU Radio source with pass_tags on needs a header
/// on every message, also one without tags (it throws on a message without
/// the magic), and a whole number of items after it.
size_t encode_header(std::string& out,
                     uint64_t first_index,
                     const tag* tags,
                     size_t ntags,
                     encode_stats* stats = nullptr);
inline size_t encode_header(std::string& out,
                            uint64_t first_index,
                            const std::vector<tag>& tags,
                            encode_stats* stats = nullptr)
{
    return encode_header(out, first_index, tags.data(), tags.size(), stats);
}

// ---------------------------------------------------------------------------
// Receiving
// ---------------------------------------------------------------------------

enum class header_status : uint8_t {
    ok, ///< a header of decode_result::used bytes; the items follow it
    /// The message does not start with the magic: it is all items (the peer
    /// has pass_tags off). A GNU Radio source with pass_tags on would
    /// refuse such a message; note that raw items can begin with the bytes
    /// F0 5F too, so a peer known to send tags should be configured as such.
    no_header,
    truncated, ///< a field, length or count runs past the end of the message
    bad_version, ///< the magic, then a version other than 0x01
    malformed, ///< an unknown PMT type code or uniform vector subtype
};
const char* to_string(header_status s) noexcept;

struct decode_result {
    header_status status = header_status::malformed;
    /// Header bytes: the items are [p + used, p + n). 0 for no_header.
    size_t used = 0;
    /// True if the items can be used (ok or no_header).
    bool usable() const noexcept
    {
        return status == header_status::ok || status == header_status::no_header;
    }
};

/// What decode_header found: the header's offset and the tags it carried,
/// ready for ring::write (offsets relative to the message's first item). It
/// owns the converted keys and values (views into them stay valid until the
/// next decode_header or keep_within on it). Reuse one: its buffers keep
/// their capacity, so decoding allocates nothing once warm.
class decoded
{
public:
    uint64_t first_index = 0; ///< the header's offset (sender's item count)
    uint64_t announced = 0; ///< the header's tag count
    uint64_t skipped = 0; ///< well-formed tags not carried (see the top of this file)
    uint64_t outside = 0; ///< tags dropped by keep_within
    /// What was wrong: the error for a refused message, else why the first
    /// skipped tag was skipped, else empty. Names the tag and the part, e.g.
    /// "tag 3 key: PMT type 0x03 (int32), not a symbol; tag skipped".
    std::string message;

    /// Carried tags, in header order (after keep_within: by offset).
    const tag_in* tags() const noexcept { return tags_.data(); }
    size_t size() const noexcept { return tags_.size(); }
    const tag_in& operator[](size_t i) const noexcept { return tags_[i]; }
    /// Absolute index of tag i in the sender's count.
    uint64_t index(size_t i) const noexcept { return first_index + tags_[i].offset; }

    /// Keep the tags on the message's nitems items, in offset order (ties
    /// in header order), as ring::write requires and as a GNU Radio source
    /// does; count the others in `outside`. Sorts in place (no allocation).
    void keep_within(uint64_t nitems);

    void clear() noexcept;

private:
    friend decode_result decode_header(const uint8_t* p, size_t n, decoded& out);
    struct entry {
        uint64_t offset; // relative to first_index (wrapping)
        uint64_t seq; // position in the header (ties keep header order)
        size_t key_at, key_len, value_at, value_len; // in arena_
    };
    void publish(); // tags_ from entries_ (arena_ no longer grows)
    std::string arena_; // keys and ring-encoded values
    std::vector<entry> entries_;
    std::vector<tag_in> tags_;
};

/// Parse the gr-zeromq header at the start of the message [p, p + n) and
/// convert its tags into `out`. Every length and count is checked against
/// what is left before it is used; nothing is read outside [p, p + n), a
/// tag count larger than the bytes can hold is refused before anything is
/// reserved, nesting is bounded without recursion on the raw bytes. On a
/// refusal out.message says what was wrong and out has no tags. Throws only
/// std::bad_alloc.
decode_result decode_header(const uint8_t* p, size_t n, decoded& out);

} // namespace wire
} // namespace doppler
