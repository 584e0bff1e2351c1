/*
 * gr-doppler: the hot path (write, wait, consume) as inline C over a handle's
 * own state and the ring's shared control block. ring<T> (C++) and the C ABI's
 * inline functions (buffer.h) run this one implementation: a call into the
 * library happens only on a slow path (room or data short, a stream starting
 * or ending, tags, errors) or to wake a side that is parked.
 * SPDX-License-Identifier: GPL-3.0-or-later
 *
 * Not API: dp_hot_t is the first part of every handle this library makes and
 * its layout belongs to the library's version (SONAME), like the handle's.
 * Applications never read or write its fields; they call the functions of
 * buffer.h or ring<T>.
 *
 * The park handshake (the one place that argues it; elsewhere a line points
 * here). Parking is a Dekker handshake: a reader announces itself (its bit
 * in parked_mask), then loads write_idx; the producer stores write_idx, then
 * loads parked_mask. Mirrored for room: the producer announces
 * producer_parked, then loads the tethered readers' read_idx; a tethered
 * reader's consume stores its read_idx, then loads producer_parked. Each
 * side must see the other's store or the sleeper sleeps through the data,
 * and store->load is the one order release/acquire does not give: each side
 * needs a store-load fence. A ring is made with one of two ways to get it
 * (doppler::handshake, bit ring_flag_membarrier of control::flags):
 *
 * seq_cst (seq_cst_ here): both sides store and load sequentially
 * consistently, a full fence (xchg on x86) on every publish and consume,
 * which drains the store buffer behind the memcpy. Portable, and what
 * ThreadSanitizer builds use: the orders sit on the atomics, which TSan
 * models (it cannot see membarrier).
 *
 * membarrier (the default where the kernel has it): the publishing side
 * (commit, consume) stores release, keeps its load after the store with a
 * compiler barrier, and loads relaxed: no fence. The parking side, about to
 * sleep anyway, announces itself, then calls
 * membarrier(MEMBARRIER_CMD_GLOBAL_EXPEDITED), then re-checks. That call
 * runs a full barrier on every CPU running a thread of a registered process
 * (every process registers, MEMBARRIER_CMD_REGISTER_GLOBAL_EXPEDITED, when
 * it makes a handle on such a ring, before that handle's first publish); a
 * thread not running is past a context switch, itself a full barrier. No
 * wake is lost: the barrier lands in the publisher's instruction stream at
 * some point P while the call runs. If P is before the publisher's store,
 * our announcement was visible before P (the call starts with a full
 * barrier on our side) and the publisher's load, after P, sees it: it wakes
 * us. If P is after the publisher's load, its store was visible before the
 * call returned (the call ends with a full barrier), so our re-check sees
 * the new index: we do not sleep. Between them, both hold. The compiler
 * barrier keeps "between" meaningful: the load must not be compiled above
 * the store. PRIVATE_EXPEDITED would reach only this process;
 * MEMBARRIER_CMD_GLOBAL needs no registration but waits for an RCU grace
 * period (milliseconds): the fallback when the expedited command is
 * refused, and a park whose barrier fails altogether sleeps in 1 ms slices
 * instead of trusting the wake. Cost: one syscall (IPIs to the CPUs running
 * a registered process) per park, next to the futex syscall it makes
 * anyway. Data still travels by the release store and acquire load of the
 * indices. A tethered reader joining a running producer (join_tethered
 * against producer_floor's `refreshing`) uses the same handshake.
 * On one virtualised kernel (a 2-vCPU VM, 6.18) that argument did not hold
 * every time: a reader slept through samples published just before its
 * barrier, with the producer then parked for room (about 4 stress runs in
 * 100 under ASan; never with seq_cst). So a producer about to park, behind
 * the full fence of its own announcement, wakes every parked reader the
 * samples it published satisfy (producer_park): that Dekker pair needs no
 * remote barrier. A producer that goes idle without parking has no such
 * moment; a reader missed then sleeps out its slice (100 ms).
 *
 * Which one: a ring's creator picks membarrier when the kernel supports it
 * and the process could register, unless DOPPLER_HANDSHAKE=seq_cst (or
 * set_default_handshake) says otherwise. The flag is in the ring's header,
 * so every handle in every process follows it; a handle whose process the
 * kernel refuses to register keeps the fence on its own publishes (a fenced
 * publish pairs with a barrier-issuing park as well). A library that does
 * not know the flag refuses the ring.
 *
 * Atomics: the control block's words are std::atomic in C++; here they are
 * plain integers accessed only with the __atomic builtins (GCC and clang, C
 * and C++), which are the same operations on the same memory.
 */
