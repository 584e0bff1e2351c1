/* Waking (Boost.Test): a lost wake-up is a counted fact (control::missed_wakes),
 * not a delay nobody sees. First the counter itself (a publish, a consume or a
 * close that wakes nobody is counted), then park/wake stress on both sides
 * that must leave it at 0 with every wait answered ok.
 * SPDX-License-Identifier: GPL-3.0-or-later */
#define BOOST_TEST_MODULE doppler_wake
#include <boost/test/unit_test.hpp>

#include "qa_util.hpp"

#include <algorithm>
#include <chrono>
#include <functional>
#include <thread>
#include <vector>

using namespace doppler;
using namespace qa;

namespace {

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

/// Rounds for the stress tests: DOPPLER_QA_SCALE scales them (sanitizers).
uint64_t rounds(uint64_t n)
{
    return std::max<uint64_t>(1000, uint64_t(n * scale()));
}

} // namespace

// ---------------------------------------------------------------------------
// The counter counts: each kind of wake left out on purpose
// ---------------------------------------------------------------------------

BOOST_AUTO_TEST_CASE(a_publish_that_wakes_nobody_is_counted_as_a_missed_wake)
{
    ring<f32> r(1);
    control* c = r.seg()->ctl();
    status got = status::invalid;
    std::thread consumer([&] { got = r.wait(1, generous_ns).why; });
    BOOST_REQUIRE(until_parked(c->readers[0].parked));
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
    std::thread consumer([&] { got = r.wait(2, generous_ns).why; });
    BOOST_REQUIRE(until_parked(c->readers[0].parked));
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
    std::thread producer(
        [&] { got = r.write_blocking(a.data() + r.capacity(), 1, generous_ns); });
    BOOST_REQUIRE(until_parked(c->producer_parked));
    c->readers[0].read_idx.store(1, std::memory_order_seq_cst); // room, nobody woken
    producer.join();
    BOOST_TEST(got == status::ok);
    BOOST_TEST(r.missed_wakes() == 1u);
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

BOOST_AUTO_TEST_CASE(a_consume_wakes_a_parked_producer)
{
    ring<f32> r(1);
    auto a = seq<f32>(0, r.capacity() + 5);
    BOOST_REQUIRE(r.write(a.data(), r.capacity()));
    status got = status::invalid;
    std::thread producer(
        [&] { got = r.write_blocking(a.data() + r.capacity(), 5, generous_ns); });
    BOOST_REQUIRE(until_parked(r.seg()->ctl()->producer_parked));
    BOOST_REQUIRE(r.wait(5, 0));
    BOOST_REQUIRE(r.consume(5));
    producer.join();
    BOOST_TEST(got == status::ok);
    BOOST_TEST(r.written() == r.capacity() + 5);
    BOOST_TEST(r.missed_wakes() == 0u);
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

void hold_in_window() noexcept
{
    int idle = 0;
    if (!window.compare_exchange_strong(idle, 1))
        return; // only the first park is held
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
    BOOST_REQUIRE(r.wait(1, 0));
    std::thread consumer = publish_in_window([&] { BOOST_TEST(r.consume(1)); });
    const status got = r.write_blocking(a.data() + r.capacity(), 1, generous_ns);
    consumer.join();
    detail::set_park_hook(nullptr);
    BOOST_TEST(window.load() == 2);
    BOOST_TEST(got == status::ok);
    BOOST_TEST(r.missed_wakes() == 0u);
}

// ---------------------------------------------------------------------------
// Stress: many park/wake cycles on both sides, random short delays
// ---------------------------------------------------------------------------

namespace {

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

BOOST_AUTO_TEST_CASE(park_wake_stress_f32_loses_no_wake)
{
    stress<f32>(rounds(20'000'000), 0x9e3779b97f4a7c15ull);
}

BOOST_AUTO_TEST_CASE(park_wake_stress_i16_loses_no_wake)
{
    stress<i16>(rounds(20'000'000), 0x2545f4914f6cdd1dull);
}

/// A ping-pong over two rings: each side writes one sample to the other and
/// then waits for the answer, so every round trip parks both sides unless the
/// answer comes within the spin. Random pauses shift who parks first.
BOOST_AUTO_TEST_CASE(ping_pong_parks_both_sides_and_loses_no_wake)
{
    ring<i16> ping(1), pong(1);
    const uint64_t n = rounds(100'000);
    uint64_t bad = 0;
    std::thread other([&] {
        rng g { 77 };
        for (uint64_t i = 0; i < n; ++i) {
            auto v = ping.wait(1, generous_ns);
            if (!v || !same(v.data[0], sample_of<i16>(i))) {
                ++bad;
                break;
            }
            if (!ping.consume(1)) {
                ++bad;
                break;
            }
            jitter(g);
            const i16 s = sample_of<i16>(i);
            if (pong.write_blocking(&s, 1, generous_ns) != status::ok) {
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
    BOOST_TEST(bad == 0u);
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
