#!/usr/bin/python3
# SPDX-License-Identifier: GPL-3.0-or-later
"""QA of doppler.buffer_sink: flowgraph -> ring -> Python wait() in this process.

Every test runs on both of the sink's paths: see SINK_PATH below."""

import errno
import os
import re
import subprocess
import sys

import numpy as np
from gnuradio import blocks, doppler, gr, gr_unittest

from doppler_testing import (LONG, VARIANTS, Drainer, check_by_name_both_ways, complex_input, drain, log_lines_with,
                             next_line, ramp_consumer, ring_name, shm_exists, stops, to_i16, until)

# Every test here runs once per sink path (CTest registers this file twice):
# DOPPLER_QA_SINK_PATH=zero-copy (the default) makes each sink with
# zero_copy=True, and the tests whose overflow policy does not matter use
# policy "block", so every f32 and sc16 sink takes the zero-copy path;
# DOPPLER_QA_SINK_PATH=copy makes each sink with zero_copy=False. After a
# run, the tests check which path the sink took (sink.zero_copy()).
SINK_PATH = os.environ.get("DOPPLER_QA_SINK_PATH", "zero-copy")
if SINK_PATH not in ("zero-copy", "copy"):
    raise SystemExit("DOPPLER_QA_SINK_PATH must be zero-copy or copy, got %r" % SINK_PATH)
ZERO_COPY = SINK_PATH == "zero-copy"
# The policy of tests that do not exercise overflow: "block" lets the sink
# take the zero-copy path, "drop" is what they always used.
ANY_POLICY = "block" if ZERO_COPY else "drop"


def make_sink(*args, **kw):
    """doppler.buffer_sink with this run's zero_copy."""
    kw.setdefault("zero_copy", ZERO_COPY)
    return doppler.buffer_sink(*args, **kw)


def zero_copy_expected(variant, policy):
    """Whether a sink of this variant and policy, fed by a plain block that it
    alone reads, takes the zero-copy path in this run."""
    return ZERO_COPY and policy == "block" and variant in ("f32", "sc16")


def first_line(proc):
    """The next line of proc's stdout that is not one of GNU Radio's log lines
    (the sink logs its path there when the flowgraph starts); "" at its end."""
    while line := next_line(proc):
        if not re.match(r"\S+ :(trace|debug|info|warning|error|critical): ", line):
            return line
    return ""


def source_for(variant, n, seed=1):
    """(GNU Radio source block, what the ring must then hold)."""
    x = complex_input(n, seed)
    if variant == "sc16":
        raw = to_i16(x)
        return blocks.vector_source_s(raw.ravel().tolist(), False, 2), raw
    expected = {"f32": x, "f64": x.astype(np.complex128), "i16": to_i16(x)}[variant]
    return blocks.vector_source_c(x.tolist(), False), expected


