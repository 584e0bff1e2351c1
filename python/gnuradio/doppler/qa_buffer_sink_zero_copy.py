#!/usr/bin/python3
# SPDX-License-Identifier: GPL-3.0-or-later
"""QA of the Buffer Sink's zero-copy path (lib/blocks/ring_buffer.h): which
path a run takes and how it says so, the upstream block writing straight into
the ring, tethered readers holding it back, untethered readers told when they
were lapped, and the cases that fall back to the copy path.

The sink's other tests (qa_buffer_sink.py) run on both paths."""

import contextlib
import os
import subprocess
import sys
import threading
import time

import numpy as np
import pmt
from gnuradio import blocks, doppler, gr, gr_unittest

from doppler_testing import LONG, drain, ramp_consumer, ring_name, run_while, until, views


class ramp_c(gr.sync_block):
    """Sample k is k - k*1j (exact in float32 below 2^24), `n` samples then
    the end of the stream (n=None: for ever). Records the lowest and highest
    address of the output buffers GNU Radio hands it."""

    def __init__(self, n=None, tag_every=0, tag_edges=False):
        gr.sync_block.__init__(self, name="ramp_c", in_sig=None, out_sig=[np.complex64])
        self.n, self.k = n, 0
        self.tag_every = tag_every  # a ("k", k) tag on every such sample k
        self.tag_edges = tag_edges  # ... and on the first and last of each work()
        self.tagged = []  # the samples tagged, in order
        self.lowest, self.highest = None, None

    def work(self, input_items, output_items):
        out = output_items[0]
        if self.n is not None:
            if self.k >= self.n:
                return -1  # WORK_DONE
            out = out[:self.n - self.k]
        if len(out):
            start = out.ctypes.data
            end = start + out.nbytes
            self.lowest = start if self.lowest is None else min(self.lowest, start)
            self.highest = end if self.highest is None else max(self.highest, end)
        k = np.arange(self.k, self.k + len(out), dtype=np.float32)
        out.real = k
        out.imag = -k
        marks = set()
        if self.tag_every:
            first = -(-self.k // self.tag_every) * self.tag_every
            marks.update(range(first, self.k + len(out), self.tag_every))
        if self.tag_edges and len(out):
            marks.update((self.k, self.k + len(out) - 1))
        for t in sorted(marks):
            self.add_item_tag(0, t, pmt.intern("k"), pmt.from_long(t))
        self.tagged.extend(sorted(marks))
        self.k += len(out)
        return len(out)


def ramp(first, n):
    k = np.arange(first, first + n, dtype=np.float32)
    return k - 1j * k


@contextlib.contextmanager
def ramp_running(snk):
    """A flowgraph ramp_c() -> snk, started; stopped (stop() and wait()) on
    the way out. Yields the top block."""
    tb = gr.top_block()
    src = ramp_c()  # referenced here: GNU Radio does not keep a Python block alive
    tb.connect(src, snk)
    tb.start()
    try:
        yield tb
    finally:
        tb.stop()
        tb.wait()


# One run of a flowgraph into a Buffer Sink in a child process, for its log:
# argv[1] names the case below. Prints "zero_copy <bool>" at the end.
CASE = """
import sys
import numpy as np
from gnuradio import blocks, doppler, gr
from doppler import buffer as b
from doppler_testing import Drainer
case = sys.argv[1]
tb = gr.top_block()
n = 20 * 1024  # a multiple of the output multiple below
src = blocks.vector_source_c([1 + 1j] * n, False)
kw = dict(policy="block")
if case == "f32":
    buf = b.F32Buffer(1 << 15)
    snk = doppler.buffer_sink("f32", buffer=buf, **kw)
elif case == "sc16":
    buf = b.I16Buffer(1 << 15)
    src = blocks.vector_source_s([1, -1] * n, False, 2)
    snk = doppler.buffer_sink("i16", buffer=buf, sc16=True, **kw)
elif case == "forced":
    buf = b.F32Buffer(1 << 15)
    snk = doppler.buffer_sink("f32", buffer=buf, zero_copy=False, **kw)
elif case == "f64":
    buf = b.F64Buffer(1 << 15)
    snk = doppler.buffer_sink("f64", buffer=buf, **kw)
elif case == "i16":
    buf = b.I16Buffer(1 << 15)
    snk = doppler.buffer_sink("i16", buffer=buf, **kw)
elif case == "drop":
    buf = b.F32Buffer(1 << 15)
    snk = doppler.buffer_sink("f32", buffer=buf, policy="drop")
elif case == "two_readers":
    buf = b.F32Buffer(1 << 15)
    snk = doppler.buffer_sink("f32", buffer=buf, **kw)
    other = blocks.vector_sink_c()
    tb.connect(src, other)
elif case == "output_multiple":
    buf = b.F32Buffer(512)
    snk = doppler.buffer_sink("f32", buffer=buf, **kw)
    cp = blocks.copy(gr.sizeof_gr_complex)
    cp.set_output_multiple(1024)
    tb.connect(src, cp)
    src = cp
tb.connect(src, snk)
reader = Drainer(buf, 256, timeout=30)
reader.start()
tb.run()
reader.join()
if reader.error:
    raise reader.error
got = reader.result
assert len(got) == n and (got == got[0]).all(), "data"
if case == "two_readers":
    assert len(other.data()) == n, "the other reader"
print("zero_copy", snk.zero_copy(), flush=True)
"""


def run_case(case):
    """(zero_copy(), the sink's path lines from the log) of one CASE run."""
    child = subprocess.run([sys.executable, "-c", CASE, case],
                           capture_output=True, text=True, timeout=LONG * 2)
    if child.returncode != 0:
        raise AssertionError(f"case {case} failed:\n{child.stdout}\n{child.stderr}")
    zc = child.stdout.split()[-1] == "True"
    lines = [line for line in (child.stdout + child.stderr).splitlines() if " path" in line]
    return zc, lines


class qa_buffer_sink_zero_copy(gr_unittest.TestCase):

    # --- which path, and saying so -------------------------------------------------

    def test_the_property_and_one_log_line_say_which_path_runs(self):
        cases = {
            # case: (zero-copy?, words the log line must have)
            "f32": (True, "zero-copy path: vector_source"),
            "sc16": (True, "zero-copy path: vector_source"),
            "forced": (False, "copy path (the sink copies each chunk into the ring): "
                              "zero_copy=False"),
            "f64": (False, "copy path (the sink copies each chunk into the ring): type f64"),
            "i16": (False, "copy path (the sink copies each chunk into the ring): type i16 "
                           "without sc16"),
            "drop": (False, "copy path (the sink copies each chunk into the ring): policy drop"),
            "two_readers": (False, "also feeds 1 other block(s)"),
            "output_multiple": (False, "(512 samples) is smaller than twice copy0's output multiple (1024)"),
        }
        for case, (zero_copy, words) in cases.items():
            with self.subTest(case=case):
                zc, lines = run_case(case)
                self.assertEqual(zc, zero_copy)
                self.assertEqual(len(lines), 1, lines)  # one info line per run
                self.assertIn(":info:", lines[0])
                self.assertIn(words, lines[0])

    def test_the_property_is_false_before_the_first_run(self):
        snk = doppler.buffer_sink("f32", buffer=doppler.buffer.F32Buffer(4096), policy="block")
        self.assertFalse(snk.zero_copy())

    # --- the upstream block writes into the ring --------------------------------------

    def check_writes_into_the_ring(self, zero_copy):
        """A Python block feeding the sink: the output buffers GNU Radio gives
        it lie inside the ring's (double) mapping on the zero-copy path, and
        outside it on the copy path."""
        buf = doppler.buffer.F32Buffer(8192)
        n = 20000
        src = ramp_c(n)
        snk = doppler.buffer_sink("f32", buffer=buf, policy="block", zero_copy=zero_copy)
        tb = gr.top_block()
        tb.connect(src, snk)
        got = []
        lo = []

        def consume():
            for v in views(buf, 1000, LONG):
                # The ring's first slot, from a view of slot read_index % capacity.
                lo.append(v.ctypes.data - (buf.read_index % buf.capacity) * 8)
                got.append(np.array(v))

        self.assertTrue(run_while(tb, consume), "the reader never ended")
        np.testing.assert_array_equal(np.concatenate(got), ramp(0, n))
        self.assertEqual(snk.zero_copy(), zero_copy)
        base = lo[0]
        self.assertTrue(all(x == base for x in lo))
        inside = base <= src.lowest and src.highest <= base + 2 * buf.capacity * 8
        return inside

    def test_the_upstream_block_writes_straight_into_the_ring(self):
        self.assertTrue(self.check_writes_into_the_ring(zero_copy=True))

    def test_on_the_copy_path_the_upstream_block_writes_elsewhere(self):
        self.assertFalse(self.check_writes_into_the_ring(zero_copy=False))

    def check_tags(self, zero_copy, src=None):
        """ramp_c tagging every 1000th sample k with ("k", k) -> sink -> a
        reader thread collecting the tags of each window."""
        buf = doppler.buffer.F32Buffer(8192)
        src = src or ramp_c(50_000, tag_every=1000)
        snk = doppler.buffer_sink("f32", buffer=buf, policy="block", zero_copy=zero_copy)
        tb = gr.top_block()
        tb.connect(src, snk)
        seen = []

        def consume():
            for _ in views(buf, 700, LONG):
                seen.extend((t.index, t.key, t.value) for t in buf.tags() if t.key == "k")

        self.assertTrue(run_while(tb, consume), "the reader never ended")
        self.assertEqual(snk.zero_copy(), zero_copy)
        return seen

    def test_tags_travel_with_the_samples_on_the_zero_copy_path_as_on_the_copy_path(self):
        want = [(k, "k", k) for k in range(0, 50_000, 1000)]
        self.assertEqual(self.check_tags(zero_copy=True), want)
        self.assertEqual(self.check_tags(zero_copy=False), want)

    def test_tags_on_the_first_and_last_item_of_each_chunk_arrive_once_on_their_sample(self):
        # A tag on the first item past a chunk belongs to the next chunk only.
        src = ramp_c(50_000, tag_edges=True)
        seen = self.check_tags(zero_copy=True, src=src)
        self.assertEqual(seen, [(k, "k", k) for k in src.tagged])
        self.assertGreater(len(seen), 4)

    def test_sample_k_arrives_as_k_in_another_process_for_ten_million_samples(self):
        """Block policy, a 64 Ki-sample ring and a reader in another process
        that is slow for its first 1000 windows (the ring is full all that
        time, the upstream block held back): every sample arrives once, in
        order, nothing dropped."""
        name = ring_name("zc-xproc")
        n = 10_000_000
        snk = doppler.buffer_sink("f32", name, 1 << 16, "block")  # creates the ring
        consumer = ramp_consumer(name, 4096, slow=1000)
        tb = gr.top_block()
        src = ramp_c(n)  # referenced here: GNU Radio does not keep a Python block alive
        tb.connect(src, snk)
        tb.run()
        out, _ = consumer.communicate(timeout=LONG * 3)
        self.assertEqual(consumer.returncode, 0)
        self.assertEqual(out.split(), [str(n), "0"])
        self.assertTrue(snk.zero_copy())
        self.assertEqual(snk.dropped(), 0)
        self.assertEqual(snk.written(), n)

    # --- tethered readers hold the upstream block back ------------------------------

    def test_a_window_held_by_a_tethered_reader_is_never_written_over(self):
        """Two tethered readers; the named one holds a whole ring's worth for
        a while and the default one is as far ahead as the ring allows: the
        upstream block writes nothing over the held window, and both read
        the ramp in order afterwards."""
        name = ring_name("zc-held")
        cap = 4096
        snk = doppler.buffer_sink("f32", name, cap, "block")
        fast = doppler.buffer.F32Buffer.attach(name)
        slow = doppler.buffer.F32Buffer.attach(name, reader="slow")
        with ramp_running(snk):
            held = slow.wait(cap, timeout=LONG)  # a full ring, held
            kept = np.array(held)
            np.testing.assert_array_equal(kept, ramp(0, cap))
            # The fast reader takes the rest of the ring: the upstream block
            # then has no room left behind the slow reader.
            got = np.array(fast.wait(cap, timeout=LONG))
            fast.consume()
            time.sleep(0.3)
            self.assertEqual(snk.written(), cap)  # held back
            np.testing.assert_array_equal(np.array(held), kept)  # nothing written over
            self.assertEqual(fast.available, 0)
            slow.consume()
            # Room again: both continue with the next samples.
            more = np.array(fast.wait(cap, timeout=LONG))
            fast.consume()
            np.testing.assert_array_equal(np.concatenate([got, more]), ramp(0, 2 * cap))
            np.testing.assert_array_equal(np.array(slow.wait(cap, timeout=LONG)), ramp(cap, cap))
            slow.consume()
            self.assertTrue(snk.zero_copy())
        for b in (slow, fast):
            b.destroy()

    def test_an_untethered_reader_lapped_while_holding_a_window_is_told(self):
        """An untethered reader holds a window while the default reader keeps
        the stream going: the upstream block writes over that window, and
        consume() reports it (the horizon the upstream block announces), as
        on the copy path."""
        name = ring_name("zc-lapped")
        cap = 4096
        snk = doppler.buffer_sink("f32", name, cap, "block")
        peek = doppler.buffer.F32Buffer.attach(name, reader="peek", tethered=False)
        main = doppler.buffer.F32Buffer.attach(name)
        with ramp_running(snk):
            peek.wait(1024, timeout=LONG)  # held from here on
            # The default reader reads three rings' worth: the producer laps
            # the held window.
            got = 0
            while got < 3 * cap:
                main.wait(1024, timeout=LONG)
                main.consume()
                got += 1024
            self.assertEqual(peek.consume(1024), 1024)  # all of it was overwritten
            self.assertGreaterEqual(peek.skipped, 1024)
            self.assertTrue(snk.zero_copy())
        for b in (peek, main):
            b.destroy()

    # --- GNU Radio's hand-off to the sink ------------------------------------------

    def test_the_sink_takes_small_chunks_from_gnu_radio_in_batches(self):
        """A throttled upstream block hands over 1024 items per work() call;
        the zero-copy sink's work() (which only gives GNU Radio its room back)
        takes them a batch at a time (up to an eighth of the ring or 10 ms'
        worth, here 131072), not chunk by chunk, and nothing is lost or late for the
        reader, which has every sample from the upstream block's thread."""
        n = 2_000_000
        buf = doppler.buffer.F32Buffer(1 << 20)
        src = ramp_c(n)
        throttle = blocks.throttle(gr.sizeof_gr_complex, 20e6, True)
        throttle.set_max_noutput_items(1024)
        snk = doppler.buffer_sink("f32", buffer=buf, policy="block")
        was = os.environ.get("GR_CONF_PERFCOUNTERS_ON")
        os.environ["GR_CONF_PERFCOUNTERS_ON"] = "True"  # read when the flowgraph starts
        try:
            tb = gr.top_block()
            tb.connect(src, throttle, snk)
            got = []

            def consume():
                while True:
                    try:
                        got.append(np.array(buf.wait(min(8192, buf.capacity), timeout=LONG)))
                    except EOFError:
                        if buf.available:
                            got.append(np.array(buf.wait(buf.available)))
                            buf.consume()
                        return
                    buf.consume()

            self.assertTrue(run_while(tb, consume), "the reader never ended")
        finally:
            if was is None:
                del os.environ["GR_CONF_PERFCOUNTERS_ON"]
            else:
                os.environ["GR_CONF_PERFCOUNTERS_ON"] = was
        self.assertTrue(snk.zero_copy())
        np.testing.assert_array_equal(np.concatenate(got), ramp(0, n))
        self.assertLessEqual(throttle.pc_noutput_items_avg(), 1024)
        self.assertGreater(snk.pc_noutput_items_avg(), 4 * 1024)

    # --- stopping ----------------------------------------------------------------

    def test_stop_returns_with_the_upstream_block_waiting_for_room(self):
        """No reader consumes: the upstream block (a Python block here) waits
        for room in the ring; stop() and wait() return, and the ring ends
        with the samples published before."""
        name = ring_name("zc-stop")
        snk = doppler.buffer_sink("f32", name, 4096, "block")
        buf = doppler.buffer.F32Buffer.attach(name)
        tb = gr.top_block()
        src = ramp_c()  # referenced here: GNU Radio does not keep a Python block alive
        tb.connect(src, snk)
        tb.start()
        until(lambda: buf.available == 4096, "the ring full")
        t = threading.Thread(target=lambda: (tb.stop(), tb.wait()), daemon=True)
        t.start()
        t.join(LONG)
        self.assertFalse(t.is_alive())
        self.assertTrue(buf.closed)
        self.assertTrue(snk.zero_copy())
        np.testing.assert_array_equal(drain(buf), ramp(0, 4096))
        buf.destroy()

    def test_lock_and_unlock_restart_the_zero_copy_path(self):
        """tb.lock()/unlock() stops and restarts every block; GNU Radio keeps
        the upstream block's buffer (ours, from the first run) and the sink
        puts a fresh one over the next run's ring: the ramp goes on there, on
        the zero-copy path again. (The consumer leaves before the restart: a
        ring a consumer still holds cannot be reopened by name after its
        stream ended, on either path.)"""
        name = ring_name("zc-relock")
        snk = doppler.buffer_sink("f32", name, 4096, "block")
        with ramp_running(snk) as tb:
            buf = doppler.buffer.F32Buffer.attach(name, timeout=LONG)
            np.testing.assert_array_equal(np.array(buf.wait(1000, timeout=LONG)),
                                          ramp(0, 1000))
            buf.destroy()
            tb.lock()
            tb.unlock()
            again = doppler.buffer.F32Buffer.attach(name, timeout=LONG)
            nxt = np.array(again.wait(1000, timeout=LONG))
            again.consume()
            # A later stretch of the ramp, in order.
            self.assertGreaterEqual(nxt[0].real, 1000)
            np.testing.assert_array_equal(nxt, ramp(int(nxt[0].real), 1000))
            self.assertTrue(snk.zero_copy())
        np.testing.assert_array_equal(drain(again)[:10], ramp(int(nxt[-1].real) + 1, 10))
        again.destroy()


if __name__ == "__main__":
    if os.environ.get("DOPPLER_QA_SINK_PATH", "zero-copy") != "zero-copy":
        sys.exit("qa_buffer_sink_zero_copy tests the zero-copy path only")
    gr_unittest.run(qa_buffer_sink_zero_copy)
