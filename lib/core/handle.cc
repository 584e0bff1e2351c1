/* -*- c++ -*- */
/*
 * Handles: roles per handle, the process-wide registry of live handles, and
 * what fork() and process exit do to them.
 * SPDX-License-Identifier: GPL-3.0-or-later
 *
 * Why a registry. The role words in the shared control block hold a process
 * identity (pid and start time), which is what another process can check
 * for liveness. Within one process that is not enough: two handles on one
 * ring (two Buffer Sinks with one name, two Python objects, a thread that
 * attaches again) would both pass as "this process" and their write
 * positions would fight. So this process keeps a list of its live handles;
 * a claim is refused while another handle on the same object (same device
 * and inode, whichever mapping it came through) holds the role. The list is
 * touched only when a handle is made, claims a role or goes away, never on
 * the hot path. The layout of the shared header does not change.
 *
 * Why an exit hook. A handle that is never destroyed (made in a daemon
 * thread, leaked, held by a Python object that outlives finalisation) would
 * leave its stream open, so the consumer would see a dead producer
 * (BrokenPipeError) instead of the end of the stream, and its name would
 * stay in /dev/shm. At normal process exit (std::exit, return from main,
 * Python's exit, all of which run atexit handlers) every handle still in
 * the list releases its roles and name as its destructor would. The hook
 * only stores to the shared header and removes names; it frees nothing, so a
 * thread still running (a daemon thread) cannot touch freed memory, and
 * a handle destroyed later by a static destructor just releases again
 * (idempotent). The list itself is never destroyed, so static destruction
 * order cannot pull it away under the hook.
 *
 * Why a fork hook. A child made by fork() gets copies of every handle. They
 * are the parent's handles, not the child's: in the child they hold no role
 * (a write or wait through them claims the role afresh, which the parent
 * still holds: EBUSY), and since the child did not create the object it
 * never removes the name (segment::is_creator compares the pid). So neither
 * the child's exit nor its destructors can end the parent's stream.
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
        h->consuming_ = false;
    }
    static void release_at_exit(handle* h) noexcept;
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
                        registry_access::release_at_exit(h);
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

bool same_object(const handle* a, const handle* b) noexcept
{
    return a->seg()->dev() == b->seg()->dev() && a->seg()->ino() == b->seg()->ino();
}

} // namespace

void registry_access::release_at_exit(handle* h) noexcept
{
    // Shared effects only: local flags stay as they are (another thread may
    // still be running on this handle); a later release() repeats harmlessly.
    h->seg_->unlink(); // creator only, and only in the creating process
    peer_id me = self_id();
    if (h->producing_) {
        h->ctl_->closed.store(1, std::memory_order_seq_cst);
        wake(h->ctl_->consumer_parked);
        h->ctl_->producer.compare_exchange_strong(me, 0, std::memory_order_acq_rel);
    }
    me = self_id();
    if (h->consuming_)
        h->ctl_->consumer.compare_exchange_strong(me, 0, std::memory_order_acq_rel);
}

handle::handle(std::shared_ptr<segment> seg) : seg_(std::move(seg)), ctl_(seg_->ctl())
{
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

bool handle::claim_role(bool producer) noexcept
{
    registry& r = reg();
    std::lock_guard<std::mutex> g(r.lock);
    for (const handle* other : r.handles)
        if (other != this && (producer ? other->producing_ : other->consuming_) &&
            same_object(this, other)) {
            holder_ = self_id();
            holder_here_ = true;
            return false;
        }
    if (!claim(producer ? ctl_->producer : ctl_->consumer, holder_)) {
        holder_here_ = false;
        return false;
    }
    (producer ? producing_ : consuming_) = true;
    return true;
}

void handle::release_roles() noexcept
{
    // The name goes first: a consumer that sees the end of this stream and
    // attaches again by name must not find this finished ring under it.
    seg_->unlink(); // creator only, and only in the creating process
    // Under the registry's lock: another thread's claim reads these flags.
    std::lock_guard<std::mutex> g(reg().lock);
    peer_id me = self_id();
    if (producing_) {
        ctl_->closed.store(1, std::memory_order_seq_cst);
        wake(ctl_->consumer_parked);
        ctl_->producer.compare_exchange_strong(me, 0, std::memory_order_acq_rel);
        producing_ = false;
    }
    me = self_id();
    if (consuming_) {
        ctl_->consumer.compare_exchange_strong(me, 0, std::memory_order_acq_rel);
        consuming_ = false;
    }
}

std::string handle::label() const
{
    return ring_label(seg_->name());
}

std::string handle::busy_message(bool producer, audience who) const
{
    return doppler::busy_message(label(), producer, holder_pid(), who, holder_here_);
}

} // namespace detail
} // namespace doppler
