# SPDX-License-Identifier: GPL-3.0-or-later
"""QA for doppler.buffer: the API page, creation, write/wait/consume, errors,
named rings within one process.

Run from the build tree: PYTHONPATH=<build>/python python3 -m pytest -q qa_buffer.py
(CTest test "qa_buffer"). Cross-process tests live in qa_xproc.py.
"""
import ast
import gc
import inspect
import os
import pathlib
import signal
import threading
import time

import numpy as np
import pytest

import doppler.buffer as db
import doppler_testing
from doppler_testing import ALL, DTYPE, LONG, calls_on, samples
from doppler.buffer import F32Buffer, F64Buffer, I16Buffer

MIN_CAPACITY = {F32Buffer: 512, F64Buffer: 256, I16Buffer: 1024}
TYPE_NAME = {F32Buffer: "f32", F64Buffer: "f64", I16Buffer: "i16"}


def numbers(cls, view):
    """The sequence numbers in a view (inverse of samples())."""
    return view[:, 0].astype(np.int64) if cls is I16Buffer else view.real.astype(np.int64)


def expect_numbers(cls, start, n):
    idx = np.arange(start, start + n)
    return idx % 32768 if cls is I16Buffer else idx


@pytest.fixture
def ring_name(names):
    """One ring name of this test's own (removed afterwards if left)."""
    return names("qa_buffer")


# --------------------------------------------------------------------------
# The Python API page
# --------------------------------------------------------------------------


def test_api_page_capacity_and_write_result():
    buf = F32Buffer(1024)
    assert buf.capacity == 1024
    assert buf.write(np.ones(512, dtype=np.complex64)) is True
    assert buf.write(np.ones(512, dtype=np.complex64)) is True
    assert buf.write(np.ones(1, dtype=np.complex64)) is False  # full: dropped
    assert buf.dropped == 1
    buf.destroy()


@pytest.mark.parametrize("cls", ALL)
def test_minimum_and_rounded_capacity(cls):
    assert cls(1).capacity == MIN_CAPACITY[cls]
    assert cls(MIN_CAPACITY[cls] + 1).capacity == 2 * MIN_CAPACITY[cls]
    assert cls(4096).capacity == 4096
    assert cls(5000).capacity == 8192


def test_api_page_f64_and_i16_capacities():
    assert F64Buffer(512).capacity == 512
    assert I16Buffer(2048).capacity == 2048


def test_api_page_i16_columns():
    buf = I16Buffer(4096)
    raw = np.frombuffer(np.arange(2048, dtype=np.int16).tobytes(), dtype=np.int16).reshape(-1, 2)
    assert buf.write(raw)
    view = buf.wait(1024)
    assert view.shape == (1024, 2) and view.dtype == np.int16
    assert np.array_equal(view[:, 0], np.arange(0, 2048, 2))  # I
    assert np.array_equal(view[:, 1], np.arange(1, 2048, 2))  # Q
    buf.consume(1024)


def test_api_page_available_then_wait():
    buf = F32Buffer(4096)
    buf.write(samples(F32Buffer, 1500))
    if buf.available >= 1024:
        view = buf.wait(1024)
        assert np.array_equal(numbers(F32Buffer, view), np.arange(1024))
        buf.consume(1024)
    assert buf.available == 476


# --------------------------------------------------------------------------
# API points
# --------------------------------------------------------------------------


@pytest.mark.parametrize("cls", ALL)
def test_views_have_the_documented_dtype_and_shape(cls):
    buf = cls(4096)
    assert buf.write(samples(cls, 100))
    view = buf.wait(100)
    assert view.dtype == DTYPE[cls]
    assert view.shape == ((100, 2) if cls is I16Buffer else (100,))
    assert np.array_equal(numbers(cls, view), np.arange(100))
    assert not view.flags.writeable
    buf.consume()


def test_i16_flat_even_input():
    buf = I16Buffer(4096)
    assert buf.write(np.arange(8, dtype=np.int16))
    view = buf.wait(4)
    assert view.tolist() == [[0, 1], [2, 3], [4, 5], [6, 7]]


