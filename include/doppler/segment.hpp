/* -*- c++ -*- */
/*
 * gr-doppler: segment, one mapped ring object (segment.cc), and the wait/wake API
 * (wait.cc). SPDX-License-Identifier: GPL-3.0-or-later
 */
#pragma once

#include <doppler/hot.h>
#include <doppler/layout.hpp>
#include <doppler/types.hpp>

#include <atomic>
#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

namespace doppler {

// Ring <name> is the object shm_dir/shm_prefix<name> (/dev/shm/doppler.<name>).
constexpr const char* shm_dir = "/dev/shm";
constexpr const char* shm_prefix = "doppler.";

/// The park handshake a ring is made with (see hot.h); every handle on it
/// follows it (ring_flag_membarrier).
enum class handshake : uint8_t {
    /// A store-load fence on every publish and consume.
    seq_cst,
    /// A side about to park issues the barrier; Linux 4.16.
    membarrier,
};
/// The handshake of rings this process creates from now on: membarrier
/// where available, unless DOPPLER_HANDSHAKE=seq_cst (read once) or
/// set_default_handshake says otherwise. Always seq_cst under TSan.
handshake default_handshake() noexcept;
/// Set it (benchmarks, tests); membarrier falls back to seq_cst where unavailable.
void set_default_handshake(handshake h) noexcept;
/// True if this process may use the membarrier handshake (kernel and registration).
bool membarrier_available() noexcept;

/// How a handle waits for data or room.
enum class wait_strategy : uint8_t {
    /// Spin about 1-2 us, then sleep on a futex until woken (no CPU).
    park,
    /// Never sleep: the lowest latency for one core per waiting handle;
    /// timeouts, end of stream and a dead peer are noticed as with park.
    poll,
};

// Segment: one mapped ring object. All mmap, memfd, shm, names and attach
// validation live in segment.cc and only there.

class segment
{
public:
    /// Anonymous, in-process ring (memfd). capacity in samples, rounded up.
    [[nodiscard]] static std::shared_ptr<segment> create(sample_type t,
                                                         uint64_t capacity);
    /// Named ring, /dev/shm/doppler.<name>, O_EXCL, mode 0600, reserved up front.
    [[nodiscard]] static std::shared_ptr<segment>
    create_named(sample_type t, const std::string& name, uint64_t capacity);
    /// Attach an existing named ring. timeout_ns < 0: a missing ring is ENOENT at
    /// once; otherwise wait up to timeout_ns for it (then ETIMEDOUT).
    /// expect == 0 accepts any type (another type is EPROTOTYPE, worded for
    /// `who`); allow_foreign accepts another uid's ring. `stop` is asked
    /// about every 5 ms while the ring is missing or being set up: error(EINTR).
    [[nodiscard]] static std::shared_ptr<segment> attach(const std::string& name,
                                                         sample_type expect,
                                                         int64_t timeout_ns = -1,
                                                         bool allow_foreign = false,
                                                         interrupt stop = {},
                                                         audience who = audience::api);
    /// Attach if it exists, else create (handles a peer creating it between the
    /// two). A ring of another type is EPROTOTYPE with the message for `who`.
    [[nodiscard]] static std::shared_ptr<segment>
    open_named(sample_type t,
               const std::string& name,
               uint64_t capacity,
               audience who = audience::api);
    /// Validate and double-map an open object (the fuzz target's entry).
    /// Sparse pages are allocated first: ENOSPC then, never SIGBUS later.
    [[nodiscard]] static std::shared_ptr<segment> attach_fd(int fd,
                                                            sample_type expect,
                                                            bool allow_foreign,
                                                            const std::string& what,
                                                            audience who = audience::api);
    /// Check an open object without mapping it: a regular file, its owner
    /// (unless allow_foreign), its size and every header field, pread into
    /// the private copy `header`. Throws as attach would (EBADMSG, EAGAIN,
    /// EACCES, EPROTOTYPE); returns the object's size.
    static uint64_t check_object(int fd,
                                 sample_type expect,
                                 bool allow_foreign,
                                 const std::string& what,
                                 control& header,
                                 audience who = audience::api);

    /// error(EINVAL) unless name is 1-200 of [A-Za-z0-9._-], no leading dot.
    static void check_name(const std::string& name);
    /// Capacity a request becomes: power of two, at least one page of data.
    static uint64_t round_capacity(sample_type t, uint64_t requested);
    /// "/doppler.<name>" (for shm_open) and "/dev/shm/doppler.<name>".
    static std::string shm_name(const std::string& name);
    static std::string shm_path(const std::string& name);

