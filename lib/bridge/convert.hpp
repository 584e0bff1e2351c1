/* -*- c++ -*- */
/*
 * doppler-bridge: what the items of a message are on the wire, and the sc16
 * conversion (VOLK) between f32 rings and interleaved int16 items.
 * SPDX-License-Identifier: GPL-3.0-or-later
 *
 * Wire formats
 *   native  the ring's own samples, byte for byte: f32 rings as GNU Radio's
 *           gr_complex (8 bytes), f64 as two doubles (16 bytes), i16 as two
 *           int16 (4 bytes, I then Q).
 *   sc16    an f32 ring's samples as interleaved int16 I/Q (4 bytes, half the
 *           bytes of native). Full scale 1.0 <-> 32767:
 *             sending    int16 = round(x * 32767), clipped to [-32768, 32767]
 *                        (round half to even; |x| > 1 saturates)
 *             receiving  x = int16 / 32767.0
 *           so a sample that was in [-1, 1] comes back within 1/65534 of
 *           itself (half a step), and -32768 arrives as -1.00003. This is
 *           SoapyRemote's remote:format=CS16 with remote:scale=32767. For an
 *           i16 ring sc16 is its native format (no conversion); an f64 ring
 *           has no sc16 form.
 */
#pragma once

#include <doppler/types.hpp>

#include <cstddef>
#include <cstdint>
#include <string>

namespace doppler {
namespace bridge {

enum class wire_format { native, sc16 };

/// "native" / "sc16" -> the format; error(EINVAL) naming --wire otherwise.
wire_format parse_wire(const std::string& text);
const char* wire_name(wire_format w) noexcept;

/// Full scale of sc16: 1.0 in an f32 ring is 32767 on the wire.
constexpr float sc16_scale = 32767.0f;

/// Bytes of one item on the wire for a ring of type t in format w;
/// error(EINVAL) saying what to do if the pair is not supported (sc16 of an
/// f64 ring).
size_t wire_item_bytes(sample_type t, wire_format w);

/// True if items of a ring of type t are converted in format w (f32 and sc16).
inline bool converts(sample_type t, wire_format w) noexcept
{
    return t == sample_type::f32 && w == wire_format::sc16;
}

/// n f32 samples -> 2n int16 (I, Q, I, Q, ...), scaled and clipped (VOLK).
void f32_to_sc16(const f32* in, int16_t* out, size_t n) noexcept;
/// 2n int16 -> n f32 samples (VOLK). `in` may be unaligned.
void sc16_to_f32(const int16_t* in, f32* out, size_t n) noexcept;

} // namespace bridge
} // namespace doppler
