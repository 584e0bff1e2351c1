#!/usr/bin/python3
# SPDX-License-Identifier: GPL-3.0-or-later
"""Writes fuzz_wire's starting corpus (lib/bridge/fuzz/corpus/) with GNU
Radio's own pmt and gr-zeromq: two messages a real zeromq.push_sink sent
(pass_tags on), headers carrying every PMT type pmt.serialize writes, tags
the ring cannot carry, nesting past the ring's depth, a message without a
header. Run once with the interpreter GNU Radio is installed for:
    /usr/bin/python3 lib/bridge/fuzz/make_corpus.py
"""
import os
import struct
import tempfile

import pmt
import zmq
from gnuradio import blocks, gr, zeromq

OUT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "corpus")


def header(first, tags):
    out = struct.pack("<HBQQ", 0x5FF0, 1, first, len(tags))
    for index, key, value in tags:
        out += struct.pack("<Q", index) + key + pmt.serialize_str(value)
        out += pmt.serialize_str(pmt.PMT_F)
    return out


def sym(s):
    return pmt.serialize_str(pmt.intern(s))


def write(name, data):
    with open(os.path.join(OUT, name), "wb") as f:
        f.write(data)


def push_sink_messages():
    def tag(off, key, val):
        t = gr.tag_t()
        t.offset, t.key, t.value = off, pmt.intern(key), val
        t.srcid = pmt.intern("usrp_source1")
        return t

    rx_time = pmt.make_tuple(pmt.from_uint64(1700000000), pmt.from_double(0.25))
    tags = [tag(0, "rx_time", rx_time), tag(0, "rx_rate", pmt.from_double(1e6)),
            tag(5, "burst", pmt.PMT_T), tag(6, "meta", pmt.to_pmt({"len": 3})),
            tag(7, "taps", pmt.init_f32vector(2, [0.5, 0.25]))]
    with tempfile.TemporaryDirectory() as tmp:
        addr = f"ipc://{tmp}/sink.ipc"
        ctx = zmq.Context()
        sock = ctx.socket(zmq.PULL)
        sock.RCVTIMEO = 5000
        tb = gr.top_block()
        tb.connect(blocks.vector_source_i(list(range(1, 9)), False, 1, tags),
                   zeromq.push_sink(4, 1, addr, 100, True, -1))
        tb.start(4)
        sock.connect(addr)
        msgs = [sock.recv(), sock.recv()]
        tb.stop()
        tb.wait()
        sock.close(0)
        ctx.term()
    return msgs


def main():
    os.makedirs(OUT, exist_ok=True)
    first, second = push_sink_messages()
    write("push-sink-first", first)
    write("push-sink-second", second)
    every = [pmt.PMT_T, pmt.PMT_F, pmt.from_long(-5), pmt.from_long(-2**40),
             pmt.from_uint64(2**64 - 1), pmt.from_double(0.5), pmt.from_complex(1 - 2j),
             pmt.intern("rx_freq"), pmt.PMT_NIL, pmt.to_pmt([1, "two", [3.0]]),
             pmt.make_tuple(pmt.from_long(1), pmt.PMT_NIL), pmt.to_pmt({"a": 1, "b": "x"}),
             pmt.list3(pmt.from_long(1), pmt.from_long(2), pmt.from_long(3)),
             pmt.cons(pmt.to_pmt({"m": 1}), pmt.init_u8vector(2, [1, 2])),
             pmt.cons(pmt.from_long(1), pmt.from_long(2))]
    for name, init, xs in (("u8", pmt.init_u8vector, [1, 255]), ("s8", pmt.init_s8vector, [-1]),
                           ("u16", pmt.init_u16vector, [7]), ("s16", pmt.init_s16vector, [-7]),
                           ("u32", pmt.init_u32vector, [7]), ("s32", pmt.init_s32vector, [-7]),
                           ("u64", pmt.init_u64vector, [7]), ("s64", pmt.init_s64vector, [-7]),
                           ("f32", pmt.init_f32vector, [1.5]), ("f64", pmt.init_f64vector, [1.5]),
                           ("c32", pmt.init_c32vector, [1j]), ("c64", pmt.init_c64vector, [1j])):
        every.append(init(len(xs), xs))
    write("every-type", header(100, [(100 + i, sym(f"k{i}"), v) for i, v in enumerate(every)])
          + bytes(8))
    write("no-tags", header(12345, []) + bytes(16))
    write("no-header", bytes(range(32)))
    deep = pmt.from_long(1)
    for _ in range(40):
        deep = pmt.make_tuple(deep)
    write("deep-and-uncarried", header(0, [
        (0, sym("deep"), deep),
        (1, pmt.serialize_str(pmt.from_long(3)), pmt.PMT_T),  # not a symbol key
        (2, sym("intkey"), pmt.dict_add(pmt.make_dict(), pmt.from_long(1), pmt.PMT_T)),
        (3, sym("ok"), pmt.PMT_F)]))


if __name__ == "__main__":
    main()
