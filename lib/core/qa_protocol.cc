/* The shared-ring protocol, invariant by invariant (docs/protocol.md numbers
 * them; each test names the invariant it checks). Every test here drives the
 * public calls only, with real processes where a death is part of the story.
 * Children run only ring code and leave with _exit.
 * SPDX-License-Identifier: GPL-3.0-or-later */
#define BOOST_TEST_MODULE doppler_protocol
#include <boost/test/unit_test.hpp>

#include "qa_proc.hpp"
#include "qa_util.hpp"

#include <doppler/inspect.hpp>

#include <signal.h>

#include <atomic>
#include <functional>
#include <memory>
#include <thread>
#include <vector>

using namespace doppler;
using namespace qa;

namespace {

/// Write `n` sequence samples starting at counter `first` through `p` while
/// `reader` (the default reader) consumes them as they come: the producer is
/// never held back, so untethered readers are lapped. `reader` passes the
/// seams it meets.
void stream_through(ring<f32>& p, ring<f32>& reader, uint64_t first, uint64_t n)
{
    const uint64_t chunk = 64;
    for (uint64_t k = 0; k < n; k += chunk) {
        const uint64_t m = std::min(chunk, n - k);
        auto v = seq<f32>(first + k, m);
        BOOST_REQUIRE(p.write_blocking(v.data(), m, generous_ns) == status::ok);
        auto got = reader.wait(m, generous_ns);
        if (got.why == status::end_of_stream || got.why == status::broken)
            got = reader.wait(m, generous_ns); // the seam of an earlier stream
        BOOST_REQUIRE(got);
        BOOST_REQUIRE(reader.consume(m));
    }
}

/// The start most tests here share: an in-process producer `p` of at least
/// `N` samples (`cap` of them) and the default reader `def`, claimed.
template <uint64_t N>
struct claimed_default {
    ring<f32> p { N };
    const uint64_t cap = p.capacity();
    ring<f32> def { p.seg() };
    claimed_default() { BOOST_REQUIRE(def.claim_reader()); }
};

/// The counter a sequence sample encodes (sample_of<f32> inverse).
uint64_t counter_of(const f32& s)
{
    return uint64_t(s.real()) | (uint64_t(s.imag()) << 24);
}

/// A child process claims reader `reader` of ring `name` and is killed
/// with SIGKILL while it holds it: the slot is left to a dead holder.
void reader_killed_holding(const std::string& name,
                           const std::string& reader,
                           bool tethered,
                           int64_t grace_ns = default_reader_grace_ns)
{
    const pid_t child = spawn_holder([&] {
        auto* r = ring<f32>::attach(name).release(); // dies holding it
        r->claim_reader(reader, tethered, grace_ns);
        return true;
    });
    BOOST_REQUIRE(kill(child, SIGKILL) == 0);
    BOOST_TEST(reap(child) == 128 + SIGKILL);
}

/// The start of the tests of a dead untethered reader claimed again: named
/// ring `name` (the smallest, `cap` samples) whose reader "x" died untethered,
/// then producer `p` streamed three rings' worth past it through the default
/// reader `def`.
struct dead_untethered_x_lapped {
    const std::string name = unique_name("lapped-x");
    std::unique_ptr<ring<f32>> p = ring<f32>::create_named(name, 1);
    const uint64_t cap = p->capacity();
    std::unique_ptr<ring<f32>> def = ring<f32>::attach(name);
    dead_untethered_x_lapped()
    {
        BOOST_REQUIRE(def->claim_reader());
        reader_killed_holding(name, "x", false);
        stream_through(*p, *def, 0, 3 * cap);
    }
};

} // namespace

// ---------------------------------------------------------------------------
// I4 / I10: an untethered reader that was lapped never gets a view of
// overwritten samples; it moves to the oldest intact one at once, and
// intact + skipped == written.
// ---------------------------------------------------------------------------

