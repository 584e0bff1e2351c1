#!/usr/bin/python3
# SPDX-License-Identifier: GPL-3.0-or-later
"""The transport between a GNU Radio flowgraph and another process: doppler vs ZeroMQ.

    PYTHONPATH=build/python /usr/bin/python3 apps/bench/bench_transport.py [--samples 1e9] [--repeat 3]
      ... --mode rate [--rates 10e6,50e6,100e6] [--seconds 5]      fixed radio rates
      ... --direction source [--mode max|rate]                    producer process -> flowgraph
      ... --cxx-consumer build/apps/bench/bench_consumer           the consumer in C++, not NumPy

Sink direction: null_source -> transport -> a consumer process, which stops
once it has N samples (--samples); the flowgraph is then stopped.
  flowgraph alone    null_sink in place of the transport, no consumer: the
                     reference, what the flowgraph itself costs
  doppler zero-copy  buffer_sink(policy="block"): head writes into the ring
  doppler copy       the same sink with zero_copy=False: it copies each chunk
  zeromq push/pull   zeromq.push_sink over ipc://, a pyzmq PULL socket reads
The consumer touches every sample as a real one does: one NumPy reduction
(np.add.reduce over the floats) per view, the same function in every way. A
doppler view is wait(view) (--views); a ZeroMQ view is the message as it
arrives (one push_sink work() call; the output gives their sizes).
--cxx-consumer: the consumer is bench_consumer.cc instead, the same
reduction in C++, so that small views cost the transport and a sum rather
than a Python call and NumPy's dispatch (about 1.7 us a view).

Source direction: a producer process writes the same precomputed --block
array again and again (no generation cost); the flowgraph is source ->
null_sink, stopped once null_sink has N, with doppler.buffer_source,
zeromq.pull_source (pyzmq
PUSH, send(copy=False)) or zeromq.sub_source (pyzmq XPUB: a PUB that also
reports the subscription, so the producer starts only once the subscriber
is there). PUB drops what does not fit its queue (high-water mark, 1000
messages) when the subscriber falls behind: the flowgraph is stopped --grace
s after the producer's last send and the rest counts as lost. Reference:
null_source -> null_sink, stopped once it has N.

Taking GNU Radio's own hand-offs out: each block runs in a thread of its own
and every hand-off costs a wake-up and buffer bookkeeping per work() call.
A head block is such a hand-off, and the worst one: head and its source wake
each other for every few thousand samples whatever the buffer sizes (on a
2-core VM: about 1600 futex calls per 10^6 samples, and a ceiling near 300
Msps for every transport). So no head: the receiving side counts N and the
run is stopped there; what streams is the source straight into the
transport. The source (and throttle) get set_min_output_buffer(--buffer,
default a quarter of the ring capacity, 256 Ki samples) in every way, so a
call moves up to that many samples; that flowgraph part is the same in
every way and measured alone in the reference row. (GNU Radio's own default
is 8192 samples of 8 bytes, and so is its largest call: then every way pays
a hand-off per 8192 samples, ZeroMQ's push_sink sends messages of 8192 and
reaches about a third of the rate it reaches with 256 Ki; with 1 Mi, no
more than with 256 Ki. The zero-copy sink
makes the ring the source's output buffer, so the ring must hold all of it:
--buffer <= --capacity.) Every role is a process started before the clock (ready
handshake, ZeroMQ peers connected), so imports and start-up never count.

--mode max: figures per way (and view) over --repeat runs, interleaved (run
i of every way and view back to back, so load elsewhere hits all alike):
  Msps        samples received / (tb.start() to the N-th sample consumed;
              source direction: first write to the probe's sight of the N-th
              (below), or of its last arrival if it had to be stopped):
              median and spread (min..max). The processes share
              CLOCK_MONOTONIC.
  CPU fg, CPU cons / CPU prod   CPU seconds (user + sys, every thread:
              getrusage(RUSAGE_SELF) in each process around the streaming
              only) per 10^9 samples, flowgraph process and the other process
              apart, medians. The sender's window stays open until the
              receiver has the last sample (ZeroMQ's I/O thread sends on after
              tb.wait() returns).
  ratios      run by run, Msps of doppler / Msps of ZeroMQ in the same run and
              their median; in how many runs zero-copy was ahead of ZeroMQ at
              every view size. No best-run figure is given.

--mode rate: --seconds per run at each rate. Sink direction: the source is
one block on a radio's schedule, paced_source (apps/bench/bench_blocks.cc):
packets of at most 8192 samples, each written and returned when its last
sample is due, as a radio source block does. --pacer throttle puts the
two-block way back: null_source -> throttle with set_max_noutput_items(8192);
GNU Radio's hand-off between those two wakes both threads per packet, which
every way pays and no radio has. Source direction: the producer sleeps until
each block's schedule and writes it (never sleeping when behind); the
reference flowgraph has the same pacer. Per rate and way:
  CPU fg/s, CPU cons/s (prod/s), total/s   CPU seconds per second of signal
              (N / rate), medians; then CPU total / ZeroMQ's, run by run.
  late        samples more than --late-ms after their schedule, summed over
              the runs. A view (a ZeroMQ message) arrives when the receiver
              holds it (time.monotonic()) and is late by that minus
              t0 + (index of its last sample + 1) / rate, t0 taken just before
              tb.start() (the pacer's clock starts inside it) or at the
              producer's first write. Source direction: a probe thread in the
              flowgraph process reads null_sink's count every 5 ms (in every
              way, both modes), so lateness there is over-estimated by up to
              5 ms; the same probe stops a run once null_sink has N samples
              (reference rows and source direction).
  max late    the latest view of any run (ms).
  lost        N - received, summed over the runs.
Roles run as child processes of this script (--role); a run that misses its
deadline (--timeout) is killed and reported as failed, with its stderr.
"""
import argparse
import json
import os
import queue
import resource
import signal
import statistics
import subprocess
import sys
import tempfile
import threading
import time

