/* -*- c++ -*- */
/*
 * Tag values and tag records: the encoder, the validating decoder and the
 * walk over a tag area. Everything that reads bytes from the shared area
 * checks the length first: the area is written by another process and may
 * be corrupt (the fuzz target feeds it garbage).
 * SPDX-License-Identifier: GPL-3.0-or-later
 */
#include <doppler/ring.hpp>
#include <doppler/tags.hpp>

namespace doppler {

// ---------------------------------------------------------------------------
// encoding
// ---------------------------------------------------------------------------
namespace encode {
namespace {
template <class V>
void put(std::string& out, value_type t, V v)
{
    out.push_back(char(t));
    char b[sizeof v];
    std::memcpy(b, &v, sizeof v);
    out.append(b, sizeof v);
}
void put_u32(std::string& out, uint32_t v)
{
    char b[4];
    std::memcpy(b, &v, 4);
    out.append(b, 4);
}
void sized(std::string& out, value_type t, std::string_view s)
{
    out.push_back(char(t));
    put_u32(out, uint32_t(s.size()));
    out.append(s.data(), s.size());
}
} // namespace

void none(std::string& out)
{
    out.push_back(char(value_type::none));
}
void boolean(std::string& out, bool v)
{
    out.push_back(char(value_type::boolean));
    out.push_back(v ? 1 : 0);
}
void int64(std::string& out, int64_t v)
{
    put(out, value_type::int64, v);
}
void uint64(std::string& out, uint64_t v)
{
    put(out, value_type::uint64, v);
}
void float64(std::string& out, double v)
{
    put(out, value_type::float64, v);
}
void complex128(std::string& out, double re, double im)
{
    put(out, value_type::complex128, re);
    char b[8];
    std::memcpy(b, &im, 8);
    out.append(b, 8);
}
void str(std::string& out, std::string_view utf8)
{
    sized(out, value_type::str, utf8);
}
void bytes(std::string& out, std::string_view b)
{
    sized(out, value_type::bytes, b);
}
void tuple(std::string& out, uint32_t count)
{
    out.push_back(char(value_type::tuple));
    put_u32(out, count);
}
void list(std::string& out, uint32_t count)
{
    out.push_back(char(value_type::list));
    put_u32(out, count);
}
void dict(std::string& out, uint32_t count)
{
    out.push_back(char(value_type::dict));
    put_u32(out, count);
}
void key(std::string& out, std::string_view utf8)
{
    put_u32(out, uint32_t(utf8.size()));
    out.append(utf8.data(), utf8.size());
}
} // namespace encode

// ---------------------------------------------------------------------------
// decoding
// ---------------------------------------------------------------------------
namespace {

uint32_t load_u32(const uint8_t* p) noexcept
{
    uint32_t v;
    std::memcpy(&v, p, 4);
    return v;
}

/// Length of the value at p (within n bytes), or 0 with *why set.
size_t check(const uint8_t* p, size_t n, int depth, const char** why) noexcept
{
    if (n < 1) {
        *why = "value truncated before its type byte";
        return 0;
    }
    auto fixed = [&](size_t payload) -> size_t {
        if (n - 1 < payload) {
            *why = "value truncated inside a number";
            return 0;
        }
        return 1 + payload;
    };
    switch (value_type(p[0])) {
    case value_type::none:
        return 1;
    case value_type::boolean:
        if (n < 2) {
            *why = "value truncated inside a bool";
            return 0;
        }
        if (p[1] > 1) {
            *why = "bool is neither 0 nor 1";
            return 0;
        }
        return 2;
    case value_type::int64:
    case value_type::uint64:
    case value_type::float64:
        return fixed(8);
    case value_type::complex128:
        return fixed(16);
    case value_type::str:
    case value_type::bytes: {
        if (n < 5) {
            *why = "value truncated inside a length";
            return 0;
        }
        const uint64_t len = load_u32(p + 1);
        if (len > n - 5) {
            *why = "string or bytes longer than its record";
            return 0;
        }
        return size_t(5 + len);
    }
    case value_type::tuple:
    case value_type::list:
    case value_type::dict: {
        if (depth >= max_value_depth) {
            *why = "values nested too deep";
            return 0;
        }
        if (n < 5) {
            *why = "value truncated inside a count";
            return 0;
        }
        const bool is_dict = value_type(p[0]) == value_type::dict;
        uint32_t count = load_u32(p + 1);
        size_t at = 5;
        // Every element takes at least one byte (a dict entry five): a count
        // beyond what is left is refused before any loop runs that long.
        if (count > (n - at) / (is_dict ? 5 : 1)) {
            *why = "container count larger than its record";
            return 0;
        }
        while (count--) {
            if (is_dict) {
                if (n - at < 4) {
                    *why = "dict key truncated";
                    return 0;
                }
                const uint64_t klen = load_u32(p + at);
                if (klen > n - at - 4) {
                    *why = "dict key longer than its record";
                    return 0;
                }
                at += size_t(4 + klen);
            }
            const size_t used = check(p + at, n - at, depth + 1, why);
            if (used == 0)
                return 0;
            at += used;
        }
        return at;
    }
    }
    *why = "unknown value type";
    return 0;
}

/// Length of a value that was validated already (no checks needed): one case
/// per row of the value encoding table in docs/architecture.md.
size_t skip(const uint8_t* p) noexcept
{
    switch (value_type(p[0])) {
    case value_type::none:
        return 1;
    case value_type::boolean:
        return 2;
    case value_type::int64:
    case value_type::uint64:
    case value_type::float64:
        return 9;
    case value_type::complex128:
        return 17;
    case value_type::str:
    case value_type::bytes:
        return 5 + load_u32(p + 1);
    case value_type::tuple:
    case value_type::list:
    case value_type::dict: {
        const bool is_dict = value_type(p[0]) == value_type::dict;
        uint32_t count = load_u32(p + 1);
        size_t at = 5;
        while (count--) {
            if (is_dict)
                at += 4 + load_u32(p + at);
            at += skip(p + at);
        }
        return at;
    }
    }
    return 1;
}

} // namespace

bool validate_value(const uint8_t* p, size_t n, size_t* used, const char** why) noexcept
{
    const char* w = "";
    const size_t u = check(p, n, 1, &w);
    if (used)
        *used = u;
    if (why)
        *why = w;
    return u != 0;
}

value_view::iterator value_view::items() const noexcept
{
    iterator it;
    const value_type t = type();
    if (t != value_type::tuple && t != value_type::list && t != value_type::dict)
        return it;
    it.p_ = p_ + 5;
    it.end_ = p_ + n_;
    it.left_ = count();
    it.dict_ = t == value_type::dict;
    return it;
}

bool value_view::iterator::next(value_view& out) noexcept
{
    if (left_ == 0)
        return false;
    --left_;
    if (dict_) {
        const uint32_t klen = load_u32(p_);
        key_ = std::string_view(reinterpret_cast<const char*>(p_ + 4), klen);
        p_ += 4 + klen;
    }
    const size_t len = skip(p_);
    out = value_view(p_, len);
    p_ += len;
    return true;
}

// ---------------------------------------------------------------------------
// records
// ---------------------------------------------------------------------------
namespace detail {

uint64_t parse_tag_record(const uint8_t* area,
                          uint64_t bytes,
                          uint64_t pos,
                          tag_record* rec,
                          std::string_view* key,
                          value_view* value) noexcept
{
    const uint64_t off = pos & (bytes - 1);
    if ((off & 15) != 0 || bytes - off < sizeof(tag_record))
        return 0;
    std::memcpy(rec, area + off, sizeof *rec);
    if (rec->kind == tag_kind_skip)
        return bytes - off;
    if (rec->kind != tag_kind_tag || rec->reserved != 0 || rec->key_len > max_key_bytes)
        return 0;
    const uint64_t len = tag_record_bytes(rec->key_len, rec->value_len);
    if (len > bytes - off)
        return 0;
    const uint8_t* k = area + off + sizeof(tag_record);
    const uint8_t* v = k + rec->key_len;
    size_t used = 0;
    if (rec->value_len == 0 || !validate_value(v, rec->value_len, &used, nullptr) ||
        used != rec->value_len)
        return 0;
    *key = std::string_view(reinterpret_cast<const char*>(k), rec->key_len);
    *value = value_view(v, rec->value_len);
    return len;
}

namespace {
/// Shared tag area bytes are read and written as relaxed atomic 64-bit
/// words (records are 16-byte aligned, their lengths multiples of 16): a
/// reader racing the producer reads torn records, never undefined ones,
/// and the seqlock check throws the torn ones away.
void load_words(void* dst, const uint8_t* src, uint64_t n) noexcept
{
    auto* d = static_cast<uint64_t*>(dst);
    const auto* p = reinterpret_cast<const uint64_t*>(src);
    for (uint64_t i = 0; i < n / 8; ++i)
        d[i] = __atomic_load_n(p + i, __ATOMIC_RELAXED);
}
void store_words(uint8_t* dst, const void* src, uint64_t n) noexcept
{
    auto* p = reinterpret_cast<uint64_t*>(dst);
    const auto* b = static_cast<const uint8_t*>(src);
    for (uint64_t i = 0; i < n / 8; ++i) {
        uint64_t w;
        std::memcpy(&w, b + 8 * i, 8);
        __atomic_store_n(p + i, w, __ATOMIC_RELAXED);
    }
}
/// Write [header | key | value | zero padding] (len bytes) at dst, word by word.
void store_record(uint8_t* dst,
                  const tag_record& rec,
                  std::string_view key,
                  std::string_view value,
                  uint64_t len) noexcept
{
    uint8_t chunk[256];
    uint64_t done = 0;
    auto byte = [&](uint64_t k) -> uint8_t {
        if (k < sizeof rec)
            return reinterpret_cast<const uint8_t*>(&rec)[k];
        k -= sizeof rec;
        if (k < key.size())
            return uint8_t(key[k]);
        k -= key.size();
        return k < value.size() ? uint8_t(value[k]) : 0;
    };
    while (done < len) {
        const uint64_t n = std::min<uint64_t>(sizeof chunk, len - done);
        for (uint64_t k = 0; k < n; ++k)
            chunk[k] = byte(done + k);
        store_words(dst + done, chunk, n);
        done += n;
    }
}
} // namespace

tag_copy copy_tag_records(const control* c,
                          const uint8_t* area,
                          uint64_t bytes,
                          uint64_t& pos,
                          uint64_t first,
                          uint64_t last,
                          std::vector<uint64_t>& out) noexcept
{
    tag_copy got;
    out.clear();
    for (int attempt = 0; attempt < 4; ++attempt) {
        // The tail first: a running producer moves both, and a tail loaded
        // after the head could already be past it. A span over the area's
        // size is a producer that moved on between the two loads (this
        // reader was descheduled there): look again. Only a span the tail
        // did not move across is impossible.
        const uint64_t tail = c->tag_tail.load(std::memory_order_acquire);
        const uint64_t head = c->tag_head.load(std::memory_order_acquire);
        if (tail > head || head - tail > bytes) {
            if (c->tag_tail.load(std::memory_order_acquire) == tail) {
                got.corrupt = true;
                return got;
            }
            continue;
        }
        if (pos < tail || pos > head)
            pos = tail; // reclaimed behind an untethered reader, or never read
        const uint64_t start = pos;
        uint64_t at = start, keep = start, used = 0;
        bool malformed = false;
        while (at < head) {
            const uint64_t off = at & (bytes - 1);
            tag_record rec;
            if ((off & 15) != 0 || bytes - off < sizeof rec) {
                malformed = true;
                break;
            }
            load_words(&rec, area + off, sizeof rec);
            uint64_t len = bytes - off; // a skip record reaches the end
            if (rec.kind != tag_kind_skip) {
                len = tag_record_bytes(rec.key_len, rec.value_len);
                if (rec.kind != tag_kind_tag || rec.key_len > max_key_bytes ||
                    len > bytes - off || len > head - at) {
                    malformed = true;
                    break;
                }
                if (rec.index >= last)
                    break; // records are in index order: the window is done
            }
            if (rec.kind == tag_kind_skip || rec.index < first) {
                at += len;
                if (used == 0)
                    keep = at; // consumed for good
                continue;
            }
            if (out.size() < (used + len) / 8)
                out.resize(size_t((used + len) / 8)); // grows once, then reused
            load_words(reinterpret_cast<uint8_t*>(out.data()) + used, area + off, len);
            used += len;
            at += len;
        }
        // Acquire: the copy above is read before the tail below (seqlock).
        std::atomic_thread_fence(std::memory_order_acquire);
        if (c->tag_tail.load(std::memory_order_relaxed) <= start) {
            got.bytes = used;
            got.corrupt = malformed;
            while (got.area_bytes < used)
                got.area_bytes <<= 1;
            pos = keep;
            return got;
        }
        // The producer reclaimed records under the copy (this reader was
        // lapped): they may be torn. Again from the new tail.
        used = 0;
    }
    return got; // lapped on every attempt: no tags for this window
}

bool append_tag(control* c,
                uint8_t* area,
                uint64_t bytes,
                uint64_t& head,
                uint64_t& tail,
                uint64_t keep_from,
                uint64_t index,
                std::string_view key,
                std::string_view value) noexcept
{
    const uint64_t len = tag_record_bytes(key.size(), value.size());
    size_t used_by_value = 0;
    if (bytes == 0 || key.size() > max_key_bytes || value.empty() ||
        value.size() > UINT32_MAX || len > bytes / 2 ||
        !validate_value(reinterpret_cast<const uint8_t*>(value.data()),
                        value.size(),
                        &used_by_value,
                        nullptr) ||
        used_by_value != value.size()) {
        c->tags_dropped.fetch_add(1, std::memory_order_relaxed); // a statistic
        return false;
    }
    const uint64_t off = head & (bytes - 1);
    const uint64_t pad = bytes - off < len ? bytes - off : 0; // skip record to the end
    // Reclaim records no tethered reader needs any more, oldest first.
    const uint64_t old_tail = tail;
    while (bytes - (head - tail) < pad + len && tail < head) {
        tag_record rec;
        std::string_view k;
        value_view v;
        const uint64_t l = parse_tag_record(area, bytes, tail, &rec, &k, &v);
        if (l == 0 || l > head - tail) {
            tail = head; // not our records (a corrupt area): start afresh
            break;
        }
        if (rec.kind != tag_kind_skip && rec.index >= keep_from)
            break;
        tail += l;
    }
    if (tail != old_tail) {
        // Readers learn that records before it may be overwritten. The
        // release fence orders this store before the overwriting stores
        // below (a reader's copy that saw one of them sees this tail).
        c->tag_tail.store(tail, std::memory_order_release);
        std::atomic_thread_fence(std::memory_order_release);
    }
    if (bytes - (head - tail) < pad + len) {
        c->tags_dropped.fetch_add(1, std::memory_order_relaxed);
        return false;
    }
    if (pad) {
        tag_record skip {};
        skip.kind = tag_kind_skip;
        store_words(area + off, &skip, sizeof skip);
        head += pad;
    }
    tag_record rec {};
    rec.index = index;
    rec.value_len = uint32_t(value.size());
    rec.key_len = uint16_t(key.size());
    rec.kind = tag_kind_tag;
    store_record(area + (head & (bytes - 1)), rec, key, value, len);
    head += len;
    return true;
}

} // namespace detail

bool tag_cursor::next(tag_view& out) noexcept
{
    if (extra_) {
        // The reader's own record ("skipped"): built by the ring, well formed.
        tag_record rec;
        std::memcpy(&rec, extra_, sizeof rec);
        const uint8_t* k = extra_ + sizeof rec;
        out.index = rec.index;
        out.key = std::string_view(reinterpret_cast<const char*>(k), rec.key_len);
        out.value = value_view(k + rec.key_len, rec.value_len);
        extra_ = nullptr;
        return true;
    }
    while (!corrupt_ && pos_ < head_) {
        tag_record rec;
        std::string_view key;
        value_view value;
        const uint64_t len =
            detail::parse_tag_record(area_, bytes_, pos_, &rec, &key, &value);
        if (len == 0 || len > head_ - pos_) {
            corrupt_ = true;
            return false;
        }
        pos_ += len;
        if (rec.kind == tag_kind_skip || rec.index < first_)
            continue;
        if (rec.index >= last_) { // records are in index order: the window is done
            pos_ = head_;
            return false;
        }
        out.index = rec.index;
        out.key = key;
        out.value = value;
        return true;
    }
    return false;
}

} // namespace doppler
