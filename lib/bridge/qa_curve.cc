/* The bridge's CURVE keys and authenticator (Boost.Test), in one process over
 * loopback TCP: keygen writes a pair only its owner reads; the receiver (the
 * CURVE server, connecting) lets in a sender (the CURVE client, bound) whose
 * key it holds and refuses, and logs, one whose key it does not; a refused
 * sender gets nothing through. Runs under the sanitizer builds too (the
 * authenticator is a thread of its own).
 * SPDX-License-Identifier: GPL-3.0-or-later */
#define BOOST_TEST_MODULE doppler_curve
#include <boost/test/unit_test.hpp>

#include "curve.hpp"
#include "net.hpp"
#include "qa_util.hpp"

#include <doppler/types.hpp>

#include <sys/stat.h>
#include <unistd.h>
#include <zmq.h>

#include <cerrno>
#include <chrono>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <string>
#include <thread>

// ThreadSanitizer cannot see libzmq's own synchronisation (Debian's libzmq
// is not instrumented): a message allocated in one of our threads and freed
// in ZeroMQ's I/O thread looks like a race. Only what libzmq does itself is
// let through; this program's own accesses are checked as before.
extern "C" const char* __tsan_default_suppressions()
{
    return "called_from_lib:libzmq.so.5\n"
           "race:libzmq.so.5\n";
}

using namespace doppler;
using namespace doppler::bridge;
using qa::contents;
namespace fs = std::filesystem;

namespace {

/// A directory no other test or run uses, removed with what is in it.
struct scratch {
    fs::path dir = fs::temp_directory_path() /
        ("qa-curve-" + std::to_string(::getpid()) + "-" +
         std::to_string(std::chrono::steady_clock::now().time_since_epoch().count()));
    ~scratch() { fs::remove_all(dir); }
};

/// Key directories (curve_keygen) of a sender, a receiver and a third
/// party named `third`, in a scratch directory of their own.
struct key_dirs {
    scratch s;
    fs::path send = s.dir / "send", recv = s.dir / "recv", third;
    std::string third_pub; // the third party's public key
    explicit key_dirs(const char* name) : third(s.dir / name)
    {
        curve_keygen(send.string());
        curve_keygen(recv.string());
        third_pub = curve_keygen(third.string());
    }
};

std::string read_line(const fs::path& p)
{
    std::ifstream f(p);
    std::string s;
    std::getline(f, s);
    return s;
}

void set(void* sock, int option, int value)
{
    BOOST_REQUIRE(zmq_setsockopt(sock, option, &value, sizeof value) == 0);
}

/// The CURVE tests run only where libzmq has CURVE (Boost reports them
/// skipped, and why, elsewhere).
boost::unit_test::precondition with_curve()
{
    return boost::unit_test::precondition([](boost::unit_test::test_unit_id) {
        boost::test_tools::assertion_result r(curve_available());
        r.message() << "this libzmq has no CURVE";
        return r;
    });
}

} // namespace

BOOST_AUTO_TEST_CASE(
    keygen_writes_a_secret_key_only_its_owner_reads_and_never_replaces_it, *with_curve())
{
    scratch s;
    const std::string dir = (s.dir / "a" / "keys").string();
    const std::string pub = curve_keygen(dir);
    struct stat st;
    BOOST_REQUIRE(::stat((dir + "/self.key").c_str(), &st) == 0);
    BOOST_TEST((st.st_mode & 0777) == 0600u);
    BOOST_REQUIRE(::stat((dir + "/peers").c_str(), &st) == 0);
    BOOST_TEST((st.st_mode & 0777) == 0700u);
    BOOST_TEST(read_line(dir + "/self.pub") == pub);
    const std::string secret = read_line(dir + "/self.key");
    char derived[41];
    BOOST_REQUIRE(zmq_curve_public(derived, secret.c_str()) == 0);
    BOOST_TEST(std::string(derived) == pub);
    BOOST_CHECK_THROW(curve_keygen(dir), error);
    BOOST_TEST(read_line(dir + "/self.key") == secret); // untouched
}

