/* -*- c++ -*- */
/*
 * doppler-bridge: outbound (ring -> messages) and inbound (messages -> ring),
 * see relay.hpp.
 * SPDX-License-Identifier: GPL-3.0-or-later
 */
#include "relay.hpp"

#include <algorithm>
#include <cerrno>
#include <cinttypes>
#include <cstring>
#include <type_traits>

namespace doppler {
namespace bridge {

namespace {

unsigned long long ull(uint64_t v)
{
    return static_cast<unsigned long long>(v);
}

const char* end_name(stream_end why)
{
    return why == stream_end::broken ? "broken" : "closed";
}

/// The kind of line (rate-limited apart) of a header refused for `s`.
line header_line(wire::header_status s)
{
    switch (s) {
    case wire::header_status::no_header:
        return line::no_header;
    case wire::header_status::truncated:
        return line::truncated;
    case wire::header_status::bad_version:
        return line::bad_version;
    default:
        return line::malformed;
    }
}

// ---------------------------------------------------------------------------
// outbound
// ---------------------------------------------------------------------------

template <class T>
class outbound_impl final : public outbound
{
public:
    outbound_impl(std::shared_ptr<segment> seg,
                  const std::string& reader,
                  bool tethered,
                  int64_t grace_ns,
                  wire_format w,
                  uint64_t max_items)
        : r_(std::move(seg))
        , w_(w)
        , isz_(wire_item_bytes(sample_traits<T>::type, w))
        , max_(std::max<uint64_t>(1, std::min(max_items, r_.capacity())))
    {
        r_.claim_reader(reader, tethered, grace_ns);
    }

    result next(message_out& out, int64_t timeout_ns, interrupt stop) override
    {
        result res;
        auto v = r_.wait(1, timeout_ns, stop);
        if (!v) {
            switch (v.why) {
            case status::timeout:
            case status::interrupted:
                return res;
            case status::end_of_stream:
            case status::broken:
                return end_message(out,
                                   v.why == status::broken ? stream_end::broken
                                                           : stream_end::closed);
            case status::corrupt:
                throw error(EBADMSG,
                            r_.corruption() +
                                "; stop every program using it and make the ring again");
            default:
                throw error(status_errno(v.why),
                            std::string("reading the ring failed: ") +
                                status_name(v.why));
            }
        }
        uint64_t k = std::min(r_.poll_available(), max_);
        v = r_.poll(k);
        if (!v)
            return res; // cannot happen: k samples were readable
        uint64_t first = r_.read_index();
        collect_tags();
        encode(first, 0);
        uint8_t* p = out.allocate(hdr_.size() + k * isz_);
        std::memcpy(p, hdr_.data(), hdr_.size());
        store(p + hdr_.size(), v.data, k);
        const int64_t over = r_.consume_checked(k);
        if (over < 0)
            throw error(errno,
                        r_.corruption() +
                            "; stop every program using it and make the ring again");
        if (over > 0) {
            // An untethered reader: the oldest `over` samples were overwritten
            // while they were copied. Send only the intact ones (the receiver
            // sees the gap in the offsets).
            st_.overwritten += uint64_t(over);
            if (uint64_t(over) == k)
                return res;
            scratch_.assign(p + hdr_.size() + uint64_t(over) * isz_,
                            p + hdr_.size() + k * isz_);
            first += uint64_t(over);
            k -= uint64_t(over);
            encode(first, first);
            p = out.allocate(hdr_.size() + scratch_.size());
            std::memcpy(p, hdr_.data(), hdr_.size());
            std::memcpy(p + hdr_.size(), scratch_.data(), scratch_.size());
        }
        res.what = kind::data;
        res.first = first;
        res.items = k;
        res.bytes = hdr_.size() + k * isz_;
        return res;
    }

    result heartbeat(message_out& out) override
    {
        // While nothing followed the end of a stream, heartbeats repeat its
        // end marker: a PUB socket may have dropped the first one.
        if (ended_ && r_.read_index() == ended_at_) {
            result res = end_message(out, ended_why_);
            res.what = kind::heartbeat;
            return res;
        }
        result res;
        res.what = kind::heartbeat;
        res.first = r_.read_index();
        hdr_.clear();
        wire::encode_header(hdr_, res.first, nullptr, 0);
        std::memcpy(out.allocate(hdr_.size()), hdr_.data(), hdr_.size());
        res.bytes = hdr_.size();
        return res;
    }

