# SPDX-License-Identifier: GPL-3.0-or-later
"""doppler-record: record a ring into a SigMF recording.

    doppler-record RING PATH [--duration S | --samples N] [--streams K]
                   [--reader NAME] [--tethered] [--rate HZ] [--split-streams]
                   [--max-bytes B] [--as cf32 [--scale X]] [--timeout S]
                   [--pre S --rate HZ] [--background]

reads the named ring RING as a reader of its own ("record" unless --reader
says otherwise) and writes PATH.sigmf-data (the samples, in the ring's own
type: cf32_le, cf64_le or ci16_le) and PATH.sigmf-meta (SigMF 1.2.0, see
doppler/sigmf.py). In Python: doppler.record.record(ring, path, ...), which
returns a Summary.

What goes into the meta:

- global: core:datatype, core:sample_rate (the first rx_rate tag, or
  --rate), core:version, core:recorder ("doppler-record <version>"),
  core:description (which ring, which reader);
- a capture at sample 0 and wherever the timing changes: an rx_freq tag of
  another frequency (core:frequency), an rx_time tag that does not continue
  the previous time at the sample rate (core:datetime, ISO 8601 UTC from
  rx_time's whole seconds and fraction), a gap and a stream seam (below);
- an annotation at every place where the data is not continuous:
  "dropped" (the producer refused samples: its ring was full, drop policy),
  "skipped" (this untethered reader was lapped: samples overwritten before
  it read them), "overwritten" (samples overwritten while the recorder held
  them: they are in the file, but are not what was written at that place),
  "stream_seam" (the producer's run ended and the next run starts here),
  "rx_rate" (the sample rate changed; core:sample_rate is the first).
  Gaps are zero-length annotations at the first sample after the gap, with
  the number of lost samples in doppler:count and core:comment.

--pre S starts the recording S seconds (S * --rate samples) before the
recorder attached: the ring hands a new named reader its history, within
the producer's current run and as far back as it still holds the samples
(Summary.pre, and core:description, say how many it got).

The reader is untethered by default: a recorder never holds the radio back,
and what it could not keep up with is annotated. --tethered makes it
lossless (the producer waits for the recorder, or drops in drop policy).
--background (untethered only) also keeps it from taking CPU time from the
live consumers: it reads at idle priority (SCHED_IDLE), so where the
processors are busy it records what they leave time for and annotates the
rest as skipped.

The .sigmf-meta is always a whole JSON document: it is written atomically
(temp file + rename) when the recording starts, every two seconds, when a
file is rotated and at the end. A full disk (ENOSPC) stops the recording
with a clear error, the data file cut back to its last whole sample and the
meta rewritten to match, so what was recorded stays a valid recording.
Ctrl-C (SIGINT) or SIGTERM ends the recording cleanly (exit status 0).

Exit status: 0 done, 1 an error (the message says what), 2 usage.
"""
import argparse
import contextlib
import errno
import os
import signal
import sys
import threading
import time
import types

import numpy as np

from . import __version__, sigmf
from . import buffer as dbuf

TYPES = {"f32": dbuf.F32Buffer, "f64": dbuf.F64Buffer, "i16": dbuf.I16Buffer}

META_EVERY = 2.0  # seconds between two rewrites of a growing recording's meta
TICK = 0.1  # seconds a wait lasts at most: how soon a stop request is seen


class RecordError(Exception):
    """The recording could not go on; the message says why and what was kept."""


class _WriteError(OSError):
    """Writing the data file failed (a full disk): not an error of the ring."""


class Summary:
    """What record() did: `files` (the base paths written, in order),
    `samples` (how many were recorded), `gaps` (annotated gaps: dropped,
    skipped, overwritten, seams), `lost` (samples the gaps lost or spoiled),
    `streams` (producer runs seen, whole or in part), `type` of the ring,
    `pre` (samples from before the recorder attached, with pre=)."""

    def __init__(self):
        self.files, self.samples, self.gaps, self.lost, self.streams, self.type = [], 0, 0, 0, 0, None
        self.pre = 0

    def __repr__(self):
        return (f"Summary(files={self.files!r}, samples={self.samples}, gaps={self.gaps}, "
                f"lost={self.lost}, streams={self.streams}, type={self.type!r}, pre={self.pre})")


