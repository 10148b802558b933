// Signals: the state (per process: dispositions and process-directed
// pending signals; per lwp: blocked mask, thread-directed pending signals,
// alternate stack) and the API the exec component delivers frames with.
// The design and what differs from Linux: docs/signals.md.
//
// Locking: Proc::m_sig_lock guards the process's state, Lwp::m_sig_lock the
// lwp's; the process lock is taken first.  Functions here take the locks
// themselves; none may be called with either held.
#pragma once

#include <ak/abi/process.h>
#include <ak/atomic.h>
#include <ak/result.h>
#include <ak/sync.h>

namespace ak {

class Lwp;
class Proc;
struct Cred;

using SigAction = abi::KernelSigaction;

// What a posted signal says about itself (turned into a siginfo_t by
// signal_siginfo()).
struct SigInfo {
    int signo = 0;
    int code = 0; // SI_USER, SI_TKILL, SI_KERNEL, SEGV_MAPERR...
    int pid = 0;  // sender (kill, tkill)
    uint32_t uid = 0;
    uint64_t addr = 0; // faulting address (SIGSEGV, SIGBUS, SIGILL, SIGFPE)
};

// A set of pending signals with the information of each one's first
// posting.  Signals do not queue: posting one that is already pending
// changes nothing (real-time signals too; docs/signals.md).
struct SigPending {
    uint64_t set = 0;
    SigInfo info[abi::k_nsig];

