/* -*- c++ -*- */
/*
 * Inspecting named rings for the `doppler-ring` tool: list, inspect, remove.
 * SPDX-License-Identifier: GPL-3.0-or-later
 *
 * Anything may sit in /dev/shm under our prefix: a live ring, the remains of
 * a killed process, another user's object of any file type, a truncated or
 * scribbled file, one that changes size while we look. The tool never maps
 * an object: segment::check_object (the one place that validates) reads the
 * header with pread into a private copy and validates it; whatever it
 * refuses is reported as corrupt with its reason, never read further.
 */
#include <doppler/inspect.hpp>
#include <doppler/ring.hpp>

#include <dirent.h>
#include <fcntl.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>

namespace doppler {

namespace {

const std::string prefix = shm_prefix;

ring_peer peer(peer_id id) noexcept
{
    ring_peer p;
    p.pid = detail::peer_pid(id);
    // peer_alive(0) means "nobody yet, not dead"; the tool says "none".
    p.alive = id != 0 && detail::peer_alive(id);
    return p;
}

/// Inspect /dev/shm/doppler.<name> without checking the name (list_rings
/// shows odd names too). Throws error(ENOENT) only if the object is gone.
ring_info inspect_object(const std::string& name)
{
    ring_info info;
    info.name = name;
    const std::string path = segment::shm_path(name);

    // O_NOFOLLOW: never follow a planted symlink; O_NONBLOCK: a FIFO planted
    // under our prefix must not block the tool. Read-only: the tool maps
    // nothing and writes nothing.
    int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC | O_NOFOLLOW | O_NONBLOCK);
    if (fd < 0) {
        const int err = errno;
        if (err == ENOENT)
            throw error(ENOENT, "no ring named '" + name + "' (" + path + ")");
        struct stat st {
        };
        const bool seen = lstat(path.c_str(), &st) == 0;
        if (seen) {
            info.uid = st.st_uid;
            info.mode = st.st_mode & 07777;
            info.bytes = uint64_t(st.st_size);
        }
        // Say what is there, in words (the object cannot be opened as a ring):
        // a non-file first (a device on a nodev mount also fails with EACCES).
        if (seen && !S_ISREG(st.st_mode))
            info.problem = "corrupt: " + path +
                (S_ISLNK(st.st_mode)       ? " is a symbolic link, not a ring"
                     : S_ISDIR(st.st_mode) ? " is a directory, not a ring"
                                           : " is not a file, not a ring");
        else if (err == EACCES)
            info.problem =
                "not accessible to you (owner uid " + std::to_string(info.uid) + ")";
        else
            info.problem = "corrupt: " + path + " cannot be opened (errno " +
                std::to_string(err) + ")";
        return info;
    }
    struct stat st {
    };
    if (fstat(fd, &st) == 0) {
        info.uid = st.st_uid;
        info.mode = st.st_mode & 07777;
        info.bytes = uint64_t(st.st_size);
    }
    // Any type, any owner: the tool only reads, and reports the owner. The
    // header is read with pread into a copy and nothing is mapped, so an
    // object that shrinks or grows meanwhile cannot fault the tool; the
    // counters below are a snapshot of that copy.
    control c;
    try {
        segment::check_object(fd, sample_type(0), true, path, c);
    } catch (const error& e) {
        ::close(fd);
        info.problem = std::string("corrupt: ") + e.what();
        return info;
    }
    ::close(fd);

    info.type = sample_type(c.type);
    info.capacity = c.capacity;
    info.written = c.write_idx.load(std::memory_order_acquire);
    info.read_index = c.readers[0].read_idx.load(std::memory_order_acquire);
    info.dropped = c.dropped.load(std::memory_order_relaxed);
    info.closed = c.closed.load(std::memory_order_acquire) != 0;
    info.creator = peer(c.creator);
    info.producer = peer(c.producer.load(std::memory_order_acquire));
    info.consumer = peer(c.readers[0].holder.load(std::memory_order_acquire));
    info.stream = c.stream.load(std::memory_order_acquire);
    info.tags_dropped = c.tags_dropped.load(std::memory_order_relaxed);
    info.tag_bytes = c.tag_bytes;
    const uint64_t head = c.tag_head.load(std::memory_order_acquire);
    const uint64_t tail = c.tag_tail.load(std::memory_order_acquire);
    info.tag_fill = head >= tail ? std::min<uint64_t>(head - tail, info.tag_bytes) : 0;
    info.missed_wakes = c.missed_wakes.load(std::memory_order_relaxed);
    const uint32_t used = c.reader_mask.load(std::memory_order_acquire) & 0xffffu;
    for (uint32_t i = 0; i < max_readers; ++i) {
        const reader_slot& r = c.readers[i];
        info.missed_wakes += r.missed_wakes.load(std::memory_order_relaxed);
        if (!(used & (1u << i)) || !r.in_use.load(std::memory_order_acquire))
            continue;
        ring_reader rr;
        rr.slot = i;
        rr.name = detail::reader_name(&c, i);
        rr.holder = peer(r.holder.load(std::memory_order_acquire));
        rr.tethered = (r.flags.load(std::memory_order_relaxed) & reader_tethered) != 0;
        rr.grace_ns = r.grace_ns.load(std::memory_order_relaxed);
        rr.position = r.read_idx.load(std::memory_order_acquire);
        rr.lag = info.written >= rr.position ? info.written - rr.position : 0;
        rr.skipped = r.skipped.load(std::memory_order_relaxed);
        rr.stream = r.stream.load(std::memory_order_relaxed);
        info.readers.push_back(std::move(rr));
    }
    if (!info.closed &&
        info.written - detail::min_tethered(&c, info.written, info.capacity) >=
            info.capacity)
        info.held_back = detail::holding_back(&c, info.written, info.capacity);
    return info;
}

} // namespace

ring_info inspect(const std::string& name)
{
    segment::check_name(name);
    return inspect_object(name);
}

std::vector<ring_info> list_rings()
{
    std::vector<ring_info> out;
    DIR* dir = opendir(shm_dir);
    if (!dir)
        throw error(errno, std::string("cannot list ") + shm_dir);
    while (const dirent* e = readdir(dir)) {
        const std::string file = e->d_name;
        if (file.compare(0, prefix.size(), prefix) != 0 || file.size() == prefix.size())
            continue;
        const std::string name = file.substr(prefix.size());
        try {
            out.push_back(inspect_object(name));
            try {
                segment::check_name(name);
            } catch (const error& bad) {
                out.back().problem = std::string("corrupt: ") + bad.what();
            }
        } catch (const error&) {
            // Removed between readdir and open: it is simply not there any more.
        }
    }
    closedir(dir);
    std::sort(out.begin(), out.end(), [](const ring_info& a, const ring_info& b) {
        return a.name < b.name;
    });
    return out;
}

bool remove_ring(const std::string& name)
{
    segment::check_name(name);
    if (shm_unlink(segment::shm_name(name).c_str()) == 0)
        return true;
    const int err = errno;
    if (err == ENOENT)
        return false;
    throw error(err,
                "cannot remove ring '" + name + "' (" + segment::shm_path(name) + ")");
}

} // namespace doppler
