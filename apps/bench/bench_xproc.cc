/* bench_xproc: a named ring between two processes (the consumer is a forked
 * child that attaches by name) against the same ring between two threads of
 * one process: throughput for chunks of 1024 and 8192 f32 samples; then the
 * wake-up latency of a consumer in another process (p50, p99, p99.9) for each
 * wait strategy and handshake, interleaved, with the CPU the waiting process
 * spent; then the CPU of a consumer waiting on an idle ring.
 *
 *   bench_xproc [--quick] [--latency]
 *
 * Producer and consumer run on two different CPUs (bench_pin.h).
 * SPDX-License-Identifier: GPL-3.0-or-later */
#include "bench_util.hpp"

#include <poll.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cstdlib>
#include <memory>
#include <string>

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
        bench_pin(1);
        auto r = ring<T>::attach(name);
        if (!r->claim_reader())
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
    bench_pin(0);
    const int64_t t0 = now_ns();
    produce(*r, total, chunk);
    uint64_t x = 0;
    const bool ok = result.recv(x); // the consumer has read the last sample
    const int64_t t1 = now_ns();
    bench_unpin();
    waitpid(child, nullptr, 0);
    if (!ok) {
        std::fprintf(stderr, "consumer process failed\n");
        std::exit(1);
    }
    sink ^= x;
    return double(total) * 1e9 / double(t1 - t0);
}

/// What a consumer process measured: its wake-up latencies, and the CPU it
/// spent and the times it was preempted while measuring them.
struct latency_run {
    std::vector<int64_t> ns;
    double cpu_s = 0, wall_s = 0;
    long preempted = 0;
};

double cpu_seconds()
{
    timespec ts {};
    clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &ts);
    return double(ts.tv_sec) + double(ts.tv_nsec) / 1e9;
}

long preemptions()
{
    rusage u {};
    getrusage(RUSAGE_SELF, &u);
    return u.ru_nivcsw;
}

/// A one-page f64 ring named `name`, made with handshake hs (the process's
/// default handshake is left as it was).
std::unique_ptr<ring<f64>> one_page_ring(const std::string& name, doppler::handshake hs)
{
    const doppler::handshake was = doppler::default_handshake();
    doppler::set_default_handshake(hs);
    auto r = ring<f64>::create_named(name, 1);
    doppler::set_default_handshake(was);
    return r;
}

/// In a forked child: this process pinned to CPU 1, ring `name` attached
/// with wait strategy `how` (its role is claimed by its first wait).
std::unique_ptr<ring<f64>> pinned_consumer(const std::string& name,
                                           doppler::wait_strategy how)
{
    bench_pin(1);
    auto c = ring<f64>::attach(name);
    c->set_wait_strategy(how);
    return c;
}

pid_t fork_or_exit()
{
    const pid_t child = fork();
    if (child < 0) {
        std::perror("fork");
        std::exit(1);
    }
    return child;
}

/// The wake-up latency across processes: `samples` stamps, the consumer (a
/// forked child on the other CPU) waiting with `how`, on a ring made with
/// handshake `hs`. The child sends back its latencies (a count, then the
/// values) and its CPU time.
latency_run
latency_processes(int samples, doppler::handshake hs, doppler::wait_strategy how)
{
    const std::string name = bench_name("lat");
    auto r = one_page_ring(name, hs);
    pipe_msg ready, result;
    const pid_t child = fork_or_exit();
    if (child == 0) {
        auto c = pinned_consumer(name, how);
        if (!c->claim_reader())
            std::_Exit(1);
        ready.send('r');
        const double cpu0 = cpu_seconds();
        const int64_t t0 = now_ns();
        const long pre0 = preemptions();
        const auto ns = latency_consumer(*c, samples);
        const double stats[3] = { cpu_seconds() - cpu0,
                                  double(now_ns() - t0) / 1e9,
                                  double(preemptions() - pre0) };
        const uint64_t n = ns.size();
        result.send(n);
        for (int64_t v : ns)
            result.send(v);
        for (double v : stats)
            result.send(v);
        _exit(0);
    }
    latency_run run;
    char c;
    if (ready.recv(c)) {
        bench_pin(0);
        latency_producer(*r, samples);
        bench_unpin();
        uint64_t n = 0;
        if (result.recv(n)) {
            run.ns.resize(n);
            for (auto& v : run.ns)
                result.recv(v);
            double stats[3] = {};
            for (auto& v : stats)
                result.recv(v);
            run.cpu_s = stats[0];
            run.wall_s = stats[1];
            run.preempted = long(stats[2]);
        }
    }
    waitpid(child, nullptr, 0);
    return run;
}

