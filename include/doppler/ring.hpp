/* -*- c++ -*- */
/*
 * gr-doppler: lock-free rings with one producer and up to 16 readers, double-mapped.
 * SPDX-License-Identifier: GPL-3.0-or-later
 *
 * Mirroring. The data pages are mapped twice, back to back (segment.cc), so
 *   a block that straddles the end of the ring is one contiguous range: one
 *   memcpy for the writer, one pointer (a zero-copy NumPy view) for a reader.
 *
 * Power-of-two capacity. Indices are free-running 64-bit counters (2^64
 *   samples is centuries at 10 GS/s); the slot is `index & mask`, fill is
 *   `write - read`. The minimum is one page of data (512 f32, 256 f64, 1024
 *   i16 with 4 KiB pages): the second mapping must start on a page boundary.
 *
 * The control block lives in the mapping (layout.hpp), so an in-process ring
 *   and a ring shared by name are the same bytes; the hot path cannot tell.
 *   write_idx and each read_idx have a 64-byte line of their own (false
 *   sharing); the wake words are written only when a side parks, so "is
 *   anyone parked?" is one load of a summary word that hits in the cache.
 *   Each side caches the other's index in its handle and reloads it only
 *   when the copy says "full" or "not enough" (the producer caches the
 *   minimum over the tethered readers).
 *
 * Waiting. Per handle (wait_strategy): park (spin about 1-2 us, then the park
 *   handshake and a futex sleep; the handshake, seq_cst or membarrier, is
 *   argued in hot.h) or poll (never sleep: one core for the lowest latency).
 *
 * Streams. A producer handle starts one at its first write and ends it by
 *   close() (or release); a producer that dies leaves it open, and the next
 *   producer records its end as broken. The seam table says where each
 *   stream starts and ends; no view spans two streams.
 *
 * Readers. Slot 0 is the default reader (tethered, waited for forever).
 *   Tethered readers hold the producer back; untethered ones never do: when
 *   lapped they continue at the oldest intact sample and count what they
 *   missed in `skipped` (the producer announces in `horizon` how far it is
 *   about to write before it copies).
 *
 * Tags (tags.hpp): records in a byte ring beside the data, published before
 *   their samples, reclaimed only behind the slowest tethered reader; a full
 *   area drops tags, never samples.
 *
 * Indices are checked where they are reloaded: a tethered read index must be
 *   at most the write position and at most `capacity` behind it; the write
 *   index must not be behind a read position (nor, for a tethered reader,
 *   more than `capacity` ahead). Anything else is status::corrupt, reported
 *   at once, never waited out, and never a view outside the mirror.
 *
 * Roles belong to handles (detail::handle, segment.hpp).
 *
 * Hot path (write, wait, consume; hot.h, run by ring<T> and by the C ABI's
 *   inline functions): no allocation, no lock, and a syscall only when the
 *   other side is parked. Streams, tags and other readers sit behind a check
 *   of a handle-local value.
 */
#pragma once

#include <doppler/layout.hpp>
#include <doppler/segment.hpp>
#include <doppler/tags.hpp>
#include <doppler/types.hpp>

#include <algorithm>
#include <atomic>
#include <cerrno>
#include <cstdint>
#include <cstring>
#include <functional>
#include <memory>
#include <string>
#include <vector>

namespace doppler {

/// Grace of a named tethered reader whose holder died (the default reader
/// is waited for forever).
constexpr int64_t default_reader_grace_ns = 1'000'000'000;

/// A reader name as claim_reader takes it (not "" nor "default", which need
/// no check): at most 32 characters following the ring-name rules.
/// error(EINVAL) naming `param` (the argument or block parameter that held
/// the name) otherwise.
void check_reader_name(const std::string& name, const std::string& param = "reader name");

// ---------------------------------------------------------------------------
// ring<T>: a handle on a segment, playing producer, reader or both.
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
    /// See segment::attach for the timeout and `stop`.
    [[nodiscard]] static std::unique_ptr<ring> attach(const std::string& name,
                                                      int64_t timeout_ns = -1,
                                                      bool allow_foreign = false,
                                                      interrupt stop = {})
    {
        return std::unique_ptr<ring>(new ring(segment::attach(
            name, sample_traits<T>::type, timeout_ns, allow_foreign, stop)));
    }
    explicit ring(std::shared_ptr<segment> seg)
        : handle(std::move(seg))
        , data_(static_cast<T*>(seg_->data()))
        , tags_(seg_->tag_area())
        , tag_bytes_(seg_->tag_bytes())
    {
        tethered_ = true; // the default reader's, until claim_reader says otherwise
    }
    ~ring() override { retire(); }

