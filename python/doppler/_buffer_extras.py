# SPDX-License-Identifier: GPL-3.0-or-later
"""The pure-Python part of ``doppler.buffer``: the ``Tag`` class and the
asyncio methods (``wait_async``, ``write_async``, ``views``), which the
extension module installs on ``F32Buffer``, ``F64Buffer`` and ``I16Buffer``
when it is imported. Import them from ``doppler.buffer``, not from here.

How the asyncio methods wait without blocking the event loop. Each first
tries the operation without waiting, in the loop's thread (``wait(n,
timeout=0)``, ``write(arr, block=True, timeout=0)``): a window that is
already there costs one call, no thread hop. Only if it must really wait does
it hand the blocking call to the buffer's own worker thread (one per buffer
and side, reader or producer, made on first use; the GIL is released while it
waits), and the loop awaits that. The worker waits in slices of ``_SLICE`` seconds and, between slices,
looks at a flag the awaiting coroutine sets when it is cancelled, so a
cancelled await stops waiting within one slice. Waiting never claims
samples (only ``consume()`` releases them), so a cancelled ``wait_async``
leaves nothing half-done: the next wait returns the same samples. A
cancelled ``write_async`` keeps what it had already copied, like a blocking
``write`` interrupted by Ctrl-C. All waits of one buffer go through its
reader worker, in order (and all writes through its producer worker), so a
wait left over from a cancelled await finishes before the next starts. Rings do not share workers: many rings can be awaited in
one loop at once.
"""

import asyncio
import collections
import concurrent.futures
import threading
import time

__all__ = ["Tag", "install"]

Tag = collections.namedtuple("Tag", ["index", "key", "value"])
Tag.__doc__ = """A tag of the window of the last wait(): ``index`` is the absolute
sample index (the same count as ``read_index`` and ``written``), ``key`` a
str, ``value`` the decoded value (None, bool, int, float, complex, str, bytes,
tuple, list or dict). Immutable; compares equal to the plain tuple."""

# Longest time the worker waits before looking at the cancel flag.
_SLICE = 0.05


class _Worker:
    """One thread that runs one side's blocking calls (the reader's waits, or
    the producer's writes) in order."""

    def __init__(self, role):
        self.pool = concurrent.futures.ThreadPoolExecutor(
            max_workers=1, thread_name_prefix=f"doppler-{role}")
        # The last job: until it is done (a call left over from a cancelled
        # await may still run for one slice), new calls queue behind it
        # instead of touching the ring from the loop's thread.
        self.last = None

    def idle(self):
        return self.last is None or self.last.done()

    def submit(self, fn, *args):
        self.last = self.pool.submit(fn, *args)
        return asyncio.wrap_future(self.last)


class _AsyncState:
    """Per-buffer state of the asyncio methods (stored in ``buf._aio``): a
    worker for the reader side and one for the producer side, since one
    in-process buffer may be read and written from two tasks at once."""

    def __init__(self):
        self.reader = _Worker("wait")
        self.producer = _Worker("write")
        # An end of stream (EOFError, BrokenPipeError) that a cancelled
        # wait_async received after its caller left: the ring reports an
        # end once, so the next wait_async raises it instead of losing it.
        self.pending_end = None


def _state(buf):
    st = buf._aio
    if st is None:
        st = _AsyncState()
        buf._aio = st
    return st


def _deadline(timeout):
    if timeout is None:
        return None
    if not timeout >= 0:
        raise ValueError(
            f"timeout must be None (wait forever) or >= 0 seconds, got {timeout!r}")
    return time.monotonic() + timeout


def _left(deadline):
    return _SLICE if deadline is None else min(_SLICE, max(0.0, deadline - time.monotonic()))


def _blocking_wait(buf, n, deadline, cancelled, st):
    """Worker: wait(n) in slices until it returns, the deadline passes, or
    the awaiting coroutine was cancelled."""
    while True:
        try:
            return buf.wait(n, timeout=_left(deadline))
        except TimeoutError:
            if cancelled.is_set():
                return None
            if deadline is not None and time.monotonic() >= deadline:
                raise
        except (EOFError, BrokenPipeError) as e:
            if cancelled.is_set():
                st.pending_end = e
            raise


async def wait_async(self, n, timeout=None):
    """wait_async($self, n, timeout=None)
--

Await n samples without blocking the event loop; the same view, errors and
stream ends as wait(n, timeout). A cancelled await claims nothing: the next
wait (async or not) returns the same samples. Call consume() when done."""
    st = self._aio
    if st is not None and st.pending_end is not None:
        e, st.pending_end = st.pending_end, None
        raise e
    deadline = _deadline(timeout)
    if st is None or st.reader.idle():
        try:
            return self.wait(n, timeout=0)  # already there: no thread hop
        except TimeoutError:
            if deadline is not None and time.monotonic() >= deadline:
                raise
    st = _state(self)
    cancelled = threading.Event()
    fut = st.reader.submit(_blocking_wait, self, n, deadline, cancelled, st)
    try:
        return await fut
    except asyncio.CancelledError:
        cancelled.set()
        raise


def _blocking_write(buf, arr, tags, start, deadline, cancelled):
    """Worker: the rest of a lossless write, in slices; how far it got is
    read from `written` (this handle is the only producer)."""
    if start is None:
        start = buf.written
    while True:
        done = buf.written - start
        if done >= len(arr):
            return True
        rest = [(o - done, k, v) for (o, k, v) in tags if o >= done] if tags else None
        try:
            return buf.write(arr[done:], block=True, timeout=_left(deadline), tags=rest)
        except (TimeoutError, BrokenPipeError):
            # BrokenPipeError: the reader died; as with write(block=True),
            # a successor may still attach before the deadline.
            if cancelled.is_set():
                return False
            if deadline is not None and time.monotonic() >= deadline:
                raise


async def write_async(self, arr, timeout=None, tags=None):
    """write_async($self, arr, timeout=None, tags=None)
--

Lossless write (write(arr, block=True, timeout, tags)) without blocking the
event loop. A cancelled await stops within 50 ms; the samples copied before
that stay in the ring (written says how many)."""
    deadline = _deadline(timeout)
    st = self._aio
    if st is None or st.producer.idle():
        start = self.written
        try:
            return self.write(arr, block=True, timeout=0, tags=tags)  # room now
        except (TimeoutError, BrokenPipeError):
            if deadline is not None and time.monotonic() >= deadline:
                raise
    else:
        start = None  # read by the worker, after the job before this one
    cancelled = threading.Event()
    fut = _state(self).producer.submit(_blocking_write, self, arr, tags, start, deadline,
                                       cancelled)
    try:
        return await fut
    except asyncio.CancelledError:
        cancelled.set()
        raise


async def views(self, n, timeout=None):
    """views($self, n, timeout=None)
--

Async iterator over successive windows of n samples: each is consumed after
the loop body that received it. At the end of the stream it yields what is
left (fewer than n samples) and stops; BrokenPipeError (the producer died)
and TimeoutError propagate. For an untethered reader, use wait_async() and
check consume()'s result instead (a window may be overwritten while held)."""
    while True:
        try:
            view = await wait_async(self, n, timeout)
        except EOFError:
            left = self.available
            if left:
                view = self.wait(left)
                yield view
                self.consume(left)
            return  # the end is reported once: the next views() is the next stream
        yield view
        self.consume(n)


def install(module):
    """Put the asyncio methods on the module's three buffer classes."""
    for name in ("F32Buffer", "F64Buffer", "I16Buffer"):
        cls = getattr(module, name)
        cls.wait_async = wait_async
        cls.write_async = write_async
        cls.views = views
