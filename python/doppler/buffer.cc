/* -*- c++ -*- */
/*
 * doppler.buffer: F32Buffer / F64Buffer / I16Buffer, one template over
 * doppler::ring<T>.
 * SPDX-License-Identifier: GPL-3.0-or-later
 *
 * Why two kinds of methods. Construction, properties and the rest go through
 * pybind11 (readable, and the type is registered with a std::shared_ptr
 * holder so the GNU Radio blocks module can take a buffer argument, see
 * buffer_handle.hpp). The three hot methods, write / wait / consume, are raw
 * METH_FASTCALL functions injected into the same class: pybind11's generic
 * dispatch (argument casters, overload loop, exception translation) costs
 * more than the ring operation itself, and the seed's benchmark is a Python
 * loop of exactly these three calls.
 *
 * Why the GIL is released only when waiting. Releasing and re-taking it costs
 * more than a whole wait() whose data is already there, so the fast path
 * keeps it; only a real wait (and a blocking write that must wait for space)
 * drops it, in slices of at most 50 ms so Ctrl-C is seen between slices.
 */
#define NPY_NO_DEPRECATED_API NPY_1_7_API_VERSION
#include "buffer_handle.hpp"

#include <pybind11/pybind11.h>

#include <numpy/arrayobject.h>

#include <time.h>

#include <cinttypes>
#include <climits>
#include <cmath>
#include <string>

namespace py = pybind11;
using namespace doppler;

