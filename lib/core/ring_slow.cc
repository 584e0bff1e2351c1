/* -*- c++ -*- */
/*
 * ring<T>: the parts off the hot path: starting and ending streams, tags and
 * markers, reader choice and stream bookkeeping, lapped readers, release.
 * SPDX-License-Identifier: GPL-3.0-or-later
 */
#include <doppler/ring.hpp>

namespace doppler {

namespace {
/// A ("key", uint64) value, encoded into a fixed buffer (no allocation).
struct u64_value {
    uint8_t bytes[9];
    explicit u64_value(uint64_t v) noexcept
    {
        bytes[0] = uint8_t(value_type::uint64);
        std::memcpy(bytes + 1, &v, 8);
    }
    std::string_view view() const noexcept
    {
        return { reinterpret_cast<const char*>(bytes), sizeof bytes };
    }
};
} // namespace

// ---------------------------------------------------------------------------
// producer
// ---------------------------------------------------------------------------

template <class T>
void ring<T>::put_tags(uint64_t n, const tag_in* tags, size_t ntags) noexcept
{
    (void)n;
    // Records are kept while a tethered reader may still read their sample,
    // or, with none, while the sample is still in the ring.
    const uint64_t keep = detail::producer_floor(ctl_, w_, cap_, !seq_cst_);
    auto put = [&](uint64_t index, std::string_view key, std::string_view value) {
        detail::append_tag(
            ctl_, tags_, tag_bytes_, tag_head_, tag_tail_, keep, index, key, value);
    };
    if (!started_) {
        stream_ = detail::start_stream(ctl_, w_);
        started_ = true;
        put(w_, tag_stream_start, u64_value(stream_).view());
    }
    if (pending_drop_ != 0) {
        put(w_, tag_dropped, u64_value(pending_drop_).view());
        pending_drop_ = 0;
    }
    for (size_t i = 0; i < ntags; ++i)
        put(w_ + tags[i].offset, tags[i].key, tags[i].value);
    // Release: the records before the samples they point into (whose
    // write_idx store follows).
    ctl_->tag_head.store(tag_head_, std::memory_order_release);
    // The stream is started and no marker is pending: the next plain write
    // may take the inline path.
    put_ok_ = producing_ && !closed_;
}

template <class T>
bool ring<T>::write_slow(const T* src,
                         uint64_t n,
                         const tag_in* tags,
                         size_t ntags) noexcept
{
    if (n > cap_ || (!producing_ && !claim_producer()) || is_closed_for_writes() ||
        !tags_fit(n, tags, ntags)) {
        errno = (n > cap_ || !tags_fit(n, tags, ntags)) ? EINVAL
            : producing_                                ? EPIPE
                                                        : EBUSY;
        return false;
    }
    if (n == 0)
        return true; // nothing to publish: no stream is started for it
    if (free_cached() < n) {
        refresh_space();
        if (free_cached() < n) {
            if (r_corrupt_) {
                errno = EBADMSG;
                return false;
            }
            drop(n);
            return false;
        }
    }
    std::memcpy(static_cast<void*>(write_ptr(n)), src, n * sizeof(T));
    commit(n, tags, ntags);
    return true;
}

template <class T>
void ring<T>::close(stream_end why) noexcept
{
    if (why != stream_end::broken)
        why = stream_end::closed;
    if (!producing_ && !claim_producer()) {
        // Another live handle produces: ask it to end its stream (it does at
        // its next write, or now if it waits for room) and let waiting
        // readers look.
        ctl_->closed.store(1, std::memory_order_seq_cst);
        detail::wake_readers(ctl_, ~0u, 0, true);
        if (ctl_->producer_parked.load(std::memory_order_seq_cst) != 0)
            detail::wake(ctl_->producer_parked);
        return;
    }
    if (closed_)
        return;
    closed_ = true;
    put_ok_ = false;
    if (started_) {
        detail::end_stream(ctl_, stream_, w_, why);
    } else {
        // This handle wrote nothing. An open stream left by a producer that
        // died is ended here (closed); with no stream at all, an empty one
        // is started and closed so readers see end of stream.
        const uint64_t cur = ctl_->stream.load(std::memory_order_acquire);
        detail::stream_info si;
        if (cur != 0 && detail::read_seam(ctl_, cur, si) && si.end == stream_open) {
            detail::end_stream(ctl_, cur, w_, why);
        } else if (cur == 0) {
            put_tags(0, nullptr, 0); // starts stream 1 (its marker has no sample)
            detail::end_stream(ctl_, stream_, w_, why);
        }
    }
    ctl_->closed.store(1, std::memory_order_seq_cst);
    detail::wake_readers(ctl_, ~0u, 0, true);
    // The stream is over, not the ring: give the role up now, so the next
    // producer (the next run of a flowgraph) can start the next stream while
    // this handle still exists. This handle stays closed (closed_): it never
    // writes again.
    detail::unclaim(ctl_->producer, ctl_->producer_handle, id_);
}

template <class T>
void ring<T>::maybe_reap() noexcept
{
    const int64_t now = detail::now_ns();
    if (now < next_reap_ns_)
        return;
    next_reap_ns_ = now + 100'000'000; // liveness is a /proc read: 10 times a second
    if (detail::reap_readers(ctl_, dead_since_))
        r_cache_ = detail::producer_floor(ctl_, w_, cap_, !seq_cst_);
}

// ---------------------------------------------------------------------------
// readers
// ---------------------------------------------------------------------------

template <class T>
void ring<T>::claim_reader(const std::string& name,
                           bool tethered,
                           int64_t grace_ns,
                           audience who,
                           uint64_t history)
{
    if (reading_) {
        if (name == reader_name_ || (name == "default" && reader_name_.empty()))
            return;
        throw error(EINVAL,
                    "this handle already reads as '" +
                        (reader_name_.empty() ? std::string("default") : reader_name_) +
                        "'; a handle is one reader, attach again for another");
    }
    const bool is_default = name.empty() || name == "default";
    bool resumed = false;
    uint64_t jumped = 0;
    const uint32_t slot = detail::claim_reader(ctl_,
                                               is_default ? std::string() : name,
                                               is_default ? true : tethered,
                                               is_default ? -1 : grace_ns,
                                               id_,
                                               seg_->name(),
                                               &resumed,
                                               &holder_,
                                               who,
                                               &jumped,
                                               is_default ? 0 : history,
                                               &history_);
    reader_name_ = is_default ? std::string() : name;
    want_tethered_ = is_default ? true : tethered;
    want_grace_ = is_default ? -1 : grace_ns;
    slot_ = slot;
    tethered_ = (ctl_->readers[slot].flags.load(std::memory_order_acquire) &
                 reader_tethered) != 0;
    read_idx_ = reinterpret_cast<uint64_t*>(&ctl_->readers[slot].read_idx);
    reading_ = true;
    r_ = ctl_->readers[slot].read_idx.load(std::memory_order_acquire);
    // A resumed reader moved past samples reused while it was away is told
    // at its first window, like a lapped one.
    pending_skip_ = jumped;
    skip_at_ = r_;
    const detail::stream_info si = detail::locate(ctl_, r_);
    reported_ = false;
    if (si.lost) {
        lose_streams(si);
    } else {
        set_stream(si);
        // A new named reader starts at the write index: the end of a stream
        // that ended before it came is not news to it.
        reported_ = !is_default && !resumed && end_ == r_;
    }
    limit_ = r_;
    window_ = 0;
    tag_pos_ = ctl_->tag_tail.load(std::memory_order_acquire);
    get_ok_ = true;
}

template <class T>
void ring<T>::set_stream(const detail::stream_info& si) noexcept
{
    s_ = si.stream;
    // An end before the reader's position (a scribbled header) is taken as
    // the position: a view never reaches past the end of its stream.
    end_ = si.end != stream_open && si.end - r_ > (uint64_t(1) << 63) ? r_ : si.end;
    end_why_ = si.why == stream_end::broken ? status::broken : status::end_of_stream;
    ctl_->readers[slot_].stream.store(s_, std::memory_order_relaxed);
}

template <class T>
void ring<T>::skip_to(uint64_t to) noexcept
{
    // The reader passes samples it never had: counted in `skipped`, marked by
    // a "skipped" tag at the first sample it reads next.
    const uint64_t missed = to - r_;
    reader_slot& me = ctl_->readers[slot_];
    me.skipped.store(me.skipped.load(std::memory_order_relaxed) + missed,
                     std::memory_order_relaxed);
    pending_skip_ += missed;
    skip_at_ = to;
    r_ = to;
    me.read_idx.store(r_, std::memory_order_release);
}

template <class T>
void ring<T>::learn_stream() noexcept
{
    // The stream changed or was closed since s_ began (or s_ is not known
    // yet): s_'s end is in the seam table.
    const uint64_t cur = ctl_->stream.load(std::memory_order_acquire);
    if (s_ > cur)
        return; // s_ has not started yet
    detail::stream_info si;
    if (detail::read_seam(ctl_, s_, si)) {
        set_stream(si);
        return;
    }
    // s_'s record was reused (or is being rewritten): its end is where the
    // next stream still recorded starts. If that is s_ + 1, nothing is lost.
    // If it is later, the reader is more than seam_slots streams behind and
    // nothing says where the streams in between ended: it is never handed
    // them glued together; it continues at the first sample of the oldest
    // stream still recorded, counts what lies between as skipped, and the
    // end of its stream is reported there, once. If no record says yet,
    // nothing is readable (refresh) until one does.
    detail::stream_info oldest;
    for (uint32_t i = 0; i < seam_slots; ++i) {
        const uint64_t s = ctl_->seams[i].stream.load(std::memory_order_acquire);
        detail::stream_info c;
        if (s > s_ && s <= cur && (oldest.stream == 0 || s < oldest.stream) &&
            detail::read_seam(ctl_, s, c))
            oldest = c;
    }
    if (oldest.stream == 0)
        return;
    const uint64_t ahead = oldest.first - r_; // modular: "behind" is huge
    if (ahead > (uint64_t(1) << 63)) {
        locate_again(); // r_ is already in a later stream
    } else if (oldest.stream == s_ + 1) {
        detail::stream_info ended;
        ended.stream = s_;
        ended.first = r_;
        ended.end = oldest.first;
        ended.why = stream_end::closed;
        set_stream(ended);
    } else {
        oldest.stream -= 1;
        oldest.lost = true;
        lose_streams(oldest);
    }
}

template <class T>
void ring<T>::lose_streams(const detail::stream_info& si) noexcept
{
    // The reader's stream is older than the seam table: continue at the
    // first sample of the oldest stream still recorded (si.first), count
    // what lies between as skipped, and report the end of the lost
    // stream(s) there, once.
    if (si.first - r_ < (uint64_t(1) << 63))
        skip_to(si.first);
    detail::stream_info lost;
    lost.stream = si.stream;
    lost.first = r_;
    lost.end = r_;
    lost.why = stream_end::closed;
    set_stream(lost);
    reported_ = false;
}

template <class T>
void ring<T>::locate_again() noexcept
{
    const detail::stream_info si = detail::locate(ctl_, r_);
    if (si.lost)
        lose_streams(si);
    else
        set_stream(si);
}

template <class T>
void ring<T>::next_stream() noexcept
{
    // The end of s_ was reported and what is left of it does not fit the
    // request: drop the rest and go on with the next stream.
    if (r_ < end_) {
        r_ = end_;
        reader_slot& me = ctl_->readers[slot_];
        me.read_idx.store(r_, std::memory_order_seq_cst);
        if (tethered_ && ctl_->producer_parked.load(std::memory_order_seq_cst))
            detail::wake(ctl_->producer_parked);
    }
    ++s_;
    end_ = stream_open;
    reported_ = false;
    ctl_->readers[slot_].stream.store(s_, std::memory_order_relaxed);
    if (ctl_->stream.load(std::memory_order_acquire) >= s_)
        learn_stream();
}

template <class T>
void ring<T>::skip_lapped(uint64_t w) noexcept
{
    // Lapped: the producer has overwritten (or is overwriting, up to its
    // horizon) samples from r_ on. Continue at the oldest intact one, but
    // never past the end of the reader's own stream: the end is reported
    // there first (each seam once), then the next stream is looked at.
    const uint64_t h = std::max(w, ctl_->horizon.load(std::memory_order_acquire));
    if (h - r_ <= cap_ || h - w > cap_)
        return; // not lapped (or a horizon no producer could have set)
    uint64_t to = h - cap_;
    if (end_ != stream_open && end_ - r_ < to - r_)
        to = end_;
    if (to != r_)
        skip_to(to);
}

template <class T>
void ring<T>::refresh(uint64_t n) noexcept
{
    const uint64_t w = ctl_->write_idx.load(std::memory_order_acquire);
    if (index_impossible(w)) {
        limit_ = r_; // nothing is readable from a corrupt header
        return;
    }
    // The one place that decides where the reader's stream ends and which
    // stream it reads. Each round passes at most one seam that was already
    // reported; the bound keeps a scribbled header from looping.
    for (uint32_t round = 0; round < seam_slots + 2; ++round) {
        if (end_ == stream_open &&
            (ctl_->stream.load(std::memory_order_acquire) != s_ ||
             ctl_->closed.load(std::memory_order_acquire) != 0))
            learn_stream();
        if (!tethered_)
            skip_lapped(w);
        // Once the end of s_ was reported, a request what is left cannot
        // serve moves on to the next stream.
        if (!(reported_ && end_ != stream_open && end_ - r_ < n))
            break;
        next_stream();
    }
    // A stream that ended with its end not known yet: nothing is readable.
    if (end_ == stream_open && ctl_->stream.load(std::memory_order_acquire) > s_)
        limit_ = r_;
    else
        limit_ = r_ + readable_between(r_, w, end_);
}

template <class T>
typename ring<T>::view ring<T>::poll_slow(uint64_t n) noexcept
{
    if (n == 0 || n > cap_)
        return { nullptr, status::invalid };
    if (!reading_ && !claim_reader())
        return { nullptr, status::busy };
    if (limit_ - r_ < n || !tethered_) {
        refresh(n);
        if (limit_ - r_ < n)
            return { nullptr, w_corrupt_ ? status::corrupt : status::timeout };
    }
    window_ = n;
    return { data_ + (r_ & mask_), status::ok };
}

template <class T>
int64_t ring<T>::consume_slow(uint64_t n) noexcept
{
    if (!reading_) { // r_ is not a read position yet: storing it would rewind
                     // read_idx
        errno = EINVAL;
        return -1;
    }
    if (n > limit_ - r_) {
        const uint64_t w = ctl_->write_idx.load(std::memory_order_acquire);
        if (index_impossible(w)) {
            errno = EBADMSG;
            return -1;
        }
        limit_ = r_ + readable_between(r_, w, end_);
        if (n > limit_ - r_) {
            errno = EINVAL;
            return -1;
        }
    }
    if (tethered_) {
        // Within what is readable now: the inline path stores read_idx and
        // wakes a producer parked for the room.
        (void)dp_hot_consume(this, n);
        return 0;
    }
    const uint64_t start = r_;
    r_ += n;
    // Release: the samples were read before the producer may reuse them.
    ctl_->readers[slot_].read_idx.store(r_, std::memory_order_release);
    return overwritten(start, n);
}

template <class T>
typename ring<T>::view
ring<T>::wait_slow(uint64_t n, int64_t timeout_ns, interrupt stop) noexcept
{
    const int64_t deadline = timeout_ns < 0 ? INT64_MAX : detail::now_ns() + timeout_ns;
    for (;;) {
        if (end_ != stream_open && end_ - r_ < n && limit_ == end_) {
            reported_ = true;
            return { nullptr, end_why_ };
        }
        const int64_t left = deadline - detail::now_ns();
        const status s =
            detail::reader_park(ctl_,
                                slot_,
                                s_,
                                r_,
                                r_ + n,
                                cap_,
                                tethered_,
                                timeout_ns < 0 ? -1 : std::max<int64_t>(0, left),
                                waiting(false, stop));
        refresh(n);
        if (w_corrupt_)
            return { nullptr, status::corrupt };
        if (limit_ - r_ >= n) {
            window_ = n;
            return { data_ + (r_ & mask_), status::ok };
        }
        if ((s == status::broken || s == status::end_of_stream) && end_ == stream_open) {
            // The producer of the open stream died (broken), or the stream
            // was closed by a handle that was not its producer and no
            // producer is left to record the end: it ends where it stopped.
            end_ = std::max(
                r_, std::min(ctl_->write_idx.load(std::memory_order_acquire), r_ + cap_));
            end_why_ = s;
            limit_ = end_;
            continue;
        }
        if (end_ != stream_open && end_ - r_ < n && limit_ == end_)
            continue; // reported at the top
        if (s == status::interrupted) // samples and stream ends come first
            return { nullptr, status::interrupted };
        if (s == status::timeout || detail::now_ns() >= deadline)
            return { nullptr, status::timeout };
    }
}

template <class T>
int64_t ring<T>::overwritten(uint64_t start, uint64_t n) noexcept
{
    if (pending_skip_ != 0 && r_ > skip_at_)
        pending_skip_ = 0; // its window was consumed
    // Acquire: the horizon is read after the samples were (seqlock check).
    std::atomic_thread_fence(std::memory_order_acquire);
    const uint64_t h = ctl_->horizon.load(std::memory_order_relaxed);
    if (h <= cap_ || h - cap_ <= start)
        return 0;
    const uint64_t over = std::min(n, h - cap_ - start);
    reader_slot& me = ctl_->readers[slot_];
    me.skipped.store(me.skipped.load(std::memory_order_relaxed) + over,
                     std::memory_order_relaxed);
    return int64_t(over);
}

template <class T>
tag_cursor ring<T>::tags() noexcept
{
    tag_cursor c;
    if (!reading_ || window_ == 0)
        return c;
    // The records of the window are copied out of the shared area and
    // decoded from the copy, never in place: the producer reclaims records
    // behind the tethered readers only, and reuses their bytes while an
    // untethered reader may still be reading them. A copy counts only if
    // the tail did not pass its start while it was taken (seqlock: the
    // producer publishes the tail, then a release fence, then overwrites).
    const detail::tag_copy got = detail::copy_tag_records(
        ctl_, tags_, tag_bytes_, tag_pos_, r_, r_ + window_, tag_copy_);
    c.corrupt_ = got.corrupt;
    c.area_ = reinterpret_cast<const uint8_t*>(tag_copy_.data());
    c.bytes_ = got.area_bytes;
    c.pos_ = 0;
    c.head_ = got.bytes;
    c.first_ = r_;
    c.last_ = r_ + window_;
    if (pending_skip_ != 0 && skip_at_ >= r_ && skip_at_ < r_ + window_) {
        tag_record rec {};
        rec.index = skip_at_;
        rec.kind = tag_kind_tag;
        rec.key_len = uint16_t(std::strlen(tag_skipped));
        const u64_value v(pending_skip_);
        rec.value_len = uint32_t(sizeof v.bytes);
        std::memcpy(skip_rec_, &rec, sizeof rec);
        std::memcpy(skip_rec_ + sizeof rec, tag_skipped, rec.key_len);
        std::memcpy(skip_rec_ + sizeof rec + rec.key_len, v.bytes, sizeof v.bytes);
        c.extra_ = skip_rec_;
    }
    return c;
}

// ---------------------------------------------------------------------------
// release
// ---------------------------------------------------------------------------

template <class T>
void ring<T>::release_held() noexcept
{
    if (producing_) {
        if (detail::owns(ctl_->producer, ctl_->producer_handle, id_)) {
            close();
            detail::unclaim(ctl_->producer, ctl_->producer_handle, id_);
        }
        producing_ = false;
        put_ok_ = false;
    }
    if (reading_) {
        get_ok_ = false;
        detail::release_reader(ctl_, slot_, id_);
        reading_ = false;
    }
    if (!released_) {
        released_ = true;
        seg_->exit(); // the last handle on this mapping leaves the parties
    }
}

template class ring<f32>;
template class ring<f64>;
template class ring<i16>;

} // namespace doppler
