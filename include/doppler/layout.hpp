/* -*- c++ -*- */
/*
 * gr-doppler: the shared layout: the control block at the start of every ring object,
 * the tag area after it, then the data. Changing anything here changes what other
 * processes see: bump layout_version. docs/architecture.md has the byte map.
 * SPDX-License-Identifier: GPL-3.0-or-later
 */
#pragma once

#include <atomic>
#include <cstddef>
#include <cstdint>

namespace doppler {

// ---------------------------------------------------------------------------
// Object: [ control page(s) | tag area | data ]
//
// header_bytes (line 0) is the offset of the data: control pages plus the
// tag area, a multiple of the page size. All integers are little-endian
// (the byte order of every platform this builds on), all indices are
// free-running 64-bit counters.
// ---------------------------------------------------------------------------

constexpr size_t cache_line = 64;
constexpr uint64_t ring_magic = 0x474e495252504f44ull; // "DOPRRING" little-endian
constexpr uint32_t layout_version = 3;

/// Largest data area a ring may have (1 TiB): beyond it, creation is EINVAL.
constexpr uint64_t max_data_bytes = uint64_t(1) << 40;

/// Reader slots per ring; slot 0 is the default reader.
constexpr uint32_t max_readers = 16;
/// Seam records (one per stream, reused round robin).
constexpr uint32_t seam_slots = 32;
/// Live parties (attached handles) the name's lifetime rule tracks.
constexpr uint32_t party_slots = 32;
/// Longest reader name (ring-name characters).
constexpr size_t reader_name_max = 32;
/// Tag area bounds: a power of two, at least one page, at most 16 MiB.
constexpr uint64_t max_tag_bytes = uint64_t(1) << 24;

/// `seam::end` of a stream that has not ended.
constexpr uint64_t stream_open = ~uint64_t(0);

/// A process identity that survives pid reuse: pid in the low 22 bits
/// (Linux pid_max <= 2^22), the process start time (clock ticks since boot,
/// /proc/PID/stat field 22) above. 0 means "nobody".
using peer_id = uint64_t;

/// Why a stream ended (seam::reason).
enum class stream_end : uint32_t {
    open = 0, ///< still being written
    closed = 1, ///< its producer closed it (close(), normal exit)
    broken = 2, ///< its producer died; the next producer recorded the end
};

/// One stream's extent, written only by the producer. Record s % seam_slots
/// holds stream s. Rewriting a record for a new stream first sets `stream`
/// to 0, then the fields, then `stream` (release): a reader that reads
/// `stream`, the fields, and `stream` again (after an acquire fence) and sees
/// the same number twice has a consistent record.
struct seam {
    std::atomic<uint64_t> stream; // stream number (1, 2, ...), 0 while rewritten
    std::atomic<uint64_t> first; // index of its first sample
    std::atomic<uint64_t> end; // index after its last sample; stream_open while open
    std::atomic<uint32_t> reason; // stream_end, stored before `end` (release)
    uint32_t reserved;
};
static_assert(sizeof(seam) == 32, "seam record is 32 bytes");

/// A live attached handle (a party to the ring's lifetime): the process and
/// a handle number unique within it. Both 0: free.
struct party {
    std::atomic<peer_id> process;
    std::atomic<uint64_t> handle;
};
static_assert(sizeof(party) == 16, "party record is 16 bytes");

/// control::flags: the ring uses the membarrier park handshake (see hot.h).
/// A library that does not know the flag must refuse the ring.
constexpr uint32_t ring_flag_membarrier = 1;
/// Every control::flags bit this library knows; any other is EBADMSG.
constexpr uint32_t known_ring_flags = ring_flag_membarrier;

/// reader_slot::flags
constexpr uint32_t reader_tethered = 1;

/// One reader: two cache lines. Line A is written by the reader (its
/// position on every consume, its wake words when it parks); line B by
/// whoever claims or frees the slot, under control::slot_lock.
struct alignas(cache_line) reader_slot {
    // Line A: the reader's.
    std::atomic<uint64_t> read_idx; // samples this reader consumed (absolute index)
    std::atomic<uint64_t> wake_at; // write_idx the parked reader needs
    std::atomic<uint64_t> skipped; // samples lost to overruns (untethered only)
    std::atomic<uint64_t> missed_wakes; // lost wake-ups seen by this reader
    std::atomic<uint64_t> stream; // stream of the reader's next sample (for tools)
    std::atomic<uint32_t> parked; // futex word: 1 while parked
    uint32_t reserved_a;
    uint64_t reserved_b[2];

