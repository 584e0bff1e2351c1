/* -*- c++ -*- */
/*
 * gr-doppler: the ring's own memory as the output buffer of the block that
 * feeds a Buffer Sink (zero-copy path).
 * SPDX-License-Identifier: GPL-3.0-or-later
 *
 * A gr::buffer whose data pages are the ring's (double-mapped, as GNU Radio
 * needs): GNU Radio's item j is ring slot j, and its write index starts at
 * the ring's, so the upstream block's n-th item lands on ring index base + n.
 *
 * The sink installs it in start() (its own thread, after every buffer exists,
 * before any work()) by set_output/set_input, only if: the ring's samples are
 * the port's items; the policy is "block" (drop needs the chunk before it is
 * written: the copy path); the upstream buffer is GNU Radio's plain one; the
 * sink is its only reader; and the ring holds at least that buffer's items
 * and at most 2^30 (GNU Radio's indices are int). Otherwise: the copy path.
 * GNU Radio's replace_buffer() is not used: it decides one edge at a time,
 * before the port's other readers exist. The old buffer and reader live until
 * the sink's next run, for another block's start() that looks at them.
 *
 * Threads. The upstream block's thread makes every producer-side use of the
 * ring handle: space_available() (under the buffer mutex), the callback and
 * post_work(). The sink's work() only consumes its input, a batch at a time
 * (buffer_sink_impl::wait_for_handoff); its thread takes the handle back in
 * stop(), after detach().
 *
 * Room (block policy): space_available() returns the smaller of GNU Radio's
 * figure and the ring's room (ring::tethered_floor, reloaded only when the
 * cached floor limits the call), and first announces its end to untethered
 * readers (ring::announce_until; the horizon only moves forward).
 *
 * Waiting: space_available() tells the sink whether it returns what the
 * upstream block needs (in_place_publisher::upstream_room): the upstream
 * block's wait for room starts only once the sink's work(), which may be
 * waiting for a batch, has ended. output_blocked_callback() (buffer mutex
 * held, no work() running) returns false while the sink has items to
 * consume (its work() gives the room back); else it waits on the
 * ring (ring::wait_space, interrupted by the thread's stop) and returns true
 * once there is room or a stall was reported, false on stop or detach().
 * A ring closed or corrupt (here or at post_work) ends the run: the buffer
 * is marked done and the error logged.
 *
 * Publishing: post_work(n), right after work() and its tags, commits them.
 *
 * Stop: the sink's stop() detaches the buffer (the ring is never written
 * through it again), then ends its stream.
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

// DOPPLER_ZERO_COPY (cmake/zero_copy.cmake): 1 where gr::buffer has the
// protected fields this class sets (GNU Radio 3.10.x); 0: the sink copies.
#ifndef DOPPLER_ZERO_COPY
#define DOPPLER_ZERO_COPY 1
#endif

namespace gr {
namespace doppler {
namespace detail {

/// The Buffer Sink, called in the upstream block's thread from post_work().
class in_place_publisher
{
public:
    /// Publish the n items from GNU Radio's item `first` with their `tags`
    /// (offset order). False if the ring refuses (closed, or not at its
    /// write index): the run ends, `why` says why.
    virtual bool publish_in_place(uint64_t first,
                                  uint64_t n,
                                  const std::vector<gr::tag_t>& tags,
                                  std::string& why) = 0;
    /// Whether the upstream block has room for its next work(), on every
    /// space_available(). Without, it is about to wait for room, which it
    /// can only once the sink's work() has ended.
    virtual void upstream_room(bool enough) = 0;

protected:
    ~in_place_publisher() = default;
};

#if !DOPPLER_ZERO_COPY
class ring_buffer;
#else
class ring_buffer : public gr::buffer
{
public:
    /// A buffer over `ring`'s memory for `upstream`'s output, replacing `old`
    /// (same size); item 0 is the ring's write index. `log`: ring failures.
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

    /// Wait (at most `timeout_ms`) until no work() uses this buffer, then
    /// move it to private memory. Never throws.
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
    // The ring failed under the upstream block: log, mark done, wake the
    // sink. `locked`: the caller holds the buffer mutex.
    void fail(const std::string& why, bool locked = true) noexcept;

    ring_ref d_ring; // keeps the mapping alive as long as this buffer
    const uint64_t d_cap;
    const uint64_t d_ring_base; // ring index of the upstream block's item 0
    int d_need = 1; // fewest items the upstream block's work() is run for
    std::atomic<bool> d_attached { true };
    std::atomic<bool> d_detaching { false }; // detach() began
    // Upstream block's thread only, under the buffer mutex.
    uint64_t d_floor; // tethered floor last loaded
    uint64_t d_horizon; // announced to untethered readers so far
    bool d_failed = false;
    in_place_publisher& d_publisher; // the sink, which outlives its runs
    std::vector<gr::tag_t> d_tags; // the tags of the items being published
    stall_watch d_stall {
        stall_report_ns
    }; // says once per stall what holds the ring back
    // Private memory after detach() (d_cap items, double-mapped).
    std::shared_ptr<dp::segment> d_private;
    gr::logger_ptr d_log;
};
#endif // DOPPLER_ZERO_COPY

} // namespace detail
} // namespace doppler
} // namespace gr

#endif /* INCLUDED_DOPPLER_RING_BUFFER_H */
