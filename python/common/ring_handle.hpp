/* -*- c++ -*- */
/*
 * Handing a ring from one Python extension module to another: the capsule
 * protocol.
 * SPDX-License-Identifier: GPL-3.0-or-later
 *
 * An object that holds a ring (doppler.buffer's F32Buffer, F64Buffer,
 * I16Buffer) has a method `__doppler_ring__()` returning a new PyCapsule named
 * "doppler.ring_handle" whose pointer is a heap `doppler::python::ring_handle`:
 * the sample type and a shared pointer to the very ring<T> handle the object
 * uses. A module that takes such an object (the GNU Radio blocks' `buffer=`)
 * calls the method, checks the capsule's name, and copies the shared pointer:
 * the ring then lives as long as either keeps it, so Python's destroy()
 * cannot pull it out from under a running block, and nothing Python-owned
 * has to be released from a non-Python thread.
 *
 * Both modules are built from this one header (one CMake tree), so the
 * struct's layout is the same on both sides; nothing of pybind11's type
 * registry is shared.
 */
#pragma once

#include <Python.h>

#include <doppler/ring.hpp>

#include <memory>

namespace doppler {
namespace python {

constexpr const char* ring_handle_capsule = "doppler.ring_handle";
constexpr const char* ring_handle_method = "__doppler_ring__";

struct ring_handle {
    sample_type type;
    /// A ring<f32>, ring<f64> or ring<i16>, as `type` says.
    std::shared_ptr<void> ring;
};

/// A new capsule owning a ring_handle for `r` (nullptr with an exception set).
template <class T>
PyObject* make_ring_capsule(const std::shared_ptr<ring<T>>& r)
{
    auto* h = new ring_handle { sample_traits<T>::type, r };
    PyObject* cap = PyCapsule_New(h, ring_handle_capsule, [](PyObject* c) {
        delete static_cast<ring_handle*>(PyCapsule_GetPointer(c, ring_handle_capsule));
    });
    if (!cap)
        delete h;
    return cap;
}

/// The ring of an object that follows the protocol: false (no exception set)
/// if it has no `__doppler_ring__`; false with an exception set if calling it
/// failed or did not return a "doppler.ring_handle" capsule.
inline bool take_ring_handle(PyObject* obj, ring_handle& out)
{
    PyObject* method = PyObject_GetAttrString(obj, ring_handle_method);
    if (!method) {
        if (PyErr_ExceptionMatches(PyExc_AttributeError))
            PyErr_Clear();
        return false;
    }
    PyObject* cap = PyObject_CallNoArgs(method);
    Py_DECREF(method);
    if (!cap)
        return false;
    void* p = PyCapsule_IsValid(cap, ring_handle_capsule)
        ? PyCapsule_GetPointer(cap, ring_handle_capsule)
        : nullptr;
    if (p)
        out = *static_cast<ring_handle*>(p);
    else
        PyErr_Format(PyExc_TypeError,
                     "%s() of a %s object did not return a \"%s\" capsule",
                     ring_handle_method,
                     Py_TYPE(obj)->tp_name,
                     ring_handle_capsule);
    Py_DECREF(cap);
    return p != nullptr;
}

} // namespace python
} // namespace doppler
