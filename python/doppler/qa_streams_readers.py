# SPDX-License-Identifier: GPL-3.0-or-later
"""Streams, tags and readers seen from Python, with real processes: a
consumer attached once across three producer runs (and a kill -9 of one),
tags of every value type at exact indices, drop markers at the gaps, one
producer with three readers (two tethered, one untethered that sleeps),
sixteen readers and a seventeenth, and two processes racing for one reader
name.

Every child is a fresh /usr/bin/python3; the parent talks to it over
stdin/stdout lines. Blocking calls carry generous timeouts so a bug fails a
test instead of hanging it; no test asserts a duration.
"""
import errno
import json
import os
import signal
import subprocess
import sys
import textwrap
import threading

import numpy as np
import pytest

from doppler.buffer import F32Buffer, F64Buffer, Tag
from doppler_testing import LONG

PRELUDE = """
import json, os, sys, time
import numpy as np
from doppler.buffer import F32Buffer, F64Buffer
def say(*a):
    print(*a, flush=True)
"""


def child(code):
    """A python3 child running PRELUDE + code, stdin/stdout as pipes."""
    return subprocess.Popen([sys.executable, "-c", PRELUDE + textwrap.dedent(code)],
                            stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)


def line(p):
    """The child's next stdout line (it fails the test if the child ends first)."""
    out = p.stdout.readline()
    assert out, f"child {p.pid} ended (exit {p.wait(LONG)}) before saying anything"
    return out.strip()


def finish(p):
    p.stdin.close()
    assert p.wait(LONG) == 0


def run_samples(run, n):
    """Samples of producer run `run`: real part the run, imaginary part 0..n-1."""
    return (run + 1j * np.arange(n)).astype(np.complex64)


PRODUCER = """
name, run, n, create, die_after = {args!r}
try:
    buf = F32Buffer(4096, name=name) if create else F32Buffer.attach(name, timeout=10)
except FileExistsError:
    buf = F32Buffer.attach(name, timeout=10)
x = (run + 1j * np.arange(n)).astype(np.complex64)
def write(x):
    for i in range(0, len(x), 1000):
        buf.write(x[i:i + 1000], block=True, timeout={long})
if die_after is None:
    write(x)
    buf.close()
    say("done")
else:
    write(x[:die_after])
    say("written")
    time.sleep(3600)  # killed here, mid-run
"""


def read_runs(buf, runs_expected, received, ends):
    """Consumer loop: wait(1000) views, drain at each end; record per run."""
    while len(ends) < runs_expected:
        try:
            view = buf.wait(1000, timeout=LONG)
        except (EOFError, BrokenPipeError) as e:
            stream = buf.stream
            left = buf.available
            if left:
                received.append((stream, buf.wait(left).copy()))
                buf.consume()
            # The end of each stream is reported once.
            assert not ends or ends[-1][0] != stream, f"stream {stream} ended twice"
            ends.append((stream, type(e)))
            continue
        received.append((buf.stream, view.copy()))
        buf.consume()


@pytest.mark.parametrize("creator", ["consumer", "producer"])
def test_a_consumer_attached_once_receives_three_producer_runs_each_complete_between_eofs(names, creator):
    name = names()
    n = 50000  # > capacity: every run wraps the ring many times
    if creator == "consumer":
        buf = F32Buffer(4096, name=name)
    received, ends, errors = [], [], []

    def producers():
        try:
            for run in (1, 2, 3):
                create = creator == "producer" and run == 1
                p = child(PRODUCER.format(args=(name, run, n, create, None), long=LONG))
                assert line(p) == "done"
                finish(p)
        except BaseException as e:  # reported by the main thread
            errors.append(e)

    t = threading.Thread(target=producers)
    t.start()
    if creator == "producer":
        buf = F32Buffer.attach(name, timeout=LONG)
    read_runs(buf, 3, received, ends)
    t.join(LONG)
    assert not errors, errors
    assert ends == [(1, EOFError), (2, EOFError), (3, EOFError)]
    for run in (1, 2, 3):
        views = [v for s, v in received if s == run]
        for v in views:  # nothing of one run inside a view of another
            assert np.all(v.real == run)
        got = np.concatenate(views)
        assert np.array_equal(got, run_samples(run, n))
    buf.destroy()