    ~segment();
    segment(const segment&) = delete;
    segment& operator=(const segment&) = delete;

    control* ctl() const noexcept { return ctl_; }
    void* data() const noexcept { return data_; }
    /// The tag area (control::tag_offset) and its size in bytes.
    uint8_t* tag_area() const noexcept { return tags_; }
    uint64_t tag_bytes() const noexcept { return tag_bytes_; }
    uint64_t capacity() const noexcept { return capacity_; }
    sample_type type() const noexcept { return type_; }
    /// The handshake the ring was made with (from its flags, as validated).
    doppler::handshake handshake() const noexcept
    {
        return (flags_ & ring_flag_membarrier) ? doppler::handshake::membarrier
                                               : doppler::handshake::seq_cst;
    }
    const std::string& name() const noexcept { return name_; } ///< "" if anonymous
    /// True if this process created the object (not a forked child).
    bool is_creator() const noexcept;
    /// Identity of the object (device and inode).
    uint64_t dev() const noexcept { return dev_; }
    uint64_t ino() const noexcept { return ino_; }

    /// Remove the name now (peers keep their mappings). Idempotent; leaves
    /// the name alone if it now refers to another object.
    void unlink() noexcept;
    /// Leave the party table; the last live party removes the name.
    /// Idempotent; also done by the destructor.
    void leave() noexcept;
    /// A handle starts / stops using this mapping; the last one to stop
    /// leave()s (handles may share a mapping).
    void enter() noexcept { users_.fetch_add(1, std::memory_order_relaxed); }
    void exit() noexcept
    {
        if (users_.fetch_sub(1, std::memory_order_acq_rel) == 1)
            leave();
    }

private:
    segment() = default;
    static std::shared_ptr<segment> map(int fd,
                                        sample_type t,
                                        uint64_t capacity,
                                        size_t tag_offset,
                                        size_t tag_bytes,
                                        uint32_t flags,
                                        bool init,
                                        const std::string& name);
    /// Join the party table (named rings only).
    void join() noexcept;