    bool has(int sig) const { return set & abi::sig_bit(sig); }
    void add(const SigInfo& i);
    SigInfo take(int sig);
};

// The signal state embedded in every process (Proc::m_signals).
struct ProcSignals {
    Mutex lock;
    SigAction actions[abi::k_nsig] AK_GUARDED_BY(lock) = {}; // index sig - 1
    SigPending pending AK_GUARDED_BY(lock);                  // process-directed
};

// The signal state embedded in every lwp (Lwp::m_signals).
struct LwpSignals {
    Mutex lock;
    uint64_t mask AK_GUARDED_BY(lock) = 0; // blocked
    // rt_sigsuspend's caller mask, restored at the end of the call or by
    // rt_sigreturn (signal_frame_mask).
    uint64_t saved_mask AK_GUARDED_BY(lock) = 0;
    // Changed under lock, and only by the lwp's own thread, which may read
    // it without the lock (signal_syscall_exit's fast path).
    Atomic<bool> has_saved_mask{false};
    SigPending pending AK_GUARDED_BY(lock); // thread-directed
    abi::StackT altstack AK_GUARDED_BY(lock) = {0, abi::k_ss_disable, 0, 0};
    Atomic<uint64_t> user_sp{0};
};

enum class SigDefault { Terminate, Core, Ignore };
// The default action of sig (signal(7)); the stop signals and SIGCONT are
// Ignore (no job control).
SigDefault signal_default_action(int sig);
constexpr bool signal_valid(int sig) {
    return sig >= 1 && sig <= abi::k_nsig;
}
// SIGKILL and SIGSTOP can be neither caught, ignored nor blocked.
constexpr uint64_t k_sig_unblockable = abi::sig_bit(abi::k_sigkill) | abi::sig_bit(abi::k_sigstop);

// --- Posting -----------------------------------------------------------------

// Post sig to process p (kill): it becomes pending on the process and one lwp
// of p that does not block it is woken (its interruptible sleep returns
// EINTR).  A signal whose disposition is "ignore" and that no lwp blocks is
// discarded, as Linux does.  sig 0 checks nothing but existence.
void signal_send_proc(Proc& p, int sig, const SigInfo& info);
// Post sig to the lwp tid (tkill; tgkill when tgid > 0: the lwp must belong
// to process tgid).  Returns ESRCH when there is no such lwp, EPERM when
// sender (if not null) may not signal its process; sig 0 only checks.
Result<void> signal_send_tid(int tgid, int tid, int sig, const SigInfo& info, const Cred* sender);
// kill(2)'s permission rule: root, or the sender's real or effective uid is
// the target's real or saved uid.
bool signal_may_send(const Cred& sender, Proc& target);
// Post sig to l (thread-directed).
void signal_send_lwp(Lwp& l, int sig, const SigInfo& info);

// A synchronous fault of l (the exec component's trap upcall: SIGSEGV,
// SIGBUS, SIGILL, SIGFPE, SIGTRAP).  Like Linux's force_sig: if sig is
// blocked or ignored it is unblocked and its disposition reset to SIG_DFL,
// so the process ends unless a handler is installed and unblocked.
void signal_post_fault(Lwp& l, int sig, int code, uint64_t addr);

// --- Delivery (the exec component, at the return to user mode) ---------------

// True when l has a signal it does not block pending (cheap enough for every
// system-call exit).
bool signal_pending(Lwp& l);
// The same without taking a lock, for l's own thread on its way back to user
// mode: false means nothing was deliverable when it looked.  A signal posted
// by another thread right after is not lost: posting to an lwp of a Linux
// executable interrupts its return to user mode (Lwp::signal_wake).
bool signal_maybe_deliverable(Lwp& l);

// Take the next deliverable signal of l: thread-directed before
// process-directed, synchronous faults first, then the lowest number.
// Signals whose action is to be ignored (SIG_IGN, or SIG_DFL with an
// Ignore default) are dropped on the way.  Returns false when nothing is
// deliverable.  Otherwise *info and *act describe the signal:
//   act->handler == SIG_DFL: the default action is Terminate or Core
//     (signal_default_action): end the process, status 128+sig semantics;
//   otherwise: run the handler.  SA_RESETHAND was applied already (the
//     disposition is back to SIG_DFL); the mask is not changed yet: build
//     the frame, then call signal_handler_entered().
bool signal_dequeue(Lwp& l, SigInfo* info, SigAction* act);

// The Linux siginfo_t for info.
void signal_siginfo(const SigInfo& info, abi::Siginfo* out);

// The mask to save in a signal frame (uc_sigmask): the one rt_sigsuspend
// replaced, if the interrupted call was rt_sigsuspend (it is then
// restored by rt_sigreturn rather than at the end of the call), else the
// current mask.
uint64_t signal_frame_mask(Lwp& l);
// The handler of sig is about to run: block act.sa_mask and, without
// SA_NODEFER, sig itself.
void signal_handler_entered(Lwp& l, int sig, const SigAction& act);
// End of a system call: restores the mask rt_sigsuspend replaced if no
// signal frame took it.  ak_kern_syscall() calls it for client threads;
// the exec component calls it after its delivery step.
void signal_syscall_exit(Lwp& l);
// Whether a system call interrupted (EINTR) by a handler with SA_RESTART
// may be restarted; false for those Linux never restarts (signal(7): the
// sleeps, poll/select/epoll, sigsuspend/sigtimedwait).
bool signal_restart_allowed(long nr);

// Masks: blocked signals of l.  signal_set_mask drops SIGKILL/SIGSTOP and,
// when this unblocks a pending signal, makes l's next sleep return EINTR
// (rt_sigreturn restores uc_sigmask with it).
uint64_t signal_mask(Lwp& l);
void signal_set_mask(Lwp& l, uint64_t mask);

// Alternate signal stack.  ss_flags in the result is 0 or SS_DISABLE, with
// SS_AUTODISARM if set; signal_on_altstack tells whether sp is inside it.
abi::StackT signal_altstack(Lwp& l);
bool signal_on_altstack(Lwp& l, uint64_t sp);
// sigaltstack's rules (EPERM while running on it, ENOMEM below
// MINSIGSTKSZ, EINVAL for bad flags); rt_sigreturn restores uc_stack
// through it and ignores errors, as Linux does.
Result<void> signal_set_altstack(Lwp& l, const abi::StackT& ss);
// SS_AUTODISARM: forget the stack while a handler runs on it.
void signal_disarm_altstack(Lwp& l);
// The user stack pointer at system-call entry, recorded by the exec
// component so sigaltstack can answer EPERM/SS_ONSTACK (0: unknown, treated
// as not on the alternate stack).
void signal_note_user_sp(Lwp& l, uint64_t sp);

// --- Life cycle ----------------------------------------------------------------

// A new process made from parent (ak_proc_create, fork): the same
// dispositions, nothing pending.
void signal_fork(Proc& child, Proc& parent);
// A new thread of the same process (clone): inherits the creator's mask,
// no pending signals, no alternate stack (Linux clears it for CLONE_VM).
void signal_lwp_inherit(Lwp& child, Lwp& parent);
// execve: handled signals go back to SIG_DFL (ignored ones stay ignored),
// l's alternate stack is cleared; masks and pending signals stay.
void signal_exec_reset(Proc& p, Lwp& l);

// --- For the system calls (sys_signal.cpp) ------------------------------------

// rt_sigaction on the current process: *old receives the previous action;
// setting "ignore" discards pending instances of sig.
void signal_set_action(int sig, const SigAction* act, SigAction* old);
// rt_sigpending: pending signals of l (its own and its process's) that l
// blocks.
uint64_t signal_pending_blocked(Lwp& l);
// Take a pending signal in set from l (own first, then the process's),
// whether blocked or not (rt_sigtimedwait).  Returns 0 if none.
int signal_take_from_set(Lwp& l, uint64_t set, SigInfo* info);
// rt_sigsuspend: replace the mask until the end of the call (or until a
// signal frame saves the caller's mask; signal_frame_mask).
void signal_suspend_mask(Lwp& l, uint64_t temporary);
// ppoll/epoll_pwait's sigmask (NULL: none): installed like rt_sigsuspend's
// for the call.  EINVAL unless sigsetsize is 8.  After the call,
// signal_call_mask_end restores the caller's mask at once unless the call
// was interrupted (Linux's restore_saved_sigmask_unless), so a signal the
// caller blocks is delivered only if it interrupted the call.
Result<void> signal_call_mask_begin(const uint64_t* umask, size_t sigsetsize);
void signal_call_mask_end(bool interrupted);
// Clear l's signal wake-up unless something is deliverable.
void signal_recalc_wake(Lwp& l);

} // namespace ak
