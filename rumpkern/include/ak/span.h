#pragma once

#include <ak/base.h>

namespace ak {

template <typename T> class Span {
public:
    constexpr Span() = default;
    constexpr Span(T* data, size_t size) : m_data(data), m_size(size) {}
    template <size_t N> constexpr Span(T (&a)[N]) : m_data(a), m_size(N) {}
    template <typename U>
        requires std::is_convertible_v<U (*)[], T (*)[]>
    constexpr Span(Span<U> o) : m_data(o.data()), m_size(o.size()) {}

    constexpr T* data() const { return m_data; }
    constexpr size_t size() const { return m_size; }
    constexpr bool empty() const { return m_size == 0; }
    constexpr T& operator[](size_t i) const {
        AK_ASSERT(i < m_size);
        return m_data[i];
    }
    constexpr T* begin() const { return m_data; }
    constexpr T* end() const { return m_data + m_size; }
    // Sub-span; clamps to the available range.
    constexpr Span slice(size_t off, size_t len = ~size_t(0)) const {
        clamp_range(m_size, off, len);
        return Span(m_data + off, len);
    }

private:
    T* m_data = nullptr;
    size_t m_size = 0;
};

using Bytes = Span<uint8_t>;
using ReadonlyBytes = Span<const uint8_t>;

} // namespace ak
