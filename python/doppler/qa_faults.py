# SPDX-License-Identifier: GPL-3.0-or-later
"""Faults with real processes: a /dev/shm too small, producers
killed with SIGKILL at random moments, consumers killed while holding a view,
flowgraphs stopped while their blocks wait, SIGINT during wait() and a
blocking write().

Builds on qa_xproc (its Child helper, fixtures and sample sequences) and goes
further than its single-kill tests: many rounds, random kill times, a payload
that shows a torn sample, fresh consumer processes taking over. Every
blocking call has a generous bound so a bug fails a test instead of hanging
it; no test asserts a duration.
"""
import json
import os
import random
import shutil
import subprocess
import sys
import textwrap
import threading
import time

import numpy as np
import pytest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import qa_xproc  # noqa: E402
from qa_xproc import LONG, make, shm_path  # noqa: E402

children = qa_xproc.children  # the fixture, shared with qa_xproc

from doppler.buffer import F32Buffer, I16Buffer  # noqa: E402

TOOL = ([sys.executable, os.environ["DOPPLER_RING_TOOL"]] if os.environ.get("DOPPLER_RING_TOOL")
        else [sys.executable, "-m", "doppler.ring_tool"])


def listed_rings():
    """Names `doppler-ring list` shows."""
    r = subprocess.run(TOOL + ["list", "--json"], capture_output=True, text=True, timeout=LONG)
    assert r.returncode == 0, r.stderr
    return {ring["name"] for ring in json.loads(r.stdout)}


# ---------------------------------------------------------------------------
# /dev/shm too small
# ---------------------------------------------------------------------------

ENOSPC_CHILD = """
import errno, json, os
from doppler.buffer import F32Buffer, I16Buffer
out = {}
small = I16Buffer(1024, name="fits")  # 8 KiB: the tmpfs works...
try:
    F32Buffer(1 << 20, name="big")    # ...8 MiB does not fit in 64 KiB
    out["big"] = "created"
except OSError as e:
    out["big"] = [e.errno, str(e)]
try:
    I16Buffer(1 << 14, name="almost")  # 68 KiB: fails part way through the reservation
    out["almost"] = "created"
except OSError as e:
    out["almost"] = [e.errno, str(e)]
out["left"] = sorted(os.listdir("/dev/shm"))
small.destroy()
print(json.dumps(out), flush=True)
"""


def test_dev_shm_too_small_is_enospc_and_leaves_nothing():
    """In a private mount namespace with a 64 KiB /dev/shm: creating a ring
    that does not fit is OSError(ENOSPC) naming the ring and the remedy, and
    no doppler.* object is left behind (ls inside the namespace)."""
    if os.geteuid() != 0 or not shutil.which("unshare"):
        pytest.skip("needs root and unshare(1) to mount a small tmpfs on /dev/shm in a private namespace")
    probe = subprocess.run(["unshare", "-m", "sh", "-c", "mount -t tmpfs -o size=64k tmpfs /dev/shm"],
                           capture_output=True, text=True, timeout=LONG)
    if probe.returncode != 0:
        pytest.skip(f"cannot mount a tmpfs in a private mount namespace here: {probe.stderr.strip()}")
    # unshare -m makes the new namespace's mounts private: the host's /dev/shm is untouched.
    script = ('mount -t tmpfs -o size=64k tmpfs /dev/shm && "$0" -c "$1" && echo "ls:$(ls -A /dev/shm)"')
    r = subprocess.run(["unshare", "-m", "sh", "-c", script, sys.executable, ENOSPC_CHILD],
                       capture_output=True, text=True, timeout=LONG)
    assert r.returncode == 0, r.stderr
    lines = r.stdout.splitlines()
    out = json.loads(lines[0])
    for name in ("big", "almost"):
        assert out[name] != "created", f"{name}: created in a 64 KiB /dev/shm"
        err, msg = out[name]
        assert err == 28, msg  # ENOSPC
        assert f"'{name}'" in msg and "/dev/shm" in msg and "smaller capacity" in msg, msg
        assert msg.count("/dev/shm is full") == 1, msg
    assert out["left"] == ["doppler.fits"], out["left"]  # only the ring that fitted
    assert lines[1] == "ls:", lines[1]  # and nothing once it is destroyed


# ---------------------------------------------------------------------------
# Producer killed with SIGKILL mid-write, many times over
# ---------------------------------------------------------------------------

