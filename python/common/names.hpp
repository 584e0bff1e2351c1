/* -*- c++ -*- */
/*
 * A ring name from Python, for every extension module: a str that UTF-8 can
 * encode (the core checks the rest: length, characters, leading dot).
 * SPDX-License-Identifier: GPL-3.0-or-later
 */
#pragma once

#include <Python.h>

#include <string>

namespace doppler {
namespace python {

/// `o` as a ring name. False with TypeError for something not a str, and with
/// ValueError for a str that cannot be encoded (a lone surrogate, say).
/// `param` names the argument in the message ("name", "Ring Name (name=)").
inline bool name_arg(PyObject* o, std::string& name, const char* param = "name")
{
    if (!PyUnicode_Check(o)) {
        PyErr_Format(
            PyExc_TypeError, "%s must be a str, got %s", param, Py_TYPE(o)->tp_name);
        return false;
    }
    Py_ssize_t size = 0;
    const char* s = PyUnicode_AsUTF8AndSize(o, &size);
    if (!s) {
        PyErr_Clear();
        PyErr_Format(PyExc_ValueError,
                     "%s %R cannot be encoded as UTF-8, so it is not a ring name; use "
                     "1-200 of [A-Za-z0-9._-], not starting with a dot",
                     param,
                     o);
        return false;
    }
    name.assign(s, size_t(size));
    return true;
}

} // namespace python
} // namespace doppler