    const counters& stats() const noexcept override { return st_; }
    const char* first_tag_skip() const noexcept override { return first_skip_; }
    uint64_t backlog() noexcept override { return r_.poll_available(); }
    uint64_t capacity() const noexcept override { return r_.capacity(); }
    uint64_t skipped() const noexcept override { return r_.skipped(); }
    size_t item_bytes() const noexcept override { return isz_; }

private:
    result end_message(message_out& out, stream_end why)
    {
        result res;
        res.what = kind::end;
        res.why = why;
        res.first = r_.read_index();
        ended_ = true;
        ended_at_ = res.first;
        ended_why_ = why;
        value_.clear();
        encode::str(value_, end_name(why));
        const wire::tag t(res.first, tag_stream_end, value_);
        hdr_.clear();
        wire::encode_header(hdr_, res.first, &t, 1);
        std::memcpy(out.allocate(hdr_.size()), hdr_.data(), hdr_.size());
        res.bytes = hdr_.size();
        return res;
    }

    // The window's tags, copied (the ring's records may be reclaimed once
    // the window is consumed, and an overwritten window is re-encoded after
    // that). The reader's own ("skipped", n) marker is not sent: the jump in
    // the offsets tells the receiver.
    void collect_tags()
    {
        arena_.clear();
        owned_.clear();
        tag_cursor c = r_.tags();
        tag_view t;
        while (c.next(t)) {
            if (t.key == tag_skipped)
                continue;
            owned o;
            o.index = t.index;
            o.key_at = arena_.size();
            o.key_len = t.key.size();
            arena_.append(t.key);
            o.value_at = arena_.size();
            o.value_len = t.value.size();
            arena_.append(reinterpret_cast<const char*>(t.value.data()), t.value.size());
            owned_.push_back(o);
        }
    }

    // The header for a message starting at `first`, with the collected tags
    // at or after `from`.
    void encode(uint64_t first, uint64_t from)
    {
        wtags_.clear();
        for (const owned& o : owned_)
            if (o.index >= from)
                wtags_.emplace_back(
                    o.index,
                    std::string_view(arena_.data() + o.key_at, o.key_len),
                    std::string_view(arena_.data() + o.value_at, o.value_len));
        hdr_.clear();
        wire::encode_stats es;
        wire::encode_header(hdr_, first, wtags_.data(), wtags_.size(), &es);
        st_.tags += es.written;
        st_.tags_skipped += es.skipped;
        if (es.first_skip && !first_skip_)
            first_skip_ = es.first_skip;
    }

    void store(uint8_t* dst, const T* src, uint64_t k) noexcept
    {
        if constexpr (std::is_same_v<T, f32>) {
            if (w_ == wire_format::sc16) {
                f32_to_sc16(src, reinterpret_cast<int16_t*>(dst), k);
                return;
            }
        }
        std::memcpy(dst, static_cast<const void*>(src), k * sizeof(T));
    }

    struct owned {
        uint64_t index;
        size_t key_at, key_len, value_at, value_len;
    };

    ring<T> r_;
    wire_format w_;
    size_t isz_;
    uint64_t max_;
    counters st_;
    const char* first_skip_ = nullptr;
    bool ended_ = false; // the last message was an end marker, at ended_at_
    uint64_t ended_at_ = 0;
    stream_end ended_why_ = stream_end::closed;
    std::string hdr_, arena_, value_, scratch_;
    std::vector<owned> owned_;
    std::vector<wire::tag> wtags_;
};

// ---------------------------------------------------------------------------
// inbound
// ---------------------------------------------------------------------------

template <class T>
class inbound_impl final : public inbound
{
public:
    inbound_impl(std::shared_ptr<segment> seg,
                 wire_format w,
                 uint64_t max_message,
                 position_file* pos,
                 logger& log,
                 std::function<bool()> interrupted)
        : seg_(std::move(seg))
        , w_(w)
        , isz_(wire_item_bytes(sample_traits<T>::type, w))
        , max_message_(max_message)
        , pos_(pos)
        , log_(log)
        , interrupted_(std::move(interrupted))
    {
        out_ = new_producer();
        if (pos_) {
            const position_file::recalled r = pos_->recall(out_->written(), &expected_);
            if (r == position_file::recalled::found) {
                have_expected_ = true;
                expected_from_file_ = true;
                log_.info("the previous receiver of this ring stopped before sender "
                          "offset %llu (%s)",
                          ull(expected_),
                          pos_->path().c_str());
            } else if (r != position_file::recalled::empty) {
                log_.warn("the position file %s %s: ignored (samples lost in flight "
                          "when the previous receiver stopped cannot be reported)",
                          pos_->path().c_str(),
                          position_file::describe(r));
            }
        }
    }

