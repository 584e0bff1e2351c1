#!/usr/bin/python3
# SPDX-License-Identifier: GPL-3.0-or-later
"""doppler-demo: a GNU Radio flowgraph fills a ring, this process drains it.

It compiles examples/tone_to_ring.grc with grcc, starts the flowgraph in its
own process (as GRC would), attaches to the ring by name from here, consumes
every sample with wait/consume while showing a live status line, then prints
the measured tone next to the configured one, the totals, and writes a
spectrum plot (PNG). No SDR hardware: the signal is a tone plus noise.

Exit status: 0 on success; 1 if samples were lost in block mode or the tone
is off by more than one FFT bin; 2 if the flowgraph could not run.
"""
import argparse
import os
import subprocess
import sys
import tempfile
import time

import numpy as np

from doppler.buffer import F32Buffer

FFT_SIZE = 1 << 16
CHUNK = FFT_SIZE      # samples per wait(); each chunk is one FFT candidate
FFT_EVERY = 64        # FFT one chunk in 64: the spectrum must not slow the consumer
STATUS_PERIOD = 0.2   # seconds between status updates (~5 per second)
WINDOW = np.hanning(FFT_SIZE).astype(np.float32)  # keeps the tone's leakage off the noise floor
HERE = os.path.dirname(os.path.abspath(__file__))


def first_existing(paths, what):
    for p in paths:
        if p and os.path.exists(p):
            return p
    sys.exit(f"doppler-demo: cannot find {what}; looked in: {', '.join(p for p in paths if p)}. "
             f"Set DOPPLER_EXAMPLES_DIR to the directory holding tone_to_ring.grc.")


def compile_flowgraph(out_dir):
    """grcc tone_to_ring.grc into out_dir; return the generated script's path.

    Works installed (bin/ next to share/) and from the source tree (apps/ next
    to examples/ and grc/); the doppler block yml must be on GRC_BLOCKS_PATH
    because an installed prefix such as /usr/local is not in GRC's defaults.
    """
    grc = first_existing([
        os.path.join(os.environ.get("DOPPLER_EXAMPLES_DIR", ""), "tone_to_ring.grc"),
        os.path.join(HERE, "..", "share", "gr-doppler", "examples", "tone_to_ring.grc"),
        os.path.join(HERE, "..", "examples", "tone_to_ring.grc"),
    ], "tone_to_ring.grc")
    block_dirs = [d for d in (os.path.join(HERE, "..", "share", "gnuradio", "grc", "blocks"),
                              os.path.join(HERE, "..", "grc"))
                  if os.path.exists(os.path.join(d, "doppler_buffer_sink.block.yml"))]
    env = dict(os.environ)
    env["GRC_BLOCKS_PATH"] = os.pathsep.join(block_dirs + [env.get("GRC_BLOCKS_PATH", "")]).strip(os.pathsep)
    r = subprocess.run(["grcc", "-o", out_dir, grc], env=env, capture_output=True, text=True)
    script = os.path.join(out_dir, "tone_to_ring.py")
    if r.returncode != 0 or not os.path.exists(script):
        sys.stderr.write(r.stdout + r.stderr)
        print(f"doppler-demo: grcc could not compile {grc}", file=sys.stderr)
        sys.exit(2)
    with open(script) as f:
        if "doppler.buffer_sink(" not in f.read():
            # grcc turns an unknown block into a silent placeholder.
            print("doppler-demo: grcc did not find the doppler_buffer_sink block; "
                  "add the directory of doppler_buffer_sink.block.yml to GRC_BLOCKS_PATH", file=sys.stderr)
            sys.exit(2)
    return script


def attach(name, proc, timeout):
    """Attach to the ring the flowgraph creates, giving up early if it exits."""
    deadline = time.monotonic() + timeout
    while True:
        try:
            return F32Buffer.attach(name, timeout=0.5)
        except TimeoutError:  # not there yet (it waited half a second)
            if proc.poll() is not None or time.monotonic() > deadline:
                return None


def stop_flowgraph(proc, grace):
    """Give the flowgraph `grace` seconds to exit by itself (after a normal
    run it is on its way out: its sink closed the ring in stop()), then
    SIGTERM it (its handler stops the flowgraph; the sink closes the ring).
    Returns its exit status."""
    try:
        return proc.wait(timeout=grace)
    except subprocess.TimeoutExpired:
        proc.terminate()
        return proc.wait()


class Status:
    """One live line on a terminal, plain periodic lines otherwise."""

    def __init__(self, buf):
        self.buf = buf
        self.tty = sys.stdout.isatty()
        self.start = self.last_t = time.monotonic()
        self.last_n = 0
        self.period = STATUS_PERIOD if self.tty else 1.0

    def due(self, now):
        return now - self.last_t >= self.period

    def show(self, received, now):
        rate = (received - self.last_n) / max(now - self.last_t, 1e-9) / 1e6
        fill = 100.0 * self.buf.available / self.buf.capacity
        line = (f"{now - self.start:6.1f} s  {rate:8.2f} Msps  fill {fill:5.1f} %  "
                f"dropped {self.buf.dropped:,}  received {received:,}")
        if self.tty:
            print("\r\033[K" + line, end="", flush=True)
        else:
            print(line, flush=True)
        self.last_t, self.last_n = now, received

    def done(self):
        if self.tty:
            print()


