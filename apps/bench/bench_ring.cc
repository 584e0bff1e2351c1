/* bench_ring: in-process throughput of doppler::ring<f32> between two threads,
 * side by side with boost::lockfree::spsc_queue moving the same chunks and a
 * single-thread memcpy of the same bytes (the ceiling), for a ring that fits
 * in L2 and one that does not; then the wake-up latency of a parked consumer
 * next to a std::condition_variable hand-off.
 *
 *   bench_ring [--quick]
 *
 * SPDX-License-Identifier: GPL-3.0-or-later */
#include "bench_util.hpp"

#include <boost/lockfree/spsc_queue.hpp>

#include <condition_variable>
#include <cstdlib>
#include <memory>
#include <mutex>

#if defined(__x86_64__) || defined(__i386__)
#include <immintrin.h>
#define BENCH_PAUSE() _mm_pause()
#else
#define BENCH_PAUSE() ((void)0)
#endif

using namespace bench;

namespace {

/// The same two-thread pipeline on boost's SPSC queue: push(ptr, n) until the
/// whole chunk is in, pop(ptr, n) into a buffer and read what was popped.
/// Neither side can block, so both spin (with a pause) when stuck.
double boost_threads(uint64_t capacity, uint64_t total, uint64_t chunk, uint64_t& sink)
{
    boost::lockfree::spsc_queue<f32> q(capacity);
    const auto src = source(chunk);
    const int64_t t0 = now_ns();
    std::thread consumer([&] {
        std::vector<f32> buf(chunk);
        uint64_t x = 0;
        for (uint64_t got = 0; got < total;) {
            const size_t n = q.pop(buf.data(), chunk);
            if (n == 0) {
                BENCH_PAUSE();
                continue;
            }
            x ^= touch(buf.data(), n);
            got += n;
        }
        sink ^= x;
    });
    for (uint64_t k = 0; k < total; k += chunk)
        for (size_t done = 0; done < chunk;) {
            const size_t n = q.push(src.data() + done, chunk - done);
            if (n == 0)
                BENCH_PAUSE();
            done += n;
        }
    consumer.join();
    return double(total) * 1e9 / double(now_ns() - t0);
}

/// The ceiling: one thread copying the same bytes in the same chunks into a
/// buffer of the ring's size.
double memcpy_ceiling(uint64_t capacity, uint64_t total, uint64_t chunk)
{
    const auto src = source(chunk);
    // Page-aligned like the ring's data: memcpy speed depends on the relative
    // alignment of source and destination (rep movsb on AMD in particular),
    // so the ceiling copies between the same alignments the ring sees.
    std::unique_ptr<f32, decltype(&std::free)> buf(
        static_cast<f32*>(std::aligned_alloc(4096, capacity * sizeof(f32))), &std::free);
    f32* dst = buf.get();
    std::memset(static_cast<void*>(dst),
                0,
                capacity * sizeof(f32)); // first touch outside the timing
    const uint64_t mask = capacity - 1;
    const int64_t t0 = now_ns();
    for (uint64_t k = 0; k < total; k += chunk) {
        std::memcpy(dst + (k & mask), src.data(), chunk * sizeof(f32));
        asm volatile("" ::: "memory"); // keep every copy
    }
    return double(total) * 1e9 / double(now_ns() - t0);
}

/// Baseline for the wake-up: a waiter on a condition variable, notified after
/// the producer stamps the value under the mutex.
std::vector<int64_t> condvar_latency(int samples)
{
    std::mutex m;
    std::condition_variable cv;
    int64_t stamp = 0;
    bool ready = false, done = false;
    std::vector<int64_t> ns;
    ns.reserve(size_t(samples));
    std::thread consumer([&] {
        std::unique_lock<std::mutex> lk(m);
        for (;;) {
            cv.wait(lk, [&] { return ready || done; });
            if (!ready)
                return;
            ns.push_back(now_ns() - stamp);
            ready = false;
        }
    });
    for (int i = 0; i < samples; ++i) {
        std::this_thread::sleep_for(std::chrono::microseconds(latency_gap_us));
        {
            std::lock_guard<std::mutex> lk(m);
            stamp = now_ns();
            ready = true;
        }
        cv.notify_one();
    }
    {
        std::lock_guard<std::mutex> lk(m);
        done = true;
    }
    cv.notify_one();
    consumer.join();
    return ns;
}

} // namespace

int main(int argc, char** argv)
{
    const bool quick = has_flag(argc, argv, "--quick");
    // Bytes moved per figure: enough to dwarf thread start-up, small enough
    // that the full run stays under a minute on a busy 2-core machine.
    const uint64_t total = quick ? (uint64_t(1) << 23) : (uint64_t(1) << 26);
    const int lat_samples = quick ? 300 : 3000;
    uint64_t sink = 0;

    std::printf("bench_ring: %llu f32 samples per figure, Msamples/s (best of %d)\n",
                (unsigned long long)total,
                quick ? 1 : 3);
    std::printf("%-10s %6s %10s %10s %10s %11s %12s\n",
                "ring",
                "chunk",
                "doppler",
                "boost",
                "memcpy",
                "ring/boost",
                "ring/memcpy");
    for (uint64_t capacity : { uint64_t(64) << 10, uint64_t(8) << 20 }) {
        for (uint64_t chunk : { 64, 1024, 8192 }) {
            double rr = 0, bb = 0, mm = 0;
            for (int rep = 0; rep < (quick ? 1 : 3);
                 ++rep) { // best of: the machine is shared
                ring<f32> r(capacity);
                rr = std::max(rr, ring_threads(r, total, chunk, sink));
                bb = std::max(bb, boost_threads(capacity, total, chunk, sink));
                mm = std::max(mm, memcpy_ceiling(capacity, total, chunk));
            }
            std::printf("%-10s %6llu %10.1f %10.1f %10.1f %10.2fx %11.2f\n",
                        capacity >= (uint64_t(1) << 20) ? "8 Mi" : "64 Ki",
                        (unsigned long long)chunk,
                        rr / 1e6,
                        bb / 1e6,
                        mm / 1e6,
                        rr / bb,
                        rr / mm);
            std::fflush(stdout);
        }
    }
    std::printf("targets: ring/boost >= 1.5x at chunk >= 1024, >= 4x at chunk 64\n\n");

    // Interleaved rounds, so a burst of load elsewhere hits both alike.
    std::vector<int64_t> ring_ns, cv_ns;
    const int rounds = 6;
    for (int round = 0; round < rounds; ++round) {
        ring<f64> lr(1);
        std::vector<int64_t> got;
        std::thread consumer([&] { got = latency_consumer(lr, lat_samples / rounds); });
        latency_producer(lr, lat_samples / rounds);
        consumer.join();
        ring_ns.insert(ring_ns.end(), got.begin(), got.end());
        got = condvar_latency(lat_samples / rounds);
        cv_ns.insert(cv_ns.end(), got.begin(), got.end());
    }
    std::printf("wake-up latency of a parked consumer, %d samples, us\n", lat_samples);
    std::printf("%-20s %8s %8s\n", "", "p50", "p99");
    std::printf("%-20s %8.1f %8.1f\n",
                "doppler ring",
                percentile_us(ring_ns, 0.5),
                percentile_us(ring_ns, 0.99));
    std::printf("%-20s %8.1f %8.1f\n",
                "condition_variable",
                percentile_us(cv_ns, 0.5),
                percentile_us(cv_ns, 0.99));
    std::printf("(checksum %llx)\n", (unsigned long long)sink);
    return 0;
}
