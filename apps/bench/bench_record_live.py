#!/usr/bin/python3
# SPDX-License-Identifier: GPL-3.0-or-later
"""A live consumer's throughput with doppler-record beside it, and
doppler-play's rate, each against its baseline measured in the same run.

    PYTHONPATH=build/python /usr/bin/python3 apps/bench/bench_record_live.py [--samples 1e8] [--repeats 3] [--rate R]

Every figure is Msamples/s of a consumer process reading a 1 Mi-sample f32
ring (--capacity) in windows of 65536 (the default reader, summing nothing: the
transport's rate), from its first sample to the end of the stream:
  alone       a producer process writes N samples (write(block=True))
  + tmpfs     the same, with doppler-record (untethered) writing to /dev/shm
  + disk      the same, with doppler-record writing to /tmp
  + background the same as + tmpfs with doppler-record --background (idle
              priority: it takes only the CPU time the others leave, and
              skips what it has no time for; its share of the stream is
              printed)
  play        doppler-play of an N-sample recording (on tmpfs) into the ring
  copy        no ring: one process copies the same recording from its
              mapping, 65536 samples at a time, into one buffer (what reading
              the recording from memory allows play at most)
The ratios are of the medians: with a recorder / alone (target 0.9), play /
alone (the same consumer fed by a Python producer from memory), and play /
copy. Each recorder's share of the stream is printed: 1 - the samples its
gaps lost (skipped, or overwritten while it wrote them) / N. --rate R paces the producers (and play, --rate R) at R samples/s,
a radio's rate instead of full speed: the consumer then sees R in every
way, and what tells is whether the recorders keep everything. The ways are
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
import sys, time, numpy as np
from doppler.buffer import F32Buffer
buf = F32Buffer.attach(sys.argv[1], timeout=30)
n, x, rate = int(sys.argv[2]), np.ones(65536, np.complex64), float(sys.argv[3])
t0 = time.monotonic()
for k in range(n // 65536):
    if rate > 0:  # paced: chunk k is due at t0 + k * 65536 / rate
        time.sleep(max(0.0, t0 + k * 65536 / rate - time.monotonic()))
    buf.write(x, block=True)
buf.close()
"""

COPY = r"""
import sys, time, numpy as np
a = np.memmap(sys.argv[1], dtype=np.complex64, mode="r")
out = np.empty(65536, np.complex64)
t0 = time.monotonic()
for p in range(0, len(a), 65536):
    out[:] = a[p:p + 65536]
print(len(a), time.monotonic() - t0, flush=True)
"""


def py():
    return [sys.executable, "-c"]


def attached(ring, reader, timeout=20.0):
    """Wait until `reader` reads `ring` (doppler-ring info lists it)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        info = subprocess.run([sys.executable, os.path.join(APPS, "doppler-ring"), "info", ring],
                              capture_output=True, text=True).stdout
        if any(line.split()[:1] == [reader] for line in info.splitlines()):
            return
        time.sleep(0.05)
    raise SystemExit(f"the recorder never attached to {ring}")


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
    ap.add_argument("--capacity", type=int, default=1 << 20, help="ring capacity, samples (default 1 Mi)")
    ap.add_argument("--rate", type=float, default=0.0, help="samples/s of the producers and play (default: full speed)")
    args = ap.parse_args()
    n = int(args.samples) // CHUNK * CHUNK
    from doppler.buffer import F32Buffer
    ring = f"bench-rec-{os.getpid()}"
    keeper = F32Buffer(args.capacity, name=ring)  # holds the name between runs
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
        return [subprocess.Popen(py() + [PRODUCER, ring, str(n), str(args.rate)])]

    def with_recorder(where, *extra):
        def start():
            r = subprocess.Popen([sys.executable, os.path.join(APPS, "doppler-record"), ring,
                                  os.path.join(work[where], "rec"), "--streams", "1", *extra],
                                 stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True)
            recorders.append(r)
            attached(ring, "record")  # before the producer starts: its share counts from sample 0
            return producer() + [r]
        return start

    def play():
        pace = ["--rate", str(args.rate)] if args.rate > 0 else []
        return [subprocess.Popen([sys.executable, os.path.join(APPS, "doppler-play"), rec, ring, *pace],
                                 stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)]

    def copy():
        out = subprocess.run(py() + [COPY, rec + ".sigmf-data"], capture_output=True, text=True, check=True)
        got, secs = out.stdout.split()
        return int(got) / float(secs) / 1e6

    recorders = []
    ways = {"alone": producer, "+ recorder to tmpfs": with_recorder("tmpfs"),
            "+ recorder to disk": with_recorder("disk"),
            "+ background recorder": with_recorder("tmpfs", "--background"), "play": play, "copy": copy}
    kept = {w: [] for w in ways if w.startswith("+")}  # each recorder's share of the stream, run by run
    got = {w: [] for w in ways}
    try:
        for k in range(args.repeats):
            order = list(ways) if k % 2 == 0 else list(reversed(ways))
            for w in order:
                got[w].append(copy() if w == "copy" else consume(ring, ways[w]))
                if w in kept:  # "doppler-record: N samples in ...; G gaps (L samples lost)"
                    lost = int(recorders[-1].stdout.read().split("(")[-1].split()[0].replace(",", ""))
                    kept[w].append(1 - lost / n)
            print(f"repeat {k + 1} of {args.repeats} done", file=sys.stderr, flush=True)
    finally:
        keeper.destroy()
        for d in work.values():
            subprocess.run(["rm", "-rf", d])
    cpu = cpu_model() or "unknown"
    pace = f"paced at {args.rate / 1e6:g} Msamples/s" if args.rate > 0 else "full speed"
    print(f"processor: {cpu}, {os.cpu_count()} CPUs; {n:.3g} samples, ring {args.capacity:,}, {pace}, "
          f"{args.repeats} interleaved repeats")
    base = statistics.median(got["alone"])
    print(f"{'way':24} {'median M/s':>10} {'spread':>17} {'/ alone':>8}  recorder kept, run by run")
    for w, v in got.items():
        m = statistics.median(v)
        share = ", ".join(f"{x:.0%}" for x in kept.get(w, []))
        print(f"{w:24} {m:10.1f} {min(v):8.1f}-{max(v):<8.1f} {m / base:8.2f}  {share}")
    print(f"play / copy: {statistics.median(got['play']) / statistics.median(got['copy']):.2f} (reading the "
          "recording from memory is play's ceiling)")


if __name__ == "__main__":
    main()