import numpy as np
from bench_util import cpu_model

ITEM = 8  # bytes per complex64 sample
SCRIPT = os.path.abspath(__file__)
LABELS = {"alone": "flowgraph alone", "zc": "doppler zero-copy", "copy": "doppler copy",
          "zmq": "zeromq push/pull", "doppler": "doppler buffer_source", "push": "zeromq push/pull",
          "pub": "zeromq pub/sub"}
SINK_WAYS, SOURCE_WAYS = ("alone", "zc", "copy", "zmq"), ("alone", "doppler", "push", "pub")
PROBE_PERIOD = 0.005  # seconds between the source-direction probe's looks at null_sink's count


def cpu_seconds():
    ru = resource.getrusage(resource.RUSAGE_SELF)  # every thread of this process
    return ru.ru_utime + ru.ru_stime


def say(line):
    print(line, flush=True)


def touch(view):
    """What the consumer does with every view, in every way: read each sample once."""
    return float(np.add.reduce(view.view(np.float32)))


def lateness(ends, times, t0, rate, late_s):
    """Samples later than late_s and the worst lateness; arrival j held samples up to ends[j]."""
    if not ends:
        return {"late": 0, "max_late": None}
    e, t = np.asarray(ends, np.float64), np.asarray(times, np.float64)
    delay = t - (t0 + e / rate)
    sizes = np.diff(e, prepend=0.0)
    return {"late": int(sizes[delay > late_s].sum()), "max_late": float(delay.max())}


# ---- roles (child processes) ------------------------------------------------

class Commands:
    """Lines from the driver on stdin: go, t0 <seconds>, stop, end, close."""

    def __init__(self):
        self.values, self.done = {}, False
        self.events = {k: threading.Event() for k in ("go", "t0", "stop", "end", "close")}
        threading.Thread(target=self._read, daemon=True).start()

    def _read(self):
        for line in sys.stdin:
            key, _, value = line.strip().partition(" ")
            if key in self.events:
                self.values[key] = value
                self.events[key].set()
        if not self.done:
            os._exit(3)  # the driver is gone: do not outlive it
        self.events["close"].set()  # reported, and no more lines will come

    def wait(self, key):
        self.events[key].wait()
        return self.values[key]

    def report(self, **fields):
        self.done = True
        say("RESULT " + json.dumps(fields))


class Probe(threading.Thread):
    """When samples reached a block: its count, looked at every PROBE_PERIOD;
    once it reaches `target`, the flowgraph is stopped (the run's end)."""

    def __init__(self, block, target, tb):
        super().__init__(daemon=True)
        self.block, self.target, self.tb = block, target, tb
        self.halted, self.times, self.ends = threading.Event(), [], []
        self.start()

    def run(self):
        last, halted = 0, False
        while not halted:
            halted = self.halted.wait(PROBE_PERIOD)  # and one last look once halted
            n = self.block.nitems_read(0)
            if n != last:
                self.times.append(time.monotonic())
                self.ends.append(n)
                last = n
            if n >= self.target:
                self.tb.stop()
                return


