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
                        end = None
                        try:
                            v = buf.wait(sizes.randint(1, 3000), timeout=LONG)
                        except BrokenPipeError as e:  # told once
                            if not buf.available:
                                raise
                            end = e
                            v = buf.wait(buf.available)  # the tail, shorter than asked for
                        want = blocks_expected(got, len(v))
                        if not np.array_equal(v, want):
                            k = int(np.nonzero(v != want)[0][0])
                            raise AssertionError(f"round {rnd} ({mode}): sample {got + k} is {v[k]}, "
                                                 f"want {want[k]}: a torn or reordered block")
                        got += len(v)
                        buf.consume()
                        if end is not None:
                            raise end
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
    waits for space; stop() ends it, the stream is closed (the consumer drains
    and gets EOFError) and the name goes when the consumer, the last party,
    leaves."""
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
        assert name in listed_rings()  # this process is attached: the name stays
        fg.finish()
        assert name in listed_rings()
    finally:
        buf.destroy()
    assert not os.path.exists(shm_path(name))


# The source's counterpart of the sink test above; both end alike.
def test_flowgraph_stopped_while_source_waits_on_empty_ring(names, children):
    """Source on an empty ring: stop() ends it, it frees the consumer role
    (the next consumer continues at the first unread sample); the name goes
    when the last party leaves."""
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
        assert name in listed_rings()  # this process is attached: the name stays
        # The consumer role is free again: this process takes it and reads on.
        assert buf.write(make("f32", 3000, 100))
        assert np.array_equal(buf.wait(100, timeout=LONG), make("f32", 3000, 100))
        fg.finish()
        assert name in listed_rings()
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


# ---------------------------------------------------------------------------
# Impossible shared indices: an error that says which, never a wait
# ---------------------------------------------------------------------------

WRITE_IDX, READ_IDX = 64, 768  # write_idx and the default reader's read_idx (layout.hpp)


def scribble(name, offset, value):
    """Overwrite one 64-bit index of a ring's header, as a stranger would."""
    fd = os.open(shm_path(name), os.O_RDWR)
    try:
        os.pwrite(fd, int(value % (1 << 64)).to_bytes(8, "little"), offset)
    finally:
        os.close(fd)


SCRIBBLE_CHILD = """
import errno, sys
import numpy as np
sys.path.insert(0, {here!r})
from qa_faults import scribble, WRITE_IDX, READ_IDX
from doppler.buffer import F32Buffer
name, case, timeout = {name!r}, {case!r}, {timeout!r}
buf = F32Buffer(512, name=name)
cap = buf.capacity
block = np.zeros(cap, dtype=np.complex64)
try:
    if case.startswith("write"):
        assert buf.write(block)
        buf.wait(cap)
        buf.consume()
        assert buf.write(block)                      # full at 2 * cap: the next write must wait
        scribble(name, READ_IDX, 3 * cap if case == "write-ahead" else 0)
        buf.write(block[:1], block=True, timeout=timeout)
    else:
        assert buf.write(block[:10])
        buf.wait(10)
        buf.consume()                                # read position 10
        scribble(name, WRITE_IDX, 3 if case == "wait-behind" else 10 + cap + 1)
        buf.wait(1, timeout=timeout)
    print("returned")
except OSError as e:
    print(errno.errorcode.get(e.errno), str(e))
"""


@pytest.mark.parametrize("case", ["write-ahead", "write-behind", "wait-behind", "wait-beyond"])
@pytest.mark.parametrize("timeout", [None, 0.2, 0])
def test_an_impossible_index_is_an_error_saying_which_not_a_wait(case, timeout, names):
    """The read index ahead of the write index, or either more than the
    capacity apart: write(block=True) and wait() raise OSError(EBADMSG)
    naming the index at once, with or without a timeout (the subprocess
    bound turns a spin or an endless wait into a failure)."""
    name = names()
    code = SCRIBBLE_CHILD.format(here=os.path.dirname(os.path.abspath(__file__)), name=name,
                                 case=case, timeout=timeout)
    r = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=LONG)
    assert r.returncode == 0, r.stderr
    out = r.stdout.strip()
    assert out.startswith("EBADMSG"), out
    assert f"ring '{name}' is corrupt" in out, out
    if case in ("write-ahead", "wait-behind"):
        assert "is ahead of its write index" in out, out
    else:
        assert "more than the capacity" in out, out


