// Basic types and macros for kernel-side code.  Only compiler-provided,
// freestanding headers are used here.
#pragma once

#include <new>
#include <stddef.h>
#include <stdint.h>
#include <type_traits>
#include <utility>

#define AK_EXPORT __attribute__((visibility("default")))
#define AK_LIKELY(x) __builtin_expect(!!(x), 1)
#define AK_UNLIKELY(x) __builtin_expect(!!(x), 0)
#define AK_NOINLINE __attribute__((noinline))
#define AK_PACKED __attribute__((packed))
#define AK_SECTION(s) __attribute__((section(s)))

#if defined(__clang__)
#define AK_CAPABILITY(x) __attribute__((capability(x)))
#define AK_SCOPED_CAPABILITY __attribute__((scoped_lockable))
#define AK_GUARDED_BY(x) __attribute__((guarded_by(x)))
#define AK_ACQUIRE(...) __attribute__((acquire_capability(__VA_ARGS__)))
#define AK_ACQUIRE_SHARED(...) __attribute__((acquire_shared_capability(__VA_ARGS__)))
#define AK_RELEASE(...) __attribute__((release_capability(__VA_ARGS__)))
#define AK_RELEASE_GENERIC(...) __attribute__((release_generic_capability(__VA_ARGS__)))
#define AK_TRY_ACQUIRE(...) __attribute__((try_acquire_capability(__VA_ARGS__)))
#define AK_REQUIRES(...) __attribute__((requires_capability(__VA_ARGS__)))
#define AK_NO_THREAD_SAFETY_ANALYSIS __attribute__((no_thread_safety_analysis))
#else
#define AK_CAPABILITY(x)
#define AK_SCOPED_CAPABILITY
#define AK_GUARDED_BY(x)
#define AK_ACQUIRE(...)
#define AK_ACQUIRE_SHARED(...)
#define AK_RELEASE(...)
#define AK_RELEASE_GENERIC(...)
#define AK_TRY_ACQUIRE(...)
#define AK_REQUIRES(...)
#define AK_NO_THREAD_SAFETY_ANALYSIS
#endif

namespace ak {

using std::forward;
using std::move;

template <typename T> constexpr const T& min(const T& a, const T& b) {
    return b < a ? b : a;
}
template <typename T> constexpr const T& max(const T& a, const T& b) {
    return a < b ? b : a;
}

// Clamp the range [off, off + len) to [0, size): a slice of what is there.
constexpr void clamp_range(size_t size, size_t& off, size_t& len) {
    if (off > size)
        off = size;
    if (len > size - off)
        len = size - off;
}

constexpr size_t align_up(size_t v, size_t a) {
    return (v + a - 1) & ~(a - 1);
}

// Kernel panic: prints the message and stops the kernel instance.
[[noreturn]] void panic(const char* fmt, ...) __attribute__((format(printf, 1, 2)));

class NonCopyable {
public:
    constexpr NonCopyable() = default;
    NonCopyable(const NonCopyable&) = delete;
    NonCopyable& operator=(const NonCopyable&) = delete;
};

// A global that is constructed at start-up and never destroyed: kernel
// threads may still sleep on it while the host process runs its exit
// handlers (destroying a waited-on condvar blocks forever).
template <typename T> class NoDestroy {
public:
    template <typename... Args> NoDestroy(Args&&... args) {
        new (m_storage) T(forward<Args>(args)...);
    }
    T& get() { return *reinterpret_cast<T*>(m_storage); }
    T* operator->() { return &get(); }
    T& operator*() { return get(); }
    operator T&() { return get(); }

private:
    alignas(T) unsigned char m_storage[sizeof(T)];
};

} // namespace ak

// Invariant checks on kernel state (never on untrusted input).
#define AK_ASSERT(cond)                                                                            \
    do {                                                                                           \
        if (AK_UNLIKELY(!(cond)))                                                                  \
            ::ak::panic("assertion failed: %s at %s:%d", #cond, __FILE__, __LINE__);               \
    } while (0)