@pytest.mark.parametrize("cls", ALL)
def test_wrap_around_view_is_contiguous_and_correct(cls):
    buf = cls(1)
    cap, n, pos = buf.capacity, buf.capacity * 3 // 5, 0
    for _ in range(7):  # crosses the end of the ring several times
        assert buf.write(samples(cls, n, pos))
        view = buf.wait(n)
        assert view.flags.c_contiguous
        assert np.array_equal(numbers(cls, view), expect_numbers(cls, pos, n))
        buf.consume()
        pos += n
    assert pos > 3 * cap


@pytest.mark.parametrize("cls", ALL)
def test_positions_written_and_read_index(cls):
    buf = cls(4096)
    assert (buf.written, buf.read_index) == (0, 0)
    buf.write(samples(cls, 300))
    buf.wait(100)
    assert buf.written == 300
    assert buf.read_index == 0  # first sample of the current view
    buf.consume()
    assert buf.read_index == 100
    buf.wait(50)
    assert buf.read_index == 100
    buf.consume()
    assert (buf.read_index, buf.available) == (150, 150)


def test_consume_defaults_to_what_is_left_of_the_last_wait():
    buf = F32Buffer(4096)
    buf.write(samples(F32Buffer, 300))
    buf.wait(100)
    buf.consume(30)
    buf.consume()  # the other 70
    assert buf.read_index == 100
    with pytest.raises(ValueError, match="wait"):
        buf.consume()  # nothing left of the last wait


def test_consume_without_wait_skips_samples():
    buf = F32Buffer(4096)
    buf.write(samples(F32Buffer, 100))
    buf.consume(40)
    assert buf.read_index == 40
    assert np.array_equal(numbers(F32Buffer, buf.wait(60)), np.arange(40, 100))


def test_views_share_one_base_object():
    buf = F32Buffer(4096)
    buf.write(samples(F32Buffer, 10))
    a = buf.wait(5)
    b = buf.wait(5)
    assert a.base is b.base  # one keeper per buffer, not one per wait


def test_non_contiguous_input_is_copied():
    buf = F32Buffer(4096)
    x = samples(F32Buffer, 200)
    assert buf.write(x[::2])
    assert np.array_equal(numbers(F32Buffer, buf.wait(100)), np.arange(0, 200, 2))
    buf.consume()
    iq = samples(I16Buffer, 64)
    i16 = I16Buffer(4096)
    assert i16.write(np.asfortranarray(iq))
    assert np.array_equal(i16.wait(64), iq)


@pytest.mark.parametrize("cls", ALL)
@pytest.mark.parametrize("block", [False, True])
def test_empty_write_is_a_no_op(cls, block):
    buf = cls(4096)
    empty = np.zeros((0, 2) if cls is I16Buffer else 0, dtype=DTYPE[cls])
    assert buf.write(empty, block=block) is True
    assert (buf.written, buf.dropped) == (0, 0)


def test_close_end_of_stream():
    buf = F32Buffer(4096)
    buf.write(samples(F32Buffer, 100))
    assert not buf.closed
    buf.close()
    assert buf.closed
    with pytest.raises(EOFError, match="available"):
        buf.wait(200)
    rest = buf.wait(buf.available)  # the rest stays readable
    assert np.array_equal(numbers(F32Buffer, rest), np.arange(100))
    buf.consume()
    with pytest.raises(TimeoutError):  # the end was told once: this waits for the next stream
        buf.wait(1, timeout=0.05)


def test_wait_timeout():
    buf = F32Buffer(4096)
    buf.write(samples(F32Buffer, 10))
    with pytest.raises(TimeoutError):
        buf.wait(11, timeout=0.05)
    with pytest.raises(TimeoutError):
        buf.wait(11, timeout=0)
    assert len(buf.wait(10, timeout=0)) == 10  # data already there


def test_close_wakes_a_parked_consumer():
    buf = F32Buffer(4096)
    threading.Timer(0.1, buf.close).start()
    with pytest.raises(EOFError):
        buf.wait(1, timeout=10)


