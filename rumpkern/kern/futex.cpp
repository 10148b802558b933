// Futex wait queues (ak/futex.h).
//
// Waiters hash by address into buckets; a bucket's lock guards its list and
// every waiter's membership.  Each waiter sleeps on its own mutex and
// condvar, so a requeue can move it to another bucket without the sleeper
// noticing.  A waker removes the waiter from its list and sets `woken` while
// still holding the bucket lock; a sleeper that gives up (timeout, EINTR)
// takes the bucket lock to leave, so once it finds itself off the list the
// waker is done with it and it may return (and free its waiter).
#include <ak/abi/process.h>
#include <ak/atomic.h>
#include <ak/futex.h>
#include <ak/list.h>
#include <ak/sync.h>

namespace ak {

namespace {

struct Bucket;

struct FutexWaiter : NonCopyable {
    ListNode node;
    uintptr_t key = 0; // the futex word's address
    uint32_t bitset = 0;
    Atomic<Bucket*> bucket{nullptr}; // changed under both bucket locks (requeue)
    Mutex lock;
    CondVar cv;
    bool woken AK_GUARDED_BY(lock) = false;
};

struct Bucket : NonCopyable {
    Mutex lock;
    List<FutexWaiter, &FutexWaiter::node> waiters AK_GUARDED_BY(lock);
};

constexpr size_t k_bucket_bits = 8;
NoDestroy<Bucket> g_buckets[size_t(1) << k_bucket_bits];

Bucket& bucket_for(uintptr_t key) {
    uint64_t h = (static_cast<uint64_t>(key) >> 2) * 0x9e3779b97f4a7c15ull;
    return *g_buckets[h >> (64 - k_bucket_bits)];
}

uint32_t load_word(const uint32_t* p) {
    return __atomic_load_n(p, __ATOMIC_SEQ_CST);
}

// With the bucket lock held: the waiter leaves the list and is told.
void wake_waiter_locked(Bucket& b, FutexWaiter& w) AK_REQUIRES(b.lock) {
    b.waiters.remove(w);
    MutexGuard g(w.lock);
    w.woken = true;
    w.cv.signal();
}

int wake_locked(Bucket& b, uintptr_t key, int nr_wake, uint32_t bitset) AK_REQUIRES(b.lock) {
    int woken = 0;
    for (FutexWaiter* w = b.waiters.first(); w;) {
        FutexWaiter* next = b.waiters.next(*w);
        if (w->key == key && (w->bitset & bitset)) {
            wake_waiter_locked(b, *w);
            if (++woken >= nr_wake)
                break;
        }
        w = next;
    }
    return woken;
}

// Both buckets locked in address order (once when they are the same).
class AK_SCOPED_CAPABILITY PairGuard : NonCopyable {
public:
    PairGuard(Bucket& a, Bucket& b) AK_ACQUIRE(a.lock, b.lock) AK_NO_THREAD_SAFETY_ANALYSIS
        : m_first(&a < &b ? a : b),
          m_second(&a < &b ? b : a) {
        m_first.lock.lock();
        if (&m_second != &m_first)
            m_second.lock.lock();
    }
    ~PairGuard() AK_RELEASE() AK_NO_THREAD_SAFETY_ANALYSIS {
        if (&m_second != &m_first)
            m_second.lock.unlock();
        m_first.lock.unlock();
    }

private:
    Bucket& m_first;
    Bucket& m_second;
};

} // namespace

int futex_wake(uint32_t* uaddr, int nr_wake, uint32_t bitset) {
    uintptr_t key = reinterpret_cast<uintptr_t>(uaddr);
    Bucket& b = bucket_for(key);
    MutexGuard g(b.lock);
    return wake_locked(b, key, nr_wake, bitset);
}

Result<void> futex_wait(uint32_t* uaddr, uint32_t val, int64_t deadline_ns, uint32_t bitset) {
    uintptr_t key = reinterpret_cast<uintptr_t>(uaddr);
    Bucket& b = bucket_for(key);
    FutexWaiter w;
    w.key = key;
    w.bitset = bitset;
    w.bucket.store(&b);
    {
        // Compared under the bucket lock: a waker that changed the word
        // first takes this lock after us and finds us queued.
        MutexGuard g(b.lock);
        if (load_word(uaddr) != val)
            return EAGAIN;
        b.waiters.push_back(w);
    }
    Result<void> r;
    {
        MutexGuard g(w.lock);
        while (!w.woken) {
            r = w.cv.wait_interruptible(w.lock, deadline_ns);
            if (r.is_error())
                break;
        }
        if (w.woken)
            return {}; // a wake-up that raced with the timeout or signal wins
    }
    for (;;) {
        Bucket* cur = w.bucket.load();
        MutexGuard g(cur->lock);
        if (w.bucket.load() != cur)
            continue; // requeued meanwhile
        if (!w.node.linked())
            return {}; // a waker took us off the list after our wait ended
        cur->waiters.remove(w);
        return r;
    }
}

Result<int> futex_requeue(uint32_t* uaddr, uint32_t* uaddr2, int nr_wake, int nr_requeue,
                          const uint32_t* cmpval) {
    if (nr_wake < 0 || nr_requeue < 0)
        return EINVAL;
    uintptr_t key1 = reinterpret_cast<uintptr_t>(uaddr);
    uintptr_t key2 = reinterpret_cast<uintptr_t>(uaddr2);
    Bucket& b1 = bucket_for(key1);
    Bucket& b2 = bucket_for(key2);
    PairGuard g(b1, b2);
    if (cmpval && load_word(uaddr) != *cmpval)
        return EAGAIN;
    int count = 0; // woken + requeued, as Linux counts
    for (FutexWaiter* w = b1.waiters.first(); w;) {
        FutexWaiter* next = b1.waiters.next(*w);
        if (count - nr_wake >= nr_requeue)
            break;
        if (w->key == key1) {
            if (++count <= nr_wake) {
                wake_waiter_locked(b1, *w);
            } else {
                w->key = key2;
                if (&b1 != &b2) {
                    b1.waiters.remove(*w);
                    b2.waiters.push_back(*w);
                    w->bucket.store(&b2);
                }
            }
        }
        w = next;
    }
    return count;
}

Result<int> futex_wake_op(uint32_t* uaddr, uint32_t* uaddr2, int nr_wake, int nr_wake2,
                          uint32_t encoded_op) {
    using namespace abi;
    int op = (encoded_op >> 28) & 7;
    int cmp = (encoded_op >> 24) & 15;
    // 12-bit signed fields.
    int32_t oparg = static_cast<int32_t>(encoded_op << 8) >> 20;
    int32_t cmparg = static_cast<int32_t>(encoded_op << 20) >> 20;
    if ((encoded_op >> 28) & k_futex_op_oparg_shift) {
        oparg &= 31; // Linux warns about a shift past 31 and masks it
        oparg = static_cast<int32_t>(1u << oparg);
    }
    if (op > k_futex_op_xor || cmp > k_futex_op_cmp_ge)
        return ENOSYS;
    uintptr_t key1 = reinterpret_cast<uintptr_t>(uaddr);
    uintptr_t key2 = reinterpret_cast<uintptr_t>(uaddr2);
    Bucket& b1 = bucket_for(key1);
    Bucket& b2 = bucket_for(key2);
    PairGuard g(b1, b2);
    uint32_t arg = static_cast<uint32_t>(oparg);
    uint32_t old;
    switch (op) {
    case k_futex_op_set:
        old = __atomic_exchange_n(uaddr2, arg, __ATOMIC_SEQ_CST);
        break;
    case k_futex_op_add:
        old = __atomic_fetch_add(uaddr2, arg, __ATOMIC_SEQ_CST);
        break;
    case k_futex_op_or:
        old = __atomic_fetch_or(uaddr2, arg, __ATOMIC_SEQ_CST);
        break;
    case k_futex_op_andn:
        old = __atomic_fetch_and(uaddr2, ~arg, __ATOMIC_SEQ_CST);
        break;
    default:
        old = __atomic_fetch_xor(uaddr2, arg, __ATOMIC_SEQ_CST);
        break;
    }
    int32_t o = static_cast<int32_t>(old);
    bool hit;
    switch (cmp) {
    case k_futex_op_cmp_eq:
        hit = o == cmparg;
        break;
    case k_futex_op_cmp_ne:
        hit = o != cmparg;
        break;
    case k_futex_op_cmp_lt:
        hit = o < cmparg;
        break;
    case k_futex_op_cmp_le:
        hit = o <= cmparg;
        break;
    case k_futex_op_cmp_gt:
        hit = o > cmparg;
        break;
    default:
        hit = o >= cmparg;
        break;
    }
    int woken = wake_locked(b1, key1, nr_wake, k_futex_bitset_match_any);
    if (hit)
        woken += wake_locked(b2, key2, nr_wake2, k_futex_bitset_match_any);
    return woken;
}

} // namespace ak
