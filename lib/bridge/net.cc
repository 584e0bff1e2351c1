/* -*- c++ -*- */
/*
 * doppler-bridge: stop flag, log lines, ZeroMQ sockets and monitors (net.hpp).
 * SPDX-License-Identifier: GPL-3.0-or-later
 */
#include "net.hpp"

#include <doppler/types.hpp>

#include <zmq.h>

#include <malloc.h>

#include <atomic>
#include <cerrno>
#include <csignal>
#include <cstdio>
#include <cstring>
#include <ctime>

namespace doppler {
namespace bridge {

// ---------------------------------------------------------------------------
// Stopping
// ---------------------------------------------------------------------------

namespace {
volatile std::sig_atomic_t g_stop = 0;
extern "C" void on_stop_signal(int)
{
    g_stop = 1;
}
} // namespace

void install_stop_handlers()
{
    struct sigaction sa;
    std::memset(&sa, 0, sizeof sa);
    sa.sa_handler = on_stop_signal;
    sigemptyset(&sa.sa_mask);
    sa.sa_flags = 0; // no SA_RESTART: blocking calls return EINTR
    sigaction(SIGINT, &sa, nullptr);
    sigaction(SIGTERM, &sa, nullptr);
}

bool stop_requested() noexcept
{
    return g_stop != 0;
}

void request_stop() noexcept
{
    g_stop = 1;
}

int64_t now_ns() noexcept
{
    timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return int64_t(ts.tv_sec) * 1'000'000'000 + ts.tv_nsec;
}

void keep_message_memory() noexcept
{
    // The largest mmap threshold glibc accepts (32 MiB on 64-bit): messages
    // up to that come from the heap, and a heap keeps up to 256 MiB free at
    // its top before trimming. Setting them also stops glibc's own
    // adjustment of both.
    mallopt(M_MMAP_THRESHOLD, 32 << 20);
    mallopt(M_TRIM_THRESHOLD, 256 << 20);
}

// ---------------------------------------------------------------------------
// Lines
// ---------------------------------------------------------------------------

logger::logger(const char* side, bool quiet, std::FILE* out, int64_t (*clock)() noexcept)
    : side_(side), quiet_(quiet), out_(out), clock_(clock ? clock : now_ns)
{
}

void logger::write(const char* text, const char* suffix)
{
    std::fprintf(out_, "doppler-bridge %s: %s%s\n", side_, text, suffix);
    std::fflush(out_);
}

void logger::emit(const char* fmt, va_list ap, const char* suffix)
{
    char text[1024];
    std::vsnprintf(text, sizeof text, fmt, ap);
    write(text, suffix);
}

void logger::info(const char* fmt, ...)
{
    if (quiet_)
        return;
    va_list ap;
    va_start(ap, fmt);
    emit(fmt, ap);
    va_end(ap);
}

void logger::warn(const char* fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    emit(fmt, ap);
    va_end(ap);
}

namespace {
void held_suffix(char (&suffix)[96], uint64_t held)
{
    suffix[0] = '\0';
    if (held != 0)
        std::snprintf(suffix,
                      sizeof suffix,
                      " (and %llu more like it not shown)",
                      static_cast<unsigned long long>(held));
}
} // namespace

void logger::limited(line kind, level lv, const char* fmt, ...)
{
    if (lv == level::info && quiet_)
        return;
    std::lock_guard<std::mutex> lock(mutex_);
    slot& s = slots_[size_t(kind)];
    char text[1024];
    va_list ap;
    va_start(ap, fmt);
    std::vsnprintf(text, sizeof text, fmt, ap);
    va_end(ap);
    if (!s.limit.admit(clock_())) {
        s.held_line = text; // shown by flush() if no other follows
        return;
    }
    char suffix[96];
    held_suffix(suffix, s.limit.take_held());
    s.held_line.clear();
    write(text, suffix);
}

void logger::flush(bool all)
{
    std::lock_guard<std::mutex> lock(mutex_);
    const int64_t now = clock_();
    for (slot& s : slots_) {
        if (s.held_line.empty() || !(all || s.limit.due(now)))
            continue;
        // The last line held back stands for itself: the count is of the
        // others.
        const uint64_t held = s.limit.take_held();
        s.limit.shown(now);
        char suffix[96];
        held_suffix(suffix, held - 1);
        write(s.held_line.c_str(), suffix);
        s.held_line.clear();
    }
}

void logger::status(const std::string& line)
{
    if (quiet_)
        return;
    write(line.c_str(), "");
}

std::string si_rate(double v, const char* unit)
{
    const char* prefix = "";
    if (v >= 1e9) {
        v /= 1e9;
        prefix = "G";
    } else if (v >= 1e6) {
        v /= 1e6;
        prefix = "M";
    } else if (v >= 1e3) {
        v /= 1e3;
        prefix = "k";
    }
    char b[64];
    std::snprintf(b, sizeof b, "%.1f %s%s", v, prefix, unit);
    return b;
}

// ---------------------------------------------------------------------------
// ZeroMQ
// ---------------------------------------------------------------------------

std::string zmq_why()
{
    return zmq_strerror(zmq_errno());
}

zmq_context::zmq_context() : ctx_(zmq_ctx_new())
{
    if (!ctx_)
        throw error(zmq_errno(), "cannot create a ZeroMQ context: " + zmq_why());
}

zmq_context::~zmq_context()
{
    while (zmq_ctx_term(ctx_) != 0 && zmq_errno() == EINTR) { }
}

zmq_sock::zmq_sock(void* ctx, int type) : s_(zmq_socket(ctx, type))
{
    if (!s_)
        throw error(zmq_errno(), "cannot create a ZeroMQ socket: " + zmq_why());
}

zmq_sock::~zmq_sock()
{
    zmq_close(s_);
}

void zmq_sock::set_int(int option, int value, const char* what)
{
    if (zmq_setsockopt(s_, option, &value, sizeof value) != 0)
        throw error(zmq_errno(),
                    std::string("cannot set the socket's ") + what + " to " +
                        std::to_string(value) + ": " + zmq_why());
}

std::string zmq_sock::last_endpoint() const
{
    char buf[512];
    size_t n = sizeof buf;
    if (zmq_getsockopt(s_, ZMQ_LAST_ENDPOINT, buf, &n) != 0 || n == 0)
        return "";
    return std::string(buf, strnlen(buf, n));
}

namespace {
std::atomic<unsigned> g_monitors { 0 };
}

connection_monitor::connection_monitor(void* ctx, void* socket) : watched_(socket)
{
    const std::string addr = "inproc://doppler-bridge-monitor-" +
        std::to_string(g_monitors.fetch_add(1, std::memory_order_relaxed));
    if (zmq_socket_monitor(socket,
                           addr.c_str(),
                           ZMQ_EVENT_CONNECTED | ZMQ_EVENT_ACCEPTED |
                               ZMQ_EVENT_DISCONNECTED | ZMQ_EVENT_HANDSHAKE_SUCCEEDED |
                               ZMQ_EVENT_HANDSHAKE_FAILED_PROTOCOL |
                               ZMQ_EVENT_HANDSHAKE_FAILED_NO_DETAIL |
                               ZMQ_EVENT_HANDSHAKE_FAILED_AUTH) != 0)
        throw error(zmq_errno(), "cannot monitor the ZeroMQ socket: " + zmq_why());
    pair_ = zmq_socket(ctx, ZMQ_PAIR);
    if (!pair_ || zmq_connect(pair_, addr.c_str()) != 0)
        throw error(zmq_errno(),
                    "cannot connect to the ZeroMQ socket's monitor: " + zmq_why());
    int linger = 0;
    zmq_setsockopt(pair_, ZMQ_LINGER, &linger, sizeof linger);
}

connection_monitor::~connection_monitor()
{
    zmq_socket_monitor(watched_, nullptr, 0);
    if (pair_)
        zmq_close(pair_);
}

bool connection_monitor::pending() const noexcept
{
    zmq_pollitem_t it = { pair_, 0, ZMQ_POLLIN, 0 };
    return zmq_poll(&it, 1, 0) > 0;
}

bool connection_monitor::next(event& out)
{
    // An event is two frames: u16 event, u32 value (the fd here); the
    // endpoint.
    zmq_msg_t m;
    zmq_msg_init(&m);
    if (zmq_msg_recv(&m, pair_, ZMQ_DONTWAIT) < 0) {
        zmq_msg_close(&m);
        return false;
    }
    uint16_t ev = 0;
    int32_t value = -1;
    if (zmq_msg_size(&m) >= 6) {
        const auto* p = static_cast<const uint8_t*>(zmq_msg_data(&m));
        std::memcpy(&ev, p, 2);
        std::memcpy(&value, p + 2, 4);
    }
    const bool more = zmq_msg_more(&m);
    zmq_msg_close(&m);
    out = event();
    if (more) {
        zmq_msg_init(&m);
        if (zmq_msg_recv(&m, pair_, 0) >= 0)
            out.endpoint.assign(static_cast<const char*>(zmq_msg_data(&m)),
                                zmq_msg_size(&m));
        zmq_msg_close(&m);
    }
    out.code = ev;
    out.value = value;
    if (ev == ZMQ_EVENT_HANDSHAKE_SUCCEEDED) {
        out.what = event::ready;
        ++ready_;
        return true;
    }
    if (ev == ZMQ_EVENT_HANDSHAKE_FAILED_PROTOCOL ||
        ev == ZMQ_EVENT_HANDSHAKE_FAILED_AUTH ||
        ev == ZMQ_EVENT_HANDSHAKE_FAILED_NO_DETAIL) {
        out.what = event::failed;
        return true;
    }
    out.fd = value;
    if (ev == ZMQ_EVENT_CONNECTED || ev == ZMQ_EVENT_ACCEPTED) {
        out.what = event::up;
        up_.insert(value);
    } else if (ev == ZMQ_EVENT_DISCONNECTED) {
        out.what = event::down;
        up_.erase(value);
        // Events carry no connection for a handshake: count them. A down
        // after a ready is a connection that had carried messages.
        if (ready_ > 0 && ready_ >= up_.size() + 1) {
            out.was_ready = true;
            --ready_;
        }
    }
    return true;
}

} // namespace bridge
} // namespace doppler
