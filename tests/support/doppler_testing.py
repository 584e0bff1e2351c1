# SPDX-License-Identifier: GPL-3.0-or-later
"""What the project's Python tests share (tests/support, on every Python
test's PYTHONPATH: DOPPLER_TEST_PYTHONPATH in tests/support/CMakeLists.txt).

- Ring names and their files: ring_name() gives a name no other test or
  concurrent run uses, shm_path() the file of a named ring, the `names`
  pytest fixture names rings and removes whatever of them is left.
- The CI skip policy (pytest_runtest_makereport): a conftest.py takes it by
  assignment, so an unexpected skip fails under CI=true.
- For the blocks' tests: the four ways to use a ring type, the conversions
  the blocks promise, draining a ring, reading a child's log, stopping a
  flowgraph from a thread.
"""

import contextlib
import itertools
import os
import subprocess
import sys
import threading
import time

import numpy as np
import pytest
from doppler import buffer as dbuf

# Where a named ring lives (the core's shm_dir + shm_prefix, types.hpp).
SHM_PREFIX = "/dev/shm/doppler."

LONG = 60  # seconds: a bound reached only if something is broken, never a figure asserted


# ---------------------------------------------------------------------------
# Ring names and their files
# ---------------------------------------------------------------------------

_names = itertools.count(1)


def ring_name(tag=""):
    """A ring name no other test or concurrent run uses: qa-<pid>-<n>, or
    qa-<pid>-<tag>-<n> (so qa-<pid>-* matches every ring of this process)."""
    return f"qa-{os.getpid()}-{tag + '-' if tag else ''}{next(_names)}"


def shm_path(name):
    """The file of the named ring `name`."""
    return SHM_PREFIX + name


def shm_exists(name):
    return os.path.exists(shm_path(name))


def remove_files(paths):
    """Unlink each path that exists (what a test left behind)."""
    for p in paths:
        try:
            os.unlink(p)
        except FileNotFoundError:
            pass


@contextlib.contextmanager
def made_names(also=lambda name: ()):
    """new(tag="") gives a ring name no other test or concurrent run uses
    (ring_name); on leaving, the rings of those names are removed if left,
    and the paths also(name) gives for each (files a test makes per ring)."""
    made = []

    def new(tag=""):
        made.append(ring_name(tag))
        return made[-1]

    try:
        yield new
    finally:
        remove_files([p for n in made for p in (shm_path(n), *also(n))])


@pytest.fixture
def names():
    """made_names() for one test."""
    with made_names() as new:
        yield new


# ---------------------------------------------------------------------------
# Under CI every test runs: an unexpected skip fails. Every conftest.py of
# the project takes this hook by assignment:
#     pytest_runtest_makereport = doppler_testing.pytest_runtest_makereport
# ---------------------------------------------------------------------------

# Skip reasons CI accepts (substrings). Empty: CI runs as root, with
# unshare(1), useradd(8) and setpriv(1), so every test can set itself up.
# A test that legitimately cannot run in CI goes here, with a comment why.
ALLOWED_SKIPS = ()


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item, call):
    """With CI=true in the environment, a skip whose reason is not in
    ALLOWED_SKIPS is reported as a failure: a test that quietly does not run
    checks nothing, and CI would stay green."""
    outcome = yield
    rep = outcome.get_result()
    if not rep.skipped or hasattr(rep, "wasxfail") or os.environ.get("CI") != "true":
        return
    reason = rep.longrepr[2] if isinstance(rep.longrepr, tuple) else str(rep.longrepr)
    if any(allowed in reason for allowed in ALLOWED_SKIPS):
        return
    rep.outcome = "failed"
    rep.longrepr = (f"skipped under CI=true, where every test must run: {reason}\n"
                    "Fix the environment, or add the reason to ALLOWED_SKIPS in "
                    "tests/support/doppler_testing.py if the test cannot run there.")


# ---------------------------------------------------------------------------
# Buffers and samples
# ---------------------------------------------------------------------------

# The three buffer classes and their NumPy sample types.
ALL = [dbuf.F32Buffer, dbuf.F64Buffer, dbuf.I16Buffer]
DTYPE = {dbuf.F32Buffer: np.complex64, dbuf.F64Buffer: np.complex128, dbuf.I16Buffer: np.int16}


