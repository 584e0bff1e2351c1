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
import threading

import numpy as np
import pytest

from doppler.buffer import F32Buffer, I16Buffer
from doppler_testing import LONG, shm_path


# The launcher from apps/ when CTest names it, else the module.
TOOL = ([sys.executable, os.environ["DOPPLER_RING_TOOL"]] if os.environ.get("DOPPLER_RING_TOOL")
        else [sys.executable, "-m", "doppler.ring_tool"])


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


def test_info_shows_the_stream_the_tag_area_and_every_reader(names):
    name = names()
    buf = F32Buffer(1024, name=name)
    gui = F32Buffer.attach(name, reader="gui", tethered=False)
    try:
        assert buf.write(np.ones(600, dtype=np.complex64), tags=[(5, "rx_freq", 1e9)])
        buf.wait(100)
        buf.consume()
        rc, out, err = tool("info", name)
        assert rc == 0, err
        assert "stream:     1" in out
        assert "0 tags dropped" in out
        lines = out.splitlines()
        gui_row = next(line.split() for line in lines if line.split()[:1] == ["gui"])
        default_row = next(line.split() for line in lines if line.split()[:1] == ["(default)"])
        assert gui_row[1:7] == [str(os.getpid()), "(alive)", "no", "0", "600", "0"]
        assert default_row[1:7] == [str(os.getpid()), "(alive)", "yes", "100", "500", "0"]
        r = listed(name)
        assert len(r["readers"]) == 2 and r["tag_fill"] > 0 and r["tags_dropped"] == 0
        rc, out, err = tool("list")
        header, row = out.splitlines()[0].split(), next(line.split() for line in out.splitlines()
                                                        if line.startswith(name + " "))
        assert row[header.index("READERS") + 2] == "2"  # PRODUCER and CONSUMER take two columns each
    finally:
        gui.destroy()
        buf.destroy()


def test_info_on_a_full_ring_says_which_reader_holds_the_producer_back(names):
    name = names()
    buf = F32Buffer(1024, name=name)
    rec = F32Buffer.attach(name, reader="rec")  # tethered, never reads
    try:
        assert buf.write(np.ones(1000, dtype=np.complex64))
        rc, out, err = tool("info", name)
        assert rc == 0, err
        assert "held back" not in out  # not full: nothing to say
        assert listed(name)["held_back"] is None
        assert buf.write(np.ones(24, dtype=np.complex64))
        rc, out, err = tool("info", name)
        assert rc == 0, err
        # The default reader and "rec" are both 1024 behind: the first found is named.
        assert "held back:  by the default reader (1024 of 1024 samples unread; no process reads it" in out
        buf.wait(1024)
        buf.consume()  # the default reader (this handle) catches up; "rec" does not
        rc, out, err = tool("info", name)
        assert f"held back:  by reader 'rec' (1024 of 1024 samples unread; pid {os.getpid()})" in out
        assert listed(name)["held_back"].startswith("reader 'rec' (1024 of 1024")
    finally:
        rec.destroy()
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


# ---------------------------------------------------------------------------
# Whatever another user puts under the prefix
# ---------------------------------------------------------------------------

def plant(raw_name, content=b"not a ring"):
    """Create /dev/shm/doppler.<raw_name> (bytes) with some content; its path."""
    path = b"/dev/shm/doppler." + raw_name
    with open(path, "wb") as f:
        f.write(content)
    return path


def no_terminal_control(text):
    """True if `text` holds no byte that could move a terminal's cursor."""
    return not any(ord(c) < 0x20 and c != "\n" or ord(c) == 0x7F or ord(c) > 0x7E for c in text)


def test_names_that_are_not_utf8_or_hold_control_characters_are_printed_escaped():
    tag = f"qa-{os.getpid()}-".encode()
    odd = [tag + b"bad\xff\xfe", tag + b"\x1b[2J\x1b[H\r", tag + b"row\nfake  f32  4096  0",
           tag + "é\u202eevil".encode()]
    paths = [plant(n) for n in odd]
    try:
        rc, out, err = tool("list")
        assert rc == 0, err
        assert no_terminal_control(out), repr(out)
        ours = [line for line in out.splitlines() if line.startswith(tag.decode())]
        assert len(ours) == len(odd), out  # one row each, none forged
        assert all("corrupt" in line for line in ours), out
        for escaped in ("bad\\xff\\xfe", "\\x1b[2J\\x1b[H\\x0d", "row\\x0afake\\x20\\x20f32",
                        "\\xc3\\xa9\\xe2\\x80\\xaeevil"):
            assert any(escaped in line for line in ours), (escaped, out)

        rc, out, err = tool("list", "--json")
        assert rc == 0, err
        names = {os.fsencode(r["name"]) for r in json.loads(out)}
        assert set(odd) <= names, names  # the exact bytes, round-tripped

        rc, out, err = stale()
        assert rc == 0, err
        assert no_terminal_control(out + err), repr(out + err)
        assert all(os.path.exists(p) for p in paths)  # corrupt: never removed by --stale

        for n in odd:  # by name on the command line: a usage error, escaped
            r = subprocess.run(TOOL + [b"info", n], capture_output=True, timeout=LONG)
            assert r.returncode == 2, r
            assert no_terminal_control(r.stderr.decode("ascii")), r.stderr
    finally:
        for p in paths:
            os.unlink(p)


