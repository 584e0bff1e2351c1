/* -*- c++ -*- */
/*
 * doppler.buffer: F32Buffer / F64Buffer / I16Buffer, one template over
 * doppler::ring<T>: the class definitions, their docstrings and the methods
 * that are not on the hot path. Arguments: buffer_args.hpp; the object and
 * what its methods share: buffer_object.hpp; write / wait / consume:
 * buffer_fast.hpp.
 * SPDX-License-Identifier: GPL-3.0-or-later
 */
#include "buffer_fast.hpp"

#include <pybind11/pybind11.h>

#include <cinttypes>
#include <string>

namespace py = pybind11;
using namespace doppler;
using namespace doppler::python;

namespace {

/// doppler._buffer_extras.Tag, the class of what tags() returns.
PyObject* tag_class = nullptr;

/// Runs `body`, turning C++ exceptions into Python ones; `fail` on error.
template <class R, class F>
R guarded(R fail, F body)
{
    try {
        return body();
    } catch (const doppler::error& e) {
        set_error(e);
    } catch (const std::bad_alloc&) {
        PyErr_NoMemory();
    } catch (const std::exception& e) {
        PyErr_SetString(PyExc_RuntimeError, e.what());
    }
    return fail;
}

// ---------------------------------------------------------------------------
// Docstrings (one set per type, built once)
// ---------------------------------------------------------------------------

template <class T>
struct docs {
    using P = py_type<T>;
    const std::string cls =
        std::string("Lock-free ring buffer (one producer, up to 16 readers) of ") +
        P::dtype +
        " samples, double-mapped so every read window is contiguous (zero-copy).\n\n"
        "One thread (or process) writes, one waits/consumes.\n\n"
        "Args:\n"
        "    capacity: size in " +
        P::unit +
        "; rounded up to a power of two and to the page minimum.\n"
        "    name: None for an in-process ring; a name (1-200 of [A-Za-z0-9._-], not\n"
        "        starting with a dot) creates /dev/shm/doppler.<name> for another "
        "process\n"
        "        to attach() (FileExistsError if it exists).\n\n"
        "    wait: how this handle waits in wait() and write(block=True): 'park'\n"
        "        (default: spin about a microsecond, then sleep until woken; no CPU\n"
        "        while waiting) or 'poll' (busy-poll: never sleeps; the lowest wake-up\n"
        "        latency, for one whole core spent while waiting). See wait_strategy.\n\n"
        "Errors: ValueError for a bad capacity, name or wait, and for any call after "
        "destroy().\n"
        "A role held by another handle (a second producer or consumer, in another\n"
        "process or in this one) is OSError(errno.EBUSY) naming the holder's pid.\n"
        "A shared index that cannot be (the ring's header was overwritten) is\n"
        "OSError(errno.EBADMSG) naming the index.\n";
    const std::string write =
        std::string("write($self, arr, block=False, timeout=None, tags=None)\n--\n\n") +
        "Write all of arr (a " + P::input +
        ") or nothing.\n\n"
        "block=False (default): never waits; returns False and adds the samples to\n"
        "`dropped` if they do not fit. block=True: lossless, waits for room (timeout in\n"
        "seconds, None = forever) and returns True; TimeoutError on timeout,\n"
        "BrokenPipeError if the consumer process died and none re-attached in time.\n"
        "The blocking write copies what fits as room appears, so a consumer waiting\n"
        "for any count up to the capacity gets it, and arr may be longer than the\n"
        "capacity (it streams through as readers read); on TimeoutError the message\n"
        "says how many samples (at the end of arr) were not written.\n"
        "An empty array returns True. Non-contiguous input is copied once (contiguous\n"
        "input never is). Wrong dtype: TypeError; wrong shape, or more samples than\n"
        "the capacity with block=False: ValueError.\n\n"
        "tags: a list of (offset, key, value), offset relative to arr[0] (0 <= offset\n"
        "< len(arr)), key a str, value None, bool, int, float, complex, str, bytes, or\n"
        "tuples, lists and dicts (str keys) of these; readers get them from tags().\n"
        "A bad tag is a TypeError or ValueError and nothing is written.";
    const std::string wait = std::string("wait($self, n, timeout=None)\n--\n\n") +
        "Block until n samples are readable; return them as a read-only zero-copy\n"
        "view of shape " +
        P::view_shape +
        ".\n\n"
        "Call consume() when done with it. The GIL is released only if it must\n"
        "actually wait; Ctrl-C interrupts it (KeyboardInterrupt) and leaves the ring\n"
        "usable. timeout in seconds (None = forever): TimeoutError. A view never spans\n"
        "two streams (producer runs): once fewer than n samples of the current stream\n"
        "remain, EOFError if it was closed (read the rest with wait(buf.available)),\n"
        "BrokenPipeError if its producer process died; the wait after that waits for\n"
        "the next stream (`except EOFError: continue` keeps a consumer across runs).\n"
        "tags() gives the tags inside the returned window. n <= 0 or\n"
        "n > capacity: ValueError. The view stays valid (the mapping stays alive) even\n"
        "after destroy(); after consume() the producer may overwrite it.";
    const std::string attach =
        std::string("attach($type, name, timeout=None, allow_foreign=False, reader=None, "
                    "tethered=True, grace=None, wait='park', history=0)\n--\n\n") +
        "Attach to the named ring /dev/shm/doppler.<name> made by another process (or "
        "this one).\n\n"
        "Capacity comes from the ring's header; its sample type must match this class\n"
        "(TypeError naming both types otherwise). timeout=None: a missing ring is\n"
        "FileNotFoundError at once; otherwise wait up to timeout seconds for it to "
        "appear\n(TimeoutError if it does not; Ctrl-C interrupts the wait). A ring "
        "owned by\nanother user is "
        "PermissionError\nunless allow_foreign=True; a corrupt or foreign object, or "
        "one that is not a\nfile, is OSError (EBADMSG) with the reason. A name that is "
        "not a str is\nTypeError; one that is not a valid ring name (or cannot be "
        "encoded) ValueError.\n\n"
        "reader: None reads as the ring's default reader (tethered; a lossless producer\n"
        "waits for it, and for its successor, forever). A name (ring-name characters, "
        "at\n"
        "most 32) claims a reader of its own, with its own position, now: a name a live\n"
        "handle reads under is OSError(EBUSY) naming its pid, a 17th reader\n"
        "OSError(EUSERS). tethered=True holds the producer back (lossless to this\n"
        "reader); grace (seconds, None: 1 s) is how long the producer waits for a\n"
        "successor if this reader's process dies. tethered=False never holds the\n"
        "producer: when lapped, the reader continues at the oldest intact sample and\n"
        "counts what it missed in `skipped`; consume() returns how many samples of the\n"
        "released window were overwritten while held.\n\n"
        "history (a new named reader): start up to that many samples before the\n"
        "current write index, as far as the current stream reaches and, untethered,\n"
        "the oldest intact sample, tethered, never before samples the producer may\n"
        "reuse; `history` then says how many it got (tags included).\n\n"
        "wait: 'park' (default) or 'poll', as for the constructor.";
    const std::string consume = std::string("consume($self, n=None)\n--\n\n") +
        "Release n samples (default: what is left of the last wait()'s count).\n\n"
        "Returns how many of them were overwritten by the producer while this reader\n"
        "held them (added to `skipped`): always 0 for a tethered reader; an untethered\n"
        "reader trusts what it computed from the window only if consume() returned 0.\n"
        "ValueError if n <= 0 or more than is readable.";
};

template <class T>
const docs<T>& doc()
{
    static const docs<T> d;
    return d;
}

// ---------------------------------------------------------------------------
// The class
// ---------------------------------------------------------------------------

template <class T>
struct cls {
    using O = buffer_object<T>;

