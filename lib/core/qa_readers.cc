/* Several readers (Boost.Test): tethered readers lose nothing, an untethered
 * one accounts for every sample (intact + skipped == written) and is told of
 * every window overwritten while held; the reader table's limits and claim
 * races; readers that die, with and without a successor within their grace.
 * Children run only ring code and leave with _exit.
 * SPDX-License-Identifier: GPL-3.0-or-later */
#define BOOST_TEST_MODULE doppler_readers
#include <boost/test/unit_test.hpp>

#include "qa_proc.hpp"
#include "qa_util.hpp"

#include <doppler/inspect.hpp>

#include <signal.h>

#include <map>
#include <memory>
#include <thread>
#include <vector>

using namespace doppler;
using namespace qa;

namespace {

bool has_reader(const std::string& ring, const std::string& reader)
{
    for (const auto& r : inspect(ring).readers)
        if (r.name == reader)
            return true;
    return false;
}

} // namespace

BOOST_AUTO_TEST_CASE(sixteen_readers_attach_and_a_seventeenth_gets_a_clear_error)
{
    const std::string name = unique_name("many");
    auto creator = ring<f32>::create_named(name, 1);
    std::vector<std::unique_ptr<ring<f32>>> readers;
    readers.push_back(ring<f32>::attach(name));
    BOOST_REQUIRE(readers.back()->claim_reader()); // the default reader: slot 0
    for (int i = 1; i < 16; ++i) {
        readers.push_back(ring<f32>::attach(name));
        readers.back()->claim_reader("r" + std::to_string(i), i % 2 == 0);
        BOOST_TEST(readers.back()->reader_slot_index() == uint32_t(i));
    }
    auto extra = ring<f32>::attach(name);
    std::string what;
    BOOST_TEST(error_of([&] { extra->claim_reader("seventeenth"); }, &what) == EUSERS);
    BOOST_TEST(what.find("already has 16 readers") != std::string::npos);
    BOOST_TEST(what.find("'r15'") != std::string::npos);
    BOOST_TEST(inspect(name).readers.size() == 16u);
    // One leaves: its slot is free for the next name.
    readers.back().reset();
    BOOST_TEST(error_of([&] { extra->claim_reader("seventeenth"); }) == 0);
}

BOOST_AUTO_TEST_CASE(reader_names_follow_the_ring_name_rules_and_a_handle_is_one_reader)
{
    ring<f32> r(1);
    for (const std::string bad : { std::string("a/b"),
                                   std::string(".x"),
                                   std::string("a b"),
                                   std::string(33, 'n') })
        BOOST_TEST(error_of([&] { r.claim_reader(bad); }) == EINVAL, bad);
    r.claim_reader(std::string(32, 'n'));
    BOOST_TEST(error_of([&] { r.claim_reader("other"); }) == EINVAL);
    ring<f32> same(r.seg());
    std::string what;
    BOOST_TEST(error_of([&] { same.claim_reader(std::string(32, 'n')); }, &what) ==
               EBUSY);
    BOOST_TEST(what.find("pid " + std::to_string(getpid())) != std::string::npos);
}

