/* -*- c++ -*- */
/*
 * gr-doppler: Buffer Sink, a flowgraph writing into a ring.
 * SPDX-License-Identifier: GPL-3.0-or-later
 */
#ifndef INCLUDED_DOPPLER_BUFFER_SINK_H
#define INCLUDED_DOPPLER_BUFFER_SINK_H

#include <cstdint>
#include <gnuradio/doppler/api.h>
#include <gnuradio/doppler/ring_ref.h>
#include <gnuradio/sync_block.h>
#include <string>

namespace gr {
namespace doppler {

/*!
 * \brief Writes its input stream into a doppler ring.
 * \ingroup doppler
 *
 * \details
 * The ring is named (shared with another process through
 * /dev/shm/doppler.<name>: attached if it exists, created otherwise) or handed
 * over from this process (a doppler.buffer object from Python, see ring_ref).
 * Each work() call is one memcpy or one VOLK conversion straight into the
 * ring (its pages are mapped twice, so the free space is always contiguous):
 * the copy path.
 *
 * Zero-copy path: when the ring's samples are the port's items ("f32", or
 * "i16" with \p sc16), the policy is "block" and the block feeding the sink
 * writes into a plain GNU Radio buffer read by the sink alone, the sink
 * makes the ring's own memory that block's output buffer when the flowgraph
 * starts: the upstream block writes straight into shared memory, is held back
 * by the ring's tethered readers, and publishes from its own thread; work()
 * only consumes. Every other
 * case runs the copy path. zero_copy() says which path the current (or last)
 * run took, and start() logs it in one info line with the reason; make it
 * with \p zero_copy false to force the copy path. See lib/blocks/ring_buffer.h.
 *
 * Types (\p type):
 *  - "f32": gr_complex in, stored as complex float (f32).
 *  - "f64": gr_complex in, widened to complex double (f64).
 *  - "i16": with \p sc16, a short stream of vector length 2 (raw I/Q pairs),
 *           copied as is; otherwise gr_complex in, each of I and Q multiplied
 *           by \p scale, rounded and saturated to int16.
 *
 * Overflow (\p policy):
 *  - "drop": never stalls the flowgraph. Each chunk (at most one ring
 *    capacity) is written whole or not at all; refused samples are added to
 *    the ring's dropped counter and reported through the block's logger at
 *    most once a second, with totals.
 *  - "block": lossless. work() waits for space in 100 ms slices (so a stop of
 *    the flowgraph is noticed promptly); with no consumer yet, the ring
 *    fills and then waits for one.
 *
 * Stream tags: the tags on the items written go into the ring with them,
 * each at the ring index of its item (tags index samples, so they survive
 * the f64 and i16 conversions), with keys and values converted as
 * lib/blocks/tag_pmt.h and docs/blocks.md say (rx_time stays a tuple of
 * uint64 seconds and a double fraction). A tag whose key or value a ring
 * cannot carry is skipped, counted in tags_unencodable() and logged once per
 * key. With "drop", the tags of a refused chunk are lost with its samples:
 * counted in tags_refused() and logged once per key; the ring itself marks
 * the gap with a ("dropped", count) tag on the next sample written.
 *
 * When the block stops (tb.stop(), or its input ended and the flowgraph
 * finishes) it ends its stream in the ring: a consumer drains what remains
 * and then sees end of stream. A named ring is also released (producer role
 * given up; the name removed if no other party, e.g. a consumer, is
 * attached); a handed-over ring is only closed, its owner keeps it.
 *
 * Running the flowgraph again (tb.run() twice, or start() after
 * stop()/wait()): a sink made with a ring name takes the producer role again
 * with a new handle on the ring under that name and starts the next stream
 * in it (a consumer that stays attached reads on, stream after stream; its
 * first sample carries ("stream_start", n)). A stream left open by a run
 * that was killed (SIGKILL) is ended as broken where it stopped, never
 * continued. A sink given a ring object whose stream ended refuses to start
 * (std::invalid_argument from start(): that handle's end of stream is
 * final).
 */
class DOPPLER_API buffer_sink : virtual public gr::sync_block
{
public:
    typedef std::shared_ptr<buffer_sink> sptr;

    /*!
     * \brief Sink into a ring shared by name.
     * \param type "f32", "f64" or "i16" (the ring's sample type).
     * \param name ring name, 1-200 of [A-Za-z0-9._-], not starting with a dot.
     * \param capacity samples, used only when this block creates the ring
     *        (rounded up to a power of two and the page minimum).
     * \param policy "drop" or "block" (see above).
     * \param sc16 type "i16" only: input is raw shorts, vector length 2.
     * \param scale type "i16" without sc16: int16 = round(float * scale),
     *        saturated (32767: full scale +-1.0 maps to +-32767).
     * \param zero_copy true: let the upstream block write into the ring when
     *        the run allows it (see above); false: always copy.
     * \throws ::doppler::error EINVAL on a bad type or policy (the message
     *         names the parameter), std::invalid_argument on a bad sc16 or
     *         scale (a scale must be finite and non-zero, its reciprocal too);
     *         ::doppler::error (errno EINVAL bad name, EPROTOTYPE ring of
     *         another type, EBUSY another live producer, ...) from the ring.
     */
    static sptr make(const std::string& type,
                     const std::string& name,
                     uint64_t capacity = ::doppler::default_capacity,
                     const std::string& policy = "drop",
                     bool sc16 = false,
                     float scale = 32767.0f,
                     bool zero_copy = true);

    /*!
     * \brief Sink into a ring this process already holds (same process).
     * \p type must match the ring's sample type (::doppler::error EPROTOTYPE
     * otherwise); the other parameters are as above.
     */
    static sptr make(const std::string& type,
                     ring_ref ring,
                     const std::string& policy = "drop",
                     bool sc16 = false,
                     float scale = 32767.0f,
                     bool zero_copy = true);

    /// Samples the ring has refused (ring-wide counter, every producer).
    virtual uint64_t dropped() const = 0;
    /// Samples ever published into the ring (ring-wide write index).
    virtual uint64_t written() const = 0;
    /// Tags of the input that a ring cannot carry (key or value without a
    /// ring encoding): skipped, counted here, logged once per key.
    virtual uint64_t tags_unencodable() const = 0;
    /// Tags lost with the chunks the "drop" policy refused (their samples
    /// were never written), counted here, logged once per key.
    virtual uint64_t tags_refused() const = 0;
    /// True if the current run (or the last one, once stopped) lets the
    /// upstream block write straight into the ring; false before the first
    /// run and for runs on the copy path.
    virtual bool zero_copy() const = 0;
};

} // namespace doppler
} // namespace gr

#endif /* INCLUDED_DOPPLER_BUFFER_SINK_H */