def test_blocking_write_waits_for_the_consumer():
    buf = F32Buffer(512)
    assert buf.write(samples(F32Buffer, 512))
    got = []

    def consumer():
        time.sleep(0.1)
        for _ in range(2):
            got.append(numbers(F32Buffer, buf.wait(512, timeout=10)).copy())
            buf.consume()

    t = threading.Thread(target=consumer)
    t.start()
    assert buf.write(samples(F32Buffer, 512, 512), block=True, timeout=10) is True
    t.join()
    assert buf.dropped == 0
    assert np.array_equal(np.concatenate(got), np.arange(1024))
    assert buf.missed_wakes == 0  # the producer parked and was woken, not found by a timeout


def test_blocking_write_timeout_drops_nothing():
    # A blocking write copies what fits as room appears: on timeout the
    # first 12 of the 100 are in the ring, the message counts the other 88.
    buf = F32Buffer(512)
    buf.write(samples(F32Buffer, 500))
    with pytest.raises(TimeoutError, match="last 88 samples"):
        buf.write(samples(F32Buffer, 100, 500), block=True, timeout=0.05)
    assert (buf.dropped, buf.written) == (0, 512)
    assert np.array_equal(buf.wait(512), samples(F32Buffer, 512))


def test_blocking_write_larger_than_the_consumers_gap():
    # Producer blocks of 400, consumer waits of 300 on a 512 ring: with an
    # all-or-nothing blocking write both sides would wait forever.
    buf = F32Buffer(512)
    got = []

    def consumer():
        for _ in range(4):
            got.append(np.array(buf.wait(300, timeout=10)))
            buf.consume()

    t = threading.Thread(target=consumer)
    t.start()
    for k in range(3):
        assert buf.write(samples(F32Buffer, 400, 400 * k), block=True, timeout=10) is True
    t.join(20)
    assert not t.is_alive()
    assert np.array_equal(np.concatenate(got), samples(F32Buffer, 1200))


def test_repr():
    buf = F32Buffer(4096)
    buf.write(samples(F32Buffer, 10))
    text = repr(buf)
    assert "F32Buffer" in text and "capacity=4096" in text and "fill=10" in text and "dropped=0" in text
    buf.destroy()
    assert "destroyed" in repr(buf)


def test_repr_named_and_dropped(ring_name):
    buf = I16Buffer(1024, name=ring_name)
    buf.write(samples(I16Buffer, 1024))
    buf.write(samples(I16Buffer, 3))
    text = repr(buf)
    assert f"name='{ring_name}'" in text and "fill=1024" in text and "dropped=3" in text
    buf.destroy()


def test_context_manager_destroys():
    with F32Buffer(4096) as buf:
        buf.write(samples(F32Buffer, 10))
        assert buf.available == 10
    with pytest.raises(ValueError, match="destroyed"):
        buf.available
    with pytest.raises(RuntimeError):  # exceptions pass through
        with F64Buffer(256) as buf:
            raise RuntimeError("boom")
    with pytest.raises(ValueError):
        buf.capacity


def test_name_is_none_for_in_process_rings():
    assert F32Buffer(4096).name is None


def test_docstrings_and_signatures():
    for cls in ALL:
        assert cls.__doc__
        for member in ("write", "wait", "consume", "close", "destroy", "attach", "capacity", "dropped",
                       "missed_wakes", "available", "name", "written", "read_index", "closed", "stream",
                       "skipped", "tags_dropped", "tethered", "history", "tags", "wait_async", "write_async",
                       "views"):
            assert getattr(cls, member).__doc__, f"{cls.__name__}.{member} has no docstring"
        assert list(inspect.signature(cls.write).parameters) == ["self", "arr", "block", "timeout", "tags"]
        assert list(inspect.signature(cls.wait).parameters) == ["self", "n", "timeout"]
        assert list(inspect.signature(cls.consume).parameters) == ["self", "n"]


