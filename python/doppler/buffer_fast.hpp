/* -*- c++ -*- */
/*
 * doppler.buffer: the three hot methods, write / wait / consume, as raw
 * METH_FASTCALL functions.
 * SPDX-License-Identifier: GPL-3.0-or-later
 *
 * Why raw. A generic binding layer's dispatch (argument casters, overload
 * loop, exception translation) costs more than the ring operation itself, and
 * the loop that matters is exactly `write(x); v = wait(n); consume()`. Each
 * entry point first tests the call shape of that loop (write(arr), wait(n),
 * consume()), which skips keyword parsing.
 *
 * Why the order inside each method. Every argument is converted before the
 * ring is looked at: a conversion may run Python code (__index__, __float__,
 * __bool__, an ndarray subclass's hooks during the contiguous copy), and that
 * code may call destroy(). After the last conversion, live() looks the ring
 * up once; from there on only this module's code runs until the method
 * returns or releases the GIL, and after a GIL release the ring is looked up
 * again.
 *
 * Why the GIL is released only when waiting. Releasing and re-taking it costs
 * more than a whole wait() whose data is already there, so the fast path
 * keeps it; only a real wait (and a blocking write that must wait for space)
 * drops it, and waits with an interrupt (look_due) that ends the ring's wait
 * whenever Python is to be looked at (Ctrl-C, destroy(), a cancelled await),
 * at least every interrupt_check_ns + interrupt_check_ns / 4 (50 ms). The
 * look itself runs after the ring's wait has returned (released()), never
 * inside it: see look_due.
 */
#pragma once

#include "buffer_object.hpp"
#include "buffer_tags.hpp"

namespace doppler {
namespace python {

/// Why a wait or a blocking write gave up, as the matching exception.
template <class T>
[[gnu::cold]] void set_wait_error(const ring<T>& r, status s, uint64_t n, bool producer)
{
    const char* cls = py_type<T>::cls;
    char msg[512];
    switch (s) {
    case status::timeout:
        if (producer) {
            // What holds it back: a consumer too slow, or one that is not there.
            const std::string m = std::string(cls) + ".write(block=True): the last " +
                std::to_string(n) +
                " samples found no room within the timeout (the ones before them "
                "were written); held back by " +
                r.held_back_by();
            set_status(s, m.c_str());
            return;
        }
        {
            const std::string m = std::string(cls) + ".wait(): " + std::to_string(n) +
                " samples did not arrive within the timeout; " + r.waiting_on(n);
            set_status(s, m.c_str());
            return;
        }
    case status::end_of_stream:
        if (producer) {
            set_closed(r);
            return;
        }
        std::snprintf(msg,
                      sizeof msg,
                      "%s: the producer closed stream %" PRIu64 " and only %" PRIu64
                      " of the %" PRIu64
                      " samples asked for remain of it; read them with "
                      "wait(buf.available), or wait again for the next stream",
                      cls,
                      r.stream(),
                      r.available(),
                      n);
        break;
    case status::broken:
        if (producer)
            std::snprintf(msg,
                          sizeof msg,
                          "%s.write(block=True): the consumer process died and no "
                          "other attached within the timeout",
                          cls);
        else
            std::snprintf(msg,
                          sizeof msg,
                          "%s.wait(): the producer process died without closing "
                          "stream %" PRIu64 " (what it published was delivered); wait "
                          "again for the next stream",
                          cls,
                          r.stream());
        break;
    case status::busy:
        set_busy(r, producer);
        return;
    case status::corrupt:
        set_corrupt(r);
        return;
    default:
        std::snprintf(
            msg, sizeof msg, "%s: invalid request for %" PRIu64 " samples", cls, n);
    }
    set_status(s, msg);
}

/// The interrupt a wait or a blocking write hands the ring (doppler::interrupt):
/// it says stop once Python is to be looked at again, a quarter of
/// interrupt_check_ns after the last look (the ring asks at least every
/// interrupt_check_ns while parked, so a look is at most 50 ms away, and a
/// wait that keeps being woken looks at most that often). It never takes
/// the GIL itself: a thread taking it while the interpreter finalizes (a
/// daemon thread still waiting at exit) is ended by pthread_exit, whose
/// unwinding through the ring's noexcept wait would abort the process.
struct look_due {
    int64_t looked_ns = detail::now_ns(); // Python looks at signals between calls
    bool operator()() const noexcept
    {
        return detail::now_ns() - looked_ns >= interrupt_check_ns / 4;
    }
};

/// Runs attempt(due) (a wait or a blocking write of the ring, with `due` as
/// its interrupt) with the GIL released, until it returns anything but
/// status::interrupted (in `s`). Each time it was interrupted, it looks at
/// Python with the GIL: the signal handlers (Ctrl-C raises
/// KeyboardInterrupt), destroy() by another thread (ValueError), and for an
/// asyncio worker (_wait_cancellable, _write_cancellable) the threading.Event
/// `cancel` (then s stays status::interrupted). False: an exception is set.
template <class T, class Attempt>
bool released(PyObject* self, PyObject* cancel, status& s, Attempt attempt)
{
    for (;;) {
        const look_due due;
        Py_BEGIN_ALLOW_THREADS;
        s = attempt(due);
        Py_END_ALLOW_THREADS;
        if (s != status::interrupted)
            return true;
        if (PyErr_CheckSignals() < 0 || !live<T>(self))
            return false;
        if (cancel) {
            PyObject* r = PyObject_CallMethod(cancel, "is_set", nullptr);
            const int set = r ? PyObject_IsTrue(r) : -1;
            Py_XDECREF(r);
            if (set != 0)
                return set > 0;
        }
    }
}

/// The time left until `deadline` (INT64_MAX: none) as a timeout (-1: none).
inline int64_t time_left(int64_t deadline) noexcept
{
    return deadline == INT64_MAX ? -1 : std::max<int64_t>(0, deadline - detail::now_ns());
}

template <class T>
struct fast {
    /// write(arr, block=False, timeout=None, tags=None) -> bool
    static PyObject*
    write(PyObject* self, PyObject* const* args, Py_ssize_t nargs, PyObject* kwnames)
    {
        if (nargs == 1 && !kwnames)
            return write_array(self, args[0], false, -1, nullptr);
        static const char* const names[] = { "arr", "block", "timeout", "tags" };
        PyObject* a[4];
        if (!parse_keywords("write", names, 1, args, nargs, kwnames, a))
            return nullptr;
        const int block = a[1] ? PyObject_IsTrue(a[1]) : 0;
        int64_t timeout_ns;
        if (block < 0 || !timeout_arg(a[2], timeout_ns))
            return nullptr;
        return write_array(self, a[0], block != 0, timeout_ns, a[3]);
    }

