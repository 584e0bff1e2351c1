/* -*- c++ -*- */
/*
 * gnuradio.doppler: Python bindings of the Buffer Sink and Buffer Source.
 * SPDX-License-Identifier: GPL-3.0-or-later
 *
 * A block works on a ring given one of two ways: `name=` a ring name (str:
 * the ring is shared by name, attached or created), or `buffer=` an object
 * that holds a ring in this process (a doppler.buffer F32Buffer, F64Buffer or
 * I16Buffer), handed over through the capsule protocol of
 * python/common/ring_handle.hpp; the block then keeps that buffer's ring.
 */
#include <pybind11/pybind11.h>

#include "errors.hpp"
#include "names.hpp"
#include "ring_handle.hpp"

#include <gnuradio/doppler/buffer_sink.h>
#include <gnuradio/doppler/buffer_source.h>

#include <cerrno>
#include <variant>

namespace py = pybind11;
using gr::doppler::buffer_sink;
using gr::doppler::buffer_source;
using gr::doppler::ring_ref;

namespace {

/// The ring of a buffer object (capsule protocol); TypeError if it has none.
ring_ref ring_of(py::handle obj, const char* keyword)
{
    doppler::python::ring_handle h;
    if (!doppler::python::take_ring_handle(obj.ptr(), h)) {
        if (PyErr_Occurred())
            throw py::error_already_set();
        throw py::type_error(std::string(keyword) +
                             " must be a doppler.buffer F32Buffer, F64Buffer or "
                             "I16Buffer, got " +
                             Py_TYPE(obj.ptr())->tp_name);
    }
    switch (h.type) {
    case doppler::sample_type::f32:
        return std::static_pointer_cast<doppler::ring<doppler::f32>>(h.ring);
    case doppler::sample_type::f64:
        return std::static_pointer_cast<doppler::ring<doppler::f64>>(h.ring);
    case doppler::sample_type::i16:
        break;
    }
    return std::static_pointer_cast<doppler::ring<doppler::i16>>(h.ring);
}

/// Where a block's samples go or come from: a ring name or a ring.
using where_t = std::variant<std::string, ring_ref>;

/// name= and buffer= into one of the two; exactly one must be given.
where_t where_of(const py::object& name, const py::object& buffer)
{
    if (!buffer.is_none()) {
        if (!name.is_none())
            throw py::type_error("give either name= (a ring name) or buffer= (a "
                                 "doppler.buffer object), not both");
        return ring_of(buffer, "buffer");
    }
    if (name.is_none())
        throw py::type_error("missing the ring: give name= (a ring name, the Ring Name "
                             "in GRC) or buffer= (a doppler.buffer object)");
    if (PyUnicode_Check(name.ptr())) {
        std::string s;
        if (!doppler::python::name_arg(name.ptr(), s, "Ring Name (name=)"))
            throw py::error_already_set();
        return s;
    }
    throw py::type_error("name must be a ring name (str), got " +
                         std::string(Py_TYPE(name.ptr())->tp_name) +
                         "; pass a doppler.buffer object as buffer=");
}

/// The capacity keyword: a positive number of samples (the core's check).
uint64_t capacity_of(int64_t capacity)
{
    return doppler::check_capacity(capacity);
}

/// Build a block on a ring name or a ring. Attaching may wait briefly for a
/// ring its creator is still setting up: do that without the GIL.
template <class Make>
auto make_block(where_t where, Make make)
{
    py::gil_scoped_release nogil;
    return std::visit([&](auto&& w) { return make(std::move(w)); }, std::move(where));
}

} // namespace

