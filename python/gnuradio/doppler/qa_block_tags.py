#!/usr/bin/python3
# SPDX-License-Identifier: GPL-3.0-or-later
"""QA of stream tags through the blocks: flowgraph -> Buffer Sink -> ring
(read in another process), Python write(tags=) -> Buffer Source ->
flowgraph, flowgraph -> ring -> flowgraph, what a ring cannot carry, and the
ring's ("dropped", n) markers on both sides."""

import ast
import subprocess
import sys
import threading
import time

import numpy as np
import pmt
from gnuradio import blocks, doppler, gr, gr_unittest

from doppler_testing import gr_tag as tag
from doppler_testing import LONG, VARIANTS, complex_input, next_line, ring_name, shm_exists, to_i16, until


def rx_time(secs, frac):
    """GNU Radio's rx_time: a tuple of uint64 whole seconds and a double fraction."""
    return pmt.make_tuple(pmt.from_uint64(secs), pmt.from_double(frac))


# (offset, key, PMT value, what a Python reader of the ring gets)
RX_TAGS = [
    (0, "rx_time", rx_time(1_700_000_000, 0.25), (1_700_000_000, 0.25)),
    (0, "rx_rate", pmt.from_double(2e6), 2e6),
    (0, "rx_freq", pmt.from_double(100e6), 100e6),
    (1234, "rx_freq", pmt.from_double(101.5e6), 101.5e6),
    (2500, "rx_time", rx_time(1_700_000_001, 0.5), (1_700_000_001, 0.5)),
    (2999, "rx_rate", pmt.from_double(1e6), 1e6),
]


def source_with_tags(variant, n, tags):
    """A vector source of n samples carrying `tags` (gr.tag_t)."""
    x = complex_input(n)
    if variant == "sc16":
        return blocks.vector_source_s(to_i16(x).ravel().tolist(), False, 2, tags)
    return blocks.vector_source_c(x.tolist(), False, 1, tags)


def triples(gr_tags, skip=("stream_start",)):
    """(offset, key, value) of GNU Radio tags, PMT values as they are."""
    return [(t.offset, pmt.symbol_to_string(t.key), t.value) for t in gr_tags
            if pmt.symbol_to_string(t.key) not in skip]


# In another process: creates ring argv[1] of type argv[2] (4096 samples),
# writes a first stream of 777 samples through a second handle (so the
# flowgraph's stream starts at ring index 777), prints "ready", then reads
# both streams and prints repr() of every tag as (index, key, value).
TAG_CONSUMER = """
import sys
import numpy as np
from doppler import buffer as b
name, kind = sys.argv[1], sys.argv[2]
cls = {"f32": b.F32Buffer, "f64": b.F64Buffer, "i16": b.I16Buffer}[kind]
buf = cls(4096, name=name)
first = cls.attach(name)
zeros = np.zeros((777, 2), np.int16) if kind == "i16" else np.zeros(777, {"f32": np.complex64, "f64": np.complex128}[kind])
assert first.write(zeros)
first.destroy()  # ends stream 1
print("ready", flush=True)
tags, ends = [], 0
with buf:
    while ends < 2:
        try:
            buf.wait(500, timeout=60)
        except EOFError:  # once per stream
            ends += 1
            if not buf.available:
                continue
            buf.wait(buf.available)  # the rest of the stream
        tags += [tuple(t) for t in buf.tags()]
        buf.consume()
print(repr(tags), flush=True)
"""


