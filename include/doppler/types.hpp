/* -*- c++ -*- */
/*
 * gr-doppler: sample types, results and errors: the vocabulary every layer shares.
 * SPDX-License-Identifier: GPL-3.0-or-later
 */
#pragma once

#include <complex>
#include <cstddef>
#include <cstdint>
#include <string>
#include <system_error>

namespace doppler {

// ---------------------------------------------------------------------------
// Sample types
// ---------------------------------------------------------------------------

/// One interleaved int16 I/Q pair (raw sc16 from an ADC): 4 bytes.
struct i16 {
    int16_t i;
    int16_t q;
};
static_assert(sizeof(i16) == 4, "i16 must be two packed int16");

using f32 = std::complex<float>;
using f64 = std::complex<double>;
static_assert(sizeof(f32) == 8 && sizeof(f64) == 16, "complex layout");

enum class sample_type : uint32_t { f32 = 1, f64 = 2, i16 = 3 };

template <class T>
struct sample_traits;
template <>
struct sample_traits<f32> {
    static constexpr sample_type type = sample_type::f32;
};
template <>
struct sample_traits<f64> {
    static constexpr sample_type type = sample_type::f64;
};
template <>
struct sample_traits<i16> {
    static constexpr sample_type type = sample_type::i16;
};

/// "f32", "f64", "i16", or "unknown".
const char* type_name(sample_type t) noexcept;
/// Bytes per sample of a type (0 for an unknown type).
size_t sample_size(sample_type t) noexcept;

// ---------------------------------------------------------------------------
// Errors and results
// ---------------------------------------------------------------------------

/// Result of a wait or a blocking write. Also mapped to errno by the C ABI.
enum class status : int {
    ok = 0,
    timeout, ///< the timeout passed first (ETIMEDOUT)
    end_of_stream, ///< closed by the producer and fewer than n remain (ENODATA)
    broken, ///< the peer process died without closing (EPIPE)
    invalid, ///< bad argument, e.g. n > capacity (EINVAL)
    busy, ///< the role is held by another live process (EBUSY)
};
const char* status_name(status s) noexcept;
int status_errno(status s) noexcept;

/// Error thrown by creation / attach / role claims. `code()` carries errno
/// (ENOENT, EACCES, EEXIST, ENOSPC, EINVAL, EBUSY, ...) or, for a ring of
/// another sample type, EPROTOTYPE; what() says what was wrong and what to do.
class error : public std::system_error
{
public:
    error(int err, const std::string& what)
        : std::system_error(err, std::generic_category(), what)
    {
    }
};

} // namespace doppler
