/* -*- c++ -*- */
/*
 * The one place that waits and wakes: spin, then park on a futex word in the
 * shared control block (or busy-poll); the membarrier handshake's barrier.
 * Who is alive and who holds a role is peers.cc.
 * SPDX-License-Identifier: GPL-3.0-or-later
 *
 * The futex words live in a MAP_SHARED mapping and use the shared (not
 * FUTEX_PRIVATE) operations, so a producer in one process wakes a reader in
 * another. Every park is bounded by a slice (100 ms): after each slice the
 * waiter re-checks the peer's health and its own deadline, so a dead peer is
 * noticed and nothing sleeps forever on a wake that will never come.
 *
 * The caller's interrupt (wait_opts::stop: Ctrl-C in Python, a block's stop,
 * the bridge's stop flag) is asked here and nowhere else: before each park,
 * after each slice (a slice is then at most interrupt_check_ns) and, when
 * busy-polling, every interrupt_check_ns. A wait that does not park never
 * asks it. Adapters wait once, with their interrupt, instead of in slices.
 *
 * A park is: announce (the parked bit / word), run the test hook, issue the
 * barrier (membarrier handshake only), re-check the other side's index,
 * sleep. Why that order and that barrier: see hot.h.
 */
#include <doppler/ring.hpp>

#include <linux/futex.h>
#include <linux/membarrier.h>
#include <signal.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

#include <algorithm>
#include <climits>
#include <cstdio>
#include <cstdlib>
#include <cstring>
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
std::atomic<park_hook_fn> wake_hook { nullptr }; // see set_wake_hook
std::atomic<uint32_t> spin_ceiling { 0 }; // see set_spin_ceiling (0: spin_max)
std::atomic<uint64_t> barriers { 0 }; // process_barrier() calls (a statistic)

long membarrier(int cmd) noexcept
{
    return syscall(SYS_membarrier, cmd, 0u, 0);
}

#if defined(__SANITIZE_THREAD__)
constexpr bool tsan = true;
#elif defined(__has_feature)
#if __has_feature(thread_sanitizer)
constexpr bool tsan = true;
#else
constexpr bool tsan = false;
#endif
#else
constexpr bool tsan = false;
#endif

/// The process default (handshake + 1; 0: not decided yet).
std::atomic<int> default_hs { 0 };

/// Tests only (set_park_hook, set_wake_hook): run the hook if one is set.
void run_hook(const std::atomic<park_hook_fn>& which) noexcept
{
    if (const park_hook_fn hook = which.load(std::memory_order_relaxed))
        hook();
}

constexpr int64_t slice_ns = 100 * 1000 * 1000; // longest single park
// A short spin (about 1-2 us of pause) catches a streaming peer's next
// commit without a futex round trip. A fixed longer spin, and sched_yield()
// after it, were measured to hurt: a parked consumer's wake-up p50 went
// from ~8 us (no spin) to ~11 us (64), ~14 us (128), ~20 us (512 + 4
// yields) on a 2-vCPU KVM guest, and a yield on a loaded machine can give
// the CPU away for a whole time slice while the data is already there.
// But a park is dear while the peer streams (two syscalls, the membarrier
// handshake's IPIs, which interrupt the peer too, and a wake-up), so the
// spin adapts, per handle and side (adapt()): it starts at spin_min and
// doubles after a park that the peer ended almost at once (a longer spin
// would have caught it), up to spin_max; it halves after a park that lasted
// (an idle peer), back to spin_min, so an idle wait still parks within
// about a microsecond and costs no CPU. spin_max is about what a park
// costs in CPU time (measured at 30 us a cycle on a 2-vCPU KVM guest):
// spinning longer never pays, and at 80 us a consumer of a steady
// 100 Msamples/s stream in views of 8192 (one every 82 us) spun away most
// of a core between views.
constexpr uint32_t spin_min = spin_floor; // pauses (about 20 ns each on current x86)
constexpr uint32_t spin_max = spin_default_ceiling; // about 20 us
// A park the peer ended within this long would have been caught by spin_max.
constexpr int64_t short_park_ns = 25 * 1000;
// Busy-poll: the clock, the stream's end and liveness every this many pauses
// (about a microsecond), the write index at every one.
constexpr uint32_t poll_check = 64;
// A park whose barrier the kernel refused cannot trust the other side's
// wake: it sleeps at most this long at a time.
constexpr int64_t unfenced_slice_ns = 1000 * 1000;
// How long a waiter whose slice ran out with its condition met waits for the
// late wake before counting it as missed (note_if_missed).
constexpr int64_t missed_wait_ns = 1000 * 1000 * 1000;

