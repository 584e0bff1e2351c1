# SPDX-License-Identifier: GPL-3.0-or-later
"""SigMF recordings as doppler-record writes them and doppler-play reads them.

A SigMF recording (https://sigmf.org, specification 1.2.0) is two files
beside each other: BASE.sigmf-data, the raw samples, and BASE.sigmf-meta, a
JSON object with three parts:

- "global": what holds for the whole file (core:datatype, core:sample_rate,
  core:version, core:recorder, ...);
- "captures": segments of the data, sorted by core:sample_start, the first at
  sample 0; each says what the samples from there on were (core:frequency,
  core:datetime) until the next;
- "annotations": notes about a range of samples (core:sample_start,
  core:sample_count, core:label, core:comment), sorted by core:sample_start.

This module holds what both programs and the tests need, written from the
public specification (Debian has no sigmf package):

- DATATYPES: the ring types and their SigMF datatypes;
- write_meta(): the .sigmf-meta written atomically (temp file + rename), so
  a reader, a crash or a full disk never leaves half a JSON file;
- format_datetime() / parse_datetime(): GNU Radio's rx_time (whole seconds,
  fraction) to and from core:datetime (ISO 8601, UTC, sub-second digits);
- validate() / check(): the validator (required global fields, captures and
  annotations sorted and inside the data, data size matching the datatype);
- load(): a recording's meta and its samples (a read-only memory map).

Annotation fields of the extension namespace "doppler" (declared in
core:extensions, optional): doppler:count, how many samples a gap lost, so
that doppler-play can hand the same ("dropped", count) tags on.
"""
import calendar
import json
import os
import re
import tempfile
import time

import numpy as np

SPEC_VERSION = "1.2.0"

# Ring type -> (SigMF datatype, NumPy dtype of one stored sample, and the
# shape of one sample as the ring hands it: i16 samples are (I, Q) int16 pairs).
DATATYPES = {
    "f32": "cf32_le",
    "f64": "cf64_le",
    "i16": "ci16_le",
}
RING_TYPE = {v: k for k, v in DATATYPES.items()}

# The extension namespace of the fields doppler adds (annotations' doppler:count).
EXTENSION = {"name": "doppler", "version": "0.1.0", "optional": True}

# A SigMF datatype: real or complex, the component type, the byte order
# (absent for one-byte types).
_DATATYPE = re.compile(r"^(r|c)(f64|f32|i32|i16|u32|u16|i8|u8)(_le|_be)?$")
_COMPONENT_BYTES = {"f64": 8, "f32": 4, "i32": 4, "i16": 2, "u32": 4, "u16": 2, "i8": 1, "u8": 1}
# core:datetime: ISO 8601 in UTC with a Z, any number of sub-second digits.
_DATETIME = re.compile(r"^(\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2})(\.\d+)?Z$")
_VERSION = re.compile(r"^\d+\.\d+\.\d+$")


class SigMFError(ValueError):
    """A recording that does not follow the SigMF specification; the
    message lists every problem found."""


def data_path(base):
    return base + ".sigmf-data"


def meta_path(base):
    return base + ".sigmf-meta"


def base_of(path):
    """The recording's base name, whether given as BASE, BASE.sigmf-meta or
    BASE.sigmf-data."""
    for ext in (".sigmf-meta", ".sigmf-data", ".sigmf-"):
        if path.endswith(ext):
            return path[: -len(ext)]
    return path


def sample_bytes(datatype, num_channels=1):
    """Bytes of one sample (all channels) of a SigMF datatype."""
    m = _DATATYPE.match(datatype)
    if not m:
        raise SigMFError(f"core:datatype {datatype!r} is not a SigMF datatype (such as cf32_le, ci16_le)")
    return _COMPONENT_BYTES[m.group(2)] * (2 if m.group(1) == "c" else 1) * num_channels


def numpy_dtype(datatype):
    """The NumPy dtype of one sample of a datatype doppler plays: complex64,
    complex128, or int16 (a sample is then two of them, I and Q)."""
    return {"cf32_le": np.dtype("<c8"), "cf64_le": np.dtype("<c16"), "ci16_le": np.dtype("<i2")}[datatype]


# ---------------------------------------------------------------------------
# Time: rx_time <-> core:datetime
# ---------------------------------------------------------------------------

def format_datetime(secs, frac=0.0):
    """core:datetime for GNU Radio's rx_time (secs: whole seconds since the
    Unix epoch, frac: the fraction of a second): ISO 8601 UTC, nanoseconds."""
    secs = int(secs)
    ns = int(round(float(frac) * 1e9))
    secs, ns = secs + ns // 1_000_000_000, ns % 1_000_000_000
    return time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(secs)) + f".{ns:09d}Z"


