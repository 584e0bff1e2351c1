/* -*- c++ -*- */
/*
 * gr-doppler: the ring's memory as the upstream block's output buffer (the
 * design is at the top of ring_buffer.h).
 * SPDX-License-Identifier: GPL-3.0-or-later
 */
#include "ring_buffer.h"
#include "block_ring.h"

#include <gnuradio/block_detail.h>
#include <gnuradio/buffer_reader.h>

#include <boost/thread/thread.hpp>

#include <algorithm>

#if DOPPLER_ZERO_COPY // else the sink has the copy path alone (ring_buffer.h)
namespace gr {
namespace doppler {
namespace detail {

using dp::status;

std::shared_ptr<ring_buffer> ring_buffer::make(const ring_ref& ring,
                                               const gr::buffer_sptr& old,
                                               gr::block_sptr upstream,
                                               in_place_publisher& publisher,
                                               gr::logger_ptr log)
{
    return std::shared_ptr<ring_buffer>(
        new ring_buffer(ring, old, std::move(upstream), publisher, std::move(log)));
}

ring_buffer::ring_buffer(const ring_ref& ring,
                         const gr::buffer_sptr& old,
                         gr::block_sptr upstream,
                         in_place_publisher& publisher,
                         gr::logger_ptr log)
    : gr::buffer(gr::buffer_mapping_type::double_mapped,
                 int(std::visit([](const auto& r) { return r->capacity(); }, ring)),
                 old->get_sizeof_item(),
                 old->get_downstream_lcm_nitems(),
                 old->get_max_reader_output_multiple(),
                 std::move(upstream))
    , d_ring(ring)
    , d_cap(std::visit([](const auto& r) { return r->capacity(); }, ring))
    , d_ring_base(std::visit([](const auto& r) { return r->written(); }, ring))
    , d_floor(d_ring_base)
    , d_horizon(d_ring_base)
    , d_publisher(publisher)
    , d_log(std::move(log))
{
    if (const gr::block_sptr up = link())
        d_need = std::max({ 1, up->output_multiple(), up->min_noutput_items() });
    std::visit(
        [this](const auto& r) {
            d_base = static_cast<char*>(r->seg()->data());
            // The slot of the ring's write index: the upstream block's first
            // item goes where the sink publishes next (buffer_add_reader
            // starts the sink's reader here too).
            d_write_index = unsigned(d_ring_base & (d_cap - 1));
            // The ring's floor now: space_available() then only reloads it
            // when the ring fills.
            d_floor = r->tethered_floor(d_ring_base);
        },
        d_ring);
    d_bufsize = unsigned(d_cap);
}

ring_buffer::~ring_buffer() = default;

int ring_buffer::space_available()
{
    // GNU Radio's own figure, as buffer_double_mapped computes it: the room
    // behind the slowest reader of this buffer (the sink), pruning the tags
    // every reader is past.
    int space = int(d_bufsize) - 1;
    if (!d_readers.empty()) {
        int most_data = d_readers[0]->items_available();
        uint64_t min_items_read = d_readers[0]->nitems_read();
        for (size_t i = 1; i < d_readers.size(); i++) {
            most_data = std::max(most_data, d_readers[i]->items_available());
            min_items_read = std::min(min_items_read, d_readers[i]->nitems_read());
        }
        if (min_items_read != d_last_min_items_read) {
            prune_tags(d_last_min_items_read);
            d_last_min_items_read = min_items_read;
        }
        space = int(d_bufsize) - most_data - 1;
    }
    if (!d_attached.load(std::memory_order_relaxed))
        return d_private ? space : 0;
    if (d_failed)
        return 0;
    // The ring's figure: room behind its slowest tethered reader for the
    // upstream block's write position.
    const uint64_t w = d_ring_base + d_abs_write_offset;
    uint64_t free = room(d_floor, w);
    const uint64_t enough = std::min<uint64_t>(uint64_t(space), d_bufsize / 2);
    if (free < enough) {
        std::visit([&](const auto& r) { d_floor = r->tethered_floor(w); }, d_ring);
        free = room(d_floor, w);
    }
    space = int(std::min<uint64_t>(uint64_t(space), free));
    if (w + uint64_t(space) > d_horizon) {
        d_horizon = w + uint64_t(space);
        std::visit([&](const auto& r) { r->announce_until(d_horizon); }, d_ring);
    }
    // Too little for the upstream block's next work(): it will wait for room,
    // in output_blocked_callback() if it is the ring's, else for the sink's
    // work() to consume. Either needs the sink's work() to end first (GNU
    // Radio's custom_lock waits for it), which may be waiting for a batch.
    d_publisher.upstream_room(space >= d_need);
    return space;
}

void ring_buffer::post_work(int nitems)
{
    // The upstream block's thread, right after its work() wrote `nitems`
    // items from d_abs_write_offset on and before the write pointer moves.
    if (nitems <= 0 || d_failed || !d_attached.load(std::memory_order_relaxed))
        return;
    const uint64_t first = d_abs_write_offset, n = uint64_t(nitems);
    // The items are at the ring's write index (GNU Radio's item k is ring
    // index base + k): anything else would publish the wrong samples.
    if (std::visit([](const auto& r) { return r->written(); }, d_ring) !=
        d_ring_base + first) {
        fail(label(d_ring) +
                 ": the upstream block's items are not at the ring's "
                 "write index (GNU Radio moved its buffer); ending",
             false);
        return;
    }
    // No lock: only this thread changes the tag map (add_item_tag in the
    // upstream block's work(), prune_tags in space_available()), and the
    // sink's thread does not read it on this path.
    d_tags.clear();
    for (auto t = d_item_tags.lower_bound(first);
         t != d_item_tags.end() && t->first < first + n;
         ++t)
        d_tags.push_back(t->second);
    std::string why;
    if (!d_publisher.publish_in_place(first, n, d_tags, why))
        fail(why, false);
}

bool ring_buffer::output_blkd_cb_ready(int)
{
    return d_attached.load(std::memory_order_acquire);
}

bool ring_buffer::output_blocked_callback(int output_multiple, bool force)
{
    // force: the upstream block's work() produced nothing; not a wait for room.
    if (force || !d_attached.load(std::memory_order_relaxed) ||
        d_detaching.load(std::memory_order_acquire) || d_failed || d_done)
        return false;
    // Items the sink has not consumed yet: GNU Radio's room comes back when
    // its work() does (and notifies the upstream block), so no waiting here
    // (space_available() has told the sink already).
    if (d_readers.size() != 1 || d_readers[0]->items_available() != 0)
        return false;
    // Nothing pending: the ring handle's write index is the upstream block's
    // write position, and no work() runs (custom_lock), so the producer-side
    // wait is ours to use.
    const uint64_t n =
        std::min<uint64_t>(uint64_t(std::max(d_need, output_multiple)), d_cap);
    // Until there is room, the flowgraph stops, the sink stops (detach()
    // waits for this callback), or the stall is to be reported.
    const auto stop = [this] {
        return stop_requested() || d_detaching.load(std::memory_order_acquire);
    };
    const status s = std::visit(
        [&](const auto& r) { return r->wait_space(n, d_stall.wait_ns(), stop); }, d_ring);
    if (s == status::ok)
        d_stall.progress();
    else if ((s == status::timeout || s == status::broken) && d_stall.waited())
        d_log->warn("{}", stall_message(d_ring));
    switch (s) {
    case status::ok:
        std::visit(
            [&](const auto& r) {
                d_floor = r->tethered_floor(d_ring_base + d_abs_write_offset);
            },
            d_ring);
        return true;
    case status::timeout: // the stall was reported; wait on
    case status::broken: // a tethered reader died; a successor may come
    case status::interrupted: // the flowgraph or the sink stops
        // Try again (the mutex is released in between), unless the
        // flowgraph is stopping: then the upstream block goes to its
        // interruptible wait for output space and ends there.
        return !boost::this_thread::interruption_requested();
    case status::end_of_stream:
        fail(label(d_ring) + " was closed while the flowgraph wrote into it; ending");
        return false;
    case status::corrupt:
        fail(std::visit([](const auto& r) { return r->corruption(); }, d_ring) +
             "; ending");
        return false;
    default:
        fail(label(d_ring) + ": waiting for room failed (" + dp::status_name(s) +
             "); ending");
        return false;
    }
}

void ring_buffer::fail(const std::string& why, bool locked) noexcept
{
    d_failed = true;
    try {
        d_log->error("{}", why);
    } catch (...) {
    }
    // The sink then finds its input done with nothing left and finishes; the
    // upstream block finds its output done and finishes too.
    if (locked) {
        d_done = true; // the mutex is held (custom_lock)
    } else {
        try {
            set_done(true);
        } catch (...) { // the mutex could not be taken: set the flag anyway
            d_done = true;
        }
    }
    if (!d_readers.empty())
        if (const gr::block_sptr sink = d_readers[0]->link())
            if (sink->detail())
                sink->detail()->d_tpb.notify_msg(); // wakes its thread
}

void ring_buffer::detach(int timeout_ms) noexcept
{
    // Runs in the sink's thread from stop(), possibly while an interruption
    // unwinds it: no interruption point may throw here.
    boost::this_thread::disable_interruption no_interruption;
    // A callback waiting on the ring for room ends its wait now.
    d_detaching.store(true, std::memory_order_release);
    try {
        gr::thread::scoped_lock lock(d_mutex);
        // No work() in progress on this buffer (the upstream block may still
        // be writing its last call) and no callback.
        d_cv.timed_wait(lock, boost::posix_time::milliseconds(timeout_ms), [this] {
            return !d_callback_flag && d_active_pointer_counter == 0;
        });
        if (!d_attached.load(std::memory_order_relaxed))
            return;
        d_attached.store(false, std::memory_order_release);
        const dp::sample_type t =
            std::visit([](const auto& r) { return r->seg()->type(); }, d_ring);
        d_private = dp::segment::create(t, d_cap);
        d_base = static_cast<char*>(d_private->data());
    } catch (...) {
        // No private memory: space_available() stays 0, nothing is written.
        d_attached.store(false, std::memory_order_release);
    }
}

} // namespace detail
} // namespace doppler
} // namespace gr
#endif // DOPPLER_ZERO_COPY
