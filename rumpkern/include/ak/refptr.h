// Intrusive reference counting.
#pragma once

#include <ak/atomic.h>
#include <ak/kmem.h>

namespace ak {

// Derive as `class Foo : public RefCounted<Foo>`.  When the count drops to
// zero, T::last_ref_dropped() runs if T declares one (it may revive or defer
// destruction), otherwise the object is destroyed.
template <typename T> class RefCounted : NonCopyable {
public:
    void ref() const { m_refs.fetch_add(1, MemoryOrder::Relaxed); }
    // Take a reference only if the object is still alive (count > 0); for
    // caches that hold non-owning pointers.
    bool try_ref() const {
        uint32_t c = m_refs.load(MemoryOrder::Relaxed);
        while (c != 0) {
            if (m_refs.compare_exchange(c, c + 1, MemoryOrder::Acquire))
                return true;
        }
        return false;
    }
    void unref() const {
        if (m_refs.fetch_sub(1, MemoryOrder::AcqRel) == 1) {
            T* self = const_cast<T*>(static_cast<const T*>(this));
            if constexpr (requires { self->last_ref_dropped(); })
                self->last_ref_dropped();
            else
                destroy(self);
        }
    }
    uint32_t ref_count() const { return m_refs.load(MemoryOrder::Relaxed); }

protected:
    RefCounted() = default;
    ~RefCounted() = default;

private:
    mutable Atomic<uint32_t> m_refs{1};
};

struct AdoptTag {};

template <typename T> class RefPtr {
public:
    RefPtr() = default;
    RefPtr(decltype(nullptr)) {}
    RefPtr(T* p) : m_ptr(p) {
        if (p)
            p->ref();
    }
    RefPtr(T& p) : m_ptr(&p) { p.ref(); }
    RefPtr(T* p, AdoptTag) : m_ptr(p) {}
    RefPtr(const RefPtr& o) : RefPtr(o.m_ptr) {}
    RefPtr(RefPtr&& o) : m_ptr(o.leak()) {}
    template <typename U>
    requires std::is_convertible_v<U*, T*> RefPtr(const RefPtr<U>& o) : RefPtr(o.get()) {}
    template <typename U>
    requires std::is_convertible_v<U*, T*> RefPtr(RefPtr<U>&& o) : m_ptr(o.leak()) {}
    ~RefPtr() { clear(); }
    RefPtr& operator=(const RefPtr& o) {
        if (o.m_ptr)
            o.m_ptr->ref();
        T* old = m_ptr;
        m_ptr = o.m_ptr;
        if (old)
            old->unref();
        return *this;
    }
    RefPtr& operator=(RefPtr&& o) {
        if (this != &o) {
            T* old = m_ptr;
            m_ptr = o.leak();
            if (old)
                old->unref();
        }
        return *this;
    }
    void clear() {
        T* old = m_ptr;
        m_ptr = nullptr;
        if (old)
            old->unref();
    }
    T* leak() {
        T* p = m_ptr;
        m_ptr = nullptr;
        return p;
    }
    T* get() const { return m_ptr; }
    T* operator->() const { return m_ptr; }
    T& operator*() const { return *m_ptr; }
    explicit operator bool() const { return m_ptr != nullptr; }
    bool operator==(const RefPtr& o) const { return m_ptr == o.m_ptr; }
    bool operator==(const T* o) const { return m_ptr == o; }

private:
    T* m_ptr = nullptr;
};

template <typename T> RefPtr<T> adopt_ref(T* p) {
    return RefPtr<T>(p, AdoptTag{});
}

// Allocate and construct a refcounted T; ENOMEM on failure.
template <typename T, typename... Args> Result<RefPtr<T>> try_make_ref(Args&&... args) {
    T* p = make<T>(forward<Args>(args)...);
    if (!p)
        return Errno(ENOMEM);
    return adopt_ref(p);
}

} // namespace ak