def test_a_nonblocking_write_on_an_impossible_read_index_is_an_error_not_a_drop(names):
    name = names()
    buf = F32Buffer(512, name=name)
    block = np.zeros(buf.capacity, dtype=np.complex64)
    assert buf.write(block)
    scribble(name, READ_IDX, buf.capacity + 7)
    with pytest.raises(OSError) as e:
        buf.write(block[:1])
    assert e.value.errno == 74, e.value  # EBADMSG
    assert buf.dropped == 0
    buf.destroy()


def test_consume_on_an_impossible_write_index_is_an_error(names):
    name = names()
    buf = F32Buffer(512, name=name)
    assert buf.write(np.zeros(10, dtype=np.complex64))
    buf.wait(10)
    buf.consume()  # everything it knew of: the next consume reloads the write index
    scribble(name, WRITE_IDX, 2)
    with pytest.raises(OSError) as e:
        buf.consume(1)
    assert e.value.errno == 74 and "is ahead of its write index" in str(e.value)
    buf.destroy()


def test_a_corrupt_tag_record_is_an_error_naming_the_ring_once(names):
    # The ring's own first record, ("stream_start", 1) at index 0, gets a
    # value type byte no decoder knows (tag area at 4096; the key "stream_start"
    # is 12 bytes from +16, so the value's type byte is at +28).
    name = names()
    buf = F32Buffer(512, name=name)
    assert buf.write(np.zeros(10, dtype=np.complex64))
    fd = os.open(shm_path(name), os.O_RDWR)
    try:
        assert os.pread(fd, 12, 4096 + 16) == b"stream_start"
        os.pwrite(fd, bytes([99]), 4096 + 28)
    finally:
        os.close(fd)
    buf.wait(10)
    with pytest.raises(OSError) as e:
        buf.tags()
    assert e.value.errno == 74, e.value  # EBADMSG
    assert e.value.strerror.startswith(f"ring '{name}': a tag record"), e.value.strerror
    assert "ring ring" not in str(e.value)
    assert buf.consume() == 0  # the samples are still readable
    buf.destroy()


# ---------------------------------------------------------------------------
# Roles belong to handles; fork() and normal exit
# ---------------------------------------------------------------------------

def test_two_handles_in_one_process_hold_one_role_each(names):
    name = names()
    first = F32Buffer(4096, name=name)
    second = F32Buffer.attach(name)
    x = np.arange(10, dtype=np.complex64)
    assert first.write(x)
    for call in (lambda: second.write(x), lambda: second.write(x, block=True, timeout=0)):
        with pytest.raises(OSError) as e:
            call()
        assert e.value.errno == 16, e.value  # EBUSY
        assert f"another handle in this same process (pid {os.getpid()})" in str(e.value)
    second.wait(10)  # the consumer role is free: this handle takes it
    third = F32Buffer.attach(name)
    with pytest.raises(OSError) as e:
        third.wait(1, timeout=0)
    assert e.value.errno == 16 and "same process" in str(e.value)
    assert "another reader name" in str(e.value)  # says what to do instead
    np.testing.assert_array_equal(second.wait(10), x)
    for b in (third, second, first):
        b.destroy()


FORK_CHILD = """
import os, sys
import numpy as np
from doppler.buffer import F32Buffer
name = {name!r}
buf = F32Buffer(4096, name=name)
reader = F32Buffer.attach(name)
x = np.arange(10, dtype=np.complex64)
assert buf.write(x)
reader.wait(1)                     # the parent holds both roles
pid = os.fork()
if pid == 0:
    try:
        buf.write(x)
        print("child wrote through the parent's handle", flush=True)
    except OSError as e:
        if e.errno != 16 or f"pid {{os.getppid()}}" not in str(e):
            print("child:", e, flush=True)
    {child_end}
_, status = os.waitpid(pid, 0)
assert os.waitstatus_to_exitcode(status) == 0, status
assert not buf.closed, "the child's exit closed the parent's stream"
assert os.path.exists("/dev/shm/doppler." + name), "the child removed the parent's name"
assert buf.write(x)                # still the producer
np.testing.assert_array_equal(reader.wait(20), np.concatenate([x, x]))
print("ok", flush=True)
"""


@pytest.mark.parametrize("child_end", ["buf.destroy(); reader.destroy(); sys.exit(0)",
                                       "sys.exit(0)",
                                       "del buf, reader; import gc; gc.collect(); sys.exit(0)"])
def test_a_forked_child_never_ends_the_parents_stream_or_removes_its_name(child_end, names):
    """os.fork(): the child's copies of the parent's handles hold no role
    (a write is EBUSY naming the parent), and neither destroying them nor the
    child's normal exit closes the parent's stream or removes its name."""
    name = names()
    r = subprocess.run([sys.executable, "-c", FORK_CHILD.format(name=name, child_end=child_end)],
                       capture_output=True, text=True, timeout=LONG)
    assert r.returncode == 0, r.stdout + r.stderr
    assert r.stdout.strip() == "ok", r.stdout + r.stderr