    static PyObject* tp_new(PyTypeObject* type, PyObject*, PyObject*)
    {
        PyObject* self = type->tp_alloc(type, 0);
        if (!self)
            return nullptr;
        auto* o = reinterpret_cast<O*>(self);
        new (&o->ring_) std::shared_ptr<ring<T>>();
        o->keeper_ = nullptr;
        o->last_wait_ = 0;
        o->aio_ = nullptr;
        return self;
    }

    static void tp_dealloc(PyObject* self)
    {
        auto* o = reinterpret_cast<O*>(self);
        PyTypeObject* type = Py_TYPE(self);
        drop_ring(o);
        Py_CLEAR(o->aio_);
        o->ring_.~shared_ptr();
        type->tp_free(self);
        Py_DECREF(type);
    }

    /// F32Buffer(capacity, name=None, *, wait='park')
    static int tp_init(PyObject* self, PyObject* args, PyObject* kwargs)
    {
        static const char* kw[] = { "capacity", "name", "wait", nullptr };
        PyObject* capacity = nullptr;
        PyObject* name = Py_None;
        PyObject* wait = nullptr;
        if (!PyArg_ParseTupleAndKeywords(
                args, kwargs, "O|O$O", const_cast<char**>(kw), &capacity, &name, &wait))
            return -1;
        uint64_t cap = 0;
        std::string ring_name;
        wait_strategy how;
        if (!capacity_arg(capacity, cap) ||
            (name != Py_None && !name_arg(name, ring_name)) || !wait_arg(wait, how))
            return -1;
        return guarded(-1, [&] {
            std::shared_ptr<ring<T>> r = name == Py_None
                ? std::make_shared<ring<T>>(cap)
                : std::shared_ptr<ring<T>>(ring<T>::create_named(ring_name, cap));
            r->set_wait_strategy(how);
            return set_ring(reinterpret_cast<O*>(self), std::move(r)) ? 0 : -1;
        });
    }

