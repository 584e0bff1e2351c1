# SPDX-License-Identifier: GPL-3.0-or-later
"""doppler.buffer under asyncio: wait_async / write_async / views never block
the event loop, a cancelled await leaves the ring usable and claims nothing,
and several rings are awaited in one loop. No test asserts a duration; the
timeouts only bound a hang.
"""
import asyncio
import errno
import os
import signal
import threading
import time

import numpy as np
import pytest

from doppler.buffer import F32Buffer, F64Buffer
from doppler_testing import LONG, views


def seq(start, n):
    return np.arange(start, start + n, dtype=np.float64).astype(np.complex128)


def test_a_cancelled_wait_async_leaves_the_ring_usable_and_claims_nothing():
    async def main():
        buf = F64Buffer(1024)
        buf.write(seq(0, 100))
        task = asyncio.ensure_future(buf.wait_async(200))  # more than is there: waits
        await asyncio.sleep(0.01)
        assert not task.done()
        task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await task
        # Nothing was claimed: the same samples come again, then the rest.
        v = await asyncio.wait_for(buf.wait_async(100), LONG)
        assert np.array_equal(v.real, np.arange(100))
        assert buf.consume() == 0
        buf.write(seq(100, 100))
        v = await asyncio.wait_for(buf.wait_async(100), LONG)
        assert np.array_equal(v.real, np.arange(100, 200))
        buf.consume()
        assert buf.read_index == 200

    asyncio.run(main())


def test_the_event_loop_keeps_running_while_wait_async_waits():
    async def main():
        buf = F32Buffer(1024)
        ticks = 0
        waiting = asyncio.ensure_future(buf.wait_async(10, timeout=LONG))
        while ticks < 20:  # the loop runs other work while the wait is parked
            await asyncio.sleep(0.001)
            ticks += 1
        assert not waiting.done()
        buf.write(np.ones(10, np.complex64))
        v = await waiting
        assert len(v) == 10
        buf.consume()

    asyncio.run(main())


def test_two_rings_are_read_concurrently_in_one_loop():
    async def produce(buf, base):
        for k in range(50):
            await buf.write_async(seq(base + 100 * k, 100), timeout=LONG)
            await asyncio.sleep(0)
        buf.close()

    async def consume(buf):
        got = []
        async for v in buf.views(64, timeout=LONG):
            got.append(v.real.copy())
        return np.concatenate(got)

    async def main():
        a, b = F64Buffer(256), F64Buffer(256)  # small: both producers must wait for room
        results = await asyncio.wait_for(asyncio.gather(
            produce(a, 0), produce(b, 10**6), consume(a), consume(b)), LONG)
        assert np.array_equal(results[2], np.arange(5000))
        assert np.array_equal(results[3], np.arange(10**6, 10**6 + 5000))

    asyncio.run(main())


def test_wait_async_raises_the_end_of_stream_and_then_waits_for_the_next_stream(names):
    async def main():
        name = names()
        buf = F64Buffer(1024, name=name)
        p1 = F64Buffer.attach(name)
        p1.write(seq(0, 10))
        p1.close()
        v = await buf.wait_async(10)
        buf.consume()
        with pytest.raises(EOFError):
            await buf.wait_async(10, timeout=LONG)
        nxt = asyncio.ensure_future(buf.wait_async(5, timeout=LONG))
        await asyncio.sleep(0.01)
        p1.destroy()  # the next run: a new producer handle
        p2 = F64Buffer.attach(name)
        p2.write(seq(100, 5))
        v = await nxt
        assert np.array_equal(v.real, np.arange(100, 105))
        assert buf.stream == 2
        p2.destroy()
        buf.destroy()

    asyncio.run(main())


def test_a_cancelled_write_async_keeps_what_it_copied_and_the_ring_stays_usable():
    async def main():
        buf = F64Buffer(1024)
        assert await asyncio.wait_for(buf.write_async(seq(0, 1000)), LONG)  # fits
        task = asyncio.ensure_future(buf.write_async(seq(1000, 1000)))  # 24 fit, then it waits
        await asyncio.sleep(0.01)
        task.cancel()
        await cancellation_completes(task, buf)
        # The cancelled write has stopped (nothing reads this ring: it would
        # wait for room forever).
        v = await asyncio.wait_for(buf.wait_async(1024), LONG)
        assert buf.written == 1024
        assert np.array_equal(v.real, np.arange(1024))
        buf.consume()
        assert await asyncio.wait_for(buf.write_async(seq(1024, 10)), LONG)
        v = await asyncio.wait_for(buf.wait_async(10), LONG)
        assert np.array_equal(v.real, np.arange(1024, 1034))

    asyncio.run(main())


# How long a cancelled await may take to complete: it waits for its worker,
# which stops within about 50 ms; only a worker that never stops reaches it.
CANCEL_WITHIN = 10


