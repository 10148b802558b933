// String helpers for kernel code (no hosted libc).
#pragma once

#include <ak/base.h>
#include <ak/kmem.h>
#include <ak/span.h>

namespace ak {

size_t str_len(const char* s);
size_t str_nlen(const char* s, size_t max);
int str_cmp(const char* a, const char* b);
// Copy with truncation; always NUL-terminates when size > 0.  Returns the
// length of src.
size_t str_copy(char* dst, const char* src, size_t size);
// Per-boot seed for StringView::hash (set once at kernel init).
uint32_t string_hash_seed();
void set_string_hash_seed(uint32_t seed);

class StringView {
public:
    constexpr StringView() = default;
    constexpr StringView(const char* s, size_t len) : m_chars(s), m_len(len) {}
    StringView(const char* s) : m_chars(s), m_len(s ? str_len(s) : 0) {}
    constexpr const char* data() const { return m_chars; }
    constexpr size_t length() const { return m_len; }
    constexpr bool empty() const { return m_len == 0; }
    constexpr char operator[](size_t i) const { return m_chars[i]; }
    bool operator==(StringView o) const {
        return m_len == o.m_len && (m_len == 0 || __builtin_memcmp(m_chars, o.m_chars, m_len) == 0);
    }
    constexpr StringView substr(size_t off, size_t len = ~size_t(0)) const {
        clamp_range(m_len, off, len);
        return StringView(m_chars + off, len);
    }
    bool starts_with(StringView p) const {
        return p.m_len <= m_len && __builtin_memcmp(m_chars, p.m_chars, p.m_len) == 0;
    }
    // FNV-1a from a per-boot random seed, so names that collide cannot be
    // chosen in advance (directory hash tables face untrusted names).
    uint32_t hash() const {
        uint32_t h = 2166136261u ^ string_hash_seed();
        for (size_t i = 0; i < m_len; i++)
            h = (h ^ uint8_t(m_chars[i])) * 16777619u;
        return h;
    }

private:
    const char* m_chars = nullptr;
    size_t m_len = 0;
};

// An owned, immutable, NUL-terminated string in kernel memory.
class KString : NonCopyable {
public:
    KString() = default;
    KString(KString&& o) : m_chars(o.m_chars), m_len(o.m_len) {
        o.m_chars = nullptr;
        o.m_len = 0;
    }
    KString& operator=(KString&& o) {
        if (this != &o) {
            kmem_free(m_chars);
            m_chars = o.m_chars;
            m_len = o.m_len;
            o.m_chars = nullptr;
            o.m_len = 0;
        }
        return *this;
    }
    ~KString() { kmem_free(m_chars); }
    static Result<KString> create(StringView s) {
        KString k;
        k.m_chars = static_cast<char*>(kmem_alloc(s.length() + 1));
        if (!k.m_chars)
            return Errno(ENOMEM);
        if (s.length())
            __builtin_memcpy(k.m_chars, s.data(), s.length());
        k.m_chars[s.length()] = 0;
        k.m_len = s.length();
        return k;
    }
    StringView view() const { return StringView(m_chars ? m_chars : "", m_len); }
    const char* c_str() const { return m_chars ? m_chars : ""; }
    size_t length() const { return m_len; }

private:
    char* m_chars = nullptr;
    size_t m_len = 0;
};

} // namespace ak
