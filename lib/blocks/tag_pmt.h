/* -*- c++ -*- */
/*
 * gr-doppler: GNU Radio stream tags <-> ring tags. The one place where a PMT
 * value becomes the ring's value encoding (include/doppler/tags.hpp) and back.
 * SPDX-License-Identifier: GPL-3.0-or-later
 *
 * PMT to ring (Buffer Sink):
 *
 *   PMT                                   ring value
 *   PMT_NIL                               none
 *   #t / #f                               bool
 *   integer (from_long)                   int64
 *   uint64 (from_uint64)                  uint64
 *   real (from_double)                    float64
 *   complex                               complex
 *   symbol (GNU Radio's strings)          str
 *   u8vector                              bytes
 *   s8/s16/s32/s64/u16/u32 vector         list of int64
 *   u64vector                             list of uint64
 *   f32/f64 vector                        list of float64
 *   c32/c64 vector                        list of complex
 *   tuple                                 tuple (so rx_time, a tuple of uint64
 *                                         seconds and a double fraction, stays
 *                                         one)
 *   vector                                list
 *   dict with symbol keys                 dict (str keys, in the dict's order)
 *
 * A blob is a u8vector in PMT: bytes. Anything else (a pair or a list that
 * is not a dict, a dict with a key that is not a symbol, an `any`, values
 * nested more than dp::max_value_depth deep) has no encoding: the tag
 * is skipped. So is a tag whose key is not a symbol of 1 to
 * dp::max_key_bytes bytes.
 *
 * Ring to PMT (Buffer Source): the reverse of each row, with a list becoming
 * a PMT vector (a uniform vector sent through a ring comes back as a vector
 * of numbers) and str a symbol; a tuple of any size is a PMT tuple.
 */
#ifndef INCLUDED_DOPPLER_TAG_PMT_H
#define INCLUDED_DOPPLER_TAG_PMT_H

#include "dp.h"

#include <doppler/tags.hpp>
#include <gnuradio/tags.h>
#include <pmt/pmt.h>

#include <cstddef>
#include <cstdint>
#include <string>
#include <vector>

namespace gr {
namespace doppler {
namespace detail {

/// Append the ring encoding of `v` to `out`. False if `v`, or a value inside
/// it, has no encoding (see the table above); `out` then holds a partial
/// value the caller must discard.
bool encode_pmt(const pmt::pmt_t& v, std::string& out, int depth = 1);

/// The PMT of a ring value (one a reader's tag cursor handed out: validated).
pmt::pmt_t decode_pmt(const dp::value_view& v);

/// The GNU Radio tags of one chunk of samples in the form ring<T>::commit()
/// takes. Its buffers are kept from one chunk to the next (clear() keeps
/// their capacity), so a block allocates only while tags grow beyond what it
/// has seen before.
class ring_tags
{
public:
    /// Encode every tag of `tags` (absolute offsets in [first, first + n)),
    /// offsets made relative to `first`. `skip(tag)` is called for each tag
    /// whose key or value has no encoding; it is left out.
    template <class Skip>
    void pack(const std::vector<gr::tag_t>& tags, uint64_t first, Skip&& skip)
    {
        d_bytes.clear();
        d_spans.clear();
        d_out.clear();
        for (const gr::tag_t& t : tags) {
            const size_t key_at = d_bytes.size();
            if (!encode_key(t.key, d_bytes)) {
                d_bytes.resize(key_at);
                skip(t);
                continue;
            }
            const size_t value_at = d_bytes.size();
            if (!encode_pmt(t.value, d_bytes)) {
                d_bytes.resize(key_at);
                skip(t);
                continue;
            }
            d_spans.push_back({ t.offset - first, key_at, value_at, d_bytes.size() });
        }
        // Views only now: d_bytes no longer moves.
        for (const span& s : d_spans)
            d_out.push_back(
                { s.offset,
                  std::string_view(d_bytes.data() + s.key_at, s.value_at - s.key_at),
                  std::string_view(d_bytes.data() + s.value_at, s.end - s.value_at) });
        sort_by_offset();
    }

    const dp::tag_in* data() const noexcept { return d_out.data(); }
    size_t size() const noexcept { return d_out.size(); }

    /// The key's bytes if it is a symbol of 1 to max_key_bytes bytes.
    static bool encode_key(const pmt::pmt_t& key, std::string& out);

private:
    struct span {
        uint64_t offset;
        size_t key_at, value_at, end;
    };
    // GNU Radio hands tags in offset order already; a stable insertion sort
    // keeps it (and the order of tags on one sample) without allocating.
    void sort_by_offset() noexcept;

    std::string d_bytes; // keys and encoded values, back to back
    std::vector<span> d_spans;
    std::vector<dp::tag_in> d_out;
};

} // namespace detail
} // namespace doppler
} // namespace gr

#endif /* INCLUDED_DOPPLER_TAG_PMT_H */
