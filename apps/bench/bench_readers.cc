/* bench_readers: one producer and 1, 2 or 4 tethered readers, each reader a
 * process of its own that attaches by name and reads every sample, chunk
 * 8192 f32. Prints each reader's rate and its ratio to the one-reader rate
 * measured in the same run, then the producer's rate with and without an
 * extra untethered reader that sleeps 100 ms per chunk (it must not hold the
 * producer back). Configurations are interleaved, repeat after repeat, and
 * the median of the repeats is printed: the machine is shared.
 *
 *   bench_readers [--quick]
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
constexpr uint64_t chunk = 8192;

/// One pipe per child: it writes 'r' once its reader is claimed, then its
/// result (samples per second).
struct child {
    pid_t pid = -1;
    int fd = -1;
};

/// CPU time of this process (user + system), in ns.
int64_t cpu_ns()
{
    timespec ts {};
    clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &ts);
    return int64_t(ts.tv_sec) * 1000000000 + ts.tv_nsec;
}

child fork_reader(const std::string& name,
                  const std::string& reader,
                  bool tethered,
                  uint64_t total,
                  int sleep_ms)
{
    int p[2];
    if (pipe(p) != 0) {
        std::perror("pipe");
        std::exit(1);
    }
    const pid_t pid = fork();
    if (pid < 0) {
        std::perror("fork");
        std::exit(1);
    }
    if (pid == 0) {
        ::close(p[0]);
        auto r = ring<f32>::attach(name);
        if (!reader.empty())
            r->claim_reader(reader, tethered);
        else if (!r->claim_reader())
            _exit(1);
        if (::write(p[1], "r", 1) != 1)
            _exit(2);
        uint64_t x = 0, got = 0;
        int64_t t0 = 0, c0 = 0;
        for (;;) {
            auto v = r->wait(chunk);
            if (!v)
                break; // end of stream
            if (t0 == 0) {
                t0 = now_ns();
                c0 = cpu_ns();
            }
            x ^= touch(v.data, chunk);
            if (sleep_ms)
                std::this_thread::sleep_for(std::chrono::milliseconds(sleep_ms));
            (void)r->consume_checked(chunk);
            got += chunk;
            if (sleep_ms && r->closed())
                break; // the sleeper only has to be there while the producer runs
            if (tethered && got == total)
                break;
        }
        const double rate =
            got > chunk && t0 ? double(got - chunk) * 1e9 / double(now_ns() - t0) : 0.0;
        const double cpu =
            got > chunk ? double(cpu_ns() - c0) / double(got - chunk) : 0.0;
        const double msg[3] = { rate, cpu, double(x & 1) };
        if (::write(p[1], msg, sizeof msg) != ssize_t(sizeof msg))
            _exit(2);
        _exit(0);
    }
    ::close(p[1]);
    return { pid, p[0] };
}

bool read_exact(int fd, void* buf, size_t n)
{
    pollfd p { fd, POLLIN, 0 };
    return poll(&p, 1, 120000) == 1 && ::read(fd, buf, n) == ssize_t(n);
}

struct result {
    double producer = 0; ///< samples per second written
    std::vector<double> readers; ///< each tethered reader's rate
    std::vector<double> cpu; ///< each tethered reader's CPU ns per sample
};

/// One run: `tethered` reader processes (the first is the default reader),
/// plus an untethered sleeper if asked.
result run(int tethered, bool sleeper, uint64_t total)
{
    const std::string name =
        "bench-readers-" + std::to_string(getpid()) + "-" + std::to_string(now_ns());
    auto r = ring<f32>::create_named(name, capacity);
    std::vector<child> kids;
    for (int i = 0; i < tethered; ++i)
        kids.push_back(
            fork_reader(name, i == 0 ? "" : "r" + std::to_string(i), true, total, 0));
    if (sleeper)
        kids.push_back(fork_reader(name, "sleeper", false, total, 100));
    for (const child& k : kids) {
        char c;
        if (!read_exact(k.fd, &c, 1)) {
            std::fprintf(stderr, "a reader process did not start\n");
            std::exit(1);
        }
    }
    result res;
    const int64_t t0 = now_ns();
    if (!produce(*r, total, chunk)) {
        std::fprintf(stderr, "producer failed\n");
        std::exit(1);
    }
    res.producer = double(total) * 1e9 / double(now_ns() - t0);
    for (size_t i = 0; i < kids.size(); ++i) {
        double msg[3];
        if (!read_exact(kids[i].fd, msg, sizeof msg)) {
            std::fprintf(stderr, "a reader process failed\n");
            std::exit(1);
        }
        if (int(i) < tethered) {
            res.readers.push_back(msg[0]);
            res.cpu.push_back(msg[1]);
        }
        ::close(kids[i].fd);
        waitpid(kids[i].pid, nullptr, 0);
    }
    return res;
}

double median(std::vector<double> v)
{
    std::sort(v.begin(), v.end());
    return v.empty() ? 0 : v[v.size() / 2];
}

double mean(const std::vector<double>& v)
{
    double s = 0;
    for (double x : v)
        s += x;
    return v.empty() ? 0 : s / double(v.size());
}

} // namespace

int main(int argc, char** argv)
{
    const bool quick = has_flag(argc, argv, "--quick");
    const uint64_t total = quick ? (uint64_t(1) << 22) : (uint64_t(1) << 25);
    const int reps = quick ? 1 : 5;

    // Interleaved: every repeat runs every configuration once.
    std::vector<double> per_reader[5]; // index: number of tethered readers
    std::vector<double> cpu[5];
    std::vector<double> prod_alone, prod_sleeper;
    for (int rep = 0; rep < reps; ++rep) {
        for (int n : { 1, 2, 4 }) {
            const result res = run(n, false, total);
            per_reader[n].push_back(mean(res.readers));
            cpu[n].push_back(mean(res.cpu));
            if (n == 1)
                prod_alone.push_back(res.producer);
        }
        prod_sleeper.push_back(run(1, true, total).producer);
    }

    std::printf("bench_readers: ring of %llu f32, chunk %llu, %llu samples per run, "
                "median of %d interleaved repeats, Msamples/s\n",
                (unsigned long long)capacity,
                (unsigned long long)chunk,
                (unsigned long long)total,
                reps);
    const double one = median(per_reader[1]);
    std::printf("%-30s %10s %8s %14s\n",
                "tethered readers (processes)",
                "per reader",
                "ratio",
                "CPU ns/sample");
    for (int n : { 1, 2, 4 }) {
        const double m = median(per_reader[n]);
        std::printf("%-30d %10.1f %7.2fx %14.2f\n", n, m / 1e6, m / one, median(cpu[n]));
    }
    std::printf("target: each reader at 4 readers >= 0.8x the one-reader rate (%ld CPUs "
                "here: with more reader processes than CPUs, the wall rate follows the "
                "CPU share while CPU ns/sample shows each reader's own cost)\n\n",
                sysconf(_SC_NPROCESSORS_ONLN));
    const double a = median(prod_alone), s = median(prod_sleeper);
    std::printf("%-34s %10s %10s\n", "producer, one tethered reader", "rate", "ratio");
    std::printf("%-34s %10.1f %9.2fx\n", "alone", a / 1e6, 1.0);
    std::printf("%-34s %10.1f %9.2fx\n", "+ untethered reader sleeping", s / 1e6, s / a);
    std::printf("target: with the sleeper >= 0.95x\n");
    return 0;
}
