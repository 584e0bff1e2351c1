#!/usr/bin/python3
# SPDX-License-Identifier: GPL-3.0-or-later
"""doppler-bridge vs gr-zeromq flowgraph to flowgraph, over loopback TCP.

The same --samples complex64 samples (zeros, as a null_source gives) cross a
TCP connection on 127.0.0.1, three ways, interleaved over --repeats rounds:

  bridge        producer -> ring A -> doppler-bridge send -> TCP ->
                doppler-bridge recv -> ring B -> consumer (wait/consume)
  bridge sc16   the same with --wire sc16 (4 bytes a sample on the wire)
  bridge curve  bridge with --curve-keys on both ends (ZeroMQ's CURVE:
                every message encrypted and authenticated); not in the
                default --ways
  gr-zeromq     flowgraph null_source -> head -> zeromq.push_sink (pass_tags)
                -> TCP -> flowgraph zeromq.pull_source (pass_tags) -> head ->
                null_sink

Every program runs in a process of its own. Figures per way (median of the
rounds, and the spread: lowest and highest rate of the rounds): samples/s from the go signal to the last sample consumed; CPU
(user + sys of every thread, from /proc/PID/stat, sampled at the go signal
and at the end) per sample, for the pair of processes that move the
samples over the network (the two bridges; the two flowgraphs) and for all
processes (adding the rings' producer and consumer on the bridge side; a
flowgraph's null_source and null_sink are inside its own process). The
bridge's processes' share of a core shows where its limit is.

Run from a build tree:
  PYTHONPATH=build/python /usr/bin/python3 apps/bench/bench_bridge.py --bridge build/apps/doppler-bridge

Roles run as child processes of this script (--role ...).
"""
import argparse
import json
import os
import re
import shutil
import statistics
import subprocess
import sys
import tempfile
import time

from bench_util import cpu_model

ITEM = 8  # bytes per complex64 sample
TICK = os.sysconf("SC_CLK_TCK")
HERE = os.path.abspath(__file__)


def processor():
    """The processor's name and the CPUs this process may use."""
    return f"{cpu_model() or 'unknown processor'}, {len(os.sched_getaffinity(0))} CPUs"


def cpu(pid):
    """CPU seconds (user + system, all threads) of a live process."""
    with open(f"/proc/{pid}/stat") as f:
        fields = f.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / TICK


# --------------------------------------------------------------------------
# roles (child processes)
# --------------------------------------------------------------------------

def role_producer(args):
    """Creates ring A; on "go" writes --samples zeros, then closes."""
    import numpy as np
    from doppler.buffer import F32Buffer
    keeper = F32Buffer(args.capacity, name=args.ring)
    buf = F32Buffer.attach(args.ring)
    block = np.zeros(args.chunk, dtype=np.complex64)
    print("ready", flush=True)
    sys.stdin.readline()
    left = args.samples
    while left:
        k = min(left, args.chunk)
        buf.write(block[:k], block=True)
        left -= k
    buf.close()
    sys.stdin.readline()  # stay (a party of ring A) until told
    buf.destroy()
    keeper.destroy()


def role_consumer(args):
    """Attaches ring B, consumes --samples in views of --chunk, says done."""
    from doppler.buffer import F32Buffer
    buf = F32Buffer.attach(args.ring, timeout=30)
    print("ready", flush=True)
    left = args.samples
    while left:
        n = min(left, args.chunk)
        buf.wait(n, timeout=120)
        buf.consume(n)
        left -= n
    print("done", flush=True)
    sys.stdin.readline()
    buf.destroy()


def role_fg_sink(args):
    """null_source -> head -> push_sink, started on "go"."""
    from gnuradio import blocks, gr, zeromq
    tb = gr.top_block()
    src = blocks.null_source(ITEM)
    head = blocks.head(ITEM, args.samples)
    snk = zeromq.push_sink(ITEM, 1, "tcp://127.0.0.1:*", 100, True, -1)
    tb.connect(src, head, snk)
    print("ready " + snk.last_endpoint(), flush=True)
    sys.stdin.readline()
    tb.start()
    tb.wait()
    sys.stdin.readline()  # keep the socket until the other side has all


def role_fg_source(args):
    """pull_source -> head -> null_sink; says done at --samples items."""
    from gnuradio import blocks, gr, zeromq
    tb = gr.top_block()
    src = zeromq.pull_source(ITEM, 1, args.address, 100, True, -1)
    head = blocks.head(ITEM, args.samples)
    snk = blocks.null_sink(ITEM)
    tb.connect(src, head, snk)
    tb.start()
    print("ready", flush=True)
    # A ZMQ source never ends its flowgraph: watch the count instead.
    while head.nitems_written(0) < args.samples:
        time.sleep(0.005)
    print("done", flush=True)
    tb.stop()
    tb.wait()


