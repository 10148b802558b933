// Signal state and the delivery API (ak/signal.h, docs/signals.md).  The
// kernel never runs a handler itself: the exec component builds the frames;
// local and remote clients see signals only as pending sets and as EINTR.
#include <ak/log.h>
#include <ak/proc.h>
#include <ak/signal.h>
#include <ak/sysproto.h>
#include <ak/thread.h>

namespace ak {

using namespace abi;

namespace {

// Synchronous faults are taken before anything else (Linux's
// SYNCHRONOUS_MASK): the faulting instruction would otherwise run again.
constexpr uint64_t k_synchronous = sig_bit(k_sigsegv) | sig_bit(k_sigbus) | sig_bit(k_sigill) |
                                   sig_bit(k_sigtrap) | sig_bit(k_sigfpe) | sig_bit(k_sigsys);

int lowest_signal(uint64_t set) {
    uint64_t sync = set & k_synchronous;
    return __builtin_ctzll(sync ? sync : set) + 1;
}

SigAction& action_locked(Proc& p, int sig) AK_REQUIRES(p.m_signals.lock) {
    return p.m_signals.actions[sig - 1];
}

// The disposition says the signal would be thrown away on delivery.
bool ignored_locked(Proc& p, int sig) AK_REQUIRES(p.m_signals.lock) {
    const SigAction& a = action_locked(p, sig);
    if (a.handler == k_sig_ign)
        return true;
    return a.handler == k_sig_dfl && signal_default_action(sig) == SigDefault::Ignore;
}

uint64_t deliverable_locked(Proc& p, Lwp& l) AK_REQUIRES(p.m_signals.lock, l.m_signals.lock) {
    return (l.m_signals.pending.set | p.m_signals.pending.set) & ~l.m_signals.mask;
}

// Forget pending instances of sig everywhere in p (its disposition became
// "ignore").  Called with the registry held so p's lwps stay put.
void discard_pending(Proc& p, int sig, LwpRegistryGuard& reg) AK_REQUIRES(p.m_signals.lock) {
    p.m_signals.pending.take(sig);
    for (Lwp* l = reg.first(); l; l = reg.next(*l)) {
        if (&l->proc() != &p)
            continue;
        MutexGuard g(l->m_signals.lock);
        l->m_signals.pending.take(sig);
    }
}

} // namespace

// set is changed under its owner's lock, but with atomic stores, so that
// signal_maybe_deliverable may read it without one.
void SigPending::add(const SigInfo& i) {
    if (has(i.signo))
        return;
    info[i.signo - 1] = i;
    __atomic_store_n(&set, set | sig_bit(i.signo), __ATOMIC_RELEASE);
}

SigInfo SigPending::take(int sig) {
    __atomic_store_n(&set, set & ~sig_bit(sig), __ATOMIC_RELEASE);
    SigInfo i = info[sig - 1];
    info[sig - 1] = SigInfo{};
    return i;
}

SigDefault signal_default_action(int sig) {
    switch (sig) {
    case k_sigquit:
    case k_sigill:
    case k_sigtrap:
    case k_sigabrt:
    case k_sigbus:
    case k_sigfpe:
    case k_sigsegv:
    case k_sigxcpu:
    case k_sigxfsz:
    case k_sigsys:
        return SigDefault::Core;
    case k_sigchld:
    case k_sigurg:
    case k_sigwinch:
    case k_sigcont:
    case k_sigstop:
    case k_sigtstp:
    case k_sigttin:
    case k_sigttou:
        return SigDefault::Ignore;
    default:
        return SigDefault::Terminate;
    }
}

// --- Posting -----------------------------------------------------------------

void signal_send_proc(Proc& p, int sig, const SigInfo& info) {
    if (!signal_valid(sig))
        return;
    SigInfo i = info;
    i.signo = sig;
    Lwp* target = nullptr;
    LwpRegistryGuard reg;
    {
        MutexGuard pg(p.m_signals.lock);
        // The lwp to wake: the first of p that does not block sig.  Whether
        // every lwp blocks it also decides whether an ignored signal is kept
        // (a blocked signal stays pending for sigtimedwait, as in Linux).
        bool any_lwp = false;
        for (Lwp* l = reg.first(); l; l = reg.next(*l)) {
            if (&l->proc() != &p)
                continue;
            any_lwp = true;
            MutexGuard lg(l->m_signals.lock);
            if (!(l->m_signals.mask & sig_bit(sig))) {
                target = l;
                break;
            }
        }
        bool blocked_everywhere = any_lwp && !target;
        if (ignored_locked(p, sig) && !blocked_everywhere)
            return;
        p.m_signals.pending.add(i);
    }
    if (target)
        target->signal_wake();
}

void signal_send_lwp(Lwp& l, int sig, const SigInfo& info) {
    if (!signal_valid(sig))
        return;
    SigInfo i = info;
    i.signo = sig;
    bool wake;
    {
        Proc& p = l.proc();
        MutexGuard pg(p.m_signals.lock);
        MutexGuard lg(l.m_signals.lock);
        bool blocked = l.m_signals.mask & sig_bit(sig);
        if (ignored_locked(p, sig) && !blocked)
            return;
        l.m_signals.pending.add(i);
        wake = !blocked;
    }
    if (wake)
        l.signal_wake();
}

bool signal_may_send(const Cred& sender, Proc& target) {
    if (sender.is_root())
        return true;
    Cred t = target.cred();
    return sender.euid == t.uid || sender.euid == t.suid || sender.uid == t.uid ||
           sender.uid == t.suid;
}

Result<void> signal_send_tid(int tgid, int tid, int sig, const SigInfo& info, const Cred* sender) {
    LwpRegistryGuard reg;
    Lwp* l = reg.find(tid);
    // Kernel threads (pid 0) take no signals.
    if (!l || l->proc().pid() == 0 || (tgid > 0 && l->proc().pid() != tgid))
        return ESRCH;
    if (sender && !signal_may_send(*sender, l->proc()))
        return EPERM;
    if (sig == 0)
        return {};
    // The registry stays held, so l cannot go away while we post.
    SigInfo i = info;
    i.signo = sig;
    bool wake = false;
    {
        Proc& p = l->proc();
        MutexGuard pg(p.m_signals.lock);
        MutexGuard lg(l->m_signals.lock);
        bool blocked = l->m_signals.mask & sig_bit(sig);
        if (!ignored_locked(p, sig) || blocked) {
            l->m_signals.pending.add(i);
            wake = !blocked;
        }
    }
    if (wake)
        l->signal_wake();
    return {};
}

void signal_post_fault(Lwp& l, int sig, int code, uint64_t addr) {
    if (!signal_valid(sig))
        return;
    SigInfo i;
    i.signo = sig;
    i.code = code;
    i.addr = addr;
    {
        Proc& p = l.proc();
        MutexGuard pg(p.m_signals.lock);
        MutexGuard lg(l.m_signals.lock);
        SigAction& a = action_locked(p, sig);
        bool blocked = l.m_signals.mask & sig_bit(sig);
        if (blocked || a.handler == k_sig_ign) {
            a.handler = k_sig_dfl;
            l.m_signals.mask &= ~sig_bit(sig);
        }
        l.m_signals.pending.add(i);
    }
    l.signal_wake();
}

// --- Delivery -------------------------------------------------------------------

bool signal_pending(Lwp& l) {
    Proc& p = l.proc();
    MutexGuard pg(p.m_signals.lock);
    MutexGuard lg(l.m_signals.lock);
    return deliverable_locked(p, l) != 0;
}

bool signal_maybe_deliverable(Lwp& l) AK_NO_THREAD_SAFETY_ANALYSIS {
    // Only l's own thread changes its mask, so it reads it without the
    // lock; the pending sets are read atomically (SigPending::add).
    uint64_t pending = __atomic_load_n(&l.m_signals.pending.set, __ATOMIC_ACQUIRE) |
                       __atomic_load_n(&l.proc().m_signals.pending.set, __ATOMIC_ACQUIRE);
    return pending & ~l.m_signals.mask;
}

void signal_recalc_wake(Lwp& l) {
    Proc& p = l.proc();
    MutexGuard pg(p.m_signals.lock);
    MutexGuard lg(l.m_signals.lock);
    if (!deliverable_locked(p, l))
        l.clear_signal_wake();
}

bool signal_dequeue(Lwp& l, SigInfo* info, SigAction* act) {
    Proc& p = l.proc();
    MutexGuard pg(p.m_signals.lock);
    MutexGuard lg(l.m_signals.lock);
    for (;;) {
        uint64_t own = l.m_signals.pending.set & ~l.m_signals.mask;
        uint64_t shared = p.m_signals.pending.set & ~l.m_signals.mask;
        if (!own && !shared) {
            l.clear_signal_wake();
            return false;
        }
        int sig = own ? lowest_signal(own) : lowest_signal(shared);
        SigInfo i = own ? l.m_signals.pending.take(sig) : p.m_signals.pending.take(sig);
        SigAction& a = action_locked(p, sig);
        if (ignored_locked(p, sig))
            continue;
        *info = i;
        *act = a;
        if (a.handler != k_sig_dfl && (a.flags & k_sa_resethand)) {
            a.handler = k_sig_dfl;
            a.flags &= ~k_sa_siginfo;
        }
        if (!deliverable_locked(p, l))
            l.clear_signal_wake();
        return true;
    }
}

void signal_siginfo(const SigInfo& info, Siginfo* out) {
    __builtin_memset(out, 0, sizeof *out);
    out->si_signo = info.signo;
    out->si_code = info.code;
    switch (info.signo) {
    case k_sigsegv:
    case k_sigbus:
    case k_sigill:
    case k_sigfpe:
    case k_sigtrap:
        if (info.code > 0 && info.code != k_si_kernel) {
            out->u.fault.addr = info.addr;
            return;
        }
        break;
    default:
        break;
    }
    out->u.kill.pid = info.pid;
    out->u.kill.uid = info.uid;
}

uint64_t signal_frame_mask(Lwp& l) {
    MutexGuard g(l.m_signals.lock);
    if (l.m_signals.has_saved_mask.load(MemoryOrder::Relaxed)) {
        l.m_signals.has_saved_mask.store(false, MemoryOrder::Relaxed);
        return l.m_signals.saved_mask;
    }
    return l.m_signals.mask;
}

void signal_handler_entered(Lwp& l, int sig, const SigAction& act) {
    MutexGuard g(l.m_signals.lock);
    uint64_t add = act.mask;
    if (!(act.flags & k_sa_nodefer) && signal_valid(sig))
        add |= sig_bit(sig);
    l.m_signals.mask = (l.m_signals.mask | add) & ~k_sig_unblockable;
}

void signal_syscall_exit(Lwp& l) {
    if (AK_LIKELY(!l.m_signals.has_saved_mask.load(MemoryOrder::Relaxed)))
        return; // every call but an interrupted rt_sigsuspend
    bool restored = false;
    {
        MutexGuard g(l.m_signals.lock);
        if (l.m_signals.has_saved_mask.load(MemoryOrder::Relaxed)) {
            l.m_signals.has_saved_mask.store(false, MemoryOrder::Relaxed);
            l.m_signals.mask = l.m_signals.saved_mask;
            restored = true;
        }
    }
    if (restored && signal_pending(l))
        l.signal_wake();
}

bool signal_restart_allowed(long nr) {
    // signal(7), "Interruption of system calls and library functions by
    // signal handlers": never restarted, whatever SA_RESTART says.
    static constexpr long k_never[] = {
        7,   // poll
        23,  // select
        35,  // nanosleep
        128, // rt_sigtimedwait
        130, // rt_sigsuspend
        230, // clock_nanosleep
        232, // epoll_wait
        270, // pselect6
        271, // ppoll
        281, // epoll_pwait
        441, // epoll_pwait2
    };
    for (long n : k_never)
        if (n == nr)
            return false;
    return true;
}

uint64_t signal_mask(Lwp& l) {
    MutexGuard g(l.m_signals.lock);
    return l.m_signals.mask;
}

void signal_set_mask(Lwp& l, uint64_t mask) {
    bool wake;
    {
        Proc& p = l.proc();
        MutexGuard pg(p.m_signals.lock);
        MutexGuard lg(l.m_signals.lock);
        uint64_t before = deliverable_locked(p, l);
        l.m_signals.mask = mask & ~k_sig_unblockable;
        wake = deliverable_locked(p, l) & ~before;
    }
    if (wake)
        l.signal_wake();
}

// --- Alternate stack -------------------------------------------------------------

namespace {
bool on_stack_locked(Lwp& l, uint64_t sp) AK_REQUIRES(l.m_signals.lock) {
    StackT s = l.m_signals.altstack;
    if (s.ss_flags & k_ss_disable || !s.ss_size || !sp)
        return false;
    // Linux's on_sig_stack: sp in (ss_sp, ss_sp + ss_size].
    return sp > s.ss_sp && sp - s.ss_sp <= s.ss_size;
}
} // namespace

StackT signal_altstack(Lwp& l) {
    MutexGuard g(l.m_signals.lock);
    return l.m_signals.altstack;
}

bool signal_on_altstack(Lwp& l, uint64_t sp) {
    MutexGuard g(l.m_signals.lock);
    return on_stack_locked(l, sp);
}

Result<void> signal_set_altstack(Lwp& l, const StackT& ss) {
    uint32_t flags = static_cast<uint32_t>(ss.ss_flags);
    uint32_t mode = flags & ~k_ss_autodisarm;
    // SS_ONSTACK is accepted as 0 for old programs (Linux does the same).
    if (mode != 0 && mode != static_cast<uint32_t>(k_ss_disable) &&
        mode != static_cast<uint32_t>(k_ss_onstack))
        return EINVAL;
    MutexGuard g(l.m_signals.lock);
    if (on_stack_locked(l, l.m_signals.user_sp.load(MemoryOrder::Relaxed)))
        return EPERM;
    if (mode == static_cast<uint32_t>(k_ss_disable)) {
        l.m_signals.altstack = {0, k_ss_disable, 0, 0};
        return {};
    }
    if (ss.ss_size < k_minsigstksz)
        return ENOMEM;
    l.m_signals.altstack = {ss.ss_sp, static_cast<int32_t>(flags & k_ss_autodisarm), 0, ss.ss_size};
    return {};
}

void signal_disarm_altstack(Lwp& l) {
    MutexGuard g(l.m_signals.lock);
    l.m_signals.altstack = {0, k_ss_disable, 0, 0};
}

void signal_note_user_sp(Lwp& l, uint64_t sp) {
    l.m_signals.user_sp.store(sp, MemoryOrder::Relaxed);
}

// --- Life cycle ----------------------------------------------------------------------

void signal_fork(Proc& child, Proc& parent) {
    MutexGuard pg(parent.m_signals.lock);
    MutexGuard cg(child.m_signals.lock);
    for (int i = 0; i < k_nsig; i++)
        child.m_signals.actions[i] = parent.m_signals.actions[i];
}

void signal_lwp_inherit(Lwp& child, Lwp& parent) {
    uint64_t mask = signal_mask(parent);
    MutexGuard g(child.m_signals.lock);
    child.m_signals.mask = mask;
    child.m_signals.altstack = {0, k_ss_disable, 0, 0};
}

void signal_exec_reset(Proc& p, Lwp& l) {
    {
        MutexGuard pg(p.m_signals.lock);
        for (auto& a : p.m_signals.actions) {
            if (a.handler != k_sig_ign)
                a.handler = k_sig_dfl;
            a.flags = 0;
            a.restorer = 0;
            a.mask = 0;
        }
    }
    signal_disarm_altstack(l);
}

// --- Used by the system calls (sys_signal.cpp) ----------------------------------------

void signal_set_action(int sig, const SigAction* act, SigAction* old) {
    Proc& p = curproc();
    LwpRegistryGuard reg;
    MutexGuard pg(p.m_signals.lock);
    SigAction& a = action_locked(p, sig);
    if (old)
        *old = a;
    if (act) {
        a = *act;
        a.mask &= ~k_sig_unblockable;
        // POSIX: setting a pending signal's action to ignore discards it,
        // blocked or not.
        if (ignored_locked(p, sig))
            discard_pending(p, sig, reg);
    }
}

uint64_t signal_pending_blocked(Lwp& l) {
    Proc& p = l.proc();
    MutexGuard pg(p.m_signals.lock);
    MutexGuard lg(l.m_signals.lock);
    return (l.m_signals.pending.set | p.m_signals.pending.set) & l.m_signals.mask;
}

int signal_take_from_set(Lwp& l, uint64_t set, SigInfo* info) {
    Proc& p = l.proc();
    MutexGuard pg(p.m_signals.lock);
    MutexGuard lg(l.m_signals.lock);
    uint64_t own = l.m_signals.pending.set & set;
    uint64_t shared = p.m_signals.pending.set & set;
    if (!own && !shared)
        return 0;
    int sig = own ? lowest_signal(own) : lowest_signal(shared);
    *info = own ? l.m_signals.pending.take(sig) : p.m_signals.pending.take(sig);
    return sig;
}

void signal_suspend_mask(Lwp& l, uint64_t temporary) {
    bool wake;
    {
        Proc& p = l.proc();
        MutexGuard pg(p.m_signals.lock);
        MutexGuard lg(l.m_signals.lock);
        if (!l.m_signals.has_saved_mask.load(MemoryOrder::Relaxed)) {
            l.m_signals.saved_mask = l.m_signals.mask;
            l.m_signals.has_saved_mask.store(true, MemoryOrder::Relaxed);
        }
        l.m_signals.mask = temporary & ~k_sig_unblockable;
        wake = deliverable_locked(p, l) != 0;
    }
    if (wake)
        l.signal_wake();
}

Result<void> signal_call_mask_begin(const uint64_t* umask, size_t sigsetsize) {
    if (!umask)
        return {};
    if (sigsetsize != sizeof(uint64_t))
        return EINVAL;
    uint64_t m;
    __builtin_memcpy(&m, umask, sizeof m);
    signal_suspend_mask(curlwp(), m);
    return {};
}

void signal_call_mask_end(bool interrupted) {
    if (!interrupted)
        signal_syscall_exit(curlwp());
}

} // namespace ak
