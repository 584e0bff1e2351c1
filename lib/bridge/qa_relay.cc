/* The bridge's two halves without sockets (Boost.Test): ring -> outbound ->
 * bytes -> inbound -> ring in one process. Samples, tags and seams cross as
 * documented (relay.hpp); heartbeats repeat an end marker harmlessly; the
 * receiving side finds gaps and senders that started again, splits a message
 * at a seam, breaks a stream whose end marker was lost, refuses malformed
 * messages; sc16 scales and saturates; the position file survives its
 * writer and belongs to one ring.
 * SPDX-License-Identifier: GPL-3.0-or-later */
#define BOOST_TEST_MODULE doppler_relay
#include <boost/test/unit_test.hpp>

#include "bridge.hpp"
#include "qa_util.hpp"
#include "relay.hpp"

#include <fcntl.h>
#include <sched.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <csignal>

#include <cmath>
#include <cstdio>
#include <cstring>
#include <memory>
#include <ostream>
#include <string>
#include <vector>

using namespace doppler;
using namespace doppler::bridge;
using qa::contents;

namespace {

/// A message as bytes.
class bytes_out final : public message_out
{
public:
    uint8_t* allocate(size_t bytes) override
    {
        b.assign(bytes, 0);
        return b.data();
    }
    std::vector<uint8_t> b;
};

std::string u64_value(uint64_t v)
{
    std::string s;
    encode::uint64(s, v);
    return s;
}

/// What a reader of a ring finds: samples (real parts), tags and the ends.
struct seen {
    std::vector<float> values;
    std::vector<std::tuple<uint64_t, std::string, std::string>>
        tags; // index, key, value bytes
    std::vector<std::pair<status, uint64_t>> ends; // why, index
};

/// Drain what `r` holds now (without waiting), reporting ends as they come.
void drain(ring<f32>& r, seen& out)
{
    for (int guard = 0; guard < 1000; ++guard) {
        const uint64_t n = r.poll_available();
        if (n == 0) {
            auto v = r.wait(1, 0);
            if (v.why == status::end_of_stream || v.why == status::broken) {
                out.ends.emplace_back(v.why, r.read_index());
                continue;
            }
            return;
        }
        auto v = r.wait(n, 0);
        BOOST_REQUIRE(v);
        for (uint64_t i = 0; i < n; ++i)
            out.values.push_back(v.data[i].real());
        tag_cursor c = r.tags();
        tag_view t;
        while (c.next(t))
            out.tags.emplace_back(
                t.index,
                std::string(t.key),
                std::string(reinterpret_cast<const char*>(t.value.data()),
                            t.value.size()));
        BOOST_REQUIRE(r.consume(n));
    }
}

std::vector<f32> numbered(uint64_t first, uint64_t n)
{
    std::vector<f32> v(n);
    for (uint64_t i = 0; i < n; ++i)
        v[i] = f32(float(first + i), 0.0f);
    return v;
}

/// A bridge in one process: ring a (its producer `prod`), an outbound reader
/// of it, an inbound producer of ring b, a reader of b.
struct pair_fixture {
    std::shared_ptr<ring<f32>> a = std::make_shared<ring<f32>>(4096);
    std::shared_ptr<ring<f32>> b = std::make_shared<ring<f32>>(1 << 16);
    logger log { "recv", true };
    std::unique_ptr<outbound> ob;
    std::unique_ptr<inbound> ib;
    std::unique_ptr<ring<f32>> prod = std::make_unique<ring<f32>>(a->seg());
    ring<f32> reader { b->seg() };
    bytes_out msg;
    std::vector<std::vector<uint8_t>> sent;

    explicit pair_fixture(wire_format w = wire_format::native,
                          const std::string& reader_name = "",
                          bool tethered = true)
    {
        ob = make_outbound(a->seg(), reader_name, tethered, -1, w, 1000);
        ib = make_inbound(b->seg(), w, default_max_message, nullptr, log, {});
    }
    /// Move every message the outbound has now (and one heartbeat).
    void pump(bool heartbeat = false)
    {
        for (;;) {
            const outbound::result r = ob->next(msg, 0);
            if (r.what == outbound::kind::idle)
                break;
            sent.push_back(msg.b);
            ib->message(msg.b.data(), msg.b.size());
        }
        if (heartbeat) {
            ob->heartbeat(msg);
            sent.push_back(msg.b);
            ib->message(msg.b.data(), msg.b.size());
        }
    }
    void next_run() { prod = std::make_unique<ring<f32>>(a->seg()); }
};

/// An inbound half alone: its producer writes ring `b`, `reader` reads it.
struct inbound_fixture {
    ring<f32> b { 1 << 14 };
    ring<f32> reader { b.seg() };
    logger log { "recv", true };
    std::unique_ptr<inbound> ib;

