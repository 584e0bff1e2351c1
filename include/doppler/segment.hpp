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

// ---------------------------------------------------------------------------
// Where named rings live: the object of ring <name> is shm_dir/shm_prefix<name>,
// i.e. /dev/shm/doppler.<name> (shm_open name "/doppler.<name>"). The ring
// tool lists shm_dir for shm_prefix and shows what follows it as the name.
// ---------------------------------------------------------------------------
constexpr const char* shm_dir = "/dev/shm";
constexpr const char* shm_prefix = "doppler.";

// ---------------------------------------------------------------------------
// The park handshake (ring.hpp explains both) and how a handle waits.
// ---------------------------------------------------------------------------

/// How the publishing side and a side about to park order their accesses.
/// A ring is made with one and every handle on it follows it (layout.hpp:
/// ring_flag_membarrier).
enum class handshake : uint8_t {
    /// A store-load fence on every publish and consume (sequentially
    /// consistent store and load); works everywhere.
    seq_cst,
    /// No fence on the hot path; a side about to park issues
    /// membarrier(MEMBARRIER_CMD_GLOBAL_EXPEDITED). Needs Linux 4.16.
    membarrier,
};
/// The handshake of rings this process creates from now on: membarrier
/// where the kernel supports it, unless DOPPLER_HANDSHAKE=seq_cst is set in
/// the environment (read once) or set_default_handshake chose seq_cst.
/// ThreadSanitizer builds always use seq_cst (TSan cannot see what
/// membarrier does, so it would no longer check the handshake).
handshake default_handshake() noexcept;
/// Choose the handshake of rings this process creates from now on (benchmarks,
/// tests). membarrier falls back to seq_cst where it is not available.
void set_default_handshake(handshake h) noexcept;
/// True if this kernel lets this process use the membarrier handshake
/// (MEMBARRIER_CMD_GLOBAL_EXPEDITED and its registration).
bool membarrier_available() noexcept;

/// How a handle waits for data or room.
enum class wait_strategy : uint8_t {
    /// Spin briefly (about 1-2 us), then sleep on a futex until woken: a
    /// waiting side costs no CPU; a wake-up takes a futex round trip.
    park,
    /// Busy-poll: never sleep. The lowest wake-up latency, for one whole
    /// core per waiting handle, spent on purpose; timeouts, end of stream
    /// and a dead peer are noticed as with park.
    poll,
};

// ---------------------------------------------------------------------------
// Segment: one mapped ring object (segment.cc). Everything that touches
// mmap, memfd, shm, names and attach validation lives there and only there.
// ---------------------------------------------------------------------------

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
    /// once; otherwise wait up to timeout_ns for it to appear (ETIMEDOUT if
    /// it does not).
    /// expect == 0 accepts any type (a ring of another type is EPROTOTYPE, with
    /// the message for `who`); allow_foreign accepts another uid's ring.
    /// `stop`, if given, is asked between attempts (about every 5 ms) while
    /// the ring is missing or still being set up; when it says stop the wait
    /// ends with error(EINTR). Adapters pass theirs (Ctrl-C, a stop flag)
    /// instead of waiting in a loop of their own.
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
    /// Validate and double-map an already open object (the fuzz target's entry).
    /// Pages of the object that were never allocated (a sparse file) are
    /// allocated first: ENOSPC then, never SIGBUS later.
    [[nodiscard]] static std::shared_ptr<segment> attach_fd(int fd,
                                                            sample_type expect,
                                                            bool allow_foreign,
                                                            const std::string& what,
                                                            audience who = audience::api);
    /// Check an open object without mapping anything: a regular file, its
    /// owner (unless allow_foreign), its size, and every header field, read
    /// with pread into `header` (a private copy: nothing the object's owner
    /// does afterwards can fault or change what was checked). Throws the
    /// error attach would (EBADMSG, EAGAIN, EACCES, EPROTOTYPE); returns the
    /// object's size.
    static uint64_t check_object(int fd,
                                 sample_type expect,
                                 bool allow_foreign,
                                 const std::string& what,
                                 control& header,
                                 audience who = audience::api);

    /// Throws doppler::error(EINVAL) unless name is 1-200 of [A-Za-z0-9._-], no leading
    /// dot.
    static void check_name(const std::string& name);
    /// Capacity a request becomes: power of two, at least one page of data.
    static uint64_t round_capacity(sample_type t, uint64_t requested);
    /// "/doppler.<name>" (the shm_open name) and "/dev/shm/doppler.<name>"
    /// (from shm_dir and shm_prefix).
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
    /// True if this process created the object (a forked child's copy is not the
    /// creator: it never removes the name).
    bool is_creator() const noexcept;
    /// Identity of the object (device and inode): two segments of one process
    /// that map the same ring have the same pair.
    uint64_t dev() const noexcept { return dev_; }
    uint64_t ino() const noexcept { return ino_; }

    /// Remove the name now (peers keep their mappings). Idempotent; leaves
    /// the name alone if it now refers to another object.
    void unlink() noexcept;
    /// This mapping stops being a party to the ring's lifetime: it leaves the
    /// party table, and if no other live party remains, removes the name.
    /// Idempotent; also done by the destructor.
    void leave() noexcept;
    /// A handle (ring<T>) starts / stops using this mapping; the last handle
    /// that stops makes the mapping leave(). Several handles may share one
    /// mapping: releasing one of them must not end the others' party.
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

