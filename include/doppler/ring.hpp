/* -*- c++ -*- */
/*
 * gr-doppler: lock-free single-producer/single-consumer rings, double-mapped.
 * SPDX-License-Identifier: GPL-3.0-or-later
 *
 * Design, in the order the questions usually come:
 *
 * Why mirroring. The data pages are mapped twice, back to back, inside one
 *   reserved span (see segment.cc). Address data[i] and data[i + capacity]
 *   hit the same byte, so a block that straddles the end of the ring is still
 *   one contiguous range: the writer does one memcpy, the reader gets one
 *   pointer (a zero-copy NumPy view) and nobody branches on the wrap.
 *
 * Why power-of-two capacity. Indices are free-running 64-bit counters that
 *   never wrap in practice (2^64 samples is centuries at 10 GS/s); the slot is
 *   `index & mask`, fill is `write - read`. No modulo, no "one slot empty" rule.
 *   The page minimum (512 cf32, 256 cf64, 1024 i16 with 4 KiB pages) comes from
 *   the mirror: the second mapping must start on a page boundary.
 *
 * Why the control block lives in the mapping. The header page in front of the
 *   data holds indices, counters, flags and wake words. An in-process ring and
 *   a ring shared by name between processes are the same bytes mapped the same
 *   way; the hot path cannot tell them apart.
 *
 * Why the padding. The producer writes `write_idx`, the consumer writes
 *   `read_idx`; each on its own 64-byte line so the two cores do not fight over
 *   one line (false sharing). The wake words are on a third line that is only
 *   written when a side parks, so the per-write "is anyone parked?" check is a
 *   load that hits in the local cache. Each side also caches the other side's
 *   index in its own (process-local) handle and reloads the shared one only
 *   when its cached copy says "full" or "not enough" (rigtorp/SPSCQueue).
 *
 * Why seq_cst in two places. Parking is a Dekker handshake: the consumer
 *   stores "parked" then loads write_idx; the producer stores write_idx then
 *   loads "parked". Store->load ordering needs seq_cst on both sides (a plain
 *   release/acquire pair allows both to miss each other, and the consumer
 *   would sleep through the data). The orders sit on the atomics themselves,
 *   not on standalone fences, so ThreadSanitizer models them.
 *
 * Hot path (write, wait, consume): no allocation, no lock, and a syscall only
 *   when the other side is actually parked (one futex wake).
 */
#pragma once

#include <algorithm>
#include <atomic>
#include <cerrno>
#include <complex>
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <memory>
#include <stdexcept>
#include <string>
#include <system_error>
#include <vector>

namespace doppler {

// ---------------------------------------------------------------------------
// Sample types
// ---------------------------------------------------------------------------

/// One interleaved int16 I/Q pair (raw sc16 from an ADC): 4 bytes.
struct ci16 {
    int16_t i;
    int16_t q;
};
static_assert(sizeof(ci16) == 4, "ci16 must be two packed int16");

using cf32 = std::complex<float>;
using cf64 = std::complex<double>;
static_assert(sizeof(cf32) == 8 && sizeof(cf64) == 16, "complex layout");

enum class sample_type : uint32_t { cf32 = 1, cf64 = 2, i16 = 3 };

template <class T>
struct sample_traits;
template <>
struct sample_traits<cf32> {
    static constexpr sample_type type = sample_type::cf32;
};
template <>
struct sample_traits<cf64> {
    static constexpr sample_type type = sample_type::cf64;
};
template <>
struct sample_traits<ci16> {
    static constexpr sample_type type = sample_type::i16;
};

/// "cf32", "cf64", "i16", or "unknown".
const char* type_name(sample_type t) noexcept;
/// Bytes per sample of a type (0 for an unknown type).
size_t sample_size(sample_type t) noexcept;

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
    uint32_t type;        // sample_type
    uint32_t sample_size; // bytes
    uint32_t header_bytes; // offset of the data from the start of the object
    uint64_t capacity;    // samples, power of two
    uint64_t data_bytes;  // capacity * sample_size, multiple of the page size
    peer_id creator;
    uint32_t flags; // reserved, must be 0
    uint32_t reserved0;

