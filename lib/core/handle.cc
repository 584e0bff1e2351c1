/* -*- c++ -*- */
/*
 * Handles: the process-wide registry of live handles, and what fork() and
 * process exit do to them.
 * SPDX-License-Identifier: GPL-3.0-or-later
 *
 * Who holds a role is recorded in the shared control block as (process,
 * handle number) pairs (readers.cc, wait.cc: claim), which another process
 * can check for liveness and which tell two handles of one process apart.
 * This file adds what shared words cannot do: give every handle of this
 * process an end. The list is touched only when a handle is made, released
 * or goes away, never on the hot path.
 *
 * Why an exit hook. A handle that is never destroyed (made in a daemon
 * thread, leaked, held by a Python object that outlives finalisation) would
 * leave its stream open, so its readers would see a dead producer
 * (BrokenPipeError) instead of the end of the stream, and its name would
 * stay in /dev/shm. At normal process exit (std::exit, return from main,
 * Python's exit, all of which run atexit handlers) every handle still in
 * the list is released as its destructor would. Releasing only stores to
 * the shared header and removes names; it frees nothing, so a thread still
 * running (a daemon thread) cannot touch freed memory, and a handle
 * destroyed later by a static destructor just releases again (idempotent).
 * The list itself is never destroyed, so static destruction order cannot
 * pull it away under the hook.
 *
 * Why a fork hook. A child made by fork() gets copies of every handle. They
 * are the parent's handles, not the child's: in the child they hold no role
 * (a write or wait through them claims the role afresh, which the parent
 * still holds: EBUSY), and the child is no party to the ring's lifetime
 * (segment::leave compares the process), so neither the child's exit nor
 * its destructors can end the parent's stream or remove its name.
 */
#include <doppler/ring.hpp>

#include <pthread.h>
#include <unistd.h>

#include <algorithm>
#include <cstdlib>
#include <mutex>
#include <vector>

namespace doppler {
namespace detail {

struct registry_access {
    static void forget_roles(handle* h) noexcept
    {
        h->producing_ = false;
        h->reading_ = false;
        // And the inline paths that would bypass the roles' checks.
        h->put_ok_ = false;
        h->get_ok_ = false;
    }
    static void release_held(handle* h) noexcept { h->release_held(); }
};

namespace {

struct registry {
    std::mutex lock;
    std::vector<handle*> handles;
};

/// Made on first use and never destroyed (see the head comment).
registry& reg() noexcept
{
    static registry* r = [] {
        auto* made = new registry;
        // In the child after fork(): the forking thread holds the lock (taken
        // in `prepare`), so the list cannot be half-updated.
        pthread_atfork([] { reg().lock.lock(); },
                       [] { reg().lock.unlock(); },
                       [] {
                           for (handle* h : reg().handles)
                               registry_access::forget_roles(h);
                           reg().lock.unlock();
                       });
        std::atexit([] {
            registry& self = reg();
            // A thread frozen while holding the lock (a daemon thread at
            // interpreter exit) must not hang the exit: try for a while.
            for (int i = 0; i < 100; ++i) {
                if (self.lock.try_lock()) {
                    for (handle* h : self.handles)
                        registry_access::release_held(h);
                    self.lock.unlock();
                    return;
                }
                usleep(1000);
            }
        });
        return made;
    }();
    return *r;
}

} // namespace

handle::handle(std::shared_ptr<segment> seg)
    : dp_hot(), seg_(std::move(seg)), ctl_(seg_->ctl()), id_(new_handle())
{
    samples_ = static_cast<uint8_t*>(seg_->data());
    cap_ = seg_->capacity();
    mask_ = cap_ - 1;
    control_ = ctl_;
    write_idx_ = reinterpret_cast<uint64_t*>(&ctl_->write_idx);
    horizon_ = reinterpret_cast<uint64_t*>(&ctl_->horizon);
    closed_ = reinterpret_cast<uint32_t*>(&ctl_->closed);
    parked_mask_ = reinterpret_cast<uint32_t*>(&ctl_->parked_mask);
    producer_parked_ = reinterpret_cast<uint32_t*>(&ctl_->producer_parked);
    producer_wake_at_ = reinterpret_cast<uint64_t*>(&ctl_->producer_wake_at);
    read_idx_ = reinterpret_cast<uint64_t*>(&ctl_->readers[0].read_idx);
    // Membarrier handshake (see hot.h): unregistered, publishes keep the fence.
    barrier_ = seg_->handshake() == doppler::handshake::membarrier;
    seq_cst_ = !barrier_ || !register_barrier();
    seg_->enter();
    registry& r = reg();
    std::lock_guard<std::mutex> g(r.lock);
    r.handles.push_back(this);
}

handle::~handle()
{
    registry& r = reg();
    std::lock_guard<std::mutex> g(r.lock);
    r.handles.erase(std::remove(r.handles.begin(), r.handles.end(), this),
                    r.handles.end());
}

void handle::retire() noexcept
{
    registry& r = reg();
    std::lock_guard<std::mutex> g(r.lock);
    release_held();
    r.handles.erase(std::remove(r.handles.begin(), r.handles.end(), this),
                    r.handles.end());
}

void handle::release() noexcept
{
    std::lock_guard<std::mutex> g(reg().lock);
    release_held();
}

std::string handle::label() const
{
    return ring_label(seg_->name());
}

std::string handle::busy_message(bool producer, audience who) const
{
    if (!producer && !claim_error_.empty())
        return claim_error_;
    return doppler::busy_message(
        label(), producer, holder_pid(), who, holder_is_this_process());
}

} // namespace detail
} // namespace doppler