    explicit inbound_fixture(uint64_t max_message = 1 << 20)
        : ib(make_inbound(b.seg(), wire_format::native, max_message, nullptr, log, {}))
    {
    }
};

std::string
message(uint64_t first, const std::vector<wire::tag>& tags, const std::vector<f32>& items)
{
    std::string m;
    wire::encode_header(m, first, tags);
    m.append(reinterpret_cast<const char*>(items.data()), items.size() * sizeof(f32));
    return m;
}

bool feed(inbound& ib, const std::string& m)
{
    return ib.message(reinterpret_cast<const uint8_t*>(m.data()), m.size());
}

/// Whether the last "gap" tag in `s` is at `index` and counts `items`.
bool gap_tagged(const seen& s, uint64_t index, uint64_t items)
{
    bool tagged = false;
    for (auto& [at, key, value] : s.tags)
        if (key == "gap")
            tagged = at == index && value == u64_value(items);
    return tagged;
}

} // namespace

BOOST_AUTO_TEST_CASE(two_runs_cross_with_their_tags_and_the_seam_closed_then_broken)
{
    pair_fixture f;
    auto x = numbered(0, 2500);
    const std::string t0 = u64_value(7);
    std::string freq;
    encode::float64(freq, 433.92e6);
    const tag_in tags[] = { { 0, "rx_time", t0 }, { 1234, "rx_freq", freq } };
    BOOST_REQUIRE(f.prod->write_blocking(
                      x.data(), 2500, qa::generous_ns, nullptr, tags, 2) == status::ok);
    f.prod->close();
    f.pump();
    f.next_run();
    auto y = numbered(2500, 700);
    BOOST_REQUIRE(f.prod->write(y.data(), 700));
    f.prod->close(stream_end::broken); // a relay upstream whose source broke
    f.pump(true); // and a heartbeat repeating the end: harmless
    seen s;
    drain(f.reader, s);
    BOOST_TEST(s.values.size() == 3200u);
    for (size_t i = 0; i < s.values.size(); ++i)
        BOOST_TEST_REQUIRE(s.values[i] == float(i));
    BOOST_REQUIRE(s.ends.size() == 2u);
    BOOST_TEST((s.ends[0] == std::make_pair(status::end_of_stream, uint64_t(2500))));
    BOOST_TEST((s.ends[1] == std::make_pair(status::broken, uint64_t(3200))));
    // b's own stream markers at the same places; the user tags where they were.
    std::vector<std::tuple<uint64_t, std::string, std::string>> want = {
        { 0, "stream_start", u64_value(1) },
        { 0, "rx_time", t0 },
        { 1234, "rx_freq", freq },
        { 2500, "stream_start", u64_value(2) },
    };
    BOOST_TEST((s.tags == want));
    BOOST_TEST(f.ib->stats().streams_ended == 2u);
    BOOST_TEST(f.ib->stats().gaps == 0u);
    BOOST_TEST(f.ib->stats().heartbeats == 3u); // two end markers, one repeated
    BOOST_TEST(f.ob->stats().tags == 4u); // two stream_start, rx_time, rx_freq
}

BOOST_AUTO_TEST_CASE(messages_hold_at_most_max_items_and_heartbeats_carry_the_next_offset)
{
    pair_fixture f;
    auto x = numbered(0, 3500);
    BOOST_REQUIRE(f.prod->write(x.data(), 3500));
    f.pump(true);
    BOOST_REQUIRE(f.sent.size() == 5u); // 1000, 1000, 1000, 500, heartbeat
    wire::decoded d;
    for (size_t i = 0; i < 4; ++i) {
        const auto r = wire::decode_header(f.sent[i].data(), f.sent[i].size(), d);
        BOOST_REQUIRE(r.status == wire::header_status::ok);
        BOOST_TEST(d.first_index == 1000 * i);
        BOOST_TEST((f.sent[i].size() - r.used) / 8 == (i < 3 ? 1000u : 500u));
    }
    const auto r = wire::decode_header(f.sent[4].data(), f.sent[4].size(), d);
    BOOST_TEST(r.used == f.sent[4].size());
    BOOST_TEST(d.first_index == 3500u);
    BOOST_TEST(d.size() == 0u);
    BOOST_TEST(f.ib->peer_sends_heartbeats());
    BOOST_TEST(f.ib->stats().items == 3500u);
}

