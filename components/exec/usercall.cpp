// The user_syscall and user_trap upcalls: system calls and CPU exceptions of
// Linux executables.  Calls that need the registers or the address space
// are handled here; everything else goes to the kernel's one table through
// ak_kern_syscall (the same entry the local and remote clients use).
#include <ak/futex.h>
#include <ak/log.h>
#include <ak/signal.h>
#include <ak/syscall.h>
#include <ak/user.h>
#include <anykern/kern.h>

#include "process.h"

namespace ak::exec {

Result<void> start_user_thread(UserThread* t, const char* name);

namespace {

// System-call numbers handled here (Linux x86-64).
enum : long {
    k_sys_write = 1,
    k_sys_mmap = 9,
    k_sys_mprotect = 10,
    k_sys_munmap = 11,
    k_sys_brk = 12,
    k_sys_rt_sigreturn = 15,
    k_sys_pwrite64 = 18,
    k_sys_writev = 20,
    k_sys_sendto = 44,
    k_sys_sendmsg = 46,
    k_sys_mremap = 25,
    k_sys_msync = 26,
    k_sys_mincore = 27,
    k_sys_madvise = 28,
    k_sys_clone = 56,
    k_sys_fork = 57,
    k_sys_vfork = 58,
    k_sys_execve = 59,
    k_sys_exit = 60,
    k_sys_arch_prctl = 158,
    k_sys_gettid = 186,
    k_sys_futex = 202,
    k_sys_set_tid_address = 218,
    k_sys_exit_group = 231,
    k_sys_pwritev = 296,
    k_sys_pwritev2 = 328,
    k_sys_clone3 = 435,
};
constexpr uint64_t k_msg_nosignal = 0x4000;

constexpr long k_arch_set_fs = 0x1002;
constexpr long k_arch_get_fs = 0x1003;

// clone flags (Linux include/uapi/linux/sched.h values).
constexpr uint64_t k_clone_vm = 0x100;
constexpr uint64_t k_clone_fs = 0x200;
constexpr uint64_t k_clone_files = 0x400;
constexpr uint64_t k_clone_sighand = 0x800;
constexpr uint64_t k_clone_vfork = 0x4000;
constexpr uint64_t k_clone_parent = 0x8000;
constexpr uint64_t k_clone_thread = 0x10000;
constexpr uint64_t k_clone_sysvsem = 0x40000;
constexpr uint64_t k_clone_settls = 0x80000;
constexpr uint64_t k_clone_parent_settid = 0x100000;
constexpr uint64_t k_clone_child_cleartid = 0x200000;
constexpr uint64_t k_clone_detached = 0x400000;
constexpr uint64_t k_clone_child_settid = 0x1000000;
constexpr uint64_t k_clone_thread_flags =
    k_clone_vm | k_clone_fs | k_clone_files | k_clone_sighand | k_clone_thread;
constexpr uint64_t k_clone_supported = k_clone_thread_flags | k_clone_sysvsem | k_clone_settls |
                                       k_clone_parent_settid | k_clone_child_cleartid |
                                       k_clone_detached | k_clone_child_settid | 0xff;

// struct robust_list_head and the futex word's bits (linux/futex.h).
constexpr uint32_t k_futex_waiters = 0x80000000u;
constexpr uint32_t k_futex_owner_died = 0x40000000u;
constexpr uint32_t k_futex_tid_mask = 0x3fffffffu;
constexpr int k_robust_list_limit = 2048; // ROBUST_LIST_LIMIT

const char* const k_linux_syscall_names[] = {
#include "linux_syscall_names.inc"
};
constexpr long k_linux_syscall_count = sizeof k_linux_syscall_names / sizeof(char*);

Atomic<uint64_t> g_enosys_told[8]; // numbers 0..511; one message each
// Numbers outside 0..511 already reported (0: free slot); once these are
// full, further ones are reported together, once.
Atomic<long> g_enosys_other[32];
Atomic<bool> g_enosys_overflow{false};

// True the first time nr is seen.
bool first_enosys(long nr) {
    if (nr >= 0 && nr < 512) {
        uint64_t bit = uint64_t(1) << (nr % 64);
        return !(g_enosys_told[nr / 64].fetch_or(bit) & bit);
    }
    long key = nr == 0 ? -1 : nr; // 0 is in the table's range anyway
    for (auto& slot : g_enosys_other) {
        long seen = slot.load();
        if (seen == key)
            return false;
        if (seen == 0 && slot.compare_exchange(seen, key))
            return true;
        if (seen == key)
            return false;
    }
    if (!g_enosys_overflow.exchange(true))
        console_line("more unknown syscall numbers: not reported one by one");
    return false;
}

void tell_enosys(long nr) {
    if (!first_enosys(nr))
        return;
    const char* name = nr >= 0 && nr < k_linux_syscall_count ? k_linux_syscall_names[nr] : nullptr;
    console_line("syscall %s (%ld) not implemented, returning ENOSYS", name ? name : "?", nr);
}

bool exiting(ExecProc& p) {
    MutexGuard g(p.lock);
    return p.exiting;
}

// A robust futex the exiting thread tid still owns (Linux's
// handle_futex_death): mark it FUTEX_OWNER_DIED and wake a waiter.
void robust_futex_died(ExecProc& p, uint64_t uaddr, uint32_t tid) {
    if (uaddr & 3)
        return;
    uint32_t word;
    if (!copy_from_user(p, &word, uaddr, 4) || (word & k_futex_tid_mask) != tid ||
        !user_access_ok(p, uaddr, 4, k_prot_write))
        return;
    uint32_t next = (word & k_futex_waiters) | k_futex_owner_died;
    // Checked above; the exchange is the one place the word is written, and
    // it loses to a concurrent unlock by another thread (which is fine).
    auto* w = reinterpret_cast<uint32_t*>(uaddr);
    if (__atomic_compare_exchange_n(w, &word, next, false, __ATOMIC_SEQ_CST, __ATOMIC_SEQ_CST) &&
        (word & k_futex_waiters))
        futex_wake(w, 1);
}

// set_robust_list: walk the list of robust mutexes the thread holds
// (struct robust_list_head: next, futex_offset, list_op_pending), bounded
// like Linux's.
void walk_robust_list(UserThread* t) {
    ExecProc& p = *t->proc;
    uint64_t head = robust_list_head(*t->lwp);
    struct {
        uint64_t next;
        int64_t futex_offset;
        uint64_t pending;
    } h;
    if (!head || !copy_from_user(p, &h, head, sizeof h))
        return;
    uint32_t tid = static_cast<uint32_t>(t->tid);
    uint64_t pending = h.pending & ~uint64_t(1);
    uint64_t entry = h.next & ~uint64_t(1);
    for (int i = 0; entry != head && i < k_robust_list_limit; i++) {
        uint64_t next;
        if (!copy_from_user(p, &next, entry, sizeof next))
            return;
        if (entry != pending)
            robust_futex_died(p, entry + static_cast<uint64_t>(h.futex_offset), tid);
        entry = next & ~uint64_t(1);
    }
    if (pending)
        robust_futex_died(p, pending + static_cast<uint64_t>(h.futex_offset), tid);
}

// End the calling user thread.  last_status: the process's status if this
// is its last thread.
[[noreturn]] void end_thread(UserThread* t, int last_status) {
    ExecProc& p = *t->proc;
    if (!exiting(p)) {
        walk_robust_list(t);
        // CLONE_CHILD_CLEARTID / set_tid_address: zero the word and wake a
        // joiner (pthread_join waits on it with futex).
        uint32_t zero = 0;
        if (t->clear_child_tid && user_access_ok(p, t->clear_child_tid, 4, k_prot_read) &&
            copy_to_user(p, t->clear_child_tid, &zero, 4))
            futex_wake(reinterpret_cast<uint32_t*>(t->clear_child_tid), 1);
    }
    akhyp_curlwp_set(nullptr);
    destroy(t->lwp);
    {
        MutexGuard g(p.lock);
        if (--p.nthreads == 0 && !p.exiting) {
            p.exiting = true;
            p.status = last_status & 0xff;
        }
        p.done.broadcast();
    }
    destroy(t);
    akhyp_thread_exit();
}

// Bring every other thread of the process into the kernel, where it sees
// p.exiting and ends: a sleep returns EINTR (Lwp::interrupt), a thread in
// user mode takes akhyp_user_interrupt's trap.
void stop_other_threads(ExecProc& p, Lwp* self) {
    LwpRegistryGuard reg;
    for (Lwp* l = reg.first(); l; l = reg.next(*l)) {
        if (l == self || !l->m_user || &l->proc() != p.proc.get())
            continue;
        l->interrupt();
        if (akhyp_user_interrupt)
            (void)akhyp_user_interrupt(l);
    }
}

// The whole process ends with status (exit_group, fatal signal): the
// calling thread now, the others as soon as they are back in the kernel.
[[noreturn]] void end_process(UserThread* t, int status) {
    ExecProc& p = *t->proc;
    {
        MutexGuard g(p.lock);
        if (!p.exiting) {
            p.exiting = true;
            p.status = status;
        }
        p.done.broadcast();
    }
    stop_other_threads(p, t->lwp);
    end_thread(t, status);
}

const char* const k_signal_names[32] = {
    "signal 0",  "SIGHUP",  "SIGINT",    "SIGQUIT", "SIGILL",   "SIGTRAP", "SIGABRT", "SIGBUS",
    "SIGFPE",    "SIGKILL", "SIGUSR1",   "SIGSEGV", "SIGUSR2",  "SIGPIPE", "SIGALRM", "SIGTERM",
    "SIGSTKFLT", "SIGCHLD", "SIGCONT",   "SIGSTOP", "SIGTSTP",  "SIGTTIN", "SIGTTOU", "SIGURG",
    "SIGXCPU",   "SIGXFSZ", "SIGVTALRM", "SIGPROF", "SIGWINCH", "SIGIO",   "SIGPWR",  "SIGSYS",
};

long sys_arch_prctl(UserThread* t, akhyp_uregs* regs, long code, uint64_t addr) {
    switch (code) {
    case k_arch_set_fs:
        // A non-canonical base would fault on the way back to user mode.
        if (addr >= (uint64_t(1) << 47))
            return -EPERM;
        regs->fs_base = addr;
        akhyp_user_set_tls(addr);
        return 0;
    case k_arch_get_fs:
        if (!user_access_ok(*t->proc, addr, 8, k_prot_write))
            return -EFAULT;
        __builtin_memcpy(reinterpret_cast<void*>(addr), &regs->fs_base, 8);
        return 0;
    default:
        return -EINVAL;
    }
}

// clone for threads (what glibc, musl and Go's runtime pass); a new
// process (fork, CLONE_VM without CLONE_THREAD, vfork) is ENOSYS.
long sys_clone(UserThread* t, const akhyp_uregs* regs, uint64_t flags, uint64_t newsp,
               uint64_t parent_tid, uint64_t child_tid, uint64_t tls) {
    ExecProc& p = *t->proc;
    if ((flags & k_clone_thread_flags) != k_clone_thread_flags || (flags & k_clone_vfork))
        return -ENOSYS;
    if (flags & ~k_clone_supported)
        return -EINVAL;
    if ((flags & k_clone_parent_settid) && !user_access_ok(p, parent_tid, 4, k_prot_write))
        return -EFAULT;
    if ((flags & (k_clone_child_settid | k_clone_child_cleartid)) &&
        !user_access_ok(p, child_tid, 4, k_prot_write))
        return -EFAULT;
    if ((flags & k_clone_settls) && tls >= (uint64_t(1) << 47))
        return -EPERM;
    (void)k_clone_parent;

    auto* nt = make<UserThread>();
    Lwp* lwp = nt ? make<Lwp>(p.proc, tid_alloc()) : nullptr;
    if (!lwp) {
        destroy(nt);
        return -EAGAIN;
    }
    nt->proc = &p;
    nt->lwp = lwp;
    nt->tid = lwp->tid();
    lwp->m_user = nt;
    nt->start = *regs;
    nt->start.rax = 0;
    if (newsp)
        nt->start.rsp = newsp;
    if (flags & k_clone_settls)
        nt->start.fs_base = tls;
    if (flags & k_clone_child_cleartid)
        nt->clear_child_tid = child_tid;
    uint32_t tid32 = static_cast<uint32_t>(nt->tid);
    if (flags & k_clone_parent_settid)
        __builtin_memcpy(reinterpret_cast<void*>(parent_tid), &tid32, 4);
    if (flags & k_clone_child_settid)
        __builtin_memcpy(reinterpret_cast<void*>(child_tid), &tid32, 4);
    {
        MutexGuard g(p.lock);
        if (p.exiting) {
            destroy(lwp);
            destroy(nt);
            return -EAGAIN;
        }
        p.nthreads++;
    }
    int tid = nt->tid;
    if (start_user_thread(nt, p.name).is_error()) {
        {
            MutexGuard g(p.lock);
            p.nthreads--;
        }
        destroy(lwp);
        destroy(nt);
        return -EAGAIN;
    }
    return tid; // nt may already be gone
}

// Linux sends SIGPIPE to a thread whose write to a pipe or stream socket
// failed with EPIPE, unless send/sendmsg had MSG_NOSIGNAL.
void maybe_sigpipe(UserThread* t, long nr, const akhyp_uregs* regs, long result) {
    if (result != -static_cast<long>(EPIPE))
        return;
    switch (nr) {
    case k_sys_sendto:
        if (regs->r10 & k_msg_nosignal)
            return;
        break;
    case k_sys_sendmsg:
        if (regs->rdx & k_msg_nosignal)
            return;
        break;
    case k_sys_write:
    case k_sys_writev:
    case k_sys_pwrite64:
    case k_sys_pwritev:
    case k_sys_pwritev2:
        break;
    default:
        return;
    }
    SigInfo info;
    info.code = abi::k_si_user;
    info.pid = t->proc->proc->pid();
    signal_send_lwp(*t->lwp, abi::k_sigpipe, info);
}

long dispatch(UserThread* t, akhyp_uregs* regs) {
    ExecProc& p = *t->proc;
    long nr = static_cast<long>(regs->orig_rax);
    uint64_t a0 = regs->rdi, a1 = regs->rsi, a2 = regs->rdx, a3 = regs->r10, a4 = regs->r8,
             a5 = regs->r9;
    switch (nr) {
    case k_sys_mmap:
        return sys_mmap(p, a0, a1, static_cast<int>(a2), static_cast<int>(a3), static_cast<int>(a4),
                        a5);
    case k_sys_mprotect:
        return sys_mprotect(p, a0, a1, static_cast<int>(a2));
    case k_sys_munmap:
        return sys_munmap(p, a0, a1);
    case k_sys_brk:
        return sys_brk(p, a0);
    case k_sys_mremap:
        return sys_mremap(p, a0, a1, a2, static_cast<int>(a3), a4);
    case k_sys_msync:
        return sys_msync(p, a0, a1, static_cast<int>(a2));
    case k_sys_mincore:
        return sys_mincore(p, a0, a1, a2);
    case k_sys_madvise:
        return sys_madvise(p, a0, a1, static_cast<int>(a2));
    case k_sys_clone:
        return sys_clone(t, regs, a0, a1, a2, a3, a4);
    case k_sys_clone3:
        return -ENOSYS; // libc falls back to clone
    case k_sys_fork:
    case k_sys_vfork:
    case k_sys_execve:
        tell_enosys(nr);
        return -ENOSYS;
    case k_sys_exit:
        end_thread(t, static_cast<int>(a0));
    case k_sys_exit_group:
        end_process(t, static_cast<int>(a0) & 0xff);
    case k_sys_rt_sigreturn:
        return sys_rt_sigreturn(t, regs);
    case k_sys_arch_prctl:
        return sys_arch_prctl(t, regs, static_cast<long>(a0), a1);
    case k_sys_set_tid_address:
        t->clear_child_tid = a0;
        return t->tid;
    case k_sys_gettid:
        return t->tid;
    default:
        break;
    }
    if (!ak_kern_syscall_name(nr)) {
        tell_enosys(nr);
        return -ENOSYS;
    }
    // Bad pointers are EFAULT before the call (docs/linux-exec.md).
    const uint64_t raw[6] = {a0, a1, a2, a3, a4, a5};
    if (!syscall_args_ok(p, nr, raw))
        return -EFAULT;
    long args[6] = {static_cast<long>(a0), static_cast<long>(a1), static_cast<long>(a2),
                    static_cast<long>(a3), static_cast<long>(a4), static_cast<long>(a5)};
    bool unrecoverable;
    long r = table_syscall(t, nr, args, &unrecoverable);
    if (unrecoverable)
        kill_process(t, abi::k_sigsegv, *regs, nullptr);
    maybe_sigpipe(t, nr, regs, r);
    return r;
}

UserThread* this_thread() {
    UserThread* t = current_user_thread();
    if (!t)
        panic("user-mode upcall on a thread that runs no program");
    return t;
}

// Every return to user mode ends here: the process may have ended
// meanwhile (exit_group, a fatal signal in another thread), and pending
// signals are delivered.
void return_to_user(UserThread* t, akhyp_uregs* regs, const FaultInfo* fault) {
    if (exiting(*t->proc))
        end_thread(t, 0);
    deliver_signals(t, regs, fault);
    signal_syscall_exit(*t->lwp);
}

void user_syscall(akhyp_uregs* regs) {
    UserThread* t = this_thread();
    if (exiting(*t->proc))
        end_thread(t, 0);
    signal_note_user_sp(*t->lwp, regs->rsp);
    regs->rax = static_cast<uint64_t>(dispatch(t, regs));
    return_to_user(t, regs, nullptr);
}

constexpr int k_vec_pf = 14;

void user_trap(akhyp_uregs* regs, int vector, uint64_t error, uint64_t addr) {
    UserThread* t = this_thread();
    if (exiting(*t->proc))
        end_thread(t, 0);
    if (vector == AKHYP_USER_TRAP_INTERRUPT) {
        // akhyp_user_interrupt: an asynchronous signal, or the end of the
        // process (stop_other_threads).
        return_to_user(t, regs, nullptr);
        return;
    }
    if (vector == k_vec_pf && (error & AKHYP_USER_TRAP_NOMEM)) {
        // Linux's out-of-memory killer: SIGKILL, which no handler catches.
        console_line("%s: out of memory at addr=0x%lx", t->proc->name,
                     static_cast<unsigned long>(addr));
        FaultInfo f;
        f.signo = abi::k_sigkill;
        f.addr = addr;
        kill_process(t, abi::k_sigkill, *regs, &f);
    }
    FaultInfo fault;
    post_fault(t, *regs, vector, error, addr, &fault);
    return_to_user(t, regs, &fault);
}

} // namespace

void kill_process(UserThread* t, int sig, const akhyp_uregs& regs, const FaultInfo* fault) {
    const char* name = sig > 0 && sig < 32 ? k_signal_names[sig] : "a real-time signal";
    if (fault)
        console_line("%s killed by %s at rip=0x%lx addr=0x%lx", t->proc->name, name,
                     static_cast<unsigned long>(regs.rip), static_cast<unsigned long>(fault->addr));
    else
        console_line("%s killed by %s", t->proc->name, name);
    end_process(t, 128 + sig);
}

} // namespace ak::exec

AK_USER_UPCALLS(exec, {ak::exec::user_syscall, ak::exec::user_trap});
