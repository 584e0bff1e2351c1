#!/usr/bin/python3
# SPDX-License-Identifier: GPL-3.0-or-later
"""Added latency of wait_async over wait: a producer thread writes one
sample carrying its perf_counter_ns timestamp after a pause (so the reader
is parked, not spinning on data already there), and the reader measures
write -> wake-up. Three readers, interleaved in the same run: wait() in a
thread, await wait_async() in an asyncio loop (the worker-thread path), and
the raw asyncio hand-off with no ring (loop.call_soon_threadsafe from the
producer: the floor of any design that wakes an event loop from another
thread). p50 and p99 in microseconds.

Run from the build tree:
    PYTHONPATH=<build>/python /usr/bin/python3 apps/bench/bench_async.py
"""
import argparse
import asyncio
import threading
import time

import numpy as np

from doppler.buffer import F64Buffer

PAUSE = 0.002  # seconds between samples: the reader parks in between


def producer(buf, count, stop):
    for _ in range(count):
        time.sleep(PAUSE)
        buf.write(np.array([time.perf_counter_ns()], dtype=np.complex128), block=True)
    stop.set()


def sync_reader(count):
    buf, lat, stop = F64Buffer(4096), [], threading.Event()
    t = threading.Thread(target=producer, args=(buf, count, stop))
    t.start()
    for _ in range(count):
        v = buf.wait(1)
        lat.append(time.perf_counter_ns() - v[0].real)
        buf.consume()
    t.join()
    return lat


def async_reader(count):
    buf, lat, stop = F64Buffer(4096), [], threading.Event()

    async def main():
        t = threading.Thread(target=producer, args=(buf, count, stop))
        t.start()
        for _ in range(count):
            v = await buf.wait_async(1)
            lat.append(time.perf_counter_ns() - v[0].real)
            buf.consume()
        t.join()

    asyncio.run(main())
    return lat


def loop_handoff(count):
    lat = []

    async def main():
        loop = asyncio.get_running_loop()
        for _ in range(count):
            fut = loop.create_future()

            def fire():
                time.sleep(PAUSE)
                t0 = time.perf_counter_ns()
                loop.call_soon_threadsafe(fut.set_result, t0)

            threading.Thread(target=fire).start()
            t0 = await fut
            lat.append(time.perf_counter_ns() - t0)

    asyncio.run(main())
    return lat


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--samples", type=int, default=500, help="wake-ups per reader per round")
    ap.add_argument("--rounds", type=int, default=4, help="interleaved rounds")
    args = ap.parse_args()
    lat = {"wait (thread)": [], "wait_async": [], "asyncio hand-off, no ring": []}
    for _ in range(args.rounds):
        lat["wait (thread)"] += sync_reader(args.samples)
        lat["wait_async"] += async_reader(args.samples)
        lat["asyncio hand-off, no ring"] += loop_handoff(args.samples // 4)
    print(f"{'reader':<28} {'p50 us':>8} {'p99 us':>8}")
    for k, v in lat.items():
        us = np.array(v) / 1e3
        print(f"{k:<28} {np.percentile(us, 50):>8.1f} {np.percentile(us, 99):>8.1f}")
    p50 = {k: np.percentile(v, 50) / 1e3 for k, v in lat.items()}
    print(f"added by wait_async over wait: p50 {p50['wait_async'] - p50['wait (thread)']:.1f} us")


if __name__ == "__main__":
    main()