/// The longest sleep of one park: a slice, shorter when the caller has an
/// interrupt to be asked (at least every interrupt_check_ns), much shorter
/// when the barrier failed and a wake may be missed.
int64_t park_slice(const wait_opts& how, bool fenced) noexcept
{
    if (!fenced)
        return unfenced_slice_ns;
    return how.stop ? std::min(slice_ns, interrupt_check_ns) : slice_ns;
}

/// A busy poll asks the caller's interrupt, if it has one, at most once per
/// interrupt_check_ns (`next_ask`, moved on when it asks). True: stop.
inline bool stop_due(const wait_opts& how, int64_t now, int64_t& next_ask)
{
    if (!how.stop || now < next_ask)
        return false;
    next_ask = now + interrupt_check_ns;
    return how.stop();
}

/// FUTEX_WAIT on `word` while it holds `expect`, for at most ns. True if the
/// time ran out (no wake came).
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

void futex_wake(std::atomic<uint32_t>& word) noexcept
{
    syscall(SYS_futex,
            reinterpret_cast<uint32_t*>(&word),
            FUTEX_WAKE,
            INT_MAX,
            nullptr,
            nullptr,
            0);
}

/// A slice expired although the waiter's condition holds: either the other
/// side is still between publishing and waking, or the wake was lost. A
/// peer merely late is seen waking within missed_wait_ns (a loaded machine,
/// or a hypervisor that takes a virtual CPU away, can hold a thread there
/// for a slice and more); a wake still missing then, from a live peer, is
/// counted (a peer killed between publishing and waking is not a protocol
/// fault).
void note_if_missed(std::atomic<uint32_t>& parked,
                    peer_id peer,
                    std::atomic<uint64_t>& missed) noexcept
{
    const int64_t end = now_ns() + missed_wait_ns;
    for (int64_t left = missed_wait_ns; parked.load(std::memory_order_seq_cst) != 0;
         left = end - now_ns()) {
        if (left <= 0) {
            if (peer_alive(peer))
                missed.fetch_add(1, std::memory_order_relaxed); // a statistic
            return;
        }
        futex_wait(parked, 1, std::min(left, slice_ns));
    }
}

/// Spin for `pauses` while `ready()` is false. True if it became ready.
template <class F>
bool spin(F ready, uint32_t pauses) noexcept
{
    for (uint32_t i = 0; i < pauses; ++i) {
        if (ready())
            return true;
        DOPPLER_PAUSE();
    }
    return ready();
}

/// The spin budget after a park: `quick` if the peer ended it almost at once
/// (or it never slept: the peer published right as the spin gave up).
void adapt(uint32_t& budget, bool quick) noexcept
{
    const uint32_t cap = spin_ceiling.load(std::memory_order_relaxed);
    const uint32_t most = cap ? std::max(cap, spin_min) : spin_max;
    budget = quick ? std::min(budget * 2, most) : std::max(budget / 2, spin_min);
    budget = std::min(budget, most);
}

} // namespace

void set_park_hook(park_hook_fn hook) noexcept
{
    park_hook.store(hook, std::memory_order_relaxed);
}

void set_wake_hook(park_hook_fn hook) noexcept
{
    wake_hook.store(hook, std::memory_order_relaxed);
}

void set_spin_ceiling(uint32_t pauses) noexcept
{
    spin_ceiling.store(pauses, std::memory_order_relaxed);
}

bool register_barrier() noexcept
{
    // Per process: the registration belongs to the address space, so a
    // forked child (another pid) registers itself, and exec starts afresh.
    // pid when registered, -pid when refused, 0 before the first try.
    static std::atomic<int> done { 0 };
    const int pid = int(getpid());
    const int was = done.load(std::memory_order_acquire);
    if (was == pid || was == -pid)
        return was == pid;
    const bool ok = membarrier(MEMBARRIER_CMD_REGISTER_GLOBAL_EXPEDITED) == 0;
    done.store(ok ? pid : -pid, std::memory_order_release);
    return ok;
}

