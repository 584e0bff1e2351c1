# SPDX-License-Identifier: GPL-3.0-or-later
"""doppler-ring: list, inspect and remove named rings (/dev/shm/doppler.<name>).

    doppler-ring list [--json]          every ring, its fill, counters, peers, reader count
    doppler-ring info NAME [--json]     one ring in detail: stream, tag area, readers
                                        (name, pid and whether alive, tethered,
                                        position, lag, skipped)
    doppler-ring rm NAME [--force]      remove a ring's name
    doppler-ring rm --stale [GLOB]      remove rings nobody uses any more
                                        (only names matching GLOB, if given)

Removing a name never disturbs a process that has the ring mapped: it keeps
its mapping and can drain it; the name is simply free for a new ring.

A ring is *in use* while its creator, producer, consumer or a named reader is alive, or while
any live process has it mapped (an attached peer that has not yet claimed a
role). `rm --stale` removes only valid rings that are not in use; `rm NAME`
refuses a ring in use unless --force. A corrupt or foreign object is listed
as corrupt and removed only by an explicit `rm NAME`.

Anything another user may have put under the prefix is shown, never
trusted: every name the tool prints (a ring's, a reader's, one inside a
message) that is not UTF-8 or contains control characters is printed escaped
(\\xNN for every byte outside printable ASCII, and for spaces in a name), so a
name can never move the cursor or forge a row of the table. One object that
cannot be read or shown is listed with what is wrong with it; the others are
listed as usual.

Exit codes: 0 done, 1 not found or refused, 2 usage error (bad arguments or
an invalid ring name).
"""
import argparse
import fnmatch
import json
import os
import sys

from . import _ring_tool

