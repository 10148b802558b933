// Kernel locks on the hypercall primitives.  Locks are taken through the
// RAII guards; functions that need a lock held end in _locked.
#pragma once

#include <ak/base.h>
#include <ak/result.h>
#include <anykern/hypercall.h>

namespace ak {

class AK_CAPABILITY("mutex") Mutex : NonCopyable {
public:
    Mutex() { akhyp_mutex_init(&m_mtx); }
    ~Mutex() { akhyp_mutex_destroy(&m_mtx); }
    void lock() AK_ACQUIRE() { akhyp_mutex_enter(&m_mtx); }
    bool try_lock() AK_TRY_ACQUIRE(true) { return akhyp_mutex_tryenter(&m_mtx) == 0; }
    void unlock() AK_RELEASE() { akhyp_mutex_exit(&m_mtx); }
    akhyp_mutex* raw() { return &m_mtx; }

private:
    akhyp_mutex m_mtx;
};

class AK_CAPABILITY("rwlock") RwLock : NonCopyable {
public:
    RwLock() { akhyp_rw_init(&m_rw); }
    ~RwLock() { akhyp_rw_destroy(&m_rw); }
    void lock() AK_ACQUIRE() { akhyp_rw_enter(&m_rw, AKHYP_RW_WRITER); }
    void lock_shared() AK_ACQUIRE_SHARED() { akhyp_rw_enter(&m_rw, AKHYP_RW_READER); }
    void unlock() AK_RELEASE_GENERIC() { akhyp_rw_exit(&m_rw); }

private:
    akhyp_rwlock m_rw;
};

class AK_SCOPED_CAPABILITY MutexGuard : NonCopyable {
public:
    explicit MutexGuard(Mutex& m) AK_ACQUIRE(m) : m_mutex(m) { m.lock(); }
    ~MutexGuard() AK_RELEASE() { m_mutex.unlock(); }

private:
    Mutex& m_mutex;
};

class AK_SCOPED_CAPABILITY WriteGuard : NonCopyable {
public:
    explicit WriteGuard(RwLock& l) AK_ACQUIRE(l) : m_lock(l) { l.lock(); }
    ~WriteGuard() AK_RELEASE() { m_lock.unlock(); }

private:
    RwLock& m_lock;
};

class AK_SCOPED_CAPABILITY ReadGuard : NonCopyable {
public:
    explicit ReadGuard(RwLock& l) AK_ACQUIRE_SHARED(l) : m_lock(l) { l.lock_shared(); }
    ~ReadGuard() AK_RELEASE() { m_lock.unlock(); }

private:
    RwLock& m_lock;
};

// Condition variable.
class CondVar : NonCopyable {
public:
    CondVar() { akhyp_cond_init(&m_cv); }
    ~CondVar() { akhyp_cond_destroy(&m_cv); }
    void wait(Mutex& m) { akhyp_cond_wait(&m_cv, m.raw()); }
    // Returns false on timeout.
    bool wait_until(Mutex& m, int64_t deadline_ns) {
        return akhyp_cond_timedwait(&m_cv, m.raw(), deadline_ns) == 0;
    }
    // Sleep on behalf of the current lwp: EINTR when that lwp is interrupted
    // (its client went away, a signal), ETIMEDOUT once the monotonic clock
    // passes deadline_ns (0 = no deadline).  Spurious wakeups return 0; the
    // caller re-checks its condition.
    Result<void> wait_interruptible(Mutex& m, int64_t deadline_ns = 0);
    void signal() { akhyp_cond_signal(&m_cv); }
    void broadcast() { akhyp_cond_broadcast(&m_cv); }

private:
    akhyp_cond m_cv;
};

} // namespace ak