    /// attach(name, timeout=None, allow_foreign=False, reader=None,
    /// tethered=True, grace=None, wait='park', history=0), a classmethod.
    static PyObject* attach(PyObject* type, PyObject* args, PyObject* kwargs)
    {
        static const char* kw[] = { "name",   "timeout",  "allow_foreign",
                                    "reader", "tethered", "grace",
                                    "wait",   "history",  nullptr };
        PyObject* name = nullptr;
        PyObject* timeout = nullptr;
        PyObject* foreign = nullptr;
        PyObject* reader = Py_None;
        PyObject* tethered_arg = nullptr;
        PyObject* grace = Py_None;
        PyObject* wait = nullptr;
        unsigned long long history = 0;
        if (!PyArg_ParseTupleAndKeywords(args,
                                         kwargs,
                                         "O|OO$OOOOK",
                                         const_cast<char**>(kw),
                                         &name,
                                         &timeout,
                                         &foreign,
                                         &reader,
                                         &tethered_arg,
                                         &grace,
                                         &wait,
                                         &history))
            return nullptr;
        std::string ring_name, reader_name;
        int64_t timeout_ns;
        wait_strategy how;
        if (!name_arg(name, ring_name) || !timeout_arg(timeout, timeout_ns) ||
            !wait_arg(wait, how))
            return nullptr;
        if (reader != Py_None && !name_arg(reader, reader_name, "reader"))
            return nullptr;
        // grace: seconds; None is the core's default (math.inf: forever).
        int64_t grace_ns = default_reader_grace_ns;
        if (grace != Py_None) {
            const double g = PyFloat_AsDouble(grace);
            if (g == -1.0 && PyErr_Occurred())
                return nullptr;
            if (!(g >= 0)) {
                PyErr_Format(PyExc_ValueError,
                             "grace must be None (1 s), seconds >= 0, or math.inf "
                             "(forever), got %R",
                             grace);
                return nullptr;
            }
            grace_ns = g >= max_timeout_s ? -1 : int64_t(g * 1e9);
        }
        const int allow_foreign = foreign ? PyObject_IsTrue(foreign) : 0;
        const int tethered = tethered_arg ? PyObject_IsTrue(tethered_arg) : 1;
        if (allow_foreign < 0 || tethered < 0)
            return nullptr;
        if (reader == Py_None && (tethered == 0 || grace != Py_None || history != 0)) {
            PyErr_SetString(
                PyExc_ValueError,
                "tethered=, grace= and history= choose how a named reader behaves; "
                "pass reader='NAME' with them (the default reader is tethered, "
                "waited for forever, and keeps its own position)");
            return nullptr;
        }
        auto* tp = reinterpret_cast<PyTypeObject*>(type);
        PyObject* self = tp->tp_new(tp, nullptr, nullptr);
        if (!self)
            return nullptr;
        std::shared_ptr<ring<T>> r;
        bool ok = guarded(false, [&] {
            // Without the GIL: attach may wait for the ring to appear. Between
            // attempts, Python's signal handlers run (Ctrl-C ends the wait).
            const auto interrupted = [] {
                PyGILState_STATE g = PyGILState_Ensure();
                const bool stop = PyErr_CheckSignals() < 0;
                PyGILState_Release(g);
                return stop;
            };
            Py_BEGIN_ALLOW_THREADS;
            try {
                r = ring<T>::attach(
                    ring_name, timeout_ns, allow_foreign != 0, interrupted);
                if (reader != Py_None)
                    r->claim_reader(
                        reader_name, tethered != 0, grace_ns, audience::api, history);
                r->set_wait_strategy(how);
            } catch (...) {
                Py_BLOCK_THREADS;
                throw;
            }
            Py_END_ALLOW_THREADS;
            return set_ring(reinterpret_cast<O*>(self), std::move(r));
        });
        if (!ok) {
            Py_DECREF(self);
            return nullptr;
        }
        return self;
    }

