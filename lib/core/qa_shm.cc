/* Named rings (Boost.Test): naming, lifetime, validation of what attach maps,
 * roles and liveness across real processes (fork). Every child runs only ring
 * code and leaves with _exit, so it never returns into the test framework.
 * SPDX-License-Identifier: GPL-3.0-or-later */
#define BOOST_TEST_MODULE doppler_shm
#include <boost/test/unit_test.hpp>

#include "qa_proc.hpp"
#include "qa_util.hpp"

#include <doppler/inspect.hpp>

#include <fcntl.h>
#include <poll.h>
#include <sched.h>
#include <signal.h>
#include <sys/mman.h>
#include <sys/mount.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <sys/wait.h>

#include <chrono>
#include <cstddef>
#include <cstdio>
#include <functional>
#include <iostream>
#include <memory>
#include <thread>
#include <vector>

using namespace doppler;
using namespace qa;

namespace {

/// Remove a ring's name the way `doppler-ring rm` does.
bool remove_name(const std::string& name)
{
    return shm_unlink(segment::shm_name(name).c_str()) == 0;
}

bool exists(const std::string& path)
{
    struct stat st {
    };
    return ::stat(path.c_str(), &st) == 0;
}

} // namespace

// ---------------------------------------------------------------------------
// naming and lifetime
// ---------------------------------------------------------------------------

BOOST_AUTO_TEST_CASE_TEMPLATE(create_named_then_attach_cxx, T, all_types)
{
    const std::string name = unique_name("pair");
    auto creator = ring<T>::create_named(name, 1000);
    const uint64_t cap = creator->capacity();
    BOOST_TEST(cap == std::max<uint64_t>(1024, page_samples<T>()));

    struct stat st {
    };
    BOOST_REQUIRE(::stat(segment::shm_path(name).c_str(), &st) == 0);
    BOOST_TEST((st.st_mode & 07777) == 0600u);
    BOOST_TEST(st.st_uid == geteuid());
    // [control page | tag area | data]: the data starts on a page boundary.
    const uint64_t header = creator->seg()->ctl()->header_bytes;
    BOOST_TEST(header % uint64_t(sysconf(_SC_PAGESIZE)) == 0u);
    BOOST_TEST(header == uint64_t(sysconf(_SC_PAGESIZE)) + creator->seg()->tag_bytes());
    BOOST_TEST(uint64_t(st.st_size) == header + cap * sizeof(T));

    auto peer = ring<T>::attach(name);
    BOOST_TEST(peer->capacity() == cap);
    // Creator produces, peer consumes...
    auto a = seq<T>(0, 100);
    BOOST_REQUIRE(creator->write(a.data(), 100));
    auto v = peer->wait(100, generous_ns);
    BOOST_REQUIRE(v);
    BOOST_TEST(first_mismatch(v.data, 100, 0) == 100u);
    BOOST_TEST(peer->consume(100));
    BOOST_TEST(creator->read_index() == 100u);
    BOOST_TEST(creator->written() == 100u);

    // ...or the other way round, on a second ring: either side may create.
    const std::string name2 = unique_name("pair");
    auto consumer_first = ring<T>::create_named(name2, 1);
    auto producer = ring<T>::attach(name2);
    BOOST_REQUIRE(producer->write(a.data(), 100));
    v = consumer_first->wait(100, generous_ns);
    BOOST_REQUIRE(v);
    BOOST_TEST(first_mismatch(v.data, 100, 0) == 100u);
}

BOOST_AUTO_TEST_CASE_TEMPLATE(create_named_then_attach_c, T, all_types)
{
    using C = c_api<T>;
    const std::string name = unique_name("c");
    auto* creator = C::create_named(name.c_str(), 1);
    BOOST_REQUIRE(creator);
    auto* peer = C::attach(name.c_str());
    BOOST_REQUIRE(peer);
    BOOST_TEST(C::capacity(peer) == C::capacity(creator));
    struct stat st {
    };
    BOOST_TEST(::stat(segment::shm_path(name).c_str(), &st) == 0);
    BOOST_TEST((st.st_mode & 07777) == 0600u);

    auto a = seq<T>(7, 50);
    BOOST_TEST(C::write(creator, as_c(a.data()), 50));
    const T* p = as_cxx<T>(C::wait(peer, 50, generous_ns));
    BOOST_REQUIRE(p);
    BOOST_TEST(first_mismatch(p, 50, 7) == 50u);
    BOOST_TEST(C::consume(peer, 50));
    BOOST_TEST(C::available(creator) == 0u);

    C::destroy(creator); // a live peer keeps the name
    BOOST_TEST(exists(segment::shm_path(name)));
    errno = 0;
    BOOST_TEST(!C::wait(peer, 1, generous_ns)); // the producer left: end of stream
    BOOST_TEST(errno == ENODATA);
    C::destroy(peer); // the last party removes it
    BOOST_TEST(!exists(segment::shm_path(name)));
}

BOOST_AUTO_TEST_CASE(the_name_goes_when_the_last_party_leaves_and_a_new_ring_may_take_it)
{
    const std::string name = unique_name("life");
    auto old_creator = ring<f32>::create_named(name, 1024);
    auto old_peer = ring<f32>::attach(name);
    auto a = seq<f32>(0, 600);
    BOOST_REQUIRE(old_creator->write(a.data(), 600));
    old_creator.reset(); // producer and creator leave: the stream ends, the name stays
    BOOST_TEST(exists(segment::shm_path(name)));

    auto v = old_peer->wait(200, generous_ns);
    BOOST_REQUIRE(v);
    BOOST_TEST(first_mismatch(v.data, 200, 0) == 200u);
    BOOST_TEST(old_peer->consume(200));

    // Someone removes the name by hand while the old peer still has 400 to read.
    BOOST_TEST(remove_name(name));
    auto new_creator = ring<f32>::create_named(name, 4096);
    auto b = seq<f32>(1'000'000, 300);
    BOOST_REQUIRE(new_creator->write(b.data(), 300));
    auto new_peer = ring<f32>::attach(name);
    BOOST_TEST(new_peer->capacity() == 4096u);
    v = new_peer->wait(300, generous_ns);
    BOOST_REQUIRE(v);
    BOOST_TEST(first_mismatch(v.data, 300, 1'000'000) == 300u);

    v = old_peer->wait(400, generous_ns); // undisturbed
    BOOST_REQUIRE(v);
    BOOST_TEST(first_mismatch(v.data, 400, 200) == 400u);
    BOOST_TEST(old_peer->consume(400));
    BOOST_TEST(old_peer->wait(1, generous_ns).why == status::end_of_stream);

    old_peer.reset(); // the last party of the old object must not remove the new name
    BOOST_TEST(exists(segment::shm_path(name)));
    new_creator.reset(); // new_peer is still attached
    BOOST_TEST(exists(segment::shm_path(name)));
    new_peer.reset();
    BOOST_TEST(!exists(segment::shm_path(name)));
}

