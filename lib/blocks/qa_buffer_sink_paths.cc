/* -*- c++ -*- */
/*
 * QA of the Buffer Sink's choice of path, for the case only C++ can build: an
 * upstream block with a GNU Radio 3.10 custom buffer of its own (host_buffer,
 * GNU Radio's reference custom buffer). The sink must take the copy path
 * there, and the zero-copy path for the same source with a plain buffer.
 * SPDX-License-Identifier: GPL-3.0-or-later
 */
#define BOOST_TEST_MODULE doppler_buffer_sink_paths
#include <boost/test/unit_test.hpp>

#include <gnuradio/doppler/buffer_sink.h>
#include <gnuradio/host_buffer.h>
#include <gnuradio/io_signature.h>
#include <gnuradio/sync_block.h>
#include <gnuradio/top_block.h>

#include <complex>
#include <memory>

namespace {

using sample = std::complex<float>;

/// Sample k is k, `n` of them; its output buffer is of type `buftype`.
class ramp_source : public gr::sync_block
{
public:
    ramp_source(uint64_t n, gr::buffer_type buftype)
        : gr::sync_block("ramp_source",
                         gr::io_signature::make(0, 0, 0),
                         gr::io_signature::make(1, 1, sizeof(sample), buftype))
        , d_n(n)
    {
    }
    int work(int noutput_items,
             gr_vector_const_void_star&,
             gr_vector_void_star& output_items) override
    {
        if (d_k >= d_n)
            return WORK_DONE;
        const uint64_t m = std::min<uint64_t>(uint64_t(noutput_items), d_n - d_k);
        auto* out = static_cast<sample*>(output_items[0]);
        for (uint64_t i = 0; i < m; ++i)
            out[i] = sample(float(d_k + i), 0.0f);
        d_k += m;
        return int(m);
    }

private:
    const uint64_t d_n;
    uint64_t d_k = 0;
};

/// Runs ramp_source(n, buftype) -> Buffer Sink (f32, block) into an
/// in-process ring big enough for all of it; checks every sample arrived in
/// order and returns the sink's zero_copy().
bool run(gr::buffer_type buftype)
{
    const uint64_t n = 50000;
    auto ring = std::make_shared<doppler::ring<doppler::f32>>(1 << 16);
    auto src = gnuradio::make_block_sptr<ramp_source>(n, buftype);
    auto snk =
        gr::doppler::buffer_sink::make("f32", gr::doppler::ring_ref(ring), "block");
    BOOST_TEST(!snk->zero_copy());
    auto tb = gr::make_top_block("paths");
    tb->connect(src, 0, snk, 0);
    tb->run();
    BOOST_TEST(snk->written() == n);
    const auto v = ring->wait(n, 0);
    BOOST_REQUIRE(v);
    for (uint64_t k = 0; k < n; ++k)
        if (v.data[k] != sample(float(k), 0.0f)) {
            BOOST_TEST(false, "sample " << k << " is " << v.data[k]);
            break;
        }
    return snk->zero_copy();
}

} // namespace

BOOST_AUTO_TEST_CASE(an_upstream_block_with_a_custom_buffer_of_its_own_gets_the_copy_path)
{
    BOOST_TEST(!run(gr::host_buffer::type));
}

BOOST_AUTO_TEST_CASE(the_same_block_with_a_plain_buffer_gets_the_zero_copy_path)
{
    BOOST_TEST(run(gr::buffer_double_mapped::type));
}
