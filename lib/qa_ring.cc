/* Core ring tests (Boost.Test). SPDX-License-Identifier: GPL-3.0-or-later */
#define BOOST_TEST_MODULE doppler_ring
#include <boost/test/unit_test.hpp>

#include <doppler/buffer.h>
#include <doppler/ring.hpp>

#include <thread>
#include <vector>

using namespace doppler;

BOOST_AUTO_TEST_CASE(wrap_is_contiguous)
{
    ring<cf32> r(512);
    BOOST_TEST(r.capacity() == 512u);
    std::vector<cf32> a(400);
    for (size_t i = 0; i < a.size(); ++i)
        a[i] = cf32(float(i), -float(i));
    BOOST_TEST(r.write(a.data(), 400));
    auto v = r.wait(400, 0);
    BOOST_REQUIRE(v);
    BOOST_TEST(r.consume(400));
    BOOST_TEST(r.write(a.data(), 400)); // straddles the end
    v = r.wait(400, 0);
    BOOST_REQUIRE(v);
    for (size_t i = 0; i < 400; ++i)
        BOOST_TEST(v.data[i] == a[i]);
}
