# SPDX-License-Identifier: GPL-3.0-or-later
"""doppler-play: play a SigMF recording into a ring.

    doppler-play PATH RING [--rate recorded|HZ] [--loop] [--capacity N] [--timeout S]

writes the samples of the recording PATH (PATH.sigmf-data, PATH.sigmf-meta;
cf32_le, cf64_le or ci16_le) into the named ring RING, as its producer:
RING is created (of the recording's type: f32, f64 or i16) if it does not
exist, otherwise attached. In Python: doppler.play.play(path, ring, ...),
which returns how many samples it wrote.

The timing travels as the tags a GNU Radio source gives, so a consumer
written against doppler-play runs unchanged against a live flowgraph: at
the first sample of each capture, rx_rate (float, core:sample_rate),
rx_freq (float, core:frequency) and rx_time ((whole seconds, fraction), as
GNU Radio's rx_time, from core:datetime), each where the meta has it. Each
annotation becomes a tag at its first sample, its core:label as the key
(and "annotation" without one) and as the value doppler:count or
doppler:value where doppler-record put one (so a recorded gap arrives as
("dropped", count) or ("skipped", count), as the live ring said it, and a
new sample rate as ("rx_rate", rate)), otherwise the core:comment,
otherwise the core:sample_count.

Pace: by default as fast as the ring's readers take it, losslessly
(write(block=True): the producer waits for its tethered readers);
--rate recorded paces the writes by the clock at core:sample_rate, --rate HZ
at HZ samples a second. --loop plays the recording again and again (with its
capture tags again at each start) until interrupted. One play is one stream:
the ring's stream is closed at the end (readers get EOFError), also after
Ctrl-C or SIGTERM. A ring doppler-play created stays until its reader has
read the whole stream (or Ctrl-C), so a consumer may attach after it.

Exit status: 0 done, 1 an error (the message says what), 2 usage.
"""
import argparse
import signal
import sys
import threading
import time
import types

from . import __version__, sigmf
from . import buffer as dbuf

CLASS_OF = {"cf32_le": dbuf.F32Buffer, "cf64_le": dbuf.F64Buffer, "ci16_le": dbuf.I16Buffer}
CHUNK = 1 << 16  # samples per write, at most (and at most a quarter of the ring)
TICK = 0.1  # seconds a blocking write waits at most: how soon a stop request is seen


def tags_of(meta):
    """{sample index: [(key, value), ...]} of a recording's meta: the capture
    tags (rx_rate, rx_freq, rx_time) and one tag per annotation. An rx_rate
    annotation (a new sample rate, doppler:value) changes the rx_rate of the
    captures after it."""
    rate = meta["global"].get("core:sample_rate")
    new_rates = sorted((a["core:sample_start"], float(a["doppler:value"])) for a in meta["annotations"]
                       if a.get("core:label") == "rx_rate" and "doppler:value" in a)
    out = {}
    for c in meta["captures"]:
        i = c["core:sample_start"]
        while new_rates and new_rates[0][0] <= i:
            rate = new_rates.pop(0)[1]
        at = out.setdefault(i, [])
        if rate is not None:
            at.append(("rx_rate", float(rate)))
        if "core:frequency" in c:
            at.append(("rx_freq", float(c["core:frequency"])))
        if "core:datetime" in c:
            at.append(("rx_time", sigmf.parse_datetime(c["core:datetime"])))
    for a in meta["annotations"]:
        if "doppler:count" in a:
            value = a["doppler:count"]
        elif "doppler:value" in a:
            value = a["doppler:value"]
        elif "core:comment" in a:
            value = a["core:comment"]
        else:
            value = a.get("core:sample_count", 0)
        out.setdefault(a["core:sample_start"], []).append((a.get("core:label", "annotation"), value))
    return out


def open_ring(ring, cls, capacity=None, timeout=None):
    """The named ring `ring` of class `cls` for writing, and whether it was
    created here: created (capacity samples, default the rings' default) if
    missing, attached otherwise."""
    try:
        return cls(capacity or dbuf.DEFAULT_CAPACITY, name=ring), True
    except FileExistsError:
        return cls.attach(ring, timeout=timeout), False


def _drained(buf, stop, timeout):
    """Wait until the ring's reader has read all of the closed stream (a
    ring play created goes away with it: a consumer that attaches late must
    still find the samples), or `stop`, or `timeout` seconds."""
    deadline = None if timeout is None else time.monotonic() + timeout
    while buf.available and not stop.is_set():
        if deadline is not None and time.monotonic() > deadline:
            return
        stop.wait(0.01)


