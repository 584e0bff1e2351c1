/* -*- c++ -*- */
/*
 * The C++ object behind doppler.buffer.F32Buffer / F64Buffer / I16Buffer.
 * SPDX-License-Identifier: GPL-3.0-or-later
 *
 * doppler.buffer registers py_buffer<f32>, py_buffer<f64> and
 * py_buffer<i16> with pybind11 under the holder std::shared_ptr<py_buffer<T>>
 * (global, not module-local). Another pybind11 module in the same process
 * (the GNU Radio blocks) can therefore take a buffer object from Python:
 *
 *     #include "buffer_handle.hpp"            // from python/doppler/
 *     ...
 *     py::module_::import("doppler.buffer");   // in the module init: registers the types
 *     ...
 *     .def(py::init([](doppler::py_buffer<doppler::f32>& b) {
 *         return make_my_block(b.shared_ring());   // keep the ring, not b
 *     }))
 *
 * Keep the std::shared_ptr<ring<T>> that shared_ring() returns, not the
 * py_buffer: the ring lives as long as any copy of that pointer, so Python's
 * destroy() cannot pull it out from under a running block, and nothing
 * Python-owned has to be released from a non-Python thread.
 *
 * Both modules must be built with the same compiler and pybind11 (they are:
 * one CMake tree), so they share pybind11's type registry.
 */
#pragma once

#include <Python.h>

#include <doppler/ring.hpp>

#include <memory>
#include <stdexcept>
#include <string>

namespace doppler {

template <class T>
struct py_buffer {
    using value_type = T;

    /// The ring; nullptr after destroy().
    std::shared_ptr<ring<T>> ring_;
    /// A capsule owning a std::shared_ptr<segment>: the NumPy base object of
    /// every view wait() returns, made once per buffer, so views stay
    /// readable after destroy() and a wait allocates nothing but the ndarray.
    /// nullptr after destroy() (views still hold their own references).
    PyObject* keeper_ = nullptr;
    /// Count of the last wait() not yet consumed: consume()'s default.
    uint64_t last_wait_ = 0;

    py_buffer() = default;
    py_buffer(const py_buffer&) = delete;
    py_buffer& operator=(const py_buffer&) = delete;
    ~py_buffer()
    {
        // Usually released by pybind11 with the GIL held; a copy of the
        // holder kept elsewhere may die on another thread, so take the GIL.
        if (keeper_ && Py_IsInitialized()) {
            PyGILState_STATE g = PyGILState_Ensure();
            Py_CLEAR(keeper_);
            PyGILState_Release(g);
        }
    }

    /// The ring, for another module to keep. Throws std::invalid_argument
    /// (pybind11: ValueError) after destroy().
    std::shared_ptr<ring<T>> shared_ring() const
    {
        if (!ring_)
            throw std::invalid_argument(
                "the buffer was destroyed; create or attach a new one");
        return ring_;
    }
};

using py_buffer_f32 = py_buffer<f32>;
using py_buffer_f64 = py_buffer<f64>;
using py_buffer_i16 = py_buffer<i16>;

} // namespace doppler
