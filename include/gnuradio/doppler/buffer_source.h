/* -*- c++ -*- */
/*
 * gr-doppler: Buffer Source, a flowgraph reading a ring.
 * SPDX-License-Identifier: GPL-3.0-or-later
 */
#ifndef INCLUDED_DOPPLER_BUFFER_SOURCE_H
#define INCLUDED_DOPPLER_BUFFER_SOURCE_H

#include <cstdint>
#include <gnuradio/doppler/api.h>
#include <gnuradio/doppler/ring_ref.h>
#include <gnuradio/sync_block.h>
#include <string>

namespace gr {
namespace doppler {

/*!
 * \brief Emits the samples another thread or process writes into a ring.
 * \ingroup doppler
 *
 * \details
 * The ring is named (attached if it exists, created otherwise: either side
 * may start first) or handed over from this process (see ring_ref). Each
 * work() call takes what is readable, up to noutput_items, with one memcpy
 * or one VOLK conversion straight out of the ring (one contiguous window,
 * the pages are mapped twice).
 *
 * Types (\p type):
 *  - "f32": complex float ring, gr_complex out (copy).
 *  - "f64": complex double ring, narrowed to gr_complex.
 *  - "i16": with \p sc16, raw I/Q pairs out as shorts of vector length 2;
 *           otherwise gr_complex out, each of I and Q multiplied by \p scale.
 *
 * On an empty ring work() waits in 100 ms slices and returns 0 after each,
 * so a stop of the flowgraph ends it promptly.
 *
 * Streams: a ring carries one stream per producer run (a flowgraph run, a
 * script). At the end of one (its producer closed it, or died: a warning is
 * logged then) the source, by default, waits for the next and goes on: the
 * flowgraph keeps running across producer restarts, like a flowgraph
 * reading a radio that is retuned, and the first sample of each new stream
 * carries the ring's ("stream_start", n) tag. With \p end_on_stream_end it
 * returns WORK_DONE instead, which ends the flowgraph; a later run of the
 * same flowgraph reads the next stream.
 *
 * Tags: the ring's tags come out as stream tags on the matching output
 * items (ring index -> output offset), keys as symbols and values converted
 * as lib/blocks/tag_pmt.h and docs/blocks.md say, with the ring's own
 * markers: ("stream_start", n), ("dropped", count) after samples the
 * producer refused, and for an untethered reader ("skipped", count) where
 * it was lapped. An untethered reader also marks items that were
 * overwritten while they were copied out with ("overwritten", count) on the
 * first of them: their values are not to be trusted.
 *
 * Readers: a ring has a default reader and up to 15 named ones, each with
 * its own position, so several flowgraphs (or a flowgraph and a script) can
 * read one ring. \p reader empty is the default reader (tethered: the
 * producer never overwrites what it has not read, and its position is kept
 * from one run to the next). A named reader (\p reader) may be tethered
 * (holds the producer back like the default one) or not (never holds it; it
 * misses what it is too slow for, see above); it is claimed when the block
 * is made and freed when the flowgraph stops, and a new claim starts at the
 * newest sample. The default reader is always tethered: a ring read only by
 * named readers stops a "block" producer (or makes a "drop" producer drop)
 * once it is full, unless something reads the default reader too.
 *
 * On stop, a named ring is released (reader given up; the default reader's
 * position is kept for the next consumer; the name is removed if no other
 * party is attached).
 */
// Mirrors buffer_sink.h, the other direction: the same layout and make().
class DOPPLER_API buffer_source : virtual public gr::sync_block
{
public:
    typedef std::shared_ptr<buffer_source> sptr;

    /*!
     * \brief Source from a ring shared by name.
     * \param type "f32", "f64" or "i16" (the ring's sample type).
     * \param name ring name, 1-200 of [A-Za-z0-9._-], not starting with a dot.
     * \param capacity samples, used only when this block creates the ring.
     * \param sc16 type "i16" only: output raw shorts, vector length 2.
     * \param scale type "i16" without sc16: float = int16 * scale
     *        (1/32768: full scale int16 maps to [-1, 1)).
     * \param reader "" (or "default"): the default reader; else a reader
     *        name, at most 32 of [A-Za-z0-9._-], not starting with a dot.
     * \param tethered a named reader holds the producer back (true) or never
     *        does (false); the default reader is always tethered.
     * \param end_on_stream_end end the flowgraph's stream (WORK_DONE) at the
     *        end of a ring stream instead of waiting for the next one.
     * \param history a named reader starts up to this many samples before
     *        the newest one (tags included), as far as the ring's current
     *        stream reaches (untethered: as far as the oldest intact sample;
     *        tethered: never before samples the producer may reuse); 0: at
     *        the newest sample. Each run's claim starts there again.
     * \throws ::doppler::error EINVAL on a bad type or reader name,
     *         std::invalid_argument on a bad sc16 or scale (finite and
     *         non-zero, its reciprocal too) or tethered false without a
     *         reader name; ::doppler::error (EINVAL, EPROTOTYPE, EBUSY the
     *         reader is held by a live handle, EUSERS all 16 reader slots are
     *         taken, ...) from the ring.
     */
    static sptr make(const std::string& type,
                     const std::string& name,
                     uint64_t capacity = ::doppler::default_capacity,
                     bool sc16 = false,
                     float scale = 1.0f / 32768,
                     const std::string& reader = "",
                     bool tethered = true,
                     bool end_on_stream_end = false,
                     uint64_t history = 0);

    /*!
     * \brief Source from a ring this process already holds (same process).
     * \p type must match the ring's sample type (::doppler::error EPROTOTYPE).
     * The block reads as the reader that handle reads as (claim_reader).
     */
    static sptr make(const std::string& type,
                     ring_ref ring,
                     bool sc16 = false,
                     float scale = 1.0f / 32768,
                     bool end_on_stream_end = false);

    /// Samples this block's reader missed: lapped, or overwritten while
    /// copied out (untethered readers only; 0 for a tethered one).
    virtual uint64_t skipped() const = 0;
};

} // namespace doppler
} // namespace gr

#endif /* INCLUDED_DOPPLER_BUFFER_SOURCE_H */