class qa_buffer_sink(gr_unittest.TestCase):

    def run_into(self, variant, ring, n, policy=ANY_POLICY, capacity=4096):
        """vector_source -> buffer_sink(ring) -> run to completion. Returns the sink."""
        btype, sc16, _ = VARIANTS[variant]
        src, expected = source_for(variant, n)
        where = {"name": ring} if isinstance(ring, str) else {"buffer": ring}
        snk = make_sink(btype, capacity=capacity, policy=policy, sc16=sc16, **where)
        self.assertFalse(snk.zero_copy())  # no run yet
        tb = gr.top_block()
        tb.connect(src, snk)
        tb.run()
        self.assertEqual(snk.zero_copy(), zero_copy_expected(variant, policy))
        return snk, expected

    # --- same process, doppler.buffer object --------------------------------

    def check_buffer_object(self, variant):
        buf = VARIANTS[variant][2](4096)
        n = 3000
        snk, expected = self.run_into(variant, buf, n)
        self.assertEqual(snk.written(), n)
        self.assertEqual(snk.dropped(), 0)
        np.testing.assert_array_equal(np.array(buf.wait(n)), expected)
        buf.consume(n)
        # The sink closed the ring when the flowgraph finished.
        self.assertTrue(buf.closed)
        with self.assertRaises(EOFError):
            buf.wait(1)

    def test_buffer_object_f32(self):
        self.check_buffer_object("f32")

    def test_buffer_object_f64(self):
        self.check_buffer_object("f64")

    def test_buffer_object_i16(self):
        self.check_buffer_object("i16")

    def test_buffer_object_sc16(self):
        self.check_buffer_object("sc16")

    def test_a_closed_buffer_object_is_refused_and_a_ring_name_starts_the_next_stream(self):
        # A buffer object that closed its own stream is done for good: a sink
        # on it must not start. A sink given the ring's name is a new
        # producer: it starts the ring's next stream.
        name = ring_name("closed")
        buf = doppler.buffer.F32Buffer(1024, name=name)
        reader = doppler.buffer.F32Buffer.attach(name)
        self.assertTrue(buf.write(np.ones(10, np.complex64)))
        buf.close()
        with self.assertRaisesRegex(ValueError, "is closed"):
            make_sink("f32", buffer=buf)
        buf.destroy()  # gives up the producer role it kept after close()
        snk = make_sink("f32", name=name, policy="block")
        tb = gr.top_block()
        tb.connect(blocks.vector_source_c([2j] * 100, False), snk)
        tb.run()
        self.assertTrue((np.array(reader.wait(10)) == 1).all())
        self.assertEqual(reader.stream, 1)
        reader.consume()
        with self.assertRaises(EOFError):
            reader.wait(1)
        self.assertTrue((np.array(reader.wait(100, timeout=LONG)) == 2j).all())
        self.assertEqual(reader.stream, 2)
        reader.destroy()
        self.assertFalse(shm_exists(name))

    def test_scale(self):
        buf = doppler.buffer.I16Buffer(1024)
        x = np.array([0.5 + 0.25j, -1 + 1j], dtype=np.complex64)
        snk = make_sink("i16", buffer=buf, scale=1000.0)
        tb = gr.top_block()
        tb.connect(blocks.vector_source_c(x.tolist()), snk)
        tb.run()
        np.testing.assert_array_equal(np.array(buf.wait(2)), [[500, 250], [-1000, 1000]])

    # --- by name: either side creates the ring ------------------------------

    # The cases of qa_buffer_source.py's check_by_name seen from the other end
    # of the ring (check_by_name_both_ways runs both).
    def check_by_name(self, variant, consumer_first):
        btype, sc16, cls = VARIANTS[variant]
        name = ring_name("sink-" + variant)
        n = 3000
        if consumer_first:
            buf = cls(4096, name=name)
            snk, expected = self.run_into(variant, name, n, capacity=999)  # capacity: the ring's wins
        else:
            src, expected = source_for(variant, n)
            snk = make_sink(type=btype, name=name, capacity=4096, policy=ANY_POLICY, sc16=sc16)
            buf = cls.attach(name)
            tb = gr.top_block()
            tb.connect(src, snk)
            tb.run()
            # The sink created the ring and ended its stream when it stopped;
            # this consumer is still attached, so the name stays.
            self.assertTrue(shm_exists(name))
        self.assertEqual(buf.capacity, 4096)
        np.testing.assert_array_equal(drain(buf), expected)
        return buf, name

    def test_by_name(self):
        check_by_name_both_ways(self, self.check_by_name, "consumer_first")

    # --- overflow policies ---------------------------------------------------

    def test_drop_counts_exactly(self):
        for variant in VARIANTS:
            with self.subTest(variant=variant):
                cls = VARIANTS[variant][2]
                buf = cls(1)  # the page minimum: 512 / 256 / 1024 samples
                offered = 20 * buf.capacity + 123
                snk, _ = self.run_into(variant, buf, offered, policy="drop")
                # Nobody consumed: the ring filled, every other chunk was refused.
                self.assertEqual(buf.available, snk.written())
                self.assertGreater(snk.dropped(), 0)
                self.assertEqual(snk.written() + snk.dropped(), offered)
                self.assertEqual(buf.dropped, snk.dropped())

    def test_block_policy_is_lossless(self):
        for variant in VARIANTS:
            with self.subTest(variant=variant):
                cls = VARIANTS[variant][2]
                buf = cls(1)  # far smaller than the stream: the sink must wait
                n = 200 * buf.capacity + 7
                consumer = Drainer(buf, chunk=100)
                consumer.start()
                snk, expected = self.run_into(variant, buf, n, policy="block")
                consumer.join(30)
                self.assertFalse(consumer.is_alive())
                self.assertIsNone(consumer.error)
                np.testing.assert_array_equal(consumer.result, expected)
                self.assertEqual(snk.dropped(), 0)

    def test_block_policy_waits_for_a_late_consumer(self):
        buf = doppler.buffer.F32Buffer(512)
        n = 20000
        src, expected = source_for("f32", n)
        snk = make_sink("f32", buffer=buf, policy="block")
        tb = gr.top_block()
        tb.connect(src, snk)
        tb.start()
        # The ring fills and the sink waits, losing nothing...
        while buf.available < buf.capacity:
            buf.wait(buf.capacity, timeout=10)  # raises TimeoutError if it never fills
        self.assertEqual(snk.dropped(), 0)
        # ...until a consumer shows up.
        got = drain(buf, chunk=100)
        tb.wait()
        np.testing.assert_array_equal(got, expected)
        self.assertEqual(snk.zero_copy(), ZERO_COPY)

    # --- across processes -----------------------------------------------------

    def test_cross_process_block_policy_every_sample(self):
        name = ring_name("xproc")
        n = 2_000_000
        seq = np.arange(n, dtype=np.float32)
        snk = make_sink("f32", name, 4096, "block")  # creates the ring
        consumer = ramp_consumer(name, 1024)
        tb = gr.top_block()
        tb.connect(blocks.vector_source_c((seq - 1j * seq).tolist()), snk)
        tb.run()
        out, _ = consumer.communicate(timeout=60)
        self.assertEqual(consumer.returncode, 0)
        self.assertEqual(out.split(), [str(n), "0"])
        self.assertEqual(snk.dropped(), 0)
        self.assertEqual(snk.zero_copy(), ZERO_COPY)

    # --- stopping --------------------------------------------------------------

    def test_stop_while_waiting_for_space(self):
        name = ring_name("stop")
        tb = gr.top_block()
        snk = make_sink("f32", name, 512, "block")
        buf = doppler.buffer.F32Buffer.attach(name)
        tb.connect(blocks.null_source(gr.sizeof_gr_complex), snk)
        # Stopped while it waits for room (the ring is full).
        self.assertTrue(stops(tb, ready=lambda: buf.available == 512))
        self.assertEqual(snk.zero_copy(), ZERO_COPY)
        # Stopped: the stream is closed; the name stays while this consumer
        # is attached and goes with it.
        self.assertTrue(buf.closed)
        self.assertTrue(shm_exists(name))
        self.assertEqual(buf.available, 512)
        self.assertEqual(buf.missed_wakes, 0)
        buf.destroy()
        self.assertFalse(shm_exists(name))

    # --- a peer killed ---------------------------------------------------------------

    def test_block_policy_waits_for_a_successor_when_the_consumer_is_killed(self):
        """Block policy, consumer in another process killed with SIGKILL: the
        flowgraph keeps waiting (it neither ends nor drops), and a consumer
        that attaches later continues at the first unconsumed sample; every
        sample arrives once, in order (docs/cross-process.md)."""
        import signal
        import subprocess
        import sys
        name = ring_name("kill")
        n, first = 100_000, 30_000
        seq = np.arange(n, dtype=np.float32)
        snk = make_sink("f32", name, 4096, "block")  # creates the ring
        tb = gr.top_block()
        tb.connect(blocks.vector_source_c((seq - 1j * seq).tolist()), snk)
        consumer = subprocess.Popen(
            [sys.executable, "-c",
             "import sys, time, numpy as np; from doppler import buffer as b\n"
             "r = b.F32Buffer.attach(sys.argv[1], timeout=60); k = 0\n"
             "while k < int(sys.argv[2]):\n"
             "    v = r.wait(1000, timeout=60)\n"
             "    assert (v.real == np.arange(k, k + 1000)).all(), k\n"
             "    r.consume(); k += 1000\n"
             "print(k, flush=True)\n"
             "time.sleep(600)  # killed here, holding the consumer role\n",
             name, str(first)],
            stdout=subprocess.PIPE, text=True)
        tb.start()
        try:
            self.assertEqual(next_line(consumer), str(first))
            consumer.send_signal(signal.SIGKILL)
            consumer.wait(LONG)
            buf = doppler.buffer.F32Buffer.attach(name)
            # The sink filled the ring behind the dead consumer and waits.
            until(lambda: buf.written == first + buf.capacity, "the sink filling the ring")
            self.assertFalse(buf.closed)  # still running, waiting for a consumer
            self.assertEqual(buf.read_index, first)
            got = drain(buf, chunk=1000, timeout=LONG)  # the successor
            np.testing.assert_array_equal(got.real, seq[first:])
            tb.wait()
            self.assertEqual(snk.dropped(), 0)
            self.assertEqual(buf.missed_wakes, 0)
            self.assertEqual(snk.zero_copy(), ZERO_COPY)
            buf.destroy()
        finally:
            if consumer.poll() is None:
                consumer.kill()
            tb.stop()
            tb.wait()

    # --- drop warnings -----------------------------------------------------------------

    def test_a_sink_held_back_for_seconds_says_once_which_reader_holds_it(self):
        """Block policy, nobody reading: after about 2 s of a full ring the
        sink logs, once, that it waits and what for (the default reader,
        which no process reads, and what to do about it)."""
        name = ring_name("stalled")
        said = log_lines_with(
            "import sys\n"
            "from gnuradio import blocks, doppler, gr\n"
            "tb = gr.top_block()\n"
            "snk = doppler.buffer_sink('f32', sys.argv[1], 4096, 'block', zero_copy=%r)\n" % ZERO_COPY +
            "tb.connect(blocks.null_source(gr.sizeof_gr_complex), snk)\n"
            "tb.start()\n"
            "sys.stdin.read()\n"
            "tb.stop(); tb.wait()\n", [name], "has been full")
        self.assertEqual(len(said), 1, said)
        self.assertIn(f"ring '{name}' has been full for 2 s and the flowgraph waits for room "
                      "(policy 'block'): held back by the default reader (4096 of 4096 samples "
                      "unread; no process reads it; a ring's default reader is always waited "
                      "for: one consumer must read without a reader name)", said[0])

    def test_drop_warnings_come_at_most_once_a_second(self):
        """Drop policy, nobody consuming, a source far faster than that: the
        sink drops all the time but warns at most once a second. Counted
        over a run whose length the test measures (a warning per drop would
        be thousands)."""
        import subprocess
        import sys
        child = subprocess.run(
            [sys.executable, "-c",
             "import sys, time\n"
             "from gnuradio import blocks, doppler, gr\n"
             "from doppler import buffer as b\n"
             "buf = b.F32Buffer(512)\n"
             "tb = gr.top_block()\n"
             "snk = doppler.buffer_sink('f32', buffer=buf, policy='drop', zero_copy=%r)\n"
             % ZERO_COPY +
             "tb.connect(blocks.null_source(gr.sizeof_gr_complex), snk)\n"
             "t0 = time.monotonic(); tb.start()\n"
             "while snk.dropped() == 0 or time.monotonic() - t0 < 2.5:\n"
             "    time.sleep(0.05)\n"
             "tb.stop(); tb.wait()\n"
             "print('elapsed', time.monotonic() - t0, 'dropped', snk.dropped(), flush=True)\n"],
            capture_output=True, text=True, timeout=LONG * 2)
        self.assertEqual(child.returncode, 0, child.stderr)
        words = next(l for l in child.stdout.splitlines() if l.startswith("elapsed")).split()
        elapsed, dropped = float(words[1]), int(words[3])
        warnings = [l for l in (child.stdout + child.stderr).splitlines() if "dropped" in l and "full" in l]
        self.assertGreater(dropped, 100_000)  # it dropped all along...
        self.assertGreaterEqual(len(warnings), 1)  # ...said so...
        self.assertLessEqual(len(warnings), int(elapsed) + 1, warnings)  # ...at most once a second

    # --- bad arguments -----------------------------------------------------------

    def test_bad_arguments(self):
        with self.assertRaisesRegex(ValueError, "type"):
            make_sink("c32", ring_name("bad"))
        with self.assertRaisesRegex(ValueError, "policy"):
            make_sink("f32", ring_name("bad"), policy="wait")
        with self.assertRaisesRegex(ValueError, "name"):
            make_sink("f32", "../etc")
        with self.assertRaisesRegex(ValueError, "capacity"):
            make_sink("f32", ring_name("bad"), capacity=0)
        with self.assertRaisesRegex(ValueError, "sc16"):
            make_sink("f32", ring_name("bad"), sc16=True)
        with self.assertRaisesRegex(TypeError, "f64"):
            make_sink("f32", buffer=doppler.buffer.F64Buffer(256))
        with self.assertRaises(TypeError):
            make_sink("f32", 42)
        name = ring_name("type")
        with doppler.buffer.I16Buffer(1024, name=name):
            with self.assertRaisesRegex(TypeError, "i16"):
                make_sink("f32", name)

    def test_second_producer_in_another_process_is_refused(self):
        import subprocess
        import sys
        name = ring_name("busy")
        buf = doppler.buffer.F32Buffer(512, name=name)
        holder = subprocess.Popen(
            [sys.executable, "-c",
             "import sys, numpy as np; from doppler import buffer as b\n"
             "r = b.F32Buffer.attach(sys.argv[1]); r.write(np.zeros(1, np.complex64))\n"
             "print('ok', flush=True); sys.stdin.read()", name],
            stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
        try:
            self.assertEqual(next_line(holder), "ok")
            with self.assertRaises(OSError) as cm:
                make_sink("f32", name)
            self.assertEqual(cm.exception.errno, errno.EBUSY)
            self.assertIn(str(holder.pid), str(cm.exception))
        finally:
            holder.communicate("")
        buf.destroy()

    def test_two_sinks_on_one_name_in_one_script_are_refused(self):
        # Roles belong to handles: the second sink is a second producer.
        name = ring_name("twice")
        first = make_sink("f32", name)
        with self.assertRaises(OSError) as cm:
            make_sink("f32", name)
        self.assertEqual(cm.exception.errno, errno.EBUSY)
        self.assertIn("another handle in this same process (pid %d)" % os.getpid(),
                      str(cm.exception))
        buf = doppler.buffer.F32Buffer(4096)
        second = make_sink("f32", buffer=buf)
        with self.assertRaises(OSError):  # a second sink on one buffer object shares its handle
            make_sink("f32", buffer=doppler.buffer.F32Buffer.attach(name))
        del first, second

    # --- running the flowgraph again ----------------------------------------------

    def start_consumer(self, name, create, streams):
        """STREAMS_CONSUMER in another process, attached (or, with create, the
        ring's creator) before this returns."""
        consumer = subprocess.Popen([sys.executable, "-c", STREAMS_CONSUMER, name,
                                     "create" if create else "attach", str(streams)],
                                    stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        self.assertEqual(next_line(consumer), "attached")
        return consumer

    def streams_seen(self, consumer):
        """The consumer's report: one (stream, run, count, end) per stream."""
        out, err = consumer.communicate(timeout=LONG * 2)
        self.assertEqual(consumer.returncode, 0, err)
        return [(int(s), int(r), int(c), end) for s, r, c, end in (line.split() for line in out.splitlines())]

    def test_a_consumer_in_another_process_stays_attached_across_three_runs_of_one_top_block(self):
        """One top block, three runs (run(); start()/wait(); start() then
        stop() mid-stream), into a ring the consumer created: the consumer
        never attaches again. It gets every sample of each run in order, an
        EOFError between runs, one stream per run (buf.stream + 1 each
        time), and no view holds samples of two runs."""
        name = ring_name("runs")
        consumer = self.start_consumer(name, create=True, streams=3)
        try:
            n = 30_000
            src = blocks.vector_source_c(run_samples(1), True)
            head = blocks.head(gr.sizeof_gr_complex, n)
            snk = make_sink("f32", name, 999, "block")  # attaches: the consumer's ring
            tb = gr.top_block()
            tb.connect(src, head, snk)
            tb.run()  # run 1: to the end of its input
            src.set_data(run_samples(2))
            head.reset()
            tb.start()  # run 2: start, then wait for the end of its input
            tb.wait()
            src.set_data(run_samples(3))
            head.set_length(1 << 62)
            head.reset()
            before = snk.written()
            tb.start()  # run 3: stopped while it streams
            until(lambda: snk.written() > before + 3 * 4096, "run 3 streaming")
            tb.stop()
            tb.wait()
            third = snk.written() - before
            seen = self.streams_seen(consumer)
        finally:
            if consumer.poll() is None:
                consumer.kill()
                consumer.communicate()
        first = seen[0][0]
        self.assertEqual(seen, [(first, 1, n, "EOFError"), (first + 1, 2, n, "EOFError"),
                                (first + 2, 3, third, "EOFError")])
        self.assertEqual(snk.dropped(), 0)
        self.assertEqual(snk.zero_copy(), ZERO_COPY)
        self.assertFalse(shm_exists(name))  # the consumer, its creator, left last

    def check_a_flowgraph_process_per_run(self, consumer_creates, runs):
        """A flowgraph process per run (FLOWGRAPH), `runs` of them: n > 0 runs
        to the end of its input, n == 0 streams until it is killed with
        SIGKILL. The consumer stays attached throughout."""
        name = ring_name("procs")
        consumer = self.start_consumer(name, create=consumer_creates, streams=len(runs)) \
            if consumer_creates else None
        watch = None
        try:
            for run, n in enumerate(runs, 1):
                fg = subprocess.Popen([sys.executable, "-c", FLOWGRAPH, name, str(run), str(n), SINK_PATH],
                                      stdout=subprocess.PIPE, text=True)
                with fg:
                    self.assertEqual(first_line(fg), "running")
                    if consumer is None:  # the first flowgraph created the ring
                        consumer = self.start_consumer(name, create=False, streams=len(runs))
                    if watch is None:
                        watch = doppler.buffer.F32Buffer.attach(name)  # no role: reads counters
                    if n:
                        self.assertEqual(fg.wait(timeout=LONG), 0)
                    else:  # killed mid-run, once the consumer has had some of it
                        mark = watch.written
                        until(lambda: watch.read_index > mark + 3 * 4096, f"run {run} streaming")
                        fg.kill()
                        fg.wait()
            watch.destroy()
            seen = self.streams_seen(consumer)
        finally:
            if consumer is not None and consumer.poll() is None:
                consumer.kill()
                consumer.communicate()
        self.assertFalse(shm_exists(name))  # the last party to leave removed it
        return seen

    def test_a_consumer_stays_attached_across_three_flowgraph_processes_ring_made_by_the_consumer(self):
        seen = self.check_a_flowgraph_process_per_run(True, [20_000, 30_000, 10_000])
        first = seen[0][0]
        self.assertEqual(seen, [(first, 1, 20_000, "EOFError"), (first + 1, 2, 30_000, "EOFError"),
                                (first + 2, 3, 10_000, "EOFError")])

    def test_a_consumer_stays_attached_across_three_flowgraph_processes_ring_made_by_the_flowgraph(self):
        seen = self.check_a_flowgraph_process_per_run(False, [20_000, 30_000, 10_000])
        self.assertEqual(seen, [(1, 1, 20_000, "EOFError"), (2, 2, 30_000, "EOFError"),
                                (3, 3, 10_000, "EOFError")])

    def test_a_flowgraph_killed_mid_run_ends_its_stream_broken_and_the_next_run_streams_cleanly(self):
        """The second of three flowgraph processes is killed with SIGKILL
        while it streams: the consumer gets all it published, then
        BrokenPipeError at the seam, then the third run from its first
        sample to EOFError, without attaching again."""
        seen = self.check_a_flowgraph_process_per_run(True, [20_000, 0, 10_000])
        first, killed = seen[0][0], seen[1][2]
        self.assertGreater(killed, 3 * 4096)
        self.assertEqual(seen, [(first, 1, 20_000, "EOFError"), (first + 1, 2, killed, "BrokenPipeError"),
                                (first + 2, 3, 10_000, "EOFError")])

    def test_start_after_stop_streams_again(self):
        # Block policy, a ring smaller than a run: each run's sink waits for
        # this consumer, so its ring is there to attach to.
        name = ring_name("restart")
        snk = make_sink("f32", name, 512, "block")
        tb = gr.top_block()
        src = blocks.vector_source_c([1 + 1j] * 3000, False)
        tb.connect(src, snk)
        for run in range(3):
            tb.start()
            buf = doppler.buffer.F32Buffer.attach(name, timeout=10)
            got = drain(buf, chunk=256)
            tb.stop()
            tb.wait()
            self.assertEqual(len(got), 3000, run)
            self.assertEqual(snk.zero_copy(), ZERO_COPY, run)
            buf.destroy()
            src.rewind()

    def test_a_rerun_with_a_closed_buffer_object_raises_at_start(self):
        buf = doppler.buffer.F32Buffer(4096)
        snk = make_sink("f32", buffer=buf)
        tb = gr.top_block()
        src = blocks.vector_source_c([1j] * 100, False)
        tb.connect(src, snk)
        tb.run()
        self.assertTrue(buf.closed)
        src.rewind()
        with self.assertRaisesRegex(ValueError, "is closed .*make a new buffer"):
            tb.run()
        self.assertEqual(buf.available, 100)  # nothing was written, nothing lost silently


# The samples of run r: sample k is (k mod RAMP) + 1j * r, so a consumer can
# tell runs apart and check that none is missing or out of order.
RAMP = 1 << 16


def run_samples(run):
    return (np.arange(RAMP, dtype=np.float32) + 1j * run).astype(np.complex64).tolist()


# Attached to ring argv[1] (argv[2] "create": its creator, 4096 samples),
# reads argv[3] streams without attaching again, prints "attached" first,
# then per stream "stream run count end": its number (buf.stream), the run
# its samples came from, how many, and how it ended (EOFError or
# BrokenPipeError). Fails unless every view holds one run's samples, k mod
# RAMP in order from 0, and buf.stream stays the same within a stream.
STREAMS_CONSUMER = """
import sys
import numpy as np
from doppler.buffer import F32Buffer
RAMP = 1 << 16
name, mode, streams = sys.argv[1], sys.argv[2], int(sys.argv[3])
buf = F32Buffer(4096, name=name) if mode == "create" else F32Buffer.attach(name, timeout=60)
print("attached", flush=True)
with buf:
    done, count, run, stream = 0, 0, None, None
    while done < streams:
        end = None
        try:
            v = buf.wait(1000, timeout=60)
        except (EOFError, BrokenPipeError) as e:  # told once per stream
            end = e
            v = buf.wait(buf.available) if buf.available else None  # the rest of it
        if v is not None:
            if stream is None:
                stream, run = buf.stream, int(v.imag[0])
            assert buf.stream == stream, (buf.stream, stream)
            assert (v.imag == run).all(), f"a view of stream {stream} (run {run}) holds samples of another run"
            want = (np.arange(count, count + len(v)) % RAMP).astype(np.float32)
            assert (v.real == want).all(), f"run {run}: sample {count} on"
            count += len(v)
            buf.consume()
        if end is not None:
            print(stream, run, count, type(end).__name__, flush=True)
            done, count, run, stream = done + 1, 0, None, None  # the next wait: the next stream
"""

# A flowgraph process: run argv[2]'s samples (run_samples) into ring argv[1]
# (block policy, 4096-sample ring if it creates it), argv[3] samples (0: until
# killed), on the sink path argv[4]; prints "running" once started.
FLOWGRAPH = """
import sys
import numpy as np
from gnuradio import blocks, doppler, gr
name, run, n = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
ramp = (np.arange(1 << 16, dtype=np.float32) + 1j * run).astype(np.complex64).tolist()
tb = gr.top_block()
src = blocks.vector_source_c(ramp, True)
snk = doppler.buffer_sink("f32", name, 4096, "block", zero_copy=sys.argv[4] == "zero-copy")
if n:
    tb.connect(src, blocks.head(gr.sizeof_gr_complex, n), snk)
else:
    tb.connect(src, snk)
tb.start()
print("running", flush=True)
tb.wait()
"""


if __name__ == "__main__":
    gr_unittest.run(qa_buffer_sink)