def parse_datetime(text):
    """(secs, frac) of a core:datetime; SigMFError if it is not ISO 8601 UTC."""
    m = _DATETIME.match(text) if isinstance(text, str) else None
    if not m:
        raise SigMFError(f"core:datetime {text!r} is not ISO 8601 UTC (YYYY-MM-DDTHH:MM:SS.fffZ)")
    secs = calendar.timegm(time.strptime(m.group(1), "%Y-%m-%dT%H:%M:%S"))
    return secs, float("0" + m.group(2)) if m.group(2) else 0.0


# ---------------------------------------------------------------------------
# Writing the meta
# ---------------------------------------------------------------------------

def write_meta(base, meta):
    """Write BASE.sigmf-meta atomically: the JSON goes to a temp file in the
    same directory, is flushed to disk, and replaces the old meta by rename.
    Whoever reads the meta, and whatever happens meanwhile (a crash, a full
    disk: OSError, the old meta stays), sees a whole file, old or new."""
    path = meta_path(base)
    directory = os.path.dirname(os.path.abspath(path))
    fd, tmp = tempfile.mkstemp(prefix=os.path.basename(path) + ".", suffix=".tmp", dir=directory)
    try:
        with os.fdopen(fd, "w") as f:
            json.dump(meta, f, indent=2)
            f.write("\n")
            f.flush()
            os.fsync(f.fileno())
        os.chmod(tmp, 0o644 & ~_umask())
        os.replace(tmp, path)
    except BaseException:
        try:
            os.unlink(tmp)
        except FileNotFoundError:
            pass
        raise


def _umask():
    mask = os.umask(0)
    os.umask(mask)
    return mask


# ---------------------------------------------------------------------------
# Reading and validating
# ---------------------------------------------------------------------------

def _is_int(x):
    return isinstance(x, int) and not isinstance(x, bool)


def _is_number(x):
    return isinstance(x, (int, float)) and not isinstance(x, bool)