def role_flowgraph(args, cmd):
    from gnuradio import blocks, doppler, gr, zeromq

    tb, way = gr.top_block(), args.way
    if args.direction == "source" and way != "alone":
        src = {"doppler": lambda: doppler.buffer_source(type="f32", name=args.name, capacity=args.capacity,
                                                        end_on_stream_end=True),
               "push": lambda: zeromq.pull_source(ITEM, 1, args.address, 100, False, -1),
               "pub": lambda: zeromq.sub_source(ITEM, 1, args.address, 100, False, -1, "")}[way]()
    elif args.mode == "rate" and args.pacer == "source":
        from doppler_bench_blocks import paced_source  # built in apps/bench, beside build/python's packages

        src = paced_source(ITEM, args.rate, 8192)  # radio-sized packets on schedule
    else:
        src = blocks.null_source(ITEM)
    chain = [src]
    if args.mode == "rate" and args.pacer == "throttle" and (args.direction == "sink" or way == "alone"):
        throttle = blocks.throttle(ITEM, args.rate, True)
        throttle.set_max_noutput_items(8192)  # radio-sized packets on schedule, not bursts of --buffer
        chain.append(throttle)
    for block in chain:
        block.set_min_output_buffer(0, args.buffer)  # (port, items): the one-argument form sets nothing in GNU Radio 3.10
    if args.direction == "sink" and way in ("zc", "copy"):
        end = doppler.buffer_sink(type="f32", name=args.name, capacity=args.capacity, policy="block",
                                  zero_copy=way == "zc")
    elif args.direction == "sink" and way == "zmq":
        end = zeromq.push_sink(ITEM, 1, args.address, 100, False, -1)
    else:
        end = blocks.null_sink(ITEM)
    tb.connect(*chain, end)

    def stopper():  # the driver's "stop": end the run, what arrived counts
        cmd.wait("stop")
        tb.stop()
    threading.Thread(target=stopper, daemon=True).start()
    say("built")
    cmd.wait("go")
    c0, t0 = cpu_seconds(), time.monotonic()
    tb.start()
    say(f"started {t0!r}")
    # The receiving side stops the run at N: null_sink through the probe, a
    # consumer process through the driver's "stop".
    probe = Probe(end, args.samples, tb) if args.direction == "source" or way == "alone" else None
    tb.wait()
    t_end = time.monotonic()
    if probe:
        probe.halted.set()
        probe.join()
    if args.direction == "sink":
        cmd.wait("end")  # the receiver has the last sample: close the sender's CPU window
    out = {"t0": t0, "t_end": t_end, "cpu": cpu_seconds() - c0, "received": end.nitems_read(0)}
    if args.direction == "sink" and way in ("zc", "copy"):
        out["zero_copy"] = end.zero_copy()
    if probe:
        out["t_last"] = out["t_end"] = probe.times[-1] if probe.times else t_end
        out["received"] = probe.ends[-1] if probe.ends else 0  # what the probe saw then
    if probe and args.mode == "rate":
        out.update(lateness(probe.ends, probe.times, float(cmd.wait("t0")), args.rate, args.late_ms / 1e3))
    cmd.report(**out)


def zmq_open(kind, address, bind):
    """A pyzmq socket, bound or connected, once a peer has completed the handshake
    (XPUB: once the subscription has arrived, so no message goes before it)."""
    import zmq
    from zmq.utils.monitor import recv_monitor_message

    ctx = zmq.Context()
    sock = ctx.socket(kind)
    mon = sock.get_monitor_socket(zmq.EVENT_HANDSHAKE_SUCCEEDED)  # before bind/connect: no event missed
    if bind:
        sock.bind(address)
    else:
        sock.connect(address)
    ok = mon.poll(60_000)
    if ok:
        recv_monitor_message(mon)
    sock.disable_monitor()
    mon.close(linger=0)
    if kind == zmq.XPUB:
        ok = sock.poll(60_000) and sock.recv()[:1] == b"\x01"
    if not ok:
        sys.exit(f"no ZeroMQ peer at {address} within 60 s")
    return ctx, sock


