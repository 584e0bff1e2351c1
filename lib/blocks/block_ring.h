/* -*- c++ -*- */
/*
 * gr-doppler: what the Buffer Sink and Buffer Source share: parsing the type,
 * opening a named ring (attach or create), claiming a role, VOLK wrappers.
 * SPDX-License-Identifier: GPL-3.0-or-later
 */
#ifndef INCLUDED_DOPPLER_BLOCK_RING_H
#define INCLUDED_DOPPLER_BLOCK_RING_H

#include "dp.h"

#include <cstdint>
#include <gnuradio/doppler/ring_ref.h>
#include <string>

namespace gr {
namespace doppler {
namespace detail {

/// The block's thread was asked to stop: tb.stop() (and a reconfiguration
/// by lock()/unlock()) interrupts the threads of its blocks, which are
/// boost threads. A wait on the ring inside work() or a buffer callback
/// passes this (or more) as its interrupt (dp::interrupt): the ring asks it
/// while it sleeps, so the wait ends within interrupt_check_ns of a stop.
bool stop_requested() noexcept;
/// stop_requested() as a wait's interrupt.
dp::interrupt on_stop() noexcept;

/// The sample arguments both blocks take: "f32" / "f64" / "i16" -> sample
/// type, sc16 only with "i16", and a scale that is finite and non-zero, as
/// is its reciprocal; std::invalid_argument otherwise.
dp::sample_type parse_samples(const std::string& type, bool sc16, float scale);

/// Bytes per GNU Radio item: a raw I/Q short pair with sc16, else gr_complex.
inline int item_size(bool sc16)
{
    return sc16 ? 2 * int(sizeof(int16_t)) : 8;
}

/// Attach the named ring if it exists (its type checked), else create it with
/// `capacity` samples. Either side of a ring may start first.
ring_ref open_named(dp::sample_type t, const std::string& name, uint64_t capacity);

/// True if the ring is closed (end of stream).
bool closed(const ring_ref& ring);

/// Throws dp::error(EPROTOTYPE) unless the ring holds samples of type t.
void check_type(dp::sample_type t, const ring_ref& ring);

/// Claim the producer (or consumer) role now, so a second one is refused at
/// construction: dp::error(EBUSY) naming the pid that holds it. A
/// producer handle that closed its own stream is refused (EINVAL): its end of
/// stream is final; a stream closed by an earlier producer is not (this
/// handle starts the next one).
void claim(const ring_ref& ring, bool producer);

/// "ring 'rx'" for a named ring, "in-process ring" otherwise (for messages).
std::string label(const ring_ref& ring);

/// How long a Buffer Sink in block policy finds its ring full, with no room
/// coming at all, before it says what holds it back.
constexpr int64_t stall_report_ns = 2'000'000'000;
/// Longest wait of the zero-copy sink's work() for a batch of items
/// (buffer_sink_impl::wait_for_handoff). Below a batch per bound (an eighth
/// of a 1 Mi ring in 10 ms: about 13 Msamples/s) the sink's thread wakes
/// once per bound; a stop() or the end of the input may wait for it.
constexpr int64_t handoff_wait_ns = 10'000'000;
/// Test seam: every zero-copy sink of the process waits at most `ns` for a
/// batch from its next start() on (0: handoff_wait_ns again).
void set_handoff_wait(int64_t ns) noexcept;
/// Test seam: how many of those waits, in the whole process, ran to their
/// bound (no batch came and the upstream block did not run out of room).
uint64_t handoff_waits_run_out() noexcept;
/// How long a Buffer Source finds nothing to read before it says what it
/// waits for (a producer that has not started, or a mistyped ring name).
constexpr int64_t idle_report_ns = 5'000'000'000;

/// A block waiting on its ring says so once per wait: wait_ns() is the
/// timeout of each wait on the ring (the time left until the report is
/// due, counted from the first wait without progress; -1, no timeout, once
/// it was said), waited() after each wait that ran out (true when the report
/// is due: `after_ns` without progress, not said yet), progress() when the
/// wait ended.
class stall_watch
{
public:
    explicit stall_watch(int64_t after_ns) : d_after(after_ns) { }
    int64_t wait_ns() noexcept;
    bool waited() noexcept;
    void progress() noexcept
    {
        d_since = 0;
        d_told = false;
    }

private:
    const int64_t d_after;
    int64_t d_since = 0; // when the wait began (0: none)
    bool d_told = false;
};

/// The line a stalled sink logs: "<ring> has been full for 2 s: ... held
/// back by <the slowest tethered reader and who reads it>".
std::string stall_message(const ring_ref& ring);
/// The line an idle source logs: "<ring> has had nothing to read for 5 s:
/// <the producer, or that there is none>".
std::string idle_message(const ring_ref& ring);

} // namespace detail
} // namespace doppler
} // namespace gr

#endif /* INCLUDED_DOPPLER_BLOCK_RING_H */