    uint64_t capacity() const noexcept { return cap_; }
    uint64_t dropped() const noexcept
    {
        return ctl_->dropped.load(std::memory_order_relaxed);
    }
    /// Tags refused because the tag area was full (statistic).
    uint64_t tags_dropped() const noexcept
    {
        return ctl_->tags_dropped.load(std::memory_order_relaxed);
    }
    /// Lost wake-ups seen by the producer and every reader (0 unless the
    /// wake-up protocol is broken).
    uint64_t missed_wakes() const noexcept
    {
        uint64_t n = ctl_->missed_wakes.load(std::memory_order_relaxed);
        for (const auto& s : ctl_->readers)
            n += s.missed_wakes.load(std::memory_order_relaxed);
        return n;
    }
    /// Samples of this reader's current stream published and not yet
    /// consumed (never more than capacity).
    uint64_t available() const noexcept
    {
        const uint64_t w = ctl_->write_idx.load(std::memory_order_acquire);
        uint64_t r, end;
        if (reading_) {
            r = r_;
            end = end_;
            if (end == stream_open &&
                ctl_->stream.load(std::memory_order_acquire) != s_) {
                detail::stream_info si;
                if (detail::read_seam(ctl_, s_, si))
                    end = si.end;
            }
        } else {
            r = ctl_->readers[slot_].read_idx.load(std::memory_order_acquire);
            const detail::stream_info si = detail::locate(ctl_, r);
            end = si.lost ? r : si.end; // a lost stream: nothing of it to tell
        }
        return readable_between(r, w, end);
    }
    /// Total samples ever published (absolute position).
    uint64_t written() const noexcept
    {
        return ctl_->write_idx.load(std::memory_order_acquire);
    }
    /// Absolute index of this reader's next sample: the first sample the
    /// next wait() returns (for a handle that reads nothing, the position
    /// the default reader published).
    uint64_t read_index() const noexcept
    {
        return reading_ ? r_
                        : ctl_->readers[slot_].read_idx.load(std::memory_order_acquire);
    }
    /// This handle closed its stream, or (for any other handle) the current
    /// stream was closed.
    bool closed() const noexcept
    {
        return closed_ ||
            (!producing_ && ctl_->closed.load(std::memory_order_acquire) != 0);
    }

    // ---- producer ---------------------------------------------------------

    /// Free space, from the producer's point of view. The readers' indices
    /// are reloaded only when the cached figure is below `want` (pass the
    /// size of the chunk you hope to write). 0 if another handle is the
    /// producer or this handle closed its stream.
    uint64_t space(uint64_t want = 1) noexcept
    {
        if ((!producing_ && !claim_producer()) || is_closed_for_writes())
            return 0;
        if (free_cached() < want)
            refresh_space();
        return free_cached();
    }
    /// True if a tethered reader index this producer last loaded is
    /// impossible (ahead of its write position, or more than the capacity
    /// behind it).
    bool read_index_corrupt() const noexcept { return r_corrupt_; }
    /// True if the write index this reader last loaded is impossible (behind
    /// its read position or, for a tethered reader, more than the capacity
    /// ahead of it).
    bool write_index_corrupt() const noexcept { return w_corrupt_; }
    /// Producer: what holds it back when the ring is full, for a message
    /// (detail::holding_back: the slowest tethered reader and who reads it).
    std::string held_back_by() const
    {
        return detail::holding_back(
            ctl_, ctl_->write_idx.load(std::memory_order_acquire), cap_);
    }
    /// Reader: what a wait for n samples waits on, for a message
    /// (detail::waiting_on: how many are there, and the producer).
    std::string waiting_on(uint64_t n) const { return detail::waiting_on(ctl_, r_, n); }
    /// The ring's producer, for a message (detail::describe_producer).
    std::string producer_state() const { return detail::describe_producer(ctl_); }
    /// Which index is wrong, for an error message (after status::corrupt).
    std::string corruption() const
    {
        return label() + " is corrupt: " +
            (reading_ && w_corrupt_ ? detail::describe_indices(false, r_, w_bad_, cap_)
                                    : detail::describe_indices(true, w_, r_bad_, cap_));
    }
    /// Count n refused samples (drop policy); returns the new total. The
    /// next sample written carries a ("dropped", count) tag.
    uint64_t drop(uint64_t n) noexcept
    {
        pending_drop_ += n;
        put_ok_ = false; // the next write carries the marker: not the inline path
        // Relaxed: a statistic, read by the consumer or the ring tool.
        return ctl_->dropped.fetch_add(n, std::memory_order_relaxed) + n;
    }
    /// Where the next n samples go (n <= space()), contiguous (mirror), so a
    /// conversion can write straight into the ring; then commit(n). Announces
    /// the n samples to untethered readers before they are overwritten.
    T* write_ptr(uint64_t n) noexcept
    {
        announce(n);
        return data_ + (w_ & mask_);
    }
    /// write_ptr() without a count: announces all free space (correct, but an
    /// untethered reader then treats all of it as overwritten; prefer write_ptr(n)).
    T* write_ptr() noexcept { return write_ptr(free_cached()); }

