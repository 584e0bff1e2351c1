# SPDX-License-Identifier: GPL-3.0-or-later
"""End-to-end checks of the examples and the demo, across processes.

Run by CTest (examples/CMakeLists.txt) with PYTHONPATH at the build tree,
GRC_BLOCKS_PATH at grc/, DOPPLER_GENERATED where the grcc_* tests put the
generated flowgraphs and DOPPLER_SOURCE_DIR at the source tree.
"""
import glob
import json
import os
import re
import subprocess
import sys

import pytest
from doppler_testing import shm_path

SRC = os.environ.get("DOPPLER_SOURCE_DIR", os.path.join(os.path.dirname(__file__), ".."))
GENERATED = os.environ.get("DOPPLER_GENERATED", "")
TIMEOUT = 120  # seconds: a hang fails the test instead of stalling CTest


def leftovers(name):
    """The rings left whose names match the glob `name`."""
    return glob.glob(shm_path(name))


def test_tone_to_ring_runs_to_completion():
    """The grcc-generated headless flowgraph feeds consume_tone.py in block
    mode: every sample arrives, the tone is where it was configured, and the
    sink removes the ring when it is done."""
    flowgraph = os.path.join(GENERATED, "tone_to_ring.py")
    assert os.path.exists(flowgraph), "run the grcc_tone_to_ring test first (CTest fixture)"
    name, n, rate, freq = f"qa-tone-{os.getpid()}", 3_000_000, 2e6, 250e3
    fg = subprocess.Popen([sys.executable, flowgraph, "--name", name, "--n-samples", str(n),
                           "--samp-rate", str(rate), "--freq", str(freq), "--policy", "block",
                           "--capacity", str(1 << 18)])
    try:
        out = subprocess.run([sys.executable, os.path.join(SRC, "examples", "consume_tone.py"),
                              "--name", name, "--rate", str(rate), "--expect", str(n)],
                             capture_output=True, text=True, timeout=TIMEOUT)
        assert fg.wait(timeout=TIMEOUT) == 0
    finally:
        if fg.poll() is None:
            fg.kill()
            fg.wait()
    print(out.stdout, out.stderr)
    assert out.returncode == 0, out.stderr
    assert re.search(rf"received {n} samples, dropped 0\b", out.stdout), out.stdout
    tone = float(re.search(r"tone at (-?[\d.]+) Hz", out.stdout).group(1))
    assert abs(tone - freq) <= rate / (1 << 16)  # within one FFT bin
    assert not leftovers(name)


def test_demo_end_to_end(tmp_path):
    """doppler-demo with a small count: exit 0 (no loss, right tone), a PNG,
    totals that add up, and nothing left in /dev/shm."""
    name, n = f"qa-demo-{os.getpid()}", 2_000_000
    png = tmp_path / "spectrum.png"
    out = subprocess.run([sys.executable, os.path.join(SRC, "apps", "doppler_demo.py"),
                          "--samples", str(n), "--name", name, "--plot", str(png)],
                         capture_output=True, text=True, timeout=TIMEOUT)
    print(out.stdout, out.stderr)
    assert out.returncode == 0, out.stderr
    assert re.search(rf"received {n:,}, dropped 0, lost 0\b", out.stdout), out.stdout
    assert png.exists() and png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert f"spectrum: {png}" in out.stdout
    assert not leftovers(name)


def test_demo_drop_policy_accounts_for_every_sample(tmp_path):
    """In drop mode the flowgraph starts before the demo attaches and fills the
    ring: samples are dropped, yet received + dropped == produced (lost 0)."""
    name, n = f"qa-demo-drop-{os.getpid()}", 4_000_000
    out = subprocess.run([sys.executable, os.path.join(SRC, "apps", "doppler_demo.py"), "--policy", "drop",
                          "--samples", str(n), "--name", name, "--plot", str(tmp_path / "drop.png")],
                         capture_output=True, text=True, timeout=TIMEOUT)
    print(out.stdout, out.stderr)
    assert out.returncode == 0, out.stderr
    m = re.search(r"received ([\d,]+), dropped ([\d,]+), lost 0\b", out.stdout)
    assert m, out.stdout
    received, dropped = (int(g.replace(",", "")) for g in m.groups())
    assert received + dropped == n
    assert not leftovers(name)


def test_demo_rejects_bad_input():
    """Bad options end with a clear usage error, not a traceback or a hang."""
    out = subprocess.run([sys.executable, os.path.join(SRC, "apps", "doppler_demo.py"),
                          "--samples", "0"], capture_output=True, text=True, timeout=TIMEOUT)
    assert out.returncode == 2
    assert "--samples must be at least" in out.stderr
    assert "Traceback" not in out.stderr


if __name__ == "__main__":
    sys.exit(pytest.main([__file__, "-v"]))


# ---------------------------------------------------------------------------
# The blocks' yml: GRC checks the parameters before anything runs
# ---------------------------------------------------------------------------