def test_every_file_type_under_the_prefix_is_listed_as_corrupt_and_never_blocks(names):
    import socket
    made = {}
    target = names()
    real = F32Buffer(512, name=target)
    kinds = {"fifo": lambda p: os.mkfifo(p),
             "dir": lambda p: os.mkdir(p),
             "symlink": lambda p: os.symlink(shm_path(target), p),
             "dangling": lambda p: os.symlink("/nonexistent", p),
             "socket": lambda p: socket.socket(socket.AF_UNIX).bind(p)}
    if os.geteuid() == 0:  # device nodes need CAP_MKNOD
        kinds["chardev"] = lambda p: os.mknod(p, 0o600 | 0o020000, os.makedev(1, 3))
    try:
        for kind, make_it in kinds.items():
            made[kind] = names()
            make_it(shm_path(made[kind]))
        rc, out, err = tool("list", "--json")
        assert rc == 0, err
        rings = {r["name"]: r for r in json.loads(out)}
        for kind, name in made.items():
            assert rings[name]["problem"].startswith("corrupt"), (kind, rings[name])
            rc, out, err = tool("info", name)
            assert rc == 0 and "corrupt" in out, (kind, out, err)
            with pytest.raises(OSError) as e:
                F32Buffer.attach(name, allow_foreign=True)
            assert e.value.errno == 74, (kind, e.value)  # EBADMSG, naming what it is
            assert "not a doppler ring" in str(e.value), (kind, e.value)
        rc, out, err = stale()
        assert rc == 0, err
        for name in made.values():
            assert os.path.lexists(shm_path(name))
    finally:
        real.destroy()
        for name in made.values():
            p = shm_path(name)
            if os.path.isdir(p) and not os.path.islink(p):
                os.rmdir(p)
            elif os.path.lexists(p):
                os.unlink(p)


def test_an_object_that_changes_size_while_listed_never_crashes_the_tool(names):
    name = names()
    buf = F32Buffer(1 << 16, name=name)
    size = os.path.getsize(shm_path(name))
    stop = threading.Event()

    def resize():
        fd = os.open(shm_path(name), os.O_RDWR)
        while not stop.is_set():
            for n in (0, 100, 5000, size):
                os.ftruncate(fd, n)
        os.close(fd)

    t = threading.Thread(target=resize)
    t.start()
    try:
        for _ in range(10):
            for args in (("list",), ("list", "--json"), ("info", name)):
                rc, out, err = tool(*args)
                assert rc == 0, (args, rc, err)  # a fault would be -7 (SIGBUS)
    finally:
        stop.set()
        t.join()
        buf.destroy()


@pytest.fixture
def other_user(throwaway_user):
    """(uid, run): a throwaway local user (conftest.py's fixture: root only,
    skipped otherwise, saying why) and a function that runs Python code as
    that user (setpriv)."""
    uid, gid = throwaway_user

    def run(code):
        return subprocess.run(["setpriv", f"--reuid={uid}", f"--regid={gid}", "--clear-groups",
                               sys.executable, "-c", code], capture_output=True, text=True,
                              env=dict(os.environ, HOME="/tmp"), timeout=LONG)
    return uid, run