    // ---- a writer lent the ring's memory ----------------------------------
    // Another thread may fill the free space in place (ring_buffer.h) while
    // the producer only commits; these two touch only the shared header.

    /// Lowest read index of the tethered readers, loaded now, for a writer at
    /// absolute position `w` (at or past the write index): slots up to this
    /// index + capacity() may be written. `corrupt` (if given) says whether a
    /// reader index is impossible from `w` (then the result leaves no room).
    uint64_t tethered_floor(uint64_t w, bool* corrupt = nullptr) const noexcept
    {
        return detail::lent_floor(ctl_, w, cap_, corrupt);
    }
    /// Tell untethered readers that the samples before index h - capacity()
    /// are about to be overwritten (write_ptr(n) does this for w + n). The
    /// caller keeps h non-decreasing and calls this before writing.
    void announce_until(uint64_t h) noexcept
    {
        ctl_->horizon.store(h, std::memory_order_relaxed);
        std::atomic_thread_fence(std::memory_order_release);
    }
    /// Publish n samples written through write_ptr() (n <= space()).
    void commit(uint64_t n) noexcept { commit(n, nullptr, 0); }
    /// Publish n samples and the tags that go with them (offsets relative to
    /// the first of the n, in non-decreasing order, each < n).
    void commit(uint64_t n, const tag_in* tags, size_t ntags) noexcept
    {
        if (!started_ || pending_drop_ != 0 || ntags != 0)
            put_tags(n, tags, ntags);
        // Store write_idx, then look for parked readers (handshake: hot.h).
        dp_hot_publish(this, n);
    }
    /// Non-blocking, all or nothing. A refused block adds n to dropped().
    /// n > capacity, another live producer, a closed stream or a corrupt
    /// reader index is refused with errno EINVAL, EBUSY, EPIPE or EBADMSG and
    /// not counted as a drop.
    [[nodiscard]] bool write(const T* src, uint64_t n) noexcept
    {
        return write(src, n, nullptr, 0);
    }
    /// The same with tags (commit()); tags out of order or past the block:
    /// EINVAL, nothing written.
    [[nodiscard]] bool
    write(const T* src, uint64_t n, const tag_in* tags, size_t ntags) noexcept
    {
        // The common case inline (hot.h): room known, stream running, no tags.
        if (ntags == 0 && dp_hot_write(this, src, n, sizeof(T)))
            return true;
        return write_slow(src, n, tags, ntags);
    }
    /// Lossless write of n samples, any n: copies what fits as room appears
    /// (a reader waiting for up to capacity is never starved by a producer
    /// holding out for the whole block).
    /// Waits up to timeout_ns in all (< 0: forever). `done` (if given) gets
    /// how many were written and published, all n on status::ok.
    /// status::broken if the slowest tethered reader died and no handle
    /// took its place in time; status::corrupt if a reader index is
    /// impossible (corruption() says how); status::end_of_stream if this
    /// handle's stream was closed (a close another handle asked for ends a
    /// wait for room at once); status::interrupted if `stop` said so while
    /// it waited for room. Tags go with the chunk that holds their sample.
    [[nodiscard]] status write_blocking(const T* src,
                                        uint64_t n,
                                        int64_t timeout_ns = -1,
                                        uint64_t* done = nullptr,
                                        const tag_in* tags = nullptr,
                                        size_t ntags = 0,
                                        interrupt stop = {}) noexcept
    {
        const int64_t deadline = timeout_ns < 0 ? -1 : detail::now_ns() + timeout_ns;
        status s = !tags_fit(n, tags, ntags) ? status::invalid : status::ok;
        uint64_t copied = 0;
        size_t t = 0;
        bool waited = false; // the last wait_space() said ok: room must follow
        while (s == status::ok && copied < n) {
            // Ask for no more than a ring's worth: space() reloads the
            // readers' indices only when short of what is asked.
            const uint64_t k = std::min(n - copied, space(std::min(n - copied, cap_)));
            if (k == 0) {
                // Room was promised and none is there (the indices moved under
                // us): the deadline still ends the loop, whatever they say.
                if (waited && deadline >= 0 && detail::now_ns() >= deadline) {
                    s = status::timeout;
                    break;
                }
                s = wait_space(
                    1,
                    deadline < 0 ? -1 : std::max<int64_t>(0, deadline - detail::now_ns()),
                    stop);
                waited = true;
                continue;
            }
            waited = false;
            std::memcpy(static_cast<void*>(write_ptr(k)), src + copied, k * sizeof(T));
            // The tags of this chunk, re-based to its first sample.
            size_t t_end = t;
            while (t_end < ntags && tags[t_end].offset < copied + k)
                ++t_end;
            if (t_end == t) {
                commit(k);
            } else {
                tag_in local[16];
                while (t < t_end) {
                    size_t m = 0;
                    for (; m < 16 && t < t_end; ++m, ++t)
                        local[m] = { tags[t].offset - copied,
                                     tags[t].key,
                                     tags[t].value };
                    if (t < t_end) // more than 16 tags in this chunk: publish them first
                        put_tags(0, local, m);
                    else
                        commit(k, local, m);
                }
            }
            copied += k;
        }
        if (done)
            *done = copied;
        return s;
    }
    /// Wait until at least n samples of space are free (n <= capacity).
    /// status::end_of_stream if this handle closed its stream, or another
    /// handle asked for its end meanwhile: that is final; status::corrupt if
    /// a reader index is impossible; status::interrupted if `stop` said so
    /// (asked before the first park and at least every interrupt_check_ns
    /// while parked).
    [[nodiscard]] status
    wait_space(uint64_t n, int64_t timeout_ns = -1, interrupt stop = {}) noexcept
    {
        if (n > cap_)
            return status::invalid;
        if (!producing_ && !claim_producer())
            return status::busy;
        if (is_closed_for_writes())
            return status::end_of_stream;
        if (free_cached() >= n)
            return status::ok;
        refresh_space();
        if (r_corrupt_)
            return status::corrupt;
        if (free_cached() >= n)
            return status::ok;
        // Woken once an eighth of the ring (or n, if more) is free, not at
        // every consume: large chunks instead of a wake-up per small one.
        const status s = detail::producer_park(ctl_,
                                               w_,
                                               cap_,
                                               w_ + n - cap_,
                                               w_ + std::max(n, cap_ / 8) - cap_,
                                               timeout_ns,
                                               r_cache_,
                                               dead_since_,
                                               started_,
                                               waiting(true, stop));
        if (s == status::corrupt) {
            r_corrupt_ = true;
            r_bad_ = r_cache_;
        }
        if (s == status::end_of_stream)
            (void)is_closed_for_writes(); // ends the stream, as a write would
        return s;
    }
    /// End this handle's stream: readers drain what remains, then get
    /// status::end_of_stream; this handle's writes are refused from now on
    /// (another producer handle may start the next stream). A handle that
    /// cannot take the producer role (another live handle has it) asks that
    /// producer to end its stream. Idempotent.
    void close() noexcept { close(stream_end::closed); }
    /// close() that says how the stream ended: stream_end::closed as
    /// close(), or stream_end::broken for a producer relaying a stream whose
    /// own source broke (doppler-bridge): readers then get status::broken at
    /// its end, as if this producer had died. The reason is recorded only by
    /// the producer handle (a handle asking another producer to end its
    /// stream asks for a plain close); stream_end::open is taken as closed.
    void close(stream_end why) noexcept;