    static O* live_or_null(PyObject* self) { return live<T>(self); }

    static PyObject* close(PyObject* self, PyObject*)
    {
        O* o = live<T>(self);
        if (!o)
            return nullptr;
        o->ring_->close();
        Py_RETURN_NONE;
    }

    static PyObject* destroy(PyObject* self, PyObject*)
    {
        drop_ring(reinterpret_cast<O*>(self));
        Py_RETURN_NONE;
    }

    static PyObject* enter(PyObject* self, PyObject*)
    {
        if (!live<T>(self))
            return nullptr;
        Py_INCREF(self);
        return self;
    }

    static PyObject* exit(PyObject* self, PyObject*)
    {
        PyObject* r = PyObject_CallMethod(self, "destroy", nullptr);
        if (!r)
            return nullptr;
        Py_DECREF(r);
        Py_RETURN_FALSE;
    }

    /// The capsule protocol of ring_handle.hpp (the blocks' buffer=).
    static PyObject* ring_capsule(PyObject* self, PyObject*)
    {
        O* o = live<T>(self);
        if (!o)
            return nullptr;
        return guarded<PyObject*>(nullptr, [&] { return make_ring_capsule(o->ring_); });
    }

    static PyObject* repr(PyObject* self)
    {
        auto* o = reinterpret_cast<O*>(self);
        std::string s = std::string("<doppler.buffer.") + py_type<T>::cls;
        if (!o->ring_)
            return PyUnicode_FromString((s + " destroyed>").c_str());
        const ring<T>& r = *o->ring_;
        s += " capacity=" + std::to_string(r.capacity());
        if (!r.seg()->name().empty())
            s += " name='" + r.seg()->name() + "'";
        s += " fill=" + std::to_string(r.available()) +
            " dropped=" + std::to_string(r.dropped());
        if (r.closed())
            s += " closed";
        return PyUnicode_FromString((s + ">").c_str());
    }

