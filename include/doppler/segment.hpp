/* -*- c++ -*- */
/*
 * gr-doppler: segment, one mapped ring object (segment.cc), and the wait/wake API
 * (wait.cc). SPDX-License-Identifier: GPL-3.0-or-later
 */
#pragma once

#include <doppler/layout.hpp>
#include <doppler/types.hpp>

#include <atomic>
#include <cstdint>
#include <functional>
#include <memory>
#include <string>

namespace doppler {

// ---------------------------------------------------------------------------
// Where named rings live: the object of ring <name> is shm_dir/shm_prefix<name>,
// i.e. /dev/shm/doppler.<name> (shm_open name "/doppler.<name>"). The ring
// tool lists shm_dir for shm_prefix and shows what follows it as the name.
// ---------------------------------------------------------------------------
constexpr const char* shm_dir = "/dev/shm";
constexpr const char* shm_prefix = "doppler.";

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
    /// once; otherwise wait up to timeout_ns for it to appear.
    /// expect == 0 accepts any type (a ring of another type is EPROTOTYPE, with
    /// the message for `who`); allow_foreign accepts another uid's ring.
    /// `interrupted`, if given, is called between attempts (about every 5 ms)
    /// while the ring is missing or still being set up; when it returns true
    /// the wait ends with error(EINTR). Bindings use it to stay interruptible
    /// (Ctrl-C) without a wait loop of their own.
    [[nodiscard]] static std::shared_ptr<segment>
    attach(const std::string& name,
           sample_type expect,
           int64_t timeout_ns = -1,
           bool allow_foreign = false,
           const std::function<bool()>& interrupted = {},
           audience who = audience::api);
    /// Attach if it exists, else create (handles a peer creating it between the
    /// two). A ring of another type is EPROTOTYPE with the message for `who`.
    [[nodiscard]] static std::shared_ptr<segment>
    open_named(sample_type t,
               const std::string& name,
               uint64_t capacity,
               audience who = audience::api);
    /// Like open_named, for a producer that starts a new stream (a Buffer
    /// Sink starting a run): a ring under the name that carried a dead
    /// producer's stream (one that died without closing), or with
    /// `replace_closed` a finished one (closed), is not continued. Its name
    /// goes to a fresh ring; its attached peers keep it and drain it, then
    /// get status::broken (dead producer) or end of stream (closed): the seam
    /// between two runs is always visible, never glued. Without
    /// `replace_closed` a closed ring is returned as it is (the caller
    /// refuses it: end of stream is final).
    [[nodiscard]] static std::shared_ptr<segment>
    open_for_new_stream(sample_type t,
                        const std::string& name,
                        uint64_t capacity,
                        bool replace_closed,
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
    uint64_t capacity() const noexcept { return capacity_; }
    sample_type type() const noexcept { return type_; }
    const std::string& name() const noexcept { return name_; } ///< "" if anonymous
    /// True if this process created the object (a forked child's copy is not the
    /// creator: it never removes the name).
    bool is_creator() const noexcept;
    /// Identity of the object (device and inode): two segments of one process
    /// that map the same ring have the same pair.
    uint64_t dev() const noexcept { return dev_; }
    uint64_t ino() const noexcept { return ino_; }

    /// Creator only: remove the name now (peers keep their mappings). Idempotent;
    /// leaves the name alone if it now refers to another object.
    void unlink() noexcept;
    /// Remove the name if it still refers to this object, whoever created it
    /// (used to replace a finished ring by a fresh one under the same name).
    void remove_name() noexcept;

private:
    segment() = default;
    static std::shared_ptr<segment> map(int fd,
                                        sample_type t,
                                        uint64_t capacity,
                                        size_t header_bytes,
                                        bool init,
                                        const std::string& name);

    void* base_ = nullptr; // start of the reservation
    size_t span_ = 0; // reservation length: header + 2 * data
    control* ctl_ = nullptr;
    void* data_ = nullptr;
    uint64_t capacity_ = 0;
    sample_type type_ = sample_type::f32;
    std::string name_;
    bool creator_ = false;
    int creator_pid_ = 0; // the process that created it: only it removes the name
    bool unlinked_ = false;
    uint64_t dev_ = 0, ino_ = 0; // identity of the object, to unlink only our own
};

// ---------------------------------------------------------------------------
// Waiting, waking and liveness (wait.cc): the one place that parks.
// ---------------------------------------------------------------------------
namespace detail {
/// CLOCK_MONOTONIC in nanoseconds.
int64_t now_ns() noexcept;
/// This process's peer id (computed once).
peer_id self_id() noexcept;
/// True if the process with this id is still running (0 counts as alive:
/// "no peer yet" is not a dead peer).
bool peer_alive(peer_id id) noexcept;
/// pid part of a peer id.
inline int peer_pid(peer_id id) noexcept
{
    return int(id & ((1u << 22) - 1));
}

/// Slow path of wait(): spin, then park until write_idx >= need, end of
/// stream, a dead producer, or the timeout. Returns the write index it saw.
/// `own` is the consumer's read position, `cap` the capacity: a write index
/// behind `own` or more than `cap` ahead of it is status::corrupt at once.
status consumer_park(control* c,
                     uint64_t own,
                     uint64_t need,
                     uint64_t cap,
                     int64_t timeout_ns,
                     uint64_t& write_seen) noexcept;
/// Slow path of a blocking write: park until read_idx >= need (space).
/// `own` is the producer's write position: a read index ahead of it, or more
/// than `cap` behind it, is status::corrupt at once.
status producer_park(control* c,
                     uint64_t own,
                     uint64_t need,
                     uint64_t cap,
                     int64_t timeout_ns,
                     uint64_t& read_seen) noexcept;
/// What is wrong with the shared index a handle at `own` sees (`other`), for
/// an error message: "read index 9000 is ahead of the write index 4096" and
/// the like. `producer`: own is the write position and other the read index.
std::string describe_indices(bool producer, uint64_t own, uint64_t other, uint64_t cap);
/// A test seam inside the park handshake: called by a side about to park,
/// after it announced the park and before it re-checks the other side's
/// index (nullptr, the default: nothing is called). A test sets it to hold a
/// waiter inside that window while the other side publishes, which makes a
/// lost wake-up (a check before the announcement) certain instead of rare.
/// Costs one relaxed load on the park path only; never set in production.
using park_hook_fn = void (*)() noexcept;
void set_park_hook(park_hook_fn hook) noexcept;
/// Wake a parked side (one syscall); called only when the flag says parked.
void wake(std::atomic<uint32_t>& word) noexcept;
/// Claim a role word for this process; on failure `holder` is the live owner.
bool claim(std::atomic<peer_id>& role, peer_id& holder) noexcept;

// ---------------------------------------------------------------------------
// Handles (handle.cc): what every ring<T> shares whatever its sample type:
// its segment, its roles, and its place in the process-wide registry of live
// handles.
//
// Roles belong to a handle. The shared role word says which *process* holds
// a role (that is what another process can check for liveness); the registry
// says which *handle* of this process holds it, so a second handle of the
// same process on the same object (keyed by device and inode) is refused
// like a second process. The registry also gives every handle an end:
//  - at normal process exit (std::exit, return from main, Python's exit),
//    every handle still alive releases its roles and name, as its destructor
//    would (a producer closes the stream), whichever thread made it;
//  - in a child made by fork(), the inherited copies hold no role: they
//    cannot write or read for the parent, and neither destroying them nor
//    the child's exit closes the parent's stream or removes its name.
// ---------------------------------------------------------------------------
class handle
{
public:
    handle(const handle&) = delete;
    handle& operator=(const handle&) = delete;