BOOST_AUTO_TEST_CASE(the_receiver_lets_in_a_sender_it_holds_and_refuses_and_logs_another,
                     *with_curve())
{
    const key_dirs k("stranger");
    const fs::path &ks = k.send, &kr = k.recv, &kx = k.third;
    const std::string& stranger = k.third_pub;
    fs::copy_file(ks / "self.pub", kr / "peers" / "sender.pub");
    fs::copy_file(kr / "self.pub", ks / "peers" / "receiver.pub");
    fs::copy_file(kr / "self.pub", kx / "peers" / "receiver.pub");
    const curve_keys receiver = curve_keys::load(kr.string());
    BOOST_REQUIRE(receiver.peers.size() == 1u);
    BOOST_TEST(receiver.peers[0].name == "sender");

    FILE* log_file = std::tmpfile();
    BOOST_REQUIRE(log_file);
    logger log("recv", false, log_file);
    uint64_t refused = 0;
    {
        zmq_context rctx;
        curve_authenticator auth(rctx.get(), receiver, log);
        zmq_sock pull(rctx.get(), ZMQ_PULL);
        curve_server(pull.get(), receiver);
        set(pull.get(), ZMQ_LINGER, 0);
        set(pull.get(), ZMQ_RCVTIMEO, 5000); // deadlines: a failure never hangs
        set(pull.get(), ZMQ_RECONNECT_IVL, 50);

        // As in the bridge: the sender binds, the receiver connects.
        auto attempt = [&](const fs::path& keys, bool let_in) {
            zmq_context sctx;
            zmq_sock push(sctx.get(), ZMQ_PUSH);
            curve_client(push.get(), curve_keys::load(keys.string()));
            set(push.get(), ZMQ_LINGER, 0);
            set(push.get(), ZMQ_SNDTIMEO, let_in ? 5000 : 1000);
            BOOST_REQUIRE(zmq_bind(push.get(), "tcp://127.0.0.1:*") == 0);
            const std::string ep = push.last_endpoint();
            BOOST_REQUIRE(zmq_connect(pull.get(), ep.c_str()) == 0);
            const int sent = zmq_send(push.get(), "hello", 5, 0);
            char buf[16];
            int got = -1;
            if (let_in) {
                BOOST_TEST(sent == 5);
                got = zmq_recv(pull.get(), buf, sizeof buf, 0);
                BOOST_TEST(got == 5);
                BOOST_TEST(std::string(buf, 5) == "hello");
            } else {
                // No connection ever carries a message: the send finds no
                // peer, and nothing arrives.
                BOOST_TEST(sent == -1);
                got = zmq_recv(pull.get(), buf, sizeof buf, ZMQ_DONTWAIT);
                BOOST_TEST(got == -1);
            }
            zmq_disconnect(pull.get(), ep.c_str());
        };
        attempt(ks, true);
        BOOST_TEST(auth.refused() == 0u);
        attempt(kx, false);
        // The refusal is counted by the authenticator's thread: up to 10 s on
        // a loaded machine (the loop ends as soon as it is).
        for (int i = 0; i < 500 && auth.refused() == 0; ++i)
            std::this_thread::sleep_for(std::chrono::milliseconds(20));
        refused = auth.refused();
    } // the authenticator's thread is joined here
    log.flush(true);
    BOOST_TEST(refused >= 1u);
    const std::string said = contents(log_file);
    BOOST_TEST_INFO("log: " << said);
    BOOST_TEST(said.find("let in: its CURVE key is " + kr.string() +
                         "/peers/sender.pub") != std::string::npos);
    BOOST_TEST_INFO("log: " << said);
    BOOST_TEST(said.find("refused a sender at 127.0.0.1: its CURVE public key " +
                         stranger + " is not in " + kr.string() + "/peers/") !=
               std::string::npos);
    std::fclose(log_file);
}

BOOST_AUTO_TEST_CASE(only_loopback_and_local_endpoints_count_as_unreachable_from_outside)
{
    for (const char* e : { "ipc:///tmp/rx.zmq",
                           "inproc://x",
                           "tcp://127.0.0.1:5555",
                           "tcp://127.0.0.1:*",
                           "tcp://localhost:5555",
                           "tcp://[::1]:5555" })
        BOOST_TEST(loopback_only(e), e);
    for (const char* e : { "tcp://*:5555",
                           "tcp://0.0.0.0:5555",
                           "tcp://192.168.1.2:5555",
                           "tcp://eth0:5555",
                           "tcp://[::]:5555",
                           "ws://127.0.0.1:80" })
        BOOST_TEST(!loopback_only(e), e);
}

BOOST_AUTO_TEST_CASE(a_peer_key_its_group_or_others_could_replace_is_refused,
                     *with_curve())
{
    scratch s;
    const fs::path k = s.dir / "keys";
    curve_keygen(k.string());
    const fs::path peer = k / "peers" / "other.pub";
    fs::copy_file(k / "self.pub", peer);
    BOOST_REQUIRE(::chmod(peer.c_str(), 0644) == 0);
    BOOST_TEST(curve_keys::load(k.string()).peers.size() == 1u);
    for (const mode_t m : { mode_t(0664), mode_t(0646), mode_t(0666) }) {
        BOOST_REQUIRE(::chmod(peer.c_str(), m) == 0);
        char want[64];
        std::snprintf(
            want, sizeof want, "has mode %04o: others can change it", unsigned(m));
        BOOST_TEST_CONTEXT("mode " << want)
        {
            try {
                curve_keys::load(k.string());
                BOOST_ERROR("the key was trusted");
            } catch (const error& e) {
                BOOST_TEST(e.code().value() == EACCES);
                BOOST_TEST(std::string(e.what()).find(want) != std::string::npos,
                           e.what());
            }
        }
    }
}