    // Line 1: producer-written.
    alignas(cache_line) std::atomic<uint64_t> write_idx; // samples ever published
    std::atomic<uint64_t> dropped;                       // samples refused (drop mode)
    std::atomic<uint32_t> closed;                        // end of stream, set once

    // Line 2: consumer-written.
    alignas(cache_line) std::atomic<uint64_t> read_idx; // samples ever consumed

    // Line 3: wake words, written only when a side parks (futex words are
    // 32-bit). `*_wake_at` is the index that satisfies the parked side, so
    // the other side wakes it only when it is really satisfied.
    alignas(cache_line) std::atomic<uint32_t> consumer_parked;
    std::atomic<uint32_t> producer_parked;
    std::atomic<uint64_t> consumer_wake_at; // write_idx the consumer needs
    std::atomic<uint64_t> producer_wake_at; // read_idx the producer needs

    // Line 4: roles, claimed by CAS on first write / first wait.
    alignas(cache_line) std::atomic<peer_id> producer;
    std::atomic<peer_id> consumer;
};

static_assert(std::atomic<uint64_t>::is_always_lock_free, "needs lock-free 64-bit atomics");
static_assert(std::atomic<uint32_t>::is_always_lock_free, "futex words must be plain ints");
static_assert(sizeof(std::atomic<uint32_t>) == 4, "futex word size");
static_assert(offsetof(control, write_idx) == 1 * cache_line, "producer line");
static_assert(offsetof(control, read_idx) == 2 * cache_line, "consumer line");
static_assert(offsetof(control, consumer_parked) == 3 * cache_line, "wake line");
static_assert(offsetof(control, producer) == 4 * cache_line, "role line");
static_assert(sizeof(control) == 5 * cache_line, "control block is five lines");

// ---------------------------------------------------------------------------
// Errors and results
// ---------------------------------------------------------------------------

/// Result of a wait or a blocking write. Also mapped to errno by the C ABI.
enum class status : int {
    ok = 0,
    timeout,       ///< the timeout passed first (ETIMEDOUT)
    end_of_stream, ///< closed by the producer and fewer than n remain (ENODATA)
    broken,        ///< the peer process died without closing (EPIPE)
    invalid,       ///< bad argument, e.g. n > capacity (EINVAL)
    busy,          ///< the role is held by another live process (EBUSY)
};
const char* status_name(status s) noexcept;
int status_errno(status s) noexcept;

/// Error thrown by creation / attach / role claims. `code()` carries errno
/// (ENOENT, EACCES, EEXIST, ENOSPC, EINVAL, EBUSY, ...) or, for a ring of
/// another sample type, EPROTOTYPE; what() says what was wrong and what to do.
class error : public std::system_error
{
public:
    error(int err, const std::string& what) : std::system_error(err, std::generic_category(), what) {}
};

// ---------------------------------------------------------------------------
// Segment: one mapped ring object (segment.cc). Everything that touches
// mmap, memfd, shm, names and attach validation lives there and only there.
// ---------------------------------------------------------------------------

class segment
{
public:
    /// Anonymous, in-process ring (memfd). capacity in samples, rounded up.
    static std::shared_ptr<segment> create(sample_type t, uint64_t capacity);
    /// Named ring, /dev/shm/doppler.<name>, O_EXCL, mode 0600, reserved up front.
    static std::shared_ptr<segment> create_named(sample_type t, const std::string& name, uint64_t capacity);
    /// Attach an existing named ring. timeout_ns < 0: a missing ring is ENOENT at
    /// once; otherwise wait up to timeout_ns for it to appear.
    /// expect == 0 accepts any type; allow_foreign accepts another uid's ring.
    static std::shared_ptr<segment> attach(const std::string& name, sample_type expect,
                                           int64_t timeout_ns = -1, bool allow_foreign = false);
    /// Attach if it exists, else create (handles a peer creating it between the two).
    static std::shared_ptr<segment> open_named(sample_type t, const std::string& name, uint64_t capacity);
    /// Validate and double-map an already open object (the fuzz target's entry).
    static std::shared_ptr<segment> attach_fd(int fd, sample_type expect, bool allow_foreign,
                                              const std::string& what);

