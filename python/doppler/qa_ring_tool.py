# SPDX-License-Identifier: GPL-3.0-or-later
"""doppler-ring (python3 -m doppler.ring_tool and the installed launcher) on live,
dead (creator killed with SIGKILL) and corrupt rings: list, info, rm, rm --stale,
exit codes and messages."""
import json
import os
import signal
import subprocess
import sys
import textwrap

import numpy as np
import pytest

from doppler.buffer import F32Buffer, I16Buffer

# The launcher from apps/ when CTest names it, else the module.
TOOL = ([sys.executable, os.environ["DOPPLER_RING_TOOL"]] if os.environ.get("DOPPLER_RING_TOOL")
        else [sys.executable, "-m", "doppler.ring_tool"])
LONG = 60


def tool(*args, module=False):
    """Run the tool; (exit code, stdout, stderr)."""
    cmd = ([sys.executable, "-m", "doppler.ring_tool"] if module else TOOL) + list(args)
    r = subprocess.run(cmd, capture_output=True, text=True, timeout=LONG)
    return r.returncode, r.stdout, r.stderr


def stale(pattern=None):
    """rm --stale limited to this test run's rings: tests running in parallel
    (ctest -j) may have dead rings of their own that they still look at."""
    return tool("rm", "--stale", pattern or f"qa-{os.getpid()}-*")


def listed(name):
    rc, out, err = tool("list", "--json")
    assert rc == 0, err
    rings = {r["name"]: r for r in json.loads(out)}
    return rings.get(name)


def shm_path(name):
    return f"/dev/shm/doppler.{name}"




@pytest.fixture
def creator():
    """creator(name): a child process that creates an I16 ring `name`, writes
    1000 samples as its producer and waits; returns the Popen."""
    procs = []

    def start(name):
        code = textwrap.dedent(f"""
            import sys, numpy as np
            from doppler.buffer import I16Buffer
            buf = I16Buffer(4096, name={name!r})
            assert buf.write(np.zeros((1000, 2), dtype=np.int16))
            print("ready", flush=True)
            sys.stdin.readline()
        """)
        p = subprocess.Popen([sys.executable, "-c", code], stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                             text=True)
        procs.append(p)
        assert p.stdout.readline().strip() == "ready"
        return p

    yield start
    for p in procs:
        if p.poll() is None:
            p.kill()
        p.wait()
        p.stdin.close()
        p.stdout.close()


def kill9(p):
    p.send_signal(signal.SIGKILL)
    p.wait(LONG)


def test_live_ring(names, creator):
    name = names()
    p = creator(name)
    r = listed(name)
    assert r is not None and r["problem"] is None
    assert (r["type"], r["capacity"], r["fill"], r["written"], r["dropped"]) == ("i16", 4096, 1000, 1000, 0)
    assert r["missed_wakes"] == 0
    assert r["producer"] == {"pid": p.pid, "alive": True}
    assert r["creator"] == {"pid": p.pid, "alive": True}
    assert r["consumer"] == {"pid": 0, "alive": False}
    assert r["state"] == "in use" and r["mode"] == 0o600

    rc, out, _ = tool("list")
    line = next(l for l in out.splitlines() if l.startswith(name))
    assert "i16" in line and "4096" in line and f"{p.pid} (alive)" in line and "in use" in line

    rc, out, _ = tool("info", name)
    assert rc == 0
    assert "type:       i16" in out and "fill:       1000 samples" in out and f"producer:   {p.pid} (alive)" in out
    assert "missed wakes: 0" in out

    # In use: rm --stale leaves it, rm NAME refuses and names the pid, --force removes.
    rc, out, _ = stale()
    assert rc == 0 and os.path.exists(shm_path(name))
    rc, _, err = tool("rm", name)
    assert rc == 1 and str(p.pid) in err and "in use" in err and os.path.exists(shm_path(name))
    rc, out, _ = tool("rm", "--force", name)
    assert rc == 0 and f"removed {name}" in out and not os.path.exists(shm_path(name))


def test_consumer_shown(names):
    name = names()
    buf = F32Buffer(1024, name=name)
    try:
        assert buf.write(np.ones(600, dtype=np.complex64))
        buf.wait(100)
        buf.consume()
        r = listed(name)
        me = {"pid": os.getpid(), "alive": True}
        assert r["consumer"] == me and r["producer"] == me
        assert (r["type"], r["fill"], r["written"], r["read_index"]) == ("f32", 500, 600, 100)
    finally:
        buf.destroy()