# --------------------------------------------------------------------------
# the benchmark
# --------------------------------------------------------------------------

class Child:
    def __init__(self, argv, **kw):
        self.p = subprocess.Popen(argv, stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                                  text=True, **kw)

    def line(self):
        s = self.p.stdout.readline()
        if not s:
            raise RuntimeError(f"{self.p.args} exited ({self.p.wait()})")
        return s.strip()

    def say(self, s=""):
        self.p.stdin.write(s + "\n")
        self.p.stdin.flush()

    def end(self):
        try:
            self.say()
        except BrokenPipeError:
            pass
        try:
            self.p.wait(30)
        except subprocess.TimeoutExpired:
            self.p.kill()
            self.p.wait()


def role(args, name, *extra):
    return [sys.executable, HERE, "--role", name, "--samples", str(args.samples),
            "--chunk", str(args.chunk), "--capacity", str(args.capacity), *extra]


def wait_log(path, pattern, timeout=30):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        with open(path) as f:
            m = re.search(pattern, f.read())
        if m:
            return m
        time.sleep(0.01)
    raise RuntimeError(f"no {pattern!r} in {path} within {timeout} s")


def measure(pids, start, finish):
    """start(); then CPU and time until finish() returns."""
    c0 = {k: cpu(p) for k, p in pids.items()}
    t0 = time.monotonic()
    start()
    finish()
    t1 = time.monotonic()
    c1 = {k: cpu(p) for k, p in pids.items()}
    return t1 - t0, {k: c1[k] - c0[k] for k in pids}


def curve_keys(args, tmp):
    """Key directories of a sender and a receiver that trust each other
    (doppler-bridge keygen), made once per run."""
    ks, kr = os.path.join(tmp, "keys-send"), os.path.join(tmp, "keys-recv")
    if not os.path.exists(ks):
        for d in (ks, kr):
            subprocess.run([args.bridge, "keygen", d], check=True, stdout=subprocess.DEVNULL)
        shutil.copy(os.path.join(kr, "self.pub"), os.path.join(ks, "peers", "receiver.pub"))
        shutil.copy(os.path.join(ks, "self.pub"), os.path.join(kr, "peers", "sender.pub"))
    return ks, kr


def run_bridge(args, wire, tmp, curve=False):
    tag = f"bench-br-{os.getpid()}-{time.monotonic_ns()}"
    opt_s, opt_r = [], []
    if curve:
        ks, kr = curve_keys(args, tmp)
        opt_s, opt_r = ["--curve-keys", ks], ["--curve-keys", kr]
    a, b = tag + "-a", tag + "-b"
    slog, rlog = os.path.join(tmp, "send.log"), os.path.join(tmp, "recv.log")
    prod = Child(role(args, "producer", "--ring", a))
    assert prod.line() == "ready"
    send = subprocess.Popen([args.bridge, "send", a, "tcp://127.0.0.1:*", "--wire", wire,
                             "--max-items", str(args.max_items), *opt_s],
                            stderr=open(slog, "w"))
    ep = wait_log(slog, r"on PUSH (\S+)").group(1)
    recv = subprocess.Popen([args.bridge, "recv", ep, b, "--wire", wire, "--position", "none",
                             "--capacity", str(args.capacity), *opt_r],
                            stderr=open(rlog, "w"))
    wait_log(rlog, "connected to")
    cons = Child(role(args, "consumer", "--ring", b))
    assert cons.line() == "ready"
    pids = {"send": send.pid, "recv": recv.pid, "producer": prod.p.pid,
            "consumer": cons.p.pid}
    try:
        dt, c = measure(pids, prod.say, lambda: cons.line() == "done" or sys.exit("consumer"))
    finally:
        for p in (send, recv):
            p.terminate()
            p.wait(30)
        cons.end()
        prod.end()
    sent = wait_log(slog, r"stopped: (\d+) samples in (\d+) messages \((\d+) bytes\)")
    return {"seconds": dt, "pair": c["send"] + c["recv"], "all": sum(c.values()), "cpu": c,
            "wire": int(sent.group(3)) / int(sent.group(1)), "messages": int(sent.group(2))}