def play(path, ring, *, rate=None, loop=False, capacity=None, timeout=None, stop=None):
    """Play the SigMF recording `path` into the named ring `ring` (created
    if missing); see the module's documentation. rate: None (as fast as the
    readers take it), "recorded" (core:sample_rate) or samples a second.
    loop: again and again until `stop` (a threading.Event) is set.
    timeout: seconds a blocking write may wait for room before TimeoutError
    (None: forever). Returns the number of samples written."""
    meta, data = sigmf.load(path)
    datatype = meta["global"]["core:datatype"]
    if rate == "recorded":
        rate = meta["global"].get("core:sample_rate")
        if rate is None:
            raise ValueError(f"{sigmf.meta_path(sigmf.base_of(path))} has no core:sample_rate: "
                             "give --rate HZ, or play it unpaced")
    rate = None if rate is None else float(rate)
    if rate is not None and rate <= 0:
        raise ValueError(f"rate {rate} must be positive")
    stop = stop or threading.Event()
    tags = tags_of(meta)
    n = len(data)
    tag_at = sorted(i for i in tags if i < n)
    buf, created = open_ring(ring, CLASS_OF[datatype], capacity, timeout)
    written = 0
    try:
        chunk = max(1, min(CHUNK, buf.capacity // 4))
        if rate is not None:  # about 10 ms of samples per write, so the pace is smooth
            chunk = max(1, min(chunk, int(rate / 100)))
        started = time.monotonic()
        while not stop.is_set():
            pos, ti = 0, 0
            while pos < n and not stop.is_set():
                m = min(chunk, n - pos)
                while ti < len(tag_at) and tag_at[ti] < pos:
                    ti += 1
                batch, tj = [], ti
                while tj < len(tag_at) and tag_at[tj] < pos + m:
                    batch += [(tag_at[tj] - pos, k, v) for k, v in tags[tag_at[tj]]]
                    tj += 1
                if rate is not None:  # wait until the clock says these samples are due
                    due = started + written / rate
                    delay = due - time.monotonic()
                    if delay > 0 and stop.wait(delay):
                        break
                done = _write(buf, data[pos:pos + m], batch, timeout, stop)
                written += done
                pos += done
                if done < m:  # stopped
                    break
            if not loop or n == 0:
                break
    except KeyboardInterrupt:
        pass
    finally:
        buf.close()
        try:
            if created:
                _drained(buf, stop, timeout)
        except KeyboardInterrupt:
            pass
        finally:
            buf.destroy()
    return written


def _write(buf, samples, tags, timeout, stop):
    """Write `samples` (with `tags`) losslessly, waiting at most TICK at a
    time so that `stop` is seen; returns how many were written (all of them
    unless stopped). A write that waited `timeout` seconds in all raises
    TimeoutError."""
    waited, done, n = 0.0, 0, len(samples)
    while True:
        before = buf.written
        try:
            buf.write(samples[done:], block=True, timeout=TICK, tags=tags or None)
            return n
        except TimeoutError:
            # What fitted is in the ring (with its tags): write only the rest next time.
            moved = buf.written - before
            tags = [(o - moved, k, v) for o, k, v in tags if o >= moved]
            done += moved
            waited = 0.0 if moved else waited + TICK
            if stop.is_set():
                return done
            if timeout is not None and waited >= timeout:
                raise


def _parser():
    p = argparse.ArgumentParser(prog="doppler-play",
                                description="Play a SigMF recording (cf32_le, cf64_le, ci16_le) into a doppler ring.")
    p.add_argument("path", metavar="PATH", help="the recording: PATH.sigmf-meta and PATH.sigmf-data")
    p.add_argument("ring", metavar="RING", help="name of the ring (created if missing)")
    p.add_argument("--rate", metavar="recorded|HZ",
                   help="pace by the clock: at core:sample_rate (recorded) or HZ (default: as fast as read)")
    p.add_argument("--loop", action="store_true", help="play again and again until interrupted")
    p.add_argument("--capacity", type=int, help="capacity of a ring created (samples)")
    p.add_argument("--timeout", type=float, metavar="S",
                   help="give up when the readers take nothing for S seconds (default: wait)")
    p.add_argument("--version", action="version", version=f"doppler-play {__version__}")
    return p


def main(argv=None):
    p = _parser()
    args = p.parse_args(argv)
    rate = args.rate
    if rate not in (None, "recorded"):
        try:
            rate = float(rate)
        except ValueError:
            p.error(f"--rate {rate!r}: give 'recorded' or a number of samples a second")
    stop = threading.Event()
    for sig in (signal.SIGINT, signal.SIGTERM):
        signal.signal(sig, lambda *_: stop.set())
    try:
        n = play(args.path, args.ring, rate=rate, loop=args.loop, capacity=args.capacity,
                 timeout=args.timeout, stop=stop)
    except ValueError as e:
        print(f"doppler-play: {e}", file=sys.stderr)
        return 2 if not isinstance(e, sigmf.SigMFError) else 1
    except (OSError, TypeError, TimeoutError) as e:
        print(f"doppler-play: {e}", file=sys.stderr)
        return 1
    print(f"doppler-play: {n} samples into ring '{args.ring}'")
    return 0


# Mirrors record.py's _CallableModule: each module calls its own function.
class _CallableModule(types.ModuleType):
    """This module's type: calling the module calls play() (doppler.play(...))."""

    def __call__(self, *args, **kwargs):
        return play(*args, **kwargs)


sys.modules[__name__].__class__ = _CallableModule

if __name__ == "__main__":
    sys.exit(main())
