#!/usr/bin/python3
# SPDX-License-Identifier: GPL-3.0-or-later
"""QA of doppler.buffer_source: Python write() -> ring -> flowgraph -> vector_sink."""

import errno
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time

import numpy as np
import pmt
from gnuradio import blocks, doppler, gr, gr_unittest

from doppler_testing import (LONG, SOURCE_SCALE, VARIANTS, Drainer, check_by_name_both_ways, complex_input,
                             ends_by_itself, ends_within, log_lines_with, ring_name, shm_exists, stop_running, stops,
                             to_i16, until)

# A producer in another process: attaches to ring argv[1] and writes argv[2]
# samples k + 1j * k for k from argv[3], lossless; prints "written"; then
# "close" closes its stream and exits, "kill" waits to be killed.
PRODUCER = """
import sys, time
import numpy as np
from doppler import buffer as b
name, n, first, then = sys.argv[1], int(sys.argv[2]), int(sys.argv[3]), sys.argv[4]
r = b.F32Buffer.attach(name, timeout=60)
k = np.arange(first, first + n, dtype=np.float32)
for s in range(0, n, 1000):
    r.write((k[s:s + 1000] + 1j * k[s:s + 1000]).astype(np.complex64), block=True, timeout=60)
print("written", flush=True)
if then == "close":
    r.close()
else:
    time.sleep(600)  # killed here, without closing
"""


def ring_data(variant, n, seed=2):
    """(what Python writes into the ring, what the source must emit, vector_sink)."""
    x = complex_input(n, seed)
    if variant == "f32":
        return x, x, blocks.vector_sink_c()
    if variant == "f64":
        x64 = x.astype(np.complex128) + 1e-12  # detail a narrowing drops
        return x64, x64.astype(np.complex64), blocks.vector_sink_c()
    iq = to_i16(x)
    if variant == "sc16":
        return iq, iq.ravel(), blocks.vector_sink_s(2)
    f = iq.astype(np.float32) * np.float32(SOURCE_SCALE)
    return iq, (f[:, 0] + 1j * f[:, 1]).astype(np.complex64), blocks.vector_sink_c()


def flowgraph(variant, ring, sink, capacity=4096, end_on_stream_end=True):
    """buffer_source(ring) -> sink. By default the flowgraph ends with the
    ring's stream (most tests read one stream and want the run to end)."""
    btype, sc16, _ = VARIANTS[variant]
    where = {"name": ring} if isinstance(ring, str) else {"buffer": ring}
    src = doppler.buffer_source(btype, capacity=capacity, sc16=sc16, end_on_stream_end=end_on_stream_end,
                                **where)
    tb = gr.top_block()
    tb.connect(src, sink)
    return tb


