/* -*- c++ -*- */
/*
 * SPDX-License-Identifier: GPL-3.0-or-later
 */
#include "block_ring.h"

#include <cerrno>
#include <cmath>
#include <stdexcept>

namespace gr {
namespace doppler {
namespace detail {

using ::doppler::sample_type;

sample_type parse_type(const std::string& type, bool sc16)
{
    sample_type t;
    if (type == "f32")
        t = sample_type::f32;
    else if (type == "f64")
        t = sample_type::f64;
    else if (type == "i16")
        t = sample_type::i16;
    else
        throw std::invalid_argument("type must be \"f32\", \"f64\" or \"i16\", got \"" +
                                    type + "\"");
    if (sc16 && t != sample_type::i16)
        throw std::invalid_argument(
            "sc16 (raw short I/Q pairs) needs type \"i16\", got \"" + type + "\"");
    return t;
}

void check_scale(float scale)
{
    if (!std::isfinite(scale) || scale == 0.0f)
        throw std::invalid_argument("scale must be a finite, non-zero number, got " +
                                    std::to_string(scale));
}

ring_ref open_named(sample_type t, const std::string& name, uint64_t capacity)
{
    if (capacity == 0)
        throw std::invalid_argument(
            "capacity must be a positive number of samples, got 0");
    switch (t) {
    case sample_type::f32:
        return std::shared_ptr<::doppler::ring<::doppler::f32>>(
            ::doppler::ring<::doppler::f32>::open(name, capacity));
    case sample_type::f64:
        return std::shared_ptr<::doppler::ring<::doppler::f64>>(
            ::doppler::ring<::doppler::f64>::open(name, capacity));
    case sample_type::i16:
        break;
    }
    return std::shared_ptr<::doppler::ring<::doppler::i16>>(
        ::doppler::ring<::doppler::i16>::open(name, capacity));
}

void check_type(sample_type t, const ring_ref& ring)
{
    const sample_type have =
        std::visit([](const auto& r) { return r->seg()->type(); }, ring);
    if (have != t)
        throw ::doppler::error(EPROTOTYPE,
                               label(ring) + " holds " + ::doppler::type_name(have) +
                                   " samples, not " + ::doppler::type_name(t) +
                                   "; pass the type that matches the buffer");
}

void claim(const ring_ref& ring, bool producer)
{
    std::visit(
        [&](const auto& r) {
            if (producer && r->closed()) // end of stream is final
                throw std::invalid_argument(
                    label(ring) +
                    " is closed (an earlier producer ended its stream) and takes no more "
                    "samples; use a new ring (for a named one: doppler-ring rm NAME, "
                    "or another name)");
            if (producer ? r->claim_producer() : r->claim_consumer())
                return;
            const char* role = producer ? "producer" : "consumer";
            throw ::doppler::error(EBUSY,
                                   label(ring) + " already has a " + role + " (pid " +
                                       std::to_string(r->holder_pid()) + "); stop that " +
                                       role + " first, or use another ring");
        },
        ring);
}

std::string label(const ring_ref& ring)
{
    const std::string& name = std::visit(
        [](const auto& r) -> const std::string& { return r->seg()->name(); }, ring);
    return name.empty() ? std::string("in-process ring") : "ring '" + name + "'";
}

} // namespace detail
} // namespace doppler
} // namespace gr
