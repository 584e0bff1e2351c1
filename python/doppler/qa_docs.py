# SPDX-License-Identifier: GPL-3.0-or-later
"""The documentation's code runs: every example of the API page gr-doppler
honours (the Python API page, its examples copied here verbatim) and the README's
self-contained Python example. Names an example leaves undefined (iq_source,
process, adc_bytes) are supplied by the harness, as a reader would."""
import contextlib
import doctest
import io
import pathlib
import re
import time

import numpy as np

import doppler.buffer
from doppler_testing import LONG

README = pathlib.Path(__file__).resolve().parents[2] / "README.md"

PAGE_THREADED = '''
from doppler.buffer import F32Buffer
import numpy as np
import threading

buf = F32Buffer(4096)

def producer():
    for block in iq_source:                         # complex64 arrays
        buf.write(block)                            # non-blocking

def consumer():
    while True:
        view = buf.wait(1024)                       # blocks; zero-copy
        process(view)
        buf.consume(1024)

t_prod = threading.Thread(target=producer, daemon=True)
t_cons = threading.Thread(target=consumer, daemon=True)
t_prod.start()
t_cons.start()
'''

PAGE_AVAILABLE = '''
if buf.available >= 1024:
    view = buf.wait(1024)
    process(view)
    buf.consume(1024)
'''

PAGE_I16 = '''
from doppler.buffer import I16Buffer
import numpy as np

buf = I16Buffer(4096)
raw = np.frombuffer(adc_bytes, dtype=np.int16).reshape(-1, 2)
buf.write(raw)

view = buf.wait(1024)       # shape (1024, 2), dtype int16
I = view[:, 0]
Q = view[:, 1]
buf.consume(1024)
'''

PAGE_CAPACITY = '''
buf = F32Buffer(1024)
print(buf.capacity)         # 1024 (or next power of two)

ok = buf.write(np.ones(1024, dtype=np.complex64))
print(ok)                   # True if written, False if dropped
'''

PAGE_DOCTESTS = '''
>>> from doppler.buffer import F32Buffer
>>> import numpy as np
>>> buf = F32Buffer(1024)
>>> buf.capacity
1024
>>> buf.write(np.ones(512, dtype=np.complex64))
True
>>> from doppler.buffer import F64Buffer
>>> import numpy as np
>>> buf = F64Buffer(512)
>>> buf.capacity
512
>>> from doppler.buffer import I16Buffer
>>> import numpy as np
>>> buf = I16Buffer(2048)
>>> buf.capacity
2048
'''


def test_api_page_threaded_producer_consumer():
    # 64 blocks of 256 numbered samples through the page's non-blocking
    # producer. Whether a block fits depends on how the two threads are
    # scheduled, so the check is what holds whatever the timing: every block
    # is taken or dropped whole (offered = written + dropped), and the
    # consumer gets exactly the taken ones, in order, in its 1024-sample views.
    blocks = [np.arange(k * 256, (k + 1) * 256).astype(np.complex64) for k in range(64)]

    def paced():
        for b in blocks:
            yield b
            time.sleep(0.001)

    got = []
    env = {"iq_source": paced(), "process": lambda v: got.append(np.array(v))}
    exec(PAGE_THREADED, env)
    buf = env["buf"]
    env["t_prod"].join(LONG)
    assert not env["t_prod"].is_alive()
    assert buf.written + buf.dropped == 64 * 256 and buf.dropped % 256 == 0
    # The consumer takes every whole 1024 of what was written (a state it
    # reaches; the bound only stops a broken build from hanging).
    deadline = time.monotonic() + LONG
    while buf.read_index < buf.written // 1024 * 1024 and time.monotonic() < deadline:
        time.sleep(0.01)
    assert buf.read_index == buf.written // 1024 * 1024
    received = np.concatenate(got).real.astype(np.int64) if got else np.zeros(0, np.int64)
    assert len(received) == buf.read_index
    taken = received.reshape(-1, 256)  # whole blocks, each one of the offered ones
    assert np.array_equal(taken - taken[:, :1], np.tile(np.arange(256), (len(taken), 1)))
    assert np.all(taken[:, 0] % 256 == 0) and np.all(np.diff(taken[:, 0]) > 0)


def test_api_page_available_snippet():
    buf = doppler.buffer.F32Buffer(4096)
    buf.write(np.arange(1500).astype(np.complex64))
    seen = []
    exec(PAGE_AVAILABLE, {"buf": buf, "process": lambda v: seen.append(np.array(v))})
    assert len(seen) == 1 and np.array_equal(seen[0].real, np.arange(1024))
    assert buf.available == 476


def test_api_page_i16_snippet():
    env = {"adc_bytes": np.arange(4096, dtype=np.int16).tobytes()}
    exec(PAGE_I16, env)
    assert np.array_equal(env["I"], np.arange(0, 2048, 2))
    assert np.array_equal(env["Q"], np.arange(1, 2048, 2))


def test_api_page_capacity_snippet():
    out = io.StringIO()
    with contextlib.redirect_stdout(out):
        exec(PAGE_CAPACITY, {"F32Buffer": doppler.buffer.F32Buffer, "np": np})
    assert out.getvalue().split() == ["1024", "True"]


def test_api_page_docstring_examples():
    test = doctest.DocTestParser().get_doctest(PAGE_DOCTESTS, {}, "api_page", "api_page", 0)
    runner = doctest.DocTestRunner()
    runner.run(test)
    assert runner.failures == 0 and runner.tries == 13


def test_readme_example():
    blocks = re.findall(r"```python\n(.*?)```", README.read_text(), re.S)
    out = io.StringIO()
    with contextlib.redirect_stdout(out):
        exec(blocks[0], {})
    assert out.getvalue().split() == ["102400", "0"]  # what the README's comment says
