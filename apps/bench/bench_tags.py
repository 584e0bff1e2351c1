#!/usr/bin/python3
# SPDX-License-Identifier: GPL-3.0-or-later
"""Flowgraph -> Buffer Sink -> consumer process: one tag per 8192 samples vs none.

Both ways run the same flowgraph, blocks.tags_strobe -> head -> doppler
buffer_sink (block policy), and the same consumer in another process
(wait, tags(), consume); only the strobe's period differs: a tag like
GNU Radio's rx_time (a tuple of uint64 seconds and double fraction) every
--every samples, or a period longer than the run (no tag at all). The two
ways alternate, --repeats times; printed: the median rate of each and their
ratio, and how many tags the consumer saw (every one of them must arrive).

Run from a build tree: PYTHONPATH=build/python /usr/bin/python3 apps/bench/bench_tags.py
"""
import argparse
import json
import os
import statistics
import subprocess
import sys
import time


def report(**fields):
    print("RESULT " + json.dumps(fields), flush=True)


def role_flowgraph(args):
    import pmt
    from gnuradio import blocks, doppler, gr

    tb = gr.top_block()
    value = pmt.make_tuple(pmt.from_uint64(1_700_000_000), pmt.from_double(0.25))
    period = args.every if args.every > 0 else 1 << 62
    src = blocks.tags_strobe(8, value, period, pmt.intern("rx_time"))
    head = blocks.head(8, args.samples)
    sink = doppler.buffer_sink(type="f32", name=args.name, capacity=args.capacity, policy="block")
    tb.connect(src, head, sink)
    t0 = time.monotonic()
    tb.run()
    report(t_start=t0, t_end=time.monotonic())


def role_consumer(args):
    from doppler.buffer import F32Buffer

    buf = F32Buffer.attach(args.name, timeout=60)
    print("ready", flush=True)
    chunk, n, tags = 8192, 0, 0
    with buf:
        while True:
            try:
                buf.wait(chunk)
            except EOFError:
                rest = buf.available
                if rest:
                    buf.wait(rest)
                    tags += sum(t.key == "rx_time" for t in buf.tags())
                    buf.consume(rest)
                    n += rest
                break
            tags += sum(t.key == "rx_time" for t in buf.tags())
            buf.consume(chunk)
            n += chunk
    report(t_last=time.monotonic(), samples=n, tags=tags)


def result(proc):
    out, _ = proc.communicate(timeout=600)
    for line in out.splitlines():
        if line.startswith("RESULT "):
            return json.loads(line[7:])
    raise RuntimeError(f"{proc.args} printed no result (exit {proc.returncode})")


def one_run(args, every, k):
    from doppler.buffer import F32Buffer

    name = f"bench-tags-{os.getpid()}-{k}"
    ring = F32Buffer(args.capacity, name=name)  # the consumer attaches by name
    me = [sys.executable, os.path.abspath(__file__), "--name", name, "--samples", str(args.samples),
          "--capacity", str(args.capacity), "--every", str(every)]
    consumer = subprocess.Popen(me + ["--role", "consumer"], stdout=subprocess.PIPE, text=True)
    assert consumer.stdout.readline().strip() == "ready"
    flowgraph = subprocess.Popen(me + ["--role", "flowgraph"], stdout=subprocess.PIPE, text=True)
    fg, co = result(flowgraph), result(consumer)
    ring.destroy()
    if co["samples"] != args.samples:
        raise RuntimeError(f"the consumer got {co['samples']} of {args.samples} samples")
    expect = 0 if every <= 0 else args.samples // every  # the strobe tags items every, 2 * every, ...
    if co["tags"] != expect:
        raise RuntimeError(f"the consumer saw {co['tags']} of {expect} tags")
    return args.samples / (co["t_last"] - fg["t_start"]), co["tags"]


def main():
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--samples", type=lambda s: int(float(s)), default=int(2e8))
    p.add_argument("--every", type=int, default=8192, help="samples between tags (0: none)")
    p.add_argument("--capacity", type=int, default=1 << 20)
    p.add_argument("--repeats", type=int, default=5)
    p.add_argument("--role", choices=["flowgraph", "consumer"])
    p.add_argument("--name")
    args = p.parse_args()
    if args.role == "flowgraph":
        return role_flowgraph(args)
    if args.role == "consumer":
        return role_consumer(args)

    rates = {"none": [], "tags": []}
    seen = 0
    for k in range(args.repeats):  # interleaved: the machine is shared
        rates["none"].append(one_run(args, 0, 2 * k)[0])
        r, seen = one_run(args, args.every, 2 * k + 1)
        rates["tags"].append(r)
    none, tags = statistics.median(rates["none"]), statistics.median(rates["tags"])
    print(f"bench_tags: {args.samples} samples per run, median of {args.repeats} interleaved runs")
    print(f"{'no tags':<28} {none / 1e6:8.1f} Msamples/s")
    print(f"{'rx_time every %d' % args.every:<28} {tags / 1e6:8.1f} Msamples/s   "
          f"ratio {tags / none:.3f} ({seen} tags, every one received)")
    print("run by run (tags / none): " + " ".join(f"{t / n:.3f}" for t, n in zip(rates["tags"], rates["none"])))
    print("target: at most 5 % lost with tags")


if __name__ == "__main__":
    main()
