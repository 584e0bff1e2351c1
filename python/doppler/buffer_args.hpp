/* -*- c++ -*- */
/*
 * doppler.buffer: the arguments of every method, turned into C++ values with
 * the exception that says what was wrong. Nothing here touches a ring:
 * conversions can run Python code (__index__, __float__, an ndarray
 * subclass's hooks), so every method converts all its arguments first and
 * looks at its ring only afterwards.
 * SPDX-License-Identifier: GPL-3.0-or-later
 */
#pragma once

#define NPY_NO_DEPRECATED_API NPY_1_7_API_VERSION
#include <Python.h>

#include <numpy/arrayobject.h>

#include "names.hpp"

#include <doppler/ring.hpp>

#include <cinttypes>
#include <climits>
#include <cstdint>
#include <string>
#include <type_traits>

namespace doppler {
namespace python {

constexpr double max_timeout_s = 1e9; // ~31 years: "forever" without int64 overflow

// ---------------------------------------------------------------------------
// Per-type facts
// ---------------------------------------------------------------------------

// One specialisation per sample type, field for field alike: the f32, f64
// and i16 rows of the names table in docs/architecture.md.
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
// Keywords, counts, timeouts, names, capacities
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

/// count_arg() beyond an exact positive int: other integers (__index__),
/// overflow, or the error saying what was wrong.
[[gnu::cold]] inline bool count_slow(PyObject* o, const char* fn, uint64_t& n)
{
    PyErr_Clear(); // an exact int's overflow: converted again below
    int overflow = 0;
    const long long v = PyLong_AsLongLongAndOverflow(o, &overflow);
    if (overflow > 0) {
        n = UINT64_MAX; // more than any capacity or fill: the caller says so
        return true;
    }
    if (overflow == 0 && v > 0) {
        n = uint64_t(v);
        return true;
    }
    if (v == -1 && PyErr_Occurred())
        return false; // not an int: TypeError already set
    PyErr_Format(
        PyExc_ValueError, "%s: n must be a positive number of samples, got %R", fn, o);
    return false;
}

/// A sample count: a positive int (any size: UINT64_MAX stands for "huge").
inline bool count_arg(PyObject* o, const char* fn, uint64_t& n)
{
    if (PyLong_CheckExact(o)) { // the usual case, on CPython's quickest conversion
        const Py_ssize_t v = PyLong_AsSsize_t(o);
        if (v > 0) {
            n = uint64_t(v);
            return true;
        }
    }
    return count_slow(o, fn, n);
}

[[gnu::cold]] inline bool timeout_seconds(PyObject* o, int64_t& ns)
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

/// wait= of the constructor and attach(), and the wait_strategy property:
/// 'park' (or None / not given) or 'poll'.
inline bool wait_arg(PyObject* o, wait_strategy& w)
{
    w = wait_strategy::park;
    if (!o || o == Py_None)
        return true;
    if (!PyUnicode_Check(o)) {
        PyErr_Format(PyExc_TypeError,
                     "wait must be 'park' or 'poll', got %s",
                     Py_TYPE(o)->tp_name);
        return false;
    }
    if (PyUnicode_CompareWithASCIIString(o, "poll") == 0)
        w = wait_strategy::poll;
    else if (PyUnicode_CompareWithASCIIString(o, "park") != 0) {
        PyErr_Format(PyExc_ValueError,
                     "wait must be 'park' (sleep until woken, the default) or 'poll' "
                     "(busy-poll: never sleeps, spends a core), got %R",
                     o);
        return false;
    }
    return true;
}

/// A capacity: a positive int (the core rounds it and checks its size).
inline bool capacity_arg(PyObject* o, uint64_t& cap)
{
    int overflow = 0;
    const long long v = PyLong_AsLongLongAndOverflow(o, &overflow);
    if (v == -1 && PyErr_Occurred())
        return false;
    if (overflow > 0) {
        PyErr_Format(PyExc_ValueError, "capacity %R is too large", o);
        return false;
    }
    if (overflow < 0) {
        PyErr_Format(
            PyExc_ValueError, "capacity must be a positive number of samples, got %R", o);
        return false;
    }
    try {
        cap = check_capacity(v); // the core's rule and message
    } catch (const error& e) {
        PyErr_SetString(PyExc_ValueError, e.what());
        return false;
    }
    return true;
}

} // namespace python
} // namespace doppler