    /// _write_cancellable(arr, timeout, tags, cancelled) -> bool: a lossless
    /// write for an asyncio worker, which also ends (False) once the
    /// threading.Event `cancelled` is set; the samples copied before stay.
    static PyObject* write_cancellable(PyObject* self,
                                       PyObject* const* args,
                                       Py_ssize_t nargs,
                                       PyObject* kwnames)
    {
        static const char* const names[] = { "arr", "timeout", "tags", "cancelled" };
        PyObject* a[4];
        if (!parse_keywords("_write_cancellable", names, 4, args, nargs, kwnames, a))
            return nullptr;
        int64_t timeout_ns;
        if (!timeout_arg(a[1], timeout_ns))
            return nullptr;
        return write_array(self, a[0], true, timeout_ns, a[2], a[3]);
    }

    static PyObject* write_array(PyObject* self,
                                 PyObject* obj,
                                 bool block,
                                 int64_t timeout_ns,
                                 PyObject* tag_arg,
                                 PyObject* cancel = nullptr)
    {
        if (!live<T>(self)) // a destroyed buffer says so first, whatever the arguments
            return nullptr;
        const Py_ssize_t n = samples_in<T>(obj);
        if (n < 0)
            return nullptr;
        if (tag_arg && tag_arg != Py_None)
            return write_tagged(
                self, obj, uint64_t(n), block, timeout_ns, tag_arg, cancel);
        return write_contiguous(
            self, obj, uint64_t(n), block, timeout_ns, nullptr, 0, cancel);
    }

    /// write() with tags=: encoded (and refused) before anything is written.
    [[gnu::cold]] static PyObject* write_tagged(PyObject* self,
                                                PyObject* obj,
                                                uint64_t n,
                                                bool block,
                                                int64_t timeout_ns,
                                                PyObject* tag_arg,
                                                PyObject* cancel)
    {
        encoded_tags tags;
        if (!tags_arg(tag_arg, n, tags))
            return nullptr;
        return write_contiguous(
            self, obj, n, block, timeout_ns, tags.tags.data(), tags.tags.size(), cancel);
    }

