/* -*- c++ -*- */
/*
 * doppler._ring: list / inspect / remove named rings, for doppler.ring
 * (the `doppler-ring` tool). A thin binding of lib/inspect.cc.
 * SPDX-License-Identifier: GPL-3.0-or-later
 */
#include <doppler/inspect.hpp>
#include <doppler/segment.hpp>

#include <pybind11/pybind11.h>
#include <pybind11/stl.h>

namespace py = pybind11;

namespace {

py::dict peer_dict(const doppler::ring_peer& p)
{
    py::dict d;
    d["pid"] = p.pid;
    d["alive"] = p.alive;
    return d;
}

/// A ring_info as a plain dict: the tool prints and filters it, nothing more.
py::dict info_dict(const doppler::ring_info& r)
{
    py::dict d;
    d["name"] = r.name;
    d["path"] = doppler::segment::shm_path(r.name);
    d["problem"] =
        r.problem.empty() ? py::object(py::none()) : py::object(py::str(r.problem));
    d["uid"] = r.uid;
    d["mode"] = r.mode;
    d["bytes"] = r.bytes;
    if (r.problem.empty()) {
        d["type"] = doppler::type_name(r.type);
        d["capacity"] = r.capacity;
        d["fill"] = r.fill();
        d["written"] = r.written;
        d["read_index"] = r.read_index;
        d["dropped"] = r.dropped;
        d["missed_wakes"] = r.missed_wakes;
        d["closed"] = r.closed;
        d["creator"] = peer_dict(r.creator);
        d["producer"] = peer_dict(r.producer);
        d["consumer"] = peer_dict(r.consumer);
    }
    return d;
}

} // namespace

PYBIND11_MODULE(_ring, m)
{
    m.doc() = "Inspect and remove named doppler rings (/dev/shm/doppler.<name>).";

    // doppler::error carries errno: a bad name is a ValueError, the rest an
    // OSError whose constructor picks the subclass (FileNotFoundError, ...).
    // Local: doppler.buffer and the blocks translate their own errors.
    py::register_local_exception_translator([](std::exception_ptr p) {
        try {
            if (p)
                std::rethrow_exception(p);
        } catch (const doppler::error& e) {
            const int err = e.code().value();
            if (err == EINVAL) {
                PyErr_SetString(PyExc_ValueError, e.what());
                return;
            }
            py::object exc =
                py::reinterpret_borrow<py::object>(PyExc_OSError)(err, e.what());
            PyErr_SetObject(reinterpret_cast<PyObject*>(Py_TYPE(exc.ptr())), exc.ptr());
        }
    });

    m.def(
        "list",
        [] {
            py::list out;
            for (const auto& r : doppler::list_rings())
                out.append(info_dict(r));
            return out;
        },
        "Every /dev/shm/doppler.* object as a dict; corrupt ones have 'problem' set.");
    m.def(
        "inspect",
        [](const std::string& name) { return info_dict(doppler::inspect(name)); },
        py::arg("name"),
        "One ring as a dict. ValueError for a bad name, FileNotFoundError if missing.");
    m.def(
        "valid_name",
        [](const std::string& name) {
            try {
                doppler::segment::check_name(name);
                return true;
            } catch (const doppler::error&) {
                return false;
            }
        },
        py::arg("name"),
        "True if `name` is a valid ring name (1-200 of [A-Za-z0-9._-], no leading dot).");
    m.def("remove",
          &doppler::remove_ring,
          py::arg("name"),
          "Remove the ring's name (attached peers keep their mappings). False if there "
          "was none.");
}
