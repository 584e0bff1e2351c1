#!/usr/bin/python3
# SPDX-License-Identifier: GPL-3.0-or-later
"""Flowgraph -> separate Python process: doppler ring vs ZeroMQ vs null_sink.

One run, four ways, each streaming exactly --samples complex64 samples from
an unthrottled flowgraph (null_source or sig_source -> head) in one process:

  doppler       buffer_sink (block policy), zero-copy path: head writes into
                the ring -> consumer process doing wait/consume
  doppler-copy  the same sink made with zero_copy=False: it copies each chunk
  zeromq        zeromq.push_sink -> consumer process with a zmq PULL socket (ipc://)
  ceiling       null_sink in the flowgraph itself: no consumer, the scheduler's own limit

Each consumer checks it received exactly --samples. Printed side by side:
samples/s (first tb.start() to last sample consumed, CLOCK_MONOTONIC is shared
by the processes), and CPU seconds (user + sys, getrusage of every thread)
per 10^9 samples summed over both processes, measured inside each process
around the streaming only, so interpreter start-up and imports do not count.
The ratios compare doppler with the ceiling and with ZeroMQ, best of the
runs and run by run (the ways run interleaved: run i of every way back to
back, so a burst of load elsewhere hits them alike).

Roles run as child processes of this script (--role ...), as GRC would run
a flowgraph; run it with no --role for the benchmark.
"""
import argparse
import json
import os
import resource
import subprocess
import sys
import time

ITEM = 8  # bytes per complex64 sample


def cpu_seconds():
    ru = resource.getrusage(resource.RUSAGE_SELF)  # all threads of this process
    return ru.ru_utime + ru.ru_stime


def report(**fields):
    print("RESULT " + json.dumps(fields), flush=True)


# --------------------------------------------------------------------------
# roles (child processes)
# --------------------------------------------------------------------------

def role_flowgraph(args):
    from gnuradio import analog, blocks, gr

    tb = gr.top_block()
    if args.source == "null":
        src = blocks.null_source(ITEM)
    else:
        src = analog.sig_source_c(2e6, analog.GR_COS_WAVE, 100e3, 1.0, 0)
    head = blocks.head(ITEM, args.samples)
    path = None
    if args.way in ("doppler", "doppler-copy"):
        from gnuradio import doppler
        sink = doppler.buffer_sink(type="f32", name=args.name, capacity=args.capacity, policy="block",
                                   zero_copy=args.way == "doppler")
    elif args.way == "zeromq":
        from gnuradio import zeromq
        sink = zeromq.push_sink(ITEM, 1, args.address, 100, False, -1)
    else:
        sink = blocks.null_sink(ITEM)
    tb.connect(src, head, sink)
    c0, t0 = cpu_seconds(), time.monotonic()
    tb.run()
    t1 = time.monotonic()
    if args.way in ("doppler", "doppler-copy"):
        path = "zero-copy" if sink.zero_copy() else "copy"
    report(t_start=t0, t_end=t1, cpu=cpu_seconds() - c0, path=path)


def role_doppler_consumer(args):
    from doppler.buffer import F32Buffer

    print("ready", flush=True)
    buf = F32Buffer.attach(args.name, timeout=60)
    c0 = cpu_seconds()
    chunk, n = min(args.chunk, buf.capacity), 0
    # The drain loop of examples/consume_tone.py, on purpose: the example
    # stands alone for its readers, and the benchmark measures that loop.
    with buf:
        while True:
            try:
                buf.wait(chunk)
            except EOFError:  # producer closed: drain the tail
                rest = buf.available
                if rest:
                    buf.wait(rest)
                    buf.consume(rest)
                    n += rest
                break
            buf.consume(chunk)
            n += chunk
    report(t_end=time.monotonic(), cpu=cpu_seconds() - c0, received=n)