    static PyObject* write_contiguous(PyObject* self,
                                      PyObject* obj,
                                      uint64_t n,
                                      bool block,
                                      int64_t timeout_ns,
                                      const tag_in* tags,
                                      size_t ntags,
                                      PyObject* cancel)
    {
        // Non-contiguous input is copied once (documented); contiguous never
        // is. The copy of an ndarray subclass may run its hooks: before live().
        PyObject* copy = nullptr;
        auto* arr = reinterpret_cast<PyArrayObject*>(obj);
        if (n > 0 && !PyArray_IS_C_CONTIGUOUS(arr)) {
            copy = reinterpret_cast<PyObject*>(PyArray_GETCONTIGUOUS(arr));
            if (!copy)
                return nullptr;
            arr = reinterpret_cast<PyArrayObject*>(copy);
        }
        PyObject* result =
            write_samples(self, arr, n, block, timeout_ns, tags, ntags, cancel);
        Py_XDECREF(copy);
        return result;
    }

    /// write_contiguous() once its input is contiguous: the same parameters,
    /// one for one, the object as the array it now is.
    static PyObject* write_samples(PyObject* self,
                                   PyArrayObject* arr,
                                   uint64_t n,
                                   bool block,
                                   int64_t timeout_ns,
                                   const tag_in* tags,
                                   size_t ntags,
                                   PyObject* cancel)
    {
        buffer_object<T>* o = live<T>(self); // again: the copy may run Python code
        if (!o)
            return nullptr;
        ring<T>& r = *o->ring_;
        if (n == 0) { // nothing to write; still, a closed ring takes no writes
            if (!r.closed())
                Py_RETURN_TRUE;
            set_closed(r);
            return nullptr;
        }
        const T* src = static_cast<const T*>(PyArray_DATA(arr));

        if (!block) {
            // All or nothing: a block larger than the ring can never fit.
            // (A blocking write streams any length through in pieces.)
            if (n > r.capacity()) {
                PyErr_Format(PyExc_ValueError,
                             "%s.write() of %" PRIu64
                             " samples: more than the capacity (%" PRIu64
                             "); write(block=True) streams a longer array through",
                             py_type<T>::cls,
                             n,
                             r.capacity());
                return nullptr;
            }
            // Without tags, the ring's own tag-free write (no tag checks at all).
            if (ntags == 0 ? r.write(src, n) : r.write(src, n, tags, ntags))
                Py_RETURN_TRUE;
            if (!r.is_producer()) {
                set_busy(r, true);
                return nullptr;
            }
            if (r.closed()) {
                set_closed(r);
                return nullptr;
            }
            if (r.read_index_corrupt()) {
                set_corrupt(r);
                return nullptr;
            }
            Py_RETURN_FALSE; // full: write() counted it in dropped
        }
        if (n <= r.capacity() && r.space(n) >= n &&
            (ntags == 0 ? r.write(src, n) : r.write(src, n, tags, ntags)))
            Py_RETURN_TRUE; // room now: no GIL release
        // destroy() from another thread must not free the ring mid-wait.
        std::shared_ptr<ring<T>> hold = o->ring_;
        if (!hold->claim_producer()) {
            set_busy(*hold, true);
            return nullptr;
        }
        // Copy what fits as room appears (ring::write_blocking); a closed
        // ring ends it with end_of_stream (ValueError). KeyboardInterrupt,
        // destroy() or a cancelled await end it too: the first `done`
        // samples are in the ring. After each look at Python it goes on with
        // the rest and its tags, re-based to its first sample.
        const int64_t deadline =
            timeout_ns < 0 ? INT64_MAX : detail::now_ns() + timeout_ns;
        uint64_t done = 0;
        size_t first_tag = 0;
        std::vector<tag_in> rest;
        status s;
        if (!released<T>(self, cancel, s, [&](const look_due& due) {
                while (first_tag < ntags && tags[first_tag].offset < done)
                    ++first_tag;
                rest.clear();
                for (size_t i = first_tag; i < ntags; ++i)
                    rest.push_back({ tags[i].offset - done, tags[i].key, tags[i].value });
                uint64_t k = 0;
                const status st = hold->write_blocking(src + done,
                                                       n - done,
                                                       time_left(deadline),
                                                       &k,
                                                       rest.data(),
                                                       rest.size(),
                                                       due);
                done += k;
                return st;
            }))
            return nullptr;
        if (s == status::interrupted) // the await was cancelled
            Py_RETURN_FALSE;
        if (s != status::ok) {
            set_wait_error(*hold, s, n - done, true);
            return nullptr;
        }
        Py_RETURN_TRUE;
    }

    /// wait(n, timeout=None) -> ndarray
    static PyObject*
    wait(PyObject* self, PyObject* const* args, Py_ssize_t nargs, PyObject* kwnames)
    {
        if (nargs == 1 && !kwnames)
            return wait_for(self, args[0], nullptr);
        static const char* const names[] = { "n", "timeout" };
        PyObject* a[2];
        if (!parse_keywords("wait", names, 1, args, nargs, kwnames, a))
            return nullptr;
        return wait_for(self, a[0], a[1]);
    }

