/* -*- c++ -*- */
/*
 * doppler-bridge: the receiver's position file (position.hpp).
 * SPDX-License-Identifier: GPL-3.0-or-later
 */
#include "position.hpp"

#include "file_check.hpp"

#include <doppler/types.hpp>

#include <fcntl.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include <atomic>
#include <cerrno>
#include <cstdio>
#include <cstring>

namespace doppler {
namespace bridge {

namespace {
constexpr uint64_t magic = 0x534f504752425044ULL; // "DPBRGPOS" in memory order
// 2: the record has a checksum. A file of version 1 (no checksum) is made
// over as an empty one.
constexpr uint64_t version = 2;

/// What every refusal tells the user to do.
const char* const what_to_do =
    "; remove it (as its owner, or root), or give another path with --position, or "
    "--position none (a restarted receiver then cannot report samples lost in "
    "flight)";

/// What an existing position file must be before it is read or mapped
/// (detail::check_file: the same checks and words as a ring's object). 0
/// bytes: made by a receiver that died before it reserved the page.
detail::file_rules file_rules()
{
    detail::file_rules r;
    r.expected = "a doppler-bridge position file";
    r.what_to_do = what_to_do;
    r.owner_risk = "another user could truncate it or forge the position in it";
    r.private_mode = true;
    r.one_link = true;
    r.empty_ok = true;
    r.exact_bytes = position_file::bytes;
    return r;
}

/// The error of a page that cannot be reserved (posix_fallocate's `e`).
error no_room(int e, const std::string& label)
{
    return error(e,
                 "cannot reserve " + std::to_string(position_file::bytes) +
                     " bytes for " + label + ": " + std::strerror(e) +
                     (e == ENOSPC ? " (its file system is full: free space there, e.g. "
                                    "`doppler-ring rm --stale` for /dev/shm, or give "
                                    "another path with --position)"
                                  : what_to_do));
}

struct fd_guard {
    int fd;
    ~fd_guard()
    {
        if (fd >= 0)
            ::close(fd);
    }
};
} // namespace

// One page, written by one receiver at a time (the one holding the ring's
// producer role). `seq` is odd while a record is being changed: a reader that
// finds it odd ignores the record (its writer died in the middle); one that
// finds it changed across its read ignores it too. `check` is a checksum of
// seq and the fields: a record changed by anything but note() fails it.
struct position_file::record {
    uint64_t magic;
    uint64_t version;
    std::atomic<uint64_t> seq;
    uint64_t dev, ino; // the ring's /dev/shm object
    uint64_t w, x, n; // local write index, sender offset, items
    uint64_t check;
};

namespace {
/// The checksum of a record: each word mixed in turn (splitmix64's
/// finaliser), so that any change to any word changes it.
uint64_t checksum(
    uint64_t seq, uint64_t dev, uint64_t ino, uint64_t w, uint64_t x, uint64_t n) noexcept
{
    uint64_t h = magic;
    for (uint64_t v : { seq, dev, ino, w, x, n }) {
        h ^= v;
        h += 0x9e3779b97f4a7c15ULL;
        h = (h ^ (h >> 30)) * 0xbf58476d1ce4e5b9ULL;
        h = (h ^ (h >> 27)) * 0x94d049bb133111ebULL;
        h ^= h >> 31;
    }
    return h;
}
} // namespace

std::string position_file::default_path(const std::string& ring)
{
    return "/dev/shm/doppler-bridge." + ring + ".position";
}

position_file::position_file(const std::string& path, uint64_t dev, uint64_t ino)
    : path_(path), dev_(dev), ino_(ino)
{
    const std::string label = "the position file " + printable(path);
    // Made here (O_EXCL: never a file someone else put under the name), or
    // opened as it is (O_NOFOLLOW: never through a symbolic link; O_NONBLOCK:
    // a FIFO does not block the open) and checked below.
    bool made = false;
    fd_guard fd { -1 };
    for (int attempt = 0; fd.fd < 0; ++attempt) {
        fd.fd = ::open(
            path.c_str(), O_RDWR | O_CREAT | O_EXCL | O_CLOEXEC | O_NOFOLLOW, 0600);
        if (fd.fd >= 0) {
            made = true;
            break;
        }
        int e = errno;
        if (e == EEXIST) {
            fd.fd = ::open(path.c_str(), O_RDWR | O_CLOEXEC | O_NOFOLLOW | O_NONBLOCK);
            if (fd.fd >= 0)
                break;
            e = errno;
            if (e == ENOENT && attempt < 3)
                continue; // removed in between: make it
        }
        struct stat st;
        if ((e == EEXIST || e == ELOOP || e == ENXIO || e == EISDIR) &&
            ::lstat(path.c_str(), &st) == 0 && !S_ISREG(st.st_mode))
            throw detail::not_a_file(label, st.st_mode, file_rules());
        throw error(e, "cannot open " + label + ": " + std::strerror(e) + what_to_do);
    }
    struct stat st;
    if (made) {
        if (::fstat(fd.fd, &st) != 0) {
            const int e = errno;
            ::unlink(path.c_str());
            throw error(e, "cannot stat " + label + ": " + std::strerror(e));
        }
    } else {
        // Somebody's file: it must be what this user's receiver made.
        st = detail::check_file(fd.fd, label, file_rules());
    }
    file_dev_ = uint64_t(st.st_dev);
    file_ino_ = uint64_t(st.st_ino);
    if (made) {
        // Whatever the umask: nobody else may read or change it.
        ::fchmod(fd.fd, 0600);
        // Reserve the page now: a file only ftruncate'd has no page behind
        // it, and a store into it when the file system is full is a SIGBUS.
        if (const int e = ::posix_fallocate(fd.fd, 0, off_t(bytes))) {
            ::unlink(path.c_str());
            throw no_room(e, label);
        }
    } else {
        // Its header, read with pread (never through a mapping) before
        // anything is mapped.
        uint64_t head[2] = { 0, 0 };
        if (st.st_size != 0 &&
            (::pread(fd.fd, head, sizeof head, 0) != ssize_t(sizeof head) ||
             (head[0] != 0 && head[0] != magic)))
            throw error(EBADMSG,
                        label + " is not a doppler-bridge position file" + what_to_do);
        // A file that was only sized has pages that do not exist yet: get
        // them now, while an error is still a message.
        if (const int e = ::posix_fallocate(fd.fd, 0, off_t(bytes)))
            throw no_room(e, label);
    }
    void* p = ::mmap(nullptr, bytes, PROT_READ | PROT_WRITE, MAP_SHARED, fd.fd, 0);
    if (p == MAP_FAILED) {
        const int e = errno;
        if (made)
            ::unlink(path.c_str());
        throw error(e, "cannot map " + label + ": " + std::strerror(e));
    }
    rec_ = static_cast<record*>(p);
    if (rec_->magic != magic || rec_->version != version) {
        // New, or written by another version: start empty.
        rec_->seq.store(0, std::memory_order_relaxed);
        rec_->dev = rec_->ino = rec_->w = rec_->x = rec_->n = rec_->check = 0;
        rec_->version = version;
        rec_->magic = magic;
    }
}

position_file::~position_file()
{
    if (rec_)
        ::munmap(rec_, bytes);
}

// One message per unusable kind of record: a switch shaped like the names in
// vocabulary.cc and wire.cc, with nothing to share.
const char* position_file::describe(recalled r) noexcept
{
    switch (r) {
    case recalled::other_ring:
        return "describes another ring (or this ring before it was made again)";
    case recalled::torn:
        return "holds a record its writer did not finish (it died while writing it)";
    case recalled::bad_check:
        return "holds a record that fails its checksum (changed by something other "
               "than a receiver)";
    case recalled::unexplained:
        return "holds a record the ring's write index contradicts (the ring was "
               "written by something else since)";
    default:
        return "";
    }
}

position_file::recalled position_file::recall(uint64_t written,
                                              uint64_t* next) const noexcept
{
    const uint64_t s = rec_->seq.load(std::memory_order_acquire);
    if (s == 0)
        return recalled::empty;
    if ((s & 1) != 0)
        return recalled::torn;
    const uint64_t dev = rec_->dev, ino = rec_->ino, w = rec_->w, x = rec_->x,
                   n = rec_->n, check = rec_->check;
    std::atomic_thread_fence(std::memory_order_acquire);
    if (rec_->seq.load(std::memory_order_relaxed) != s)
        return recalled::torn;
    if (check != checksum(s, dev, ino, w, x, n))
        return recalled::bad_check;
    if (ino_ == 0 || dev != dev_ || ino != ino_)
        return recalled::other_ring;
    // The ring's write index is in [w, w + n] whatever point the writer
    // stopped at (position.hpp).
    if (written < w || written - w > n)
        return recalled::unexplained;
    *next = x + (written - w);
    return recalled::found;
}

void position_file::note(uint64_t w, uint64_t x, uint64_t n) noexcept
{
    const uint64_t s = rec_->seq.load(std::memory_order_relaxed);
    rec_->seq.store(s + 1, std::memory_order_relaxed);
    std::atomic_thread_fence(std::memory_order_release);
    rec_->dev = dev_;
    rec_->ino = ino_;
    rec_->w = w;
    rec_->x = x;
    rec_->n = n;
    rec_->check = checksum(s + 2, dev_, ino_, w, x, n);
    // Release: the fields before the even seq (and before the ring's samples,
    // whose write index store follows).
    rec_->seq.store(s + 2, std::memory_order_release);
}

void position_file::remove() noexcept
{
    // Only the file this receiver opened: a name that now leads elsewhere
    // is left alone.
    struct stat st;
    if (::lstat(path_.c_str(), &st) == 0 && uint64_t(st.st_dev) == file_dev_ &&
        uint64_t(st.st_ino) == file_ino_)
        ::unlink(path_.c_str());
}

} // namespace bridge
} // namespace doppler
