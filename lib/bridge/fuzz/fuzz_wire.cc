/* -*- c++ -*- */
/*
 * libFuzzer target for the wire codec's reader: the input is one ZeroMQ
 * message as a hostile or broken peer could send it. decode_header must
 * never crash, hang or read outside the message; whatever it accepts must be
 * ring values the ring's own validator accepts, must survive keep_within,
 * and must encode again (encode_header) into a header that decodes to the
 * same tags and encodes to the same bytes.
 *
 * Build: cmake -DDOPPLER_CORE_ONLY=ON -DDOPPLER_FUZZ=ON -DCMAKE_CXX_COMPILER=clang++
 *        (with -DDOPPLER_SANITIZE=address,undefined for the sanitizers)
 * Run:   mkdir -p work && ./lib/bridge/fuzz_wire -max_len=4096 \
 *            -max_total_time=60 work ../lib/bridge/fuzz/corpus
 * The corpus: GNU Radio's own messages and PMTs, written by fuzz/make_corpus.py.
 * SPDX-License-Identifier: GPL-3.0-or-later
 */
#include "wire.hpp"

#include <cstdlib>
#include <cstring>
#include <vector>

using namespace doppler;

namespace {

void check(bool ok)
{
    if (!ok)
        std::abort(); // a finding: libFuzzer keeps the input
}

} // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size)
{
    // A copy of exactly the input's size: a read past it is an ASan report.
    std::vector<uint8_t> msg(data, data + size);
    static wire::decoded d, again;
    static std::string out, out2;
    static std::vector<wire::tag> tags;
    const wire::decode_result r = wire::decode_header(msg.data(), msg.size(), d);
    check(r.used <= size);
    if (r.status != wire::header_status::ok) {
        check(d.size() == 0);
        check(r.status == wire::header_status::no_header || !d.message.empty());
        return 0;
    }
    check(d.size() + d.skipped == d.announced);
    for (size_t i = 0; i < d.size(); ++i) {
        size_t used = 0;
        check(d[i].key.size() <= max_key_bytes);
        check(validate_value(reinterpret_cast<const uint8_t*>(d[i].value.data()),
                             d[i].value.size(),
                             &used,
                             nullptr) &&
              used == d[i].value.size());
    }
    // Send back what was received; read it again.
    tags.clear();
    for (size_t i = 0; i < d.size(); ++i)
        tags.emplace_back(d.index(i), d[i].key, d[i].value);
    out.clear();
    wire::encode_stats st;
    wire::encode_header(out, d.first_index, tags, &st);
    const wire::decode_result r2 = wire::decode_header(
        reinterpret_cast<const uint8_t*>(out.data()), out.size(), again);
    check(r2.status == wire::header_status::ok && r2.used == out.size());
    check(again.size() == st.written && again.skipped == 0);
    // Once through the codec, a value is at a fixed point: sending what was
    // read back gives the same bytes.
    tags.clear();
    for (size_t i = 0; i < again.size(); ++i)
        tags.emplace_back(again.index(i), again[i].key, again[i].value);
    out2.clear();
    wire::encode_header(out2, again.first_index, tags);
    check(out2 == out);
    d.keep_within((size - r.used) / 4);
    check(d.size() + d.outside + d.skipped == d.announced);
    for (size_t i = 1; i < d.size(); ++i)
        check(d[i - 1].offset <= d[i].offset);
    return 0;
}
