/* -*- c++ -*- */
/*
 * SPDX-License-Identifier: GPL-3.0-or-later
 */
#ifndef INCLUDED_DOPPLER_BUFFER_SINK_IMPL_H
#define INCLUDED_DOPPLER_BUFFER_SINK_IMPL_H

#include "ring_buffer.h"
#include "tag_pmt.h"

#include <atomic>
#include <chrono>
#include <gnuradio/doppler/buffer_sink.h>
#include <set>
#include <string>
#include <vector>

namespace gr {
namespace doppler {

class buffer_sink_impl : public buffer_sink, private detail::in_place_publisher
{
public:
    /// `name` empty: a ring handed over by its owner; else the ring's name,
    /// (re)opened for each run.
    buffer_sink_impl(ring_ref ring,
                     const std::string& name,
                     uint64_t capacity,
                     bool block,
                     bool sc16,
                     float scale,
                     bool zero_copy);

    int work(int noutput_items,
             gr_vector_const_void_star& input_items,
             gr_vector_void_star& output_items) override;
    bool check_topology(int ninputs, int noutputs) override;
    bool start() override;
    bool stop() override;

    uint64_t dropped() const override;
    uint64_t written() const override;
    uint64_t tags_unencodable() const override;
    uint64_t tags_refused() const override;
    bool zero_copy() const override;

private:
    template <class T>
    int push(dp::ring<T>& r, const void* in, uint64_t n);
    // Zero-copy path, in the upstream block's thread (ring_buffer.h).
    bool publish_in_place(uint64_t first,
                          uint64_t n,
                          const std::vector<gr::tag_t>& tags,
                          std::string& why) override;
    void upstream_room(bool enough) override;
    // Zero-copy path: work() only gives GNU Radio's buffer its room back.
    // Run for every chunk the upstream block hands over, it would cost this
    // block's thread a wake-up per chunk (at a radio's packet rate about as
    // much CPU as the rest of the flowgraph); so with fewer than
    // d_handoff_batch items it waits (d_handoff_wait_ns at most) for that
    // many and takes them at once. The upstream block's thread ends the wait
    // when it publishes item d_handoff_at (a wake missed there costs at most
    // the bound: every later publish wakes too), and at once when it runs
    // out of room (upstream_room: GNU Radio lets it wait for room only once
    // this work() has ended); no wait begins while it is out of room or
    // done. Readers see nothing of it: they have the items from
    // publish_in_place.
    void wait_for_handoff();
    std::atomic<uint32_t> d_handoff_parked { 0 }; // futex word: 1 while work() waits
    std::atomic<uint32_t> d_upstream_waits { 0 }; // 1: upstream_room(false) last
    std::atomic<uint64_t> d_handoff_at { 0 }; // upstream item that ends the wait
    int64_t d_handoff_wait_ns = 0; // set by start(): detail::handoff_wait_ns
    uint64_t d_handoff_batch = 0; // set by start(): an eighth of the ring
    // Copy path: the n items at `in` (the next n of the input, from
    // nitems_read) and the stream tags on them into the ring: store(), then
    // commit().
    template <class T>
    void publish(dp::ring<T>& r, const void* in, uint64_t n);
    // The n items from nitems_read were refused (drop policy): count their
    // tags, which cannot be published without their samples.
    void refuse_tags(uint64_t n);
    // A tag left out: count it, and log it the first time its key is seen
    // for this reason.
    enum class tag_loss { unencodable, refused };
    void lose_tag(const gr::tag_t& tag, tag_loss why);
    // Why this run cannot let the upstream block write into the ring ("" if
    // it can); `old` is the buffer GNU Radio gave that block.
    std::string copy_reason(const gr::buffer_sptr& old) const;
    // Input items -> ring samples: one memcpy or one VOLK call each.
    void store(dp::f32* dst, const void* in, uint64_t n) const;
    void store(dp::f64* dst, const void* in, uint64_t n) const;
    void store(dp::i16* dst, const void* in, uint64_t n) const;
    void note_drop(uint64_t n, uint64_t dropped_total, uint64_t written_total);

    ring_ref d_ring; // a new handle on the named ring for each run (next stream)
    const std::string d_name; // "" for a handed-over ring
    const uint64_t d_capacity;
    const bool d_owned; // opened by name here: released on stop
    const bool d_block; // policy "block"
    const bool d_sc16;
    const float d_scale;
    const bool d_zero_copy_wanted; // make(zero_copy=): false forces the copy path
    // This run's path (set in start(), read by zero_copy() from any thread).
    std::atomic<bool> d_zero_copy { false };
    // Zero-copy path: the upstream block's output buffer (over the ring),
    // and the buffer and reader it replaced, kept alive until the next run.
    std::shared_ptr<detail::ring_buffer> d_ring_buffer;
    gr::buffer_sptr d_replaced_buffer;
    gr::buffer_reader_sptr d_replaced_reader;
    // Block policy, copy path: says once per stall what holds the ring back.
    detail::stall_watch d_stall { detail::stall_report_ns };
    // Rate-limited drop warning (touched only when a chunk is dropped).
    std::chrono::steady_clock::time_point d_last_warn {};
    uint64_t d_dropped_since_warn = 0;
    // Tags of the current chunk: GNU Radio's, then the ring's form. Both keep
    // their capacity from one work() call to the next.
    std::vector<gr::tag_t> d_gr_tags;
    detail::ring_tags d_ring_tags;
    // Tags left out (read by other threads through the accessors), and the
    // keys already logged for each reason.
    std::atomic<uint64_t> d_tags_unencodable { 0 };
    std::atomic<uint64_t> d_tags_refused { 0 };
    std::set<std::string> d_logged_unencodable, d_logged_refused;
};

} // namespace doppler
} // namespace gr

#endif /* INCLUDED_DOPPLER_BUFFER_SINK_IMPL_H */