PYBIND11_MODULE(doppler_python, m)
{
    m.doc() = "gr-doppler blocks: Buffer Sink and Buffer Source over doppler rings.";

    // Base classes (gr::sync_block, ...) are registered by gnuradio.gr.
    py::module_::import("gnuradio.gr");

    doppler::python::register_translator();

    py::class_<buffer_sink,
               gr::sync_block,
               gr::block,
               gr::basic_block,
               std::shared_ptr<buffer_sink>>(
        m,
        "buffer_sink",
        "Writes its input stream into a doppler ring.\n\n"
        "buffer_sink(type, name=None, capacity=1<<20, policy='drop', sc16=False, "
        "scale=32767.0, buffer=None, zero_copy=True)\n\n"
        "type: 'f32' (complex in, stored as complex64), 'f64' (complex in, widened to\n"
        "  complex128) or 'i16' (int16 I/Q pairs: with sc16 the input is raw shorts of\n"
        "  vector length 2, else complex in, int16 = round(x * scale), saturated).\n"
        "name: ring name (attached if it exists, created otherwise: "
        "/dev/shm/doppler.<name>).\n"
        "buffer: instead of name, a doppler.buffer F32Buffer/F64Buffer/I16Buffer of "
        "this\n"
        "  process.\n"
        "capacity: samples, used only when the ring is created here.\n"
        "policy: 'drop' (never stalls; refused chunks counted in dropped()) or 'block'\n"
        "  (lossless: waits for the consumer).\n"
        "zero_copy: True (default) lets the block upstream write straight into the ring\n"
        "  when the run allows it (type 'f32' or 'i16' with sc16, policy 'block', the\n"
        "  sink the only reader of a plain GNU Radio buffer); False always copies.\n"
        "  zero_copy() says which path the run took; start() logs it.\n"
        "Stream tags go into the ring with the samples, at the same sample index\n"
        "(values converted as docs/blocks.md says; rx_time stays a tuple).\n"
        "The stream ends when the flowgraph stops: its consumer drains it, then sees\n"
        "end of stream. Running the flowgraph again starts the next stream in the ring\n"
        "under the same name (a consumer that stays attached reads on); a closed buffer\n"
        "object is refused at start.")
        .def(py::init([](const std::string& type,
                         py::object name,
                         int64_t capacity,
                         const std::string& policy,
                         bool sc16,
                         float scale,
                         py::object buffer,
                         bool zero_copy) {
                 const uint64_t cap = capacity_of(capacity);
                 return make_block(where_of(name, buffer), [&](auto&& where) {
                     if constexpr (std::is_same_v<std::decay_t<decltype(where)>,
                                                  std::string>)
                         return buffer_sink::make(
                             type, where, cap, policy, sc16, scale, zero_copy);
                     else
                         return buffer_sink::make(
                             type, std::move(where), policy, sc16, scale, zero_copy);
                 });
             }),
             py::arg("type"),
             py::arg("name") = py::none(),
             py::arg("capacity") = int64_t(doppler::default_capacity),
             py::arg("policy") = "drop",
             py::arg("sc16") = false,
             py::arg("scale") = 32767.0f,
             py::arg("buffer") = py::none(),
             py::arg("zero_copy") = true)
        .def("dropped",
             &buffer_sink::dropped,
             "Samples the ring has refused (drop policy), ring-wide.")
        .def("written",
             &buffer_sink::written,
             "Samples ever published into the ring, ring-wide.")
        .def("tags_unencodable",
             &buffer_sink::tags_unencodable,
             "Tags of the input a ring cannot carry (their key or value has no ring\n"
             "encoding): skipped, counted here, logged once per key.")
        .def("tags_refused",
             &buffer_sink::tags_refused,
             "Tags lost with the chunks the drop policy refused (their samples were\n"
             "never written), counted here, logged once per key.")
        .def("zero_copy",
             &buffer_sink::zero_copy,
             "True if the current (or last) run lets the upstream block write straight "
             "into\n"
             "the ring; False before the first run and on the copy path.");

    py::class_<buffer_source,
               gr::sync_block,
               gr::block,
               gr::basic_block,
               std::shared_ptr<buffer_source>>(
        m,
        "buffer_source",
        "Emits the samples another thread or process writes into a doppler ring.\n\n"
        "buffer_source(type, name=None, capacity=1<<20, sc16=False, scale=1/32768, "
        "buffer=None,\n"
        "              reader='', tethered=True, end_on_stream_end=False, history=0)\n\n"
        "type: 'f32' (complex64 ring, complex out), 'f64' (complex128 ring, narrowed to\n"
        "  complex) or 'i16' (int16 I/Q pairs: with sc16 raw shorts of vector length 2\n"
        "  out, else complex out, x = int16 * scale).\n"
        "name: ring name (attached if it exists, created otherwise).\n"
        "buffer: instead of name, a doppler.buffer F32Buffer/F64Buffer/I16Buffer of "
        "this\n"
        "  process; the block reads as the reader that buffer was attached with.\n"
        "capacity: samples, used only when the ring is created here.\n"
        "reader: with name, '' (the default reader) or a reader name of its own, so\n"
        "  several flowgraphs can read one ring; tethered: a named reader holds the\n"
        "  producer back (True) or never does and may miss samples (False).\n"
        "end_on_stream_end: at the end of a ring stream (its producer closed it or\n"
        "  died), end the flowgraph (True) instead of waiting for the next stream\n"
        "  (False, the default: the flowgraph keeps running across producer runs).\n"
        "history: with a reader name, start up to that many samples before the newest\n"
        "  one, as far as the ring's current stream (and, untethered, its intact\n"
        "  samples) reach; 0: at the newest sample.\n"
        "The ring's tags come out as stream tags on the same samples, with the ring's\n"
        "markers stream_start, dropped and skipped (and overwritten, untethered).")
        .def(py::init([](const std::string& type,
                         py::object name,
                         int64_t capacity,
                         bool sc16,
                         float scale,
                         py::object buffer,
                         const std::string& reader,
                         bool tethered,
                         bool end_on_stream_end,
                         uint64_t history) {
                 const uint64_t cap = capacity_of(capacity);
                 where_t where = where_of(name, buffer);
                 if (std::holds_alternative<ring_ref>(where) &&
                     (!reader.empty() || !tethered || history != 0))
                     throw py::type_error(
                         "reader=, tethered= and history= choose the reader of a ring "
                         "given by "
                         "name=; a buffer object reads as the reader it was attached "
                         "with (F32Buffer.attach(name, reader=...))");
                 return make_block(std::move(where), [&](auto&& w) {
                     if constexpr (std::is_same_v<std::decay_t<decltype(w)>, std::string>)
                         return buffer_source::make(type,
                                                    w,
                                                    cap,
                                                    sc16,
                                                    scale,
                                                    reader,
                                                    tethered,
                                                    end_on_stream_end,
                                                    history);
                     else
                         return buffer_source::make(
                             type, std::move(w), sc16, scale, end_on_stream_end);
                 });
             }),
             py::arg("type"),
             py::arg("name") = py::none(),
             py::arg("capacity") = int64_t(doppler::default_capacity),
             py::arg("sc16") = false,
             py::arg("scale") = 1.0f / 32768,
             py::arg("buffer") = py::none(),
             py::arg("reader") = "",
             py::arg("tethered") = true,
             py::arg("end_on_stream_end") = false,
             py::arg("history") = uint64_t(0))
        .def("skipped",
             &buffer_source::skipped,
             "Samples this block's reader missed: lapped, or overwritten while copied\n"
             "out (untethered readers only).");
}