BOOST_AUTO_TEST_CASE(reader_claims_worded_for_a_block_name_the_parameter_to_change)
{
    // The Buffer Source passes these on: its user changes Reader or Ring Name.
    std::string what;
    BOOST_TEST(error_of([] { check_reader_name("a b", "Reader (reader=)"); }, &what) ==
               EINVAL);
    BOOST_TEST(what.find("Reader (reader=) 'a b'") == 0u, what);
    BOOST_TEST(error_of([] { check_reader_name(std::string(33, 'n')); }, &what) ==
               EINVAL);
    BOOST_TEST(what.find("reader name '") == 0u, what); // the API's wording by default
    BOOST_TEST(error_of([] { check_reader_name(std::string(32, 'n')); }) == 0);

    const std::string name = unique_name("worded");
    auto creator = ring<f32>::create_named(name, 1);
    auto gui = ring<f32>::attach(name);
    gui->claim_reader("gui", false);
    auto again = ring<f32>::attach(name);
    BOOST_TEST(error_of([&] { again->claim_reader("gui", true, -1, audience::block); },
                        &what) == EBUSY);
    BOOST_TEST(what.find("give this block another Reader (reader=)") != std::string::npos,
               what);
    BOOST_TEST(error_of([&] { again->claim_reader("gui"); }, &what) == EBUSY);
    BOOST_TEST(what.find("read under another reader name") != std::string::npos, what);
    BOOST_TEST(what.find("block") == std::string::npos, what);

    std::vector<std::unique_ptr<ring<f32>>> readers;
    for (int i = 1; i < 15; ++i) { // with "gui": 15 named readers, all 16 slots
        readers.push_back(ring<f32>::attach(name));
        readers.back()->claim_reader("r" + std::to_string(i), false);
    }
    readers.push_back(ring<f32>::attach(name));
    BOOST_REQUIRE(readers.back()->claim_reader()); // the default reader
    BOOST_TEST(error_of([&] { again->claim_reader("late", false, 0, audience::block); },
                        &what) == EUSERS);
    BOOST_TEST(what.find("give this block another Ring Name (name=)") !=
                   std::string::npos,
               what);
}

BOOST_AUTO_TEST_CASE(a_named_reader_starts_at_the_write_index)
{
    ring<f32> r(1);
    auto a = seq<f32>(0, 100);
    BOOST_REQUIRE(r.write(a.data(), 100));
    ring<f32> late(r.seg());
    late.claim_reader("late", true);
    BOOST_TEST(late.read_index() == 100u);
    BOOST_TEST(late.available() == 0u);
    auto b = seq<f32>(100, 10);
    BOOST_REQUIRE(r.write(b.data(), 10));
    auto v = late.wait(10, generous_ns);
    BOOST_REQUIRE(v);
    BOOST_TEST(first_mismatch(v.data, 10, 100) == 10u);
}

BOOST_AUTO_TEST_CASE(
    a_tethered_reader_holds_the_producer_and_an_untethered_one_never_does)
{
    ring<f32> r(1); // 512
    const uint64_t cap = r.capacity();
    ring<f32> rec(r.seg()), gui(r.seg());
    rec.claim_reader("rec", true);
    gui.claim_reader("gui", false);
    auto a = seq<f32>(0, 2 * cap);
    BOOST_REQUIRE(r.write(a.data(), cap));
    BOOST_REQUIRE(r.wait(cap, 0)); // the default reader keeps up
    BOOST_TEST(r.consume(cap));
    BOOST_TEST(!r.write(a.data() + cap, 1)); // rec has not read: full, dropped
    BOOST_TEST(r.dropped() == 1u);
    BOOST_REQUIRE(rec.wait(cap, 0));
    BOOST_TEST(rec.consume_checked(cap) == 0); // tethered: never overwritten
    BOOST_REQUIRE(r.write(a.data() + cap, cap)); // gui (unread) does not hold it
    BOOST_TEST(gui.skipped() == 0u);
}

