// Lightweight processes (lwps): the kernel's view of a thread.  Every thread
// inside the kernel has one: kernel threads get theirs at creation, client
// threads on their first system call (bound to the client's current
// process).
#pragma once

#include <ak/atomic.h>
#include <ak/list.h>
#include <ak/proc.h>
#include <ak/refptr.h>
#include <ak/signal.h>
#include <ak/string.h>
#include <ak/sync.h>

namespace ak {

class Lwp : NonCopyable {
public:
    explicit Lwp(RefPtr<Proc> proc, int tid);
    ~Lwp();

    // The lwp's process.  Only the lwp's own thread changes it (set_proc),
    // with the lwp registry locked: other threads read it under
    // LwpRegistryGuard.
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

    // A signal became deliverable (ak/signal.h): the current or next
    // interruptible sleep returns EINTR, once; signal_dequeue() clears it
    // when nothing deliverable is left.  Unlike interrupt(), a system call's
    // entry does not clear it, so a signal posted just before a call still
    // interrupts that call's sleep.
    void signal_wake();
    void clear_signal_wake() { m_signal_wake.store(false, MemoryOrder::Release); }

    // Thread name (prctl PR_SET_NAME / PR_GET_NAME, Linux's comm): at most
    // 15 bytes, truncated.
    void set_name(StringView name);
    void get_name(char (&out)[abi::k_task_comm_len]);

    // Owned by the thread-exit upcall when a client thread created it.
    bool m_from_client = false;
    // The user-mode state of a thread running a Linux executable (owned by
    // components/exec), or null.
    void* m_user = nullptr;

    LwpSignals m_signals;
    // set_robust_list: the head the exec component walks at thread exit
    // (robust_list_head()).
    Atomic<uint64_t> m_robust_head{0};
    Atomic<int> m_pdeathsig{0};
    // Creation time (monotonic ns): the origin of CLOCK_THREAD_CPUTIME_ID.
    const int64_t m_start_ns;
    ListNode m_registry_node; // the lwp registry (LwpRegistryGuard)

private:
    friend class CondVar;
    bool take_signal_wake() { return m_signal_wake.exchange(false, MemoryOrder::AcqRel); }
    void wake_sleeper();
    RefPtr<Proc> m_proc;
    int m_tid;
    Cred m_cred;
    uint64_t m_cred_gen = 0;
    Atomic<bool> m_interrupted{false};
    Atomic<bool> m_signal_wake{false};
    Mutex m_name_lock;
    char m_name[abi::k_task_comm_len] AK_GUARDED_BY(m_name_lock) = "anykern";
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

// The registry of every lwp.  While a guard is held no lwp is created,
// destroyed or moved to another process, so the lwps it yields stay valid;
// the holder must not sleep for long (it may take signal and sleep locks).
class LwpRegistryGuard : NonCopyable {
public:
    LwpRegistryGuard();
    ~LwpRegistryGuard();
    Lwp* first();
    Lwp* next(Lwp& l);
    // The lwp with this tid, or nullptr.
    Lwp* find(int tid);
};

// The robust-futex list head registered by set_robust_list (0: none): the
// exec component walks it when the thread exits.
inline uint64_t robust_list_head(Lwp& l) {
    return l.m_robust_head.load(MemoryOrder::Acquire);
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