    /// Number of the stream this handle is writing (0 before its first write).
    uint64_t producer_stream() const noexcept { return stream_; }

    // ---- reader -----------------------------------------------------------

    struct view {
        const T* data; ///< n contiguous samples, or nullptr
        status why; ///< ok, or why data is nullptr
        explicit operator bool() const noexcept { return data != nullptr; }
    };

    /// Choose which reader this handle is (before its first wait): a named
    /// reader (ring-name characters, at most 32; "" or "default" is the
    /// default reader), tethered or not, and for a tethered one how long the
    /// producer waits for a successor if its holder dies (grace_ns < 0:
    /// forever). Claims it now: throws error(EBUSY) naming the holder's pid
    /// if a live handle reads under that name, error(EUSERS) if all 16 slots
    /// are taken, error(EINVAL) for a bad name or after the first wait. The
    /// messages are worded for `who` (audience::block: they name the block
    /// parameter to change). `history`: a new reader starts up to that many
    /// samples before the current write index (history()).
    void claim_reader(const std::string& name,
                      bool tethered = true,
                      int64_t grace_ns = default_reader_grace_ns,
                      audience who = audience::api,
                      uint64_t history = 0);
    /// How many samples written before a new named reader's claim it starts
    /// with (the claim's `history`, as far as the current stream and the
    /// ring reach: an untethered reader from the oldest intact sample, a
    /// tethered one never before what the producer may reuse). 0 otherwise.
    uint64_t history() const noexcept { return history_; }

