/* -*- c++ -*- */
/*
 * SPDX-License-Identifier: GPL-3.0-or-later
 */
#ifndef INCLUDED_DOPPLER_BUFFER_SOURCE_IMPL_H
#define INCLUDED_DOPPLER_BUFFER_SOURCE_IMPL_H

#include "block_ring.h"

#include <gnuradio/doppler/buffer_source.h>
#include <string>

namespace gr {
namespace doppler {

class buffer_source_impl : public buffer_source
{
public:
    /// `name` empty: a ring handed over by its owner (read as whatever reader
    /// its handle is); else the ring's name, read as reader `reader`.
    buffer_source_impl(ring_ref ring,
                       const std::string& name,
                       uint64_t capacity,
                       bool sc16,
                       float scale,
                       const std::string& reader,
                       bool tethered,
                       bool end_on_stream_end,
                       uint64_t history = 0);

    int work(int noutput_items,
             gr_vector_const_void_star& input_items,
             gr_vector_void_star& output_items) override;
    bool check_topology(int ninputs, int noutputs) override;
    bool stop() override;

    uint64_t skipped() const override;

private:
    template <class T>
    int pull(dp::ring<T>& r, void* out, uint64_t n);
    // A wait found the end of the reader's stream (closed, or broken: its
    // producer died): WORK_DONE or 0 (wait for the next stream).
    template <class T>
    int stream_ended(dp::ring<T>& r, dp::status why);
    /// True once every block reading this block's output is done (a Head
    /// that has its items, a sink that finished).
    bool downstream_done() const;
    // The tags of the window of the last wait, as stream tags on the n items
    // just produced from it (before it is consumed: the cursor's views live
    // until then).
    template <class T>
    void emit_tags(dp::ring<T>& r);
    // Take this run's reader: the default one, or the named one.
    void claim_reader();
    // Ring samples -> output items: one memcpy or one VOLK call each.
    void load(void* out, const dp::f32* src, uint64_t n) const;
    void load(void* out, const dp::f64* src, uint64_t n) const;
    void load(void* out, const dp::i16* src, uint64_t n) const;

    ring_ref d_ring; // reopened by name for a new run once its stream ended
    const std::string d_name; // "" for a handed-over ring
    const uint64_t d_capacity;
    const bool d_owned; // opened by name here: released on stop
    const bool d_sc16;
    const float d_divisor; // VOLK divides int16 by this: 1 / scale
    const std::string d_reader; // "" for the default reader
    const bool d_tethered;
    const uint64_t d_history; // a named reader's claim starts this far back
    const bool d_end_on_stream_end;
    // With end_on_stream_end: the stream whose end this block turned into
    // WORK_DONE (0: none). A new handle on the same reader, in the next run,
    // is told that end once more: it is not news, the run waits for the
    // next stream instead.
    uint64_t d_ended_stream = 0;
    bool d_logged_corrupt_tags = false;
    // Nothing to read for a while: says once per idle spell what it waits for.
    detail::stall_watch d_idle { detail::idle_report_ns };
};

} // namespace doppler
} // namespace gr

#endif /* INCLUDED_DOPPLER_BUFFER_SOURCE_IMPL_H */
