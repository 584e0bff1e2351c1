/* -*- c++ -*- */
/*
 * gr-doppler: the ring's own memory as the output buffer of the block that
 * feeds a Buffer Sink (zero-copy path).
 * SPDX-License-Identifier: GPL-3.0-or-later
 *
 * Design
 * ======
 *
 * What it is. A gr::buffer whose data pages are the ring's data pages. The
 *   ring is mapped twice back to back (ring.hpp), which is exactly what
 *   GNU Radio's double-mapped buffers need: d_base is the ring's first slot,
 *   d_bufsize its capacity, and GNU Radio's item j is ring slot j. The
 *   buffer's write index starts at the slot of the ring's write index, so the
 *   upstream block's n-th item of the run lands on ring index base + n, the
 *   sample published n-th: commit(n) with the tags of the window, no copy
 *   ("Publishing" below).
 *
 * Who installs it, and when. The Buffer Sink, in its start(). GNU Radio
 *   calls start() in the sink's own thread once every buffer and reader of
 *   the run exists and before any block's work() runs (all block threads
 *   pass a barrier after their start()), so the sink sees the final topology:
 *   it replaces the upstream block's output buffer (block_detail::set_output)
 *   and its own reader (set_input) only if
 *     - the ring's samples are the port's items (f32 ring and complex input,
 *       i16 ring and raw sc16 input): no conversion;
 *     - the policy is "block" (see "Drop policy" below);
 *     - the buffer GNU Radio gave the upstream block is its plain
 *       double-mapped one (not a custom buffer of that block's own);
 *     - the sink is that buffer's only reader (several downstream blocks
 *       read one buffer; the ring's memory cannot be theirs too);
 *     - the ring holds at least as many items as that buffer (the upstream
 *       block's output_multiple and decimating readers were sized for it)
 *       and at most 2^30 (GNU Radio's indices are int).
 *   Otherwise the run takes the copy path, which is the sink as it always
 *   was. GNU Radio's own custom-buffer mechanism (a buffer type in the sink's
 *   input signature, replace_buffer() on the upstream block during
 *   flat_flowgraph::connect_block_inputs) is not used: it decides one edge
 *   at a time, before the other readers of the upstream port are connected
 *   (a reader connected earlier stays on the replaced buffer and never gets
 *   data), and it refuses to start a flowgraph whose upstream block has a
 *   custom buffer of its own. Only other blocks' start() runs while the
 *   sink swaps the buffer; the old buffer and reader are kept alive until
 *   the sink's next run, so such a start() that looks at its output buffer
 *   still finds a valid one (which buffer it finds is a race GNU Radio
 *   leaves open: a block that adds tags in start() may lose them).
 *
 * Block policy: never write over what a tethered reader has not consumed.
 *   GNU Radio's accounting only knows the sink's read position. So
 *   space_available(), which the upstream block's thread calls before every
 *   work() (under the buffer's mutex), returns the smaller of GNU Radio's own
 *   figure and the ring's room from the upstream block's write position
 *   base + nitems_written: the lowest tethered read index + capacity - that
 *   position (ring::tethered_floor, shared atomics only, reloaded only when
 *   the cached floor would limit the call). Before returning it announces the
 *   end of that room to untethered readers (ring::announce_until, the horizon
 *   that write_ptr(n) sets in the copy path), so a window an untethered
 *   reader holds is reported as overwritten exactly as before. The sink never
 *   calls write_ptr() on this path: the horizon only moves forward.
 *
 * Waiting for room, and stopping. When the ring is the reason the upstream
 *   block cannot write, GNU Radio calls output_blocked_callback() in the
 *   upstream block's thread, holding the buffer's mutex with no work() of
 *   either block in progress (custom_lock). If the sink still has items to
 *   publish it returns false: the upstream block waits for the sink's next
 *   work(), which wakes it as usual. Otherwise it waits on the ring for
 *   room (ring::wait_space: the ring's futex handshake, woken by the
 *   consuming reader, with the thread's stop request as its interrupt) and
 *   returns true ("try again", releasing the mutex in between) once there
 *   is room or a stall was reported; it returns false once the thread is
 *   asked to stop (tb.stop(): boost interruption), so the upstream block
 *   reaches its interruptible wait and ends, with no ring reader at all
 *   too, and once the sink stops (detach()). The producer-side methods of the ring handle
 * are thus used by two threads, never at once: the sink inside work(), the upstream block
 * inside this callback, and GNU Radio's buffer mutex orders the two. A ring that is
 * closed or corrupt while the upstream block waits ends the run: the buffer is marked
 * done (both blocks then finish), the error is logged.
 *
 * Drop policy takes the copy path. The drop decision (a chunk that does not
 *   fit is refused whole and counted) can only be made once the chunk exists.
 *   In place, the upstream block has written it before the sink sees it, so
 *   with a full ring it would have had to either wait (a stall: that is the
 *   block policy), or write over slots a tethered reader has not consumed
 *   (a reader could see a torn or overwritten window), or write somewhere
 *   else (a copy). The copy path keeps offered = written + dropped and the
 *   ("dropped", n) marker at the gap.
 *
 * Publishing. The upstream block's own thread publishes: GNU Radio calls
 *   post_work(n) there right after the block's work() produced n items and
 *   its tags were added (block_detail::produce_each, before the write
 *   pointer moves), and post_work() hands the n items and the tags on them
 *   to the sink's publisher (commit: the ring's write index, and a wake for
 *   a reader parked for them). A reader so gets its samples as soon as they
 *   are written, without waiting for the sink's thread to be scheduled; the
 *   sink's own work() only consumes its input, which keeps GNU Radio's
 *   accounting of the buffer. Every producer-side use of the ring handle
 *   (room, the horizon, waiting, publishing) is thus in the upstream
 *   block's thread; the sink's thread takes the handle back only in stop(),
 *   after detach(). A ring that another handle closed is seen there too
 *   (the run ends as for a ring closed while waiting).
 *
 * Stop. The sink's stop() waits (at most a second) until no work() uses the
 *   buffer, then detaches it: from then on it is a private double-mapped
 *   buffer of the same size, so an upstream block still running (the sink
 *   ended first) or a flowgraph reconfigured with lock()/unlock() never
 *   writes into the ring again, in particular not after the sink gave up
 *   the producer role. Only then does the sink end its stream. The buffer
 *   holds the ring handle, so the mapping outlives any late access.
 *
 * Hot path. space_available() and post_work() in the upstream block's
 *   thread, the sink's work() in its own: no allocation (the tag vector
 *   keeps its capacity), no lock beyond the buffer mutex GNU Radio holds
 *   around space_available(), one load of a cached floor per call.
 */
