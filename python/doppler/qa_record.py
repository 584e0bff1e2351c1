# SPDX-License-Identifier: GPL-3.0-or-later
"""doppler-record and doppler-play: rings to SigMF recordings and back.

A Python producer writes a stream with GNU Radio's timing tags (rx_rate,
rx_freq, rx_time); the recording must hold it sample for sample with the
right captures, annotate every gap (dropped, skipped, overwritten, stream
seams), and stay valid SigMF however it ends (Ctrl-C, a full disk). Played
back into another ring, a consumer must get the same samples and timing
tags. The validator (doppler.sigmf) must reject broken recordings.

Run by CTest (python/doppler/CMakeLists.txt) with PYTHONPATH at the build
tree; DOPPLER_APPS names apps/ (the doppler-record and doppler-play mains).
"""
import contextlib
import json
import os
import signal
import subprocess
import sys
import threading
import time

import numpy as np
import pytest
from doppler import _ring_tool, play, record, sigmf
from doppler import buffer as dbuf
from doppler_testing import ALL, LONG, Drainer, drain, samples, until

APPS = os.environ.get("DOPPLER_APPS", os.path.join(os.path.dirname(__file__), "..", "..", "apps"))
TYPE = {dbuf.F32Buffer: "f32", dbuf.F64Buffer: "f64", dbuf.I16Buffer: "i16"}
DATATYPE = {dbuf.F32Buffer: "cf32_le", dbuf.F64Buffer: "cf64_le", dbuf.I16Buffer: "ci16_le"}

RATE = 1e6
T0 = (1700000000, 0.25)  # rx_time of the first sample: 2023-11-14T22:13:20.25Z
N = 20000
# The producer's tags (stream index, key, value) and the captures they make:
# a new frequency at 5000; at 8000 an rx_time that continues the time (no
# capture); at 12000 a jump of ten seconds; at 15000 the same frequency again.
TAGS = [(0, "rx_rate", RATE), (0, "rx_freq", 100e6), (0, "rx_time", T0),
        (5000, "rx_freq", 101e6),
        (8000, "rx_time", (1700000000, 0.258)),
        (12000, "rx_time", (1700000010, 0.5)),
        (15000, "rx_freq", 101e6)]
CAPTURES = [{"core:sample_start": 0, "core:frequency": 100e6, "core:datetime": "2023-11-14T22:13:20.250000000Z"},
            {"core:sample_start": 5000, "core:frequency": 101e6, "core:datetime": "2023-11-14T22:13:20.255000000Z"},
            {"core:sample_start": 12000, "core:frequency": 101e6, "core:datetime": "2023-11-14T22:13:30.500000000Z"}]


def cli(program, *args, timeout=LONG):
    """Run apps/<program> with this interpreter; the CompletedProcess."""
    return subprocess.run([sys.executable, os.path.join(APPS, program), *map(str, args)],
                          capture_output=True, text=True, timeout=timeout)


def stored(cls, base, datatype=None):
    """The samples of recording `base` as the ring class `cls` holds them."""
    dtype = sigmf.numpy_dtype(datatype or DATATYPE[cls])
    data = np.fromfile(sigmf.data_path(base), dtype)
    return data.reshape(-1, 2) if dtype == np.int16 else data


def meta_of(base):
    with open(sigmf.meta_path(base)) as f:
        return json.load(f)


def write_stream(buf, x, tags, chunk=1000):
    """Write x through the producer handle buf in chunks of `chunk`,
    losslessly, with `tags` (stream index, key, value) at their samples."""
    for a in range(0, len(x), chunk):
        mine = [(i - a, k, v) for i, k, v in tags if a <= i < a + chunk]
        assert buf.write(x[a:a + chunk], block=True, timeout=LONG, tags=mine or None)


def record_written(cls, name, base, x, tags=(), capacity=4096, **kw):
    """x (with tags: stream index, key, value) written into a new ring `name`
    of cls and its stream closed, then recorded into `base` by record() as
    the ring's default reader (one stream; **kw to record()): its summary."""
    with cls(capacity, name=name) as prod:
        write_stream(prod, x, list(tags))
        prod.close()
        return record.record(name, base, reader=None, streams=1, **kw)


