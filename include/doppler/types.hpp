/* -*- c++ -*- */
/*
 * gr-doppler: sample types, results and errors: the vocabulary every layer shares.
 * SPDX-License-Identifier: GPL-3.0-or-later
 */
#pragma once

#include <complex>
#include <cstddef>
#include <cstdint>
#include <memory>
#include <stdexcept>
#include <string>
#include <system_error>
#include <type_traits>

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

/// "f32", "f64", "i16", or "unknown": the one spelling of a sample type, used
/// by the C++ and C APIs, Python, the blocks, GRC and the ring tool alike.
const char* type_name(sample_type t) noexcept;
/// "f32" / "f64" / "i16" -> the type; error(EINVAL) naming `param` (the
/// argument or block parameter that held the text) for anything else.
sample_type parse_type(const std::string& text, const std::string& param = "type");
/// Bytes per sample of a type (0 for an unknown type).
size_t sample_size(sample_type t) noexcept;

/// `s` safe to print on a terminal: bytes outside printable ASCII, and the
/// backslash, as \xNN. A name from /dev/shm or from a caller can then
/// never move the cursor or forge a line of a table.
std::string printable(const std::string& s);

// ---------------------------------------------------------------------------
// Overflow policy (what a producer does when the ring is full)
// ---------------------------------------------------------------------------

enum class policy {
    drop, ///< never wait: refuse the block and count it in dropped()
    block, ///< lossless: wait for the consumer to make room
};
/// "drop" or "block".
const char* policy_name(policy p) noexcept;
/// "drop" / "block" -> the policy; error(EINVAL) naming `param` otherwise.
policy parse_policy(const std::string& text, const std::string& param = "policy");

// ---------------------------------------------------------------------------
// Capacity
// ---------------------------------------------------------------------------

/// Capacity (samples) of a ring whose creator does not say.
constexpr uint64_t default_capacity = uint64_t(1) << 20;
/// A requested capacity as a sample count: error(EINVAL) unless it is
/// positive. (Rounding up to a power of two and the page minimum, and the
/// upper limit, are segment::round_capacity's.)
uint64_t check_capacity(int64_t requested);

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
    busy, ///< the role is held by another live handle (EBUSY)
    corrupt, ///< a shared index is impossible from this side (EBADMSG): the read
             ///< index is ahead of the write index, or the fill is beyond capacity
    interrupted, ///< the caller's interrupt said stop before it was done (EINTR)
};
const char* status_name(status s) noexcept;
int status_errno(status s) noexcept;

/// How often a wait that sleeps asks its interrupt, at the least: once
/// before it first sleeps, then after every sleep of at most this long.
constexpr int64_t interrupt_check_ns = 40'000'000;

/// The caller's "stop waiting?", for a wait that may sleep long
/// (ring<T>::wait, wait_space, write_blocking; segment::attach): asked
/// before the wait first sleeps and at least every interrupt_check_ns while
/// it does; true ends the wait with status::interrupted (attach:
/// error(EINTR)). A wait that finds what it wants without sleeping never
/// asks, so the hot path does not pay for it. Empty (the default): never
/// asked, and a sleep lasts a whole park slice.
///
/// A function and its context: nothing is allocated and nothing locked to
/// make or pass one. It runs in the waiting thread, must not throw, and
/// refers to the callable it was made from, which must outlive it; hence
/// it is made from a named callable only (a temporary would be gone before
/// the wait asks it):
///
///     auto stop = [&] { return stop_flag.load(std::memory_order_relaxed); };
///     auto v = r.wait(n, timeout_ns, stop);
class interrupt
{
public:
    interrupt() noexcept = default;
    interrupt(bool (*fn)(void*) noexcept, void* context) noexcept : fn_(fn), ctx_(context)
    {
    }
    /// Asks f() (any callable returning something convertible to bool).
    template <class F,
              class = std::enable_if_t<!std::is_same_v<std::remove_cv_t<F>, interrupt>>>
    interrupt(F& f) noexcept
        : fn_(&call<F>)
        , ctx_(const_cast<void*>(static_cast<const void*>(std::addressof(f))))
    {
    }
    template <class F,
              class = std::enable_if_t<!std::is_lvalue_reference_v<F> &&
                                       !std::is_same_v<std::decay_t<F>, interrupt>>>
    interrupt(F&&) = delete; // a temporary: gone before the wait would ask it

    /// Something to ask.
    explicit operator bool() const noexcept { return fn_ != nullptr; }
    /// Stop waiting? (false when empty)
    bool operator()() const noexcept { return fn_ != nullptr && fn_(ctx_); }

private:
    template <class F>
    static bool call(void* f) noexcept
    {
        return bool((*static_cast<F*>(f))());
    }
    bool (*fn_)(void*) noexcept = nullptr;
    void* ctx_ = nullptr;
};

/// Error thrown by creation / attach / role claims. `code()` carries errno
/// (ENOENT, EACCES, EEXIST, ENOSPC, EINVAL, EBUSY, ...) or, for a ring of
/// another sample type, EPROTOTYPE; what() is exactly the message given: it
/// says what was wrong and what to do (no strerror text is appended; the
/// adapters turn the code into the exception kind or errno).
class error : public std::runtime_error
{
public:
    error(int err, const std::string& what)
        : std::runtime_error(what), code_(err, std::generic_category())
    {
    }
    const std::error_code& code() const noexcept { return code_; }

private:
    std::error_code code_;
};

// ---------------------------------------------------------------------------
// Messages the adapters show as they are
// ---------------------------------------------------------------------------

/// Who reads a message: a program calling the API (Python, C, C++), or the
/// user of a GNU Radio block (told which block parameter to change; GRC shows
/// the parameter's label, Python uses its keyword).
enum class audience { api, block };

/// "ring 'rx'", or "in-process ring" for an anonymous one.
std::string ring_label(const std::string& name);
// Each message starts with `label` (ring_label(), or a path).
/// Another live handle holds the producer (or consumer) role: in another
/// process (pid), or with same_process in this one.
std::string busy_message(const std::string& label,
                         bool producer,
                         int pid,
                         audience who,
                         bool same_process = false);
/// A write into a ring whose stream has ended (close() is final).
std::string closed_message(const std::string& label, audience who);
/// A ring holding `have` samples opened as `want`.
std::string wrong_type_message(const std::string& label,
                               sample_type have,
                               sample_type want,
                               audience who);

} // namespace doppler