def test_a_producer_killed_mid_run_ends_its_stream_with_brokenpipe_and_the_next_run_starts_cleanly(names):
    name = names()
    n, die_after = 50000, 30123
    buf = F32Buffer(4096, name=name)
    received, ends, errors = [], [], []

    def producers():
        try:
            p = child(PRODUCER.format(args=(name, 1, n, False, None), long=LONG))
            assert line(p) == "done"
            finish(p)
            p = child(PRODUCER.format(args=(name, 2, n, False, die_after), long=LONG))
            assert line(p) == "written"
            p.send_signal(signal.SIGKILL)
            p.wait(LONG)
            p = child(PRODUCER.format(args=(name, 3, n, False, None), long=LONG))
            assert line(p) == "done"
            finish(p)
        except BaseException as e:
            errors.append(e)

    t = threading.Thread(target=producers)
    t.start()
    read_runs(buf, 3, received, ends)
    t.join(LONG)
    assert not errors, errors
    assert ends == [(1, EOFError), (2, BrokenPipeError), (3, EOFError)]
    for run, count in ((1, n), (2, die_after), (3, n)):
        views = [v for s, v in received if s == run]
        assert all(np.all(v.real == run) for v in views)
        assert np.array_equal(np.concatenate(views), run_samples(run, count))
    buf.destroy()


TAG_VALUES = [
    ("rx_time", (1700000000, 0.25)),
    ("rx_freq", 2.4e9),
    ("rx_rate", 1e6),
    ("none", None),
    ("flag", True),
    ("int", -(2**63)),
    ("uint", 2**64 - 1),
    ("complex", 1.5 - 2j),
    ("text", "héllo"),
    ("raw", b"\x00\xffbytes"),
    ("list", [1, "a", [None, False]]),
    ("dict", {"a": 1, "b": {"c": (1.0, b"x")}}),
]


def test_tags_of_every_value_type_cross_processes_at_their_exact_indices(names):
    name = names()
    buf = F32Buffer(4096, name=name)
    p = child(f"""
        buf = F32Buffer.attach({name!r}, timeout=10)
        values = {TAG_VALUES!r}
        x = np.zeros(1000, np.complex64)
        buf.write(x, block=True, timeout=10)        # samples 0..999: no tags of ours
        tags = [(7 * i + 3, k, v) for i, (k, v) in enumerate(values)]
        buf.write(x, block=True, timeout=10, tags=tags)
        buf.close()
        say("done")
    """)
    assert line(p) == "done"
    finish(p)
    buf.wait(2000, timeout=LONG)
    got = [t for t in buf.tags() if t.key != "stream_start"]
    assert got == [Tag(1000 + 7 * i + 3, k, v) for i, (k, v) in enumerate(TAG_VALUES)]
    assert all(isinstance(t, Tag) for t in got)
    assert buf.tags()[0] == (0, "stream_start", 1)
    buf.consume()
    assert buf.tags() == []
    buf.destroy()


def test_drop_markers_add_up_to_the_dropped_counter_and_sit_at_the_gaps():
    buf = F64Buffer(1024)
    seq = 0
    values, markers = [], []

    def offer(blocks):  # non-blocking writes of 256-sample blocks of the sequence
        nonlocal seq
        for _ in range(blocks):
            buf.write(np.arange(seq, seq + 256, dtype=np.float64).astype(np.complex128))
            seq += 256

    def take(n):
        v = buf.wait(n)
        values.append(v.real.copy())
        markers.extend((t.index, t.value) for t in buf.tags() if t.key == "dropped")
        buf.consume()

    offer(8)  # four fit, four are refused
    take(512)
    offer(4)  # two fit, two are refused
    take(512)
    offer(1)  # fits
    take(buf.available)
    got = np.concatenate(values)
    # Every jump of the sequence is a marker at that index, of the jump's size.
    jumps = [(i, int(got[i] - got[i - 1] - 1)) for i in range(1, len(got)) if got[i] != got[i - 1] + 1]
    assert markers == jumps == [(1024, 1024), (1536, 512)]
    assert sum(c for _, c in markers) == buf.dropped


READER = """
name, reader, tethered, total, sleep_every = {args!r}
kw = {{}} if reader is None else dict(reader=reader, tethered=tethered)
buf = F64Buffer.attach(name, timeout=10, **kw)
say("ready")
got = intact = torn_unreported = windows = 0
expect = 0
while True:
    try:
        v = buf.wait(4096, timeout={long})
    except EOFError:
        break
    start = buf.read_index
    ok = bool(np.array_equal(v.real, np.arange(start, start + len(v), dtype=np.float64)))
    if sleep_every and windows % sleep_every == 0:
        time.sleep(0.02)   # the slow reader: the producer laps it meanwhile
    ok = ok and bool(np.array_equal(v.real, np.arange(start, start + len(v), dtype=np.float64)))
    lossless = start == expect
    over = buf.consume()
    if over == 0:
        intact += len(v)
        torn_unreported += not ok
    windows += 1
    expect = start + len(v)
    got += len(v) if lossless else 0
say(json.dumps(dict(intact=intact, skipped=buf.skipped, torn_unreported=torn_unreported,
                    lossless=got, read_index=buf.read_index)))
"""