class qa_buffer_source(gr_unittest.TestCase):

    # One test per variant, as in qa_buffer_sink.py (whose cases these mirror
    # from the reading side): a failure names its variant.
    def check_buffer_object(self, variant):
        buf = VARIANTS[variant][2](4096)
        data, expected, sink = ring_data(variant, 3000)
        self.assertTrue(buf.write(data))
        buf.close()
        # Closed and drained: the source ends the flowgraph by itself.
        flowgraph(variant, buf, sink).run()
        np.testing.assert_array_equal(np.array(sink.data()), expected)
        self.assertEqual(buf.available, 0)

    def test_buffer_object_f32(self):
        self.check_buffer_object("f32")

    def test_buffer_object_f64(self):
        self.check_buffer_object("f64")

    def test_buffer_object_i16(self):
        self.check_buffer_object("i16")

    def test_buffer_object_sc16(self):
        self.check_buffer_object("sc16")

    def test_scale(self):
        buf = doppler.buffer.I16Buffer(1024)
        buf.write(np.array([[500, 250], [-1000, 1000]], dtype=np.int16))
        buf.close()
        sink = blocks.vector_sink_c()
        tb = gr.top_block()
        tb.connect(doppler.buffer_source("i16", buffer=buf, scale=1e-3, end_on_stream_end=True), sink)
        tb.run()
        np.testing.assert_allclose(sink.data(), [0.5 + 0.25j, -1 + 1j], rtol=1e-6)

    # The cases of qa_buffer_sink.py's check_by_name seen from the other end
    # of the ring (check_by_name_both_ways runs both).
    def check_by_name(self, variant, producer_first):
        btype, sc16, cls = VARIANTS[variant]
        name = ring_name("source-" + variant)
        data, expected, sink = ring_data(variant, 3000)
        if producer_first:
            buf = cls(4096, name=name)
            tb = flowgraph(variant, name, sink, capacity=999)  # the ring's capacity wins
        else:
            tb = flowgraph(variant, name, sink, capacity=4096)
            buf = cls.attach(name)
        self.assertEqual(buf.capacity, 4096)
        tb.start()
        half = len(data) // 2
        self.assertTrue(buf.write(data[:half]))
        self.assertTrue(buf.write(data[half:]))
        buf.close()
        tb.wait()
        np.testing.assert_array_equal(np.array(sink.data()), expected)
        return buf, name

    def test_by_name(self):
        check_by_name_both_ways(self, self.check_by_name, "producer_first")

    def test_lossless_stream_through_a_small_ring(self):
        for variant in VARIANTS:
            with self.subTest(variant=variant):
                buf = VARIANTS[variant][2](1)  # page minimum, far smaller than the stream
                n = 100 * buf.capacity + 11
                data, expected, sink = ring_data(variant, n)
                tb = flowgraph(variant, buf, sink)

                def produce():
                    try:
                        for i in range(0, n, 200):
                            buf.write(data[i:i + 200], block=True, timeout=20)
                    finally:
                        buf.close()  # a failed producer still ends the flowgraph

                producer = threading.Thread(target=produce, daemon=True)
                producer.start()
                tb.run()
                producer.join(20)
                self.assertFalse(producer.is_alive())
                np.testing.assert_array_equal(np.array(sink.data()), expected)
                self.assertEqual(buf.dropped, 0)

    def test_a_source_with_nothing_to_read_for_seconds_says_once_what_it_waits_for(self):
        """A ring nobody writes (a producer not started yet, or a Ring Name
        that differs from the producer's): after about 5 s the source logs,
        once, that it has had nothing to read and that no producer has
        written to this ring."""
        name = ring_name("idle")
        said = log_lines_with(
            "import sys\n"
            "from gnuradio import blocks, doppler, gr\n"
            "tb = gr.top_block()\n"
            "tb.connect(doppler.buffer_source('f32', sys.argv[1], 4096), blocks.null_sink(8))\n"
            "tb.start()\n"
            "sys.stdin.read()\n"
            "tb.stop(); tb.wait()\n", [name], "nothing to read")
        self.assertEqual(len(said), 1, said)
        self.assertIn(f"ring '{name}' has had nothing to read for 5 s: no producer has written "
                      "to this ring yet", said[0])

    def test_stop_while_waiting_on_empty_ring(self):
        for variant in VARIANTS:
            with self.subTest(variant=variant):
                name = ring_name("empty")
                sink = blocks.null_sink(2 * 2 if variant == "sc16" else gr.sizeof_gr_complex)
                tb = flowgraph(variant, name, sink)
                self.assertTrue(shm_exists(name))
                self.assertTrue(stops(tb))
                # The source created the ring: stopping removed its name.
                self.assertFalse(shm_exists(name))

    def test_consumer_role_freed_on_stop(self):
        # A stopped source gives the ring to the next consumer, which
        # continues from the first unread sample.
        buf = doppler.buffer.F32Buffer(4096, name=ring_name("next"))
        data, _, sink = ring_data("f32", 1000)
        buf.write(data[:600])
        tb = flowgraph("f32", buf.name, sink)
        tb.start()
        for _ in range(1000):  # up to ~10 s
            if len(sink.data()) >= 600:
                break
            time.sleep(0.01)
        tb.stop()
        tb.wait()
        buf.write(data[600:])
        buf.close()
        sink2 = blocks.vector_sink_c()
        flowgraph("f32", buf.name, sink2).run()
        np.testing.assert_array_equal(np.array(sink.data()), data[:600])
        np.testing.assert_array_equal(np.array(sink2.data()), data[600:])
        buf.destroy()

    def test_close_wakes_a_source_waiting_on_an_empty_ring(self):
        """The source waits on an empty ring; the producer closes it: the
        flowgraph ends by itself, through a wake (no lost wake-up)."""
        buf = doppler.buffer.F32Buffer(4096)
        data, _, sink = ring_data("f32", 1000)
        tb = flowgraph("f32", buf, sink)
        tb.start()
        self.assertTrue(buf.write(data))
        deadline = time.monotonic() + LONG
        while buf.read_index < 1000 and time.monotonic() < deadline:  # drained: it waits again
            time.sleep(0.005)
        buf.close()
        self.assertTrue(ends_by_itself(tb), "the source did not end after close()")
        np.testing.assert_array_equal(np.array(sink.data()), data)
        self.assertEqual(buf.missed_wakes, 0)

    # --- streams: the end of a producer run ------------------------------------

    def check_killed_producer(self, end_on_stream_end):
        """Producer in another process, killed with SIGKILL after writing:
        the source emits everything it wrote, then at the broken end of its
        stream either ends the flowgraph (end_on_stream_end) or goes on with
        the next producer's stream, whose first item carries
        ("stream_start", 2)."""
        name = ring_name("kill")
        n = 50_000
        sink = blocks.vector_sink_c()
        tb = flowgraph("f32", name, sink, end_on_stream_end=end_on_stream_end)  # creates the ring
        producer = subprocess.Popen([sys.executable, "-c", PRODUCER, name, str(n), "0", "kill"],
                                    stdout=subprocess.PIPE, text=True)
        tb.start()
        try:
            # The flowgraph runs while the producer writes (the ring is smaller
            # than the stream).
            self.assertEqual(producer.stdout.readline().strip(), "written")
            producer.send_signal(signal.SIGKILL)
            producer.wait(LONG)
            k = np.arange(n, dtype=np.float32)
            if end_on_stream_end:
                self.assertTrue(ends_by_itself(tb), "the source did not end the stream after its producer died")
                np.testing.assert_array_equal(np.array(sink.data()), k + 1j * k)
                self.assertFalse(shm_exists(name))  # the source created it and released it
                return
            # The flowgraph goes on: the next producer's samples follow.
            nxt = subprocess.run([sys.executable, "-c", PRODUCER, name, "1000", str(n), "close"],
                                 capture_output=True, text=True, timeout=LONG)
            self.assertEqual(nxt.returncode, 0, nxt.stderr)
            until(lambda: len(sink.data()) == n + 1000, "the second producer's samples")
            self.assertTrue(stop_running(tb))
            k = np.arange(n + 1000, dtype=np.float32)
            np.testing.assert_array_equal(np.array(sink.data()), k + 1j * k)
            starts = [(t.offset, pmt.to_python(t.value)) for t in sink.tags()
                      if pmt.symbol_to_string(t.key) == "stream_start"]
            self.assertEqual(starts, [(0, 1), (n, 2)])
        finally:
            if producer.poll() is None:
                producer.kill()
            producer.wait()
            producer.stdout.close()
            tb.stop()
            tb.wait()

    def test_with_end_on_stream_end_a_killed_producer_ends_the_flowgraph(self):
        self.check_killed_producer(True)

    def test_by_default_a_killed_producer_is_followed_by_the_next_stream(self):
        self.check_killed_producer(False)

    def write_streams(self, name, lengths):
        """One producer handle per stream, each closed: stream k holds
        len k samples, sample i of it is i + 1j * k. Returns the samples."""
        out = []
        for k, n in enumerate(lengths, 1):
            with doppler.buffer.F32Buffer.attach(name) as producer:
                x = (np.arange(n) + 1j * k).astype(np.complex64)
                self.assertTrue(producer.write(x))
                producer.close()
            out.append(x)
        return out

    def test_end_on_stream_end_ends_each_run_with_one_stream(self):
        """Two streams in the ring before the flowgraph starts: with
        end_on_stream_end each run of the flowgraph emits one of them and
        ends; a third run waits for the third stream."""
        name = ring_name("end")
        holder = doppler.buffer.F32Buffer(4096, name=name)  # keeps the name between producers
        src = doppler.buffer_source("f32", name, end_on_stream_end=True)
        first, second = self.write_streams(name, [300, 200])
        for k, want in enumerate((first, second), 1):
            sink = blocks.vector_sink_c()
            tb = gr.top_block()
            tb.connect(src, sink)
            tb.start()
            self.assertTrue(ends_by_itself(tb), f"run {k} did not end at the end of stream {k}")
            np.testing.assert_array_equal(np.array(sink.data()), want)
            self.assertEqual([(t.offset, pmt.symbol_to_string(t.key), pmt.to_python(t.value))
                              for t in sink.tags()], [(0, "stream_start", k)])
            tb.disconnect_all()
        # Run 3 reads stream 3, written while it runs.
        sink = blocks.vector_sink_c()
        tb = gr.top_block()
        tb.connect(src, sink)
        tb.start()
        (third,) = self.write_streams(name, [100])
        self.assertTrue(ends_by_itself(tb), "run 3 did not end at the end of stream 3")
        np.testing.assert_array_equal(np.array(sink.data()), third)
        holder.destroy()

    def test_by_default_the_source_reads_on_across_streams(self):
        """The same two streams, the default: one run emits both, each
        starting with ("stream_start", n), and goes on waiting for a third
        until it is stopped."""
        name = ring_name("across")
        holder = doppler.buffer.F32Buffer(4096, name=name)
        src = doppler.buffer_source("f32", name)
        first, second = self.write_streams(name, [300, 200])
        sink = blocks.vector_sink_c()
        tb = gr.top_block()
        tb.connect(src, sink)
        tb.start()
        until(lambda: len(sink.data()) == 500, "both streams through one run")
        (third,) = self.write_streams(name, [100])  # the run still waits for more
        until(lambda: len(sink.data()) == 600, "the third stream in the same run")
        self.assertTrue(stop_running(tb))
        np.testing.assert_array_equal(np.array(sink.data()), np.concatenate([first, second, third]))
        self.assertEqual([(t.offset, pmt.symbol_to_string(t.key), pmt.to_python(t.value))
                          for t in sink.tags()],
                         [(0, "stream_start", 1), (300, "stream_start", 2), (500, "stream_start", 3)])
        holder.destroy()

    def test_a_second_run_of_one_top_block_continues_where_the_first_stopped(self):
        # The same top block run again: the second run takes the reader again
        # and reads on from the first unread sample; after the producer
        # removed its ring and made a new one under the name, a third run
        # reads the new one.
        name = ring_name("rerun")
        buf = doppler.buffer.F32Buffer(4096, name=name)
        data = np.arange(3000, dtype=np.float32).astype(np.complex64)
        buf.write(data[:600])
        src = doppler.buffer_source("f32", name, end_on_stream_end=True)
        sink = blocks.vector_sink_c()
        tb = gr.top_block()
        tb.connect(src, sink)
        tb.start()
        until(lambda: len(sink.data()) >= 600, "the first 600 samples")
        tb.stop()
        tb.wait()
        buf.write(data[600:2000])
        buf.close()
        tb.run()  # to the end of the stream
        np.testing.assert_array_equal(np.array(sink.data()), data[:2000])
        buf.destroy()
        fresh = doppler.buffer.F32Buffer(4096, name=name)  # a new ring under the name
        fresh.write(data[2000:])
        fresh.close()
        tb.run()
        np.testing.assert_array_equal(np.array(sink.data()), data)
        fresh.destroy()

    # --- readers -----------------------------------------------------------------

    def test_two_sources_with_reader_names_read_one_ring(self):
        """A tethered reader "a" and an untethered reader "b" (and the default
        reader, which every ring has and which a producer always waits for,
        drained here): "a" gets every sample in order; "b", started only once
        the producer had written far more than the ring holds, emits the last
        ring-full of samples, after a ("skipped", count) tag that accounts for
        the rest."""
        name = ring_name("readers")
        n, cap = 20_000, 4096
        producer = doppler.buffer.F32Buffer(cap, name=name)
        default = Drainer(doppler.buffer.F32Buffer.attach(name), chunk=500)
        default.start()
        sink_a, sink_b = blocks.vector_sink_c(), blocks.vector_sink_c()
        src_a = doppler.buffer_source("f32", name, reader="a", end_on_stream_end=True)
        src_b = doppler.buffer_source("f32", name, reader="b", tethered=False, end_on_stream_end=True)
        tb_a, tb_b = gr.top_block(), gr.top_block()
        tb_a.connect(src_a, sink_a)
        tb_b.connect(src_b, sink_b)
        tb_a.start()
        seq = (np.arange(n) + 1j).astype(np.complex64)
        for i in range(0, n, 1000):  # held back by "a" and the default reader, never by "b"
            self.assertTrue(producer.write(seq[i:i + 1000], block=True, timeout=LONG))
        producer.close()
        self.assertTrue(ends_by_itself(tb_a))
        tb_b.start()
        self.assertTrue(ends_by_itself(tb_b))
        default.join(LONG)
        self.assertIsNone(default.error)
        np.testing.assert_array_equal(default.result, seq)
        np.testing.assert_array_equal(np.array(sink_a.data()), seq)
        np.testing.assert_array_equal(np.array(sink_b.data()), seq[n - cap:])
        tags_b = [(t.offset, pmt.symbol_to_string(t.key), pmt.to_python(t.value)) for t in sink_b.tags()]
        self.assertEqual(tags_b, [(0, "skipped", n - cap)])
        self.assertEqual(src_b.skipped(), n - cap)
        self.assertEqual(src_a.skipped(), 0)
        producer.destroy()

    def test_an_untethered_source_marks_what_was_overwritten_while_it_copied(self):
        """An untethered source far slower than its producer (a throttle
        behind it) is lapped all the time, and often while it copies a
        window: the producer does not wait for it. Every item it emits that
        is not under an ("overwritten", n) tag is the right sample, where the
        ("skipped", n) tags before it put it; and the items it emitted, less
        the overwritten ones, plus skipped() are exactly what was written.
        Runs until one window was overwritten while copied (at most 20
        runs), so the overwritten path is taken, not just allowed."""
        cap, chunk, n = 4096, 256, 1 << 21
        seq = np.arange(n, dtype=np.float32).astype(np.complex64)
        runs = overwritten_seen = 0
        while overwritten_seen == 0 and runs < 20:
            runs += 1
            name = ring_name("lapped")
            producer = doppler.buffer.F32Buffer(cap, name=name)
            default = Drainer(doppler.buffer.F32Buffer.attach(name), chunk=chunk)
            default.start()
            src = doppler.buffer_source("f32", name, reader="gui", tethered=False, end_on_stream_end=True)
            sink = blocks.vector_sink_c()
            tb = gr.top_block()
            tb.connect(src, blocks.throttle(gr.sizeof_gr_complex, 2e6), sink)
            tb.start()
            for i in range(0, n, chunk):  # held back by the default reader only
                self.assertTrue(producer.write(seq[i:i + chunk], block=True, timeout=LONG))
            producer.close()
            self.assertTrue(ends_by_itself(tb))
            default.join(LONG)
            self.assertIsNone(default.error)
            np.testing.assert_array_equal(default.result, seq)
            out = np.array(sink.data())
            marks = sorted((t.offset, pmt.symbol_to_string(t.key), pmt.to_uint64(t.value))
                           for t in sink.tags() if pmt.symbol_to_string(t.key) in ("skipped", "overwritten"))
            # The ring index of each item: its position plus what was skipped
            # before it; items under an overwritten tag are not checked.
            index = np.arange(len(out), dtype=np.int64)
            trusted = np.ones(len(out), dtype=bool)
            skipped = overwritten = 0
            for offset, key, count in marks:
                if key == "skipped":
                    index[offset:] += count
                    skipped += count
                else:
                    trusted[offset:offset + count] = False
                    overwritten += count
            self.assertLess(int(index[-1]), n)
            np.testing.assert_array_equal(out.real[trusted], index[trusted].astype(np.float32))
            self.assertEqual(src.skipped(), skipped + overwritten)
            self.assertEqual(len(out) - overwritten + src.skipped(), n)
            overwritten_seen = overwritten
            producer.destroy()
        self.assertGreater(overwritten_seen, 0, f"no window was overwritten while copied in {runs} runs")

    def test_a_reader_name_held_by_another_block_is_refused_naming_the_parameter(self):
        name = ring_name("held")
        holder = doppler.buffer.F32Buffer(4096, name=name)
        first = doppler.buffer_source("f32", name, reader="gui", tethered=False)
        with self.assertRaises(OSError) as cm:
            doppler.buffer_source("f32", name, reader="gui")
        self.assertEqual(cm.exception.errno, errno.EBUSY)
        self.assertIn("reader named 'gui'", str(cm.exception))
        self.assertIn(str(os.getpid()), str(cm.exception))
        self.assertIn("Reader (reader=)", str(cm.exception))
        # Another name is another reader.
        second = doppler.buffer_source("f32", name, reader="gui2", tethered=False)
        del first, second
        holder.destroy()

    def test_a_seventeenth_reader_is_refused_naming_the_ring_parameter(self):
        name = ring_name("full")
        holder = doppler.buffer.F32Buffer(4096, name=name)
        sources = [doppler.buffer_source("f32", name)]  # the default reader
        sources += [doppler.buffer_source("f32", name, reader=f"r{i}", tethered=False) for i in range(15)]
        with self.assertRaises(OSError) as cm:
            doppler.buffer_source("f32", name, reader="r15")
        self.assertEqual(cm.exception.errno, errno.EUSERS)
        self.assertIn("16 readers", str(cm.exception))
        self.assertIn("Ring Name (name=)", str(cm.exception))
        del sources
        holder.destroy()

    def test_bad_reader_arguments_name_the_parameter(self):
        name = ring_name("args")
        for bad in ("no space", ".hidden", "x" * 33, "a/b"):
            with self.assertRaisesRegex(ValueError, r"Reader \(reader=\)", msg=bad):
                doppler.buffer_source("f32", name, reader=bad)
        with self.assertRaisesRegex(ValueError, r"Tethered \(tethered=\) False needs a Reader"):
            doppler.buffer_source("f32", name, tethered=False)
        # Nothing was created for the refused blocks.
        self.assertFalse(shm_exists(name))
        with self.assertRaisesRegex(TypeError, "reader=, tethered= and history="):
            doppler.buffer_source("f32", buffer=doppler.buffer.F32Buffer(512), reader="gui")

    def test_two_sources_on_one_name_in_one_script_are_refused(self):
        name = ring_name("twice")
        first = doppler.buffer_source("f32", name)
        with self.assertRaisesRegex(OSError, "another handle in this same process"):
            doppler.buffer_source("f32", name)
        del first

    def test_bad_arguments(self):
        with self.assertRaisesRegex(ValueError, "type"):
            doppler.buffer_source("i8", ring_name("bad"))
        with self.assertRaisesRegex(ValueError, "name"):
            doppler.buffer_source("f32", "")
        with self.assertRaisesRegex(ValueError, "scale"):
            doppler.buffer_source("i16", ring_name("bad"), scale=0.0)
        with self.assertRaisesRegex(ValueError, "sc16"):
            doppler.buffer_source("f64", ring_name("bad"), sc16=True)
        with self.assertRaisesRegex(TypeError, "i16"):
            doppler.buffer_source("f32", buffer=doppler.buffer.I16Buffer(1024))

    # -- a flowgraph ends when everything downstream is done ---------------
    # No sample arrives after the first ones: the source waits on an empty
    # ring, and must still let the flowgraph end once Head has its items.

    def test_a_head_after_the_source_ends_the_flowgraph_once_it_has_its_items(self):
        buf = doppler.buffer.F32Buffer(4096)
        x = complex_input(1000)
        self.assertTrue(buf.write(x))  # not closed: more could come, none does
        sink = blocks.vector_sink_c()
        tb = gr.top_block()
        tb.connect(doppler.buffer_source("f32", buffer=buf), blocks.head(gr.sizeof_gr_complex, 500), sink)
        tb.start()
        self.assertTrue(ends_within(tb, ENDS_WITHIN), "tb.wait() still waits after Head had its items")
        np.testing.assert_array_equal(np.array(sink.data()), x[:500])

    def test_a_named_reader_with_history_starts_in_the_past_of_the_current_stream(self):
        name = ring_name("history")
        producer = doppler.buffer.F32Buffer(4096, name=name)
        try:
            x = complex_input(1000)
            self.assertTrue(producer.write(x[:600]))
            # 600 samples written before the block's reader exists: it asks
            # for 400 of them, then reads on into what comes after.
            src = doppler.buffer_source("f32", name, reader="late", history=400, tethered=False)
            self.assertTrue(producer.write(x[600:]))
            sink = blocks.vector_sink_c()
            tb = gr.top_block()
            tb.connect(src, blocks.head(gr.sizeof_gr_complex, 700), sink)
            tb.start()
            self.assertTrue(ends_within(tb, ENDS_WITHIN), "tb.wait() still waits after Head had its items")
            np.testing.assert_array_equal(np.array(sink.data()), x[200:900])
            with self.assertRaisesRegex(ValueError, "History .* needs a Reader"):
                doppler.buffer_source("f32", name, history=10)
        finally:
            producer.destroy()

    def test_a_file_sink_behind_head_gets_its_items_and_the_flowgraph_ends(self):
        name = ring_name("file")
        path = os.path.join(tempfile.mkdtemp(prefix="qa-source-"), "out.cf32")
        try:
            tb = gr.top_block()
            src = doppler.buffer_source("f32", name)
            tb.connect(src, blocks.head(gr.sizeof_gr_complex, 700), blocks.file_sink(gr.sizeof_gr_complex, path))
            producer = doppler.buffer.F32Buffer.attach(name)
            x = complex_input(1000)
            self.assertTrue(producer.write(x))
            tb.start()
            self.assertTrue(ends_within(tb, ENDS_WITHIN), "tb.wait() still waits after Head had its items")
            np.testing.assert_array_equal(np.fromfile(path, dtype=np.complex64), x[:700])
            producer.destroy()
        finally:
            shutil.rmtree(os.path.dirname(path))

    def run_grc_flowgraph(self, head_items, interrupt):
        """Compile a Buffer Source -> Head -> File Sink .grc with grcc, run it
        with /usr/bin/python3 while this test writes 1000 samples into its
        ring, and return (exit code or None if it did not end, samples in the
        file, samples written)."""
        tmp = tempfile.mkdtemp(prefix="qa-source-grc-")
        name = ring_name("grc")
        out = os.path.join(tmp, "out.cf32")
        try:
            grc = os.path.join(tmp, "source_head.grc")
            with open(grc, "w") as f:
                f.write(GRC_SOURCE_HEAD.format(name=name, items=head_items, out=out))
            env = dict(os.environ, GRC_BLOCKS_PATH=GRC_DIR,
                       GR_CONF_GRC_GLOBAL_BLOCKS_PATH="/usr/share/gnuradio/grc/blocks",
                       GR_CONF_GRC_LOCAL_BLOCKS_PATH="")
            r = subprocess.run(["grcc", "-o", tmp, grc], capture_output=True, text=True, timeout=LONG, env=env)
            self.assertEqual(r.returncode, 0, r.stdout + r.stderr)
            script = os.path.join(tmp, "source_head.py")
            self.assertTrue(os.path.exists(script), r.stdout + r.stderr)
            producer = doppler.buffer.F32Buffer(4096, name=name)  # the flowgraph attaches
            x = complex_input(1000)
            self.assertTrue(producer.write(x))
            child = subprocess.Popen(["/usr/bin/python3", script], stdin=subprocess.DEVNULL,
                                     stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, env=env)
            try:
                if interrupt:
                    # Once the flowgraph has read what there is, Ctrl-C.
                    until(lambda: producer.read_index == 1000 or child.poll() is not None,
                          "the flowgraph reading the ring")
                    child.send_signal(signal.SIGINT)
                code = child.wait(ENDS_WITHIN)
            except subprocess.TimeoutExpired:
                code = None
            finally:
                if child.poll() is None:
                    child.kill()
                    child.wait()
                log = child.stdout.read()
                child.stdout.close()
                producer.destroy()
            got = np.fromfile(out, dtype=np.complex64) if os.path.exists(out) else np.zeros(0, np.complex64)
            return code, got, x, log
        finally:
            shutil.rmtree(tmp)

    def test_a_grc_generated_flowgraph_with_head_runs_to_completion(self):
        code, got, x, log = self.run_grc_flowgraph(500, interrupt=False)
        self.assertEqual(code, 0, "the generated script did not end by itself:\n" + log)
        np.testing.assert_array_equal(got, x[:500])

    def test_ctrl_c_ends_a_grc_generated_flowgraph_waiting_on_an_empty_ring(self):
        code, got, x, log = self.run_grc_flowgraph(10**9, interrupt=True)
        self.assertEqual(code, 0, "the generated script did not end on Ctrl-C:\n" + log)
        np.testing.assert_array_equal(got, x[:len(got)])