BOOST_AUTO_TEST_CASE(sc16_scales_by_32767_saturates_and_halves_the_bytes)
{
    pair_fixture f(wire_format::sc16);
    std::vector<f32> x = {
        { 1.0f, -1.0f }, { 1.5f, -2.0f }, { 0.25f, 0.0f }, { -0.5f, 1e-6f }
    };
    BOOST_REQUIRE(f.prod->write(x.data(), x.size()));
    f.pump();
    BOOST_REQUIRE(f.sent.size() == 1u);
    wire::decoded d;
    const auto r = wire::decode_header(f.sent[0].data(), f.sent[0].size(), d);
    BOOST_REQUIRE(f.sent[0].size() - r.used == 4 * x.size()); // 4 bytes a sample
    int16_t q[8];
    std::memcpy(q, f.sent[0].data() + r.used, sizeof q);
    const int16_t want[8] = { 32767, -32767, 32767, -32768, 8192, 0, -16384, 0 };
    for (int i = 0; i < 8; ++i)
        BOOST_TEST(q[i] == want[i]);
    auto v = f.reader.wait(4, 0);
    BOOST_REQUIRE(v);
    BOOST_TEST(v.data[0].real() == 1.0f);
    BOOST_TEST(v.data[1].imag() == -32768.0f / 32767.0f);
    BOOST_TEST(std::abs(v.data[2].real() - 0.25f) <= 0.5f / 32767);
    BOOST_CHECK_THROW(wire_item_bytes(sample_type::f64, wire_format::sc16), error);
    BOOST_TEST(wire_item_bytes(sample_type::i16, wire_format::sc16) == 4u);
}

BOOST_AUTO_TEST_CASE(a_lapped_untethered_sender_leaves_a_gap_the_receiver_tags)
{
    pair_fixture f(wire_format::native, "far", false);
    auto x = numbered(0, 3 * 4096);
    // Ring a's default reader (handle a) keeps up; the untethered "far" one,
    // the bridge's, is lapped by the writes after its first message.
    auto write = [&](uint64_t k, uint64_t n) {
        BOOST_REQUIRE(f.prod->write(x.data() + k, n));
        const uint64_t m = f.a->poll_available();
        BOOST_REQUIRE(f.a->wait(m, 0));
        BOOST_REQUIRE(f.a->consume(m));
    };
    write(0, 1000);
    f.pump();
    for (uint64_t k = 1000; k < 3 * 4096; k += 1000)
        write(k, std::min<uint64_t>(1000, 3 * 4096 - k));
    f.pump();
    seen s;
    drain(f.reader, s);
    BOOST_TEST(f.ob->skipped() > 0u);
    BOOST_TEST(f.ib->stats().gaps == 1u);
    BOOST_TEST(f.ib->stats().gap_items == f.ob->skipped());
    BOOST_REQUIRE(s.values.size() > 1000u);
    BOOST_TEST(s.values[999] == 999.0f);
    const float resumed = s.values[1000];
    BOOST_TEST(resumed == float(1000 + f.ob->skipped()));
    BOOST_TEST(gap_tagged(s, 1000, f.ob->skipped()));
}

BOOST_AUTO_TEST_CASE(
    the_receiver_splits_a_message_at_a_seam_and_breaks_a_stream_whose_end_was_lost)
{
    inbound_fixture f;
    std::string closed, start2, start3;
    encode::str(closed, "closed");
    start2 = u64_value(2);
    start3 = u64_value(3);
    // One message: a stream's last 10 samples, its end, the next stream's
    // first 5 (a sender that packs them together).
    BOOST_TEST(
        feed(*f.ib,
             message(100,
                     { { 110, tag_stream_end, closed }, { 110, "stream_start", start2 } },
                     numbered(100, 15))));
    // Then a stream_start without an end before it: the end was lost.
    BOOST_TEST(feed(
        *f.ib, message(115, { { 120, "stream_start", start3 } }, numbered(115, 10))));
    seen s;
    drain(f.reader, s);
    BOOST_TEST(s.values.size() == 25u);
    BOOST_REQUIRE(s.ends.size() == 2u);
    BOOST_TEST((s.ends[0] == std::make_pair(status::end_of_stream, uint64_t(10))));
    BOOST_TEST((s.ends[1] == std::make_pair(status::broken, uint64_t(20))));
    BOOST_TEST(f.ib->stats().streams_ended == 2u);
    BOOST_TEST(f.ib->streaming());
    for (auto& [index, key, value] : s.tags)
        BOOST_TEST(key == "stream_start"); // the ring's own, not the sender's
}