    /// Wait until n samples of this reader's stream are readable
    /// (timeout_ns < 0: forever) and return them as one contiguous range.
    /// Call consume() when done with them. Fewer than n left in a stream that
    /// ended: status::end_of_stream (closed) or status::broken (its producer
    /// died). The next wait at the same position (no consume in between)
    /// serves what is left if n fits in it, else moves on to the next stream,
    /// dropping what was left (so `on end of stream: continue` loops work, and
    /// so does draining with wait(available()) then one more end of stream).
    /// `stop` (if given) is asked before the first park and at least every
    /// interrupt_check_ns while parked: status::interrupted when it says so.
    [[nodiscard]] view
    wait(uint64_t n, int64_t timeout_ns = -1, interrupt stop = {}) noexcept
    {
        const view v = poll(n);
        if (v.why != status::timeout)
            return v;
        return wait_slow(n, timeout_ns, stop);
    }
    /// wait() without waiting (no spin, no park): the n samples if they are
    /// readable now; status::timeout if not yet (even at the end of a stream:
    /// wait() tells end of stream apart); status::corrupt if the write index
    /// is impossible.
    [[nodiscard]] view poll(uint64_t n) noexcept
    {
        // The common case inline (hot.h): known to be readable.
        if (const void* p = dp_hot_view(this, n, sizeof(T)))
            return { static_cast<const T*>(p), status::ok };
        return poll_slow(n);
    }
    /// available(), acting as poll() does (claims the reader, 0 if it cannot;
    /// moves a lapped untethered reader or one past a reported end): how many
    /// samples poll() and wait() can return at once. available() only looks.
    uint64_t poll_available() noexcept
    {
        if (!reading_ && !claim_reader())
            return 0;
        refresh(1);
        return limit_ - r_;
    }
    /// Release n samples (n <= what the last wait/poll_available saw). Returns false
    /// (errno EINVAL) if n is more than is readable, (errno EBADMSG) if the
    /// write index is impossible.
    [[nodiscard]] bool consume(uint64_t n) noexcept { return consume_checked(n) >= 0; }
    /// consume() that also says how many of the n samples were overwritten
    /// while this (untethered) reader held them: their content is not to be
    /// trusted; they are added to skipped(). Always 0 for a tethered reader.
    /// -1 (errno EINVAL) if n is more than is readable.
    [[nodiscard]] int64_t consume_checked(uint64_t n) noexcept
    {
        // The common case inline (hot.h): tethered, within what is known.
        if (dp_hot_consume(this, n))
            return 0;
        return consume_slow(n);
    }
    /// Stream number of this reader's next sample (0: no stream yet).
    uint64_t stream() const noexcept
    {
        return reading_ ? s_ : detail::locate(ctl_, read_index()).stream;
    }
    /// Samples this reader lost to overruns (untethered readers only).
    uint64_t skipped() const noexcept
    {
        return ctl_->readers[slot_].skipped.load(std::memory_order_relaxed);
    }
    /// The tags inside the window of the last successful wait/poll, in index
    /// order, decoded from a private copy of their records: views valid
    /// until the next call of tags() on this handle. An untethered reader that
    /// was lapped gets ("skipped", count) at the first sample of its window.
    tag_cursor tags() noexcept;
    bool is_tethered() const noexcept { return tethered_; }
    /// Slot of this handle's reader (0: the default reader).
    uint32_t reader_slot_index() const noexcept { return slot_; }