    // Properties: each looks the ring up (ValueError once destroyed).
    template <class F>
    static PyObject* prop(PyObject* self, F get)
    {
        O* o = live<T>(self);
        return o ? get(*o->ring_) : nullptr;
    }
    /// A property that is one of the ring's counters.
    template <uint64_t (ring<T>::*get)() const noexcept>
    static PyObject* counter(PyObject* s, void*)
    {
        return prop(s,
                    [](ring<T>& r) { return PyLong_FromUnsignedLongLong((r.*get)()); });
    }
    static PyObject* tethered(PyObject* s, void*)
    {
        return prop(s, [](ring<T>& r) { return PyBool_FromLong(r.is_tethered()); });
    }
    static PyObject* get_wait_strategy(PyObject* s, void*)
    {
        return prop(s, [](ring<T>& r) {
            return PyUnicode_FromString(
                r.get_wait_strategy() == wait_strategy::poll ? "poll" : "park");
        });
    }
    static int set_wait_strategy(PyObject* self, PyObject* v, void*)
    {
        if (!v) {
            PyErr_SetString(PyExc_AttributeError, "wait_strategy cannot be deleted");
            return -1;
        }
        wait_strategy how;
        if (v == Py_None) {
            PyErr_SetString(PyExc_TypeError, "wait_strategy must be 'park' or 'poll'");
            return -1;
        }
        if (!wait_arg(v, how))
            return -1;
        O* o = live<T>(self);
        if (!o)
            return -1;
        o->ring_->set_wait_strategy(how);
        return 0;
    }
    /// The async helpers' per-buffer state (None until set).
    static PyObject* get_aio(PyObject* self, void*)
    {
        auto* o = reinterpret_cast<O*>(self);
        PyObject* v = o->aio_ ? o->aio_ : Py_None;
        Py_INCREF(v);
        return v;
    }
    static int set_aio(PyObject* self, PyObject* v, void*)
    {
        auto* o = reinterpret_cast<O*>(self);
        Py_XINCREF(v);
        Py_XSETREF(o->aio_, v);
        return 0;
    }
    static PyObject* tags(PyObject* self, PyObject*)
    {
        O* o = live<T>(self);
        if (!o)
            return nullptr;
        if (o->last_wait_ == 0) // nothing waited for, or all of it consumed
            return PyList_New(0);
        return tags_list(*o->ring_, tag_class);
    }
    /// `closed` is about this handle's own stream: the producer's, or for a
    /// reader the stream of its next sample (a reader still draining stream
    /// 1 after stream 2 started sees stream 1's end, not stream 2's).
    static bool own_stream_closed(ring<T>& r)
    {
        if (r.is_producer())
            return r.closed();
        const control* c = r.seg()->ctl();
        const uint64_t s = r.stream();
        detail::stream_info si;
        if (detail::read_seam(c, s, si) && si.end != stream_open)
            return si.why == stream_end::closed; // it ended: closed, or broken
        // Still open, or not started yet: closed only if it is the current
        // stream and its close was asked for (by another handle's close()).
        return s == c->stream.load(std::memory_order_acquire) &&
            c->closed.load(std::memory_order_acquire) != 0;
    }
    static PyObject* closed(PyObject* s, void*)
    {
        return prop(s, [](ring<T>& r) { return PyBool_FromLong(own_stream_closed(r)); });
    }
    static PyObject* name(PyObject* s, void*)
    {
        return prop(s, [](ring<T>& r) -> PyObject* {
            const std::string& n = r.seg()->name();
            if (n.empty())
                Py_RETURN_NONE;
            return PyUnicode_FromStringAndSize(n.data(), Py_ssize_t(n.size()));
        });
    }

