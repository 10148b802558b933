// Signal system calls: rt_sigaction, rt_sigprocmask, rt_sigpending,
// rt_sigsuspend, rt_sigtimedwait, sigaltstack, kill, tkill, tgkill.  The
// state and the rules live in kern/signal.cpp (docs/signals.md).
#include <ak/signal.h>
#include <ak/syscall.h>
#include <ak/time.h>

namespace ak::sys {

using namespace abi;

namespace {

constexpr size_t k_sigset_size = sizeof(uint64_t);

SigInfo sender_info(int code) {
    SigInfo i;
    i.code = code;
    i.pid = curproc().pid();
    i.uid = curcred().uid;
    return i;
}

// Sleep until the lwp is interrupted (a signal, or its client went away) or
// the deadline passes (0: none).  Returns EINTR or ETIMEDOUT.
Result<void> sleep_until_interrupted(int64_t deadline) {
    Mutex m;
    CondVar cv;
    MutexGuard g(m);
    for (;;) {
        Result<void> r = cv.wait_interruptible(m, deadline);
        if (r.is_error())
            return r;
    }
}

// kill to every process selected by match: ESRCH when none matched, EPERM
// when none could be signalled, else 0 (Linux's kill_something_info).
template <typename Match> Result<long> kill_many(int sig, Match match) {
    auto procs = TRY(proc_list());
    const Cred& cred = curcred();
    SigInfo info = sender_info(k_si_user);
    bool found = false, sent = false;
    for (auto& p : procs) {
        if (!match(*p))
            continue;
        found = true;
        if (!signal_may_send(cred, *p))
            continue;
        sent = true;
        signal_send_proc(*p, sig, info);
    }
    if (!found)
        return ESRCH;
    if (!sent)
        return EPERM;
    return 0L;
}

} // namespace

Result<long> sys_rt_sigaction(int sig, const KernelSigaction* act, KernelSigaction* oldact,
                              size_t sigsetsize) {
    if (sigsetsize != k_sigset_size || !signal_valid(sig))
        return EINVAL;
    SigAction next;
    if (act) {
        TRY(copy_in(next, act));
        if (sig == k_sigkill || sig == k_sigstop)
            return EINVAL;
    }
    SigAction old;
    signal_set_action(sig, act ? &next : nullptr, &old);
    if (oldact)
        TRY(copy_out(oldact, old));
    return 0L;
}

Result<long> sys_rt_sigprocmask(int how, const uint64_t* set, uint64_t* oldset, size_t sigsetsize) {
    if (sigsetsize != k_sigset_size)
        return EINVAL;
    Lwp& l = curlwp();
    uint64_t old = signal_mask(l);
    if (set) {
        uint64_t s;
        TRY(copy_in(s, set));
        uint64_t next;
        switch (how) {
        case k_sig_block:
            next = old | s;
            break;
        case k_sig_unblock:
            next = old & ~s;
            break;
        case k_sig_setmask:
            next = s;
            break;
        default:
            return EINVAL;
        }
        signal_set_mask(l, next);
    }
    if (oldset)
        TRY(copy_out(oldset, old));
    return 0L;
}

Result<long> sys_rt_sigpending(void* set, size_t sigsetsize) {
    // Linux accepts a shorter set and writes that many bytes.
    if (sigsetsize > k_sigset_size)
        return EINVAL;
    if (!set)
        return EFAULT;
    uint64_t pending = signal_pending_blocked(curlwp());
    __builtin_memcpy(set, &pending, sigsetsize);
    return 0L;
}

Result<long> sys_rt_sigsuspend(const uint64_t* mask, size_t sigsetsize) {
    if (sigsetsize != k_sigset_size)
        return EINVAL;
    uint64_t m;
    TRY(copy_in(m, mask));
    Lwp& l = curlwp();
    // The caller's mask comes back at the end of the call
    // (signal_syscall_exit) or with the signal frame's rt_sigreturn.
    signal_suspend_mask(l, m);
    Result<void> r = sleep_until_interrupted(0);
    (void)r;
    return EINTR;
}

Result<long> sys_rt_sigtimedwait(const uint64_t* uset, Siginfo* uinfo, const Timespec* utimeout,
                                 size_t sigsetsize) {
    if (sigsetsize != k_sigset_size)
        return EINVAL;
    uint64_t set;
    TRY(copy_in(set, uset));
    set &= ~k_sig_unblockable;
    int64_t deadline = -1;
    if (utimeout) {
        Timespec t;
        TRY(copy_in(t, utimeout));
        if (t.tv_sec < 0 || t.tv_nsec < 0 || t.tv_nsec >= k_ns_per_sec)
            return EINVAL;
        deadline = t.tv_sec == 0 && t.tv_nsec == 0 ? 0 : timespec_deadline(t);
    }
    Lwp& l = curlwp();
    SigInfo info;
    int sig = signal_take_from_set(l, set, &info);
    if (!sig && deadline != 0) {
        // While waiting the signals of set are unblocked, so posting one
        // wakes us (Linux's real_blocked); we take it before anyone
        // delivers it.
        uint64_t old = signal_mask(l);
        signal_set_mask(l, old & ~set);
        Result<void> r;
        for (;;) {
            r = sleep_until_interrupted(deadline > 0 ? deadline : 0);
            sig = signal_take_from_set(l, set, &info);
            if (sig || r.is_error())
                break;
        }
        signal_set_mask(l, old);
        signal_recalc_wake(l);
        if (!sig)
            return r.error() == ETIMEDOUT ? Result<long>(EAGAIN) : Result<long>(EINTR);
    }
    if (!sig)
        return EAGAIN;
    if (uinfo) {
        Siginfo si;
        signal_siginfo(info, &si);
        TRY(copy_out(uinfo, si));
    }
    return sig;
}

Result<long> sys_sigaltstack(const StackT* uss, StackT* uold) {
    Lwp& l = curlwp();
    StackT old = signal_altstack(l);
    uint64_t sp = l.m_signals.user_sp.load(MemoryOrder::Relaxed);
    if (signal_on_altstack(l, sp))
        old.ss_flags = k_ss_onstack | (old.ss_flags & static_cast<int32_t>(k_ss_autodisarm));
    if (uss) {
        StackT ss;
        TRY(copy_in(ss, uss));
        TRY(signal_set_altstack(l, ss));
    }
    if (uold)
        TRY(copy_out(uold, old));
    return 0L;
}

Result<long> sys_kill(int pid, int sig) {
    if (sig < 0 || sig > k_nsig)
        return EINVAL;
    Proc& self = curproc();
    if (pid > 0) {
        RefPtr<Proc> p = proc_find(pid);
        if (!p)
            return ESRCH;
        if (!signal_may_send(curcred(), *p))
            return EPERM;
        signal_send_proc(*p, sig, sender_info(k_si_user));
        return 0L;
    }
    if (pid == -1) {
        // Every process but init (pid 1) and the caller.
        int me = self.pid();
        return kill_many(sig, [me](Proc& p) { return p.pid() > 1 && p.pid() != me; });
    }
    if (pid == (-2147483647 - 1))
        return ESRCH; // -INT_MIN is not a process group
    int pgid = pid == 0 ? self.pgid() : -pid;
    return kill_many(sig, [pgid](Proc& p) { return p.pgid() == pgid; });
}

Result<long> sys_tkill(int tid, int sig) {
    if (tid <= 0 || sig < 0 || sig > k_nsig)
        return EINVAL;
    Cred cred = curcred();
    TRY(signal_send_tid(0, tid, sig, sender_info(k_si_tkill), &cred));
    return 0L;
}

Result<long> sys_tgkill(int tgid, int tid, int sig) {
    if (tgid <= 0 || tid <= 0 || sig < 0 || sig > k_nsig)
        return EINVAL;
    Cred cred = curcred();
    TRY(signal_send_tid(tgid, tid, sig, sender_info(k_si_tkill), &cred));
    return 0L;
}

} // namespace ak::sys
