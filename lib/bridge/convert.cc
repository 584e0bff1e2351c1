/* -*- c++ -*- */
/*
 * doppler-bridge: wire formats and the sc16 conversion (convert.hpp).
 * SPDX-License-Identifier: GPL-3.0-or-later
 */
#include "convert.hpp"

#include <volk/volk.h>

#include <cerrno>

namespace doppler {
namespace bridge {

wire_format parse_wire(const std::string& text)
{
    if (text == "native")
        return wire_format::native;
    if (text == "sc16")
        return wire_format::sc16;
    throw error(EINVAL,
                "--wire \"" + printable(text) +
                    "\" is not a wire format: give native (the ring's own samples) or "
                    "sc16 (f32 rings as interleaved int16, half the bytes)");
}

const char* wire_name(wire_format w) noexcept
{
    return w == wire_format::sc16 ? "sc16" : "native";
}

size_t wire_item_bytes(sample_type t, wire_format w)
{
    if (w == wire_format::sc16) {
        if (t == sample_type::f64)
            throw error(EINVAL,
                        "--wire sc16 carries f32 (or i16) rings; this ring holds f64 "
                        "samples: use --wire native, or an f32 ring");
        return 2 * sizeof(int16_t);
    }
    return sample_size(t);
}

void f32_to_sc16(const f32* in, int16_t* out, size_t n) noexcept
{
    // VOLK takes an unsigned count of floats: large blocks go in pieces.
    constexpr size_t step = size_t(1) << 28;
    for (size_t done = 0; done < n; done += step) {
        const size_t k = n - done < step ? n - done : step;
        volk_32f_s32f_convert_16i(out + 2 * done,
                                  reinterpret_cast<const float*>(in + done),
                                  sc16_scale,
                                  unsigned(2 * k));
    }
}

void sc16_to_f32(const int16_t* in, f32* out, size_t n) noexcept
{
    constexpr size_t step = size_t(1) << 28;
    for (size_t done = 0; done < n; done += step) {
        const size_t k = n - done < step ? n - done : step;
        volk_16i_s32f_convert_32f(reinterpret_cast<float*>(out + done),
                                  in + 2 * done,
                                  sc16_scale,
                                  unsigned(2 * k));
    }
}

} // namespace bridge
} // namespace doppler
