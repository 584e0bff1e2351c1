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
#include <mutex>
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

/// Every kind of line that can repeat while a bridge runs. Each kind is shown
/// at most once a second (logger::limited); the lines of a kind held back in
/// that second are counted and the count is said with the next one shown.
enum class line : uint8_t {
    too_large, ///< recv: a message over --max-message refused
    no_header, ///< recv: a message without a gr-zeromq tag header refused
    truncated, ///< recv: a header that runs past the message refused
    bad_version, ///< recv: a header of another version refused
    malformed, ///< recv: a header with an unknown PMT type refused
    not_whole_items, ///< recv: items that are not a whole number refused
    tags_not_carried, ///< recv: tags the ring cannot carry left out
    gap, ///< recv: samples missing before a message
    offset_back, ///< recv: the sender's offset went back (a new sender)
    stream_broken, ///< either end: a stream ended as broken (recv: the local one)
    stream_closed, ///< either end: a stream closed (recv: the local one)
    closed_by_other, ///< recv: another handle closed the local stream
    connected, ///< either end: a peer's connection came up
    disconnected, ///< either end: a peer's connection went down
    key_accepted, ///< recv: a sender's CURVE key is one of the peers
    key_refused, ///< recv: a sender's CURVE key is not one of the peers
    handshake_failed, ///< either end: a peer failed the CURVE handshake
    count
};

/// The rule of logger::limited, apart so that it can be checked alone: the
/// first line of a kind is shown, the next ones within a second of the last
/// one shown are held back and counted.
class rate_limit
{
public:
    static constexpr int64_t interval_ns = 1'000'000'000;
    /// May a line be shown at `now` (ns)? False: it is counted as held back.
    bool admit(int64_t now) noexcept
    {
        if (shown_ && now - last_ns_ < interval_ns) {
            ++held_;
            return false;
        }
        shown(now);
        return true;
    }
    /// A line of this kind was shown at `now`.
    void shown(int64_t now) noexcept
    {
        shown_ = true;
        last_ns_ = now;
    }
    /// Lines held back since the last one shown; the count starts again.
    uint64_t take_held() noexcept
    {
        const uint64_t h = held_;
        held_ = 0;
        return h;
    }
    /// Lines are held back and a second has passed since the last one shown:
    /// the last of them can be shown now (with the count).
    bool due(int64_t now) const noexcept
    {
        return held_ != 0 && now - last_ns_ >= interval_ns;
    }

private:
    int64_t last_ns_ = 0;
    uint64_t held_ = 0;
    bool shown_ = false;
};

class logger
{
public:
    enum class level { info, warn };
    /// Lines go to `out` (stderr; a test gives a file), stamped by `clock`
    /// (now_ns; a test gives its own).
    logger(const char* side,
           bool quiet,
           std::FILE* out = stderr,
           int64_t (*clock)() noexcept = nullptr);
    /// Events (a peer came or went, a stream ended): silenced by --quiet.
    void info(const char* fmt, ...) __attribute__((format(printf, 2, 3)));
    /// Something lost, refused or wrong: always shown.
    void warn(const char* fmt, ...) __attribute__((format(printf, 2, 3)));
    /// A line of a kind that can repeat (info: silenced by --quiet; warn:
    /// always), shown at most once a second per kind. A line shown after
    /// others of its kind were held back ends with "(and N more like it not
    /// shown)"; flush() shows the last line held back once its second is
    /// over, so that no count is lost when the lines stop coming. Safe to
    /// call from another thread (the CURVE authenticator's).
    void limited(line kind, level lv, const char* fmt, ...)
        __attribute__((format(printf, 4, 5)));
    /// Show the last held-back line of every kind whose second is over
    /// (all of them with `all`, when stopping), with the count of the others.
    void flush(bool all = false);
    /// The once-a-second status line: silenced by --quiet.
    void status(const std::string& line);
    bool quiet() const noexcept { return quiet_; }

private:
    void emit(const char* fmt, va_list ap, const char* suffix = "");
    void write(const char* text, const char* suffix);
    const char* side_;
    bool quiet_;
    std::FILE* out_;
    int64_t (*clock_)() noexcept;
    std::mutex mutex_; // the slots, between the main thread and the authenticator
    struct slot {
        rate_limit limit;
        std::string held_line; // the last line held back
    } slots_[size_t(line::count)];
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
        /// up, down: a connection (TCP, IPC) came or went; ready: its
        /// handshake succeeded (messages can flow); failed: its handshake
        /// failed (code is ZeroMQ's event, value its detail: a ZAP status, a
        /// protocol error, or an errno when the peer closed the connection
        /// during the handshake); the connection then goes down.
        enum kind { up, down, ready, failed, other } what = other;
        int fd = -1;
        uint16_t code = 0;
        int32_t value = 0;
        /// For down: the connection had finished its handshake (it carried
        /// messages); false when its handshake failed or never finished.
        bool was_ready = false;
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
    /// An event is waiting (next() would return one).
    bool pending() const noexcept;
    /// Connections up now.
    size_t connections() const noexcept { return up_.size(); }

private:
    void* watched_;
    void* pair_ = nullptr;
    std::set<int> up_;
    size_t ready_ = 0; // connections up whose handshake succeeded
};

} // namespace bridge
} // namespace doppler