def attach(ring, *, reader, tethered, timeout=None, history=None):
    """The named ring `ring` as a reader called `reader`, whatever its type:
    (buffer, type). timeout: seconds to wait for the ring to appear."""
    extra = {} if history is None else {"history": history}
    if reader is not None:  # the default reader (reader=None) is always tethered
        extra["tethered"] = tethered
    first_error = None
    for t, cls in TYPES.items():
        try:
            return cls.attach(ring, timeout=timeout, reader=reader, **extra), t
        except TypeError as e:  # a ring of another type: try the next class
            if "holds" not in str(e):
                raise
            first_error = first_error or e
            timeout = None  # the ring is there now
    raise first_error


def history_supported():
    """Whether the rings can hand a new reader samples written before it
    attached (attach(..., history=N))."""
    return "history" in (dbuf.F32Buffer.attach.__doc__ or "")


class _File:
    """One recording being written: BASE.sigmf-data open for appending, the
    meta's captures and annotations so far, and how many samples it holds."""

    def __init__(self, base, global_fields, itemsize):
        self.base, self.itemsize = base, itemsize
        self.global_fields = global_fields  # shared: the sample rate may come later
        self.captures, self.annotations = [{"core:sample_start": 0}], []
        self.n = 0
        self.fd = os.open(sigmf.data_path(base), os.O_WRONLY | os.O_CREAT | os.O_TRUNC | os.O_CLOEXEC, 0o644)
        self.meta_time = 0.0
        self.write_meta()

    def meta(self):
        g = dict(self.global_fields)
        if any(k.startswith("doppler:") for a in self.annotations for k in a):
            g["core:extensions"] = [sigmf.EXTENSION]
        return {"global": g, "captures": self.captures,
                "annotations": sorted(self.annotations, key=lambda a: a["core:sample_start"])}

    def write_meta(self):
        try:
            sigmf.write_meta(self.base, self.meta())
        except OSError as e:  # the old meta stays, whole
            raise _WriteError(e.errno, f"{sigmf.meta_path(self.base)}: {e.strerror}") from e
        self.meta_time = time.monotonic()

    def capture(self, index, fields):
        """Start a capture at `index` with `fields` (core:frequency,
        core:datetime); at an index that already starts one, update it."""
        last = self.captures[-1]
        if last["core:sample_start"] == index:
            last.update(fields)
        else:
            self.captures.append({"core:sample_start": index, **fields})

    def append(self, data):
        """Write `data` (an array of whole samples) at the end of the data file."""
        mv = memoryview(np.ascontiguousarray(data)).cast("B")
        done = 0
        try:
            while done < len(mv):
                done += os.write(self.fd, mv[done:])
        except OSError as e:
            # Keep the whole samples that were written and cut the file
            # back to the last of them: the data file stays a whole number
            # of samples of the datatype.
            kept = done // self.itemsize
            self.n += kept
            os.ftruncate(self.fd, self.n * self.itemsize)
            err = _WriteError(e.errno, e.strerror)
            err.kept = kept
            raise err from e
        self.n += len(mv) // self.itemsize

    def trim(self):
        """Forget captures and annotations past the data (after a write failed)."""
        self.captures = [c for c in self.captures if c["core:sample_start"] < self.n or
                         c["core:sample_start"] == 0]
        self.annotations = [a for a in self.annotations
                            if a["core:sample_start"] + a.get("core:sample_count", 0) <= self.n]

    def close(self):
        """Flush the data to disk and write the final meta."""
        try:
            os.fsync(self.fd)
        except OSError as e:
            if e.errno != errno.EINVAL:  # EINVAL: not a file that can be synced (/dev/null, a FIFO)
                raise _WriteError(e.errno, e.strerror) from e
        finally:
            os.close(self.fd)
        self.write_meta()


