/* bench_xproc: a named ring between two processes (the consumer is a forked
 * child that attaches by name) against the same ring between two threads of
 * one process: throughput for chunks of 1024 and 8192 f32 samples, and the
 * wake-up latency of a parked consumer, side by side with ratios.
 *
 *   bench_xproc [--quick]
 *
 * SPDX-License-Identifier: GPL-3.0-or-later */
#include "bench_util.hpp"

#include <poll.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cstdlib>

using namespace bench;

namespace {

constexpr uint64_t capacity = uint64_t(256) << 10; // 2 MiB of f32

/// A pipe from the child to the parent carrying fixed-size messages.
struct pipe_msg {
    int fd[2] { -1, -1 };
    pipe_msg()
    {
        if (pipe(fd) != 0) {
            std::perror("pipe");
            std::exit(1);
        }
    }
    ~pipe_msg()
    {
        ::close(fd[0]);
        ::close(fd[1]);
    }
    template <class M>
    void send(const M& m)
    {
        if (::write(fd[1], &m, sizeof m) != ssize_t(sizeof m))
            _exit(2);
    }
    /// False if the child sent nothing within a minute (it died or hung).
    template <class M>
    bool recv(M& m)
    {
        pollfd p { fd[0], POLLIN, 0 };
        return poll(&p, 1, 60000) == 1 &&
            ::read(fd[0], &m, sizeof m) == ssize_t(sizeof m);
    }
};

/// Fork a consumer that attaches to `name`, says it is ready, runs `body` and
/// sends back what it returns. Returns the child's pid.
template <class T, class Msg, class F>
pid_t fork_consumer(const std::string& name, pipe_msg& ready, pipe_msg& result, F body)
{
    pid_t pid = fork();
    if (pid < 0) {
        std::perror("fork");
        std::exit(1);
    }
    if (pid == 0) {
        auto r = ring<T>::attach(name);
        if (!r->claim_consumer())
            std::_Exit(1);
        ready.send('r');
        Msg m = body(*r);
        result.send(m);
        _exit(0);
    }
    return pid;
}

std::string bench_name(const char* what)
{
    return std::string("bench-") + what + "-" + std::to_string(getpid());
}

/// Samples per second with the consumer in a child process.
double ring_processes(uint64_t total, uint64_t chunk, uint64_t& sink)
{
    const std::string name = bench_name("xproc");
    auto r = ring<f32>::create_named(name, capacity);
    pipe_msg ready, result;
    pid_t child = fork_consumer<f32, uint64_t>(
        name, ready, result, [&](ring<f32>& c) { return drain(c, total, chunk); });
    char c;
    if (!ready.recv(c)) {
        std::fprintf(stderr, "consumer process did not start\n");
        std::exit(1);
    }
    const int64_t t0 = now_ns();
    produce(*r, total, chunk);
    uint64_t x = 0;
    const bool ok = result.recv(x); // the consumer has read the last sample
    const int64_t t1 = now_ns();
    waitpid(child, nullptr, 0);
    if (!ok) {
        std::fprintf(stderr, "consumer process failed\n");
        std::exit(1);
    }
    sink ^= x;
    return double(total) * 1e9 / double(t1 - t0);
}

struct percentiles {
    double p50, p99;
};

percentiles latency_processes(int samples)
{
    const std::string name = bench_name("lat");
    auto r = ring<f64>::create_named(name, 1);
    pipe_msg ready, result;
    pid_t child = fork_consumer<f64, percentiles>(name, ready, result, [&](ring<f64>& c) {
        auto ns = latency_consumer(c, samples);
        return percentiles { percentile_us(ns, 0.5), percentile_us(ns, 0.99) };
    });
    char c;
    percentiles p { 0, 0 };
    if (ready.recv(c)) {
        latency_producer(*r, samples);
        result.recv(p);
    }
    waitpid(child, nullptr, 0);
    return p;
}

percentiles latency_threads(int samples)
{
    ring<f64> r(1);
    std::vector<int64_t> ns;
    std::thread consumer([&] { ns = latency_consumer(r, samples); });
    latency_producer(r, samples);
    consumer.join();
    return { percentile_us(ns, 0.5), percentile_us(ns, 0.99) };
}

} // namespace

int main(int argc, char** argv)
{
    const bool quick = has_flag(argc, argv, "--quick");
    const uint64_t total = quick ? (uint64_t(1) << 23) : (uint64_t(1) << 26);
    const int reps = quick ? 1 : 3;
    const int lat_samples = quick ? 300 : 3000;
    uint64_t sink = 0;

    std::printf("bench_xproc: ring of %llu f32, %llu samples per figure, Msamples/s "
                "(best of %d)\n",
                (unsigned long long)capacity,
                (unsigned long long)total,
                reps);
    std::printf("%6s %12s %12s %12s\n", "chunk", "threads", "processes", "proc/thread");
    for (uint64_t chunk : { 1024, 8192 }) {
        double tt = 0, pp = 0;
        for (int rep = 0; rep < reps; ++rep) { // best of: the machine is shared
            ring<f32> r(capacity);
            tt = std::max(tt, ring_threads(r, total, chunk, sink));
            pp = std::max(pp, ring_processes(total, chunk, sink));
        }
        std::printf("%6llu %12.1f %12.1f %11.2fx\n",
                    (unsigned long long)chunk,
                    tt / 1e6,
                    pp / 1e6,
                    pp / tt);
        std::fflush(stdout);
    }
    std::printf("target: processes >= 0.9x threads\n\n");

    const percentiles t = latency_threads(lat_samples),
                      p = latency_processes(lat_samples);
    std::printf("wake-up latency of a parked consumer, %d samples, us\n", lat_samples);
    std::printf("%-12s %8s %8s\n", "", "p50", "p99");
    std::printf("%-12s %8.1f %8.1f\n", "threads", t.p50, t.p99);
    std::printf("%-12s %8.1f %8.1f\n", "processes", p.p50, p.p99);
    std::printf("(checksum %llx)\n", (unsigned long long)sink);
    return 0;
}