def samples(cls, n, start=0):
    """n samples of cls's input type numbered start, start+1, ... (mod 2^15 for I16)."""
    idx = np.arange(start, start + n)
    if cls is dbuf.I16Buffer:
        return np.stack([idx % 32768, -(idx % 32768)], axis=1).astype(np.int16)
    return (idx + 1j * -idx).astype(DTYPE[cls])


def calls_on(buf, cls):
    """A call of each method and property of a buffer object (cls's), for the
    tests that every one of them refuses a buffer without a ring."""
    return [
        lambda: buf.write(samples(cls, 1)),
        lambda: buf.write(samples(cls, 1), block=True),
        lambda: buf.wait(1),
        lambda: buf.consume(1),
        lambda: buf.consume(),
        buf.close,
        lambda: buf.__enter__(),
    ] + [lambda p=p: getattr(buf, p) for p in
         ("capacity", "dropped", "available", "name", "written", "read_index", "closed")]


# ---------------------------------------------------------------------------
# The blocks' tests: variants, conversions, tags, processes, flowgraphs
# ---------------------------------------------------------------------------

SINK_SCALE = 32767.0
SOURCE_SCALE = 1.0 / 32768

# variant -> (block type, sc16, buffer class)
VARIANTS = {
    "f32": ("f32", False, dbuf.F32Buffer),
    "f64": ("f64", False, dbuf.F64Buffer),
    "i16": ("i16", False, dbuf.I16Buffer),
    "sc16": ("i16", True, dbuf.I16Buffer),
}


def check_by_name_both_ways(test, check, first):
    """For each variant, a block and Python code share a ring by name, the
    Python side making it first (`first`=True) and then the block:
    check(variant, python_first) runs the case and returns (buffer, name);
    destroying the buffer must then remove the name."""
    for variant in VARIANTS:
        for python_first in (True, False):
            with test.subTest(variant=variant, **{first: python_first}):
                buf, name = check(variant, python_first)
                buf.destroy()
                test.assertFalse(shm_exists(name))

def gr_tag(offset, key, value):
    """A GNU Radio stream tag (gr.tag_t) at `offset` with key `key` (a str)."""
    import pmt
    from gnuradio import gr
    t = gr.tag_t()
    t.offset = offset
    t.key = pmt.intern(key)
    t.value = value
    return t


def next_line(proc):
    """proc's next stdout line, stripped ("" at its end), read from the pipe
    itself a byte at a time. A buffered proc.stdout.readline() can take more
    than one line from the pipe, and a later proc.communicate(), which reads
    the pipe and not that buffer, would never return the rest."""
    fd, out = proc.stdout.fileno(), bytearray()
    while True:
        b = os.read(fd, 1)
        if not b or b == b"\n":
            return out.decode().strip()
        out += b


def log_lines_with(code, args, marker):
    """Run `code` (python3 -c, with `args`): a flowgraph that runs until its
    stdin closes. Read GNU Radio's log (the child's stdout) until a line
    holds `marker`, then close the child's stdin (its flowgraph stops) and
    read on to its end. Returns every line that held the marker. A child that
    never logs it is killed after LONG seconds (the test fails, never hangs)."""
    child = subprocess.Popen([sys.executable, "-c", code] + list(args), stdin=subprocess.PIPE,
                             stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True)
    watchdog = threading.Timer(LONG, child.kill)
    watchdog.start()
    try:
        said = []
        for line in child.stdout:
            if marker in line:
                said.append(line)
                if not child.stdin.closed:
                    child.stdin.close()
        child.wait(LONG)
    finally:
        watchdog.cancel()
        child.stdout.close()
    return said


RAMP_CONSUMER = """
import sys, time, numpy as np
from doppler import buffer as b
name, chunk, slow = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
r = b.F32Buffer.attach(name, timeout=30); nxt = 0; i = 0; end = False
while not end:
    try: v = r.wait(chunk, timeout=60)
    except EOFError:  # told once: what is left is the stream's last
        end = True
        if not r.available: break
        v = r.wait(r.available)
    k = len(v)
    want = np.arange(nxt, nxt + k, dtype=np.float32)
    assert (v.real == want).all() and (v.imag == -want).all(), nxt
    nxt += k; r.consume(k); i += 1
    if i < slow: time.sleep(0.0005)
print(nxt, r.dropped)
"""


