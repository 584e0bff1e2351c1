#!/usr/bin/python3
# SPDX-License-Identifier: GPL-3.0-or-later
"""Two rings read concurrently from one asyncio event loop.

A live consumer of two named rings (say, two Buffer Sinks of one flowgraph,
or two flowgraphs): each ring gets its own task; neither blocks the loop, so
a third task (here a once-a-second status line) keeps running. Each task
outlives producer runs: at the end of a stream, `views()` stops, and the
task simply iterates again for the next stream.

    /usr/bin/python3 examples/asyncio_two_rings.py rx_a rx_b        # attach to two rings
    /usr/bin/python3 examples/asyncio_two_rings.py --demo           # make both, and feed them

With --demo it creates two in-process producers (threads) that write one
stream each and close it; the script ends when both streams ended.
"""
import argparse
import asyncio
import os
import threading

import numpy as np

from doppler.buffer import F32Buffer

CHUNK = 8192


async def read_ring(buf, label, totals, streams=None):
    """Sum the power of every window of one ring, stream after stream."""
    done = 0
    while streams is None or done < streams:
        async for view in buf.views(CHUNK):       # consumed after each iteration
            totals[label][0] += len(view)
            totals[label][1] += float(np.mean(np.abs(view) ** 2))
        done += 1                                 # the stream ended (EOFError inside views())
        print(f"{label}: end of stream {buf.stream}, {totals[label][0]} samples so far")


async def status(totals):
    while True:
        await asyncio.sleep(1)
        print("  ".join(f"{k}: {n} samples" for k, (n, _) in totals.items()))


def demo_producer(name, amplitude, n):
    """A stand-in for a flowgraph: one stream of n samples, then close."""
    buf = F32Buffer.attach(name, timeout=10)
    x = (amplitude * np.exp(2j * np.pi * 0.01 * np.arange(CHUNK))).astype(np.complex64)
    for _ in range(n // CHUNK):
        buf.write(x, block=True)
    buf.close()
    buf.destroy()


async def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("rings", nargs="*", help="two ring names to attach to")
    ap.add_argument("--demo", action="store_true", help="create and feed two rings in this process")
    args = ap.parse_args()
    if args.demo:
        names = [f"asyncio-demo-a-{os.getpid()}", f"asyncio-demo-b-{os.getpid()}"]
        bufs = [F32Buffer(1 << 16, name=n) for n in names]
        feeders = [threading.Thread(target=demo_producer, args=(n, a, 1 << 20))
                   for n, a in zip(names, (1.0, 0.5))]
        for f in feeders:
            f.start()
        streams = 1
    else:
        if len(args.rings) != 2:
            ap.error("give two ring names, or --demo")
        names = args.rings
        bufs = [await asyncio.to_thread(F32Buffer.attach, n, timeout=60) for n in names]
        streams = None
    totals = {n: [0, 0.0] for n in names}
    ticker = asyncio.ensure_future(status(totals))
    await asyncio.gather(*(read_ring(b, n, totals, streams) for b, n in zip(bufs, names)))
    ticker.cancel()
    for n, (count, power) in totals.items():
        print(f"{n}: {count} samples")
    for b in bufs:
        b.destroy()
    if args.demo:
        for f in feeders:
            f.join()


if __name__ == "__main__":
    asyncio.run(main())
