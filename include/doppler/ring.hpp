/* -*- c++ -*- */
/*
 * gr-doppler: lock-free single-producer/single-consumer rings, double-mapped.
 * SPDX-License-Identifier: GPL-3.0-or-later
 *
 * Design, in the order the questions usually come:
 *
 * Why mirroring. The data pages are mapped twice, back to back, inside one
 *   reserved span (see segment.cc). Address data[i] and data[i + capacity]
 *   hit the same byte, so a block that straddles the end of the ring is still
 *   one contiguous range: the writer does one memcpy, the reader gets one
 *   pointer (a zero-copy NumPy view) and nobody branches on the wrap.
 *
 * Why power-of-two capacity. Indices are free-running 64-bit counters that
 *   never wrap in practice (2^64 samples is centuries at 10 GS/s); the slot is
 *   `index & mask`, fill is `write - read`. No modulo, no "one slot empty" rule.
 *   The page minimum (512 f32, 256 f64, 1024 i16 with 4 KiB pages) comes from
 *   the mirror: the second mapping must start on a page boundary.
 *
 * Why the control block lives in the mapping. The header page in front of the
 *   data holds indices, counters, flags and wake words. An in-process ring and
 *   a ring shared by name between processes are the same bytes mapped the same
 *   way; the hot path cannot tell them apart.
 *
 * Why the padding. The producer writes `write_idx`, the consumer writes
 *   `read_idx`; each on its own 64-byte line so the two cores do not fight over
 *   one line (false sharing). The wake words are on a third line that is only
 *   written when a side parks, so the per-write "is anyone parked?" check is a
 *   load that hits in the local cache. Each side also caches the other side's
 *   index in its own (process-local) handle and reloads the shared one only
 *   when its cached copy says "full" or "not enough" (rigtorp/SPSCQueue).
 *
 * Why seq_cst in two places. Parking is a Dekker handshake: the consumer
 *   stores "parked" then loads write_idx; the producer stores write_idx then
 *   loads "parked". Store->load ordering needs seq_cst on both sides (a plain
 *   release/acquire pair allows both to miss each other, and the consumer
 *   would sleep through the data). The orders sit on the atomics themselves,
 *   not on standalone fences, so ThreadSanitizer models them.
 *
 * Hot path (write, wait, consume): no allocation, no lock, and a syscall only
 *   when the other side is actually parked (one futex wake).
 *
 * Why indices are checked where they are reloaded. A handle trusts its own
 *   index and checks the other side's whenever it reloads it: from the
 *   producer's side the read index must be at most its write position and at
 *   most `capacity` behind it; from the consumer's side the write index must
 *   be at least its read position and at most `capacity` ahead. Anything else
 *   (a peer scribbling on the header, a bug) is status::corrupt, reported at
 *   once with the index that is wrong, never a state to wait out. The check
 *   costs one compare on the reload, which the hot path does rarely.
 *
 * Why roles belong to handles. See detail::handle (segment.hpp): a second
 *   producer or consumer handle is refused whether it lives in another
 *   process or in this one, a forked child's copies hold no role, and every
 *   handle still alive at normal process exit is released (a producer closes
 *   its stream, a creator removes its name).
 */
#pragma once

#include <doppler/layout.hpp>
#include <doppler/segment.hpp>
#include <doppler/types.hpp>

#include <algorithm>
#include <atomic>
#include <cerrno>
#include <cstdint>
#include <cstring>
#include <functional>
#include <memory>
#include <string>

namespace doppler {

// ---------------------------------------------------------------------------
// ring<T>: a handle on a segment, playing producer, consumer or both.
// ---------------------------------------------------------------------------

template <class T>
class ring : public detail::handle
{
public:
    using value_type = T;

    /// In-process ring of at least `capacity` samples.
    explicit ring(uint64_t capacity)
        : ring(segment::create(sample_traits<T>::type, capacity))
    {
    }
    /// Named ring, shared between processes.
    [[nodiscard]] static std::unique_ptr<ring> create_named(const std::string& name,
                                                            uint64_t capacity)
    {
        return std::unique_ptr<ring>(
            new ring(segment::create_named(sample_traits<T>::type, name, capacity)));
    }
    /// Attach the named ring if it exists (type checked; a mismatch is worded
    /// for `who`), else create it: either side of a ring may start first.
    [[nodiscard]] static std::unique_ptr<ring>
    open(const std::string& name, uint64_t capacity, audience who = audience::api)
    {
        return std::unique_ptr<ring>(
            new ring(segment::open_named(sample_traits<T>::type, name, capacity, who)));
    }
    /// Attach to a named ring created elsewhere (checks type, size, owner).
    /// See segment::attach for the timeout and `interrupted`.
    [[nodiscard]] static std::unique_ptr<ring>
    attach(const std::string& name,
           int64_t timeout_ns = -1,
           bool allow_foreign = false,
           const std::function<bool()>& interrupted = {})
    {
        return std::unique_ptr<ring>(new ring(segment::attach(
            name, sample_traits<T>::type, timeout_ns, allow_foreign, interrupted)));
    }
    explicit ring(std::shared_ptr<segment> seg)
        : handle(std::move(seg))
        , data_(static_cast<T*>(seg_->data()))
        , cap_(seg_->capacity())
        , mask_(cap_ - 1)
    {
    }
    ~ring() { release(); }
    ring(const ring&) = delete;
    ring& operator=(const ring&) = delete;

