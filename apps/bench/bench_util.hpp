/* Pieces shared by bench_ring and bench_xproc: the producer and consumer
 * loops every ring figure uses, the wake-up latency pair, and printing.
 * SPDX-License-Identifier: GPL-3.0-or-later */
#pragma once

#include "bench_pin.h"

#include <doppler/ring.hpp>

#include <time.h>

#include <algorithm>
#include <cstdio>
#include <cstring>
#include <string>
#include <thread>
#include <vector>

namespace bench {

using doppler::f32;
using doppler::f64;
using doppler::ring;
using doppler::status;

inline int64_t now_ns()
{
    timespec ts {};
    clock_gettime(CLOCK_MONOTONIC, &ts); // system-wide: comparable across processes
    return int64_t(ts.tv_sec) * 1000000000 + ts.tv_nsec;
}

/// Reads every sample (XOR of the bit patterns) so no copy is optimised away.
inline uint64_t touch(const f32* p, size_t n)
{
    uint64_t x = 0;
    for (size_t i = 0; i < n; ++i) {
        uint64_t bits;
        std::memcpy(&bits, p + i, sizeof bits);
        x ^= bits;
    }
    return x;
}

/// A chunk of samples for the producers to copy from.
inline std::vector<f32> source(size_t chunk)
{
    std::vector<f32> v(chunk);
    for (size_t i = 0; i < chunk; ++i)
        v[i] = f32(float(i), -float(i));
    return v;
}

/// Producer side of a throughput run: `total` samples in chunks, lossless.
inline bool produce(ring<f32>& r, uint64_t total, uint64_t chunk)
{
    const auto src = source(chunk);
    for (uint64_t k = 0; k < total; k += chunk)
        if (r.write_blocking(src.data(), chunk) != status::ok)
            return false;
    r.close();
    return true;
}

/// Consumer side: wait for each chunk, read every sample, release it.
inline uint64_t drain(ring<f32>& r, uint64_t total, uint64_t chunk)
{
    uint64_t x = 0;
    for (uint64_t k = 0; k < total; k += chunk) {
        auto v = r.wait(chunk);
        if (!v)
            break;
        x ^= touch(v.data, chunk);
        if (!r.consume(chunk))
            break;
    }
    return x;
}

/// Samples per second of a two-thread run on one ring (in-process), the
/// producer on one CPU and the consumer on another.
inline double ring_threads(ring<f32>& r, uint64_t total, uint64_t chunk, uint64_t& sink)
{
    bench_pin(0);
    const int64_t t0 = now_ns();
    std::thread consumer([&] {
        bench_pin(1);
        sink ^= drain(r, total, chunk);
    });
    produce(r, total, chunk);
    consumer.join();
    const double rate = double(total) * 1e9 / double(now_ns() - t0);
    bench_unpin();
    return rate;
}

/// Median of a few values (the per-repeat ratios the benchmarks report).
inline double median_of(std::vector<double> v)
{
    if (v.empty())
        return 0;
    std::sort(v.begin(), v.end());
    return v.size() % 2 ? v[v.size() / 2] : (v[v.size() / 2 - 1] + v[v.size() / 2]) / 2;
}

// ---- wake-up latency of a parked consumer ---------------------------------
// The sample carries the producer's CLOCK_MONOTONIC stamp taken just before
// the write; the consumer subtracts it from its own stamp on return. The
// producer pauses between samples so the consumer is parked (past its spin)
// each time.

constexpr int latency_gap_us = 400;

inline void latency_producer(ring<f64>& r, int samples)
{
    for (int i = 0; i < samples; ++i) {
        std::this_thread::sleep_for(std::chrono::microseconds(latency_gap_us));
        f64 stamp(double(now_ns()), 0.0);
        (void)r.write(&stamp, 1); // a stamp that finds the ring full is not measured
    }
    r.close();
}

/// Latencies in ns, one per sample received.
inline std::vector<int64_t> latency_consumer(ring<f64>& r, int samples)
{
    std::vector<int64_t> ns;
    ns.reserve(size_t(samples));
    for (int i = 0; i < samples; ++i) {
        auto v = r.wait(1);
        const int64_t t = now_ns();
        if (!v)
            break;
        ns.push_back(t - int64_t(v.data->real()));
        if (!r.consume(1))
            break;
    }
    return ns;
}

inline double percentile_us(std::vector<int64_t> v, double p)
{
    if (v.empty())
        return 0;
    std::sort(v.begin(), v.end());
    return double(v[std::min(v.size() - 1, size_t(p * double(v.size())))]) / 1e3;
}

inline bool has_flag(int argc, char** argv, const char* flag)
{
    for (int i = 1; i < argc; ++i)
        if (std::strcmp(argv[i], flag) == 0)
            return true;
    return false;
}

} // namespace bench