def test_one_producer_three_readers_tethered_get_everything_untethered_reports_every_overwrite(names):
    name = names()
    total = 1 << 22
    buf = F64Buffer(1 << 14, name=name)
    readers = [
        child(READER.format(args=(name, None, True, total, 0), long=LONG)),  # default reader
        child(READER.format(args=(name, "rec", True, total, 0), long=LONG)),
        child(READER.format(args=(name, "gui", False, total, 3), long=LONG)),
    ]
    for r in readers:
        assert line(r) == "ready"
    chunk = 8192
    for start in range(0, total, chunk):
        buf.write(np.arange(start, start + chunk, dtype=np.float64).astype(np.complex128),
                  block=True, timeout=LONG)
    buf.close()
    default, rec, gui = (json.loads(line(r)) for r in readers)
    for r in readers:
        finish(r)
    for tethered in (default, rec):
        assert tethered == dict(intact=total, skipped=0, torn_unreported=0, lossless=total,
                                read_index=total)
    assert gui["torn_unreported"] == 0
    assert gui["intact"] + gui["skipped"] == total
    buf.destroy()


def test_sixteen_readers_attach_and_a_seventeenth_gets_a_clear_error(names):
    name = names()
    buf = F32Buffer(4096, name=name)  # holds the default reader's slot: reader 1
    named = [F32Buffer.attach(name, reader=f"r{i}", tethered=False) for i in range(15)]
    with pytest.raises(OSError) as e:
        F32Buffer.attach(name, reader="r15", tethered=False)
    assert e.value.errno == errno.EUSERS
    assert "16" in str(e.value)
    named.pop().destroy()  # a freed slot can be claimed again
    F32Buffer.attach(name, reader="r15", tethered=False).destroy()
    for b in named:
        b.destroy()
    buf.destroy()


def test_a_blocking_write_that_finds_no_room_says_which_reader_holds_it_back(names):
    name = names()
    producer = F32Buffer(1024, name=name)
    x = np.zeros(1024, np.complex64)
    assert producer.write(x)  # full: nobody has read
    with pytest.raises(TimeoutError) as e:
        producer.write(x[:1], block=True, timeout=0.05)
    assert "held back by the default reader (1024 of 1024 samples unread; no process reads it" \
        in str(e.value)
    assert "one consumer must read without a reader name" in str(e.value)
    main = F32Buffer.attach(name)  # the default reader
    main.wait(1024)
    main.consume()
    rec = F32Buffer.attach(name, reader="rec")  # tethered, from the write index on
    assert producer.write(x)
    main.wait(1024)
    main.consume()  # the default reader keeps up; "rec" does not
    with pytest.raises(TimeoutError) as e:
        producer.write(x[:1], block=True, timeout=0.05)
    assert f"held back by reader 'rec' (1024 of 1024 samples unread; pid {os.getpid()})" in str(e.value)
    for b in (rec, main, producer):
        b.destroy()


def test_a_wait_that_times_out_says_how_many_samples_are_there_and_who_produces(names):
    name = names()
    producer = F32Buffer(1024, name=name)
    reader = F32Buffer.attach(name)
    with pytest.raises(TimeoutError) as e:
        reader.wait(10, timeout=0.01)
    assert str(e.value).endswith("10 samples did not arrive within the timeout; 0 of them are "
                                 "there; no producer has written to this ring yet")
    assert producer.write(np.zeros(3, np.complex64))
    with pytest.raises(TimeoutError) as e:
        reader.wait(10, timeout=0.01)
    assert str(e.value).endswith(f"3 of them are there; the producer is pid {os.getpid()}")
    producer.close()
    with pytest.raises(EOFError):
        reader.wait(10, timeout=LONG)  # 3 remain of stream 1
    reader.wait(3)
    reader.consume()
    # The end was told once: after the drain the wait is for stream 2.
    with pytest.raises(TimeoutError) as e:
        reader.wait(10, timeout=0.01)
    assert str(e.value).endswith("0 of them are there; no producer is attached (the last one "
                                 "wrote stream 1; the next one starts stream 2)")
    for b in (reader, producer):
        b.destroy()