BOOST_FIXTURE_TEST_CASE(
    a_lapped_untethered_reader_moves_to_the_oldest_intact_sample_at_once,
    claimed_default<2048>)
{
    ring<f32> u(p.seg());
    u.claim_reader("u", false);

    stream_through(p, def, 0, cap / 2);
    auto v = u.wait(cap / 2, 0); // caches what is readable
    BOOST_REQUIRE(v);
    BOOST_REQUIRE(u.consume(10));
    // The producer laps the reader twice while it holds nothing.
    stream_through(p, def, cap / 2, 2 * cap);
    const uint64_t written = cap / 2 + 2 * cap;
    auto w = u.wait(10, 0);
    BOOST_REQUIRE(w);
    BOOST_TEST(u.read_index() == written - cap);
    BOOST_TEST(counter_of(w.data[0]) == written - cap);
    BOOST_TEST(u.skipped() == written - cap - 10);
    BOOST_TEST(skipped_tag(u) == written - cap - 10);
    BOOST_TEST(u.consume_checked(10) == 0); // intact: nothing overwritten while held
    // Read intact: 10 before the laps, 10 now; everything else was skipped.
    BOOST_TEST(u.read_index() == 20 + u.skipped());
}

BOOST_FIXTURE_TEST_CASE(an_untethered_reader_counts_every_sample_once_as_read_or_skipped,
                        claimed_default<512>)
{
    // I4 over a long random run: whatever the reader was handed and consumed
    // intact, plus what it skipped, is everything written; consume reports a
    // held window overwritten exactly when its samples changed.
    ring<f32> u(p.seg());
    u.claim_reader("u", false);
    rng g { 12345 };
    uint64_t written = 0, intact = 0, reported_over = 0;
    for (int round = 0; round < 2000; ++round) {
        const uint64_t n = g.upto(cap);
        stream_through(p, def, written, n);
        written += n;
        const uint64_t want = g.upto(64);
        auto v = u.wait(want, 0);
        if (!v)
            continue;
        const uint64_t at = u.read_index();
        BOOST_REQUIRE(first_mismatch(v.data, want, at) == want); // never stale
        // Sometimes the producer overwrites the held window before consume:
        // consume reports exactly the samples that changed.
        uint64_t changed = 0;
        if (g.next() % 4 == 0) {
            const uint64_t m = g.upto(cap);
            stream_through(p, def, written, m);
            written += m;
            for (uint64_t k = 0; k < want; ++k)
                changed += !same(v.data[k], sample_of<f32>(at + k));
        }
        const int64_t o = u.consume_checked(want);
        BOOST_REQUIRE(o >= 0);
        BOOST_TEST(uint64_t(o) == changed, "round " << round);
        reported_over += uint64_t(o);
        intact += want - uint64_t(o);
    }
    // What is still readable counts as neither.
    const uint64_t left = written - u.read_index();
    BOOST_TEST(intact + u.skipped() + left == written);
    BOOST_TEST(reported_over <= u.skipped());
}

// ---------------------------------------------------------------------------
// I3: each seam is reported exactly once to each reader.
// ---------------------------------------------------------------------------

BOOST_FIXTURE_TEST_CASE(the_end_of_a_stream_is_reported_once_even_after_draining_the_rest,
                        claimed_default<2048>)
{
    auto a = seq<f32>(0, 100);
    BOOST_REQUIRE(p.write(a.data(), 100));
    p.close(); // the producer handle lives on, closed
    BOOST_TEST(def.wait(1024, 0).why == status::end_of_stream);
    BOOST_TEST(def.available() == 100u);
    auto v = def.wait(100, 0); // drain what is left
    BOOST_REQUIRE(v);
    BOOST_REQUIRE(def.consume(100));
    // Reported once: the next wait waits for the next stream.
    BOOST_TEST(def.wait(1024, 20'000'000).why == status::timeout);
    BOOST_TEST(def.wait(1024, 0).why == status::timeout);
    ring<f32> next(p.seg());
    auto b = seq<f32>(100, 1024);
    BOOST_REQUIRE(next.write(b.data(), 1024));
    auto w = def.wait(1024, generous_ns);
    BOOST_REQUIRE(w);
    BOOST_TEST(def.stream() == 2u);
    BOOST_TEST(first_mismatch(w.data, 1024, 100) == 1024u);
}

BOOST_FIXTURE_TEST_CASE(a_broken_stream_is_reported_once_before_the_next_producer_starts,
                        claimed_default<2048>)
{
    auto a = seq<f32>(0, 100);
    BOOST_REQUIRE(p.write(a.data(), 100));
    p.close(stream_end::broken);
    BOOST_TEST(def.wait(1024, 0).why == status::broken);
    BOOST_REQUIRE(def.wait(100, 0));
    BOOST_REQUIRE(def.consume(100));
    BOOST_TEST(def.wait(1024, 20'000'000).why == status::timeout);
}