#ifndef INCLUDED_DOPPLER_RING_BUFFER_H
#define INCLUDED_DOPPLER_RING_BUFFER_H

#include "block_ring.h"

#include <gnuradio/block.h>
#include <gnuradio/buffer.h>
#include <gnuradio/doppler/ring_ref.h>
#include <gnuradio/logger.h>

#include <atomic>
#include <memory>
#include <string>
#include <vector>

// DOPPLER_ZERO_COPY (lib/blocks/CMakeLists.txt, decided by
// cmake/zero_copy.cmake): 1 where GNU Radio's gr::buffer has the protected
// fields this class sets (GNU Radio 3.10.x); 0 elsewhere, and then the class
// is only declared and the sink always copies.
#ifndef DOPPLER_ZERO_COPY
#define DOPPLER_ZERO_COPY 1
#endif

namespace gr {
namespace doppler {
namespace detail {

/// What publishes the items the upstream block wrote into the ring (the
/// Buffer Sink): called in the upstream block's thread, from post_work().
class in_place_publisher
{
public:
    /// Publish the n items from GNU Radio's item `first` on, written at the
    /// ring's write index, with `tags` (those on these items, in offset
    /// order). False if the ring refuses (closed, or the items are not at its
    /// write index): the run then ends, `why` says why.
    virtual bool publish_in_place(uint64_t first,
                                  uint64_t n,
                                  const std::vector<gr::tag_t>& tags,
                                  std::string& why) = 0;

protected:
    ~in_place_publisher() = default;
};

#if !DOPPLER_ZERO_COPY
class ring_buffer;
#else
class ring_buffer : public gr::buffer
{
public:
    /// A buffer over `ring`'s memory for `upstream`'s output, replacing
    /// `old` (its size and downstream figures are kept); GNU Radio's item 0
    /// is the ring's current write index. `log` reports a ring that fails
    /// while the upstream block waits.
    static std::shared_ptr<ring_buffer> make(const ring_ref& ring,
                                             const gr::buffer_sptr& old,
                                             gr::block_sptr upstream,
                                             in_place_publisher& publisher,
                                             gr::logger_ptr log);
    ~ring_buffer() override;

