#!/usr/bin/python3
# SPDX-License-Identifier: GPL-3.0-or-later
"""CPU seconds per 1e9 samples: doppler-record vs GNU Radio's file_sink.

    PYTHONPATH=build/python /usr/bin/python3 apps/bench/bench_record.py [--samples 1e8] [--out DIR]

N complex64 samples from a null_source through a head, three ways, each
figure the CPU time of its processes:
  null_sink  null_source -> head -> null_sink            what the source side costs
  file_sink  null_source -> head -> file_sink(OUT)
  record     null_source -> head -> Buffer Sink (block), read by doppler-record in a
             process of its own as the ring's default reader: the flowgraph, and
             the recorder's own CPU time (it reports its getrusage at its end)
The figures are shown side by side, not subtracted: on a shared machine the
flowgraphs' noise is larger than file_sink's own share.
OUT is /dev/null by default, so the figures are the CPU each writer spends,
not the disk's speed (--out DIR writes real files there, then removes them).
CPU time is user + system.
"""
import argparse
import os
import resource
import subprocess
import sys
import tempfile
import time

FLOWGRAPH = r"""
import sys
from gnuradio import blocks, gr
n, kind, arg = int(sys.argv[1]), sys.argv[2], sys.argv[3]
tb = gr.top_block()
src, head = blocks.null_source(gr.sizeof_gr_complex), blocks.head(gr.sizeof_gr_complex, n)
if kind == "null":
    sink = blocks.null_sink(gr.sizeof_gr_complex)
elif kind == "file":
    sink = blocks.file_sink(gr.sizeof_gr_complex, arg, False)
    sink.set_unbuffered(False)
else:
    from gnuradio import doppler
    sink = doppler.buffer_sink(type="f32", name=arg, capacity=1 << 20, policy="block")
tb.connect(src, head, sink)
tb.run()
"""

# doppler-record's main, reporting its own CPU seconds on stderr at its end.
RECORDER = r"""
import resource, sys
from doppler.record import main
rc = main(sys.argv[1:])
u = resource.getrusage(resource.RUSAGE_SELF)
print("CPU", u.ru_utime + u.ru_stime, file=sys.stderr)
sys.exit(rc)
"""


def cpu_of(argv):
    """Run argv to its end; the CPU seconds (user + system) it took."""
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    subprocess.run(argv, check=True)
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    return (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)


def record_cpu(n, tmp, base):
    """CPU seconds of one doppler-record process recording the n samples
    a flowgraph writes into a ring."""
    from doppler import buffer as dbuf
    name = f"bench-record-{os.getpid()}"
    with dbuf.F32Buffer(1 << 20, name=name):  # made first: the recorder reads as its default reader
        rec = subprocess.Popen([sys.executable, "-c", RECORDER, name, base, "--reader", "", "--streams", "1"],
                               stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
        time.sleep(0.5)  # lets it start: the samples wait for it anyway
        flowgraph = cpu_of([sys.executable, "-c", FLOWGRAPH, str(n), "ring", name])
        _, err = rec.communicate(timeout=600)
    if rec.returncode != 0:
        sys.exit(f"doppler-record failed: {err}")
    return flowgraph, float(err.split("CPU")[-1].split()[0])


def main():
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--samples", type=float, default=1e8)
    p.add_argument("--out", help="directory for real files (default: /dev/null)")
    args = p.parse_args()
    n = int(args.samples)
    per = 1e9 / n
    with tempfile.TemporaryDirectory(dir=args.out) as tmp:
        base = os.path.join(tmp, "rec")
        if args.out is None:
            os.symlink("/dev/null", base + ".sigmf-data")  # the recorder writes its samples there
        file_out = os.path.join(tmp, "file_sink.out") if args.out else "/dev/null"
        baseline = cpu_of([sys.executable, "-c", FLOWGRAPH, str(n), "null", ""])
        file_sink = cpu_of([sys.executable, "-c", FLOWGRAPH, str(n), "file", file_out])
        ring, recorder = record_cpu(n, tmp, base)
    print(f"{n:.3g} samples; CPU seconds per 1e9 samples (output: {args.out or '/dev/null'})")
    print(f"  flowgraph -> null_sink                 {baseline * per:8.2f}")
    print(f"  flowgraph -> file_sink                 {file_sink * per:8.2f}")
    print(f"  flowgraph -> Buffer Sink               {ring * per:8.2f}")
    print(f"  doppler-record (its process alone)     {recorder * per:8.2f}  (Python start-up included)")

if __name__ == "__main__":
    main()
