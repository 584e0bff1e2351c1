/* -*- c++ -*- */
/*
 * Buffer Source: ring -> GNU Radio output buffer, one memcpy or one VOLK
 * conversion per work() call, read straight out of the ring's contiguous
 * window (mirror mapping).
 * SPDX-License-Identifier: GPL-3.0-or-later
 */
#include "buffer_source_impl.h"
#include "block_ring.h"

#include <algorithm>
#include <cstring>
#include <gnuradio/io_signature.h>
#include <stdexcept>
#include <volk/volk.h>

namespace gr {
namespace doppler {

using ::doppler::status;

buffer_source::sptr buffer_source::make(const std::string& type,
                                        const std::string& name,
                                        uint64_t capacity,
                                        bool sc16,
                                        float scale)
{
    // Validate every argument before a /dev/shm object is touched.
    const auto t = detail::parse_type(type, sc16);
    detail::check_scale(scale);
    return gnuradio::make_block_sptr<buffer_source_impl>(
        detail::open_named(t, name, capacity), name, capacity, sc16, scale);
}

buffer_source::sptr
buffer_source::make(const std::string& type, ring_ref ring, bool sc16, float scale)
{
    const auto t = detail::parse_type(type, sc16);
    detail::check_scale(scale);
    detail::check_type(t, ring);
    return gnuradio::make_block_sptr<buffer_source_impl>(
        std::move(ring), "", 0, sc16, scale);
}

buffer_source_impl::buffer_source_impl(
    ring_ref ring, const std::string& name, uint64_t capacity, bool sc16, float scale)
    : gr::sync_block("buffer_source",
                     gr::io_signature::make(0, 0, 0),
                     gr::io_signature::make(1, 1, detail::item_size(sc16)))
    , d_ring(std::move(ring))
    , d_name(name)
    , d_capacity(capacity)
    , d_owned(!name.empty())
    , d_sc16(sc16)
    , d_divisor(1.0f / scale)
{
    detail::claim(d_ring, false);
}

void buffer_source_impl::load(void* out, const ::doppler::f32* src, uint64_t n) const
{
    std::memcpy(out, static_cast<const void*>(src), n * sizeof(*src));
}

void buffer_source_impl::load(void* out, const ::doppler::f64* src, uint64_t n) const
{
    // Interleaved I/Q doubles narrowed one by one: 2n values.
    volk_64f_convert_32f(
        static_cast<float*>(out), reinterpret_cast<const double*>(src), unsigned(2 * n));
}

void buffer_source_impl::load(void* out, const ::doppler::i16* src, uint64_t n) const
{
    if (d_sc16)
        std::memcpy(out, static_cast<const void*>(src), n * sizeof(*src));
    else // x * scale, as VOLK spells it: x / (1 / scale)
        volk_16i_s32f_convert_32f(static_cast<float*>(out),
                                  reinterpret_cast<const int16_t*>(src),
                                  d_divisor,
                                  unsigned(2 * n));
}

template <class T>
int buffer_source_impl::pull(::doppler::ring<T>& r, void* out, uint64_t n)
{
    uint64_t readable = r.readable();
    if (readable == 0) {
        // Empty: wait one slice for a sample, then return so the scheduler
        // can notice a stop (0 items: it calls again at once).
        const auto v = r.wait(1, detail::work_slice_ns);
        switch (v.why) {
        case status::ok:
            break;
        case status::timeout:
            return 0;
        case status::end_of_stream: // closed by the producer and drained
            return WORK_DONE;
        case status::broken:
            d_logger->error("{}: the producer died without closing it; ending the stream",
                            detail::label(d_ring));
            return WORK_DONE;
        case status::corrupt:
            d_logger->error("{}; ending the stream", r.corruption());
            return WORK_DONE;
        default: // busy / invalid: cannot happen once the consumer role is ours
            d_logger->error("{}: wait failed ({}); ending the stream",
                            detail::label(d_ring),
                            ::doppler::status_name(v.why));
            return WORK_DONE;
        }
        readable = r.readable();
    }
    n = std::min(n, readable);
    // wait(n) on samples already known readable is the fast path: no park,
    // just the pointer to one contiguous window of n samples.
    load(out, r.wait(n).data, n);
    (void)r.consume(n); // the n samples wait(n) just returned: cannot fail
    return int(n);
}

int buffer_source_impl::work(int noutput_items,
                             gr_vector_const_void_star&,
                             gr_vector_void_star& output_items)
{
    void* out = output_items[0];
    return std::visit(
        [&](const auto& r) { return pull(*r, out, uint64_t(noutput_items)); }, d_ring);
}

bool buffer_source_impl::check_topology(int, int)
{
    // Called from tb.start() in the caller's thread before any block thread
    // runs (errors reach start()): prepare this run. The previous run's
    // stop() gave up the consumer role; take it again, continuing at the
    // first unread sample. A named ring whose stream ended (closed and
    // drained) is opened again by name, as the first run did, so a producer
    // that made a new ring under the name is found.
    if (d_owned &&
        std::visit([](const auto& r) { return r->closed() && r->available() == 0; },
                   d_ring))
        d_ring = detail::open_named(
            std::visit([](const auto& r) { return r->seg()->type(); }, d_ring),
            d_name,
            d_capacity);
    detail::claim(d_ring, false);
    return true;
}

bool buffer_source_impl::stop()
{
    // Runs in this block's thread once work() has returned for good. A ring
    // opened by name is released: the consumer role is free for the next
    // consumer (which continues from the first unread sample) and the name
    // removed if this block created it. A handed-over ring stays its owner's.
    if (d_owned)
        std::visit([](const auto& r) { r->release(); }, d_ring);
    return true;
}

} // namespace doppler
} // namespace gr
