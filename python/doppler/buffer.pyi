# SPDX-License-Identifier: GPL-3.0-or-later
"""Type stubs for doppler.buffer (the extension module, python/doppler/buffer.cc).

Errors shared by all three classes:
- any call after destroy() (except destroy itself), or on an object made with
  __new__ alone: ValueError
- a name that is not a str: TypeError; one that is not a valid ring name, or
  cannot be encoded (a lone surrogate): ValueError
- a role held by another live process (a second producer or consumer):
  OSError with errno EBUSY, naming that process's pid
"""
from types import TracebackType
from typing import Any, AsyncIterator, Iterable, List, Literal, NamedTuple, Optional, Tuple, Type, TypeVar

import numpy as np
from numpy.typing import NDArray

_B = TypeVar("_B", bound="_Buffer")

WaitStrategy = Literal["park", "poll"]
"""How a handle waits in wait() and write(block=True).

'park' (the default): spin about a microsecond, then sleep on a futex until the
other side wakes it. A waiting handle costs no CPU; a wake-up takes a futex
round trip (about 10 us here).

'poll': busy-poll, never sleep. The lowest wake-up latency (about a
microsecond across processes), for one whole core spent on purpose for as long
as the handle waits. Timeouts, Ctrl-C, end of stream and a dead peer are seen
as with 'park'."""

DEFAULT_CAPACITY: int
"""Capacity (samples) of a ring whose creator does not say: 1 << 20."""

# A tag value: None, bool, int (64-bit), float, complex, str, bytes, or
# tuples, lists and dicts (str keys) of these, at most 31 containers deep
# (32 nested lists are refused, even empty ones).
TagValue = Any

class Tag(NamedTuple):
    """A tag of the window of the last wait(): absolute sample index, key, value.
    The ring adds ('stream_start', n) at the first sample of stream n,
    ('dropped', count) after refused samples, ('skipped', count) after an
    untethered reader was lapped."""
    index: int
    key: str
    value: TagValue

class _Buffer:
    # Shared shape of F32Buffer / F64Buffer / I16Buffer (not a runtime class).
    def __init__(self, capacity: int, name: Optional[str] = None, *, wait: WaitStrategy = "park") -> None:
        """In-process ring (name=None) or named ring /dev/shm/doppler.<name>.

        capacity is rounded up to a power of two and the page minimum.
        wait: how this handle waits (WaitStrategy; also the wait_strategy property).
        ValueError: capacity <= 0 or too large, bad name, wait not 'park'/'poll'
        (TypeError if not a str). FileExistsError: name taken.
        OSError (ENOSPC): /dev/shm full. MemoryError/OSError: mapping failed.
        """
    @classmethod
    def attach(
        cls: Type[_B],
        name: str,
        timeout: Optional[float] = None,
        allow_foreign: bool = False,
        *,
        reader: Optional[str] = None,
        tethered: bool = True,
        grace: Optional[float] = None,
        wait: WaitStrategy = "park",
        history: int = 0,
    ) -> _B:
        """Attach to a named ring. timeout=None: FileNotFoundError at once if missing;
        otherwise wait up to timeout seconds for it, then TimeoutError (the wait ran
        out; not a FileNotFoundError). TypeError: ring of another type.
        PermissionError: another user's ring (unless allow_foreign). OSError (EBADMSG):
        corrupt ring, or an object that is not a file (a directory, a FIFO).

        reader=None: the default reader (tethered, waited for forever). reader='NAME'
        (ring-name characters, at most 32) claims a reader with its own position now:
        OSError(EBUSY) naming the pid if a live handle reads under that name,
        OSError(EUSERS) if 16 readers are declared. tethered=False: never holds the
        producer back; lapped, it continues at the oldest intact sample (`skipped`).
        grace: seconds the producer waits for a successor of a dead tethered reader
        (None: 1 s; math.inf: forever). history=N (a new named reader): start up to
        N samples before the write index, within the current stream; untethered as
        far as the oldest intact sample, tethered never before samples the producer
        may reuse. `history` says how many it got.

        wait: how this handle waits (WaitStrategy), as for the constructor."""
    def __doppler_ring__(self) -> object:
        """A new PyCapsule named "doppler.ring_handle" sharing this buffer's ring,
        for another extension module (the GNU Radio blocks' buffer=)."""
    @property
    def capacity(self) -> int: ...
    @property
    def dropped(self) -> int: ...
    @property
    def missed_wakes(self) -> int:
        """Lost wake-ups (a wait that ended by a timeout slice although what it
        waited for had happened). 0 unless the wake-up protocol is broken."""
    @property
    def available(self) -> int: ...
    @property
    def name(self) -> Optional[str]: ...
    @property
    def written(self) -> int:
        """Total samples the producer ever wrote."""
    @property
    def read_index(self) -> int:
        """Absolute index of the first sample of the consumer's current/next view."""
    @property
    def closed(self) -> bool:
        """This handle's stream was closed: the producer's own stream, or for a
        reader the stream of its next sample (True while it drains a closed
        stream 1, even after stream 2 started; False once it reads an open one)."""
    @property
    def stream(self) -> int:
        """Number of the stream (producer run, from 1) of this reader's next sample;
        0 before the first."""
    @property
    def skipped(self) -> int:
        """Samples this (untethered) reader lost: lapped, or overwritten while held."""
    @property
    def tags_dropped(self) -> int:
        """Tags refused because the tag area was full (samples never are)."""
    @property
    def tethered(self) -> bool:
        """Whether this handle's reader holds the producer back."""
    @property
    def history(self) -> int:
        """Samples written before this named reader's claim that it starts with."""
    @property
    def wait_strategy(self) -> WaitStrategy:
        """How this handle waits in wait() and write(block=True): 'park' or 'poll'
        (WaitStrategy). Settable at any time; a wait already running keeps its
        strategy. Any other value: ValueError (TypeError if not a str)."""
    @wait_strategy.setter
    def wait_strategy(self, value: WaitStrategy) -> None: ...
    def tags(self) -> List[Tag]:
        """Tags inside the window of the last wait(), sorted by index; [] once it is
        consumed. OSError (EBADMSG) if the tag area is corrupt."""
    def consume(self, n: Optional[int] = None) -> int:
        """Release n samples (default: what is left of the last wait's count).
        Returns how many of them were overwritten while held (always 0 when
        tethered): trust what you computed from the window only if it returned 0.
        ValueError if n <= 0 or more than is readable."""
    async def wait_async(self, n: int, timeout: Optional[float] = None) -> Any:
        """wait(n, timeout) without blocking the event loop (same view and errors).
        A cancelled await claims nothing: the next wait returns the same samples. It
        completes once the buffer's worker thread has stopped waiting (within 50 ms).
        In a child after fork(), the first call makes workers of the child's own."""
    async def write_async(
        self, arr: Any, timeout: Optional[float] = None, tags: Optional[Iterable[Tuple[int, str, TagValue]]] = None
    ) -> bool:
        """write(arr, block=True, timeout, tags) without blocking the event loop; any
        length. A cancelled await completes once the worker has stopped writing
        (within 50 ms; the worker checks before every write): nothing is copied
        after it, what was copied before stays (see `written`)."""
    def views(self, n: int, timeout: Optional[float] = None) -> AsyncIterator[Any]:
        """async for view in buf.views(n): successive windows of n samples, each
        consumed after the loop body; at the end of the stream the rest (fewer
        than n), then it stops. BrokenPipeError and TimeoutError propagate."""
    def close(self) -> None:
        """End of this producer's stream: readers drain the rest, then wait() raises
        EOFError. This handle cannot write again (ValueError); another producer
        handle (the next run) starts the next stream."""
    def destroy(self) -> None:
        """Release the ring (idempotent); views already returned stay readable."""
    def __enter__(self: _B) -> _B: ...
    def __exit__(
        self,
        exc_type: Optional[Type[BaseException]],
        exc: Optional[BaseException],
        tb: Optional[TracebackType],
    ) -> bool: ...
    def __repr__(self) -> str: ...