def test_a_reader_name_in_use_is_refused_naming_the_holder(names):
    name = names()
    buf = F32Buffer(4096, name=name)
    gui = F32Buffer.attach(name, reader="gui", tethered=False)
    with pytest.raises(OSError) as e:
        F32Buffer.attach(name, reader="gui", tethered=False)
    assert e.value.errno == errno.EBUSY
    assert str(os.getpid()) in str(e.value)
    with pytest.raises(ValueError):
        F32Buffer.attach(name, reader="no/slash")
    with pytest.raises(ValueError):
        F32Buffer.attach(name, reader="x" * 33)
    with pytest.raises(ValueError):
        F32Buffer.attach(name, tethered=False)  # the default reader is always tethered
    gui.destroy()
    buf.destroy()


def test_two_processes_claiming_one_reader_name_at_once_exactly_one_wins(names):
    name = names()
    buf = F32Buffer(4096, name=name)
    for _ in range(5):
        claimants = [child(f"""
            buf = F32Buffer.attach({name!r})   # the ring, no reader yet
            say("ready")
            sys.stdin.readline()              # go
            try:
                r = F32Buffer.attach({name!r}, reader="one", tethered=False)
                say("won")
            except OSError as e:
                say("lost", e.errno)
            sys.stdin.read()                  # hold the name until told to end
        """) for _ in range(2)]
        for c in claimants:
            assert line(c) == "ready"
        for c in claimants:
            c.stdin.write("go\n")
            c.stdin.flush()
        results = sorted(line(c) for c in claimants)
        for c in claimants:
            finish(c)
        assert results == ["lost %d" % errno.EBUSY, "won"]
    buf.destroy()


def test_a_lapped_untethered_reader_gets_a_skipped_marker_and_consume_reports_overwrites(names):
    name = names()
    buf = F64Buffer(1024, name=name)  # producer, and the default (tethered) reader
    gui = F64Buffer.attach(name, reader="gui", tethered=False)

    def produce(start):
        buf.write(np.arange(start, start + 1024, dtype=np.float64).astype(np.complex128))
        buf.wait(1024)
        assert buf.consume() == 0  # tethered: always 0

    for k in range(3):
        produce(1024 * k)
    v = gui.wait(512)  # lapped: continues at the oldest intact sample
    assert gui.read_index == 2048
    assert np.array_equal(v.real, np.arange(2048, 2560))
    assert (2048, "skipped", 2048) in gui.tags()
    assert gui.skipped == 2048
    assert gui.consume() == 0
    v = gui.wait(512)  # held while the producer overwrites it
    produce(3072)
    assert gui.consume() == 512
    assert gui.skipped == 2048 + 512
    gui.destroy()
    buf.destroy()


def test_closed_is_about_the_readers_own_stream_while_the_next_stream_runs(names):
    name = names()
    reader = F32Buffer(4096, name=name)
    assert not reader.closed  # nothing written yet
    first = F32Buffer.attach(name)
    assert first.write(np.arange(10, dtype=np.complex64))
    first.close()
    assert reader.closed and first.closed
    first.destroy()
    second = F32Buffer.attach(name)
    assert second.write(np.arange(100, 105, dtype=np.complex64))  # stream 2 starts
    assert not second.closed  # the producer's own stream is open
    # The reader is still on stream 1: closed, 10 samples left of it.
    assert reader.stream == 1 and reader.available == 10
    assert reader.closed
    reader.wait(10)
    reader.consume()
    with pytest.raises(EOFError):
        reader.wait(1, timeout=LONG)
    v = reader.wait(5, timeout=LONG)  # on to stream 2, which is open
    assert reader.stream == 2 and v.real[0] == 100
    assert not reader.closed
    reader.consume()
    second.close()
    assert reader.closed
    second.destroy()
    reader.destroy()


def test_tag_values_nest_31_containers_deep_and_32_are_refused():
    buf = F32Buffer(4096)

    def nested(depth, kind=list):
        v = None
        for _ in range(depth):
            v = kind([v]) if kind is not dict else {"k": v}
        return v

    for kind in (list, tuple, dict):
        assert buf.write(np.zeros(1, np.complex64), tags=[(0, "deep", nested(31, kind))])
        buf.wait(1)
        assert [t.value for t in buf.tags() if t.key == "deep"] == [nested(31, kind)]
        buf.consume()
        for too_deep in (nested(32, kind), [nested(31, kind)], nested(33, kind)):
            with pytest.raises(ValueError, match="more than 31 deep"):
                buf.write(np.zeros(1, np.complex64), tags=[(0, "deep", too_deep)])
    # An empty container is a container too: 32 lists, the innermost empty.
    empty_32 = []
    for _ in range(31):
        empty_32 = [empty_32]
    with pytest.raises(ValueError, match="more than 31 deep"):
        buf.write(np.zeros(1, np.complex64), tags=[(0, "deep", empty_32)])
    assert buf.dropped == 0
    buf.destroy()
