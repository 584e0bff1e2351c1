/* -*- c++ -*- */
/*
 * doppler-bridge recv: a PULL (or SUB) socket -> a ring's producer.
 *
 * One thread. Each turn waits up to 100 ms for a message or a monitor event,
 * then takes what is there. A connection that goes down first gives up every
 * message already received (ZeroMQ keeps them), then ends the local stream as
 * broken: the sender died, or the network went, and what follows (if
 * anything) is another stream. A sender that sends heartbeats (a bridge) and
 * falls silent for --timeout with its connection up is treated the same way
 * (a frozen process, a network that drops packets without closing).
 * SPDX-License-Identifier: GPL-3.0-or-later
 */
#include "bridge.hpp"
#include "curve.hpp"
#include "net.hpp"
#include "position.hpp"
#include "relay.hpp"

#include <zmq.h>

#include <sys/stat.h>

#include <algorithm>
#include <cerrno>
#include <cstdio>

namespace doppler {
namespace bridge {

namespace {

unsigned long long ull(uint64_t v)
{
    return static_cast<unsigned long long>(v);
}

class receiver
{
public:
    explicit receiver(const recv_options& o) : o_(o), log_("recv", o.quiet) { }

    int run()
    {
        // Keys first: a mistake in them makes nothing.
        const std::unique_ptr<curve_keys> keys = curve_keys_of(o_.curve_keys, false);
        std::shared_ptr<segment> seg = open_ring();
        const sample_type type = seg->type();
        wire_item_bytes(type, o_.wire); // refuses sc16 for f64 before anything starts
        std::unique_ptr<position_file> pos;
        if (o_.position != "none")
            pos = std::make_unique<position_file>(
                o_.position.empty() ? position_file::default_path(o_.ring) : o_.position,
                seg->dev(),
                seg->ino());
        const uint64_t dev = seg->dev(), ino = seg->ino();
        in_ = make_inbound(seg, o_.wire, o_.max_message, pos.get(), log_, [] {
            return stop_requested();
        });
        seg.reset();

        // CURVE: this end is the server (curve.hpp), and its authenticator
        // must be bound before the socket connects. (The keys were read
        // first of all.)
        zmq_context ctx;
        std::unique_ptr<curve_authenticator> auth;
        if (keys)
            auth = std::make_unique<curve_authenticator>(ctx.get(), *keys, log_);
        zmq_sock sock(ctx.get(), o_.sub ? ZMQ_SUB : ZMQ_PULL);
        if (keys)
            curve_server(sock.get(), *keys);
        sock.set_int(ZMQ_RCVHWM, o_.hwm, "high-water mark (--hwm)");
        sock.set_int(ZMQ_LINGER, 0, "linger time");
        // Past --max-message a message is refused (logged, counted); far past
        // it ZeroMQ does not even read it into memory and drops the
        // connection instead.
        const int64_t hard =
            int64_t(std::max<uint64_t>(uint64_t(1) << 30, 2 * o_.max_message));
        if (zmq_setsockopt(sock.get(), ZMQ_MAXMSGSIZE, &hard, sizeof hard) != 0)
            throw error(zmq_errno(), "cannot limit the message size: " + zmq_why());
        sock.set_int(ZMQ_RECONNECT_IVL, 100, "reconnect interval");
        sock.set_int(ZMQ_RECONNECT_IVL_MAX, 1000, "longest reconnect interval");
        if (o_.sub && zmq_setsockopt(sock.get(), ZMQ_SUBSCRIBE, "", 0) != 0)
            throw error(zmq_errno(), "cannot subscribe: " + zmq_why());
        connection_monitor mon(ctx.get(), sock.get());
        if (zmq_connect(sock.get(), o_.endpoint.c_str()) != 0)
            throw error(zmq_errno(),
                        "cannot connect to " + printable(o_.endpoint) + ": " + zmq_why() +
                            "; give the sender's endpoint, like tcp://HOST:5555 or "
                            "ipc:///tmp/rx.zmq");
        log_.info("receiving from %s (%s%s) into ring '%s' (%s, --wire %s, capacity "
                  "%llu)",
                  o_.endpoint.c_str(),
                  o_.sub ? "SUB" : "PULL",
                  keys ? ", CURVE: senders with a key in peers/ only" : "",
                  o_.ring.c_str(),
                  type_name(type),
                  wire_name(o_.wire),
                  ull(in_->capacity()));

        last_status_ = now_ns();
        int64_t last_heard = last_status_;
        bool silent = false;
        while (!stop_requested()) {
            zmq_pollitem_t items[2] = { { sock.get(), 0, ZMQ_POLLIN, 0 },
                                        { mon.socket(), 0, ZMQ_POLLIN, 0 } };
            zmq_poll(items, 2, 100);
            connection_monitor::event ev;
            while (mon.next(ev)) {
                if (ev.what == connection_monitor::event::up) {
                    last_heard = now_ns();
                } else if (ev.what == connection_monitor::event::ready) {
                    log_.limited(line::connected,
                                 logger::level::info,
                                 "connected to %s%s",
                                 ev.endpoint.c_str(),
                                 keys ? " (CURVE)" : "");
                    last_heard = now_ns();
                } else if (ev.what == connection_monitor::event::failed) {
                    log_handshake_failure(log_, ev, true, bool(keys));
                } else if (ev.what == connection_monitor::event::down) {
                    // What the sender sent before it went is still queued here.
                    while (receive(sock.get()))
                        ;
                    in_->end_stream(stream_end::broken,
                                    "the sender went away (its connection closed)");
                    in_->forget_peer();
                    if (ev.was_ready) // (a failed handshake is said apart)
                        log_.limited(line::disconnected,
                                     logger::level::info,
                                     "disconnected from %s; ZeroMQ reconnects",
                                     ev.endpoint.c_str());
                }
            }
            for (int i = 0; i < 64 && !stop_requested(); ++i) {
                if (!receive(sock.get()))
                    break;
                last_heard = now_ns();
                silent = false;
            }
            if (!silent && in_->peer_sends_heartbeats() && in_->streaming() &&
                mon.connections() != 0 && now_ns() - last_heard > o_.silence_ns) {
                silent = true;
                char why[160];
                std::snprintf(why,
                              sizeof why,
                              "nothing from the sender for %.1f s (no data, no "
                              "heartbeat) with its connection up",
                              double(o_.silence_ns) / 1e9);
                in_->end_stream(stream_end::broken, why);
            }
            connected_ = mon.connections() != 0;
            tick();
        }
        in_->finish();
        log_.flush(true);
        const inbound::counters& st = in_->stats();
        log_.info("stopped: %llu samples in %llu messages, %llu gaps (%llu samples), "
                  "%llu refused",
                  ull(st.items),
                  ull(st.messages),
                  ull(st.gaps),
                  ull(st.gap_items),
                  ull(st.refused));
        in_.reset();
        // The position describes this ring: when the ring is gone (this was
        // its last party), so is the file's purpose.
        struct stat s;
        if (pos &&
            (::stat(segment::shm_path(o_.ring).c_str(), &s) != 0 ||
             uint64_t(s.st_dev) != dev || uint64_t(s.st_ino) != ino))
            pos->remove();
        return 0;
    }

private:
    std::shared_ptr<segment> open_ring()
    {
        if (std::shared_ptr<segment> seg = attach_if_there(o_.ring)) {
            if (!o_.type.empty()) {
                const sample_type want = parse_type(o_.type, "--type");
                if (want != seg->type())
                    throw error(EPROTOTYPE,
                                ring_label(o_.ring) + " holds " + type_name(seg->type()) +
                                    " samples, not " + type_name(want) +
                                    ": give --type " + type_name(seg->type()) +
                                    ", or another ring name");
            }
            return seg;
        }
        const sample_type t =
            o_.type.empty() ? sample_type::f32 : parse_type(o_.type, "--type");
        return segment::open_named(t, o_.ring, o_.capacity);
    }