BOOST_AUTO_TEST_CASE(
    the_receiver_tags_a_gap_and_takes_an_offset_going_back_for_a_new_sender)
{
    inbound_fixture f;
    BOOST_TEST(feed(*f.ib, message(0, {}, numbered(0, 10))));
    BOOST_TEST(feed(*f.ib, message(25, {}, numbered(25, 5)))); // 15 missing
    BOOST_TEST(feed(*f.ib, message(3, {}, numbered(3, 4)))); // a sender counting again
    BOOST_TEST(feed(*f.ib, message(7, {}, numbered(7, 1))));
    seen s;
    drain(f.reader, s);
    BOOST_TEST(s.values.size() == 20u);
    BOOST_TEST(f.ib->stats().gaps == 1u);
    BOOST_TEST(f.ib->stats().gap_items == 15u);
    BOOST_TEST(f.ib->stats().restarts == 1u);
    BOOST_TEST(gap_tagged(s, 10, 15));
}

BOOST_AUTO_TEST_CASE(
    malformed_and_oversized_messages_are_refused_and_counted_never_written)
{
    inbound_fixture f(4096);
    const std::string good = message(0, {}, numbered(0, 4));
    BOOST_TEST(!feed(*f.ib, good.substr(0, 10))); // truncated header
    BOOST_TEST(!feed(*f.ib, good.substr(0, good.size() - 3))); // not whole items
    BOOST_TEST(!feed(*f.ib, std::string(40, 'x'))); // no header
    BOOST_TEST(!feed(*f.ib, message(0, {}, numbered(0, 600)))); // over 4096 bytes
    // Every prefix that ends inside the header or inside the first item.
    for (size_t cut = 0; cut < 19 + 8; ++cut)
        if (cut != 19) // (19 bytes: the header alone, a heartbeat)
            BOOST_TEST(!feed(*f.ib, good.substr(0, cut)));
    BOOST_TEST(f.reader.poll_available() == 0u);
    BOOST_TEST(feed(*f.ib, good));
    BOOST_TEST(f.reader.poll_available() == 4u);
    BOOST_TEST(f.ib->stats().refused == 4u + 26u);
    BOOST_TEST(f.ib->stats().messages == 1u);
}

namespace doppler {
namespace bridge {
std::ostream& operator<<(std::ostream& o, position_file::recalled r)
{
    return o << "recalled(" << int(r) << ")";
}
} // namespace bridge
} // namespace doppler

namespace {
/// A path for a position file no other test or run uses.
std::string position_path(const char* what)
{
    return "/tmp/qa-relay-" + std::to_string(getpid()) + "-" + what + ".position";
}

/// The message of the error position_file(path) throws ("" if none).
std::string refusal(const std::string& path)
{
    try {
        position_file p(path, 1, 42);
    } catch (const error& e) {
        return e.what();
    }
    return "";
}

off_t size_of(const std::string& path)
{
    struct stat st;
    return ::lstat(path.c_str(), &st) == 0 ? st.st_size : -1;
}
} // namespace

BOOST_AUTO_TEST_CASE(the_position_file_outlives_its_writer_and_belongs_to_one_ring)
{
    using r = position_file::recalled;
    const std::string path = position_path("outlives");
    ::unlink(path.c_str());
    {
        position_file p(path, 1, 42);
        uint64_t next = 0;
        BOOST_TEST(p.recall(0, &next) == r::empty); // new file: nothing
        p.note(1000, 5'000'000, 300);
    }
    position_file p(path, 1, 42);
    uint64_t next = 0;
    BOOST_TEST(p.recall(1000, &next) == r::found); // died before writing any of the 300
    BOOST_TEST(next == 5'000'000u);
    BOOST_TEST(p.recall(1120, &next) == r::found); // in the middle
    BOOST_TEST(next == 5'000'120u);
    BOOST_TEST(p.recall(1300, &next) == r::found); // all written
    BOOST_TEST(next == 5'000'300u);
    // A write index the record cannot explain, on either side.
    BOOST_TEST(p.recall(1301, &next) == r::unexplained);
    BOOST_TEST(p.recall(999, &next) == r::unexplained);
    {
        position_file other(path, 1, 43); // a ring made again: another inode
        BOOST_TEST(other.recall(1000, &next) == r::other_ring);
    }
    p.remove();
    BOOST_TEST(::access(path.c_str(), F_OK) != 0);
    {
        FILE* junk = std::fopen(path.c_str(), "w");
        std::fputs("not a position file", junk);
        std::fclose(junk);
    }
    BOOST_CHECK_THROW(position_file(path, 1, 42), error);
    ::unlink(path.c_str());
}

