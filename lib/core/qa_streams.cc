/* Streams (Boost.Test): a ring carries a sequence of producer runs; a reader
 * attached once receives each run in order, an end between runs, never a
 * view across a seam; a killed producer's run ends as broken at the seam.
 * Children run only ring code and leave with _exit.
 * SPDX-License-Identifier: GPL-3.0-or-later */
#define BOOST_TEST_MODULE doppler_streams
#include <boost/test/unit_test.hpp>

#include "qa_proc.hpp"
#include "qa_util.hpp"

#include <signal.h>

#include <memory>
#include <thread>
#include <vector>

using namespace doppler;
using namespace qa;

namespace {

/// The stream numbers of the ("stream_start", n) tags in the last window.
template <class T>
std::vector<std::pair<uint64_t, uint64_t>> stream_starts(ring<T>& r)
{
    std::vector<std::pair<uint64_t, uint64_t>> out;
    tag_cursor c = r.tags();
    tag_view t;
    while (c.next(t))
        if (t.key == tag_stream_start && t.value.type() == value_type::uint64)
            out.emplace_back(t.index, t.value.as_uint64());
    return out;
}

/// One producer run on ring `name` by a handle of its own: samples `first`
/// to `first + n - 1`, then the handle leaves, which closes its stream.
template <class T>
void one_run(const std::string& name, uint64_t first, size_t n)
{
    auto p = ring<T>::attach(name);
    auto a = seq<T>(first, n);
    BOOST_REQUIRE(p->write(a.data(), n));
}

} // namespace

BOOST_AUTO_TEST_CASE(
    three_producer_runs_reach_one_attached_reader_in_order_with_an_end_between)
{
    const std::string name = unique_name("runs");
    auto reader = ring<f32>::create_named(name, 1 << 14);
    BOOST_REQUIRE(reader->claim_reader());
    const uint64_t run_len[3] = { 10'000, 777, 54'321 };
    uint64_t first = 0;
    for (int run = 0; run < 3; ++run) {
        const uint64_t n = run_len[run];
        pid_t child = spawn([&] {
            auto p = ring<f32>::attach(name);
            for (uint64_t k = 0; k < n;) { // lossless, in chunks of up to 1000
                const uint64_t m = std::min<uint64_t>(1000, n - k);
                auto a = seq<f32>(first + k, m);
                if (p->write_blocking(a.data(), m, generous_ns) != status::ok)
                    return 2;
                k += m;
            }
            return 0; // the handle's destructor ends the stream (closed)
        });
        // Read the run in views of 300: the last view of a run is short, and
        // must never reach into the next run.
        uint64_t got = 0;
        bool saw_start = false;
        for (;;) {
            auto v = reader->wait(300, generous_ns);
            if (!v) {
                BOOST_REQUIRE(v.why == status::end_of_stream);
                const uint64_t rest = reader->available();
                if (rest == 0)
                    break;
                v = reader->wait(rest, 0);
                BOOST_REQUIRE(v);
                BOOST_TEST(first_mismatch(v.data, rest, first + got) == rest);
                got += rest;
                BOOST_TEST(reader->consume(rest));
                break; // the seam is reported once: the next wait is the next run's
            }
            BOOST_TEST(reader->stream() == uint64_t(run + 1));
            BOOST_TEST(first_mismatch(v.data, 300, first + got) == 300u);
            for (auto [index, s] : stream_starts(*reader)) {
                BOOST_TEST(index == first);
                BOOST_TEST(s == uint64_t(run + 1));
                saw_start = true;
            }
            got += 300;
            BOOST_TEST(reader->consume(300));
        }
        BOOST_TEST(got == n);
        BOOST_TEST(saw_start);
        BOOST_TEST(reap(child) == 0);
        first += n;
    }
}

