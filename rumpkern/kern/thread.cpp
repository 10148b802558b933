// Lwps, kernel threads and interruptible sleeps.
#include <ak/log.h>
#include <ak/proc.h>
#include <ak/string.h>
#include <ak/thread.h>
#include <ak/time.h>

// The user group is optional (posix has none): referenced weakly, used
// only for lwps of Linux executables (m_user), which exist only on
// platforms with the group.
extern "C" {
#pragma weak akhyp_user_interrupt
}

namespace ak {

namespace {
Atomic<int> g_next_tid{1000};

// The lwp registry (LwpRegistryGuard): every lwp from construction to
// destruction.
NoDestroy<Mutex> g_registry_lock;
NoDestroy<List<Lwp, &Lwp::m_registry_node>> g_registry;
} // namespace

Lwp::Lwp(RefPtr<Proc> proc, int tid) : m_start_ns(monotonic_ns()), m_proc(move(proc)), m_tid(tid) {
    MutexGuard g(*g_registry_lock);
    g_registry->push_back(*this);
}

Lwp::~Lwp() {
    MutexGuard g(*g_registry_lock);
    g_registry->remove(*this);
}

int tid_alloc() {
    return g_next_tid.fetch_add(1);
}

void Lwp::set_proc(RefPtr<Proc> p) {
    RefPtr<Proc> old;
    {
        MutexGuard g(*g_registry_lock);
        old = move(m_proc);
        m_proc = move(p);
    }
    m_cred_gen = 0;
}

void Lwp::set_name(StringView name) {
    MutexGuard g(m_name_lock);
    size_t n = min(name.length(), sizeof m_name - 1);
    __builtin_memcpy(m_name, name.data(), n);
    __builtin_memset(m_name + n, 0, sizeof m_name - n);
}

void Lwp::get_name(char (&out)[abi::k_task_comm_len]) {
    MutexGuard g(m_name_lock);
    __builtin_memcpy(out, m_name, sizeof m_name);
}

void Lwp::interrupt() {
    m_interrupted.store(true, MemoryOrder::Release);
    wake_sleeper();
}

void Lwp::signal_wake() {
    m_signal_wake.store(true, MemoryOrder::Release);
    wake_sleeper();
    // A thread running a Linux executable may be in user mode, where there
    // is no sleep to end: the platform brings it back through user_trap
    // (AKHYP_USER_TRAP_INTERRUPT) so the exec component can deliver
    // (docs/signals.md).  ESRCH (not in user mode now) needs nothing more:
    // the signal is seen at its next return to user mode.  The calling
    // thread itself delivers on its way out of its current system call.
    if (m_user && this != curlwp_or_null() && akhyp_user_interrupt)
        (void)akhyp_user_interrupt(this);
}

void Lwp::wake_sleeper() {
    // The sleeper registers its condvar and mutex under m_sleep_lock while
    // holding that mutex, so once we own the mutex it is either waiting on
    // the condvar (and the broadcast wakes it) or not yet sleeping (and
    // will see the flag).  The sleeper cannot deregister while we hold
    // m_sleep_lock, so the objects stay valid.
    for (;;) {
        m_sleep_lock.lock();
        CondVar* cv = m_sleep_cv;
        Mutex* m = m_sleep_mutex;
        if (!cv) {
            m_sleep_lock.unlock();
            return;
        }
        if (m->try_lock()) {
            cv->broadcast();
            m->unlock();
            m_sleep_lock.unlock();
            return;
        }
        m_sleep_lock.unlock();
        akhyp_thread_yield();
    }
}

Result<void> CondVar::wait_interruptible(Mutex& m, int64_t deadline_ns) {
    Lwp* l = curlwp_or_null();
    if (l) {
        // Checked under m_sleep_lock: an interrupter that stored its flag
        // and found no sleeper registered is seen here.
        MutexGuard g(l->m_sleep_lock);
        if (l->interrupted() || l->take_signal_wake())
            return EINTR;
        l->m_sleep_cv = this;
        l->m_sleep_mutex = &m;
    }
    bool timed_out = false;
    if (deadline_ns > 0)
        timed_out = !wait_until(m, deadline_ns);
    else
        wait(m);
    if (l) {
        MutexGuard g(l->m_sleep_lock);
        l->m_sleep_cv = nullptr;
        l->m_sleep_mutex = nullptr;
        if (l->interrupted() || l->take_signal_wake())
            return EINTR;
    }
    if (timed_out)
        return ETIMEDOUT;
    return {};
}

LwpRegistryGuard::LwpRegistryGuard() {
    g_registry_lock->lock();
}
LwpRegistryGuard::~LwpRegistryGuard() {
    g_registry_lock->unlock();
}
Lwp* LwpRegistryGuard::first() {
    return g_registry->first();
}
Lwp* LwpRegistryGuard::next(Lwp& l) {
    return g_registry->next(l);
}
Lwp* LwpRegistryGuard::find(int tid) {
    for (Lwp* l = first(); l; l = next(*l))
        if (l->tid() == tid)
            return l;
    return nullptr;
}

Lwp* curlwp_or_null() {
    return static_cast<Lwp*>(akhyp_curlwp_get());
}

Lwp& curlwp() {
    Lwp* l = curlwp_or_null();
    AK_ASSERT(l);
    return *l;
}

Result<void> bind_current_thread(RefPtr<Proc> proc) {
    if (Lwp* old = curlwp_or_null()) {
        old->set_proc(move(proc));
        return {};
    }
    Lwp* l = make<Lwp>(move(proc), g_next_tid.fetch_add(1));
    if (!l)
        return ENOMEM;
    l->m_from_client = true;
    akhyp_curlwp_set(l);
    return {};
}

void release_current_lwp() {
    Lwp* l = curlwp_or_null();
    if (!l)
        return;
    akhyp_curlwp_set(nullptr);
    destroy(l);
}

// Upcall from the platform: a client thread with an lwp is exiting.
void lwp_thread_exit_upcall(void* p) {
    destroy(static_cast<Lwp*>(p));
}

struct KThread {
    void (*fn)(void*);
    void* arg;
    void* cookie = nullptr;
    bool joinable;
    char name[32];
};

namespace {

void kthread_trampoline(void* p) {
    auto* t = static_cast<KThread*>(p);
    Lwp* l = make<Lwp>(RefPtr<Proc>(&proc_kernel()), g_next_tid.fetch_add(1));
    if (!l)
        panic("kthread %s: no memory for its lwp", t->name);
    akhyp_curlwp_set(l);
    t->fn(t->arg);
    akhyp_curlwp_set(nullptr);
    destroy(l);
    if (!t->joinable)
        destroy(t);
}

} // namespace

Result<KThread*> kthread_create(void (*fn)(void*), void* arg, const char* name, bool joinable) {
    KThread* t = make<KThread>();
    if (!t)
        return ENOMEM;
    t->fn = fn;
    t->arg = arg;
    t->joinable = joinable;
    str_copy(t->name, name, sizeof t->name);
    void* cookie = nullptr;
    int e = akhyp_thread_create(kthread_trampoline, t, t->name, joinable, 0,
                                joinable ? &cookie : nullptr);
    if (e) {
        destroy(t);
        return Error{e};
    }
    if (joinable)
        t->cookie = cookie; // a detached thread may already be gone
    return t;
}

Result<void> kthread_join(KThread* t) {
    AK_ASSERT(t->joinable);
    int e = akhyp_thread_join(t->cookie);
    destroy(t);
    if (e)
        return e;
    return {};
}

} // namespace ak
