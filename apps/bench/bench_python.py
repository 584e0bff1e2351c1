#!/usr/bin/python3
# SPDX-License-Identifier: GPL-3.0-or-later
"""Per-call cost of doppler.buffer: ns per `write(x); v = wait(n); consume()`.

The Python API page's loop, at n = 64 and 1024, for doppler.buffer.F32Buffer next to
bench_capi_baseline.Buffer (the thinnest raw C-API extension over the same
C ABI, apps/bench_capi_baseline.c), measured in the same run. ratio =
doppler / baseline: 1.00 or less means doppler.buffer is no slower. Each
figure is the best of many short interleaved runs of thread CPU time.

Run from the build tree:
    PYTHONPATH=<build>/python /usr/bin/python3 <build>/apps/bench_python.py
"""
import argparse
import time

import numpy as np

import bench_capi_baseline
from doppler.buffer import F32Buffer


def ns_per_iteration(buf, n, iterations):
    """The API page's loop, timed; ns per iteration."""
    x = np.ones(n, dtype=np.complex64)
    # CPU time of this thread: time the machine gives to other jobs (it is
    # shared) is not counted against either side.
    t0 = time.thread_time_ns()
    for _ in range(iterations):
        buf.write(x)
        v = buf.wait(n)
        buf.consume()
    elapsed = time.thread_time_ns() - t0
    del v
    return elapsed / iterations


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--iterations", type=int, default=50_000, help="loop iterations per run")
    ap.add_argument("--repeats", type=int, default=21, help="runs per figure; the best one is shown")
    args = ap.parse_args()

    print(f"{'n':>6} {'doppler.buffer ns/it':>22} {'raw C-API ns/it':>17} {'ratio':>7}")
    for n in (64, 1024):
        ours, base = F32Buffer(4096), bench_capi_baseline.Buffer(4096)
        best = {"ours": float("inf"), "base": float("inf")}
        # Interleaved runs, best of each: the machine is shared and noisy.
        for _ in range(args.repeats):
            best["ours"] = min(best["ours"], ns_per_iteration(ours, n, args.iterations))
            best["base"] = min(best["base"], ns_per_iteration(base, n, args.iterations))
        ours.destroy()
        print(f"{n:>6} {best['ours']:>22.1f} {best['base']:>17.1f} {best['ours'] / best['base']:>7.2f}")


if __name__ == "__main__":
    main()