BOOST_AUTO_TEST_CASE(a_handle_released_on_a_shared_mapping_keeps_the_name_for_the_others)
{
    const std::string name = unique_name("shared");
    auto creator = ring<f32>::create_named(name, 1);
    auto other = std::make_unique<ring<f32>>(creator->seg()); // same mapping
    other->release();
    BOOST_TEST(exists(segment::shm_path(name))); // creator still uses it
    auto peer = ring<f32>::attach(name); // and a peer can still find it
    peer.reset();
    BOOST_TEST(exists(segment::shm_path(name)));
    other.reset();
    creator.reset();
    BOOST_TEST(!exists(segment::shm_path(name)));
}

BOOST_AUTO_TEST_CASE(releasing_the_last_handle_on_a_mapping_removes_the_name_at_once)
{
    // Set up as the test above (a second handle on the mapping, released),
    // then the creator is released too. Released, the handles' objects (and
    // their mapping) live on, as a Python buffer's do after destroy() while a
    // flowgraph still holds its ring: the name must go with the last release,
    // not with the objects.
    const std::string name = unique_name("released");
    auto creator = ring<f32>::create_named(name, 1);
    auto other = std::make_unique<ring<f32>>(creator->seg()); // same mapping
    other->release();
    BOOST_TEST(exists(segment::shm_path(name)));
    creator->release(); // the last handle on the mapping leaves the parties
    BOOST_TEST(!exists(segment::shm_path(name)));
}

BOOST_AUTO_TEST_CASE(a_released_reader_reads_nothing_another_handle_now_reads)
{
    // release() gives the role up at once: what the handle had cached as
    // readable is no longer its to read (the inline path included), and a
    // consume must not move the new holder's position.
    const std::string name = unique_name("released");
    auto producer = ring<f32>::create_named(name, 1);
    auto a = seq<f32>(0, 10);
    BOOST_REQUIRE(producer->write(a.data(), 10));
    auto first = ring<f32>::attach(name);
    BOOST_REQUIRE(first->wait(2, 0)); // knows all 10 are readable
    BOOST_REQUIRE(first->consume(2));
    first->release();
    auto second = ring<f32>::attach(name);
    auto v = second->wait(1, 0);
    BOOST_REQUIRE(v);
    BOOST_TEST(first_mismatch(v.data, 1, 2) == 1u);
    BOOST_TEST(first->poll(1).why == status::busy);
    BOOST_TEST(!first->consume(1));
    BOOST_TEST(second->read_index() == 2u);
    BOOST_TEST(second->consume(1));
    BOOST_TEST(published_read_index(*second) == 3u);
}

