/* -*- c++ -*- */
/*
 * SPDX-License-Identifier: GPL-3.0-or-later
 */
#ifndef INCLUDED_DOPPLER_BUFFER_SINK_IMPL_H
#define INCLUDED_DOPPLER_BUFFER_SINK_IMPL_H

#include <chrono>
#include <gnuradio/doppler/buffer_sink.h>

namespace gr {
namespace doppler {

class buffer_sink_impl : public buffer_sink
{
public:
    /// `name` empty: a ring handed over by its owner; else the ring's name,
    /// (re)opened for each run.
    buffer_sink_impl(ring_ref ring,
                     const std::string& name,
                     uint64_t capacity,
                     bool block,
                     bool sc16,
                     float scale);

    int work(int noutput_items,
             gr_vector_const_void_star& input_items,
             gr_vector_void_star& output_items) override;
    bool check_topology(int ninputs, int noutputs) override;
    bool stop() override;

    uint64_t dropped() const override;
    uint64_t written() const override;

private:
    template <class T>
    int push(::doppler::ring<T>& r, const void* in, uint64_t n);
    // Input items -> ring samples: one memcpy or one VOLK call each.
    void store(::doppler::f32* dst, const void* in, uint64_t n) const;
    void store(::doppler::f64* dst, const void* in, uint64_t n) const;
    void store(::doppler::i16* dst, const void* in, uint64_t n) const;
    void note_drop(uint64_t n, uint64_t dropped_total, uint64_t written_total);

    ring_ref d_ring; // replaced by a fresh ring when a new run starts (named only)
    const std::string d_name; // "" for a handed-over ring
    const uint64_t d_capacity;
    const bool d_owned; // opened by name here: released on stop
    const bool d_block; // policy "block"
    const bool d_sc16;
    const float d_scale;
    // Rate-limited drop warning (touched only when a chunk is dropped).
    std::chrono::steady_clock::time_point d_last_warn {};
    uint64_t d_dropped_since_warn = 0;
};

} // namespace doppler
} // namespace gr

#endif /* INCLUDED_DOPPLER_BUFFER_SINK_IMPL_H */