    void* base_ = nullptr; // start of the reservation
    size_t span_ = 0; // reservation length: header + 2 * data
    control* ctl_ = nullptr;
    void* data_ = nullptr;
    uint8_t* tags_ = nullptr;
    uint64_t tag_bytes_ = 0;
    uint64_t capacity_ = 0;
    sample_type type_ = sample_type::f32;
    uint32_t flags_ = 0; // control::flags as made or validated (never re-read)
    std::string name_;
    bool creator_ = false;
    int creator_pid_ = 0; // the process that created it: only it removes the name
    bool unlinked_ = false;
    bool left_ = false;
    int party_ = -1; // our entry in control::parties, -1 if none
    uint64_t party_handle_ = 0;
    std::atomic<int> users_ { 0 }; // ring<T> handles using this mapping
    uint64_t dev_ = 0, ino_ = 0; // identity of the object, to unlink only our own
};

// Peers and roles (peers.cc), readers, streams, tags, waiting (wait.cc).
namespace detail {
/// CLOCK_MONOTONIC in nanoseconds.
int64_t now_ns() noexcept;
/// This process's peer id (computed once per process, again after fork).
peer_id self_id() noexcept;
/// True if the process with this id is still running (0 counts as alive:
/// "no peer yet" is not a dead peer).
bool peer_alive(peer_id id) noexcept;
/// pid part of a peer id.
inline int peer_pid(peer_id id) noexcept
{
    return int(id & ((1u << 22) - 1));
}
/// A handle number no other live handle uses (roles record (process, handle)).
uint64_t new_handle() noexcept;

/// Claim a (process, handle) role pair for handle `mine`. On failure
/// `holder` is the live process that holds it (possibly this one).
bool claim(std::atomic<peer_id>& process,
           std::atomic<uint64_t>& handle,
           uint64_t mine,
           peer_id& holder) noexcept;
/// True if handle `mine` of this process holds the pair.
bool owns(const std::atomic<peer_id>& process,
          const std::atomic<uint64_t>& handle,
          uint64_t mine) noexcept;
/// Give the pair up if handle `mine` of this process holds it.
void unclaim(std::atomic<peer_id>& process,
             std::atomic<uint64_t>& handle,
             uint64_t mine) noexcept;

// ---- readers (readers.cc) ----

/// Claim reader `name` ("" or "default": slot 0) for handle `mine`: resume a
/// slot of that name whose holder is gone, else take a free slot (or a dead
/// untethered reader's) at the write index. A tethered claim joins a running
/// producer without losing a sample (join_tethered); a resumed reader moved
/// past reused samples gets their count in *jumped. `history`: start up to
/// that many samples back, within the stream and what is intact (tethered:
/// the producer's floor); *got_history is how many. Returns the slot.
/// Throws error(EBUSY) if a live handle holds the name, error(EUSERS) if all
/// slots are taken, error(EINVAL) for a bad name; messages name `ring` and
/// are worded for `who`.
uint32_t claim_reader(control* c,
                      const std::string& name,
                      bool tethered,
                      int64_t grace_ns,
                      uint64_t mine,
                      const std::string& ring,
                      bool* resumed,
                      peer_id* busy = nullptr,
                      audience who = audience::api,
                      uint64_t* jumped = nullptr,
                      uint64_t history = 0,
                      uint64_t* got_history = nullptr);
/// Leave reader slot i: the default reader keeps its position for the
/// next handle; a named reader's slot is freed.
void release_reader(control* c, uint32_t i, uint64_t mine) noexcept;
/// The reader name of slot i ("" for the default reader).
std::string reader_name(const control* c, uint32_t i);
/// For a message: what holds a producer at w back, e.g. "the default reader
/// (4096 of 4096 samples unread; pid 4242)".
std::string holding_back(const control* c, uint64_t w, uint64_t capacity);
/// For a reader's message: "the producer is pid 4242" and the like.
std::string describe_producer(const control* c);
/// For a message: what a reader at r wanting n waits on, e.g. "200 of them
/// are there; the producer is pid 4242".
std::string waiting_on(const control* c, uint64_t r, uint64_t n);
/// Lowest tethered read index, or w if none, clamped into [w - capacity, w];
/// an impossible one counts as w - capacity, sets *corrupt and *bad.
uint64_t min_tethered(const control* c,
                      uint64_t w,
                      uint64_t capacity,
                      bool* corrupt = nullptr,
                      uint64_t* bad = nullptr) noexcept;
/// min_tethered for the producer's thread: announces the reload in
/// control::refreshing and publishes control::floor, so a tethered reader
/// joining meanwhile is not overwritten (join_tethered). `barrier`: the
/// membarrier handshake (hot.h): the announcement goes without a fence.
uint64_t producer_floor(control* c,
                        uint64_t w,
                        uint64_t capacity,
                        bool barrier,
                        bool* corrupt = nullptr,
                        uint64_t* bad = nullptr) noexcept;
/// The same for a writer the producer lends the ring to, on another thread
/// (control::lent_refreshing, control::lent_floor).
uint64_t
lent_floor(control* c, uint64_t w, uint64_t capacity, bool* corrupt = nullptr) noexcept;
/// Free the slots of tethered readers dead longer than their grace.
/// dead_since[max_readers]: when each was first seen dead (0: alive).
/// True if a slot was freed.
bool reap_readers(control* c, int64_t* dead_since) noexcept;
/// Wake every parked reader in `mask` that `w` satisfies (all if `all`):
/// one FUTEX_WAKE per reader at most.
void wake_readers(control* c, uint32_t mask, uint64_t w, bool all) noexcept;

// ---- streams (streams.cc) ----

struct stream_info {
    uint64_t stream = 0; ///< 0: none
    uint64_t first = 0;
    uint64_t end = stream_open;
    stream_end why = stream_end::open;
    /// locate: r is older than every recorded stream; `stream` is then the
    /// one before the oldest recorded, `first` that one's first sample.
    bool lost = false;
};
/// Read the seam record of stream s; false if it does not hold s (any more).
bool read_seam(const control* c, uint64_t s, stream_info& out) noexcept;
/// The stream of sample r: the newest recorded one starting at or before r;
/// past its end, the next (open); none yet: stream 1, open; older than the
/// seam table: `lost`.
stream_info locate(const control* c, uint64_t r) noexcept;
/// Producer: start the next stream at w (an open previous stream, whose
/// producer died, is ended as broken at w first). Returns its number.
uint64_t start_stream(control* c, uint64_t w) noexcept;
/// Producer: end stream s at w.
void end_stream(control* c, uint64_t s, uint64_t w, stream_end why) noexcept;

// ---- tags (tag_area.cc) ----

/// Producer: append a tag record at `head`, reclaiming those below keep_from.
/// False (tags_dropped counted) if it does not fit. Publishes the new tail;
/// the caller publishes the head.
bool append_tag(control* c,
                uint8_t* area,
                uint64_t bytes,
                uint64_t& head,
                uint64_t& tail,
                uint64_t keep_from,
                uint64_t index,
                std::string_view key,
                std::string_view value) noexcept;

/// What copy_tag_records copied.
struct tag_copy {
    uint64_t bytes = 0; ///< bytes of records copied (a multiple of 16)
    uint64_t area_bytes = 16; ///< a power of two >= bytes: the copy as a tag area
    bool corrupt = false; ///< a record that no race explains was malformed
};
/// Reader: copy the records of samples [first, last) into `out`, in order,
/// from tag area position `pos` (advanced past records before `first`).
/// Only records intact for the whole copy are kept, never torn ones.
tag_copy copy_tag_records(const control* c,
                          const uint8_t* area,
                          uint64_t bytes,
                          uint64_t& pos,
                          uint64_t first,
                          uint64_t last,
                          std::vector<uint64_t>& out) noexcept;

// ---- waiting (wait.cc) ----

/// How a side waits: the ring's handshake and the handle's strategy.
struct wait_opts {
    /// Membarrier handshake: a park issues the barrier (see hot.h).
    bool barrier = false;
    /// wait_strategy::poll: never park.
    bool poll = false;
    /// The side's spin budget before a park (pauses), which the park adapts
    /// (wait.cc); nullptr: a fixed short spin.
    uint32_t* spin = nullptr;
    /// Asked before the first park and every interrupt_check_ns after:
    /// status::interrupted.
    interrupt stop;
};

/// Slow path of a reader's wait(): spin, then park until write_idx >= need,
/// the end of stream `s`, a dead producer (status::broken), the timeout, or
/// how.stop (status::interrupted). A write index behind `own` (tethered:
/// more than `cap` ahead) is status::corrupt at once.
status reader_park(control* c,
                   uint32_t slot,
                   uint64_t s,
                   uint64_t own,
                   uint64_t need,
                   uint64_t cap,
                   bool tethered,
                   int64_t timeout_ns,
                   wait_opts how = {}) noexcept;
/// Slow path of a blocking write: park until the slowest tethered reader
/// reaches `want` (a low water mark, >= need), or `need` while a reader is
/// parked (read_seen: the minimum last seen); or the timeout, how.stop
/// (status::interrupted), or, with `watch_close`, another handle's close
/// (status::end_of_stream). Reaps readers dead past their grace. A tethered
/// index ahead of `w` or more than `capacity` behind is status::corrupt at
/// once (read_seen is then that index).
status producer_park(control* c,
                     uint64_t w,
                     uint64_t capacity,
                     uint64_t need,
                     uint64_t want,
                     int64_t timeout_ns,
                     uint64_t& read_seen,
                     int64_t* dead_since,
                     bool watch_close,
                     wait_opts how = {}) noexcept;
/// For a message: "read index 9000 is ahead of the write index 4096" and the
/// like. `producer`: own is the write position, other a read index.
std::string describe_indices(bool producer, uint64_t own, uint64_t other, uint64_t cap);
/// Test seam: called by a side about to park between its announcement and
/// its re-check (nullptr: nothing), so a test can publish inside that
/// window. One relaxed load per park; never set in production.
using park_hook_fn = void (*)() noexcept;
void set_park_hook(park_hook_fn hook) noexcept;
/// Test seam: called by a publish (a write or commit) that found a reader
/// parked, after it stored the write index and before it wakes the reader
/// (nullptr: nothing), so a test can look at what the publish made readable.
/// One relaxed load per such wake, in its out-of-line call
/// (dp_hot_wake_readers), none on the inline path; never set in production.
void set_wake_hook(park_hook_fn hook) noexcept;
/// Test seam in join_tethered: step 0 after the tentative position, before
/// the producer can see the reader; step 1 once it sees it joining, before
/// the position is final. Never set in production.
using claim_hook_fn = void (*)(int step) noexcept;
void set_claim_hook(claim_hook_fn hook) noexcept;
/// Test seam: the adaptive spin never exceeds `pauses` (0: the default
/// ceiling), so a stress test parks on nearly every wait. Never set in
/// production.
void set_spin_ceiling(uint32_t pauses) noexcept;
/// The spin's floor and default ceiling (pauses).
constexpr uint32_t spin_floor = 64;
constexpr uint32_t spin_default_ceiling = 1024;
/// Wake a parked side (one syscall); called only when the flag says parked.
void wake(std::atomic<uint32_t>& word) noexcept;
/// Sleep while `word` holds 1, at most ns; wake(word) ends it. True if the
/// time ran out. No handshake of its own: the caller's bounds what a missed
/// wake costs.
bool sleep_on(std::atomic<uint32_t>& word, int64_t ns) noexcept;
/// A reader about to sleep (or poll) wakes a producer parked for its low water mark.
void wake_parked_producer(control* c) noexcept;
/// Register for the membarrier handshake's barriers (hot.h); once per
/// process (again in a forked child). False if the kernel refuses.
bool register_barrier() noexcept;
/// The parking side's barrier (hot.h). False if the kernel refuses it.
bool process_barrier() noexcept;
/// How many process_barrier() calls this process made (tests).
uint64_t process_barriers() noexcept;

// Handles (handle.cc): what every ring<T> shares: its segment, its roles and
// its place in the process-wide registry of live handles.
//
// Roles belong to a handle, recorded as (process, handle number): a second
// handle is refused in another process or in this one. At normal process
// exit every handle still alive is released, as its destructor would; in a
// forked child the inherited copies hold no role and never end the parent's
// stream or remove its name.
//
// The hot state (hot.h) is a base: the C ABI's handle pointer is its address.
class handle : protected dp_hot
{
public:
    handle(const handle&) = delete;
    handle& operator=(const handle&) = delete;

