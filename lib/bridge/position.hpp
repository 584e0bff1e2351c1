/* -*- c++ -*- */
/*
 * doppler-bridge: the receiver's position file. It lets a restarted receiver
 * know which sender offset its predecessor had reached, so that samples lost
 * in flight when a receiver died are reported as a gap instead of passing
 * unnoticed (docs/bridge.md, "Faults").
 * SPDX-License-Identifier: GPL-3.0-or-later
 *
 * What is kept: before the items of a message go into the local ring, the
 * receiver records (local write index W, sender offset X, item count n): the
 * message's items are sender offsets X .. X+n-1, written at local indices
 * W .. W+n-1. Whatever point a receiver dies at, the local ring's write index
 * w is then in [W, W+n], and the next sender offset it expected is
 * X + (w - W). A record is tied to the ring by the device and inode of its
 * /dev/shm object: a ring removed and made again does not match.
 *
 * The file is a small shared mapping (tmpfs by default, beside the ring):
 * its stores are plain memory stores, visible to the next process whatever
 * way this one ends, and costing nothing per message.
 *
 * /dev/shm is writable by every local user, so the file is trusted only as
 * far as the ring files are: it is created with O_EXCL (never opened through
 * a name someone else planted) and mode 0600, its page is reserved with
 * posix_fallocate (a full /dev/shm is an error at start, never a SIGBUS), and
 * an existing file is used only if it is a regular file of this user, with
 * one link, no access for anyone else and the size of a position file
 * (the checks a ring's object gets too: lib/core/file_check.hpp); anything
 * else is refused before it is mapped. A record also carries a
 * checksum: one that was torn (its writer died while writing it) or altered
 * is ignored, and said so.
 */
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>

namespace doppler {
namespace bridge {

class position_file
{
public:
    /// Where a receiver writing ring `ring` keeps its position by default:
    /// /dev/shm/doppler-bridge.<ring>.position.
    static std::string default_path(const std::string& ring);

    /// Open (creating) the file at path for the ring whose /dev/shm object
    /// is (dev, ino) (segment::dev(), segment::ino()). Throws doppler::error
    /// saying what was wrong (not a regular file, another user's, open to
    /// others, not a position file, no room) and what to do; a file refused
    /// is never mapped.
    position_file(const std::string& path, uint64_t dev, uint64_t ino);
    ~position_file();
    position_file(const position_file&) = delete;
    position_file& operator=(const position_file&) = delete;

    /// What recall() found.
    enum class recalled {
        found, ///< a record of this ring: *next is set
        empty, ///< no record yet (a new file)
        other_ring, ///< a record of another ring, or of this ring before it
                    ///< was made again
        torn, ///< a record its writer did not finish (it died while writing)
        bad_check, ///< a record whose checksum does not match (altered)
        unexplained, ///< a record the ring's write index contradicts
    };
    /// What the outcome means, for a log line ("" for found and empty).
    static const char* describe(recalled r) noexcept;

    /// The sender offset the previous receiver expected next, given the
    /// local ring's write index now; set only when the outcome is found.
    recalled recall(uint64_t written, uint64_t* next) const noexcept;
    /// Record that the n items of sender offset x go to local index w on.
    void note(uint64_t w, uint64_t x, uint64_t n) noexcept;
    /// Remove the file (the ring it described is gone), if its name still
    /// leads to the file opened.
    void remove() noexcept;
    /// Bytes of a position file.
    static constexpr size_t bytes = 4096;
    const std::string& path() const noexcept { return path_; }

private:
    struct record;
    std::string path_;
    record* rec_ = nullptr;
    uint64_t dev_ = 0, ino_ = 0; // the ring's /dev/shm object
    uint64_t file_dev_ = 0, file_ino_ = 0; // the position file's
};

} // namespace bridge
} // namespace doppler