def test_type_stubs_cover_the_api():
    stub = pathlib.Path(db.__file__).with_name("buffer.pyi")
    tree = ast.parse(stub.read_text())
    classes = {node.name: node for node in tree.body if isinstance(node, ast.ClassDef)}

    def members(name):  # a stub class's functions, its stub bases' included
        node = classes[name]
        own = {n.name for n in ast.walk(node) if isinstance(n, (ast.FunctionDef, ast.AsyncFunctionDef))}
        for base in node.bases:
            if isinstance(base, ast.Name) and base.id in classes:
                own |= members(base.id)
        return own

    for cls in ALL:
        assert cls.__name__ in classes
        stubbed = members(cls.__name__)
        public = {m for m in dir(cls) if not m.startswith("_")} | {"__init__", "__enter__", "__exit__", "__repr__"}
        assert public <= stubbed, f"missing in buffer.pyi: {public - stubbed}"


@pytest.mark.parametrize("cls", ALL)
def test_wait_strategy_keyword_property_and_errors(cls, ring_name):
    buf = cls(MIN_CAPACITY[cls])
    assert buf.wait_strategy == "park"
    poller = cls(MIN_CAPACITY[cls], wait="poll")
    assert poller.wait_strategy == "poll"
    poller.wait_strategy = "park"
    assert poller.wait_strategy == "park"
    buf.wait_strategy = "poll"
    assert buf.wait_strategy == "poll"
    with pytest.raises(ValueError, match="must be 'park'"):
        cls(MIN_CAPACITY[cls], wait="spin")
    with pytest.raises(TypeError, match="must be 'park'"):
        cls(MIN_CAPACITY[cls], wait=1)
    with pytest.raises(ValueError, match="must be 'park'"):
        buf.wait_strategy = "sleep"
    with pytest.raises(TypeError):
        buf.wait_strategy = None
    with pytest.raises(TypeError, match="positional"):
        cls(MIN_CAPACITY[cls], None, "poll")  # keyword only
    named = cls(MIN_CAPACITY[cls], ring_name, wait="poll")
    peer = cls.attach(ring_name, wait="poll")
    assert named.wait_strategy == peer.wait_strategy == "poll"
    assert cls.attach.__doc__ and "wait" in cls.attach.__doc__
    peer.destroy()
    named.destroy()
    buf.destroy()
    with pytest.raises(ValueError):
        buf.wait_strategy  # noqa: B018 (after destroy)


@pytest.mark.parametrize("wait", ["park", "poll"])
def test_a_waiting_reader_gets_its_data_with_either_strategy(wait):
    buf = F64Buffer(256, wait=wait)
    got = []
    reader = threading.Thread(target=lambda: got.append(numbers(F64Buffer, buf.wait(5, timeout=LONG))))
    reader.start()
    time.sleep(0.02)  # a state, not a figure: the reader is waiting
    assert buf.write(samples(F64Buffer, 5))
    reader.join(LONG)
    assert not reader.is_alive()
    assert list(got[0]) == list(range(5))
    buf.consume()
    with pytest.raises(TimeoutError):
        buf.wait(1, timeout=0.01)
    assert buf.missed_wakes == 0


def test_keyword_arguments():
    buf = F32Buffer(capacity=4096, name=None)
    assert buf.write(arr=samples(F32Buffer, 10), block=False, timeout=None)
    assert len(buf.wait(n=10, timeout=1.0)) == 10
    buf.consume(n=10)
    with pytest.raises(TypeError, match="unexpected keyword"):
        buf.wait(10, tmeout=1)
    with pytest.raises(TypeError, match="multiple values"):
        buf.wait(10, n=10)
    with pytest.raises(TypeError, match="missing"):
        buf.wait()


# --------------------------------------------------------------------------
# Errors
# --------------------------------------------------------------------------


@pytest.mark.parametrize("cls", ALL)
def test_wrong_dtype_is_type_error(cls):
    buf = cls(4096)
    wrong = np.float32 if cls is not F64Buffer else np.complex64
    with pytest.raises(TypeError, match=np.dtype(DTYPE[cls]).name):
        buf.write(np.zeros((4, 2) if cls is I16Buffer else 4, dtype=wrong))
    with pytest.raises(TypeError, match="ndarray"):
        buf.write([1, 2, 3, 4])
    with pytest.raises(TypeError, match="native"):
        buf.write(np.zeros((4, 2) if cls is I16Buffer else 4, dtype=np.dtype(DTYPE[cls]).newbyteorder()))


