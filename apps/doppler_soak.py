#!/usr/bin/python3
# SPDX-License-Identifier: GPL-3.0-or-later
"""doppler-soak: stream sequence-numbered samples between two processes for
a long time and check every one.

This process creates a named I16Buffer and consumes; it starts a producer
process (this script with --producer) that attaches and writes lossless
(write(block=True)). Each sample is a 32-bit counter split into I and Q, so
the consumer checks each sample against the next expected number (mod 2^32,
plus its own 64-bit count): a missing sample counts as lost, one that comes
after a later one as reordered. Both checks are vectorised (one subtract and
one compare per view, into preallocated arrays), so the consumer keeps up.

It prints a progress line every --report seconds and, at the end, samples
moved, rate, lost, reordered, and the RSS of both processes at the start
(once the ring's pages and every buffer are touched), at the end and its
peak (VmHWM): they must stay flat.

It also prints the ring's missed wake-ups (a parked side that found what it
waited for only when its park slice ran out): any is a bug.

Exit status: 0 if lost == reordered == missed wakes == 0 and the producer
ended cleanly, 1 otherwise, 2 on bad arguments.
"""
import argparse
import json
import os
import signal
import subprocess
import sys
import time

import numpy as np

from doppler.buffer import DEFAULT_CAPACITY, I16Buffer

MIB = 1024 * 1024


def memory(pid="self"):
    """(VmRSS, VmHWM) of a process in bytes, from /proc/PID/status; zeros
    once it has exited."""
    got = {}
    try:
        with open(f"/proc/{pid}/status") as f:
            for line in f:
                key, _, value = line.partition(":")
                if key in ("VmRSS", "VmHWM"):
                    got[key] = int(value.split()[0]) * 1024
    except FileNotFoundError:
        pass
    return got.get("VmRSS", 0), got.get("VmHWM", 0)


def warm(capacity, chunk):
    """Samples after which every ring page and buffer has been touched: RSS
    from here on is the steady state."""
    return 2 * capacity + 2 * chunk


def produce(args):
    """The producer process: counter samples, lossless, until --samples are
    written or --seconds have passed; then close and report on stdout."""
    buf = I16Buffer.attach(args.name, timeout=10)
    ramp = np.arange(args.chunk, dtype=np.uint32)
    block = np.empty(args.chunk, dtype=np.uint32)
    pairs = block.view(np.int16)  # flat int16 of even length: I = low half, Q = high half
    deadline = time.monotonic() + args.seconds if args.seconds else None
    k, start_rss = 0, None
    while k < args.samples:
        n = min(args.chunk, args.samples - k)
        np.add(ramp, np.uint32(k & 0xFFFFFFFF), out=block)  # wraps mod 2^32, like the consumer
        buf.write(pairs[: 2 * n], block=True)
        k += n
        if start_rss is None and k >= warm(buf.capacity, args.chunk):
            start_rss = memory()[0]
        if deadline and time.monotonic() >= deadline:
            break
    buf.close()
    rss, hwm = memory()
    print(json.dumps({"written": k, "rss_start": start_rss or rss, "rss_end": rss, "hwm": hwm}), flush=True)


class Checker:
    """Counts lost and reordered samples of a uint32 counter stream, one view
    at a time, without allocating in the common (in-order) case."""

    def __init__(self, chunk):
        self.ramp = np.arange(chunk, dtype=np.uint32)
        self.rel = np.empty(chunk, dtype=np.uint32)
        self.same = np.empty(chunk, dtype=bool)
        self.expected = 0  # 64-bit: the next sequence number
        self.lost = self.reordered = 0

    def check(self, seq):
        n = len(seq)
        rel = self.rel[:n]
        np.subtract(seq, np.uint32(self.expected & 0xFFFFFFFF), out=rel)  # 0, 1, 2, ... if in order
        if np.equal(rel, self.ramp[:n], out=self.same[:n]).all():
            self.expected += n
            return
        # Off the sequence (never, if the ring works): positions relative to
        # the expected number, signed; a sample is in order if it is past
        # every one before it, else reordered; the gaps between in-order
        # samples are lost (so a late sample counts both as reordered and in
        # a gap: either way, both counts must be 0).
        pos = rel.view(np.int32).astype(np.int64)
        before = np.maximum.accumulate(np.concatenate(([-1], pos)))[:-1]
        ahead = pos > before
        self.reordered += int(np.count_nonzero(~ahead))
        self.lost += int(np.sum(pos[ahead] - before[ahead] - 1))
        self.expected += int(pos.max()) + 1 if ahead.any() else 0