BOOST_AUTO_TEST_CASE(a_lapped_untethered_reader_continues_at_the_oldest_intact_sample)
{
    ring<i16> r(1); // 1024
    const uint64_t cap = r.capacity();
    ring<i16> gui(r.seg());
    gui.claim_reader("gui", false);
    auto a = seq<i16>(0, 3 * cap);
    uint64_t w = 0;
    auto produce = [&](uint64_t n) { // the default reader keeps up
        BOOST_REQUIRE(r.write(a.data() + w, n));
        BOOST_REQUIRE(r.wait(n, 0));
        BOOST_REQUIRE(r.consume(n));
        w += n;
    };
    produce(cap);
    produce(cap / 2); // gui has lost [0, cap/2)
    auto v = gui.wait(100, 0);
    BOOST_REQUIRE(v);
    BOOST_TEST(gui.read_index() == cap / 2);
    BOOST_TEST(first_mismatch(v.data, 100, cap / 2) == 100u);
    BOOST_TEST(gui.skipped() == cap / 2);
    BOOST_TEST(skipped_tag(gui) == cap / 2); // at the first sample of its view

    // Held while the producer overwrites 60 of the 100 (the oldest ones).
    produce(60);
    BOOST_TEST(gui.consume_checked(100) == 60);
    BOOST_TEST(gui.skipped() == cap / 2 + 60);
    // The next view starts intact; no "skipped" tag for what consume reported.
    v = gui.wait(10, 0);
    BOOST_REQUIRE(v);
    BOOST_TEST(gui.read_index() == cap / 2 + 100);
    BOOST_TEST(first_mismatch(v.data, 10, cap / 2 + 100) == 10u);
    BOOST_TEST(skipped_tag(gui) == 0u);
    BOOST_TEST(gui.consume_checked(10) == 0);
}

BOOST_AUTO_TEST_CASE(
    two_tethered_readers_lose_nothing_and_an_untethered_one_accounts_for_every_sample)
{
    const uint64_t total = uint64_t(20'000'000 * scale());
    const std::string name = unique_name("fan");
    auto ring0 = ring<f32>::create_named(name, 1 << 14);
    const uint64_t cap = ring0->capacity();
    // Claimed before the producer starts, so none of them misses the start.
    auto rec = ring<f32>::attach(name);
    rec->claim_reader("rec", true);
    auto gui = ring<f32>::attach(name);
    gui->claim_reader("gui", false);
    BOOST_REQUIRE(ring0->claim_reader()); // the default reader, tethered

    // The producer is another process: the untethered reader's reads race
    // its writes on purpose, which a thread sanitizer would rightly report.
    pid_t producer = spawn([&] {
        auto p = ring<f32>::attach(name);
        std::vector<f32> buf(4096);
        for (uint64_t k = 0; k < total;) {
            const uint64_t n = std::min<uint64_t>(buf.size(), total - k);
            for (uint64_t i = 0; i < n; ++i)
                buf[i] = sample_of<f32>(k + i);
            if (p->write_blocking(buf.data(), n, generous_ns) != status::ok)
                return 2;
            k += n;
        }
        return 0;
    });

    auto tethered = [&](ring<f32>& r, uint64_t& got, uint64_t& bad) {
        for (;;) {
            auto v = r.wait(1000, generous_ns);
            uint64_t n = 1000;
            if (!v) {
                n = r.available();
                if (v.why != status::end_of_stream || n == 0 || !(v = r.wait(n, 0)))
                    return;
            }
            if (first_mismatch(v.data, n, got) != n)
                ++bad;
            got += n;
            if (!r.consume(n))
                return;
        }
    };
    uint64_t got0 = 0, bad0 = 0, got1 = 0, bad1 = 0;
    std::thread t0([&] { tethered(*ring0, got0, bad0); });
    std::thread t1([&] { tethered(*rec, got1, bad1); });

    // The untethered reader reads slowly, in windows of cap/2. consume says
    // how many of the window's first samples were overwritten while it read
    // them; the rest of the window was intact.
    uint64_t intact = 0, unreported = 0, windows = 0;
    for (;;) {
        const uint64_t want = cap / 2;
        auto v = gui->wait(want, generous_ns);
        uint64_t n = want;
        if (!v) {
            n = gui->available();
            if (v.why != status::end_of_stream || n == 0 || !(v = gui->wait(n, 0)))
                break;
        }
        const uint64_t first = gui->read_index();
        if (++windows % 3 == 0)
            std::this_thread::sleep_for(std::chrono::microseconds(300)); // get lapped
        const size_t mismatch = first_mismatch(v.data, n, first);
        const size_t last_bad = [&] { // index after the last wrong sample
            size_t i = n;
            while (i > mismatch && first_mismatch(v.data + i - 1, 1, first + i - 1) == 1)
                --i;
            return mismatch == n ? size_t(0) : i;
        }();
        const int64_t over = gui->consume_checked(n);
        BOOST_REQUIRE(over >= 0);
        intact += n - uint64_t(over);
        if (last_bad > uint64_t(over)) {
            ++unreported; // overwritten and not reported: the one thing not allowed
        }
    }
    t0.join();
    t1.join();
    BOOST_TEST(reap(producer) == 0);
    BOOST_TEST(got0 == total);
    BOOST_TEST(bad0 == 0u);
    BOOST_TEST(got1 == total);
    BOOST_TEST(bad1 == 0u);
    BOOST_TEST(unreported == 0u);
    BOOST_TEST(intact + gui->skipped() == total);
    BOOST_TEST(ring0->dropped() == 0u);
}