/// CPU share of a consumer process that waits `seconds` on a ring nobody
/// writes (the wait ends by its timeout). Set up as latency_processes() is:
/// the same ring, pipes and pinned child, measuring something else.
double idle_cpu(double seconds, doppler::handshake hs, doppler::wait_strategy how)
{
    const std::string name = bench_name("idle");
    auto r = one_page_ring(name, hs);
    pipe_msg ready, result;
    const pid_t child = fork_or_exit();
    if (child == 0) {
        auto c = pinned_consumer(name, how);
        ready.send('r');
        const double cpu0 = cpu_seconds();
        const int64_t t0 = now_ns();
        (void)c->wait(1, int64_t(seconds * 1e9));
        const double share = (cpu_seconds() - cpu0) / (double(now_ns() - t0) / 1e9);
        result.send(share);
        _exit(0);
    }
    char c;
    double share = -1;
    if (ready.recv(c))
        result.recv(share);
    waitpid(child, nullptr, 0);
    return share;
}

} // namespace

int main(int argc, char** argv)
{
    const bool quick = has_flag(argc, argv, "--quick");
    const uint64_t total = quick ? (uint64_t(1) << 23) : (uint64_t(1) << 26);
    const int reps = quick ? 1 : 3;
    const int lat_samples = quick ? 1000 : 10000;
    const bool latency_only = has_flag(argc, argv, "--latency");
    uint64_t sink = 0;

    if (!latency_only) {
        std::printf("bench_xproc: ring of %llu f32, %llu samples per figure, Msamples/s "
                    "(best of %d)\n",
                    (unsigned long long)capacity,
                    (unsigned long long)total,
                    reps);
        std::printf(
            "%6s %12s %12s %12s\n", "chunk", "threads", "processes", "proc/thread");
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
    }

    // Interleaved rounds: a burst of load elsewhere hits every row alike.
    using doppler::handshake;
    using doppler::wait_strategy;
    const handshake fast =
        doppler::membarrier_available() ? handshake::membarrier : handshake::seq_cst;
    struct row {
        const char* name;
        handshake hs;
        wait_strategy how;
        latency_run all;
    };
    row rows[] = {
        { "park, seq_cst", handshake::seq_cst, wait_strategy::park, {} },
        { "park, membarrier", fast, wait_strategy::park, {} },
        { "poll, membarrier", fast, wait_strategy::poll, {} },
    };
    const int rounds = 5;
    for (int round = 0; round < rounds; ++round)
        for (row& w : rows) {
            latency_run got = latency_processes(lat_samples / rounds, w.hs, w.how);
            w.all.ns.insert(w.all.ns.end(), got.ns.begin(), got.ns.end());
            w.all.cpu_s += got.cpu_s;
            w.all.wall_s += got.wall_s;
            w.all.preempted += got.preempted;
        }
    std::printf("wake-up latency across processes (write to wait() return, a stamp every "
                "%d us), %d samples each, us\n",
                latency_gap_us,
                lat_samples);
    std::printf("%-18s %8s %8s %8s %9s %10s\n",
                "consumer",
                "p50",
                "p99",
                "p99.9",
                "CPU",
                "preempted");
    for (const row& w : rows)
        std::printf("%-18s %8.1f %8.1f %8.1f %8.1f%% %10ld\n",
                    w.name,
                    percentile_us(w.all.ns, 0.5),
                    percentile_us(w.all.ns, 0.99),
                    percentile_us(w.all.ns, 0.999),
                    100.0 * w.all.cpu_s / std::max(w.all.wall_s, 1e-9),
                    w.all.preempted);
    std::printf("targets: poll p50 <= 1 us, p99 <= 5 us; park CPU unchanged\n\n");

    const double idle_s = quick ? 0.3 : 2.0;
    std::printf("CPU of a consumer process waiting %.1f s on an idle ring\n", idle_s);
    for (const row& w : rows)
        std::printf("%-18s %7.2f%%\n", w.name, 100.0 * idle_cpu(idle_s, w.hs, w.how));
    std::printf("target: park under 1%%\n");
    std::printf("(checksum %llx)\n", (unsigned long long)sink);
    return 0;
}
