/* -*- c++ -*- */
/*
 * QA of the Buffer Sink's choice of path, for the case only C++ can build: an
 * upstream block with a GNU Radio 3.10 custom buffer of its own (host_buffer,
 * GNU Radio's reference custom buffer). The sink must take the copy path
 * there, and the zero-copy path for the same source with a plain buffer.
 * And the zero-copy path's hand-off, through the blocks' test seams
 * (block_ring.h): the sink's wait for a batch never holds the upstream
 * block back.
 * SPDX-License-Identifier: GPL-3.0-or-later
 */
#define BOOST_TEST_MODULE doppler_buffer_sink_paths
#include <boost/test/unit_test.hpp>

#include "block_ring.h"

#include <gnuradio/doppler/buffer_sink.h>
#include <gnuradio/host_buffer.h>
#include <gnuradio/io_signature.h>
#include <gnuradio/sync_block.h>
#include <gnuradio/top_block.h>

#include <chrono>
#include <complex>
#include <memory>
#include <thread>

namespace {

using sample = std::complex<float>;

/// Sample k is k, `n` of them; its output buffer is of type `buftype`.
/// `pause`: how long each work() but the first sleeps first.
class ramp_source : public gr::sync_block
{
public:
    ramp_source(uint64_t n,
                gr::buffer_type buftype,
                std::chrono::milliseconds pause = std::chrono::milliseconds(0))
        : gr::sync_block("ramp_source",
                         gr::io_signature::make(0, 0, 0),
                         gr::io_signature::make(1, 1, sizeof(sample), buftype))
        , d_n(n)
        , d_pause(pause)
    {
    }
    int work(int noutput_items,
             gr_vector_const_void_star&,
             gr_vector_void_star& output_items) override
    {
        if (d_k >= d_n)
            return WORK_DONE;
        if (d_k > 0)
            std::this_thread::sleep_for(d_pause);
        const uint64_t m = std::min<uint64_t>(uint64_t(noutput_items), d_n - d_k);
        auto* out = static_cast<sample*>(output_items[0]);
        for (uint64_t i = 0; i < m; ++i)
            out[i] = sample(float(d_k + i), 0.0f);
        d_k += m;
        return int(m);
    }

private:
    const uint64_t d_n;
    const std::chrono::milliseconds d_pause;
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

namespace {

/// ramp_source(n, plain buffer, pause) giving `chunk` items per work() at
/// most (0: GNU Radio's choice) -> Buffer Sink (f32, block) into an
/// in-process ring of `cap`, the sink's batch wait bounded at `bound`, while a
/// reader thread waits for `want` samples (or the rest) and takes `step` of
/// them (0: all there are). Checks that the sink took the zero-copy path and
/// every sample arrived in order; returns how many of the sink's waits ran
/// out.
uint64_t handoff_run(uint64_t cap,
                     uint64_t n,
                     std::chrono::milliseconds pause,
                     int chunk,
                     uint64_t want,
                     uint64_t step,
                     std::chrono::milliseconds bound)
{
    gr::doppler::detail::set_handoff_wait(
        std::chrono::duration_cast<std::chrono::nanoseconds>(bound).count());
    const uint64_t run_out = gr::doppler::detail::handoff_waits_run_out();
    auto ring = std::make_shared<doppler::ring<doppler::f32>>(cap);
    auto src =
        gnuradio::make_block_sptr<ramp_source>(n, gr::buffer_double_mapped::type, pause);
    if (chunk > 0)
        src->set_max_noutput_items(chunk);
    auto snk =
        gr::doppler::buffer_sink::make("f32", gr::doppler::ring_ref(ring), "block");
    auto tb = gr::make_top_block("handoff");
    tb->connect(src, 0, snk, 0);
    uint64_t got = 0, wrong = n;
    std::thread reader([&] {
        while (got < n) {
            const auto v = ring->wait(std::min(want, n - got), 30'000'000'000);
            if (!v)
                return;
            const uint64_t m = std::min(step ? step : ring->available(), n - got);
            for (uint64_t k = 0; k < m && wrong == n; ++k)
                if (v.data[k] != sample(float(got + k), 0.0f))
                    wrong = got + k;
            got += m;
            if (!ring->consume(m))
                return;
        }
    });
    tb->run();
    reader.join();
    gr::doppler::detail::set_handoff_wait(0);
    BOOST_TEST(snk->zero_copy());
    BOOST_TEST(got == n);
    BOOST_TEST(wrong == n, "sample " << wrong << " is wrong");
    return gr::doppler::detail::handoff_waits_run_out() - run_out;
}

} // namespace

using std::chrono::milliseconds;

BOOST_AUTO_TEST_CASE(
    the_sinks_wait_for_a_batch_ends_when_the_upstream_block_runs_out_of_room)
{
    // The zero-copy sink's work() waits for an eighth of the ring before it
    // gives GNU Radio its room back, and GNU Radio lets the upstream block
    // wait for room only once that work() has ended. A reader that takes
    // 3000 samples each time the ring is full makes the upstream block run
    // out of room about 90 times, mostly while the sink waits for a batch
    // of 8192; each time the sink must stop waiting at once. With a bound of
    // 250 ms, a wait that runs out is one the upstream block sat behind (the
    // run's last, short batch aside).
    const uint64_t cap = 1 << 16;
    BOOST_TEST(handoff_run(
                   cap, 4 * cap, milliseconds(0), 0, cap, 3000, milliseconds(250)) <= 1u);
}

BOOST_AUTO_TEST_CASE(the_sinks_wait_for_a_batch_ends_with_the_publish_that_completes_it)
{
    // 4096 items every 200 ms, a reader that takes all there is: the sink
    // waits with half a batch (8192), and the publish 200 ms later completes
    // it, long before the upstream block could run out of room. That
    // publish must end the wait: one that slept on until the publish after
    // it (400 ms) or longer would run out its 300 ms bound about once per
    // batch. The 100 ms between the completing publish and the bound are
    // for a loaded machine's scheduling; nothing is timed.
    BOOST_TEST(
        handoff_run(
            1 << 16, 12 * 4096, milliseconds(200), 4096, 1, 0, milliseconds(300)) <= 1u);
}