    ~inbound_impl() override = default;

    bool message(const uint8_t* p, size_t n) override
    {
        if (n > max_message_) {
            ++st_.refused;
            log_.limited(line::too_large,
                         logger::level::warn,
                         "message of %zu bytes refused: larger than --max-message "
                         "(%llu bytes); skipped (%llu refused so far)",
                         n,
                         ull(max_message_),
                         ull(st_.refused));
            return false;
        }
        const wire::decode_result r = wire::decode_header(p, n, dec_);
        if (r.status != wire::header_status::ok) {
            ++st_.refused;
            if (r.status == wire::header_status::no_header)
                log_.limited(line::no_header,
                             logger::level::warn,
                             "message of %zu bytes refused: it does not start with "
                             "a gr-zeromq tag header (magic 0x5FF0): the sender must "
                             "send tags (pass_tags=True in GNU Radio); skipped (%llu "
                             "refused so far)",
                             n,
                             ull(st_.refused));
            else
                log_.limited(header_line(r.status),
                             logger::level::warn,
                             "message of %zu bytes refused: %s: %s; skipped (%llu "
                             "refused so far)",
                             n,
                             wire::to_string(r.status),
                             dec_.message.c_str(),
                             ull(st_.refused));
            return false;
        }
        const size_t bytes = n - r.used;
        if (bytes % isz_ != 0) {
            ++st_.refused;
            log_.limited(line::not_whole_items,
                         logger::level::warn,
                         "message of %zu bytes refused: its %zu bytes of items are "
                         "not a whole number of %zu-byte items (ring type %s, "
                         "--wire %s): does the sender's item size match? skipped "
                         "(%llu refused so far)",
                         n,
                         bytes,
                         isz_,
                         type_name(sample_traits<T>::type),
                         wire_name(w_),
                         ull(st_.refused));
            return false;
        }
        const uint64_t nitems = bytes / isz_;
        const uint8_t* items = p + r.used;
        const uint64_t first = dec_.first_index;
        ++st_.messages;
        st_.bytes += n;
        if (nitems == 0) { // only a bridge sends these (a GNU Radio sink never does)
            ++st_.heartbeats;
            heartbeats_ = true;
        }
        if (dec_.skipped != 0) {
            st_.tags_skipped += dec_.skipped;
            log_.limited(line::tags_not_carried,
                         logger::level::warn,
                         "%llu tag(s) of the message at sender offset %llu not "
                         "carried: %s",
                         ull(dec_.skipped),
                         ull(first),
                         dec_.message.c_str());
        }
        check_offset(first, nitems);

        // Seams, from the tags as sent (an end may sit just past the items).
        cuts_.clear();
        uint64_t seam_tags_outside = 0;
        for (size_t i = 0; i < dec_.size(); ++i) {
            const tag_in& t = dec_[i];
            if (t.key == tag_stream_end && t.offset <= nitems) {
                cuts_.push_back({ t.offset, true, broken_value(t.value) });
                seam_tags_outside += t.offset == nitems;
            } else if (t.key == tag_stream_start && t.offset < nitems) {
                cuts_.push_back({ t.offset, false, stream_end::open });
            }
        }
        dec_.keep_within(nitems);
        st_.tags_skipped += dec_.outside - seam_tags_outside;
        std::stable_sort(cuts_.begin(), cuts_.end(), [](const cut& a, const cut& b) {
            return a.at != b.at ? a.at < b.at : a.is_end && !b.is_end;
        });
        if (pos_ && nitems != 0)
            pos_->note(out_->written(), first, nitems);

        uint64_t cur = 0;
        size_t ti = 0;
        for (const cut& c : cuts_) {
            if (!put(items, cur, c.at, ti))
                return false;
            cur = c.at;
            if (c.is_end) {
                if (streaming())
                    end_stream(c.why, "the sender's stream ended there");
            } else if (streaming()) {
                end_stream(stream_end::broken,
                           "a new stream of the sender began before the end of the "
                           "last one arrived (its end marker was lost)");
            }
        }
        return put(items, cur, nitems, ti);
    }