    /// Throws doppler::error(EINVAL) unless name is 1-200 of [A-Za-z0-9._-], no leading dot.
    static void check_name(const std::string& name);
    /// Capacity a request becomes: power of two, at least one page of data.
    static uint64_t round_capacity(sample_type t, uint64_t requested);
    /// "/doppler.<name>" (the shm_open name) and "/dev/shm/doppler.<name>".
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
    static std::shared_ptr<segment> map(int fd, sample_type t, uint64_t capacity, size_t header_bytes,
                                        bool init, const std::string& name);

    void* base_ = nullptr; // start of the reservation
    size_t span_ = 0;      // reservation length: header + 2 * data
    control* ctl_ = nullptr;
    void* data_ = nullptr;
    uint64_t capacity_ = 0;
    sample_type type_ = sample_type::cf32;
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
inline int peer_pid(peer_id id) noexcept { return int(id & ((1u << 22) - 1)); }

/// Slow path of wait(): spin, then park until write_idx >= need, end of
/// stream, a dead producer, or the timeout. Returns the write index it saw.
status consumer_park(control* c, uint64_t need, int64_t timeout_ns, uint64_t& write_seen) noexcept;
/// Slow path of a blocking write: park until read_idx >= need (space).
status producer_park(control* c, uint64_t need, int64_t timeout_ns, uint64_t& read_seen) noexcept;
/// Wake a parked side (one syscall); called only when the flag says parked.
void wake(std::atomic<uint32_t>& word) noexcept;
/// Claim a role word for this process; on failure `holder` is the live owner.
bool claim(std::atomic<peer_id>& role, peer_id& holder) noexcept;
} // namespace detail

// ---------------------------------------------------------------------------
// Inspecting named rings (inspect.cc): what the `doppler-ring` tool shows.
// Read-only; validation is segment::attach_fd's, so a foreign or corrupt
// object is reported, never trusted.
// ---------------------------------------------------------------------------

struct ring_peer {
    int pid = 0;        ///< 0: nobody holds the role
    bool alive = false; ///< same pid and start time still running
};

struct ring_info {
    std::string name;    ///< the part after "doppler." in /dev/shm
    std::string problem; ///< empty for a valid ring, else "corrupt: <reason>" and the like
    uint32_t uid = 0, mode = 0;
    uint64_t bytes = 0; ///< size of the object
    sample_type type = sample_type::cf32;
    uint64_t capacity = 0, written = 0, read_index = 0, dropped = 0;
    bool closed = false;
    ring_peer creator, producer, consumer;
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

// ---------------------------------------------------------------------------
// ring<T>: a handle on a segment, playing producer, consumer or both.
// ---------------------------------------------------------------------------

template <class T>
class ring
{
public:
    using value_type = T;

    /// In-process ring of at least `capacity` samples.
    explicit ring(uint64_t capacity)
        : ring(segment::create(sample_traits<T>::type, capacity))
    {
    }
    /// Named ring, shared between processes.
    static std::unique_ptr<ring> create_named(const std::string& name, uint64_t capacity)
    {
        return std::unique_ptr<ring>(new ring(segment::create_named(sample_traits<T>::type, name, capacity)));
    }
    /// Attach the named ring if it exists (type checked), else create it:
    /// either side of a ring may start first.
    static std::unique_ptr<ring> open(const std::string& name, uint64_t capacity)
    {
        return std::unique_ptr<ring>(new ring(segment::open_named(sample_traits<T>::type, name, capacity)));
    }
    /// Attach to a named ring created elsewhere (checks type, size, owner).
    static std::unique_ptr<ring> attach(const std::string& name, int64_t timeout_ns = -1,
                                        bool allow_foreign = false)
    {
        return std::unique_ptr<ring>(
            new ring(segment::attach(name, sample_traits<T>::type, timeout_ns, allow_foreign)));
    }
    explicit ring(std::shared_ptr<segment> seg)
        : seg_(std::move(seg)),
          ctl_(seg_->ctl()),
          data_(static_cast<T*>(seg_->data())),
          cap_(seg_->capacity()),
          mask_(cap_ - 1)
    {
    }
    ~ring() { release(); }
    ring(const ring&) = delete;
    ring& operator=(const ring&) = delete;

