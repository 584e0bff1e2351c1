# SPDX-License-Identifier: GPL-3.0-or-later
"""What the Python benchmarks share (bench_util.hpp is the C++ side's). A
script run as apps/bench/NAME.py finds it: its own folder is on sys.path."""


def cpu_model():
    """The processor's model name from /proc/cpuinfo, or None."""
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                if line.startswith("model name"):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return None