def role_consumer(args, cmd):
    """Sink direction: attach, then one reduction per view until the end of the stream."""
    rec = args.mode == "rate"
    times, ends, n, acc, msgs, biggest = [], [], 0, 0.0, 0, 0
    if args.way == "zmq":
        import zmq

        ctx, sock = zmq_open(zmq.PULL, args.address, bind=False)
        sock.setsockopt(zmq.RCVTIMEO, 60_000)  # fail, do not hang, if the stream stops short
        say("ready")
        c0 = cpu_seconds()
        while n < args.samples:
            try:
                msg = sock.recv(copy=False)
            except zmq.Again:
                break
            if rec:
                times.append(time.monotonic())
            view = np.frombuffer(msg.buffer, np.complex64)
            acc += touch(view)
            n, msgs, biggest = n + len(view), msgs + 1, max(biggest, len(view))
            if rec:
                ends.append(n)
    else:
        from doppler.buffer import F32Buffer

        buf = F32Buffer.attach(args.name, timeout=60)
        say("ready")
        c0, size, last = cpu_seconds(), args.view, False
        with buf:
            while not last and n < args.samples:
                size = min(size, args.samples - n)
                try:
                    view = buf.wait(size)
                except EOFError:  # the flowgraph ended its stream: its rest (fewer than size), then done
                    size, last = buf.available, True  # (a later wait would wait for its next run)
                    if not size:
                        break
                    view = buf.wait(size)
                if rec:
                    times.append(time.monotonic())
                acc += touch(view)
                buf.consume(size)
                n += size
                if rec:
                    ends.append(n)
    t_end, cpu = time.monotonic(), cpu_seconds() - c0
    if not rec and n < args.samples:
        sys.exit(f"consumer: received {n:,} samples, not {args.samples:,}")
    out = {"t_end": t_end, "cpu": cpu, "received": n, "sum": acc, "msgs": msgs, "biggest": biggest}
    if rec:
        out.update(lateness(ends, times, float(cmd.wait("t0")), args.rate, args.late_ms / 1e3))
    cmd.report(**out)
    if args.way == "zmq":
        # Take (and drop) what push_sink still sends until the flowgraph has
        # stopped: a push_sink whose peer went away with a large message
        # queued never returns from tb.wait() (GNU Radio 3.10).
        sock.setsockopt(zmq.RCVTIMEO, 100)
        while not cmd.events["close"].is_set():
            try:
                sock.recv(copy=False)
            except zmq.Again:
                pass
        sock.close(linger=0)
        ctx.term()


def role_producer(args, cmd):
    """Source direction: write the same array, paced on the clock in rate mode."""
    block, sock, buf = np.zeros(args.block, np.complex64), None, None
    if args.way == "doppler":
        from doppler.buffer import F32Buffer

        buf = F32Buffer.attach(args.name, timeout=60)

        def send(a):
            buf.write(a, block=True)
    else:
        import zmq

        ctx, sock = zmq_open(zmq.PUSH if args.way == "push" else zmq.XPUB, args.address, bind=True)

        def send(a):
            sock.send(a, copy=False)
    say("ready")
    cmd.wait("go")
    c0, t0 = cpu_seconds(), time.monotonic()
    say(f"started {t0!r}")
    full, rest = divmod(args.samples, args.block)
    for k in range(full + (rest > 0)):
        if args.mode == "rate":  # sleep until this block's last sample is due, never when behind
            ahead = t0 + min((k + 1) * args.block, args.samples) / args.rate - time.monotonic()
            if ahead > 0:
                time.sleep(ahead)
        send(block if k < full else block[:rest])
    t_sent = time.monotonic()
    if buf is not None:
        buf.close()
    say(f"sent {t_sent!r}")
    cmd.wait("end")  # the flowgraph has what it will get: close the sender's CPU window
    cpu = cpu_seconds() - c0
    if sock is not None:
        sock.close(linger=0)
        ctx.term()
    else:
        buf.destroy()
    cmd.report(t0=t0, t_sent=t_sent, cpu=cpu)


# ---- driver ------------------------------------------------------------------

class Failed(Exception):
    pass