    uint64_t capacity() const noexcept { return cap_; }
    uint64_t dropped() const noexcept { return ctl_->dropped.load(std::memory_order_relaxed); }
    /// Samples published and not yet consumed (never more than capacity).
    uint64_t available() const noexcept
    {
        uint64_t w = ctl_->write_idx.load(std::memory_order_acquire);
        uint64_t r = ctl_->read_idx.load(std::memory_order_acquire);
        uint64_t n = w - r;
        return n > cap_ ? cap_ : n; // a corrupt peer cannot make us read past the mirror
    }
    /// Total samples ever published / consumed (absolute positions).
    uint64_t written() const noexcept { return ctl_->write_idx.load(std::memory_order_acquire); }
    uint64_t read_index() const noexcept { return ctl_->read_idx.load(std::memory_order_acquire); }
    bool closed() const noexcept { return ctl_->closed.load(std::memory_order_acquire) != 0; }
    const std::shared_ptr<segment>& seg() const noexcept { return seg_; }

    // ---- producer ---------------------------------------------------------

    /// Free space, from the producer's point of view. The consumer's index is
    /// reloaded only when the cached figure is below `want` (pass the size of
    /// the chunk you hope to write). 0 if another process is the producer or
    /// the ring is closed.
    uint64_t space(uint64_t want = 1) noexcept
    {
        if ((!producing_ && !claim_producer()) || is_closed_for_writes())
            return 0;
        if (free_cached() < want)
            r_cache_ = ctl_->read_idx.load(std::memory_order_acquire);
        return free_cached();
    }
    /// Count n refused samples (drop policy); returns the new total.
    uint64_t drop(uint64_t n) noexcept
    {
        // Relaxed: a statistic, read by the consumer or the ring tool.
        return ctl_->dropped.fetch_add(n, std::memory_order_relaxed) + n;
    }
    /// Where the next sample goes; the following space() samples are
    /// contiguous (mirror), so a conversion can write straight into the ring.
    T* write_ptr() noexcept { return data_ + (w_ & mask_); }
    /// Publish n samples written through write_ptr() (n <= space()).
    void commit(uint64_t n) noexcept
    {
        w_ += n;
        // seq_cst: store write_idx, then load consumer_parked (Dekker, see top).
        ctl_->write_idx.store(w_, std::memory_order_seq_cst);
        if (ctl_->consumer_parked.load(std::memory_order_seq_cst) &&
            w_ >= ctl_->consumer_wake_at.load(std::memory_order_relaxed))
            detail::wake(ctl_->consumer_parked);
    }
    /// Non-blocking, all or nothing. A refused block adds n to dropped().
    /// n > capacity, another live producer, or a closed ring is refused with
    /// errno EINVAL, EBUSY or EPIPE and not counted as a drop.
    bool write(const T* src, uint64_t n) noexcept
    {
        if (n > cap_ || (!producing_ && !claim_producer()) || is_closed_for_writes()) {
            errno = n > cap_ ? EINVAL : producing_ ? EPIPE : EBUSY;
            return false;
        }
        if (free_cached() < n) {
            r_cache_ = ctl_->read_idx.load(std::memory_order_acquire);
            if (free_cached() < n) {
                drop(n);
                return false;
            }
        }
        std::memcpy(static_cast<void*>(write_ptr()), src, n * sizeof(T));
        commit(n);
        return true;
    }
    /// Lossless write of n samples (n <= capacity): copies what fits as room
    /// appears, so a consumer waiting for any count up to capacity is never
    /// starved by a producer holding out for room for the whole block.
    /// Waits up to timeout_ns in all (< 0: forever). `done` (if given) gets
    /// how many were written and published, all n on status::ok.
    /// status::broken if the consumer died and no other attached in time.
    status write_blocking(const T* src, uint64_t n, int64_t timeout_ns = -1, uint64_t* done = nullptr) noexcept
    {
        const int64_t deadline = timeout_ns < 0 ? -1 : detail::now_ns() + timeout_ns;
        status s = n > cap_ ? status::invalid : status::ok;
        uint64_t copied = 0;
        while (s == status::ok && copied < n) {
            const uint64_t k = std::min(n - copied, space(n - copied));
            if (k == 0) {
                s = wait_space(1, deadline < 0 ? -1 : std::max<int64_t>(0, deadline - detail::now_ns()));
                continue;
            }
            std::memcpy(static_cast<void*>(write_ptr()), src + copied, k * sizeof(T));
            commit(k);
            copied += k;
        }
        if (done)
            *done = copied;
        return s;
    }
    /// Wait until at least n samples of space are free (n <= capacity).
    /// status::end_of_stream if the ring was closed: close() is final.
    status wait_space(uint64_t n, int64_t timeout_ns = -1) noexcept
    {
        if (n > cap_)
            return status::invalid;
        if (!producing_ && !claim_producer())
            return status::busy;
        if (is_closed_for_writes())
            return status::end_of_stream;
        if (free_cached() >= n)
            return status::ok;
        r_cache_ = ctl_->read_idx.load(std::memory_order_acquire);
        if (free_cached() >= n)
            return status::ok;
        return detail::producer_park(ctl_, w_ + n - cap_, timeout_ns, r_cache_);
    }
    /// Mark end of stream: the consumer drains what remains, then gets
    /// status::end_of_stream; further writes are refused. Idempotent.
    void close() noexcept
    {
        ctl_->closed.store(1, std::memory_order_seq_cst);
        detail::wake(ctl_->consumer_parked);
    }

