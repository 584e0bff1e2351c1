/* The park handshake (docs/protocol.md, invariant 10; ring.hpp explains it).
 * A reader that finds too few samples announces itself (parked_mask), then
 * re-checks write_idx, then sleeps on its futex word until woken; the
 * producer stores write_idx, then looks at parked_mask and wakes. Mirrored
 * for room: the producer announces producer_parked, re-checks the reader's
 * position; the reader's consume stores its position, then looks at
 * producer_parked. Promela's memory is sequentially consistent: that is what
 * both handshakes give these steps (seq_cst operations, or the parking
 * side's membarrier).
 * Invariant 10: no side sleeps forever while what it waits for is there
 * (SPIN reports such a state as an invalid end state).
 * @broken BROKEN: the reader re-checks before it announces itself. */
#define CAP 1
#define NW 3

byte write_idx = 0, read_idx = 0;
bool reader_parked = false, producer_parked = false;

active proctype producer()
{
    byte w = 0;
    do
    :: w == NW -> break
    :: w < NW && w - read_idx < CAP ->
        w++;
        write_idx = w;                      /* dp_hot_publish: store */
        if
        :: reader_parked -> reader_parked = false   /* load the mask; wake */
        :: else
        fi
    :: w < NW && w - read_idx >= CAP ->
        producer_parked = true;             /* producer_park: announce */
        if
        :: w - read_idx < CAP -> producer_parked = false   /* re-check */
        :: else -> (!producer_parked)       /* futex_wait */
        fi
    od
}

active proctype reader()
{
    byte r = 0;
    do
    :: r == NW -> break
    :: r < NW && write_idx > r ->
        r++;
        read_idx = r;                       /* dp_hot_consume: store */
        if
        :: producer_parked -> producer_parked = false  /* load; wake */
        :: else
        fi
    :: r < NW && write_idx <= r ->
#ifndef BROKEN
        reader_parked = true;               /* reader_park: announce */
        if
        :: write_idx > r -> reader_parked = false     /* re-check */
        :: else -> (!reader_parked)         /* futex_wait */
        fi
#else
        if
        :: write_idx > r -> skip            /* re-check first ... */
        :: else ->
            reader_parked = true;           /* ... then announce: too late */
            (!reader_parked)
        fi
#endif
    od
}
