/* -*- c++ -*- */
/*
 * gr-doppler core: checks of an opened file before it is trusted
 * (file_check.hpp).
 * SPDX-License-Identifier: GPL-3.0-or-later
 */
#include "file_check.hpp"

#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <cstring>

namespace doppler {
namespace detail {

// One S_IS* test per kind of file that is not a regular one.
const char* file_kind(mode_t mode) noexcept
{
    if (S_ISDIR(mode))
        return "a directory";
    if (S_ISFIFO(mode))
        return "a FIFO";
    if (S_ISSOCK(mode))
        return "a socket";
    if (S_ISLNK(mode))
        return "a symbolic link";
    if (S_ISCHR(mode))
        return "a character device";
    if (S_ISBLK(mode))
        return "a block device";
    return "not a regular file";
}

error not_a_file(const std::string& label, mode_t mode, const file_rules& r)
{
    return error(EBADMSG,
                 label + " is " + file_kind(mode) + ", not " + r.expected + r.what_to_do);
}

struct stat check_file(int fd, const std::string& label, const file_rules& r)
{
    struct stat st {
    };
    if (::fstat(fd, &st) != 0) {
        const int e = errno;
        throw error(e, "cannot stat " + label + ": " + std::strerror(e));
    }
    if (!S_ISREG(st.st_mode))
        throw not_a_file(label, st.st_mode, r);
    if (r.owner_risk && st.st_uid != ::geteuid())
        throw error(EACCES,
                    label + " belongs to uid " + std::to_string(st.st_uid) +
                        ", not to you (uid " + std::to_string(::geteuid()) +
                        "): " + r.owner_risk +
                        (r.owner_what_to_do ? r.owner_what_to_do : r.what_to_do));
    if (r.private_mode && (st.st_mode & 077) != 0) {
        char mode[8];
        std::snprintf(mode, sizeof mode, "%04o", unsigned(st.st_mode & 07777));
        throw error(EACCES,
                    label + " has mode " + mode + ": others may read or change it (" +
                        r.expected + " is 0600)" + r.what_to_do);
    }
    if (r.one_link && st.st_nlink != 1)
        throw error(EACCES,
                    label + " has " + std::to_string(st.st_nlink) +
                        " names (hard links): another name could lead someone else "
                        "to it" +
                        r.what_to_do);
    if (st.st_size == 0) {
        if (r.empty_ok)
            return st;
        throw error(EAGAIN,
                    label +
                        " is empty (its creator is still setting it up, or died doing "
                        "so)");
    }
    const uint64_t size = uint64_t(st.st_size);
    if (size < r.min_bytes)
        throw error(EBADMSG,
                    label + " is " + std::to_string(size) + " bytes, smaller than " +
                        r.min_what + ": it is not " + r.expected + " (or was truncated)" +
                        r.what_to_do);
    if (r.exact_bytes != 0 && size != r.exact_bytes)
        throw error(EBADMSG,
                    label + " is " + std::to_string(size) + " bytes, not " +
                        std::to_string(r.exact_bytes) + ": it is not " + r.expected +
                        r.what_to_do);
    return st;
}

} // namespace detail
} // namespace doppler
