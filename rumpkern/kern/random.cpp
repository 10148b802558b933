// The kernel random source (ak/random.h).  No cryptography of its own: the
// platform's generator is the CSPRNG; a pool of device entropy is XORed in
// so a strong device source (virtio-rng) improves a weak platform one (a
// guest without RDRAND, see docs/kvm.md) and never weakens it.
#include <ak/atomic.h>
#include <ak/random.h>
#include <ak/sync.h>
#include <anykern/hypercall.h>

namespace ak {
namespace {

constexpr size_t k_pool_size = 512;

struct Pool {
    Mutex lock;
    uint8_t bytes[k_pool_size] AK_GUARDED_BY(lock) = {};
    size_t len AK_GUARDED_BY(lock) = 0; // unused bytes at the start
    void (*refill)(void*) AK_GUARDED_BY(lock) = nullptr;
    void* refill_arg AK_GUARDED_BY(lock) = nullptr;
};

// Built on first use (the kernel has no global destructors, and drivers
// may contribute before or after anyone reads).
alignas(Pool) uint8_t g_pool_storage[sizeof(Pool)];
Atomic<int> g_pool_state{0}; // 0 none, 1 building, 2 ready

Pool& pool() {
    auto p = reinterpret_cast<Pool*>(g_pool_storage);
    if (g_pool_state.load(MemoryOrder::Acquire) == 2)
        return *p;
    int expected = 0;
    if (g_pool_state.compare_exchange(expected, 1)) {
        new (p) Pool();
        g_pool_state.store(2, MemoryOrder::Release);
    }
    while (g_pool_state.load(MemoryOrder::Acquire) != 2)
        akhyp_thread_yield();
    return *p;
}

} // namespace

Result<void> random_bytes(Bytes buf) {
    if (int e = akhyp_getrandom(buf.data(), buf.size()))
        return Error{e};
    Pool& p = pool();
    void (*refill)(void*) = nullptr;
    void* arg = nullptr;
    {
        MutexGuard g(p.lock);
        size_t n = buf.size() < p.len ? buf.size() : p.len;
        for (size_t i = 0; i < n; i++)
            buf[i] ^= p.bytes[p.len - n + i];
        __builtin_memset(p.bytes + p.len - n, 0, n);
        p.len -= n;
        if (p.len < k_pool_size / 2) {
            refill = p.refill;
            arg = p.refill_arg;
        }
    }
    if (refill)
        refill(arg);
    return {};
}

void random_add_entropy(ReadonlyBytes data) {
    Pool& p = pool();
    MutexGuard g(p.lock);
    // A full pool folds new bytes into the old ones (XOR keeps the better).
    for (size_t i = 0; i < data.size(); i++) {
        if (p.len < k_pool_size)
            p.bytes[p.len++] = data[i];
        else
            p.bytes[i % k_pool_size] ^= data[i];
    }
}

void random_set_source(void (*refill)(void*), void* arg) {
    Pool& p = pool();
    MutexGuard g(p.lock);
    p.refill = refill;
    p.refill_arg = arg;
}

size_t random_pool_bytes() {
    Pool& p = pool();
    MutexGuard g(p.lock);
    return p.len;
}

} // namespace ak