// ---------------------------------------------------------------------------
// Waiting and waking (wait.cc: the one place that parks), peers and roles
// (peers.cc), the reader table (readers.cc), streams and tags.
// ---------------------------------------------------------------------------
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
/// A number no other handle in any live process uses: roles and reader
/// slots belong to a handle, recorded as (process, handle number).
uint64_t new_handle() noexcept;

/// Claim a (process, handle) role pair for handle `mine` of this process.
/// On failure `holder` is the live process that holds it (possibly this one,
/// through another handle).
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
/// slot of that name whose holder is gone, else take a free slot (or that
/// of an untethered reader whose process died) starting at the current
/// write index. A tethered claim joins a running producer without losing a
/// sample (join_tethered); a resumed reader that must move past samples
/// reused while it was away untethered gets that count in *jumped. A new
/// reader asking for `history` starts up to that many samples before the
/// write index, within the current stream, never before the oldest intact
/// sample (untethered) or the producer's floor (tethered); *got_history is
/// how many it got. Returns the slot.
/// Throws error(EBUSY) if a live handle holds the name, error(EUSERS) if all slots are
/// taken, error(EINVAL) for a bad name. `ring` names the ring in messages, which are
/// worded for `who` (a block's user is told which parameter to change).
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
/// What holds a producer at write index w back: the tethered reader furthest
/// behind, how much it has not consumed, and who reads it (a live pid, a dead
/// one and what happens next, or no process, with what to do), e.g.
/// "the default reader (4096 of 4096 samples unread; pid 4242)".
std::string holding_back(const control* c, uint64_t w, uint64_t capacity);
/// The ring's producer, for a reader's message: "the producer is pid 4242",
/// "no producer has written to this ring yet", or "no producer is attached
/// (the last one wrote stream 2; the next one starts stream 3)".
std::string describe_producer(const control* c);
/// What a reader at index r that wants n samples waits on: how many are
/// there, and the producer, e.g. "200 of them are there; the producer is
/// pid 4242".
std::string waiting_on(const control* c, uint64_t r, uint64_t n);
/// Lowest read index over the tethered readers, or w if there are none
/// (clamped into [w - capacity, w]). An index ahead of w or more than
/// `capacity` behind it counts as w - capacity, sets *corrupt and gives
/// its value in *bad (when given).
uint64_t min_tethered(const control* c,
                      uint64_t w,
                      uint64_t capacity,
                      bool* corrupt = nullptr,
                      uint64_t* bad = nullptr) noexcept;