class qa_block_tags(gr_unittest.TestCase):

    # --- Buffer Sink: flowgraph tags into the ring ----------------------------

    def check_sink_tags_reach_another_process(self, variant):
        btype, sc16, _ = VARIANTS[variant]
        name = ring_name("tags-" + variant)
        consumer = subprocess.Popen([sys.executable, "-c", TAG_CONSUMER, name, btype],
                                    stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        try:
            self.assertEqual(next_line(consumer), "ready")
            src = source_with_tags(variant, 3000, [tag(o, k, v) for o, k, v, _ in RX_TAGS])
            snk = doppler.buffer_sink(btype, name, policy="block", sc16=sc16)
            tb = gr.top_block()
            tb.connect(src, snk)
            tb.run()
            out, err = consumer.communicate(timeout=LONG)
        finally:
            if consumer.poll() is None:
                consumer.kill()
                consumer.communicate()
        self.assertEqual(consumer.returncode, 0, err)
        seen = ast.literal_eval(out.strip())
        want = [(0, "stream_start", 1), (777, "stream_start", 2)] + \
            [(777 + o, k, py) for o, k, _, py in RX_TAGS]
        self.assertEqual(seen, want)
        # rx_time is still a tuple of an int and a float.
        self.assertEqual([type(x) for x in seen[2][2]], [int, float])
        self.assertEqual(snk.tags_unencodable(), 0)
        self.assertFalse(shm_exists(name))

    def test_a_consumer_in_another_process_sees_each_tag_at_its_index_f32(self):
        self.check_sink_tags_reach_another_process("f32")

    def test_a_consumer_in_another_process_sees_each_tag_at_its_index_f64(self):
        self.check_sink_tags_reach_another_process("f64")

    def test_a_consumer_in_another_process_sees_each_tag_at_its_index_i16(self):
        self.check_sink_tags_reach_another_process("i16")

    def test_a_consumer_in_another_process_sees_each_tag_at_its_index_sc16(self):
        self.check_sink_tags_reach_another_process("sc16")

    def test_every_pmt_type_of_the_table_reaches_a_reader_as_the_table_says(self):
        d = pmt.make_dict()
        d = pmt.dict_add(d, pmt.intern("b"), pmt.from_long(2))
        d = pmt.dict_add(d, pmt.intern("a"), pmt.intern("x"))
        vec = pmt.make_vector(2, pmt.PMT_NIL)
        pmt.vector_set(vec, 0, pmt.from_long(7))
        pmt.vector_set(vec, 1, pmt.PMT_T)
        rows = [
            (pmt.PMT_NIL, None),
            (pmt.PMT_T, True),
            (pmt.PMT_F, False),
            (pmt.from_long(-5), -5),
            (pmt.from_uint64(2**64 - 1), 2**64 - 1),
            (pmt.from_double(0.5), 0.5),
            (pmt.from_complex(1 - 2j), 1 - 2j),
            (pmt.intern("text"), "text"),
            (pmt.init_u8vector(3, [0, 1, 255]), b"\x00\x01\xff"),
            (pmt.init_s16vector(2, [-1, 2]), [-1, 2]),
            (pmt.init_f32vector(2, [0.5, -1.5]), [0.5, -1.5]),
            (pmt.init_c32vector(1, [1 + 1j]), [1 + 1j]),
            (rx_time(3, 0.75), (3, 0.75)),
            (vec, [7, True]),
            (d, {"a": "x", "b": 2}),
        ]
        buf = doppler.buffer.F32Buffer(4096)
        src = blocks.vector_source_c([0j] * 100, False, 1, [tag(i, f"t{i}", v) for i, (v, _) in enumerate(rows)])
        snk = doppler.buffer_sink("f32", buffer=buf)
        tb = gr.top_block()
        tb.connect(src, snk)
        tb.run()
        buf.wait(100)
        seen = [(t.index, t.key, t.value) for t in buf.tags() if t.key != "stream_start"]
        self.assertEqual(seen, [(i, f"t{i}", py) for i, (_, py) in enumerate(rows)])
        self.assertIsInstance(seen[3][2], int)
        self.assertEqual(snk.tags_unencodable(), 0)

    def test_tags_a_ring_cannot_carry_are_counted_skipped_and_logged_once_per_key(self):
        """A dict with an int key, a key of 256 bytes and an empty key have
        no ring encoding: those tags are skipped (the others, a pair and a
        PMT list among them, still arrive), counted, and the log names each
        key once however often it comes."""
        child = subprocess.run([sys.executable, "-c", UNENCODABLE], capture_output=True, text=True,
                               timeout=LONG)
        self.assertEqual(child.returncode, 0, child.stderr)
        result = ast.literal_eval(child.stdout.strip().splitlines()[-1])
        self.assertEqual(result["unencodable"], 5)
        self.assertEqual(result["seen"], [(1, "pair", ["a", True]), (2, "list", [1, 2]),
                                          (3, "ok", 1), (60, "ok", 2)])
        logged = [line for line in (child.stdout + child.stderr).splitlines() if "is not published" in line]
        keys = sorted(line.split("tag '")[1].split("'")[0] for line in logged)
        self.assertEqual(keys, sorted(["intkeys", "k" * 256, ""]))

    # --- Buffer Source: ring tags into the flowgraph ----------------------------

    def check_python_tags_reach_a_flowgraph(self, variant):
        btype, sc16, cls = VARIANTS[variant]
        buf = cls(4096)
        x = complex_input(1000)
        data = to_i16(x) if btype == "i16" else x.astype(np.complex128 if btype == "f64" else np.complex64)
        self.assertTrue(buf.write(data[:400], tags=[(0, "rx_time", (10, 0.5)), (399, "rx_freq", 2.4e9)]))
        self.assertTrue(buf.write(data[400:], tags=[(0, "rx_rate", 1e6), (100, "note", "hello"),
                                                    (100, "d", {"gain": 30, "ant": "RX2"}),
                                                    (599, "raw", b"\x01\x02"), (599, "none", None)]))
        buf.close()
        sink = blocks.vector_sink_s(2) if sc16 else blocks.vector_sink_c()
        src = doppler.buffer_source(btype, buffer=buf, sc16=sc16, end_on_stream_end=True)
        tb = gr.top_block()
        tb.connect(src, sink)
        tb.run()
        gain_ant = pmt.make_dict()
        gain_ant = pmt.dict_add(gain_ant, pmt.intern("ant"), pmt.intern("RX2"))
        gain_ant = pmt.dict_add(gain_ant, pmt.intern("gain"), pmt.from_long(30))  # dict_add puts it in front
        # A Python int is an int64: rx_time written from Python is a tuple
        # of an integer and a double (pmt::to_uint64 reads that integer too).
        want = [(0, "stream_start", pmt.from_uint64(1)),
                (0, "rx_time", pmt.make_tuple(pmt.from_long(10), pmt.from_double(0.5))),
                (399, "rx_freq", pmt.from_double(2.4e9)),
                (400, "rx_rate", pmt.from_double(1e6)),
                (500, "note", pmt.intern("hello")),
                (500, "d", gain_ant),
                (999, "raw", pmt.init_u8vector(2, [1, 2])),
                (999, "none", pmt.PMT_NIL)]
        got = triples(sink.tags(), skip=())
        self.assertEqual([(o, k) for o, k, _ in got], [(o, k) for o, k, _ in want])
        for (o, k, v), (_, _, w) in zip(got, want):
            self.assertTrue(pmt.equal(v, w), f"{k} at {o}: {v} != {w}")
        self.assertEqual(pmt.to_uint64(pmt.tuple_ref(got[1][2], 0)), 10)

    # One test per variant, as for the sink above: a failure names its variant.
    def test_python_tags_come_out_of_a_buffer_source_at_their_offsets_f32(self):
        self.check_python_tags_reach_a_flowgraph("f32")

    def test_python_tags_come_out_of_a_buffer_source_at_their_offsets_f64(self):
        self.check_python_tags_reach_a_flowgraph("f64")

    def test_python_tags_come_out_of_a_buffer_source_at_their_offsets_i16(self):
        self.check_python_tags_reach_a_flowgraph("i16")

    def test_python_tags_come_out_of_a_buffer_source_at_their_offsets_sc16(self):
        self.check_python_tags_reach_a_flowgraph("sc16")

    def test_a_flowgraph_to_ring_to_flowgraph_round_trip_keeps_every_tag_at_its_offset(self):
        extra = pmt.make_dict()
        extra = pmt.dict_add(extra, pmt.intern("gain"), pmt.from_double(31.5))
        extra = pmt.dict_add(extra, pmt.intern("lo"), pmt.make_tuple(pmt.from_long(-1), pmt.PMT_T))
        vec = pmt.make_vector(2, pmt.intern("x"))
        tags = [(o, k, v) for o, k, v, _ in RX_TAGS] + [
            (10, "burst", pmt.PMT_T), (11, "id", pmt.from_long(-7)), (12, "count", pmt.from_uint64(1 << 63)),
            (13, "iq", pmt.from_complex(0.5 - 0.25j)), (14, "name", pmt.intern("dev0")),
            (15, "cfg", extra), (16, "raw", pmt.init_u8vector(2, [9, 8])), (17, "v", vec),
            (18, "nil", pmt.PMT_NIL)]
        for variant in VARIANTS:
            with self.subTest(variant=variant):
                btype, sc16, _ = VARIANTS[variant]
                name = ring_name("round-" + variant)
                src = source_with_tags(variant, 3000, [tag(o, k, v) for o, k, v in tags])
                snk = doppler.buffer_sink(btype, name, capacity=1024, policy="block", sc16=sc16)
                back = doppler.buffer_source(btype, name, sc16=sc16, end_on_stream_end=True)
                sink = blocks.vector_sink_s(2) if sc16 else blocks.vector_sink_c()
                tb = gr.top_block()
                tb.connect(src, snk)
                tb.connect(back, sink)
                tb.run()
                self.assertEqual(len(sink.data()), 3000 * (2 if sc16 else 1))
                got = triples(sink.tags())
                want = sorted(tags, key=lambda t: t[0])
                self.assertEqual([(o, k) for o, k, _ in got], [(o, k) for o, k, _ in want])
                for (o, k, v), (_, _, w) in zip(got, want):
                    self.assertTrue(pmt.equal(v, w), f"{variant}: {k} at {o}: {v} != {w}")
                self.assertFalse(shm_exists(name))

    # --- drop policy: the ring's ("dropped", n) markers ---------------------------------

    def test_dropped_markers_through_a_buffer_source_add_up_and_sit_at_the_gaps(self):
        """A Python producer writes numbered samples without waiting into a
        small ring that a Buffer Source reads: refused writes leave gaps in
        the numbers, and the source emits ("dropped", n) on the first item
        after each gap, n its size; they add up to the ring's dropped count."""
        buf = doppler.buffer.F32Buffer(512)
        sink = blocks.vector_sink_c()
        tb = gr.top_block()
        tb.connect(doppler.buffer_source("f32", buffer=buf, end_on_stream_end=True), sink)
        seq = np.arange(200_000, dtype=np.float32).astype(np.complex64)
        chunks = [seq[i:i + 100] for i in range(0, len(seq), 100)]
        # Before the flowgraph reads anything: five chunks fit, the sixth is refused.
        self.assertEqual([buf.write(c) for c in chunks[:6]], [True] * 5 + [False])
        tb.start()
        until(lambda: buf.read_index == 500, "the source reading the first 500 samples")
        for c in chunks[6:-1]:
            buf.write(c)  # refused whenever the ring is full
        self.assertTrue(buf.write(chunks[-1], block=True, timeout=LONG))  # carries the last marker
        buf.close()
        tb.wait()
        out = np.array(sink.data()).real.astype(np.int64)
        jumps = {i: int(out[i] - out[i - 1] - 1) for i in range(1, len(out)) if out[i] != out[i - 1] + 1}
        markers = {t.offset: pmt.to_uint64(t.value) for t in sink.tags()
                   if pmt.symbol_to_string(t.key) == "dropped"}
        self.assertEqual(markers, jumps)
        self.assertEqual(markers[500], 100)
        self.assertEqual(sum(markers.values()), buf.dropped)
        self.assertEqual(len(out) + buf.dropped, len(seq))

    def test_a_sink_in_drop_mode_publishes_the_tags_of_what_it_wrote_and_counts_the_rest(self):
        """Drop policy, a consumer slower than the flowgraph: every tag on a
        written sample arrives on that sample, the tags of refused chunks
        are counted in tags_refused(), and the ring marks each gap with
        ("dropped", n)."""
        n, every = 100_000, 97
        buf = doppler.buffer.F32Buffer(512)
        seq = np.arange(n, dtype=np.float32).astype(np.complex64)
        src = blocks.vector_source_c(seq.tolist(), False, 1,
                                     [tag(k, "k", pmt.from_long(k)) for k in range(0, n, every)])
        snk = doppler.buffer_sink("f32", buffer=buf, policy="drop")
        tb = gr.top_block()
        tb.connect(src, blocks.throttle(gr.sizeof_gr_complex, 1e6), snk)
        reader = SlowReader(buf)
        reader.start()
        tb.run()
        reader.join(LONG)
        self.assertFalse(reader.is_alive())
        self.assertIsNone(reader.error)
        samples = np.concatenate(reader.samples).real.astype(np.int64)
        self.assertEqual(len(samples), snk.written())
        self.assertEqual(snk.written() + snk.dropped(), n)
        self.assertGreater(snk.dropped(), 0)
        ks = [(i, v) for i, k, v in reader.tags if k == "k"]
        for i, v in ks:
            self.assertEqual(samples[i], v)  # each tag on its own sample
        self.assertEqual(len(ks) + snk.tags_refused(), len(range(0, n, every)))
        self.assertGreater(snk.tags_refused(), 0)
        self.assertEqual(snk.tags_unencodable(), 0)
        gaps = {i: int(samples[i] - samples[i - 1] - 1) for i in range(1, len(samples))
                if samples[i] != samples[i - 1] + 1}
        markers = {i: v for i, k, v in reader.tags if k == "dropped"}
        self.assertEqual(markers, gaps)
        self.assertGreater(len(markers), 0)
        # What was dropped after the last written sample has no sample to mark.
        self.assertEqual(snk.dropped() - sum(markers.values()), n - 1 - samples[-1])


class SlowReader(threading.Thread):
    """Reads a ring to its end of stream, 64 samples at a time with a pause
    between reads, keeping every sample and every tag (index, key, value)."""

    def __init__(self, buf):
        super().__init__(daemon=True)
        self.buf, self.samples, self.tags, self.error = buf, [], [], None

    def run(self):
        try:
            end = False
            while not end:
                try:
                    v = self.buf.wait(64, timeout=LONG)
                except EOFError:  # once: what is left is the stream's last
                    end = True
                    if not self.buf.available:
                        return
                    v = self.buf.wait(self.buf.available)
                self.samples.append(np.array(v))
                self.tags += [tuple(t) for t in self.buf.tags()]
                self.buf.consume()
                time.sleep(0.001)
        except BaseException as e:  # reported by the test
            self.error = e


# Tags a ring cannot carry, two of them twice, among four it can (a pair and
# a PMT list are lists in the ring): prints the sink's count and what a
# reader saw (stderr has the block's log).
UNENCODABLE = """
import pmt
from gnuradio import blocks, doppler, gr
from doppler_testing import gr_tag as tag
intkeys = pmt.dict_add(pmt.make_dict(), pmt.from_long(1), pmt.PMT_T)
bad = [tag(1, "pair", pmt.cons(pmt.intern("a"), pmt.PMT_T)),
       tag(2, "list", pmt.list2(pmt.from_long(1), pmt.from_long(2))),
       tag(3, "intkeys", intkeys),
       tag(3, "ok", pmt.from_long(1)),
       tag(5, "k" * 256, pmt.PMT_T),
       tag(6, "", pmt.PMT_T),
       tag(50, "intkeys", intkeys),
       tag(51, "k" * 256, pmt.PMT_F),
       tag(60, "ok", pmt.from_long(2))]
buf = doppler.buffer.F32Buffer(4096)
snk = doppler.buffer_sink("f32", buffer=buf)
tb = gr.top_block()
tb.connect(blocks.vector_source_c([0j] * 100, False, 1, bad), snk)
tb.run()
buf.wait(100)
seen = [(t.index, t.key, t.value) for t in buf.tags() if t.key != "stream_start"]
print(repr({"unencodable": snk.tags_unencodable(), "seen": seen}), flush=True)
"""


if __name__ == "__main__":
    gr_unittest.run(qa_block_tags)
