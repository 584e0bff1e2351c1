/* -*- c++ -*- */
/*
 * doppler-bridge: the receiver's position file (position.hpp).
 * SPDX-License-Identifier: GPL-3.0-or-later
 */
#include "position.hpp"

#include <doppler/types.hpp>

#include <fcntl.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include <atomic>
#include <cerrno>
#include <cstring>

namespace doppler {
namespace bridge {

namespace {
constexpr uint64_t magic = 0x534f504752425044ULL; // "DPBRGPOS" in memory order
constexpr uint64_t version = 1;
} // namespace

// One page, written by one receiver at a time (the one holding the ring's
// producer role). `seq` is odd while a record is being changed: a reader that
// finds it odd, or changed across its read, ignores the record (the writer
// died in the middle, or is writing now).
struct position_file::record {
    uint64_t magic;
    uint64_t version;
    std::atomic<uint64_t> seq;
    uint64_t dev, ino; // the ring's /dev/shm object
    uint64_t w, x, n; // local write index, sender offset, items
};

std::string position_file::default_path(const std::string& ring)
{
    return "/dev/shm/doppler-bridge." + ring + ".position";
}

position_file::position_file(const std::string& path, uint64_t dev, uint64_t ino)
    : path_(path), dev_(dev), ino_(ino)
{
    struct stat st;
    const int fd = ::open(path.c_str(), O_RDWR | O_CREAT | O_CLOEXEC | O_NOFOLLOW, 0600);
    if (fd < 0) {
        const int e = errno;
        throw error(e,
                    "cannot open the position file " + printable(path) + ": " +
                        std::strerror(e) +
                        "; give another path with --position, or --position none "
                        "(a restarted receiver then cannot report samples lost in "
                        "flight)");
    }
    if (::fstat(fd, &st) != 0 || !S_ISREG(st.st_mode) ||
        (st.st_size != 0 && st.st_size != 4096) ||
        (st.st_size == 0 && ::ftruncate(fd, 4096) != 0)) {
        ::close(fd);
        throw error(EBADMSG,
                    printable(path) +
                        " is not a doppler-bridge position file (a regular file of "
                        "4096 bytes); remove it, or give another path with --position");
    }
    void* p = ::mmap(nullptr, 4096, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
    ::close(fd);
    if (p == MAP_FAILED) {
        const int e = errno;
        throw error(e,
                    "cannot map the position file " + printable(path) + ": " +
                        std::strerror(e));
    }
    rec_ = static_cast<record*>(p);
    if (rec_->magic != magic || rec_->version != version) {
        if (rec_->magic != 0 && rec_->magic != magic) {
            ::munmap(p, 4096);
            rec_ = nullptr;
            throw error(EBADMSG,
                        printable(path) +
                            " is not a doppler-bridge position file; remove it, or "
                            "give another path with --position");
        }
        rec_->seq.store(0, std::memory_order_relaxed);
        rec_->dev = rec_->ino = rec_->w = rec_->x = rec_->n = 0;
        rec_->version = version;
        rec_->magic = magic;
    }
}

position_file::~position_file()
{
    if (rec_)
        ::munmap(rec_, 4096);
}

bool position_file::recall(uint64_t written, uint64_t* next) const noexcept
{
    const uint64_t s = rec_->seq.load(std::memory_order_acquire);
    if (s == 0 || (s & 1) != 0)
        return false;
    const uint64_t dev = rec_->dev, ino = rec_->ino, w = rec_->w, x = rec_->x,
                   n = rec_->n;
    std::atomic_thread_fence(std::memory_order_acquire);
    if (rec_->seq.load(std::memory_order_relaxed) != s)
        return false;
    if (ino_ == 0 || dev != dev_ || ino != ino_ || written < w || written - w > n)
        return false;
    *next = x + (written - w);
    return true;
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
    // Release: the fields before the even seq (and before the ring's samples,
    // whose write index store follows).
    rec_->seq.store(s + 2, std::memory_order_release);
}

void position_file::remove() noexcept
{
    ::unlink(path_.c_str());
}

} // namespace bridge
} // namespace doppler