class Role:
    """A role as a child process: its stdout lines in a queue, its stderr in a file."""

    def __init__(self, role, argv, program=None):
        self.role, self.err, self.lines = role, tempfile.TemporaryFile(), queue.Queue()
        self.proc = subprocess.Popen(program or [sys.executable, SCRIPT, "--role", role, *argv],
                                     stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=self.err, text=True)
        threading.Thread(target=self._pump, daemon=True).start()

    def _pump(self):
        for line in self.proc.stdout:
            self.lines.put(line.rstrip("\n"))
        self.lines.put(None)

    def send(self, line):
        try:
            self.proc.stdin.write(line + "\n")
            self.proc.stdin.flush()
        except (BrokenPipeError, ValueError):
            pass  # it died: the next expect() says so

    def expect(self, word, deadline, soft=False):
        while True:
            try:
                line = self.lines.get(timeout=max(0.0, deadline - time.monotonic()))
            except queue.Empty:
                if soft:
                    return None
                raise Failed(f"the {self.role} gave no '{word}' before the deadline: killed")
            if line is None:
                raise Failed(f"the {self.role} exited with status {self.proc.wait()} before '{word}'")
            key, _, rest = line.partition(" ")
            if key == word:
                return rest

    def result(self, deadline, soft=False):
        rest = self.expect("RESULT", deadline, soft)
        return None if rest is None else json.loads(rest)

    def tail(self, n=6):
        self.err.seek(0)
        return self.err.read().decode(errors="replace").splitlines()[-n:]

    def finish(self, kill):
        try:
            if not kill:
                self.proc.stdin.close()  # it has reported: it exits
            self.proc.wait(0 if kill else 10)
        except (subprocess.TimeoutExpired, BrokenPipeError):
            self.proc.kill()
            self.proc.wait()
        self.err.close()


RUNS = iter(range(1 << 30))


def run_once(args, way, view, rate, n):
    """One run of one way; a dict of its figures, or None if it failed (said why)."""
    tag = f"bt{os.getpid()}-{next(RUNS)}"
    ring, ipc = f"/dev/shm/doppler.{tag}", f"/tmp/doppler-bench-{tag}.ipc"
    argv = ["--direction", args.direction, "--mode", args.mode, "--way", way, "--samples", str(n),
            "--rate", repr(rate or 0.0), "--capacity", str(args.capacity), "--buffer", str(args.buffer),
            "--view", str(view or 0), "--block", str(args.block), "--late-ms", repr(args.late_ms),
            "--pacer", args.pacer, "--name", tag, "--address", f"ipc://{ipc}"]
    timeout = args.timeout or (60 + 3 * args.seconds if args.mode == "rate" else 60 + n / 1e7)
    deadline, roles, failed, stopped = time.monotonic() + timeout, [], True, False
    peer_role = "consumer" if args.direction == "sink" else "producer"
    try:
        fg = Role("flowgraph", argv)
        roles.append(fg)
        program = None
        if args.cxx_consumer and args.direction == "sink":  # bench_consumer.cc instead of role_consumer
            program = ([args.cxx_consumer, "zc", tag, str(n), str(view)] if way in ("zc", "copy")
                       else [args.cxx_consumer, "zmq", f"ipc://{ipc}", str(n)])
        peer = Role(peer_role, argv, program) if way != "alone" else None
        roles += [peer] if peer else []
        fg.expect("built", deadline)
        if peer:
            peer.expect("ready", deadline)
        fg.send("go")
        t0 = float(fg.expect("started", deadline))
        if args.direction == "sink":
            p = None
            fg.send(f"t0 {t0!r}")  # the reference row's probe times its arrivals from it
            if peer:
                peer.send(f"t0 {t0!r}")
                p = peer.result(deadline)
                fg.send("stop")
            fg.send("end")
            f = fg.result(deadline)
            if peer:
                peer.send("close")
            got, t_end = (p or f)["received"], (p or f)["t_end"]
            if f.get("zero_copy", way == "zc") != (way == "zc"):
                raise Failed(f"the sink ran the {'zero-copy' if f['zero_copy'] else 'copy'} path")
            if args.mode == "max" and got < n:
                raise Failed(f"received {got:,} of {n:,} samples")
        else:
            p, start = None, t0
            if peer:
                peer.send("go")
                start = float(peer.expect("started", deadline))
                fg.send(f"t0 {start!r}")
                peer.expect("sent", deadline)
                f = fg.result(min(deadline, time.monotonic() + args.grace), soft=True)
                if f is None:  # not all arrived: what did within the time counts, the rest is lost
                    fg.send("stop")
                    f, stopped = fg.result(deadline), True
                peer.send("end")
                p = peer.result(deadline)
            else:
                fg.send(f"t0 {t0!r}")
                f = fg.result(deadline)
            got, t_end = f["received"], f["t_last" if stopped else "t_end"]
            t0 = start
        failed = False
    except Failed as e:
        print(f"  FAILED: {LABELS[way]}{f' view {view}' if view else ''}{f' at {rate / 1e6:g} Msps' if rate else ''}:"
              f" {e}", flush=True)
        for r in roles:
            for line in r.tail():
                print(f"    {r.role} stderr: {line}", flush=True)
        return None
    finally:
        for r in roles:
            r.finish(kill=failed)
        for path in (ring, ipc):  # ours, and only if a killed role left it
            try:
                os.unlink(path)
            except FileNotFoundError:
                pass
    lat = p if (args.direction == "sink" and p) else f
    scale = 1e9 / n if args.mode == "max" else rate / n  # per 10^9 samples, or per second of signal
    return {"msps": got / (t_end - t0) / 1e6, "cpu_fg": f["cpu"] * scale, "cpu_peer": p["cpu"] * scale if p else 0.0,
            "lost": max(0, n - got), "late": lat.get("late"), "max_late": lat.get("max_late"),
            "msgs": (p or {}).get("msgs", 0), "biggest": (p or {}).get("biggest", 0), "received": got}