    /// _wait_cancellable(n, timeout, cancelled) -> ndarray or None: wait() for
    /// an asyncio worker, which also ends (None) once the threading.Event
    /// `cancelled` is set.
    static PyObject* wait_cancellable(PyObject* self,
                                      PyObject* const* args,
                                      Py_ssize_t nargs,
                                      PyObject* kwnames)
    {
        static const char* const names[] = { "n", "timeout", "cancelled" };
        PyObject* a[3];
        if (!parse_keywords("_wait_cancellable", names, 3, args, nargs, kwnames, a))
            return nullptr;
        return wait_for(self, a[0], a[1], a[2]);
    }

    static PyObject* wait_for(PyObject* self,
                              PyObject* count,
                              PyObject* timeout,
                              PyObject* cancel = nullptr)
    {
        if (!live<T>(self))
            return nullptr;
        uint64_t n;
        int64_t timeout_ns;
        if (!count_arg(count, "wait()", n) || !timeout_arg(timeout, timeout_ns))
            return nullptr;
        buffer_object<T>* o = live<T>(self); // again: conversions run Python code
        if (!o)
            return nullptr;
        if (n > o->ring_->capacity()) {
            PyErr_Format(PyExc_ValueError,
                         "wait(): n = %R is more than the capacity (%" PRIu64 " samples)",
                         count,
                         o->ring_->capacity());
            return nullptr;
        }
        const T* data = o->ring_->poll(n).data; // already there: no GIL release
        if (!data) {
            std::shared_ptr<ring<T>> hold = o->ring_; // see write()
            if (!hold->claim_reader()) {
                set_busy(*hold, false);
                return nullptr;
            }
            const int64_t deadline =
                timeout_ns < 0 ? INT64_MAX : detail::now_ns() + timeout_ns;
            typename ring<T>::view v { nullptr, status::timeout };
            status s;
            if (!released<T>(self, cancel, s, [&](const look_due& due) {
                    return (v = hold->wait(n, time_left(deadline), due)).why;
                }))
                return nullptr; // KeyboardInterrupt or destroy(): nothing is claimed
            if (!v) {
                if (v.why == status::interrupted) // the await was cancelled
                    Py_RETURN_NONE;
                set_wait_error(*hold, v.why, n, false);
                return nullptr;
            }
            if (!(o = live<T>(self)))
                return nullptr;
            data = v.data;
        }
        o->last_wait_ = n;
        return make_view(o, data, n);
    }

    /// consume(n=None) -> int: how many of the released samples were
    /// overwritten while held (always 0 for a tethered reader)
    static PyObject*
    consume(PyObject* self, PyObject* const* args, Py_ssize_t nargs, PyObject* kwnames)
    {
        if (nargs == 0 && !kwnames)
            return release(self, nullptr);
        static const char* const names[] = { "n" };
        PyObject* a[1];
        if (!parse_keywords("consume", names, 0, args, nargs, kwnames, a))
            return nullptr;
        return release(self, a[0]);
    }

    static PyObject* release(PyObject* self, PyObject* count)
    {
        if (!live<T>(self))
            return nullptr;
        const bool given = count && count != Py_None;
        uint64_t n = 0;
        if (given && !count_arg(count, "consume()", n))
            return nullptr;
        buffer_object<T>* o = live<T>(self); // again: conversions run Python code
        if (!o)
            return nullptr;
        if (!given) {
            n = o->last_wait_;
            if (n == 0) {
                PyErr_Format(PyExc_ValueError,
                             "%s.consume() without n releases what the last wait() "
                             "returned, and nothing is left of it; call wait(n) first "
                             "or pass n",
                             py_type<T>::cls);
                return nullptr;
            }
        }
        ring<T>& r = *o->ring_;
        int64_t over = r.consume_checked(n);
        if (over < 0 && !r.is_reader()) { // consume before any wait: claim the role
            if (!r.claim_reader()) {
                set_busy(r, false);
                return nullptr;
            }
            over = r.consume_checked(n);
        }
        if (over < 0 && r.write_index_corrupt()) {
            set_corrupt(r);
            return nullptr;
        }
        if (over < 0) {
            PyErr_Format(PyExc_ValueError,
                         "%s.consume(%" PRIu64 "): only %" PRIu64 " samples are readable",
                         py_type<T>::cls,
                         n,
                         r.available());
            return nullptr;
        }
        o->last_wait_ = n < o->last_wait_ ? o->last_wait_ - n : 0;
        if (over == 0) { // the usual result: CPython's shared 0, no call, no allocation
            Py_INCREF(zero);
            return zero;
        }
        return PyLong_FromLongLong(over);
    }
};

} // namespace python
} // namespace doppler
