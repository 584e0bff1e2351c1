/* -*- c++ -*- */
/*
 * doppler.buffer: the Python object behind F32Buffer / F64Buffer / I16Buffer
 * and the few operations on it every method shares.
 * SPDX-License-Identifier: GPL-3.0-or-later
 *
 * The classes are plain CPython types (PyType_FromSpec), not pybind11
 * classes: a method reaches its ring through a fixed field of `self`, and
 * CPython's method descriptors already check that `self` is an instance of
 * the class the method belongs to. Two buffer classes cannot be bases of one
 * Python class (their layouts conflict: TypeError when the class is made),
 * so a method of one type never sees a ring of another.
 */
#pragma once

#include "buffer_args.hpp"
#include "errors.hpp"
#include "ring_handle.hpp"

#include <memory>
#include <new>

namespace doppler {
namespace python {

/// Base object of every view wait() returns: the NumPy base that keeps the
/// mapping alive after destroy().
constexpr const char* keeper_name = "doppler.buffer.mapping";

/// The int 0 (what consume() returns when nothing was overwritten), set when
/// the module is imported.
inline PyObject* zero = nullptr;

template <class T>
struct buffer_object {
    PyObject_HEAD
        /// The ring; empty before __init__ and after destroy().
        std::shared_ptr<ring<T>>
            ring_;
    /// A capsule owning a std::shared_ptr<segment>, the NumPy base of every
    /// view: made once per ring, so a wait allocates nothing but the ndarray.
    PyObject* keeper_;
    /// Count of the last wait() not yet consumed: consume()'s default.
    uint64_t last_wait_;
    /// State of wait_async / write_async (doppler._buffer_extras), made on
    /// first use; nullptr until then.
    PyObject* aio_;
};

/// The object's state, or nullptr with ValueError set if it was destroyed
/// (or never initialised: made with __new__ alone).
template <class T>
inline buffer_object<T>* live(PyObject* self)
{
    auto* o = reinterpret_cast<buffer_object<T>*>(self);
    if (o->ring_)
        return o;
    PyErr_Format(PyExc_ValueError,
                 "this %s was destroyed (or never initialised); create or attach a new "
                 "one",
                 py_type<T>::cls);
    return nullptr;
}

/// Drop the ring (the ring's destructor closes the stream if this handle
/// produced and removes the name if it created it); views keep the mapping.
template <class T>
void drop_ring(buffer_object<T>* o)
{
    std::shared_ptr<ring<T>> old = std::move(o->ring_);
    o->ring_.reset();
    Py_CLEAR(o->keeper_);
    o->last_wait_ = 0;
    old.reset(); // last: a ring released while the object is already empty
}

/// Give the object a ring (replacing any), with the keeper its views use.
template <class T>
bool set_ring(buffer_object<T>* o, std::shared_ptr<ring<T>> r)
{
    auto* seg = new std::shared_ptr<segment>(r->seg());
    PyObject* keeper = PyCapsule_New(seg, keeper_name, [](PyObject* c) {
        delete static_cast<std::shared_ptr<segment>*>(
            PyCapsule_GetPointer(c, keeper_name));
    });
    if (!keeper) {
        delete seg;
        return false;
    }
    drop_ring(o);
    o->keeper_ = keeper;
    o->ring_ = std::move(r);
    return true;
}

/// n samples at `data` as a read-only zero-copy ndarray whose base keeps the
/// mapping alive.
template <class T>
PyObject* make_view(buffer_object<T>* o, const T* data, uint64_t n)
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
    Py_INCREF(o->keeper_);
    // Steals the reference to keeper_.
    if (PyArray_SetBaseObject(reinterpret_cast<PyArrayObject*>(arr), o->keeper_) < 0) {
        Py_DECREF(arr);
        return nullptr;
    }
    return arr;
}

/// A role held by another live handle (in another process, or in this one):
/// OSError(EBUSY) naming the holder's pid.
template <class T>
[[gnu::cold]] void set_busy(const ring<T>& r, bool producer)
{
    set_error(EBUSY, r.busy_message(producer, audience::api).c_str());
}

/// An impossible shared index: OSError(EBADMSG) saying which one.
template <class T>
[[gnu::cold]] void set_corrupt(const ring<T>& r)
{
    set_error(EBADMSG, r.corruption().c_str());
}

/// A write after close(): the stream has ended, nothing more may be added.
template <class T>
[[gnu::cold]] void set_closed(const ring<T>& r)
{
    set_error(EINVAL,
              (std::string(py_type<T>::cls) +
               ".write(): " + closed_message(ring_label(r.seg()->name()), audience::api))
                  .c_str());
}

} // namespace python
} // namespace doppler