    // ---- roles ------------------------------------------------------------

    /// Claim the producer role now (otherwise done on first write). False:
    /// another live handle holds it; holder_pid() says which process.
    [[nodiscard]] bool claim_producer() noexcept
    {
        if (producing_)
            return true;
        if (!detail::claim(ctl_->producer, ctl_->producer_handle, id_, holder_))
            return false;
        producing_ = true;
        started_ = closed_ = false;
        put_ok_ = false; // until its stream is started (put_tags)
        w_ = ctl_->write_idx.load(std::memory_order_acquire);
        ctl_->horizon.store(w_, std::memory_order_relaxed);
        tag_head_ = ctl_->tag_head.load(std::memory_order_acquire);
        tag_tail_ = ctl_->tag_tail.load(std::memory_order_acquire);
        if (tag_head_ - tag_tail_ > tag_bytes_ || tag_tail_ > tag_head_) {
            tag_tail_ = tag_head_; // an impossible tag area: start it afresh
            ctl_->tag_tail.store(tag_tail_, std::memory_order_release);
        }
        // Clear a reload left in progress by a producer that died.
        ctl_->refreshing.store(0, std::memory_order_seq_cst);
        ctl_->lent_refreshing.store(0, std::memory_order_seq_cst);
        r_cache_ = detail::producer_floor(ctl_, w_, cap_, !seq_cst_);
        return true;
    }
    /// Claim this handle's reader now (otherwise done on first wait): the
    /// default one unless claim_reader(name, ...) chose another. False:
    /// another live handle holds it (holder_pid()), or (errno EUSERS) no
    /// slot is free.
    [[nodiscard]] bool claim_reader() noexcept
    {
        if (reading_)
            return true;
        try {
            claim_reader(reader_name_, want_tethered_, want_grace_);
            return true;
        } catch (const error& e) {
            errno = e.code().value();
            try {
                claim_error_ = e.what(); // for busy_message(false)
            } catch (...) {
            }
            return false;
        }
    }
    /// Give up roles: a producer ends its stream, the default reader leaves
    /// its position for the next handle, a named reader frees its slot, the
    /// last live party removes the name. Only this handle's roles in this
    /// process (not a forked parent's). Also run by the destructor and at
    /// normal process exit.
    using handle::release;

private:
    void release_held() noexcept override;
    // write_index_corrupt() (behind: more than half the index space "ahead");
    // records the value for corruption().
    bool index_impossible(uint64_t w) noexcept
    {
        const uint64_t ahead = w - r_;
        w_corrupt_ = tethered_ ? ahead > cap_ : ahead > (uint64_t(1) << 63);
        if (w_corrupt_)
            w_bad_ = w;
        return w_corrupt_;
    }
    // Samples from r up to w and `end`, modular (a scribbled header may wrap
    // 2^64), at most the capacity: a view stays in the mirror whatever.
    uint64_t readable_between(uint64_t r, uint64_t w, uint64_t end) const noexcept
    {
        uint64_t n = w - r;
        if (n > cap_)
            n = cap_;
        if (end != stream_open && end - r < n)
            n = end - r;
        return n;
    }
    bool is_closed_for_writes() noexcept
    {
        if (closed_)
            return true;
        // Another handle asked for the end of this stream: end it here.
        // Relaxed: `closed` is on the producer's own line, a cache hit.
        if (started_ && ctl_->closed.load(std::memory_order_relaxed) != 0) {
            close();
            return true;
        }
        return false;
    }
    // Free space by the cached floor; a corrupt index (ahead) reads as full.
    uint64_t free_cached() const noexcept
    {
        const uint64_t used = w_ - r_cache_;
        return used > cap_ ? 0 : cap_ - used;
    }
    void refresh_space() noexcept
    {
        r_cache_ =
            detail::producer_floor(ctl_, w_, cap_, !seq_cst_, &r_corrupt_, &r_bad_);
        if (free_cached() == 0)
            maybe_reap();
    }
    void maybe_reap() noexcept;
    // announce_until(w_ + n): the release fence orders the horizon before
    // the data stores that follow.
    void announce(uint64_t n) noexcept
    {
        ctl_->horizon.store(w_ + n, std::memory_order_relaxed);
        std::atomic_thread_fence(std::memory_order_release);
    }
    static bool tags_fit(uint64_t n, const tag_in* tags, size_t ntags) noexcept
    {
        uint64_t prev = 0;
        for (size_t i = 0; i < ntags; ++i) {
            if (tags[i].offset >= n || tags[i].offset < prev)
                return false;
            prev = tags[i].offset;
        }
        return true;
    }
    void put_tags(uint64_t n, const tag_in* tags, size_t ntags) noexcept;
    bool write_slow(const T* src, uint64_t n, const tag_in* tags, size_t ntags) noexcept;
    view poll_slow(uint64_t n) noexcept;
    int64_t consume_slow(uint64_t n) noexcept;
    void refresh(uint64_t n) noexcept;
    view wait_slow(uint64_t n, int64_t timeout_ns, interrupt stop) noexcept;
    void next_stream() noexcept;
    void learn_stream() noexcept;
    void skip_lapped(uint64_t w) noexcept;
    void skip_to(uint64_t to) noexcept;
    void set_stream(const detail::stream_info& si) noexcept;
    void lose_streams(const detail::stream_info& si) noexcept;
    void locate_again() noexcept;
    int64_t overwritten(uint64_t start, uint64_t n) noexcept;