BOOST_AUTO_TEST_CASE(
    removing_the_position_file_spares_a_file_that_has_since_taken_its_name)
{
    const std::string path = position_path("taken");
    ::unlink(path.c_str());
    position_file p(path, 1, 42);
    // Its name now leads to another file (removed and made again by someone
    // else): remove() must leave that one alone.
    BOOST_REQUIRE(::unlink(path.c_str()) == 0);
    {
        FILE* other = std::fopen(path.c_str(), "w");
        BOOST_REQUIRE(other);
        std::fputs("another receiver's file", other);
        std::fclose(other);
    }
    p.remove();
    BOOST_TEST(::access(path.c_str(), F_OK) == 0);
    ::unlink(path.c_str());
}

namespace {
/// cli_main's exit status for `args` then --help. Options are parsed in order
/// before --help prints the usage: 0 when every value before it is accepted,
/// 2 (a usage error) otherwise.
int cli_status(std::vector<std::string> args)
{
    args.insert(args.begin(), "doppler-bridge");
    args.push_back("--help");
    std::vector<char*> argv;
    for (std::string& a : args)
        argv.push_back(a.data());
    std::fflush(stdout);
    const int saved = ::dup(1), null = ::open("/dev/null", O_WRONLY);
    ::dup2(null, 1); // the usage text is not wanted here
    const int st = cli_main(int(argv.size()), argv.data());
    std::fflush(stdout);
    ::dup2(saved, 1);
    ::close(saved);
    ::close(null);
    return st;
}
} // namespace

BOOST_AUTO_TEST_CASE(a_count_option_takes_its_minimum_and_refuses_one_below)
{
    BOOST_TEST(cli_status({ "send", "--max-items", "1", "--hwm", "1" }) == 0);
    BOOST_TEST(cli_status({ "recv", "--max-message", "64", "--capacity", "1" }) == 0);
    BOOST_TEST(cli_status({ "send", "--max-items", "0" }) == 2);
    BOOST_TEST(cli_status({ "recv", "--hwm", "0" }) == 2);
    BOOST_TEST(cli_status({ "recv", "--max-message", "63" }) == 2);
}

BOOST_AUTO_TEST_CASE(a_negative_count_is_refused_not_wrapped_to_a_huge_one)
{
    // strtoull takes "-1" as 2^64 - 1: a count that large would pass every
    // minimum unasked.
    BOOST_TEST(cli_status({ "send", "--max-items", "-1" }) == 2);
    BOOST_TEST(cli_status({ "send", "--hwm", "-5" }) == 2);
    BOOST_TEST(cli_status({ "recv", "--max-message", "-64" }) == 2);
}

BOOST_AUTO_TEST_CASE(a_new_position_file_is_private_and_its_page_reserved)
{
    const std::string path = position_path("new");
    ::unlink(path.c_str());
    const mode_t old = ::umask(0);
    {
        position_file p(path, 1, 42);
        ::umask(old);
        struct stat st;
        BOOST_REQUIRE(::stat(path.c_str(), &st) == 0);
        BOOST_TEST((st.st_mode & 07777) == 0600u);
        BOOST_TEST(st.st_uid == ::geteuid());
        BOOST_TEST(st.st_size == off_t(position_file::bytes));
        // Reserved, not only sized: a store into it cannot fail later.
        BOOST_TEST(st.st_blocks * 512 >= off_t(position_file::bytes));
    }
    ::unlink(path.c_str());
}

