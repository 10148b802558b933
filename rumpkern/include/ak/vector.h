// Growable array in kernel memory; growth can fail (ENOMEM).
#pragma once

#include <ak/kmem.h>
#include <ak/span.h>

namespace ak {

template <typename T> class Vector : NonCopyable {
public:
    Vector() = default;
    Vector(Vector&& o) : m_data(o.m_data), m_size(o.m_size), m_capacity(o.m_capacity) {
        o.m_data = nullptr;
        o.m_size = o.m_capacity = 0;
    }
    Vector& operator=(Vector&& o) {
        if (this != &o) {
            clear_and_free();
            m_data = o.m_data;
            m_size = o.m_size;
            m_capacity = o.m_capacity;
            o.m_data = nullptr;
            o.m_size = o.m_capacity = 0;
        }
        return *this;
    }
    ~Vector() { clear_and_free(); }

    size_t size() const { return m_size; }
    size_t capacity() const { return m_capacity; }
    bool empty() const { return m_size == 0; }
    T* data() { return m_data; }
    const T* data() const { return m_data; }
    T& operator[](size_t i) {
        AK_ASSERT(i < m_size);
        return m_data[i];
    }
    const T& operator[](size_t i) const {
        AK_ASSERT(i < m_size);
        return m_data[i];
    }
    T* begin() { return m_data; }
    T* end() { return m_data + m_size; }
    const T* begin() const { return m_data; }
    const T* end() const { return m_data + m_size; }
    Span<T> span() { return Span<T>(m_data, m_size); }

    Result<void> try_reserve(size_t n) {
        if (n <= m_capacity)
            return {};
        if (n > (~size_t(0)) / sizeof(T))
            return Errno(ENOMEM);
        T* nd = static_cast<T*>(kmem_alloc(n * sizeof(T)));
        if (!nd)
            return Errno(ENOMEM);
        for (size_t i = 0; i < m_size; i++) {
            new (&nd[i]) T(move(m_data[i]));
            m_data[i].~T();
        }
        kmem_free(m_data);
        m_data = nd;
        m_capacity = n;
        return {};
    }
    template <typename U> Result<void> try_append(U&& v) {
        if (m_size == m_capacity)
            TRY(try_reserve(m_capacity ? m_capacity * 2 : 4));
        new (&m_data[m_size]) T(forward<U>(v));
        m_size++;
        return {};
    }
    // Grows to n elements, value-initialising new ones.
    Result<void> try_resize(size_t n) {
        if (n > m_capacity)
            TRY(try_reserve(n));
        while (m_size < n)
            new (&m_data[m_size++]) T();
        while (m_size > n)
            m_data[--m_size].~T();
        return {};
    }
    void remove(size_t i) {
        AK_ASSERT(i < m_size);
        for (size_t j = i; j + 1 < m_size; j++)
            m_data[j] = move(m_data[j + 1]);
        m_data[--m_size].~T();
    }
    void clear() {
        while (m_size)
            m_data[--m_size].~T();
    }

private:
    void clear_and_free() {
        clear();
        kmem_free(m_data);
        m_data = nullptr;
        m_capacity = 0;
    }
    T* m_data = nullptr;
    size_t m_size = 0;
    size_t m_capacity = 0;
};

} // namespace ak
