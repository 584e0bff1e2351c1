# SPDX-License-Identifier: GPL-3.0-or-later
"""Rings shared between real processes: create/attach in both
orders for every type, a lossless 10^8-sample stream checked sample by
sample, kill -9 of either side, role conflicts, bad names, wrong types,
corrupted headers, permissions, and the creator's unlink while a peer drains.

Every child is a fresh /usr/bin/python3 (subprocess); the parent talks to it
over stdin/stdout lines. Every blocking call has a generous timeout so a bug
fails the test instead of hanging it; no test asserts a duration.
"""
import contextlib
import errno
import json
import os
import re
import select
import signal
import struct
import subprocess
import sys
import textwrap
import threading
import time

import numpy as np
import pytest

from doppler.buffer import F32Buffer, F64Buffer, I16Buffer
from doppler_testing import LONG, shm_path

HERE = os.path.dirname(os.path.abspath(__file__))
TYPES = {"f32": F32Buffer, "f64": F64Buffer, "i16": I16Buffer}
TYPE_NAMES = {"f32": "f32", "f64": "f64", "i16": "i16"}


def make(kind, start, n):
    """Samples start .. start+n-1 of a deterministic sequence, as `kind`
    expects them (I16: shape (n, 2), the uint32 sequence number split in two)."""
    seq = np.arange(start, start + n, dtype=np.uint64)
    if kind == "i16":
        return seq.astype(np.uint32).view(np.int16).reshape(n, 2)
    dtype = np.complex64 if kind == "f32" else np.complex128
    return (seq + 1j * (seq % 1000)).astype(dtype)


# ---------------------------------------------------------------------------
# Child processes
# ---------------------------------------------------------------------------

PRELUDE = f"""
import os, sys, time
sys.path.insert(0, {HERE!r})
import numpy as np
from qa_xproc import TYPES, make
from doppler.buffer import F32Buffer, F64Buffer, I16Buffer
def say(*a):
    print(*a, flush=True)
def hold():
    sys.stdin.readline()  # until the parent says so (or dies)
def claim_reader(buf):
    try:
        buf.wait(1, timeout=0.01)  # the first wait claims the reader role
    except TimeoutError:
        pass
"""


# A line of GNU Radio's console logger: "<block> :<level>: <message>".
GR_LOG_LINE = re.compile(r"\S+ :(trace|debug|info|warning|error|critical): ")


class Child:
    """A /usr/bin/python3 running `code` after PRELUDE, with line-based I/O."""

    def __init__(self, code, user=None):
        # user=(uid, gid): run as that user (setpriv; the parent must be root).
        drop = [] if user is None else ["setpriv", f"--reuid={user[0]}", f"--regid={user[1]}", "--clear-groups"]
        self.p = subprocess.Popen(drop + [sys.executable, "-c", PRELUDE + textwrap.dedent(code)],
                                  stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                                  bufsize=0)
        self.pid = self.p.pid

    def line(self, timeout=LONG):
        """Next line the child printed, skipping GNU Radio's log lines (a
        flowgraph's blocks log there, e.g. the Buffer Sink's path when it
        starts); fails with its stderr if it died."""
        deadline = time.monotonic() + timeout
        while True:
            got = self._line(deadline, timeout)
            if not GR_LOG_LINE.match(got):
                return got

    def _line(self, deadline, timeout):
        out = b""
        while not out.endswith(b"\n"):
            left = deadline - time.monotonic()
            if left <= 0 or not select.select([self.p.stdout], [], [], left)[0]:
                pytest.fail(f"child {self.pid} said nothing within {timeout} s (got {out!r})")
            c = self.p.stdout.read(1)
            if not c:
                self.p.wait(LONG)
                pytest.fail(f"child {self.pid} exited ({self.p.returncode}) before a line: "
                            f"{out!r}\n{self.p.stderr.read().decode()}")
            out += c
        return out.decode().strip()

    def expect(self, word, timeout=LONG):
        got = self.line(timeout)
        assert got.split()[0] == word, got
        return got.split()[1:]

    def send(self, text="go"):
        self.p.stdin.write(text.encode() + b"\n")

    def kill9(self):
        self.p.send_signal(signal.SIGKILL)
        self.p.wait(LONG)  # reap: a zombie must not count as alive

    def finish(self, timeout=LONG):
        """Wait for a clean exit (0), failing with the child's stderr otherwise."""
        try:
            self.p.stdin.close()
        except OSError:
            pass
        try:
            rc = self.p.wait(timeout)
        except subprocess.TimeoutExpired:
            pytest.fail(f"child {self.pid} did not exit within {timeout} s")
        assert rc == 0, f"child {self.pid} exited {rc}:\n{self.p.stderr.read().decode()}"