    uint64_t capacity() const noexcept { return cap_; }
    uint64_t dropped() const noexcept
    {
        return ctl_->dropped.load(std::memory_order_relaxed);
    }
    /// Parks that ended by their slice running out although what they
    /// waited for had already happened: lost wake-ups. 0 unless the wake-up
    /// protocol is broken (layout.hpp, control::missed_wakes).
    uint64_t missed_wakes() const noexcept
    {
        return ctl_->missed_wakes.load(std::memory_order_relaxed);
    }
    /// Samples published and not yet consumed (never more than capacity).
    uint64_t available() const noexcept
    {
        uint64_t w = ctl_->write_idx.load(std::memory_order_acquire);
        uint64_t r = ctl_->read_idx.load(std::memory_order_acquire);
        uint64_t n = w - r;
        return n > cap_ ? cap_ : n; // a corrupt peer cannot make us read past the mirror
    }
    /// Total samples ever published / consumed (absolute positions).
    uint64_t written() const noexcept
    {
        return ctl_->write_idx.load(std::memory_order_acquire);
    }
    uint64_t read_index() const noexcept
    {
        return ctl_->read_idx.load(std::memory_order_acquire);
    }
    bool closed() const noexcept
    {
        return ctl_->closed.load(std::memory_order_acquire) != 0;
    }

    // ---- producer ---------------------------------------------------------