bool process_barrier() noexcept
{
    barriers.fetch_add(1, std::memory_order_relaxed); // a statistic, for the tests
    // Membarrier handshake: see hot.h (why GLOBAL is the fallback too).
    return membarrier(MEMBARRIER_CMD_GLOBAL_EXPEDITED) == 0 ||
        membarrier(MEMBARRIER_CMD_GLOBAL) == 0;
}

uint64_t process_barriers() noexcept
{
    return barriers.load(std::memory_order_relaxed);
}

int64_t now_ns() noexcept
{
    timespec ts {};
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return int64_t(ts.tv_sec) * 1000000000 + ts.tv_nsec;
}

// ---------------------------------------------------------------------------
// parking
// ---------------------------------------------------------------------------

status reader_park(control* c,
                   uint32_t slot,
                   uint64_t s,
                   uint64_t own,
                   uint64_t need,
                   uint64_t cap,
                   bool tethered,
                   int64_t timeout_ns,
                   wait_opts how) noexcept
{
    slot &= max_readers - 1;
    reader_slot& me = c->readers[slot];
    const uint32_t bit = 1u << slot;
    // The write index is never behind the reader's position, nor (for a
    // tethered reader) more than the capacity ahead of it: anything else is
    // status::corrupt at once, never a state to wait out.
    const uint64_t most = tethered ? cap : uint64_t(1) << 63;
    auto sane = [&](uint64_t w) { return w - own <= most; };
    auto have = [&] { return c->write_idx.load(std::memory_order_acquire) >= need; };
    // The reader's stream has ended (a newer one started, or it was closed),
    // or it was closed with no producer left to record the end.
    auto done = [&]() -> status {
        // seq_cst: a new stream is announced like data (store, then load the mask).
        const uint64_t cs = c->stream.load(std::memory_order_seq_cst);
        if (cs > s)
            return status::end_of_stream;
        if (cs == s && c->closed.load(std::memory_order_seq_cst) != 0) {
            stream_info si;
            if (read_seam(c, s, si) && si.end != stream_open)
                return status::end_of_stream;
            if (!peer_alive(c->producer.load(std::memory_order_acquire)) ||
                c->producer.load(std::memory_order_acquire) == 0)
                return status::end_of_stream;
        }
        return status::ok;
    };
    // The producer of the reader's open stream died.
    auto dead = [&] {
        if (c->stream.load(std::memory_order_acquire) != s ||
            c->closed.load(std::memory_order_acquire) != 0)
            return false;
        const peer_id p = c->producer.load(std::memory_order_acquire);
        return p != 0 && !peer_alive(p);
    };
    const int64_t deadline = timeout_ns < 0 ? INT64_MAX : now_ns() + timeout_ns;
    if (how.poll) {
        // Busy-poll: this side never sleeps, but it is announced in the
        // mask (its futex word stays 0, so a publish wakes nobody), so that
        // a producer parked for its low water mark takes the room it needs
        // (producer_park). One load of write_idx per pause; what costs more
        // than a load (the stream's end, the clock, the producer's
        // liveness) is looked at every poll_check pauses, liveness once a
        // slice as a parked reader would.
        struct announced {
            control* c;
            uint32_t bit;
            ~announced() { c->parked_mask.fetch_and(~bit, std::memory_order_relaxed); }
        } const in_mask { c, bit };
        me.wake_at.store(need, std::memory_order_relaxed);
        c->parked_mask.fetch_or(bit, std::memory_order_seq_cst);
        wake_parked_producer(c);
        int64_t next_look = now_ns() + slice_ns;
        int64_t next_ask = now_ns() + interrupt_check_ns;
        for (uint32_t i = 1;; ++i) {
            const uint64_t w = c->write_idx.load(std::memory_order_acquire);
            if (!sane(w))
                return status::corrupt;
            if (w >= need)
                return status::ok;
            if (i % poll_check == 0) {
                const status d = done();
                if (d != status::ok)
                    return d;
                const int64_t now = now_ns();
                if (now >= deadline)
                    return dead() ? status::broken : status::timeout;
                if (now >= next_look) {
                    next_look = now + slice_ns;
                    if (dead())
                        return have() ? status::ok : status::broken;
                }
                if (stop_due(how, now, next_ask))
                    return status::interrupted;
            }
            DOPPLER_PAUSE();
        }
    }
    uint32_t fixed = spin_min;
    uint32_t& budget = how.spin ? *how.spin : fixed;
    if (spin(
            [&] {
                return !sane(c->write_idx.load(std::memory_order_acquire)) || have() ||
                    done() != status::ok;
            },
            budget))
        return sane(c->write_idx.load(std::memory_order_acquire)) ? status::ok
                                                                  : status::corrupt;
    const int64_t parked_at = now_ns();
    auto leave = [&] {
        me.parked.store(0, std::memory_order_relaxed);
        c->parked_mask.fetch_and(~bit, std::memory_order_relaxed);
    };
    for (;;) {
        // Before each park (the first, and after each slice): the caller's
        // interrupt.
        if (how.stop && how.stop()) {
            leave();
            adapt(budget, false);
            return status::interrupted;
        }
        me.wake_at.store(need, std::memory_order_relaxed);
        me.parked.store(1, std::memory_order_relaxed);
        // seq_cst: announce in the mask, then re-check (Dekker with the
        // producer's store-write_idx-then-load-mask).
        c->parked_mask.fetch_or(bit, std::memory_order_seq_cst);
        run_hook(park_hook);
        // Membarrier handshake: see hot.h. Refused: sleep in short slices.
        const bool fenced = !how.barrier || process_barrier();
        const uint64_t seen = c->write_idx.load(std::memory_order_seq_cst);
        const bool ready = seen >= need;
        if (!sane(seen)) {
            leave();
            return status::corrupt;
        }
        const status d = ready ? status::ok : done();
        if (ready || d != status::ok) {
            leave();
            adapt(budget, now_ns() - parked_at < short_park_ns);
            return d;
        }
        const int64_t left = deadline - now_ns();
        if (left <= 0) {
            leave();
            adapt(budget, false);
            return dead() ? status::broken : status::timeout;
        }
        // About to sleep: a producer parked for its low water mark may be
        // waiting for room that only this reader's consumption could bring.
        wake_parked_producer(c);
        const int64_t slice = park_slice(how, fenced);
        const bool expired = futex_wait(me.parked, 1, left < slice ? left : slice);
        if (have() || done() != status::ok) {
            // Satisfied without a wake (the slice ran out): the producer did
            // not wake us.
            if (expired && fenced)
                note_if_missed(me.parked,
                               c->producer.load(std::memory_order_acquire),
                               me.missed_wakes);
            leave();
            adapt(budget, now_ns() - parked_at < short_park_ns);
            return status::ok;
        }
        // After each slice: is the producer still there?
        if (dead()) {
            leave();
            return have() ? status::ok : status::broken;
        }
    }
}

