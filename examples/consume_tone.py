#!/usr/bin/python3
# SPDX-License-Identifier: GPL-3.0-or-later
"""Consume the ring that tone_to_ring.grc writes and measure its tone.

Start the flowgraph (it creates the ring /dev/shm/doppler.<name>), then this
script in another terminal, or the other way round: attach() waits up to
--timeout seconds for the ring to appear.

    /usr/bin/python3 tone_to_ring.py --name tone --n-samples 100M &
    /usr/bin/python3 consume_tone.py --name tone --rate 2e6

It reads in chunks with wait/consume (zero-copy views into the ring), folds a
power spectrum from one FFT every --every chunks, and when the producer
closes the ring drains the remainder and prints the totals. With --expect N
it exits 1 unless exactly N samples arrived (block policy: none may be lost).
"""
import argparse
import sys

import numpy as np

from doppler.buffer import F32Buffer

FFT_SIZE = 1 << 16


def main():
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--name", default="tone", help="ring name (default: %(default)s)")
    p.add_argument("--rate", type=float, default=2e6, help="sample rate in Hz, to express the tone (default: %(default)s)")
    p.add_argument("--timeout", type=float, default=10.0, help="seconds to wait for the ring to appear (default: %(default)s)")
    p.add_argument("--chunk", type=int, default=FFT_SIZE, help="samples per wait() (default: %(default)s)")
    p.add_argument("--every", type=int, default=16, help="FFT one chunk in this many (default: %(default)s)")
    p.add_argument("--expect", type=int, help="exit 1 unless exactly this many samples arrive")
    args = p.parse_args()
    if args.chunk < FFT_SIZE:
        p.error(f"--chunk must be at least the FFT size {FFT_SIZE}")

    try:
        buf = F32Buffer.attach(args.name, timeout=args.timeout)
    except TimeoutError:  # it waited --timeout seconds
        sys.exit(f"no ring named {args.name!r} appeared within {args.timeout} s: is the flowgraph running with --name {args.name}?")

    received, chunks = 0, 0
    power = np.zeros(FFT_SIZE)
    with buf:
        if args.chunk > buf.capacity:
            sys.exit(f"--chunk {args.chunk} exceeds the ring capacity {buf.capacity}")
        while True:
            try:
                view = buf.wait(args.chunk)
            except BrokenPipeError:
                sys.exit(f"the producer of {args.name!r} died without closing the ring (after {received} samples)")
            except EOFError:
                # The producer closed the ring; fewer than a chunk is left.
                rest = buf.available
                if rest:
                    buf.wait(rest)
                    buf.consume(rest)
                    received += rest
                break
            if chunks % args.every == 0:
                # The view aliases ring memory: use it before consume().
                power += np.abs(np.fft.fft(view[:FFT_SIZE])) ** 2
            buf.consume(args.chunk)
            received += args.chunk
            chunks += 1
        dropped = buf.dropped

    freqs = np.fft.fftfreq(FFT_SIZE, d=1.0 / args.rate)
    peak = freqs[int(np.argmax(power))] if power.any() else float("nan")
    print(f"received {received} samples, dropped {dropped} (counted by the sink)")
    print(f"tone at {peak:.1f} Hz (FFT bin {args.rate / FFT_SIZE:.1f} Hz)")
    if args.expect is not None and received != args.expect:
        print(f"expected {args.expect} samples, received {received}: {args.expect - received - dropped} lost", file=sys.stderr)
        sys.exit(1)


if __name__ == "__main__":
    main()
