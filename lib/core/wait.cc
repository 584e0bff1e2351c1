/* -*- c++ -*- */
/*
 * The one place that waits and wakes: spin, then park on a futex word in the
 * shared control block; peer identity and liveness; role claims.
 * SPDX-License-Identifier: GPL-3.0-or-later
 *
 * The futex words live in a MAP_SHARED mapping and use the shared (not
 * FUTEX_PRIVATE) operations, so a producer in one process wakes a consumer in
 * another. Every park is bounded by a slice (100 ms): after each slice the
 * waiter re-checks the peer's health and its own deadline, so a dead peer is
 * noticed and nothing sleeps forever on a wake that will never come.
 */
#include <doppler/ring.hpp>

#include <linux/futex.h>
#include <signal.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

#include <chrono>
#include <climits>
#include <cstdio>
#include <string>

#if defined(__x86_64__) || defined(__i386__)
#include <immintrin.h>
#define DOPPLER_PAUSE() _mm_pause()
#elif defined(__aarch64__)
#define DOPPLER_PAUSE() asm volatile("yield")
#else
#define DOPPLER_PAUSE() ((void)0)
#endif

namespace doppler {
namespace detail {

namespace {

std::atomic<park_hook_fn> park_hook { nullptr }; // see set_park_hook

constexpr int64_t slice_ns = 100 * 1000 * 1000; // longest single park
// A short spin (about 1-2 us of pause) catches a streaming peer's next
// commit without a futex round trip. Longer spins, and sched_yield() after
// them, were measured to hurt: a parked consumer's wake-up p50 went from
// ~8 us (no spin) to ~11 us (64), ~14 us (128), ~20 us (512 + 4 yields)
// on a 2-vCPU KVM guest, and a yield on a loaded machine can give the CPU
// away for a whole time slice while the data is already there.
constexpr int spin_iterations = 64;
constexpr uint64_t pid_mask = (uint64_t(1) << 22) - 1;

/// Process start time (ticks since boot) and whether it is still running,
/// from /proc/PID/stat. False if the process is gone or a zombie.
bool proc_start(int pid, uint64_t& start) noexcept
{
    char path[64];
    std::snprintf(path, sizeof path, "/proc/%d/stat", pid);
    FILE* f = std::fopen(path, "re");
    if (!f)
        return false;
    char buf[1024];
    size_t n = std::fread(buf, 1, sizeof buf - 1, f);
    std::fclose(f);
    buf[n] = '\0';
    // comm (field 2) may contain spaces and parentheses: parse after the last ')'.
    char* p = std::strrchr(buf, ')');
    if (!p)
        return false;
    p += 2; // field 3: state
    const char state = *p;
    if (state == 'Z' || state == 'X' || state == 'x')
        return false;
    for (int field = 3; field < 22 && *p; ++p)
        if (*p == ' ')
            ++field;
    start = std::strtoull(p, nullptr, 10);
    return true;
}

/// FUTEX_WAIT on `word` while it holds `expect`, for at most ns. True if the
/// time ran out (no wake came); false if woken, interrupted, or `word` had
/// already changed.
bool futex_wait(std::atomic<uint32_t>& word, uint32_t expect, int64_t ns) noexcept
{
    timespec ts { time_t(ns / 1000000000), long(ns % 1000000000) };
    const long r = syscall(SYS_futex,
                           reinterpret_cast<uint32_t*>(&word),
                           FUTEX_WAIT,
                           expect,
                           &ts,
                           nullptr,
                           0);
    return r != 0 && errno == ETIMEDOUT;
}

/// A park slice expired and the waiter's condition is met. Either the other
/// side is between publishing and waking (it clears `parked`, then wakes), or
/// it never will: a lost wake-up. Give it one more slice to do its part; if
/// `parked` is still set after that and the other side is alive (one killed
/// between publishing and waking is not a protocol fault), count it in
/// `missed`. Costs nothing unless a wake really was lost.
void note_if_missed(std::atomic<uint32_t>& parked,
                    std::atomic<peer_id>& peer,
                    std::atomic<uint64_t>& missed) noexcept
{
    if (parked.load(std::memory_order_seq_cst) == 0)
        return; // the wake came, just after the slice ran out
    futex_wait(parked, 1, slice_ns);
    if (parked.load(std::memory_order_seq_cst) != 0 &&
        detail::peer_alive(peer.load(std::memory_order_acquire)))
        missed.fetch_add(1, std::memory_order_relaxed); // a statistic
}

/// Spin briefly while `ready()` is false. True if it became ready.
template <class F>
bool spin(F ready) noexcept
{
    for (int i = 0; i < spin_iterations; ++i) {
        if (ready())
            return true;
        DOPPLER_PAUSE();
    }
    return ready();
}

/// The park loop shared by both sides. `index` is the other side's index
/// (the one we wait to reach `need`), `parked`/`wake_at` our wake words,
/// `peer` the other side's role, `done` reports end of stream (consumer only),
/// `missed` counts lost wake-ups (see note_if_missed), `sane(seen)` says
/// whether the index seen is possible at all: an impossible one is
/// status::corrupt at once, never a state to wait out. Every path out of the
/// loop is bounded by the deadline, whatever the shared words say.
template <class Done, class Sane>
status park(bool consumer,
            std::atomic<uint64_t>& index,
            std::atomic<uint32_t>& parked,
            std::atomic<uint64_t>& wake_at,
            std::atomic<peer_id>& peer,
            std::atomic<uint64_t>& missed,
            uint64_t need,
            int64_t timeout_ns,
            uint64_t& seen,
            Done done,
            Sane sane) noexcept
{
    if (spin([&] {
            seen = index.load(std::memory_order_acquire);
            return !sane(seen) || seen >= need || done();
        })) {
        if (!sane(seen))
            return status::corrupt;
        if (seen >= need)
            return status::ok;
    }
    const int64_t deadline = timeout_ns < 0 ? INT64_MAX : now_ns() + timeout_ns;
    for (;;) {
        wake_at.store(need, std::memory_order_relaxed);
        // seq_cst: announce, then re-check (Dekker with the other side's
        // store-index-then-load-parked).
        parked.store(1, std::memory_order_seq_cst);
        if (const park_hook_fn hook = park_hook.load(std::memory_order_relaxed))
            hook(); // tests only: hold the waiter between announcing and re-checking
        seen = index.load(std::memory_order_seq_cst);
        if (!sane(seen)) {
            parked.store(0, std::memory_order_relaxed);
            return status::corrupt;
        }
        if (seen >= need) {
            parked.store(0, std::memory_order_relaxed);
            return status::ok;
        }
        if (done()) {
            parked.store(0, std::memory_order_relaxed);
            seen = index.load(
                std::memory_order_acquire); // final index, written before close
            if (!sane(seen))
                return status::corrupt;
            return seen >= need ? status::ok : status::end_of_stream;
        }
        const int64_t left = deadline - now_ns();
        if (left <= 0) {
            parked.store(0, std::memory_order_relaxed);
            return detail::peer_alive(peer.load(std::memory_order_acquire))
                ? status::timeout
                : status::broken;
        }
        const bool expired = futex_wait(parked, 1, left < slice_ns ? left : slice_ns);
        if (index.load(std::memory_order_acquire) >= need || done()) {
            // Satisfied: the top of the loop returns. Satisfied without a
            // wake (the slice ran out) means the other side did not wake us.
            if (expired)
                note_if_missed(parked, peer, missed);
            continue;
        }
        // After each slice: is the other side still there?
        if (!detail::peer_alive(peer.load(std::memory_order_acquire))) {
            // Consumer waiting on a dead producer: broken now. Producer waiting
            // on a dead consumer: a new consumer may still attach, so only the
            // deadline turns that into `broken` (above).
            if (consumer) {
                parked.store(0, std::memory_order_relaxed);
                seen = index.load(std::memory_order_acquire);
                if (!sane(seen))
                    return status::corrupt;
                return seen >= need ? status::ok : status::broken;
            }
        }
    }
}

} // namespace

void set_park_hook(park_hook_fn hook) noexcept
{
    park_hook.store(hook, std::memory_order_relaxed);
}

int64_t now_ns() noexcept
{
    timespec ts {};
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return int64_t(ts.tv_sec) * 1000000000 + ts.tv_nsec;
}

peer_id self_id() noexcept
{
    // Recomputed after fork (the child has another pid).
    static std::atomic<uint64_t> cached { 0 };
    const int pid = int(getpid());
    uint64_t id = cached.load(std::memory_order_relaxed);
    if (id != 0 && int(id & pid_mask) == pid)
        return id;
    uint64_t start = 0;
    proc_start(pid, start);
    id = (start << 22) | (uint64_t(pid) & pid_mask);
    cached.store(id, std::memory_order_relaxed);
    return id;
}

bool peer_alive(peer_id id) noexcept
{
    if (id == 0)
        return true;
    const int pid = int(id & pid_mask);
    if (kill(pid, 0) != 0 && errno == ESRCH)
        return false;
    uint64_t start = 0;
    if (!proc_start(pid, start))
        return false;
    return start == (id >> 22); // same pid, other start time: pid was reused
}

status consumer_park(control* c,
                     uint64_t own,
                     uint64_t need,
                     uint64_t cap,
                     int64_t timeout_ns,
                     uint64_t& write_seen) noexcept
{
    return park(
        true,
        c->write_idx,
        c->consumer_parked,
        c->consumer_wake_at,
        c->producer,
        c->missed_wakes,
        need,
        timeout_ns,
        write_seen,
        [c] { return c->closed.load(std::memory_order_seq_cst) != 0; },
        // The write index is never behind our read position, nor more than
        // the capacity ahead of it.
        [own, cap](uint64_t w) { return w - own <= cap; });
}

status producer_park(control* c,
                     uint64_t own,
                     uint64_t need,
                     uint64_t cap,
                     int64_t timeout_ns,
                     uint64_t& read_seen) noexcept
{
    return park(
        false,
        c->read_idx,
        c->producer_parked,
        c->producer_wake_at,
        c->consumer,
        c->missed_wakes,
        need,
        timeout_ns,
        read_seen,
        [] { return false; },
        // The read index is never ahead of our write position, nor more than
        // the capacity behind it.
        [own, cap](uint64_t r) { return own - r <= cap; });
}

std::string describe_indices(bool producer, uint64_t own, uint64_t other, uint64_t cap)
{
    const uint64_t w = producer ? own : other, r = producer ? other : own;
    const std::string why = r > w ? "its read index (" + std::to_string(r) +
            ") is ahead of its write index (" + std::to_string(w) + ")"
                                  : "its write index (" + std::to_string(w) + ") is " +
            std::to_string(w - r) + " samples ahead of its read index (" +
            std::to_string(r) + "), more than the capacity (" + std::to_string(cap) + ")";
    return why +
        "; something other than its one producer and one consumer wrote "
        "into its header: stop using this ring and create a new one";
}

void wake(std::atomic<uint32_t>& word) noexcept
{
    if (word.exchange(0, std::memory_order_acq_rel))
        syscall(SYS_futex,
                reinterpret_cast<uint32_t*>(&word),
                FUTEX_WAKE,
                INT_MAX,
                nullptr,
                nullptr,
                0);
}

bool claim(std::atomic<peer_id>& role, peer_id& holder) noexcept
{
    const peer_id me = self_id();
    peer_id cur = role.load(std::memory_order_acquire);
    for (;;) {
        if (cur == me)
            return true;
        if (cur != 0 && peer_alive(cur)) {
            holder = cur;
            return false;
        }
        // Free, or left behind by a dead process: take it.
        if (role.compare_exchange_weak(
                cur, me, std::memory_order_acq_rel, std::memory_order_acquire))
            return true;
    }
}

} // namespace detail

template class ring<f32>;
template class ring<f64>;
template class ring<i16>;

} // namespace doppler
