# SPDX-License-Identifier: GPL-3.0-or-later
"""The wire codec against GNU Radio itself: PMTs serialized by GNU Radio's
pmt decode as wire.hpp documents; what the codec writes, pmt.deserialize reads
back; a real zeromq.push_sink feeds the decoder and a real zeromq.pull_source
receives the encoder's messages, tags at the documented items.

Runs wire_tool (lib/bridge/wire_tool.cc; path in DOPPLER_WIRE_TOOL) with
/usr/bin/python3, which has GNU Radio. ZeroMQ only over ipc:// in a
temporary directory.
"""
import json
import os
import struct
import subprocess
import time

import pmt
import pytest
import zmq
from gnuradio import blocks, gr, zeromq

TOOL = os.environ.get("DOPPLER_WIRE_TOOL", "")


def tool(mode, msg):
    assert TOOL, "DOPPLER_WIRE_TOOL is not set (CTest sets it)"
    return subprocess.run([TOOL, mode], input=msg, capture_output=True, timeout=60)


def decode(msg):
    p = tool("decode", msg)
    assert p.returncode == 0, p.stderr
    return json.loads(p.stdout)


def header(first, tags):
    """A gr-zeromq header as tag_headers.cc writes it: (index, key, value, srcid)."""
    out = struct.pack("<HBQQ", 0x5FF0, 1, first, len(tags))
    for index, key, value, srcid in tags:
        out += struct.pack("<Q", index)
        out += pmt.serialize_str(pmt.intern(key))
        out += pmt.serialize_str(value)
        out += pmt.serialize_str(srcid)
    return out


def bits(x):
    return struct.pack(">d", x).hex()


def expected(p):
    """The ring value wire.hpp's table gives for a PMT, in wire_tool's JSON form,
    worked out with GNU Radio's own pmt predicates."""
    if pmt.is_bool(p):
        return ["bool", pmt.to_bool(p)]
    if pmt.is_symbol(p):
        return ["str", pmt.symbol_to_string(p).encode().hex()]
    if pmt.is_uint64(p):
        return ["uint64", pmt.to_uint64(p)]
    if pmt.is_integer(p):
        return ["int64", pmt.to_long(p)]
    if pmt.is_real(p):
        return ["float64", bits(pmt.to_double(p))]
    if pmt.is_complex(p):
        c = pmt.to_complex(p)
        return ["complex", bits(c.real), bits(c.imag)]
    if pmt.is_null(p):
        return ["none"]
    if pmt.is_u8vector(p):
        return ["bytes", bytes(pmt.u8vector_elements(p)).hex()]
    if pmt.is_uniform_vector(p):
        for pred, get, kind in (
            (pmt.is_s8vector, pmt.s8vector_elements, "int64"),
            (pmt.is_s16vector, pmt.s16vector_elements, "int64"),
            (pmt.is_s32vector, pmt.s32vector_elements, "int64"),
            (pmt.is_s64vector, pmt.s64vector_elements, "int64"),
            (pmt.is_u16vector, pmt.u16vector_elements, "uint64"),
            (pmt.is_u32vector, pmt.u32vector_elements, "uint64"),
            (pmt.is_u64vector, pmt.u64vector_elements, "uint64"),
            (pmt.is_f32vector, pmt.f32vector_elements, "float64"),
            (pmt.is_f64vector, pmt.f64vector_elements, "float64"),
            (pmt.is_c32vector, pmt.c32vector_elements, "complex"),
            (pmt.is_c64vector, pmt.c64vector_elements, "complex"),
        ):
            if pred(p):
                xs = get(p)
                if kind == "float64":
                    return ["list", [["float64", bits(x)] for x in xs]]
                if kind == "complex":
                    return ["list", [["complex", bits(x.real), bits(x.imag)] for x in xs]]
                return ["list", [[kind, int(x)] for x in xs]]
    if pmt.is_tuple(p):
        return ["tuple", [expected(pmt.tuple_ref(p, i)) for i in range(pmt.length(p))]]
    if pmt.is_vector(p):
        return ["list", [expected(pmt.vector_ref(p, i)) for i in range(pmt.length(p))]]
    if pmt.is_dict(p):
        items = []
        while pmt.is_pair(p):
            k, v = pmt.car(pmt.car(p)), pmt.cdr(pmt.car(p))
            items.append([pmt.symbol_to_string(k).encode().hex(), expected(v)])
            p = pmt.cdr(p)
        return ["dict", items]
    if pmt.is_pair(p):
        xs = []
        while pmt.is_pair(p) and not pmt.is_dict(p):  # a dict ends the chain
            xs.append(expected(pmt.car(p)))
            p = pmt.cdr(p)
        if not pmt.is_null(p):
            xs.append(expected(p))
        return ["list", xs]
    raise AssertionError(f"no expectation for {p}")


