/* -*- c++ -*- */
/*
 * The one place that maps rings: memfd / POSIX shm objects, the double
 * mapping, names, creation and attach validation.
 * SPDX-License-Identifier: GPL-3.0-or-later
 *
 * Object layout: [ header page | data (capacity * sample_size) ]
 * Mapping:       [ header page | data | data again ]  (one reservation)
 *
 * The reservation is taken PROT_NONE first and both data views are mapped
 * MAP_FIXED inside it, so no other thread can slip a mapping into a hole.
 */
#include "file_check.hpp"

#include <doppler/ring.hpp>

#include <fcntl.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <climits>
#include <cstdio>
#include <cstring>
#include <thread>

namespace doppler {

namespace {

size_t page_size() noexcept
{
    static const size_t p = size_t(sysconf(_SC_PAGESIZE));
    return p;
}

[[noreturn]] void fail(int err, const std::string& what)
{
    throw error(err, what);
}

/// Closes an fd on scope exit unless released.
struct fd_guard {
    int fd;
    ~fd_guard()
    {
        if (fd >= 0)
            ::close(fd);
    }
};

bool valid_type(uint32_t t) noexcept
{
    return t == uint32_t(sample_type::f32) || t == uint32_t(sample_type::f64) ||
        t == uint32_t(sample_type::i16);
}

/// control::flags of a ring made now: the membarrier handshake (hot.h) if
/// this process asks for it and could register.
uint32_t new_ring_flags() noexcept
{
    return default_handshake() == handshake::membarrier && detail::register_barrier()
        ? ring_flag_membarrier
        : 0;
}

} // namespace

// ---------------------------------------------------------------------------
// names and sizes
// ---------------------------------------------------------------------------

void segment::check_name(const std::string& name)
{
    if (name.empty() || name.size() > 200)
        throw error(EINVAL,
                    "ring name must be 1-200 characters, got " +
                        std::to_string(name.size()));
    if (name[0] == '.')
        throw error(EINVAL,
                    "ring name '" + printable(name) + "' must not start with a dot");
    for (char c : name) {
        bool ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
            (c >= '0' && c <= '9') || c == '.' || c == '_' || c == '-';
        if (!ok)
            throw error(EINVAL,
                        "ring name '" + printable(name) +
                            "' may only use letters, digits, '.', '_' and '-'");
    }
}

std::string segment::shm_name(const std::string& name)
{
    return std::string("/") + shm_prefix + name;
}
std::string segment::shm_path(const std::string& name)
{
    return std::string(shm_dir) + "/" + shm_prefix + name;
}

uint64_t segment::round_capacity(sample_type t, uint64_t requested)
{
    const uint64_t sz = sample_size(t);
    if (sz == 0)
        throw error(EINVAL, "unknown sample type");
    check_capacity(int64_t(std::min<uint64_t>(requested, INT64_MAX)));
    if (requested > max_data_bytes / sz)
        throw error(
            EINVAL,
            "capacity " + std::to_string(requested) + " samples is too large (at most " +
                std::to_string(max_data_bytes / sz) + " " + type_name(t) + " samples)");
    const uint64_t min =
        page_size() / sz; // one page of data: the mirror needs page alignment
    uint64_t cap = min;
    while (cap < requested)
        cap <<= 1;
    return cap;
}

// ---------------------------------------------------------------------------
// mapping
// ---------------------------------------------------------------------------

std::shared_ptr<segment> segment::map(int fd,
                                      sample_type t,
                                      uint64_t capacity,
                                      size_t tag_offset,
                                      size_t tag_bytes,
                                      uint32_t flags,
                                      bool init,
                                      const std::string& name)
{
    const size_t header_bytes = tag_offset + tag_bytes;
    const size_t data_bytes = size_t(capacity * sample_size(t));
    const size_t span = header_bytes + 2 * data_bytes;

    void* base = mmap(
        nullptr, span, PROT_NONE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
    if (base == MAP_FAILED)
        fail(errno, "cannot reserve " + std::to_string(span) + " bytes of address space");
    auto* b = static_cast<char*>(base);
    // control + tags + data at the start, then the data again right after it.
    if (mmap(b,
             header_bytes + data_bytes,
             PROT_READ | PROT_WRITE,
             MAP_SHARED | MAP_FIXED,
             fd,
             0) == MAP_FAILED ||
        mmap(b + header_bytes + data_bytes,
             data_bytes,
             PROT_READ | PROT_WRITE,
             MAP_SHARED | MAP_FIXED,
             fd,
             off_t(header_bytes)) == MAP_FAILED) {
        int err = errno;
        munmap(base, span);
        fail(err, "cannot map the ring twice");
    }

    std::shared_ptr<segment> s(new segment());
    s->base_ = base;
    s->span_ = span;
    s->ctl_ = reinterpret_cast<control*>(b);
    s->tags_ = reinterpret_cast<uint8_t*>(b + tag_offset);
    s->tag_bytes_ = tag_bytes;
    s->data_ = b + header_bytes;
    s->capacity_ = capacity;
    s->type_ = t;
    s->flags_ = flags;
    s->name_ = name;
    struct stat st {
    };
    if (fstat(fd, &st) == 0) {
        s->dev_ = st.st_dev;
        s->ino_ = st.st_ino;
    }

    if (init) {
        control* c = s->ctl_;
        // The object is fresh (zero-filled by the kernel); set the fields,
        // publish magic last so an attacher never sees a half-written header.
        c->version = layout_version;
        c->type = uint32_t(t);
        c->sample_size = uint32_t(sample_size(t));
        c->header_bytes = uint32_t(header_bytes);
        c->capacity = capacity;
        c->data_bytes = data_bytes;
        c->creator = detail::self_id();
        c->flags = flags;
        c->reader_slots = uint16_t(max_readers);
        c->seam_count = uint16_t(seam_slots);
        c->tag_offset = uint32_t(tag_offset);
        c->tag_bytes = uint32_t(tag_bytes);
        // The default reader (slot 0): tethered, waited for forever.
        c->readers[0].flags.store(reader_tethered, std::memory_order_relaxed);
        c->readers[0].grace_ns.store(-1, std::memory_order_relaxed);
        c->readers[0].in_use.store(1, std::memory_order_relaxed);
        c->reader_mask.store(1, std::memory_order_relaxed);
        c->tethered_mask.store(1, std::memory_order_relaxed);
        c->magic.store(ring_magic, std::memory_order_release);
        s->creator_ = true;
        s->creator_pid_ = int(getpid());
    }
    return s;
}

bool segment::is_creator() const noexcept
{
    // A forked child has a copy of the parent's segment, creator_ included;
    // the name is the parent's to remove.
    return creator_ && creator_pid_ == int(getpid());
}

segment::~segment()
{
    leave();
    if (base_)
        munmap(base_, span_);
}

void segment::unlink() noexcept
{
    if (unlinked_ || name_.empty())
        return;
    unlinked_ = true;
    // Only remove the name if it still refers to this object: `doppler-ring
    // rm` and a new create may have put another object under it meanwhile.
    struct stat st {
    };
    if (lstat(shm_path(name_).c_str(), &st) == 0 && uint64_t(st.st_dev) == dev_ &&
        uint64_t(st.st_ino) == ino_)
        shm_unlink(shm_name(name_).c_str());
}

void segment::join() noexcept
{
    if (name_.empty() || party_ >= 0)
        return;
    const peer_id me = detail::self_id();
    party_handle_ = detail::new_handle();
    for (uint32_t i = 0; i < party_slots; ++i) {
        party& p = ctl_->parties[i];
        peer_id cur = p.process.load(std::memory_order_acquire);
        // A free entry, or one left by a dead process.
        if ((cur == 0 || !detail::peer_alive(cur)) &&
            p.process.compare_exchange_strong(cur, me, std::memory_order_acq_rel)) {
            p.handle.store(party_handle_, std::memory_order_release);
            party_ = int(i);
            return;
        }
    }
    // Table full: this mapping does not keep the name alive (documented limit).
}

void segment::leave() noexcept
{
    if (left_ || !ctl_)
        return;
    left_ = true;
    if (name_.empty())
        return;
    const peer_id me = detail::self_id();
    if (party_ >= 0) {
        // A forked child's copy of this object is not a party (new_handle()
        // numbers carry the pid that drew them): the parent's entry and name
        // are not the child's to end.
        if ((party_handle_ >> 40) != (uint64_t(getpid()) & 0xffffff))
            return;
        // Our entry, if it still holds us (a header wiped or truncated
        // under us no longer does: then there is nothing of ours to clear,
        // but the name is still ours to take away if nobody else is there).
        party& p = ctl_->parties[party_];
        if (p.process.load(std::memory_order_acquire) == me &&
            p.handle.load(std::memory_order_acquire) == party_handle_) {
            p.handle.store(0, std::memory_order_relaxed);
            p.process.store(0, std::memory_order_release);
        }
    } else if (!creator_ || ctl_->creator != me) {
        return; // never a party (table full, or a forked child): leave it be
    }
    // seq_cst: our entry is gone before we look for others (two parties
    // leaving at once both see the table empty and both remove the name,
    // which is harmless; neither can miss the other and keep it).
    std::atomic_thread_fence(std::memory_order_seq_cst);
    for (uint32_t i = 0; i < party_slots; ++i) {
        const peer_id p = ctl_->parties[i].process.load(std::memory_order_acquire);
        if (p != 0 && detail::peer_alive(p))
            return; // another live party keeps the name
    }
    unlink(); // whoever created it: the last party takes the name away
}

// ---------------------------------------------------------------------------
// creation
// ---------------------------------------------------------------------------

namespace {
/// Size the object and reserve its memory now, so a full /dev/shm is an
/// error here and never a SIGBUS on first touch.
int reserve(int fd, off_t bytes) noexcept
{
    if (ftruncate(fd, bytes) != 0)
        return errno;
    return posix_fallocate(fd, 0, bytes); // returns the error, not errno
}
} // namespace

namespace {
/// The control pages: the control block rounded up to whole pages.
size_t control_bytes() noexcept
{
    return (sizeof(control) + page_size() - 1) / page_size() * page_size();
}
/// Tag area of a new ring: 1/64 of the data (a power of two), at least one
/// page, at most 1 MiB: room for thousands of tags in flight.
size_t tag_area_bytes(uint64_t data_bytes) noexcept
{
    size_t b = page_size();
    while (b < data_bytes / 64 && b < (size_t(1) << 20))
        b <<= 1;
    return b;
}
} // namespace

std::shared_ptr<segment> segment::create(sample_type t, uint64_t capacity)
{
    const uint64_t cap = round_capacity(t, capacity);
    const size_t tag_bytes = tag_area_bytes(cap * sample_size(t));
    const size_t header = control_bytes() + tag_bytes;
    // A memfd lives in the kernel's internal tmpfs, which has no size limit:
    // reserving more than the machine has would summon the OOM killer
    // instead of failing. (Named rings are bounded by /dev/shm: ENOSPC.)
    const uint64_t ram = uint64_t(sysconf(_SC_PHYS_PAGES)) * page_size();
    if (cap * sample_size(t) > ram)
        throw error(ENOMEM,
                    "a ring of " + std::to_string(cap) + " " + type_name(t) +
                        " samples (" + std::to_string(cap * sample_size(t)) +
                        " bytes) is larger than this machine's memory (" +
                        std::to_string(ram) + " bytes); ask for a smaller capacity");
    fd_guard fd { memfd_create("doppler-ring", MFD_CLOEXEC) };
    if (fd.fd < 0)
        fail(errno, "memfd_create failed");
    if (int err = reserve(fd.fd, off_t(header + cap * sample_size(t))))
        fail(err,
             "cannot reserve " + std::to_string(cap * sample_size(t)) +
                 " bytes for the ring");
    return map(fd.fd, t, cap, control_bytes(), tag_bytes, new_ring_flags(), true, "");
}

std::shared_ptr<segment>
segment::create_named(sample_type t, const std::string& name, uint64_t capacity)
{
    check_name(name);
    const uint64_t cap = round_capacity(t, capacity);
    const size_t tag_bytes = tag_area_bytes(cap * sample_size(t));
    const size_t header = control_bytes() + tag_bytes;
    const std::string shm = shm_name(name);
    fd_guard fd { shm_open(shm.c_str(), O_RDWR | O_CREAT | O_EXCL | O_CLOEXEC, 0600) };
    if (fd.fd < 0) {
        int err = errno;
        if (err == EEXIST)
            throw error(err,
                        "ring '" + name + "' already exists (" + shm_path(name) +
                            "); attach to it, or remove it with `doppler-ring rm " +
                            name + "`");
        fail(err, "cannot create ring '" + name + "' (" + shm_path(name) + ")");
    }
    fchmod(fd.fd, 0600); // whatever the umask, strangers get nothing
    try {
        if (int err = reserve(fd.fd, off_t(header + cap * sample_size(t))))
            fail(err,
                 "cannot reserve " + std::to_string(header + cap * sample_size(t)) +
                     " bytes in /dev/shm for ring '" + name + "'" +
                     (err == ENOSPC ? ": /dev/shm is full (free space in it, e.g. "
                                      "`doppler-ring rm --stale`, or use a smaller "
                                      "capacity)"
                                    : ""));
        auto s =
            map(fd.fd, t, cap, control_bytes(), tag_bytes, new_ring_flags(), true, name);
        s->join();
        return s;
    } catch (...) {
        shm_unlink(shm.c_str()); // leave nothing behind
        throw;
    }
}

// ---------------------------------------------------------------------------
// attach: validate everything before use
// ---------------------------------------------------------------------------

namespace {

/// What a ring's object must be before attach reads its header
/// (detail::check_file: the same checks and words as the bridge's position
/// file).
detail::file_rules ring_rules(bool allow_foreign)
{
    detail::file_rules r;
    r.expected = "a doppler ring";
    r.what_to_do = "; remove it, or use another name";
    r.owner_risk =
        allow_foreign ? nullptr : "its owner could change or remove it under you";
    r.owner_what_to_do =
        "; attach with allow_foreign if you trust its owner, or use another name";
    r.min_bytes = page_size();
    r.min_what = "a ring header";
    return r;
}

} // namespace

uint64_t segment::check_object(int fd,
                               sample_type expect,
                               bool allow_foreign,
                               const std::string& what,
                               control& header,
                               audience who)
{
    const struct stat st = detail::check_file(fd, what, ring_rules(allow_foreign));
    const size_t page = page_size();

    // Read the header with pread into a private copy, never through a
    // mapping: an object truncated meanwhile gives a short read here, not a
    // SIGBUS, and a peer changing it cannot change what we validated.
    std::memset(static_cast<void*>(&header), 0, sizeof header);
    const ssize_t got = pread(fd, static_cast<void*>(&header), sizeof header, 0);
    if (got < 0)
        fail(errno, "cannot read the header of " + what);
    if (size_t(got) < sizeof header)
        throw error(EBADMSG,
                    what + " is not a valid doppler ring: it shrank to " +
                        std::to_string(got) + " bytes while being read");
    const uint64_t magic = header.magic.load(std::memory_order_relaxed);
    const uint32_t version = header.version, type = header.type,
                   ssize = header.sample_size, hbytes = header.header_bytes,
                   flags = header.flags, toff = header.tag_offset,
                   tbytes = header.tag_bytes, readers = header.reader_slots,
                   seams = header.seam_count;
    const uint64_t cap = header.capacity, dbytes = header.data_bytes;

    auto bad = [&](const std::string& why) -> error {
        return error(EBADMSG, what + " is not a valid doppler ring: " + why);
    };
    if (magic == 0)
        throw error(EAGAIN,
                    what +
                        " is not initialised (its creator is still setting it up, or "
                        "died doing so)");
    if (magic != ring_magic)
        throw bad("bad magic number");
    if (version != layout_version)
        throw bad("layout version " + std::to_string(version) + ", this library speaks " +
                  std::to_string(layout_version) +
                  " (a ring made by another release of gr-doppler: use the same "
                  "release on both sides)");
    if (!valid_type(type))
        throw bad("unknown sample type " + std::to_string(type));
    const sample_type t = sample_type(type);
    if (ssize != sample_size(t))
        throw bad("sample size " + std::to_string(ssize) + " does not match type " +
                  type_name(t));
    if ((flags & ~known_ring_flags) != 0)
        throw bad("unknown flags " + std::to_string(flags));
    if (readers != max_readers || seams != seam_slots)
        throw bad("reader table of " + std::to_string(readers) + " and seam table of " +
                  std::to_string(seams) + ", this library has " +
                  std::to_string(max_readers) + " and " + std::to_string(seam_slots));
    if (toff != control_bytes())
        throw bad("tag area at " + std::to_string(toff) + ", expected " +
                  std::to_string(control_bytes()));
    if (tbytes < page || tbytes > max_tag_bytes || (tbytes & (tbytes - 1)) != 0)
        throw bad("tag area of " + std::to_string(tbytes) +
                  " bytes is not a power of two from one page to 16 MiB");
    if (uint64_t(hbytes) != uint64_t(toff) + tbytes)
        throw bad("header size " + std::to_string(hbytes) +
                  " is not the control pages plus the tag area");
    if (cap == 0 || (cap & (cap - 1)) != 0 || cap > max_data_bytes / ssize)
        throw bad("capacity " + std::to_string(cap) + " is not a power of two in range");
    if (dbytes != cap * ssize || dbytes % page != 0)
        throw bad("data size does not match capacity");
    if (uint64_t(st.st_size) != hbytes + dbytes)
        throw bad("object is " + std::to_string(st.st_size) + " bytes, header says " +
                  std::to_string(hbytes + dbytes) + " (truncated?)");
    if (uint32_t(expect) != 0 && t != expect)
        throw error(EPROTOTYPE, wrong_type_message(what, t, expect, who));
    return uint64_t(st.st_size);
}

std::shared_ptr<segment> segment::attach_fd(
    int fd, sample_type expect, bool allow_foreign, const std::string& what, audience who)
{
    control header;
    const uint64_t bytes = check_object(fd, expect, allow_foreign, what, header, who);
    // Make sure every page exists, as creation does: a sparse object (pages
    // never allocated) passes every header check and would SIGBUS on first
    // touch once /dev/shm is full. Allocating is a no-op for pages that exist.
    if (int err = posix_fallocate(fd, 0, off_t(bytes)))
        fail(err,
             what + " has " + std::to_string(bytes) +
                 " bytes of memory that were never reserved, and they cannot be now" +
                 (err == ENOSPC ? " (/dev/shm is full: free space, e.g. `doppler-ring rm "
                                  "--stale`, or have its creator make a smaller ring)"
                                : ""));
    struct stat st {
    };
    if (fstat(fd, &st) != 0 || uint64_t(st.st_size) != bytes)
        throw error(EBADMSG,
                    what +
                        " is not a valid doppler ring: its size changed while it was "
                        "being attached");
    return map(fd,
               sample_type(header.type),
               header.capacity,
               header.tag_offset,
               header.tag_bytes,
               header.flags,
               false,
               "");
}

std::shared_ptr<segment> segment::attach(const std::string& name,
                                         sample_type expect,
                                         int64_t timeout_ns,
                                         bool allow_foreign,
                                         interrupt stop,
                                         audience who)
{
    check_name(name);
    using clock = std::chrono::steady_clock;
    const auto start = clock::now();
    // A ring that exists but is not yet initialised gets a short grace even
    // without a timeout: its creator may be between shm_open and the header.
    const int64_t grace_ns = 1000000000;
    const std::string label = ring_label(name);
    for (;;) {
        const int64_t waited =
            std::chrono::duration_cast<std::chrono::nanoseconds>(clock::now() - start)
                .count();
        // O_NONBLOCK: a FIFO planted under the name must not block the open
        // (shm_open adds O_NOFOLLOW: a planted symlink fails with ELOOP).
        fd_guard fd { shm_open(
            shm_name(name).c_str(), O_RDWR | O_CLOEXEC | O_NONBLOCK | O_NOFOLLOW, 0) };
        if (fd.fd < 0) {
            const int err = errno;
            // shm_open reports a directory as EINVAL, a symlink as ELOOP, a
            // socket as ENXIO and a device on a nodev mount as EACCES: say what
            // is there instead.
            struct stat st {
            };
            if (err != ENOENT && lstat(shm_path(name).c_str(), &st) == 0 &&
                !S_ISREG(st.st_mode))
                throw detail::not_a_file(label + " (" + shm_path(name) + ")",
                                         st.st_mode,
                                         ring_rules(allow_foreign));
            if (err == EACCES)
                fail(err, label + " (" + shm_path(name) + ") is not accessible to you");
            if (err != ENOENT)
                fail(err, "cannot open " + label + " (" + shm_path(name) + ")");
            if (timeout_ns < 0)
                throw error(ENOENT,
                            "no ring named '" + name + "' (" + shm_path(name) +
                                "); start its producer first, or attach with a timeout "
                                "to wait for it");
            if (waited >= timeout_ns) {
                // A wait that ran out is a timeout (Python: TimeoutError), as
                // for wait(); without a timeout a missing ring is ENOENT.
                char secs[32];
                std::snprintf(secs, sizeof secs, "%g", double(timeout_ns) / 1e9);
                throw error(ETIMEDOUT,
                            "no ring named '" + name + "' (" + shm_path(name) +
                                ") appeared within " + secs +
                                " s; start its producer, or wait longer");
            }
        } else {
            try {
                auto s = attach_fd(fd.fd, expect, allow_foreign, label, who);
                s->name_ = name;
                s->join();
                return s;
            } catch (const error& e) {
                // EAGAIN: created but not initialised yet; retry within the grace.
                if (e.code().value() != EAGAIN ||
                    waited >= std::max<int64_t>(timeout_ns, grace_ns))
                    throw;
            }
        }
        if (stop())
            throw error(EINTR, "attaching " + label + " was interrupted");
        std::this_thread::sleep_for(std::chrono::milliseconds(5));
    }
}

std::shared_ptr<segment> segment::open_named(sample_type t,
                                             const std::string& name,
                                             uint64_t capacity,
                                             audience who)
{
    // Attach, else create. A peer creating the ring between our two calls
    // makes create fail with EEXIST: then it exists, attach again. A third
    // collision means names are being created and removed in a loop: give up.
    for (int attempt = 1;; ++attempt) {
        try {
            return attach(name, t, -1, false, {}, who);
        } catch (const error& e) {
            if (e.code().value() != ENOENT || attempt == 3)
                throw;
        }
        try {
            return create_named(t, name, capacity);
        } catch (const error& e) {
            if (e.code().value() != EEXIST || attempt == 3)
                throw;
        }
    }
}

} // namespace doppler
