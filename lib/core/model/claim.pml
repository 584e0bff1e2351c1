/* A tethered reader joining a running producer (docs/protocol.md, "Claim").
 * Ring of CAP slots; the producer writes NW samples; reader 0 (the default
 * reader, tethered) consumes them; reader 1 joins as a tethered reader while
 * the producer streams (join_tethered), may die at any step of its claim,
 * and, once joined, checks that every sample it is handed is intact.
 * The claim is a new reader (at the write index, or asking for history: up
 * to CAP samples before it) or a resumed one (an untethered reader that
 * stopped at 0 and is claimed again tethered).
 * Invariants 1, 5, 8.
 * @broken BROKEN: the position is chosen before the producer can see the
 *   reader and never raised (a stale write index, a resume point left behind).
 * @broken BROKEN_NOWAIT: the claim does not wait for reloads in progress. */
#define CAP 2
#define NW 6

byte data[CAP];           /* the sample index last written into each slot */
byte write_idx = 0;       /* control::write_idx */
byte horizon = 0;         /* control::horizon */
byte pos[2];              /* readers[i].read_idx */
byte tmask = 1;           /* tethered_mask: slot 0 always */
byte jmask = 0;           /* joining_mask */
byte floor = 0;           /* control::floor */
byte refreshing = 0;      /* control::refreshing */
bool dead1 = false;       /* the claimer died */

active proctype producer()
{
    byte w = 0, rcache = 0, m, r, t, j, f;
    do
    :: w == NW -> break
    :: w < NW && w - rcache < CAP ->
        horizon = w + 1;              /* dp_hot_write: announce */
        data[w % CAP] = w;            /* dp_hot_write: copy */
        w++;
        write_idx = w                 /* dp_hot_publish */
    :: w < NW && w - rcache >= CAP ->
        refreshing++;                 /* producer_floor: announce the reload */
        t = tmask;                    /* min_tethered: tethered mask */
        j = jmask;                    /* min_tethered: joining mask */
        f = floor;
        m = w;
        r = pos[0];                   /* min_tethered: slot 0 */
        assert(w - r <= CAP);         /* invariant 5: never corrupt */
        if :: r < m -> m = r :: else fi;
        if
        :: t & 2 ->
            r = pos[1];               /* min_tethered: slot 1 */
            if
            :: (j & 2) && (w - r > CAP || r < f) && w - f <= CAP -> r = f
            :: else
            fi;
            assert(w - r <= CAP);     /* invariant 5 */
            if :: r < m -> m = r :: else fi
        :: else
        fi;
        d_step { if :: m > floor -> floor = m :: else fi }  /* producer_floor: raise */
        refreshing--;
        rcache = m
    :: w < NW && dead1 && (tmask & 2) ->
        d_step { tmask = tmask & 1; jmask = jmask & 1 }  /* reap_readers */
    od
}

active proctype reader0()
{
    byte r = 0;
    do
    :: r < NW && write_idx > r ->
        assert(data[r % CAP] == r);   /* invariant 1: dp_hot_view */
        r++;
        pos[0] = r                    /* dp_hot_consume */
    :: r == NW -> break
    od
}

active proctype claimer()
{
    byte tentative, f, wnow, start, r;
    bool resumed;
    byte history = 0;
    if
    :: tentative = write_idx; resumed = false  /* join_tethered: a new reader */
    :: tentative = write_idx; resumed = false; history = CAP  /* ... asking for history */
    :: tentative = 0; resumed = true           /* join_tethered: resume point */
    fi;
    if :: goto died :: skip fi;
    pos[1] = tentative;
    if :: goto died :: skip fi;
    jmask = jmask | 2;                /* join_tethered: joining bit */
    if :: goto died :: skip fi;
    tmask = tmask | 2;                /* join_tethered: tethered bit */
    if :: goto died :: skip fi;
#ifndef BROKEN_NOWAIT
    (refreshing == 0);                /* join_tethered: no reload in progress */
#endif
    f = floor;                        /* join_tethered: load the floor */
    wnow = write_idx;
    if
    :: resumed -> start = (tentative > f -> tentative : f)
    :: else ->                                 /* history_start, then the floor */
        start = (wnow > history -> wnow - history : 0);
        start = (start > f -> start : f)
    fi;
    if :: start > wnow -> start = wnow :: else fi;
#ifdef BROKEN
    start = tentative;
#endif
    d_step { if :: pos[1] < start -> pos[1] = start :: else fi }  /* raise (CAS) */
    if :: goto died :: skip fi;
    jmask = jmask & 1;                /* join_tethered: joined */
    r = pos[1];
    do
    :: r < NW && write_idx > r ->
        assert(data[r % CAP] == r);   /* invariants 1 and 8 */
        r++;
        pos[1] = r
    :: r == NW -> break
    od;
    goto end;
died:
    dead1 = true;
end:
    skip
}
