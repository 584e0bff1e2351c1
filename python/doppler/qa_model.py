# SPDX-License-Identifier: GPL-3.0-or-later
"""Model-based test: random operations on a ring and on a plain reference
model (a deque) must agree on every result and every exception type.

CI runs fixed seeds, 10^5 operations per buffer class. For a longer local run:
    DOPPLER_MODEL_OPS=3000000 DOPPLER_MODEL_SEED=$RANDOM \
        PYTHONPATH=build/python /usr/bin/python3 -m pytest -q python/doppler/qa_model.py
"""
import collections
import os
import random

import numpy as np
import pytest

from doppler.buffer import F32Buffer, F64Buffer, I16Buffer

OPS = int(os.environ.get("DOPPLER_MODEL_OPS", "100000"))
SEED = int(os.environ.get("DOPPLER_MODEL_SEED", "20261128"))

# (class, its sample dtype, dtypes it must refuse, capacities to try)
KINDS = {
    "F32": (F32Buffer, np.complex64, [np.complex128, np.float32, np.int16], [512, 1024]),
    "F64": (F64Buffer, np.complex128, [np.complex64, np.float64, np.int16], [256, 512]),
    "I16": (I16Buffer, np.int16, [np.int32, np.float32, np.complex64], [1024, 2048]),
}


class Model:
    """What the documented API promises, written as plainly as possible."""

    def __init__(self, capacity):
        self.capacity = capacity
        self.q = collections.deque()
        self.dropped = 0
        self.closed = False
        self.reported = False  # EOFError raised for this stream (once per stream)
        self.destroyed = False
        self.last_wait = 0

    def live(self):
        if self.destroyed:
            raise ValueError("destroyed")

    def write(self, items, count):
        self.live()
        if self.closed:
            raise ValueError("closed")
        if count > self.capacity:
            raise ValueError("more than capacity")
        if count == 0:
            return True
        if len(self.q) + count > self.capacity:
            self.dropped += count
            return False
        self.q.extend(items)
        return True

    def wait(self, n):
        self.live()
        if n <= 0 or n > self.capacity:
            raise ValueError("bad n")
        if len(self.q) >= n:
            self.last_wait = n
            return [self.q[i] for i in range(n)]
        if not self.closed:
            raise TimeoutError()
        if self.reported:
            # The end was reported: drop the rest of the stream and wait for
            # the next one (none comes: nobody else writes).
            self.q.clear()
            self.reported = False
            self.moved_on = True
            raise TimeoutError()
        if getattr(self, "moved_on", False):
            raise TimeoutError()
        self.reported = True
        raise EOFError()

    def consume(self, n):
        self.live()
        if n is None:
            n = self.last_wait
            if n == 0:
                raise ValueError("nothing left of the last wait")
        elif n <= 0:
            raise ValueError("n <= 0")
        if n > len(self.q):
            raise ValueError("more than readable")
        for _ in range(n):
            self.q.popleft()
        self.last_wait = self.last_wait - n if n < self.last_wait else 0
        return 0  # nothing was overwritten while held: the default reader is tethered


def outcome(fn):
    """(exception type or None, value)."""
    try:
        return None, fn()
    except (ValueError, TypeError, TimeoutError, EOFError) as e:
        return type(e), None


class Runner:
    def __init__(self, kind, rng):
        self.cls, self.dtype, self.bad_dtypes, self.capacities = KINDS[kind]
        self.i16 = kind == "I16"
        self.rng = rng
        self.seq = 0
        self.new_ring()

    def new_ring(self):
        cap = self.rng.choice(self.capacities)
        self.buf = self.cls(cap)
        assert self.buf.capacity == cap
        self.model = Model(cap)

    def samples(self, n):
        """n distinct samples (so reordering or loss shows), and their model keys."""
        seq = np.arange(self.seq, self.seq + n, dtype=np.int64)
        self.seq += n
        if self.i16:
            arr = np.stack([(seq & 0x7FFF), (seq >> 15) & 0x7FFF], axis=1).astype(np.int16)
            keys = [tuple(row) for row in arr.tolist()]
        else:
            arr = (seq + 1j * -seq).astype(self.dtype)
            keys = arr.tolist()
        return arr, keys

    def keys_of(self, view):
        return [tuple(r) for r in view.tolist()] if self.i16 else view.tolist()

    def step(self):
        rng, buf, model = self.rng, self.buf, self.model
        cap = model.capacity
        op = rng.random()
        self.op = "other"
        if op < 0.35:  # write of a random size (sometimes too big, sometimes empty)
            n = rng.choice([0, 1, rng.randrange(1, 64), rng.randrange(1, cap + 1), cap, cap + 1])
            arr, keys = self.samples(n)
            if rng.random() < 0.1 and n > 1:  # non-contiguous input is copied
                big, _ = self.samples(2 * n)
                self.seq -= 2 * n
                big[::2] = arr
                arr = big[::2]
            self.op = f"write({n}, contiguous={arr.flags.c_contiguous})"
            got = outcome(lambda: buf.write(arr))
            want = outcome(lambda: model.write(keys, n))
        elif op < 0.40:  # wrong dtype
            n = rng.randrange(1, 32)
            arr = np.zeros((n, 2) if self.i16 else n, dtype=rng.choice(self.bad_dtypes))
            got = outcome(lambda: buf.write(arr))
            want = (ValueError, None) if model.destroyed else (TypeError, None)
        elif op < 0.43:  # wrong shape
            arr = np.zeros((4, 3) if self.i16 else (4, 2), dtype=self.dtype)
            if self.i16 and rng.random() < 0.5:
                arr = np.zeros(7, dtype=np.int16)  # odd flat length
            got = outcome(lambda: buf.write(arr))
            want = (ValueError, None)
        elif op < 0.70:  # wait with a zero timeout: data, TimeoutError or EOFError
            n = rng.choice([rng.randrange(1, 64), rng.randrange(1, cap + 1), 0, -3, cap + 1])
            self.op = f"wait({n})"
            got = outcome(lambda: self.keys_of(buf.wait(n, timeout=0)))
            want = outcome(lambda: model.wait(n))
        elif op < 0.90:  # consume: default, exact, too many, bad
            n = rng.choice([None, None, 1, rng.randrange(1, cap + 1), 0, -1, cap + 1])
            self.op = f"consume({n})"
            got = outcome(lambda: buf.consume() if n is None else buf.consume(n))
            want = outcome(lambda: model.consume(n))
        elif op < 0.97:  # counters
            got = outcome(lambda: (buf.available, buf.dropped, buf.capacity))
            want = outcome(lambda: (model.live(), (len(model.q), model.dropped, cap))[1])
        elif op < 0.99:
            got = outcome(buf.close)
            want = outcome(model.live)
            if want[0] is None:
                model.closed = True
        else:  # destroy; then either stay destroyed a while or start a new ring
            buf.destroy()
            model.destroyed = True
            got = want = (None, None)
            if rng.random() < 0.7:
                self.new_ring()
        return got, want


@pytest.mark.parametrize("kind", sorted(KINDS))
def test_ring_agrees_with_model(kind):
    rng = random.Random(f"{SEED}-{kind}")
    runner = Runner(kind, rng)
    for i in range(OPS):
        got, want = runner.step()
        assert got == want, f"{kind} op {i} {runner.op} (seed {SEED}): ring {got} != model {want}"
        if runner.model.destroyed and rng.random() < 0.05:
            runner.new_ring()
    runner.buf.destroy()
