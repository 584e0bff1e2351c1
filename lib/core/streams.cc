/* -*- c++ -*- */
/*
 * Streams: the seam table, written only by the producer, read by readers
 * when they run short (and by tools). Everything read here comes from shared
 * memory that a dead or hostile peer may have left in any state: loops are
 * bounded by the table size and a record is used only if it reads the same
 * stream number before and after its fields.
 * SPDX-License-Identifier: GPL-3.0-or-later
 */
#include <doppler/ring.hpp>

namespace doppler {
namespace detail {

bool read_seam(const control* c, uint64_t s, stream_info& out) noexcept
{
    if (s == 0)
        return false;
    const seam& rec = c->seams[s % seam_slots];
    if (rec.stream.load(std::memory_order_acquire) != s)
        return false;
    out.stream = s;
    out.first = rec.first.load(std::memory_order_acquire);
    out.end = rec.end.load(std::memory_order_acquire);
    const uint32_t why = rec.reason.load(std::memory_order_relaxed);
    // Acquire fence: the fields above are read before the re-check below.
    std::atomic_thread_fence(std::memory_order_acquire);
    if (rec.stream.load(std::memory_order_relaxed) != s)
        return false;
    out.why = why == uint32_t(stream_end::broken) ? stream_end::broken
        : out.end == stream_open                  ? stream_end::open
                                                  : stream_end::closed;
    if (out.end != stream_open && out.end < out.first)
        out.end = out.first; // impossible: an empty stream
    return true;
}

stream_info locate(const control* c, uint64_t r) noexcept
{
    const uint64_t cur = c->stream.load(std::memory_order_acquire);
    stream_info best, oldest; // oldest: the oldest stream recorded, wherever it starts
    for (uint32_t i = 0; i < seam_slots; ++i) {
        const uint64_t s = c->seams[i].stream.load(std::memory_order_acquire);
        stream_info si;
        if (s == 0 || s > cur || !read_seam(c, s, si))
            continue;
        if (oldest.stream == 0 || s < oldest.stream)
            oldest = si;
        if (si.first > r || (best.stream != 0 && s <= best.stream))
            continue;
        best = si;
    }
    if (best.stream == 0) {
        stream_info next;
        if (oldest.stream > 1) {
            // Every stream recorded starts after r: r's stream is older than
            // the table (its record was reused), and where it ended is not
            // known. Never a stream to read on into the next: lost.
            next.stream = oldest.stream - 1;
            next.first = oldest.first;
            next.lost = true;
            return next;
        }
        next.stream = cur + 1; // nothing recorded: the next stream to start
        return next;
    }
    if (best.end != stream_open && best.end < r) {
        // r is past that stream's end: it belongs to the next one.
        stream_info next;
        next.stream = best.stream + 1;
        stream_info si;
        if (read_seam(c, next.stream, si))
            return si;
        return next;
    }
    return best;
}

uint64_t start_stream(control* c, uint64_t w) noexcept
{
    const uint64_t prev = c->stream.load(std::memory_order_relaxed);
    stream_info si;
    if (read_seam(c, prev, si) && si.end == stream_open)
        end_stream(c, prev, w, stream_end::broken); // its producer died
    const uint64_t s = prev + 1;
    seam& rec = c->seams[s % seam_slots];
    rec.stream.store(0, std::memory_order_relaxed);
    // Release fence: readers that see the fields below also see stream 0.
    std::atomic_thread_fence(std::memory_order_release);
    rec.first.store(w, std::memory_order_relaxed);
    rec.reason.store(uint32_t(stream_end::open), std::memory_order_relaxed);
    rec.end.store(stream_open, std::memory_order_relaxed);
    rec.stream.store(s, std::memory_order_release);
    c->closed.store(0, std::memory_order_relaxed);
    // seq_cst: publish the stream, then load the parked mask (Dekker with a
    // reader that announces itself and then checks the stream): readers
    // waiting at the end of the previous stream learn it ended.
    c->stream.store(s, std::memory_order_seq_cst);
    if (const uint32_t m = c->parked_mask.load(std::memory_order_seq_cst))
        wake_readers(c, m, 0, true);
    return s;
}

void end_stream(control* c, uint64_t s, uint64_t w, stream_end why) noexcept
{
    if (s == 0)
        return;
    seam& rec = c->seams[s % seam_slots];
    if (rec.stream.load(std::memory_order_relaxed) != s)
        return;
    rec.reason.store(uint32_t(why), std::memory_order_relaxed);
    rec.end.store(w, std::memory_order_release); // reason before end
}

} // namespace detail
} // namespace doppler
