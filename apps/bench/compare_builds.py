#!/usr/bin/python3
# SPDX-License-Identifier: GPL-3.0-or-later
"""compare_builds: the hot-path figures of two build trees, measured in one
interleaved run (before and after a change to the core).

    apps/bench/compare_builds.py --old /path/old/build --new build [--repeats 7]

Each repeat runs, for each build (the order alternates from repeat to
repeat, so drift on a shared machine hits both alike):
  - bench_ring --quick --ring: in-process Msamples/s of ring<f32> (the
    `doppler` column) for each ring size and chunk;
  - bench_xproc --quick: Msamples/s between two threads and two processes,
    chunks 1024 and 8192;
  - the Python API page's loop (write; wait(n); consume) at n = 64 and 1024:
    ns per iteration of thread CPU time, with that build's doppler.buffer.
It prints, per figure, the median of each build, the spread (min-max) and
new/old of the medians: 1.00 is unchanged; a ratio inside both spreads is
noise. Each tree needs bench_ring, bench_xproc and doppler_buffer_py built.
"""
import argparse
import os
import platform
import re
import statistics
import subprocess
import sys

from bench_util import cpu_model

PY_LOOP = r"""
import sys, time, numpy as np
from doppler.buffer import F32Buffer
for n in (64, 1024):
    buf = F32Buffer(4096)
    x = np.ones(n, dtype=np.complex64)
    best = float("inf")
    for _ in range(5):
        t0 = time.thread_time_ns()
        for _ in range(20000):
            buf.write(x)
            v = buf.wait(n)
            buf.consume()
        best = min(best, (time.thread_time_ns() - t0) / 20000)
    del v
    buf.destroy()
    print(f"python n={n} {best:.1f}")
"""


def run(cmd, env=None):
    return subprocess.run(cmd, capture_output=True, text=True, env=env, timeout=600).stdout


def matches(out, pattern):
    """The matches of `pattern` at the start of the lines of `out`, in order."""
    return [m for m in (re.match(pattern, line) for line in out.splitlines()) if m]


def ring_figures(build):
    out = run([os.path.join(build, "apps/bench/bench_ring"), "--quick", "--ring"])
    return {f"bench_ring {m.group(1)} chunk {m.group(2)} (M/s)": float(m.group(3))
            for m in matches(out, r"(\d+ [KM]i)\s+(\d+)\s+([\d.]+)")}


def xproc_figures(build):
    out = run([os.path.join(build, "apps/bench/bench_xproc"), "--quick"])
    figs = {}
    for m in matches(out, r"\s*(1024|8192)\s+([\d.]+)\s+([\d.]+)"):
        figs[f"bench_xproc chunk {m.group(1)} threads (M/s)"] = float(m.group(2))
        figs[f"bench_xproc chunk {m.group(1)} processes (M/s)"] = float(m.group(3))
    return figs


def python_figures(build):
    env = dict(os.environ, PYTHONPATH=os.path.join(build, "python"))
    out = run([sys.executable, "-c", PY_LOOP], env)
    return {f"python loop n={m.group(1)} (ns/it, lower is better)": float(m.group(2))
            for m in matches(out, r"python n=(\d+) ([\d.]+)")}


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0],
                                 formatter_class=argparse.RawDescriptionHelpFormatter, epilog=__doc__)
    ap.add_argument("--old", required=True, help="build tree before the change")
    ap.add_argument("--new", required=True, help="build tree after the change")
    ap.add_argument("--repeats", type=int, default=7)
    args = ap.parse_args()
    builds = {"old": os.path.abspath(args.old), "new": os.path.abspath(args.new)}
    samples = {"old": {}, "new": {}}
    for k in range(args.repeats):
        order = ("old", "new") if k % 2 == 0 else ("new", "old")
        for which in order:
            for part in (ring_figures, xproc_figures, python_figures):
                for name, v in part(builds[which]).items():
                    samples[which].setdefault(name, []).append(v)
        print(f"repeat {k + 1} of {args.repeats} done", file=sys.stderr, flush=True)
    cpu = cpu_model() or platform.processor() or "unknown"
    print(f"processor: {cpu}, {os.cpu_count()} CPUs; {args.repeats} interleaved repeats")
    print(f"{'figure':58} {'old median':>10} {'old spread':>17} {'new median':>10} "
          f"{'new spread':>17} {'new/old':>7}")
    for name in samples["old"]:
        o, n = samples["old"][name], samples.get("new", {}).get(name, [])
        if not n:
            continue
        mo, mn = statistics.median(o), statistics.median(n)
        print(f"{name:58} {mo:10.1f} {min(o):8.1f}-{max(o):<8.1f} {mn:10.1f} "
              f"{min(n):8.1f}-{max(n):<8.1f} {mn / mo:7.2f}")


if __name__ == "__main__":
    main()
