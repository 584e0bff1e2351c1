/* -*- c++ -*- */
/*
 * Buffer Source: ring -> GNU Radio output buffer, one memcpy or one VOLK
 * conversion per work() call, read straight out of the ring's contiguous
 * window (mirror mapping), with the window's tags as stream tags.
 * SPDX-License-Identifier: GPL-3.0-or-later
 */
#include "buffer_source_impl.h"
#include "block_ring.h"
#include "tag_pmt.h"

#include <algorithm>
#include <cstring>
#include <gnuradio/block_detail.h>
#include <gnuradio/buffer.h>
#include <gnuradio/io_signature.h>
#include <stdexcept>
#include <volk/volk.h>

namespace gr {
namespace doppler {

using dp::status;

namespace {

/// The reader a block reads as: "" for the default reader ("" or
/// "default"), else a checked reader name. Tethered must stay true for the
/// default reader.
std::string reader_of(const std::string& reader, bool tethered)
{
    const bool is_default = reader.empty() || reader == "default";
    if (!is_default)
        dp::check_reader_name(reader, "Reader (reader=)");
    if (is_default && !tethered)
        throw std::invalid_argument(
            "Tethered (tethered=) False needs a Reader (reader=) name: the default "
            "reader is always tethered (the producer waits for it); give the block a "
            "Reader name to read untethered");
    return is_default ? std::string() : reader;
}

} // namespace

// Mirrors buffer_sink_impl.cc's two make()s: every argument parsed, then the
// block made over a named ring (here) or a handed-over one (below).
buffer_source::sptr buffer_source::make(const std::string& type,
                                        const std::string& name,
                                        uint64_t capacity,
                                        bool sc16,
                                        float scale,
                                        const std::string& reader,
                                        bool tethered,
                                        bool end_on_stream_end,
                                        uint64_t history)
{
    // Validate every argument before a /dev/shm object is touched.
    const auto t = detail::parse_samples(type, sc16, scale);
    const std::string r = reader_of(reader, tethered);
    if (r.empty() && history != 0)
        throw std::invalid_argument(
            "History (history=) needs a Reader (reader=) name: the default reader "
            "keeps its own position from run to run; give the block a Reader name "
            "to start in the past");
    return gnuradio::make_block_sptr<buffer_source_impl>(
        detail::open_named(t, name, capacity),
        name,
        capacity,
        sc16,
        scale,
        r,
        tethered,
        end_on_stream_end,
        history);
}

buffer_source::sptr buffer_source::make(const std::string& type,
                                        ring_ref ring,
                                        bool sc16,
                                        float scale,
                                        bool end_on_stream_end)
{
    const auto t = detail::parse_samples(type, sc16, scale);
    detail::check_type(t, ring);
    return gnuradio::make_block_sptr<buffer_source_impl>(
        std::move(ring), "", 0, sc16, scale, "", true, end_on_stream_end);
}

buffer_source_impl::buffer_source_impl(ring_ref ring,
                                       const std::string& name,
                                       uint64_t capacity,
                                       bool sc16,
                                       float scale,
                                       const std::string& reader,
                                       bool tethered,
                                       bool end_on_stream_end,
                                       uint64_t history)
    : gr::sync_block("buffer_source",
                     gr::io_signature::make(0, 0, 0),
                     gr::io_signature::make(1, 1, detail::item_size(sc16)))
    , d_ring(std::move(ring))
    , d_name(name)
    , d_capacity(capacity)
    , d_owned(!name.empty())
    , d_sc16(sc16)
    , d_divisor(1.0f / scale)
    , d_reader(reader)
    , d_tethered(tethered)
    , d_history(history)
    , d_end_on_stream_end(end_on_stream_end)
{
    // The ring's tags are this block's output tags; none come in.
    set_tag_propagation_policy(TPP_DONT);
    claim_reader();
}

void buffer_source_impl::claim_reader()
{
    if (!d_owned) {
        // A handed-over ring: its handle reads as whatever reader its owner
        // attached it with.
        detail::claim(d_ring, false);
        return;
    }
    // The default reader ("") or the named one. Errors (EBUSY, EUSERS) are
    // worded for the block's user: they name the Reader and Ring Name
    // parameters.
    std::visit(
        [this](const auto& r) {
            r->claim_reader(d_reader,
                            d_tethered,
                            dp::default_reader_grace_ns,
                            dp::audience::block,
                            d_history);
        },
        d_ring);
}

void buffer_source_impl::load(void* out, const dp::f32* src, uint64_t n) const
{
    std::memcpy(out, static_cast<const void*>(src), n * sizeof(*src));
}

void buffer_source_impl::load(void* out, const dp::f64* src, uint64_t n) const
{
    // Interleaved I/Q doubles narrowed one by one: 2n values.
    volk_64f_convert_32f(
        static_cast<float*>(out), reinterpret_cast<const double*>(src), unsigned(2 * n));
}

void buffer_source_impl::load(void* out, const dp::i16* src, uint64_t n) const
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
int buffer_source_impl::pull(dp::ring<T>& r, void* out, uint64_t n)
{
    uint64_t available = r.poll_available();
    if (available == 0) {
        // Empty: wait for a sample until the flowgraph stops, nothing reads
        // this block any more (work() then ends it), or the idle ring is to
        // be reported; then return (0 items: GNU Radio calls again).
        const auto stop = [this] {
            return detail::stop_requested() || downstream_done();
        };
        const auto v = r.wait(1, d_idle.wait_ns(), stop);
        if (v.why != status::timeout && v.why != status::interrupted)
            d_idle.progress();
        switch (v.why) {
        case status::ok:
            break;
        case status::interrupted:
            return 0;
        case status::timeout:
            // The producer has not started, or the Ring Name differs from
            // the one it writes: say which, once, after a while.
            if (d_idle.waited())
                d_logger->info("{}", detail::idle_message(d_ring));
            return 0;
        case status::end_of_stream: // closed by its producer and drained
        case status::broken: // its producer died without closing it
            return stream_ended(r, v.why);
        case status::corrupt:
            d_logger->error("{}; ending the stream", r.corruption());
            return WORK_DONE;
        default: // busy / invalid: cannot happen once the reader is ours
            d_logger->error("{}: wait failed ({}); ending the stream",
                            detail::label(d_ring),
                            dp::status_name(v.why));
            return WORK_DONE;
        }
        available = r.poll_available();
    }
    n = std::min(n, available);
    // wait(n) on samples already known readable is the fast path: no park,
    // just the pointer to one contiguous window of n samples.
    load(out, r.wait(n).data, n);
    emit_tags(r);
    // An untethered reader learns only now whether the producer overwrote
    // part of the window while it was copied: those items are out already,
    // so they are marked (the first `over` items of the window).
    const int64_t over = r.consume_checked(n); // cannot fail: n was just waited for
    if (over > 0)
        add_item_tag(0,
                     nitems_written(0),
                     pmt::intern("overwritten"),
                     pmt::from_uint64(uint64_t(over)),
                     alias_pmt());
    return int(n);
}

template <class T>
int buffer_source_impl::stream_ended(dp::ring<T>& r, status why)
{
    const uint64_t s = r.stream();
    if (d_ended_stream != 0 && s == d_ended_stream) {
        // The end that ended the previous run, told again to this run's
        // handle: the next wait moves on to the next stream.
        d_ended_stream = 0;
        return 0;
    }
    const bool broken = why == status::broken;
    if (d_end_on_stream_end) {
        if (broken)
            d_logger->error(
                "{}: the producer of stream {} died without closing it; ending the "
                "stream (End with the stream is set)",
                detail::label(d_ring),
                s);
        d_ended_stream = s;
        return WORK_DONE;
    }
    if (broken)
        d_logger->warn("{}: the producer of stream {} died without closing it; waiting "
                       "for the next stream",
                       detail::label(d_ring),
                       s);
    else
        d_logger->info(
            "{}: stream {} ended; waiting for the next", detail::label(d_ring), s);
    return 0; // the next wait waits for the next stream
}

template <class T>
void buffer_source_impl::emit_tags(dp::ring<T>& r)
{
    // With no tags in the window this is two loads of the ring's tag
    // indices: nothing is allocated.
    dp::tag_cursor c = r.tags();
    dp::tag_view t;
    const uint64_t first = r.read_index(); // ring index of the window's first item
    const uint64_t out = nitems_written(0); // its output offset
    while (c.next(t))
        add_item_tag(0,
                     out + (t.index - first),
                     pmt::string_to_symbol(std::string(t.key)),
                     detail::decode_pmt(t.value),
                     alias_pmt());
    if (c.corrupt() && !d_logged_corrupt_tags) {
        d_logged_corrupt_tags = true;
        d_logger->warn("{}: a tag record is not well formed (corrupt tag area); the "
                       "tags from there on in that window are left out, the samples "
                       "are not affected (logged once)",
                       detail::label(d_ring));
    }
}

bool buffer_source_impl::downstream_done() const
{
    // The readers of the output buffer mark it done when they finish.
    const gr::buffer_sptr out = detail()->output(0);
    gr::thread::scoped_lock guard(*out->mutex());
    return out->done();
}

int buffer_source_impl::work(int noutput_items,
                             gr_vector_const_void_star&,
                             gr_vector_void_star& output_items)
{
    void* out = output_items[0];
    const int n = std::visit(
        [&](const auto& r) { return pull(*r, out, uint64_t(noutput_items)); }, d_ring);
    // Without output (pull's wait ends when the downstream is done), see
    // whether anything still reads this block. The scheduler ends a
    // source whose downstream is done only once its output buffer is full,
    // and a source with nothing to read never fills it: without this, a
    // flowgraph whose Head has its items would run until samples come.
    if (n == 0 && downstream_done())
        return WORK_DONE;
    return n;
}

bool buffer_source_impl::check_topology(int, int)
{
    // Called from tb.start() in the caller's thread before any block thread
    // runs (errors reach start()): prepare this run. The previous run's
    // stop() gave up the reader; take it again (the default reader
    // continues at the first unread sample). A named ring whose stream ended
    // (closed and drained) is opened again by name, as the first run did, so
    // a producer that made a new ring under the name is found.
    if (d_owned &&
        std::visit([](const auto& r) { return r->closed() && r->available() == 0; },
                   d_ring)) {
        ring_ref fresh = detail::open_named(
            std::visit([](const auto& r) { return r->seg()->type(); }, d_ring),
            d_name,
            d_capacity);
        const auto id = [](const ring_ref& x) {
            return std::visit(
                [](const auto& r) {
                    return std::make_pair(r->seg()->dev(), r->seg()->ino());
                },
                x);
        };
        if (id(fresh) != id(d_ring))
            d_ended_stream = 0; // another ring: its stream numbers are its own
        d_ring = std::move(fresh);
    }
    claim_reader();
    return true;
}

bool buffer_source_impl::stop()
{
    // Runs in this block's thread once work() has returned for good. A ring
    // opened by name is released: the reader is given up (the default
    // reader keeps its position for the next consumer, a named reader's slot
    // is freed) and the name removed if no other party is attached. A
    // handed-over ring stays its owner's.
    if (d_owned)
        std::visit([](const auto& r) { r->release(); }, d_ring);
    return true;
}

uint64_t buffer_source_impl::skipped() const
{
    return std::visit([](const auto& r) { return r->skipped(); }, d_ring);
}

} // namespace doppler
} // namespace gr
