// One error type for the kernel: Result<T> holds a T or a Linux errno.
#pragma once

#include <ak/base.h>
#include <ak/errno.h>
#include <new>

namespace ak {

// An errno value held in a variable: `return Error{e};`.  The named
// constants (ENOENT...) have their own type, so `return ENOENT;` works.
struct Error {
    int code;
};

template <typename T> class [[nodiscard]] Result {
public:
    Result(const T& v) : m_ok(true) { new (&m_value) T(v); }
    Result(T&& v) : m_ok(true) { new (&m_value) T(move(v)); }
    Result(Error e) : m_ok(false), m_error(e.code) { AK_ASSERT(e.code > 0); }
    Result(Errno e) : m_ok(false), m_error(e) {}
    template <typename U>
        requires(std::is_convertible_v<U, T> && !std::is_same_v<std::decay_t<U>, Errno> &&
                 !std::is_same_v<std::decay_t<U>, Error> && !std::is_same_v<std::decay_t<U>, T>)
    Result(U&& v) : m_ok(true) {
        new (&m_value) T(forward<U>(v));
    }
    Result(Result&& o) : m_ok(o.m_ok) {
        if (m_ok)
            new (&m_value) T(move(o.m_value));
        else
            m_error = o.m_error;
    }
    Result(const Result&) = delete;
    Result& operator=(const Result&) = delete;
    Result& operator=(Result&& o) {
        if (this != &o) {
            this->~Result();
            new (this) Result(move(o));
        }
        return *this;
    }
    ~Result() {
        if (m_ok)
            m_value.~T();
    }

    bool is_error() const { return !m_ok; }
    bool ok() const { return m_ok; }
    int error() const { return m_ok ? 0 : m_error; }
    T& value() {
        AK_ASSERT(m_ok);
        return m_value;
    }
    const T& value() const {
        AK_ASSERT(m_ok);
        return m_value;
    }
    T release_value() {
        AK_ASSERT(m_ok);
        return move(m_value);
    }

private:
    bool m_ok;
    union {
        T m_value;
        int m_error;
    };
};

template <> class [[nodiscard]] Result<void> {
public:
    Result() : m_error(0) {}
    Result(Error e) : m_error(e.code) {}
    Result(Errno e) : m_error(e) {}
    // 0 is success; anything else an errno (hypercall return values).
    Result(int error) : m_error(error) {}
    bool is_error() const { return m_error != 0; }
    bool ok() const { return m_error == 0; }
    int error() const { return m_error; }
    void release_value() {}
    void value() {}

private:
    int m_error;
};

} // namespace ak

// TRY(expr): evaluate a Result; on error return the errno from the enclosing
// function, otherwise the expression's value.
#define TRY(expr)                                                                        \
    ({                                                                                   \
        auto&& _ak_try = (expr);                                                         \
        if (AK_UNLIKELY(_ak_try.is_error()))                                             \
            return ::ak::Error{_ak_try.error()};                                         \
        _ak_try.release_value();                                                         \
    })
