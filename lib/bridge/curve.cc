/* -*- c++ -*- */
/*
 * doppler-bridge: CURVE keys and the receiver's authenticator (curve.hpp).
 * SPDX-License-Identifier: GPL-3.0-or-later
 */
#include "curve.hpp"

#include <doppler/types.hpp>

#include <zmq.h>

#include <dirent.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstdio>
#include <cstring>

namespace doppler {
namespace bridge {

namespace {

constexpr size_t z85_key = 40; // characters of a Z85 key

struct fd_guard {
    int fd;
    ~fd_guard()
    {
        if (fd >= 0)
            ::close(fd);
    }
};

std::string mode_string(mode_t m)
{
    char b[8];
    std::snprintf(b, sizeof b, "%04o", unsigned(m & 07777));
    return b;
}

/// A directory of the key directory's tree: this user's, and nobody else may
/// add or replace a file in it (someone who could would choose the keys).
void check_dir(const std::string& path, const char* role)
{
    struct stat st;
    if (::stat(path.c_str(), &st) != 0) {
        const int e = errno;
        throw error(
            e,
            "cannot use " + printable(path) + " (" + role + "): " + std::strerror(e) +
                (e == ENOENT ? "; make the keys with `doppler-bridge keygen DIR`" : ""));
    }
    if (!S_ISDIR(st.st_mode))
        throw error(ENOTDIR, printable(path) + " (" + role + ") is not a directory");
    if (st.st_uid != ::geteuid())
        throw error(EACCES,
                    printable(path) + " (" + role + ") belongs to uid " +
                        std::to_string(st.st_uid) + ", not to you (uid " +
                        std::to_string(::geteuid()) +
                        "): its owner chooses the keys; use a directory of your own");
    if ((st.st_mode & 022) != 0)
        throw error(EACCES,
                    printable(path) + " (" + role + ") has mode " +
                        mode_string(st.st_mode) +
                        ": others can add or replace keys in it; chmod go-w it");
}

/// The Z85 key in file `path` (40 characters, a trailing newline allowed).
/// A secret key must be nobody else's to read.
std::string read_key(const std::string& path, bool secret)
{
    fd_guard fd { ::open(path.c_str(), O_RDONLY | O_CLOEXEC | O_NOFOLLOW | O_NONBLOCK) };
    if (fd.fd < 0) {
        const int e = errno;
        throw error(e,
                    "cannot read the key " + printable(path) + ": " + std::strerror(e) +
                        (e == ENOENT && secret
                             ? "; make a key pair with `doppler-bridge keygen DIR`"
                             : ""));
    }
    struct stat st;
    if (::fstat(fd.fd, &st) != 0 || !S_ISREG(st.st_mode))
        throw error(EBADMSG, printable(path) + " is not a regular file: not a key");
    if (st.st_uid != ::geteuid())
        throw error(EACCES,
                    "the key " + printable(path) + " belongs to uid " +
                        std::to_string(st.st_uid) + ", not to you (uid " +
                        std::to_string(::geteuid()) + "): its owner could change it");
    if (secret && (st.st_mode & 077) != 0)
        throw error(EACCES,
                    "the secret key " + printable(path) + " has mode " +
                        mode_string(st.st_mode) +
                        ": others may read it; chmod 600 it, and make a new pair "
                        "(`doppler-bridge keygen`) if someone else may have read it");
    if (!secret && (st.st_mode & 022) != 0)
        throw error(EACCES,
                    "the key " + printable(path) + " has mode " +
                        mode_string(st.st_mode) +
                        ": others can change it; chmod go-w it");
    char buf[z85_key + 3];
    const ssize_t n = ::read(fd.fd, buf, sizeof buf);
    std::string k(buf, n > 0 ? size_t(n) : 0);
    while (!k.empty() && (k.back() == '\n' || k.back() == '\r'))
        k.pop_back();
    uint8_t bin[32];
    if (k.size() != z85_key || !zmq_z85_decode(bin, k.c_str()))
        throw error(EBADMSG,
                    printable(path) +
                        " is not a CURVE key (40 Z85 characters, as `doppler-bridge "
                        "keygen` writes)");
    return k;
}

/// Write `text` into a new file (never an existing one, never through a
/// link) of mode `mode`.
void write_new(const std::string& path, const std::string& text, mode_t mode)
{
    fd_guard fd { ::open(
        path.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC | O_NOFOLLOW, mode) };
    if (fd.fd < 0) {
        const int e = errno;
        throw error(e, "cannot make " + printable(path) + ": " + std::strerror(e));
    }
    ::fchmod(fd.fd, mode); // whatever the umask
    if (::write(fd.fd, text.data(), text.size()) != ssize_t(text.size()) ||
        ::fsync(fd.fd) != 0) {
        const int e = errno;
        ::unlink(path.c_str());
        throw error(e, "cannot write " + printable(path) + ": " + std::strerror(e));
    }
}

void make_dir(const std::string& path)
{
    if (::mkdir(path.c_str(), 0700) != 0 && errno != EEXIST) {
        const int e = errno;
        throw error(e, "cannot make " + printable(path) + ": " + std::strerror(e));
    }
}

void set_key(void* socket, int option, const std::string& z85, const char* what)
{
    if (zmq_setsockopt(socket, option, z85.c_str(), z85.size() + 1) != 0)
        throw error(zmq_errno(),
                    std::string("cannot set the ") + what + ": " + zmq_why());
}

} // namespace

bool curve_available() noexcept
{
    return zmq_has("curve") != 0;
}

std::string curve_keygen(const std::string& dir)
{
    if (!curve_available())
        throw error(ENOTSUP,
                    "this libzmq was built without CURVE (zmq_has(\"curve\") is false): "
                    "install one built with libsodium");
    for (size_t slash = dir.find('/', 1); slash != std::string::npos;
         slash = dir.find('/', slash + 1))
        make_dir(dir.substr(0, slash)); // the parents first
    make_dir(dir);
    check_dir(dir, "the key directory");
    make_dir(dir + "/peers");
    check_dir(dir + "/peers", "the peers' keys");
    const std::string secret_path = dir + "/self.key", public_path = dir + "/self.pub";
    struct stat st;
    if (::lstat(secret_path.c_str(), &st) == 0)
        throw error(EEXIST,
                    printable(secret_path) +
                        " exists: keygen never replaces a key (the other ends trust "
                        "its public half); remove self.key and self.pub first to make "
                        "a new pair");
    char pub[z85_key + 1], sec[z85_key + 1];
    if (zmq_curve_keypair(pub, sec) != 0)
        throw error(zmq_errno(), "cannot make a CURVE key pair: " + zmq_why());
    write_new(secret_path, std::string(sec) + "\n", 0600);
    ::unlink(public_path.c_str()); // the public half of a pair removed
    try {
        write_new(public_path, std::string(pub) + "\n", 0644);
    } catch (...) {
        ::unlink(secret_path.c_str());
        throw;
    }
    return pub;
}

curve_keys curve_keys::load(const std::string& dir)
{
    if (!curve_available())
        throw error(ENOTSUP,
                    "--curve-keys: this libzmq was built without CURVE "
                    "(zmq_has(\"curve\") is false): install one built with libsodium");
    curve_keys k;
    k.dir = dir;
    check_dir(dir, "--curve-keys");
    k.secret_z85 = read_key(dir + "/self.key", true);
    char pub[z85_key + 1];
    if (zmq_curve_public(pub, k.secret_z85.c_str()) != 0)
        throw error(EBADMSG, printable(dir + "/self.key") + " is not a CURVE secret key");
    k.public_z85 = pub;
    const std::string peers = dir + "/peers";
    check_dir(peers, "the peers' keys");
    DIR* d = ::opendir(peers.c_str());
    if (!d) {
        const int e = errno;
        throw error(e, "cannot list " + printable(peers) + ": " + std::strerror(e));
    }
    std::vector<std::string> names;
    while (const dirent* e = ::readdir(d)) {
        const std::string n = e->d_name;
        if (n.size() > 4 && n[0] != '.' && n.compare(n.size() - 4, 4, ".pub") == 0)
            names.push_back(n);
    }
    ::closedir(d);
    std::sort(names.begin(), names.end());
    for (const std::string& n : names) {
        curve_peer p;
        p.name = n.substr(0, n.size() - 4);
        p.z85 = read_key(peers + "/" + n, false);
        zmq_z85_decode(p.key, p.z85.c_str());
        k.peers.push_back(p);
    }
    if (k.peers.empty())
        throw error(ENOENT,
                    "no peer keys in " + printable(peers) +
                        ": copy the other end's self.pub there (as NAME.pub)");
    return k;
}

std::unique_ptr<curve_keys> curve_keys_of(const std::string& dir, bool sender)
{
    if (dir.empty())
        return nullptr;
    auto k = std::make_unique<curve_keys>(curve_keys::load(dir));
    if (sender)
        curve_receiver_key(*k);
    return k;
}

const curve_peer* curve_keys::find(const uint8_t* key) const noexcept
{
    for (const curve_peer& p : peers)
        if (std::memcmp(p.key, key, 32) == 0)
            return &p;
    return nullptr;
}

void curve_server(void* socket, const curve_keys& k)
{
    int one = 1;
    if (zmq_setsockopt(socket, ZMQ_CURVE_SERVER, &one, sizeof one) != 0)
        throw error(zmq_errno(), "cannot make the socket a CURVE server: " + zmq_why());
    set_key(socket, ZMQ_CURVE_SECRETKEY, k.secret_z85, "CURVE secret key");
    const char domain[] = "doppler-bridge";
    if (zmq_setsockopt(socket, ZMQ_ZAP_DOMAIN, domain, sizeof domain - 1) != 0)
        throw error(zmq_errno(), "cannot set the ZAP domain: " + zmq_why());
}

const curve_peer& curve_receiver_key(const curve_keys& k)
{
    if (k.peers.size() != 1) {
        std::string list;
        for (const curve_peer& p : k.peers)
            list += (list.empty() ? "" : ", ") + p.name + ".pub";
        throw error(EINVAL,
                    "a sender sends to one receiver, and " + printable(k.dir) +
                        "/peers holds " + std::to_string(k.peers.size()) + " keys (" +
                        list +
                        "): keep only the receiver's public key there (receivers of "
                        "one --pub sender share one key pair)");
    }
    return k.peers[0];
}

void curve_client(void* socket, const curve_keys& k)
{
    set_key(
        socket, ZMQ_CURVE_SERVERKEY, curve_receiver_key(k).z85, "receiver's public key");
    set_key(socket, ZMQ_CURVE_PUBLICKEY, k.public_z85, "CURVE public key");
    set_key(socket, ZMQ_CURVE_SECRETKEY, k.secret_z85, "CURVE secret key");
}

// ---------------------------------------------------------------------------
// The authenticator
// ---------------------------------------------------------------------------

curve_authenticator::curve_authenticator(void* ctx, const curve_keys& k, logger& log)
    : keys_(k), log_(log)
{
    sock_ = zmq_socket(ctx, ZMQ_REP);
    if (!sock_)
        throw error(zmq_errno(), "cannot create the ZAP handler's socket: " + zmq_why());
    int linger = 0;
    zmq_setsockopt(sock_, ZMQ_LINGER, &linger, sizeof linger);
    if (zmq_bind(sock_, "inproc://zeromq.zap.01") != 0) {
        const int e = zmq_errno();
        zmq_close(sock_);
        throw error(e, "cannot bind the ZAP handler: " + zmq_why());
    }
    // The socket moves to the thread (starting it is a full barrier) and
    // comes back when it is joined.
    thread_ = std::thread([this] { serve(); });
}

curve_authenticator::~curve_authenticator()
{
    stop_ = true;
    thread_.join();
    zmq_close(sock_);
}

void curve_authenticator::serve()
{
    while (!stop_.load()) {
        zmq_pollitem_t it = { sock_, 0, ZMQ_POLLIN, 0 };
        const int n = zmq_poll(&it, 1, 100);
        if (n < 0 && zmq_errno() == ETERM)
            return;
        if (n > 0)
            answer();
    }
}

void curve_authenticator::answer()
{
    // A request (ZMQ RFC 27): version, request id, domain, address, routing
    // id, mechanism, credentials (CURVE: the client's 32-byte public key).
    std::vector<std::string> f;
    for (;;) {
        zmq_msg_t m;
        zmq_msg_init(&m);
        if (zmq_msg_recv(&m, sock_, 0) < 0) {
            zmq_msg_close(&m);
            return;
        }
        f.emplace_back(static_cast<const char*>(zmq_msg_data(&m)), zmq_msg_size(&m));
        const bool more = zmq_msg_more(&m);
        zmq_msg_close(&m);
        if (!more)
            break;
    }
    const bool curve = f.size() >= 7 && f[5] == "CURVE" && f[6].size() == 32;
    const curve_peer* p =
        curve ? keys_.find(reinterpret_cast<const uint8_t*>(f[6].data())) : nullptr;
    const std::string address = f.size() > 3 ? printable(f[3]) : "?";
    if (p) {
        log_.limited(line::key_accepted,
                     logger::level::info,
                     "sender %s let in: its CURVE key is %s/peers/%s.pub",
                     address.c_str(),
                     keys_.dir.c_str(),
                     p->name.c_str());
    } else {
        ++refused_;
        char z85[z85_key + 1] = "?";
        if (curve)
            zmq_z85_encode(z85, reinterpret_cast<const uint8_t*>(f[6].data()), 32);
        log_.limited(
            line::key_refused,
            logger::level::warn,
            "refused a sender at %s: its CURVE public key %s is not in %s/peers/ "
            "(to let it in, copy that sender's self.pub there and start recv "
            "again); nothing it sends is read",
            address.c_str(),
            z85,
            keys_.dir.c_str());
    }
    const std::string status = p ? "200" : "400";
    const std::string text = p ? "OK" : "key not among the receiver's peers";
    const std::string user = p ? p->name : "";
    const std::string reply[6] = {
        "1.0", f.size() > 1 ? f[1] : "", status, text, user, ""
    };
    for (int i = 0; i < 6; ++i)
        zmq_send(sock_, reply[i].data(), reply[i].size(), i < 5 ? ZMQ_SNDMORE : 0);
}

std::string handshake_failure(uint16_t event, int32_t value, bool receiver, bool curve)
{
    char code[32];
    std::snprintf(code, sizeof code, "0x%x", unsigned(value));
    if (event == ZMQ_EVENT_HANDSHAKE_FAILED_AUTH) {
        if (receiver)
            return ""; // the authenticator said why
        return "the receiver refused this sender's CURVE key (status " +
            std::to_string(value) +
            "): the receiver must hold this end's self.pub in its peers/ directory";
    }
    if (event == ZMQ_EVENT_HANDSHAKE_FAILED_NO_DETAIL) {
        // The other end closed the connection during the handshake: for a
        // CURVE client, that is what a server that cannot decrypt its hello
        // does. (A peer that died at that moment looks the same.)
        if (curve && !receiver)
            return "a receiver closed its connection during the CURVE handshake: its "
                   "key is not the one in peers/, or it has no --curve-keys";
        return "";
    }
    if (event != ZMQ_EVENT_HANDSHAKE_FAILED_PROTOCOL)
        return "";
    if (value == ZMQ_PROTOCOL_ERROR_ZMTP_MECHANISM_MISMATCH)
        return curve
            ? std::string("a peer without --curve-keys tried to connect: refused "
                          "(both ends need --curve-keys)")
            : std::string("a peer that uses CURVE tried to connect: refused "
                          "(give this end --curve-keys too)");
    if (value == ZMQ_PROTOCOL_ERROR_ZMTP_CRYPTOGRAPHIC)
        return receiver ? std::string("a sender failed the CURVE handshake: the "
                                      "receiver's public key it holds (its peers/) is "
                                      "not this receiver's self.pub")
                        : std::string("the receiver failed the CURVE handshake: it is "
                                      "not the receiver whose key is in peers/");
    return std::string("the handshake failed (ZeroMQ protocol error ") + code + ")";
}

void log_handshake_failure(logger& log,
                           const connection_monitor::event& ev,
                           bool receiver,
                           bool curve)
{
    const std::string why = handshake_failure(ev.code, ev.value, receiver, curve);
    if (!why.empty())
        log.limited(line::handshake_failed,
                    logger::level::warn,
                    "%s (%s)",
                    why.c_str(),
                    ev.endpoint.c_str());
}

bool loopback_only(const std::string& endpoint)
{
    if (endpoint.rfind("ipc://", 0) == 0 || endpoint.rfind("inproc://", 0) == 0)
        return true;
    if (endpoint.rfind("tcp://", 0) != 0)
        return false;
    std::string host = endpoint.substr(6);
    const size_t colon = host.rfind(':');
    if (colon != std::string::npos)
        host.resize(colon);
    if (host.size() > 2 && host.front() == '[' && host.back() == ']')
        host = host.substr(1, host.size() - 2);
    return host == "localhost" || host == "::1" || host.rfind("127.", 0) == 0;
}

} // namespace bridge
} // namespace doppler
