/* Tag records copied by an untethered reader while the producer reclaims
 * and overwrites them (docs/protocol.md, "Read tags"). A tag area of SLOTS
 * records; each record is two words (its sample index and a value that must
 * equal it), written one word at a time. The producer appends NT records,
 * reclaiming the oldest when the area is full (nothing holds it back: the
 * reader is untethered). The reader copies records and keeps a copy only if
 * the tail did not pass the record while it was copied.
 * Invariant 6: a record that is decoded (kept) was intact for the whole copy.
 * @broken BROKEN: the reader keeps its copy without the second look at the
 *   tail (decodes in place). */
#define SLOTS 2
#define NT 5

byte word_index[SLOTS], word_value[SLOTS];
byte head = 0, tail = 0;   /* control::tag_head, tag_tail (records, not bytes) */

active proctype producer()
{
    byte n = 0;
    do
    :: n < NT ->
        if
        :: head - tail == SLOTS -> tail++   /* append_tag: reclaim; tag_tail, fence */
        :: else
        fi;
        word_index[head % SLOTS] = n;       /* append_tag: store_record, word 1 */
        word_value[head % SLOTS] = n;       /* append_tag: store_record, word 2 */
        head++;                             /* put_tags: publish tag_head */
        n++
    :: n == NT -> break
    od
}

active proctype reader()
{
    byte pos = 0, h, t, i, v;
    do
    :: pos < NT ->
        h = head;                           /* copy_tag_records: head */
        t = tail;                           /* copy_tag_records: tail */
        if :: pos < t -> pos = t :: else fi;
        if
        :: pos < h ->
            i = word_index[pos % SLOTS];    /* load_words */
            v = word_value[pos % SLOTS];
#ifndef BROKEN
            if
            :: tail <= pos ->               /* fence, tail again: intact */
                assert(i == v);             /* invariant 6 */
                pos++
            :: else -> skip                 /* reclaimed under the copy: again */
            fi
#else
            assert(i == v);
            pos++
#endif
        :: else -> (head > h || head == NT)
        fi
    :: pos >= NT -> break
    od
}