    // Also in the hot state (hot.h, a base): cap_, mask_, w_, r_cache_
    // (producer), r_, limit_, window_, tethered_, reported_ (reader).
    T* data_;
    uint8_t* tags_;
    uint64_t tag_bytes_;
    bool released_ = false; // release() ran: this handle left the mapping
    // Producer state.
    bool started_ = false; // this handle started a stream
    bool closed_ = false; // and closed it
    uint64_t stream_ = 0;
    uint64_t pending_drop_ = 0; // refused since the last written sample
    uint64_t tag_head_ = 0, tag_tail_ = 0;
    int64_t next_reap_ns_ = 0;
    int64_t dead_since_[max_readers] = {};
    // Reader choice (claim_reader) and state.
    std::string reader_name_;
    bool want_tethered_ = true;
    int64_t want_grace_ = -1;
    uint32_t slot_ = 0;
    uint64_t s_ = 0; // stream of r_
    uint64_t end_ = stream_open; // its end, once known
    status end_why_ = status::end_of_stream;
    uint64_t tag_pos_ = 0; // tag area position of the reader's next record
    std::vector<uint64_t> tag_copy_; // the window's records, copied out (tags())
    uint64_t pending_skip_ = 0, skip_at_ = 0; // the "skipped" marker to deliver
    uint64_t history_ = 0; // history() of the claim
    alignas(16) uint8_t skip_rec_[48] = {};
    bool r_corrupt_ = false; // a tethered reader index was impossible
    bool w_corrupt_ = false; // the write index was impossible to this reader
    uint64_t r_bad_ = 0, w_bad_ = 0; // the impossible values, for corruption()
};

extern template class ring<f32>;
extern template class ring<f64>;
extern template class ring<i16>;

} // namespace doppler
