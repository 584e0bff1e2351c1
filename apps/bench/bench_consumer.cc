/*
 * bench_consumer: bench_transport.py's consumer in C++ (--cxx-consumer), so
 * that a view's cost is the transport's and a read of every sample
 * (bench_util.hpp's touch), not Python's and NumPy's.
 * SPDX-License-Identifier: GPL-3.0-or-later
 *
 *   bench_consumer zc NAME SAMPLES VIEW    doppler: wait(VIEW), touch, consume
 *   bench_consumer zmq ADDRESS SAMPLES     ZeroMQ PULL: each message, touch
 *
 * The driver's protocol (bench_transport.py): prints "ready" once attached
 * or connected, reads the driver's lines on stdin ("t0 ...", "close"),
 * prints "RESULT {json}" once it has SAMPLES samples (t_end on
 * CLOCK_MONOTONIC, as Python's time.monotonic(); CPU seconds of the
 * streaming, getrusage), and then (ZeroMQ) drains the socket until "close"
 * or the end of stdin, so that the sending flowgraph can stop.
 */
#include "bench_util.hpp"

#include <doppler/ring.hpp>

#include <zmq.h>

#include <sys/resource.h>

#include <algorithm>
#include <atomic>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <iostream>
#include <string>
#include <thread>

namespace {

/// CLOCK_MONOTONIC in seconds, as Python's time.monotonic().
double monotonic()
{
    return double(bench::now_ns()) * 1e-9;
}

double cpu_seconds()
{
    rusage ru;
    getrusage(RUSAGE_SELF, &ru);
    auto s = [](const timeval& t) { return double(t.tv_sec) + double(t.tv_usec) * 1e-6; };
    return s(ru.ru_utime) + s(ru.ru_stime);
}

std::atomic<bool> closed { false };

/// The driver's lines; "close" or the end of stdin ends the drain.
void read_stdin()
{
    std::string line;
    while (std::getline(std::cin, line))
        if (line == "close")
            break;
    closed.store(true, std::memory_order_release);
}

void report(
    double t_end, double cpu, uint64_t n, uint64_t sum, uint64_t msgs, uint64_t biggest)
{
    std::printf(
        "RESULT {\"t_end\": %.9f, \"cpu\": %.6f, \"received\": %llu, \"touch\": %llu, "
        "\"msgs\": %llu, \"biggest\": %llu}\n",
        t_end,
        cpu,
        static_cast<unsigned long long>(n),
        static_cast<unsigned long long>(sum),
        static_cast<unsigned long long>(msgs),
        static_cast<unsigned long long>(biggest));
    std::fflush(stdout);
}

int run_zc(const std::string& name, uint64_t total, uint64_t view)
{
    auto r = doppler::ring<doppler::f32>::attach(name, 60'000'000'000);
    std::printf("ready\n");
    std::fflush(stdout);
    const double c0 = cpu_seconds();
    uint64_t n = 0, sum = 0;
    while (n < total) {
        const uint64_t want = std::min(view, total - n);
        auto v = r->wait(want, 60'000'000'000);
        if (!v) {
            std::fprintf(
                stderr, "consumer: wait ended: %s\n", doppler::status_name(v.why));
            return 1;
        }
        sum ^= bench::touch(v.data, want);
        if (!r->consume(want))
            return 1;
        n += want;
    }
    report(monotonic(), cpu_seconds() - c0, n, sum, 0, 0);
    return 0;
}

int run_zmq(const std::string& address, uint64_t total)
{
    void* ctx = zmq_ctx_new();
    void* sock = zmq_socket(ctx, ZMQ_PULL);
    int timeout_ms = 60'000;
    zmq_setsockopt(sock, ZMQ_RCVTIMEO, &timeout_ms, sizeof timeout_ms);
    if (zmq_connect(sock, address.c_str()) != 0) {
        std::fprintf(
            stderr, "consumer: connect %s: %s\n", address.c_str(), zmq_strerror(errno));
        return 1;
    }
    std::printf("ready\n");
    std::fflush(stdout);
    const double c0 = cpu_seconds();
    uint64_t n = 0, msgs = 0, biggest = 0, sum = 0;
    zmq_msg_t msg;
    zmq_msg_init(&msg);
    while (n < total) {
        if (zmq_msg_recv(&msg, sock, 0) < 0) {
            std::fprintf(stderr, "consumer: receive: %s\n", zmq_strerror(errno));
            return 1;
        }
        const uint64_t k = zmq_msg_size(&msg) / 8;
        sum ^= bench::touch(static_cast<const doppler::f32*>(zmq_msg_data(&msg)), k);
        n += k;
        ++msgs;
        biggest = std::max(biggest, k);
    }
    report(monotonic(), cpu_seconds() - c0, n, sum, msgs, biggest);
    timeout_ms = 100;
    zmq_setsockopt(sock, ZMQ_RCVTIMEO, &timeout_ms, sizeof timeout_ms);
    while (!closed.load(std::memory_order_acquire))
        (void)zmq_msg_recv(&msg, sock, 0);
    zmq_msg_close(&msg);
    int linger = 0;
    zmq_setsockopt(sock, ZMQ_LINGER, &linger, sizeof linger);
    zmq_close(sock);
    zmq_ctx_term(ctx);
    return 0;
}

} // namespace

int main(int argc, char** argv)
{
    const std::string way = argc > 1 ? argv[1] : "";
    if (!((way == "zc" && argc == 5) || (way == "zmq" && argc == 4))) {
        std::fprintf(
            stderr,
            "usage: bench_consumer zc NAME SAMPLES VIEW | bench_consumer zmq ADDRESS "
            "SAMPLES (run by bench_transport.py --cxx-consumer)\n");
        return 2;
    }
    std::thread(read_stdin).detach();
    try {
        const uint64_t total = std::strtoull(argv[3], nullptr, 10);
        return way == "zc" ? run_zc(argv[2], total, std::strtoull(argv[4], nullptr, 10))
                           : run_zmq(argv[2], total);
    } catch (const std::exception& e) {
        std::fprintf(stderr, "consumer: %s\n", e.what());
        return 1;
    }
}
