#!/usr/bin/python3
# SPDX-License-Identifier: GPL-3.0-or-later
"""CPU seconds per 1e9 samples: doppler-record vs GNU Radio's file_sink.

    PYTHONPATH=build/python /usr/bin/python3 apps/bench/bench_record.py [--samples 2e8] [--repeat 5]
        [--to null,tmpfs,disk] [--disk-dir /var/tmp]

N complex64 samples from a null_source through a head, three ways, each
figure the CPU time (user + system, every thread) its processes spend while
the samples stream; Python's start-up and imports are not counted:
  null_sink  null_source -> head -> null_sink             the flowgraph alone
  file_sink  null_source -> head -> file_sink(OUT)        recording inside the flowgraph
  record     null_source -> head -> Buffer Sink (block), read by doppler-record in a
             process of its own as the ring's default reader (tethered: every
             sample is recorded); its figure is both processes' CPU
Where to (--to, each destination measured apart):
  null   /dev/null: what each writer spends itself, not what the storage costs
  tmpfs  a file in /dev/shm (memory)
  disk   a file in --disk-dir (default /var/tmp); removed after each run
WARM: on a virtual machine, memory the guest has freed goes back to the host
after a few seconds, and the next writer to use it (the page cache of a new
file) pays a fault in the host for every page: here about 10 us per 4 KiB,
more than the write itself. So right before each writer's CPU window, its
process writes and removes a file of the recording's size in the same
directory, outside the window.
Both ways end with their data on the storage: doppler-record fsyncs its data
file when it ends, and the file_sink flowgraph closes and fsyncs its file
after tb.run(), inside its CPU window (otherwise the kernel's writer threads
would write file_sink's data, outside every figure, or never, once the file
is removed).
The runs are interleaved (round i of every way and destination back to
back), so load elsewhere hits all alike. Reported per destination: medians
and spread, and run by run the record way's CPU over file_sink's. (The
zero-copy Buffer Sink's flowgraph can cost less than the one with
null_sink, whose thread GNU Radio wakes for every chunk: the figures are
not subtracted.)
"""
import argparse
import os
import statistics
import subprocess
import sys
import tempfile
import time

from bench_util import cpu_model

# Writes and removes a file of the recording's size where the recording goes,
# so that the page cache the writer gets is memory the machine has just used
# (see WARM in the docstring); nothing for /dev/null.
WARM = r"""
import os
def warm(where, nbytes):
    if not where:
        return
    chunk, path = bytes(1 << 22), os.path.join(where, "warm.tmp")
    with open(path, "wb") as f:
        for _ in range(0, nbytes, len(chunk)):
            f.write(chunk)
    os.remove(path)
"""

# Prints the CPU seconds of tb.run() alone (imports and block set-up before it).
FLOWGRAPH = WARM + r"""
import resource, sys
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
cpu = lambda: sum(resource.getrusage(resource.RUSAGE_SELF)[:2])
warm(os.path.dirname(arg) if kind == "file" and arg != "/dev/null" else None, n * gr.sizeof_gr_complex)
c0 = cpu()
tb.run()
if kind == "file" and arg != "/dev/null":  # on the disk at the end, as doppler-record's (it fsyncs)
    sink.close()
    fd = os.open(arg, os.O_RDONLY)
    os.fsync(fd)
    os.close(fd)
print("CPU", cpu() - c0)
"""

# doppler-record's main; prints its CPU seconds after its imports, at its end.
# argv: the warm-up's directory ("" for none) and size, then doppler-record's.
RECORDER = WARM + r"""
import resource, sys
from doppler.record import main
warm(sys.argv[1], int(sys.argv[2]))
c0 = sum(resource.getrusage(resource.RUSAGE_SELF)[:2])
rc = main(sys.argv[3:])
print("CPU", sum(resource.getrusage(resource.RUSAGE_SELF)[:2]) - c0, file=sys.stderr)
sys.exit(rc)
"""


def cpu_line(text, what):
    for line in text.splitlines():
        if line.startswith("CPU "):
            return float(line.split()[1])
    sys.exit(f"{what} printed no CPU figure:\n{text}")


def flowgraph(n, kind, arg):
    r = subprocess.run([sys.executable, "-c", FLOWGRAPH, str(n), kind, arg], capture_output=True, text=True)
    if r.returncode:
        sys.exit(f"the {kind} flowgraph failed:\n{r.stderr}")
    return cpu_line(r.stdout, f"the {kind} flowgraph")