BOOST_AUTO_TEST_CASE(two_processes_claiming_one_reader_name_exactly_one_wins)
{
    for (int round = 0; round < 5; ++round) {
        const std::string name = unique_name("race");
        auto creator = ring<f64>::create_named(name, 1);
        channel a, b;
        auto claimer = [&](channel& ch) {
            return spawn([&] {
                auto r = ring<f64>::attach(name);
                ch.from_parent(); // both start together
                int rc = 1;
                try {
                    r->claim_reader("x", true, -1);
                    rc = 0;
                } catch (const error& e) {
                    rc = e.code().value() == EBUSY ? 1 : 2;
                }
                ch.tell_parent();
                ch.from_parent(); // hold it until both have tried
                return rc;
            });
        };
        pid_t pa = claimer(a), pb = claimer(b);
        a.tell_child();
        b.tell_child();
        BOOST_REQUIRE(a.from_child());
        BOOST_REQUIRE(b.from_child());
        a.tell_child();
        b.tell_child();
        const int ra = reap(pa), rb = reap(pb);
        BOOST_TEST(((ra == 0 && rb == 1) || (ra == 1 && rb == 0)),
                   "exit codes " << ra << " and " << rb);
    }
}

BOOST_AUTO_TEST_CASE(a_killed_tethered_reader_releases_the_producer_after_its_grace)
{
    const std::string name = unique_name("grace");
    auto producer = ring<f32>::create_named(name, 1);
    const uint64_t cap = producer->capacity();
    BOOST_REQUIRE(producer->claim_reader()); // the default reader keeps up
    const pid_t child = spawn_holder([&] {
        auto* r = ring<f32>::attach(name).release(); // dies holding it
        r->claim_reader("slow", true, 200'000'000); // 0.2 s grace
        return true;
    });
    BOOST_TEST(has_reader(name, "slow"));
    auto a = seq<f32>(0, cap);
    BOOST_REQUIRE(producer->write(a.data(), cap));
    BOOST_REQUIRE(producer->wait(cap, 0));
    BOOST_REQUIRE(producer->consume(cap));
    BOOST_TEST(producer->write_blocking(a.data(), 1, 0) ==
               status::timeout); // held by slow
    BOOST_REQUIRE(kill(child, SIGKILL) == 0);
    BOOST_TEST(reap(child) == 128 + SIGKILL);
    // Within a generous deadline the grace runs out, the slot is freed, the
    // write goes through.
    BOOST_TEST(producer->write_blocking(a.data(), 1, generous_ns) == status::ok);
    BOOST_TEST(!has_reader(name, "slow"));
    BOOST_TEST(producer->dropped() == 0u);
}

