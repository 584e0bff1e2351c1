#!/usr/bin/python3
# SPDX-License-Identifier: GPL-3.0-or-later
"""A live consumer's throughput with doppler-record beside it, and
doppler-play's rate, each against its baseline measured in the same run.

    PYTHONPATH=build/python /usr/bin/python3 apps/bench/bench_record_live.py [--samples 1e8] [--repeats 3]

Every figure is Msamples/s of a consumer process reading a 1 Mi-sample f32
ring in windows of 65536 (the default reader, summing nothing: the
transport's rate), from its first sample to the end of the stream:
  alone       a producer process writes N samples (write(block=True))
  + tmpfs     the same, with doppler-record (untethered) writing to /dev/shm
  + disk      the same, with doppler-record writing to /tmp
  + background the same as + tmpfs with doppler-record --background (idle
              priority: it takes only the CPU time the others leave, and
              skips what it has no time for; its share of the stream is
              printed)
  play        doppler-play of an N-sample recording (on tmpfs) into the ring
The ratios are of the medians: with a recorder / alone (target 0.9), play /
alone (the same consumer fed by a Python producer from memory). The ways are
interleaved, so drift on a shared machine hits each alike.
"""
import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time

from bench_util import cpu_model

HERE = os.path.dirname(os.path.abspath(__file__))
APPS = os.path.dirname(HERE)
CHUNK = 1 << 16

CONSUMER = r"""
import sys, time
from doppler.buffer import F32Buffer
buf = F32Buffer.attach(sys.argv[1], timeout=30)
print("ready", flush=True)
got, t0 = 0, None
while True:
    try:
        v = buf.wait(65536, timeout=60)
    except EOFError:
        if t0 is None:
            continue  # the end of an earlier run, told once to a new handle
        got += buf.available
        break
    if t0 is None:
        t0 = time.monotonic()
    got += len(v)
    buf.consume()
print(got, time.monotonic() - t0, flush=True)
buf.destroy()
"""

PRODUCER = r"""
import sys, numpy as np
from doppler.buffer import F32Buffer
buf = F32Buffer.attach(sys.argv[1], timeout=30)
n, x = int(sys.argv[2]), np.ones(65536, np.complex64)
for _ in range(n // 65536):
    buf.write(x, block=True)
buf.close()
"""


def py():
    return [sys.executable, "-c"]


def consume(ring, start_feed):
    """Start a consumer of `ring`, then the feed; Msamples/s the consumer saw."""
    c = subprocess.Popen(py() + [CONSUMER, ring], stdout=subprocess.PIPE, text=True)
    assert c.stdout.readline().strip() == "ready"
    feeds = start_feed()
    got, secs = c.stdout.readline().split()
    c.wait(120)
    for f in feeds:
        f.wait(120)
    return int(got) / float(secs) / 1e6


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0],
                                 formatter_class=argparse.RawDescriptionHelpFormatter, epilog=__doc__)
    ap.add_argument("--samples", type=float, default=1e8)
    ap.add_argument("--repeats", type=int, default=3)
    args = ap.parse_args()
    n = int(args.samples) // CHUNK * CHUNK
    from doppler.buffer import F32Buffer
    ring = f"bench-rec-{os.getpid()}"
    keeper = F32Buffer(1 << 20, name=ring)  # holds the name between runs
    work = {"tmpfs": tempfile.mkdtemp(dir="/dev/shm"), "disk": tempfile.mkdtemp(dir="/tmp")}
    # A recording to play: N samples of ones, cf32, on tmpfs.
    rec = os.path.join(work["tmpfs"], "play")
    with open(rec + ".sigmf-data", "wb") as f:
        block = bytes(8 * CHUNK)
        for _ in range(n // CHUNK):
            f.write(block)
    with open(rec + ".sigmf-meta", "w") as f:
        json.dump({"global": {"core:datatype": "cf32_le", "core:sample_rate": 1e6, "core:version": "1.2.0"},
                   "captures": [{"core:sample_start": 0}], "annotations": []}, f)

    def producer():
        return [subprocess.Popen(py() + [PRODUCER, ring, str(n)])]

    def with_recorder(where, *extra):
        def start():
            r = subprocess.Popen([sys.executable, os.path.join(APPS, "doppler-record"), ring,
                                  os.path.join(work[where], "rec"), "--streams", "1", *extra],
                                 stdout=subprocess.PIPE if extra else subprocess.DEVNULL,
                                 stderr=subprocess.DEVNULL, text=True)
            recorders.append(r)
            time.sleep(0.5)  # attached before the producer starts
            return producer() + [r]
        return start

    def play():
        return [subprocess.Popen([sys.executable, os.path.join(APPS, "doppler-play"), rec, ring],
                                 stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)]

    recorders = []
    ways = {"alone": producer, "+ recorder to tmpfs": with_recorder("tmpfs"),
            "+ recorder to disk": with_recorder("disk"),
            "+ background recorder": with_recorder("tmpfs", "--background"), "play": play}
    kept = []  # the background recorder's share of the stream, run by run
    got = {w: [] for w in ways}
    try:
        for k in range(args.repeats):
            order = list(ways) if k % 2 == 0 else list(reversed(ways))
            for w in order:
                got[w].append(consume(ring, ways[w]))
                if w == "+ background recorder":  # "doppler-record: N samples in ...; G gaps (L samples lost)"
                    kept.append(int(recorders[-1].stdout.read().split()[1]) / n)
            print(f"repeat {k + 1} of {args.repeats} done", file=sys.stderr, flush=True)
    finally:
        keeper.destroy()
        for d in work.values():
            subprocess.run(["rm", "-rf", d])
    cpu = cpu_model() or "unknown"
    print(f"processor: {cpu}, {os.cpu_count()} CPUs; {n:.3g} samples, {args.repeats} interleaved repeats")
    base = statistics.median(got["alone"])
    print(f"{'way':24} {'median M/s':>10} {'spread':>17} {'/ alone':>8}")
    for w, v in got.items():
        m = statistics.median(v)
        print(f"{w:24} {m:10.1f} {min(v):8.1f}-{max(v):<8.1f} {m / base:8.2f}")
    print(f"the background recorder kept {', '.join(f'{k:.0%}' for k in kept)} of the stream (the rest annotated "
          "as skipped)")


if __name__ == "__main__":
    main()