def validate(path):
    """Every way the recording at `path` (BASE, BASE.sigmf-meta or
    BASE.sigmf-data) breaks the SigMF specification, as a list of messages
    ([] for a valid recording). Checked: the meta is a JSON object with
    "global", "captures" and "annotations"; the global fields core:datatype
    and core:version are there and well formed (core:sample_rate positive
    if given); extensions are declared; captures are sorted, start at sample
    0 and carry numbers and ISO 8601 UTC datetimes; annotations are sorted
    and lie inside the data; the data file's size is a whole number of
    samples of the datatype."""
    base = base_of(path)
    try:
        with open(meta_path(base)) as f:
            meta = json.load(f)
    except OSError as e:
        return [f"cannot read {meta_path(base)}: {e.strerror}"]
    except ValueError as e:
        return [f"{meta_path(base)} is not JSON: {e}"]
    problems = []
    if not isinstance(meta, dict):
        return ["the meta is not a JSON object"]
    for part, kind in (("global", dict), ("captures", list), ("annotations", list)):
        if not isinstance(meta.get(part), kind):
            problems.append(f'"{part}" is missing or not a JSON {"object" if kind is dict else "array"}')
    if problems:
        return problems
    g = meta["global"]

    # Global fields.
    datatype = g.get("core:datatype")
    bytes_per_sample = None
    channels = g.get("core:num_channels", 1)
    if not (_is_int(channels) and channels >= 1):
        problems.append(f"core:num_channels {channels!r} is not a positive integer")
        channels = 1
    if datatype is None:
        problems.append("global core:datatype is missing (required)")
    elif not isinstance(datatype, str) or not _DATATYPE.match(datatype):
        problems.append(f"global core:datatype {datatype!r} is not a SigMF datatype")
    else:
        bytes_per_sample = sample_bytes(datatype, channels)
    version = g.get("core:version")
    if version is None:
        problems.append("global core:version is missing (required)")
    elif not isinstance(version, str) or not _VERSION.match(version):
        problems.append(f"global core:version {version!r} is not a version (such as 1.2.0)")
    rate = g.get("core:sample_rate")
    if rate is not None and not (_is_number(rate) and rate > 0):
        problems.append(f"global core:sample_rate {rate!r} is not a positive number")
    # core:offset is the index of the first sample (a number, not a byte offset).
    offset = g.get("core:offset", 0)
    if not (_is_int(offset) and offset >= 0):
        problems.append(f"global core:offset {offset!r} is not a non-negative integer")

    # Namespaces: core, and those core:extensions declares.
    extensions = g.get("core:extensions", [])
    declared = {"core"}
    if not isinstance(extensions, list):
        problems.append("global core:extensions is not an array")
    else:
        for ext in extensions:
            if not (isinstance(ext, dict) and isinstance(ext.get("name"), str)
                    and isinstance(ext.get("version"), str) and isinstance(ext.get("optional"), bool)):
                problems.append(f"core:extensions entry {ext!r} lacks name, version or optional")
            else:
                declared.add(ext["name"])

    def namespaces(where, obj):
        for key in obj:
            ns = key.split(":", 1)[0] if ":" in key else None
            if ns is None:
                problems.append(f"{where}: key {key!r} has no namespace (such as core:)")
            elif ns not in declared:
                problems.append(f"{where}: key {key!r} is of namespace {ns!r}, not declared in core:extensions")

    namespaces("global", g)

    # The data file.
    total = None
    try:
        size = os.stat(data_path(base)).st_size
    except OSError as e:
        problems.append(f"cannot read {data_path(base)}: {e.strerror}")
    else:
        if bytes_per_sample:
            if size % bytes_per_sample:
                problems.append(f"{data_path(base)} holds {size} bytes, not a whole number of "
                                f"{datatype} samples ({bytes_per_sample} bytes each)")
            total = size // bytes_per_sample

    # Captures.
    caps = meta["captures"]
    starts = []
    for i, c in enumerate(caps):
        where = f"captures[{i}]"
        if not isinstance(c, dict):
            problems.append(f"{where} is not a JSON object")
            continue
        namespaces(where, c)
        s = c.get("core:sample_start")
        if not (_is_int(s) and s >= 0):
            problems.append(f"{where}: core:sample_start {s!r} is missing or not a non-negative integer")
            continue
        starts.append(s)
        if total is not None and s > total:
            problems.append(f"{where}: core:sample_start {s} lies past the data's {total} samples")
        if "core:frequency" in c and not _is_number(c["core:frequency"]):
            problems.append(f"{where}: core:frequency {c['core:frequency']!r} is not a number")
        if "core:datetime" in c:
            try:
                parse_datetime(c["core:datetime"])
            except SigMFError as e:
                problems.append(f"{where}: {e}")
    if not caps:
        problems.append("captures is empty: the first capture must start at sample 0")
    elif starts and starts[0] != 0:
        problems.append(f"the first capture starts at sample {starts[0]}, not 0")
    if any(b <= a for a, b in zip(starts, starts[1:])):
        problems.append("captures are not sorted by core:sample_start (strictly increasing)")

    # Annotations.
    starts = []
    for i, a in enumerate(meta["annotations"]):
        where = f"annotations[{i}]"
        if not isinstance(a, dict):
            problems.append(f"{where} is not a JSON object")
            continue
        namespaces(where, a)
        s, n = a.get("core:sample_start"), a.get("core:sample_count", 0)
        if not (_is_int(s) and s >= 0):
            problems.append(f"{where}: core:sample_start {s!r} is missing or not a non-negative integer")
            continue
        starts.append(s)
        if not (_is_int(n) and n >= 0):
            problems.append(f"{where}: core:sample_count {n!r} is not a non-negative integer")
            continue
        if total is not None and s + n > total:
            problems.append(f"{where}: samples {s}..{s + n} lie past the data's {total} samples")
        for key in ("core:label", "core:comment"):
            if key in a and not isinstance(a[key], str):
                problems.append(f"{where}: {key} is not a string")
        lo, hi = a.get("core:freq_lower_edge"), a.get("core:freq_upper_edge")
        if _is_number(lo) and _is_number(hi) and lo > hi:
            problems.append(f"{where}: core:freq_lower_edge is above core:freq_upper_edge")
    if any(b < a for a, b in zip(starts, starts[1:])):
        problems.append("annotations are not sorted by core:sample_start")
    return problems


def check(path):
    """validate(path), raising SigMFError with every problem if there is one."""
    problems = validate(path)
    if problems:
        raise SigMFError(f"{meta_path(base_of(path))}: not a valid SigMF recording:\n  "
                         + "\n  ".join(problems))


def load(path):
    """(meta, samples) of a valid recording: the meta as a dict, the samples
    as a read-only memory map (complex64 or complex128 of shape (n,), int16
    of shape (n, 2)). SigMFError if the recording is not valid SigMF, or of
    a datatype no doppler ring holds (cf32_le, cf64_le, ci16_le)."""
    base = base_of(path)
    check(base)
    with open(meta_path(base)) as f:
        meta = json.load(f)
    g = meta["global"]
    datatype = g["core:datatype"]
    if datatype not in RING_TYPE or g.get("core:num_channels", 1) != 1:
        raise SigMFError(f"{meta_path(base)}: core:datatype {datatype} with "
                         f"{g.get('core:num_channels', 1)} channel(s): doppler rings hold one channel of "
                         f"{', '.join(RING_TYPE)}")
    dtype = numpy_dtype(datatype)
    size = os.stat(data_path(base)).st_size
    if size == 0:
        data = np.zeros((0, 2) if datatype == "ci16_le" else 0, dtype)
    else:
        data = np.memmap(data_path(base), dtype=dtype, mode="r")
        if datatype == "ci16_le":
            data = data.reshape(-1, 2)
    return meta, data