async def cancellation_completes(task, buf):
    """Await the cancelled `task` for at most CANCEL_WITHIN seconds: it must
    end cancelled. If it does not (its worker goes on writing), close `buf`
    so that the worker's write fails and the event loop can shut down, and
    fail."""
    done, _ = await asyncio.wait({task}, timeout=CANCEL_WITHIN)
    if not done:
        buf.close()  # the stuck write raises; the loop can end
        await asyncio.wait({task}, timeout=LONG)
    assert done, "the cancelled write_async never stopped"
    assert task.cancelled()


def test_a_cancelled_write_async_copies_nothing_after_the_cancellation_returns(names):
    # A reader in another thread keeps making room; the cancelled write must
    # have stopped by the time its cancellation completes, so the program's
    # next blocking write is the only writer and the reader sees one clean
    # sequence: what the cancelled write copied, then the next write.
    name = names()
    prod = F64Buffer(1024, name=name)
    cons = F64Buffer.attach(name)
    total = 256 * 1024  # far more than the reader takes before the cancel
    got = []

    def read():
        for v in views(cons, 64, LONG):
            got.append(v.real.copy())
            time.sleep(0.0002)  # slower than the producer: it must wait for room

    reader = threading.Thread(target=read)
    reader.start()

    async def main():
        task = asyncio.ensure_future(prod.write_async(seq(0, total), timeout=LONG))
        while prod.written < 4 * 1024:
            await asyncio.sleep(0.001)
        task.cancel()
        await cancellation_completes(task, prod)
        at_cancel = prod.written
        await asyncio.sleep(0.2)  # the reader makes room meanwhile
        return at_cancel

    try:
        at_cancel = asyncio.run(main())
        after = prod.written
        wrote_more = prod.write(seq(10**7, 2000), block=True, timeout=LONG)
    finally:
        prod.close()  # the reader drains what is there and stops
        reader.join(LONG)
    assert not reader.is_alive()
    assert at_cancel < total, "the cancelled write went on to the end"
    assert after == at_cancel, f"{after - at_cancel} samples copied after the cancellation"
    assert wrote_more
    data = np.concatenate(got)
    assert np.array_equal(data, np.concatenate([np.arange(at_cancel), np.arange(10**7, 10**7 + 2000)]))
    cons.destroy()
    prod.destroy()


def _child_exit_code(pid, deadline):
    """The child's exit code, or None if it is still running after `deadline`
    seconds (then it is killed)."""
    end = time.monotonic() + deadline
    while time.monotonic() < end:
        done, status = os.waitpid(pid, os.WNOHANG)
        if done:
            return os.waitstatus_to_exitcode(status)
        time.sleep(0.01)
    os.kill(pid, signal.SIGKILL)
    os.waitpid(pid, 0)
    return None


def test_a_child_forked_while_a_wait_async_is_pending_gets_an_answer_instead_of_hanging(names):
    # The parent awaits in a loop of its own thread; the main thread forks.
    # The child's wait_async on the inherited buffer must not queue behind the
    # parent's worker thread, which does not exist in the child: it answers
    # (here OSError EBUSY: the parent's handle holds the reader) or times out.
    name = names()
    buf = F32Buffer(1024, name=name)
    loop = asyncio.new_event_loop()
    waiter = threading.Thread(target=loop.run_forever)
    waiter.start()
    pending = asyncio.run_coroutine_threadsafe(buf.wait_async(10, timeout=LONG), loop)
    try:
        end = time.monotonic() + LONG
        while (buf._aio is None or buf._aio.reader.idle()) and time.monotonic() < end:
            time.sleep(0.005)
        assert buf._aio is not None and not buf._aio.reader.idle()
        pid = os.fork()
        if pid == 0:
            code = 9
            try:
                try:
                    asyncio.run(buf.wait_async(10, timeout=1))
                    code = 0
                except TimeoutError:
                    code = 0
                except OSError as e:
                    code = 0 if e.errno == errno.EBUSY else 8
            finally:
                os._exit(code)
        assert _child_exit_code(pid, 20) == 0, "the child's wait_async hung or failed"
        # The parent's own pending wait is untouched by the fork.
        with F32Buffer.attach(name) as producer:
            producer.write(np.ones(10, np.complex64))
            assert len(pending.result(LONG)) == 10
        buf.consume()
    finally:
        loop.call_soon_threadsafe(loop.stop)
        waiter.join(LONG)
        loop.close()
        buf.destroy()


def test_write_async_streams_an_array_longer_than_the_capacity_with_its_tags():
    async def main():
        buf = F64Buffer(1024)
        total = 50 * 1024
        tags = [(0, "first", 1), (20000, "middle", 2), (total - 1, "last", 3)]
        got, seen = [], []

        async def read():
            async for v in buf.views(512, timeout=LONG):
                seen.extend(buf.tags())
                got.append(v.real.copy())

        reader = asyncio.ensure_future(read())
        assert await asyncio.wait_for(buf.write_async(seq(0, total), timeout=LONG, tags=tags), LONG)
        buf.close()
        await asyncio.wait_for(reader, LONG)
        assert np.array_equal(np.concatenate(got), np.arange(total))
        mine = [(t.index, t.key, t.value) for t in seen if t.key in ("first", "middle", "last")]
        assert mine == tags

    asyncio.run(main())
