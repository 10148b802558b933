// Atomics on the compiler builtins (libstdc++'s <atomic> is not
// freestanding-clean under every compiler we use).
#pragma once

#include <ak/base.h>

namespace ak {

enum class MemoryOrder : int {
    Relaxed = __ATOMIC_RELAXED,
    Acquire = __ATOMIC_ACQUIRE,
    Release = __ATOMIC_RELEASE,
    AcqRel = __ATOMIC_ACQ_REL,
    SeqCst = __ATOMIC_SEQ_CST,
};

template <typename T> class Atomic {
    static_assert(std::is_integral_v<T> || std::is_pointer_v<T> || std::is_enum_v<T>);

public:
    constexpr Atomic() : m_value() {}
    constexpr Atomic(T v) : m_value(v) {}
    Atomic(const Atomic&) = delete;
    Atomic& operator=(const Atomic&) = delete;

    T load(MemoryOrder o = MemoryOrder::SeqCst) const {
        return __atomic_load_n(&m_value, static_cast<int>(o));
    }
    void store(T v, MemoryOrder o = MemoryOrder::SeqCst) {
        __atomic_store_n(&m_value, v, static_cast<int>(o));
    }
    T exchange(T v, MemoryOrder o = MemoryOrder::SeqCst) {
        return __atomic_exchange_n(&m_value, v, static_cast<int>(o));
    }
    bool compare_exchange(T& expected, T desired, MemoryOrder o = MemoryOrder::SeqCst) {
        return __atomic_compare_exchange_n(&m_value, &expected, desired, false,
                                           static_cast<int>(o), __ATOMIC_RELAXED);
    }
    template <typename D> T fetch_add(D d, MemoryOrder o = MemoryOrder::SeqCst) {
        return __atomic_fetch_add(&m_value, d, static_cast<int>(o));
    }
    template <typename D> T fetch_sub(D d, MemoryOrder o = MemoryOrder::SeqCst) {
        return __atomic_fetch_sub(&m_value, d, static_cast<int>(o));
    }
    T fetch_or(T d, MemoryOrder o = MemoryOrder::SeqCst) {
        return __atomic_fetch_or(&m_value, d, static_cast<int>(o));
    }
    T fetch_and(T d, MemoryOrder o = MemoryOrder::SeqCst) {
        return __atomic_fetch_and(&m_value, d, static_cast<int>(o));
    }

private:
    T m_value;
};

} // namespace ak