# ---- report ----------------------------------------------------------------

RATIOS = {"sink": (("zc", "zmq"), ("copy", "zmq")), "source": (("doppler", "push"), ("doppler", "pub"))}


def med(xs):
    return statistics.median(xs) if xs else float("nan")


def pairs(runs, num, den, value):
    """Run by run value(num) / value(den), None where either failed."""
    return [value(a) / value(b) if a and b else None for a, b in zip(runs[num], runs[den])]


def ratio_rows(title, rows):
    """rows: (label, run-by-run ratios); one line each, with the median."""
    if not rows:
        return
    print(f"{title:<52}" + "".join(f"{'run ' + str(i + 1):>8}" for i in range(len(rows[0][1]))) + f"{'median':>9}")
    for label, ratios in rows:
        print(f"  {label:<50}" + "".join(f"{'-':>8}" if x is None else f"{x:8.2f}" for x in ratios)
              + f"{med([x for x in ratios if x]):9.2f}")


def report_max(args, plan, runs):
    sink, peer = args.direction == "sink", ("cons" if args.direction == "sink" else "prod")
    print(f"{'way':<23}" + (f"{'view':>9}" if sink else "") + f"{'Msps':>9}  {'(min..max)':<17}{'CPU fg':>8}"
          f"{'CPU ' + peer:>10}" + ("" if sink else f"{'lost':>12}") + f"{'runs':>7}")
    for way, view in plan:
        rs = [r for r in runs[(way, view)] if r]
        rates = [r["msps"] for r in rs]
        print(f"{LABELS[way]:<23}" + (f"{view or ('message' if way == 'zmq' else '-'):>9}" if sink else "")
              + f"{med(rates):9.1f}  {f'({min(rates):.1f}..{max(rates):.1f})' if rs else '(failed)':<17}"
              + f"{med([r['cpu_fg'] for r in rs]):8.2f}"
              + (f"{med([r['cpu_peer'] for r in rs]):10.2f}" if way != "alone" else f"{'-':>10}")
              + ("" if sink else f"{sum(r['lost'] for r in rs):12,}") + f"{len(rs):>5}/{args.repeat}")
    print(f"CPU: seconds (user + sys) per 10^9 samples, flowgraph process and {peer}{'umer' if sink else 'ucer'} "
          f"process; Msps and CPU are medians over the runs")
    zm = [r for r in runs.get(("zmq", None), []) if r]
    if zm:
        mean = sum(r["received"] for r in zm) / sum(r["msgs"] for r in zm)
        print(f"ZeroMQ's view is the message as it arrives: mean {mean:,.0f} samples, "
              f"largest {max(r['biggest'] for r in zm):,}")
    print()
    ahead_every, per, rows = [True] * args.repeat, [], []
    for num, den in RATIOS[args.direction]:
        for way, view in plan if (den, None) in runs else ():
            if way == num:
                r = pairs(runs, (num, view), (den, None), lambda x: x["msps"])
                rows.append((f"{LABELS[num]}{f' view {view}' if view else ''} / {LABELS[den]}", r))
                ahead = [bool(x and x > 1) for x in r]
                if num == "zc":
                    ahead_every = [a and b for a, b in zip(ahead_every, ahead)]
                per.append((num, den, view, sum(ahead)))
    ratio_rows("Msps / Msps of ZeroMQ in the same run", rows)
    if sink:
        print(f"zero-copy ahead of ZeroMQ in {sum(ahead_every)} of {args.repeat} runs at every view size "
              f"(per view: {', '.join(f'{v}: {k}' for w, _, v, k in per if w == 'zc')})")
    else:
        print("; ".join(f"doppler ahead of {LABELS[den]} in {k} of {args.repeat} runs" for _, den, _, k in per)
              + " (pub/sub drops what its subscriber cannot take: see lost)")


