/* -*- c++ -*- */
/*
 * SPDX-License-Identifier: GPL-3.0-or-later
 */
#include "block_ring.h"

#include <boost/thread/thread.hpp>

#include <algorithm>
#include <cerrno>
#include <climits>
#include <cmath>
#include <cstdio>
#include <stdexcept>

namespace gr {
namespace doppler {
namespace detail {

using dp::sample_type;

namespace {

sample_type parse_type(const std::string& type, bool sc16)
{
    const sample_type t = dp::parse_type(type, "Type (type=)");
    if (sc16 && t != sample_type::i16)
        throw std::invalid_argument("I16 input sc16 (raw short I/Q pairs) needs Type "
                                    "(type=) \"i16\", got \"" +
                                    type + "\"");
    return t;
}

void check_scale(float scale)
{
    // The sink multiplies by scale, the source divides by it (multiplies by
    // 1/scale): both must be ordinary numbers, or the samples come out as
    // zeros, infinities or NaN.
    const float inverse = 1.0f / scale;
    if (!std::isnormal(scale) || !std::isnormal(inverse)) {
        char got[32];
        std::snprintf(got, sizeof got, "%g", double(scale));
        throw std::invalid_argument(
            std::string("Scale (scale=) must be a finite, non-zero number whose "
                        "reciprocal is one too (as 32-bit floats: about 1.2e-38 to "
                        "3.4e38 in magnitude, e.g. 32767 or 1/32768), got ") +
            got);
    }
}

} // namespace

sample_type parse_samples(const std::string& type, bool sc16, float scale)
{
    const sample_type t = parse_type(type, sc16);
    check_scale(scale);
    return t;
}

ring_ref open_named(sample_type t, const std::string& name, uint64_t capacity)
{
    using dp::audience;
    dp::check_capacity(int64_t(std::min<uint64_t>(capacity, INT64_MAX)));
    switch (t) {
    case sample_type::f32:
        return std::shared_ptr<dp::ring<dp::f32>>(
            dp::ring<dp::f32>::open(name, capacity, audience::block));
    case sample_type::f64:
        return std::shared_ptr<dp::ring<dp::f64>>(
            dp::ring<dp::f64>::open(name, capacity, audience::block));
    case sample_type::i16:
        break;
    }
    return std::shared_ptr<dp::ring<dp::i16>>(
        dp::ring<dp::i16>::open(name, capacity, audience::block));
}

bool stop_requested() noexcept
{
    return boost::this_thread::interruption_requested();
}

dp::interrupt on_stop() noexcept
{
    return dp::interrupt([](void*) noexcept { return stop_requested(); }, nullptr);
}

int64_t stall_watch::wait_ns() noexcept
{
    const int64_t now = dp::detail::now_ns();
    if (d_since == 0)
        d_since = now;
    if (d_told)
        return -1;
    return std::max<int64_t>(0, d_after - (now - d_since));
}

bool stall_watch::waited() noexcept
{
    const int64_t now = dp::detail::now_ns();
    if (d_since == 0)
        d_since = now;
    if (d_told || now - d_since < d_after)
        return false;
    d_told = true;
    return true;
}

std::string stall_message(const ring_ref& ring)
{
    return label(ring) + " has been full for " +
        std::to_string(stall_report_ns / 1'000'000'000) +
        " s and the flowgraph waits for room (policy 'block'): held back by " +
        std::visit([](const auto& r) { return r->held_back_by(); }, ring);
}

std::string idle_message(const ring_ref& ring)
{
    return label(ring) + " has had nothing to read for " +
        std::to_string(idle_report_ns / 1'000'000'000) +
        " s: " + std::visit([](const auto& r) { return r->producer_state(); }, ring);
}

bool closed(const ring_ref& ring)
{
    return std::visit([](const auto& r) { return r->closed(); }, ring);
}

void check_type(sample_type t, const ring_ref& ring)
{
    const sample_type have =
        std::visit([](const auto& r) { return r->seg()->type(); }, ring);
    if (have != t)
        throw dp::error(
            EPROTOTYPE,
            dp::wrong_type_message(label(ring), have, t, dp::audience::block));
}

void claim(const ring_ref& ring, bool producer)
{
    std::visit(
        [&](const auto& r) {
            using dp::audience;
            if (!(producer ? r->claim_producer() : r->claim_reader()))
                throw dp::error(EBUSY, r->busy_message(producer, audience::block));
            // A stream a previous producer closed is no obstacle: this handle
            // starts the next one. A handle that closed its own stream (a
            // buffer object handed over after close()) is done for good.
            if (producer && r->closed())
                throw dp::error(EINVAL, dp::closed_message(label(ring), audience::block));
        },
        ring);
}

std::string label(const ring_ref& ring)
{
    return std::visit([](const auto& r) { return r->label(); }, ring);
}

} // namespace detail
} // namespace doppler
} // namespace gr