    /// Free space, from the producer's point of view. The consumer's index is
    /// reloaded only when the cached figure is below `want` (pass the size of
    /// the chunk you hope to write). 0 if another handle is the producer, the
    /// ring is closed, or its read index is corrupt (wait_space() says which).
    uint64_t space(uint64_t want = 1) noexcept
    {
        if ((!producing_ && !claim_producer()) || is_closed_for_writes())
            return 0;
        if (free_cached() < want)
            r_cache_ = ctl_->read_idx.load(std::memory_order_acquire);
        return free_cached();
    }
    /// True if the read index this producer last loaded is impossible (ahead
    /// of its write position, or more than the capacity behind it).
    bool read_index_corrupt() const noexcept { return w_ - r_cache_ > cap_; }
    /// True if the write index this consumer last loaded is impossible
    /// (behind its read position, or more than the capacity ahead of it).
    bool write_index_corrupt() const noexcept { return w_cache_ - r_ > cap_; }
    /// Which index is wrong, for an error message (after status::corrupt).
    std::string corruption() const
    {
        return label() + " is corrupt: " +
            (consuming_ && write_index_corrupt()
                 ? detail::describe_indices(false, r_, w_cache_, cap_)
                 : detail::describe_indices(true, w_, r_cache_, cap_));
    }
    /// Count n refused samples (drop policy); returns the new total.
    uint64_t drop(uint64_t n) noexcept
    {
        // Relaxed: a statistic, read by the consumer or the ring tool.
        return ctl_->dropped.fetch_add(n, std::memory_order_relaxed) + n;
    }
    /// Where the next sample goes; the following space() samples are
    /// contiguous (mirror), so a conversion can write straight into the ring.
    T* write_ptr() noexcept { return data_ + (w_ & mask_); }
    /// Publish n samples written through write_ptr() (n <= space()).
    void commit(uint64_t n) noexcept
    {
        w_ += n;
        // seq_cst: store write_idx, then load consumer_parked (Dekker, see top).
        ctl_->write_idx.store(w_, std::memory_order_seq_cst);
        if (ctl_->consumer_parked.load(std::memory_order_seq_cst) &&
            w_ >= ctl_->consumer_wake_at.load(std::memory_order_relaxed))
            detail::wake(ctl_->consumer_parked);
    }
    /// Non-blocking, all or nothing. A refused block adds n to dropped().
    /// n > capacity, another live producer, a closed ring or a corrupt read
    /// index is refused with errno EINVAL, EBUSY, EPIPE or EBADMSG and not
    /// counted as a drop.
    [[nodiscard]] bool write(const T* src, uint64_t n) noexcept
    {
        if (n > cap_ || (!producing_ && !claim_producer()) || is_closed_for_writes()) {
            errno = n > cap_ ? EINVAL : producing_ ? EPIPE : EBUSY;
            return false;
        }
        if (free_cached() < n) {
            r_cache_ = ctl_->read_idx.load(std::memory_order_acquire);
            if (free_cached() < n) {
                if (read_index_corrupt()) {
                    errno = EBADMSG;
                    return false;
                }
                drop(n);
                return false;
            }
        }
        std::memcpy(static_cast<void*>(write_ptr()), src, n * sizeof(T));
        commit(n);
        return true;
    }
    /// Lossless write of n samples (n <= capacity): copies what fits as room
    /// appears, so a consumer waiting for any count up to capacity is never
    /// starved by a producer holding out for room for the whole block.
    /// Waits up to timeout_ns in all (< 0: forever). `done` (if given) gets
    /// how many were written and published, all n on status::ok.
    /// status::broken if the consumer died and no other attached in time;
    /// status::corrupt if the read index is impossible (corruption() says how).
    [[nodiscard]] status write_blocking(const T* src,
                                        uint64_t n,
                                        int64_t timeout_ns = -1,
                                        uint64_t* done = nullptr) noexcept
    {
        const int64_t deadline = timeout_ns < 0 ? -1 : detail::now_ns() + timeout_ns;
        status s = n > cap_ ? status::invalid : status::ok;
        uint64_t copied = 0;
        bool waited = false; // the last wait_space() said ok: room must follow
        while (s == status::ok && copied < n) {
            const uint64_t k = std::min(n - copied, space(n - copied));
            if (k == 0) {
                // Room was promised and none is there (the indices moved under
                // us): the deadline still ends the loop, whatever they say.
                if (waited && deadline >= 0 && detail::now_ns() >= deadline) {
                    s = status::timeout;
                    break;
                }
                s = wait_space(1,
                               deadline < 0
                                   ? -1
                                   : std::max<int64_t>(0, deadline - detail::now_ns()));
                waited = true;
                continue;
            }
            waited = false;
            std::memcpy(static_cast<void*>(write_ptr()), src + copied, k * sizeof(T));
            commit(k);
            copied += k;
        }
        if (done)
            *done = copied;
        return s;
    }
    /// Wait until at least n samples of space are free (n <= capacity).
    /// status::end_of_stream if the ring was closed: close() is final;
    /// status::corrupt if the read index is impossible.
    [[nodiscard]] status wait_space(uint64_t n, int64_t timeout_ns = -1) noexcept
    {
        if (n > cap_)
            return status::invalid;
        if (!producing_ && !claim_producer())
            return status::busy;
        if (is_closed_for_writes())
            return status::end_of_stream;
        if (free_cached() >= n)
            return status::ok;
        r_cache_ = ctl_->read_idx.load(std::memory_order_acquire);
        if (read_index_corrupt())
            return status::corrupt;
        if (free_cached() >= n)
            return status::ok;
        return detail::producer_park(ctl_, w_, w_ + n - cap_, cap_, timeout_ns, r_cache_);
    }
    /// Mark end of stream: the consumer drains what remains, then gets
    /// status::end_of_stream; further writes are refused. Idempotent.
    void close() noexcept
    {
        ctl_->closed.store(1, std::memory_order_seq_cst);
        detail::wake(ctl_->consumer_parked);
    }

    // ---- consumer ---------------------------------------------------------

    struct view {
        const T* data; ///< n contiguous samples, or nullptr
        status why; ///< ok, or why data is nullptr
        explicit operator bool() const noexcept { return data != nullptr; }
    };

