/* -*- c++ -*- */
/*
 * wire_tool: one gr-zeromq message on stdin through the wire codec, for
 * tests that produce and check the bytes with GNU Radio itself
 * (qa_wire_pmt.py). Not installed.
 *
 *   wire_tool decode   < msg   prints what decode_header found, as JSON:
 *     {"status": "ok", "used": 57, "first": 0, "announced": 2, "skipped": 0,
 *      "message": "...", "items": "<hex>",
 *      "tags": [{"offset": 1, "key": "<hex>", "value": V}, ...]}
 *     V is ["none"], ["bool", true], ["int64", -5], ["uint64", 7],
 *     ["float64", "<hex of the IEEE bits>"], ["complex", "<hex>", "<hex>"],
 *     ["str", "<hex>"], ["bytes", "<hex>"], ["tuple", [V...]],
 *     ["list", [V...]], ["dict", [["<key hex>", V]...]].
 *   wire_tool reencode < msg   decodes, then writes the same items with a
 *     header encode_header made from the decoded tags (exit status 1 if the
 *     message was refused).
 * SPDX-License-Identifier: GPL-3.0-or-later
 */
#include "wire.hpp"

#include <cinttypes>
#include <cstdio>
#include <cstring>
#include <iostream>
#include <iterator>
#include <string>

using namespace doppler;

namespace {

std::string hex(const void* data, size_t n)
{
    static const char digits[] = "0123456789abcdef";
    std::string s;
    const auto* p = static_cast<const uint8_t*>(data);
    for (size_t i = 0; i < n; ++i) {
        s.push_back(digits[p[i] >> 4]);
        s.push_back(digits[p[i] & 15]);
    }
    return s;
}
std::string hex(std::string_view s)
{
    return hex(s.data(), s.size());
}
std::string bits(double d)
{
    uint64_t b;
    std::memcpy(&b, &d, 8);
    char buf[20];
    std::snprintf(buf, sizeof buf, "%016" PRIx64, b);
    return buf;
}

std::string json(const value_view& v)
{
    switch (v.type()) {
    case value_type::none:
        return "[\"none\"]";
    case value_type::boolean:
        return v.as_bool() ? "[\"bool\", true]" : "[\"bool\", false]";
    case value_type::int64:
        return "[\"int64\", " + std::to_string(v.as_int64()) + "]";
    case value_type::uint64:
        return "[\"uint64\", " + std::to_string(v.as_uint64()) + "]";
    case value_type::float64:
        return "[\"float64\", \"" + bits(v.as_float64()) + "\"]";
    case value_type::complex128:
        return "[\"complex\", \"" + bits(v.real()) + "\", \"" + bits(v.imag()) + "\"]";
    case value_type::str:
        return "[\"str\", \"" + hex(v.as_str()) + "\"]";
    case value_type::bytes:
        return "[\"bytes\", \"" + hex(v.as_str()) + "\"]";
    case value_type::tuple:
    case value_type::list:
    case value_type::dict: {
        const bool is_dict = v.type() == value_type::dict;
        std::string s = v.type() == value_type::tuple ? "[\"tuple\", ["
            : is_dict                                 ? "[\"dict\", ["
                                                      : "[\"list\", [";
        auto it = v.items();
        value_view e;
        bool first = true;
        while (it.next(e)) {
            if (!first)
                s += ", ";
            first = false;
            s += is_dict ? "[\"" + hex(it.key()) + "\", " + json(e) + "]" : json(e);
        }
        return s + "]]";
    }
    }
    return "null";
}

std::string quoted(const std::string& s)
{
    std::string q = "\"";
    for (char c : s) {
        if (c == '"' || c == '\\')
            q.push_back('\\');
        if (uint8_t(c) < 0x20)
            continue;
        q.push_back(c);
    }
    return q + "\"";
}

} // namespace

int main(int argc, char** argv)
{
    const std::string mode = argc > 1 ? argv[1] : "";
    if (mode != "decode" && mode != "reencode") {
        std::fprintf(stderr, "usage: wire_tool decode|reencode < message\n");
        return 2;
    }
    const std::string msg((std::istreambuf_iterator<char>(std::cin)),
                          std::istreambuf_iterator<char>());
    const auto* p = reinterpret_cast<const uint8_t*>(msg.data());
    wire::decoded d;
    const wire::decode_result r = wire::decode_header(p, msg.size(), d);
    if (mode == "decode") {
        std::string s = "{\"status\": \"" + std::string(wire::to_string(r.status)) +
            "\", \"used\": " + std::to_string(r.used) +
            ", \"first\": " + std::to_string(d.first_index) +
            ", \"announced\": " + std::to_string(d.announced) +
            ", \"skipped\": " + std::to_string(d.skipped) +
            ", \"message\": " + quoted(d.message) + ", \"items\": \"" +
            (r.usable() ? hex(p + r.used, msg.size() - r.used) : "") + "\", \"tags\": [";
        for (size_t i = 0; i < d.size(); ++i) {
            const tag_in& t = d[i];
            s += i ? ", " : "";
            s += "{\"offset\": " + std::to_string(t.offset) + ", \"key\": \"" +
                hex(t.key) + "\", \"value\": " +
                json(value_view(reinterpret_cast<const uint8_t*>(t.value.data()),
                                t.value.size())) +
                "}";
        }
        std::cout << s << "]}\n";
        return 0;
    }
    if (r.status != wire::header_status::ok) {
        std::fprintf(
            stderr, "refused: %s: %s\n", wire::to_string(r.status), d.message.c_str());
        return 1;
    }
    std::vector<wire::tag> tags;
    for (size_t i = 0; i < d.size(); ++i)
        tags.emplace_back(d.index(i), d[i].key, d[i].value);
    std::string out;
    wire::encode_stats st;
    wire::encode_header(out, d.first_index, tags, &st);
    out.append(msg, r.used, std::string::npos);
    std::fprintf(stderr,
                 "{\"written\": %" PRIu64 ", \"skipped\": %" PRIu64 "}\n",
                 st.written,
                 st.skipped);
    std::cout.write(out.data(), std::streamsize(out.size()));
    return 0;
}