@contextlib.contextmanager
def created(names, cls, capacity):
    """(name, buffer) of a new named ring this test destroys however it ends."""
    name = names()
    buf = cls(capacity, name=name)
    try:
        yield name, buf
    finally:
        buf.destroy()


@pytest.fixture
def children():
    """Start children with spawn(code); any still running at the end is killed."""
    started = []

    def spawn(code, user=None):
        c = Child(code, user)
        started.append(c)
        return c

    yield spawn
    for c in started:
        if c.p.poll() is None:
            c.p.kill()
            c.p.wait()
        for f in (c.p.stdin, c.p.stdout, c.p.stderr):
            f.close()




# ---------------------------------------------------------------------------
# Create in one process, attach in another
# ---------------------------------------------------------------------------

@pytest.mark.parametrize("kind", list(TYPES))
def test_producer_creates_consumer_attaches(kind, names, children):
    name = names()
    prod = children(f"""
        buf = TYPES[{kind!r}](4096, name={name!r})
        assert buf.write(make({kind!r}, 0, 3000))
        say("written", buf.written)
        hold()
        assert buf.write(make({kind!r}, 3000, 3000), block=True, timeout={LONG})
        buf.close()
        hold()
        buf.destroy()
    """)
    prod.expect("written")
    buf = TYPES[kind].attach(name)
    try:
        assert buf.capacity == 4096 and buf.name == name and buf.written == 3000
        v = buf.wait(3000, timeout=LONG)
        assert np.array_equal(v, make(kind, 0, 3000))
        buf.consume()
        prod.send()
        v = buf.wait(3000, timeout=LONG)  # the second block straddles the wrap
        assert np.array_equal(v, make(kind, 3000, 3000))
        assert buf.read_index == 3000
        buf.consume()
        with pytest.raises(EOFError):
            buf.wait(1, timeout=LONG)
        prod.finish()
    finally:
        buf.destroy()


@pytest.mark.parametrize("kind", list(TYPES))
def test_consumer_creates_producer_attaches_later(kind, names, children):
    """The consumer creates the ring; the producer was started first and
    waits for it to appear (attach with a timeout)."""
    name = names()
    prod = children(f"""
        say("attaching")
        buf = TYPES[{kind!r}].attach({name!r}, timeout={LONG})
        assert buf.capacity == 2048, buf.capacity
        for k in range(0, 10000, 1000):
            assert buf.write(make({kind!r}, k, 1000), block=True, timeout={LONG})
        buf.close()
        buf.destroy()
    """)
    prod.expect("attaching")
    buf = TYPES[kind](2048, name=name)  # then read and ended as in the test above
    try:
        got = 0
        while got < 10000:
            v = buf.wait(700 if 10000 - got >= 700 else 10000 - got, timeout=LONG)
            assert buf.read_index == got
            assert np.array_equal(v, make(kind, got, len(v))), f"mismatch in block at {got}"
            got += len(v)
            buf.consume()
        with pytest.raises(EOFError):
            buf.wait(1, timeout=LONG)
        prod.finish()
    finally:
        buf.destroy()
    assert not os.path.exists(shm_path(name))


def test_attach_missing_ring(names):
    name = names()
    with pytest.raises(FileNotFoundError) as e:
        F32Buffer.attach(name)
    assert name in str(e.value)
    with pytest.raises(TimeoutError):  # it waited, and no ring appeared
        F32Buffer.attach(name, timeout=0.2)


# ---------------------------------------------------------------------------
# A lossless stream of 10^8 samples, every sequence number checked
# ---------------------------------------------------------------------------

