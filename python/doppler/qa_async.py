# SPDX-License-Identifier: GPL-3.0-or-later
"""doppler.buffer under asyncio: wait_async / write_async / views never block
the event loop, a cancelled await leaves the ring usable and claims nothing,
and several rings are awaited in one loop. No test asserts a duration; the
timeouts only bound a hang.
"""
import asyncio

import numpy as np
import pytest

from doppler.buffer import F32Buffer, F64Buffer
from doppler_testing import LONG


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
        with pytest.raises(asyncio.CancelledError):
            await task
        # Queued behind the cancelled write, which stops at its next slice.
        v = await asyncio.wait_for(buf.wait_async(1024), LONG)
        assert buf.written == 1024
        assert np.array_equal(v.real, np.arange(1024))
        buf.consume()
        assert await asyncio.wait_for(buf.write_async(seq(1024, 10)), LONG)
        v = await asyncio.wait_for(buf.wait_async(10), LONG)
        assert np.array_equal(v.real, np.arange(1024, 1034))

    asyncio.run(main())