BOOST_AUTO_TEST_CASE(
    a_killed_producer_ends_its_stream_as_broken_and_the_next_run_starts_cleanly)
{
    const std::string name = unique_name("killed");
    auto reader = ring<i16>::create_named(name, 1);
    BOOST_REQUIRE(reader->claim_reader());
    const pid_t child = spawn_holder([&] {
        auto* p = ring<i16>::attach(name).release(); // leaked: it dies holding the role
        auto a = seq<i16>(0, 100);
        return p->write(a.data(), 100);
    });
    BOOST_REQUIRE(kill(child, SIGKILL) == 0);
    BOOST_TEST(reap(child) == 128 + SIGKILL);

    auto v = reader->wait(60, generous_ns);
    BOOST_REQUIRE(v);
    BOOST_TEST(reader->consume(60));
    BOOST_TEST(reader->wait(60, generous_ns).why == status::broken); // 40 left
    v = reader->wait(40, 0); // drain them
    BOOST_REQUIRE(v);
    BOOST_TEST(first_mismatch(v.data, 40, 60) == 40u);
    BOOST_TEST(reader->consume(40));

    // The next run, in this process: its first write records the dead
    // stream's end as broken, at the index where it stopped.
    auto next = ring<i16>::attach(name);
    auto b = seq<i16>(1000, 50);
    BOOST_REQUIRE(next->write(b.data(), 50));
    BOOST_TEST(next->producer_stream() == 2u);
    detail::stream_info si;
    BOOST_REQUIRE(detail::read_seam(reader->seg()->ctl(), 1, si));
    BOOST_TEST(si.end == 100u);
    BOOST_TEST(bool(si.why == stream_end::broken));

    v = reader->wait(50, generous_ns); // reported once: the new run, from its start
    BOOST_REQUIRE(v);
    BOOST_TEST(first_mismatch(v.data, 50, 1000) == 50u);
    BOOST_TEST(reader->stream() == 2u);
    const auto starts = stream_starts(*reader);
    BOOST_REQUIRE(starts.size() == 1u);
    BOOST_TEST(starts[0].first == 100u);
    BOOST_TEST(starts[0].second == 2u);
}

BOOST_AUTO_TEST_CASE(
    a_view_never_spans_a_seam_and_available_counts_only_the_readers_stream)
{
    auto creator = ring<f64>::create_named(unique_name("seam"), 1);
    const std::string name = creator->seg()->name();
    auto reader = ring<f64>::attach(name);
    one_run<f64>(name, 0, 30);
    one_run<f64>(name, 30, 70);
    BOOST_TEST(reader->written() == 100u);
    BOOST_TEST(reader->available() == 30u); // all there, but only 30 are stream 1's
    BOOST_TEST(reader->wait(40, 0).why == status::end_of_stream);
    auto v = reader->wait(30, 0);
    BOOST_REQUIRE(v);
    BOOST_TEST(first_mismatch(v.data, 30, 0) == 30u);
    BOOST_TEST(reader->consume(30));
    BOOST_TEST(reader->stream() == 1u);
    v = reader->wait(40, 0); // the seam was reported: on to stream 2
    BOOST_REQUIRE(v);
    BOOST_TEST(reader->stream() == 2u);
    BOOST_TEST(first_mismatch(v.data, 40, 30) == 40u);
    BOOST_TEST(reader->available() == 70u);
    BOOST_TEST(reader->consume(40));
    BOOST_TEST(reader->wait(31, 0).why == status::end_of_stream);
    // Asking again for more than is left drops the rest and waits for stream 3.
    BOOST_TEST(reader->wait(31, 0).why == status::timeout);
    BOOST_TEST(reader->stream() == 3u);
    BOOST_TEST(reader->available() == 0u);
}

BOOST_AUTO_TEST_CASE(a_reader_parked_at_the_end_of_a_stream_wakes_for_the_next_one)
{
    auto creator = ring<f32>::create_named(unique_name("park"), 1);
    const std::string name = creator->seg()->name();
    auto reader = ring<f32>::attach(name);
    one_run<f32>(name, 0, 10);
    auto v = reader->wait(10, generous_ns);
    BOOST_REQUIRE(v);
    BOOST_TEST(reader->consume(10));
    BOOST_TEST(reader->wait(5, generous_ns).why == status::end_of_stream);
    status got = status::invalid;
    std::thread t([&] { got = reader->wait(5, generous_ns).why; });
    auto p = ring<f32>::attach(name);
    auto a = seq<f32>(10, 5);
    BOOST_REQUIRE(p->write(a.data(), 5));
    t.join();
    BOOST_TEST(got == status::ok);
    BOOST_TEST(reader->missed_wakes() == 0u);
}