def d(**kv):
    out = pmt.make_dict()
    for k, v in kv.items():
        out = pmt.dict_add(out, pmt.intern(k), v)
    return out


# Values GNU Radio writes, and whether the codec sends them back unchanged
# (pmt.equal after a decode + encode through the ring encoding).
VALUES = [
    (pmt.PMT_T, True),
    (pmt.PMT_F, True),
    (pmt.from_long(0), True),
    (pmt.from_long(-(2**31)), True),
    (pmt.from_long(2**31), True),
    (pmt.from_long(-(2**63)), True),
    (pmt.from_uint64(2**64 - 1), True),
    (pmt.from_double(1e-300), True),
    (pmt.from_double(float("inf")), True),
    (pmt.from_complex(-1.5 + 0.25j), True),
    (pmt.intern(""), True),
    (pmt.intern("r\u00e9sum\u00e9"), True),
    (pmt.intern("s" * 1024), True),
    (pmt.PMT_NIL, True),
    (pmt.make_tuple(pmt.from_uint64(1700000000), pmt.from_double(0.5)), True),
    (pmt.to_pmt([1, "two", 3.0, [True]]), True),
    (pmt.make_vector(0, pmt.PMT_NIL), True),
    (pmt.init_u8vector(4, [0, 1, 128, 255]), True),
    (pmt.init_u8vector(0, []), True),
    (d(freq=pmt.from_double(1e8), name=pmt.intern("lna")), True),
    (d(inner=d(x=pmt.make_tuple(pmt.from_long(1), pmt.PMT_NIL))), True),
    (pmt.list3(pmt.from_long(1), pmt.intern("a"), pmt.PMT_T), False),
    (pmt.cons(pmt.to_pmt({"meta": 1}), pmt.init_u8vector(2, [1, 2])), False),
    (pmt.cons(pmt.from_long(1), pmt.cons(pmt.from_long(2), pmt.from_long(3))), False),
    (pmt.cons(pmt.from_long(7), d(a=pmt.PMT_T)), False),
    (d(l=pmt.list2(pmt.from_long(1), pmt.from_long(2))), False),
    (pmt.init_s8vector(2, [-128, 127]), False),
    (pmt.init_u16vector(2, [0, 65535]), False),
    (pmt.init_s16vector(2, [-32768, 1]), False),
    (pmt.init_u32vector(1, [2**32 - 1]), False),
    (pmt.init_s32vector(1, [-(2**31)]), False),
    (pmt.init_u64vector(1, [2**64 - 1]), False),
    (pmt.init_s64vector(1, [-(2**63)]), False),
    (pmt.init_f32vector(2, [1.5, -0.0]), False),
    (pmt.init_f64vector(2, [0.1, 1e300]), False),
    (pmt.init_c32vector(1, [1 - 2j]), False),
    (pmt.init_c64vector(1, [0.1 + 0.2j]), False),
]


@pytest.mark.parametrize("value,alike", VALUES, ids=[str(i) for i in range(len(VALUES))])
def test_a_pmt_serialized_by_gnu_radio_decodes_as_documented(value, alike):
    items = b"\x01\x02\x03\x04"
    msg = header(40, [(41, "k", value, pmt.intern("src"))]) + items
    got = decode(msg)
    assert got["status"] == "ok", got["message"]
    assert got["used"] == len(msg) - 4
    assert got["items"] == items.hex()
    assert got["first"] == 40
    assert got["skipped"] == 0
    assert len(got["tags"]) == 1
    tag = got["tags"][0]
    assert tag["offset"] == 1
    assert bytes.fromhex(tag["key"]) == b"k"
    assert tag["value"] == expected(value)


def split_header(msg):
    """Parse a header with GNU Radio's pmt.deserialize: (first, tags, items)."""
    magic, version, first, count = struct.unpack_from("<HBQQ", msg)
    assert (magic, version) == (0x5FF0, 1)
    at = struct.calcsize("<HBQQ")
    tags = []
    for _ in range(count):
        (index,) = struct.unpack_from("<Q", msg, at)
        at += 8
        parts = []
        for _ in range(3):  # key, value, srcid
            p = pmt.deserialize_str(msg[at:])
            parts.append(p)
            at += len(pmt.serialize_str(p))
        tags.append((index, *parts))
    return first, tags, msg[at:]


