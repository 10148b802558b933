#include <ak/string.h>
#include <ak/uio.h>

namespace ak {

namespace {
uint32_t g_hash_seed;
}

uint32_t string_hash_seed() {
    return g_hash_seed;
}
void set_string_hash_seed(uint32_t seed) {
    g_hash_seed = seed;
}

size_t str_len(const char* s) {
    size_t n = 0;
    while (s[n])
        n++;
    return n;
}

size_t str_nlen(const char* s, size_t max) {
    size_t n = 0;
    while (n < max && s[n])
        n++;
    return n;
}

int str_cmp(const char* a, const char* b) {
    while (*a && *a == *b) {
        a++;
        b++;
    }
    return static_cast<unsigned char>(*a) - static_cast<unsigned char>(*b);
}

size_t str_copy(char* dst, const char* src, size_t size) {
    size_t len = str_len(src);
    if (size) {
        size_t n = len < size - 1 ? len : size - 1;
        __builtin_memcpy(dst, src, n);
        dst[n] = 0;
    }
    return len;
}

template <typename F> size_t Uio::walk(size_t n, F&& f) {
    size_t moved = 0;
    while (n > 0 && m_index < m_iovcnt) {
        const abi::Iovec& v = m_iov[m_index];
        size_t avail = v.iov_len - m_off;
        if (avail == 0) {
            m_index++;
            m_off = 0;
            continue;
        }
        size_t chunk = n < avail ? n : avail;
        f(static_cast<uint8_t*>(v.iov_base) + m_off, moved, chunk);
        m_off += chunk;
        moved += chunk;
        n -= chunk;
    }
    m_resid -= moved;
    m_done += moved;
    return moved;
}

size_t Uio::copy_out(const void* src, size_t n) {
    auto* s = static_cast<const uint8_t*>(src);
    return walk(
        n, [&](uint8_t* user, size_t done, size_t len) { __builtin_memcpy(user, s + done, len); });
}

size_t Uio::copy_in(void* dst, size_t n) {
    auto* d = static_cast<uint8_t*>(dst);
    return walk(
        n, [&](uint8_t* user, size_t done, size_t len) { __builtin_memcpy(d + done, user, len); });
}

size_t Uio::zero_fill(size_t n) {
    return walk(n, [&](uint8_t* user, size_t, size_t len) { __builtin_memset(user, 0, len); });
}

} // namespace ak