EXIT_OK, EXIT_REFUSED, EXIT_USAGE = 0, 1, 2
_SHELL_SAFE = frozenset(b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789._-/")


def _escaped(text, keep_spaces=True):
    """`text` (a str that may carry undecodable bytes as surrogates, as
    os.fsdecode makes them) safe for a terminal: every byte outside printable
    ASCII, and the backslash, as \\xNN; spaces too unless keep_spaces."""
    out = []
    for byte in os.fsencode(text):
        if 0x21 <= byte < 0x7F and byte != 0x5C or (byte == 0x20 and keep_spaces):
            out.append(chr(byte))
        else:
            out.append(f"\\x{byte:02x}")
    return "".join(out)


def _name(name):
    """A ring name for a table cell or a message: escaped, spaces included."""
    return _escaped(name, keep_spaces=False)


def _shell_path(path):
    """`path` as a bash word that removes exactly that file, whatever its bytes."""
    raw = os.fsencode(path)
    if all(b in _SHELL_SAFE for b in raw):
        return path
    return "$'" + "".join(chr(b) if b in _SHELL_SAFE else f"\\x{b:02x}" for b in raw) + "'"


def _mapping_pids():
    """{(st_dev major, minor, inode): {pid, ...}} for /dev/shm objects mapped
    by processes we may look at (/proc/PID/maps; others' are unreadable
    without privileges, which is fine: their rings are not ours to remove)."""
    users = {}
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            with open(f"/proc/{entry}/maps") as maps:
                for line in maps:
                    fields = line.split(None, 5)
                    if len(fields) == 6 and fields[5].startswith(_ring_tool.PATH_PREFIX):
                        major, minor = (int(x, 16) for x in fields[3].split(":"))
                        users.setdefault((major, minor, int(fields[4])), set()).add(int(entry))
        except OSError:
            continue  # gone, or not ours to read
    return users


def _attached(ring, users):
    """Live pids that have this ring's object mapped (the tool's own look
    through _ring_tool is unmapped again before this runs)."""
    try:
        st = os.stat(ring["path"], follow_symlinks=False)
    except OSError:
        return set()
    key = (os.major(st.st_dev), os.minor(st.st_dev), st.st_ino)
    return users.get(key, set())


def _state(ring, users):
    """'corrupt', 'in use' or 'stale', and the live pids that make it in use."""
    if ring["problem"]:
        return "corrupt", []
    alive = [(ring[role]["pid"], role) for role in ("creator", "producer", "consumer") if ring[role]["alive"]]
    alive += [(r["holder"]["pid"], f"reader {_name(r['name'])}") for r in ring["readers"]
              if r["name"] and r["holder"]["alive"]]
    live = [f"{pid} ({role})" for pid, role in alive]
    live += [f"{pid} (attached)" for pid in sorted(_attached(ring, users) - {pid for pid, _ in alive})]
    return ("in use" if live else "stale"), live


def _rm_hint(ring):
    """How to remove a corrupt object: by the tool, or by path if its name is
    not even a valid ring name (the tool refuses those)."""
    if _ring_tool.valid_name(ring["name"]):
        return f"`doppler-ring rm {ring['name']}`"
    return f"`rm -- {_shell_path(ring['path'])}`"


def _peer(p):
    if p["pid"] == 0:
        return "-"
    return f"{p['pid']} ({'alive' if p['alive'] else 'dead'})"


def _with_state(ring, users):
    state, live = _state(ring, users)
    return dict(ring, state=state, in_use_by=live)


def _unreadable(ring, e):
    """A ring whose dict could not be looked at (a field of a form the tool
    does not expect): shown as a problem of its own, so that the other rings
    are still listed."""
    return dict(name=ring.get("name", "?"), path=ring.get("path", "?"), uid=ring.get("uid", 0),
                mode=ring.get("mode", 0), bytes=ring.get("bytes", 0),
                problem=f"cannot be shown: {type(e).__name__}: {e}", state="corrupt", in_use_by=[])


def _rings(users):
    """Every ring with its state; one that cannot be looked at is a problem of
    its own, never an error for the whole listing."""
    out = []
    for ring in _ring_tool.list():
        try:
            out.append(_with_state(ring, users))
        except Exception as e:  # any failure stays with its ring
            out.append(_unreadable(ring, e))
    return out


def _cmd_list(args):
    rings = _rings(_mapping_pids())
    if args.json:
        print(json.dumps(rings, indent=2))
        return EXIT_OK
    if not rings:
        print("no rings in /dev/shm")
        return EXIT_OK
    header = ("NAME", "TYPE", "CAPACITY", "FILL", "WRITTEN", "DROPPED", "PRODUCER", "CONSUMER",
              "READERS", "CREATOR", "STATE")
    rows = [header]
    for r in rings:
        if r["problem"]:
            rows.append((_name(r["name"]), "?", "-", "-", "-", "-", "-", "-", "-", "-", _escaped(r["problem"])))
        else:
            state = r["state"] + (", closed" if r["closed"] else "")
            rows.append((_name(r["name"]), r["type"], str(r["capacity"]), str(r["fill"]), str(r["written"]),
                         str(r["dropped"]), _peer(r["producer"]), _peer(r["consumer"]),
                         str(len(r["readers"])), _peer(r["creator"]), state))
    widths = [max(len(row[i]) for row in rows) for i in range(len(header) - 1)]
    for row in rows:
        print("  ".join(cell.ljust(w) for cell, w in zip(row, widths)) + "  " + row[-1])
    return EXIT_OK


def _cmd_info(args):
    ring = _with_state(_ring_tool.inspect(args.name), _mapping_pids())
    if args.json:
        print(json.dumps(ring, indent=2))
        return EXIT_OK
    print(f"name:       {_name(ring['name'])}")
    print(f"path:       {_escaped(ring['path'])}")
    print(f"owner:      uid {ring['uid']}, mode {ring['mode']:04o}, {ring['bytes']} bytes")
    if ring["problem"]:
        print(f"state:      {_escaped(ring['problem'])}")
        print(f"            (remove it with {_rm_hint(ring)})")
        return EXIT_OK
    print(f"type:       {ring['type']}")
    print(f"capacity:   {ring['capacity']} samples")
    print(f"fill:       {ring['fill']} samples")
    print(f"written:    {ring['written']}")
    print(f"read index: {ring['read_index']}")
    print(f"dropped:    {ring['dropped']}")
    print(f"missed wakes: {ring['missed_wakes']}")
    print(f"closed:     {'yes' if ring['closed'] else 'no'}")
    print(f"stream:     {ring['stream']}" + ("" if ring["stream"] else " (none yet)"))
    print(f"tag area:   {ring['tag_fill']} of {ring['tag_bytes']} bytes used, "
          f"{ring['tags_dropped']} tags dropped")
    for role in ("creator", "producer", "consumer"):
        print(f"{role + ':':11} {_peer(ring[role])}")
    print(f"readers:    {len(ring['readers'])}")
    if ring["readers"]:
        rows = [("NAME", "PID", "TETHERED", "POSITION", "LAG", "SKIPPED", "STREAM")]
        for r in ring["readers"]:
            rows.append((_name(r["name"]) or "(default)", _peer(r["holder"]), "yes" if r["tethered"] else "no",
                         str(r["position"]), str(r["lag"]), str(r["skipped"]), str(r["stream"])))
        widths = [max(len(row[i]) for row in rows) for i in range(len(rows[0]))]
        for row in rows:
            print("  " + "  ".join(cell.ljust(w) for cell, w in zip(row, widths)).rstrip())
    if ring.get("held_back"):  # full: the producer waits (block) or drops
        print(f"held back:  by {_escaped(ring['held_back'])}")
    print(f"state:      {ring['state']}" + (f" by {', '.join(ring['in_use_by'])}" if ring["in_use_by"] else ""))
    return EXIT_OK


def _remove(name):
    if _ring_tool.remove(name):
        print(f"removed {_name(name)}")
        return EXIT_OK
    print(f"doppler-ring: no ring named '{_name(name)}'", file=sys.stderr)
    return EXIT_REFUSED


def _cmd_rm(args):
    if args.stale:
        removed = 0
        for ring in _rings(_mapping_pids()):
            if args.name and not fnmatch.fnmatchcase(ring["name"], args.name):
                continue
            state = ring["state"]
            if state == "stale" and _ring_tool.remove(ring["name"]):  # False: gone meanwhile
                print(f"removed {_name(ring['name'])}")
                removed += 1
            elif state == "corrupt":
                print(f"skipped {_name(ring['name'])}: {_escaped(ring['problem'])} "
                      f"(remove it explicitly with {_rm_hint(ring)})", file=sys.stderr)
        if not removed:
            print("no stale rings")
        return EXIT_OK
    ring = _ring_tool.inspect(args.name)
    state, live = _state(ring, _mapping_pids())
    if state == "in use" and not args.force:
        print(f"doppler-ring: ring '{_name(args.name)}' is in use by {', '.join(live)}; stop those processes "
              f"first, or use --force (they keep their mappings)", file=sys.stderr)
        return EXIT_REFUSED
    return _remove(args.name)


def _parser():
    p = argparse.ArgumentParser(prog="doppler-ring", description=__doc__.splitlines()[0],
                                epilog="Exit codes: 0 done, 1 not found or refused, 2 usage error.")
    from ._version import __version__
    p.add_argument("--version", action="version", version=f"%(prog)s {__version__}")
    sub = p.add_subparsers(dest="command", required=True, metavar="{list,info,rm}")
    ls = sub.add_parser("list", help="list every ring in /dev/shm")
    ls.add_argument("--json", action="store_true", help="machine-readable output")
    ls.set_defaults(run=_cmd_list)
    info = sub.add_parser("info", help="show one ring")
    info.add_argument("name")
    info.add_argument("--json", action="store_true", help="machine-readable output")
    info.set_defaults(run=_cmd_info)
    rm = sub.add_parser("rm", help="remove a ring's name, or every stale ring")
    rm.add_argument("name", nargs="?", help="the ring; with --stale, a glob the names must match")
    rm.add_argument("--stale", action="store_true",
                    help="remove every valid ring whose creator and peers are all dead")
    rm.add_argument("--force", action="store_true", help="remove NAME even while it is in use")
    rm.set_defaults(run=_cmd_rm)
    return p


def main(argv=None):
    parser = _parser()
    try:
        args = parser.parse_args(argv)
    except SystemExit as e:  # argparse exits 2 on usage errors, 0 for --help
        return e.code
    if args.command == "rm" and (not (args.stale or args.name) or (args.stale and args.force)):
        parser.print_usage(sys.stderr)
        print("doppler-ring rm: give NAME (optionally --force), or --stale [GLOB]", file=sys.stderr)
        return EXIT_USAGE
    try:
        return args.run(args)
    except ValueError as e:  # a malformed ring name
        print(f"doppler-ring: {_escaped(str(e))}", file=sys.stderr)
        return EXIT_USAGE
    except FileNotFoundError as e:
        print(f"doppler-ring: {_escaped(e.strerror or str(e))}", file=sys.stderr)
        return EXIT_REFUSED
    except OSError as e:
        print(f"doppler-ring: {_escaped(e.strerror or str(e))}", file=sys.stderr)
        return EXIT_REFUSED


if __name__ == "__main__":
    sys.exit(main())
