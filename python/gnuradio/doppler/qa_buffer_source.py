#!/usr/bin/env python3
# SPDX-License-Identifier: GPL-3.0-or-later
"""QA of doppler.buffer_source: Python write() -> ring -> flowgraph -> vector_sink."""

import threading
import time

import numpy as np
from gnuradio import blocks, doppler, gr, gr_unittest

from qa_common import (LONG, SOURCE_SCALE, VARIANTS, complex_input, ring_name, ends_by_itself, shm_exists, stops,
                       to_i16)


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


def flowgraph(variant, ring, sink, capacity=4096):
    btype, sc16, _ = VARIANTS[variant]
    where = {"name": ring} if isinstance(ring, str) else {"buffer": ring}
    src = doppler.buffer_source(btype, capacity=capacity, sc16=sc16, **where)
    tb = gr.top_block()
    tb.connect(src, sink)
    return tb


class qa_buffer_source(gr_unittest.TestCase):

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
        tb.connect(doppler.buffer_source("i16", buffer=buf, scale=1e-3), sink)
        tb.run()
        np.testing.assert_allclose(sink.data(), [0.5 + 0.25j, -1 + 1j], rtol=1e-6)

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
        buf.destroy()
        self.assertFalse(shm_exists(name))

    def test_by_name(self):
        for variant in VARIANTS:
            for producer_first in (True, False):
                with self.subTest(variant=variant, producer_first=producer_first):
                    self.check_by_name(variant, producer_first)

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

    def test_the_stream_ends_when_the_producer_is_killed(self):
        """Producer in another process, killed with SIGKILL after writing: the
        source emits everything it wrote, then ends the stream (the flowgraph
        finishes by itself)."""
        import signal
        import subprocess
        import sys
        name = ring_name("kill")
        n = 50_000
        sink = blocks.vector_sink_c()
        tb = flowgraph("f32", name, sink)  # the source creates the ring
        producer = subprocess.Popen(
            [sys.executable, "-c",
             "import sys, time, numpy as np; from doppler import buffer as b\n"
             "r = b.F32Buffer.attach(sys.argv[1], timeout=60)\n"
             "k = np.arange(int(sys.argv[2]), dtype=np.float32)\n"
             "for s in range(0, len(k), 1000):\n"
             "    r.write((k[s:s + 1000] + 1j * k[s:s + 1000]).astype(np.complex64), block=True, timeout=60)\n"
             "print('written', flush=True)\n"
             "time.sleep(600)  # killed here, without closing\n",
             name, str(n)],
            stdout=subprocess.PIPE, text=True)
        tb.start()
        try:
            # The flowgraph runs while the producer writes (the ring is smaller
            # than the stream) and must end by itself once the producer is dead.
            self.assertEqual(producer.stdout.readline().strip(), "written")
            producer.send_signal(signal.SIGKILL)
            producer.wait(LONG)
            self.assertTrue(ends_by_itself(tb), "the source did not end the stream after its producer died")
            k = np.arange(n, dtype=np.float32)
            np.testing.assert_array_equal(np.array(sink.data()), k + 1j * k)
            self.assertFalse(shm_exists(name))  # the source created it and released it
        finally:
            if producer.poll() is None:
                producer.kill()

    def test_a_second_run_of_one_top_block_continues_where_the_first_stopped(self):
        # The same top block run again: the second run takes the consumer
        # role again and reads on from the first unread sample; after the
        # producer closed its ring and made a new one under the name, a third
        # run reads the new one.
        name = ring_name("rerun")
        buf = doppler.buffer.F32Buffer(4096, name=name)
        data = np.arange(3000, dtype=np.float32).astype(np.complex64)
        buf.write(data[:600])
        src = doppler.buffer_source("f32", name)
        sink = blocks.vector_sink_c()
        tb = gr.top_block()
        tb.connect(src, sink)
        tb.start()
        for _ in range(1000):  # up to ~10 s
            if len(sink.data()) >= 600:
                break
            time.sleep(0.01)
        tb.stop()
        tb.wait()
        buf.write(data[600:2000])
        buf.close()
        tb.run()  # to the end of the stream
        np.testing.assert_array_equal(np.array(sink.data()), data[:2000])
        buf.destroy()
        fresh = doppler.buffer.F32Buffer(4096, name=name)  # a new stream under the name
        fresh.write(data[2000:])
        fresh.close()
        tb.run()
        np.testing.assert_array_equal(np.array(sink.data()), data)
        fresh.destroy()

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


if __name__ == "__main__":
    gr_unittest.run(qa_buffer_source)
