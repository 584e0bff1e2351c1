/* -*- c++ -*- */
/*
 * doppler-bridge: what both ends share: the stop flag (SIGINT, SIGTERM), log
 * and status lines on stderr, ZeroMQ sockets and their monitors.
 * SPDX-License-Identifier: GPL-3.0-or-later
 */
#pragma once

#include <cstdarg>
#include <cstdint>
#include <cstdio>
#include <exception>
#include <set>
#include <string>

namespace doppler {
namespace bridge {

// ---------------------------------------------------------------------------
// Stopping
// ---------------------------------------------------------------------------

/// SIGINT and SIGTERM set the stop flag (no SA_RESTART: a blocking call
/// returns EINTR); every loop checks it at least every 100 ms.
void install_stop_handlers();
bool stop_requested() noexcept;
/// Set the flag from code (tests, fatal errors).
void request_stop() noexcept;

int64_t now_ns() noexcept;

/// Keep freed message buffers in the heap for the next message: by default
/// glibc returns large blocks to the kernel when they are freed (mmap'd
/// blocks, heap trimming), and every message then page-faults fresh, zeroed
/// pages in, which cost more than copying the samples. Called once at start.
void keep_message_memory() noexcept;

/// Run one end (a sender or receiver made from its options) until it stops:
/// the stop handlers first, then its run(); an error it throws is said on
/// stderr as "doppler-bridge SIDE: what" and gives exit status 1.
template <class End, class Options>
int run_end(const char* side, const Options& o)
{
    install_stop_handlers();
    keep_message_memory();
    End end(o);
    try {
        return end.run();
    } catch (const std::exception& e) {
        std::fprintf(stderr, "doppler-bridge %s: %s\n", side, e.what());
        return 1;
    }
}

// ---------------------------------------------------------------------------
// Lines on stderr, each prefixed "doppler-bridge send: " or "... recv: "
// ---------------------------------------------------------------------------

class logger
{
public:
    logger(const char* side, bool quiet) : side_(side), quiet_(quiet) { }
    /// Events (a peer came or went, a stream ended): silenced by --quiet.
    void info(const char* fmt, ...) __attribute__((format(printf, 2, 3)));
    /// Something lost, refused or wrong: always shown.
    void warn(const char* fmt, ...) __attribute__((format(printf, 2, 3)));
    /// warn(), at most `burst` lines per second per `key` slot (0..7); the
    /// lines held back are counted and announced with the next one shown.
    void warn_limited(int key, const char* fmt, ...)
        __attribute__((format(printf, 3, 4)));
    /// The once-a-second status line: silenced by --quiet.
    void status(const std::string& line);
    bool quiet() const noexcept { return quiet_; }

private:
    void emit(const char* fmt, va_list ap, const char* suffix = "");
    const char* side_;
    bool quiet_;
    struct slot {
        int64_t window_ns = 0;
        int shown = 0;
        uint64_t held = 0;
    } slots_[8];
};

/// "12.3 MS/s" style rates.
std::string si_rate(double per_second, const char* unit);

// ---------------------------------------------------------------------------
// ZeroMQ
// ---------------------------------------------------------------------------

/// zmq_strerror(zmq_errno()) of the last call.
std::string zmq_why();

/// Owns a ZeroMQ context and closes it (after the sockets) on destruction.
class zmq_context
{
public:
    zmq_context();
    ~zmq_context();
    zmq_context(const zmq_context&) = delete;
    zmq_context& operator=(const zmq_context&) = delete;
    void* get() const noexcept { return ctx_; }

private:
    void* ctx_;
};

/// Owns a socket.
class zmq_sock
{
public:
    zmq_sock(void* ctx, int type);
    ~zmq_sock();
    zmq_sock(const zmq_sock&) = delete;
    zmq_sock& operator=(const zmq_sock&) = delete;
    void* get() const noexcept { return s_; }
    void set_int(int option, int value, const char* what);
    std::string last_endpoint() const;

private:
    void* s_;
};

/// Connections of one socket, from its monitor: which are up, with their
/// peers' addresses, so the loops can say "peer connected" and react to a
/// peer that went away.
class connection_monitor
{
public:
    struct event {
        enum kind { up, down, other } what = other;
        int fd = -1;
        std::string endpoint;
    };
    connection_monitor(void* ctx, void* socket);
    ~connection_monitor();
    connection_monitor(const connection_monitor&) = delete;
    connection_monitor& operator=(const connection_monitor&) = delete;
    /// The PAIR socket events arrive on (for zmq_poll).
    void* socket() const noexcept { return pair_; }
    /// The next event if one is waiting (no wait); updates connections().
    bool next(event& out);
    /// Connections up now.
    size_t connections() const noexcept { return up_.size(); }

private:
    void* watched_;
    void* pair_ = nullptr;
    std::set<int> up_;
};

} // namespace bridge
} // namespace doppler