    // ---- consumer ---------------------------------------------------------

    struct view {
        const T* data; ///< n contiguous samples, or nullptr
        status why;    ///< ok, or why data is nullptr
        explicit operator bool() const noexcept { return data != nullptr; }
    };

    /// Wait until n samples are readable (timeout_ns < 0: forever) and return
    /// them as one contiguous range. Call consume() when done with them.
    view wait(uint64_t n, int64_t timeout_ns = -1) noexcept
    {
        const view v = poll(n);
        if (v.why != status::timeout)
            return v;
        const status s = detail::consumer_park(ctl_, r_ + n, timeout_ns, w_cache_);
        return s == status::ok ? view{data_ + (r_ & mask_), status::ok} : view{nullptr, s};
    }
    /// wait() without waiting (no spin, no park): the n samples if they are
    /// readable now; status::timeout if not yet (even on a closed ring:
    /// wait() tells end of stream apart).
    view poll(uint64_t n) noexcept
    {
        if (n == 0 || n > cap_)
            return {nullptr, status::invalid};
        if (!consuming_ && !claim_consumer())
            return {nullptr, status::busy};
        if (w_cache_ - r_ < n) {
            w_cache_ = ctl_->write_idx.load(std::memory_order_acquire);
            if (w_cache_ - r_ < n)
                return {nullptr, status::timeout};
        }
        return {data_ + (r_ & mask_), status::ok};
    }
    /// Samples readable right now from the consumer's point of view.
    uint64_t readable() noexcept
    {
        if (!consuming_ && !claim_consumer())
            return 0;
        w_cache_ = ctl_->write_idx.load(std::memory_order_acquire);
        uint64_t n = w_cache_ - r_;
        return n > cap_ ? cap_ : n;
    }
    /// Release n samples (n <= what the last wait/readable saw). Returns false
    /// (errno EINVAL) if n is more than is readable.
    bool consume(uint64_t n) noexcept
    {
        if (!consuming_) { // r_ is not a read position yet: storing it would rewind read_idx
            errno = EINVAL;
            return false;
        }
        if (n > w_cache_ - r_) {
            w_cache_ = ctl_->write_idx.load(std::memory_order_acquire);
            if (n > w_cache_ - r_) {
                errno = EINVAL;
                return false;
            }
        }
        r_ += n;
        // seq_cst: store read_idx, then load producer_parked (Dekker).
        ctl_->read_idx.store(r_, std::memory_order_seq_cst);
        if (ctl_->producer_parked.load(std::memory_order_seq_cst) &&
            r_ >= ctl_->producer_wake_at.load(std::memory_order_relaxed))
            detail::wake(ctl_->producer_parked);
        return true;
    }
    /// Absolute index of the first sample the next wait() returns.
    uint64_t consumer_index() const noexcept { return consuming_ ? r_ : read_index(); }

