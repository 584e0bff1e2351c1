/* -*- c++ -*- */
/*
 * Python exceptions for the core's errors and results: the one mapping, used
 * by every extension module (doppler.buffer, doppler._ring_tool,
 * gnuradio.doppler).
 * SPDX-License-Identifier: GPL-3.0-or-later
 *
 *   doppler::error code            Python exception
 *   EINVAL                         ValueError
 *   EPROTOTYPE (ring of another    TypeError
 *     sample type)
 *   ENOMEM                         MemoryError
 *   EINTR (a wait interrupted by   the exception the signal handler raised
 *     a signal handler)              (KeyboardInterrupt, ...)
 *   anything else                  OSError(errno, message), which Python turns
 *                                  into its subclass: ENOENT FileNotFoundError,
 *                                  EEXIST FileExistsError, EACCES
 *                                  PermissionError, EISDIR IsADirectoryError;
 *                                  ENOSPC, EBUSY, EBADMSG stay OSError with errno
 *
 *   doppler::status                Python exception
 *   timeout                        TimeoutError
 *   end_of_stream                  EOFError
 *   broken                         BrokenPipeError
 *   busy                           OSError(EBUSY)
 *   invalid                        ValueError
 *
 * The message is the core's (or the adapter's) text as is.
 */
#pragma once

#include <Python.h>

#include <doppler/types.hpp>

#include <pybind11/pybind11.h>

#include <cerrno>
#include <exception>

namespace doppler {
namespace python {

/// Raise the exception for errno `err` with message `msg` (GIL held).
[[gnu::cold]] inline void set_error(int err, const char* msg)
{
    switch (err) {
    case EINVAL:
        PyErr_SetString(PyExc_ValueError, msg);
        return;
    case EPROTOTYPE:
        PyErr_SetString(PyExc_TypeError, msg);
        return;
    case ENOMEM:
        PyErr_SetString(PyExc_MemoryError, msg);
        return;
    case EINTR:
        if (PyErr_Occurred())
            return; // the signal handler's exception says it already
        break;
    }
    // OSError(errno, msg) constructs the subclass errno names; raise that.
    PyObject* exc = PyObject_CallFunction(PyExc_OSError, "is", err, msg);
    if (exc) {
        PyErr_SetObject(reinterpret_cast<PyObject*>(Py_TYPE(exc)), exc);
        Py_DECREF(exc);
    }
}

[[gnu::cold]] inline void set_error(const doppler::error& e)
{
    set_error(e.code().value(), e.what());
}

/// Raise the exception for a wait's or a blocking write's status.
[[gnu::cold]] inline void set_status(status s, const char* msg)
{
    switch (s) {
    case status::timeout:
        PyErr_SetString(PyExc_TimeoutError, msg);
        return;
    case status::end_of_stream:
        PyErr_SetString(PyExc_EOFError, msg);
        return;
    case status::broken:
        PyErr_SetString(PyExc_BrokenPipeError, msg);
        return;
    default:
        set_error(status_errno(s), msg);
    }
}

/// Translate doppler::error thrown through pybind11 bindings of `m`'s
/// functions (module-local: each module registers its own).
inline void register_translator()
{
    pybind11::register_local_exception_translator([](std::exception_ptr p) {
        try {
            if (p)
                std::rethrow_exception(p);
        } catch (const doppler::error& e) {
            set_error(e);
        }
    });
}

} // namespace python
} // namespace doppler