namespace {
/// In a child process with a mount namespace of its own: a one-page tmpfs on
/// `dir`, filled, and a position file at dir/pos (made there, or, with
/// `existing`, an empty file of this user's already there). The child's exit
/// status: 0 if the position file was refused for want of room, saying so;
/// 77 if no tmpfs could be mounted; otherwise the wait status shows what
/// happened (a SIGBUS: the page was never reserved).
int position_file_on_a_full_tmpfs(const std::string& dir, bool existing)
{
    const pid_t pid = ::fork();
    if (pid == 0) {
        std::signal(SIGBUS, SIG_DFL); // not the test framework's handler
        if (::unshare(CLONE_NEWNS) != 0 ||
            ::mount(nullptr, "/", nullptr, MS_REC | MS_PRIVATE, nullptr) != 0 ||
            ::mount("tmpfs", dir.c_str(), "tmpfs", 0, "size=4k") != 0)
            ::_exit(77);
        const std::string pos = dir + "/pos";
        if (existing) {
            const int fd = ::open(pos.c_str(), O_RDWR | O_CREAT | O_EXCL, 0600);
            if (fd < 0)
                ::_exit(77);
            ::close(fd);
        }
        const int fd = ::open((dir + "/filler").c_str(), O_WRONLY | O_CREAT, 0600);
        const std::string page(4096, 'x');
        if (fd < 0 || ::write(fd, page.data(), page.size()) != ssize_t(page.size()))
            ::_exit(77);
        ::close(fd);
        try {
            position_file p(pos, 1, 42);
            p.note(1, 2, 3);
        } catch (const error& e) {
            const bool said = e.code().value() == ENOSPC &&
                std::string(e.what()).find("its file system is full") !=
                    std::string::npos;
            ::_exit(said ? 0 : 3);
        }
        ::_exit(2); // it was used
    }
    int status = 0;
    ::waitpid(pid, &status, 0);
    return status;
}
} // namespace

BOOST_AUTO_TEST_CASE(no_room_for_a_position_file_is_an_error_at_start_never_a_sigbus)
{
    const std::string dir = position_path("full");
    for (bool existing : { false, true }) {
        BOOST_REQUIRE(::mkdir(dir.c_str(), 0700) == 0);
        const int status = position_file_on_a_full_tmpfs(dir, existing);
        ::rmdir(dir.c_str());
        if (WIFEXITED(status) && WEXITSTATUS(status) == 77) {
            BOOST_TEST_MESSAGE("cannot mount a tmpfs here (not root?): not tried");
            return;
        }
        BOOST_TEST_INFO(std::string(existing ? "an empty file there" : "a new file"));
        BOOST_TEST(!WIFSIGNALED(status)); // SIGBUS: a page that was never reserved
        BOOST_TEST_INFO(std::string(existing ? "an empty file there" : "a new file"));
        BOOST_TEST((WIFEXITED(status) && WEXITSTATUS(status) == 0));
    }
}

BOOST_AUTO_TEST_CASE(a_position_file_that_is_not_this_users_own_is_refused_unmapped)
{
    const std::string good = position_path("good");
    const std::string path = position_path("bad");
    ::unlink(good.c_str());
    ::unlink(path.c_str());
    {
        position_file p(good, 1, 42);
        p.note(10, 20, 30);
    }
    auto make = [&](off_t size, mode_t mode) {
        ::unlink(path.c_str());
        const int fd = ::open(path.c_str(), O_RDWR | O_CREAT | O_EXCL, 0600);
        BOOST_REQUIRE(fd >= 0);
        BOOST_REQUIRE(::ftruncate(fd, size) == 0);
        BOOST_REQUIRE(::fchmod(fd, mode) == 0);
        ::close(fd);
    };
    auto says = [](const std::string& msg, const std::string& what) {
        BOOST_TEST_INFO("message: " << msg);
        BOOST_TEST(msg.find(what) != std::string::npos);
        BOOST_TEST(msg.find("--position") != std::string::npos); // what to do
    };

    // Another user's file: refused, and left as it was (never sized or
    // mapped).
    if (::geteuid() == 0) {
        make(0, 0600);
        BOOST_REQUIRE(::chown(path.c_str(), 65534, 65534) == 0);
        says(refusal(path), "belongs to uid 65534, not to you");
        BOOST_TEST(size_of(path) == 0);
        // Even one that looks right.
        BOOST_REQUIRE(::chown(good.c_str(), 65534, 65534) == 0);
        says(refusal(good), "belongs to uid 65534");
        BOOST_REQUIRE(::chown(good.c_str(), 0, 0) == 0);
    } else {
        BOOST_TEST_MESSAGE("not root: another user's file is not tried");
    }
    // Open to others.
    make(position_file::bytes, 0644);
    says(refusal(path), "has mode 0644");
    make(0, 0622);
    says(refusal(path), "has mode 0622");
    BOOST_TEST(size_of(path) == 0);
    // A second name for the same file.
    ::unlink(path.c_str());
    BOOST_REQUIRE(::link(good.c_str(), path.c_str()) == 0);
    says(refusal(path), "has 2 names");
    // Empty, this user's and private: what a receiver that died before it
    // reserved the page leaves. Taken, and made whole.
    make(0, 0600);
    BOOST_TEST(refusal(path) == "");
    BOOST_TEST(size_of(path) == off_t(position_file::bytes));
    // Not the size of a position file (and not made so).
    make(100, 0600);
    says(refusal(path), "is 100 bytes");
    BOOST_TEST(size_of(path) == 100);
    // The right size, not a position file.
    {
        make(0, 0600);
        const int fd = ::open(path.c_str(), O_WRONLY);
        const std::string junk(position_file::bytes, 'x');
        BOOST_REQUIRE(::write(fd, junk.data(), junk.size()) == ssize_t(junk.size()));
        ::close(fd);
        says(refusal(path), "not a doppler-bridge position file");
    }
    // Not a regular file: a symbolic link (to a good file), a FIFO (without
    // blocking), a directory.
    ::unlink(path.c_str());
    BOOST_REQUIRE(::symlink(good.c_str(), path.c_str()) == 0);
    says(refusal(path), "a symbolic link");
    ::unlink(path.c_str());
    BOOST_REQUIRE(::mkfifo(path.c_str(), 0600) == 0);
    says(refusal(path), "a FIFO");
    ::unlink(path.c_str());
    BOOST_REQUIRE(::mkdir(path.c_str(), 0700) == 0);
    says(refusal(path), "a directory");
    ::rmdir(path.c_str());
    ::unlink(good.c_str());
}

