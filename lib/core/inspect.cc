/* -*- c++ -*- */
/*
 * Inspecting named rings for the `doppler-ring` tool: list, inspect, remove.
 * SPDX-License-Identifier: GPL-3.0-or-later
 *
 * Anything may sit in /dev/shm under our prefix: a live ring, the remains of
 * a killed process, another program's object, a truncated or scribbled file.
 * The header is trusted only after segment::attach_fd has validated it (the
 * one place that validates); whatever it refuses is reported as corrupt with
 * its reason, never read further.
 */
#include <doppler/inspect.hpp>
#include <doppler/segment.hpp>

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
    // under our prefix must not block the tool. O_RDWR because attach_fd maps
    // the data shared and writable (we only read through it).
    int fd = ::open(path.c_str(), O_RDWR | O_CLOEXEC | O_NOFOLLOW | O_NONBLOCK);
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
        // Say what is there, in words (the object cannot be opened as a ring).
        info.problem = err == EACCES
            ? "not accessible to you (owner uid " + std::to_string(info.uid) + ")"
            : "corrupt: " + path +
                (seen && S_ISLNK(st.st_mode)       ? " is a symbolic link, not a ring"
                     : seen && S_ISDIR(st.st_mode) ? " is a directory, not a ring"
                     : seen && !S_ISREG(st.st_mode)
                     ? " is not a file, not a ring"
                     : " cannot be opened (errno " + std::to_string(err) + ")");
        return info;
    }
    struct stat st {
    };
    const bool stat_ok = fstat(fd, &st) == 0;
    if (stat_ok) {
        info.uid = st.st_uid;
        info.mode = st.st_mode & 07777;
        info.bytes = uint64_t(st.st_size);
    }
    if (!stat_ok || !S_ISREG(st.st_mode)) {
        ::close(fd);
        info.problem = "corrupt: " + path + " is not a regular file";
        return info;
    }
    std::shared_ptr<segment> seg;
    try {
        // Any type, any owner: the tool only reads, and reports the owner.
        seg = segment::attach_fd(fd, sample_type(0), true, path);
    } catch (const error& e) {
        ::close(fd);
        info.problem = std::string("corrupt: ") + e.what();
        return info;
    }
    ::close(fd); // the mapping stays valid without the fd

    const control* c = seg->ctl();
    info.type = seg->type();
    info.capacity = seg->capacity();
    // acquire: counters published by the live peers, read once for a snapshot.
    info.written = c->write_idx.load(std::memory_order_acquire);
    info.read_index = c->read_idx.load(std::memory_order_acquire);
    info.dropped = c->dropped.load(std::memory_order_relaxed);
    info.missed_wakes = c->missed_wakes.load(std::memory_order_relaxed);
    info.closed = c->closed.load(std::memory_order_acquire) != 0;
    info.creator = peer(c->creator);
    info.producer = peer(c->producer.load(std::memory_order_acquire));
    info.consumer = peer(c->consumer.load(std::memory_order_acquire));
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