BOOST_AUTO_TEST_CASE(a_successor_within_the_grace_loses_nothing)
{
    const std::string name = unique_name("succ");
    auto producer = ring<i16>::create_named(name, 1);
    const uint64_t cap = producer->capacity();
    BOOST_REQUIRE(producer->claim_reader());
    channel ch;
    pid_t first = spawn([&] {
        auto* r = ring<i16>::attach(name).release();
        r->claim_reader("rec", true, 60'000'000'000); // a minute
        ch.tell_parent();
        auto v = r->wait(100, generous_ns);
        if (!v || first_mismatch(v.data, 100, 0) != 100)
            return 2;
        if (!r->consume(100)) // then dies with the next 100 unconsumed
            return 4;
        ch.tell_parent();
        ch.from_parent();
        return 3;
    });
    BOOST_REQUIRE(ch.from_child());
    auto a = seq<i16>(0, 2 * cap);
    BOOST_REQUIRE(producer->write(a.data(), 200));
    BOOST_REQUIRE(ch.from_child());
    BOOST_REQUIRE(kill(first, SIGKILL) == 0);
    BOOST_TEST(reap(first) == 128 + SIGKILL);
    // Keep producing (the default reader keeps up) while rec is dead.
    BOOST_REQUIRE(producer->wait(200, 0));
    BOOST_REQUIRE(producer->consume(200));
    BOOST_TEST(producer->write_blocking(a.data() + 200, cap - 100, generous_ns) ==
               status::ok);
    auto next = ring<i16>::attach(name);
    next->claim_reader("rec", true);
    BOOST_TEST(next->read_index() == 100u); // resumes where the dead one stopped
    auto v = next->wait(cap, generous_ns);
    BOOST_REQUIRE(v);
    BOOST_TEST(first_mismatch(v.data, cap, 100) == cap);
}

// ---------------------------------------------------------------------------
// Model-based: three tethered readers and a sequence of producer handles
// (streams) against a plain model of positions, stream ends and markers.
// ---------------------------------------------------------------------------

namespace {

struct model_reader {
    uint64_t r = 0; // position
    uint64_t s = 1; // stream of r (1: the first, not started yet)
    bool reported = false; // end of s reported (once per stream)
    uint64_t window = 0; // n of the last successful wait
};

struct model {
    uint64_t cap;
    uint64_t w = 0, dropped = 0, pending_drop = 0;
    uint64_t streams = 0; // started so far
    bool producer_started = false;
    std::vector<std::pair<uint64_t, uint64_t>> extent { { 0,
                                                          0 } }; // [first, end) by stream
    std::vector<bool> ended { false };
    std::multimap<uint64_t, std::pair<std::string, uint64_t>> tags;

    uint64_t min_r(const std::vector<model_reader>& rs) const
    {
        uint64_t m = w;
        for (const auto& x : rs)
            m = std::min(m, x.r);
        return m;
    }
    bool write(uint64_t n, const std::vector<model_reader>& rs)
    {
        if (w - min_r(rs) + n > cap) {
            dropped += n;
            pending_drop += n;
            return false;
        }
        if (!producer_started) {
            producer_started = true;
            ++streams;
            extent.push_back({ w, UINT64_MAX });
            ended.push_back(false);
            tags.insert({ w, { tag_stream_start, streams } });
        }
        if (pending_drop) {
            tags.insert({ w, { tag_dropped, pending_drop } });
            pending_drop = 0;
        }
        w += n;
        extent.back().second = UINT64_MAX;
        return true;
    }
    void close()
    {
        // Refused samples with no later sample in their stream get no marker
        // (they stay counted in dropped).
        pending_drop = 0;
        if (!producer_started)
            return;
        extent.back().second = w;
        ended.back() = true;
        producer_started = false;
    }
    /// ok / timeout / end_of_stream, as a reader's wait(n, 0) must answer.
    status wait(model_reader& x, uint64_t n)
    {
        x.window = 0;
        auto end_of = [&](uint64_t s) {
            return s < extent.size() && ended[s] ? extent[s].second : UINT64_MAX;
        };
        if (x.reported && end_of(x.s) - x.r < n) { // on to the next stream
            x.r = end_of(x.s);
            ++x.s;
            x.reported = false;
        }
        const uint64_t avail = std::min(w, end_of(x.s)) - x.r;
        if (avail >= n) {
            x.window = n;
            return status::ok;
        }
        if (end_of(x.s) != UINT64_MAX) {
            x.reported = true;
            return status::end_of_stream;
        }
        return status::timeout;
    }
};

} // namespace

BOOST_AUTO_TEST_CASE(readers_and_streams_agree_with_a_model)
{
    rng g { 0x5eed };
    auto first = std::make_unique<ring<f32>>(1); // 512
    const auto seg = first->seg();
    std::vector<std::unique_ptr<ring<f32>>> readers;
    readers.push_back(std::make_unique<ring<f32>>(seg)); // default
    BOOST_REQUIRE(readers.back()->claim_reader());
    readers.push_back(std::make_unique<ring<f32>>(seg));
    readers.back()->claim_reader("a", true);
    readers.push_back(std::make_unique<ring<f32>>(seg));
    readers.back()->claim_reader("b", true);
    std::unique_ptr<ring<f32>> producer = std::move(first);
    model m { producer->capacity() };
    std::vector<model_reader> mr(readers.size());
    const int ops = int(20000 * scale());
    for (int op = 0; op < ops; ++op) {
        const uint64_t pick = g.next() % 100;
        if (pick < 40) { // write 16..200
            const uint64_t n = 15 + g.upto(185);
            auto a = seq<f32>(m.w, n);
            const bool want = m.write(n, mr);
            BOOST_REQUIRE_MESSAGE(producer->write(a.data(), n) == want, "op " << op);
        } else if (pick < 43) { // the run ends; the next handle starts the next stream
            m.close();
            producer->close();
            producer = std::make_unique<ring<f32>>(seg);
        } else if (pick < 75) { // a reader waits
            const size_t i = g.next() % readers.size();
            const uint64_t n = g.upto(300);
            const uint64_t before = mr[i].r;
            const status want = m.wait(mr[i], n);
            auto v = readers[i]->wait(n, 0);
            BOOST_REQUIRE_MESSAGE(v.why == want,
                                  "op " << op << " reader " << i << " wait(" << n
                                        << ") at " << before << ": " << v.why
                                        << ", model " << want);
            BOOST_REQUIRE(readers[i]->read_index() == mr[i].r);
            BOOST_REQUIRE(readers[i]->stream() == mr[i].s);
            if (v) {
                BOOST_REQUIRE(first_mismatch(v.data, n, mr[i].r) == n);
                // The markers in the window, exactly.
                std::multimap<uint64_t, std::pair<std::string, uint64_t>> got;
                tag_cursor c = readers[i]->tags();
                tag_view t;
                while (c.next(t))
                    got.insert({ t.index, { std::string(t.key), t.value.as_uint64() } });
                auto lo = m.tags.lower_bound(mr[i].r),
                     hi = m.tags.lower_bound(mr[i].r + n);
                const decltype(got) want_tags(lo, hi);
                if (got != want_tags) {
                    for (const auto& [k, v] : got)
                        BOOST_TEST_MESSAGE("ring  " << k << " " << v.first << " "
                                                    << v.second);
                    for (const auto& [k, v] : want_tags)
                        BOOST_TEST_MESSAGE("model " << k << " " << v.first << " "
                                                    << v.second);
                }
                BOOST_REQUIRE_MESSAGE(got == want_tags,
                                      "op " << op << ": tags of the window");
            }
        } else { // a reader consumes part or all of its window
            const size_t i = g.next() % readers.size();
            if (mr[i].window == 0)
                continue;
            const uint64_t k = g.upto(mr[i].window);
            BOOST_REQUIRE(readers[i]->consume(k));
            mr[i].r += k;
            mr[i].window = 0;
        }
        BOOST_REQUIRE(producer->written() == m.w);
        BOOST_REQUIRE(producer->dropped() == m.dropped);
    }
    BOOST_TEST(producer->tags_dropped() == 0u);
    BOOST_TEST(m.streams > 10u);
}