def test_dead_ring_removed_by_stale(names, creator):
    name = names()
    p = creator(name)
    kill9(p)
    r = listed(name)
    assert r["creator"] == {"pid": p.pid, "alive": False}
    assert r["producer"] == {"pid": p.pid, "alive": False}
    assert r["state"] == "stale"
    rc, out, _ = tool("list")
    assert f"{p.pid} (dead)" in next(l for l in out.splitlines() if l.startswith(name))

    rc, out, _ = stale(name + "*")
    assert rc == 0 and f"removed {name}" in out
    assert not os.path.exists(shm_path(name)) and listed(name) is None
    rc, _, err = tool("rm", name)
    assert rc == 1 and "no ring named" in err


def test_stale_never_removes_a_ring_in_use(names, creator):
    """Creator and producer dead, but this process is attached (no role yet)
    or consuming: the ring is in use and rm --stale leaves it."""
    name = names()
    kill9(creator(name))
    buf = I16Buffer.attach(name)
    try:
        assert listed(name)["state"] == "in use"
        rc, _, _ = stale()
        assert rc == 0 and os.path.exists(shm_path(name))
        rc, _, err = tool("rm", name)
        assert rc == 1 and f"{os.getpid()} (attached)" in err
        buf.wait(1000, timeout=LONG)  # drains what the dead producer left
        buf.consume()
        assert listed(name)["consumer"] == {"pid": os.getpid(), "alive": True}
        assert os.path.exists(shm_path(name))
    finally:
        buf.destroy()
    rc, out, _ = stale()  # now nobody: removable
    assert rc == 0 and not os.path.exists(shm_path(name))


CORRUPT = {
    "garbage": b"not a ring at all",
    "zeros": bytes(8192),
    "bad-magic": b"\xff" * 8 + bytes(4096 - 8),
}


@pytest.mark.parametrize("kind", list(CORRUPT))
def test_corrupt_object(kind, names):
    name = names()
    with open(shm_path(name), "wb") as f:
        f.write(CORRUPT[kind])
    r = listed(name)
    assert r["state"] == "corrupt" and r["problem"].startswith("corrupt: ")
    rc, out, _ = tool("list")
    assert "corrupt" in next(l for l in out.splitlines() if l.startswith(name))
    rc, out, _ = tool("info", name)
    assert rc == 0 and "corrupt" in out and f"doppler-ring rm {name}" in out
    rc, _, err = stale()
    assert rc == 0 and os.path.exists(shm_path(name)) and f"skipped {name}" in err
    rc, out, _ = tool("rm", name)
    assert rc == 0 and not os.path.exists(shm_path(name))


def test_truncated_ring_is_corrupt(names):
    name = names()
    buf = F32Buffer(1024, name=name)
    try:
        os.truncate(shm_path(name), 4096 + 100)
        r = listed(name)
        assert r["state"] == "corrupt" and "truncated" in r["problem"]
    finally:
        buf.destroy()


def test_odd_objects_never_crash(names):
    """A FIFO, a symlink and a directory under the prefix are listed as corrupt."""
    fifo, link, folder = names(), names(), names()
    os.mkfifo(shm_path(fifo))
    os.symlink("/etc/passwd", shm_path(link))
    os.mkdir(shm_path(folder))
    try:
        for n in (fifo, link, folder):
            r = listed(n)
            assert r is not None and r["state"] == "corrupt", (n, r)
            rc, out, _ = tool("info", n)
            assert rc == 0 and "corrupt" in out
    finally:
        os.rmdir(shm_path(folder))


def test_usage_and_not_found(names):
    name = names()
    assert tool()[0] == 2
    assert tool("frobnicate")[0] == 2
    assert tool("rm")[0] == 2
    assert tool("rm", "--stale", "--force")[0] == 2
    rc, _, err = tool("info", "../etc")
    assert rc == 2 and "ring name" in err
    rc, _, err = tool("info", name)
    assert rc == 1 and "no ring named" in err
    rc, _, err = tool("rm", name)
    assert rc == 1 and "no ring named" in err
    assert tool("--help")[0] == 0


def test_stale_glob_leaves_other_names(names, creator):
    a, b = names(), names()
    kill9(creator(a))
    kill9(creator(b))
    rc, out, _ = stale(b)
    assert rc == 0 and f"removed {b}" in out and a not in out
    assert os.path.exists(shm_path(a)) and not os.path.exists(shm_path(b))
    rc, out, _ = stale(b)
    assert rc == 0 and "no stale rings" in out


def test_module_entry_point(names):
    name = names()
    buf = F32Buffer(1024, name=name)
    try:
        rc, out, _ = tool("info", name, "--json", module=True)
        assert rc == 0 and json.loads(out)["capacity"] == 1024
    finally:
        buf.destroy()