def ramp_consumer(name, chunk, slow=0):
    """A process that attaches to f32 ring `name` (within 30 s), reads it in
    windows of `chunk` until the end of the stream, checks that sample k is
    k - jk, and prints how many samples it read and the ring's dropped
    count. Its first `slow` windows take 0.5 ms each (a slow reader)."""
    return subprocess.Popen([sys.executable, "-c", RAMP_CONSUMER, name, str(chunk), str(slow)],
                            stdout=subprocess.PIPE, text=True)


def complex_input(n, seed=1):
    """Complex test signal in [-1, 1), plus a few out-of-range values that an
    int16 conversion must saturate."""
    rng = np.random.default_rng(seed)
    x = (rng.uniform(-1, 1, n) + 1j * rng.uniform(-1, 1, n)).astype(np.complex64)
    x[:4] = [2 + 2j, -2 - 2j, 1 - 1j, 0.5 + 0j]
    return x


def to_i16(x, scale=SINK_SCALE):
    """What the sink stores for complex input into an i16 ring: (n, 2) int16."""
    iq = np.stack([x.real, x.imag], axis=1).astype(np.float32) * np.float32(scale)
    return np.clip(np.rint(iq), -32768, 32767).astype(np.int16)


def views(buf, n, timeout=20.0):
    """The windows of n samples a reader gets until the end of its stream,
    then what is left (fewer than n), each consumed once the loop body that
    received it is done: the buffers' async views(), without asyncio. A
    stream that stalls for `timeout` seconds fails with TimeoutError."""
    while True:
        try:
            v = buf.wait(n, timeout=timeout)
        except EOFError:  # closed: fewer than n remain
            rest = buf.available
            if rest:
                yield buf.wait(rest)
                buf.consume(rest)
            return
        yield v
        buf.consume(n)


def drain(buf, chunk=1000, timeout=20.0):
    """Read a ring until end of stream, every sample copied out, in order.
    A stream that stalls for `timeout` seconds fails with TimeoutError."""
    parts = [np.array(v) for v in views(buf, chunk, timeout)]
    return np.concatenate(parts) if parts else np.zeros(0)


class Drainer(threading.Thread):
    """drain() in a thread; `result` (or `error`) once joined."""

    def __init__(self, buf, chunk=1000, timeout=20.0):
        super().__init__(daemon=True)
        self.buf, self.chunk, self.timeout = buf, chunk, timeout
        self.result = self.error = None

    def run(self):
        try:
            self.result = drain(self.buf, self.chunk, self.timeout)
        except BaseException as e:  # reported by the test
            self.error = e


def until(state, what):
    """Wait until state() is true (polling); fails naming `what` if it never
    gets there within LONG seconds (a hang, not a slow run)."""
    deadline = time.monotonic() + LONG
    while not state():
        if time.monotonic() > deadline:
            raise AssertionError(f"never reached: {what}")
        time.sleep(0.005)


def run_while(tb, reader):
    """tb.run() while reader() runs in a thread of its own. True once both
    ended; False if the reader still ran LONG seconds after the flowgraph."""
    t = threading.Thread(target=reader, daemon=True)
    t.start()
    tb.run()
    t.join(LONG)
    return not t.is_alive()


def stops(tb, ready=lambda: True):
    """Start tb, wait until ready() (the blocks are where the test wants them,
    e.g. waiting on a full or empty ring), then stop()+wait() in a thread.
    True once that returned; False only if it hung (LONG seconds). How fast a
    stop is, is a figure for docs/blocks.md, not an assertion."""
    tb.start()
    until(ready, "the flowgraph's blocks in the state the test needs")
    return stop_running(tb)


def stop_running(tb):
    """stop()+wait() of a running tb in a thread: True once that returned,
    False only if it hung (LONG seconds)."""
    t = threading.Thread(target=lambda: (tb.stop(), tb.wait()), daemon=True)
    t.start()
    t.join(LONG)
    return not t.is_alive()


def ends_by_itself(tb):
    """tb.wait() (tb started) in a thread; True once it returned (the
    flowgraph ended by itself), False if it still ran after LONG seconds
    (then it is stopped)."""
    return ends_within(tb, LONG)


def ends_within(tb, seconds):
    """tb.wait() (tb started) in a thread: True once it returned within
    `seconds`, else False (then the flowgraph is stopped)."""
    t = threading.Thread(target=tb.wait, daemon=True)
    t.start()
    t.join(seconds)
    if t.is_alive():
        tb.stop()
        t.join(LONG)
        return False
    return True