BOOST_AUTO_TEST_CASE(bad_names_are_einval_before_any_file_is_touched)
{
    const std::string bad[] = { "",          "a/b",       "..",
                                ".hidden",   "../etc",    "a b",
                                "tab\there", "x\xc3\xa9", std::string(201, 'a'),
                                "ok/../../x" };
    for (const auto& name : bad) {
        BOOST_TEST_CONTEXT("name '" << name << "'")
        {
            std::string what;
            BOOST_TEST(error_of([&] { (void)ring<f32>::create_named(name, 1024); },
                                &what) == EINVAL);
            BOOST_TEST(what.find("name") != std::string::npos);
            BOOST_TEST(error_of([&] { (void)ring<f32>::attach(name); }) == EINVAL);
            BOOST_TEST(error_of([&] { (void)ring<i16>::attach(name, 1'000'000'000); }) ==
                       EINVAL); // no waiting
            errno = 0;
            BOOST_TEST(!dp_buffer_f64_create_named(name.c_str(), 1024));
            BOOST_TEST(errno == EINVAL);
            BOOST_TEST(std::string(dp_last_error()).find("name") != std::string::npos);
            BOOST_TEST(!exists(segment::shm_path(name)));
        }
    }
    std::string longest = std::to_string(getpid()) + "-"; // the longest good name works
    longest += std::string(200 - longest.size(), 'z');
    BOOST_TEST(error_of([&] { (void)ring<f32>::create_named(longest, 1); }) == 0);
    BOOST_TEST(!exists(segment::shm_path(longest))); // and is gone with its creator

    errno = 0;
    BOOST_TEST(!dp_buffer_i16_create_named(nullptr, 1024));
    BOOST_TEST(errno == EINVAL);
    errno = 0;
    BOOST_TEST(!dp_buffer_i16_attach(nullptr));
    BOOST_TEST(errno == EINVAL);

    // A good name with a bad capacity leaves nothing behind either.
    const std::string name = unique_name("cap");
    BOOST_TEST(error_of([&] { (void)ring<f32>::create_named(name, 0); }) == EINVAL);
    BOOST_TEST(!exists(segment::shm_path(name)));
}

BOOST_AUTO_TEST_CASE(name_taken_is_eexist)
{
    const std::string name = unique_name("taken");
    auto first = ring<f32>::create_named(name, 1);
    std::string what;
    BOOST_TEST(error_of([&] { (void)ring<f32>::create_named(name, 1); }, &what) ==
               EEXIST);
    BOOST_TEST(what.find(name) != std::string::npos);
    errno = 0;
    BOOST_TEST(!dp_buffer_f32_create_named(name.c_str(), 1));
    BOOST_TEST(errno == EEXIST);
}

BOOST_AUTO_TEST_CASE(wrong_type_is_eprototype_naming_both)
{
    const std::string name = unique_name("type");
    auto r = ring<i16>::create_named(name, 1);
    std::string what;
    BOOST_TEST(error_of([&] { (void)ring<f32>::attach(name); }, &what) == EPROTOTYPE);
    BOOST_TEST(what.find("i16") != std::string::npos);
    BOOST_TEST(what.find("f32") != std::string::npos);
    BOOST_TEST(error_of([&] { (void)ring<f64>::attach(name); }) == EPROTOTYPE);
    BOOST_TEST(error_of([&] { (void)ring<i16>::attach(name); }) == 0);

    errno = 0;
    BOOST_TEST(!dp_buffer_f64_attach(name.c_str()));
    BOOST_TEST(errno == EPROTOTYPE);
    const std::string msg = dp_last_error();
    BOOST_TEST(msg.find("i16") != std::string::npos);
    BOOST_TEST(msg.find("f64") != std::string::npos);
}

BOOST_AUTO_TEST_CASE(missing_is_enoent_and_attach_waits_for_it_until_etimedout)
{
    const std::string name = unique_name("missing");
    std::string what;
    BOOST_TEST(error_of([&] { (void)ring<f32>::attach(name); }, &what) == ENOENT);
    BOOST_TEST(what.find(name) != std::string::npos);
    // A wait that runs out is a timeout, not a missing ring.
    BOOST_TEST(error_of([&] { (void)ring<f32>::attach(name, 20'000'000); }) == ETIMEDOUT);
    errno = 0;
    BOOST_TEST(!dp_buffer_f32_attach(name.c_str()));
    BOOST_TEST(errno == ENOENT);

    std::unique_ptr<ring<f32>> creator;
    std::thread later([&] {
        std::this_thread::sleep_for(std::chrono::milliseconds(50));
        creator = ring<f32>::create_named(name, 1);
    });
    std::unique_ptr<ring<f32>> peer;
    BOOST_TEST(error_of([&] { peer = ring<f32>::attach(name, generous_ns); }) == 0);
    later.join();
    BOOST_TEST((peer && peer->capacity() == 512u));
}

// ---------------------------------------------------------------------------
// attach validates the object
// ---------------------------------------------------------------------------

namespace {
/// XOR one byte of an object in /dev/shm (open + pread + pwrite, as a stranger would).
void flip_byte(const std::string& path, off_t at)
{
    int fd = ::open(path.c_str(), O_RDWR);
    BOOST_REQUIRE(fd >= 0);
    unsigned char c = 0;
    BOOST_REQUIRE(pread(fd, &c, 1, at) == 1);
    c ^= 0xff;
    BOOST_REQUIRE(pwrite(fd, &c, 1, at) == 1);
    ::close(fd);
}
} // namespace

BOOST_AUTO_TEST_CASE(corrupted_header_is_ebadmsg)
{
    const std::string name = unique_name("corrupt");
    const std::string path = segment::shm_path(name);
    auto r = ring<f32>::create_named(name, 1024);
    const std::pair<const char*, size_t> fields[] = {
        { "magic", offsetof(control, magic) },
        { "magic (high byte)", offsetof(control, magic) + 7 },
        { "version", offsetof(control, version) },
        { "type", offsetof(control, type) },
        { "sample_size", offsetof(control, sample_size) },
        { "header_bytes", offsetof(control, header_bytes) },
        { "capacity", offsetof(control, capacity) },
        { "capacity (high byte)", offsetof(control, capacity) + 7 },
        { "data_bytes", offsetof(control, data_bytes) },
        { "flags", offsetof(control, flags) },
    };
    for (auto [field, at] : fields) {
        BOOST_TEST_CONTEXT("flipped " << field)
        {
            flip_byte(path, off_t(at));
            std::string what;
            BOOST_TEST(error_of([&] { (void)ring<f32>::attach(name); }, &what) ==
                       EBADMSG);
            BOOST_TEST(what.find("not a valid doppler ring") != std::string::npos);
            errno = 0;
            BOOST_TEST(!dp_buffer_f32_attach(name.c_str()));
            BOOST_TEST(errno == EBADMSG);
            flip_byte(path,
                      off_t(at)); // restored: attach works again, so the test can fail
            BOOST_TEST(error_of([&] { (void)ring<f32>::attach(name); }) == 0);
        }
    }

    // Plausible but inconsistent values: another valid type, another power of two.
    auto poke = [&](size_t at, const void* v, size_t n) {
        int fd = ::open(path.c_str(), O_RDWR);
        BOOST_REQUIRE(fd >= 0);
        BOOST_REQUIRE(pwrite(fd, v, n, off_t(at)) == ssize_t(n));
        ::close(fd);
    };
    const uint32_t f64_type = uint32_t(sample_type::f64),
                   f32_type = uint32_t(sample_type::f32);
    poke(offsetof(control, type), &f64_type, 4); // sample size 8 no longer matches
    BOOST_TEST(error_of([&] { (void)ring<f64>::attach(name); }) == EBADMSG);
    poke(offsetof(control, type), &f32_type, 4);
    const uint64_t bigger = 2048, bigger_bytes = 2048 * 8, cap = 1024, bytes = 1024 * 8;
    poke(offsetof(control, capacity), &bigger, 8);
    poke(offsetof(control, data_bytes),
         &bigger_bytes,
         8); // header says more than the object holds
    BOOST_TEST(error_of([&] { (void)ring<f32>::attach(name); }) == EBADMSG);
    poke(offsetof(control, capacity), &cap, 8);
    poke(offsetof(control, data_bytes), &bytes, 8);
    BOOST_TEST(error_of([&] { (void)ring<f32>::attach(name); }) == 0);
}

BOOST_AUTO_TEST_CASE(a_ring_flag_this_library_does_not_know_is_ebadmsg)
{
    // The handshake flag is known; any other bit is a ring this library
    // cannot speak to (a newer release's), refused rather than misused.
    const std::string name = unique_name("flags");
    auto r = ring<f32>::create_named(name, 1);
    control* c = r->seg()->ctl();
    const uint32_t made = c->flags;
    BOOST_TEST((made & ~ring_flag_membarrier) == 0u);
    for (uint32_t bit : { 2u, 0x100u, 0x80000000u }) {
        c->flags = made | bit;
        std::string what;
        BOOST_TEST(error_of([&] { (void)ring<f32>::attach(name); }, &what) == EBADMSG);
        BOOST_TEST(what.find("unknown flags") != std::string::npos);
    }
    c->flags = made ^ ring_flag_membarrier; // the other handshake: a valid ring
    BOOST_TEST(error_of([&] { (void)ring<f32>::attach(name); }) == 0);
    c->flags = made;
}

BOOST_AUTO_TEST_CASE(truncated_or_foreign_object_is_ebadmsg)
{
    const size_t page = size_t(sysconf(_SC_PAGESIZE));
    for (off_t size : { off_t(page + 4096), off_t(page), off_t(100) }) {
        BOOST_TEST_CONTEXT("truncated to " << size)
        {
            const std::string name = unique_name("trunc");
            auto r = ring<f32>::create_named(
                name, 4096); // its own mapping is never touched again
            int fd = ::open(segment::shm_path(name).c_str(), O_RDWR);
            BOOST_REQUIRE(fd >= 0);
            BOOST_REQUIRE(ftruncate(fd, size) == 0);
            ::close(fd);
            BOOST_TEST(error_of([&] { (void)ring<f32>::attach(name); }) == EBADMSG);
            r.reset(); // a header wiped by the truncation: the name still goes
            BOOST_TEST(!exists(segment::shm_path(name)));
        }
    }
    // An object some other program put under our prefix.
    const std::string name = unique_name("foreign");
    const std::string path = segment::shm_path(name);
    int fd = ::open(path.c_str(), O_RDWR | O_CREAT | O_EXCL, 0600);
    BOOST_REQUIRE(fd >= 0);
    std::vector<unsigned char> junk(3 * page);
    for (size_t i = 0; i < junk.size(); ++i)
        junk[i] = (unsigned char)(i * 131 + 7);
    BOOST_REQUIRE(::write(fd, junk.data(), junk.size()) == ssize_t(junk.size()));
    ::close(fd);
    std::string what;
    BOOST_TEST(error_of([&] { (void)ring<f32>::attach(name); }, &what) == EBADMSG);
    BOOST_TEST(what.find(name) != std::string::npos);
    ::unlink(path.c_str());
}

// ---------------------------------------------------------------------------
// roles and liveness across processes
// ---------------------------------------------------------------------------

BOOST_AUTO_TEST_CASE(second_consumer_is_refused_with_the_holders_pid)
{
    const std::string name = unique_name("roles");
    auto r = ring<f32>::create_named(name, 1);
    channel ch;
    pid_t child = spawn([&] {
        auto* c = ring<f32>::attach(name)
                      .release(); // never released: the child dies holding it
        if (!c->claim_reader())
            return 2;
        ch.tell_parent();
        return ch.from_parent() ? 0 : 3; // hold the role until told
    });
    BOOST_REQUIRE(ch.from_child());

    auto second = ring<f32>::attach(name);
    BOOST_TEST(!second->claim_reader());
    BOOST_TEST(second->holder_pid() == int(child));
    BOOST_TEST(second->wait(1, 0).why == status::busy);
    BOOST_TEST(!r->claim_reader());
    BOOST_TEST(r->claim_producer()); // the other role is free

    auto* c = dp_buffer_f32_attach(name.c_str());
    BOOST_REQUIRE(c);
    errno = 0;
    BOOST_TEST(!dp_buffer_f32_wait(c, 1, 0));
    BOOST_TEST(errno == EBUSY);

    ch.tell_child();
    BOOST_TEST(reap(child) == 0);
    // The holder died without releasing: the role is up for grabs.
    BOOST_TEST(second->claim_reader());
    dp_buffer_f32_destroy(c);
}

BOOST_AUTO_TEST_CASE(second_producer_is_refused_and_not_counted_as_drop)
{
    const std::string name = unique_name("roles");
    auto r = ring<i16>::create_named(name, 1);
    channel ch;
    pid_t child = spawn([&] {
        auto* p = ring<i16>::attach(name).release();
        if (!p->claim_producer())
            return 2;
        ch.tell_parent();
        return ch.from_parent() ? 0 : 3;
    });
    BOOST_REQUIRE(ch.from_child());
    auto a = seq<i16>(0, 10);
    errno = 0;
    BOOST_TEST(!r->write(a.data(), 10));
    BOOST_TEST(errno == EBUSY);
    BOOST_TEST(r->dropped() == 0u);
    BOOST_TEST(r->holder_pid() == int(child));
    BOOST_TEST(r->wait_space(1, 0) == status::busy);
    ch.tell_child();
    BOOST_TEST(reap(child) == 0);
    BOOST_TEST(r->write(a.data(), 10));
}

BOOST_AUTO_TEST_CASE(producer_exits_without_closing_consumer_drains_then_broken)
{
    const std::string name = unique_name("dead");
    auto r = ring<f32>::create_named(name, 1);
    BOOST_REQUIRE(r->claim_reader());
    pid_t child = spawn([&] {
        auto* p = ring<f32>::attach(name).release();
        auto a = seq<f32>(0, 100);
        return p->write(a.data(), 100) ? 0 : 2; // then _exit: no close, no release
    });
    // Not reaped while we wait: the producer is a zombie, which counts as dead.
    auto v = r->wait(100, generous_ns);
    BOOST_REQUIRE(v);
    BOOST_TEST(first_mismatch(v.data, 100, 0) == 100u);
    BOOST_TEST(r->consume(100));
    BOOST_TEST(r->wait(1, generous_ns).why == status::broken);
    // The broken stream was reported: the next wait waits for the next stream.
    BOOST_TEST(r->wait(1, 0).why == status::timeout);
    BOOST_TEST(r->stream() == 2u);
    BOOST_TEST(!r->closed());
    BOOST_TEST(reap(child) == 0);
}

BOOST_AUTO_TEST_CASE(producer_killed_c_abi_consumer_gets_epipe)
{
    const std::string name = unique_name("kill");
    auto* r = dp_buffer_i16_create_named(name.c_str(), 1);
    BOOST_REQUIRE(r);
    const pid_t child = spawn_holder([&] {
        auto* p = dp_buffer_i16_attach(name.c_str());
        auto a = seq<i16>(0, 50);
        return p && dp_buffer_i16_write(p, as_c(a.data()), 50);
    });
    const i16* p = as_cxx<i16>(dp_buffer_i16_wait(r, 50, generous_ns));
    BOOST_REQUIRE(p);
    BOOST_TEST(first_mismatch(p, 50, 0) == 50u);
    BOOST_TEST(dp_buffer_i16_consume(r, 50));
    BOOST_REQUIRE(kill(child, SIGKILL) == 0);
    BOOST_TEST(reap(child) == 128 + SIGKILL); // reaped: the pid is gone altogether
    errno = 0;
    BOOST_TEST(!dp_buffer_i16_wait(r, 1, generous_ns));
    BOOST_TEST(errno == EPIPE);
    dp_buffer_i16_destroy(r);
    BOOST_TEST(!exists(segment::shm_path(name)));
}

namespace {

/// r (a one-page f32 ring named `name`) as its consumer: a child process
/// attaches as producer, writes one sample (its stream has begun) and is
/// killed with SIGKILL while r waits for two samples with no timeout; the
/// status that wait ends with. Only noticing the death can end that wait: a
/// state this waits for with a bound that only a broken build reaches (then
/// it closes the ring to release the waiter, and the status says so).
status wait_without_timeout_while_producer_killed(ring<f32>& r, const std::string& name)
{
    BOOST_REQUIRE(r.claim_reader());
    const pid_t child = spawn_holder([&] {
        auto* p = ring<f32>::attach(name).release();
        auto a = seq<f32>(0, 1);
        return p->write(a.data(), 1);
    });
    std::atomic<int> got { -1 };
    std::thread consumer([&] { got = int(r.wait(2, -1).why); });
    BOOST_REQUIRE(kill(child, SIGKILL) == 0);
    BOOST_TEST(reap(child) == 128 + SIGKILL);
    const int64_t end = detail::now_ns() + generous_ns;
    while (got.load() < 0 && detail::now_ns() < end)
        std::this_thread::sleep_for(std::chrono::milliseconds(1));
    if (got.load() < 0)
        r.close(); // still waiting: release it (the status is then not broken)
    consumer.join();
    return status(got.load());
}

} // namespace

BOOST_AUTO_TEST_CASE(a_consumer_waiting_without_a_timeout_learns_its_producer_died)
{
    // wait() with no timeout: only noticing the death can end it (a consumer
    // that waited out its timeout before saying "broken" would wait forever).
    const std::string name = unique_name("orphan");
    auto r = ring<f32>::create_named(name, 1);
    BOOST_TEST(wait_without_timeout_while_producer_killed(*r, name) == status::broken);
    BOOST_TEST(r->missed_wakes() == 0u);
}

BOOST_AUTO_TEST_CASE(busy_polling_sides_learn_that_their_peer_died)
{
    // wait_strategy::poll never sleeps, so nothing but its own checks can
    // end it: a dead producer must be noticed with no timeout, a dead
    // consumer when the lossless write gives up.
    const std::string name = unique_name("polldead");
    auto r = ring<f32>::create_named(name, 1);
    r->set_wait_strategy(wait_strategy::poll);
    BOOST_TEST(wait_without_timeout_while_producer_killed(*r, name) == status::broken);

    const std::string name2 = unique_name("polldead");
    auto w = ring<f64>::create_named(name2, 1);
    w->set_wait_strategy(wait_strategy::poll);
    auto a = seq<f64>(0, w->capacity() + 1);
    BOOST_REQUIRE(w->write(a.data(), w->capacity()));
    pid_t reader = spawn([&] {
        auto* c = ring<f64>::attach(name2).release();
        return c->claim_reader() ? 0 : 2; // and die holding the role
    });
    BOOST_TEST(reap(reader) == 0);
    BOOST_TEST(w->write_blocking(a.data() + w->capacity(), 1, 300'000'000) ==
               status::broken);
    BOOST_TEST(w->missed_wakes() == 0u);
}

BOOST_AUTO_TEST_CASE(
    consumer_dies_lossless_producer_gets_broken_then_a_new_consumer_resumes)
{
    const std::string name = unique_name("resume");
    auto r = ring<f64>::create_named(name, 1); // 256 samples
    const uint64_t cap = r->capacity();
    auto a = seq<f64>(0, 2 * cap);
    BOOST_REQUIRE(r->write(a.data(), 200));
    pid_t child = spawn([&] {
        auto* c = ring<f64>::attach(name).release();
        auto v = c->wait(100, generous_ns);
        if (!v || first_mismatch(v.data, 100, 0) != 100)
            return 2;
        return c->consume(100) ? 0 : 3; // read 100 of 200, then die holding the role
    });
    BOOST_TEST(reap(child) == 0);
    BOOST_TEST(r->read_index() == 100u);

    // Fill the ring; a lossless write then has no live consumer to make room.
    BOOST_REQUIRE(r->write_blocking(a.data() + 200, cap - 100, generous_ns) ==
                  status::ok);
    BOOST_TEST(r->write_blocking(a.data() + 100 + cap, 1, 300'000'000) == status::broken);
    BOOST_TEST(r->dropped() == 0u);

    // A new consumer picks up at the first unread sample: nothing lost.
    auto next = ring<f64>::attach(name);
    BOOST_TEST(next->read_index() == 100u);
    auto v = next->wait(cap, generous_ns);
    BOOST_REQUIRE(v);
    BOOST_TEST(first_mismatch(v.data, cap, 100) == cap);
    BOOST_TEST(next->consume(cap));
    BOOST_TEST(r->write_blocking(a.data() + 100 + cap, 1, generous_ns) == status::ok);
}

// ---------------------------------------------------------------------------
// ownership of names, identities, big rings, crafted headers
// ---------------------------------------------------------------------------

namespace {
ino_t inode_of(const std::string& path)
{
    struct stat st {
    };
    return ::stat(path.c_str(), &st) == 0 ? st.st_ino : 0;
}
} // namespace

BOOST_AUTO_TEST_CASE(a_creator_removes_only_its_own_object)
{
    const std::string name = unique_name("own");
    const std::string path = segment::shm_path(name);

    // The name is taken over by another ring while the first creator lives.
    auto first = ring<f32>::create_named(name, 1);
    BOOST_REQUIRE(remove_ring(name));
    auto second = ring<f32>::create_named(name, 1);
    const ino_t second_ino = inode_of(path);
    first.reset(); // must not remove the second ring's name
    BOOST_TEST(exists(path));
    BOOST_TEST(inode_of(path) == second_ino);
    BOOST_TEST(error_of([&] { (void)ring<f32>::attach(name); }) == 0);
    second.reset(); // its own: removed
    BOOST_TEST(!exists(path));

    // ... or by some other program's file.
    auto third = ring<f32>::create_named(name, 1);
    BOOST_REQUIRE(remove_ring(name));
    int fd = ::open(path.c_str(), O_RDWR | O_CREAT | O_EXCL, 0600);
    BOOST_REQUIRE(fd >= 0);
    ::close(fd);
    third.reset();
    BOOST_TEST(exists(path));
    ::unlink(path.c_str()); // ours: made by this test
}

BOOST_AUTO_TEST_CASE(a_peer_id_gives_back_every_pid_linux_can_hand_out)
{
    // pid_max is at most 2^22 on 64-bit Linux: a pid in the upper half of
    // that range (a busy machine, a raised pid_max) must come back whole,
    // whatever start time sits above it.
    for (const uint64_t pid : { uint64_t(1),
                                uint64_t(4242),
                                (uint64_t(1) << 21) - 1,
                                uint64_t(1) << 21,
                                uint64_t(3'000'000),
                                (uint64_t(1) << 22) - 1 })
        for (const uint64_t start : { uint64_t(0), uint64_t(1), uint64_t(123'456'789) })
            BOOST_TEST(detail::peer_pid((start << 22) | pid) == int(pid),
                       "pid " << pid << ", start time " << start);
}

BOOST_AUTO_TEST_CASE(a_reused_pid_with_another_start_time_is_not_the_original_process)
{
    // Same pid as a live process, another start time: the pid was reused,
    // the process the id names is gone.
    const peer_id me = detail::self_id();
    BOOST_TEST(detail::peer_alive(me));
    BOOST_TEST(!detail::peer_alive(me + (peer_id(1) << 22))); // started one tick later
    BOOST_TEST(!detail::peer_alive(me - (peer_id(1) << 22))); // one tick earlier

    // A role word naming a live child (its own id, sent up a pipe) is held;
    // the same pid with a wrong start time is not, and is taken over.
    const std::string name = unique_name("reuse");
    auto r = ring<f32>::create_named(name, 1);
    channel ch;
    int ids[2];
    BOOST_REQUIRE(pipe(ids) == 0);
    pid_t child = spawn([&] {
        const peer_id id = detail::self_id();
        if (::write(ids[1], &id, sizeof id) != ssize_t(sizeof id))
            return 2;
        return ch.from_parent() ? 0 : 3; // alive until told
    });
    peer_id child_id = 0;
    BOOST_REQUIRE(::read(ids[0], &child_id, sizeof child_id) == ssize_t(sizeof child_id));
    ::close(ids[0]);
    ::close(ids[1]);
    BOOST_TEST(detail::peer_pid(child_id) == int(child));
    control* c = r->seg()->ctl();

    c->readers[0].holder.store(child_id, std::memory_order_release);
    auto second = ring<f32>::attach(name);
    BOOST_TEST(!second->claim_reader()); // held by the live child
    BOOST_TEST(second->holder_pid() == int(child));
    BOOST_TEST(inspect(name).consumer.alive);

    c->readers[0].holder.store(child_id + (peer_id(1) << 22), std::memory_order_release);
    BOOST_TEST(!inspect(name).consumer.alive);
    BOOST_TEST(second->claim_reader()); // the "holder" is not the child
    BOOST_TEST(c->readers[0].holder.load() == detail::self_id());

    ch.tell_child();
    BOOST_TEST(reap(child) == 0);
}

BOOST_AUTO_TEST_CASE(a_named_ring_above_2_20_samples_attaches_in_a_peer)
{
    const std::string name = unique_name("big");
    const uint64_t want = (uint64_t(1) << 21) + 1; // i16: rounds to 2^22 (16 MiB)
    auto r = ring<i16>::create_named(name, want);
    BOOST_TEST(r->capacity() == uint64_t(1) << 22);
    const uint64_t cap = r->capacity();
    auto a = seq<i16>(0, 1000);
    BOOST_REQUIRE(r->write(a.data(), 1000));
    pid_t child = spawn([&] {
        auto p = ring<i16>::attach(name);
        if (p->capacity() != cap)
            return 2;
        auto v = p->wait(1000, generous_ns);
        return v && first_mismatch(v.data, 1000, 0) == 1000 ? 0 : 3;
    });
    BOOST_TEST(reap(child) == 0);
}

namespace {
/// A fresh f32 ring of 1024 samples whose header fields are then rewritten
/// and whose object is resized, as a hostile peer could: returns what attach
/// says (errno, 0 if it attached).
struct crafted {
    std::string name = unique_name("craft");
    std::string path = segment::shm_path(name);
    std::unique_ptr<ring<f32>> owner = ring<f32>::create_named(name, 1024);
    /// Offset of the data: the control page and the tag area.
    const uint64_t header = owner->seg()->ctl()->header_bytes;
    template <class V>
    void poke(size_t at, V v)
    {
        int fd = ::open(path.c_str(), O_RDWR);
        BOOST_REQUIRE(fd >= 0);
        BOOST_REQUIRE(pwrite(fd, &v, sizeof v, off_t(at)) == ssize_t(sizeof v));
        ::close(fd);
    }
    void resize(uint64_t bytes)
    {
        int fd = ::open(path.c_str(), O_RDWR);
        BOOST_REQUIRE(fd >= 0);
        BOOST_REQUIRE(ftruncate(fd, off_t(bytes)) == 0);
        ::close(fd);
    }
    int attach_errno(std::string* what = nullptr)
    {
        return error_of([&] { (void)ring<f32>::attach(name); }, what);
    }
};
const uint64_t page = uint64_t(sysconf(_SC_PAGESIZE));
} // namespace

BOOST_AUTO_TEST_CASE(the_data_size_must_agree_with_the_capacity)
{
    crafted x; // 1024 f32 = 8192 bytes of data
    BOOST_REQUIRE(x.attach_errno() == 0);
    x.poke(offsetof(control, data_bytes), uint64_t(16384)); // twice as much...
    x.resize(x.header + 16384); // ...and the object agrees
    std::string what;
    BOOST_TEST(x.attach_errno(&what) == EBADMSG);
    BOOST_TEST(what.find("data size") != std::string::npos);
}

BOOST_AUTO_TEST_CASE(a_header_other_than_the_control_page_and_the_tag_area_is_refused)
{
    crafted x;
    x.poke(offsetof(control, header_bytes), uint32_t(x.header + page));
    x.resize(x.header + page + 8192); // the object's size agrees with the header
    std::string what;
    BOOST_TEST(x.attach_errno(&what) == EBADMSG);
    BOOST_TEST(what.find("header size") != std::string::npos);
}

BOOST_AUTO_TEST_CASE(a_capacity_that_is_not_a_power_of_two_is_refused)
{
    crafted x;
    x.poke(offsetof(control, capacity), uint64_t(1536)); // 3 pages of f32
    x.poke(offsetof(control, data_bytes), uint64_t(1536 * 8));
    x.resize(x.header + 1536 * 8); // every size agrees
    std::string what;
    BOOST_TEST(x.attach_errno(&what) == EBADMSG);
    BOOST_TEST(what.find("power of two") != std::string::npos);
}

BOOST_AUTO_TEST_CASE(an_unknown_sample_type_is_refused_whatever_its_size_says)
{
    crafted x;
    x.poke(offsetof(control, type), uint32_t(99));
    for (uint32_t size : { uint32_t(8), uint32_t(0) }) {
        BOOST_TEST_CONTEXT("sample_size " << size)
        {
            x.poke(offsetof(control, sample_size), size);
            std::string what;
            BOOST_TEST(x.attach_errno(&what) == EBADMSG);
            BOOST_TEST(what.find("sample type") != std::string::npos);
        }
    }
}

BOOST_AUTO_TEST_CASE(the_sample_size_must_match_the_type)
{
    crafted x;
    x.poke(offsetof(control, sample_size), uint32_t(4)); // f32 samples are 8 bytes
    std::string what;
    BOOST_TEST(x.attach_errno(&what) == EBADMSG);
    BOOST_TEST(what.find("sample size") != std::string::npos);
}

// ---------------------------------------------------------------------------
// other users: ownership and permissions (as root, with a throwaway uid)
// ---------------------------------------------------------------------------

namespace {
/// Under CI every test must run: a test that cannot set itself up fails
/// there instead of passing without checking anything.
bool needs_root(const char* why)
{
    if (geteuid() == 0)
        return true;
    const char* ci = std::getenv("CI");
    if (ci && std::string(ci) == "true")
        BOOST_FAIL(std::string("needs root (CI runs as root): ") + why);
    BOOST_TEST_MESSAGE("not run (needs root): " << why);
    return false;
}
constexpr uid_t stranger = 65534; // "nobody": owns nothing of ours
} // namespace

BOOST_AUTO_TEST_CASE(another_users_ring_is_refused_unless_allowed)
{
    if (!needs_root("to give a ring to another uid"))
        return;
    const std::string name = unique_name("foreign");
    auto r = ring<f32>::create_named(name, 1);
    BOOST_REQUIRE(::chown(segment::shm_path(name).c_str(), stranger, gid_t(-1)) == 0);
    std::string what;
    BOOST_TEST(error_of([&] { (void)ring<f32>::attach(name); }, &what) == EACCES);
    BOOST_TEST(what.find(std::to_string(stranger)) != std::string::npos);
    errno = 0;
    BOOST_TEST(!dp_buffer_f32_attach(name.c_str()));
    BOOST_TEST(errno == EACCES);
    BOOST_TEST(error_of([&] { (void)ring<f32>::attach(name, -1, true); }) == 0);
}

BOOST_AUTO_TEST_CASE(a_ring_is_not_accessible_to_other_users)
{
    if (!needs_root("to drop privileges to another uid"))
        return;
    const std::string name = unique_name("private");
    auto r = ring<f32>::create_named(name, 1);
    pid_t child = spawn([&] {
        if (setgid(stranger) != 0 || setuid(stranger) != 0)
            return 2;
        std::string what;
        const int err = error_of([&] { (void)ring<f32>::attach(name); }, &what);
        return err == EACCES && what.find("not accessible") != std::string::npos ? 0 : 3;
    });
    BOOST_TEST(reap(child) == 0);
}

// ---------------------------------------------------------------------------
// a full /dev/shm (a small tmpfs in a private mount namespace)
// ---------------------------------------------------------------------------

BOOST_AUTO_TEST_CASE(a_full_dev_shm_is_enospc_at_creation_and_leaves_nothing)
{
    if (!needs_root("to mount a small tmpfs on /dev/shm in a private mount namespace"))
        return;
    // The child gets its own mount namespace (private propagation, so the
    // host's /dev/shm is untouched) and a 64 KiB tmpfs on /dev/shm.
    pid_t child = spawn([&] {
        if (unshare(CLONE_NEWNS) != 0 ||
            mount("none", "/", nullptr, MS_REC | MS_PRIVATE, nullptr) != 0 ||
            mount("tmpfs", "/dev/shm", "tmpfs", 0, "size=64k") != 0)
            return 10;
        const std::string name = unique_name("full");
        std::string what;
        // 1 MiB of data cannot be reserved; nothing may be left behind.
        if (error_of([&] { (void)ring<f32>::create_named(name, 1 << 17); }, &what) !=
            ENOSPC)
            return 11;
        if (what.find("/dev/shm") == std::string::npos || exists(segment::shm_path(name)))
            return 12;
        // One that fits still works.
        try {
            auto r = ring<f32>::create_named(name, 1);
            auto a = seq<f32>(0, 10);
            return r->write(a.data(), 10) ? 0 : 13;
        } catch (...) {
            return 14;
        }
    });
    const int rc = reap(child);
    BOOST_TEST(rc != 10, "could not mount a private tmpfs on /dev/shm");
    BOOST_TEST(rc == 0);
}

// ---------------------------------------------------------------------------
// fork(): the child's copies of the parent's handles hold no role and own no
// name; neither the child's destructors nor its exit touch the parent's stream
// ---------------------------------------------------------------------------

BOOST_AUTO_TEST_CASE(a_forked_child_cannot_write_or_close_through_the_parents_handle)
{
    const std::string name = unique_name("fork");
    std::unique_ptr<ring<f32>> r = ring<f32>::create_named(name, 1);
    auto consumer = ring<f32>::attach(name);
    BOOST_REQUIRE(consumer->claim_reader());
    auto a = seq<f32>(0, 20);
    BOOST_REQUIRE(r->write(a.data(), 10));
    const pid_t parent = getpid();
    pid_t child = spawn([&] {
        errno = 0;
        if (r->write(a.data(), 5) || errno != EBUSY) // its copy holds no role
            return 2;
        if (r->holder_pid() != int(parent) || r->holder_is_this_process())
            return 3;
        if (consumer->wait(1, 0).why != status::busy) // nor the consumer's copy
            return 4;
        r.reset(); // destroying the copies: no close, no unlink
        consumer.reset();
        std::exit(0); // normal exit: atexit handlers run
    });
    BOOST_TEST(reap(child) == 0);
    BOOST_TEST(!r->closed());
    BOOST_TEST(exists(segment::shm_path(name)));
    BOOST_REQUIRE(r->write(a.data() + 10, 10)); // the parent is still the producer
    auto v = consumer->wait(20, 0);
    BOOST_REQUIRE(v);
    BOOST_TEST(first_mismatch(v.data, 20, 0) == 20u);
}

BOOST_AUTO_TEST_CASE(a_forked_child_that_just_exits_leaves_the_parents_ring_alone)
{
    // The parent created the ring and holds no role: the child's exit must
    // not remove the name either.
    const std::string name = unique_name("fork");
    auto r = ring<i16>::create_named(name, 1);
    auto in_process = std::make_unique<ring<i16>>(1);
    auto a = seq<i16>(0, 10);
    BOOST_REQUIRE(in_process->write(a.data(), 10));
    pid_t child = spawn([&]() -> int { std::exit(0); });
    BOOST_TEST(reap(child) == 0);
    BOOST_TEST(exists(segment::shm_path(name)));
    BOOST_TEST(!r->closed());
    BOOST_TEST(!in_process->closed());
    BOOST_TEST(r->claim_producer());
}

BOOST_AUTO_TEST_CASE(a_forked_child_may_take_a_role_the_parent_does_not_hold)
{
    // The copies are not dead handles: a role nobody holds can be claimed
    // through them, and it is the child's (released at the child's exit).
    const std::string name = unique_name("fork");
    auto r = ring<f64>::create_named(name, 1);
    auto consumer = ring<f64>::attach(name);
    BOOST_REQUIRE(consumer->claim_reader());
    pid_t child = spawn([&]() -> int {
        auto a = seq<f64>(0, 10);
        if (!r->write(a.data(), 10))
            return 2;
        std::exit(0); // closes the child's stream: it was the producer
    });
    BOOST_TEST(reap(child) == 0);
    auto v = consumer->wait(10, generous_ns);
    BOOST_REQUIRE(v);
    BOOST_TEST(first_mismatch(v.data, 10, 0) == 10u);
    BOOST_TEST(consumer->consume(10));
    BOOST_TEST(consumer->wait(1, generous_ns).why == status::end_of_stream);
    BOOST_TEST(exists(segment::shm_path(name))); // the parent's name
}

// ---------------------------------------------------------------------------
// normal exit releases every handle still alive
// ---------------------------------------------------------------------------

BOOST_AUTO_TEST_CASE(handles_never_destroyed_end_their_stream_and_leave_at_normal_exit)
{
    for (int variant : { 0, 1, 2 }) { // leaked C++ handle, made in a thread, C ABI
        const std::string name = unique_name("exit");
        channel ch;
        pid_t child = spawn([&]() -> int {
            auto a = seq<f32>(0, 100);
            if (variant == 0) {
                auto* p = ring<f32>::create_named(name, 1).release();
                if (!p->write(a.data(), 100))
                    return 2;
            } else if (variant == 1) {
                bool ok = false;
                std::thread([&] {
                    auto* p = ring<f32>::create_named(name, 1).release();
                    ok = p->write(a.data(), 100);
                }).join();
                if (!ok)
                    return 2;
            } else {
                auto* p = dp_buffer_f32_create_named(name.c_str(), 1);
                if (!p || !dp_buffer_f32_write(p, as_c(a.data()), 100))
                    return 2;
            }
            ch.tell_parent();
            if (!ch.from_parent())
                return 3;
            std::exit(0);
        });
        BOOST_REQUIRE(ch.from_child());
        auto c = ring<f32>::attach(name);
        ch.tell_child();
        auto v = c->wait(100, generous_ns);
        BOOST_REQUIRE(v);
        BOOST_TEST(first_mismatch(v.data, 100, 0) == 100u);
        BOOST_TEST(c->consume(100));
        BOOST_TEST(c->wait(1, generous_ns).why == status::end_of_stream);
        BOOST_TEST(reap(child) == 0);
        // The child left the ring's parties at exit; the name stays while
        // this reader is attached and goes with the last party.
        BOOST_TEST(exists(segment::shm_path(name)));
        c.reset();
        BOOST_TEST(!exists(segment::shm_path(name)));
    }
}

// ---------------------------------------------------------------------------
// whatever sits under the prefix: other file types, sparse objects, objects
// that change size while inspected
// ---------------------------------------------------------------------------

BOOST_AUTO_TEST_CASE(attach_and_inspect_refuse_every_other_file_type_naming_it)
{
    struct planted {
        const char* kind;
        std::function<bool(const std::string&)> make;
    };
    const std::string target = segment::shm_path(unique_name("target"));
    auto target_ring = ring<f32>::create_named(target.substr(target.rfind('.') + 1), 1);
    const planted cases[] = {
        { "a FIFO", [](const std::string& p) { return mkfifo(p.c_str(), 0600) == 0; } },
        { "a directory",
          [](const std::string& p) { return mkdir(p.c_str(), 0700) == 0; } },
        { "a symbolic link",
          [&](const std::string& p) { return symlink(target.c_str(), p.c_str()) == 0; } },
        { "a socket",
          [](const std::string& p) {
              int fd = socket(AF_UNIX, SOCK_STREAM, 0);
              sockaddr_un addr {};
              addr.sun_family = AF_UNIX;
              std::snprintf(addr.sun_path, sizeof addr.sun_path, "%s", p.c_str());
              const bool ok =
                  bind(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr) == 0;
              ::close(fd);
              return ok;
          } },
    };
    for (const planted& c : cases) {
        const std::string name = unique_name("kind");
        const std::string path = segment::shm_path(name);
        BOOST_REQUIRE(c.make(path));
        std::string what;
        BOOST_TEST(error_of([&] { auto r = ring<f32>::attach(name); }, &what) == EBADMSG);
        BOOST_TEST(what.find(c.kind) != std::string::npos, what);
        BOOST_TEST(error_of([&] { auto r = ring<f32>::attach(name, 0, true); }) ==
                   EBADMSG);
        const ring_info info = inspect(name);
        BOOST_TEST(info.problem.find("corrupt") == 0u, info.problem);
        const bool removed = ::unlink(path.c_str()) == 0 || ::rmdir(path.c_str()) == 0;
        BOOST_TEST(removed);
    }
}

BOOST_AUTO_TEST_CASE(attach_allocates_the_pages_of_a_sparse_object)
{
    // A stranger copies a valid header into a new object and sizes it with
    // ftruncate only: every data page is a hole. Attach must allocate them
    // (as creation does), so that a full /dev/shm is ENOSPC at attach, not
    // SIGBUS at the first access. (The ENOSPC case itself needs a small
    // tmpfs: python/doppler/qa_faults.py.)
    const std::string model = unique_name("model");
    auto m = ring<i16>::create_named(model, 1 << 16); // 256 KiB of data
    const size_t page = size_t(sysconf(_SC_PAGESIZE));
    std::vector<char> header(page);
    int src = ::open(segment::shm_path(model).c_str(), O_RDONLY);
    BOOST_REQUIRE(src >= 0);
    BOOST_REQUIRE(pread(src, header.data(), page, 0) == ssize_t(page));
    ::close(src);

    const std::string name = unique_name("sparse");
    const std::string path = segment::shm_path(name);
    int fd = ::open(path.c_str(), O_RDWR | O_CREAT | O_EXCL, 0600);
    BOOST_REQUIRE(fd >= 0);
    BOOST_REQUIRE(pwrite(fd, header.data(), page, 0) == ssize_t(page));
    struct stat mst {
    };
    BOOST_REQUIRE(::stat(segment::shm_path(model).c_str(), &mst) == 0);
    const off_t size = mst.st_size; // control pages, tag area, data
    BOOST_REQUIRE(ftruncate(fd, size) == 0);
    struct stat st {
    };
    BOOST_REQUIRE(fstat(fd, &st) == 0);
    BOOST_TEST(uint64_t(st.st_blocks) * 512 < uint64_t(size)); // sparse indeed
    {
        auto r = ring<i16>::attach(name);
        BOOST_REQUIRE(fstat(fd, &st) == 0);
        BOOST_TEST(uint64_t(st.st_blocks) * 512 >= uint64_t(size));
        auto a = seq<i16>(0, r->capacity());
        BOOST_TEST(r->write(a.data(), r->capacity()));
    }
    ::close(fd);
    BOOST_TEST(remove_ring(name));
}

BOOST_AUTO_TEST_CASE(inspect_never_faults_on_an_object_that_changes_size)
{
    // Another thread truncates and restores a valid ring object as fast as
    // it can while this one inspects it: every answer is a ring or "corrupt",
    // never a SIGBUS (the tool reads the header with pread, maps nothing).
    const std::string name = unique_name("shrink");
    const std::string path = segment::shm_path(name);
    auto r = ring<f32>::create_named(name, 1);
    int fd = ::open(path.c_str(), O_RDWR);
    BOOST_REQUIRE(fd >= 0);
    struct stat st {
    };
    BOOST_REQUIRE(fstat(fd, &st) == 0);
    const off_t full = st.st_size; // control page, tag area, data
    std::atomic<bool> stop { false };
    std::thread resizer([&] {
        while (!stop.load()) {
            if (ftruncate(fd, 0) != 0 || ftruncate(fd, 100) != 0 ||
                ftruncate(fd, full) != 0)
                break;
        }
    });
    int valid = 0, corrupt = 0;
    for (int i = 0; i < 2000; ++i) {
        const ring_info info = inspect(name);
        (info.problem.empty() ? valid : corrupt) += 1;
    }
    stop = true;
    resizer.join();
    ::close(fd);
    BOOST_TEST(valid + corrupt == 2000);
    r.reset(); // its creator, the last party, removes the name
    BOOST_TEST(!exists(path));
}
