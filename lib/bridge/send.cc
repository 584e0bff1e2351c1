/* -*- c++ -*- */
/*
 * doppler-bridge send: a ring's reader -> a PUSH (or PUB) socket.
 *
 * One thread. Each turn: the monitor's events (peers coming and going), a
 * message ZeroMQ did not take yet (PUSH at its high-water mark, or no peer),
 * a heartbeat when nothing was sent for a while, then a wait for the ring
 * until the next heartbeat or status line is due; a stop request or a
 * monitor event ends that wait at once (the ring asks the interrupt while it
 * sleeps). Samples are consumed from the ring when their message is
 * built, before ZeroMQ takes it: a message waiting for a peer holds the
 * reader back (the ring fills, a tethered reader holds the producer), and a
 * sender that dies never sends a sample twice.
 * SPDX-License-Identifier: GPL-3.0-or-later
 */
#include "bridge.hpp"
#include "curve.hpp"
#include "net.hpp"
#include "relay.hpp"

#include <zmq.h>

#include <algorithm>
#include <cerrno>
#include <climits>
#include <cstdio>
#include <new>

namespace doppler {
namespace bridge {

namespace {

/// A heartbeat goes out when nothing was sent for this long.
constexpr int64_t heartbeat_ns = 250'000'000;

unsigned long long ull(uint64_t v)
{
    return static_cast<unsigned long long>(v);
}

/// The message being built or waiting for ZeroMQ to take it.
class zmq_out final : public message_out
{
public:
    zmq_out() { zmq_msg_init(&m_); }
    ~zmq_out() override { zmq_msg_close(&m_); }
    uint8_t* allocate(size_t bytes) override
    {
        zmq_msg_close(&m_);
        if (zmq_msg_init_size(&m_, bytes) != 0)
            throw std::bad_alloc();
        full_ = true;
        return static_cast<uint8_t*>(zmq_msg_data(&m_));
    }
    bool full() const noexcept { return full_; }
    void discard() noexcept
    {
        zmq_msg_close(&m_);
        zmq_msg_init(&m_);
        full_ = false;
    }
    /// Hand the message to ZeroMQ, waiting up to timeout_ns for it to be
    /// taken (a wait a signal or an event on `events` ends early); false if
    /// it was not (no peer, high-water mark, a signal).
    bool send(void* sock, int64_t timeout_ns, void* events = nullptr)
    {
        for (;;) {
            if (zmq_msg_send(&m_, sock, ZMQ_DONTWAIT) >= 0) {
                full_ = false;
                return true;
            }
            if (zmq_errno() != EAGAIN && zmq_errno() != EINTR)
                throw error(zmq_errno(), "sending a message failed: " + zmq_why());
            if (timeout_ns <= 0 || stop_requested())
                return false;
            zmq_pollitem_t it[2] = { { sock, 0, ZMQ_POLLOUT, 0 },
                                     { events, 0, ZMQ_POLLIN, 0 } };
            zmq_poll(it, events ? 2 : 1, long((timeout_ns + 999'999) / 1'000'000));
            timeout_ns = 0; // one more try after the wait
        }
    }

private:
    zmq_msg_t m_;
    bool full_ = false;
};

class sender
{
public:
    explicit sender(const send_options& o) : o_(o), log_("send", o.quiet) { }

    int run()
    {
        // Keys first: a mistake in them is said before any wait.
        const std::unique_ptr<curve_keys> keys = curve_keys_of(o_.curve_keys, true);
        std::shared_ptr<segment> seg = attach_if_there(o_.ring);
        if (!seg) {
            if (o_.wait_ns == 0)
                throw error(ENOENT,
                            "no ring named '" + o_.ring + "' (" +
                                segment::shm_path(o_.ring) +
                                "): start its producer first, or give --wait SECONDS "
                                "(without --wait, send waits for it)");
            log_.info("waiting for ring '%s' to appear", o_.ring.c_str());
            try {
                const auto stop = [] { return stop_requested(); };
                seg = segment::attach(o_.ring,
                                      sample_type(0),
                                      o_.wait_ns < 0 ? INT64_MAX : o_.wait_ns,
                                      false,
                                      stop);
            } catch (const error& e2) {
                if (e2.code().value() == EINTR)
                    return 0;
                throw;
            }
        }
        ob_ = make_outbound(
            seg, o_.reader, o_.tethered, o_.grace_ns, o_.wire, o_.max_items);
        const sample_type type = seg->type();
        seg.reset();

        // CURVE: this end is a client of the one receiver in peers/
        // (curve.hpp), whichever side binds.
        zmq_context ctx;
        zmq_sock sock(ctx.get(), o_.pub ? ZMQ_PUB : ZMQ_PUSH);
        if (keys)
            curve_client(sock.get(), *keys);
        sock.set_int(ZMQ_SNDHWM, o_.hwm, "high-water mark (--hwm)");
        sock.set_int(ZMQ_LINGER, 1000, "linger time");
        if (zmq_bind(sock.get(), o_.endpoint.c_str()) != 0)
            throw error(zmq_errno(),
                        "cannot bind " + printable(o_.endpoint) + ": " + zmq_why() +
                            "; give an endpoint this host can bind, like tcp://*:5555, "
                            "tcp://127.0.0.1:5555 or ipc:///tmp/rx.zmq (a port in use "
                            "is taken by another program)");
        connection_monitor mon(ctx.get(), sock.get());
        bound_ = sock.last_endpoint();
        // Always shown, even with --quiet: a wildcard port is chosen here.
        log_.warn("sending ring '%s' (%s, --wire %s, %zu bytes per sample) as reader "
                  "'%s' (%s) on %s %s",
                  o_.ring.c_str(),
                  type_name(type),
                  wire_name(o_.wire),
                  ob_->item_bytes(),
                  o_.reader.empty() ? "default" : o_.reader.c_str(),
                  o_.tethered ? "tethered" : "untethered",
                  o_.pub ? "PUB" : "PUSH",
                  bound_.c_str());
        if (keys)
            log_.info(
                "CURVE: encrypted, only to the receiver whose key is %s/peers/%s.pub",
                keys->dir.c_str(),
                keys->peers[0].name.c_str());
        else if (!loopback_only(o_.endpoint))
            log_.warn("%s is reachable from other hosts and nothing is encrypted or "
                      "authenticated: anyone who can reach it can connect and read the "
                      "stream (with PUSH, taking a share of the samples from the "
                      "receiver); give both ends --curve-keys DIR (docs/bridge.md)",
                      bound_.c_str());

        zmq_out out;
        int64_t last_sent = now_ns(); // or a heartbeat last tried
        bool hello = false; // a peer came: greet it with a heartbeat
        last_status_ = now_ns();
        next_status_ = last_status_ + 1'000'000'000;
        // The interrupt of the loop's waits: a stop, or a peer event to say.
        const auto stop = [&mon] { return stop_requested() || mon.pending(); };
        const auto until = [](int64_t t) { return std::max<int64_t>(0, t - now_ns()); };
        while (!stop_requested()) {
            connection_monitor::event ev;
            while (mon.next(ev)) {
                if (ev.what == connection_monitor::event::ready) {
                    log_.limited(line::connected,
                                 logger::level::info,
                                 "peer connected (%zu connected)%s",
                                 mon.connections(),
                                 keys ? " (CURVE)" : "");
                    hello = true;
                } else if (ev.what == connection_monitor::event::failed) {
                    log_handshake_failure(log_, ev, false, bool(keys));
                } else if (ev.what == connection_monitor::event::down) {
                    if (ev.was_ready) // (a failed handshake is said apart)
                        log_.limited(
                            line::disconnected,
                            logger::level::info,
                            "peer disconnected (%zu connected)%s",
                            mon.connections(),
                            o_.pub ? ""
                                   : "; messages ZeroMQ had queued for it are lost (a "
                                     "receiver started again reports the gap)");
                }
            }
            peers_ = mon.connections();
            if (out.full()) {
                if (!out.send(sock.get(), until(next_status_), mon.socket())) {
                    tick();
                    continue;
                }
                sent(pending_, last_sent);
            }
            if (hello || now_ns() - last_sent >= heartbeat_ns) {
                hello = false;
                pending_ = ob_->heartbeat(out);
                if (out.send(sock.get(), 0)) {
                    sent(pending_, last_sent);
                } else {
                    out.discard(); // no peer, or messages queued: no need
                    last_sent = now_ns(); // tried: the next one in heartbeat_ns
                }
            }
            pending_ = ob_->next(
                out, until(std::min(last_sent + heartbeat_ns, next_status_)), stop);
            if (pending_.what != outbound::kind::idle) {
                if (pending_.what == outbound::kind::end)
                    log_.limited(
                        pending_.why == stream_end::broken ? line::stream_broken
                                                           : line::stream_closed,
                        logger::level::info,
                        "the ring's stream ended (%s) at index %llu: sending the "
                        "end marker",
                        pending_.why == stream_end::broken ? "broken" : "closed",
                        ull(pending_.first));
                if (out.send(sock.get(), 0))
                    sent(pending_, last_sent);
            }
            tick();
        }
        if (out.full() && !out.send(sock.get(), 500'000'000))
            log_.warn("stopping with a message of %llu samples (from index %llu) that "
                      "no peer took",
                      ull(pending_.items),
                      ull(pending_.first));
        log_.flush(true);
        log_.info("stopped: %llu samples in %llu messages (%llu bytes) sent, %llu "
                  "skipped",
                  ull(items_),
                  ull(messages_),
                  ull(bytes_),
                  ull(ob_->skipped() + ob_->stats().overwritten));
        return 0;
    }

private:
    void sent(const outbound::result& r, int64_t& last_sent)
    {
        last_sent = now_ns();
        ++messages_;
        items_ += r.items;
        bytes_ += r.bytes;
    }

    void tick()
    {
        const int64_t now = now_ns();
        if (now < next_status_)
            return;
        log_.flush();
        const double dt = double(now - last_status_) / 1e9;
        if (!log_.quiet()) {
            const uint64_t cap = ob_->capacity();
            const uint64_t fill = std::min(ob_->backlog(), cap);
            char line[512];
            std::snprintf(line,
                          sizeof line,
                          "'%s' -> %s: %s, %s, %.0f msg/s, ring fill %.0f%%, skipped "
                          "%llu, tags %llu (%llu not sendable), peers %zu",
                          o_.ring.c_str(),
                          bound_.c_str(),
                          si_rate(double(items_ - st_items_) / dt, "S/s").c_str(),
                          si_rate(double(bytes_ - st_bytes_) / dt, "B/s").c_str(),
                          double(messages_ - st_messages_) / dt,
                          100.0 * double(fill) / double(cap),
                          ull(ob_->skipped() + ob_->stats().overwritten),
                          ull(ob_->stats().tags),
                          ull(ob_->stats().tags_skipped),
                          peers_);
            log_.status(line);
            if (ob_->stats().tags_skipped != 0 && !warned_tags_) {
                warned_tags_ = true;
                log_.warn("some tags cannot be sent in the gr-zeromq format and are "
                          "left out, the first for %s",
                          ob_->first_tag_skip());
            }
        }
        last_status_ = now;
        next_status_ = now + 1'000'000'000;
        st_items_ = items_;
        st_bytes_ = bytes_;
        st_messages_ = messages_;
    }

    const send_options& o_;
    logger log_;
    std::unique_ptr<outbound> ob_;
    std::string bound_;
    outbound::result pending_;
    size_t peers_ = 0;
    uint64_t items_ = 0, bytes_ = 0, messages_ = 0;
    uint64_t st_items_ = 0, st_bytes_ = 0, st_messages_ = 0;
    int64_t last_status_ = 0, next_status_ = 0;
    bool warned_tags_ = false;
};

} // namespace

int run_send(const send_options& o)
{
    return run_end<sender>("send", o);
}

} // namespace bridge
} // namespace doppler