def test_another_users_objects_are_shown_and_attached_only_as_far_as_they_are_valid(other_user, names):
    """Another user plants a valid ring, a FIFO, a sparse ring and an oddly
    named file; this user's tool lists every one (escaped, with its owner),
    and attach(allow_foreign=True) takes the valid ones and refuses the rest
    with a reason. The other user, in turn, sees this user's ring as not
    accessible, and the tool survives that too."""
    uid, run = other_user
    valid, fifo, sparse, mine = names(), names(), names(), names()
    odd = f"qa-{os.getpid()}-odd\x1b[31m"
    code = textwrap.dedent(f"""
        import os
        import numpy as np
        from doppler.buffer import F32Buffer
        buf = F32Buffer(512, name={valid!r})
        assert buf.write(np.arange(10, dtype=np.complex64))
        with open("/dev/shm/doppler.{valid}", "rb") as f:
            header = f.read(4096)
        os.mkfifo("/dev/shm/doppler.{fifo}")
        fd = os.open("/dev/shm/doppler.{sparse}", os.O_RDWR | os.O_CREAT, 0o600)
        os.pwrite(fd, header, 0)
        os.ftruncate(fd, os.path.getsize("/dev/shm/doppler.{valid}"))
        os.close(fd)
        with open({("/dev/shm/doppler." + odd)!r}, "w") as f:
            f.write("x")
        os._exit(0)  # leave the ring behind, as a killed process would
    """)
    mine_buf = F32Buffer(512, name=mine)
    try:
        r = run(code)
        assert r.returncode == 0, r.stderr
        rc, out, err = tool("list", "--json")
        assert rc == 0, err
        rings = {r["name"]: r for r in json.loads(out)}
        assert rings[valid]["uid"] == uid and rings[valid]["problem"] is None
        assert rings[fifo]["problem"].startswith("corrupt")
        assert rings[odd]["problem"].startswith("corrupt")
        rc, out, err = tool("list")
        assert rc == 0 and no_terminal_control(out), repr(out)

        with pytest.raises(PermissionError):
            F32Buffer.attach(valid)
        for name in (valid, sparse):  # the sparse one gets its pages at attach
            buf = F32Buffer.attach(name, allow_foreign=True)
            assert buf.capacity == 512
            buf.destroy()
        with pytest.raises(OSError) as e:
            F32Buffer.attach(fifo, allow_foreign=True)
        assert e.value.errno == 74 and "FIFO" in str(e.value)

        tool_code = ("import sys; sys.argv = ['doppler-ring', 'list']; "
                     "from doppler.ring_tool import main; sys.exit(main())")
        r = run(tool_code)
        assert r.returncode == 0, r.stderr
        line = next(line for line in r.stdout.splitlines() if line.startswith(mine))
        assert "not accessible to you" in line, line
    finally:
        mine_buf.destroy()
        for name in (valid, fifo, sparse, odd):
            try:
                os.unlink(shm_path(name))
            except FileNotFoundError:
                pass


def test_version_prints_the_package_version_and_exits_0():
    import doppler
    for module in (False, True):
        rc, out, err = tool("--version", module=module)
        assert rc == 0, err
        assert out.strip() == f"doppler-ring {doppler.__version__}", out
    assert doppler.__version__.count(".") == 2 and "@" not in doppler.__version__


def _rename_reader(ring, old, new):
    """Overwrite reader `old`'s name in the ring's header with the bytes `new`
    (at most 32, NUL padded), as another user's program could."""
    assert len(new) <= 32
    with open(shm_path(ring), "r+b") as f:
        header = f.read(4096)
        at = header.index(old.encode() + b"\0")
        f.seek(at)
        f.write(new.ljust(32, b"\0"))


def test_a_reader_name_that_is_not_utf8_or_holds_escapes_is_printed_escaped_and_harms_no_other_ring(names):
    bad, good = names(), names()
    with F32Buffer(4096, name=bad), F32Buffer(4096, name=good), \
            F32Buffer.attach(bad, reader="odd"), F32Buffer.attach(good, reader="fine"):
        _rename_reader(bad, "odd", b"r\xff\xfe\x1b[2J\x1b[31m")
        rc, out, err = tool("list")
        assert rc == 0, err
        assert no_terminal_control(out + err), repr(out + err)
        rows = {line.split()[0]: line for line in out.splitlines()[1:]}
        assert bad in rows and good in rows, out  # both listed
        assert "corrupt" not in rows[good], out

        rc, out, err = tool("info", bad)
        assert rc == 0, err
        assert no_terminal_control(out + err), repr(out + err)
        assert "r\\xff\\xfe\\x1b[2J\\x1b[31m" in out, out  # the reader, escaped
        assert "fine" not in out

        rc, out, err = tool("info", "--json", bad)
        assert rc == 0, err
        readers = {os.fsencode(r["name"]) for r in json.loads(out)["readers"]}
        assert b"r\xff\xfe\x1b[2J\x1b[31m" in readers, readers  # the exact bytes

        rc, out, err = stale()
        assert rc == 0, err
        assert no_terminal_control(out + err), repr(out + err)
        assert os.path.exists(shm_path(bad)) and os.path.exists(shm_path(good))  # in use


def test_a_ring_the_tool_cannot_show_is_listed_with_its_problem_and_the_others_as_usual(names, monkeypatch, capsys):
    from doppler import ring_tool
    good = names()
    with F32Buffer(4096, name=good):
        real = ring_tool._ring_tool.list()
        odd = dict(real[0], name=f"qa-{os.getpid()}-odd", readers=None)  # a field of an unexpected form
        monkeypatch.setattr(ring_tool._ring_tool, "list", lambda: real + [odd])
        assert ring_tool.main(["list"]) == 0
        out = capsys.readouterr().out
        rows = {line.split()[0]: line for line in out.splitlines()[1:]}
        assert "corrupt" not in rows[good], out
        assert "cannot be shown" in rows[odd["name"]], out
        assert ring_tool.main(["rm", "--stale", f"qa-{os.getpid()}-odd"]) == 0
        assert "cannot be shown" in capsys.readouterr().err
