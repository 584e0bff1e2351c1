/*
 * bench_blocks: GNU Radio blocks the benchmarks need and GNU Radio lacks.
 * SPDX-License-Identifier: GPL-3.0-or-later
 *
 * paced_source(itemsize, rate, chunk): a radio in one block. Each work()
 * call emits at most `chunk` zero samples (written, as a driver writes what
 * it receives) and returns once the last of them is due: start + (index + 1)
 * / rate, start being the block's start(). null_source -> throttle does the
 * same in two blocks, and GNU Radio's hand-off between them (a wake-up of
 * each thread per chunk) costs more than either; a radio source block has
 * no such hand-off. Never behind: when late it returns at once.
 */
#include <gnuradio/io_signature.h>
#include <gnuradio/sync_block.h>
#include <pybind11/pybind11.h>

#include <algorithm>
#include <chrono>
#include <cstdint>
#include <cstring>
#include <memory>
#include <stdexcept>
#include <thread>

namespace {

using clock_type = std::chrono::steady_clock;

class paced_source : public gr::sync_block
{
public:
    paced_source(size_t itemsize, double rate, int chunk)
        : gr::sync_block("paced_source",
                         gr::io_signature::make(0, 0, 0),
                         gr::io_signature::make(1, 1, itemsize))
        , d_itemsize(itemsize)
        , d_rate(rate)
        , d_chunk(chunk)
    {
        if (!(rate > 0) || chunk <= 0 || itemsize == 0)
            throw std::invalid_argument(
                "paced_source: itemsize, rate and chunk must be positive");
    }

    bool start() override
    {
        d_start = clock_type::now();
        d_sent = 0;
        return gr::sync_block::start();
    }

    int work(int noutput_items,
             gr_vector_const_void_star&,
             gr_vector_void_star& output_items) override
    {
        const int n = std::min(noutput_items, d_chunk);
        const auto due = d_start +
            std::chrono::duration_cast<clock_type::duration>(
                             std::chrono::duration<double>((d_sent + n) / d_rate));
        std::this_thread::sleep_until(due); // returns at once when late
        std::memset(output_items[0], 0, static_cast<size_t>(n) * d_itemsize);
        d_sent += static_cast<uint64_t>(n);
        return n;
    }

private:
    const size_t d_itemsize;
    const double d_rate;
    const int d_chunk;
    clock_type::time_point d_start {};
    uint64_t d_sent = 0;
};

} // namespace

namespace py = pybind11;

PYBIND11_MODULE(doppler_bench_blocks, m)
{
    m.doc() = "Blocks for gr-doppler's benchmarks (built, never installed).";
    py::module_::import("gnuradio.gr"); // registers gr::sync_block and its bases

    py::class_<paced_source,
               gr::sync_block,
               gr::block,
               gr::basic_block,
               std::shared_ptr<paced_source>>(m, "paced_source")
        .def(py::init([](size_t itemsize, double rate, int chunk) {
                 return std::make_shared<paced_source>(itemsize, rate, chunk);
             }),
             py::arg("itemsize"),
             py::arg("rate"),
             py::arg("chunk") = 8192);
}