def run_gr(args, tmp):
    sink = Child(role(args, "fg_sink"))
    ready = sink.line()
    ep = ready.split()[1]
    src = Child(role(args, "fg_source", "--address", ep))
    assert src.line() == "ready"
    pids = {"sink flowgraph": sink.p.pid, "source flowgraph": src.p.pid}
    try:
        dt, c = measure(pids, sink.say, lambda: src.line() == "done" or sys.exit("source"))
    finally:
        src.end()
        sink.end()
    # A push_sink's message: the 19-byte header (no tags here), then the items.
    return {"seconds": dt, "pair": sum(c.values()), "all": sum(c.values()), "cpu": c,
            "wire": None}


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--role", help=argparse.SUPPRESS)
    ap.add_argument("--ring", help=argparse.SUPPRESS)
    ap.add_argument("--address", help=argparse.SUPPRESS)
    ap.add_argument("--samples", type=lambda s: int(float(s)), default=int(4e8))
    ap.add_argument("--repeats", type=int, default=3)
    ap.add_argument("--chunk", type=int, default=1 << 16, help="producer writes, consumer views")
    ap.add_argument("--capacity", type=int, default=1 << 20, help="rings A and B")
    ap.add_argument("--max-items", type=int, default=1 << 15, help="bridge message size")
    ap.add_argument("--bridge", default="build/apps/doppler-bridge")
    ap.add_argument("--ways", default="bridge,gr-zeromq,bridge sc16",
                    help="which of bridge, gr-zeromq, bridge sc16, bridge curve "
                         "(comma-separated)")
    args = ap.parse_args()
    if args.role:
        return {"producer": role_producer, "consumer": role_consumer,
                "fg_sink": role_fg_sink, "fg_source": role_fg_source}[args.role](args)

    every = {"bridge": lambda t: run_bridge(args, "native", t),
             "gr-zeromq": lambda t: run_gr(args, t),
             "bridge sc16": lambda t: run_bridge(args, "sc16", t),
             "bridge curve": lambda t: run_bridge(args, "native", t, curve=True)}
    ways = {w: every[w] for w in args.ways.split(",")}
    got = {w: [] for w in ways}
    with tempfile.TemporaryDirectory() as tmp:
        for r in range(args.repeats):
            for w, run in ways.items():
                res = run(tmp)
                got[w].append(res)
                print(f"round {r + 1} {w:12s} {args.samples / res['seconds'] / 1e6:8.1f} MS/s  "
                      f"pair {res['pair'] / args.samples * 1e9:6.2f} ns/sample  "
                      + "  ".join(f"{k} {v / res['seconds'] * 100:.0f}%"
                                  for k, v in res["cpu"].items()), flush=True)

    def med(w, key):
        return statistics.median(x[key] for x in got[w])

    print(f"\n{args.samples:.3g} samples, {args.repeats} interleaved rounds, medians "
          f"(MS/s also lowest-highest); CPU in ns per sample (user + sys, all threads); "
          f"{processor()}")
    print(f"{'way':12s} {'MS/s':>8s} {'spread':>13s} {'B/sample':>9s} {'wire MB/s':>10s} "
          f"{'pair ns/S':>10s} {'all ns/S':>9s}")
    for w in ways:
        rate = args.samples / med(w, "seconds")
        # Bytes of messages per sample, as the sender counted them (headers
        # included); gr-zeromq's are its items plus one small header a message.
        wire = got[w][0]["wire"] or ITEM
        rates = sorted(args.samples / x["seconds"] / 1e6 for x in got[w])
        spread = f"{rates[0]:.1f}-{rates[-1]:.1f}"
        print(f"{w:12s} {rate / 1e6:8.1f} {spread:>13s} {wire:9.3f} {rate * wire / 1e6:10.1f} "
              f"{med(w, 'pair') / args.samples * 1e9:10.2f} "
              f"{med(w, 'all') / args.samples * 1e9:9.2f}")
    if "bridge" in ways and "bridge curve" in ways:
        print(f"bridge curve / bridge: rate "
              f"{med('bridge', 'seconds') / med('bridge curve', 'seconds'):.2f}x, "
              f"pair CPU per sample {med('bridge curve', 'pair') / med('bridge', 'pair'):.2f}x")
    if "gr-zeromq" not in ways:
        return 0
    g = args.samples / med("gr-zeromq", "seconds")
    for w in [w for w in ways if w != "gr-zeromq"]:
        print(f"{w} / gr-zeromq: rate {args.samples / med(w, 'seconds') / g:.2f}x, "
              f"pair CPU per sample {med(w, 'pair') / med('gr-zeromq', 'pair'):.2f}x, "
              f"all CPU per sample {med(w, 'all') / med('gr-zeromq', 'all'):.2f}x")
    json.dump(got, open(os.path.join(tempfile.gettempdir(), "bench_bridge.json"), "w"))


if __name__ == "__main__":
    sys.exit(main())