namespace {

constexpr int64_t slice_ns = 50 * 1000 * 1000; // longest wait without checking signals
constexpr double max_timeout_s = 1e9; // ~31 years: "forever" without int64 overflow
const char* const keeper_name = "doppler.buffer.mapping";

// ---------------------------------------------------------------------------
// Per-type facts
// ---------------------------------------------------------------------------

template <class T>
struct py_type;
template <>
struct py_type<f32> {
    static constexpr const char* cls = "F32Buffer";
    static constexpr const char* dtype = "complex64";
    static constexpr int npy = NPY_COMPLEX64;
    static constexpr const char* unit = "complex samples";
    static constexpr const char* view_shape = "(n,) complex64";
    static constexpr const char* input = "1-D complex64 array";
};
template <>
struct py_type<f64> {
    static constexpr const char* cls = "F64Buffer";
    static constexpr const char* dtype = "complex128";
    static constexpr int npy = NPY_COMPLEX128;
    static constexpr const char* unit = "complex samples";
    static constexpr const char* view_shape = "(n,) complex128";
    static constexpr const char* input = "1-D complex128 array";
};
template <>
struct py_type<i16> {
    static constexpr const char* cls = "I16Buffer";
    static constexpr const char* dtype = "int16";
    static constexpr int npy = NPY_INT16;
    static constexpr const char* unit = "I/Q pairs";
    static constexpr const char* view_shape =
        "(n, 2) int16 (column 0 is I, column 1 is Q)";
    static constexpr const char* input =
        "int16 array of shape (n, 2), or flat int16 of even length";
};

/// Samples in an array of our dtype with an accepted shape ((n,); for I16
/// (n, 2) or flat (2n,)), or -1.
template <class T>
Py_ssize_t shape_samples(PyArrayObject* a)
{
    const int nd = PyArray_NDIM(a);
    const npy_intp* d = PyArray_DIMS(a);
    if constexpr (std::is_same_v<T, i16>) {
        if (nd == 2 && d[1] == 2)
            return d[0];
        return nd == 1 && d[0] % 2 == 0 ? d[0] / 2 : -1;
    } else {
        return nd == 1 ? d[0] : -1;
    }
}

/// The general half of samples_in(): an ndarray subclass that is fine, or
/// the exception that says what is wrong with the argument.
template <class T>
[[gnu::cold]] Py_ssize_t checked_samples(PyObject* o)
{
    if (!PyArray_Check(o)) {
        PyErr_Format(PyExc_TypeError,
                     "%s.write() expects a numpy.ndarray of %s, got %s",
                     py_type<T>::cls,
                     py_type<T>::dtype,
                     Py_TYPE(o)->tp_name);
        return -1;
    }
    auto* a = reinterpret_cast<PyArrayObject*>(o);
    if (PyArray_TYPE(a) != py_type<T>::npy || !PyArray_ISNOTSWAPPED(a)) {
        PyErr_Format(PyExc_TypeError,
                     "%s.write() expects native-endian %s samples, got dtype %S; convert "
                     "with arr.astype(np.%s)",
                     py_type<T>::cls,
                     py_type<T>::dtype,
                     reinterpret_cast<PyObject*>(PyArray_DESCR(a)),
                     py_type<T>::dtype);
        return -1;
    }
    const Py_ssize_t n = shape_samples<T>(a);
    if (n >= 0)
        return n;
    if (std::is_same_v<T, i16> && PyArray_NDIM(a) == 1) {
        PyErr_Format(
            PyExc_ValueError,
            "I16Buffer.write() got a flat int16 array of odd length %zd; interleaved I/Q "
            "needs an even length (or pass shape (n, 2))",
            Py_ssize_t(PyArray_DIMS(a)[0]));
        return -1;
    }
    PyObject* shape = PyObject_GetAttrString(o, "shape");
    PyErr_Format(PyExc_ValueError,
                 "%s.write() expects a %s, got shape %S",
                 py_type<T>::cls,
                 py_type<T>::input,
                 shape ? shape : Py_None);
    Py_XDECREF(shape);
    return -1;
}

/// Samples in a write() argument, or -1 with TypeError / ValueError set.
/// The usual argument, an exact ndarray of our dtype in native byte order
/// and an accepted shape, passes on a few loads and compares.
template <class T>
inline Py_ssize_t samples_in(PyObject* o)
{
    if (Py_TYPE(o) == &PyArray_Type) {
        auto* a = reinterpret_cast<PyArrayObject*>(o);
        const Py_ssize_t n = shape_samples<T>(a);
        if (n >= 0 && PyArray_TYPE(a) == py_type<T>::npy && PyArray_ISNOTSWAPPED(a))
            return n;
    }
    return checked_samples<T>(o);
}

// ---------------------------------------------------------------------------
// Errors
// ---------------------------------------------------------------------------

int64_t now_ns() noexcept
{
    timespec ts {};
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return int64_t(ts.tv_sec) * 1000000000 + ts.tv_nsec;
}

/// OSError(err, msg): Python's constructor picks the subclass from errno
/// (FileNotFoundError, PermissionError, FileExistsError, ...).
[[gnu::cold]] void set_os_error(int err, const char* msg)
{
    PyObject* exc = PyObject_CallFunction(PyExc_OSError, "is", err, msg);
    if (exc) {
        PyErr_SetObject(reinterpret_cast<PyObject*>(Py_TYPE(exc)), exc);
        Py_DECREF(exc);
    }
}

/// doppler::error -> the Python exception issue 2 section 4 names.
[[gnu::cold]] void set_error(const doppler::error& e)
{
    switch (e.code().value()) {
    case EINVAL:
        PyErr_SetString(PyExc_ValueError, e.what());
        break;
    case EPROTOTYPE: // a ring of another sample type
        PyErr_SetString(PyExc_TypeError, e.what());
        break;
    case ENOMEM:
        PyErr_SetString(PyExc_MemoryError, e.what());
        break;
    default: // ENOENT, EACCES, EEXIST, EBADMSG, ENOSPC, EBUSY, ...
        set_os_error(e.code().value(), e.what());
    }
}

/// A role held by another live process: OSError(EBUSY) naming its pid.
template <class T>
[[gnu::cold]] void set_busy(const ring<T>& r, const char* role)
{
    const std::string& name = r.seg()->name();
    const std::string msg = std::string("ring '") + name + "' already has a " + role +
        ": pid " + std::to_string(r.holder_pid()) + " holds that role (one " + role +
        " per ring); stop it or use another ring";
    set_os_error(EBUSY, msg.c_str());
}

/// A write after close(): the stream has ended, nothing more may be added.
template <class T>
[[gnu::cold]] void set_closed()
{
    PyErr_Format(
        PyExc_ValueError,
        "%s.write(): the ring is closed (end of stream); no more samples can be written",
        py_type<T>::cls);
}

/// Why a wait or a blocking write gave up, as the matching exception.
template <class T>
[[gnu::cold]] void set_status(const ring<T>& r, status s, uint64_t n, bool producer)
{
    const char* cls = py_type<T>::cls;
    switch (s) {
    case status::timeout:
        PyErr_Format(PyExc_TimeoutError,
                     producer ? "%s.write(block=True): the last %" PRIu64
                                " samples found no room within the timeout "
                                "(the ones before them were written)"
                              : "%s.wait(): %" PRIu64
                                " samples did not arrive within the timeout",
                     cls,
                     n);
        break;
    case status::end_of_stream:
        if (producer) {
            set_closed<T>();
            break;
        }
        PyErr_Format(PyExc_EOFError,
                     "%s: the producer closed the ring and only %" PRIu64
                     " of the %" PRIu64
                     " samples asked for remain; read them with wait(buf.available)",
                     cls,
                     r.available(),
                     n);
        break;
    case status::broken:
        PyErr_Format(
            PyExc_BrokenPipeError,
            producer
                ? "%s.write(block=True): the consumer process died and no other attached "
                  "within the timeout"
                : "%s.wait(): the producer process died without closing the ring",
            cls);
        break;
    case status::busy:
        set_busy(r, producer ? "producer" : "consumer");
        break;
    default:
        PyErr_Format(
            PyExc_ValueError, "%s: invalid request for %" PRIu64 " samples", cls, n);
    }
}

// ---------------------------------------------------------------------------
// Arguments of the fast methods
// ---------------------------------------------------------------------------

/// METH_FASTCALL | METH_KEYWORDS arguments into `out` (nullptr = not given).
template <size_t N>
[[gnu::noinline]] bool parse_keywords(const char* fn,
                                      const char* const (&names)[N],
                                      size_t required,
                                      PyObject* const* args,
                                      Py_ssize_t nargs,
                                      PyObject* kwnames,
                                      PyObject* (&out)[N])
{
    if (size_t(nargs) > N) {
        PyErr_Format(PyExc_TypeError,
                     "%s() takes at most %zu arguments (%zd given)",
                     fn,
                     N,
                     nargs);
        return false;
    }
    for (size_t i = 0; i < N; ++i)
        out[i] = i < size_t(nargs) ? args[i] : nullptr;
    const Py_ssize_t nkw = kwnames ? PyTuple_GET_SIZE(kwnames) : 0;
    for (Py_ssize_t k = 0; k < nkw; ++k) {
        PyObject* key = PyTuple_GET_ITEM(kwnames, k);
        size_t i = 0;
        while (i < N && PyUnicode_CompareWithASCIIString(key, names[i]) != 0)
            ++i;
        if (i == N) {
            PyErr_Format(
                PyExc_TypeError, "%s() got an unexpected keyword argument '%U'", fn, key);
            return false;
        }
        if (out[i]) {
            PyErr_Format(PyExc_TypeError,
                         "%s() got multiple values for argument '%s'",
                         fn,
                         names[i]);
            return false;
        }
        out[i] = args[nargs + k];
    }
    for (size_t i = 0; i < required; ++i)
        if (!out[i]) {
            PyErr_Format(
                PyExc_TypeError, "%s() missing required argument '%s'", fn, names[i]);
            return false;
        }
    return true;
}

/// count_arg() beyond an exact int in range: other integers, overflow, or
/// the error saying what was wrong.
[[gnu::cold]] bool count_slow(PyObject* o, const char* fn, uint64_t limit, uint64_t& n)
{
    PyErr_Clear(); // an exact int's overflow: converted again below
    int overflow = 0;
    const long long v = PyLong_AsLongLongAndOverflow(o, &overflow);
    if (overflow > 0 && !limit) {
        n = UINT64_MAX; // more than anything is readable: the caller says so
        return true;
    }
    if (overflow == 0 && v > 0 && (!limit || uint64_t(v) <= limit)) {
        n = uint64_t(v);
        return true;
    }
    if (v == -1 && PyErr_Occurred())
        return false; // not an int: TypeError already set
    if (overflow < 0 || (overflow == 0 && v <= 0))
        PyErr_Format(PyExc_ValueError,
                     "%s: n must be a positive number of samples, got %R",
                     fn,
                     o);
    else
        PyErr_Format(PyExc_ValueError,
                     "%s: n = %R is more than the capacity (%" PRIu64 " samples)",
                     fn,
                     o,
                     limit);
    return false;
}

/// A sample count: a positive int, at most `limit` (0: no limit).
inline bool count_arg(PyObject* o, const char* fn, uint64_t limit, uint64_t& n)
{
    if (PyLong_CheckExact(o)) { // the usual case, on CPython's quickest conversion
        const Py_ssize_t v = PyLong_AsSsize_t(o);
        if (v > 0 && (!limit || uint64_t(v) <= limit)) {
            n = uint64_t(v);
            return true;
        }
    }
    return count_slow(o, fn, limit, n);
}

[[gnu::cold]] bool timeout_seconds(PyObject* o, int64_t& ns)
{
    const double s = PyFloat_AsDouble(o);
    if (s == -1.0 && PyErr_Occurred())
        return false;
    if (!(s >= 0)) {
        PyErr_Format(PyExc_ValueError,
                     "timeout must be None (wait forever) or >= 0 seconds, got %R",
                     o);
        return false;
    }
    ns = s >= max_timeout_s ? -1 : int64_t(s * 1e9);
    return true;
}

/// None (or not given): wait forever (-1). Otherwise seconds >= 0.
inline bool timeout_arg(PyObject* o, int64_t& ns)
{
    ns = -1;
    return !o || o == Py_None || timeout_seconds(o, ns);
}

// ---------------------------------------------------------------------------
// The buffer object
// ---------------------------------------------------------------------------

/// The py_buffer inside a pybind11 instance of our class (the method
/// descriptor already checked that self is one), or nullptr with
/// ValueError set if it was destroyed or never initialised.
template <class T>
py_buffer<T>* live(PyObject* self)
{
    auto* inst = reinterpret_cast<py::detail::instance*>(self);
    // Our classes have no C++ bases: the first value slot is ours.
    void* v = inst->simple_layout ? inst->simple_value_holder[0]
                                  : inst->nonsimple.values_and_holders[0];
    auto* b = static_cast<py_buffer<T>*>(v);
    if (b && b->ring_)
        return b;
    PyErr_Format(PyExc_ValueError,
                 "this %s was destroyed; create or attach a new one",
                 py_type<T>::cls);
    return nullptr;
}

template <class T>
py_buffer<T>& live(py_buffer<T>& b)
{
    if (!b.ring_)
        throw py::value_error(std::string("this ") + py_type<T>::cls +
                              " was destroyed; create or attach a new one");
    return b;
}

/// Wrap a ring, with the keeper every view of it will use as its base.
template <class T>
std::shared_ptr<py_buffer<T>> wrap(std::shared_ptr<ring<T>> r)
{
    auto b = std::make_shared<py_buffer<T>>();
    auto* seg = new std::shared_ptr<segment>(r->seg());
    b->keeper_ = PyCapsule_New(seg, keeper_name, [](PyObject* c) {
        delete static_cast<std::shared_ptr<segment>*>(
            PyCapsule_GetPointer(c, keeper_name));
    });
    if (!b->keeper_) {
        delete seg;
        throw py::error_already_set();
    }
    b->ring_ = std::move(r);
    return b;
}

/// n samples at `data` as a read-only zero-copy ndarray whose base keeps the
/// mapping alive.
template <class T>
PyObject* make_view(py_buffer<T>* b, const T* data, uint64_t n)
{
    npy_intp dims[2] = { npy_intp(n), 2 }; // the second is used by I16 only
    constexpr int nd = std::is_same_v<T, i16> ? 2 : 1;
    // NumPy's built-in descriptor for our dtype, looked up once (it lives as
    // long as NumPy); the constructor steals a reference per view.
    static PyArray_Descr* const descr = PyArray_DescrFromType(py_type<T>::npy);
    Py_INCREF(descr);
    PyObject* arr = PyArray_NewFromDescr(&PyArray_Type,
                                         descr,
                                         nd,
                                         dims,
                                         nullptr,
                                         const_cast<T*>(data),
                                         NPY_ARRAY_C_CONTIGUOUS | NPY_ARRAY_ALIGNED,
                                         nullptr);
    if (!arr)
        return nullptr;
    Py_INCREF(b->keeper_);
    if (PyArray_SetBaseObject(reinterpret_cast<PyArrayObject*>(arr), b->keeper_) <
        0) { // steals keeper_
        Py_DECREF(arr);
        return nullptr;
    }
    return arr;
}

/// Runs attempt(slice_ns) with the GIL released, in slices of at most 50 ms,
/// until it returns something final or the deadline passes. Between slices
/// it runs Python's signal handlers, so Ctrl-C raises KeyboardInterrupt
/// within a slice. A producer's `broken` (consumer dead) is final only at the
/// deadline: another consumer may attach meanwhile. False: a handler raised,
/// or another thread destroyed the buffer (ValueError).
template <class T, class Attempt>
bool sliced(PyObject* self, int64_t timeout_ns, bool producer, status& s, Attempt attempt)
{
    const int64_t deadline = timeout_ns < 0 ? INT64_MAX : now_ns() + timeout_ns;
    for (;;) {
        const int64_t left = deadline - now_ns();
        const bool last = left <= slice_ns;
        const int64_t slice = last ? (left > 0 ? left : 0) : slice_ns;
        Py_BEGIN_ALLOW_THREADS s = attempt(slice);
        Py_END_ALLOW_THREADS const bool retry =
            s == status::timeout || (producer && s == status::broken);
        if (!retry || last)
            return true;
        if (PyErr_CheckSignals() < 0 || !live<T>(self))
            return false;
    }
}

/// write / wait / consume. Each entry point first tests the call shape of
/// the hot loop (write(arr), wait(n), consume()), which skips keyword
/// parsing, then runs the body it shares with the general call.
template <class T>
struct hot {
    /// write(arr, block=False, timeout=None) -> bool
    static PyObject*
    write(PyObject* self, PyObject* const* args, Py_ssize_t nargs, PyObject* kwnames)
    {
        if (nargs == 1 && !kwnames)
            return write_array(self, args[0], false, -1);
        static const char* const names[] = { "arr", "block", "timeout" };
        PyObject* a[3];
        if (!parse_keywords("write", names, 1, args, nargs, kwnames, a))
            return nullptr;
        const int block = a[1] ? PyObject_IsTrue(a[1]) : 0;
        int64_t timeout_ns;
        if (block < 0 || !timeout_arg(a[2], timeout_ns))
            return nullptr;
        return write_array(self, a[0], block != 0, timeout_ns);
    }

