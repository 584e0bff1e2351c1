/* -*- c++ -*- */
/*
 * doppler._ring_tool: list / inspect / remove named rings, for
 * doppler.ring_tool (the `doppler-ring` tool). A thin binding of
 * lib/core/inspect.cc.
 * SPDX-License-Identifier: GPL-3.0-or-later
 */
#include "errors.hpp"
#include "names.hpp"

#include <doppler/inspect.hpp>
#include <doppler/segment.hpp>

#include <pybind11/pybind11.h>
#include <pybind11/stl.h>

namespace py = pybind11;

namespace {

/// A name or path as Python's os.fsdecode gives it: bytes that are not UTF-8
/// (another user may name an object anything) become lone surrogates instead
/// of an exception; os.fsencode gives the bytes back.
py::str fs_str(const std::string& s)
{
    PyObject* o = PyUnicode_DecodeFSDefaultAndSize(s.data(), Py_ssize_t(s.size()));
    if (!o)
        throw py::error_already_set();
    return py::reinterpret_steal<py::str>(o);
}

/// A name argument as a std::string (TypeError / ValueError as the buffers').
std::string name_of(const py::handle& o)
{
    std::string name;
    if (!doppler::python::name_arg(o.ptr(), name))
        throw py::error_already_set();
    return name;
}

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
    d["name"] = fs_str(r.name);
    d["path"] = fs_str(doppler::segment::shm_path(r.name));
    d["problem"] =
        r.problem.empty() ? py::object(py::none()) : py::object(fs_str(r.problem));
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
        d["stream"] = r.stream;
        d["tag_bytes"] = r.tag_bytes;
        d["tag_fill"] = r.tag_fill;
        d["tags_dropped"] = r.tags_dropped;
        py::list readers;
        for (const auto& rd : r.readers) {
            py::dict x;
            x["slot"] = rd.slot;
            x["name"] = fs_str(rd.name); // "" for the default reader; any bytes
            x["holder"] = peer_dict(rd.holder);
            x["tethered"] = rd.tethered;
            x["grace"] = rd.grace_ns < 0 ? py::object(py::none())
                                         : py::object(py::float_(rd.grace_ns / 1e9));
            x["position"] = rd.position;
            x["lag"] = rd.lag;
            x["skipped"] = rd.skipped;
            x["stream"] = rd.stream;
            readers.append(x);
        }
        d["readers"] = readers;
        // Names a reader, whose name (in the shared header) may be any bytes.
        d["held_back"] = r.held_back.empty() ? py::object(py::none())
                                             : py::object(fs_str(r.held_back));
    }
    return d;
}

} // namespace

PYBIND11_MODULE(_ring_tool, m)
{
    m.doc() = "Inspect and remove named doppler rings (/dev/shm/doppler.<name>).";

    doppler::python::register_translator();
    // Where named rings live, for the tool's own look at /proc/PID/maps.
    m.attr("PATH_PREFIX") =
        std::string(doppler::shm_dir) + "/" + doppler::shm_prefix; // "/dev/shm/doppler."

    m.def(
        "list",
        [] {
            py::list out;
            for (const auto& r : doppler::list_rings()) {
                // One object that cannot be shown must not hide the others:
                // it is listed with what went wrong as its problem.
                try {
                    out.append(info_dict(r));
                } catch (const py::error_already_set& e) {
                    doppler::ring_info bad;
                    bad.name = r.name;
                    bad.uid = r.uid;
                    bad.mode = r.mode;
                    bad.bytes = r.bytes;
                    bad.problem = std::string("cannot be shown: ") + e.what();
                    out.append(info_dict(bad));
                }
            }
            return out;
        },
        "Every /dev/shm/doppler.* object as a dict; corrupt ones have 'problem' set.");
    m.def(
        "inspect",
        [](const py::object& name) { return info_dict(doppler::inspect(name_of(name))); },
        py::arg("name"),
        "One ring as a dict. ValueError for a bad name, FileNotFoundError if missing.");
    m.def(
        "valid_name",
        [](const py::object& name) {
            std::string s;
            if (!doppler::python::name_arg(name.ptr(), s)) {
                PyErr_Clear();
                return false;
            }
            try {
                doppler::segment::check_name(s);
                return true;
            } catch (const doppler::error&) {
                return false;
            }
        },
        py::arg("name"),
        "True if `name` is a valid ring name (1-200 of [A-Za-z0-9._-], no leading dot).");
    m.def(
        "remove",
        [](const py::object& name) { return doppler::remove_ring(name_of(name)); },
        py::arg("name"),
        "Remove the ring's name (attached peers keep their mappings). False if there "
        "was none.");
}