BOOST_AUTO_TEST_CASE(a_connection_that_carried_messages_goes_down_as_one_that_was_ready)
{
    // As in send.cc: the socket binds, then its monitor starts; a receiver
    // connects, takes a message and goes away.
    zmq_context ctx;
    zmq_sock push(ctx.get(), ZMQ_PUSH);
    set(push.get(), ZMQ_LINGER, 0);
    set(push.get(), ZMQ_SNDTIMEO, 5000); // deadlines: a failure never hangs
    BOOST_REQUIRE(zmq_bind(push.get(), "tcp://127.0.0.1:*") == 0);
    connection_monitor mon(ctx.get(), push.get());
    const std::string ep = push.last_endpoint();
    {
        zmq_context other;
        zmq_sock pull(other.get(), ZMQ_PULL);
        set(pull.get(), ZMQ_LINGER, 0);
        set(pull.get(), ZMQ_RCVTIMEO, 5000);
        BOOST_REQUIRE(zmq_connect(pull.get(), ep.c_str()) == 0);
        BOOST_REQUIRE(zmq_send(push.get(), "x", 1, 0) == 1);
        char buf[4];
        BOOST_REQUIRE(zmq_recv(pull.get(), buf, sizeof buf, 0) == 1);
    } // the receiver's socket and context are closed here
    using ev_kind = connection_monitor::event;
    std::vector<connection_monitor::event> seen;
    for (int i = 0; i < 500 && (seen.empty() || seen.back().what != ev_kind::down); ++i) {
        connection_monitor::event ev;
        bool any = false;
        while (mon.next(ev)) {
            if (ev.what != ev_kind::other)
                seen.push_back(ev);
            any = true;
            if (ev.what == ev_kind::down)
                break;
        }
        if (!any)
            std::this_thread::sleep_for(std::chrono::milliseconds(10));
    }
    BOOST_REQUIRE(seen.size() == 3u);
    BOOST_TEST(seen[0].what == ev_kind::up);
    BOOST_TEST(seen[1].what == ev_kind::ready);
    BOOST_TEST(seen[2].what == ev_kind::down);
    BOOST_TEST(seen[2].was_ready); // send.cc says "peer disconnected" for it
    BOOST_TEST(mon.connections() == 0u);
}

BOOST_AUTO_TEST_CASE(a_sender_holding_another_receivers_key_is_told_its_handshake_failed,
                     *with_curve())
{
    // As in the bridge: the sender (CURVE client) binds and watches its
    // socket; a receiver whose key is not the one in the sender's peers/
    // connects. The receiver cannot decrypt the sender's hello and closes
    // the connection: the sender's monitor must report a failed handshake,
    // and send.cc's message say what to check.
    const key_dirs k("other");
    const fs::path &ks = k.send, &kr = k.recv, &kx = k.third;
    fs::copy_file(ks / "self.pub", kr / "peers" / "sender.pub");
    fs::copy_file(kx / "self.pub", ks / "peers" / "receiver.pub"); // the wrong receiver
    zmq_context sctx;
    zmq_sock push(sctx.get(), ZMQ_PUSH);
    curve_client(push.get(), curve_keys::load(ks.string()));
    set(push.get(), ZMQ_LINGER, 0);
    BOOST_REQUIRE(zmq_bind(push.get(), "tcp://127.0.0.1:*") == 0);
    connection_monitor mon(sctx.get(), push.get());
    const std::string ep = push.last_endpoint();

    zmq_context rctx;
    FILE* log_file = std::tmpfile();
    BOOST_REQUIRE(log_file);
    logger log("recv", false, log_file);
    curve_authenticator auth(rctx.get(), curve_keys::load(kr.string()), log);
    zmq_sock pull(rctx.get(), ZMQ_PULL);
    curve_server(pull.get(), curve_keys::load(kr.string()));
    set(pull.get(), ZMQ_LINGER, 0);
    BOOST_REQUIRE(zmq_connect(pull.get(), ep.c_str()) == 0);

    using ev_kind = connection_monitor::event;
    connection_monitor::event failed;
    bool ready = false, down = false;
    for (int i = 0; i < 1000 && !down; ++i) { // up to 10 s
        connection_monitor::event ev;
        bool any = false;
        while (mon.next(ev) && !down) {
            any = true;
            ready = ready || ev.what == ev_kind::ready;
            down = ev.what == ev_kind::down;
            if (ev.what == ev_kind::failed)
                failed = ev;
        }
        if (!any)
            std::this_thread::sleep_for(std::chrono::milliseconds(10));
    }
    std::fclose(log_file);
    BOOST_TEST(!ready);
    BOOST_REQUIRE(failed.what == ev_kind::failed);
    BOOST_TEST_INFO("event " << failed.code << ", value " << failed.value);
    BOOST_TEST(handshake_failure(failed.code, failed.value, false, true) ==
               "a receiver closed its connection during the CURVE handshake: its key is "
               "not the one in peers/, or it has no --curve-keys");
    BOOST_TEST(down); // and the connection is gone, never counted as ready
    BOOST_TEST(mon.connections() == 0u);
}
