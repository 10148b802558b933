// Kernel memory on akhyp_malloc.  Each block carries a 16-byte header with
// its size so that frees can be accounted against the limit.
#include <ak/atomic.h>
#include <ak/kmem.h>
#include <anykern/hypercall.h>

namespace ak {

namespace {

struct alignas(16) BlockHeader {
    size_t size;
    size_t magic;
};
constexpr size_t k_magic = 0x616b6d656d21ull; // "akmem!"

Atomic<size_t> g_in_use{0};
Atomic<size_t> g_peak{0};
Atomic<size_t> g_count{0};
Atomic<size_t> g_failures{0};
Atomic<size_t> g_limit{0};

bool reserve(size_t size) {
    size_t limit = g_limit.load(MemoryOrder::Relaxed);
    size_t cur = g_in_use.load(MemoryOrder::Relaxed);
    for (;;) {
        size_t next = cur + size;
        if (next < cur || (limit && next > limit)) {
            g_failures.fetch_add(1, MemoryOrder::Relaxed);
            return false;
        }
        if (g_in_use.compare_exchange(cur, next, MemoryOrder::Relaxed))
            break;
    }
    size_t peak = g_peak.load(MemoryOrder::Relaxed);
    size_t now = cur + size;
    while (now > peak && !g_peak.compare_exchange(peak, now, MemoryOrder::Relaxed)) {}
    return true;
}

} // namespace

void* kmem_alloc(size_t size) {
    size_t total = size + sizeof(BlockHeader);
    if (total < size || !reserve(size))
        return nullptr;
    void* p = nullptr;
    if (akhyp_malloc(total, 16, &p) != 0 || !p) {
        g_in_use.fetch_sub(size, MemoryOrder::Relaxed);
        g_failures.fetch_add(1, MemoryOrder::Relaxed);
        return nullptr;
    }
    auto* h = static_cast<BlockHeader*>(p);
    h->size = size;
    h->magic = k_magic;
    g_count.fetch_add(1, MemoryOrder::Relaxed);
    return h + 1;
}

void* kmem_zalloc(size_t size) {
    void* p = kmem_alloc(size);
    if (p)
        __builtin_memset(p, 0, size);
    return p;
}

void kmem_free(void* p) {
    if (!p)
        return;
    auto* h = static_cast<BlockHeader*>(p) - 1;
    if (AK_UNLIKELY(h->magic != k_magic))
        panic("kmem_free: bad block %p", p);
    size_t size = h->size;
    h->magic = 0;
    g_in_use.fetch_sub(size, MemoryOrder::Relaxed);
    g_count.fetch_sub(1, MemoryOrder::Relaxed);
    akhyp_free(h, size + sizeof(BlockHeader));
}

void* kmem_realloc(void* p, size_t new_size) {
    if (!p)
        return kmem_alloc(new_size);
    size_t old = (static_cast<BlockHeader*>(p) - 1)->size;
    void* n = kmem_alloc(new_size);
    if (!n)
        return nullptr;
    __builtin_memcpy(n, p, old < new_size ? old : new_size);
    kmem_free(p);
    return n;
}

KmemStats kmem_stats() {
    return {g_in_use.load(), g_limit.load(), g_peak.load(), g_count.load(), g_failures.load()};
}

void kmem_set_limit(size_t limit) {
    g_limit.store(limit);
}

} // namespace ak