SMALL_FLOWGRAPH = """options:
  parameters:
    generate_options: no_gui
    id: {fg_id}
    output_language: python
  states:
    coordinate: [8, 8]
    rotation: 0
    state: enabled
blocks:
- name: src
  id: doppler_buffer_source
  parameters:
    capacity: {capacity}
    end_on_stream_end: {end_on_stream_end}
    history: {history}
    name: {name}
    reader: {reader}
    sc16: 'False'
    scale: {source_scale}
    tethered: {tethered}
    type: i16
  states:
    coordinate: [200, 100]
    rotation: 0
    state: enabled
- name: snk
  id: doppler_buffer_sink
  parameters:
    capacity: {capacity}
    name: {name}
    policy: {policy}
    sc16: 'False'
    scale: {sink_scale}
    type: i16
  states:
    coordinate: [500, 100]
    rotation: 0
    state: enabled
connections:
- [src, '0', snk, '0']
metadata:
  file_format: 1
"""

GOOD = dict(name="rx", policy="block", capacity="4096", source_scale="1/32768", sink_scale="32767",
            reader="", tethered="True", end_on_stream_end="False", history="0")


def grcc(tmp_path, **changes):
    """Compile SMALL_FLOWGRAPH with `changes`; (exit code, all grcc printed)."""
    grc = tmp_path / "small.grc"
    values = {k: json.dumps(v) for k, v in dict(GOOD, **changes).items()}  # YAML-safe
    grc.write_text(SMALL_FLOWGRAPH.format(fg_id="small", **values))
    # Only this tree's yml (GRC_BLOCKS_PATH) and GNU Radio's own blocks: an
    # installed copy of the doppler yml in another block path must not
    # shadow the one under test.
    env = dict(os.environ, GR_CONF_GRC_GLOBAL_BLOCKS_PATH="/usr/share/gnuradio/grc/blocks",
               GR_CONF_GRC_LOCAL_BLOCKS_PATH="")
    r = subprocess.run(["grcc", "-o", str(tmp_path), str(grc)], capture_output=True, text=True,
                       timeout=TIMEOUT, env=env)
    return r.returncode, r.stdout + r.stderr


def test_grc_accepts_good_parameters_and_a_buffer_source_needs_no_throttle(tmp_path):
    """The Buffer Source is paced by its producer, like a hardware source:
    grcc compiles the flowgraph without the "no flow control" warning."""
    rc, out = grcc(tmp_path)
    assert rc == 0, out
    assert "flow control" not in out, out
    assert "Warning" not in out, out


def test_grc_passes_the_reader_and_stream_parameters_to_the_buffer_source(tmp_path):
    """Reader, Tethered, At Stream End and History reach the generated make()
    call, with the defaults (the default reader, tethered, wait for the next
    stream, no history) and with a named untethered reader that ends with the
    stream and starts 4800 samples back."""
    rc, out = grcc(tmp_path)
    assert rc == 0, out
    code = (tmp_path / "small.py").read_text()
    assert "reader='', tethered=True, end_on_stream_end=False, history=0)" in code, code
    rc, out = grcc(tmp_path, reader="gui", tethered="False", end_on_stream_end="True", history="4800")
    assert rc == 0, out
    code = (tmp_path / "small.py").read_text()
    assert "reader='gui', tethered=False, end_on_stream_end=True, history=4800)" in code, code


@pytest.mark.parametrize("change, message", [
    (dict(name="'my ring'"), "Ring Name"),
    (dict(name="'.hidden'"), "Ring Name"),
    (dict(name="'" + "x" * 201 + "'"), "Ring Name"),
    (dict(policy="Block"), "Overflow"),
    (dict(capacity="0"), "Capacity"),
    (dict(sink_scale="0"), "Scale"),
    (dict(sink_scale="float('inf')"), "Scale"),
    (dict(source_scale="float('nan')"), "Scale"),
    (dict(source_scale="1e-320"), "Scale"),
    (dict(reader="'no space'"), "Reader"),
    (dict(reader="'.hidden'"), "Reader"),
    (dict(reader="'" + "r" * 33 + "'"), "Reader"),
    (dict(tethered="False"), "Tethered"),
    (dict(history="100"), "History"),
    (dict(reader="'gui'", history="-1"), "History"),
])
def test_grc_refuses_bad_parameters_naming_the_parameter(tmp_path, change, message):
    """A bad Ring Name, Overflow, Capacity, Scale or Reader, Tethered No or
    a History without a Reader, or a negative History, turns the block red in GRC (grcc refuses to
    compile) with an assertion that names the parameter and what it must
    be; nothing is generated."""
    rc, out = grcc(tmp_path, **change)
    assert rc != 0, out
    assert f"Assertion \"'{message}:" in out, out
    assert not (tmp_path / "small.py").exists()
def test_asyncio_two_rings_reads_both_streams_completely():
    """examples/asyncio_two_rings.py --demo: both rings read concurrently in
    one loop, every sample of both streams, nothing left in /dev/shm."""
    out = subprocess.run([sys.executable, os.path.join(SRC, "examples", "asyncio_two_rings.py"), "--demo"],
                         capture_output=True, text=True, timeout=TIMEOUT)
    print(out.stdout, out.stderr)
    assert out.returncode == 0, out.stderr
    for ring in ("a", "b"):
        assert re.search(rf"asyncio-demo-{ring}-\d+: 1048576 samples$", out.stdout, re.M), out.stdout
    assert not leftovers("asyncio-demo-*")