BLOCK = 1000  # samples per block: every sample is (block number) + 1j * (index in block)


def blocks_expected(start, n):
    """What samples start .. start+n-1 must be."""
    j = np.arange(start, start + n, dtype=np.int64)
    return ((j // BLOCK) + 1j * (j % BLOCK)).astype(np.complex64)


# Writes numbered blocks in a tight loop until killed. drop mode: a refused
# block is retried until it fits (all-or-nothing publication, so only whole
# blocks ever reach the ring); block mode: write(block=True), which may
# publish a block in parts as room appears (each part still whole samples).
KILLED_PRODUCER = """
buf = F32Buffer.attach({name!r})
lossless = {mode!r} == "block"
idx = 1j * np.arange({block}, dtype=np.complex64)
b = 0
while True:
    block = idx + np.complex64(b)
    if lossless:
        buf.write(block, block=True)
    else:
        while not buf.write(block):
            pass
    if b == 0:
        say("started")  # the producer role is claimed: its death can be noticed
    b += 1
"""


def test_producer_killed_at_random_moments_never_tears_a_block(names, children):
    rng = random.Random(5)
    sizes = random.Random(6)  # the consumer thread's own
    for rnd in range(30):
        mode = "drop" if rnd % 2 else "block"
        name = names()
        buf = F32Buffer(4096, name=name)  # BLOCK does not divide it: blocks straddle the wrap
        prod = children(KILLED_PRODUCER.format(name=name, mode=mode, block=BLOCK))
        try:
            prod.expect("started")
            got, outcome = 0, []

            def consume():
                nonlocal got
                try:
                    while True:
                        try:
                            v = buf.wait(sizes.randint(1, 3000), timeout=LONG)
                        except BrokenPipeError:
                            if not buf.available:
                                raise
                            v = buf.wait(buf.available)  # the tail, shorter than asked for
                        want = blocks_expected(got, len(v))
                        if not np.array_equal(v, want):
                            k = int(np.nonzero(v != want)[0][0])
                            raise AssertionError(f"round {rnd} ({mode}): sample {got + k} is {v[k]}, "
                                                 f"want {want[k]}: a torn or reordered block")
                        got += len(v)
                        buf.consume()
                except BaseException as e:  # asserted below
                    outcome.append(e)

            t = threading.Thread(target=consume, daemon=True)
            t.start()
            time.sleep(rng.uniform(0, 0.05))  # a random moment in the write loop
            prod.kill9()
            t.join(LONG + 10)
            assert not t.is_alive(), f"round {rnd}: the consumer never noticed the dead producer"
            assert isinstance(outcome[0], BrokenPipeError), f"round {rnd}: {outcome[0]!r}"
            assert got == buf.written, (got, buf.written)
            if mode == "drop":
                assert got % BLOCK == 0, f"round {rnd}: {got} samples is not whole blocks"
            assert not buf.closed  # killed, not closed
        finally:
            buf.destroy()


# ---------------------------------------------------------------------------
# Consumers killed while holding a view; fresh consumers take over
# ---------------------------------------------------------------------------

# A consumer process: attaches, reports where it starts, checks every sample
# against its absolute index, and either runs until killed at a random moment,
# or stops after `quota` samples holding an unconsumed view, or (the last one)
# ends after `quota` samples.
TAKEOVER_CONSUMER = """
import random
buf = I16Buffer.attach({name!r})
rng = random.Random({seed})
start = buf.read_index
v = buf.wait(1, timeout={LONG})  # claims the role (the dead holder's is taken over)
say("start", start, int(v.view(np.uint32)[0]))
got = start
while {how!r} == "random" or got - start < {quota}:
    v = buf.wait(rng.randint(1, 5000), timeout={LONG})
    seq = v.view(np.uint32).reshape(-1)
    assert np.array_equal(seq, np.arange(got, got + len(v), dtype=np.uint32)), f"gap at {{got}}"
    got += len(v)
    buf.consume()
if {how!r} == "hold":
    v = buf.wait(777, timeout={LONG})
    say("holding", buf.read_index, int(v.view(np.uint32)[0]))
    hold()
say("end", got - start)
"""


def test_consumers_killed_holding_views_new_ones_continue(names, children):
    """A lossless producer streams sequence numbers. One consumer process
    after another is killed, alternately while holding an unconsumed view
    (after a handshake) and at a random moment; each new consumer attaches by
    name, starts at the first unconsumed sample, whose data it checks, and
    checks every sample it reads: nothing lost, nothing out of order."""
    name = names()
    buf = I16Buffer(16384, name=name)  # the parent only creates: it holds no role
    rng = random.Random(3)
    try:
        prod = children(f"""
            buf = I16Buffer.attach({name!r})
            k = 0
            while True:  # until killed; waits for each new consumer
                assert buf.write(make("i16", k, 1000), block=True, timeout={LONG})
                k += 1000
        """)
        resume = 0  # where the next consumer must start
        for rnd in range(7):
            how = "last" if rnd == 6 else ("hold", "random")[rnd % 2]
            quota = rng.randint(1, 100_000)
            cons = children(TAKEOVER_CONSUMER.format(name=name, seed=rnd, LONG=LONG, how=how, quota=quota))
            start, first = map(int, cons.expect("start"))
            assert start == resume, f"round {rnd}: resumed at {start}, not at {resume}"
            assert first == start  # the data at read_index is sample read_index
            if how == "last":
                assert int(cons.expect("end")[0]) >= quota
                cons.finish()
                break
            if how == "hold":
                read_index, first = map(int, cons.expect("holding"))
                assert first == read_index
            else:
                time.sleep(rng.uniform(0, 0.05))
                assert cons.p.poll() is None, cons.p.stderr.read().decode()  # its checks held so far
            cons.kill9()
            resume = buf.read_index  # shared: the first sample no consumer consumed
            if how == "hold":
                assert resume == read_index  # the held view was not consumed
        assert prod.p.poll() is None, prod.p.stderr.read().decode()  # it never gave up waiting
        assert buf.dropped == 0
    finally:
        buf.destroy()


# ---------------------------------------------------------------------------
# A flowgraph stopped while its blocks wait
# ---------------------------------------------------------------------------

FLOWGRAPH_PRELUDE = f"""
import threading
from gnuradio import blocks, doppler, gr
def stop(tb):
    # stop() + wait() in a thread, so a block that never returns cannot hang
    # this child: "stopped 1" once it returned, "stopped 0" if it hung.
    t = threading.Thread(target=lambda: (tb.stop(), tb.wait()), daemon=True)
    t.start()
    t.join({LONG})
    say("stopped", int(not t.is_alive()))
"""


def test_flowgraph_stopped_while_sink_waits_for_space(names, children):
    """Sink, block policy, tiny ring, a consumer that never consumes: the sink
    waits for space; stop() ends it, the ring is closed (the consumer drains
    and gets EOFError) and its name is gone."""
    name = names()
    fg = children(FLOWGRAPH_PRELUDE + textwrap.dedent(f"""
        tb = gr.top_block()
        snk = doppler.buffer_sink("f32", {name!r}, 512, "block")  # creates the ring
        tb.connect(blocks.vector_source_c([complex(k, -k) for k in range(5000)], True), snk)
        say("ready")
        hold()
        tb.start()
        hold()
        stop(tb)
        hold()
    """))
    fg.expect("ready")
    buf = F32Buffer.attach(name)
    try:
        fg.send()
        v = buf.wait(buf.capacity, timeout=LONG)  # full: the sink now waits for space
        assert buf.dropped == 0
        fg.send()
        assert fg.expect("stopped") == ["1"], "tb.stop(); tb.wait() never returned"
        assert buf.closed
        k = np.arange(buf.capacity, dtype=np.float32)
        assert np.array_equal(v, k - 1j * k)
        buf.consume()
        with pytest.raises(EOFError):
            buf.wait(1, timeout=LONG)
        assert name not in listed_rings()  # the sink removed its name at stop
        fg.finish()
        assert name not in listed_rings()
    finally:
        buf.destroy()
    assert not os.path.exists(shm_path(name))


def test_flowgraph_stopped_while_source_waits_on_empty_ring(names, children):
    """Source on an empty ring: stop() ends it, it frees the consumer role
    (the next consumer continues at the first unread sample) and its name is
    gone."""
    name = names()
    fg = children(FLOWGRAPH_PRELUDE + textwrap.dedent(f"""
        tb = gr.top_block()
        src = doppler.buffer_source("f32", {name!r}, 4096)  # creates the ring
        out = blocks.vector_sink_c()
        tb.connect(src, out)
        tb.start()
        say("ready")
        hold()
        stop(tb)
        got = np.array(out.data(), dtype=np.complex64)
        say("received", len(got), int(np.array_equal(got, make("f32", 0, 3000))))
        hold()
    """))
    fg.expect("ready")
    buf = F32Buffer.attach(name)
    try:
        assert buf.write(make("f32", 0, 3000), block=True, timeout=LONG)
        deadline = time.monotonic() + LONG
        while buf.read_index < 3000:  # the source took them all: the ring is empty, it waits
            assert time.monotonic() < deadline, f"the source read only {buf.read_index} samples"
            time.sleep(0.01)
        fg.send()
        assert fg.expect("stopped") == ["1"], "tb.stop(); tb.wait() never returned"
        assert fg.expect("received") == ["3000", "1"]
        assert name not in listed_rings()  # the source removed its name at stop
        # The consumer role is free again: this process takes it and reads on.
        assert buf.write(make("f32", 3000, 100))
        assert np.array_equal(buf.wait(100, timeout=LONG), make("f32", 3000, 100))
        fg.finish()
        assert name not in listed_rings()
    finally:
        buf.destroy()
    assert not os.path.exists(shm_path(name))


# ---------------------------------------------------------------------------
# SIGINT while blocked in wait() or write(block=True)
# ---------------------------------------------------------------------------

def blocked_in_kernel(pid, deadline):
    """Wait until the process's main thread sleeps in a futex (parked), or
    the deadline passes: either way the signal is sent, and the child must
    cope; this only makes 'interrupted while parked' the likely case."""
    while time.monotonic() < deadline:
        try:
            with open(f"/proc/{pid}/wchan") as f:
                if "futex" in f.read():
                    return True
        except OSError:
            return False
        time.sleep(0.005)
    return False


SIGINT_CONSUMER = """
buf = F32Buffer.attach({name!r})
for k in range({rounds}):
    try:
        say("waiting")
        buf.wait(100, timeout={LONG})
        say("data")  # nothing was written: must not happen
    except KeyboardInterrupt:
        say("interrupted")
    v = buf.wait(100, timeout={LONG})  # the ring still works
    say("got", int(np.array_equal(v, make("f32", 100 * k, 100))))
    buf.consume()
"""

SIGINT_PRODUCER = """
buf = F32Buffer.attach({name!r})
assert buf.write(make("f32", 0, buf.capacity))  # full
for k in range({rounds}):
    block = make("f32", buf.capacity + 100 * k, 100)
    try:
        say("waiting")
        buf.write(block, block=True, timeout={LONG})  # no room: it parks
        say("written")  # nobody consumed: must not happen
    except KeyboardInterrupt:
        say("interrupted")
    hold()  # the parent makes room for exactly this block
    assert buf.write(block, block=True, timeout={LONG})
    say("written")
"""


@pytest.mark.parametrize("side", ["consumer", "producer"])
def test_sigint_while_blocked_leaves_the_ring_usable(side, names, children):
    """SIGINT to a child blocked in wait() (consumer) or in a lossless
    write() on a full ring (producer) raises KeyboardInterrupt there; the
    child then uses the ring again and every sample arrives, several times
    in the same process."""
    name, rounds = names(), 4
    buf = F32Buffer(1024, name=name)
    try:
        code = SIGINT_CONSUMER if side == "consumer" else SIGINT_PRODUCER
        child = children(code.format(name=name, rounds=rounds, LONG=LONG))
        parked = 0
        for k in range(rounds):
            child.expect("waiting")
            parked += blocked_in_kernel(child.pid, time.monotonic() + 5)
            child.p.send_signal(2)  # SIGINT
            child.expect("interrupted")
            if side == "consumer":
                assert buf.write(make("f32", 100 * k, 100))
                assert child.expect("got") == ["1"]
            else:
                start = buf.capacity + 100 * k
                head = buf.wait(100, timeout=LONG)  # room for the block, no more
                assert np.array_equal(head, make("f32", 100 * k, 100))
                buf.consume()
                child.send()
                child.expect("written")
                assert buf.written == start + 100  # the interrupted write published nothing
        child.finish()
        print(f"{parked} of {rounds} SIGINTs hit a parked {side}")
        if side == "producer":  # the rest arrives whole and in order
            tail = buf.wait(buf.capacity, timeout=LONG)
            assert np.array_equal(tail, make("f32", 100 * rounds, buf.capacity))
    finally:
        buf.destroy()
