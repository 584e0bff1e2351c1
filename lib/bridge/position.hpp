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
 */
#pragma once

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
    /// saying what was wrong (a directory, no permission, not a position
    /// file) and what to do.
    position_file(const std::string& path, uint64_t dev, uint64_t ino);
    ~position_file();
    position_file(const position_file&) = delete;
    position_file& operator=(const position_file&) = delete;

    /// The sender offset the previous receiver expected next, given the
    /// local ring's write index now; false if the file holds nothing for this
    /// ring (new file, another ring, a ring made again, or a write index the
    /// record cannot explain).
    bool recall(uint64_t written, uint64_t* next) const noexcept;
    /// Record that the n items of sender offset x go to local index w on.
    void note(uint64_t w, uint64_t x, uint64_t n) noexcept;
    /// Remove the file (the ring it described is gone).
    void remove() noexcept;
    const std::string& path() const noexcept { return path_; }

private:
    struct record;
    std::string path_;
    record* rec_ = nullptr;
    uint64_t dev_ = 0, ino_ = 0; // the ring's /dev/shm object
};

} // namespace bridge
} // namespace doppler
