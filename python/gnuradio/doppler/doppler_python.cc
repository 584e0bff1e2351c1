/* -*- c++ -*- */
/*
 * gnuradio.doppler: Python bindings of the Buffer Sink and Buffer Source.
 * SPDX-License-Identifier: GPL-3.0-or-later
 *
 * `name` takes either a ring name (str: the ring is shared by name, attached
 * or created) or a doppler.buffer F32Buffer / F64Buffer / I16Buffer of this
 * process; the block then keeps that buffer's ring (see buffer_handle.hpp).
 */
#include <pybind11/pybind11.h>

#include "buffer_handle.hpp" // python/doppler: the C++ type of doppler.buffer objects

#include <gnuradio/doppler/buffer_sink.h>
#include <gnuradio/doppler/buffer_source.h>

#include <cerrno>

namespace py = pybind11;
using gr::doppler::buffer_sink;
using gr::doppler::buffer_source;
using gr::doppler::ring_ref;

namespace {

/// The ring inside a doppler.buffer object. A cast of a type doppler.buffer
/// never registered (module not imported) fails like any other mismatch.
template <class T>
bool take_ring(py::handle obj, ring_ref& out)
{
    try {
        out = obj.cast<::doppler::py_buffer<T>&>().shared_ring();
        return true;
    } catch (const py::cast_error&) {
        return false;
    }
}

ring_ref ring_of(py::handle obj)
{
    ring_ref r;
    if (take_ring<::doppler::f32>(obj, r) || take_ring<::doppler::f64>(obj, r) ||
        take_ring<::doppler::i16>(obj, r))
        return r;
    throw py::type_error(
        "name must be a ring name (str) or a doppler.buffer F32Buffer, F64Buffer or "
        "I16Buffer, got " +
        std::string(py::str(py::type::handle_of(obj).attr("__name__"))));
}

uint64_t positive(int64_t capacity)
{
    if (capacity < 1)
        throw py::value_error("capacity must be a positive number of samples, got " +
                              std::to_string(capacity));
    return uint64_t(capacity);
}

/// Build a block from a name or a buffer object. Attaching may wait briefly
/// for a ring its creator is still setting up: do that without the GIL.
template <class Make>
auto make_block(py::object name, Make make)
{
    if (py::isinstance<py::str>(name)) {
        const std::string s = name.cast<std::string>();
        py::gil_scoped_release nogil;
        return make(s);
    }
    ring_ref r = ring_of(name);
    py::gil_scoped_release nogil;
    return make(std::move(r));
}

} // namespace

PYBIND11_MODULE(doppler_python, m)
{
    m.doc() = "gr-doppler blocks: Buffer Sink and Buffer Source over doppler rings.";

    // Base classes (gr::sync_block, ...) are registered by gnuradio.gr.
    py::module_::import("gnuradio.gr");

    // doppler::error carries errno (the same mapping as doppler.buffer): a bad argument
    // is a ValueError, a ring of another type a TypeError, ENOMEM a MemoryError, the rest
    // an OSError whose constructor picks the subclass from errno (FileNotFoundError,
    // PermissionError, ...).
    py::register_exception_translator([](std::exception_ptr p) {
        try {
            if (p)
                std::rethrow_exception(p);
        } catch (const ::doppler::error& e) {
            const int err = e.code().value();
            if (err == EINVAL)
                PyErr_SetString(PyExc_ValueError, e.what());
            else if (err == EPROTOTYPE)
                PyErr_SetString(PyExc_TypeError, e.what());
            else if (err == ENOMEM)
                PyErr_SetString(PyExc_MemoryError, e.what());
            else {
                py::object exc =
                    py::reinterpret_borrow<py::object>(PyExc_OSError)(err, e.what());
                PyErr_SetObject(PyExc_OSError, exc.ptr());
            }
        }
    });

    py::class_<buffer_sink,
               gr::sync_block,
               gr::block,
               gr::basic_block,
               std::shared_ptr<buffer_sink>>(
        m,
        "buffer_sink",
        "Writes its input stream into a doppler ring.\n\n"
        "buffer_sink(type, name, capacity=1<<20, policy='drop', sc16=False, "
        "scale=32767.0)\n\n"
        "type: 'f32' (complex in, stored as complex64), 'f64' (complex in, widened to\n"
        "  complex128) or 'i16' (int16 I/Q pairs: with sc16 the input is raw shorts of\n"
        "  vector length 2, else complex in, int16 = round(x * scale), saturated).\n"
        "name: ring name (attached if it exists, created otherwise: "
        "/dev/shm/doppler.<name>)\n"
        "  or a doppler.buffer F32Buffer/F64Buffer/I16Buffer of this process.\n"
        "capacity: samples, used only when the ring is created here.\n"
        "policy: 'drop' (never stalls; refused chunks counted in dropped()) or 'block'\n"
        "  (lossless: waits for the consumer).\n"
        "The ring is closed when the flowgraph stops: its consumer drains it, then sees\n"
        "end of stream.")
        .def(py::init([](const std::string& type,
                         py::object name,
                         int64_t capacity,
                         const std::string& policy,
                         bool sc16,
                         float scale) {
                 const uint64_t cap = positive(capacity);
                 return make_block(name, [&](auto&& where) {
                     if constexpr (std::is_same_v<std::decay_t<decltype(where)>,
                                                  std::string>)
                         return buffer_sink::make(type, where, cap, policy, sc16, scale);
                     else
                         return buffer_sink::make(
                             type, std::move(where), policy, sc16, scale);
                 });
             }),
             py::arg("type"),
             py::arg("name"),
             py::arg("capacity") = int64_t(1) << 20,
             py::arg("policy") = "drop",
             py::arg("sc16") = false,
             py::arg("scale") = 32767.0f)
        .def("dropped",
             &buffer_sink::dropped,
             "Samples the ring has refused (drop policy), ring-wide.")
        .def("written",
             &buffer_sink::written,
             "Samples ever published into the ring, ring-wide.");

    py::class_<buffer_source,
               gr::sync_block,
               gr::block,
               gr::basic_block,
               std::shared_ptr<buffer_source>>(
        m,
        "buffer_source",
        "Emits the samples another thread or process writes into a doppler ring.\n\n"
        "buffer_source(type, name, capacity=1<<20, sc16=False, scale=1/32768)\n\n"
        "type: 'f32' (complex64 ring, complex out), 'f64' (complex128 ring, narrowed to\n"
        "  complex) or 'i16' (int16 I/Q pairs: with sc16 raw shorts of vector length 2\n"
        "  out, else complex out, x = int16 * scale).\n"
        "name: ring name (attached if it exists, created otherwise) or a doppler.buffer\n"
        "  F32Buffer/F64Buffer/I16Buffer of this process.\n"
        "capacity: samples, used only when the ring is created here.\n"
        "Waits on an empty ring (a flowgraph stop still ends it promptly); once the\n"
        "producer has closed the ring and it is drained, the stream ends (WORK_DONE).")
        .def(py::init([](const std::string& type,
                         py::object name,
                         int64_t capacity,
                         bool sc16,
                         float scale) {
                 const uint64_t cap = positive(capacity);
                 return make_block(name, [&](auto&& where) {
                     if constexpr (std::is_same_v<std::decay_t<decltype(where)>,
                                                  std::string>)
                         return buffer_source::make(type, where, cap, sc16, scale);
                     else
                         return buffer_source::make(type, std::move(where), sc16, scale);
                 });
             }),
             py::arg("type"),
             py::arg("name"),
             py::arg("capacity") = int64_t(1) << 20,
             py::arg("sc16") = false,
             py::arg("scale") = 1.0f / 32768);
}
