/* -*- c++ -*- */
/*
 * The reader table: claiming a reader by name, freeing it, the producer's
 * view of the tethered readers (their minimum position, their deaths).
 * Claims and frees happen under control::slot_lock (a process id: a lock
 * left by a dead process is taken over), so two handles claiming one name
 * at once cannot both get it. None of this is on the hot path.
 * SPDX-License-Identifier: GPL-3.0-or-later
 */
#include <doppler/ring.hpp>

#include <sched.h>

#include <algorithm>
#include <optional>

namespace doppler {
namespace detail {

namespace {

std::atomic<claim_hook_fn> claim_hook { nullptr }; // see set_claim_hook

void run_claim_hook(int step) noexcept
{
    if (const claim_hook_fn hook = claim_hook.load(std::memory_order_relaxed))
        hook(step);
}

/// Holds control::slot_lock for a scope. Waits while another live process
/// holds it (claims take microseconds; a second is far beyond any), takes it
/// over from a dead one.
class slot_lock
{
public:
    explicit slot_lock(control* c) : c_(c)
    {
        const peer_id me = self_id();
        const int64_t deadline = now_ns() + 2'000'000'000;
        for (;;) {
            peer_id cur = 0;
            if (c_->slot_lock.compare_exchange_strong(
                    cur, me, std::memory_order_acquire, std::memory_order_relaxed))
                return;
            if (cur != me && !peer_alive(cur) &&
                c_->slot_lock.compare_exchange_strong(
                    cur, me, std::memory_order_acquire, std::memory_order_relaxed))
                return;
            if (now_ns() > deadline)
                throw error(EBUSY,
                            "the reader table of this ring stayed locked by pid " +
                                std::to_string(peer_pid(cur)) +
                                " for 2 s; retry, or stop that process");
            sched_yield();
        }
    }
    ~slot_lock() { c_->slot_lock.store(0, std::memory_order_release); }
    slot_lock(const slot_lock&) = delete;
    slot_lock& operator=(const slot_lock&) = delete;

private:
    control* c_;
};

void set_name(reader_slot& r, const std::string& name) noexcept
{
    char buf[reader_name_max] = {};
    std::memcpy(buf, name.data(), std::min(name.size(), reader_name_max));
    for (size_t i = 0; i < reader_name_max / 8; ++i) {
        uint64_t w;
        std::memcpy(&w, buf + 8 * i, 8);
        r.name[i].store(w, std::memory_order_relaxed);
    }
}

/// Give reader slot `i` back: out of every mask, unnamed, unheld. Under
/// slot_lock.
void free_slot(control* c, uint32_t i) noexcept
{
    reader_slot& r = c->readers[i];
    c->tethered_mask.fetch_and(~(1u << i), std::memory_order_acq_rel);
    c->joining_mask.fetch_and(~(1u << i), std::memory_order_acq_rel);
    c->reader_mask.fetch_and(~(1u << i), std::memory_order_acq_rel);
    r.in_use.store(0, std::memory_order_release);
    set_name(r, std::string());
    r.holder.store(0, std::memory_order_relaxed);
    r.handle.store(0, std::memory_order_relaxed);
}

std::string get_name(const reader_slot& r)
{
    char buf[reader_name_max];
    for (size_t i = 0; i < reader_name_max / 8; ++i) {
        const uint64_t w = r.name[i].load(std::memory_order_relaxed);
        std::memcpy(buf + 8 * i, &w, 8);
    }
    size_t n = 0;
    while (n < reader_name_max && buf[n] != '\0')
        ++n;
    return std::string(buf, n);
}

std::string which(const std::string& ring)
{
    return ring.empty() ? std::string("this ring") : "ring '" + ring + "'";
}

/// Where a new reader that asks for `history` samples before the write
/// index w may start, as far as the current stream reaches (the producer's
/// floor or the oldest intact sample bound it further: join_tethered,
/// claim_reader).
uint64_t history_start(const control* c, uint64_t w, uint64_t history) noexcept
{
    uint64_t start = w - std::min(history, w);
    stream_info si;
    const uint64_t cur = c->stream.load(std::memory_order_acquire);
    if (read_seam(c, cur, si) && si.first <= w)
        start = std::max(start, si.first);
    return start;
}

/// Make reader slot i (claimed, in_use, untethered so far) a tethered
/// reader that the producer counts, racing a running producer (protocol.md,
/// "Claim"). The producer bases its room on its floor (producer_floor): a
/// reader it does not count yet may be overwritten up to floor + capacity.
/// So: (1) publish a tentative position and the joining bit, then the
/// tethered bit; (2) wait until no producer-side reload that may have missed
/// the bit is still running; (3) move the position up to the floor those
/// reloads published, and to `resume` (a resumed reader) or the current
/// write index (a new one); (4) clear the joining bit. A reload that sees the
/// bit before (3) takes the reader as at least its previous floor (a value
/// the reader is moved past), never as corrupt. A new reader asking for
/// `history` starts that far before the write index, but never before the
/// floor (samples there may be reused) nor its stream's first sample.
uint64_t join_tethered(control* c,
                       uint32_t i,
                       std::optional<uint64_t> resume,
                       uint64_t history = 0,
                       uint64_t* w_seen = nullptr) noexcept
{
    reader_slot& r = c->readers[i];
    const uint32_t bit = 1u << i;
    const uint64_t tentative =
        resume ? *resume : c->write_idx.load(std::memory_order_acquire);
    run_claim_hook(0);
    r.read_idx.store(tentative, std::memory_order_relaxed);
    c->joining_mask.fetch_or(bit, std::memory_order_seq_cst);
    // seq_cst (Dekker with producer_floor's store of `refreshing` and its
    // load of the mask): either that reload sees this bit, or this claim
    // sees the reload in progress (or its published floor).
    // Membarrier handshake: see hot.h.
    c->tethered_mask.fetch_or(bit, std::memory_order_seq_cst);
    if (c->flags & ring_flag_membarrier)
        process_barrier();
    run_claim_hook(1);
    const int64_t deadline = now_ns() + 2'000'000'000;
    while (c->refreshing.load(std::memory_order_seq_cst) != 0 ||
           c->lent_refreshing.load(std::memory_order_seq_cst) != 0) {
        // A reload takes microseconds; one that never ends was left by a
        // producer that died inside it (its successor resets the count).
        const peer_id p = c->producer.load(std::memory_order_acquire);
        if (p == 0 || !peer_alive(p) || now_ns() > deadline)
            break;
        sched_yield();
    }
    const uint64_t floor = std::max(c->floor.load(std::memory_order_seq_cst),
                                    c->lent_floor.load(std::memory_order_seq_cst));
    const uint64_t w = c->write_idx.load(std::memory_order_acquire);
    if (w_seen)
        *w_seen = w;
    uint64_t start =
        resume ? std::max(*resume, floor) : std::max(history_start(c, w, history), floor);
    if (start > w)
        start = w; // a floor ahead of the write index is not ours to trust
    if (resume && start > *resume) {
        // What the producer reused while the reader was untethered and away.
        r.skipped.fetch_add(start - *resume, std::memory_order_relaxed);
    }
    uint64_t cur = r.read_idx.load(std::memory_order_relaxed);
    while (cur < start &&
           !r.read_idx.compare_exchange_weak(
               cur, start, std::memory_order_release, std::memory_order_relaxed)) { }
    c->joining_mask.fetch_and(~bit, std::memory_order_seq_cst);
    // The producer may be parked on the room this reader's tentative
    // position held back.
    if (c->producer_parked.load(std::memory_order_seq_cst))
        wake(c->producer_parked);
    return std::max(cur, start);
}

} // namespace

uint32_t claim_reader(control* c,
                      const std::string& name,
                      bool tethered,
                      int64_t grace_ns,
                      uint64_t mine,
                      const std::string& ring,
                      bool* resumed,
                      peer_id* busy,
                      audience who,
                      uint64_t* jumped,
                      uint64_t history,
                      uint64_t* got_history)
{
    if (jumped)
        *jumped = 0;
    if (got_history)
        *got_history = 0;
    const bool block = who == audience::block;
    if (!name.empty())
        check_reader_name(name, block ? "Reader (reader=)" : "reader name");
    const peer_id me = self_id();
    slot_lock lock(c);
    // The slot that has this name (slot 0 is the default reader, "").
    int found = -1;
    const uint32_t used = c->reader_mask.load(std::memory_order_acquire) & 0xffffu;
    if (name.empty()) {
        found = 0;
    } else {
        for (uint32_t i = 1; i < max_readers; ++i)
            if ((used & (1u << i)) &&
                c->readers[i].in_use.load(std::memory_order_acquire) &&
                get_name(c->readers[i]) == name) {
                found = int(i);
                break;
            }
    }
    if (found >= 0 && c->readers[found].in_use.load(std::memory_order_acquire)) {
        reader_slot& r = c->readers[found];
        const peer_id h = r.holder.load(std::memory_order_acquire);
        const uint64_t hh = r.handle.load(std::memory_order_acquire);
        if (h == me && hh == mine) {
            *resumed = true;
            return uint32_t(found);
        }
        if (h != 0 && peer_alive(h)) {
            if (busy)
                *busy = h;
            const std::string head = which(ring) + " already has " +
                (name.empty() ? std::string("a consumer (its default reader)")
                              : "a reader named '" + name + "'") +
                ": ";
            // What to do instead: a block's user changes a parameter.
            const std::string other = !block ? "read under another reader name"
                : name.empty() ? "give this block a Reader (reader=) of its own"
                               : "give this block another Reader (reader=)";
            if (h == me) // another handle of this process
                throw error(
                    EBUSY,
                    head + "another handle in this same process (pid " +
                        std::to_string(peer_pid(h)) + ") reads under that name; " +
                        (block ? other + ", or use the block that already has it"
                               : "use that handle, release it first, or " + other));
            throw error(EBUSY,
                        head + "pid " + std::to_string(peer_pid(h)) +
                            " holds it; stop it, or " + other);
        }
        // Left by a dead holder (or by none): resume where it stopped.
        r.holder.store(me, std::memory_order_relaxed);
        r.handle.store(mine, std::memory_order_release);
        if (found != 0) {
            // Counted by the producer: tethered, and not left joining by a
            // claimer that died inside join_tethered (its position may be
            // one the producer never honoured).
            const bool was_tethered =
                (c->tethered_mask.load(std::memory_order_acquire) & (1u << found)) != 0 &&
                (c->joining_mask.load(std::memory_order_acquire) & (1u << found)) == 0;
            r.flags.store(tethered ? reader_tethered : 0, std::memory_order_relaxed);
            r.grace_ns.store(grace_ns, std::memory_order_relaxed);
            if (!tethered) {
                c->tethered_mask.fetch_and(~(1u << found), std::memory_order_acq_rel);
                c->joining_mask.fetch_and(~(1u << found), std::memory_order_acq_rel);
            } else if (!was_tethered) { // the producer has not counted it: it joins
                const uint64_t from = r.read_idx.load(std::memory_order_relaxed);
                const uint64_t to = join_tethered(c, uint32_t(found), from);
                if (jumped)
                    *jumped = to - from;
            }
        }
        *resumed = true;
        return uint32_t(found);
    }
    // A new reader: the first free slot, else the slot of an untethered
    // reader whose process died (it holds no samples back and nobody can
    // tell it was there). It starts at the current write index.
    int free_slot = -1;
    for (uint32_t i = name.empty() ? 0 : 1; i < max_readers && free_slot < 0; ++i)
        if (!(c->readers[i].in_use.load(std::memory_order_acquire) && (used & (1u << i))))
            free_slot = int(i);
    for (uint32_t i = 1; i < max_readers && free_slot < 0 && !name.empty(); ++i) {
        const reader_slot& r = c->readers[i];
        const peer_id h = r.holder.load(std::memory_order_acquire);
        if ((r.flags.load(std::memory_order_relaxed) & reader_tethered) == 0 && h != 0 &&
            !peer_alive(h))
            free_slot = int(i);
    }
    if (free_slot >= 0) {
        const uint32_t i = uint32_t(free_slot);
        reader_slot& r = c->readers[i];
        // An untethered reader may start anywhere intact: history as far as
        // the stream and the oldest intact sample reach.
        uint64_t w = c->write_idx.load(std::memory_order_acquire);
        uint64_t start = history_start(c, w, history);
        const uint64_t h = std::max(w, c->horizon.load(std::memory_order_acquire));
        if (h - start > c->capacity)
            start = h - c->capacity;
        if (start - w < (uint64_t(1) << 63) && start != w)
            start = w; // a horizon no producer could have set
        r.read_idx.store(start, std::memory_order_relaxed);
        r.wake_at.store(0, std::memory_order_relaxed);
        r.skipped.store(0, std::memory_order_relaxed);
        r.parked.store(0, std::memory_order_relaxed);
        r.flags.store(tethered ? reader_tethered : 0, std::memory_order_relaxed);
        r.grace_ns.store(grace_ns, std::memory_order_relaxed);
        set_name(r, name);
        r.holder.store(me, std::memory_order_relaxed);
        r.handle.store(mine, std::memory_order_relaxed);
        r.in_use.store(1, std::memory_order_release);
        c->tethered_mask.fetch_and(~(1u << i), std::memory_order_acq_rel);
        c->joining_mask.fetch_and(~(1u << i), std::memory_order_acq_rel);
        c->reader_mask.fetch_or(1u << i, std::memory_order_acq_rel);
        const uint64_t at =
            tethered ? join_tethered(c, i, std::nullopt, history, &w) : start;
        if (got_history) // samples written before the claim that it reads
            *got_history = w - at < (uint64_t(1) << 63) ? w - at : 0;
        *resumed = false;
        return i;
    }
    std::string names;
    for (uint32_t i = 0; i < max_readers; ++i)
        names += (i ? ", " : "") +
            (i == 0 ? std::string("default") : "'" + get_name(c->readers[i]) + "'");
    throw error(EUSERS,
                which(ring) + " already has " + std::to_string(max_readers) +
                    " readers (" + names + "), the most a ring can have; stop one, or " +
                    (block ? "give this block another Ring Name (name=)"
                           : "read from another ring"));
}

void release_reader(control* c, uint32_t i, uint64_t mine) noexcept
{
    i &= max_readers - 1;
    reader_slot& r = c->readers[i];
    if (!owns(r.holder, r.handle, mine))
        return;
    if (i == 0) {
        // The default reader keeps its position for the next handle.
        unclaim(r.holder, r.handle, mine);
        return;
    }
    try {
        slot_lock lock(c);
        if (!owns(r.holder, r.handle, mine))
            return;
        free_slot(c, i);
    } catch (const error&) {
        unclaim(r.holder, r.handle, mine); // at least give the name back
    }
    // A producer waiting for this reader looks again.
    wake(c->producer_parked);
}

std::string reader_name(const control* c, uint32_t i)
{
    return get_name(c->readers[i & (max_readers - 1)]);
}

std::string describe_producer(const control* c)
{
    // No liveness check (it reads /proc): a wait notices a dead producer
    // itself and reports a broken stream, not a timeout.
    const peer_id p = c->producer.load(std::memory_order_acquire);
    if (p != 0)
        return "the producer is pid " + std::to_string(peer_pid(p));
    const uint64_t streams = c->stream.load(std::memory_order_acquire);
    if (streams == 0)
        return "no producer has written to this ring yet";
    return "no producer is attached (the last one wrote stream " +
        std::to_string(streams) + "; the next one starts stream " +
        std::to_string(streams + 1) + ")";
}

std::string waiting_on(const control* c, uint64_t r, uint64_t n)
{
    const uint64_t w = c->write_idx.load(std::memory_order_acquire);
    const uint64_t have = w > r ? std::min(w - r, n) : 0;
    return std::to_string(have) + " of them " + (have == 1 ? "is" : "are") + " there; " +
        describe_producer(c);
}

std::string holding_back(const control* c, uint64_t w, uint64_t capacity)
{
    int slowest = -1;
    uint64_t behind = 0;
    uint32_t m = c->tethered_mask.load(std::memory_order_acquire) & 0xffffu;
    for (; m; m &= m - 1) {
        const int i = __builtin_ctz(m);
        // An impossible position counts as the whole ring, as in min_tethered.
        const uint64_t d = std::min(
            w - c->readers[i].read_idx.load(std::memory_order_acquire), capacity);
        if (slowest < 0 || d > behind) {
            slowest = i;
            behind = d;
        }
    }
    if (slowest < 0)
        return "no reader (none is tethered)";
    const reader_slot& r = c->readers[slowest];
    std::string s =
        slowest == 0 ? std::string("the default reader") : "reader '" + get_name(r) + "'";
    s += " (" + std::to_string(behind) + " of " + std::to_string(capacity) +
        " samples unread; ";
    const peer_id h = r.holder.load(std::memory_order_acquire);
    const int64_t grace = r.grace_ns.load(std::memory_order_relaxed);
    if (h != 0 && peer_alive(h))
        return s + "pid " + std::to_string(peer_pid(h)) + ")";
    if (h != 0)
        s += "pid " + std::to_string(peer_pid(h)) + " died reading it; ";
    else
        s += "no process reads it; ";
    if (slowest == 0)
        return s + "a ring's default reader is always waited for: one consumer must " +
            "read without a reader name)";
    if (grace < 0)
        return s + "it is waited for until a process claims that name)";
    return s + "its slot is freed " + std::to_string(grace / 1'000'000) +
        " ms after its reader died)";
}

uint64_t min_tethered(const control* c,
                      uint64_t w,
                      uint64_t capacity,
                      bool* corrupt,
                      uint64_t* bad) noexcept
{
    uint32_t m = c->tethered_mask.load(std::memory_order_seq_cst) & 0xffffu;
    // Loaded after the tethered mask: a joining bit is set before its
    // tethered bit, so a reader seen tethered and not joining is final.
    const uint32_t joining = c->joining_mask.load(std::memory_order_seq_cst);
    const uint64_t floor = std::max(c->floor.load(std::memory_order_relaxed),
                                    c->lent_floor.load(std::memory_order_relaxed));
    uint64_t behind = 0; // the largest distance w - read_idx, modular
    bool impossible = false;
    for (; m; m &= m - 1) {
        const uint32_t i = uint32_t(__builtin_ctz(m));
        uint64_t r = c->readers[i].read_idx.load(std::memory_order_acquire);
        // A joining reader is moved to at least the floor before it reads:
        // until then it counts as there (join_tethered).
        if ((joining & (1u << i)) && (w - r > capacity || r < floor) &&
            w - floor <= capacity)
            r = floor;
        // An impossible position (ahead of the producer, or more than a ring
        // behind) counts as holding the whole ring: never as room.
        if (w - r > capacity) {
            if (!impossible && bad)
                *bad = r;
            impossible = true;
            behind = capacity;
            continue;
        }
        behind = std::max(behind, w - r);
    }
    if (corrupt)
        *corrupt = impossible;
    return w - behind;
}

uint64_t producer_floor(control* c,
                        uint64_t w,
                        uint64_t capacity,
                        bool barrier,
                        bool* corrupt,
                        uint64_t* bad) noexcept
{
    // Announce the reload, then load the mask: a Dekker handshake with
    // join_tethered, seq_cst or the membarrier handshake (see hot.h). The
    // producer's thread is the only writer of these words: no RMW.
    if (barrier) {
        c->refreshing.store(1, std::memory_order_relaxed);
        std::atomic_signal_fence(std::memory_order_seq_cst);
    } else {
        c->refreshing.store(1, std::memory_order_seq_cst);
    }
    bool impossible = false;
    const uint64_t m = min_tethered(c, w, capacity, &impossible, bad);
    if (!impossible && m > c->floor.load(std::memory_order_relaxed))
        c->floor.store(m, std::memory_order_release);
    // Release: the floor before the end of the reload (a claimer that sees
    // the end reads the floor after it).
    c->refreshing.store(0, std::memory_order_release);
    if (corrupt)
        *corrupt = impossible;
    return m;
}

uint64_t lent_floor(control* c, uint64_t w, uint64_t capacity, bool* corrupt) noexcept
{
    // Any number of them, beside the producer's thread: a count and a
    // floor raised only, both with read-modify-writes (seq_cst: announce,
    // then load the mask).
    c->lent_refreshing.fetch_add(1, std::memory_order_seq_cst);
    bool impossible = false;
    const uint64_t m = min_tethered(c, w, capacity, &impossible, nullptr);
    if (!impossible) {
        uint64_t cur = c->lent_floor.load(std::memory_order_relaxed);
        while (cur < m &&
               !c->lent_floor.compare_exchange_weak(
                   cur, m, std::memory_order_seq_cst, std::memory_order_relaxed)) { }
    }
    c->lent_refreshing.fetch_sub(1, std::memory_order_seq_cst);
    if (corrupt)
        *corrupt = impossible;
    return m;
}

bool reap_readers(control* c, int64_t* dead_since) noexcept
{
    bool freed = false;
    const int64_t now = now_ns();
    uint32_t m = c->tethered_mask.load(std::memory_order_acquire) & 0xffffu;
    for (; m; m &= m - 1) {
        const uint32_t i = uint32_t(__builtin_ctz(m));
        reader_slot& r = c->readers[i];
        const int64_t grace = r.grace_ns.load(std::memory_order_relaxed);
        const peer_id h = r.holder.load(std::memory_order_acquire);
        if (i == 0 || grace < 0 || h == 0 || peer_alive(h)) {
            dead_since[i] = 0;
            continue;
        }
        if (dead_since[i] == 0) {
            dead_since[i] = now;
            continue;
        }
        if (now - dead_since[i] < grace)
            continue;
        try {
            slot_lock lock(c);
            if (r.holder.load(std::memory_order_acquire) == h) {
                free_slot(c, i);
                freed = true;
            }
        } catch (const error&) {
        }
        dead_since[i] = 0;
    }
    return freed;
}

void set_claim_hook(claim_hook_fn hook) noexcept
{
    claim_hook.store(hook, std::memory_order_relaxed);
}

} // namespace detail

void check_reader_name(const std::string& name, const std::string& param)
{
    if (name.size() > reader_name_max)
        throw error(EINVAL,
                    param + " '" + name + "' is " + std::to_string(name.size()) +
                        " characters; at most 32");
    try {
        segment::check_name(name);
    } catch (const error& e) {
        throw error(EINVAL,
                    param + " '" + name +
                        "' must follow the ring-name rules: letters, digits, '.', '_' "
                        "and '-', not starting with a dot");
    }
}

} // namespace doppler