#ifndef DOPPLER_HOT_H
#define DOPPLER_HOT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#ifdef __cplusplus
extern "C" {
#endif

/** A handle's hot state. Three cache lines: what both sides only read, the
 * producer's, the reader's (one thread may produce while another reads
 * through the same handle, so their lines are apart). */
typedef struct dp_hot {
    /* Set when the handle is made, read-only afterwards. */
    uint8_t* samples_; /* first view of the data */
    uint64_t cap_; /* capacity in samples, a power of two */
    uint64_t mask_; /* cap_ - 1 */
    void* control_; /* the control block (doppler::control) */
    uint64_t* write_idx_; /* control words (atomics) */
    uint64_t* horizon_;
    uint32_t* closed_;
    uint32_t* parked_mask_;
    uint32_t* producer_parked_;
    uint64_t* producer_wake_at_;
    bool seq_cst_; /* a store-load fence on every publish (see the head comment) */

    /* Producer line: written by the producing thread only. */
    uint64_t w_ __attribute__((aligned(64))); /* next write index */
    uint64_t r_cache_; /* slowest tethered reader's index, last seen */
    bool put_ok_; /* producer role held, stream started, not closed, no drop pending */

    /* Reader line: written by the reading thread only. */
    uint64_t r_ __attribute__((aligned(64))); /* next read index */
    uint64_t limit_; /* readable up to here without reloading write_idx */
    uint64_t window_; /* n of the last successful wait */
    uint64_t* read_idx_; /* this reader's slot (control word) */
    bool get_ok_; /* reader role held */
    bool tethered_; /* and the reader is tethered (consume may wake the producer) */
    bool reported_; /* the end of the reader's stream was reported (once per stream) */
} dp_hot_t;

/** Out of line (libdoppler-buffer), called only when a side is parked: wake
 * the readers in `mask` that the new write index satisfies; wake the
 * producer if the reader's new index is what it waits for. */
void dp_hot_wake_readers(const dp_hot_t* h, uint32_t mask);
void dp_hot_wake_producer(const dp_hot_t* h);

/** Publish n samples written at w_ (commit). */
static inline void dp_hot_publish(dp_hot_t* h, uint64_t n)
{
    const uint64_t w = h->w_ + n;
    uint32_t parked;
    h->w_ = w;
    if (h->seq_cst_) {
        /* Dekker: store write_idx, then load the parked mask, both seq_cst. */
        __atomic_store_n(h->write_idx_, w, __ATOMIC_SEQ_CST);
        parked = __atomic_load_n(h->parked_mask_, __ATOMIC_SEQ_CST);
    } else {
        /* Release: the samples before the index. The compiler barrier keeps
         * the load after the store (a release store lets a later load move
         * above it); the parking side's barrier does the rest (head comment). */
        __atomic_store_n(h->write_idx_, w, __ATOMIC_RELEASE);
        __atomic_signal_fence(__ATOMIC_SEQ_CST);
        parked = __atomic_load_n(h->parked_mask_, __ATOMIC_RELAXED);
    }
    if (parked)
        dp_hot_wake_readers(h, parked);
}

/** Copy n samples of `size` bytes from src and publish them, if the
 * producer's own state says they fit and nothing else needs doing (a stream
 * to start, a drop or close to record); otherwise do nothing and return
 * false: the caller's slow path decides (and reloads the readers' indices). */
static inline bool dp_hot_write(dp_hot_t* h, const void* src, uint64_t n, size_t size)
{
    const uint64_t used = h->w_ - h->r_cache_;
    if (!h->put_ok_ || n == 0 || used > h->cap_ || n > h->cap_ - used ||
        __atomic_load_n(h->closed_, __ATOMIC_RELAXED) != 0)
        return false;
    /* Untethered readers learn from `horizon` which samples this copy
     * overwrites; the release fence orders it before the data stores. */
    __atomic_store_n(h->horizon_, h->w_ + n, __ATOMIC_RELAXED);
    __atomic_thread_fence(__ATOMIC_RELEASE);
    memcpy(h->samples_ + (h->w_ & h->mask_) * size, src, n * size);
    dp_hot_publish(h, n);
    return true;
}

/** The n samples at the reader's position, if its own state says they are
 * readable; NULL otherwise (the caller's slow path reloads write_idx, waits,
 * or reports why not). */
static inline const void* dp_hot_view(dp_hot_t* h, uint64_t n, size_t size)
{
    if (!h->get_ok_ || n == 0 || h->limit_ - h->r_ < n)
        return NULL;
    /* An untethered reader the producer has lapped (or is lapping, up to its
     * horizon) goes to the slow path, which moves it to the oldest intact
     * sample: a view is never handed out of overwritten samples. */
    if (!h->tethered_ && __atomic_load_n(h->horizon_, __ATOMIC_ACQUIRE) - h->r_ > h->cap_)
        return NULL;
    h->window_ = n;
    return h->samples_ + (h->r_ & h->mask_) * size;
}

/** Release n samples of a tethered reader (n within what is known to be
 * readable); false, doing nothing, otherwise (the caller's slow path). The
 * handshake is dp_hot_publish's, from the reader's side. */
static inline bool dp_hot_consume(dp_hot_t* h, uint64_t n)
{
    uint64_t r;
    uint32_t parked;
    if (!h->get_ok_ || !h->tethered_ || n > h->limit_ - h->r_)
        return false;
    r = h->r_ + n;
    h->r_ = r;
    if (h->seq_cst_) {
        /* Dekker: store read_idx, then load producer_parked, both seq_cst. */
        __atomic_store_n(h->read_idx_, r, __ATOMIC_SEQ_CST);
        parked = __atomic_load_n(h->producer_parked_, __ATOMIC_SEQ_CST);
    } else {
        /* As in dp_hot_publish: release, compiler barrier, relaxed load. */
        __atomic_store_n(h->read_idx_, r, __ATOMIC_RELEASE);
        __atomic_signal_fence(__ATOMIC_SEQ_CST);
        parked = __atomic_load_n(h->producer_parked_, __ATOMIC_RELAXED);
    }
    if (parked)
        dp_hot_wake_producer(h);
    return true;
}

#ifdef __cplusplus
}
#endif

#endif /* DOPPLER_HOT_H */