BOOST_AUTO_TEST_CASE(a_torn_or_altered_record_is_ignored_and_named)
{
    using r = position_file::recalled;
    const std::string path = position_path("record");
    ::unlink(path.c_str());
    position_file p(path, 1, 42);
    p.note(1000, 5'000'000, 300);
    uint64_t next = 0;
    BOOST_REQUIRE(p.recall(1000, &next) == r::found);
    // The record's words: magic, version, seq, dev, ino, w, x, n, check.
    const int fd = ::open(path.c_str(), O_RDWR);
    BOOST_REQUIRE(fd >= 0);
    auto word = [fd](int i) {
        uint64_t v = 0;
        BOOST_REQUIRE(::pread(fd, &v, 8, i * 8) == 8);
        return v;
    };
    auto set = [fd](int i, uint64_t v) {
        BOOST_REQUIRE(::pwrite(fd, &v, 8, i * 8) == 8);
    };
    // Each field changed alone (a forged position, a flipped bit).
    for (int i = 2; i <= 8; ++i) {
        const uint64_t was = word(i);
        set(i, was + 2); // + 2 keeps seq even
        next = 0;
        BOOST_TEST_INFO("word " << i);
        BOOST_TEST(p.recall(1000, &next) == r::bad_check);
        BOOST_TEST(next == 0u);
        set(i, was);
    }
    BOOST_TEST(p.recall(1000, &next) == r::found);
    // The writer died between its two stores of seq.
    set(2, word(2) + 1);
    BOOST_TEST(p.recall(1000, &next) == r::torn);
    ::close(fd);
    BOOST_TEST(std::string(position_file::describe(r::torn)).find("did not finish") !=
               std::string::npos);
    BOOST_TEST(std::string(position_file::describe(r::bad_check)).find("checksum") !=
               std::string::npos);
    ::unlink(path.c_str());
}

namespace {
int64_t fake_now = 0;
int64_t fake_clock() noexcept
{
    return fake_now;
}

} // namespace

BOOST_AUTO_TEST_CASE(a_repeated_line_is_shown_once_a_second_with_the_count_held_back)
{
    FILE* f = std::tmpfile();
    BOOST_REQUIRE(f);
    constexpr int64_t ms = 1'000'000;
    fake_now = 5000 * ms;
    logger log("recv", false, f, fake_clock);
    const auto warn = logger::level::warn;
    log.limited(line::gap, warn, "gap %d", 1); // shown
    for (int i = 2; i <= 10; ++i) {
        fake_now += 90 * ms;
        log.limited(line::gap, warn, "gap %d", i); // held back
    }
    log.limited(line::stream_broken, warn, "broken %d", 1); // another kind: shown
    BOOST_TEST(contents(f) ==
               "doppler-bridge recv: gap 1\ndoppler-bridge recv: broken 1\n");
    fake_now = 5999 * ms;
    log.flush(); // the second is not over
    BOOST_TEST(contents(f).find("gap 10") == std::string::npos);
    fake_now = 6000 * ms;
    log.flush(); // now the last one, with the count of the others
    BOOST_TEST(contents(f).find("doppler-bridge recv: gap 10 (and 8 more like it not "
                                "shown)\n") != std::string::npos);
    log.flush(true); // nothing left to show
    fake_now = 6500 * ms;
    log.limited(line::gap, warn, "gap %d", 11); // within a second of gap 10
    fake_now = 7100 * ms;
    log.limited(line::gap, warn, "gap %d", 12);
    const std::string all = contents(f);
    BOOST_TEST(all.find("gap 11") == std::string::npos);
    BOOST_TEST(all.find("doppler-bridge recv: gap 12 (and 1 more like it not shown)\n") !=
               std::string::npos);
    // Stopping shows what is held back, whatever the time.
    fake_now += 10 * ms;
    log.limited(line::gap, warn, "gap %d", 13);
    log.flush(true);
    BOOST_TEST(contents(f).find("doppler-bridge recv: gap 13\n") != std::string::npos);
    size_t lines = 0;
    for (char c : contents(f))
        lines += c == '\n';
    BOOST_TEST(lines == 5u); // gap 1, broken 1, gap 10, gap 12, gap 13
    // Info lines of a quiet logger: neither shown nor counted.
    logger quiet("send", true, f, fake_clock);
    quiet.limited(line::connected, logger::level::info, "peer connected");
    quiet.flush(true);
    BOOST_TEST(contents(f).find("peer connected") == std::string::npos);
    std::fclose(f);
}

