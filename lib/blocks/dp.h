/* -*- c++ -*- */
/*
 * gr-doppler: how the blocks name the ring library. The blocks live in
 * gr::doppler (GNU Radio's convention), which hides the ring library's own
 * namespace, ::doppler, inside it: there `doppler::ring` would mean
 * gr::doppler::ring. Every file of lib/blocks writes dp::ring<dp::f32>,
 * dp::status, dp::error instead. (The installed headers of
 * include/gnuradio/doppler spell it ::doppler::, and add no name.)
 * SPDX-License-Identifier: GPL-3.0-or-later
 */
#ifndef INCLUDED_DOPPLER_DP_H
#define INCLUDED_DOPPLER_DP_H

namespace doppler {
} // namespace doppler

namespace gr {
namespace doppler {

/// The ring library (include/doppler, namespace ::doppler).
namespace dp = ::doppler;

} // namespace doppler
} // namespace gr

#endif /* INCLUDED_DOPPLER_DP_H */