def report_rate(args, rate, ways, runs):
    peer = "cons" if args.direction == "sink" else "prod"
    print(f"{rate / 1e6:g} Msps, {args.seconds:g} s per run ({int(rate * args.seconds):,} samples)")
    print(f"{'way':<23}{'CPU fg/s':>9}{'CPU ' + peer + '/s':>12}{'total/s':>9}{'late':>12}{'max late ms':>13}"
          f"{'lost':>12}{'runs':>7}")
    for way in ways:
        rs = [r for r in runs[(rate, way)] if r]
        lates = [r["max_late"] for r in rs if r["max_late"] is not None]
        timed = way != "alone" or args.direction == "source"
        print(f"{LABELS[way]:<23}{med([r['cpu_fg'] for r in rs]):9.3f}"
              + (f"{med([r['cpu_peer'] for r in rs]):12.3f}" if way != "alone" else f"{'-':>12}")
              + f"{med([r['cpu_fg'] + r['cpu_peer'] for r in rs]):9.3f}"
              + (f"{sum(r['late'] for r in rs):12,}" if timed else f"{'-':>12}")
              + (f"{max(lates) * 1e3:13.1f}" if timed and lates else f"{'-':>13}")
              + f"{sum(r['lost'] for r in rs):12,}{len(rs):>5}/{args.repeat}")
    ratio_rows("CPU total / CPU total of ZeroMQ in the same run", [
        (f"{LABELS[num]} / {LABELS[den]}", pairs(runs, (rate, num), (rate, den), lambda x: x["cpu_fg"] + x["cpu_peer"]))
        for num, den in RATIOS[args.direction] if num in ways and den in ways])
    print()


