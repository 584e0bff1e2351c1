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
waits), and the loop awaits that. Rings do not share workers: many rings can
be awaited in one loop at once.

Cancellation. The worker's call (``_wait_cancellable``,
``_write_cancellable``: ``wait`` and a lossless ``write`` that also stop when
told) looks at a flag the awaiting coroutine sets when it is cancelled
whenever it looks for Ctrl-C: at least every 50 ms while it waits. The
cancelled await itself completes
only once the worker has stopped (within about 50 ms): after it, nothing
works on the buffer on the cancelled call's behalf, so the program may call
``write`` or ``wait`` on it at once without two threads using one handle.
Waiting never claims samples (only ``consume()`` releases them), so a
cancelled ``wait_async`` leaves nothing half-done: the next wait returns the
same samples. A cancelled ``write_async`` keeps what it had already copied
(``written`` says how far it got), like a blocking ``write`` interrupted by
Ctrl-C.

Fork. A child process has only the thread that called ``fork()``: the
workers of its parent's buffers do not exist in it. Every worker belongs to
the process that made it (``os.register_at_fork`` counts forks in the child),
so a child's first asyncio call on an inherited buffer makes fresh workers
and behaves as in any process (an inherited handle holds no role in the
child: a role the parent holds is refused with OSError(EBUSY), as a
plain ``wait`` or ``write`` would be).
"""

import asyncio
import collections
import concurrent.futures
import os
import threading
import time

__all__ = ["Tag", "install"]

Tag = collections.namedtuple("Tag", ["index", "key", "value"])
Tag.__doc__ = """A tag of the window of the last wait(): ``index`` is the absolute
sample index (the same count as ``read_index`` and ``written``), ``key`` a
str, ``value`` the decoded value (None, bool, int, float, complex, str, bytes,
tuple, list or dict). Immutable; compares equal to the plain tuple."""

# Forks into this process so far (0 in the process that imported the module,
# counted up in every child): workers made under another count belong to an
# ancestor and have no thread here.
_forks = 0


def _count_fork():
    global _forks
    _forks += 1


os.register_at_fork(after_in_child=_count_fork)


class _Worker:
    """One thread that runs one side's blocking calls (the reader's waits, or
    the producer's writes) in order."""

    def __init__(self, role):
        self.pool = concurrent.futures.ThreadPoolExecutor(
            max_workers=1, thread_name_prefix=f"doppler-{role}")
        # The last job: until it is done (a call left over from a cancelled
        # await may still run for a moment), new calls queue behind it
        # instead of touching the ring from the loop's thread.
        self.last = None

    def idle(self):
        return self.last is None or self.last.done()

    def submit(self, fn, *args):
        """Queue fn(*args); the concurrent.futures.Future of the job."""
        self.last = self.pool.submit(fn, *args)
        return self.last


class _AsyncState:
    """Per-buffer state of the asyncio methods (stored in ``buf._aio``): a
    worker for the reader side and one for the producer side, since one
    in-process buffer may be read and written from two tasks at once."""

    def __init__(self):
        self.forks = _forks  # the process it belongs to (see _current)
        self.reader = _Worker("wait")
        self.producer = _Worker("write")
        # An end of stream (EOFError, BrokenPipeError) that a cancelled
        # wait_async received after its caller left: the ring reports an
        # end once, so the next wait_async raises it instead of losing it.
        self.pending_end = None


def _current(buf):
    """The buffer's asyncio state if it was made in this process, else None.
    A child after fork() drops its parent's: those worker threads do not exist
    here, and a call queued to them would wait forever."""
    st = buf._aio
    if st is not None and st.forks != _forks:
        buf._aio = st = None
    return st


def _state(buf):
    st = _current(buf)
    if st is None:
        st = _AsyncState()
        buf._aio = st
    return st


async def _run(worker, cancelled, fn, *args):
    """Run fn(*args) on `worker` and await its result. If the awaiting task
    is cancelled, set `cancelled` (the worker stops at its next check) and
    complete the cancellation only once the job has ended."""
    done = asyncio.wrap_future(worker.submit(fn, *args))
    try:
        return await asyncio.shield(done)
    except asyncio.CancelledError:
        cancelled.set()
        await _ended(done)
        raise


async def _ended(done):
    """Wait until the worker's job (`done`, its asyncio future) has ended,
    whatever it returns or raises and however often this task is cancelled
    meanwhile (the job ends within about 50 ms of the cancel flag being set)."""
    while not done.done():
        try:
            await asyncio.shield(done)
        except asyncio.CancelledError:
            continue  # cancelled again: still wait for the worker to stop
        except Exception:
            break
    if not done.cancelled():
        done.exception()  # retrieved: the caller is told of the cancellation only


def _deadline(timeout):
    if timeout is None:
        return None
    if not timeout >= 0:
        raise ValueError(
            f"timeout must be None (wait forever) or >= 0 seconds, got {timeout!r}")
    return time.monotonic() + timeout


def _left(deadline):
    return None if deadline is None else max(0.0, deadline - time.monotonic())


def _blocking_wait(buf, n, deadline, cancelled, st):
    """Worker: wait(n) until it returns, the deadline passes, or the awaiting
    coroutine was cancelled (None)."""
    if cancelled.is_set():
        return None
    try:
        return buf._wait_cancellable(n, _left(deadline), cancelled)
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
    st = _current(self)
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
    return await _run(st.reader, cancelled, _blocking_wait, self, n, deadline, cancelled, st)


def _blocking_write(buf, arr, tags, start, deadline, cancelled):
    """Worker: the rest of a lossless write, begun only if the await was not
    cancelled, and stopped (False) when it is; how far the write tried in the
    loop's thread got is read from `written` (this handle is the only
    producer)."""
    if cancelled.is_set():
        return False
    if start is None:
        start = buf.written
    done = buf.written - start
    if done >= len(arr):
        return True
    rest = [(o - done, k, v) for (o, k, v) in tags if o >= done] if tags else None
    return buf._write_cancellable(arr[done:], _left(deadline), rest, cancelled)


async def write_async(self, arr, timeout=None, tags=None):
    """write_async($self, arr, timeout=None, tags=None)
--

Lossless write (write(arr, block=True, timeout, tags)) of any length without
blocking the event loop. A cancelled await completes once the write has
stopped (within 50 ms): nothing is copied after it; the samples copied before
stay in the ring (written says how many)."""
    deadline = _deadline(timeout)
    st = _current(self)
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
    return await _run(_state(self).producer, cancelled, _blocking_write, self, arr, tags, start,
                      deadline, cancelled)


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
