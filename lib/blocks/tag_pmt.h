/* -*- c++ -*- */
/*
 * gr-doppler: GNU Radio stream tags <-> ring tags. A PMT value becomes the
 * ring's value encoding (include/doppler/tags.hpp) and back as the one table
 * lib/common/pmt_table.hpp gives, which the bridge's wire codec follows too
 * (documented for users in docs/blocks.md, "The value mapping"). This file
 * only tells which kind of PMT a value is, by PMT's own predicates, and
 * builds or reads the PMT objects.
 * SPDX-License-Identifier: GPL-3.0-or-later
 */
#ifndef INCLUDED_DOPPLER_TAG_PMT_H
#define INCLUDED_DOPPLER_TAG_PMT_H

#include "dp.h"
#include "pmt_table.hpp"

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

namespace pmt_table = dp::pmt_table;

/// Which row of the table `v` is (pmt_table::kind::other: not carried).
pmt_table::kind kind_of(const pmt::pmt_t& v);

/// Append the ring encoding of `v` to `out`. False if `v`, or a value inside
/// it, has no encoding (pmt_table.hpp); `out` then holds a partial
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