    /// The hot state, for the C ABI (its handle pointer) and nothing else.
    dp_hot* hot() noexcept { return this; }
    const dp_hot* hot() const noexcept { return this; }
    /// The handle whose hot state this is.
    static handle* of(dp_hot* h) noexcept { return static_cast<handle*>(h); }
    static const handle* of(const dp_hot* h) noexcept
    {
        return static_cast<const handle*>(h);
    }

    /// Default park; may change any time (a running wait keeps its own).
    void set_wait_strategy(wait_strategy w) noexcept
    {
        wait_.store(uint8_t(w), std::memory_order_relaxed);
    }
    wait_strategy get_wait_strategy() const noexcept
    {
        return wait_strategy(wait_.load(std::memory_order_relaxed));
    }
    /// The ring's handshake (every handle on a ring has the same).
    doppler::handshake handshake() const noexcept { return seg_->handshake(); }

    const std::shared_ptr<segment>& seg() const noexcept { return seg_; }
    bool is_producer() const noexcept { return producing_; }
    bool is_reader() const noexcept { return reading_; }
    /// pid of the process that held the role a failed claim wanted.
    int holder_pid() const noexcept { return peer_pid(holder_); }
    /// True if that holder is another handle of this same process.
    bool holder_is_this_process() const noexcept { return holder_ == self_id(); }
    /// Why the last failed claim was refused, one sentence naming the holder,
    /// for the adapters' EBUSY errors (a reader: what the claim said).
    std::string busy_message(bool producer, audience who = audience::api) const;
    /// "ring 'rx'" for a named ring, "in-process ring" otherwise.
    std::string label() const;
    /// Give up what this handle holds (see ring<T>::release_held).
    /// Idempotent; serialised with the exit hook and fork.
    void release() noexcept;

protected:
    explicit handle(std::shared_ptr<segment> seg);
    virtual ~handle();
    /// The most derived destructor's first step: release and leave the
    /// registry while the object is whole (for the exit hook).
    void retire() noexcept;
    /// What release() does, called with the registry's lock held.
    virtual void release_held() noexcept = 0;

    /// How the park functions wait for this handle, as producer or reader,
    /// and the caller's interrupt.
    wait_opts waiting(bool producer, interrupt stop = {}) noexcept
    {
        return { barrier_,
                 get_wait_strategy() == wait_strategy::poll,
                 producer ? &write_spin_ : &read_spin_,
                 stop };
    }

    std::shared_ptr<segment> seg_;
    control* ctl_;
    uint64_t id_; // this handle's number in the shared role records
    std::string claim_error_; // why the last reader claim was refused
    peer_id holder_ = 0;
    bool producing_ = false;
    bool reading_ = false;
    bool barrier_ = false; // the ring's handshake is membarrier: parks issue it
    uint32_t write_spin_ = 64, read_spin_ = 64; // spin budgets (wait.cc: adapt)

private:
    friend struct registry_access;
    std::atomic<uint8_t> wait_ { uint8_t(wait_strategy::park) };
};
} // namespace detail

} // namespace doppler