def record(n, base, tag, warm_dir):
    """(flowgraph CPU, recorder CPU) of one recording of n samples through a ring."""
    from doppler import buffer as dbuf
    name = f"bench-record-{os.getpid()}-{tag}"
    with dbuf.F32Buffer(1 << 20, name=name):  # made first: the recorder reads as its default reader
        # The flowgraph first: it fills the ring and waits (the default reader
        # is tethered), so the recorder streams as soon as it has warmed up.
        fg = subprocess.Popen([sys.executable, "-c", FLOWGRAPH, str(n), "ring", name],
                              stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        time.sleep(2)
        rec = subprocess.Popen([sys.executable, "-c", RECORDER, warm_dir or "", str(n * 8), name, base,
                                "--reader", "", "--streams", "1"],
                               stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
        _, err = rec.communicate(timeout=600)
        out, fg_err = fg.communicate(timeout=600)
    if rec.returncode != 0:
        sys.exit(f"doppler-record failed: {err}")
    if fg.returncode != 0:
        sys.exit(f"the ring flowgraph failed:\n{fg_err}")
    return cpu_line(out, "the ring flowgraph"), cpu_line(err, "doppler-record")


def one_round(n, dest, where, tag):
    """file_sink and record into dest once: {"file": cpu, "ring": cpu, "recorder": cpu}."""
    with tempfile.TemporaryDirectory(dir=where) as tmp:
        base = os.path.join(tmp, "rec")
        file_out = "/dev/null" if dest == "null" else os.path.join(tmp, "file_sink.out")
        if dest == "null":
            os.symlink("/dev/null", base + ".sigmf-data")  # the recorder writes its samples there
        out = {"file": flowgraph(n, "file", file_out)}
        if dest != "null":
            os.remove(file_out)  # each run starts with the same free space and page cache
        out["ring"], out["recorder"] = record(n, base, tag, where)
        return out


def spread(xs):
    return f"{statistics.median(xs):7.2f} ({min(xs):.2f}..{max(xs):.2f})"


def main():
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0],
                                epilog="See the module docstring for what each figure means.")
    p.add_argument("--samples", type=float, default=2e8)
    p.add_argument("--repeat", type=int, default=5, help="interleaved rounds (default %(default)s)")
    p.add_argument("--to", default="null,tmpfs,disk", help="destinations: null, tmpfs, disk (default %(default)s)")
    p.add_argument("--disk-dir", default="/var/tmp", help="the disk destination's directory (default %(default)s)")
    args = p.parse_args()
    n, dests = int(args.samples), args.to.split(",")
    where = {"null": None, "tmpfs": "/dev/shm", "disk": args.disk_dir}
    if n <= 0 or args.repeat <= 0 or not dests or not set(dests) <= set(where):
        p.error("--samples and --repeat must be positive; --to lists null, tmpfs and/or disk")
    per = 1e9 / n
    runs = {d: [] for d in dests}
    alone = []
    print(f"{cpu_model()}, {os.cpu_count()} cores; {n:,} complex64 samples per run; {args.repeat} interleaved rounds")
    for i in range(args.repeat):
        alone.append(flowgraph(n, "null", "") * per)
        for d in dests:
            r = one_round(n, d, where[d], f"{i}{d}")
            runs[d].append({k: v * per for k, v in r.items()})
        print(f"  round {i + 1}/{args.repeat} done", flush=True)
    print("\nCPU seconds per 1e9 samples while streaming, median (min..max)")
    print(f"  flowgraph -> null_sink (the flowgraph alone)   {spread(alone)}")
    for d in dests:
        rs = runs[d]
        total = [r["ring"] + r["recorder"] for r in rs]
        ratios = [t / r["file"] for t, r in zip(total, rs)]
        label = {"null": "/dev/null", "tmpfs": "tmpfs (/dev/shm)", "disk": f"disk ({args.disk_dir})"}[d]
        print(f"to {label}:")
        print(f"  flowgraph -> file_sink                         {spread([r['file'] for r in rs])}")
        print(f"  flowgraph -> Buffer Sink                       {spread([r['ring'] for r in rs])}")
        print(f"  doppler-record (its process)                   {spread([r['recorder'] for r in rs])}")
        print(f"  Buffer Sink + doppler-record                   {spread(total)}")
        print(f"  (Buffer Sink + doppler-record) / file_sink, run by run: {', '.join(f'{x:.2f}' for x in ratios)}; "
              f"median {statistics.median(ratios):.2f}")


if __name__ == "__main__":
    main()