def main():
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))  # the driver's finally: kill roles, remove names
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0], epilog="See the module docstring for "
                                "what each figure means.")
    num = lambda s: int(float(s))  # noqa: E731 (1e9 on the command line)
    p.add_argument("--direction", choices=("sink", "source"), default="sink")
    p.add_argument("--mode", choices=("max", "rate"), default="max")
    p.add_argument("--samples", type=num, default=10**9, help="samples per run in max mode (default 1e9)")
    p.add_argument("--repeat", type=int, default=3, help="interleaved runs of every way (default %(default)s)")
    p.add_argument("--capacity", type=num, default=1 << 20, help="ring capacity, samples (default %(default)s)")
    p.add_argument("--buffer", type=num, help="set_min_output_buffer of the source and throttle (default: "
                   "--capacity / 4)")
    p.add_argument("--views", help="sink, max mode: doppler consumer views (default 1024 x8 up to capacity/8, "
                   "and capacity/8)")
    p.add_argument("--rates", default="10e6,50e6,100e6", help="rate mode: samples/s (default %(default)s)")
    p.add_argument("--seconds", type=float, default=5.0, help="rate mode: seconds per run (default %(default)s)")
    p.add_argument("--late-ms", type=float, default=50.0, help="rate mode: late threshold (default %(default)s)")
    p.add_argument("--cxx-consumer", metavar="PATH", help="max mode, sink direction: the consumer is this "
                   "program (build/apps/bench/bench_consumer: a C++ sum per view or message) instead of NumPy")
    p.add_argument("--pacer", choices=("source", "throttle"), default="source",
                   help="rate mode, the flowgraph's schedule: one paced source block (default) or "
                        "null_source -> throttle")
    p.add_argument("--rate-view", type=num, default=8192, help="rate mode: doppler consumer view (default 8192)")
    p.add_argument("--ways", help="a subset of the ways, comma-separated (sink: alone, zc, copy, zmq; source: "
                   "alone, doppler, push, pub; default all); ratios need their ZeroMQ way")
    p.add_argument("--block", type=num, default=8192, help="source: producer block, samples (default 8192)")
    p.add_argument("--grace", type=float, default=2.0, help="source: seconds after the producer's last send "
                   "before the flowgraph is stopped and the rest counted lost (default %(default)s)")
    p.add_argument("--timeout", type=float, help="seconds before a run is killed (default 60 + 3 x --seconds, "
                   "or 60 + samples/1e7)")
    for hidden in ("--role", "--way", "--name", "--address"):
        p.add_argument(hidden, help=argparse.SUPPRESS)
    p.add_argument("--rate", type=float, help=argparse.SUPPRESS)
    p.add_argument("--view", type=int, help=argparse.SUPPRESS)
    args = p.parse_args()
    args.buffer = args.buffer or args.capacity // 4
    if args.role:
        {"flowgraph": role_flowgraph, "consumer": role_consumer, "producer": role_producer}[args.role](args, Commands())
        return
    cap = 1 << max(args.capacity - 1, 1).bit_length()  # the ring rounds up to a power of two
    views = [1024 * 8**k for k in range(12) if 1024 * 8**k <= cap // 8]
    views = [num(v) for v in args.views.split(",")] if args.views else views + [cap // 8] * (cap // 8 not in views)
    rates = [float(r) for r in args.rates.split(",")]
    if min([args.samples, args.repeat, args.block, args.rate_view, *views, *rates]) <= 0 or args.seconds <= 0:
        p.error("sizes, rates, --repeat and --seconds must be positive")
    if max(views + [args.rate_view]) > cap:
        p.error("a view cannot be larger than the ring")
    if args.cxx_consumer and (args.mode != "max" or args.direction != "sink"):
        p.error("--cxx-consumer is for --mode max in the sink direction")
    if args.cxx_consumer and not os.access(args.cxx_consumer, os.X_OK):
        p.error(f"--cxx-consumer {args.cxx_consumer}: not an executable (build the bench_consumer target)")
    if args.direction == "sink" and args.buffer > cap:
        p.error("the zero-copy sink makes the ring the source's buffer: --buffer must not exceed --capacity")

    from gnuradio import gr
    model = cpu_model() or "unknown processor"
    print(f"{model}, {os.cpu_count()} cores ({len(os.sched_getaffinity(0))} usable), GNU Radio {gr.version()}")
    sink = args.direction == "sink"
    what = ("sink direction: flowgraph -> consumer process" if sink
            else f"source direction: producer process (blocks of {args.block:,}) -> flowgraph")
    ways = SINK_WAYS if sink else SOURCE_WAYS
    if args.ways:
        unknown = set(args.ways.split(",")) - set(ways)
        if unknown:
            p.error(f"--ways: {', '.join(sorted(unknown))} not among {', '.join(ways)}")
        ways = tuple(w for w in ways if w in args.ways.split(","))
    common = f"ring {cap:,}; min output buffer {args.buffer:,}; {args.repeat} interleaved runs"
    if args.mode == "max":
        print(f"{what}; max rate; {args.samples:,} complex64 samples per run; {common}")
        plan = ([("alone", None)] * ("alone" in ways) + [(w, v) for v in views for w in ("zc", "copy") if w in ways]
                + [("zmq", None)] * ("zmq" in ways) if sink else [(w, None) for w in ways])
        runs = {key: [] for key in plan}
        for i in range(args.repeat):
            for key in plan:  # run i of every way and view, back to back
                runs[key].append(run_once(args, key[0], key[1], None, args.samples))
            print(f"  round {i + 1}/{args.repeat} done", flush=True)
        print()
        report_max(args, plan, runs)
    else:
        print(f"{what}; fixed rates {', '.join(f'{r / 1e6:g}' for r in rates)} Msps; {args.seconds:g} s per run; "
              + (f"{'paced_source' if args.pacer == 'source' else 'null_source -> throttle'} packets <= 8192; "
                 f"consumer view {args.rate_view:,} (ZeroMQ: the message as it arrives); "
                 if sink else "producer paced on the clock; ") + f"late: > {args.late_ms:g} ms; {common}")
        runs = {(r, w): [] for r in rates for w in ways}
        for i in range(args.repeat):
            for rate in rates:
                for way in ways:  # run i of every way, back to back
                    view = args.rate_view if way in ("zc", "copy") else None
                    runs[(rate, way)].append(run_once(args, way, view, rate, int(rate * args.seconds)))
            print(f"  round {i + 1}/{args.repeat} done", flush=True)
        print("\nCPU: seconds (user + sys) per second of signal, medians over the runs; late: samples summed over "
              "the runs; max late: the worst view of any run; lost: summed over the runs")
        for rate in rates:
            report_rate(args, rate, ways, runs)
    failed = sum(r is None for rs in runs.values() for r in rs)
    if failed:
        print(f"{failed} run(s) failed (said above); the figures leave them out")
        sys.exit(1)


if __name__ == "__main__":
    main()