status producer_park(control* c,
                     uint64_t w,
                     uint64_t capacity,
                     uint64_t need,
                     uint64_t want,
                     int64_t timeout_ns,
                     uint64_t& read_seen,
                     int64_t* dead_since,
                     bool watch_close,
                     wait_opts how) noexcept
{
    bool corrupt = false;
    uint64_t bad = 0;
    want = std::max(want, need);
    // The low water mark: room up to `want`, or up to `need` while a reader
    // is parked (it may wait for more samples than the ring holds now, which
    // only this room can bring). seq_cst: loaded after this side announced
    // itself (Dekker with reader_park's announce, then wake_parked_producer).
    auto enough = [&](uint64_t seen) {
        return seen >= want ||
            (seen >= need &&
             (c->parked_mask.load(std::memory_order_seq_cst) & 0xffffu) != 0);
    };
    // Room, or an impossible reader index (then read_seen is that index).
    // A read-only look while there is none (the spin runs it often); the
    // room it finds is then taken through producer_floor, the reload whose
    // result the producer may write up to (fenced: this side is parking).
    auto have = [&] {
        read_seen = min_tethered(c, w, capacity, &corrupt, &bad);
        if (!corrupt && !enough(read_seen))
            return false;
        read_seen = producer_floor(c, w, capacity, false, &corrupt, &bad);
        if (corrupt)
            read_seen = bad;
        return corrupt || enough(read_seen);
    };
    // The slowest tethered reader that holds us back is dead.
    auto blocked_by_dead = [&] {
        uint32_t m = c->tethered_mask.load(std::memory_order_acquire) & 0xffffu;
        for (; m; m &= m - 1) {
            const reader_slot& r = c->readers[__builtin_ctz(m)];
            if (r.read_idx.load(std::memory_order_acquire) >= need)
                continue;
            const peer_id h = r.holder.load(std::memory_order_acquire);
            if (h != 0 && !peer_alive(h))
                return true;
        }
        return false;
    };
    // Another handle asked for the end of the stream this producer writes
    // (close() by a non-producer): its writes end here, not at the next one.
    auto close_asked = [&] {
        return watch_close && c->closed.load(std::memory_order_seq_cst) != 0;
    };
    const int64_t deadline = timeout_ns < 0 ? INT64_MAX : now_ns() + timeout_ns;
    if (how.poll) {
        // Busy-poll, as in reader_park: never announced, never asleep; the
        // slots of readers dead past their grace are freed once a slice.
        int64_t next_look = now_ns() + slice_ns;
        int64_t next_ask = now_ns() + interrupt_check_ns;
        for (uint32_t i = 1;; ++i) {
            if (have())
                return corrupt ? status::corrupt : status::ok;
            if (i % poll_check == 0) {
                if (close_asked())
                    return status::end_of_stream;
                const int64_t now = now_ns();
                if (now >= deadline)
                    return blocked_by_dead() ? status::broken : status::timeout;
                if (now >= next_look) {
                    next_look = now + slice_ns;
                    reap_readers(c, dead_since);
                }
                if (stop_due(how, now, next_ask))
                    return status::interrupted;
            }
            DOPPLER_PAUSE();
        }
    }
    uint32_t fixed = spin_min;
    uint32_t& budget = how.spin ? *how.spin : fixed;
    if (spin(have, budget))
        return corrupt ? status::corrupt : status::ok;
    const int64_t parked_at = now_ns();
    for (;;) {
        // Before each park (the first, and after each slice): the caller's
        // interrupt.
        if (how.stop && how.stop()) {
            c->producer_parked.store(0, std::memory_order_relaxed);
            adapt(budget, false);
            return status::interrupted;
        }
        c->producer_wake_at.store(want, std::memory_order_relaxed);
        // seq_cst: announce, then re-check (Dekker with a reader's
        // store-read_idx-then-load-parked).
        c->producer_parked.store(1, std::memory_order_seq_cst);
        // Behind that full fence, wake any reader that the samples published
        // so far satisfy: one that announced itself as the last publish looked
        // at the mask, and whose barrier did not order that publish before
        // its own look (a membarrier that did not reach this thread: seen on
        // a virtualised kernel), would otherwise sleep out its slice while
        // both sides wait. Once per park, off the hot path.
        if (const uint32_t m = c->parked_mask.load(std::memory_order_seq_cst))
            wake_readers(c, m, w, false);
        run_hook(park_hook);
        // Membarrier handshake: as in reader_park, for the readers' consumes.
        const bool fenced = !how.barrier || process_barrier();
        if (have()) {
            c->producer_parked.store(0, std::memory_order_relaxed);
            adapt(budget, now_ns() - parked_at < short_park_ns);
            return corrupt ? status::corrupt : status::ok;
        }
        // After announcing: a close asked for before it is seen here, one
        // asked for after it wakes this side (ring<T>::close).
        if (close_asked()) {
            c->producer_parked.store(0, std::memory_order_relaxed);
            adapt(budget, false);
            return status::end_of_stream;
        }
        const int64_t left = deadline - now_ns();
        if (left <= 0) {
            c->producer_parked.store(0, std::memory_order_relaxed);
            adapt(budget, false);
            return blocked_by_dead() ? status::broken : status::timeout;
        }
        const int64_t slice = park_slice(how, fenced);
        const bool expired =
            futex_wait(c->producer_parked, 1, left < slice ? left : slice);
        if (have()) {
            if (expired && fenced && !corrupt)
                note_if_missed(c->producer_parked, self_id(), c->missed_wakes);
            c->producer_parked.store(0, std::memory_order_relaxed);
            adapt(budget, now_ns() - parked_at < short_park_ns);
            return corrupt ? status::corrupt : status::ok;
        }
        // After each slice: free the slots of readers dead past their grace.
        reap_readers(c, dead_since);
    }
}