# F64Buffer and I16Buffer repeat F32Buffer's methods with their own dtypes.
class F32Buffer(_Buffer):
    """Lock-free ring (one producer, up to 16 readers) of complex64 samples (min capacity 512)."""
    def write(
        self,
        arr: NDArray[np.complex64],
        block: bool = False,
        timeout: Optional[float] = None,
        tags: Optional[Iterable[Tuple[int, str, TagValue]]] = None,
    ) -> bool:
        """Write all of arr (1-D complex64) or nothing.

        block=False: returns False (and counts dropped) if it does not fit.
        block=True: lossless, any length; copies what fits as room appears (so a consumer
        waiting for any count up to capacity is served, and an array longer than the
        capacity streams through while readers read), returns True once all is written;
        TimeoutError (its message says how many trailing samples were not written),
        BrokenPipeError (consumer died and none re-attached within the timeout).
        KeyboardInterrupt (Ctrl-C) may come after part of arr was written: `written`
        tells how far it got.
        Non-contiguous input is copied once. Empty input returns True.
        TypeError: wrong dtype or not an ndarray. ValueError: wrong shape, more than capacity
        with block=False (all or nothing: it could never fit), or this handle closed its
        stream (even for an empty array).
        tags: (offset, key, value) with 0 <= offset < len(arr), carried to readers at
        index written + offset; a bad tag is TypeError/ValueError and nothing is written.
        """
    def wait(self, n: int, timeout: Optional[float] = None) -> NDArray[np.complex64]:
        """Read-only zero-copy view of the next n samples, shape (n,).

        Never spans two streams. TimeoutError; EOFError once fewer than n samples of a
        closed stream remain (drain with wait(buf.available)); BrokenPipeError if the
        stream's producer died; the next wait then waits for the next stream.
        KeyboardInterrupt on Ctrl-C; ValueError if n <= 0 or n > capacity."""

class F64Buffer(_Buffer):
    """Lock-free ring (one producer, up to 16 readers) of complex128 samples (min capacity 256)."""
    def write(
        self,
        arr: NDArray[np.complex128],
        block: bool = False,
        timeout: Optional[float] = None,
        tags: Optional[Iterable[Tuple[int, str, TagValue]]] = None,
    ) -> bool:
        """As F32Buffer.write, for 1-D complex128."""
    def wait(self, n: int, timeout: Optional[float] = None) -> NDArray[np.complex128]:
        """As F32Buffer.wait; view of shape (n,) complex128."""

class I16Buffer(_Buffer):
    """Lock-free ring (one producer, up to 16 readers) of interleaved int16 I/Q pairs (min capacity 1024)."""
    def write(
        self,
        arr: NDArray[np.int16],
        block: bool = False,
        timeout: Optional[float] = None,
        tags: Optional[Iterable[Tuple[int, str, TagValue]]] = None,
    ) -> bool:
        """As F32Buffer.write, for int16 of shape (n, 2) or flat int16 of even length
        (odd length: ValueError)."""
    def wait(self, n: int, timeout: Optional[float] = None) -> NDArray[np.int16]:
        """As F32Buffer.wait; view of shape (n, 2): column 0 is I, column 1 is Q."""