def consume(args):
    name = f"soak-{os.getpid()}"
    buf = I16Buffer(args.capacity, name=name)
    cmd = [sys.executable, os.path.abspath(__file__), "--producer", name,
           "--samples", str(args.samples), "--chunk", str(args.chunk)]
    if args.seconds:
        cmd += ["--seconds", str(args.seconds)]
    prod = subprocess.Popen(cmd, stdout=subprocess.PIPE, text=True)
    read = args.chunk - 1  # another size than the writes: views straddle the wrap
    checker = Checker(read)
    got, start_rss, ended = 0, None, False
    print(f"doppler-soak: ring '{name}', {buf.capacity} i16 samples, writes of {args.chunk}, "
          f"reads of {read}, producer pid {prod.pid}", flush=True)
    t0 = last = time.monotonic()
    try:
        while True:
            try:
                v = buf.wait(read, timeout=60)
            except EOFError:  # closed (told once): fewer than `read` remain
                ended = True
                if not buf.available:
                    break
                v = buf.wait(buf.available)
            checker.check(v.view(np.uint32).reshape(-1))
            got += len(v)
            buf.consume()
            if ended:
                break
            if start_rss is None and got >= warm(buf.capacity, args.chunk):
                start_rss = memory()[0]
            now = time.monotonic()
            if now - last >= args.report:
                last = now
                print(f"  {now - t0:7.1f} s  {got:15,d} samples  {got / (now - t0) / 1e6:8.1f} M/s  "
                      f"lost {checker.lost}  reordered {checker.reordered}  "
                      f"RSS producer {memory(prod.pid)[0] / MIB:.1f} MiB, consumer {memory()[0] / MIB:.1f} MiB",
                      flush=True)
    except (BrokenPipeError, TimeoutError) as e:
        print(f"doppler-soak: the stream broke after {got} samples: {e}", file=sys.stderr)
    except KeyboardInterrupt:
        print(f"doppler-soak: interrupted after {got} samples", file=sys.stderr)
    finally:
        elapsed = time.monotonic() - t0
        if not ended:  # a producer waiting for room would wait forever
            prod.kill()
        out, _ = prod.communicate(timeout=60)
        missed = buf.missed_wakes  # lost wake-ups on either side, from the shared header
        buf.destroy()
    rss, hwm = memory()
    report = json.loads(out) if prod.returncode == 0 and out.strip() else None
    written = report["written"] if report else None
    # Whatever the producer wrote and never arrived is lost too (the tail).
    lost = checker.lost + (written - checker.expected if written and written > checker.expected else 0)
    print(f"samples moved  {got:,d} (producer wrote {written if written is not None else '?'})")
    print(f"time           {elapsed:.1f} s")
    print(f"rate           {got / elapsed / 1e6:.1f} M samples/s ({got * 4 / elapsed / 1e9:.2f} GB/s)")
    print(f"lost           {lost}")
    print(f"reordered      {checker.reordered}")
    print(f"missed wakes   {missed}")
    print("RSS (MiB)      start     end    peak (VmHWM)")
    if report:
        print(f"  producer   {report['rss_start'] / MIB:7.1f} {report['rss_end'] / MIB:7.1f} "
              f"{report['hwm'] / MIB:7.1f}")
    else:
        print(f"  producer   (exited with status {prod.returncode}, no report)")
    print(f"  consumer   {(start_rss or rss) / MIB:7.1f} {rss / MIB:7.1f} {hwm / MIB:7.1f}")
    ok = report is not None and lost == 0 and checker.reordered == 0 and got == written and missed == 0
    print("PASS" if ok else "FAIL")
    return 0 if ok else 1


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0],
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--samples", type=float, help="samples to stream (default 1e10, or no limit with --seconds)")
    p.add_argument("--seconds", type=float, default=0, help="stop after this long instead (0: no limit)")
    p.add_argument("--capacity", type=int, default=DEFAULT_CAPACITY, help="ring capacity in samples (default: %(default)s)")
    p.add_argument("--chunk", type=int, default=1 << 16, help="samples per write (default 2^16)")
    p.add_argument("--report", type=float, default=10, help="seconds between progress lines (default 10)")
    p.add_argument("--producer", metavar="NAME", help=argparse.SUPPRESS)  # the child process
    args = p.parse_args(argv)
    if args.samples is None:
        args.samples = 1 << 62 if args.seconds else 1e10  # a duration, or the default count
    args.samples = int(args.samples)
    if args.samples <= 0 or args.seconds < 0 or args.capacity <= 0 or args.report <= 0:
        p.error("--samples, --capacity and --report must be positive, --seconds not negative")
    if not 2 <= args.chunk <= args.capacity:
        p.error(f"--chunk must be between 2 and --capacity ({args.capacity})")
    if args.producer:
        args.name = args.producer
        signal.signal(signal.SIGINT, signal.SIG_IGN)  # Ctrl-C is the consumer's to handle
        produce(args)
        return 0
    return consume(args)


if __name__ == "__main__":
    sys.exit(main())