    // Line B: who holds it (under slot_lock).
    alignas(cache_line) std::atomic<uint32_t> in_use; // 1: a declared reader
    std::atomic<uint32_t> flags; // reader_tethered
    std::atomic<int64_t> grace_ns; // tethered: how long a dead holder is waited for; <0
                                   // forever
    std::atomic<peer_id> holder; // process of the handle reading it, 0 if none
    std::atomic<uint64_t> handle; // that handle's number
    std::atomic<uint64_t> name[reader_name_max / 8]; // NUL-padded; "" = default
};
static_assert(sizeof(reader_slot) == 2 * cache_line, "reader slot is two lines");

struct alignas(cache_line) control {
    // Line 0: written once by the creator before `magic` is published
    // (release); read-only afterwards.
    std::atomic<uint64_t> magic;
    uint32_t version; // layout_version
    uint32_t type; // sample_type
    uint32_t sample_size; // bytes
    uint32_t header_bytes; // offset of the data: control pages + tag area
    uint64_t capacity; // samples, power of two
    uint64_t data_bytes; // capacity * sample_size, multiple of the page size
    peer_id creator;
    uint32_t flags; // ring_flag_*; any other bit: not a valid ring
    uint16_t reader_slots; // doppler::max_readers
    uint16_t seam_count; // doppler::seam_slots
    uint32_t tag_offset; // offset of the tag area (end of the control pages)
    uint32_t tag_bytes; // size of the tag area, power of two, >= one page

    // Line 1: producer-written.
    alignas(cache_line) std::atomic<uint64_t> write_idx; // samples ever published
    std::atomic<uint64_t> dropped; // samples refused (drop mode)
    std::atomic<uint64_t> stream; // current (or last) stream number, 0: none yet
    std::atomic<uint64_t> horizon; // write_idx + samples being copied now
    std::atomic<uint64_t> tag_head; // tag area bytes ever written (free-running)
    std::atomic<uint64_t> tag_tail; // tag area bytes ever reclaimed
    std::atomic<uint64_t> tags_dropped; // tags refused for lack of room
    std::atomic<uint32_t> closed; // the current stream was closed
    uint32_t reserved1;

    // Line 2: wake words, written only when a side parks.
    alignas(cache_line) std::atomic<uint32_t> parked_mask; // bit i: reader i parked
    std::atomic<uint32_t> producer_parked; // futex word
    std::atomic<uint64_t> producer_wake_at; // slowest tethered read_idx it needs
    std::atomic<uint64_t> missed_wakes; // lost wake-ups seen by the producer

    // Line 3: roles and the reader table's bookkeeping.
    alignas(cache_line) std::atomic<peer_id> producer; // process of the producer handle
    std::atomic<uint64_t> producer_handle; // that handle's number
    std::atomic<peer_id> slot_lock; // process claiming or freeing a reader slot
    std::atomic<uint32_t> reader_mask; // bit i: slot i in use
    std::atomic<uint32_t> tethered_mask; // bit i: slot i in use and tethered
    // The producer's floor: the lowest tethered position its thread has
    // based its room on (it never writes past floor + capacity), stored by
    // every reload of the readers (detail::producer_floor), and 1 in
    // `refreshing` while one runs. A writer the producer lends the ring to
    // (another thread) has its own: lent_floor (raised only), and a count
    // of its reloads in lent_refreshing (detail::lent_floor).
    std::atomic<uint64_t> floor;
    std::atomic<uint32_t> refreshing;
    // bit i: tethered reader i is joining (its position is not final yet);
    // set before its tethered_mask bit, cleared when the claim is done.
    std::atomic<uint32_t> joining_mask;
    std::atomic<uint64_t> lent_floor;
    std::atomic<uint32_t> lent_refreshing;

    // Lines 4-11: live parties (the name goes when the last one leaves).
    alignas(cache_line) party parties[party_slots];

    // Lines 12-43: readers.
    reader_slot readers[max_readers];

