// Lightweight processes (lwps): the kernel's view of a thread.  Every thread
// inside the kernel has one: kernel threads get theirs at creation, client
// threads on their first system call (bound to the client's current
// process).
#pragma once

#include <ak/atomic.h>
#include <ak/proc.h>
#include <ak/refptr.h>
#include <ak/sync.h>

namespace ak {

class Lwp : NonCopyable {
public:
    explicit Lwp(RefPtr<Proc> proc, int tid);
    ~Lwp();

    Proc& proc() const { return *m_proc; }
    RefPtr<Proc> proc_ref() const { return m_proc; }
    void set_proc(RefPtr<Proc> p);
    int tid() const { return m_tid; }
    // The process's credentials as of this system call, without taking the
    // process lock (refreshed when the process's generation moves on).
    const Cred& cred() {
        uint64_t gen = m_proc->cred_generation();
        if (AK_UNLIKELY(gen != m_cred_gen)) {
            m_cred = m_proc->cred();
            m_cred_gen = gen;
        }
        return m_cred;
    }

    // Interruption: the lwp's sleeps in CondVar::wait_interruptible return
    // EINTR until clear_interrupt().
    void interrupt();
    bool interrupted() const { return m_interrupted.load(MemoryOrder::Acquire); }
    void clear_interrupt() { m_interrupted.store(false, MemoryOrder::Release); }

    // Owned by the thread-exit upcall when a client thread created it.
    bool m_from_client = false;
    // The user-mode state of a thread running a Linux executable (owned by
    // components/exec), or null.
    void* m_user = nullptr;

private:
    friend class CondVar;
    RefPtr<Proc> m_proc;
    int m_tid;
    Cred m_cred;
    uint64_t m_cred_gen = 0;
    Atomic<bool> m_interrupted{false};
    Mutex m_sleep_lock;
    CondVar* m_sleep_cv AK_GUARDED_BY(m_sleep_lock) = nullptr;
    Mutex* m_sleep_mutex AK_GUARDED_BY(m_sleep_lock) = nullptr;
};

// The calling thread's lwp; binds a client thread to the default process on
// first use.  Never null after ak_init().
Lwp& curlwp();
// The lwp if the calling thread has one, else nullptr.
Lwp* curlwp_or_null();
inline Proc& curproc() {
    return curlwp().proc();
}
inline const Cred& curcred() {
    return curlwp().cred();
}

// A fresh thread id (lwps made outside bind_current_thread, e.g. the
// threads of a Linux executable).
int tid_alloc();

// Kernel threads run in the kernel process (pid 0).
struct KThread;
Result<KThread*> kthread_create(void (*fn)(void*), void* arg, const char* name, bool joinable);
Result<void> kthread_join(KThread* t);

// Bind the calling thread to an lwp of proc (used by servers that give each
// client thread its own process); release_current_lwp() undoes it.
Result<void> bind_current_thread(RefPtr<Proc> proc);
void release_current_lwp();

} // namespace ak