@pytest.mark.parametrize("cls", ALL)
def test_wrong_shape_is_value_error(cls):
    buf = cls(4096)
    with pytest.raises(ValueError, match="shape"):
        buf.write(np.zeros((4, 3), dtype=DTYPE[cls]))
    with pytest.raises(ValueError, match="shape"):
        buf.write(np.zeros((2, 2, 2), dtype=DTYPE[cls]))


def test_odd_flat_i16_is_value_error():
    with pytest.raises(ValueError, match="odd"):
        I16Buffer(4096).write(np.zeros(7, dtype=np.int16))


@pytest.mark.parametrize("cls", ALL)
def test_bad_counts_are_value_errors(cls):
    buf = cls(1)
    cap = buf.capacity
    for n in (0, -1, cap + 1, 2**70):
        with pytest.raises(ValueError):
            buf.wait(n)
    with pytest.raises(ValueError, match="capacity"):  # all or nothing: can never fit
        buf.write(samples(cls, cap + 1))
    with pytest.raises(TypeError):
        buf.wait(1.5)
    buf.write(samples(cls, 10))
    buf.wait(10)
    for n in (0, -3, 11):
        with pytest.raises(ValueError):
            buf.consume(n)
    buf.consume(10)
    with pytest.raises(ValueError, match="readable"):
        buf.consume(1)
    with pytest.raises(ValueError):
        buf.wait(1, timeout=-1)


@pytest.mark.parametrize("capacity", [0, -1, 2**45, 2**63, 2**100])
def test_bad_capacity_is_value_error(capacity):
    with pytest.raises(ValueError, match="capacity"):
        F32Buffer(capacity)


def test_capacity_of_wrong_type_is_type_error():
    with pytest.raises(TypeError):
        F32Buffer("4096")
    with pytest.raises(TypeError):
        F32Buffer(4096.0)


@pytest.mark.parametrize("cls", ALL)
def test_every_call_after_destroy_is_value_error(cls):
    buf = cls(4096)
    buf.destroy()
    for call in calls_on(buf, cls):
        with pytest.raises(ValueError, match="destroyed"):
            call()
    buf.destroy()  # idempotent


@pytest.mark.parametrize("cls", ALL)
def test_view_survives_destroy(cls):
    buf = cls(4096)
    buf.write(samples(cls, 1000))
    view = buf.wait(1000)
    buf.destroy()
    del buf
    gc.collect()
    assert np.array_equal(numbers(cls, view), np.arange(1000))  # still mapped, no segfault


def test_destroy_while_another_thread_waits():
    buf = F32Buffer(4096)
    errors = []

    def consumer():
        try:
            buf.wait(10, timeout=20)
        except ValueError as e:
            errors.append(e)

    t = threading.Thread(target=consumer)
    t.start()
    time.sleep(0.1)
    buf.destroy()
    t.join(10)
    assert not t.is_alive() and len(errors) == 1 and "destroyed" in str(errors[0])


# --------------------------------------------------------------------------
# Threads, CPU use, Ctrl-C
# --------------------------------------------------------------------------


@pytest.mark.parametrize("cls,total", [(F32Buffer, 3_000_000), (F64Buffer, 1_000_000), (I16Buffer, 1_000_000)])
def test_threaded_producer_consumer_every_sample_in_order(cls, total):
    buf = cls(4096)
    chunk = 1000
    source = samples(cls, total)

    def producer():
        # Lossless producer: every block must arrive.
        for start in range(0, total, chunk):
            buf.write(source[start:start + chunk], block=True, timeout=30)
        buf.close()

    t = threading.Thread(target=producer)
    t.start()
    # Every wait size <= capacity - chunk: a blocked writer always leaves room for it.
    pos, sizes = 0, (1, 7, 333, 1024, 4096 - chunk)
    try:
        end = False
        while not end:
            n = sizes[pos % len(sizes)]
            try:
                view = buf.wait(n, timeout=30)
            except EOFError:  # once: what is left is the stream's last
                end, n = True, buf.available
                if n == 0:
                    break
                view = buf.wait(n)
            assert buf.read_index == pos
            assert np.array_equal(numbers(cls, view), expect_numbers(cls, pos, n)), f"at {pos}"
            buf.consume()
            pos += n
    finally:
        t.join()
    assert pos == total and buf.dropped == 0 and buf.written == total


