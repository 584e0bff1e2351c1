/* -*- c++ -*- */
/*
 * doppler-bridge: a ring on one host read on another through ZeroMQ, in the
 * message format of GNU Radio's own ZMQ blocks (docs/bridge.md).
 *
 *   send  reads a ring as a reader of its own and sends its samples, tags
 *         and stream ends from a PUSH (or PUB) socket bound to an endpoint;
 *   recv  connects a PULL (or SUB) socket to a sender (a bridge, or a stock
 *         ZMQ PUSH/PUB Sink with pass_tags) and writes what arrives into a
 *         local ring as its producer.
 * SPDX-License-Identifier: GPL-3.0-or-later
 */
#pragma once

#include "convert.hpp"

#include <doppler/ring.hpp>

#include <cstdint>
#include <string>

namespace doppler {
namespace bridge {

/// Messages a receiver accepts by default: 64 MiB.
constexpr uint64_t default_max_message = uint64_t(64) << 20;
/// Items per message a sender puts in at most, by default.
constexpr uint64_t default_max_items = uint64_t(1) << 15;
/// High-water mark (messages queued per peer) of either socket, by default.
constexpr int default_hwm = 4;

/// What both ends take: the local ring, the ZeroMQ endpoint, the items on
/// the wire, the socket's high-water mark, and whether to stay quiet.
struct link_options {
    std::string ring;
    std::string endpoint;
    wire_format wire = wire_format::native;
    int hwm = default_hwm;
    bool quiet = false;
    /// A key directory (curve.hpp): encrypt, and let only the peers in.
    /// "": no security at all (ZeroMQ's NULL mechanism).
    std::string curve_keys;
};

struct send_options : link_options {
    /// The reader to claim: "" is the ring's default reader (always declared
    /// and tethered: the one a ring's only consumer must use, or it holds the
    /// producer back); a name when the default reader is read on this host.
    std::string reader;
    bool tethered = true;
    int64_t grace_ns = default_reader_grace_ns; ///< < 0: forever
    bool pub = false;
    uint64_t max_items = default_max_items;
    int64_t wait_ns = -1; ///< for the ring to appear; < 0: forever
};

struct recv_options : link_options {
    std::string type; ///< "": the ring's own, f32 for a new ring
    uint64_t capacity = default_capacity;
    bool sub = false;
    /// A sender that sends heartbeats and falls silent this long (with its
    /// connection up) has its stream ended as broken.
    int64_t silence_ns = 1'000'000'000;
    uint64_t max_message = default_max_message;
    std::string position; ///< "": the default file; "none": no file
};

/// The programs; exit status 0 after a stop by SIGINT/SIGTERM, 1 on an error
/// (said on stderr).
int run_send(const send_options& o);
int run_recv(const recv_options& o);

/// doppler-bridge's command line: parses argv and runs send or recv.
int cli_main(int argc, char** argv);

} // namespace bridge
} // namespace doppler
