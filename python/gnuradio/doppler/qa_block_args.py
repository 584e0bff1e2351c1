#!/usr/bin/python3
# SPDX-License-Identifier: GPL-3.0-or-later
"""QA of the blocks' arguments: name= (a ring name) or buffer= (a
doppler.buffer object, through its capsule), a buffer object refused as
name=, names that cannot be encoded, scales that cannot round-trip, and the
messages a GRC user reads (which block parameter to change)."""

import errno
import os
import warnings

from gnuradio import doppler, gr_unittest

from doppler_testing import ring_name

BLOCKS = {
    "sink": lambda **kw: doppler.buffer_sink("f32", **kw),
    "source": lambda **kw: doppler.buffer_source("f32", **kw),
}


class qa_block_args(gr_unittest.TestCase):

    def test_a_buffer_object_is_taken_through_buffer(self):
        for kind, make in BLOCKS.items():
            buf = doppler.buffer.F32Buffer(512)
            with warnings.catch_warnings():
                warnings.simplefilter("error")  # the block warns about nothing
                make(buffer=buf)
            buf.destroy()

    def test_a_buffer_object_as_name_is_type_error_naming_buffer(self):
        for kind, make in BLOCKS.items():
            buf = doppler.buffer.F32Buffer(512)
            with self.assertRaisesRegex(TypeError, "buffer=", msg=kind):
                make(name=buf)
            buf.destroy()

    def test_name_and_buffer_together_or_neither_is_type_error(self):
        for kind, make in BLOCKS.items():
            buf = doppler.buffer.F32Buffer(512)
            with self.assertRaisesRegex(TypeError, "not both"):
                make(name=ring_name("both"), buffer=buf)
            with self.assertRaisesRegex(TypeError, "name= .*buffer="):
                make()
            buf.destroy()

    def test_buffer_must_hold_a_ring(self):
        class Fake:
            def __doppler_ring__(self):
                return "not a capsule"

        class Raises:
            def __doppler_ring__(self):
                raise KeyError("from the object")

        for kind, make in BLOCKS.items():
            for bad in ("rx", 42, object(), Fake()):
                with self.assertRaises(TypeError, msg=f"{kind} {bad!r}"):
                    make(buffer=bad)
            with self.assertRaises(KeyError):
                make(buffer=Raises())

    def test_a_destroyed_buffer_is_value_error(self):
        for kind, make in BLOCKS.items():
            buf = doppler.buffer.F32Buffer(512)
            buf.destroy()
            with self.assertRaisesRegex(ValueError, "destroyed"):
                make(buffer=buf)

    def test_a_name_that_cannot_be_encoded_is_value_error(self):
        for kind, make in BLOCKS.items():
            for bad in ("\udc80", "rx\ud800"):
                with self.assertRaisesRegex(ValueError, "Ring Name"):
                    make(name=bad)

    def test_a_name_whose_object_is_a_directory_is_os_error(self):
        name = ring_name("dir")
        path = "/dev/shm/doppler." + name
        os.mkdir(path)
        try:
            for kind, make in BLOCKS.items():
                with self.assertRaises(OSError) as cm:
                    make(name=name)
                self.assertEqual(cm.exception.errno, errno.EBADMSG, kind)
                self.assertIn("directory", str(cm.exception))
        finally:
            os.rmdir(path)

    def test_a_scale_that_cannot_round_trip_is_value_error_naming_it(self):
        bad = [0.0, -0.0, float("inf"), float("-inf"), float("nan"),
               1e-39,   # subnormal as a 32-bit float
               1e-50,   # zero as a 32-bit float
               1e39,    # infinite as a 32-bit float
               3e38]    # finite, but its reciprocal is subnormal
        for make in (lambda s: doppler.buffer_sink("i16", name=ring_name("scale"), scale=s),
                     lambda s: doppler.buffer_source("i16", name=ring_name("scale"), scale=s)):
            for s in bad:
                with self.assertRaisesRegex(ValueError, r"Scale \(scale=\)", msg=repr(s)):
                    make(s)

    def test_ordinary_scales_are_accepted(self):
        for s in (32767.0, 1.0 / 32768, -1.0, 1e-30, 1e30):
            buf = doppler.buffer.I16Buffer(1024)
            doppler.buffer_sink("i16", buffer=buf, scale=s)
            buf.destroy()
            buf = doppler.buffer.I16Buffer(1024)
            doppler.buffer_source("i16", buffer=buf, scale=s)
            buf.destroy()

    def test_a_ring_a_block_creates_has_the_default_capacity(self):
        name = ring_name("default")
        snk = doppler.buffer_sink("f32", name=name)
        buf = doppler.buffer.F32Buffer.attach(name)
        self.assertEqual(buf.capacity, doppler.buffer.DEFAULT_CAPACITY)
        self.assertEqual(doppler.buffer.DEFAULT_CAPACITY, 1 << 20)
        buf.destroy()
        del snk

    def test_a_capacity_that_is_not_positive_is_value_error(self):
        for make in (doppler.buffer_sink, doppler.buffer_source):
            for bad in (0, -1):
                with self.assertRaisesRegex(ValueError, "capacity must be a positive"):
                    make("f32", name=ring_name("cap"), capacity=bad)
        for bad in (0, -1, -(1 << 70)):
            with self.assertRaisesRegex(ValueError, "capacity must be a positive"):
                doppler.buffer.F32Buffer(bad)

    def test_messages_name_the_block_parameter_to_change(self):
        with self.assertRaisesRegex(ValueError, r"Type \(type=\)"):
            doppler.buffer_sink("c32", name=ring_name("bad"))
        with self.assertRaisesRegex(ValueError, r"Overflow \(policy=\)"):
            doppler.buffer_sink("f32", name=ring_name("bad"), policy="Block")
        name = ring_name("type")
        with doppler.buffer.I16Buffer(1024, name=name):
            for make in (doppler.buffer_sink, doppler.buffer_source):
                with self.assertRaises(TypeError) as cm:
                    make("f32", name=name)
                msg = str(cm.exception)
                self.assertIn('Type (type=) to "i16"', msg)
                self.assertNotIn("matching buffer class", msg)
                self.assertNotIn("Protocol wrong type", msg)


if __name__ == "__main__":
    gr_unittest.run(qa_block_args)