def test_lossless_stream_1e8(names, children):
    name = names()
    chunk, nchunks = 8192, 12208  # 100,007,936 samples
    total = chunk * nchunks
    buf = I16Buffer(1 << 16, name=name)
    try:
        prod = children(f"""
            buf = I16Buffer.attach({name!r})
            base = np.arange({chunk}, dtype=np.uint32)
            for c in range({nchunks}):
                block = (base + np.uint32(c * {chunk})).view(np.int16).reshape(-1, 2)
                assert buf.write(block, block=True, timeout={LONG})
            assert buf.dropped == 0
            buf.close()
            say("done", buf.written)
            buf.destroy()
        """)
        # Read in blocks of another size, so views straddle the wrap.
        step = 5000
        got = 0
        while got < total:
            n = min(step, total - got)
            v = buf.wait(n, timeout=LONG)
            assert buf.read_index == got
            seq = v.view(np.uint32).reshape(-1)
            want = np.arange(got, got + n, dtype=np.uint32)
            if not np.array_equal(seq, want):
                k = int(np.nonzero(seq != want)[0][0])
                pytest.fail(f"sample {got + k}: got sequence number {int(seq[k])}")
            buf.consume(n)
            got += n
        with pytest.raises(EOFError):
            buf.wait(1, timeout=LONG)
        assert prod.expect("done") == [str(total)]
        prod.finish()
        assert buf.written == total and buf.dropped == 0
    finally:
        buf.destroy()


# ---------------------------------------------------------------------------
# A side killed with SIGKILL
# ---------------------------------------------------------------------------

PRODUCE_THEN_HOLD = """
    buf = F32Buffer.attach({name!r})
    assert buf.write(make("f32", 0, 3000))
    say("written")
    hold()
"""


def test_producer_killed_consumer_drains_then_broken_pipe(names, children):
    name = names()
    buf = F32Buffer(4096, name=name)  # the consumer creates, so the name outlives the producer
    try:
        prod = children(PRODUCE_THEN_HOLD.format(name=name))
        prod.expect("written")
        prod.kill9()
        v = buf.wait(3000, timeout=LONG)  # what was written before the kill is all there
        assert np.array_equal(v, make("f32", 0, 3000))
        buf.consume()
        with pytest.raises(BrokenPipeError):
            buf.wait(1, timeout=LONG)  # never TimeoutError: the death is noticed
        assert not buf.closed
    finally:
        buf.destroy()


def test_producer_killed_mid_stream(names, children):
    """A lossless producer streaming sequence numbers is killed while both
    sides run: the consumer gets an unbroken sequence up to where it stopped
    (nothing torn, nothing missing), then BrokenPipeError."""
    with created(names, I16Buffer, 8192) as (name, buf):
        prod = children(f"""
            buf = I16Buffer.attach({name!r})
            k = 0
            while True:
                assert buf.write(make("i16", k, 1000), block=True, timeout={LONG})
                k += 1000
                if k == 200000:
                    say("streaming")
        """)
        got, outcome = 0, []

        def drain():
            nonlocal got
            try:
                while True:
                    n = min(777, max(buf.available, 1))
                    v = buf.wait(n, timeout=LONG)
                    seq = v.view(np.uint32).reshape(-1)
                    if not np.array_equal(seq, np.arange(got, got + n, dtype=np.uint32)):
                        raise AssertionError(f"sequence broken after sample {got}")
                    got += n
                    buf.consume()
            except Exception as e:  # asserted below
                outcome.append(e)

        t = threading.Thread(target=drain)
        t.start()
        prod.expect("streaming")
        prod.kill9()
        t.join(LONG + 10)
        assert not t.is_alive(), "the consumer never noticed the dead producer"
        assert isinstance(outcome[0], BrokenPipeError), repr(outcome[0])
        # A lossless write publishes what fits as room appears, so the stream
        # may end part way through a block (qa_faults kills producers many
        # times over, including all-or-nothing writes that must end on a block).
        assert got >= 200000, got
        assert buf.written == got


def test_producer_killed_while_consumer_parked(names, children):
    with created(names, F32Buffer, 4096) as (name, buf):
        prod = children(PRODUCE_THEN_HOLD.format(name=name))
        prod.expect("written")
        buf.wait(3000, timeout=LONG)
        buf.consume()
        outcome = []

        def consumer():
            # No timeout: only noticing the death can end this wait (a
            # consumer that said "broken" only once a timeout ran out would
            # wait for ever).
            try:
                buf.wait(1, timeout=None)
                outcome.append("data")
            except Exception as e:  # the assertion below names it
                outcome.append(type(e))

        t = threading.Thread(target=consumer, daemon=True)
        t.start()
        time.sleep(0.3)  # let it park (not asserted: either way it must end broken)
        prod.kill9()
        t.join(LONG)  # a state (the exception), bounded only so a bug cannot hang
        if t.is_alive():
            buf.close()  # release the waiting thread, then fail
            t.join(LONG)
            pytest.fail("wait() without a timeout never learned that its producer died")
        assert outcome == [BrokenPipeError], outcome