std::string describe_indices(bool producer, uint64_t own, uint64_t other, uint64_t cap)
{
    const uint64_t w = producer ? own : other, r = producer ? other : own;
    const std::string scribbled = "; something other than its producer and readers "
                                  "wrote into its header: stop using this ring and "
                                  "create a new one";
    if (r > w)
        return "its read index (" + std::to_string(r) +
            ") is ahead of its write index (" + std::to_string(w) + ")" + scribbled;
    if (w - r > cap)
        return "its write index (" + std::to_string(w) + ") is " + std::to_string(w - r) +
            " samples ahead of its read index (" + std::to_string(r) +
            "), more than the capacity (" + std::to_string(cap) + ")" + scribbled;
    // The pair is described as it stands now: it was impossible when it was
    // loaded, and one index has moved since. That is a race on the indices,
    // not a distance within the capacity.
    return "its read index (" + std::to_string(r) +
        ") was impossible for its write index when it was checked, and an index has "
        "moved since (write index now " +
        std::to_string(w) +
        "): two threads wrote through one handle at once, or something other than "
        "its producer and readers writes into its header; stop using this ring and "
        "create a new one";
}

void wake(std::atomic<uint32_t>& word) noexcept
{
    if (word.exchange(0, std::memory_order_acq_rel))
        futex_wake(word);
}

