/* The park handshake (docs/protocol.md, invariant 10; hot.h explains it).
 * A reader that finds too few samples announces itself (parked_mask), then
 * re-checks write_idx, then sleeps on its futex word until woken; the
 * producer stores write_idx, then looks at parked_mask and wakes a reader
 * whose wake_at it reached. Mirrored for room: the producer announces
 * producer_parked, re-checks the readers' positions; a reader's consume
 * stores its position, then looks at producer_parked and wakes the producer
 * once its position reaches producer_wake_at. Promela's memory is
 * sequentially consistent: that is what both handshakes give these steps
 * (seq_cst operations, or the parking side's membarrier).
 *
 * The producer parked for room asks for more than it needs (`want`, a low
 * water mark: it is woken once WANT slots are free, not at every consume),
 * unless a reader is parked: a reader waiting for more samples than the
 * ring holds now can only get them from the room it has already freed. So a
 * reader about to sleep wakes a parked producer, and the producer's re-check
 * takes the room it needs while a reader is parked. The reader here waits
 * for any view of 1..CAP samples and consumes any part of it, as a sliding
 * window does.
 * Invariant 10: no side sleeps forever while what it waits for is there
 * (SPIN reports such a state as an invalid end state).
 * @broken BROKEN: the reader re-checks before it announces itself.
 * @broken NO_PARK_WAKE: a reader about to sleep leaves a producer parked for
 * its low water mark asleep (both sleep: the producer for WANT slots, the
 * reader for samples only that room could bring). */
#define CAP 3
#define NW 5
#define WANT 2

byte write_idx = 0, read_idx = 0;
bool reader_parked = false, producer_parked = false;
byte wake_at = 0;            /* the parked reader's: write_idx it waits for */
byte producer_wake_at = 0;   /* read_idx the parked producer waits for */

active proctype producer()
{
    byte w = 0, r_seen;
    bool someone_parked;
    do
    :: w == NW -> break
    :: w < NW && w - read_idx < CAP ->
        w++;
        write_idx = w;                      /* dp_hot_publish: store */
        if                                  /* load the mask; wake_readers */
        :: reader_parked && w >= wake_at -> reader_parked = false
        :: else
        fi
    :: w < NW && w - read_idx >= CAP ->
        producer_wake_at = w + WANT - CAP;  /* producer_park: want */
        producer_parked = true;             /* announce */
        r_seen = read_idx;                  /* re-check: have() loads */
        someone_parked = reader_parked;     /* ... and the parked mask */
        if
        :: w - r_seen <= CAP - WANT || (someone_parked && w - r_seen < CAP) ->
            producer_parked = false
        :: else -> (!producer_parked)       /* futex_wait */
        fi
    od
}

active proctype reader()
{
    byte r = 0, n, c;
    do
    :: r == NW -> break
    :: r < NW ->
        /* a view of n samples (1..CAP, not past the stream's end) */
        if
        :: n = 1
        :: CAP >= 2 -> n = 2
        :: CAP >= 3 -> n = 3
        fi;
        if
        :: r + n > NW -> n = NW - r
        :: else
        fi;
        do
        :: write_idx >= r + n -> break
        :: write_idx < r + n ->
#ifndef BROKEN
            wake_at = r + n;
            reader_parked = true;           /* reader_park: announce */
            if
            :: write_idx >= r + n -> reader_parked = false    /* re-check */
            :: else ->
#ifndef NO_PARK_WAKE
                if                          /* wake a producer parked for room */
                :: producer_parked -> producer_parked = false
                :: else
                fi;
#endif
                (!reader_parked)            /* futex_wait */
            fi
#else
            if
            :: write_idx >= r + n -> skip   /* re-check first ... */
            :: else ->
                wake_at = r + n;
                reader_parked = true;       /* ... then announce: too late */
                (!reader_parked)
            fi
#endif
        od;
        /* consume c of the n (1..n) */
        if
        :: c = 1
        :: n >= 2 -> c = 2
        :: n >= 3 -> c = 3
        fi;
        r = r + c;
        read_idx = r;                       /* dp_hot_consume: store */
        if                                  /* load producer_parked; wake */
        :: producer_parked && r >= producer_wake_at -> producer_parked = false
        :: else
        fi
    od
}
