/* -*- c++ -*- */
/*
 * doppler-bridge: the two halves of a bridge without their sockets, so that
 * tests can run ring -> bytes -> ring in one process.
 *
 *   outbound  reads a ring as a reader of its own and turns what it finds
 *             into gr-zeromq messages: the samples readable now (with their
 *             tags), the end of a stream, heartbeats.
 *   inbound   takes gr-zeromq messages and writes their items and tags into
 *             a ring as its producer, turning the seam tags back into stream
 *             ends, checking each message's offset against the one expected.
 *
 * Seam tags (docs/bridge.md): the ring's own ("stream_start", n) at the first
 * sample of stream n travels as it is; the end of a stream travels as a
 * message without items whose header offset is the stream's end and whose
 * one tag is ("stream_end", "closed") or ("stream_end", "broken") at that
 * offset. A stock GNU Radio source drops that tag (it is past the message's
 * items) and ignores the empty message. A heartbeat is a message without
 * items and without tags; its offset is the sender's next sample. While no
 * sample followed the end of a stream, heartbeats repeat its end marker (a
 * receiver ignores an end when it has no stream open), so that a PUB socket
 * that dropped the first one does not leave a subscriber's stream open.
 * SPDX-License-Identifier: GPL-3.0-or-later
 */
#pragma once

#include "convert.hpp"
#include "net.hpp"
#include "position.hpp"
#include "wire.hpp"

#include <doppler/ring.hpp>

#include <functional>
#include <memory>
#include <string>
#include <vector>

namespace doppler {
namespace bridge {

/// Key of the end-of-stream tag; its value is the str "closed" or "broken".
constexpr const char* tag_stream_end = "stream_end";
/// Key of the tag a receiver puts on the first sample after a gap in the
/// sender's offsets; its value is the uint64 count of samples missing.
constexpr const char* tag_gap = "gap";

/// Where outbound puts a message: a buffer of the size asked for (a ZeroMQ
/// message in the program, a byte vector in tests).
class message_out
{
public:
    virtual ~message_out() = default;
    /// A buffer of `bytes` for the next message, replacing an unsent one.
    virtual uint8_t* allocate(size_t bytes) = 0;
};

class outbound
{
public:
    enum class kind {
        data, ///< samples and their tags (already consumed from the ring)
        end, ///< the end of a stream (closed or broken)
        heartbeat, ///< nothing: the offset of the next sample
        idle, ///< no message: nothing arrived within the timeout
    };
    struct result {
        kind what = kind::idle;
        uint64_t first = 0; ///< header offset
        uint64_t items = 0;
        size_t bytes = 0; ///< message size
        stream_end why = stream_end::open; ///< for kind::end
    };
    struct counters {
        uint64_t tags = 0; ///< tags sent
        uint64_t tags_skipped = 0; ///< tags the wire cannot carry (left out)
        uint64_t overwritten = 0; ///< samples overwritten while copied (untethered)
    };
    virtual ~outbound() = default;
    /// Wait up to timeout_ns (or until `stop` says so: kind::idle) for
    /// samples or the end of the reader's stream and put the message into
    /// out. Data messages hold what is readable now, up to max_items; those
    /// samples are consumed before the message is sent (a sender that dies
    /// never sends a sample twice). Throws doppler::error if the ring is
    /// corrupt or the reader cannot be claimed.
    virtual result next(message_out& out, int64_t timeout_ns, interrupt stop = {}) = 0;
    /// A heartbeat message for the next sample's offset.
    virtual result heartbeat(message_out& out) = 0;
    virtual const counters& stats() const noexcept = 0;
    virtual const char* first_tag_skip() const noexcept = 0;
    /// The reader's samples readable and not yet sent; the ring's capacity.
    virtual uint64_t backlog() noexcept = 0;
    virtual uint64_t capacity() const noexcept = 0;
    /// Samples the reader lost to overruns (untethered readers).
    virtual uint64_t skipped() const noexcept = 0;
    virtual size_t item_bytes() const noexcept = 0;
};

/// Ring `ring` if it exists now, else null (any other failure to attach
/// throws): both programs look before they wait for or make one.
std::shared_ptr<segment> attach_if_there(const std::string& ring);

/// A reader of the ring on `seg` (claimed now: `reader` "" is the default
/// reader) sending in format w, at most max_items per message.
std::unique_ptr<outbound> make_outbound(std::shared_ptr<segment> seg,
                                        const std::string& reader,
                                        bool tethered,
                                        int64_t grace_ns,
                                        wire_format w,
                                        uint64_t max_items);

class inbound
{
public:
    struct counters {
        uint64_t messages = 0; ///< accepted (data, ends, heartbeats)
        uint64_t items = 0; ///< written into the ring
        uint64_t bytes = 0; ///< of accepted messages
        uint64_t heartbeats = 0; ///< messages without items: heartbeats, end markers
        uint64_t refused = 0; ///< malformed or oversized, skipped
        uint64_t gaps = 0, gap_items = 0; ///< offset jumps forward, samples missing
        uint64_t restarts = 0; ///< offset went back: a sender that started again
        uint64_t tags = 0; ///< tags written
        uint64_t tags_skipped = 0; ///< tags the ring cannot carry, or outside the items
        uint64_t streams_ended = 0; ///< local streams ended
    };
    virtual ~inbound() = default;
    /// One message. Checks it (size, header, whole items), compares its
    /// offset with the one expected (a gap or a sender that started again is
    /// logged and counted; a gap is tagged), writes its items and tags,
    /// waiting for room, and applies its seams. A refused message is logged,
    /// counted and skipped. Returns false if refused, or if `interrupted` said
    /// stop while it waited for room (before all its items were written).
    virtual bool message(const uint8_t* p, size_t n) = 0;
    /// End the local stream now (a stream was being written): the sender
    /// went away or fell silent. `reason` completes "stream N ended (why): ".
    virtual void end_stream(stream_end why, const char* reason) = 0;
    /// Is a local stream open (samples written since the last end)?
    virtual bool streaming() const noexcept = 0;
    /// Close the local stream (clean exit) and release the ring.
    virtual void finish() = 0;
    virtual const counters& stats() const noexcept = 0;
    /// Samples written and not yet consumed by the slowest tethered reader,
    /// and the ring's capacity.
    virtual uint64_t fill() noexcept = 0;
    virtual uint64_t capacity() const noexcept = 0;
    /// True if a message without items (a heartbeat or an end marker)
    /// arrived since the last forget_peer(): the peer is a bridge, which
    /// sends heartbeats, so its silence means something.
    virtual bool peer_sends_heartbeats() const noexcept = 0;
    virtual void forget_peer() noexcept = 0;
    virtual size_t item_bytes() const noexcept = 0;
};

/// The producer of the ring on `seg` (claimed now; error(EBUSY) naming the
/// holder if another live handle produces) receiving format w. `pos` (may be
/// null) keeps the position for a receiver started after this one;
/// messages over max_message bytes are refused; `interrupted` is the
/// interrupt of its waits for room (asked while they sleep).
std::unique_ptr<inbound> make_inbound(std::shared_ptr<segment> seg,
                                      wire_format w,
                                      uint64_t max_message,
                                      position_file* pos,
                                      logger& log,
                                      std::function<bool()> interrupted);

} // namespace bridge
} // namespace doppler