BOOST_AUTO_TEST_CASE(close_by_a_handle_that_is_not_the_producer_ends_the_producers_stream)
{
    ring<f32> producer(1);
    auto same = std::make_shared<ring<f32>>(producer.seg());
    auto a = seq<f32>(0, 10);
    BOOST_REQUIRE(producer.write(a.data(), 10));
    same->close(); // the producer role is held by `producer`: a request
    BOOST_TEST(!producer.write(a.data(), 10)); // honoured at its next write
    BOOST_TEST(errno == EPIPE);
    BOOST_TEST(producer.closed());
    auto v = same->wait(10, generous_ns);
    BOOST_REQUIRE(v);
    BOOST_TEST(same->consume(10));
    BOOST_TEST(same->wait(1, generous_ns).why == status::end_of_stream);
}

BOOST_AUTO_TEST_CASE(a_closed_producer_handle_lets_the_next_producer_start_a_stream)
{
    ring<f32> first(1);
    auto reader = std::make_shared<ring<f32>>(first.seg());
    auto a = seq<f32>(0, 10);
    BOOST_REQUIRE(first.write(a.data(), 10));
    first.close(); // ends stream 1 and gives the role up; the handle lives on
    BOOST_TEST(!first.write(a.data(), 10));
    BOOST_TEST(errno == EPIPE); // closed is final for this handle
    ring<f32> second(first.seg());
    auto b = seq<f32>(10, 5);
    BOOST_REQUIRE(second.write(b.data(), 5)); // stream 2, no EBUSY
    BOOST_TEST(second.producer_stream() == 2u);
    auto v = reader->wait(10, generous_ns);
    BOOST_REQUIRE(v);
    BOOST_TEST(first_mismatch(v.data, 10, 0) == 10u);
    BOOST_TEST(reader->consume(10));
    BOOST_TEST(reader->wait(1, generous_ns).why == status::end_of_stream);
    v = reader->wait(5, generous_ns); // the next stream
    BOOST_REQUIRE(v);
    BOOST_TEST(first_mismatch(v.data, 5, 10) == 5u);
    BOOST_TEST(reader->stream() == 2u);
    BOOST_TEST(!first.write(a.data(), 1)); // still refused, now a closed handle
    BOOST_TEST(first.is_producer()); // of a stream that ended
}

BOOST_AUTO_TEST_CASE(
    a_stream_closed_as_broken_reads_as_broken_at_its_end_and_the_next_one_follows)
{
    ring<f32> reader(1);
    auto a = seq<f32>(0, 30);
    {
        ring<f32> relay(reader.seg()); // a relay whose own source broke
        BOOST_REQUIRE(relay.write(a.data(), 10));
        relay.close(stream_end::broken);
        BOOST_TEST(relay.closed());
        BOOST_TEST(!relay.write(a.data(), 1)); // final, like close()
        BOOST_TEST(errno == EPIPE);
        relay.close(); // idempotent: the recorded reason stays
    }
    auto v = reader.wait(4, generous_ns);
    BOOST_REQUIRE(v);
    BOOST_TEST(reader.consume(4));
    BOOST_TEST(reader.wait(7, generous_ns).why == status::broken); // 6 left
    v = reader.wait(6, 0);
    BOOST_REQUIRE(v);
    BOOST_TEST(first_mismatch(v.data, 6, 4) == 6u);
    BOOST_TEST(reader.consume(6));
    BOOST_TEST(reader.wait(1, 0).why == status::timeout); // reported once
    {
        ring<f32> next(reader.seg());
        BOOST_REQUIRE(next.write(a.data() + 10, 10));
        next.close(stream_end::closed);
    }
    v = reader.wait(10, generous_ns);
    BOOST_REQUIRE(v);
    BOOST_TEST(reader.stream() == 2u);
    BOOST_TEST(first_mismatch(v.data, 10, 10) == 10u);
    BOOST_TEST(reader.consume(10));
    BOOST_TEST(reader.wait(1, 0).why == status::end_of_stream);
}