def role_zmq_consumer(args):
    import numpy as np
    import zmq

    sock = zmq.Context().socket(zmq.PULL)
    sock.setsockopt(zmq.RCVTIMEO, 60_000)  # fail, do not hang, if the stream stops short
    sock.connect(args.address)  # zmq connects before the bind exists and retries
    print("ready", flush=True)
    c0, n = None, 0
    while n < args.samples:
        try:
            msg = sock.recv(copy=False)
        except zmq.Again:
            break
        if c0 is None:
            c0 = cpu_seconds()
        # A NumPy view of the message, as the doppler consumer gets from wait().
        n += len(np.frombuffer(msg.buffer, dtype=np.complex64))
    report(t_end=time.monotonic(), cpu=cpu_seconds() - (c0 or cpu_seconds()), received=n)


# --------------------------------------------------------------------------
# driver
# --------------------------------------------------------------------------

def spawn(role, args, extra=()):
    cmd = [sys.executable, os.path.abspath(__file__), "--role", role, "--samples", str(args.samples),
           "--source", args.source, "--capacity", str(args.capacity), "--chunk", str(args.chunk), *extra]
    return subprocess.Popen(cmd, stdout=subprocess.PIPE, text=True)


def result(proc, what):
    out, _ = proc.communicate()
    for line in out.splitlines():
        if line.startswith("RESULT "):
            if proc.returncode == 0:
                return json.loads(line[len("RESULT "):])
    sys.exit(f"bench_flowgraph: the {what} process failed (status {proc.returncode})")


def run_way(way, args):
    tag = f"bench-{os.getpid()}"
    extra = ["--way", way, "--name", tag, "--address", f"ipc:///tmp/doppler-{tag}.ipc"]
    consumer = None
    if way != "ceiling":
        consumer = spawn("zmq-consumer" if way == "zeromq" else "doppler-consumer", args, extra)
        # Start the flowgraph only once the consumer has imported what it needs.
        if consumer.stdout.readline().strip() != "ready":
            sys.exit(f"bench_flowgraph: the {way} consumer did not start")
    fg = result(spawn("flowgraph", args, extra), f"{way} flowgraph")
    cons = result(consumer, f"{way} consumer") if consumer else {"cpu": 0.0, "t_end": fg["t_end"], "received": args.samples}
    if way == "zeromq":
        try:
            os.unlink(f"/tmp/doppler-{tag}.ipc")
        except FileNotFoundError:
            pass
    if cons["received"] != args.samples:
        sys.exit(f"bench_flowgraph: {way} consumer received {cons['received']:,} of {args.samples:,} samples")
    want = {"doppler": "zero-copy", "doppler-copy": "copy"}.get(way)
    if fg.get("path") != want:
        sys.exit(f"bench_flowgraph: the {way} sink ran the {fg.get('path')} path, not {want}")
    seconds = cons["t_end"] - fg["t_start"]
    per_g = 1e9 / args.samples
    return {"rate": args.samples / seconds, "cpu_fg": fg["cpu"] * per_g, "cpu_cons": cons["cpu"] * per_g}


WAYS = ("ceiling", "doppler", "doppler-copy", "zeromq")
LABELS = {"ceiling": "null_sink (ceiling)", "doppler": "doppler zero-copy", "doppler-copy": "doppler copy path",
          "zeromq": "zeromq push/pull ipc"}


