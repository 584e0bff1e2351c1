/* Streams and seams (docs/protocol.md, "Every reader, at a seam"). NS
 * producer runs, one after the other, each writing 0-2 samples and then
 * closing its stream or dying (the next run records a dead run's end as
 * broken; a dying last run is noticed by the reader's liveness check). The
 * seam table has SEAMS records, fewer than the streams, so it wraps. One
 * tethered reader asks for 1 or 2 samples at a time, possibly after
 * falling behind by every stream.
 * Invariants 2 and 3: a view lies inside one stream (the reader's), and each
 * seam is reported at most once; every stream end the reader reaches with
 * its record still there is reported exactly once.
 * @broken BROKEN: consuming re-arms the end-of-stream report (the end is
 *   reported again after the reader drains the rest).
 * @broken BROKEN_WRAP: a reader whose seam record was reused locates its
 *   position among the records left (glueing the streams in between). */
#define NS 3
#define SEAMS 2
#define OPEN 255
#define MAXS 6

byte write_idx = 0;
byte cur = 0;                  /* control::stream */
bool closed = false;           /* control::closed */
bool dead = false;             /* the current run's producer died */
bool finished = false;         /* every run is over */
byte seam_num[SEAMS], seam_first[SEAMS], seam_end[SEAMS];
byte sid[MAXS];                /* ghost: the stream of each sample */
byte reports[NS + 1];          /* ghost: ends reported, by stream */
bool lost[NS + 1];             /* ghost: streams whose record the reader lost */

active proctype producer()
{
    byte s = 0, k, rec;
    do
    :: s == NS -> break
    :: s < NS ->
        s++;
        rec = s % SEAMS;
        /* start_stream: end a dead run's stream as broken */
        if
        :: s > 1 && seam_num[(s - 1) % SEAMS] == s - 1 && seam_end[(s - 1) % SEAMS] == OPEN ->
            seam_end[(s - 1) % SEAMS] = write_idx
        :: else
        fi;
        seam_num[rec] = 0;               /* start_stream: record being rewritten */
        seam_first[rec] = write_idx;
        seam_end[rec] = OPEN;
        seam_num[rec] = s;
        closed = false;
        dead = false;
        cur = s;                         /* start_stream: publish the stream */
        k = 0;
        do
        :: k < 2 -> sid[write_idx] = s; write_idx++; k++   /* dp_hot_write, publish */
        :: break
        od;
        if
        :: seam_end[rec] = write_idx; closed = true     /* end_stream; close() */
        :: dead = true                                   /* the run dies */
        fi
    od;
    finished = true
}

active proctype reader()
{
    byte r = 0, s = 1, end = OPEN, n, w, rec, num, first, e, o, ofirst, i, round;
    bool reported = false, got;
loop:
    if :: n = 1 :: n = 2 fi;
    /* refresh(n): the one place that decides the reader's stream and end */
    w = write_idx;
    round = 0;
    do
    :: round > NS + 2 -> break
    :: else ->
        round++;
        if
        :: end == OPEN && (cur != s || closed) && s <= cur ->   /* learn_stream */
            rec = s % SEAMS;
            num = seam_num[rec];                         /* read_seam */
            first = seam_first[rec];
            e = seam_end[rec];
            got = num == s && seam_num[rec] == s;
            if
            :: got -> end = e                            /* set_stream */
            :: else ->
#ifndef BROKEN_WRAP
                /* lost: the oldest stream still recorded */
                o = 0;
                i = 0;
                do
                :: i < SEAMS ->
                    num = seam_num[i];
                    if
                    :: num > s && num <= cur && (o == 0 || num < o) -> o = num; ofirst = seam_first[i]
                    :: else
                    fi;
                    i++
                :: else -> break
                od;
                if
                :: o == s + 1 && ofirst >= r -> end = ofirst   /* ends where s+1 starts */
                :: o > s + 1 && ofirst > r ->                 /* skip_to, one report */
                    i = s;
                    do :: i < o -> lost[i] = true; i++ :: else -> break od;
                    r = ofirst; s = o - 1; end = r; reported = false
                :: else                                       /* not known yet */
                fi
#else
                /* glue: take the newest record that starts at or before r */
                o = 0;
                i = 0;
                do
                :: i < SEAMS ->
                    num = seam_num[i];
                    if
                    :: num != 0 && seam_first[i] <= r && num > o -> o = num; end = seam_end[i]
                    :: else
                    fi;
                    i++
                :: else -> break
                od;
                if :: o != 0 -> s = o :: else -> end = OPEN fi
#endif
            fi
        :: else
        fi;
        if
        :: reported && end != OPEN && end - r < n ->     /* next_stream */
            r = end; s++; end = OPEN; reported = false
        :: else -> break
        fi
    od;
    if
    :: end == OPEN && cur > s -> skip           /* its end not known: nothing readable */
    :: (end != OPEN || cur <= s) && (end == OPEN -> w : (w < end -> w : end)) - r >= n ->   /* a view */
        assert(sid[r] == s && sid[r + n - 1] == s);    /* invariant 2 */
        r = r + n;                                      /* consume */
#ifdef BROKEN
        reported = false;
#endif
    :: else ->
        if
        :: end != OPEN && w >= end ->                  /* wait_slow: the end */
            if
            :: !reported ->
                reported = true;
                reports[s]++;
                assert(reports[s] <= 1)                 /* invariant 3 */
            :: else
            fi
        :: end == OPEN && dead && cur == s && !closed && write_idx == w ->
            end = w                                     /* reader_park: broken */
        :: else ->
            if
            :: finished && write_idx == w && cur < s -> goto done   /* nothing more */
            :: finished && write_idx == w && cur == s && end == OPEN && !dead -> goto done
            :: write_idx != w || cur != s || closed || dead || finished -> skip
            fi
        fi
    fi;
    if
    :: finished && r == write_idx && s > cur -> goto done
    :: else -> goto loop
    fi;
done:
    /* invariant 3: every stream the reader passed was reported, or lost */
    i = 1;
    do
    :: i <= NS -> assert(i >= s || reports[i] == 1 || lost[i]); i++
    :: else -> break
    od
}
