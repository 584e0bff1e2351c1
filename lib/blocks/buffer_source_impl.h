/* -*- c++ -*- */
/*
 * SPDX-License-Identifier: GPL-3.0-or-later
 */
#ifndef INCLUDED_DOPPLER_BUFFER_SOURCE_IMPL_H
#define INCLUDED_DOPPLER_BUFFER_SOURCE_IMPL_H

#include <gnuradio/doppler/buffer_source.h>

namespace gr {
namespace doppler {

class buffer_source_impl : public buffer_source
{
public:
    /// `name` empty: a ring handed over by its owner; else the ring's name.
    buffer_source_impl(ring_ref ring,
                       const std::string& name,
                       uint64_t capacity,
                       bool sc16,
                       float scale);

    int work(int noutput_items,
             gr_vector_const_void_star& input_items,
             gr_vector_void_star& output_items) override;
    bool check_topology(int ninputs, int noutputs) override;
    bool stop() override;

private:
    template <class T>
    int pull(::doppler::ring<T>& r, void* out, uint64_t n);
    // Ring samples -> output items: one memcpy or one VOLK call each.
    void load(void* out, const ::doppler::f32* src, uint64_t n) const;
    void load(void* out, const ::doppler::f64* src, uint64_t n) const;
    void load(void* out, const ::doppler::i16* src, uint64_t n) const;

    ring_ref d_ring; // reopened by name for a new run once its stream ended
    const std::string d_name; // "" for a handed-over ring
    const uint64_t d_capacity;
    const bool d_owned; // opened by name here: released on stop
    const bool d_sc16;
    const float d_divisor; // VOLK divides int16 by this: 1 / scale
};

} // namespace doppler
} // namespace gr

#endif /* INCLUDED_DOPPLER_BUFFER_SOURCE_IMPL_H */