def test_non_blocking_producer_counts_drops_and_never_reorders():
    buf = F32Buffer(512)
    chunk = 256
    total = 1600 * chunk
    written = []

    def producer():
        for start in range(0, total, chunk):
            if buf.write(samples(F32Buffer, chunk, start)):
                written.append(start)
        buf.close()

    t = threading.Thread(target=producer)
    t.start()
    got = []
    while True:
        try:
            view = buf.wait(chunk, timeout=30)
        except EOFError:
            break
        got.append(int(view[0].real))
        assert np.array_equal(numbers(F32Buffer, view), np.arange(got[-1], got[-1] + chunk))
        buf.consume()
    t.join()
    assert got == written
    assert buf.dropped == total - len(written) * chunk


def test_a_waiting_consumer_sleeps_in_the_kernel_and_is_woken_by_the_write():
    """A wait with nothing to read parks: its thread sleeps in a futex (a
    state read from /proc, not a CPU-time figure) until a write wakes it,
    not a timeout slice (missed_wakes stays 0). What an idle wait costs in CPU
    is a benchmark figure (apps/bench), not a test."""
    buf = F32Buffer(4096)
    tid, got = [], []

    def consumer():
        tid.append(threading.get_native_id())
        got.append(numbers(F32Buffer, buf.wait(3, timeout=LONG)).copy())
        buf.consume()

    t = threading.Thread(target=consumer, daemon=True)
    t.start()
    deadline = time.monotonic() + LONG
    while not (tid and sleeps_in_futex(tid[0])):
        assert time.monotonic() < deadline, "the waiting thread never parked in the kernel"
        time.sleep(0.005)
    assert not got  # parked, nothing returned
    assert buf.write(samples(F32Buffer, 3))
    t.join(LONG)
    assert not t.is_alive() and np.array_equal(got[0], np.arange(3))
    assert buf.missed_wakes == 0


def sleeps_in_futex(tid):
    """True if thread `tid` of this process is asleep (state S) in a futex wait."""
    try:
        with open(f"/proc/self/task/{tid}/stat") as f:
            state = f.read().rsplit(")", 1)[1].split()[0]
        with open(f"/proc/self/task/{tid}/wchan") as f:
            return state == "S" and "futex" in f.read()
    except OSError:
        return False


def test_ctrl_c_interrupts_wait_and_leaves_the_ring_usable():
    buf = F32Buffer(4096)
    main = threading.main_thread().ident
    assert threading.get_ident() == main
    old = signal.signal(signal.SIGINT, signal.default_int_handler)
    try:
        timer = threading.Timer(0.2, signal.pthread_kill, args=(main, signal.SIGINT))
        timer.start()
        # A generous timeout so a broken build fails (TimeoutError) instead of hanging.
        with pytest.raises(KeyboardInterrupt):
            buf.wait(1, timeout=20)
        timer.join()
        # The process-wide signal (os.kill) reaches it too.
        timer = threading.Timer(0.2, os.kill, args=(os.getpid(), signal.SIGINT))
        timer.start()
        with pytest.raises(KeyboardInterrupt):
            buf.wait(1, timeout=20)
        timer.join()
    finally:
        signal.signal(signal.SIGINT, old)
    assert buf.write(samples(F32Buffer, 5))
    assert np.array_equal(numbers(F32Buffer, buf.wait(5, timeout=1)), np.arange(5))
    buf.consume()