    // ---- roles ------------------------------------------------------------

    /// Claim the producer role now (otherwise done on first write). False:
    /// another live process holds it; holder_pid() says which.
    bool claim_producer() noexcept
    {
        if (producing_)
            return true;
        if (!detail::claim(ctl_->producer, holder_))
            return false;
        producing_ = true;
        w_ = ctl_->write_idx.load(std::memory_order_acquire);
        r_cache_ = ctl_->read_idx.load(std::memory_order_acquire);
        return true;
    }
    bool claim_consumer() noexcept
    {
        if (consuming_)
            return true;
        if (!detail::claim(ctl_->consumer, holder_))
            return false;
        consuming_ = true;
        r_ = ctl_->read_idx.load(std::memory_order_acquire);
        w_cache_ = ctl_->write_idx.load(std::memory_order_acquire);
        return true;
    }
    bool is_producer() const noexcept { return producing_; }
    bool is_consumer() const noexcept { return consuming_; }
    /// pid of the process that held the role a failed claim wanted.
    int holder_pid() const noexcept { return detail::peer_pid(holder_); }

    /// Give up roles: a producer closes the stream (a producer that leaves
    /// ends it), a consumer leaves its position for the next one. The
    /// creator also removes the name. Called by the destructor.
    void release() noexcept
    {
        peer_id me = detail::self_id();
        if (producing_) {
            close();
            ctl_->producer.compare_exchange_strong(me, 0, std::memory_order_acq_rel);
            producing_ = false;
        }
        me = detail::self_id();
        if (consuming_) {
            ctl_->consumer.compare_exchange_strong(me, 0, std::memory_order_acq_rel);
            consuming_ = false;
        }
        if (seg_->is_creator())
            seg_->unlink();
    }

private:
    // `closed` sits on the producer's own line: this load is a cache hit.
    bool is_closed_for_writes() const noexcept { return ctl_->closed.load(std::memory_order_relaxed) != 0; }
    // Free space by the cached consumer index. A corrupt peer index (read
    // ahead of write) reads as full; either way a write stays in the mirror.
    uint64_t free_cached() const noexcept
    {
        const uint64_t used = w_ - r_cache_;
        return used > cap_ ? 0 : cap_ - used;
    }

    std::shared_ptr<segment> seg_;
    control* ctl_;
    T* data_;
    uint64_t cap_;
    uint64_t mask_;
    peer_id holder_ = 0;
    bool producing_ = false;
    bool consuming_ = false;
    // Producer-local line: own index and cached copy of the consumer's.
    alignas(cache_line) uint64_t w_ = 0;
    uint64_t r_cache_ = 0;
    // Consumer-local line: own index and cached copy of the producer's.
    alignas(cache_line) uint64_t r_ = 0;
    uint64_t w_cache_ = 0;
};

extern template class ring<cf32>;
extern template class ring<cf64>;
extern template class ring<ci16>;

} // namespace doppler
