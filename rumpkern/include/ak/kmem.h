// Kernel memory: every allocation is accounted against the kernel's memory
// limit (parameter "memlimit").  Failure is a value (nullptr / ENOMEM),
// never an abort.
#pragma once

#include <ak/base.h>
#include <ak/result.h>
#include <new>

namespace ak {

// Allocate size bytes (16-byte aligned).  Returns nullptr when the memory
// limit would be exceeded or the platform has no memory.
void* kmem_alloc(size_t size);
void* kmem_zalloc(size_t size);
// Release memory from kmem_alloc.  p may be nullptr.
void kmem_free(void* p);
// Resize, keeping the first min(old, new) bytes; nullptr on failure (the old
// block is then untouched).
void* kmem_realloc(void* p, size_t new_size);

struct KmemStats {
    size_t in_use;      // bytes currently allocated (payload)
    size_t limit;       // 0 = unlimited
    size_t peak;        // high-water mark of in_use
    size_t allocations; // live allocation count
    size_t failures;    // allocations refused
};
KmemStats kmem_stats();
void kmem_set_limit(size_t limit);

// Construct a T in kernel memory; nullptr on allocation failure.
template <typename T, typename... Args> T* make(Args&&... args) {
    void* p = kmem_alloc(sizeof(T));
    if (AK_UNLIKELY(!p))
        return nullptr;
    return new (p) T(forward<Args>(args)...);
}

// Base for polymorphic kernel objects: gives the class its own operator
// delete so virtual destructors never reference the hosted runtime.
class KObject {
public:
    virtual ~KObject() = default;
    static void operator delete(void* p) { kmem_free(p); }
};

template <typename T> void destroy(T* p) {
    if (!p)
        return;
    if constexpr (std::is_polymorphic_v<T>) {
        static_assert(std::is_base_of_v<KObject, T>, "polymorphic kernel objects derive KObject");
        delete p; // virtual: frees the most-derived object
    } else {
        p->~T();
        kmem_free(p);
    }
}

template <typename T> class UniquePtr : NonCopyable {
public:
    UniquePtr() = default;
    explicit UniquePtr(T* p) : m_ptr(p) {}
    UniquePtr(UniquePtr&& o) : m_ptr(o.release()) {}
    template <typename U>
    requires std::is_convertible_v<U*, T*> UniquePtr(UniquePtr<U>&& o) : m_ptr(o.release()) {}
    UniquePtr& operator=(UniquePtr&& o) {
        reset(o.release());
        return *this;
    }
    ~UniquePtr() { reset(); }
    T* get() const { return m_ptr; }
    T* operator->() const { return m_ptr; }
    T& operator*() const { return *m_ptr; }
    explicit operator bool() const { return m_ptr != nullptr; }
    T* release() {
        T* p = m_ptr;
        m_ptr = nullptr;
        return p;
    }
    void reset(T* p = nullptr) {
        T* old = m_ptr;
        m_ptr = p;
        destroy(old);
    }

private:
    T* m_ptr = nullptr;
};

template <typename T, typename... Args> Result<UniquePtr<T>> try_make_unique(Args&&... args) {
    T* p = make<T>(forward<Args>(args)...);
    if (!p)
        return Errno(ENOMEM);
    return UniquePtr<T>(p);
}

} // namespace ak