bool sleep_on(std::atomic<uint32_t>& word, int64_t ns) noexcept
{
    return futex_wait(word, 1, ns);
}

void wake_parked_producer(control* c) noexcept
{
    // seq_cst: after the reader's announcement in the mask (Dekker with
    // producer_park's announce, then its load of the mask in enough()).
    if (c->producer_parked.load(std::memory_order_seq_cst))
        wake(c->producer_parked);
}

void wake_readers(control* c, uint32_t mask, uint64_t w, bool all) noexcept
{
    // Acquire: the mask may have been loaded relaxed (membarrier handshake);
    // the wake_at each reader stored before announcing itself is read after.
    std::atomic_thread_fence(std::memory_order_acquire);
    for (mask &= 0xffffu; mask; mask &= mask - 1) {
        reader_slot& r = c->readers[__builtin_ctz(mask)];
        if (all || w >= r.wake_at.load(std::memory_order_relaxed))
            wake(r.parked);
    }
}

} // namespace detail

bool membarrier_available() noexcept
{
    static const bool kernel = [] {
        const long cmds = detail::membarrier(MEMBARRIER_CMD_QUERY);
        return cmds > 0 && (cmds & MEMBARRIER_CMD_GLOBAL_EXPEDITED) &&
            (cmds & MEMBARRIER_CMD_REGISTER_GLOBAL_EXPEDITED);
    }();
    return kernel && detail::register_barrier();
}

handshake default_handshake() noexcept
{
    int v = detail::default_hs.load(std::memory_order_acquire);
    if (v == 0) {
        const char* env = std::getenv("DOPPLER_HANDSHAKE");
        const bool fenced = (env && std::strcmp(env, "seq_cst") == 0) || detail::tsan ||
            !membarrier_available();
        v = 1 + int(fenced ? handshake::seq_cst : handshake::membarrier);
        detail::default_hs.store(v, std::memory_order_release);
    }
    return handshake(v - 1);
}

void set_default_handshake(handshake h) noexcept
{
    if (h == handshake::membarrier && (detail::tsan || !membarrier_available()))
        h = handshake::seq_cst;
    detail::default_hs.store(1 + int(h), std::memory_order_release);
}

} // namespace doppler

// The inline hot path's calls (hot.h): only when the other side is parked.
extern "C" void dp_hot_wake_readers(const dp_hot_t* h, uint32_t mask)
{
    doppler::detail::run_hook(doppler::detail::wake_hook);
    doppler::detail::wake_readers(
        static_cast<doppler::control*>(h->control_), mask, h->w_, false);
}

extern "C" void dp_hot_wake_producer(const dp_hot_t* h)
{
    auto* c = static_cast<doppler::control*>(h->control_);
    // Acquire: producer_parked may have been loaded relaxed (membarrier
    // handshake); the wake_at the producer stored before announcing is read
    // after it.
    std::atomic_thread_fence(std::memory_order_acquire);
    if (h->r_ >= c->producer_wake_at.load(std::memory_order_relaxed))
        doppler::detail::wake(c->producer_parked);
}