    // Lines 44-59: seam table.
    alignas(cache_line) seam seams[seam_slots];
};

static_assert(std::atomic<uint64_t>::is_always_lock_free,
              "needs lock-free 64-bit atomics");
static_assert(std::atomic<uint32_t>::is_always_lock_free,
              "futex words must be plain ints");
static_assert(sizeof(std::atomic<uint32_t>) == 4, "futex word size");
static_assert(offsetof(control, write_idx) == 1 * cache_line, "producer line");
static_assert(offsetof(control, parked_mask) == 2 * cache_line, "wake line");
static_assert(offsetof(control, producer) == 3 * cache_line, "role line");
static_assert(offsetof(control, floor) == 3 * cache_line + 32, "producer floor");
static_assert(offsetof(control, refreshing) == 3 * cache_line + 40,
              "reloads in progress");
static_assert(offsetof(control, joining_mask) == 3 * cache_line + 44, "joining readers");
static_assert(offsetof(control, parties) == 4 * cache_line, "party table");
static_assert(offsetof(control, readers) == 12 * cache_line, "reader table");
static_assert(offsetof(control, seams) == 44 * cache_line, "seam table");
static_assert(sizeof(control) == 60 * cache_line, "control block is 3840 bytes");
static_assert(sizeof(control) <= 4096, "control block fits one 4 KiB page");

// ---------------------------------------------------------------------------
// Tag area: a byte ring of tag_bytes at tag_offset. Records are 16-byte
// aligned and never wrap: where one would not fit before the physical end,
// the producer writes a skip record there and starts again at offset 0.
// tag_head / tag_tail (control line 1) count bytes ever written/reclaimed;
// a record lives at (position % tag_bytes). The producer publishes tag_head
// (release) before the write_idx of the samples its records point into.
// ---------------------------------------------------------------------------

/// tag_record::kind
constexpr uint8_t tag_kind_tag = 1; ///< a tag
constexpr uint8_t tag_kind_skip = 2; ///< padding up to the physical end of the area

/// Record header; then key_len bytes of key (UTF-8), value_len bytes of
/// encoded value (tags.hpp), zero padding to a multiple of 16. A skip
/// record is a header (index 0, lengths 0) whose record reaches the end of
/// the area.
struct tag_record {
    uint64_t index; // absolute sample index the tag belongs to
    uint32_t value_len; // bytes of the encoded value
    uint16_t key_len; // bytes of the key
    uint8_t kind; // tag_kind_*
    uint8_t reserved; // 0
};
static_assert(sizeof(tag_record) == 16, "tag record header is 16 bytes");

/// Bytes a record with this key and value occupies (header, key, value, padding).
constexpr uint64_t tag_record_bytes(uint64_t key_len, uint64_t value_len)
{
    return (sizeof(tag_record) + key_len + value_len + 15) & ~uint64_t(15);
}

// ---------------------------------------------------------------------------
// The byte map of docs/architecture.md ("The shared layout"), offset by
// offset: each figure the page gives is asserted here, so the page and the
// layout cannot drift apart.
// ---------------------------------------------------------------------------

static_assert(ring_magic == 0x474e495252504f44ull, "magic: \"DOPRRING\"");
static_assert(layout_version == 3, "the page describes layout version 3");
static_assert(max_readers == 16 && seam_slots == 32 && party_slots == 32,
              "16 reader slots, 32 seam records, 32 parties");
// Line 0: constants.
static_assert(offsetof(control, magic) == 0, "magic @0");
static_assert(offsetof(control, version) == 8, "version @8");
static_assert(offsetof(control, type) == 12, "type @12");
static_assert(offsetof(control, sample_size) == 16, "sample_size @16");
static_assert(offsetof(control, header_bytes) == 20, "header_bytes @20");
static_assert(offsetof(control, capacity) == 24, "capacity @24");
static_assert(offsetof(control, data_bytes) == 32, "data_bytes @32");
static_assert(offsetof(control, creator) == 40, "creator @40");
static_assert(offsetof(control, flags) == 48, "flags @48");
static_assert(offsetof(control, reader_slots) == 52, "reader_slots @52");
static_assert(offsetof(control, seam_count) == 54, "seam_count @54");
static_assert(offsetof(control, tag_offset) == 56, "tag_offset @56");
static_assert(offsetof(control, tag_bytes) == 60, "tag_bytes @60");
// Line 1: producer.
static_assert(offsetof(control, write_idx) == 64, "write_idx @64");
static_assert(offsetof(control, dropped) == 72, "dropped @72");
static_assert(offsetof(control, stream) == 80, "stream @80");
static_assert(offsetof(control, horizon) == 88, "horizon @88");
static_assert(offsetof(control, tag_head) == 96, "tag_head @96");
static_assert(offsetof(control, tag_tail) == 104, "tag_tail @104");
static_assert(offsetof(control, tags_dropped) == 112, "tags_dropped @112");
static_assert(offsetof(control, closed) == 120, "closed @120");
// Line 2: wake.
static_assert(offsetof(control, parked_mask) == 128, "parked_mask @128");
static_assert(offsetof(control, producer_parked) == 132, "producer_parked @132");
static_assert(offsetof(control, producer_wake_at) == 136, "producer_wake_at @136");
static_assert(offsetof(control, missed_wakes) == 144, "missed_wakes @144");
// Line 3: roles.
static_assert(offsetof(control, producer) == 192, "producer @192");
static_assert(offsetof(control, producer_handle) == 200, "producer_handle @200");
static_assert(offsetof(control, slot_lock) == 208, "slot_lock @208");
static_assert(offsetof(control, reader_mask) == 216, "reader_mask @216");
static_assert(offsetof(control, tethered_mask) == 220, "tethered_mask @220");
static_assert(offsetof(control, floor) == 224, "floor @224");
static_assert(offsetof(control, refreshing) == 232, "refreshing @232");
static_assert(offsetof(control, joining_mask) == 236, "joining_mask @236");
static_assert(offsetof(control, lent_floor) == 240, "lent_floor @240");
static_assert(offsetof(control, lent_refreshing) == 248, "lent_refreshing @248");
// Party table @256: 32 entries {process, handle}.
static_assert(offsetof(control, parties) == 256, "party table @256");
static_assert(offsetof(party, process) == 0 && offsetof(party, handle) == 8,
              "party: process +0, handle +8");
// Reader slot i @768 + 128 i.
static_assert(offsetof(control, readers) == 768, "reader slots @768");
static_assert(sizeof(reader_slot) == 128, "reader slots 128 bytes apart");
static_assert(offsetof(reader_slot, read_idx) == 0, "read_idx +0");
static_assert(offsetof(reader_slot, wake_at) == 8, "wake_at +8");
static_assert(offsetof(reader_slot, skipped) == 16, "skipped +16");
static_assert(offsetof(reader_slot, missed_wakes) == 24, "missed_wakes +24");
static_assert(offsetof(reader_slot, stream) == 32, "stream +32");
static_assert(offsetof(reader_slot, parked) == 40, "parked +40");
static_assert(offsetof(reader_slot, in_use) == 64, "in_use +64");
static_assert(offsetof(reader_slot, flags) == 68, "flags +68");
static_assert(offsetof(reader_slot, grace_ns) == 72, "grace_ns +72");
static_assert(offsetof(reader_slot, holder) == 80, "holder +80");
static_assert(offsetof(reader_slot, handle) == 88, "handle +88");
static_assert(offsetof(reader_slot, name) == 96, "name +96");
static_assert(sizeof(reader_slot::name) == 32, "name: 32 bytes");
// Seam record s % 32 @2816 + 32 (s % 32).
static_assert(offsetof(control, seams) == 2816, "seam table @2816");
static_assert(offsetof(seam, stream) == 0, "stream +0");
static_assert(offsetof(seam, first) == 8, "first +8");
static_assert(offsetof(seam, end) == 16, "end +16");
static_assert(offsetof(seam, reason) == 24, "reason +24");
static_assert(sizeof(control) == 3840, "control block: 3840 bytes");
// Tag record header.
static_assert(offsetof(tag_record, index) == 0, "index +0");
static_assert(offsetof(tag_record, value_len) == 8, "value_len +8");
static_assert(offsetof(tag_record, key_len) == 12, "key_len +12");
static_assert(offsetof(tag_record, kind) == 14, "kind +14");
static_assert(offsetof(tag_record, reserved) == 15, "reserved +15");
// Values the page gives.
static_assert(ring_flag_membarrier == 1, "flags bit 0: the membarrier handshake");
static_assert(reader_tethered == 1, "reader flags bit 0: tethered");
static_assert(uint32_t(stream_end::open) == 0 && uint32_t(stream_end::closed) == 1 &&
                  uint32_t(stream_end::broken) == 2,
              "seam reason: 0 open, 1 closed, 2 broken");
static_assert(tag_kind_tag == 1 && tag_kind_skip == 2, "tag record kind: 1 tag, 2 skip");

} // namespace doppler
