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
    /// Validate and double-map an already open object (the fuzz target's entry).
    [[nodiscard]] static std::shared_ptr<segment> attach_fd(int fd,
                                                            sample_type expect,
                                                            bool allow_foreign,
                                                            const std::string& what,
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
    bool is_creator() const noexcept { return creator_; }

    /// Creator only: remove the name now (peers keep their mappings). Idempotent;
    /// leaves the name alone if it now refers to another object.
    void unlink() noexcept;

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
status consumer_park(control* c,
                     uint64_t need,
                     int64_t timeout_ns,
                     uint64_t& write_seen) noexcept;
/// Slow path of a blocking write: park until read_idx >= need (space).
status producer_park(control* c,
                     uint64_t need,
                     int64_t timeout_ns,
                     uint64_t& read_seen) noexcept;
/// Wake a parked side (one syscall); called only when the flag says parked.
void wake(std::atomic<uint32_t>& word) noexcept;
/// Claim a role word for this process; on failure `holder` is the live owner.
bool claim(std::atomic<peer_id>& role, peer_id& holder) noexcept;
} // namespace detail

} // namespace doppler