    void end_stream(stream_end why, const char* reason) override
    {
        if (!streaming())
            return;
        // The next handle first, so that the mapping stays a party to the
        // ring while the old handle goes (its release must not remove the
        // name when no reader is attached).
        auto next = std::make_unique<ring<T>>(seg_);
        const uint64_t s = out_->producer_stream();
        const uint64_t at = out_->written();
        out_->close(why);
        out_ = std::move(next);
        claim(*out_);
        ++st_.streams_ended;
        if (why == stream_end::broken)
            log_.limited(line::stream_broken,
                         logger::level::warn,
                         "local stream %llu ended as broken at index %llu: %s",
                         ull(s),
                         ull(at),
                         reason);
        else
            log_.limited(line::stream_closed,
                         logger::level::info,
                         "local stream %llu closed at index %llu: %s",
                         ull(s),
                         ull(at),
                         reason);
    }

    bool streaming() const noexcept override
    {
        return out_ && out_->producer_stream() != 0;
    }

    void finish() override
    {
        if (!out_)
            return;
        if (streaming()) {
            log_.info("local stream %llu closed at index %llu (stopping)",
                      ull(out_->producer_stream()),
                      ull(out_->written()));
        }
        out_->close();
        out_.reset();
    }

    const counters& stats() const noexcept override { return st_; }
    uint64_t fill() noexcept override
    {
        if (!out_)
            return 0;
        const uint64_t cap = out_->capacity();
        return cap - std::min(cap, out_->space(cap));
    }
    uint64_t capacity() const noexcept override { return seg_->capacity(); }
    bool peer_sends_heartbeats() const noexcept override { return heartbeats_; }
    void forget_peer() noexcept override { heartbeats_ = false; }
    size_t item_bytes() const noexcept override { return isz_; }

private:
    struct cut {
        uint64_t at;
        bool is_end;
        stream_end why;
    };

    static stream_end broken_value(std::string_view encoded)
    {
        const auto* p = reinterpret_cast<const uint8_t*>(encoded.data());
        if (!encoded.empty() && value_view(p, encoded.size()).type() == value_type::str &&
            value_view(p, encoded.size()).as_str() == "broken")
            return stream_end::broken;
        return stream_end::closed;
    }

    std::unique_ptr<ring<T>> new_producer()
    {
        auto h = std::make_unique<ring<T>>(seg_);
        claim(*h);
        return h;
    }

    void claim(ring<T>& h)
    {
        if (!h.claim_producer())
            throw error(EBUSY,
                        h.busy_message(true, audience::api) +
                            " (doppler-bridge recv writes the ring as its producer)");
    }

    void check_offset(uint64_t first, uint64_t nitems)
    {
        if (have_expected_ && first > expected_) {
            const uint64_t gap = first - expected_;
            ++st_.gaps;
            st_.gap_items += gap;
            pending_gap_ += gap;
            log_.limited(line::gap,
                         logger::level::warn,
                         "gap: %llu samples missing before sender offset %llu (expected "
                         "%llu): %s; the next sample written carries (\"gap\", %llu)",
                         ull(gap),
                         ull(first),
                         ull(expected_),
                         expected_from_file_
                             ? "lost in flight when the previous receiver stopped"
                             : "dropped on the way (PUB/SUB), skipped by an untethered "
                               "sender, or lost when the sender stopped",
                         ull(pending_gap_));
        } else if (have_expected_ && first < expected_) {
            ++st_.restarts;
            log_.limited(
                line::offset_back,
                logger::level::warn,
                "the sender's offset went back from %llu to %llu: a sender that "
                "started again, or another one (its count starts over); not a gap",
                ull(expected_),
                ull(first));
        }
        expected_ = first + nitems;
        have_expected_ = true;
        expected_from_file_ = false;
    }

