/* -*- c++ -*- */
/*
 * doppler.buffer: tags between Python objects and the ring's value encoding
 * (include/doppler/tags.hpp). Only the write(..., tags=) and tags() calls
 * come here: a write without tags never touches this code.
 * SPDX-License-Identifier: GPL-3.0-or-later
 *
 * Python to the encoding: None, bool, int (int64, or uint64 above 2^63 - 1),
 * float, complex, str, bytes (and bytearray), tuple, list, dict with str
 * keys, nested at most max_container_depth (31) deep. Anything else is a TypeError,
 * an int outside both ranges or a too deep value a ValueError, each naming
 * the tag. The encoding back to Python gives the same types (bytes for
 * bytes), so GNU Radio's rx_time (uint64 seconds, double fraction) arrives as
 * the tuple (int, float).
 */
#pragma once

#include "buffer_args.hpp"
#include "errors.hpp"

#include <doppler/tags.hpp>

#include <algorithm>
#include <string>
#include <vector>

namespace doppler {
namespace python {

/// The tags of one write, encoded: what ring::write/commit take.
struct encoded_tags {
    std::vector<std::string> keys, values; // own the bytes the tag_in views point to
    std::vector<tag_in> tags; // sorted by offset
};

/// `exc` raised as fmt says, in place of any error pending: fmt's %s is
/// `what`, its %R is `o`. False.
[[gnu::cold]] inline bool
refuse(PyObject* exc, const char* fmt, const std::string& what, PyObject* o)
{
    PyErr_Clear();
    PyErr_Format(exc, fmt, what.c_str(), o);
    return false;
}

/// Append the encoding of `v` to `out`; false with the exception set. `what`
/// names the tag in messages ("tag 2 ('rx_time')").
[[gnu::cold]] inline bool
encode_value(PyObject* v, std::string& out, int depth, const std::string& what)
{
    // Only containers make a value deeper: at most max_container_depth of
    // them inside one another (the core's limit; an empty one counts too).
    if (depth > max_container_depth &&
        (PyTuple_Check(v) || PyList_Check(v) || PyDict_Check(v))) {
        PyErr_Format(PyExc_ValueError,
                     "%s: the value nests tuples, lists and dicts more than %d deep",
                     what.c_str(),
                     max_container_depth);
        return false;
    }
    if (v == Py_None) {
        encode::none(out);
    } else if (PyBool_Check(v)) {
        encode::boolean(out, v == Py_True);
    } else if (PyLong_Check(v)) {
        int overflow = 0;
        const long long s = PyLong_AsLongLongAndOverflow(v, &overflow);
        if (s == -1 && PyErr_Occurred())
            return false;
        if (overflow == 0) {
            encode::int64(out, s);
        } else {
            const unsigned long long u = overflow > 0 ? PyLong_AsUnsignedLongLong(v) : 0;
            if (overflow < 0 || (u == (unsigned long long)-1 && PyErr_Occurred()))
                return refuse(PyExc_ValueError,
                              "%s: the int %R does not fit in 64 bits (from -2**63 to "
                              "2**64 - 1); pass it as a str or bytes",
                              what,
                              v);
            encode::uint64(out, u);
        }
    } else if (PyFloat_Check(v)) {
        encode::float64(out, PyFloat_AS_DOUBLE(v));
    } else if (PyComplex_Check(v)) {
        encode::complex128(out, PyComplex_RealAsDouble(v), PyComplex_ImagAsDouble(v));
    } else if (PyUnicode_Check(v)) {
        Py_ssize_t n = 0;
        const char* s = PyUnicode_AsUTF8AndSize(v, &n);
        if (!s)
            return refuse(
                PyExc_ValueError, "%s: the str %R cannot be encoded as UTF-8", what, v);
        encode::str(out, std::string_view(s, size_t(n)));
    } else if (PyBytes_Check(v)) {
        encode::bytes(
            out, std::string_view(PyBytes_AS_STRING(v), size_t(PyBytes_GET_SIZE(v))));
    } else if (PyByteArray_Check(v)) {
        encode::bytes(
            out,
            std::string_view(PyByteArray_AS_STRING(v), size_t(PyByteArray_GET_SIZE(v))));
    } else if (PyTuple_Check(v) || PyList_Check(v)) {
        const bool tuple = PyTuple_Check(v);
        const Py_ssize_t n = tuple ? PyTuple_GET_SIZE(v) : PyList_GET_SIZE(v);
        tuple ? encode::tuple(out, uint32_t(n)) : encode::list(out, uint32_t(n));
        for (Py_ssize_t i = 0; i < n; ++i) {
            // A list may change under us (an element's conversion runs no
            // Python code here, but keep the item alive anyway).
            PyObject* item = tuple
                ? PyTuple_GET_ITEM(v, i)
                : (i < PyList_GET_SIZE(v) ? PyList_GET_ITEM(v, i) : Py_None);
            Py_INCREF(item);
            const bool ok = encode_value(item, out, depth + 1, what);
            Py_DECREF(item);
            if (!ok)
                return false;
        }
    } else if (PyDict_Check(v)) {
        encode::dict(out, uint32_t(PyDict_GET_SIZE(v)));
        PyObject *k, *item;
        Py_ssize_t pos = 0;
        while (PyDict_Next(v, &pos, &k, &item)) {
            Py_ssize_t n = 0;
            const char* s = PyUnicode_Check(k) ? PyUnicode_AsUTF8AndSize(k, &n) : nullptr;
            if (!s)
                return refuse(PyExc_TypeError,
                              "%s: dict keys must be str (UTF-8), got %R",
                              what,
                              k);
            encode::key(out, std::string_view(s, size_t(n)));
            if (!encode_value(item, out, depth + 1, what))
                return false;
        }
    } else {
        PyErr_Format(PyExc_TypeError,
                     "%s: a value of type %s cannot be carried by a ring; use None, "
                     "bool, int, float, complex, str, bytes, or tuples, lists and "
                     "dicts (str keys) of these",
                     what.c_str(),
                     Py_TYPE(v)->tp_name);
        return false;
    }
    return true;
}

/// TypeError "<what>: <must>, got <type of got>"; false.
[[gnu::cold]] inline bool
wrong_type(const std::string& what, const char* must, PyObject* got)
{
    PyErr_Format(
        PyExc_TypeError, "%s: %s, got %s", what.c_str(), must, Py_TYPE(got)->tp_name);
    return false;
}

/// Tag i of `tags=`, a (offset, key, value) with 0 <= offset < n, appended to
/// out (its offset to offsets). False with the exception set.
[[gnu::cold]] inline bool one_tag(PyObject* t,
                                  Py_ssize_t i,
                                  uint64_t n,
                                  encoded_tags& out,
                                  std::vector<uint64_t>& offsets)
{
    std::string what = "tag " + std::to_string(i);
    if (!PyTuple_Check(t) || PyTuple_GET_SIZE(t) != 3)
        return refuse(PyExc_TypeError,
                      "%s: a tag is a tuple (offset, key, value), got %R",
                      what,
                      t);
    PyObject* off = PyTuple_GET_ITEM(t, 0);
    PyObject* key = PyTuple_GET_ITEM(t, 1);
    if (!PyUnicode_Check(key))
        return wrong_type(what, "the key must be a str", key);
    Py_ssize_t klen = 0;
    const char* k = PyUnicode_AsUTF8AndSize(key, &klen);
    if (!k || klen == 0 || size_t(klen) > max_key_bytes) {
        PyErr_Clear();
        PyErr_Format(PyExc_ValueError,
                     "%s: the key %R must be 1 to %zu bytes of UTF-8",
                     what.c_str(),
                     key,
                     max_key_bytes);
        return false;
    }
    what += " ('" + std::string(k, size_t(klen)) + "')";
    if (!PyLong_Check(off) || PyBool_Check(off))
        return wrong_type(what, "the offset must be an int", off);
    int overflow = 0;
    const long long o = PyLong_AsLongLongAndOverflow(off, &overflow);
    if (overflow != 0 || o < 0 || uint64_t(o) >= n) {
        PyErr_Format(PyExc_ValueError,
                     "%s: offset %R is outside the %" PRIu64
                     " samples written (offsets count from arr[0])",
                     what.c_str(),
                     off,
                     n);
        return false;
    }
    std::string value;
    if (!encode_value(PyTuple_GET_ITEM(t, 2), value, 1, what))
        return false;
    out.keys.emplace_back(k, size_t(klen));
    out.values.push_back(std::move(value));
    offsets.push_back(uint64_t(o));
    return true;
}

/// `tags=` of write(): None or an iterable of (offset, key, value) with
/// 0 <= offset < n. Sorted by offset (stable) for the ring. False with the
/// exception set; nothing is written then.
[[gnu::cold]] inline bool tags_arg(PyObject* obj, uint64_t n, encoded_tags& out)
{
    if (!obj || obj == Py_None)
        return true;
    PyObject* seq =
        PySequence_Fast(obj, "tags must be a list of (offset, key, value) tuples");
    if (!seq)
        return false;
    const Py_ssize_t count = PySequence_Fast_GET_SIZE(seq);
    std::vector<uint64_t> offsets;
    bool ok = true;
    for (Py_ssize_t i = 0; ok && i < count; ++i)
        ok = one_tag(PySequence_Fast_GET_ITEM(seq, i), i, n, out, offsets);
    Py_DECREF(seq);
    if (!ok)
        return false;
    // The views go in only now: the strings no longer move.
    std::vector<size_t> order(offsets.size());
    for (size_t i = 0; i < order.size(); ++i)
        order[i] = i;
    std::stable_sort(order.begin(), order.end(), [&](size_t a, size_t b) {
        return offsets[a] < offsets[b];
    });
    out.tags.reserve(order.size());
    for (size_t i : order)
        out.tags.push_back({ offsets[i], out.keys[i], out.values[i] });
    return true;
}

/// A value read from the ring as a new Python object (nullptr: error set).
[[gnu::cold]] inline PyObject* decode_value(const value_view& v)
{
    switch (v.type()) {
    case value_type::none:
        Py_RETURN_NONE;
    case value_type::boolean:
        return PyBool_FromLong(v.as_bool());
    case value_type::int64:
        return PyLong_FromLongLong(v.as_int64());
    case value_type::uint64:
        return PyLong_FromUnsignedLongLong(v.as_uint64());
    case value_type::float64:
        return PyFloat_FromDouble(v.as_float64());
    case value_type::complex128:
        return PyComplex_FromDoubles(v.real(), v.imag());
    case value_type::str: {
        const std::string_view s = v.as_str();
        return PyUnicode_DecodeUTF8(s.data(), Py_ssize_t(s.size()), "replace");
    }
    case value_type::bytes: {
        const std::string_view s = v.as_str();
        return PyBytes_FromStringAndSize(s.data(), Py_ssize_t(s.size()));
    }
    case value_type::tuple:
    case value_type::list: {
        const bool tuple = v.type() == value_type::tuple;
        const Py_ssize_t n = Py_ssize_t(v.count());
        PyObject* c = tuple ? PyTuple_New(n) : PyList_New(n);
        if (!c)
            return nullptr;
        auto it = v.items();
        value_view e;
        for (Py_ssize_t i = 0; i < n && it.next(e); ++i) {
            PyObject* item = decode_value(e);
            if (!item) {
                Py_DECREF(c);
                return nullptr;
            }
            tuple ? PyTuple_SET_ITEM(c, i, item) : PyList_SET_ITEM(c, i, item);
        }
        return c;
    }
    case value_type::dict: {
        PyObject* d = PyDict_New();
        if (!d)
            return nullptr;
        auto it = v.items();
        value_view e;
        while (it.next(e)) {
            const std::string_view k = it.key();
            PyObject* key =
                PyUnicode_DecodeUTF8(k.data(), Py_ssize_t(k.size()), "replace");
            PyObject* item = key ? decode_value(e) : nullptr;
            const int rc = item ? PyDict_SetItem(d, key, item) : -1;
            Py_XDECREF(key);
            Py_XDECREF(item);
            if (rc < 0) {
                Py_DECREF(d);
                return nullptr;
            }
        }
        return d;
    }
    }
    PyErr_SetString(PyExc_ValueError, "a tag value of an unknown type");
    return nullptr;
}

/// The tags of the window of the last wait as a list of `tag_class`
/// (index, key, value) objects, in index order.
template <class T>
[[gnu::cold]] PyObject* tags_list(ring<T>& r, PyObject* tag_class)
{
    PyObject* list = PyList_New(0);
    if (!list)
        return nullptr;
    tag_cursor c = r.tags();
    tag_view t;
    while (c.next(t)) {
        PyObject* value = decode_value(t.value);
        PyObject* key = value
            ? PyUnicode_DecodeUTF8(t.key.data(), Py_ssize_t(t.key.size()), "replace")
            : nullptr;
        PyObject* tag = key
            ? PyObject_CallFunction(
                  tag_class, "KOO", (unsigned long long)t.index, key, value)
            : nullptr;
        Py_XDECREF(key);
        Py_XDECREF(value);
        if (!tag || PyList_Append(list, tag) < 0) {
            Py_XDECREF(tag);
            Py_DECREF(list);
            return nullptr;
        }
        Py_DECREF(tag);
    }
    if (c.corrupt()) {
        Py_DECREF(list);
        set_error(EBADMSG,
                  (ring_label(r.seg()->name()) + // "ring 'rx'" or "in-process ring"
                   ": a tag record in this window is not well formed (corrupt tag "
                   "area); the samples are still readable")
                      .c_str());
        return nullptr;
    }
    return list;
}

} // namespace python
} // namespace doppler