def test_ctrl_c_interrupts_a_blocking_write():
    buf = F32Buffer(512)
    buf.write(samples(F32Buffer, 512))
    old = signal.signal(signal.SIGINT, signal.default_int_handler)
    try:
        timer = threading.Timer(0.2, signal.pthread_kill, args=(threading.main_thread().ident, signal.SIGINT))
        timer.start()
        with pytest.raises(KeyboardInterrupt):
            buf.write(samples(F32Buffer, 10), block=True, timeout=20)
        timer.join()
    finally:
        signal.signal(signal.SIGINT, old)
    assert buf.dropped == 0 and buf.written == 512


def test_an_interrupted_blocking_write_leaves_what_it_copied_published():
    """500 of 512 used: a lossless write of 100 copies the 12 that fit, then
    parks; Ctrl-C there raises KeyboardInterrupt and those 12 stay published,
    in order, followed by nothing else."""
    buf = F32Buffer(512)
    assert buf.write(samples(F32Buffer, 500))
    old = signal.signal(signal.SIGINT, signal.default_int_handler)
    main = threading.main_thread().ident
    try:
        # The signal is sent once the write has copied its first part (written
        # reaches 512): a state, whatever the timing.
        def interrupt_when_full():
            deadline = time.monotonic() + LONG
            while buf.written < 512 and time.monotonic() < deadline:
                time.sleep(0.005)
            signal.pthread_kill(main, signal.SIGINT)

        timer = threading.Thread(target=interrupt_when_full, daemon=True)
        timer.start()
        with pytest.raises(KeyboardInterrupt):
            buf.write(samples(F32Buffer, 100, 500), block=True, timeout=LONG)
        timer.join(LONG)
    finally:
        signal.signal(signal.SIGINT, old)
    assert (buf.written, buf.dropped) == (512, 0)
    assert np.array_equal(numbers(F32Buffer, buf.wait(512, timeout=0)), np.arange(512))


# --------------------------------------------------------------------------
# Named rings in one process (cross-process tests: qa_xproc.py)
# --------------------------------------------------------------------------


@pytest.mark.parametrize("cls", ALL)
def test_named_create_and_attach(cls, ring_name):
    producer = cls(5000, name=ring_name)
    assert producer.name == ring_name and producer.capacity == 8192
    assert oct(os.stat(doppler_testing.shm_path(ring_name)).st_mode & 0o777) == "0o600"
    consumer = cls.attach(ring_name)
    assert consumer.name == ring_name and consumer.capacity == 8192
    producer.write(samples(cls, 100))
    assert consumer.available == 100 and consumer.written == 100
    assert np.array_equal(numbers(cls, consumer.wait(100)), np.arange(100))
    consumer.consume()
    assert producer.read_index == 100
    producer.destroy()  # ends the stream; the attached peer keeps the name
    assert os.path.exists(doppler_testing.shm_path(ring_name))
    assert consumer.closed
    consumer.destroy()  # the last party leaves: the name goes
    assert not os.path.exists(doppler_testing.shm_path(ring_name))
    with pytest.raises(FileNotFoundError):
        cls.attach(ring_name)


def test_existing_name_is_file_exists_error(ring_name):
    with F32Buffer(4096, name=ring_name):
        with pytest.raises(FileExistsError):
            F32Buffer(4096, name=ring_name)


def test_attach_missing_is_file_not_found_and_a_wait_for_it_that_runs_out_is_timeout_error():
    with pytest.raises(FileNotFoundError, match="timeout"):  # the hint
        F32Buffer.attach(doppler_testing.ring_name())
    # With a timeout it waits for the ring (test_attach_waits_for_a_ring_created_later),
    # then says for how long it looked: a timeout that ran out, as for wait().
    with pytest.raises(TimeoutError, match="within") as e:
        F32Buffer.attach(doppler_testing.ring_name(), timeout=0.1)
    assert not isinstance(e.value, FileNotFoundError)


def test_attach_waits_for_a_ring_created_later(ring_name):
    made = []
    timer = threading.Timer(0.2, lambda: made.append(F64Buffer(256, name=ring_name)))
    timer.start()
    buf = F64Buffer.attach(ring_name, timeout=10)
    timer.join()
    assert buf.capacity == 256 and buf.name == ring_name
    made[0].write(samples(F64Buffer, 3))
    assert np.array_equal(numbers(F64Buffer, buf.wait(3)), np.arange(3))
    made[0].destroy()