    const std::shared_ptr<segment>& seg() const noexcept { return seg_; }
    bool is_producer() const noexcept { return producing_; }
    bool is_consumer() const noexcept { return consuming_; }
    /// pid of the process that held the role a failed claim wanted.
    int holder_pid() const noexcept { return peer_pid(holder_); }
    /// True if that holder is another handle of this same process.
    bool holder_is_this_process() const noexcept { return holder_here_; }
    /// Why the last failed claim was refused, as one sentence naming the
    /// holder ("ring 'rx' already has a producer: pid 41873 holds that role
    /// ..."), for the adapters' EBUSY errors.
    std::string busy_message(bool producer, audience who = audience::api) const;
    /// "ring 'rx'" for a named ring, "in-process ring" otherwise.
    std::string label() const;

protected:
    explicit handle(std::shared_ptr<segment> seg);
    ~handle();
    /// Claim the producer (or consumer) role for this handle: refused while
    /// another handle, of this process or another live one, holds it.
    bool claim_role(bool producer) noexcept;
    /// Give up the roles this handle holds (a producer closes the stream
    /// first) and, if this process created the ring, remove its name.
    void release_roles() noexcept;

    std::shared_ptr<segment> seg_;
    control* ctl_;
    peer_id holder_ = 0;
    bool holder_here_ = false;
    bool producing_ = false;
    bool consuming_ = false;

private:
    friend struct registry_access;
};
} // namespace detail

} // namespace doppler
