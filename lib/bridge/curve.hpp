/* -*- c++ -*- */
/*
 * doppler-bridge: ZeroMQ's CURVE security (encryption and authentication of
 * both ends) from a directory of keys, and the receiver's authenticator.
 * SPDX-License-Identifier: GPL-3.0-or-later
 *
 * The key directory (--curve-keys DIR, made by `doppler-bridge keygen DIR`):
 *
 *   DIR/self.key        this end's secret key (Z85, 40 characters), mode 0600
 *   DIR/self.pub        this end's public key (Z85): give it to the other end
 *   DIR/peers/NAME.pub  the public keys of the other ends this end trusts
 *
 * The receiver is always the CURVE server and the sender the CURVE client,
 * whichever of them binds (the sender binds its endpoint; CURVE's roles do
 * not depend on it). So:
 *
 *   - a receiver lets in only senders whose public key is in its peers/
 *     (any number of them): its authenticator (a ZAP handler, on a thread of
 *     its own) checks each sender's key during the handshake, and logs the
 *     ones it refuses;
 *   - a sender talks only to the receiver whose public key is in its peers/
 *     (exactly one key: a CURVE client names the one server it expects;
 *     several receivers of one PUB sender share one key pair);
 *   - everything after the handshake is encrypted and authenticated
 *     (Curve25519, XSalsa20, Poly1305).
 */
#pragma once

#include "net.hpp"

#include <atomic>
#include <cstdint>
#include <memory>
#include <string>
#include <thread>
#include <vector>

namespace doppler {
namespace bridge {

/// Is CURVE available in this libzmq (zmq_has("curve"))?
bool curve_available() noexcept;

/// Write a new key pair into dir (made, mode 0700, with an empty peers/ if
/// missing): dir/self.key (mode 0600) and dir/self.pub. Never replaces a
/// key: error(EEXIST) if dir/self.key exists. Returns the public key (Z85).
std::string curve_keygen(const std::string& dir);

struct curve_peer {
    std::string name; ///< the file, peers/NAME.pub
    std::string z85; ///< the public key, 40 characters
    uint8_t key[32]; ///< the same, decoded
};

/// The keys of one end, read from its key directory.
struct curve_keys {
    std::string dir;
    std::string secret_z85; ///< from dir/self.key
    std::string public_z85; ///< derived from the secret key
    std::vector<curve_peer> peers; ///< from dir/peers/*.pub, sorted by name

    /// Reads and checks dir: self.key a regular file of this user that nobody
    /// else can read, every key 40 Z85 characters (a trailing newline
    /// allowed), at least one peer. Throws doppler::error saying which file is
    /// wrong and what to do.
    static curve_keys load(const std::string& dir);
    /// The peer holding `key` (32 bytes), or null.
    const curve_peer* find(const uint8_t* key) const noexcept;
};

/// The keys of one end's --curve-keys DIR, or null without one (no CURVE).
/// Both ends read them first of all, so that a mistake in them is said
/// before anything is made or waited for; a sender's peers/ must hold
/// exactly one receiver's key (curve_receiver_key).
std::unique_ptr<curve_keys> curve_keys_of(const std::string& dir, bool sender);

/// Make `socket` the CURVE server (the receiver): its secret key; senders are
/// checked by the authenticator, which must exist first.
void curve_server(void* socket, const curve_keys& k);
/// The one receiver's key of a sender's peers/ (error(EINVAL) with what to
/// do if there is not exactly one).
const curve_peer& curve_receiver_key(const curve_keys& k);
/// Make `socket` a CURVE client (the sender) of that receiver.
void curve_client(void* socket, const curve_keys& k);

/// The receiver's ZAP handler: bound to inproc://zeromq.zap.01 in `ctx`
/// (before any socket of ctx connects), it answers every CURVE handshake of
/// that context on a thread of its own: a sender whose key is one of the
/// peers is let in (its peer name becomes the connection's user id), any
/// other is refused with status 400 and logged (rate-limited).
class curve_authenticator
{
public:
    curve_authenticator(void* ctx, const curve_keys& k, logger& log);
    ~curve_authenticator(); ///< stops and joins the thread
    curve_authenticator(const curve_authenticator&) = delete;
    curve_authenticator& operator=(const curve_authenticator&) = delete;
    /// Handshakes refused so far.
    uint64_t refused() const noexcept { return refused_.load(); }

private:
    void serve();
    void answer();
    const curve_keys& keys_;
    logger& log_;
    void* sock_ = nullptr;
    std::atomic<bool> stop_ { false };
    std::atomic<uint64_t> refused_ { 0 };
    std::thread thread_;
};

/// What a failed handshake (a socket monitor's HANDSHAKE_FAILED_* event with
/// its value) means, for a log line on the side `receiver` says.
std::string handshake_failure(uint16_t event, int32_t value, bool receiver, bool curve);

/// Log a connection monitor's failed handshake (rate-limited), in
/// handshake_failure's words; nothing if it has none for that event.
void log_handshake_failure(logger& log,
                           const connection_monitor::event& ev,
                           bool receiver,
                           bool curve);

/// Does `endpoint` only reach this host (ipc://, inproc://, tcp on a loopback
/// address)? A sender without CURVE on any other warns that anyone who can
/// reach it can read the stream.
bool loopback_only(const std::string& endpoint);

} // namespace bridge
} // namespace doppler
