/* -*- c++ -*- */
/*
 * gr-doppler core, internal (not installed): the checks of an opened file in
 * a directory every local user can write to (/dev/shm) before anything in it
 * is trusted, read or mapped: what it is, whose it is, who else may use it,
 * how many names it has and its size. A ring's object (segment.cc) and the
 * bridge's position file (lib/bridge/position.cc) both go through here, so
 * both refuse with the same words: what was wrong, then what to do.
 * SPDX-License-Identifier: GPL-3.0-or-later
 */
#pragma once

#include <doppler/types.hpp>

#include <sys/stat.h>

#include <cstdint>
#include <string>

namespace doppler {
namespace detail {

/// What an opened file must be, and the words of a refusal.
struct file_rules {
    /// What the file should be: "a doppler ring".
    const char* expected = "";
    /// Appended to every refusal, with its own punctuation: "; remove it, or
    /// use another name".
    const char* what_to_do = "";
    /// Why another user's file is refused ("another user could ..."); null:
    /// any owner is accepted.
    const char* owner_risk = nullptr;
    /// Appended to an owner refusal instead of what_to_do, if not null.
    const char* owner_what_to_do = nullptr;
    /// Refuse any permission bit for the group or others (a file of 0600).
    bool private_mode = false;
    /// Refuse a file with more than one name (hard links).
    bool one_link = false;
    /// Accept an empty file (its maker died before sizing it); otherwise an
    /// empty file is EAGAIN (its maker may still be setting it up).
    bool empty_ok = false;
    /// A file (not empty) must have at least min_bytes, named min_what
    /// ("a ring header") ...
    uint64_t min_bytes = 0;
    const char* min_what = "";
    /// ... and exactly exact_bytes if that is not 0.
    uint64_t exact_bytes = 0;
};

/// "a directory", "a FIFO", ... for a file that is not a regular file.
const char* file_kind(mode_t mode) noexcept;

/// The refusal of something that is not a regular file (an open that failed
/// on it, or check_file): EBADMSG, "<label> is a FIFO, not <expected>".
error not_a_file(const std::string& label, mode_t mode, const file_rules& r);

/// fstat the open fd and check it against r, in this order: a regular file,
/// this user's, no access for others, one name, its size. Returns what fstat
/// said; throws doppler::error beginning with `label` (EBADMSG: not what it
/// should be; EACCES: another user's, or open to others; EAGAIN: empty).
struct stat check_file(int fd, const std::string& label, const file_rules& r);

} // namespace detail
} // namespace doppler
