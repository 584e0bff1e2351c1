/* -*- c++ -*- */
/*
 * gr-doppler: the shared layout: the control block at the start of every ring object.
 * Changing anything here changes what other processes see: bump layout_version.
 * SPDX-License-Identifier: GPL-3.0-or-later
 */
#pragma once

#include <atomic>
#include <cstddef>
#include <cstdint>

namespace doppler {

// ---------------------------------------------------------------------------
// Control block: the first page of every ring mapping
// ---------------------------------------------------------------------------

constexpr size_t cache_line = 64;
constexpr uint64_t ring_magic = 0x474e495252504f44ull; // "DOPRRING" little-endian
constexpr uint32_t layout_version = 1;

/// Largest data area a ring may have (1 TiB): beyond it, creation is EINVAL.
constexpr uint64_t max_data_bytes = uint64_t(1) << 40;

/// A process identity that survives pid reuse: pid in the low 22 bits
/// (Linux pid_max <= 2^22), the process start time (clock ticks since boot,
/// /proc/PID/stat field 22) above. 0 means "nobody".
using peer_id = uint64_t;

struct alignas(cache_line) control {
    // Line 0: written once by the creator before `magic` is published
    // (release); read-only afterwards.
    std::atomic<uint64_t> magic;
    uint32_t version;
    uint32_t type; // sample_type
    uint32_t sample_size; // bytes
    uint32_t header_bytes; // offset of the data from the start of the object
    uint64_t capacity; // samples, power of two
    uint64_t data_bytes; // capacity * sample_size, multiple of the page size
    peer_id creator;
    uint32_t flags; // reserved, must be 0
    uint32_t reserved0;

    // Line 1: producer-written.
    alignas(cache_line) std::atomic<uint64_t> write_idx; // samples ever published
    std::atomic<uint64_t> dropped; // samples refused (drop mode)
    std::atomic<uint32_t> closed; // end of stream, set once

    // Line 2: consumer-written.
    alignas(cache_line) std::atomic<uint64_t> read_idx; // samples ever consumed

    // Line 3: wake words, written only when a side parks (futex words are
    // 32-bit). `*_wake_at` is the index that satisfies the parked side, so
    // the other side wakes it only when it is really satisfied.
    alignas(cache_line) std::atomic<uint32_t> consumer_parked;
    std::atomic<uint32_t> producer_parked;
    std::atomic<uint64_t> consumer_wake_at; // write_idx the consumer needs
    std::atomic<uint64_t> producer_wake_at; // read_idx the producer needs
    // A statistic, added after layout version 1 shipped, in bytes that were
    // padding (zero in every ring ever created), so no offset moved and the
    // version stays: peers built before it ignore it, and it reads 0 from
    // them. Counts parks whose slice expired (no wake came) although the
    // waiter's condition was already met: data there, room there, or the
    // stream closed. A wake-up protocol that works never lets that happen,
    // so anything but 0 is a bug (a lost wake-up that cost a whole slice).
    std::atomic<uint64_t> missed_wakes;

    // Line 4: roles, claimed by CAS on first write / first wait.
    alignas(cache_line) std::atomic<peer_id> producer;
    std::atomic<peer_id> consumer;
};

static_assert(std::atomic<uint64_t>::is_always_lock_free,
              "needs lock-free 64-bit atomics");
static_assert(std::atomic<uint32_t>::is_always_lock_free,
              "futex words must be plain ints");
static_assert(sizeof(std::atomic<uint32_t>) == 4, "futex word size");
static_assert(offsetof(control, write_idx) == 1 * cache_line, "producer line");
static_assert(offsetof(control, read_idx) == 2 * cache_line, "consumer line");
static_assert(offsetof(control, consumer_parked) == 3 * cache_line, "wake line");
static_assert(offsetof(control, missed_wakes) == 3 * cache_line + 24,
              "missed_wakes sits in the wake line's former padding");
static_assert(offsetof(control, missed_wakes) + sizeof(std::atomic<uint64_t>) <=
                  4 * cache_line,
              "missed_wakes must not move the role line");
static_assert(offsetof(control, producer) == 4 * cache_line, "role line");
static_assert(sizeof(control) == 5 * cache_line, "control block is five lines");

} // namespace doppler
