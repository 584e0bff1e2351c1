# SPDX-License-Identifier: GPL-3.0-or-later
"""QA for doppler.buffer against hostile and careless calls.

No sequence of Python calls may crash the interpreter: argument conversions
that run Python code (__index__, __float__, __bool__, an ndarray subclass's
hooks during the contiguous copy) and destroy or replace the ring, methods
called on an object that was never initialised, a class that inherits from
two buffer classes, a method of one class called on another class's object.
And every failure is an exception of the documented kind: names that cannot
be encoded, objects under the prefix that are not rings.

Run from the build tree: PYTHONPATH=<build>/python python3 -m pytest -q qa_calls.py
(CTest test "qa_calls"). A crash fails the run (pytest's faulthandler names
the test).
"""
import errno
import os

import numpy as np
import pytest

from doppler.buffer import F32Buffer, F64Buffer, I16Buffer
from doppler_testing import ALL, calls_on, samples, shm_path



class Hook:
    """An argument whose conversion runs `action` first: as an index
    (__index__), a number (__float__) or a truth value (__bool__)."""

    def __init__(self, action, value):
        self.action, self.value = action, value

    def __index__(self):
        self.action()
        return int(self.value)

    def __float__(self):
        self.action()
        return float(self.value)

    def __bool__(self):
        self.action()
        return bool(self.value)


# ---------------------------------------------------------------------------
# Conversions that destroy (or replace) the ring while a method runs
# ---------------------------------------------------------------------------

@pytest.mark.parametrize("cls", ALL)
def test_destroy_from_the_count_of_wait_is_value_error(cls):
    buf = cls(4096)
    buf.write(samples(cls, 8))
    with pytest.raises(ValueError, match="destroyed"):
        buf.wait(Hook(buf.destroy, 4))


@pytest.mark.parametrize("cls", ALL)
def test_destroy_from_the_count_of_consume_is_value_error(cls):
    buf = cls(4096)
    buf.write(samples(cls, 8))
    buf.wait(8)
    with pytest.raises(ValueError, match="destroyed"):
        buf.consume(Hook(buf.destroy, 4))


@pytest.mark.parametrize("cls", ALL)
def test_destroy_from_the_timeout_of_wait_is_value_error(cls):
    buf = cls(4096)
    with pytest.raises(ValueError, match="destroyed"):
        buf.wait(4, timeout=Hook(buf.destroy, 0.01))


@pytest.mark.parametrize("cls", ALL)
def test_destroy_from_the_timeout_of_a_blocking_write_is_value_error(cls):
    buf = cls(4096)
    with pytest.raises(ValueError, match="destroyed"):
        buf.write(samples(cls, 8), block=True, timeout=Hook(buf.destroy, 0.01))


@pytest.mark.parametrize("cls", ALL)
def test_destroy_from_the_block_flag_of_write_is_value_error(cls):
    buf = cls(4096)
    with pytest.raises(ValueError, match="destroyed"):
        buf.write(samples(cls, 8), block=Hook(buf.destroy, True))


@pytest.mark.parametrize("cls", ALL)
def test_destroy_from_an_ndarray_subclass_copy_is_value_error(cls):
    """A non-contiguous ndarray subclass is copied before the write; the
    copy runs the subclass's __array_finalize__, which destroys the buffer."""
    buf = cls(4096)
    armed = []

    class Hostile(np.ndarray):
        def __array_finalize__(self, obj):
            if armed:
                buf.destroy()

    base = samples(cls, 64).view(Hostile)
    arr = base[::2]
    assert not arr.flags.c_contiguous
    armed.append(True)
    with pytest.raises(ValueError, match="destroyed"):
        buf.write(arr)


@pytest.mark.parametrize("cls", ALL)
def test_an_ndarray_subclass_is_written_like_an_ndarray(cls):
    class Plain(np.ndarray):
        pass

    buf = cls(4096)
    arr = samples(cls, 64).view(Plain)
    assert buf.write(arr[::2])
    assert buf.available == 32


@pytest.mark.parametrize("cls", ALL)
def test_a_ring_replaced_by_init_during_wait_is_checked_against_its_new_capacity(cls):
    """__init__ from the count's __index__ swaps in a smaller ring: the count
    is checked against the ring the method finally uses."""
    buf = cls(1 << 16)
    big = buf.capacity
    with pytest.raises(ValueError, match="capacity"):
        buf.wait(Hook(lambda: buf.__init__(512), big))
    assert buf.capacity < big


@pytest.mark.parametrize("cls", ALL)
def test_a_conversion_that_raises_leaves_the_ring_untouched(cls):
    def boom():
        raise KeyError("from __index__")

    buf = cls(4096)
    buf.write(samples(cls, 8))
    with pytest.raises(KeyError):
        buf.wait(Hook(boom, 4))
    with pytest.raises(KeyError):
        buf.consume(Hook(boom, 4))
    with pytest.raises(KeyError):
        buf.write(samples(cls, 8), block=True, timeout=Hook(boom, 1))
    assert buf.available == 8 and buf.read_index == 0
    assert len(buf.wait(8)) == 8