BOOST_AUTO_TEST_CASE(a_line_exactly_a_second_after_the_last_one_shown_is_shown)
{
    FILE* f = std::tmpfile();
    BOOST_REQUIRE(f);
    constexpr int64_t ms = 1'000'000;
    fake_now = 1000 * ms;
    logger log("send", false, f, fake_clock);
    const auto warn = logger::level::warn;
    log.limited(line::gap, warn, "gap %d", 1); // shown
    fake_now = 2000 * ms;
    log.limited(line::gap, warn, "gap %d", 2); // its second is over: shown
    fake_now = 2999 * ms;
    log.limited(line::gap, warn, "gap %d", 3); // within a second of gap 2: held back
    BOOST_TEST(contents(f) == "doppler-bridge send: gap 1\ndoppler-bridge send: gap 2\n");
    std::fclose(f);
}

BOOST_AUTO_TEST_CASE(
    a_line_shown_after_held_back_ones_leaves_nothing_for_the_stop_to_show)
{
    // The held-back line is reported by the next line shown (its count);
    // flushing at the stop must not show it again.
    FILE* f = std::tmpfile();
    BOOST_REQUIRE(f);
    constexpr int64_t ms = 1'000'000;
    fake_now = 1000 * ms;
    logger log("recv", false, f, fake_clock);
    const auto warn = logger::level::warn;
    log.limited(line::gap, warn, "gap %d", 1); // shown
    fake_now = 1500 * ms;
    log.limited(line::gap, warn, "gap %d", 2); // held back
    fake_now = 2100 * ms;
    log.limited(line::gap, warn, "gap %d", 3); // shown, counting gap 2
    log.flush(true);
    BOOST_TEST(contents(f) ==
               "doppler-bridge recv: gap 1\n"
               "doppler-bridge recv: gap 3 (and 1 more like it not shown)\n");
    std::fclose(f);
}

BOOST_AUTO_TEST_CASE(a_sender_claims_a_tethered_reader_unless_told_otherwise)
{
    // The default reader is always tethered (bridge.hpp): a sender that left
    // it untethered would let the producer lap it and drop samples unasked.
    const send_options s;
    BOOST_TEST(s.tethered);
    BOOST_TEST(s.reader.empty());
    BOOST_TEST(s.grace_ns == default_reader_grace_ns);
    BOOST_TEST(s.max_items == default_max_items);
    BOOST_TEST(s.wait_ns < 0);
    BOOST_TEST(s.hwm == default_hwm);
    const recv_options r;
    BOOST_TEST(r.max_message == default_max_message);
    BOOST_TEST(r.capacity == default_capacity);
}

BOOST_AUTO_TEST_CASE(a_seconds_option_refuses_a_negative_number_and_takes_zero_and_inf)
{
    // A negative --grace or --wait would otherwise pass as "forever" (< 0)
    // unasked.
    BOOST_TEST(cli_status({ "send", "--grace", "0", "--wait", "inf" }) == 0);
    BOOST_TEST(cli_status({ "recv", "--timeout", "0.5" }) == 0);
    BOOST_TEST(cli_status({ "send", "--grace", "-1" }) == 2);
    BOOST_TEST(cli_status({ "send", "--wait", "-0.5" }) == 2);
    BOOST_TEST(cli_status({ "recv", "--timeout", "-1" }) == 2);
}