def test_what_the_encoder_writes_gnu_radio_reads_back():
    tags = [(1000 + i, f"k{i}", v, pmt.PMT_F) for i, (v, _) in enumerate(VALUES)]
    msg = header(1000, tags) + b"items"
    p = tool("reencode", msg)
    assert p.returncode == 0, p.stderr
    assert json.loads(p.stderr) == {"written": len(VALUES), "skipped": 0}
    first, back, items = split_header(p.stdout)
    assert first == 1000
    assert items == b"items"
    assert len(back) == len(VALUES)
    for (index, key, value, _), (bindex, bkey, bvalue, bsrcid) in zip(tags, back):
        assert bindex == index
        assert pmt.symbol_to_string(bkey) == key
        assert pmt.equal(bsrcid, pmt.PMT_F)
        # Always: the same ring value again.
        assert expected(bvalue) == expected(value), key
    for (value, alike), (_, _, bvalue, _) in zip(VALUES, back):
        if alike:
            assert pmt.equal(bvalue, value), f"{value} came back as {bvalue}"


@pytest.fixture
def ipc(tmp_path):
    return f"ipc://{tmp_path}/wire.ipc"


def tag_t(offset, key, value, srcid=None):
    t = gr.tag_t()
    t.offset = offset
    t.key = pmt.intern(key)
    t.value = value
    if srcid is not None:
        t.srcid = pmt.intern(srcid)
    return t


def test_a_gnu_radio_push_sink_feeds_the_decoder(ipc):
    values = [v for v, _ in VALUES]
    tags = [tag_t(i, f"k{i}", v, "src" if i % 2 else None) for i, v in enumerate(values)]
    n = len(values) + 4
    tb = gr.top_block()
    src = blocks.vector_source_i(list(range(n)), False, 1, tags)
    snk = zeromq.push_sink(4, 1, ipc, 100, True, -1)
    tb.connect(src, snk)
    ctx = zmq.Context()
    sock = ctx.socket(zmq.PULL)
    sock.RCVTIMEO = 5000
    sock.connect(ipc)
    tb.start(8)  # messages of at most 8 items: several headers
    got_tags, items, offsets = [], b"", []
    try:
        while len(items) < 4 * n:
            got = decode(sock.recv())
            assert got["status"] == "ok", got["message"]
            assert got["skipped"] == 0
            offsets.append(got["first"])
            assert got["first"] == len(items) // 4  # the sink's item count
            for t in got["tags"]:
                got_tags.append((got["first"] + t["offset"], t["key"], t["value"]))
            items += bytes.fromhex(got["items"])
    finally:
        tb.stop()
        tb.wait()
        sock.close(0)
        ctx.term()
    assert len(offsets) > 1
    assert items == struct.pack(f"<{n}i", *range(n))
    assert got_tags == [
        (i, f"k{i}".encode().hex(), expected(v)) for i, v in enumerate(values)
    ]


def test_a_gnu_radio_pull_source_receives_the_encoder_s_messages(ipc):
    # Two messages whose offsets start at 1000 and leave a gap of 500 items:
    # the source re-bases each tag on its own item count and concatenates.
    values = [v for v, alike in VALUES if alike]
    msgs = []
    at = 0
    for first, chunk in ((1000, values[:10]), (1600, values[10:])):
        tags = [(first + i, f"k{first + i}", v, pmt.PMT_F) for i, v in enumerate(chunk)]
        items = struct.pack(f"<{len(chunk) + 2}i", *range(at, at + len(chunk) + 2))
        at += len(chunk) + 2
        p = tool("reencode", header(first, tags) + items)
        assert p.returncode == 0, p.stderr
        msgs.append(p.stdout)
    ctx = zmq.Context()
    sock = ctx.socket(zmq.PUSH)
    sock.bind(ipc)
    tb = gr.top_block()
    src = zeromq.pull_source(4, 1, ipc, 100, True, -1)
    sink = blocks.vector_sink_i()
    tb.connect(src, sink)
    tb.start()
    try:
        for m in msgs:
            sock.send(m)
        deadline = time.monotonic() + 10
        while len(sink.data()) < at and time.monotonic() < deadline:
            time.sleep(0.02)
    finally:
        tb.stop()
        tb.wait()
        sock.close(0)
        ctx.term()
    assert list(sink.data()) == list(range(at))
    got = [(t.offset, pmt.symbol_to_string(t.key), t.value) for t in sink.tags()]
    want = [(i, f"k{1000 + i}", v) for i, v in enumerate(values[:10])]
    want += [(12 + i, f"k{1600 + i}", v) for i, v in enumerate(values[10:])]
    assert [(o, k) for o, k, _ in got] == [(o, k) for o, k, _ in want]
    for (_, k, v), (_, _, wv) in zip(got, want):
        assert pmt.equal(v, wv), f"{k}: {v} != {wv}"