/// min_tethered for the producer's thread, which then writes up to the
/// result + capacity: announces the reload in control::refreshing and
/// publishes the result as control::floor, so a tethered reader joining
/// meanwhile starts where it will not be overwritten (readers.cc,
/// join_tethered). `barrier`: the ring uses the membarrier handshake (the
/// announcement then has no fence; the joining claimer's barrier orders it).
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
/// Free the slots of tethered readers whose holder has been dead longer than
/// their grace. dead_since[max_readers]: the producer's record of when it
/// first saw each one dead (0: alive). True if a slot was freed.
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
    /// locate: r is older than every stream recorded (their records were
    /// reused); `stream` is then the one before the oldest recorded, and
    /// `first` that oldest stream's first sample.
    bool lost = false;
};
/// Read the seam record of stream s; false if it does not hold s (any more).
bool read_seam(const control* c, uint64_t s, stream_info& out) noexcept;
/// The stream sample r belongs to: the newest recorded stream that starts at
/// or before r. If r is past that stream's end, the next (not yet started)
/// stream with end stream_open. No stream yet: stream 1, open. r older than
/// the seam table: `lost` (see stream_info).
stream_info locate(const control* c, uint64_t r) noexcept;
/// Producer: start the next stream at w (an open previous stream, whose
/// producer died, is ended as broken at w first). Returns its number.
uint64_t start_stream(control* c, uint64_t w) noexcept;
/// Producer: end stream s at w.
void end_stream(control* c, uint64_t s, uint64_t w, stream_end why) noexcept;

// ---- tags (tags.cc) ----

/// Producer: append one tag record at `head`, reclaiming records whose index
/// is below keep_from. False (and tags_dropped counted) if it does not fit.
/// Publishes the new tail; the caller publishes the head.
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
/// starting at tag area position `pos` (advanced past records before
/// `first`, for good). Only records that stayed intact for the whole copy
/// are kept (the producer's tail did not pass them); records of a reader
/// lapped again and again are given up rather than read torn.
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
    /// The ring uses the membarrier handshake: a side that parks issues the
    /// process-wide barrier between announcing the park and re-checking.
    bool barrier = false;
    /// wait_strategy::poll: never park.
    bool poll = false;
    /// The side's spin budget before a park (pauses), which the park adapts
    /// (wait.cc); nullptr: a fixed short spin.
    uint32_t* spin = nullptr;
    /// The caller's interrupt: asked before the first park (or, polling,
    /// every interrupt_check_ns) and after every park slice, which it
    /// shortens to interrupt_check_ns; says stop: status::interrupted.
    interrupt stop;
};