BOOST_FIXTURE_TEST_CASE(the_last_samples_of_a_stream_that_exactly_fit_a_wait_are_served,
                        claimed_default<512>)
{
    auto a = seq<f32>(0, 300);
    BOOST_REQUIRE(p.write(a.data(), 300));
    p.close();
    auto v = def.wait(300, 0);
    BOOST_REQUIRE(v);
    BOOST_TEST(first_mismatch(v.data, 300, 0) == 300u);
    BOOST_REQUIRE(def.consume(300));
    BOOST_TEST(def.wait(1, 0).why == status::end_of_stream); // then the seam, once
    BOOST_TEST(def.wait(1, 0).why == status::timeout);
}

BOOST_AUTO_TEST_CASE(a_busy_polling_reader_sees_the_end_of_its_stream)
{
    const int rc = bounded_child(5, [] {
        ring<f32> p(512);
        ring<f32> r(p.seg());
        r.set_wait_strategy(wait_strategy::poll);
        if (!r.claim_reader())
            return 2;
        auto a = seq<f32>(0, 10);
        if (!p.write(a.data(), 10))
            return 3;
        std::thread closer([&] {
            std::this_thread::sleep_for(std::chrono::milliseconds(50));
            p.close();
        });
        const status s = r.wait(100, 2'000'000'000).why;
        closer.join();
        return s == status::end_of_stream ? 0 : 4;
    });
    BOOST_TEST(rc == 0);
}

BOOST_AUTO_TEST_CASE(a_reader_resumed_at_the_end_of_a_closed_stream_is_told_once)
{
    const std::string name = unique_name("resume-end");
    auto p = ring<f32>::create_named(name, 1);
    BOOST_REQUIRE(p->claim_reader());
    channel ch;
    pid_t child = spawn([&] {
        auto* r = ring<f32>::attach(name).release(); // dies holding it
        r->claim_reader("rec", true, -1);
        ch.tell_parent();
        auto v = r->wait(50, generous_ns);
        if (!v || !r->consume(50))
            return 2;
        ch.tell_parent();
        ch.from_parent();
        return 3;
    });
    BOOST_REQUIRE(ch.from_child());
    auto a = seq<f32>(0, 50);
    BOOST_REQUIRE(p->write(a.data(), 50));
    BOOST_REQUIRE(ch.from_child());
    BOOST_REQUIRE(kill(child, SIGKILL) == 0);
    BOOST_TEST(reap(child) == 128 + SIGKILL);
    p->close();
    auto next = ring<f32>::attach(name);
    next->claim_reader("rec", true, -1);
    BOOST_TEST(next->read_index() == 50u);
    BOOST_TEST(next->wait(1, 0).why == status::end_of_stream);
    BOOST_TEST(next->wait(1, 0).why == status::timeout);
}

// ---------------------------------------------------------------------------
// I2: a view never spans two streams, however far behind the reader is.
// ---------------------------------------------------------------------------

BOOST_AUTO_TEST_CASE(
    a_reader_more_streams_behind_than_the_seam_table_holds_is_never_glued)
{
    ring<f32> p0(4096);
    auto seg = p0.seg();
    ring<f32> slow(seg);
    slow.claim_reader("slow", true, -1);
    const uint64_t streams = seam_slots + 8, per = 4;
    for (uint64_t s = 0; s < streams; ++s) {
        ring<f32> p(seg);
        auto a = seq<f32>(1000 * (s + 1), per);
        BOOST_REQUIRE(p.write(a.data(), per));
        p.close();
    }
    ring<f32> def(seg); // the default reader keeps up
    BOOST_REQUIRE(def.claim_reader());
    // Read everything in views of 3 from streams of 4: every view lies inside
    // one stream (the counters of stream s are 1000 * s + k) and the reader
    // knows which; what could not be told apart is skipped.
    uint64_t got = 0, ends = 0;
    for (int i = 0; i < 400 && got + slow.skipped() < streams * per; ++i) {
        auto v = slow.wait(3, 0);
        uint64_t n = 3;
        if (!v) {
            BOOST_REQUIRE(v.why == status::end_of_stream);
            ++ends;
            n = slow.available();
            if (n == 0)
                continue;
            v = slow.wait(n, 0);
            BOOST_REQUIRE(v);
        }
        const uint64_t first = counter_of(v.data[0]);
        BOOST_TEST(first_mismatch(v.data, n, first) == n, "a view glued at " << first);
        BOOST_TEST(counter_of(v.data[n - 1]) / 1000 == first / 1000);
        BOOST_TEST(slow.stream() == first / 1000,
                   "stream " << slow.stream() << " at " << first);
        BOOST_REQUIRE(slow.consume(n));
        got += n;
    }
    BOOST_TEST(got + slow.skipped() == streams * per);
    BOOST_TEST(got >= (seam_slots - 1) * per);
    BOOST_TEST(ends >= seam_slots - 1);
}

BOOST_FIXTURE_TEST_CASE(
    an_untethered_reader_lapped_past_its_streams_end_reports_each_seam,
    claimed_default<512>)
{
    ring<f32> u(p.seg());
    u.claim_reader("u", false);
    // Stream 1: 100 samples; streams 2 and 3: more than a ring each.
    const uint64_t sizes[] = { 100, cap + 88, cap + 100 };
    uint64_t at = 0;
    for (uint64_t s = 0; s < 3; ++s) {
        ring<f32> run(p.seg());
        stream_through(run, def, at, sizes[s]);
        run.close();
        at += sizes[s];
    }
    const uint64_t written = at;
    // The reader is at 0, in stream 1: each seam once, then the intact tail
    // of stream 3, all in stream 3.
    BOOST_TEST(u.wait(50, 0).why == status::end_of_stream);
    BOOST_TEST(u.wait(50, 0).why == status::end_of_stream);
    auto v = u.wait(50, 0);
    BOOST_REQUIRE(v);
    BOOST_TEST(u.stream() == 3u);
    BOOST_TEST(u.read_index() == written - cap);
    BOOST_TEST(counter_of(v.data[0]) == written - cap);
    BOOST_TEST(u.skipped() == written - cap);
}

// ---------------------------------------------------------------------------
// I6: tags are decoded only from records that stayed intact for the copy.
// ---------------------------------------------------------------------------

BOOST_AUTO_TEST_CASE(
    an_untethered_reader_decodes_only_intact_tag_records_while_they_are_reclaimed)
{
    const int rc = bounded_child(60, [] {
        ring<f32> p(512);
        ring<f32> def(p.seg());
        if (!def.claim_reader())
            return 2;
        ring<f32> u(p.seg());
        u.claim_reader("u", false);
        std::atomic<bool> stop { false };
        std::thread producer([&] {
            // Records of varied lengths so a torn one would misparse: the
            // key "i" carries the sample index, "s" a string made from it.
            std::vector<f32> a(32);
            std::string vi, vs, text;
            uint64_t w = 0;
            while (!stop.load(std::memory_order_relaxed)) {
                vi.clear();
                encode::uint64(vi, w);
                text.assign(size_t(w % 61), char('a' + w % 26));
                vs.clear();
                encode::str(vs, text);
                tag_in t[2] = { { 0, "i", vi }, { 1, "s", vs } };
                if (p.write_blocking(a.data(), a.size(), generous_ns, nullptr, t, 2) !=
                    status::ok)
                    return;
                w += a.size();
                while (def.available() > 0) {
                    const uint64_t n = def.available();
                    if (!def.wait(n, 0) || !def.consume(n))
                        return;
                }
            }
        });
        int bad = 0;
        for (int i = 0; i < 40000 && bad == 0; ++i) {
            if (i % 8 == 0) // fall behind now and then: lapped, its records reclaimed
                std::this_thread::sleep_for(std::chrono::microseconds(200));
            auto v = u.wait(16, 10'000'000);
            if (!v)
                continue;
            tag_cursor c = u.tags();
            tag_view t;
            while (c.next(t)) {
                if (t.key == "i" && t.value.as_uint64() != t.index)
                    bad = 10;
                if (t.key == "s") {
                    const uint64_t w = t.index - 1;
                    if (t.value.as_str() !=
                        std::string(size_t(w % 61), char('a' + w % 26)))
                        bad = 11;
                }
            }
            if (c.corrupt())
                bad = 12;
            (void)u.consume_checked(16);
        }
        stop = true;
        producer.join();
        return bad;
    });
    BOOST_TEST(rc == 0, "exit code " << rc << " (139: SIGSEGV decoding a record)");
}

// ---------------------------------------------------------------------------
// I8 / I9: claims racing a running producer are lossless for tethered
// readers; the producer never gets more than a ring ahead of one.
// ---------------------------------------------------------------------------

BOOST_FIXTURE_TEST_CASE(tethered_readers_claimed_while_the_producer_streams_lose_nothing,
                        claimed_default<512>)
{
    std::atomic<bool> stop { false }, producer_done { false };
    std::atomic<int> producer_status { 0 };
    std::thread producer([&] {
        uint64_t w = 0;
        while (!stop.load(std::memory_order_relaxed)) {
            auto a = seq<f32>(w, 61);
            const status s = p.write_blocking(a.data(), a.size(), generous_ns);
            if (s != status::ok) {
                producer_status = int(s) + 1;
                break;
            }
            w += a.size();
        }
        producer_done = true;
    });
    std::thread consumer([&] {
        while (!producer_done.load(std::memory_order_relaxed)) {
            const uint64_t n = def.poll_available();
            if (n != 0)
                (void)def.consume(n);
            else
                (void)def.wait(1, 100'000'000);
        }
    });
    int failures = 0;
    const int rounds = int(300 * scale()) + 20;
    for (int i = 0; i < rounds && failures == 0; ++i) {
        ring<f32> rec(p.seg());
        rec.claim_reader("rec", true, -1);
        for (int k = 0; k < 3; ++k) {
            auto v = rec.wait(37, generous_ns);
            if (!v) {
                BOOST_TEST_MESSAGE("round " << i << ": " << status_name(v.why));
                ++failures;
                break;
            }
            if (first_mismatch(v.data, 37, rec.read_index()) != 37) {
                BOOST_TEST_MESSAGE("round " << i
                                            << ": samples not what was written there");
                ++failures;
                break;
            }
            if (!rec.consume(37)) {
                ++failures;
                break;
            }
        }
    }
    stop = true;
    producer.join();
    consumer.join();
    BOOST_TEST(failures == 0);
    BOOST_TEST(producer_status.load() == 0);
}

namespace {
std::function<void(int)> in_claim; // what the claim hook runs, by step
void claim_hook(int step) noexcept
{
    if (in_claim)
        in_claim(step);
}
} // namespace

BOOST_FIXTURE_TEST_CASE(
    a_tethered_claim_the_producer_streams_past_owns_every_sample_from_its_start,
    claimed_default<512>)
{
    // The producer streams two rings' worth while the claim is between
    // choosing its position and being seen: the reader must still start
    // where every sample it is handed is intact, and the producer must never
    // be more than a ring ahead of it.
    stream_through(p, def, 0, 100);
    in_claim = [&](int step) {
        if (step == 0)
            stream_through(p, def, 100, 2 * cap);
    };
    detail::set_claim_hook(claim_hook);
    ring<f32> rec(p.seg());
    rec.claim_reader("rec", true, -1);
    detail::set_claim_hook(nullptr);
    in_claim = nullptr;
    const uint64_t written = 100 + 2 * cap;
    BOOST_TEST(written - rec.read_index() <= cap);
    BOOST_TEST(rec.read_index() <= written);
    const uint64_t more = cap - (written - rec.read_index());
    if (more != 0) { // room left by the new reader: the producer takes it
        auto a = seq<f32>(written, more);
        BOOST_TEST(p.write_blocking(a.data(), more, generous_ns) == status::ok);
        (void)def.wait(more, 0);
        (void)def.consume(more);
    }
    BOOST_TEST(!p.read_index_corrupt());
    auto v = rec.wait(cap, 0);
    BOOST_REQUIRE(v);
    BOOST_TEST(first_mismatch(v.data, cap, rec.read_index()) == cap);
    BOOST_TEST(!rec.write_index_corrupt());
}

BOOST_FIXTURE_TEST_CASE(
    a_dead_untethered_reader_claimed_again_tethered_resumes_within_the_ring,
    dead_untethered_x_lapped)
{
    auto again = ring<f32>::attach(name);
    again->claim_reader("x", true, -1);
    BOOST_TEST(3 * cap - again->read_index() <= cap);
    auto v = again->wait(1, 0);
    BOOST_REQUIRE(v);
    BOOST_TEST(counter_of(v.data[0]) == again->read_index());
    BOOST_TEST(again->skipped() == again->read_index());
    // The producer goes on without calling anything corrupt.
    BOOST_REQUIRE(again->consume(again->available()));
    stream_through(*p, *def, 3 * cap, cap / 2);
    BOOST_TEST(!p->read_index_corrupt());
    auto w = again->wait(cap / 2, 0);
    BOOST_REQUIRE(w);
    BOOST_TEST(first_mismatch(w.data, cap / 2, 3 * cap) == cap / 2);
}

// ---------------------------------------------------------------------------
// I7: a dead holder's slot and role are always taken over.
// ---------------------------------------------------------------------------

BOOST_AUTO_TEST_CASE(slots_of_killed_untethered_readers_are_taken_over)
{
    const std::string name = unique_name("reap-untethered");
    auto p = ring<f32>::create_named(name, 1);
    const pid_t child = spawn_holder([&] {
        // Slot 1: a tethered reader with a grace of a minute, which must
        // outlive the takeover; slots 2-15: untethered ones.
        auto* keep = ring<f32>::attach(name).release();
        keep->claim_reader("keep", true, 60'000'000'000);
        for (int i = 2; i < int(max_readers); ++i) {
            auto* r = ring<f32>::attach(name).release();
            r->claim_reader("u" + std::to_string(i), false);
        }
        return true;
    });
    BOOST_TEST(inspect(name).readers.size() == size_t(max_readers));
    BOOST_REQUIRE(kill(child, SIGKILL) == 0);
    BOOST_TEST(reap(child) == 128 + SIGKILL);
    auto late = ring<f32>::attach(name);
    BOOST_TEST(error_of([&] { late->claim_reader("late", false); }) == 0);
    auto tethered = ring<f32>::attach(name);
    BOOST_TEST(error_of([&] { tethered->claim_reader("late2", true); }) == 0);
    BOOST_TEST(late->reader_slot_index() != 1u);
    BOOST_TEST(tethered->reader_slot_index() != 1u);
    bool kept = false; // the dead tethered reader waits for its successor
    for (const auto& r : inspect(name).readers)
        kept = kept || r.name == "keep";
    BOOST_TEST(kept);
}

BOOST_AUTO_TEST_CASE(a_dead_tethered_reader_whose_grace_is_forever_is_never_freed)
{
    const std::string name = unique_name("forever");
    auto p = ring<f32>::create_named(name, 1);
    const uint64_t cap = p->capacity();
    BOOST_REQUIRE(p->claim_reader());
    reader_killed_holding(name, "keep", true, -1);
    auto a = seq<f32>(0, cap);
    BOOST_REQUIRE(p->write(a.data(), cap));
    BOOST_REQUIRE(p->wait(cap, 0));
    BOOST_REQUIRE(p->consume(cap));
    // Waited for until a process claims the name: 1.5 s is many reap rounds.
    BOOST_TEST(p->write_blocking(a.data(), 1, 1'500'000'000) == status::broken);
    bool listed = false;
    for (const auto& r : inspect(name).readers)
        listed = listed || r.name == "keep";
    BOOST_TEST(listed);
    auto heir = ring<f32>::attach(name);
    heir->claim_reader("keep", true, -1);
    BOOST_TEST(heir->read_index() == 0u); // every sample still there for it
    auto v = heir->wait(cap, 0);
    BOOST_REQUIRE(v);
    BOOST_TEST(first_mismatch(v.data, cap, 0) == cap);
}

// ---------------------------------------------------------------------------
// I8 while joining; I2 for a reader located far behind; I1 at a seam.
// ---------------------------------------------------------------------------

BOOST_FIXTURE_TEST_CASE(
    a_joining_reader_holds_the_producer_at_its_floor_until_it_has_joined,
    dead_untethered_x_lapped)
{
    // While a resumed reader (left far behind as an untethered one) joins as
    // tethered, the producer writes what its floor lets it: it must count
    // the joining reader at that floor, never as corrupt, and the reader
    // then starts where every sample it is handed is intact.
    uint64_t w = 3 * cap;
    bool refused_as_corrupt = false;
    in_claim = [&](int step) {
        if (step != 1)
            return;
        for (int k = 0; k < 64; ++k) { // non-blocking: as much as the floor lets
            auto a = seq<f32>(w, 16);
            if (!p->write(a.data(), 16)) {
                refused_as_corrupt = refused_as_corrupt || errno == EBADMSG;
                break;
            }
            w += 16;
            (void)def->wait(16, 0);
            (void)def->consume(16);
        }
    };
    detail::set_claim_hook(claim_hook);
    auto again = ring<f32>::attach(name);
    again->claim_reader("x", true, -1);
    detail::set_claim_hook(nullptr);
    in_claim = nullptr;
    BOOST_TEST(!refused_as_corrupt);
    BOOST_TEST(!p->read_index_corrupt());
    const uint64_t at = again->read_index();
    BOOST_REQUIRE(w - at <= cap);
    BOOST_REQUIRE(w > at);
    auto v = again->wait(w - at, 0);
    BOOST_REQUIRE(v);
    BOOST_TEST(first_mismatch(v.data, w - at, at) == w - at);
}

BOOST_AUTO_TEST_CASE(a_reader_resumed_more_streams_behind_than_the_table_is_never_glued)
{
    // Its stream is located at the claim (locate), with the record gone.
    const std::string name = unique_name("resume-far");
    auto creator = ring<f32>::create_named(name, 4096);
    reader_killed_holding(name, "far", true, -1);
    const uint64_t streams = seam_slots + 5, per = 3;
    for (uint64_t s = 0; s < streams; ++s) {
        auto p = ring<f32>::attach(name);
        auto a = seq<f32>(1000 * (s + 1), per);
        BOOST_REQUIRE(p->write(a.data(), per));
        p->close();
    }
    auto far = ring<f32>::attach(name);
    far->claim_reader("far", true, -1);
    BOOST_TEST(far->read_index() == far->skipped()); // resumed at 0, the lost ones passed
    // Views of 2 from streams of 3: a view glued across a seam would hold
    // samples of two streams, and the reader's stream number would be wrong.
    uint64_t got = 0;
    for (int i = 0; i < 400 && got + far->skipped() < streams * per; ++i) {
        auto v = far->wait(2, 0);
        uint64_t n = 2;
        if (!v) {
            BOOST_REQUIRE(v.why == status::end_of_stream);
            n = far->available();
            if (n == 0)
                continue;
            v = far->wait(n, 0);
            BOOST_REQUIRE(v);
        }
        const uint64_t first = counter_of(v.data[0]);
        BOOST_TEST(first_mismatch(v.data, n, first) == n, "a view glued at " << first);
        BOOST_TEST(counter_of(v.data[n - 1]) / 1000 == first / 1000);
        BOOST_TEST(far->stream() == first / 1000,
                   "stream " << far->stream() << " at " << first);
        BOOST_REQUIRE(far->consume(n));
        got += n;
    }
    BOOST_TEST(got + far->skipped() == streams * per);
}

BOOST_FIXTURE_TEST_CASE(
    a_reader_moving_on_to_the_next_stream_gives_the_rest_back_to_the_producer,
    claimed_default<512>)
{
    auto a = seq<f32>(0, cap);
    BOOST_REQUIRE(p.write(a.data(), cap)); // full
    p.close();
    BOOST_REQUIRE(def.wait(cap - 12, 0));
    BOOST_REQUIRE(def.consume(cap - 12));
    BOOST_TEST(def.wait(100, 0).why == status::end_of_stream); // 12 left
    std::atomic<int> reader_status { -1 };
    std::thread reader([&] {
        // Moves on, dropping the 12, and waits for a whole ring of stream 2.
        auto v = def.wait(cap, generous_ns);
        reader_status = v ? (first_mismatch(v.data, cap, cap) == cap ? 0 : 1) : 2;
    });
    ring<f32> next(p.seg());
    auto b = seq<f32>(cap, cap);
    BOOST_TEST(next.write_blocking(b.data(), cap, 5'000'000'000) == status::ok);
    reader.join();
    BOOST_TEST(reader_status.load() == 0);
    BOOST_TEST(p.missed_wakes() == 0u); // the producer was woken, not timed out
}

BOOST_FIXTURE_TEST_CASE(a_released_tethered_reader_no_longer_holds_the_producer_back,
                        claimed_default<512>)
{
    // I7: what a handle gives up (its slot, its tether) is given up at once.
    {
        ring<f32> t(p.seg());
        t.claim_reader("t", true, -1); // reads nothing, then goes
    }
    auto a = seq<f32>(0, cap);
    BOOST_REQUIRE(p.write(a.data(), cap));
    BOOST_REQUIRE(def.wait(cap, 0));
    BOOST_REQUIRE(def.consume(cap));
    // Had "t" kept its tether, the ring would be full for it now.
    BOOST_TEST(p.write(a.data(), cap));
    BOOST_TEST(p.dropped() == 0u);
}

// ---------------------------------------------------------------------------
// History for late readers: a claim that starts in the past (I1, I2, I8).
// ---------------------------------------------------------------------------

BOOST_FIXTURE_TEST_CASE(
    a_late_untethered_reader_with_history_starts_in_its_stream_and_the_ring,
    claimed_default<512>)
{
    {
        ring<f32> run(p.seg());
        stream_through(run, def, 0, 100); // stream 1
        run.close();
    }
    ring<f32> run(p.seg());
    std::string v0;
    encode::uint64(v0, 7);
    const tag_in t { 5, "k", v0 };
    auto a = seq<f32>(100, 50);
    BOOST_REQUIRE(run.write(a.data(), 50, &t, 1)); // stream 2 starts at 100, a tag at 105
    BOOST_REQUIRE(def.wait(50, generous_ns).why == status::end_of_stream ||
                  def.available() != 0);
    // Within the stream: from its first sample, not from stream 1.
    ring<f32> late(p.seg());
    late.claim_reader("late", false, 0, audience::api, 1000);
    BOOST_TEST(late.history() == 50u);
    BOOST_TEST(late.read_index() == 100u);
    auto v = late.wait(50, 0);
    BOOST_REQUIRE(v);
    BOOST_TEST(first_mismatch(v.data, 50, 100) == 50u);
    BOOST_TEST(late.stream() == 2u);
    bool tagged = false;
    tag_cursor c = late.tags();
    tag_view tv;
    while (c.next(tv))
        tagged =
            tagged || (tv.key == "k" && tv.index == 105 && tv.value.as_uint64() == 7);
    BOOST_TEST(tagged); // tags come with the history
    // Within the ring: a long stream gives at most the intact samples.
    stream_through(run, def, 150, 3 * cap);
    ring<f32> later(p.seg());
    later.claim_reader("later", false, 0, audience::api, 10 * cap);
    const uint64_t w = 150 + 3 * cap;
    BOOST_TEST(later.history() <= cap);
    BOOST_TEST(later.read_index() == w - later.history());
    auto u = later.wait(later.history(), 0);
    BOOST_REQUIRE(u);
    BOOST_TEST(first_mismatch(u.data, later.history(), w - later.history()) ==
               later.history());
    // A few samples: exactly those.
    ring<f32> few(p.seg());
    few.claim_reader("few", false, 0, audience::api, 10);
    BOOST_TEST(few.history() == 10u);
    BOOST_TEST(few.read_index() == w - 10);
}

BOOST_FIXTURE_TEST_CASE(
    a_late_tethered_reader_with_history_owns_every_sample_it_is_handed,
    claimed_default<512>)
{
    stream_through(p, def, 0, 2 * cap + 77);
    const uint64_t w = 2 * cap + 77;
    ring<f32> rec(p.seg());
    rec.claim_reader("rec", true, -1, audience::api, cap);
    BOOST_TEST(rec.read_index() == w - rec.history());
    BOOST_TEST(rec.history() <= cap);
    // The producer now waits for it: what it was given stays intact while
    // the producer writes as much as the ring lets it.
    const uint64_t room = cap - rec.history();
    auto a = seq<f32>(w, room);
    if (room != 0) {
        BOOST_TEST(p.write_blocking(a.data(), room, generous_ns) == status::ok);
        BOOST_REQUIRE(def.wait(room, 0));
        BOOST_REQUIRE(def.consume(room));
    }
    BOOST_TEST(!p.write(a.data(), 1)); // full: rec holds it
    auto v = rec.wait(cap, 0);
    BOOST_REQUIRE(v);
    BOOST_TEST(first_mismatch(v.data, cap, w - rec.history()) == cap);
    BOOST_TEST(!p.read_index_corrupt());
}