# How long a flowgraph may take to end once it should: far more than the
# 40 ms its source needs, so a loaded machine never fails it; only a hang does.
ENDS_WITHIN = 20

GRC_DIR = os.path.normpath(os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..", "..", "grc"))

# Buffer Source -> Head -> File Sink, headless, "Run to Completion". Every
# parameter spelled out as GRC saves them, as in examples/qa_examples.py's
# SMALL_FLOWGRAPH (which checks the yml; this one runs).
GRC_SOURCE_HEAD = """options:
  parameters:
    generate_options: no_gui
    id: source_head
    output_language: python
    run_options: run
  states:
    coordinate: [8, 8]
    rotation: 0
    state: enabled
blocks:
- name: src
  id: doppler_buffer_source
  parameters:
    capacity: '4096'
    end_on_stream_end: 'False'
    name: '"{name}"'
    reader: '""'
    sc16: 'False'
    scale: 1.0/32768
    tethered: 'True'
    type: f32
  states:
    coordinate: [200, 100]
    rotation: 0
    state: enabled
- name: head
  id: blocks_head
  parameters:
    num_items: '{items}'
    type: complex
    vlen: '1'
  states:
    coordinate: [400, 100]
    rotation: 0
    state: enabled
- name: sink
  id: blocks_file_sink
  parameters:
    append: 'False'
    file: '"{out}"'
    type: complex
    unbuffered: 'False'
    vlen: '1'
  states:
    coordinate: [600, 100]
    rotation: 0
    state: enabled
connections:
- [src, '0', head, '0']
- [head, '0', sink, '0']
metadata:
  file_format: 1
"""


if __name__ == "__main__":
    gr_unittest.run(qa_buffer_source)