@pytest.mark.parametrize("made,attach", [(I16Buffer, F32Buffer), (F32Buffer, F64Buffer), (F64Buffer, I16Buffer)])
def test_attach_of_another_type_is_type_error(made, attach, ring_name):
    with made(4096, name=ring_name):
        with pytest.raises(TypeError) as err:
            attach.attach(ring_name)
        assert TYPE_NAME[made] in str(err.value) and TYPE_NAME[attach] in str(err.value)


# Names refused (ValueError, no file made): qa_xproc.py's
# test_bad_names_refused_before_touching_files, for every class.
def test_longest_name_is_fine():
    name = f"q{os.getpid()}-" + "x" * 200
    name = name[:200]
    with F32Buffer(4096, name=name) as buf:
        assert buf.name == name


def test_name_of_wrong_type_is_type_error():
    with pytest.raises(TypeError):
        F32Buffer(4096, name=b"bytes")
    with pytest.raises(TypeError):
        F32Buffer.attach(42)


def test_context_manager_removes_the_name(ring_name):
    with F32Buffer(4096, name=ring_name):
        assert os.path.exists(doppler_testing.shm_path(ring_name))
    assert not os.path.exists(doppler_testing.shm_path(ring_name))


def test_lossless_write_through_a_named_ring(ring_name):
    producer = I16Buffer(1024, name=ring_name)
    consumer = I16Buffer.attach(ring_name)
    total = 200_000

    def produce():
        for start in range(0, total, 1000):
            producer.write(samples(I16Buffer, 1000, start), block=True, timeout=30)
        producer.close()

    t = threading.Thread(target=produce)
    t.start()
    pos, end = 0, False
    while not end:
        try:
            view = consumer.wait(500, timeout=30)  # divides the 1000-sample writes: no deadlock
        except EOFError:  # once: what is left is the stream's last
            end, n = True, consumer.available
            if not n:
                break
            view = consumer.wait(n)
        assert np.array_equal(numbers(I16Buffer, view), expect_numbers(I16Buffer, pos, len(view)))
        pos += len(view)
        consumer.consume()
    t.join()
    assert pos == total and producer.dropped == 0
    producer.destroy()
    consumer.destroy()


def test_a_blocking_write_longer_than_the_capacity_streams_through_while_a_reader_reads(ring_name):
    # 10 Msamples into a 1 Mi ring: the write copies what fits as the reader
    # makes room; every sample arrives once, in order, and each tag at its
    # sample. The non-blocking write keeps its all-or-nothing limit.
    total = 10 * 1000 * 1000
    data = np.arange(total, dtype=np.float32).astype(np.complex64)
    # The first piece is exactly the (empty) ring: tags on both sides of its end.
    tags = [(0, "first", 0), ((1 << 20) - 1, "end1", 1), (1 << 20, "start2", 2), (3_333_333, "middle", 3),
            (total - 1, "last", 4)]
    prod = F32Buffer(1 << 20, name=ring_name)
    cons = F32Buffer.attach(ring_name)
    got = {"n": 0, "bad": None, "tags": []}

    def read():
        while got["n"] < total:
            n = min(1 << 18, total - got["n"])
            v = cons.wait(n, timeout=LONG)
            got["tags"] += [(t.index, t.key, t.value) for t in cons.tags() if t.key != "stream_start"]
            if got["bad"] is None and not np.array_equal(v.real, np.arange(got["n"], got["n"] + n, dtype=np.float32)):
                got["bad"] = got["n"]
            cons.consume()
            got["n"] += n

    reader = threading.Thread(target=read)
    reader.start()
    try:
        assert prod.write(data, block=True, timeout=LONG, tags=tags)
        assert prod.written == total
    finally:
        reader.join(LONG)
    assert not reader.is_alive()
    assert got["n"] == total and got["bad"] is None, got["bad"]
    assert got["tags"] == tags
    with pytest.raises(ValueError, match="capacity"):
        prod.write(data[: prod.capacity + 1])
    assert prod.dropped == 0
    cons.destroy()
    prod.destroy()