class _Recorder:
    """The state of one record() call across its files: the current
    frequency and time anchor, the gaps, the rotation counters."""

    def __init__(self, path, ring_type, *, ring, reader, tethered, rate, split_streams,
                 max_bytes, as_type, scale):
        self.path, self.ring_type = path, ring_type
        self.split_streams, self.max_bytes = split_streams, max_bytes
        self.scale = scale
        datatype = sigmf.DATATYPES[ring_type]
        self.convert = as_type is not None and as_type != datatype
        if self.convert:
            datatype = as_type
        self.itemsize = sigmf.sample_bytes(datatype)
        if max_bytes is not None and max_bytes < self.itemsize:
            raise ValueError(f"--max-bytes {max_bytes} is less than one {datatype} sample ({self.itemsize} bytes)")
        self.global_fields = {
            "core:datatype": datatype,
            "core:version": sigmf.SPEC_VERSION,
            "core:recorder": f"doppler-record {__version__}",
            "core:description": (f"ring '{ring}' ({ring_type}) read as its default reader" if reader is None
                                 else f"ring '{ring}' ({ring_type}) read as reader '{reader}', "
                                 f"{'tethered' if tethered else 'untethered'}"),
        }
        self.rate = None
        if rate is not None:
            self.set_rate(float(rate))
        self.rate_fixed = rate is not None
        self.freq = None  # Hz, from the last rx_freq tag
        # The time anchor: file index `anchor_index` was at (secs, frac).
        self.anchor = None  # (index in the current file, secs, frac)
        self.stream_count = 0  # --split-streams: the streams begun
        self.part = 0  # --max-bytes: the files begun in this stream's series
        self.file = None
        self.summary = Summary()
        self.summary.type = ring_type
        self.pending_close = []  # files rotated out during the current window
        self.last_end = None  # how the previous stream ended: "closed" or "died"
        self.seen = set()  # the producer runs (ring stream numbers) with samples in the recording

    # --- the sample rate and the time ---

    def set_rate(self, rate):
        self.rate = rate
        self.global_fields["core:sample_rate"] = rate

    def time_at(self, index):
        """(secs, frac) of file index `index` from the anchor, or None."""
        if self.anchor is None or self.rate is None:
            return None
        i0, secs, frac = self.anchor
        t = frac + (index - i0) / self.rate
        whole = int(np.floor(t))
        return secs + whole, t - whole

    def timing(self, index):
        """The capture fields that hold at file index `index`."""
        fields = {}
        if self.freq is not None:
            fields["core:frequency"] = self.freq
        t = self.time_at(index)
        if t is not None:
            fields["core:datetime"] = sigmf.format_datetime(*t)
        return fields

    # --- files ---

    def base(self):
        base = self.path
        if self.split_streams:
            base += f"-s{self.stream_count:04d}"
        if self.max_bytes is not None:
            base += f"-{self.part:04d}"
        return base

    def open_file(self):
        """Begin the next file: its first capture says what holds at its sample 0."""
        self.part += 1
        # The anchor moves to the new file's sample 0.
        t = self.time_at(self.file.n) if self.file else None
        self.anchor = (0, *t) if t else None
        self.file = _File(self.base(), self.global_fields, self.itemsize)
        self.file.capture(0, self.timing(0))
        self.summary.files.append(self.file.base)

    def rotate(self):
        old = self.file
        self.open_file()
        self.pending_close.append(old)

    def finish_pending(self):
        for f in self.pending_close:
            f.close()
        self.pending_close = []

    # --- tags ---

    def annotate(self, index, label, count, comment, length=0):
        a = {"core:sample_start": index, "core:sample_count": length, "core:label": label,
             "core:comment": comment, "doppler:count": int(count)}
        self.file.annotations.append(a)
        self.summary.gaps += 1
        self.summary.lost += int(count)

    def on_tag(self, index, key, value):
        """Act on a tag at file index `index` (before the samples from there
        on are written). A timing tag whose value is not what GNU Radio
        gives (rx_freq, rx_rate a number; rx_time (secs, frac)) is ignored:
        one bad tag must not end a recording."""
        try:
            self._on_tag(index, key, value)
        except (TypeError, ValueError, IndexError, OverflowError):
            if key in ("stream_start", "dropped", "skipped"):  # the ring's own: always well formed
                raise

    def _on_tag(self, index, key, value):
        f = self.file
        if key == "stream_start":
            if self.split_streams and f.n > 0:
                self.stream_count += 1
                self.part = 0
                self.rotate()
                self.anchor = None
                self.freq = None
                self.file.captures[-1] = {"core:sample_start": 0}
                return
            if f.n > 0 or index > 0:
                how = {"died": "its producer died", "closed": "it was closed"}.get(self.last_end, "it ended")
                self.annotate(index, "stream_seam", 0,
                              f"producer run {value} starts here; the previous run ended before this sample "
                              f"({how}): the samples before and after are not continuous")
            # The next run's frequency and time are unknown until its tags say.
            self.anchor = None
            self.freq = None
            f.capture(index, {})
        elif key in ("dropped", "skipped"):
            why = ("the producer refused them (its ring was full)" if key == "dropped"
                   else "they were overwritten before this untethered reader read them (lapped)")
            self.annotate(index, key, value, f"{value} samples missing before this sample: {why}")
            if self.anchor is not None:  # the time goes on across the gap
                i0, secs, frac = self.anchor
                self.anchor = (i0 - int(value), secs, frac)
                f.capture(index, self.timing(index))
        elif key == "rx_freq":
            freq = float(value)
            if freq != self.freq:
                self.freq = freq
                f.capture(index, self.timing(index))
        elif key == "rx_rate":
            rate = float(value)
            if self.rate is None and not self.rate_fixed:
                self.set_rate(rate)
            elif rate != self.rate:
                self.file.annotations.append({
                    "core:sample_start": index, "core:sample_count": 0, "core:label": "rx_rate",
                    "core:comment": f"the sample rate is {rate} Hz from here on "
                                    f"(core:sample_rate says {self.rate})",
                    "doppler:value": rate})
        elif key == "rx_time":
            secs, frac = int(value[0]), float(value[1])
            expected = self.time_at(index)
            if expected is not None:
                off = (secs - expected[0]) + (frac - expected[1])
                if abs(off) * self.rate < 0.5:  # continues the previous time: no new capture
                    return
            self.anchor = (index, secs, frac)
            f.capture(index, self.timing(index))

    # --- samples ---

    def room(self):
        """Samples the current file takes before it must be rotated."""
        if self.max_bytes is None:
            return None
        return self.max_bytes // self.itemsize - self.file.n

    def record(self, view, tags, start):
        """Write the window `view` (whose first sample is absolute index
        `start`) with its tags. Returns [(file, file index, count), ...]:
        where its samples went."""
        if self.convert:
            if self.ring_type == "i16":
                view = (view.astype(np.float32) * np.float32(self.scale)).view(np.complex64).reshape(-1)
            else:
                view = view.astype(np.complex64)
        n, pos, pieces = len(view), 0, []
        tags = sorted(((t.index - start, t.key, t.value) for t in tags), key=lambda t: t[0])
        ti = 0
        while pos < n:
            room = self.room()
            if room == 0:
                self.rotate()
                continue
            m = n - pos if room is None else min(n - pos, room)
            while ti < len(tags) and tags[ti][0] < pos + m:
                off, key, value = tags[ti]
                self.on_tag(self.file.n + max(off, pos) - pos, key, value)
                ti += 1
            f = self.file
            pieces.append((f, f.n, m))
            try:
                f.append(view[pos:pos + m])
            except _WriteError as e:
                self.summary.samples += e.kept
                raise
            self.summary.samples += m
            pos += m
        return pieces

    def overwritten(self, pieces, k):
        """The first k samples of the pieces just written were overwritten
        while held: annotate them where they are."""
        for f, i, m in pieces:
            if k <= 0:
                break
            c = min(k, m)
            f.annotations.append({
                "core:sample_start": i, "core:sample_count": c, "core:label": "overwritten",
                "core:comment": (f"{c} samples overwritten by the producer while the recorder held them "
                                 f"(untethered reader lapped): they are not what was written here"),
                "doppler:count": c})
            self.summary.lost += c
            k -= c
        self.summary.gaps += 1