EXIT_CHILD = """
import sys, threading
import numpy as np
from doppler.buffer import F32Buffer
name, how = {name!r}, {how!r}
ready = threading.Event()
def produce():
    buf = F32Buffer(4096, name=name)
    buf.write(np.arange(100, dtype=np.complex64), block=True)
    ready.set()
    while how == "parked":         # blocked in a lossless write when the process exits
        buf.write(np.zeros(4096, dtype=np.complex64), block=True)
    threading.Event().wait()       # the daemon thread never returns: buf is never destroyed
threading.Thread(target=produce, daemon=True).start()
ready.wait()
print("ready", flush=True)
sys.stdin.readline()
"""


@pytest.mark.parametrize("how", ["idle", "parked"])
def test_a_ring_made_in_a_daemon_thread_is_closed_and_removed_at_normal_exit(how, names):
    """The consumer in another process gets every sample, then EOFError (not
    BrokenPipeError): the exit ended the stream and left the ring's parties,
    so the name goes with the consumer, the last party."""
    name = names()
    p = subprocess.Popen([sys.executable, "-c", EXIT_CHILD.format(name=name, how=how)],
                         stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
    try:
        assert p.stdout.readline().strip() == "ready"
        buf = F32Buffer.attach(name, timeout=LONG)
        np.testing.assert_array_equal(buf.wait(100, timeout=LONG), np.arange(100, dtype=np.complex64))
        buf.consume()
        p.stdin.write("\n")
        p.stdin.flush()
        assert p.wait(timeout=LONG) == 0
        if how == "parked" and buf.available:  # what the parked writes published
            buf.wait(buf.available, timeout=LONG)
            buf.consume()
        with pytest.raises(EOFError):
            buf.wait(1, timeout=LONG)
        assert os.path.exists(shm_path(name))  # the consumer is still a party
        buf.destroy()
        assert not os.path.exists(shm_path(name))
    finally:
        p.kill()
        p.wait()


# ---------------------------------------------------------------------------
# A sparse object on a full /dev/shm: ENOSPC at attach, never SIGBUS
# ---------------------------------------------------------------------------

SPARSE_CHILD = """
import errno, json, os
import numpy as np
from doppler.buffer import I16Buffer
model = I16Buffer(1024, name="model")          # 8 KiB: fits in the 64 KiB tmpfs
with open("/dev/shm/doppler.model", "rb") as f:
    header = bytearray(f.read(4096))
cap = 1 << 16                                   # 256 KiB of data: does not fit
header[24:32] = cap.to_bytes(8, "little")       # capacity
header[32:40] = (4 * cap).to_bytes(8, "little") # data bytes
header_bytes = int.from_bytes(header[20:24], "little")  # control page and tag area
fd = os.open("/dev/shm/doppler.sparse", os.O_RDWR | os.O_CREAT | os.O_EXCL, 0o600)
os.pwrite(fd, bytes(header), 0)
os.ftruncate(fd, header_bytes + 4 * cap)        # every data page a hole
os.close(fd)
out = {}
try:
    buf = I16Buffer.attach("sparse")
    buf.write(np.ones((cap, 2), dtype=np.int16))  # would SIGBUS on a hole
    out["attach"] = "attached"
except OSError as e:
    out["attach"] = [e.errno, str(e)]
print(json.dumps(out), flush=True)
"""


def test_attaching_a_sparse_object_on_a_full_dev_shm_is_enospc_not_sigbus():
    """In a private mount namespace with a 64 KiB /dev/shm, an object with a
    valid header whose data pages were never allocated: attach reserves them
    (as creation does) and fails with ENOSPC and a clear message."""
    if os.geteuid() != 0 or not shutil.which("unshare"):
        pytest.skip("needs root and unshare(1) to mount a small tmpfs on /dev/shm in a private namespace")
    script = 'mount -t tmpfs -o size=64k tmpfs /dev/shm && "$0" -c "$1"'
    r = subprocess.run(["unshare", "-m", "sh", "-c", script, sys.executable, SPARSE_CHILD],
                       capture_output=True, text=True, timeout=LONG)
    assert r.returncode == 0, r.stderr  # a SIGBUS would end the child with -7
    out = json.loads(r.stdout.splitlines()[0])
    assert out["attach"] != "attached"
    err, msg = out["attach"]
    assert err == 28, msg  # ENOSPC
    assert "never reserved" in msg and "/dev/shm is full" in msg, msg
