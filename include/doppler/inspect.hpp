/* -*- c++ -*- */
/*
 * gr-doppler: inspecting named rings (inspect.cc): what the `doppler-ring` tool shows.
 * Not part of the hot path: include it only where rings are listed or removed.
 * SPDX-License-Identifier: GPL-3.0-or-later
 */
#pragma once

#include <doppler/types.hpp>

#include <cstdint>
#include <string>
#include <vector>

namespace doppler {

// ---------------------------------------------------------------------------
// Inspecting named rings (inspect.cc): what the `doppler-ring` tool shows.
// Read-only; validation is segment::attach_fd's, so a foreign or corrupt
// object is reported, never trusted.
// ---------------------------------------------------------------------------

struct ring_peer {
    int pid = 0; ///< 0: nobody holds the role
    bool alive = false; ///< same pid and start time still running
};

/// One declared reader (slot 0 is the default reader, name "").
struct ring_reader {
    uint32_t slot = 0;
    std::string name; ///< "" for the default reader
    ring_peer holder; ///< the process reading it (pid 0: nobody right now)
    bool tethered = true;
    int64_t grace_ns = -1; ///< < 0: waited for forever
    uint64_t position = 0; ///< its read index
    uint64_t lag = 0; ///< written - position
    uint64_t skipped = 0; ///< samples it lost to overruns
    uint64_t stream = 0; ///< stream of its next sample
};

struct ring_info {
    std::string name; ///< the part after "doppler." in /dev/shm
    std::string
        problem; ///< empty for a valid ring, else "corrupt: <reason>" and the like
    uint32_t uid = 0, mode = 0;
    uint64_t bytes = 0; ///< size of the object
    sample_type type = sample_type::f32;
    uint64_t capacity = 0, written = 0, read_index = 0, dropped = 0;
    uint64_t missed_wakes =
        0; ///< lost wake-ups, producer's and readers': 0 unless broken
    bool closed = false;
    ring_peer creator, producer, consumer; ///< consumer: the default reader's holder
    uint64_t stream = 0; ///< current (or last) stream number, 0: none yet
    uint64_t tag_bytes = 0, tag_fill = 0, tags_dropped = 0;
    std::vector<ring_reader> readers; ///< declared readers, by slot
    /// An open stream whose ring is full: what holds its producer back
    /// (detail::holding_back); empty otherwise.
    std::string held_back;
    /// Samples written and not yet consumed (clamped to capacity).
    uint64_t fill() const noexcept
    {
        uint64_t n = written - read_index;
        return n > capacity ? capacity : n;
    }
};

/// Every /dev/shm/doppler.* object, sorted by name (corrupt ones included).
std::vector<ring_info> list_rings();
/// One ring by name: error(EINVAL) for a bad name, error(ENOENT) if missing.
ring_info inspect(const std::string& name);
/// Remove the name (peers keep their mappings). False if there was none.
bool remove_ring(const std::string& name);

} // namespace doppler