    /// Wait until n samples are readable (timeout_ns < 0: forever) and return
    /// them as one contiguous range. Call consume() when done with them.
    [[nodiscard]] view wait(uint64_t n, int64_t timeout_ns = -1) noexcept
    {
        const view v = poll(n);
        if (v.why != status::timeout)
            return v;
        const status s =
            detail::consumer_park(ctl_, r_, r_ + n, cap_, timeout_ns, w_cache_);
        return s == status::ok ? view { data_ + (r_ & mask_), status::ok }
                               : view { nullptr, s };
    }
    /// wait() without waiting (no spin, no park): the n samples if they are
    /// readable now; status::timeout if not yet (even on a closed ring:
    /// wait() tells end of stream apart); status::corrupt if the write index
    /// is impossible.
    [[nodiscard]] view poll(uint64_t n) noexcept
    {
        if (n == 0 || n > cap_)
            return { nullptr, status::invalid };
        if (!consuming_ && !claim_consumer())
            return { nullptr, status::busy };
        // One compare for "n <= cached fill <= capacity" (unsigned wrap).
        if (w_cache_ - r_ - n > cap_ - n) {
            w_cache_ = ctl_->write_idx.load(std::memory_order_acquire);
            if (write_index_corrupt())
                return { nullptr, status::corrupt };
            if (w_cache_ - r_ < n)
                return { nullptr, status::timeout };
        }
        return { data_ + (r_ & mask_), status::ok };
    }
    /// Samples readable right now from the consumer's point of view (0 if
    /// the write index is corrupt: wait() then says so).
    uint64_t readable() noexcept
    {
        if (!consuming_ && !claim_consumer())
            return 0;
        w_cache_ = ctl_->write_idx.load(std::memory_order_acquire);
        return write_index_corrupt() ? 0 : w_cache_ - r_;
    }
    /// Release n samples (n <= what the last wait/readable saw). Returns false
    /// (errno EINVAL) if n is more than is readable.
    [[nodiscard]] bool consume(uint64_t n) noexcept
    {
        if (!consuming_) { // r_ is not a read position yet: storing it would rewind
                           // read_idx
            errno = EINVAL;
            return false;
        }
        if (n > cap_ || w_cache_ - r_ - n > cap_ - n) { // not n <= fill <= capacity
            w_cache_ = ctl_->write_idx.load(std::memory_order_acquire);
            if (write_index_corrupt()) {
                errno = EBADMSG;
                return false;
            }
            if (n > w_cache_ - r_) {
                errno = EINVAL;
                return false;
            }
        }
        r_ += n;
        // seq_cst: store read_idx, then load producer_parked (Dekker).
        ctl_->read_idx.store(r_, std::memory_order_seq_cst);
        if (ctl_->producer_parked.load(std::memory_order_seq_cst) &&
            r_ >= ctl_->producer_wake_at.load(std::memory_order_relaxed))
            detail::wake(ctl_->producer_parked);
        return true;
    }
    /// Absolute index of the first sample the next wait() returns.
    uint64_t consumer_index() const noexcept { return consuming_ ? r_ : read_index(); }

    // ---- roles ------------------------------------------------------------

    /// Claim the producer role now (otherwise done on first write). False:
    /// another handle (of a live process, or of this one) holds it;
    /// holder_pid(), holder_is_this_process() and busy_message() say which.
    [[nodiscard]] bool claim_producer() noexcept
    {
        if (producing_)
            return true;
        if (!claim_role(true))
            return false;
        w_ = ctl_->write_idx.load(std::memory_order_acquire);
        r_cache_ = ctl_->read_idx.load(std::memory_order_acquire);
        return true;
    }
    [[nodiscard]] bool claim_consumer() noexcept
    {
        if (consuming_)
            return true;
        if (!claim_role(false))
            return false;
        r_ = ctl_->read_idx.load(std::memory_order_acquire);
        w_cache_ = ctl_->write_idx.load(std::memory_order_acquire);
        return true;
    }

    /// Give up roles: a producer closes the stream (a producer that leaves
    /// ends it), a consumer leaves its position for the next one. The
    /// creator also removes the name. Called by the destructor, and for
    /// handles still alive at normal process exit. In a forked child the
    /// parent's handles hold no role and created nothing: release() there
    /// only drops the child's mapping.
    void release() noexcept { release_roles(); }

private:
    // `closed` sits on the producer's own line: this load is a cache hit.
    bool is_closed_for_writes() const noexcept
    {
        return ctl_->closed.load(std::memory_order_relaxed) != 0;
    }
    // Free space by the cached consumer index. A corrupt peer index (read
    // ahead of write) reads as full; either way a write stays in the mirror.
    uint64_t free_cached() const noexcept
    {
        const uint64_t used = w_ - r_cache_;
        return used > cap_ ? 0 : cap_ - used;
    }

    T* data_;
    uint64_t cap_;
    uint64_t mask_;
    // Producer-local line: own index and cached copy of the consumer's.
    alignas(cache_line) uint64_t w_ = 0;
    uint64_t r_cache_ = 0;
    // Consumer-local line: own index and cached copy of the producer's.
    alignas(cache_line) uint64_t r_ = 0;
    uint64_t w_cache_ = 0;
};

extern template class ring<f32>;
extern template class ring<f64>;
extern template class ring<i16>;

} // namespace doppler
