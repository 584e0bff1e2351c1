/* -*- c++ -*- */
/*
 * doppler-bridge's command line (bridge.hpp: cli_main).
 * SPDX-License-Identifier: GPL-3.0-or-later
 */
#include "bridge.hpp"
#include "curve.hpp"

#include <cerrno>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <string>
#include <vector>

namespace doppler {
namespace bridge {

namespace {

const char* const usage_main =
    "usage: doppler-bridge send RING ENDPOINT [options]   a ring -> ZeroMQ\n"
    "       doppler-bridge recv ENDPOINT RING [options]   ZeroMQ -> a ring\n"
    "       doppler-bridge keygen DIR                     a CURVE key pair in DIR\n"
    "       doppler-bridge send --help | recv --help | keygen --help\n"
    "\n"
    "A ring on one host read on another, in the message format of GNU Radio's\n"
    "ZMQ blocks (pass_tags on): either end may be a stock GNU Radio ZMQ PUSH/PUB\n"
    "Sink or ZMQ PULL/SUB Source. See docs/bridge.md.\n";

const char* const usage_send =
    "usage: doppler-bridge send RING ENDPOINT [options]\n"
    "\n"
    "Reads ring RING as a reader of its own and sends its samples, tags and\n"
    "stream ends from a PUSH socket bound to ENDPOINT (tcp://*:5555,\n"
    "tcp://127.0.0.1:*, ipc:///tmp/rx.zmq). PUSH is lossless: when the receiver\n"
    "falls behind, the ring fills and a tethered reader holds the producer back.\n"
    "\n"
    "  --reader NAME      a named reader of the ring (default: the ring's default\n"
    "                     reader, the one its only consumer reads; name one when\n"
    "                     the default reader is read on this host)\n"
    "  --untethered       never hold the producer back: skip what is overwritten\n"
    "  --grace SECONDS    how long the producer waits for this tethered reader if\n"
    "                     the bridge dies (default 1; 'inf' waits forever)\n"
    "  --pub              a PUB socket instead: never waits, subscribers that\n"
    "                     fall behind lose messages (they count the gaps)\n"
    "  --wire native|sc16 items on the wire: the ring's own samples (default), or\n"
    "                     an f32 ring's as interleaved int16, 1.0 = 32767\n"
    "  --max-items N      samples per message at most (default 32768)\n"
    "  --hwm N            messages ZeroMQ queues per peer (default 4)\n"
    "  --wait SECONDS     how long to wait for RING to appear (default: forever)\n"
    "  --curve-keys DIR   encrypt, and send only to the receiver whose public key\n"
    "                     is DIR/peers/*.pub (one key), as DIR/self.key (made by\n"
    "                     `doppler-bridge keygen DIR`); the receiver needs\n"
    "                     --curve-keys too, with DIR/self.pub among its peers\n"
    "  --quiet            no status line, no events (warnings still show)\n";

const char* const usage_recv =
    "usage: doppler-bridge recv ENDPOINT RING [options]\n"
    "\n"
    "Connects a PULL socket to a sender at ENDPOINT (tcp://HOST:5555,\n"
    "ipc:///tmp/rx.zmq) and writes what arrives into ring RING as its producer\n"
    "(attached, or created if missing). Lossless with PULL: when the ring is\n"
    "full, it waits, and the sender waits for it.\n"
    "\n"
    "  --type f32|f64|i16  the ring's sample type (default: the existing ring's,\n"
    "                      f32 for a new one)\n"
    "  --capacity N        samples of a new ring (default 1048576)\n"
    "  --sub               a SUB socket (for a PUB sender): messages lost on the\n"
    "                      way show as gaps\n"
    "  --wire native|sc16  items on the wire (the sender's --wire)\n"
    "  --hwm N             messages ZeroMQ queues (default 4)\n"
    "  --timeout SECONDS   a bridge sender silent this long has its stream ended\n"
    "                      as broken (default 1)\n"
    "  --max-message BYTES larger messages are refused and counted (default 64 MiB)\n"
    "  --position PATH     where to keep the position for a receiver started after\n"
    "                      this one (default /dev/shm/doppler-bridge.RING.position;\n"
    "                      'none' keeps none)\n"
    "  --curve-keys DIR    encrypt, and take only senders whose public key is in\n"
    "                      DIR/peers/*.pub, as DIR/self.key (made by\n"
    "                      `doppler-bridge keygen DIR`); the sender needs\n"
    "                      --curve-keys too, with DIR/self.pub as its one peer\n"
    "  --quiet             no status line, no events (warnings still show)\n";

const char* const usage_keygen =
    "usage: doppler-bridge keygen DIR\n"
    "\n"
    "Makes a CURVE key pair for one end of a bridge (--curve-keys DIR):\n"
    "DIR/self.key (the secret key, mode 0600) and DIR/self.pub (the public key),\n"
    "and an empty DIR/peers/. Copy DIR/self.pub into the other end's peers/\n"
    "directory (as NAME.pub) and the other end's self.pub into DIR/peers/.\n"
    "Never replaces an existing key.\n";

struct usage_error {
    std::string what;
};

double parse_seconds(const std::string& opt, const std::string& v, bool allow_inf)
{
    if (allow_inf && (v == "inf" || v == "forever"))
        return INFINITY;
    char* end = nullptr;
    errno = 0;
    const double d = std::strtod(v.c_str(), &end);
    if (v.empty() || *end != '\0' || errno != 0 || !std::isfinite(d) || d < 0)
        throw usage_error { opt + " takes a number of seconds (0 or more" +
                            std::string(allow_inf ? ", or inf" : "") + "), not \"" +
                            printable(v) + "\"" };
    return d;
}

uint64_t parse_count(const std::string& opt, const std::string& v, uint64_t min)
{
    char* end = nullptr;
    errno = 0;
    const unsigned long long n = std::strtoull(v.c_str(), &end, 10);
    if (v.empty() || v[0] == '-' || *end != '\0' || errno != 0 || n < min)
        throw usage_error { opt + " takes a whole number of at least " +
                            std::to_string(min) + ", not \"" + printable(v) + "\"" };
    return n;
}

int64_t to_ns(double s)
{
    if (std::isinf(s))
        return -1;
    return s > 9e9 ? INT64_MAX : int64_t(s * 1e9);
}

/// Splits "--opt=value" and "--opt value"; positional arguments in order.
class args
{
public:
    args(int argc, char** argv, int from)
    {
        for (int i = from; i < argc; ++i)
            a_.emplace_back(argv[i]);
    }
    bool done() const { return i_ >= a_.size(); }
    /// The next argument; sets *value for "--opt=value".
    std::string next(std::string* inline_value)
    {
        std::string s = a_[i_++];
        inline_value->clear();
        has_inline_ = false;
        if (s.size() > 2 && s[0] == '-' && s[1] == '-') {
            const size_t eq = s.find('=');
            if (eq != std::string::npos) {
                *inline_value = s.substr(eq + 1);
                has_inline_ = true;
                s.resize(eq);
            }
        }
        return s;
    }
    std::string value(const std::string& opt, const std::string& inline_value)
    {
        if (has_inline_)
            return inline_value;
        if (done())
            throw usage_error { opt + " needs a value" };
        return a_[i_++];
    }
    void no_value(const std::string& opt) const
    {
        if (has_inline_)
            throw usage_error { opt + " takes no value" };
    }

private:
    std::vector<std::string> a_;
    size_t i_ = 0;
    bool has_inline_ = false;
};

/// What send and recv are, for parsing their arguments: RING and ENDPOINT
/// are the two positionals, in the order `ring_first` says; the endpoint
/// must look like one (`examples` are what the command suggests instead).
struct link_command {
    const char* name;
    const char* usage;
    bool ring_first;
    const char* examples;
};

/// One command's arguments, into the options both ends share (`o`) and its
/// own (`own(a, s, v)`: false for an option it does not know).
/// False if the command only printed its --help.
template <class Own>
bool parse(int argc, char** argv, const link_command& c, link_options& o, Own own)
{
    const std::string cmd = c.name;
    const char* const usage = c.usage;
    const bool ring_first = c.ring_first;
    const char* const examples = c.examples;

    std::vector<std::string> pos;
    args a(argc, argv, 2);
    while (!a.done()) {
        std::string v;
        const std::string s = a.next(&v);
        if (s == "-h" || s == "--help") {
            std::fputs(usage, stdout);
            return false;
        } else if (s == "--wire") {
            o.wire = parse_wire(a.value(s, v));
        } else if (s == "--hwm") {
            o.hwm = int(std::min<uint64_t>(parse_count(s, a.value(s, v), 1), 1'000'000));
        } else if (s == "--quiet") {
            a.no_value(s);
            o.quiet = true;
        } else if (s == "--curve-keys") {
            o.curve_keys = a.value(s, v);
            if (o.curve_keys.empty())
                throw usage_error { "--curve-keys takes a directory (made by "
                                    "doppler-bridge keygen DIR)" };
        } else if (own(a, s, v)) {
        } else if (s.size() > 1 && s[0] == '-') {
            throw usage_error { "unknown option " + printable(s) + " for " + cmd };
        } else {
            pos.push_back(s);
        }
    }
    const std::string order = ring_first ? "RING ENDPOINT" : "ENDPOINT RING";
    if (pos.size() != 2)
        throw usage_error { cmd + " takes " +
                            (ring_first ? "RING and ENDPOINT" : "ENDPOINT and RING") +
                            " (" + std::to_string(pos.size()) + " given)" };
    o.ring = pos[ring_first ? 0 : 1];
    o.endpoint = pos[ring_first ? 1 : 0];
    if (ring_first)
        segment::check_name(o.ring);
    if (o.endpoint.find("://") == std::string::npos)
        throw usage_error { "\"" + printable(o.endpoint) +
                            "\" is not a ZeroMQ endpoint: give " + examples + " (" + cmd +
                            " " + order + ")" };
    if (!ring_first)
        segment::check_name(o.ring);
    return true;
}

/// Parse a command's arguments into `o`, then run it with `run`; 0 if it only
/// printed its --help.
template <class Options, class Own>
int parse_and_run(int argc,
                  char** argv,
                  const link_command& c,
                  Options& o,
                  Own own,
                  int (*run)(const Options&))
{
    return parse(argc, argv, c, o, own) ? run(o) : 0;
}

int send_main(int argc, char** argv)
{
    send_options o;
    auto own = [&o](args& a, const std::string& s, const std::string& v) {
        if (s == "--reader") {
            o.reader = a.value(s, v);
            if (o.reader == "default")
                o.reader.clear();
        } else if (s == "--untethered") {
            a.no_value(s);
            o.tethered = false;
        } else if (s == "--grace") {
            o.grace_ns = to_ns(parse_seconds(s, a.value(s, v), true));
        } else if (s == "--pub") {
            a.no_value(s);
            o.pub = true;
        } else if (s == "--max-items") {
            o.max_items = parse_count(s, a.value(s, v), 1);
        } else if (s == "--wait") {
            o.wait_ns = to_ns(parse_seconds(s, a.value(s, v), true));
        } else {
            return false;
        }
        return true;
    };
    const link_command command {
        "send", usage_send, true, "tcp://*:5555, tcp://127.0.0.1:5555 or ipc:///path"
    };
    return parse_and_run(argc, argv, command, o, own, run_send);
}

// Mirrors send_main(): recv's own options, then the shared parse_and_run().
int recv_main(int argc, char** argv)
{
    recv_options o;
    auto own = [&o](args& a, const std::string& s, const std::string& v) {
        if (s == "--type") {
            o.type = a.value(s, v);
            parse_type(o.type, "--type");
        } else if (s == "--capacity") {
            o.capacity = parse_count(s, a.value(s, v), 1);
        } else if (s == "--sub") {
            a.no_value(s);
            o.sub = true;
        } else if (s == "--timeout") {
            const double t = parse_seconds(s, a.value(s, v), true);
            o.silence_ns = std::isinf(t) ? INT64_MAX : to_ns(t);
        } else if (s == "--max-message") {
            o.max_message = parse_count(s, a.value(s, v), 64);
        } else if (s == "--position") {
            o.position = a.value(s, v);
            if (o.position.empty())
                throw usage_error { "--position takes a path, or none" };
        } else {
            return false;
        }
        return true;
    };
    const link_command command {
        "recv", usage_recv, false, "tcp://HOST:5555 or ipc:///path"
    };
    return parse_and_run(argc, argv, command, o, own, run_recv);
}

int keygen_main(int argc, char** argv)
{
    std::vector<std::string> pos;
    args a(argc, argv, 2);
    while (!a.done()) {
        std::string v;
        const std::string s = a.next(&v);
        if (s == "-h" || s == "--help") {
            std::fputs(usage_keygen, stdout);
            return 0;
        } else if (s.size() > 1 && s[0] == '-') {
            throw usage_error { "unknown option " + printable(s) + " for keygen" };
        }
        pos.push_back(s);
    }
    if (pos.size() != 1)
        throw usage_error { "keygen takes DIR (" + std::to_string(pos.size()) +
                            " given)" };
    const std::string& dir = pos[0];
    try {
        const std::string pub = curve_keygen(dir);
        std::printf("doppler-bridge keygen: %s/self.key (secret, mode 0600) and "
                    "%s/self.pub written; public key %s\n"
                    "Copy %s/self.pub into the other end's peers/ directory (as "
                    "NAME.pub), and the other end's self.pub into %s/peers/.\n",
                    dir.c_str(),
                    dir.c_str(),
                    pub.c_str(),
                    dir.c_str(),
                    dir.c_str());
        return 0;
    } catch (const error& e) {
        std::fprintf(stderr, "doppler-bridge keygen: %s\n", e.what());
        return 1;
    }
}

} // namespace

int cli_main(int argc, char** argv)
{
    const std::string cmd = argc > 1 ? argv[1] : "";
    try {
        if (cmd == "send")
            return send_main(argc, argv);
        if (cmd == "recv")
            return recv_main(argc, argv);
        if (cmd == "keygen")
            return keygen_main(argc, argv);
        if (cmd == "-h" || cmd == "--help") {
            std::fputs(usage_main, stdout);
            return 0;
        }
        throw usage_error { cmd.empty() ? "say send, recv or keygen"
                                        : "unknown command \"" + printable(cmd) +
                                    "\": say send, recv or keygen" };
    } catch (const usage_error& e) {
        std::fprintf(
            stderr,
            "doppler-bridge: %s; see doppler-bridge %s--help\n",
            e.what.c_str(),
            cmd == "send" || cmd == "recv" || cmd == "keygen" ? (cmd + " ").c_str() : "");
        return 2;
    } catch (const error& e) {
        // Bad names and values (check_name, parse_type, parse_wire).
        std::fprintf(stderr, "doppler-bridge: %s\n", e.what());
        return 2;
    }
}

} // namespace bridge
} // namespace doppler