    static PyObject*
    write_array(PyObject* self, PyObject* obj, bool block, int64_t timeout_ns)
    {
        py_buffer<T>* b = live<T>(self);
        if (!b)
            return nullptr;
        const Py_ssize_t n = samples_in<T>(obj);
        if (n < 0)
            return nullptr;
        ring<T>& r = *b->ring_;
        if (n == 0) { // nothing to write; still, a closed ring takes no writes
            if (!r.closed())
                Py_RETURN_TRUE;
            set_closed<T>();
            return nullptr;
        }
        if (uint64_t(n) > r.capacity()) {
            PyErr_Format(PyExc_ValueError,
                         "%s.write() of %zd samples: more than the capacity (%" PRIu64
                         ")",
                         py_type<T>::cls,
                         n,
                         r.capacity());
            return nullptr;
        }
        // Non-contiguous input is copied once (documented); contiguous never is.
        auto* arr = reinterpret_cast<PyArrayObject*>(obj);
        py::object copy;
        if (!PyArray_IS_C_CONTIGUOUS(arr)) {
            copy = py::reinterpret_steal<py::object>(
                reinterpret_cast<PyObject*>(PyArray_GETCONTIGUOUS(arr)));
            if (!copy)
                return nullptr;
            arr = reinterpret_cast<PyArrayObject*>(copy.ptr());
        }
        const T* src = static_cast<const T*>(PyArray_DATA(arr));

        if (!block) {
            if (r.write(src, uint64_t(n)))
                Py_RETURN_TRUE;
            if (!r.is_producer()) {
                set_busy(r, "producer");
                return nullptr;
            }
            if (r.closed()) {
                set_closed<T>();
                return nullptr;
            }
            Py_RETURN_FALSE; // full: write() counted it in dropped
        }
        if (r.space(uint64_t(n)) >= uint64_t(n) && r.write(src, uint64_t(n)))
            Py_RETURN_TRUE; // room now: no GIL release
        // destroy() from another thread must not free the ring mid-wait.
        std::shared_ptr<ring<T>> hold = b->ring_;
        if (!hold->claim_producer()) {
            set_busy(*hold, "producer");
            return nullptr;
        }
        // Copy what fits as room appears (ring::write_blocking), slice by
        // slice; a closed ring ends it with end_of_stream (ValueError).
        uint64_t done = 0;
        status s;
        if (!sliced<T>(self, timeout_ns, true, s, [&](int64_t slice) {
                uint64_t k = 0;
                const status st =
                    hold->write_blocking(src + done, uint64_t(n) - done, slice, &k);
                done += k;
                return st;
            }))
            return nullptr; // KeyboardInterrupt or destroy(): the first `done` samples
                            // are in the ring
        if (s != status::ok) {
            set_status(*hold, s, uint64_t(n) - done, true);
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

    static PyObject* wait_for(PyObject* self, PyObject* count, PyObject* timeout)
    {
        py_buffer<T>* b = live<T>(self);
        if (!b)
            return nullptr;
        ring<T>& r = *b->ring_;
        uint64_t n;
        int64_t timeout_ns;
        if (!count_arg(count, "wait()", r.capacity(), n) ||
            !timeout_arg(timeout, timeout_ns))
            return nullptr;
        const T* data = r.poll(n).data; // already there: no GIL release, no park
        if (!data) {
            std::shared_ptr<ring<T>> hold = b->ring_; // see write()
            if (!hold->claim_consumer()) {
                set_busy(*hold, "consumer");
                return nullptr;
            }
            typename ring<T>::view v { nullptr, status::timeout };
            status s;
            if (!sliced<T>(self, timeout_ns, false, s, [&](int64_t slice) {
                    return (v = hold->wait(n, slice)).why;
                }))
                return nullptr;
            if (!v) {
                set_status(*hold, s, n, false);
                return nullptr;
            }
            if (!(b = live<T>(self)))
                return nullptr;
            data = v.data;
        }
        b->last_wait_ = n;
        return make_view(b, data, n);
    }

    /// consume(n=None) -> None
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
        py_buffer<T>* b = live<T>(self);
        if (!b)
            return nullptr;
        uint64_t n = b->last_wait_;
        if (count && count != Py_None) {
            if (!count_arg(count, "consume()", 0, n))
                return nullptr;
        } else if (n == 0) {
            PyErr_Format(PyExc_ValueError,
                         "%s.consume() without n releases what the last wait() returned, "
                         "and nothing is left "
                         "of it; call wait(n) first or pass n",
                         py_type<T>::cls);
            return nullptr;
        }
        ring<T>& r = *b->ring_;
        bool ok = r.consume(n);
        if (!ok && !r.is_consumer()) { // consume before any wait: claim the role first
            if (!r.claim_consumer()) {
                set_busy(r, "consumer");
                return nullptr;
            }
            ok = r.consume(n);
        }
        if (!ok) {
            PyErr_Format(PyExc_ValueError,
                         "%s.consume(%" PRIu64 "): only %" PRIu64 " samples are readable",
                         py_type<T>::cls,
                         n,
                         r.available());
            return nullptr;
        }
        b->last_wait_ = n < b->last_wait_ ? b->last_wait_ - n : 0;
        Py_RETURN_NONE;
    }
};

// ---------------------------------------------------------------------------
// Docstrings (one set per type, built once)
// ---------------------------------------------------------------------------

template <class T>
struct docs {
    using P = py_type<T>;
    const std::string cls = std::string("Lock-free SPSC ring buffer of ") + P::dtype +
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
        "Errors: ValueError for a bad capacity or name, and for any call after "
        "destroy().\n"
        "A role held by another process (second producer or consumer) is\n"
        "OSError(errno.EBUSY) naming that process's pid.\n";
    const std::string write =
        std::string("write($self, arr, block=False, timeout=None)\n--\n\n") +
        "Write all of arr (a " + P::input +
        ") or nothing.\n\n"
        "block=False (default): never waits; returns False and adds the samples to\n"
        "`dropped` if they do not fit. block=True: lossless, waits for room (timeout in\n"
        "seconds, None = forever) and returns True; TimeoutError on timeout,\n"
        "BrokenPipeError if the consumer process died and none re-attached in time.\n"
        "The blocking write copies what fits as room appears, so a consumer waiting\n"
        "for any count up to the capacity gets it; on TimeoutError the message says\n"
        "how many samples (at the end of arr) were not written.\n"
        "An empty array returns True. Non-contiguous input is copied once (contiguous\n"
        "input never is). Wrong dtype: TypeError; wrong shape or more samples than the\n"
        "capacity: ValueError.";
    const std::string wait = std::string("wait($self, n, timeout=None)\n--\n\n") +
        "Block until n samples are readable; return them as a read-only zero-copy\n"
        "view of shape " +
        P::view_shape +
        ".\n\n"
        "Call consume() when done with it. The GIL is released only if it must\n"
        "actually wait; Ctrl-C interrupts it (KeyboardInterrupt) and leaves the ring\n"
        "usable. timeout in seconds (None = forever): TimeoutError. After close(),\n"
        "EOFError once fewer than n remain (read the rest with wait(buf.available)).\n"
        "BrokenPipeError if the producer process died without closing. n <= 0 or\n"
        "n > capacity: ValueError. The view stays valid (the mapping stays alive) even\n"
        "after destroy(); after consume() the producer may overwrite it.";
    const std::string consume = std::string("consume($self, n=None)\n--\n\n") +
        "Release n samples (default: what is left of the last wait()'s count).\n\n"
        "ValueError if n <= 0 or more than is readable.";
};

template <class T>
const docs<T>& doc()
{
    static const docs<T> d;
    return d;
}

/// Put write / wait / consume on the class as plain method descriptors.
template <class T>
void add_hot_methods(py::handle cls)
{
    static PyMethodDef defs[] = {
        { "write",
          reinterpret_cast<PyCFunction>(reinterpret_cast<void (*)()>(&hot<T>::write)),
          METH_FASTCALL | METH_KEYWORDS,
          doc<T>().write.c_str() },
        { "wait",
          reinterpret_cast<PyCFunction>(reinterpret_cast<void (*)()>(&hot<T>::wait)),
          METH_FASTCALL | METH_KEYWORDS,
          doc<T>().wait.c_str() },
        { "consume",
          reinterpret_cast<PyCFunction>(reinterpret_cast<void (*)()>(&hot<T>::consume)),
          METH_FASTCALL | METH_KEYWORDS,
          doc<T>().consume.c_str() },
    };
    for (PyMethodDef& def : defs) {
        py::object descr = py::reinterpret_steal<py::object>(
            PyDescr_NewMethod(reinterpret_cast<PyTypeObject*>(cls.ptr()), &def));
        if (!descr)
            throw py::error_already_set();
        py::setattr(cls, def.ml_name, descr);
    }
}

uint64_t capacity_arg(const py::object& o)
{
    int overflow = 0;
    const long long v = PyLong_AsLongLongAndOverflow(o.ptr(), &overflow);
    if (v == -1 && PyErr_Occurred())
        throw py::error_already_set();
    if (overflow > 0)
        throw py::value_error("capacity " + py::repr(o).cast<std::string>() +
                              " is too large");
    if (overflow < 0 || v <= 0)
        throw py::value_error("capacity must be a positive number of samples, got " +
                              py::repr(o).cast<std::string>());
    return uint64_t(v);
}

template <class T>
void define(py::module_& m)
{
    using B = py_buffer<T>;
    const char* name = py_type<T>::cls;
    py::class_<B, std::shared_ptr<B>> cls(m, name, doc<T>().cls.c_str());

    cls.def(py::init([](const py::object& capacity, const py::object& ring_name) {
                const uint64_t cap = capacity_arg(capacity);
                if (ring_name.is_none())
                    return wrap(std::make_shared<ring<T>>(cap));
                if (!py::isinstance<py::str>(ring_name))
                    throw py::type_error("name must be a str or None");
                return wrap(std::shared_ptr<ring<T>>(
                    ring<T>::create_named(ring_name.cast<std::string>(), cap)));
            }),
            py::arg("capacity"),
            py::arg("name") = py::none());

    cls.def_static(
        "attach",
        [](const std::string& ring_name, const py::object& timeout, bool allow_foreign) {
            int64_t timeout_ns;
            if (!timeout_arg(timeout.ptr(), timeout_ns))
                throw py::error_already_set();
            // Without the GIL: attach may sleep (a ring still being set up).
            auto attach_once = [&](int64_t t) {
                py::gil_scoped_release nogil;
                return std::shared_ptr<ring<T>>(
                    ring<T>::attach(ring_name, t, allow_foreign));
            };
            if (timeout_ns < 0)
                return wrap(attach_once(-1));
            // Wait for the ring to appear in slices, so Ctrl-C still works.
            const int64_t deadline = now_ns() + timeout_ns;
            for (;;) {
                const int64_t left = deadline - now_ns();
                try {
                    return wrap(
                        attach_once(left < slice_ns ? (left > 0 ? left : 0) : slice_ns));
                } catch (const doppler::error& e) {
                    if (e.code().value() != ENOENT)
                        throw;
                    if (left <= slice_ns) {
                        const std::string msg = "no ring named '" + ring_name + "' (" +
                            segment::shm_path(ring_name) + ") appeared within " +
                            py::repr(timeout).cast<std::string>() + " s";
                        throw doppler::error(ENOENT, msg);
                    }
                }
                if (PyErr_CheckSignals() < 0)
                    throw py::error_already_set();
            }
        },
        py::arg("name"),
        py::arg("timeout") = py::none(),
        py::arg("allow_foreign") = false,
        "Attach to the named ring /dev/shm/doppler.<name> made by another process (or "
        "this one).\n\n"
        "Capacity comes from the ring's header; its sample type must match this class\n"
        "(TypeError naming both types otherwise). timeout=None: a missing ring is\n"
        "FileNotFoundError at once; otherwise wait up to timeout seconds for it to "
        "appear.\n"
        "A ring owned by another user is PermissionError unless allow_foreign=True; a "
        "corrupt\n"
        "or foreign object is OSError (EBADMSG) with the reason.");

    add_hot_methods<T>(cls);

    cls.def_property_readonly(
        "capacity",
        [](B& b) { return live(b).ring_->capacity(); },
        "Capacity in samples (a power of two).");
    cls.def_property_readonly(
        "dropped",
        [](B& b) { return live(b).ring_->dropped(); },
        "Samples refused by non-blocking writes (full).");
    cls.def_property_readonly(
        "missed_wakes",
        [](B& b) { return live(b).ring_->missed_wakes(); },
        "Lost wake-ups: waits that ended by a timeout slice although what they waited "
        "for had happened. 0 unless the ring's wake-up protocol is broken.");
    cls.def_property_readonly(
        "available",
        [](B& b) { return live(b).ring_->available(); },
        "Samples written and not yet consumed.");
    cls.def_property_readonly(
        "name",
        [](B& b) -> py::object {
            const std::string& n = live(b).ring_->seg()->name();
            return n.empty() ? py::object(py::none()) : py::object(py::str(n));
        },
        "The ring's name, or None for an in-process ring.");
    cls.def_property_readonly(
        "written",
        [](B& b) { return live(b).ring_->written(); },
        "Total samples the producer ever wrote (absolute write position).");
    cls.def_property_readonly(
        "read_index",
        [](B& b) { return live(b).ring_->consumer_index(); },
        "Absolute index of the first sample of the consumer's current (or next) view.");
    cls.def_property_readonly(
        "closed",
        [](B& b) { return live(b).ring_->closed(); },
        "True once the producer called close().");

    cls.def(
        "close",
        [](B& b) { live(b).ring_->close(); },
        "Mark end of stream: the consumer drains what remains, then wait() raises "
        "EOFError.\n"
        "close() is final: a later write() raises ValueError.");
    cls.def(
        "destroy",
        [](B& b) {
            // The ring's destructor closes the stream if we produced and
            // removes the name if we created it; views keep the mapping.
            b.ring_.reset();
            Py_CLEAR(b.keeper_);
            b.last_wait_ = 0;
        },
        "Release the ring (idempotent). Views already returned stay readable; any other\n"
        "call afterwards raises ValueError.");
    cls.def("__enter__", [](py::object self) {
        live(self.cast<B&>());
        return self;
    });
    cls.def("__exit__", [](py::object self, py::args) {
        self.attr("destroy")();
        return false;
    });
    cls.def("__repr__", [](B& b) {
        std::string s = std::string("<doppler.buffer.") + py_type<T>::cls;
        if (!b.ring_)
            return s + " destroyed>";
        const ring<T>& r = *b.ring_;
        s += " capacity=" + std::to_string(r.capacity());
        if (!r.seg()->name().empty())
            s += " name='" + r.seg()->name() + "'";
        s += " fill=" + std::to_string(r.available()) +
            " dropped=" + std::to_string(r.dropped());
        if (r.closed())
            s += " closed";
        return s + ">";
    });
}

} // namespace

PYBIND11_MODULE(buffer, m)
{
    if (_import_array() < 0)
        throw py::error_already_set();
    m.doc() = "Lock-free SPSC ring buffers (F32Buffer, F64Buffer, I16Buffer) with "
              "zero-copy NumPy views,\n"
              "in-process or shared between processes by name.";
    // Local: other modules (doppler._ring, the blocks) translate on their own.
    py::register_local_exception_translator([](std::exception_ptr p) {
        try {
            if (p)
                std::rethrow_exception(p);
        } catch (const doppler::error& e) {
            set_error(e);
        }
    });
    define<f32>(m);
    define<f64>(m);
    define<i16>(m);
}