def record(ring, path, *, reader="record", tethered=False, duration=None, samples=None, streams=None,
           rate=None, split_streams=False, max_bytes=None, as_type=None, scale=1.0 / 32768,
           timeout=None, pre=None, chunk=None, progress=None, stop=None, background=False):
    """Record the named ring `ring` into the SigMF recording `path`
    (path.sigmf-data and path.sigmf-meta); see the module's documentation.

    reader, tethered: the reader the recorder reads as (reader=None: the
    ring's default reader, always tethered). Ends after `duration`
    seconds or `samples` samples or `streams` ends of producer runs, when
    `stop` (a threading.Event) is set, or on KeyboardInterrupt; otherwise
    records run after run. rate: core:sample_rate if no rx_rate tag says.
    split_streams: one recording per producer run (path-s0001, ...).
    max_bytes: rotate the data file at that size (path-0001, ...). as_type
    "cf32_le": convert i16 (times `scale`) or f64 samples to complex64.
    timeout: seconds to wait for the ring to appear. pre: seconds of samples
    from before the recorder attached (pre * rate samples of the ring's
    history, within the producer's current run and as far back as the ring
    still holds them; needs `rate` and a named reader). chunk: samples per
    read. background: read at idle priority (SCHED_IDLE) in the calling
    thread while recording (untethered readers only); the thread's policy is
    restored afterwards where the system allows it (leaving SCHED_IDLE
    needs RLIMIT_NICE room without privileges).
    progress: a file to print a progress line to (a terminal), or None.
    Returns a Summary. RecordError on a full disk (what was recorded stays a
    valid recording)."""
    if as_type not in (None, "cf32", "cf32_le"):
        raise ValueError(f"--as {as_type!r}: the only conversion is to cf32 (complex64)")
    as_type = "cf32_le" if as_type else None
    if samples is not None and samples < 0:
        raise ValueError("samples must be >= 0")
    history = None
    if pre:
        if not history_supported():
            raise ValueError("--pre is not supported by this build: its rings keep no history for a reader "
                             "that attaches late (attach(..., history=N)); start doppler-record before the producer")
        if reader is None:
            raise ValueError("--pre needs a named reader (--reader NAME): the default reader has no history")
        if rate is None:
            raise ValueError("--pre S needs --rate HZ: the recorder asks the ring for S * HZ samples "
                             "written before it attached")
        if pre < 0:
            raise ValueError(f"--pre {pre}: give seconds >= 0")
        history = int(round(pre * rate))
    if background and (tethered or reader is None):
        raise ValueError("--background needs an untethered reader (no --tethered, a reader name): a tethered "
                         "recorder at idle priority would hold the producer back whenever the processors are busy")
    stop = stop or threading.Event()
    # Idle before the reader is declared: from then on, whoever sees it sees it idle.
    with _idle_priority(background):
        buf, ring_type = attach(ring, reader=reader, tethered=tethered, timeout=timeout, history=history)
        rec = None
        try:
            rec = _Recorder(path, ring_type, ring=ring, reader=reader, tethered=tethered, rate=rate,
                            split_streams=split_streams, max_bytes=max_bytes, as_type=as_type, scale=scale)
            if split_streams:
                rec.stream_count = 1
            if history:
                # What the ring gave: at most the samples of the current stream it still holds.
                rec.summary.pre = buf.history
                rec.global_fields["core:description"] += (
                    f"; starts {buf.history} samples ({buf.history / rate:g} s) before the recorder attached "
                    f"(--pre {pre:g} asked for {history})")
            rec.open_file()
            try:
                _loop(rec, buf, duration=duration, samples=samples, streams=streams,
                      chunk=chunk or max(1, min(buf.capacity // 4, 1 << 16)), progress=progress, stop=stop)
            except _WriteError as e:
                # The meta must not name samples the data file no longer holds.
                rec.file.trim()
                for f in [rec.file] + rec.pending_close:
                    try:
                        f.close()
                    except OSError:  # no room for the new meta either: the last one stays, and is valid
                        pass
                rec.pending_close = []
                rec.summary_file, rec.file = rec.file, None
                raise _disk_full(rec, e) from None
        finally:
            try:
                if rec is not None:
                    rec.summary.streams = len(rec.seen)
                    if rec.file is not None:
                        rec.finish_pending()
                        rec.file.close()
            finally:
                buf.destroy()
    return rec.summary


@contextlib.contextmanager
def _idle_priority(on):
    """SCHED_IDLE inside the block if `on` (a background recorder), the
    scheduling policy from before after it."""
    if not on:
        yield
        return
    was = (os.sched_getscheduler(0), os.sched_getparam(0))
    os.sched_setscheduler(0, os.SCHED_IDLE, os.sched_param(0))
    try:
        yield
    finally:
        try:
            os.sched_setscheduler(0, *was)
        except PermissionError:  # leaving SCHED_IDLE may need RLIMIT_NICE room
            pass


def _loop(rec, buf, *, duration, samples, streams, chunk, progress, stop):
    started = time.monotonic()
    shown = started
    ended = 0
    while not stop.is_set():
        now = time.monotonic()
        if duration is not None and now - started >= duration:
            break
        left = None if samples is None else samples - rec.summary.samples
        if left == 0:
            break
        want = chunk if left is None else min(chunk, left)
        end = None
        try:
            view = buf.wait(want, timeout=TICK)
        except TimeoutError:  # a slow stream: record what is there
            view = buf.wait(min(buf.available, want)) if buf.available else None
        except (EOFError, BrokenPipeError) as e:  # the end of a producer run: its rest
            end = "closed" if isinstance(e, EOFError) else "died"
            view = buf.wait(min(buf.available, want)) if buf.available else None
        except KeyboardInterrupt:
            break
        if view is not None:
            rec.seen.add(buf.stream)  # before consume: the stream of the window's samples
            start = buf.read_index
            pieces = rec.record(view, buf.tags(), start)
            lost = buf.consume(len(view))
            if lost:
                rec.overwritten(pieces, lost)
            rec.finish_pending()
        if end and not buf.available:
            rec.last_end = end
            ended += 1
            if streams is not None and ended >= streams:
                break
        now = time.monotonic()
        if now - rec.file.meta_time >= META_EVERY:
            rec.file.write_meta()
        if progress is not None and now - shown >= 0.5:
            shown = now
            _show(progress, rec.summary, now - started)
    if progress is not None:
        _show(progress, rec.summary, time.monotonic() - started)
        progress.write("\n")


def _show(out, s, elapsed):
    rate = s.samples / elapsed if elapsed > 0 else 0.0
    out.write(f"\rdoppler-record: {s.samples:,} samples, {rate / 1e6:.2f} MS/s, "
              f"{s.gaps} gaps ({s.lost:,} samples lost)   ")
    out.flush()


def _parser():
    p = argparse.ArgumentParser(
        prog="doppler-record", description="Record a doppler ring into a SigMF recording "
        "(PATH.sigmf-data, PATH.sigmf-meta).")
    p.add_argument("ring", metavar="RING", help="name of the ring (/dev/shm/doppler.RING)")
    p.add_argument("path", metavar="PATH", help="recording base name: PATH.sigmf-data and PATH.sigmf-meta")
    p.add_argument("--duration", type=float, metavar="S", help="stop after S seconds")
    p.add_argument("--samples", type=int, metavar="N", help="stop after N samples")
    p.add_argument("--streams", type=int, metavar="K", help="stop at the end of the K-th producer run")
    p.add_argument("--reader", default="record",
                   help="reader name (default: record); '' reads as the ring's default reader (its one consumer)")
    p.add_argument("--tethered", action="store_true",
                   help="lossless: the producer waits for the recorder (default: untethered, gaps annotated)")
    p.add_argument("--rate", type=float, metavar="HZ", help="core:sample_rate when no rx_rate tag says")
    p.add_argument("--split-streams", action="store_true",
                   help="one recording per producer run: PATH-s0001, PATH-s0002, ...")
    p.add_argument("--max-bytes", type=int, metavar="B", help="rotate the data file at B bytes: PATH-0001, ...")
    p.add_argument("--as", dest="as_type", choices=["cf32"], help="store complex64 (i16: times --scale)")
    p.add_argument("--scale", type=float, default=1.0 / 32768, help="i16 to cf32 factor (default 1/32768)")
    p.add_argument("--timeout", type=float, metavar="S", help="wait up to S seconds for the ring to appear")
    p.add_argument("--pre", type=float, metavar="S",
                   help="start S seconds before attaching (with --rate; as far back as the ring holds, "
                        "within the producer's current run)")
    p.add_argument("--background", action="store_true",
                   help="untethered only: read at idle priority (SCHED_IDLE), taking no CPU time from busy "
                   "processes; what it has no time for is annotated as skipped")
    p.add_argument("--version", action="version", version=f"doppler-record {__version__}")
    return p


def main(argv=None):
    args = _parser().parse_args(argv)
    stop = threading.Event()
    # Ctrl-C and SIGTERM end the recording cleanly: the loop sees the flag
    # within TICK and the files are closed as at any other end.
    for sig in (signal.SIGINT, signal.SIGTERM):
        signal.signal(sig, lambda *_: stop.set())
    try:
        s = record(args.ring, args.path, reader=args.reader or None, tethered=args.tethered, duration=args.duration,
                   samples=args.samples, streams=args.streams, rate=args.rate,
                   split_streams=args.split_streams, max_bytes=args.max_bytes, as_type=args.as_type,
                   scale=args.scale, timeout=args.timeout, pre=args.pre, background=args.background,
                   progress=sys.stderr if sys.stderr.isatty() else None, stop=stop)
    except ValueError as e:
        print(f"doppler-record: {e}", file=sys.stderr)
        return 2
    except (RecordError, OSError, TypeError) as e:
        print(f"doppler-record: {e}", file=sys.stderr)
        return 1
    print(f"doppler-record: {s.samples} samples in {', '.join(s.files)}; "
          f"{s.gaps} gaps ({s.lost} samples lost)")
    return 0


def _disk_full(rec, e):
    """The RecordError for a failed write `e` (ENOSPC, or another OSError)."""
    f = rec.summary_file
    what = "the disk is full (ENOSPC)" if e.errno == errno.ENOSPC else f"writing failed: {e.strerror}"
    return RecordError(f"{sigmf.data_path(f.base)}: {what}; stopped after {rec.summary.samples} samples. "
                       f"{f.base}.sigmf-data and .sigmf-meta hold a valid recording of the {f.n} samples "
                       f"written to it")


class _CallableModule(types.ModuleType):
    """This module's type: calling the module calls record() (doppler.record(...))."""

    def __call__(self, *args, **kwargs):
        return record(*args, **kwargs)


sys.modules[__name__].__class__ = _CallableModule

if __name__ == "__main__":
    sys.exit(main())
