/* -*- c++ -*- */
/*
 * Peers: a process identity that survives pid reuse (pid + start time), its
 * liveness, handle numbers, and the (process, handle) role claims that the
 * producer role and reader slots are made of. A role left by a dead process
 * is taken over; one held by a live handle is refused, naming its holder.
 * SPDX-License-Identifier: GPL-3.0-or-later
 */
#include <doppler/ring.hpp>

#include <signal.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <cstring>

namespace doppler {
namespace detail {

namespace {

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

} // namespace

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

uint64_t new_handle() noexcept
{
    // The pid in the high bits keeps numbers of different processes apart
    // (a stale number left by a dead process never equals a live handle's).
    static std::atomic<uint64_t> counter { 0 };
    const uint64_t n = counter.fetch_add(1, std::memory_order_relaxed) + 1;
    return (uint64_t(getpid()) << 40) | (n & ((uint64_t(1) << 40) - 1));
}

bool claim(std::atomic<peer_id>& process,
           std::atomic<uint64_t>& handle,
           uint64_t mine,
           peer_id& holder) noexcept
{
    const peer_id me = self_id();
    for (;;) {
        const uint64_t h = handle.load(std::memory_order_acquire);
        peer_id cur = process.load(std::memory_order_acquire);
        if (cur == me) {
            if (h == mine)
                return true;
            if (h != 0) { // another handle of this process holds it
                holder = cur;
                return false;
            }
            // This process's: a handle of it is taking it or just gave it up.
            uint64_t zero = 0;
            if (handle.compare_exchange_strong(
                    zero, mine, std::memory_order_acq_rel, std::memory_order_acquire))
                return true;
            continue;
        }
        if (cur != 0 && peer_alive(cur)) {
            holder = cur;
            return false;
        }
        // Free, or left behind by a dead process: take it, then the handle
        // number (from the value read before, so a handle of this process
        // that got there first wins and this one looks again).
        if (!process.compare_exchange_strong(
                cur, me, std::memory_order_acq_rel, std::memory_order_acquire))
            continue;
        uint64_t old = h;
        if (handle.compare_exchange_strong(
                old, mine, std::memory_order_acq_rel, std::memory_order_acquire))
            return true;
    }
}

bool owns(const std::atomic<peer_id>& process,
          const std::atomic<uint64_t>& handle,
          uint64_t mine) noexcept
{
    return process.load(std::memory_order_acquire) == self_id() &&
        handle.load(std::memory_order_acquire) == mine;
}

void unclaim(std::atomic<peer_id>& process,
             std::atomic<uint64_t>& handle,
             uint64_t mine) noexcept
{
    if (!owns(process, handle, mine))
        return;
    peer_id me = self_id();
    process.compare_exchange_strong(me, 0, std::memory_order_acq_rel);
    handle.compare_exchange_strong(mine, 0, std::memory_order_acq_rel);
}

} // namespace detail
} // namespace doppler