def main():
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--samples", type=lambda s: int(float(s)), default=10**9, help="samples per way (default: 1e9)")
    p.add_argument("--repeat", type=int, default=3, help="interleaved runs per way; the best is shown (default: %(default)s)")
    p.add_argument("--source", choices=("null", "sig"), default="null", help="flowgraph source (default: %(default)s)")
    p.add_argument("--capacity", type=int, default=1 << 20, help="doppler ring capacity in samples (default: %(default)s)")
    p.add_argument("--chunk", type=int, default=1 << 17, help="doppler consumer samples per wait() (default: %(default)s)")
    p.add_argument("--role", choices=("flowgraph", "doppler-consumer", "zmq-consumer"), help=argparse.SUPPRESS)
    p.add_argument("--way", choices=WAYS, help=argparse.SUPPRESS)
    p.add_argument("--name", help=argparse.SUPPRESS)
    p.add_argument("--address", help=argparse.SUPPRESS)
    args = p.parse_args()
    if args.samples <= 0 or args.repeat <= 0:
        p.error("--samples and --repeat must be positive")
    if args.role:
        {"flowgraph": role_flowgraph, "doppler-consumer": role_doppler_consumer,
         "zmq-consumer": role_zmq_consumer}[args.role](args)
        return

    print(f"flowgraph benchmark: {args.samples:,} complex64 samples per way, source {args.source}_source, "
          f"unthrottled; {os.cpu_count()} cores; best of {args.repeat} interleaved runs")
    runs = {way: [] for way in WAYS}
    for i in range(args.repeat):
        for way in WAYS:  # interleaved, so a burst of load elsewhere hits every way alike
            print(f"  run {i + 1}/{args.repeat}: {way} ...", flush=True)
            runs[way].append(run_way(way, args))
    # Best of the runs: the highest rate, and the lowest CPU total.
    res = {}
    for way, rs in runs.items():
        lean = min(rs, key=lambda r: r["cpu_fg"] + r["cpu_cons"])
        res[way] = {"rate": max(r["rate"] for r in rs), "cpu_fg": lean["cpu_fg"], "cpu_cons": lean["cpu_cons"]}
    ceil = res["ceiling"]
    total = {w: r["cpu_fg"] + r["cpu_cons"] for w, r in res.items()}
    added = {w: total[w] - total["ceiling"] for w in res}
    print()
    print("CPU: seconds per 10^9 samples, user + sys, flowgraph process + consumer process")
    print(f"{'path':<22}{'Msps':>8}{'x ceiling':>11}{'CPU fg':>9}{'CPU cons':>10}{'CPU total':>11}{'added':>8}")
    for way in WAYS:
        r = res[way]
        print(f"{LABELS[way]:<22}{r['rate'] / 1e6:8.1f}{r['rate'] / ceil['rate']:11.2f}"
              f"{r['cpu_fg']:9.2f}{r['cpu_cons']:10.2f}{total[way]:11.2f}{added[way]:+8.2f}")
    print()
    print("run by run (interleaved): Msps, and the zero-copy sink's ratios")
    print(f"{'run':<5}" + "".join(f"{w:>14}" for w in WAYS) + f"{'zc/ceiling':>12}{'zc/copy':>9}{'zc/zeromq':>11}")
    ahead = 0
    for i in range(args.repeat):
        r = {w: runs[w][i]["rate"] for w in WAYS}
        ahead += r["doppler"] > r["zeromq"]
        print(f"{i + 1:<5}" + "".join(f"{r[w] / 1e6:14.1f}" for w in WAYS)
              + f"{r['doppler'] / r['ceiling']:12.2f}{r['doppler'] / r['doppler-copy']:9.2f}"
              f"{r['doppler'] / r['zeromq']:11.2f}")
    def median(xs):
        xs = sorted(xs)
        return (xs[(len(xs) - 1) // 2] + xs[len(xs) // 2]) / 2

    per_run = [runs["doppler"][i]["rate"] / runs["ceiling"][i]["rate"] for i in range(args.repeat)]
    print(f"median of the runs' zero-copy / ceiling: {median(per_run):.2f}; zero-copy / copy path: "
          f"{median([runs['doppler'][i]['rate'] / runs['doppler-copy'][i]['rate'] for i in range(args.repeat)]):.2f}")
    ratio = res["doppler"]["rate"] / ceil["rate"]
    copy_ratio = res["doppler-copy"]["rate"] / ceil["rate"]
    share = added["doppler"] / added["zeromq"] if added["zeromq"] > 0 else float("nan")
    copy_share = added["doppler-copy"] / added["zeromq"] if added["zeromq"] > 0 else float("nan")
    print()
    print(f"doppler zero-copy throughput / ceiling: {ratio:.2f} (copy path {copy_ratio:.2f}; "
          f"target >= 0.95: {'met' if ratio >= 0.95 else 'NOT met'})")
    print(f"doppler zero-copy ahead of ZeroMQ in {ahead} of {args.repeat} interleaved runs "
          f"(target: all: {'met' if ahead == args.repeat else 'NOT met'})")
    print(f"doppler zero-copy added CPU / ZeroMQ added CPU: {share:.2f} (copy path {copy_share:.2f}; "
          f"target <= 0.10: {'met' if share <= 0.1 else 'NOT met'})")


if __name__ == "__main__":
    main()
