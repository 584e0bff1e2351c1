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
 * so a stop of the flowgraph ends it promptly. When the producer has closed
 * the ring (or died) and everything is drained it returns WORK_DONE, which
 * ends the flowgraph. On stop, a named ring is released (consumer role given
 * up for the next consumer; the name removed if this block created it).
 */
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
     * \throws ::doppler::error EINVAL on a bad type, std::invalid_argument
     *         on a bad sc16 or scale (finite and non-zero, its reciprocal too);
     *         ::doppler::error (EINVAL, EPROTOTYPE, EBUSY another live
     *         consumer, ...) from the ring.
     */
    static sptr make(const std::string& type,
                     const std::string& name,
                     uint64_t capacity = ::doppler::default_capacity,
                     bool sc16 = false,
                     float scale = 1.0f / 32768);

    /*!
     * \brief Source from a ring this process already holds (same process).
     * \p type must match the ring's sample type (::doppler::error EPROTOTYPE).
     */
    static sptr make(const std::string& type,
                     ring_ref ring,
                     bool sc16 = false,
                     float scale = 1.0f / 32768);
};

} // namespace doppler
} // namespace gr

#endif /* INCLUDED_DOPPLER_BUFFER_SOURCE_H */