    // One message, if one is waiting. Frames before the last of a multi-part
    // message are a PUB sink's filter key: skipped.
    bool receive(void* sock)
    {
        zmq_msg_t m;
        zmq_msg_init(&m);
        while (zmq_msg_recv(&m, sock, ZMQ_DONTWAIT) >= 0) {
            if (zmq_msg_more(&m))
                continue;
            in_->message(static_cast<const uint8_t*>(zmq_msg_data(&m)), zmq_msg_size(&m));
            zmq_msg_close(&m);
            return true;
        }
        zmq_msg_close(&m);
        return false;
    }

    void tick()
    {
        const int64_t now = now_ns();
        if (now - last_status_ < 1'000'000'000)
            return;
        log_.flush();
        const double dt = double(now - last_status_) / 1e9;
        const inbound::counters& st = in_->stats();
        if (!log_.quiet()) {
            char line[512];
            std::snprintf(line,
                          sizeof line,
                          "%s -> '%s': %s, %s, %.0f msg/s, ring fill %.0f%%, gaps %llu "
                          "(%llu samples), refused %llu, tags %llu, %s",
                          o_.endpoint.c_str(),
                          o_.ring.c_str(),
                          si_rate(double(st.items - st_items_) / dt, "S/s").c_str(),
                          si_rate(double(st.bytes - st_bytes_) / dt, "B/s").c_str(),
                          double(st.messages - st_messages_) / dt,
                          100.0 * double(in_->fill()) / double(in_->capacity()),
                          ull(st.gaps),
                          ull(st.gap_items),
                          ull(st.refused),
                          ull(st.tags),
                          connected_ ? "peer connected" : "no peer");
            log_.status(line);
        }
        last_status_ = now;
        st_items_ = st.items;
        st_bytes_ = st.bytes;
        st_messages_ = st.messages;
    }

    const recv_options& o_;
    logger log_;
    std::unique_ptr<inbound> in_;
    bool connected_ = false;
    int64_t last_status_ = 0;
    uint64_t st_items_ = 0, st_bytes_ = 0, st_messages_ = 0;
};

} // namespace

int run_recv(const recv_options& o)
{
    return run_end<receiver>("recv", o);
}

} // namespace bridge
} // namespace doppler