    /// Make the type and add it to module `m`.
    static void define(py::module_& m)
    {
        using fast_method =
            PyObject* (*)(PyObject*, PyObject* const*, Py_ssize_t, PyObject*);
        auto fastcall = [](fast_method f) {
            return reinterpret_cast<PyCFunction>(reinterpret_cast<void (*)()>(f));
        };
        // One row per method, alike: the hot three are METH_FASTCALL (fast<T>).
        static PyMethodDef methods[] = {
            { "write",
              fastcall(&fast<T>::write),
              METH_FASTCALL | METH_KEYWORDS,
              doc<T>().write.c_str() },
            { "wait",
              fastcall(&fast<T>::wait),
              METH_FASTCALL | METH_KEYWORDS,
              doc<T>().wait.c_str() },
            { "consume",
              fastcall(&fast<T>::consume),
              METH_FASTCALL | METH_KEYWORDS,
              doc<T>().consume.c_str() },
            { "_wait_cancellable",
              fastcall(&fast<T>::wait_cancellable),
              METH_FASTCALL | METH_KEYWORDS,
              "_wait_cancellable($self, n, timeout, cancelled)\n--\n\n"
              "wait_async's worker: wait(n, timeout) that returns None once the "
              "threading.Event\n`cancelled` is set." },
            { "_write_cancellable",
              fastcall(&fast<T>::write_cancellable),
              METH_FASTCALL | METH_KEYWORDS,
              "_write_cancellable($self, arr, timeout, tags, cancelled)\n--\n\n"
              "write_async's worker: write(arr, block=True, timeout=timeout, "
              "tags=tags) that\nreturns False once the threading.Event `cancelled` is "
              "set." },
            { "attach",
              reinterpret_cast<PyCFunction>(reinterpret_cast<void (*)()>(&attach)),
              METH_VARARGS | METH_KEYWORDS | METH_CLASS,
              doc<T>().attach.c_str() },
            { "close",
              &close,
              METH_NOARGS,
              "close($self)\n--\n\n"
              "Mark end of stream: the consumer drains what remains, then wait() raises "
              "EOFError.\nclose() is final: a later write() raises ValueError." },
            { "destroy",
              &destroy,
              METH_NOARGS,
              "destroy($self)\n--\n\n"
              "Release the ring (idempotent). Views already returned stay readable; any "
              "other\ncall afterwards raises ValueError." },
            { "tags",
              &tags,
              METH_NOARGS,
              "tags($self)\n--\n\n"
              "The tags inside the window of the last wait(), as a list of Tag (index,\n"
              "key, value) sorted by index (index: absolute sample index, like\n"
              "read_index); [] once that window is consumed. Besides the producer's "
              "tags:\n"
              "('stream_start', n) at the first sample of stream n, ('dropped', count) "
              "on\n"
              "the first sample written after count samples were refused (drop policy),\n"
              "('skipped', count) at the first sample after an untethered reader was\n"
              "lapped." },
            { "__enter__", &enter, METH_NOARGS, "__enter__($self)\n--\n\nReturns self." },
            { "__exit__",
              &exit,
              METH_VARARGS,
              "__exit__($self, *exc_info)\n--\n\nCalls destroy()." },
            { ring_handle_method,
              &ring_capsule,
              METH_NOARGS,
              "__doppler_ring__($self)\n--\n\n"
              "A new PyCapsule named \"doppler.ring_handle\" sharing this buffer's "
              "ring,\nfor another extension module (the GNU Radio blocks' buffer=)." },
            { nullptr, nullptr, 0, nullptr },
        };
        static PyGetSetDef props[] = {
            { "capacity",
              &counter<&ring<T>::capacity>,
              nullptr,
              "Capacity in samples (a power of two).",
              nullptr },
            { "dropped",
              &counter<&ring<T>::dropped>,
              nullptr,
              "Samples refused by non-blocking writes (full).",
              nullptr },
            { "missed_wakes",
              &counter<&ring<T>::missed_wakes>,
              nullptr,
              "Lost wake-ups: waits that ended by a timeout slice although what they "
              "waited for had happened. 0 unless the ring's wake-up protocol is broken.",
              nullptr },
            { "available",
              &counter<&ring<T>::available>,
              nullptr,
              "Samples of this reader's current stream written and not yet consumed "
              "(wait(buf.available) drains the stream).",
              nullptr },
            { "name",
              &name,
              nullptr,
              "The ring's name, or None for an in-process ring.",
              nullptr },
            { "written",
              &counter<&ring<T>::written>,
              nullptr,
              "Total samples the producer ever wrote (absolute write position).",
              nullptr },
            { "read_index",
              &counter<&ring<T>::read_index>,
              nullptr,
              "Absolute index of the first sample of this reader's current (or next) "
              "view.",
              nullptr },
            { "closed",
              &closed,
              nullptr,
              "True once this handle's stream was closed (by its producer's close()): "
              "the producer's own stream, or for a reader the stream of its next "
              "sample (it may still be draining it while the next stream runs).",
              nullptr },
            { "stream",
              &counter<&ring<T>::stream>,
              nullptr,
              "Number of the stream (producer run, from 1) the next sample this reader "
              "reads belongs to; 0 before the first stream.",
              nullptr },
            { "skipped",
              &counter<&ring<T>::skipped>,
              nullptr,
              "Samples this reader lost because the producer lapped it, or overwrote "
              "them while held (untethered readers only; always 0 when tethered).",
              nullptr },
            { "tags_dropped",
              &counter<&ring<T>::tags_dropped>,
              nullptr,
              "Tags refused because the ring's tag area was full (samples never are).",
              nullptr },
            { "tethered",
              &tethered,
              nullptr,
              "Whether this handle's reader holds the producer back.",
              nullptr },
            { "history",
              &counter<&ring<T>::history>,
              nullptr,
              "How many samples written before this (new, named) reader was claimed it "
              "starts with: attach(history=N), as far as the stream and the ring reach.",
              nullptr },
            { "wait_strategy",
              &get_wait_strategy,
              &set_wait_strategy,
              "How this handle waits in wait() and write(block=True): 'park' (spin "
              "about a microsecond, then sleep until woken; no CPU while waiting) or "
              "'poll' (busy-poll: never sleeps; lowest wake-up latency, one core spent "
              "while waiting). Settable; a wait already running keeps its strategy.",
              nullptr },
            { "_aio", &get_aio, &set_aio, "State of wait_async/write_async.", nullptr },
            { nullptr, nullptr, nullptr, nullptr, nullptr },
        };
        static const std::string qualname =
            std::string("doppler.buffer.") + py_type<T>::cls;
        static const std::string class_doc = std::string(py_type<T>::cls) +
            "(capacity, name=None, *, wait='park')\n--\n\n" + doc<T>().cls;
        static PyType_Slot slots[] = {
            { Py_tp_new, reinterpret_cast<void*>(&tp_new) },
            { Py_tp_init, reinterpret_cast<void*>(&tp_init) },
            { Py_tp_dealloc, reinterpret_cast<void*>(&tp_dealloc) },
            { Py_tp_repr, reinterpret_cast<void*>(&repr) },
            { Py_tp_methods, methods },
            { Py_tp_getset, props },
            { Py_tp_doc, const_cast<char*>(class_doc.c_str()) },
            { 0, nullptr },
        };
        static PyType_Spec spec = {
            qualname.c_str(),
            int(sizeof(O)),
            0,
            Py_TPFLAGS_DEFAULT | Py_TPFLAGS_BASETYPE,
            slots,
        };
        PyObject* type = PyType_FromSpec(&spec);
        if (!type)
            throw py::error_already_set();
        m.add_object(py_type<T>::cls, py::reinterpret_steal<py::object>(type));
    }
};

} // namespace

PYBIND11_MODULE(buffer, m)
{
    if (_import_array() < 0 || !(zero = PyLong_FromLong(0)))
        throw py::error_already_set();
    m.doc() = "Lock-free ring buffers (F32Buffer, F64Buffer, I16Buffer; one producer, up "
              "to 16 readers) with "
              "zero-copy NumPy views,\n"
              "in-process or shared between processes by name.";
    // The capacity a ring gets when nobody says (the core's default), for
    // tools and scripts that offer a --capacity option.
    m.attr("DEFAULT_CAPACITY") = py::int_(default_capacity);
    cls<f32>::define(m);
    cls<f64>::define(m);
    cls<i16>::define(m);
    // The Python side: Tag, and wait_async / write_async / views installed on
    // the three classes.
    py::module_ extras = py::module_::import("doppler._buffer_extras");
    tag_class = extras.attr("Tag").ptr();
    Py_INCREF(tag_class); // lives as long as the process
    m.attr("Tag") = extras.attr("Tag");
    extras.attr("install")(m);
}