@contextlib.contextmanager
def app(program, *args):
    """apps/<program> *args as a process with text pipes; on the way out, if
    it still runs, it is resumed (a test may have stopped it) and killed."""
    p = subprocess.Popen([sys.executable, os.path.join(APPS, program), *map(str, args)],
                         stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        yield p
    finally:
        if p.poll() is None:
            os.kill(p.pid, signal.SIGCONT)
            p.kill()
            p.wait()


@contextlib.contextmanager
def recorder_beside_a_consumer(name, base, *args):
    """doppler-record NAME BASE *args as a process, once its reader is
    declared, beside a consumer of the ring that drains it (a Drainer):
    yields (process, drainer). On the way out the process is ended (app()),
    then the drainer joined."""
    with app("doppler-record", name, base, *args) as rec:
        until(lambda: "record" in readers_of(name), "doppler-record's reader declared")
        cons = dbuf.F32Buffer.attach(name)
        drainer = Drainer(cons)
        drainer.start()
        yield rec, drainer
    drainer.join(LONG)
    cons.destroy()


def record_in_thread(name, base, **kw):
    """record(name, base, **kw) in a thread: (thread, results list)."""
    out = []

    def run():
        try:
            out.append(record.record(name, base, **kw))
        except BaseException as e:  # reported by the test
            out.append(e)

    t = threading.Thread(target=run, daemon=True)
    t.start()
    return t, out


def joined(t, out):
    t.join(LONG)
    assert not t.is_alive(), "record() did not end"
    assert not isinstance(out[0], BaseException), out[0]
    return out[0]


def record_tagged_stream(cls, name, base):
    """The producer of the tests: N samples of cls with TAGS into a ring of
    4096 (so it wraps), read by record() as the ring's default reader."""
    x = samples(cls, N)
    with cls(4096, name=name) as prod:
        t, out = record_in_thread(name, base, reader=None, streams=1, timeout=LONG)
        write_stream(prod, x, TAGS)
        prod.close()
        summary = joined(t, out)
    return x, summary


@pytest.mark.parametrize("cls", ALL, ids=TYPE.get)
def test_a_tagged_stream_is_recorded_sample_for_sample_in_the_rings_own_datatype(cls, names, tmp_path):
    base = str(tmp_path / "rec")
    x, summary = record_tagged_stream(cls, names(), base)
    assert sigmf.validate(base) == []
    assert summary.files == [base] and summary.samples == N and summary.gaps == 0
    np.testing.assert_array_equal(stored(cls, base), x)
    meta = meta_of(base)
    g = meta["global"]
    assert g["core:datatype"] == DATATYPE[cls]
    assert g["core:sample_rate"] == RATE
    assert g["core:version"] == "1.2.0"
    assert g["core:recorder"].startswith("doppler-record ")
    assert meta["captures"] == CAPTURES
    assert meta["annotations"] == []


def consume_all(cls, name, capacity=4096, ready=None):
    """A consumer of ring `name` (created here): every sample and every tag
    of one stream, as (samples, [(index, key, value), ...])."""
    parts, tags = [], []
    with cls(capacity, name=name) as cons:
        if ready:
            ready.set()
        end = False
        while not end:
            try:
                v = cons.wait(1000, timeout=LONG)
            except EOFError:  # told once: what is left is the stream's last
                end = True
                if not cons.available:
                    break
                v = cons.wait(cons.available)
            parts.append(np.array(v))
            tags += [(t.index, t.key, t.value) for t in cons.tags()]
            cons.consume()
    return np.concatenate(parts), tags


def play_into(cls, base, name, **kw):
    """play(base, name, **kw) in a thread while a consumer created here reads
    the ring: (samples, tags, samples play() says it wrote)."""
    out, ready = [], threading.Event()

    def player():
        ready.wait(LONG)  # the consumer made the ring: play attaches as its producer
        out.append(play.play(base, name, timeout=LONG, **kw))

    t = threading.Thread(target=player, daemon=True)
    t.start()
    got, tags = consume_all(cls, name, ready=ready)
    t.join(LONG)
    assert not t.is_alive() and out, "play() did not end"
    return got, tags, out[0]


def timeline(tags, n, rate=RATE):
    """Frequency and time (seconds, as a float off T0) of every sample,
    from a stream's rx_freq / rx_time tags, as a GNU Radio consumer works
    them out."""
    freq, when = np.full(n, np.nan), np.full(n, np.nan)
    for i, k, v in sorted(tags, key=lambda t: t[0]):
        if k == "rx_freq":
            freq[i:] = v
        elif k == "rx_time":
            when[i:] = (v[0] - T0[0]) + (v[1] - T0[1]) + np.arange(n - i) / rate
    return freq, when


@pytest.mark.parametrize("cls", ALL, ids=TYPE.get)
def test_a_recording_plays_back_the_same_samples_and_timing_tags(cls, names, tmp_path):
    base = str(tmp_path / "rec")
    x, _ = record_tagged_stream(cls, names(), base)
    got, tags, n = play_into(cls, base, names())
    assert n == N
    np.testing.assert_array_equal(got, x)
    # At each capture: rx_rate, rx_freq and rx_time as a GNU Radio source gives them.
    at = {}
    for i, k, v in tags:
        at.setdefault(i, {})[k] = v
    assert sorted(i for i in at if "rx_time" in at[i]) == [0, 5000, 12000]
    assert [k for i, k, v in tags if k == "stream_start"] == ["stream_start"]  # one stream per play
    for c in CAPTURES:
        t = at[c["core:sample_start"]]
        assert t["rx_rate"] == RATE and t["rx_freq"] == c["core:frequency"]
        assert isinstance(t["rx_time"], tuple) and isinstance(t["rx_time"][0], int)
    # Every sample has the same frequency and time as in the recorded stream.
    want_f, want_t = timeline(TAGS, N)
    got_f, got_t = timeline(tags, N)
    np.testing.assert_array_equal(got_f, want_f)
    np.testing.assert_allclose(got_t, want_t, rtol=0, atol=1e-9)


def test_a_dropped_gap_is_annotated_and_plays_back_as_the_same_tag(names, tmp_path):
    """The producer writes 1000 samples, 1000 that do not fit (no reader
    yet: dropped) and 24 more; the recording holds the 1024 written, says
    where the 1000 are missing, and its timing goes on after the gap."""
    name, base = names(), str(tmp_path / "rec")
    x = samples(dbuf.F32Buffer, 2024)
    with dbuf.F32Buffer(1024, name=name) as prod:
        assert prod.write(x[:1000], tags=[(0, "rx_rate", RATE), (0, "rx_time", T0)])
        assert not prod.write(x[1000:2000])
        assert prod.write(x[2000:])
        prod.close()
        s = record.record(name, base, reader=None, streams=1)
    assert sigmf.validate(base) == []
    assert (s.samples, s.gaps, s.lost) == (1024, 1, 1000)
    np.testing.assert_array_equal(stored(dbuf.F32Buffer, base), np.concatenate([x[:1000], x[2000:]]))
    meta = meta_of(base)
    [gap] = meta["annotations"]
    assert (gap["core:sample_start"], gap["core:sample_count"], gap["core:label"], gap["doppler:count"]) == \
        (1000, 0, "dropped", 1000)
    assert "1000 samples missing" in gap["core:comment"]
    assert {"name": "doppler", "version": "0.1.0", "optional": True} in meta["global"]["core:extensions"]
    # After the gap, the capture's time counts the missing samples: 0.25 s + 2000 us.
    assert meta["captures"][-1] == {"core:sample_start": 1000, "core:datetime": "2023-11-14T22:13:20.252000000Z"}
    got, tags, _ = play_into(dbuf.F32Buffer, base, names())
    assert (1000, "dropped", 1000) in tags
    assert (1000, "rx_time", (1700000000, 0.252)) in tags


def readers_of(name):
    return [r["name"] for r in _ring_tool.inspect(name)["readers"]]


def test_an_untethered_recorder_that_is_lapped_annotates_the_skipped_samples(names, tmp_path):
    """doppler-record (a process, untethered by default) is stopped
    (SIGSTOP) while the producer, held back only by its own consumer, laps
    it many times; resumed, it says how many samples it skipped, and the
    file plus the gaps account for every sample written."""
    name, base = names(), str(tmp_path / "rec")
    total = 30000
    x = samples(dbuf.F32Buffer, total)
    with dbuf.F32Buffer(1024, name=name) as prod:
        with recorder_beside_a_consumer(name, base, "--streams", "1") as (rec, _):
            write_stream(prod, x[:1000], [])
            os.kill(rec.pid, signal.SIGSTOP)
            write_stream(prod, x[1000:total - 1000], [])
            os.kill(rec.pid, signal.SIGCONT)
            time.sleep(0.2)  # not needed for correctness: lets the recorder read the rest while it is there
            write_stream(prod, x[total - 1000:], [])
            prod.close()
            out, err = rec.communicate(timeout=LONG)
    assert rec.returncode == 0, err
    assert err == ""  # no progress line when stderr is not a terminal
    assert sigmf.validate(base) == []
    data = stored(dbuf.F32Buffer, base)
    gaps = meta_of(base)["annotations"]
    skipped = [a for a in gaps if a["core:label"] == "skipped"]
    assert skipped, gaps
    assert len(data) + sum(a["doppler:count"] for a in skipped) == total
    # Every sample not marked overwritten is the one written at its place.
    spoiled = np.zeros(len(data), bool)
    for a in gaps:
        if a["core:label"] == "overwritten":
            spoiled[a["core:sample_start"]:a["core:sample_start"] + a["core:sample_count"]] = True
    where = np.arange(len(data))
    for a in skipped:
        where[a["core:sample_start"]:] += a["doppler:count"]
    np.testing.assert_array_equal(data[~spoiled], x[where[~spoiled]])


def test_a_tethered_recorder_holds_the_producer_back_and_loses_nothing(names, tmp_path):
    """doppler-record --tethered, stopped (SIGSTOP) while the producer writes
    ten times its ring: the producer waits for it, and the recording is the
    stream sample for sample, without a gap."""
    name, base = names(), str(tmp_path / "rec")
    x = samples(dbuf.F32Buffer, 10240)
    with dbuf.F32Buffer(1024, name=name) as prod:
        with recorder_beside_a_consumer(name, base, "--streams", "1", "--tethered") as (rec, drainer):
            os.kill(rec.pid, signal.SIGSTOP)
            producer = threading.Thread(target=lambda: (write_stream(prod, x, []), prod.close()), daemon=True)
            producer.start()
            producer.join(0.3)  # it waits for the stopped recorder (whether it got that far or not)
            os.kill(rec.pid, signal.SIGCONT)
            producer.join(LONG)
            out, err = rec.communicate(timeout=LONG)
    assert rec.returncode == 0, err
    assert sigmf.validate(base) == []
    assert meta_of(base)["annotations"] == []
    np.testing.assert_array_equal(stored(dbuf.F32Buffer, base), x)
    np.testing.assert_array_equal(drainer.result, x)


def test_a_background_recorder_reads_at_idle_priority_and_records_the_stream(names, tmp_path):
    """doppler-record --background reads at SCHED_IDLE (it takes no CPU time
    from busy processes); on a machine with time to spare it records the
    stream sample for sample beside a consumer."""
    name, base = names(), str(tmp_path / "rec")
    x = samples(dbuf.F32Buffer, 10240)
    with dbuf.F32Buffer(1 << 16, name=name) as prod:
        with recorder_beside_a_consumer(name, base, "--streams", "1", "--background") as (rec, drainer):
            assert os.sched_getscheduler(rec.pid) == os.SCHED_IDLE
            write_stream(prod, x, [])
            prod.close()
            out, err = rec.communicate(timeout=LONG)
    assert rec.returncode == 0, err
    assert sigmf.validate(base) == []
    data = stored(dbuf.F32Buffer, base)
    skipped = sum(a["doppler:count"] for a in meta_of(base)["annotations"] if a["core:label"] == "skipped")
    assert len(data) + skipped == len(x)  # the ring holds the whole stream: nothing to skip, unless starved
    np.testing.assert_array_equal(drainer.result, x)


@pytest.mark.parametrize("args", [["--background", "--tethered"], ["--background", "--reader", ""]],
                         ids=["tethered", "default-reader"])
def test_background_with_a_tethered_reader_is_a_usage_error(args, names, tmp_path):
    """Idle priority and holding the producer back do not mix: refused
    before anything is attached, saying why."""
    with app("doppler-record", names(), tmp_path / "rec", *args) as r:
        out, err = r.communicate(timeout=LONG)
    assert r.returncode == 2, err
    assert "--background needs an untethered reader" in err


def test_a_new_sample_rate_mid_recording_is_annotated(names, tmp_path):
    name, base = names(), str(tmp_path / "rec")
    x = samples(dbuf.F32Buffer, 2000)
    record_written(dbuf.F32Buffer, name, base, x, [(0, "rx_rate", 1e6), (1500, "rx_rate", 2e6)])
    meta = meta_of(base)
    assert meta["global"]["core:sample_rate"] == 1e6
    [a] = meta["annotations"]
    assert (a["core:sample_start"], a["core:label"], a["doppler:value"]) == (1500, "rx_rate", 2e6)
    assert "2000000.0 Hz" in a["core:comment"]
    got, tags, _ = play_into(dbuf.F32Buffer, base, names())
    assert [(i, v) for i, k, v in tags if k == "rx_rate"] == [(0, 1e6), (1500, 2e6)]


def test_a_malformed_timing_tag_is_ignored_and_the_recording_goes_on(names, tmp_path):
    name, base = names(), str(tmp_path / "rec")
    x = samples(dbuf.F32Buffer, 2000)
    s = record_written(dbuf.F32Buffer, name, base, x,
                       [(0, "rx_time", "noon"), (10, "rx_freq", "high"), (20, "rx_freq", 1e8)])
    assert s.samples == 2000 and sigmf.validate(base) == []
    assert meta_of(base)["captures"] == [{"core:sample_start": 0}, {"core:sample_start": 20, "core:frequency": 1e8}]


def test_stream_seams_are_annotated_or_split_into_one_recording_per_run(names, tmp_path):
    name = names()
    a, b = samples(dbuf.F32Buffer, 1000), samples(dbuf.F32Buffer, 1500, start=5000)
    joined_base, split_base = str(tmp_path / "joined"), str(tmp_path / "split")
    with dbuf.F32Buffer(4096, name=name):
        for x in (a, b):  # two producer runs, both waiting in the ring for its reader
            with dbuf.F32Buffer.attach(name) as prod:
                write_stream(prod, x, [(0, "rx_freq", 1e8)])
        s = record.record(name, joined_base, reader=None, streams=2)
    assert sigmf.validate(joined_base) == []
    assert s.samples == 2500 and s.streams == 2
    np.testing.assert_array_equal(stored(dbuf.F32Buffer, joined_base), np.concatenate([a, b]))
    [seam] = meta_of(joined_base)["annotations"]
    assert (seam["core:sample_start"], seam["core:label"]) == (1000, "stream_seam")
    assert [c["core:sample_start"] for c in meta_of(joined_base)["captures"]] == [0, 1000]

    name = names()
    with dbuf.F32Buffer(4096, name=name):
        for x in (a, b):
            with dbuf.F32Buffer.attach(name) as prod:
                write_stream(prod, x, [])
        s = record.record(name, split_base, reader=None, streams=2, split_streams=True)
    assert s.files == [split_base + "-s0001", split_base + "-s0002"]
    for f, x in zip(s.files, (a, b)):
        assert sigmf.validate(f) == []
        np.testing.assert_array_equal(stored(dbuf.F32Buffer, f), x)
        assert meta_of(f)["annotations"] == []


PRODUCER_THAT_HANGS = r"""
import sys, time, numpy as np
from doppler import buffer as b
p = b.F32Buffer.attach(sys.argv[1])
p.write((np.arange(1000) - 1j * np.arange(1000)).astype(np.complex64), block=True, timeout=60)
print("written", flush=True)
time.sleep(60)
"""


def test_a_producer_that_dies_leaves_a_seam_saying_so(names, tmp_path):
    """A producer process is killed (SIGKILL) after 1000 samples; the next
    producer writes 500 more. The recording holds both runs and the seam
    between them says the first one's producer died."""
    name, base = names(), str(tmp_path / "rec")
    with dbuf.F32Buffer(4096, name=name):
        t, out = record_in_thread(name, base, reader=None, streams=2)
        child = subprocess.Popen([sys.executable, "-c", PRODUCER_THAT_HANGS, name], stdout=subprocess.PIPE, text=True)
        try:
            assert child.stdout.readline().strip() == "written"
        finally:
            child.kill()
            child.wait()
        second = samples(dbuf.F32Buffer, 500, start=1000)
        with dbuf.F32Buffer.attach(name) as prod:
            write_stream(prod, second, [])
        s = joined(t, out)
    assert s.samples == 1500 and s.streams == 2
    np.testing.assert_array_equal(stored(dbuf.F32Buffer, base), samples(dbuf.F32Buffer, 1500))
    [seam] = meta_of(base)["annotations"]
    assert (seam["core:sample_start"], seam["core:label"]) == (1000, "stream_seam")
    assert "its producer died" in seam["core:comment"]


def test_max_bytes_rotates_into_numbered_recordings_that_keep_the_time(names, tmp_path):
    name, base = names(), str(tmp_path / "rec")
    x = samples(dbuf.F32Buffer, 2500)
    s = record_written(dbuf.F32Buffer, name, base, x, [(0, "rx_rate", RATE), (0, "rx_freq", 1e8), (0, "rx_time", T0)],
                       max_bytes=8000)
    assert s.files == [f"{base}-000{i}" for i in (1, 2, 3)]
    for k, f in enumerate(s.files):
        assert sigmf.validate(f) == []
        np.testing.assert_array_equal(stored(dbuf.F32Buffer, f), x[k * 1000:(k + 1) * 1000])
        assert meta_of(f)["captures"] == [{"core:sample_start": 0, "core:frequency": 1e8,
                                           "core:datetime": f"2023-11-14T22:13:20.25{k}000000Z"}]


def test_an_i16_ring_is_recorded_as_cf32_when_asked(names, tmp_path):
    name, base = names(), str(tmp_path / "rec")
    x = samples(dbuf.I16Buffer, 3000)
    with dbuf.I16Buffer(4096, name=name) as prod:
        write_stream(prod, x, [])
        prod.close()
        r = cli("doppler-record", name, base, "--reader", "", "--streams", "1", "--as", "cf32", "--scale", 0.5)
    assert r.returncode == 0, r.stderr
    assert sigmf.validate(base) == []
    assert meta_of(base)["global"]["core:datatype"] == "cf32_le"
    np.testing.assert_array_equal(stored(dbuf.F32Buffer, base), (x[:, 0] * 0.5 + 1j * x[:, 1] * 0.5))


def test_ctrl_c_ends_a_recording_cleanly_with_a_valid_meta(names, tmp_path):
    name, base = names(), str(tmp_path / "rec")
    x = samples(dbuf.F32Buffer, 3000)
    with dbuf.F32Buffer(4096, name=name) as prod:
        with app("doppler-record", name, base, "--rate", "48000") as rec:
            until(lambda: "record" in readers_of(name), "doppler-record's reader declared")
            write_stream(prod, x, [])
            until(lambda: os.path.exists(sigmf.data_path(base)) and
                  os.path.getsize(sigmf.data_path(base)) == x.nbytes, "the samples recorded")
            assert sigmf.validate(base) == []  # valid while it records: the meta is written first
            rec.send_signal(signal.SIGINT)
            out, err = rec.communicate(timeout=LONG)
    assert rec.returncode == 0, err
    assert "3000 samples" in out
    assert sigmf.validate(base) == []
    assert meta_of(base)["global"]["core:sample_rate"] == 48000
    np.testing.assert_array_equal(stored(dbuf.F32Buffer, base), x)


ENOSPC_CHILD = r"""
import json, subprocess, sys
import numpy as np
from doppler import buffer as b, record, sigmf
name, where = sys.argv[1], sys.argv[2]
# A filesystem of 64 KiB in a mount namespace of this process only.
subprocess.run(["mount", "-t", "tmpfs", "-o", "size=64k", "tmpfs", where], check=True)
x = (np.arange(20000) - 1j * np.arange(20000)).astype(np.complex64)   # 160 KB
with b.F32Buffer(1 << 15, name=name) as prod:
    prod.write(x, tags=[(0, "rx_rate", 1e6), (10000, "rx_freq", 1e8)])
    prod.close()
    try:
        record.record(name, where + "/rec", reader=None, streams=1)
        print(json.dumps({"error": None}))
    except record.RecordError as e:
        data = np.fromfile(where + "/rec.sigmf-data", np.complex64)
        print(json.dumps({"error": str(e), "problems": sigmf.validate(where + "/rec"), "n": len(data),
                          "same": bool((data == x[:len(data)]).all())}))
"""


def test_a_full_disk_stops_with_a_clear_error_and_leaves_a_valid_recording(names, tmp_path):
    where = tmp_path / "small"
    where.mkdir()
    try:
        r = subprocess.run(["unshare", "-m", sys.executable, "-c", ENOSPC_CHILD, names(), str(where)],
                           capture_output=True, text=True, timeout=LONG)
    except FileNotFoundError:
        pytest.skip("needs unshare(1) to mount a small filesystem")
    if r.returncode != 0 and ("unshare" in r.stderr or "mount" in r.stderr):
        pytest.skip(f"cannot mount a small filesystem here: {r.stderr.strip()}")
    assert r.returncode == 0, r.stderr
    got = json.loads(r.stdout)
    print(got["error"])
    assert got["error"] and "ENOSPC" in got["error"] and "valid recording" in got["error"]
    assert got["problems"] == []
    assert 0 < got["n"] < 20000 and got["same"]


def test_pre_starts_the_recording_before_the_recorder_attached(names, tmp_path):
    """3000 samples are written (and read by the ring's consumer) before the
    recorder attaches with --pre 0.002 s at 1 MHz: the recording starts with
    the last 2000 of them, the tags among them included, and goes on with
    what is written afterwards."""
    name, base = names(), str(tmp_path / "rec")
    x = samples(dbuf.F32Buffer, 4000)
    with dbuf.F32Buffer(1 << 14, name=name) as prod:
        cons = dbuf.F32Buffer.attach(name)
        drainer = Drainer(cons)
        drainer.start()
        write_stream(prod, x[:3000], [(0, "rx_freq", 1e8), (1500, "rx_freq", 2e8)])
        until(lambda: prod.available == 0, "the consumer read the first 3000 samples")
        t, out = record_in_thread(name, base, reader="record", pre=0.002, rate=1e6, streams=1)
        until(lambda: "record" in readers_of(name), "the recorder's reader declared")
        write_stream(prod, x[3000:], [])
        prod.close()
        s = joined(t, out)
        drainer.join(LONG)
        cons.destroy()
    assert s.pre == 2000
    assert sigmf.validate(base) == []
    np.testing.assert_array_equal(stored(dbuf.F32Buffer, base), x[1000:])
    meta = meta_of(base)
    assert meta["captures"] == [{"core:sample_start": 0}, {"core:sample_start": 500, "core:frequency": 2e8}]
    assert "starts 2000 samples" in meta["global"]["core:description"]


@pytest.mark.parametrize("args, words", [
    (["--pre", 1], "--pre S needs --rate HZ"),
    (["--pre", 1, "--rate", 1e6, "--reader", ""], "--pre needs a named reader"),
])
def test_pre_without_what_it_needs_is_a_usage_error(args, words, names, tmp_path):
    name = names()
    with dbuf.F32Buffer(1024, name=name):
        r = cli("doppler-record", name, tmp_path / "rec", *args)
    assert r.returncode == 2
    assert words in r.stderr


def test_play_at_the_recorded_rate_takes_the_recordings_time(names, tmp_path):
    """Paced by the clock, 20000 samples at 100 kHz take at least 0.2 s
    (a lower bound only: a loaded machine may take longer)."""
    base = str(tmp_path / "rec")
    x = samples(dbuf.F32Buffer, 20000)
    record_written(dbuf.F32Buffer, names(), base, x, [(0, "rx_rate", 1e5)], capacity=1 << 15)
    t0 = time.monotonic()
    got, tags, n = play_into(dbuf.F32Buffer, base, names(), rate="recorded")
    assert time.monotonic() - t0 >= 0.19
    np.testing.assert_array_equal(got, x)


def test_a_slow_reader_gets_every_played_sample_and_tag_exactly_once(names, tmp_path):
    """A reader slower than doppler-play's blocking writes time out (they
    wait a tenth of a second at a time, to see Ctrl-C): each write resumes
    where the ring took it, without losing or repeating samples or tags."""
    base = str(tmp_path / "rec")
    x = samples(dbuf.F32Buffer, 3000)
    marks = [(i, "rx_freq", 1e6 + i) for i in (0, 1, 255, 256, 700, 1023, 2047, 2999)]
    record_written(dbuf.F32Buffer, names(), base, x, marks)
    name = names()
    with dbuf.F32Buffer(1024, name=name) as cons:
        t = threading.Thread(target=lambda: play.play(base, name), daemon=True)
        t.start()
        parts, tags = [], []
        while sum(map(len, parts)) < len(x):
            v = cons.wait(min(300, len(x) - sum(map(len, parts))), timeout=LONG)
            parts.append(np.array(v))
            tags += [(tg.index, tg.value) for tg in cons.tags() if tg.key == "rx_freq"]
            cons.consume()
            time.sleep(0.12)
        t.join(LONG)
        assert not t.is_alive()
    np.testing.assert_array_equal(np.concatenate(parts), x)
    assert tags == [(i, v) for i, _, v in marks]


def test_play_loops_the_recording_in_one_stream_until_stopped(names, tmp_path):
    base = str(tmp_path / "rec")
    x = samples(dbuf.F32Buffer, 3000)
    record_written(dbuf.F32Buffer, names(), base, x, [(0, "rx_freq", 1e8)])
    name, stop = names(), threading.Event()
    with dbuf.F32Buffer(4096, name=name) as cons:
        t = threading.Thread(target=lambda: play.play(base, name, loop=True, stop=stop), daemon=True)
        t.start()
        parts, freq_at = [], []
        while sum(map(len, parts)) < 3 * len(x):
            v = cons.wait(1000, timeout=LONG)
            parts.append(np.array(v))
            freq_at += [t_.index for t_ in cons.tags() if t_.key == "rx_freq"]
            cons.consume()
        stop.set()
        rest = drain(cons)
        t.join(LONG)
        assert not t.is_alive()
    got = np.concatenate(parts + [rest])
    assert len(got) >= 3 * len(x)
    np.testing.assert_array_equal(got[:3 * len(x)], np.tile(x, 3))
    assert freq_at[:3] == [0, 3000, 6000]


def test_ctrl_c_ends_doppler_play_and_closes_its_stream(names, tmp_path):
    """doppler-play waiting for room in a full ring is interrupted (SIGINT):
    it exits 0 and the reader gets what was written, then the end of the
    stream."""
    base = str(tmp_path / "rec")
    x = samples(dbuf.F32Buffer, 5000)
    record_written(dbuf.F32Buffer, names(), base, x, capacity=8192)
    name = names()
    with dbuf.F32Buffer(1024, name=name) as cons:
        with app("doppler-play", base, name) as p:
            until(lambda: cons.available == 1024, "doppler-play filled the ring")
            p.send_signal(signal.SIGINT)
            out, err = p.communicate(timeout=LONG)
        got = drain(cons)
    assert p.returncode == 0, err
    assert "1024 samples" in out
    np.testing.assert_array_equal(got, x[:1024])


def test_doppler_play_creates_the_ring_or_attaches_as_its_producer(names, tmp_path):
    base = str(tmp_path / "rec")
    x = samples(dbuf.I16Buffer, 2000)
    record_written(dbuf.I16Buffer, names(), base, x)
    # Attached: the consumer made the ring.
    name = names()
    ready = threading.Event()
    res = []
    t = threading.Thread(target=lambda: res.append(consume_all(dbuf.I16Buffer, name, ready=ready)), daemon=True)
    t.start()
    ready.wait(LONG)
    r = cli("doppler-play", base, name, "--timeout", LONG)
    t.join(LONG)
    assert r.returncode == 0, r.stderr
    np.testing.assert_array_equal(res[0][0], x)
    # Created: doppler-play makes an i16 ring and waits for its reader.
    name = names()
    with app("doppler-play", base, name, "--capacity", "4096") as p:
        with dbuf.I16Buffer.attach(name, timeout=LONG) as cons:
            got = drain(cons)
        out, err = p.communicate(timeout=LONG)
    assert p.returncode == 0, err
    np.testing.assert_array_equal(got, x)


# ---------------------------------------------------------------------------
# The validator
# ---------------------------------------------------------------------------

def breakages():
    """(how a valid meta/data is broken, the words the validator must say)."""
    def meta_edit(f):
        return lambda m, d: f(m)
    return {
        "no datatype": (meta_edit(lambda m: m["global"].pop("core:datatype")), "core:datatype is missing"),
        "no version": (meta_edit(lambda m: m["global"].pop("core:version")), "core:version is missing"),
        "bad datatype": (meta_edit(lambda m: m["global"].update({"core:datatype": "cf33"})), "not a SigMF datatype"),
        "bad rate": (meta_edit(lambda m: m["global"].update({"core:sample_rate": -1})), "core:sample_rate"),
        "no captures": (meta_edit(lambda m: m.update({"captures": []})), "captures is empty"),
        "first capture not at 0": (meta_edit(lambda m: m["captures"].pop(0)), "not 0"),
        "captures unsorted": (meta_edit(lambda m: m["captures"].reverse()), "not sorted"),
        "bad datetime": (meta_edit(lambda m: m["captures"][0].update({"core:datetime": "yesterday"})), "ISO 8601"),
        "annotation past the data": (meta_edit(lambda m: m["annotations"].append(
            {"core:sample_start": N - 10, "core:sample_count": 11})), "past the data"),
        "annotations unsorted": (meta_edit(lambda m: m["annotations"].extend(
            [{"core:sample_start": 5}, {"core:sample_start": 4}])), "annotations are not sorted"),
        "undeclared namespace": (meta_edit(lambda m: m["global"].update({"foo:bar": 1})), "not declared"),
        "no global": (meta_edit(lambda m: m.pop("global")), '"global" is missing'),
        "data not whole samples": (lambda m, d: open(d, "ab").write(b"\0\0\0"), "not a whole number"),
        "no data file": (lambda m, d: os.unlink(d), "cannot read"),
    }


BREAKAGES = breakages()


@pytest.mark.parametrize("how", list(BREAKAGES))
def test_the_validator_rejects_a_broken_recording(how, names, tmp_path):
    base = str(tmp_path / "rec")
    record_tagged_stream(dbuf.F32Buffer, names(), base)
    assert sigmf.validate(base) == []
    meta = meta_of(base)
    breaking, words = BREAKAGES[how]
    breaking(meta, sigmf.data_path(base))
    with open(sigmf.meta_path(base), "w") as f:
        json.dump(meta, f)
    problems = sigmf.validate(base)
    assert any(words in p for p in problems), problems
    with pytest.raises(sigmf.SigMFError):
        sigmf.check(base)


def test_the_validator_rejects_a_meta_that_is_not_json(tmp_path):
    base = str(tmp_path / "rec")
    open(sigmf.data_path(base), "wb").close()
    with open(sigmf.meta_path(base), "w") as f:
        f.write('{"global": {')
    assert any("not JSON" in p for p in sigmf.validate(base))


def test_play_refuses_an_invalid_recording_saying_why(names, tmp_path):
    base = str(tmp_path / "rec")
    with open(sigmf.data_path(base), "wb") as f:
        f.write(b"\0" * 7)
    sigmf.write_meta(base, {"global": {"core:datatype": "cf32_le", "core:version": "1.2.0"},
                            "captures": [{"core:sample_start": 0}], "annotations": []})
    r = cli("doppler-play", base, names())
    assert r.returncode == 1
    assert "not a whole number" in r.stderr


# ---------------------------------------------------------------------------
# The command line: progress, duration, the Python names
# ---------------------------------------------------------------------------

def test_a_progress_line_goes_to_a_terminal(names, tmp_path):
    """On a terminal (a pseudo-terminal here), doppler-record shows a
    progress line (samples, rate, gaps) that rewrites itself with \\r."""
    import pty
    name, base = names(), str(tmp_path / "rec")
    x = samples(dbuf.F32Buffer, 3000)
    with dbuf.F32Buffer(4096, name=name) as prod:
        write_stream(prod, x, [])
        prod.close()
        master, slave = pty.openpty()
        try:
            r = subprocess.run([sys.executable, os.path.join(APPS, "doppler-record"), name, base, "--reader", "",
                                "--streams", "1"], stderr=slave, stdout=subprocess.PIPE, text=True, timeout=LONG)
            os.close(slave)
            shown = b""
            while True:
                try:
                    chunk = os.read(master, 4096)
                except OSError:  # EIO: the terminal's other end is closed and read
                    break
                if not chunk:
                    break
                shown += chunk
        finally:
            os.close(master)
    assert r.returncode == 0
    assert b"\rdoppler-record: 3,000 samples" in shown and b"0 gaps" in shown, shown


def test_duration_ends_a_recording_of_an_idle_ring_with_a_valid_empty_recording(names, tmp_path):
    name, base = names(), str(tmp_path / "rec")
    with dbuf.I16Buffer(1024, name=name):
        r = cli("doppler-record", name, base, "--duration", 0.3, "--rate", 2e6)
    assert r.returncode == 0, r.stderr
    assert sigmf.validate(base) == []
    assert os.path.getsize(sigmf.data_path(base)) == 0
    assert meta_of(base)["global"]["core:datatype"] == "ci16_le"


def test_doppler_record_and_play_are_callable_from_the_package(names, tmp_path):
    import doppler
    base = str(tmp_path / "rec")
    x = samples(dbuf.F64Buffer, 1500)
    with dbuf.F64Buffer(4096, name=names()) as prod:
        write_stream(prod, x, [])
        prod.close()
        s = doppler.record(prod.name, base, reader=None, samples=1500)
    assert s.samples == 1500
    name = names()
    with dbuf.F64Buffer(4096, name=name) as cons:
        assert doppler.play(base, name) == 1500
        np.testing.assert_array_equal(drain(cons), x)


# ---------------------------------------------------------------------------
# A GNU Radio flowgraph as the producer
# ---------------------------------------------------------------------------

def test_a_flowgraphs_stream_tags_become_the_recordings_captures(names, tmp_path):
    """vector_source (with rx_rate, rx_freq, rx_time tags as a radio source
    gives them) -> Buffer Sink -> doppler-record: the same samples, and the
    captures say the frequency and the time."""
    pmt = pytest.importorskip("pmt")
    from gnuradio import blocks, gr
    from gnuradio import doppler as gd
    from doppler_testing import gr_tag

    name, base = names(), str(tmp_path / "rec")
    x = samples(dbuf.F32Buffer, 50000)
    tags = [gr_tag(0, "rx_rate", pmt.from_double(RATE)), gr_tag(0, "rx_freq", pmt.from_double(100e6)),
            gr_tag(0, "rx_time", pmt.make_tuple(pmt.from_uint64(T0[0]), pmt.from_double(T0[1]))),
            gr_tag(30000, "rx_freq", pmt.from_double(433.92e6))]
    with dbuf.F32Buffer(1 << 14, name=name):  # the ring the sink attaches to and the recorder reads
        t, out = record_in_thread(name, base, reader=None, streams=1)
        tb = gr.top_block()
        tb.connect(blocks.vector_source_c(x.tolist(), False, 1, tags),
                   gd.buffer_sink(type="f32", name=name, capacity=1 << 14, policy="block"))
        tb.run()
        s = joined(t, out)
    assert s.samples == len(x)
    assert sigmf.validate(base) == []
    np.testing.assert_array_equal(stored(dbuf.F32Buffer, base), x)
    meta = meta_of(base)
    assert meta["global"]["core:sample_rate"] == RATE
    assert meta["captures"] == [
        {"core:sample_start": 0, "core:frequency": 100e6, "core:datetime": "2023-11-14T22:13:20.250000000Z"},
        {"core:sample_start": 30000, "core:frequency": 433.92e6, "core:datetime": "2023-11-14T22:13:20.280000000Z"}]


def test_the_example_flowgraph_reads_a_played_recording_with_its_timing_tags(names, tmp_path):
    """examples/recording_to_source.grc (compiled by grcc here) reads what
    doppler-play writes through a Buffer Source, prints the capture tags as
    PMTs (rx_time a tuple) and ends with the played stream."""
    pytest.importorskip("gnuradio")
    base = str(tmp_path / "rec")
    record_tagged_stream(dbuf.F32Buffer, names(), base)
    grc = os.path.join(APPS, "..", "examples", "recording_to_source.grc")
    env = dict(os.environ, GRC_BLOCKS_PATH=os.path.join(APPS, "..", "grc"))
    r = subprocess.run(["grcc", "-o", str(tmp_path), grc], capture_output=True, text=True, env=env, timeout=LONG)
    assert r.returncode == 0, r.stderr
    name = names()
    fg = subprocess.Popen([sys.executable, str(tmp_path / "recording_to_source.py"), "--name", name],
                          stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    try:
        played = cli("doppler-play", base, name, "--timeout", LONG)
        out, _ = fg.communicate(timeout=LONG)
    finally:
        if fg.poll() is None:
            fg.kill()
            fg.wait()
    assert played.returncode == 0, played.stderr
    assert fg.returncode == 0, out
    assert "Key: rx_freq   Value: 1.01e+08" in out, out
    assert "Offset: 12000  Source: buffer_source0     Key: rx_time   Value: {1700000010 0.5}" in out, out