def test_consumer_killed_new_consumer_continues(names, children):
    """A lossless producer runs; its consumer is killed while holding an
    unconsumed view; a new consumer gets every remaining sample, in order."""
    name = names()
    total, cap = 200_000, 16384
    buf = I16Buffer(cap, name=name)
    try:
        prod = children(f"""
            buf = I16Buffer.attach({name!r})
            for k in range(0, {total}, 1000):
                assert buf.write(make("i16", k, 1000), block=True, timeout={LONG})
            buf.close()
            say("done", buf.written)
            buf.destroy()
        """)
        cons = children(f"""
            buf = I16Buffer.attach({name!r})
            for k in range(0, 30000, 3000):
                v = buf.wait(3000, timeout={LONG})
                assert np.array_equal(v, make("i16", k, 3000))
                buf.consume()
            v = buf.wait(500, timeout={LONG})  # held, never consumed
            say("consumed", buf.read_index)
            hold()
        """)
        assert cons.expect("consumed") == ["30000"]
        cons.kill9()
        assert buf.read_index == 30000  # the first unconsumed sample
        got, end = 30000, False
        while not end:
            try:
                v = buf.wait(min(4000, buf.capacity), timeout=LONG)
            except EOFError:  # once: what is left is the stream's last
                end = True
                v = buf.wait(buf.available, timeout=LONG) if buf.available else None
                if v is None:
                    break
            assert buf.read_index == got
            assert np.array_equal(v, make("i16", got, len(v))), f"gap or reorder at {got}"
            got += len(v)
            buf.consume()
        assert got == total
        assert prod.expect("done") == [str(total)]
        prod.finish()
        assert buf.dropped == 0
    finally:
        buf.destroy()


def reader_held_by_a_child(children, name, produced=0):
    """A child that attaches ring `name` and claims its reader (and, with
    `produced`, the producer role too, writing that many samples), then holds
    both until finish() and destroys its handle on the way out. Returned once
    it holds them."""
    produce = f'assert buf.write(make("f32", 0, {produced}))' if produced else ""
    child = children(f"""
        buf = F32Buffer.attach({name!r})
        claim_reader(buf)
        {produce}
        say("claimed")
        hold()
        buf.destroy()
    """)
    child.expect("claimed")
    return child


def test_lossless_producer_broken_pipe_when_consumer_dies(names, children):
    with created(names, F32Buffer, 1024) as (name, buf):
        reader_held_by_a_child(children, name).kill9()
        assert buf.write(make("f32", 0, 1024), block=True, timeout=LONG)  # fits: no waiting
        with pytest.raises(BrokenPipeError):
            buf.write(make("f32", 1024, 1), block=True, timeout=1.0)
        assert buf.dropped == 0


# ---------------------------------------------------------------------------
# Roles: one producer, one consumer
# ---------------------------------------------------------------------------

def test_second_consumer_and_producer_refused_with_holder_pid(names, children):
    with created(names, F32Buffer, 1024) as (name, buf):
        other = reader_held_by_a_child(children, name, produced=10)
        with pytest.raises(OSError) as e:
            buf.wait(1, timeout=1.0)
        assert e.value.errno == errno.EBUSY and str(other.pid) in str(e.value), str(e.value)
        assert "consumer" in str(e.value)
        with pytest.raises(OSError) as e:
            buf.write(make("f32", 0, 10))
        assert e.value.errno == errno.EBUSY and str(other.pid) in str(e.value), str(e.value)
        assert "producer" in str(e.value)
        # Once the holder is gone (it closed the stream on the way out), the role is free.
        other.finish()
        v = buf.wait(10, timeout=LONG)
        assert np.array_equal(v, make("f32", 0, 10))


# ---------------------------------------------------------------------------
# Names, types, headers, permissions
# ---------------------------------------------------------------------------

BAD_NAMES = ["", "a/b", "..", ".hidden", "x" * 201, "a b", "caf\u00e9", "\u00fc", "-/../etc", "a\0b"]


@pytest.mark.parametrize("bad", BAD_NAMES)
def test_bad_names_refused_before_touching_files(bad):
    before = set(os.listdir("/dev/shm"))
    for cls in TYPES.values():
        with pytest.raises(ValueError):
            cls(1024, name=bad)
        with pytest.raises(ValueError):
            cls.attach(bad)
        with pytest.raises(ValueError):
            cls.attach(bad, timeout=0.1)
    # Other test programs (and other users) may create rings meanwhile: count
    # only what is not theirs, i.e. not a name carrying another process's pid.
    new = set(os.listdir("/dev/shm")) - before
    others = re.compile(r"doppler\.(?:[a-z0-9_]+-)*(\d+)-")
    mine = {e for e in new if not ((m := others.match(e)) and int(m.group(1)) != os.getpid())}
    assert mine == set()


