/* Waking (Boost.Test): a lost wake-up is a counted fact (control::missed_wakes),
 * not a delay nobody sees. First the counter itself (a publish, a consume or a
 * close that wakes nobody is counted), then the handshake (which one a ring
 * gets, where the membarrier one issues its barrier), busy-poll, and park/wake
 * stress on both sides that must leave the counter at 0 with every wait
 * answered ok. CTest runs this program once per handshake
 * (DOPPLER_HANDSHAKE=seq_cst for the second run).
 * SPDX-License-Identifier: GPL-3.0-or-later */
#define BOOST_TEST_MODULE doppler_wake
#include <boost/test/unit_test.hpp>

#include "qa_util.hpp"

#include <linux/membarrier.h>
#include <sys/syscall.h>

#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstring>
#include <functional>
#include <thread>
#include <vector>

using namespace doppler;
using namespace qa;

namespace {

/// The handshake this run's rings are made with: what the environment asks
/// for, where the kernel and the build allow it.
handshake expected_handshake()
{
#if defined(__SANITIZE_THREAD__)
    return handshake::seq_cst;
#elif defined(__has_feature)
#if __has_feature(thread_sanitizer)
    return handshake::seq_cst;
#endif
#endif
    const char* env = std::getenv("DOPPLER_HANDSHAKE");
    if ((env && std::strcmp(env, "seq_cst") == 0) || !membarrier_available())
        return handshake::seq_cst;
    return handshake::membarrier;
}

/// Started as `QA_REGISTRATION_OF=<ring> qa_wake`, this program attaches that
/// ring, says whether the process is now registered for the membarrier
/// handshake's barrier (exit 0: yes, 1: no, 2: the kernel cannot say) and
/// exits before any test runs. A fresh program (exec), because a forked
/// child inherits its parent's registration.
const int registration_probe = [] {
    const char* name = std::getenv("QA_REGISTRATION_OF");
    if (!name)
        return 0;
    int rc = 3;
    try {
        auto r = ring<f32>::attach(name);
        // MEMBARRIER_CMD_GET_REGISTRATIONS (Linux 6.3): the commands this
        // process registered for.
        const long got = syscall(SYS_membarrier, 1 << 9, 0u, 0);
        rc = got < 0 ? 2 : (got & MEMBARRIER_CMD_REGISTER_GLOBAL_EXPEDITED) ? 0 : 1;
    } catch (...) {
    }
    _exit(rc);
}();

/// Until `word` reads 1 (a side has parked), bounded by generous_ns. A state,
/// not a delay: the tests below need the other thread asleep on its futex.
bool until_parked(const std::atomic<uint32_t>& word)
{
    const int64_t end = detail::now_ns() + generous_ns;
    while (word.load(std::memory_order_seq_cst) == 0)
        if (detail::now_ns() > end)
            return false;
        else
            std::this_thread::sleep_for(std::chrono::microseconds(200));
    return true;
}

/// The kernel's state letter of thread `tid` of this process ('S': asleep).
char thread_state(int tid)
{
    char path[64];
    std::snprintf(path, sizeof path, "/proc/self/task/%d/stat", tid);
    FILE* f = std::fopen(path, "re");
    if (!f)
        return '?';
    char buf[512];
    const size_t n = std::fread(buf, 1, sizeof buf - 1, f);
    std::fclose(f);
    buf[n] = '\0';
    const char* p = std::strrchr(buf, ')');
    return p && p[1] == ' ' ? p[2] : '?';
}

/// Until `word` reads 1 and thread `tid` has been asleep at two looks a
/// millisecond apart (bounded by generous_ns): the side parked and is past
/// its re-check, asleep on its futex. until_parked() alone is not enough for
/// a test that then publishes without waking: the side may still be between
/// announcing and re-checking (the membarrier handshake's barrier is a
/// syscall there) and find the data without having slept.
bool until_asleep(const std::atomic<uint32_t>& word, const std::atomic<int>& tid)
{
    const int64_t end = detail::now_ns() + generous_ns;
    while (detail::now_ns() < end) {
        if (word.load(std::memory_order_seq_cst) != 0 && tid.load() != 0 &&
            thread_state(tid.load()) == 'S') {
            std::this_thread::sleep_for(std::chrono::milliseconds(1));
            if (word.load(std::memory_order_seq_cst) != 0 &&
                thread_state(tid.load()) == 'S')
                return true;
        }
        std::this_thread::sleep_for(std::chrono::microseconds(200));
    }
    return false;
}

/// A random short pause (0 to ~20 us, often none), busy, so the other side
/// sometimes finds us gone and parks, sometimes catches us spinning.
void jitter(rng& g)
{
    const uint64_t x = g.next();
    if (x & 1)
        return;
    const int64_t end = detail::now_ns() + int64_t((x >> 8) % 20'000);
    while (detail::now_ns() < end) { }
}

/// The room a producer parked for room is woken for (ring::wait_space).
template <class T>
uint64_t low_water(const ring<T>& r)
{
    return r.capacity() / 8;
}

/// Samples `word` for `ms` milliseconds: true if it was never 0 (a side
/// stayed parked).
bool stays_nonzero(const std::atomic<uint32_t>& word, int ms)
{
    bool set = true;
    for (int i = 0; i < ms; ++i) {
        set = set && word.load(std::memory_order_seq_cst) != 0;
        std::this_thread::sleep_for(std::chrono::milliseconds(1));
    }
    return set;
}

std::atomic<uint64_t> parks { 0 }, producer_parks { 0 };
thread_local bool producing_thread = false;
/// The park hook that counts parks (the producer's apart).
void count_park() noexcept
{
    parks.fetch_add(1, std::memory_order_relaxed);
    if (producing_thread)
        producer_parks.fetch_add(1, std::memory_order_relaxed);
}

/// Rounds for the stress tests: DOPPLER_QA_SCALE scales them (sanitizers).
uint64_t rounds(uint64_t n)
{
    return std::max<uint64_t>(1000, uint64_t(n * scale()));
}

} // namespace

// ---------------------------------------------------------------------------
// The counter counts: each kind of wake left out on purpose
// ---------------------------------------------------------------------------
// The first three tests mirror each other on purpose: one side parked the
// same way, then one kind of wake left out (a publish, a close, a consume).

BOOST_AUTO_TEST_CASE(a_publish_that_wakes_nobody_is_counted_as_a_missed_wake)
{
    ring<f32> r(1);
    control* c = r.seg()->ctl();
    status got = status::invalid;
    std::atomic<int> tid { 0 };
    std::thread consumer([&] {
        tid = int(gettid());
        got = r.wait(1, generous_ns).why;
    });
    BOOST_REQUIRE(until_asleep(c->readers[0].parked, tid));
    // Publish one sample the way a broken producer would: index stored, no wake.
    c->write_idx.store(1, std::memory_order_seq_cst);
    consumer.join();
    BOOST_TEST(got == status::ok); // found after its slice ran out
    BOOST_TEST(r.missed_wakes() == 1u);
}

BOOST_AUTO_TEST_CASE(a_close_that_wakes_nobody_is_counted_as_a_missed_wake)
{
    ring<f32> r(1);
    control* c = r.seg()->ctl();
    auto a = seq<f32>(0, 1);
    BOOST_REQUIRE(r.write(a.data(), 1)); // stream 1 holds one sample
    status got = status::invalid;
    std::atomic<int> tid { 0 };
    std::thread consumer([&] {
        tid = int(gettid());
        got = r.wait(2, generous_ns).why;
    });
    BOOST_REQUIRE(until_asleep(c->readers[0].parked, tid));
    // Closed the way a broken producer would: the end recorded, nobody woken.
    detail::end_stream(c, 1, 1, stream_end::closed);
    c->closed.store(1, std::memory_order_seq_cst);
    consumer.join();
    BOOST_TEST(got == status::end_of_stream);
    BOOST_TEST(r.missed_wakes() == 1u);
}

BOOST_AUTO_TEST_CASE(a_consume_that_wakes_nobody_is_counted_as_a_missed_wake)
{
    ring<f64> r(1);
    control* c = r.seg()->ctl();
    auto a = seq<f64>(0, r.capacity() + 1);
    BOOST_REQUIRE(r.write(a.data(), r.capacity())); // full
    status got = status::invalid;
    std::atomic<int> tid { 0 };
    std::thread producer([&] {
        tid = int(gettid());
        got = r.write_blocking(a.data() + r.capacity(), 1, generous_ns);
    });
    BOOST_REQUIRE(until_asleep(c->producer_parked, tid));
    // Room up to the producer's low water mark, nobody woken.
    c->readers[0].read_idx.store(low_water(r), std::memory_order_seq_cst);
    producer.join();
    BOOST_TEST(got == status::ok);
    BOOST_TEST(r.missed_wakes() == 1u);
}

BOOST_AUTO_TEST_CASE(a_producer_about_to_park_wakes_a_parked_reader_its_samples_satisfy)
{
    // A reader announced in the mask, asleep for samples that are already
    // published: what is left when its barrier did not order the last
    // publish before its own look (seen with membarrier on a virtualised
    // kernel). A producer that parks for room wakes it, behind the full
    // fence of its own announcement, rather than both sides sleeping.
    ring<f32> r(1);
    control* c = r.seg()->ctl();
    auto a = seq<f32>(0, r.capacity());
    BOOST_REQUIRE(r.write(a.data(), r.capacity())); // full
    reader_slot& me = c->readers[0];
    me.wake_at.store(4, std::memory_order_relaxed);
    me.parked.store(1, std::memory_order_relaxed);
    c->parked_mask.fetch_or(1u, std::memory_order_seq_cst);
    BOOST_TEST(r.wait_space(1, 1'000'000) ==
               status::timeout); // parks for room, none comes
    BOOST_TEST(me.parked.load(std::memory_order_seq_cst) == 0u,
               "the parking producer left the reader asleep");
    c->parked_mask.fetch_and(~1u, std::memory_order_seq_cst);
}

BOOST_AUTO_TEST_CASE(the_counter_is_shared_by_every_handle_and_the_c_abi)
{
    const std::string name = unique_name("missed");
    auto b = dp_buffer_f32_create_named(name.c_str(), 1);
    BOOST_REQUIRE(b);
    BOOST_TEST(dp_buffer_f32_missed_wakes(b) == 0u);
    auto peer = ring<f32>::attach(name);
    peer->seg()->ctl()->missed_wakes.store(3, std::memory_order_relaxed);
    BOOST_TEST(dp_buffer_f32_missed_wakes(b) == 3u);
    BOOST_TEST(peer->missed_wakes() == 3u);
    dp_buffer_f32_destroy(b);
}

// ---------------------------------------------------------------------------
// Waking that works: parked sides are always woken, nothing is counted
// ---------------------------------------------------------------------------

BOOST_AUTO_TEST_CASE(a_commit_wakes_a_parked_consumer)
{
    ring<f32> r(1);
    status got = status::invalid;
    std::thread consumer([&] { got = r.wait(3, generous_ns).why; });
    BOOST_REQUIRE(until_parked(r.seg()->ctl()->readers[0].parked));
    auto a = seq<f32>(0, 3);
    BOOST_REQUIRE(r.write(a.data(), 3));
    consumer.join();
    BOOST_TEST(got == status::ok);
    BOOST_TEST(r.missed_wakes() == 0u);
}

BOOST_AUTO_TEST_CASE(a_write_of_what_a_parked_reader_waits_for_wakes_it_before_returning)
{
    // The wake (detail::wake) clears the reader's wake word in the writing
    // thread, before write() returns. A reader left to find the samples when
    // its park slice runs out clears it itself only as it leaves, more than
    // a second later (note_if_missed). Two writes: the first (the slow path,
    // which starts the stream) and a plain one (the inline path, hot.h).
    ring<f32> r(1);
    control* c = r.seg()->ctl();
    parks = 0;
    detail::set_park_hook(count_park);
    uint64_t k = 0;
    for (const uint64_t n : { 3, 5 }) {
        status got = status::invalid;
        std::atomic<int> tid { 0 };
        std::thread consumer([&] {
            tid = int(gettid());
            const auto v = r.wait(n, generous_ns);
            got = v.why;
            if (v && !r.consume(n))
                got = status::invalid;
        });
        BOOST_REQUIRE(until_asleep(c->readers[0].parked, tid));
        const uint64_t parks_before = parks.load();
        auto a = seq<f32>(k, n);
        BOOST_REQUIRE(r.write(a.data(), n));
        const bool woken = c->readers[0].parked.load(std::memory_order_seq_cst) == 0;
        consumer.join();
        // A reader whose slice ran out just as the write came (a loaded
        // machine) announces itself again, which may set the word after the
        // wake cleared it; it then finds the samples at its re-check.
        BOOST_TEST((woken || parks.load() != parks_before),
                   "write of " << n << ": the reader was not woken");
        BOOST_TEST(got == status::ok);
        k += n;
    }
    detail::set_park_hook(nullptr);
    BOOST_TEST(r.missed_wakes() == 0u);
}

BOOST_AUTO_TEST_CASE(a_write_wakes_every_parked_reader_it_satisfies)
{
    // Two readers asleep for the same samples (slots 0 and 1): the one write
    // wakes both before it returns (as in the test above, one reader per
    // slot of the parked mask).
    const std::string name = unique_name("wake-both");
    auto producer = ring<f32>::create_named(name, 1);
    auto first = ring<f32>::attach(name), second = ring<f32>::attach(name);
    BOOST_REQUIRE(first->claim_reader());
    second->claim_reader("second");
    control* c = producer->seg()->ctl();
    parks = 0;
    detail::set_park_hook(count_park);
    const uint64_t n = 4;
    status got[2] = { status::invalid, status::invalid };
    std::atomic<int> tid[2] = { { 0 }, { 0 } };
    std::vector<std::thread> readers;
    ring<f32>* handle[2] = { first.get(), second.get() };
    for (int i = 0; i < 2; ++i)
        readers.emplace_back([&, i] {
            tid[i] = int(gettid());
            const auto v = handle[i]->wait(n, generous_ns);
            got[i] = v.why;
            if (v && !handle[i]->consume(n))
                got[i] = status::invalid;
        });
    for (int i = 0; i < 2; ++i)
        BOOST_REQUIRE(
            until_asleep(c->readers[handle[i]->reader_slot_index()].parked, tid[i]));
    const uint64_t parks_before = parks.load();
    auto a = seq<f32>(0, n);
    BOOST_REQUIRE(producer->write(a.data(), n));
    bool woken[2];
    for (int i = 0; i < 2; ++i)
        woken[i] = c->readers[handle[i]->reader_slot_index()].parked.load(
                       std::memory_order_seq_cst) == 0;
    for (auto& t : readers)
        t.join();
    detail::set_park_hook(nullptr);
    for (int i = 0; i < 2; ++i) {
        // (A reader whose slice ran out as the write came parks again: the
        // park hook tells that case apart, as above.)
        BOOST_TEST((woken[i] || parks.load() != parks_before),
                   "reader " << i << " was not woken");
        BOOST_TEST(got[i] == status::ok);
    }
}

BOOST_AUTO_TEST_CASE(a_consume_that_frees_an_eighth_of_the_ring_wakes_a_parked_producer)
{
    ring<f32> r(1);
    auto a = seq<f32>(0, r.capacity() + 5);
    BOOST_REQUIRE(r.write(a.data(), r.capacity()));
    status got = status::invalid;
    std::thread producer(
        [&] { got = r.write_blocking(a.data() + r.capacity(), 5, generous_ns); });
    BOOST_REQUIRE(until_parked(r.seg()->ctl()->producer_parked));
    BOOST_REQUIRE(r.wait(low_water(r), 0));
    BOOST_REQUIRE(r.consume(low_water(r)));
    producer.join();
    BOOST_TEST(got == status::ok);
    BOOST_TEST(r.written() == r.capacity() + 5);
    BOOST_TEST(r.missed_wakes() == 0u);
}

namespace {

/// A producer parked for its low water mark with room for what it needs, and
/// a reader that then waits for more samples than the ring holds: the
/// reader's park wakes the producer, which writes what fits.
void a_reader_short_of_samples_gets_them_from_a_producer_parked_for_more_room(
    wait_strategy how)
{
    ring<f32> r(1);
    control* c = r.seg()->ctl();
    const uint64_t cap = r.capacity();
    auto a = seq<f32>(0, cap + 5);
    BOOST_REQUIRE(r.write(a.data(), cap));
    status wrote = status::invalid;
    std::atomic<int> tid { 0 };
    std::thread producer([&] {
        tid = int(gettid());
        wrote = r.write_blocking(a.data() + cap, 5, generous_ns);
    });
    BOOST_REQUIRE(until_asleep(c->producer_parked, tid));
    BOOST_REQUIRE(r.wait(5, 0));
    BOOST_REQUIRE(r.consume(5)); // room for the producer's 5, below its mark
    r.set_wait_strategy(how);
    const auto v = r.wait(cap, 5'000'000'000); // 5 more than the ring holds
    producer.join();
    BOOST_TEST(v.why == status::ok);
    BOOST_TEST(wrote == status::ok);
    if (v)
        BOOST_TEST(first_mismatch(v.data, cap, 5) == cap);
    // Woken, not found at the end of a slice (that would be counted).
    BOOST_TEST(r.missed_wakes() == 0u);
}

} // namespace

BOOST_AUTO_TEST_CASE(
    a_parked_reader_short_of_samples_gets_them_from_a_producer_parked_for_more_room)
{
    a_reader_short_of_samples_gets_them_from_a_producer_parked_for_more_room(
        wait_strategy::park);
}

BOOST_AUTO_TEST_CASE(
    a_polling_reader_short_of_samples_gets_them_from_a_producer_parked_for_more_room)
{
    a_reader_short_of_samples_gets_them_from_a_producer_parked_for_more_room(
        wait_strategy::poll);
}

BOOST_AUTO_TEST_CASE(close_wakes_a_parked_consumer)
{
    ring<f32> r(1);
    status got = status::ok;
    std::thread consumer([&] { got = r.wait(1, generous_ns).why; });
    BOOST_REQUIRE(until_parked(r.seg()->ctl()->readers[0].parked));
    r.close();
    consumer.join();
    BOOST_TEST(got == status::end_of_stream);
    BOOST_TEST(r.missed_wakes() == 0u);
}

// ---------------------------------------------------------------------------
// The park handshake's window, held open: a side that announced its park and
// has not yet re-checked must still be woken (or find the data) when the
// other side publishes right then. detail::set_park_hook holds the waiter in
// that window until the other side has published, so a wait that checks
// before announcing (the classic lost wake-up) loses this wake every time.
// ---------------------------------------------------------------------------

namespace {

/// 0: no waiter in the window yet; 1: a waiter is held there; 2: the other
/// side has published, the waiter may go on.
std::atomic<int> window { 0 };
/// detail::process_barriers() when the waiter was held: what it had issued
/// before announcing itself.
std::atomic<uint64_t> barriers_in_window { 0 };

void hold_in_window() noexcept
{
    int idle = 0;
    if (!window.compare_exchange_strong(idle, 1))
        return; // only the first park is held
    barriers_in_window.store(detail::process_barriers());
    const int64_t end = detail::now_ns() + generous_ns;
    while (window.load() != 2 && detail::now_ns() < end)
        std::this_thread::yield();
}

/// Runs `publish` once a waiter is held in the window, then lets it go.
std::thread publish_in_window(std::function<void()> publish)
{
    window.store(0);
    detail::set_park_hook(hold_in_window);
    return std::thread([publish] {
        const int64_t end = detail::now_ns() + generous_ns;
        while (window.load() != 1 && detail::now_ns() < end)
            std::this_thread::yield();
        publish();
        window.store(2);
    });
}

} // namespace

BOOST_AUTO_TEST_CASE(
    a_publish_between_announcing_and_rechecking_still_reaches_the_consumer)
{
    ring<f32> r(1);
    auto a = seq<f32>(0, 1);
    std::thread producer = publish_in_window([&] { BOOST_TEST(r.write(a.data(), 1)); });
    const auto v = r.wait(1, generous_ns);
    producer.join();
    detail::set_park_hook(nullptr);
    BOOST_TEST(window.load() == 2); // the wait really parked inside the window
    BOOST_TEST(v.why == status::ok);
    BOOST_TEST(r.missed_wakes() == 0u);
}

BOOST_AUTO_TEST_CASE(
    a_consume_between_announcing_and_rechecking_still_reaches_the_producer)
{
    ring<f32> r(1);
    auto a = seq<f32>(0, r.capacity() + 1);
    BOOST_REQUIRE(r.write(a.data(), r.capacity()));
    BOOST_REQUIRE(r.wait(low_water(r), 0));
    std::thread consumer =
        publish_in_window([&] { BOOST_TEST(r.consume(low_water(r))); });
    const status got = r.write_blocking(a.data() + r.capacity(), 1, generous_ns);
    consumer.join();
    detail::set_park_hook(nullptr);
    BOOST_TEST(window.load() == 2);
    BOOST_TEST(got == status::ok);
    BOOST_TEST(r.missed_wakes() == 0u);
}

// ---------------------------------------------------------------------------
// The handshake: which one a ring gets, and where the membarrier one issues
// its barrier (after the announcement, before the re-check, on both sides)
// ---------------------------------------------------------------------------

BOOST_AUTO_TEST_CASE(rings_get_the_handshake_the_environment_asks_for)
{
    const handshake want = expected_handshake();
    BOOST_TEST_MESSAGE(
        "handshake: " << (want == handshake::membarrier ? "membarrier" : "seq_cst"));
    BOOST_TEST(default_handshake() == want);
    ring<f32> r(1);
    BOOST_TEST(r.handshake() == want);
    BOOST_TEST(((r.seg()->ctl()->flags & ring_flag_membarrier) != 0) ==
               (want == handshake::membarrier));
}

BOOST_AUTO_TEST_CASE(a_handle_follows_its_rings_handshake_whatever_its_process_prefers)
{
    const handshake was = default_handshake();
    for (handshake made : { handshake::seq_cst, handshake::membarrier }) {
        set_default_handshake(made);
        const handshake got = default_handshake(); // membarrier may be unavailable
        const std::string name = unique_name("handshake");
        auto a = ring<f64>::create_named(name, 1);
        set_default_handshake(got == handshake::seq_cst ? handshake::membarrier
                                                        : handshake::seq_cst);
        auto b = ring<f64>::attach(name);
        BOOST_TEST(a->handshake() == got);
        BOOST_TEST(b->handshake() == got);
        // And they talk: a parked reader of one is woken by the other's write.
        status why = status::invalid;
        std::thread reader([&] { why = b->wait(2, generous_ns).why; });
        auto x = seq<f64>(0, 2);
        BOOST_REQUIRE(until_parked(a->seg()->ctl()->readers[0].parked));
        BOOST_REQUIRE(a->write(x.data(), 2));
        reader.join();
        BOOST_TEST(why == status::ok);
        BOOST_TEST(a->missed_wakes() == 0u);
    }
    set_default_handshake(was);
}

BOOST_AUTO_TEST_CASE(a_reader_park_issues_the_barrier_between_announcing_and_rechecking)
{
    ring<f32> r(1);
    const uint64_t before = detail::process_barriers();
    auto a = seq<f32>(0, 1);
    std::thread producer = publish_in_window([&] { BOOST_TEST(r.write(a.data(), 1)); });
    const auto v = r.wait(1, generous_ns);
    producer.join();
    detail::set_park_hook(nullptr);
    BOOST_REQUIRE(window.load() == 2);
    BOOST_TEST(v.why == status::ok);
    // None before the announcement (the spin issues none); exactly one after
    // it with the membarrier handshake, before the re-check that found the
    // sample (the wait returned without sleeping); none with seq_cst.
    BOOST_TEST(barriers_in_window.load() == before);
    BOOST_TEST(detail::process_barriers() - before ==
               (r.handshake() == handshake::membarrier ? 1u : 0u));
    BOOST_TEST(r.missed_wakes() == 0u);
}

BOOST_AUTO_TEST_CASE(a_producer_park_issues_the_barrier_between_announcing_and_rechecking)
{
    ring<f32> r(1);
    auto a = seq<f32>(0, r.capacity() + 1);
    BOOST_REQUIRE(r.write(a.data(), r.capacity()));
    BOOST_REQUIRE(r.wait(low_water(r), 0));
    const uint64_t before = detail::process_barriers();
    std::thread consumer =
        publish_in_window([&] { BOOST_TEST(r.consume(low_water(r))); });
    const status got = r.write_blocking(a.data() + r.capacity(), 1, generous_ns);
    consumer.join();
    detail::set_park_hook(nullptr);
    BOOST_REQUIRE(window.load() == 2);
    BOOST_TEST(got == status::ok);
    BOOST_TEST(barriers_in_window.load() == before);
    BOOST_TEST(detail::process_barriers() - before ==
               (r.handshake() == handshake::membarrier ? 1u : 0u));
    BOOST_TEST(r.missed_wakes() == 0u);
}

BOOST_AUTO_TEST_CASE(a_process_that_attaches_a_membarrier_ring_registers_for_its_barrier)
{
    // Its publishes carry no fence: without the registration a parked peer's
    // barrier would not reach it and a wake could be lost.
    const std::string name = unique_name("registered");
    auto r = ring<f32>::create_named(name, 1);
    BOOST_TEST(r->handshake() == expected_handshake());
    if (r->handshake() != handshake::membarrier)
        return; // nothing to register for
    char self[4096];
    const ssize_t n = readlink("/proc/self/exe", self, sizeof self - 1);
    BOOST_REQUIRE(n > 0);
    self[n] = '\0';
    const int rc = bounded_child(30, [&] {
        setenv("QA_REGISTRATION_OF", name.c_str(), 1);
        char* argv[] = { self, nullptr };
        execv(self, argv);
        return 4;
    });
    BOOST_TEST_MESSAGE("registration probe: " << rc);
    BOOST_TEST((rc == 0 || rc == 2)); // 2: a kernel before 6.3 cannot tell
}

// ---------------------------------------------------------------------------
// Busy-poll: never announced, never asleep, still ends as a park would
// ---------------------------------------------------------------------------

namespace {

/// Samples `word` for a while: true if it was 0 every time.
bool stays_zero(const std::atomic<uint32_t>& word, int ms)
{
    bool zero = true;
    for (int i = 0; i < ms; ++i) {
        zero = zero && word.load(std::memory_order_seq_cst) == 0;
        std::this_thread::sleep_for(std::chrono::milliseconds(1));
    }
    return zero;
}

} // namespace

BOOST_AUTO_TEST_CASE(a_smaller_consume_leaves_the_producer_parked_until_an_eighth_is_free)
{
    // The low water mark: a producer parked for room is not woken for every
    // few samples a reader frees; it then writes in large chunks.
    ring<f32> r(1);
    control* c = r.seg()->ctl();
    auto a = seq<f32>(0, r.capacity() + 5);
    BOOST_REQUIRE(r.write(a.data(), r.capacity()));
    status got = status::invalid;
    std::atomic<int> tid { 0 };
    const int64_t start = detail::now_ns();
    std::thread producer([&] {
        tid = int(gettid());
        got = r.write_blocking(a.data() + r.capacity(), 5, generous_ns);
    });
    BOOST_REQUIRE(until_asleep(c->producer_parked, tid));
    parks = 0;
    detail::set_park_hook(count_park);
    BOOST_REQUIRE(r.wait(5, 0));
    BOOST_REQUIRE(r.consume(5)); // room for the 5, below the mark
    BOOST_TEST(stays_nonzero(c->producer_parked, 30));
    detail::set_park_hook(nullptr);
    // Not even woken to park again: the only parks allowed are those after
    // a park slice (100 ms) that ran out on its own, none on a quick machine.
    const uint64_t slices = uint64_t((detail::now_ns() - start) / 100'000'000);
    BOOST_TEST(parks.load() <= slices);
    BOOST_TEST(r.written() == r.capacity());
    BOOST_REQUIRE(r.wait(low_water(r) - 5, 0));
    BOOST_REQUIRE(r.consume(low_water(r) - 5));
    producer.join();
    BOOST_TEST(got == status::ok);
    BOOST_TEST(r.written() == r.capacity() + 5);
    BOOST_TEST(r.missed_wakes() == 0u);
}

BOOST_AUTO_TEST_CASE(a_polling_reader_never_parks_and_gets_its_data)
{
    ring<f32> r(1);
    r.set_wait_strategy(wait_strategy::poll);
    BOOST_TEST(r.get_wait_strategy() == wait_strategy::poll);
    control* c = r.seg()->ctl();
    parks = 0;
    detail::set_park_hook(count_park);
    const uint64_t barriers = detail::process_barriers();
    status got = status::invalid;
    std::thread consumer([&] { got = r.wait(3, generous_ns).why; });
    // Announced in the mask (for a producer parked for room), never asleep.
    BOOST_TEST(stays_zero(c->readers[0].parked, 30));
    auto a = seq<f32>(0, 3);
    BOOST_REQUIRE(r.write(a.data(), 3));
    consumer.join();
    detail::set_park_hook(nullptr);
    BOOST_TEST(got == status::ok);
    BOOST_TEST(parks.load() == 0u);
    BOOST_TEST(detail::process_barriers() == barriers);
    BOOST_TEST(r.missed_wakes() == 0u);
}

BOOST_AUTO_TEST_CASE(a_polling_producer_never_parks_and_gets_its_room)
{
    ring<f32> r(1);
    auto a = seq<f32>(0, r.capacity() + 5);
    BOOST_REQUIRE(r.write(a.data(), r.capacity()));
    r.set_wait_strategy(wait_strategy::poll);
    parks = 0;
    detail::set_park_hook(count_park);
    status got = status::invalid;
    std::thread producer(
        [&] { got = r.write_blocking(a.data() + r.capacity(), 5, generous_ns); });
    BOOST_TEST(stays_zero(r.seg()->ctl()->producer_parked, 30));
    BOOST_REQUIRE(r.wait(low_water(r), 0));
    BOOST_REQUIRE(r.consume(low_water(r)));
    producer.join();
    detail::set_park_hook(nullptr);
    BOOST_TEST(got == status::ok);
    BOOST_TEST(r.written() == r.capacity() + 5);
    BOOST_TEST(parks.load() == 0u);
    BOOST_TEST(r.missed_wakes() == 0u);
}

BOOST_AUTO_TEST_CASE(a_polling_wait_ends_at_its_timeout_and_at_the_end_of_the_stream)
{
    ring<f32> r(1);
    r.set_wait_strategy(wait_strategy::poll);
    BOOST_TEST(r.wait(1, 20'000'000).why == status::timeout);
    auto a = seq<f32>(0, r.capacity());
    BOOST_REQUIRE(r.write(a.data(), r.capacity()));
    uint64_t done = 99;
    BOOST_TEST(r.write_blocking(a.data(), 1, 20'000'000, &done) == status::timeout);
    BOOST_TEST(done == 0u);
    BOOST_REQUIRE(r.wait(r.capacity(), 0));
    BOOST_REQUIRE(r.consume(r.capacity()));
    status got = status::invalid;
    std::thread consumer([&] { got = r.wait(4, generous_ns).why; });
    BOOST_REQUIRE(r.write(a.data(), 2));
    std::this_thread::sleep_for(std::chrono::milliseconds(5));
    r.close();
    consumer.join();
    BOOST_TEST(got == status::end_of_stream);
    BOOST_TEST(r.available() == 2u);
}

// ---------------------------------------------------------------------------
// Interrupts: a waiting side stops when its caller says so (doppler::interrupt)
// ---------------------------------------------------------------------------

namespace {

/// An interrupt that says stop once `stop` is set, counting how often it
/// was asked.
struct flag_interrupt {
    std::atomic<bool> stop { false };
    std::atomic<int> asked { 0 };
    bool operator()() noexcept
    {
        asked.fetch_add(1, std::memory_order_relaxed);
        return stop.load(std::memory_order_relaxed);
    }
};

} // namespace

BOOST_AUTO_TEST_CASE(a_parked_reader_stops_waiting_when_its_interrupt_says_so)
{
    ring<f32> r(1);
    flag_interrupt flag;
    status got = status::invalid;
    std::atomic<int> tid { 0 };
    std::thread consumer([&] {
        tid = int(gettid());
        got = r.wait(1, generous_ns, flag).why; // nothing is ever written
    });
    BOOST_REQUIRE(until_asleep(r.seg()->ctl()->readers[0].parked, tid));
    BOOST_TEST(flag.asked.load() >= 1); // before it parked
    flag.stop = true; // and nobody wakes it: the park asks again by itself
    consumer.join();
    BOOST_TEST(got == status::interrupted); // not the timeout, generous_ns away
    BOOST_TEST(r.seg()->ctl()->readers[0].parked.load() == 0u);
    BOOST_TEST(r.seg()->ctl()->parked_mask.load() == 0u);
    // The reader is as it was: the next sample is its next window.
    auto a = seq<f32>(0, 1);
    BOOST_REQUIRE(r.write(a.data(), 1));
    const auto v = r.wait(1, 0);
    BOOST_REQUIRE(v);
    BOOST_TEST(first_mismatch(v.data, 1, 0) == 1u);
    BOOST_TEST(r.missed_wakes() == 0u);
}

BOOST_AUTO_TEST_CASE(a_parked_producer_stops_waiting_when_its_interrupt_says_so)
{
    ring<f64> r(1);
    auto a = seq<f64>(0, r.capacity() + 5);
    BOOST_REQUIRE(r.write(a.data(), r.capacity())); // full; nobody consumes
    flag_interrupt flag;
    status got = status::invalid;
    uint64_t done = 99;
    std::atomic<int> tid { 0 };
    std::thread producer([&] {
        tid = int(gettid());
        got = r.write_blocking(
            a.data() + r.capacity(), 5, generous_ns, &done, nullptr, 0, flag);
    });
    BOOST_REQUIRE(until_asleep(r.seg()->ctl()->producer_parked, tid));
    BOOST_TEST(flag.asked.load() >= 1);
    flag.stop = true;
    producer.join();
    BOOST_TEST(got == status::interrupted);
    BOOST_TEST(done == 0u);
    BOOST_TEST(r.seg()->ctl()->producer_parked.load() == 0u);
    // The producer goes on where it stopped.
    BOOST_REQUIRE(r.wait(5, 0));
    BOOST_REQUIRE(r.consume(5));
    BOOST_TEST(r.write_blocking(a.data() + r.capacity(), 5, generous_ns) == status::ok);
    BOOST_TEST(r.written() == r.capacity() + 5);
    BOOST_TEST(r.missed_wakes() == 0u);
}

BOOST_AUTO_TEST_CASE(a_wait_space_stops_waiting_when_its_interrupt_says_so)
{
    ring<f32> r(1);
    auto a = seq<f32>(0, r.capacity());
    BOOST_REQUIRE(r.write(a.data(), r.capacity()));
    flag_interrupt flag;
    status got = status::invalid;
    std::atomic<int> tid { 0 };
    std::thread producer([&] {
        tid = int(gettid());
        got = r.wait_space(1, generous_ns, flag);
    });
    BOOST_REQUIRE(until_asleep(r.seg()->ctl()->producer_parked, tid));
    flag.stop = true;
    producer.join();
    BOOST_TEST(got == status::interrupted);
}

BOOST_AUTO_TEST_CASE(an_interrupt_that_already_says_stop_ends_a_wait_before_it_parks)
{
    ring<f32> r(1);
    auto a = seq<f32>(0, r.capacity());
    flag_interrupt flag;
    flag.stop = true;
    parks = 0;
    detail::set_park_hook(count_park);
    const auto v = r.wait(1, generous_ns, flag);
    BOOST_REQUIRE(r.write(a.data(), r.capacity()));
    uint64_t done = 99;
    const status w = r.write_blocking(a.data(), 1, generous_ns, &done, nullptr, 0, flag);
    detail::set_park_hook(nullptr);
    BOOST_TEST(v.why == status::interrupted);
    BOOST_TEST(w == status::interrupted);
    BOOST_TEST(done == 0u);
    BOOST_TEST(parks.load() == 0u); // neither side announced a park
}

BOOST_AUTO_TEST_CASE(a_wait_that_needs_no_park_never_asks_its_interrupt)
{
    ring<f32> r(1);
    auto a = seq<f32>(0, 4);
    BOOST_REQUIRE(r.write(a.data(), 2));
    flag_interrupt flag;
    flag.stop = true; // it would say stop, if asked
    BOOST_TEST(r.wait(2, generous_ns, flag).why == status::ok);
    BOOST_REQUIRE(r.consume(2));
    BOOST_TEST(r.write_blocking(a.data(), 4, generous_ns, nullptr, nullptr, 0, flag) ==
               status::ok);
    BOOST_TEST(flag.asked.load() == 0);
}

BOOST_AUTO_TEST_CASE(a_polling_side_stops_waiting_when_its_interrupt_says_so)
{
    ring<f32> r(1);
    r.set_wait_strategy(wait_strategy::poll);
    flag_interrupt flag;
    status read = status::invalid;
    std::thread consumer([&] { read = r.wait(1, generous_ns, flag).why; });
    const int64_t end = detail::now_ns() + generous_ns;
    while (flag.asked.load() == 0 && detail::now_ns() < end)
        std::this_thread::sleep_for(std::chrono::milliseconds(1));
    flag.stop = true;
    consumer.join();
    BOOST_TEST(read == status::interrupted);
    auto a = seq<f32>(0, r.capacity());
    BOOST_REQUIRE(r.write(a.data(), r.capacity()));
    BOOST_TEST(r.wait_space(1, generous_ns, flag) == status::interrupted);
}

BOOST_AUTO_TEST_CASE(a_close_asked_by_another_handle_ends_a_producer_s_wait_for_room)
{
    ring<f32> r(1);
    auto a = seq<f32>(0, r.capacity() + 1);
    BOOST_REQUIRE(r.write(a.data(), r.capacity())); // full; nobody consumes
    status got = status::invalid;
    std::atomic<int> tid { 0 };
    std::thread producer([&] {
        tid = int(gettid());
        got = r.write_blocking(a.data() + r.capacity(), 1, generous_ns);
    });
    BOOST_REQUIRE(until_asleep(r.seg()->ctl()->producer_parked, tid));
    ring<f32> other(r.seg());
    other.close(); // not the producer: asks the producer to end its stream
    producer.join();
    BOOST_TEST(got == status::end_of_stream);
    BOOST_TEST(r.closed());
    BOOST_TEST(r.missed_wakes() == 0u); // the request woke it
    // Its readers drain the stream and then see its end.
    BOOST_REQUIRE(r.wait(r.capacity(), 0));
    BOOST_REQUIRE(r.consume(r.capacity()));
    BOOST_TEST(r.wait(1, generous_ns).why == status::end_of_stream);
}

BOOST_AUTO_TEST_CASE(the_c_abi_sets_and_reports_the_wait_strategy)
{
    auto* b = dp_buffer_f32_create(1);
    BOOST_REQUIRE(b);
    BOOST_TEST(dp_buffer_f32_get_wait_strategy(b) == DP_WAIT_PARK);
    BOOST_TEST(dp_buffer_f32_set_wait_strategy(b, DP_WAIT_POLL));
    BOOST_TEST(dp_buffer_f32_get_wait_strategy(b) == DP_WAIT_POLL);
    errno = 0;
    BOOST_TEST(!dp_buffer_f32_set_wait_strategy(b, 7));
    BOOST_TEST(errno == EINVAL);
    BOOST_TEST(dp_buffer_f32_get_wait_strategy(b) == DP_WAIT_POLL);
    errno = 0;
    BOOST_TEST(!dp_buffer_f32_wait(b, 1, 1'000'000));
    BOOST_TEST(errno == ETIMEDOUT);
    dp_buffer_f32_destroy(b);
}

// ---------------------------------------------------------------------------
// The C ABI's inline calls wake and are woken like ring<T>
// ---------------------------------------------------------------------------

BOOST_AUTO_TEST_CASE(c_abi_a_write_wakes_a_parked_wait_and_a_consume_a_parked_write)
{
    const std::string name = unique_name("cwake");
    auto* p = dp_buffer_f64_create_named(name.c_str(), 1);
    BOOST_REQUIRE(p);
    auto* q = dp_buffer_f64_attach(name.c_str());
    BOOST_REQUIRE(q);
    auto peer = ring<f64>::attach(name); // to look at the wake words
    control* c = peer->seg()->ctl();
    const size_t cap = dp_buffer_f64_capacity(p);
    auto a = seq<f64>(0, 2 * cap);

    const dp_f64_t* got = nullptr;
    std::thread reader([&] { got = dp_buffer_f64_wait(q, 3, generous_ns); });
    BOOST_REQUIRE(until_parked(c->readers[0].parked));
    BOOST_REQUIRE(dp_buffer_f64_write(p, as_c(a.data()), 3));
    reader.join();
    BOOST_REQUIRE(got);
    BOOST_TEST(first_mismatch(as_cxx<f64>(got), 3, 0) == 3u);
    BOOST_REQUIRE(dp_buffer_f64_consume(q, 3));

    BOOST_REQUIRE(dp_buffer_f64_write_blocking(p, as_c(a.data() + 3), cap, 0) == cap);
    size_t wrote = 0;
    std::thread writer([&] {
        wrote = dp_buffer_f64_write_blocking(p, as_c(a.data() + 3 + cap), 2, generous_ns);
    });
    BOOST_REQUIRE(until_parked(c->producer_parked));
    BOOST_REQUIRE(dp_buffer_f64_wait(q, cap / 8, 0)); // the producer's low water mark
    BOOST_REQUIRE(dp_buffer_f64_consume(q, cap / 8));
    writer.join();
    BOOST_TEST(wrote == 2u);
    BOOST_TEST(dp_buffer_f64_written(p) == 5 + cap);
    BOOST_TEST(dp_buffer_f64_missed_wakes(p) == 0u);
    dp_buffer_f64_destroy(q);
    dp_buffer_f64_destroy(p);
}

BOOST_AUTO_TEST_CASE(c_abi_write_blocking_reports_what_it_wrote_and_why_it_stopped)
{
    auto* b = dp_buffer_i16_create(1);
    BOOST_REQUIRE(b);
    const size_t cap = dp_buffer_i16_capacity(b);
    auto a = seq<i16>(0, cap + 10);
    BOOST_TEST(dp_buffer_i16_write_blocking(b, as_c(a.data()), cap - 4, -1) == cap - 4);
    errno = 0;
    // 4 fit, the other 6 find no room within the timeout.
    BOOST_TEST(dp_buffer_i16_write_blocking(b, as_c(a.data() + cap - 4), 10, 1'000'000) ==
               4u);
    BOOST_TEST(errno == ETIMEDOUT);
    BOOST_TEST(dp_buffer_i16_written(b) == cap);
    BOOST_TEST(dp_buffer_i16_dropped(b) == 0u);
    dp_buffer_i16_close(b);
    errno = 0;
    BOOST_TEST(dp_buffer_i16_write_blocking(b, as_c(a.data()), 1, 0) == 0u);
    BOOST_TEST(errno == EPIPE);
    const i16* v = as_cxx<i16>(dp_buffer_i16_wait(b, cap, 0));
    BOOST_REQUIRE(v);
    BOOST_TEST(first_mismatch(v, cap, 0) == cap);
    dp_buffer_i16_destroy(b);
}

// ---------------------------------------------------------------------------
// Stress: many park/wake cycles on both sides, random short delays. Each test
// runs only if the plain cases it is made of passed; were one broken, its
// millions of waits would take hours to fail:
// - a write wakes a reader parked for it (wake_seen); without the wake every
//   park would end only at its slice, then a second of waiting for the late
//   wake (note_if_missed);
// - a producer parked for its low water mark writes what fits for a reader
//   waiting for more than the ring holds (room_for_short_reader), which the
//   tests whose reads go up to the capacity need; without it each such wait
//   would end only at its timeout, and the producer's next writes with it.
// ---------------------------------------------------------------------------

namespace {

constexpr const char* wake_seen =
    "a_write_of_what_a_parked_reader_waits_for_wakes_it_before_returning";
constexpr const char* room_for_short_reader =
    "a_parked_reader_short_of_samples_gets_them_from_a_producer_parked_for_more_room";

/// One producer (write_blocking, or write() of what there is room for, of
/// random sizes) and one consumer (waits of
/// random sizes up to the capacity, through wait() or poll() then wait()) on
/// a one-page ring, random short pauses on both sides so each keeps finding
/// the other gone and parks. Every wait must answer ok, every sample arrive
/// in order, and no wake be lost.
template <class T>
void stress(uint64_t total, uint64_t seed)
{
    ring<T> r(1);
    const uint64_t cap = r.capacity();
    uint64_t bad_writes = 0;
    std::thread producer([&] {
        rng g { seed };
        std::vector<T> buf(cap);
        uint64_t k = 0;
        while (k < total) {
            const uint64_t n = std::min(g.upto(g.next() & 1 ? 8 : cap), total - k);
            for (uint64_t i = 0; i < n; ++i)
                buf[i] = sample_of<T>(k + i);
            jitter(g);
            if (g.next() & 1) { // lossless write, copying what fits as room appears
                if (r.write_blocking(buf.data(), n, generous_ns) != status::ok)
                    ++bad_writes;
            } else { // the all-or-nothing write(), of what there is room for
                for (uint64_t done = 0; done < n;) {
                    if (r.wait_space(1, generous_ns) != status::ok) {
                        ++bad_writes;
                        break;
                    }
                    const uint64_t m = std::min(n - done, r.space(n - done));
                    if (!r.write(buf.data() + done, m)) {
                        ++bad_writes;
                        break;
                    }
                    done += m;
                }
            }
            k += n;
        }
        r.close();
    });
    rng g { seed * 3 + 1 };
    uint64_t k = 0, bad_waits = 0, wrong = 0, waits = 0;
    while (k < total) {
        const uint64_t n = std::min(g.upto(g.next() & 1 ? 8 : cap), total - k);
        jitter(g);
        typename ring<T>::view v { nullptr, status::timeout };
        if (g.next() & 1)
            v = r.poll(n);
        if (!v)
            v = r.wait(n, generous_ns);
        ++waits;
        if (!v) {
            ++bad_waits;
            break;
        }
        wrong += first_mismatch(v.data, n, k) != n;
        wrong += !r.consume(n);
        k += n;
    }
    const status end = r.wait(1, generous_ns).why; // after the last sample: closed
    producer.join();
    BOOST_TEST(bad_waits == 0u);
    BOOST_TEST(bad_writes == 0u);
    BOOST_TEST(wrong == 0u);
    BOOST_TEST(k == total);
    BOOST_TEST(end == status::end_of_stream);
    BOOST_TEST(r.dropped() == 0u);
    BOOST_TEST(r.missed_wakes() == 0u);
    BOOST_TEST_MESSAGE(waits << " waits, " << total << " samples");
}

} // namespace

BOOST_AUTO_TEST_CASE(park_wake_stress_f32_loses_no_wake,
                     *boost::unit_test::depends_on(wake_seen) *
                         boost::unit_test::depends_on(room_for_short_reader))
{
    stress<f32>(rounds(20'000'000), 0x9e3779b97f4a7c15ull);
}

BOOST_AUTO_TEST_CASE(park_wake_stress_i16_loses_no_wake,
                     *boost::unit_test::depends_on(wake_seen) *
                         boost::unit_test::depends_on(room_for_short_reader))
{
    stress<i16>(rounds(20'000'000), 0x2545f4914f6cdd1dull);
}

/// A ping-pong over two rings: each side writes one sample to the other and
/// then waits for the answer, so every round trip parks both sides unless the
/// answer comes within the spin. Random pauses shift who parks first.
BOOST_AUTO_TEST_CASE(ping_pong_parks_both_sides_and_loses_no_wake,
                     *boost::unit_test::depends_on(wake_seen))
{
    ring<i16> ping(1), pong(1);
    const uint64_t n = rounds(100'000);
    uint64_t bad = 0;
    std::string why; // what went wrong first on the other side
    std::thread other([&] {
        rng g { 77 };
        for (uint64_t i = 0; i < n; ++i) {
            auto v = ping.wait(1, generous_ns);
            if (!v || !same(v.data[0], sample_of<i16>(i))) {
                why = "round " + std::to_string(i) + ": wait " + status_name(v.why);
                ++bad;
                break;
            }
            if (!ping.consume(1)) {
                why = "round " + std::to_string(i) + ": consume";
                ++bad;
                break;
            }
            jitter(g);
            const i16 s = sample_of<i16>(i);
            const status st = pong.write_blocking(&s, 1, generous_ns);
            if (st != status::ok) {
                why = "round " + std::to_string(i) + ": write " + status_name(st);
                ++bad;
                break;
            }
        }
    });
    rng g { 78 };
    uint64_t i = 0, bad_here = 0;
    for (; i < n; ++i) {
        const i16 s = sample_of<i16>(i);
        if (ping.write_blocking(&s, 1, generous_ns) != status::ok)
            break;
        jitter(g);
        auto v = pong.wait(1, generous_ns);
        if (!v || !same(v.data[0], sample_of<i16>(i))) {
            ++bad_here;
            break;
        }
        if (!pong.consume(1)) {
            ++bad_here;
            break;
        }
    }
    other.join();
    BOOST_TEST(i == n);
    BOOST_TEST(bad == 0u, why);
    BOOST_TEST(bad_here == 0u);
    BOOST_TEST(ping.missed_wakes() == 0u);
    BOOST_TEST(pong.missed_wakes() == 0u);
}

/// Close while the consumer is parked (or about to park): end of stream
/// arrives through a wake every time, never through a slice running out.
BOOST_AUTO_TEST_CASE(close_while_parked_wakes_every_time)
{
    const uint64_t n = rounds(3000);
    uint64_t wrong = 0, missed = 0;
    rng g { 99 };
    for (uint64_t i = 0; i < n; ++i) {
        ring<f32> r(1);
        const uint64_t have = g.next() % 4; // 0..3 samples there, 4 wanted
        auto a = seq<f32>(0, have);
        if (have)
            BOOST_REQUIRE(r.write(a.data(), have));
        status got = status::invalid;
        std::thread consumer([&] { got = r.wait(4, generous_ns).why; });
        rng h { g.next() | 1 };
        jitter(h);
        r.close();
        consumer.join();
        wrong += got != status::end_of_stream;
        missed += r.missed_wakes();
    }
    BOOST_TEST(wrong == 0u);
    BOOST_TEST(missed == 0u);
}

/// Park/wake cycles by the hundred thousand, counted: a producer and a reader
/// on a 256-sample ring, each pausing at random (half the time not at all,
/// otherwise up to a few microseconds) so that each keeps finding the ring
/// empty or full and parks. Every park is counted where it announces itself
/// (the park hook), so the count says how often the handshake ran, on which
/// side. Every sample must arrive in order, every write and wait succeed, and
/// no wake be lost. CTest runs it once per handshake.
///
/// Two phases. The spin before a park adapts: it grows while the peer keeps
/// answering within it, so with the real spin short pauses soon stop causing
/// parks (a few thousand a second here, fewer in a sanitizer build, where
/// each spin round costs more). So the first phase holds the spin at its
/// floor (detail::set_spin_ceiling) and nearly every empty or full ring
/// parks: the many cycles, 12 s or 2 million parks (both scaled by
/// DOPPLER_QA_SCALE): about 200 thousand with the membarrier handshake here,
/// whose barrier costs the parking side most of the cycle, and 500 thousand
/// with seq_cst; DOPPLER_QA_SCALE=10 makes it millions. The second phase,
/// 8 s, runs the adaptive spin as shipped, with one pause in 64 up to 1 ms
/// (longer than the longest spin, which shrinks it). Each phase must show
/// parks on both sides; a slow machine runs a phase on (70 s at most) until
/// it does.
BOOST_AUTO_TEST_CASE(park_wake_cycles_by_the_hundred_thousand_lose_no_wake,
                     *boost::unit_test::depends_on(wake_seen) *
                         boost::unit_test::depends_on(room_for_short_reader))
{
    const uint64_t target = rounds(2'000'000);
    constexpr uint64_t reader_floor = 1000, producer_floor = 100;
    struct phase_count {
        uint64_t reader = 0, producer = 0;
    };
    phase_count held, adaptive; // parks in each phase
    auto count_now = [] {
        const uint64_t all = parks.load(std::memory_order_relaxed);
        const uint64_t by_producer = producer_parks.load(std::memory_order_relaxed);
        return phase_count { all - by_producer, by_producer };
    };
    auto since = [](phase_count now, phase_count start) {
        return phase_count { now.reader - start.reader, now.producer - start.producer };
    };
    auto floors_met = [&](phase_count c) {
        return c.reader >= reader_floor && c.producer >= producer_floor;
    };
    // The phase clock runs in the producer's thread, which also ends the run.
    auto run_phase = [&](int64_t soft_ns, uint64_t most_parks) {
        const phase_count start = count_now();
        const int64_t soft = detail::now_ns() + int64_t(double(soft_ns) * scale());
        const int64_t hard = soft + 70'000'000'000;
        return [=, &count_now, &since, &floors_met] {
            const phase_count c = since(count_now(), start);
            const int64_t now = detail::now_ns();
            if (c.reader + c.producer >= most_parks && floors_met(c))
                return true;
            return now >= hard || (now >= soft && floors_met(c));
        };
    };
    ring<f64> r(1);
    const uint64_t cap = r.capacity();
    parks = 0;
    producer_parks = 0;
    detail::set_park_hook(count_park);
    // Half the time no pause; otherwise up to 4 us (long enough for a short
    // spin to run out, short enough for many cycles a second), and in the
    // adaptive phase one pause in 64 up to 1 ms (most longer than any spin).
    std::atomic<bool> long_pauses { false };
    auto pause = [&long_pauses](rng& g) {
        const uint64_t x = g.next();
        if (x & 1)
            return;
        const uint64_t most =
            (x >> 1) % 64 == 0 && long_pauses.load(std::memory_order_relaxed) ? 1'000'000
                                                                              : 4000;
        const int64_t end = detail::now_ns() + int64_t((x >> 8) % most);
        while (detail::now_ns() < end) { }
    };
    // Mostly a few samples, now and then up to the whole ring (so the
    // producer fills it and parks for room).
    auto size = [cap](rng& g) { return g.upto(g.next() % 16 == 0 ? cap : 8); };
    std::atomic<uint64_t> produced { 0 };
    uint64_t bad_writes = 0;
    std::thread producer([&] {
        producing_thread = true;
        rng g { 0x51ed270b27a6b5f1ull };
        std::vector<f64> buf(cap);
        uint64_t k = 0;
        auto step = [&] {
            const uint64_t n = size(g);
            for (uint64_t i = 0; i < n; ++i)
                buf[i] = sample_of<f64>(k + i);
            pause(g);
            if (r.write_blocking(buf.data(), n, generous_ns) != status::ok) {
                ++bad_writes;
                return false;
            }
            k += n;
            return true;
        };
        detail::set_spin_ceiling(detail::spin_floor);
        phase_count at = count_now();
        for (auto done = run_phase(12'000'000'000, target); !done() && step();) { }
        held = since(count_now(), at);
        detail::set_spin_ceiling(0);
        long_pauses = true;
        at = count_now();
        for (auto done = run_phase(8'000'000'000, UINT64_MAX); !done() && step();) { }
        adaptive = since(count_now(), at);
        produced = k;
        r.close();
    });
    rng g { 0x2b992ddfa23249d6ull };
    uint64_t k = 0, wrong = 0;
    status end = status::ok;
    for (;;) {
        const uint64_t n = size(g);
        pause(g);
        auto v = r.wait(n, generous_ns);
        if (!v) {
            end = v.why;
            const uint64_t rest = r.available(); // fewer than n: the stream's last
            if (end == status::end_of_stream && rest > 0) {
                v = r.wait(rest, 0);
                wrong +=
                    !v || first_mismatch(v.data, rest, k) != rest || !r.consume(rest);
                k += rest;
            }
            break;
        }
        wrong += first_mismatch(v.data, n, k) != n;
        wrong += !r.consume(n);
        k += n;
    }
    producer.join();
    detail::set_park_hook(nullptr);
    BOOST_TEST_MESSAGE("spin held at its floor: "
                       << held.reader << " reader and " << held.producer
                       << " producer parks; adaptive spin: " << adaptive.reader << " and "
                       << adaptive.producer << "; " << k << " samples");
    BOOST_TEST(end == status::end_of_stream);
    BOOST_TEST(k == produced.load());
    BOOST_TEST(wrong == 0u);
    BOOST_TEST(bad_writes == 0u);
    // It did run the handshake, on both sides, in both phases (these floors
    // only rule out "never"; the counts are in the log).
    BOOST_TEST(floors_met(held), "spin held: " << held.reader << ", " << held.producer);
    BOOST_TEST(floors_met(adaptive),
               "adaptive: " << adaptive.reader << ", " << adaptive.producer);
    BOOST_TEST(r.missed_wakes() == 0u);
}