    // Items [a, b) of the message and their tags (dec_ from index ti on,
    // by offset), waiting for room until there is some or `interrupted`
    // says stop (false).
    bool put(const uint8_t* items, uint64_t a, uint64_t b, size_t& ti)
    {
        const auto stop = [this] { return interrupted_ && interrupted_(); };
        while (a < b) {
            uint64_t k = out_->space(b - a);
            if (k == 0) {
                const status s = out_->wait_space(1, -1, stop);
                if (s == status::interrupted)
                    return false;
                if (s == status::corrupt)
                    throw error(EBADMSG,
                                out_->corruption() +
                                    "; stop every program using it and make the ring "
                                    "again");
                if (s == status::end_of_stream) {
                    // Another handle asked for the end of the stream being
                    // written (doppler-ring, a consumer's close()).
                    log_.limited(line::closed_by_other,
                                 logger::level::warn,
                                 "the local stream was closed by another handle; writing "
                                 "on in the next stream");
                    ++st_.streams_ended;
                    out_ = new_producer();
                } else if (s == status::busy) {
                    claim(*out_);
                }
                continue;
            }
            k = std::min(k, b - a);
            chunk_.clear();
            if (pending_gap_ != 0) {
                gap_value_.clear();
                encode::uint64(gap_value_, pending_gap_);
                chunk_.push_back({ 0, tag_gap, gap_value_ });
                pending_gap_ = 0;
            }
            while (ti < dec_.size() && dec_[ti].offset < a + k) {
                const tag_in& t = dec_[ti++];
                if (t.offset < a || t.key == tag_stream_start || t.key == tag_stream_end)
                    continue;
                chunk_.push_back({ t.offset - a, t.key, t.value });
            }
            store(out_->write_ptr(k), items + a * isz_, k);
            out_->commit(k, chunk_.data(), chunk_.size());
            st_.tags += chunk_.size();
            st_.items += k;
            a += k;
        }
        return true;
    }

    void store(T* dst, const uint8_t* src, uint64_t k) noexcept
    {
        if constexpr (std::is_same_v<T, f32>) {
            if (w_ == wire_format::sc16) {
                sc16_to_f32(reinterpret_cast<const int16_t*>(src), dst, k);
                return;
            }
        }
        std::memcpy(static_cast<void*>(dst), src, k * sizeof(T));
    }

    std::shared_ptr<segment> seg_;
    std::unique_ptr<ring<T>> out_;
    wire_format w_;
    size_t isz_;
    uint64_t max_message_;
    position_file* pos_;
    logger& log_;
    std::function<bool()> interrupted_;
    wire::decoded dec_;
    std::vector<cut> cuts_;
    std::vector<tag_in> chunk_;
    std::string gap_value_;
    bool have_expected_ = false, expected_from_file_ = false;
    uint64_t expected_ = 0;
    uint64_t pending_gap_ = 0;
    bool heartbeats_ = false;
    counters st_;
};

} // namespace

std::shared_ptr<segment> attach_if_there(const std::string& ring)
{
    try {
        return segment::attach(ring, sample_type(0));
    } catch (const error& e) {
        if (e.code().value() != ENOENT)
            throw;
        return nullptr;
    }
}

std::unique_ptr<outbound> make_outbound(std::shared_ptr<segment> seg,
                                        const std::string& reader,
                                        bool tethered,
                                        int64_t grace_ns,
                                        wire_format w,
                                        uint64_t max_items)
{
    switch (seg->type()) {
    case sample_type::f32:
        return std::make_unique<outbound_impl<f32>>(
            std::move(seg), reader, tethered, grace_ns, w, max_items);
    case sample_type::f64:
        return std::make_unique<outbound_impl<f64>>(
            std::move(seg), reader, tethered, grace_ns, w, max_items);
    case sample_type::i16:
        return std::make_unique<outbound_impl<i16>>(
            std::move(seg), reader, tethered, grace_ns, w, max_items);
    }
    throw error(EPROTOTYPE, "the ring holds samples of an unknown type");
}

std::unique_ptr<inbound> make_inbound(std::shared_ptr<segment> seg,
                                      wire_format w,
                                      uint64_t max_message,
                                      position_file* pos,
                                      logger& log,
                                      std::function<bool()> interrupted)
{
    switch (seg->type()) {
    case sample_type::f32:
        return std::make_unique<inbound_impl<f32>>(
            std::move(seg), w, max_message, pos, log, std::move(interrupted));
    case sample_type::f64:
        return std::make_unique<inbound_impl<f64>>(
            std::move(seg), w, max_message, pos, log, std::move(interrupted));
    case sample_type::i16:
        return std::make_unique<inbound_impl<i16>>(
            std::move(seg), w, max_message, pos, log, std::move(interrupted));
    }
    throw error(EPROTOTYPE, "the ring holds samples of an unknown type");
}

} // namespace bridge
} // namespace doppler