/// Slow path of a reader's wait(): spin, then park until write_idx >= need,
/// the end of stream `s` (closed, or a newer stream started), a dead
/// producer of the open current stream (status::broken), the timeout, or
/// how.stop (status::interrupted).
/// `own` is the reader's position: a write index behind it (or, for a
/// tethered reader, more than `cap` ahead of it) is status::corrupt at once.
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
/// reaches `want` (a low water mark, >= need: the producer is woken once
/// that much room is free, not at every consume), or `need` while a reader
/// is parked (read_seen: the minimum last seen); or the timeout, how.stop
/// (status::interrupted), or, with `watch_close`, a close requested by
/// another handle (status::end_of_stream). Frees the slots of
/// tethered readers dead longer than their grace meanwhile. A tethered
/// reader index ahead of `w`, or more than `capacity` behind it, is
/// status::corrupt at once (read_seen is then that index).
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
/// What is wrong with the shared index a handle at `own` sees (`other`), for
/// an error message: "read index 9000 is ahead of the write index 4096" and
/// the like. `producer`: own is the write position and other a read index.
std::string describe_indices(bool producer, uint64_t own, uint64_t other, uint64_t cap);
/// A test seam inside the park handshake: called by a side about to park,
/// after it announced the park and before it re-checks the other side's
/// index (nullptr, the default: nothing is called). A test sets it to hold a
/// waiter inside that window while the other side publishes, which makes a
/// lost wake-up (a check before the announcement) certain instead of rare.
/// Costs one relaxed load on the park path only; never set in production.
using park_hook_fn = void (*)() noexcept;
void set_park_hook(park_hook_fn hook) noexcept;
/// A test seam inside a tethered reader's join (readers.cc, join_tethered),
/// called with step 0 after the claim chose its tentative position and
/// before the producer can see the reader (the window in which a running
/// producer moves on without it), and with step 1 once the producer can see
/// it as joining and before its position is final. A test sets it to let
/// the producer stream through those windows; never set in production.
using claim_hook_fn = void (*)(int step) noexcept;
void set_claim_hook(claim_hook_fn hook) noexcept;
/// A test seam on the spin before a park: the adaptive spin never exceeds
/// `pauses` (0 restores the default ceiling). A stress test holds it at its
/// floor so that nearly every wait that finds the ring empty or full parks,
/// which makes millions of park/wake cycles a matter of seconds. One relaxed
/// load per park; never set in production.
void set_spin_ceiling(uint32_t pauses) noexcept;
/// The spin's floor and default ceiling (pauses).
constexpr uint32_t spin_floor = 64;
constexpr uint32_t spin_default_ceiling = 4096;
/// Wake a parked side (one syscall); called only when the flag says parked.
void wake(std::atomic<uint32_t>& word) noexcept;
/// A reader about to sleep (or busy-poll) wakes a producer parked for its
/// low water mark, which then takes the room it needs (producer_park).
void wake_parked_producer(control* c) noexcept;
/// Register this process to receive the membarrier handshake's barriers
/// (MEMBARRIER_CMD_REGISTER_GLOBAL_EXPEDITED): done when a handle on such a
/// ring is made, before its first publish; once per process (again in a
/// forked child). False if the kernel refuses.
bool register_barrier() noexcept;
/// The parking side's barrier (MEMBARRIER_CMD_GLOBAL_EXPEDITED, or the slow
/// MEMBARRIER_CMD_GLOBAL if that is refused). False if neither works.
bool process_barrier() noexcept;
/// How many process_barrier() calls this process made (tests).
uint64_t process_barriers() noexcept;

// ---------------------------------------------------------------------------
// Handles (handle.cc): what every ring<T> shares whatever its sample type:
// its segment, its roles, and its place in the process-wide registry of live
// handles.
//
// Roles belong to a handle: the shared role words and reader slots record
// (process, handle number), so a second handle is refused whether it lives
// in another process or in this one. The registry gives every handle an end:
//  - at normal process exit (std::exit, return from main, Python's exit),
//    every handle still alive is released, as its destructor would (a
//    producer ends its stream, a reader leaves its slot, the last party
//    removes the name), whichever thread made it;
//  - in a child made by fork(), the inherited copies hold no role: they
//    cannot write or read for the parent, and neither destroying them nor
//    the child's exit ends the parent's stream or removes its name.
//
// The handle's hot state (hot.h) is a base of it: the C ABI's handle pointer
// is the address of that part (hot()), so buffer.h's inline functions reach
// it without a call, and ring<T> runs the same inline code on it.
// ---------------------------------------------------------------------------
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

    /// How this handle waits, for data and for room (default: park). May be
    /// changed at any time; a wait already running keeps its strategy.
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
    /// Why the last failed claim was refused, as one sentence naming the
    /// holder ("ring 'rx' already has a producer: pid 41873 holds that role
    /// ..."), for the adapters' EBUSY errors. For a reader, the reason the
    /// reader claim gave (a name in use, all 16 slots taken).
    std::string busy_message(bool producer, audience who = audience::api) const;
    /// "ring 'rx'" for a named ring, "in-process ring" otherwise.
    std::string label() const;
    /// Give up what this handle holds (see ring<T>::release_held).
    /// Idempotent; serialised with the exit hook and fork.
    void release() noexcept;

protected:
    explicit handle(std::shared_ptr<segment> seg);
    virtual ~handle();
    /// The most derived destructor's first step: release, and leave the
    /// registry while the object is still whole (the exit hook must never
    /// see a half-destroyed handle).
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
