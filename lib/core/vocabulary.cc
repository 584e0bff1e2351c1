/* -*- c++ -*- */
/*
 * The shared vocabulary: sample type and policy names (parsing and printing),
 * capacity checks, result names, and the messages every adapter shows as they
 * are (a role held elsewhere, a closed ring, a ring of another type).
 * SPDX-License-Identifier: GPL-3.0-or-later
 */
#include <doppler/types.hpp>

#include <cerrno>

namespace doppler {

// Each enum's names and sizes are switches over every value, alike by design:
// -Wswitch then names any value a new enumerator leaves out.

const char* type_name(sample_type t) noexcept
{
    switch (t) {
    case sample_type::f32:
        return "f32";
    case sample_type::f64:
        return "f64";
    case sample_type::i16:
        return "i16";
    }
    return "unknown";
}

size_t sample_size(sample_type t) noexcept
{
    switch (t) {
    case sample_type::f32:
        return sizeof(f32);
    case sample_type::f64:
        return sizeof(f64);
    case sample_type::i16:
        return sizeof(i16);
    }
    return 0;
}

const char* status_name(status s) noexcept
{
    switch (s) {
    case status::ok:
        return "ok";
    case status::timeout:
        return "timeout";
    case status::end_of_stream:
        return "end of stream";
    case status::broken:
        return "peer died";
    case status::invalid:
        return "invalid argument";
    case status::busy:
        return "role held by another handle";
    case status::corrupt:
        return "ring indices corrupt";
    case status::interrupted:
        return "interrupted";
    }
    return "unknown";
}

int status_errno(status s) noexcept
{
    switch (s) {
    case status::ok:
        return 0;
    case status::timeout:
        return ETIMEDOUT;
    case status::end_of_stream:
        return ENODATA;
    case status::broken:
        return EPIPE;
    case status::invalid:
        return EINVAL;
    case status::busy:
        return EBUSY;
    case status::corrupt:
        return EBADMSG;
    case status::interrupted:
        return EINTR;
    }
    return EINVAL;
}

sample_type parse_type(const std::string& text, const std::string& param)
{
    for (sample_type t : { sample_type::f32, sample_type::f64, sample_type::i16 })
        if (text == type_name(t))
            return t;
    throw error(EINVAL,
                param + " must be \"f32\", \"f64\" or \"i16\", got \"" + text + "\"");
}

const char* policy_name(policy p) noexcept
{
    return p == policy::block ? "block" : "drop";
}

policy parse_policy(const std::string& text, const std::string& param)
{
    for (policy p : { policy::drop, policy::block })
        if (text == policy_name(p))
            return p;
    throw error(EINVAL, param + " must be \"drop\" or \"block\", got \"" + text + "\"");
}

uint64_t check_capacity(int64_t requested)
{
    if (requested <= 0)
        throw error(EINVAL,
                    "capacity must be a positive number of samples, got " +
                        std::to_string(requested));
    return uint64_t(requested);
}

std::string ring_label(const std::string& name)
{
    return name.empty() ? std::string("in-process ring") : "ring '" + name + "'";
}

std::string printable(const std::string& s)
{
    static const char hex[] = "0123456789abcdef";
    std::string out;
    out.reserve(s.size());
    for (unsigned char c : s) {
        if (c >= 0x20 && c < 0x7f && c != '\\') {
            out += char(c);
        } else {
            out += "\\x";
            out += hex[c >> 4];
            out += hex[c & 15];
        }
    }
    return out;
}

std::string busy_message(
    const std::string& label, bool producer, int pid, audience who, bool same_process)
{
    const std::string role = producer ? "producer" : "consumer";
    if (same_process) {
        const std::string head = label + " already has a " + role +
            ": another handle in this same process (pid " + std::to_string(pid) +
            ") holds that role (one " + role + " per ring, whatever the process); ";
        if (who == audience::block)
            return head +
                "give this block another Ring Name (name=), or use the block "
                "that already has it";
        return head + "use that handle, or release it first";
    }
    const std::string head = label + " already has a " + role + ": pid " +
        std::to_string(pid) + " holds that role (one " + role + " per ring); ";
    if (who == audience::block)
        return head + "stop that " + role +
            " first, or give this block another Ring Name (name=)";
    return head + "stop it or use another ring";
}

std::string closed_message(const std::string& label, audience who)
{
    const std::string head = label +
        " is closed (its producer ended the stream, and that is final) and takes no "
        "more samples; ";
    if (who == audience::block)
        return head +
            "give this block another Ring Name (name=), or remove the old "
            "ring first (`doppler-ring rm NAME`)";
    return head + "write into a new ring";
}

std::string wrong_type_message(const std::string& label,
                               sample_type have,
                               sample_type want,
                               audience who)
{
    const std::string head =
        label + " holds " + type_name(have) + " samples, not " + type_name(want) + "; ";
    if (who == audience::block)
        return head + "set the block's Type (type=) to \"" + type_name(have) +
            "\", or give it another Ring Name (name=)";
    return head + "open it as " + type_name(have) + " (" +
        (have == sample_type::f32       ? "F32Buffer"
             : have == sample_type::f64 ? "F64Buffer"
                                        : "I16Buffer") +
        " in Python, dp_buffer_" + type_name(have) + "_* in C, ring<" + type_name(have) +
        "> in C++)";
}

} // namespace doppler