def test_longest_name_accepted(names):
    name = names()
    name = name + "x" * (200 - len(name))
    buf = F32Buffer(1024, name=name)
    try:
        assert os.path.exists(shm_path(name))
    finally:
        buf.destroy()
    assert not os.path.exists(shm_path(name))


def test_wrong_type_across_processes(names, children):
    made = {kind: names() for kind in TYPES}
    creator = children(f"""
        bufs = [TYPES[k](1024, name=n) for k, n in {made!r}.items()]
        say("ready")
        hold()
    """)
    creator.expect("ready")
    for have, name in made.items():
        for want, cls in TYPES.items():
            if want == have:
                cls.attach(name).destroy()
                continue
            with pytest.raises(TypeError) as e:
                cls.attach(name)
            msg = str(e.value)
            assert TYPE_NAMES[have] in msg and TYPE_NAMES[want] in msg, msg
    creator.finish()
    for name in made.values():
        assert not os.path.exists(shm_path(name))  # the creator unlinked on exit


# Control block offsets (include/doppler/ring.hpp): magic 0, version 8, type 12,
# sample_size 16, header_bytes 20, capacity 24, data_bytes 32, flags 48.
def _patch(fmt, offset, value):
    def apply(path):
        with open(path, "r+b") as f:
            f.seek(offset)
            f.write(struct.pack(fmt, value))
    return apply


def _truncate(size):
    def apply(path):
        os.truncate(path, size(os.path.getsize(path)))
    return apply