def consume(buf, proc):
    """Drain the ring until the producer closes it; return (received, power, seconds)."""
    status = Status(buf)
    received, chunks = 0, 0
    power = np.zeros(FFT_SIZE)
    while True:
        try:
            view = buf.wait(CHUNK, timeout=STATUS_PERIOD)
        except TimeoutError:
            n = 0  # nothing new: still refresh the status line
        except EOFError:
            n = buf.available  # closed: drain what is left, then stop
            if n:
                buf.wait(n)
                buf.consume(n)
                received += n
            break
        else:
            n = CHUNK
            if chunks % FFT_EVERY == 0:
                # The view aliases ring memory: use it before consume().
                power += np.abs(np.fft.fft(view * WINDOW)) ** 2
            buf.consume(n)
            received += n
            chunks += 1
        now = time.monotonic()
        if status.due(now):
            status.show(received, now)
            if n == 0 and proc.poll() is not None and not buf.closed:
                break  # the flowgraph is gone and will never close the ring
    status.show(received, time.monotonic())
    status.done()
    return received, power, time.monotonic() - status.start


def plot(path, freqs, power, args, measured):
    import matplotlib
    matplotlib.use("Agg")  # no display needed
    import matplotlib.pyplot as plt

    order = np.argsort(freqs)
    db = 10 * np.log10(power[order] / power.max() + 1e-20)
    fig, ax = plt.subplots(figsize=(9, 4.5))
    ax.plot(freqs[order] / 1e3, db, lw=0.6)
    ax.axvline(args.freq / 1e3, color="tab:red", ls="--", lw=0.8, label=f"configured {args.freq / 1e3:g} kHz")
    ax.set(xlabel="frequency (kHz)", ylabel="power (dB, peak = 0)", ylim=(-120, 5),
           title=f"ring {args.name!r}: tone measured at {measured / 1e3:.3f} kHz")
    ax.grid(alpha=0.3)
    ax.legend(loc="lower left")
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)


def count(text):
    """A sample count: 200000000, 2e8 or 200_000_000."""
    value = float(text)
    if value != int(value):
        raise ValueError(text)
    return int(value)


def main():
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--samples", type=count, default=200_000_000,
                   help="samples the flowgraph produces (default: %(default)s)")
    p.add_argument("--freq", type=float, default=100e3, help="tone frequency in Hz (default: %(default)s)")
    p.add_argument("--rate", type=float, default=2e6, help="sample rate in Hz (default: %(default)s)")
    p.add_argument("--policy", choices=("block", "drop"), default="block",
                   help="sink overflow policy: block is lossless, drop never stalls the flowgraph (default: %(default)s)")
    p.add_argument("--name", default=f"demo-{os.getpid()}", help="ring name (default: demo-<pid>)")
    p.add_argument("--plot", default="doppler-demo-spectrum.png", help="spectrum PNG to write (default: %(default)s)")
    args = p.parse_args()
    if args.samples < FFT_SIZE:
        p.error(f"--samples must be at least {FFT_SIZE} (one FFT) to measure the tone")
    if not 0 <= abs(args.freq) < args.rate / 2:
        p.error(f"--freq must be within +-rate/2 ({args.rate / 2:g} Hz) to be measurable")

    with tempfile.TemporaryDirectory(prefix="doppler-demo-") as tmp:
        script = compile_flowgraph(tmp)
        print(f"flowgraph: {args.samples:,} samples, tone {args.freq:g} Hz at {args.rate:g} sps, "
              f"policy {args.policy}, ring {args.name!r}")
        proc = subprocess.Popen([sys.executable, script, "--name", args.name, "--samp-rate", repr(args.rate),
                                 "--freq", repr(args.freq), "--policy", args.policy,
                                 "--n-samples", str(args.samples)])
        drained = False
        try:
            buf = attach(args.name, proc, timeout=10)
            if buf is None:
                print(f"doppler-demo: the flowgraph did not create ring {args.name!r}", file=sys.stderr)
                return 2
            with buf:
                try:
                    received, power, seconds = consume(buf, proc)
                except BrokenPipeError:
                    print("doppler-demo: the flowgraph died without closing the ring", file=sys.stderr)
                    return 2
                dropped = buf.dropped
            drained = True
        except KeyboardInterrupt:
            print("\ndoppler-demo: interrupted", file=sys.stderr)
            return 130
        finally:
            rc = stop_flowgraph(proc, grace=10 if drained else 0)
    if rc != 0:
        print(f"doppler-demo: the flowgraph exited with status {rc}", file=sys.stderr)
        return 2

    freqs = np.fft.fftfreq(FFT_SIZE, d=1.0 / args.rate)
    measured = freqs[int(np.argmax(power))] if power.any() else float("nan")
    bin_hz = args.rate / FFT_SIZE
    tone_ok = abs(measured - args.freq) <= bin_hz
    lost = args.samples - received - dropped
    print(f"tone:     configured {args.freq:,.1f} Hz, measured {measured:,.1f} Hz "
          f"(FFT bin {bin_hz:.1f} Hz) {'OK' if tone_ok else 'WRONG'}")
    print(f"totals:   received {received:,}, dropped {dropped:,}, lost {lost:,} "
          f"(expected {args.samples:,}, policy {args.policy})")
    print(f"rate:     {received / seconds / 1e6:.1f} Msps average over {seconds:.2f} s")
    if power.any():
        plot(args.plot, freqs, power, args, measured)
        print(f"spectrum: {os.path.abspath(args.plot)}")
    failed = not tone_ok or (args.policy == "block" and lost != 0)
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