    int space_available() override;
    void post_work(int nitems) override;
    bool output_blkd_cb_ready(int output_multiple) override;
    bool output_blocked_callback(int output_multiple, bool force) override;

    /// The sink stops: wait (at most `timeout_ms`) until no work() uses this
    /// buffer, then move it to private memory of its own (the ring is never
    /// written through it again). Never throws.
    void detach(int timeout_ms) noexcept;
    /// Still over the ring's memory.
    bool attached() const noexcept { return d_attached.load(std::memory_order_acquire); }

protected:
    unsigned index_add(unsigned a, unsigned b) override
    {
        unsigned s = a + b;
        if (s >= d_bufsize)
            s -= d_bufsize;
        return s;
    }
    unsigned index_sub(unsigned a, unsigned b) override
    {
        int s = int(a) - int(b);
        if (s < 0)
            s += int(d_bufsize);
        return unsigned(s);
    }

private:
    ring_buffer(const ring_ref& ring,
                const gr::buffer_sptr& old,
                gr::block_sptr upstream,
                in_place_publisher& publisher,
                gr::logger_ptr log);
    // Room in the ring for the upstream block at ring index w, by the floor f.
    uint64_t room(uint64_t f, uint64_t w) const noexcept
    {
        const uint64_t used = w - f;
        return used > d_cap ? 0 : d_cap - used;
    }
    // The ring failed (closed, corrupt) under the upstream block: log it,
    // mark this buffer done and wake the sink, which then finishes.
    // `locked`: the caller holds the buffer mutex (the callback does).
    void fail(const std::string& why, bool locked = true) noexcept;

    ring_ref d_ring; // keeps the mapping alive as long as this buffer
    const uint64_t d_cap;
    const uint64_t d_ring_base; // ring index of the upstream block's item 0
    std::atomic<bool> d_attached { true };
    std::atomic<bool> d_detaching { false }; // detach() began
    // Upstream block's thread only (space_available and the callback both
    // run there, under the buffer mutex).
    uint64_t d_floor; // tethered floor last loaded
    uint64_t d_horizon; // announced to untethered readers so far
    bool d_failed = false;
    in_place_publisher& d_publisher; // the sink, which outlives its runs
    std::vector<gr::tag_t> d_tags; // the tags of the items being published
    stall_watch d_stall {
        stall_report_ns
    }; // says once per stall what holds the ring back
    // Private memory after detach() (a double-mapped segment of d_cap items).
    std::shared_ptr<dp::segment> d_private;
    gr::logger_ptr d_log;
};
#endif // DOPPLER_ZERO_COPY

} // namespace detail
} // namespace doppler
} // namespace gr

#endif /* INCLUDED_DOPPLER_RING_BUFFER_H */