CORRUPTIONS = {
    "magic": (_patch("<Q", 0, 0x474E495252504F45), "bad magic"),
    "version": (_patch("<I", 8, 1), "layout version 1"),
    "reader-table": (_patch("<H", 52, 17), "reader table of 17"),
    "seam-table": (_patch("<H", 54, 64), "seam table of 64"),
    "tag-offset": (_patch("<I", 56, 8192), "tag area at 8192"),
    "tag-bytes": (_patch("<I", 60, 3000), "tag area of 3000 bytes"),
    "type": (_patch("<I", 12, 9), "unknown sample type 9"),
    "type-f64": (_patch("<I", 12, 2), "sample size 8 does not match type f64"),
    "sample-size": (_patch("<I", 16, 4), "sample size 4"),
    "header-bytes": (_patch("<I", 20, 64), "header size 64"),
    "capacity-odd": (_patch("<Q", 24, 1025), "capacity 1025"),
    "capacity-huge": (_patch("<Q", 24, 1 << 62), "is not a power of two in range"),
    "capacity-double": (_patch("<Q", 24, 2048), "data size does not match capacity"),
    "data-bytes": (_patch("<Q", 32, 1 << 20), "data size does not match capacity"),
    "flags": (_patch("<I", 48, 2), "unknown flags"),  # bit 0 is the handshake
    "truncated-half": (_truncate(lambda s: s // 2), "truncated"),
    "truncated-header": (_truncate(lambda s: 100), "smaller than a ring header"),
    "extended": (_truncate(lambda s: s + 4096), "header says"),
}


def test_corrupted_headers_refused_cleanly(names, children):
    """Each corruption of a real ring is refused with its reason, in a child
    process (so a crash would show as a signal, not take pytest down)."""
    # Each case starts as a byte copy of a real ring, then is damaged.
    image_name = names()
    buf = F32Buffer(1024, name=image_name)
    assert buf.write(make("f32", 0, 100))
    with open(shm_path(image_name), "rb") as f:
        image = f.read()
    buf.destroy()
    cases = {what: names() for what in CORRUPTIONS}
    for what, name in cases.items():
        path = shm_path(name)
        with open(path, "wb") as f:
            f.write(image)
        os.chmod(path, 0o600)
        CORRUPTIONS[what][0](path)
    probe = children(f"""
        import json
        out = {{}}
        for what, name in {cases!r}.items():
            try:
                F32Buffer.attach(name).destroy()
                out[what] = ["attached", ""]
            except Exception as e:
                out[what] = [type(e).__name__, str(e)]
        say(json.dumps(out))
    """)
    results = json.loads(probe.line())
    probe.finish()
    for what, (kind, msg) in results.items():
        want = CORRUPTIONS[what][1]
        assert kind != "attached", f"{what}: a corrupted ring was accepted"
        assert want in msg and cases[what] in msg, f"{what}: {kind}: {msg}"
        assert kind in ("OSError", "TypeError", "ValueError"), f"{what}: {kind}: {msg}"


def test_empty_object_refused(names):
    name = names()
    open(shm_path(name), "wb").close()
    os.chmod(shm_path(name), 0o600)
    with pytest.raises(OSError) as e:
        F32Buffer.attach(name)  # waits out the creator's grace, then gives up
    assert name in str(e.value) and "empty" in str(e.value)


def test_another_users_ring_cannot_be_opened(names, children, throwaway_user):
    """Mode 0600: a process of another user gets PermissionError at attach
    (the object cannot even be opened), in every buffer class."""
    with created(names, F32Buffer, 1024) as (name, buf):
        other = children(f"""
            for cls in (F32Buffer, F64Buffer, I16Buffer):
                try:
                    cls.attach({name!r})
                    say("attached")
                except PermissionError as e:
                    say("refused", "not accessible" in str(e) and {name!r} in str(e))
        """, user=throwaway_user)
        for _ in range(3):
            assert other.line() == "refused True"
        other.finish()


def test_foreign_owner_refused_unless_allowed(names, children, throwaway_user):
    """A ring created by another user: even root, who can open it, is refused
    (PermissionError naming the owner's uid) unless allow_foreign=True."""
    name = names()
    uid, _ = throwaway_user
    owner = children(f"""
        buf = F32Buffer(1024, name={name!r})
        assert buf.write(np.arange(10).astype(np.complex64))
        say("ready")
        hold()
        buf.destroy()
    """, user=throwaway_user)
    owner.expect("ready")
    assert os.stat(shm_path(name)).st_uid == uid
    with pytest.raises(PermissionError) as e:
        F32Buffer.attach(name)
    assert str(uid) in str(e.value)
    peer = F32Buffer.attach(name, allow_foreign=True)
    assert np.array_equal(peer.wait(10, timeout=LONG).real, np.arange(10))
    peer.destroy()
    owner.finish()
    assert not os.path.exists(shm_path(name))


def test_created_objects_are_0600_whatever_the_umask(names, children):
    made = {kind: names() for kind in TYPES}
    creator = children(f"""
        os.umask(0)
        bufs = [TYPES[k](1024, name=n) for k, n in {made!r}.items()]
        say("ready")
        hold()
    """)
    creator.expect("ready")
    for name in made.values():
        st = os.stat(shm_path(name))
        assert st.st_mode & 0o7777 == 0o600, oct(st.st_mode)
        assert st.st_uid == os.geteuid()
    creator.finish()


# ---------------------------------------------------------------------------
# Lifetime: the creator unlinks, peers keep draining, the name is reusable
# ---------------------------------------------------------------------------

def test_creator_destroy_leaves_the_name_to_a_peer_that_drains(names, children):
    name = names()
    prod = children(f"""
        buf = F64Buffer(4096, name={name!r})
        assert buf.write(make("f64", 0, 2500))
        say("written")
        hold()
        buf.destroy()  # closes (it produced); the attached peer keeps the name
        say("destroyed")
        hold()
    """)
    prod.expect("written")
    old = F64Buffer.attach(name)
    try:
        prod.send()
        prod.expect("destroyed")
        assert os.path.exists(shm_path(name))
        v = old.wait(2500, timeout=LONG)
        assert np.array_equal(v, make("f64", 0, 2500))
        old.consume()
        with pytest.raises(EOFError):
            old.wait(1, timeout=LONG)
        prod.finish()
    finally:
        old.destroy()  # the last party: the name goes
    assert not os.path.exists(shm_path(name))
    # A new ring may take the name at once.
    new = F64Buffer(1024, name=name)
    try:
        assert new.write(make("f64", 7000, 100))
        assert np.array_equal(new.wait(100, timeout=LONG), make("f64", 7000, 100))
    finally:
        new.destroy()


def test_creator_exit_unlinks_but_sigkill_leaves_the_name(names, children):
    clean, killed = names(), names()
    a = children(f"""
        buf = F32Buffer(1024, name={clean!r})
        say("ready")
    """)
    a.expect("ready")
    a.finish()
    assert not os.path.exists(shm_path(clean))
    b = children(f"""
        buf = F32Buffer(1024, name={killed!r})
        say("ready")
        hold()
    """)
    b.expect("ready")
    b.kill9()
    assert os.path.exists(shm_path(killed))  # left for `doppler-ring rm --stale`
    F32Buffer.attach(killed).destroy()  # still a valid ring
