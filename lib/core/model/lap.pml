/* An untethered reader lapped by the producer (docs/protocol.md, "Untethered
 * reader"). Ring of CAP slots; the producer writes NW samples, held back only
 * by the default reader (tethered), which keeps up; the untethered reader
 * reads one sample at a time and may stall, so it is lapped.
 * Invariants 4 and 9: a view is handed only after the lap check (never of
 * samples the producer has announced it overwrites); every sample before the
 * reader's position was read intact or counted skipped (consume reports a
 * window whose sample changed while held).
 * @broken BROKEN: the view is handed from the cached limit without the lap
 *   check (the reader notices the lap only when its limit runs out).
 * @broken BROKEN_CONSUME: consume does not look at the horizon. */
#define CAP 2
#define NW 7

byte data[CAP];
byte write_idx = 0, horizon = 0;
byte pos0 = 0;                    /* the default reader's read_idx */

active proctype producer()
{
    byte w = 0;
    do
    :: w < NW && w - pos0 < CAP ->
        horizon = w + 1;          /* dp_hot_write / write_ptr: announce */
        data[w % CAP] = w;        /* dp_hot_write: copy */
        w++;
        write_idx = w             /* dp_hot_publish */
    :: w == NW -> break
    od
}

active proctype reader0()
{
    do
    :: pos0 < NW && write_idx > pos0 -> pos0++   /* dp_hot_view, dp_hot_consume */
    :: pos0 == NW -> break
    od
}

active proctype untethered()
{
    byte r = 0, limit = 0, h, v, intact = 0, skipped = 0;
    bool over;
    do
    :: r < NW ->
        if
        :: limit <= r ->                       /* refresh: reload write_idx */
            (write_idx > r);
            limit = write_idx
        :: else
        fi;
#ifndef BROKEN
        h = horizon;                           /* dp_hot_view: lap check */
        if
        :: h - r > CAP ->                      /* skip_lapped */
            skipped = skipped + (h - CAP - r);
            r = h - CAP;
            if :: limit < r -> limit = r :: else fi
        :: else
        fi;
#endif
        if
        :: r < limit ->
            /* invariant 9: handed only if not announced as overwritten */
            assert(horizon - r <= CAP || horizon != h);
            v = data[r % CAP];                 /* the caller reads its view */
            if :: skip :: skip fi;             /* ... and may stall here */
            r++;                               /* consume_slow: read_idx */
#ifndef BROKEN_CONSUME
            h = horizon;                       /* overwritten(): horizon */
            over = h > CAP && h - CAP > r - 1;
#else
            over = false;
#endif
            /* invariant 4: a changed sample is reported overwritten */
            assert(v == r - 1 || over);
            if
            :: over -> skipped++
            :: else -> intact++
            fi
        :: else
        fi
    :: r >= NW -> break
    od;
    assert(intact + skipped == r)              /* invariant 4: accounted */
}