# ---------------------------------------------------------------------------
# Objects that are not (or no longer) what a method needs
# ---------------------------------------------------------------------------

def test_a_class_cannot_inherit_from_two_buffer_classes():
    for a in ALL:
        for b in ALL:
            if a is b:
                continue
            with pytest.raises(TypeError):
                type("Both", (a, b), {})


@pytest.mark.parametrize("cls", ALL)
def test_a_method_of_one_class_refuses_an_object_of_another(cls):
    other = F64Buffer if cls is not F64Buffer else F32Buffer
    buf = other(4096)
    for call in (lambda: cls.write(buf, samples(cls, 1)), lambda: cls.wait(buf, 1),
                 lambda: cls.consume(buf), lambda: cls.close(buf),
                 lambda: cls.capacity.__get__(buf)):
        with pytest.raises(TypeError):
            call()
    assert not buf.closed


@pytest.mark.parametrize("cls", ALL)
def test_every_call_on_an_uninitialised_object_is_value_error(cls):
    """An object made with __new__ alone (no __init__, no attach) has no ring."""
    buf = cls.__new__(cls)
    for call in calls_on(buf, cls) + [buf.__doppler_ring__]:
        with pytest.raises(ValueError, match="initialised"):
            call()
    assert "destroyed" in repr(buf)
    buf.destroy()


@pytest.mark.parametrize("cls", ALL)
def test_a_subclass_that_skips_init_gets_value_errors(cls):
    class Lazy(cls):
        def __init__(self):
            pass

    buf = Lazy()
    with pytest.raises(ValueError):
        buf.wait(1)
    with pytest.raises(ValueError):
        buf.capacity


@pytest.mark.parametrize("cls", ALL)
def test_a_subclass_works_like_its_base(cls):
    class Mine(cls):
        extra = 1

    with Mine(4096) as buf:
        assert buf.write(samples(cls, 4))
        assert len(buf.wait(4)) == 4
        buf.consume()
    attached_class = Mine.attach  # a classmethod of the subclass too
    assert callable(attached_class)


@pytest.mark.parametrize("cls", ALL)
def test_init_twice_replaces_the_ring(cls):
    buf = cls(4096)
    buf.write(samples(cls, 8))
    view = buf.wait(8)
    buf.__init__(1 << 14)
    assert buf.available == 0 and buf.capacity >= 1 << 14
    assert len(view) == 8  # the old view stays readable


def test_the_ring_handle_capsule_is_named_and_shares_the_ring():
    buf = F32Buffer(4096)
    cap = buf.__doppler_ring__()
    assert type(cap).__name__ == "PyCapsule" and "doppler.ring_handle" in repr(cap)
    buf.destroy()
    del cap  # releasing the capsule after destroy() is fine


# ---------------------------------------------------------------------------
# Exceptions of the documented kind
# ---------------------------------------------------------------------------

@pytest.mark.parametrize("bad", ["\udc80", "ok\ud800", "\udfff" * 3])
def test_a_name_that_cannot_be_encoded_is_value_error(bad):
    from doppler import _ring_tool
    for call in (lambda: F32Buffer(4096, name=bad), lambda: F64Buffer.attach(bad),
                 lambda: I16Buffer.attach(bad, timeout=0.01),
                 lambda: _ring_tool.inspect(bad), lambda: _ring_tool.remove(bad)):
        with pytest.raises(ValueError, match="encoded"):
            call()
    assert _ring_tool.valid_name(bad) is False


def test_a_name_of_another_type_is_type_error_everywhere():
    from doppler import _ring_tool
    for call in (lambda: F32Buffer(4096, name=b"bytes"), lambda: F32Buffer.attach(42),
                 lambda: _ring_tool.inspect(42), lambda: _ring_tool.remove(b"x")):
        with pytest.raises(TypeError):
            call()


def _not_a_ring(kind, path):
    if kind == "directory":
        os.mkdir(path)
    else:
        os.mkfifo(path)


def _remove(path):
    if os.path.isdir(path):
        os.rmdir(path)
    elif os.path.lexists(path):
        os.unlink(path)


@pytest.mark.parametrize("kind", ["directory", "fifo"])
def test_a_name_whose_object_is_not_a_file_is_os_error(names, kind):
    name = names()
    path = shm_path(name)
    _not_a_ring(kind, path)
    try:
        for cls in ALL:
            with pytest.raises(OSError) as e:
                cls.attach(name)
            what = "a directory" if kind == "directory" else "a FIFO"
            assert e.value.errno == errno.EBADMSG and what in str(e.value), str(e.value)
            with pytest.raises(OSError) as e:
                cls.attach(name, timeout=0.05)
            assert e.value.errno == errno.EBADMSG
            with pytest.raises(FileExistsError):
                cls(4096, name=name)
    finally:
        _remove(path)
