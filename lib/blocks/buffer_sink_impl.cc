/* -*- c++ -*- */
/*
 * Buffer Sink: GNU Radio input buffer -> ring. Copy path: one memcpy or one
 * VOLK conversion per work() call, written straight into the ring's free
 * space (contiguous thanks to the mirror mapping). Zero-copy path: the
 * upstream block's output buffer is the ring itself (ring_buffer.h, where
 * the design is): the upstream block's thread publishes, work() only
 * consumes.
 * SPDX-License-Identifier: GPL-3.0-or-later
 */
#include "buffer_sink_impl.h"
#include "block_ring.h"

#include <algorithm>
#include <cstring>
#include <gnuradio/block_detail.h>
#include <gnuradio/buffer_double_mapped.h>
#include <gnuradio/buffer_reader.h>
#include <gnuradio/io_signature.h>
#include <stdexcept>
#include <typeinfo>
#include <volk/volk.h>

namespace gr {
namespace doppler {

using namespace std::chrono_literals;
using dp::status;

namespace {

/// True if a ring can carry `key` as a tag key.
bool ring_tags_key_ok(const pmt::pmt_t& key)
{
    std::string scratch;
    return detail::ring_tags::encode_key(key, scratch);
}

/// True for "block" (lossless), false for "drop".
bool parse_policy(const std::string& policy)
{
    return dp::parse_policy(policy, "Overflow (policy=)") == dp::policy::block;
}

std::atomic<int64_t> handoff_wait_set { 0 }; // detail::set_handoff_wait
std::atomic<uint64_t> handoff_run_out { 0 }; // detail::handoff_waits_run_out
} // namespace

buffer_sink::sptr buffer_sink::make(const std::string& type,
                                    const std::string& name,
                                    uint64_t capacity,
                                    const std::string& policy,
                                    bool sc16,
                                    float scale,
                                    bool zero_copy)
{
    // Validate every argument before a /dev/shm object is touched.
    const auto t = detail::parse_samples(type, sc16, scale);
    const bool block = parse_policy(policy);
    return gnuradio::make_block_sptr<buffer_sink_impl>(
        detail::open_named(t, name, capacity),
        name,
        capacity,
        block,
        sc16,
        scale,
        zero_copy);
}

buffer_sink::sptr buffer_sink::make(const std::string& type,
                                    ring_ref ring,
                                    const std::string& policy,
                                    bool sc16,
                                    float scale,
                                    bool zero_copy)
{
    const auto t = detail::parse_samples(type, sc16, scale);
    const bool block = parse_policy(policy);
    detail::check_type(t, ring);
    return gnuradio::make_block_sptr<buffer_sink_impl>(
        std::move(ring), "", 0, block, sc16, scale, zero_copy);
}

buffer_sink_impl::buffer_sink_impl(ring_ref ring,
                                   const std::string& name,
                                   uint64_t capacity,
                                   bool block,
                                   bool sc16,
                                   float scale,
                                   bool zero_copy)
    : gr::sync_block("buffer_sink",
                     gr::io_signature::make(1, 1, detail::item_size(sc16)),
                     gr::io_signature::make(0, 0, 0))
    , d_ring(std::move(ring))
    , d_name(name)
    , d_capacity(capacity)
    , d_owned(!name.empty())
    , d_block(block)
    , d_sc16(sc16)
    , d_scale(scale)
    , d_zero_copy_wanted(zero_copy)
{
    detail::claim(d_ring, true);
}

void buffer_sink_impl::store(dp::f32* dst, const void* in, uint64_t n) const
{
    std::memcpy(static_cast<void*>(dst), in, n * sizeof(*dst));
}

void buffer_sink_impl::store(dp::f64* dst, const void* in, uint64_t n) const
{
    // Interleaved I/Q floats widened one by one: 2n values.
    volk_32f_convert_64f(
        reinterpret_cast<double*>(dst), static_cast<const float*>(in), unsigned(2 * n));
}

void buffer_sink_impl::store(dp::i16* dst, const void* in, uint64_t n) const
{
    if (d_sc16)
        std::memcpy(static_cast<void*>(dst), in, n * sizeof(*dst));
    else // round(x * scale), saturated to int16
        volk_32f_s32f_convert_16i(reinterpret_cast<int16_t*>(dst),
                                  static_cast<const float*>(in),
                                  d_scale,
                                  unsigned(2 * n));
}

template <class T>
int buffer_sink_impl::push(dp::ring<T>& r, const void* in, uint64_t n)
{
    n = std::min(n, r.capacity()); // a chunk never exceeds the ring
    uint64_t free = r.space(n);
    if (r.closed()) { // someone closed the stream under us: nothing more may be written
        d_logger->error("{} was closed while the flowgraph wrote into it; ending",
                        detail::label(d_ring));
        return WORK_DONE;
    }
    if (d_block) {
        if (free == 0) {
            // Full: wait for room until the flowgraph stops or the stall is
            // to be reported, then return (0 items): GNU Radio calls again.
            // Room for one sample is enough: waiting for the whole chunk
            // could starve a consumer that waits for more than capacity -
            // chunk samples. Timeout (no consumer yet) and broken (the
            // consumer died; a new one may attach and continue) both mean:
            // keep waiting.
            const status s = r.wait_space(1, d_stall.wait_ns(), detail::on_stop());
            if (s == status::corrupt) {
                d_logger->error("{}; ending", r.corruption());
                return WORK_DONE;
            }
            if (s != status::ok) {
                if (d_stall.waited())
                    d_logger->warn("{}", detail::stall_message(d_ring));
                return 0;
            }
            d_stall.progress();
            free = r.space(n);
        }
        n = std::min(n, free); // what fits now; the rest on the next call
    } else if (free < n) { // all or nothing per chunk
        if (r.read_index_corrupt()) {
            d_logger->error("{}; ending", r.corruption());
            return WORK_DONE;
        }
        note_drop(n, r.drop(n), r.written());
        refuse_tags(n);
        return int(n);
    }
    publish(r, in, n);
    return int(n);
}

bool buffer_sink_impl::publish_in_place(uint64_t first,
                                        uint64_t n,
                                        const std::vector<gr::tag_t>& tags,
                                        std::string& why)
{
    // The upstream block's thread (ring_buffer::post_work): the n items are
    // in the ring at its write index, announced to untethered readers.
    return std::visit(
        [&](const auto& r) {
            (void)r->space(0); // ends the stream here if another handle asked to close it
            if (r->closed()) {
                why = detail::label(d_ring) +
                    " was closed while the flowgraph wrote into it; ending";
                return false;
            }
            if (tags.empty()) {
                r->commit(n);
            } else {
                d_ring_tags.pack(tags, first, [this](const gr::tag_t& t) {
                    lose_tag(t, tag_loss::unencodable);
                });
                r->commit(n, d_ring_tags.data(), d_ring_tags.size());
            }
            if (d_handoff_parked.load(std::memory_order_relaxed) &&
                first + n >= d_handoff_at.load(std::memory_order_relaxed))
                dp::detail::wake(d_handoff_parked);
            return true;
        },
        d_ring);
}

void detail::set_handoff_wait(int64_t ns) noexcept
{
    handoff_wait_set.store(ns, std::memory_order_relaxed);
}

uint64_t detail::handoff_waits_run_out() noexcept
{
    return handoff_run_out.load(std::memory_order_relaxed);
}

void buffer_sink_impl::upstream_room(bool enough)
{
    if (enough) {
        if (d_upstream_waits.load(std::memory_order_relaxed))
            d_upstream_waits.store(0, std::memory_order_relaxed);
        return;
    }
    // seq_cst store, then load (Dekker with wait_for_handoff): either this
    // sees the sink parked and wakes it, or the sink sees the flag.
    d_upstream_waits.store(1, std::memory_order_seq_cst);
    if (d_handoff_parked.load(std::memory_order_seq_cst))
        dp::detail::wake(d_handoff_parked);
}

void buffer_sink_impl::wait_for_handoff()
{
    // All the items there, not only this call's (GNU Radio may hand over
    // fewer than a batch at a time); no wait once the upstream block is done.
    // Under the buffer's mutex, as GNU Radio reads them.
    const gr::buffer_reader_sptr& in = detail()->input(0);
    {
        gr::thread::scoped_lock guard(*in->mutex());
        if (uint64_t(in->items_available()) >= d_handoff_batch || in->done())
            return;
    }
    d_handoff_at.store(nitems_read(0) + d_handoff_batch, std::memory_order_relaxed);
    d_handoff_parked.store(1, std::memory_order_seq_cst);
    if (!d_upstream_waits.load(std::memory_order_seq_cst) &&
        dp::detail::sleep_on(d_handoff_parked, d_handoff_wait_ns))
        handoff_run_out.fetch_add(1, std::memory_order_relaxed);
    d_handoff_parked.store(0, std::memory_order_relaxed);
}

template <class T>
void buffer_sink_impl::publish(dp::ring<T>& r, const void* in, uint64_t n)
{
    // Tags index samples, not bytes: offset k of the chunk is ring sample
    // written() + k whatever the conversion (f64, i16) makes of it. A ring
    // reader sees a tag no earlier than the samples it points into: commit()
    // publishes the records first.
    const uint64_t first = nitems_read(0);
    get_tags_in_range(d_gr_tags, 0, first, first + n);
    store(r.write_ptr(n), in, n);
    if (d_gr_tags.empty()) {
        r.commit(n);
        return;
    }
    d_ring_tags.pack(d_gr_tags, first, [this](const gr::tag_t& t) {
        lose_tag(t, tag_loss::unencodable);
    });
    r.commit(n, d_ring_tags.data(), d_ring_tags.size());
}

void buffer_sink_impl::refuse_tags(uint64_t n)
{
    // The ring marks the gap itself: the next sample written carries
    // ("dropped", count). The refused samples' own tags have no sample left
    // to sit on.
    const uint64_t first = nitems_read(0);
    get_tags_in_range(d_gr_tags, 0, first, first + n);
    for (const gr::tag_t& t : d_gr_tags)
        lose_tag(t, tag_loss::refused);
}

void buffer_sink_impl::lose_tag(const gr::tag_t& tag, tag_loss why)
{
    const bool refused = why == tag_loss::refused;
    (refused ? d_tags_refused : d_tags_unencodable)
        .fetch_add(1, std::memory_order_relaxed);
    const std::string key = pmt::is_symbol(tag.key) ? pmt::symbol_to_string(tag.key)
                                                    : pmt::write_string(tag.key);
    if (!(refused ? d_logged_refused : d_logged_unencodable).insert(key).second)
        return;
    if (refused)
        d_logger->warn(
            "{}: tag '{}' at item {} is not published: the ring was full and "
            "its chunk was dropped (the ring marks the gap with a (\"dropped\", "
            "count) tag). Tags of dropped samples are counted in "
            "tags_refused(); this is logged once per key. Use policy \"block\" "
            "to keep every sample and tag",
            detail::label(d_ring),
            key,
            tag.offset);
    else
        d_logger->warn(
            "{}: tag '{}' at item {} is not published: a ring cannot carry its {} ({}). "
            "Rings carry symbol keys of 1-255 bytes and values that are PMT_NIL, "
            "booleans, integers, uint64, doubles, complex numbers, symbols, uniform "
            "vectors, tuples, vectors, pairs and lists, and dicts with symbol keys "
            "(docs/blocks.md, \"The value mapping\"). Such tags are "
            "skipped and counted in tags_unencodable(); this is logged once per key",
            detail::label(d_ring),
            key,
            tag.offset,
            ring_tags_key_ok(tag.key) ? "value" : "key",
            pmt::write_string(ring_tags_key_ok(tag.key) ? tag.value : tag.key));
}

void buffer_sink_impl::note_drop(uint64_t n,
                                 uint64_t dropped_total,
                                 uint64_t written_total)
{
    d_dropped_since_warn += n;
    const auto now = std::chrono::steady_clock::now();
    if (now - d_last_warn < 1s)
        return;
    d_logger->warn(
        "{}: full, dropped {} samples since the last report ({} dropped, {} written in "
        "total); the consumer is not keeping up (or use policy \"block\")",
        detail::label(d_ring),
        d_dropped_since_warn,
        dropped_total,
        written_total);
    d_dropped_since_warn = 0;
    d_last_warn = now;
}

int buffer_sink_impl::work(int noutput_items,
                           gr_vector_const_void_star& input_items,
                           gr_vector_void_star&)
{
    const void* in = input_items[0];
    // Zero-copy path: the upstream block's thread published these items
    // already (ring_buffer::post_work); consuming them keeps GNU Radio's
    // accounting of the buffer, in batches (wait_for_handoff).
    if (d_zero_copy.load(std::memory_order_relaxed)) {
        wait_for_handoff();
        return noutput_items;
    }
    return std::visit(
        [&](const auto& r) { return push(*r, in, uint64_t(noutput_items)); }, d_ring);
}

std::string buffer_sink_impl::copy_reason(const gr::buffer_sptr& old) const
{
    if (!d_zero_copy_wanted)
        return "zero_copy=False was asked for";
#if !DOPPLER_ZERO_COPY
    (void)old;
    return DOPPLER_ZERO_COPY_WHY; // set by cmake/zero_copy.cmake
#else
    const auto t = std::visit([](const auto& r) { return r->seg()->type(); }, d_ring);
    if (t == dp::sample_type::f64)
        return "type f64 widens each sample";
    if (t == dp::sample_type::i16 && !d_sc16)
        return "type i16 without sc16 scales each sample";
    if (!d_block)
        return "policy drop refuses a chunk only once it exists, and in place the "
               "upstream block would already have written it into the ring";
    // GNU Radio's plain buffer (or ours, left by a lock()/unlock() restart).
    const gr::buffer* b = old.get();
    if (!b ||
        (typeid(*b) != typeid(gr::buffer_double_mapped) &&
         typeid(*b) != typeid(detail::ring_buffer)))
        return "the upstream block has a custom buffer of its own";
    if (old->nreaders() != 1)
        return "the upstream block's output also feeds " +
            std::to_string(old->nreaders() - 1) + " other block(s)";
    const gr::block_sptr up = old->link();
    if (!up || !up->detail())
        return "the upstream block is not known";
    // GNU Radio lets a block write at most half its buffer per call, in
    // multiples of its output_multiple, and at least min_noutput_items.
    const uint64_t cap = std::visit([](const auto& r) { return r->capacity(); }, d_ring);
    const uint64_t need =
        uint64_t(std::max({ 1, up->output_multiple(), up->min_noutput_items() }));
    if (cap / 2 < need)
        return "the ring (" + std::to_string(cap) + " samples) is smaller than twice " +
            up->alias() + "'s output multiple (" + std::to_string(need) + ")";
    if (cap > (uint64_t(1) << 30))
        return "the ring (" + std::to_string(cap) +
            " samples) is larger than GNU Radio's buffers can index (2^30)";
    return "";
#endif
}

bool buffer_sink_impl::start()
{
    // GNU Radio calls start() in this block's thread once every buffer and
    // reader of the run exists and before any work() of any block (threads
    // meet at a barrier after start()): the topology is final, and the
    // upstream block's buffer may be replaced (ring_buffer.h).
    d_zero_copy.store(false, std::memory_order_relaxed);
    d_ring_buffer.reset();
    d_replaced_buffer.reset();
    d_replaced_reader.reset();
    const gr::buffer_reader_sptr reader = detail()->input(0);
    const gr::buffer_sptr old = reader ? reader->buffer() : gr::buffer_sptr();
    const std::string why = copy_reason(old);
    const std::string ring = detail::label(d_ring);
    if (!why.empty()) {
        d_logger->info(
            "{}: copy path (the sink copies each chunk into the ring): {}", ring, why);
        return true;
    }
#if DOPPLER_ZERO_COPY
    const gr::block_sptr up = old->link();
    const gr::block_detail_sptr up_detail = up->detail();
    int port = -1;
    for (int i = 0; i < up_detail->noutputs(); ++i)
        if (up_detail->output(i) == old)
            port = i;
    if (port < 0) {
        d_logger->info("{}: copy path (the sink copies each chunk into the ring): the "
                       "upstream block's port is not found",
                       ring);
        return true;
    }
    auto buf = detail::ring_buffer::make(d_ring, old, up, *this, d_logger);
    gr::buffer_reader_sptr mine = gr::buffer_add_reader(
        buf, history() - 1, shared_from_base<gr::block>(), reader->sample_delay());
    up_detail->set_output(port, buf);
    detail()->set_input(0, mine);
    d_replaced_buffer = old;
    d_replaced_reader = reader;
    d_ring_buffer = buf;
    d_handoff_batch = std::visit([](const auto& r) { return r->capacity(); }, d_ring) / 8;
    const int64_t bound = handoff_wait_set.load(std::memory_order_relaxed);
    d_handoff_wait_ns = bound > 0 ? bound : detail::handoff_wait_ns;
    d_zero_copy.store(true, std::memory_order_relaxed);
    d_logger->info("{}: zero-copy path: {} writes straight into the ring and "
                   "publishes",
                   ring,
                   up->alias());
#endif
    return true;
}

bool buffer_sink_impl::check_topology(int, int)
{
    // GNU Radio calls this from tb.start() (and tb.run()) in the caller's
    // thread, before any block thread runs; an exception thrown here is what
    // start() raises. So a run is prepared here: the first run finds the ring
    // made by the constructor; a later run finds the ring the previous run's
    // stop() closed, and end of stream is final.
    if (!detail::closed(d_ring))
        return true;
    if (!d_owned)
        throw std::invalid_argument(
            detail::label(d_ring) +
            " given to this Buffer Sink is closed (its stream ended, in an earlier run "
            "of the flowgraph or by close()); end of stream is final: make a new "
            "buffer and a new Buffer Sink on it before running the flowgraph again");
    // Ours, ended by our previous run: a new producer handle on the ring
    // under the same name starts the next stream. A reader still attached
    // drained the previous stream, got its end, and reads on into this one.
    ring_ref fresh = detail::open_named(
        std::visit([](const auto& r) { return r->seg()->type(); }, d_ring),
        d_name,
        d_capacity);
    detail::claim(fresh, true);
    d_ring = std::move(fresh);
    return true;
}

bool buffer_sink_impl::stop()
{
    // Runs in this block's thread once work() has returned for good (after
    // tb.stop(), or when the input ended): end the stream for the consumer.
    // A ring opened by name is ours to release (role, and the name if we
    // created it); a handed-over ring belongs to its owner: only close it.
    // Zero-copy: first make sure the upstream block can no longer write into
    // the ring (it may still be running); the ring's end must come after
    // its last write.
#if DOPPLER_ZERO_COPY
    if (d_ring_buffer)
        d_ring_buffer->detach(1000);
#endif
    std::visit(
        [this](const auto& r) {
            if (d_owned)
                r->release();
            else
                r->close();
        },
        d_ring);
    return true;
}

uint64_t buffer_sink_impl::dropped() const
{
    return std::visit([](const auto& r) { return r->dropped(); }, d_ring);
}

uint64_t buffer_sink_impl::written() const
{
    return std::visit([](const auto& r) { return r->written(); }, d_ring);
}

uint64_t buffer_sink_impl::tags_unencodable() const
{
    return d_tags_unencodable.load(std::memory_order_relaxed);
}

uint64_t buffer_sink_impl::tags_refused() const
{
    return d_tags_refused.load(std::memory_order_relaxed);
}

bool buffer_sink_impl::zero_copy() const
{
    return d_zero_copy.load(std::memory_order_relaxed);
}

} // namespace doppler
} // namespace gr
