// The user_syscall and user_trap upcalls: system calls and CPU exceptions of
// Linux executables.  Calls that need the registers or the address space
// are handled here; everything else goes to the kernel's one table through
// ak_kern_syscall (the same entry the local and remote clients use).
#include <ak/log.h>
#include <ak/user.h>
#include <anykern/kern.h>

#include "process.h"

namespace ak::exec {

Result<void> start_user_thread(UserThread* t, const char* name);

namespace {

// System-call numbers handled here (Linux x86-64).
enum : long {
    k_sys_mmap = 9,
    k_sys_mprotect = 10,
    k_sys_munmap = 11,
    k_sys_brk = 12,
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
    k_sys_clone3 = 435,
};

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

constexpr long k_futex_wake = 1;

// Signals (Linux numbers) the trap handler raises.
constexpr int k_sigill = 4;
constexpr int k_sigtrap = 5;
constexpr int k_sigbus = 7;
constexpr int k_sigkill = 9;
constexpr int k_sigfpe = 8;
constexpr int k_sigsegv = 11;

const char* const k_linux_syscall_names[] = {
#include "linux_syscall_names.inc"
};
constexpr long k_linux_syscall_count = sizeof k_linux_syscall_names / sizeof(char*);

Atomic<uint64_t> g_enosys_told[8]; // numbers 0..511; one message each

void tell_enosys(long nr) {
    if (nr >= 0 && nr < 512) {
        uint64_t bit = uint64_t(1) << (nr % 64);
        if (g_enosys_told[nr / 64].fetch_or(bit) & bit)
            return;
    }
    const char* name = nr >= 0 && nr < k_linux_syscall_count ? k_linux_syscall_names[nr] : nullptr;
    console_line("syscall %s (%ld) not implemented, returning ENOSYS", name ? name : "?", nr);
}

bool exiting(ExecProc& p) {
    MutexGuard g(p.lock);
    return p.exiting;
}

// End the calling user thread.  last_status: the process's status if this
// is its last thread.
[[noreturn]] void end_thread(UserThread* t, int last_status) {
    ExecProc& p = *t->proc;
    // CLONE_CHILD_CLEARTID / set_tid_address: zero the word and wake a
    // joiner (pthread_join waits on it with futex).
    if (t->clear_child_tid && !exiting(p) &&
        user_access_ok(p, t->clear_child_tid, 4, k_prot_read | k_prot_write)) {
        __atomic_store_n(reinterpret_cast<uint32_t*>(t->clear_child_tid), 0, __ATOMIC_SEQ_CST);
        // Through the table, when the kernel has futex (rumpkern's Linux
        // surface); without it joiners can only poll the word.
        if (ak_kern_syscall_name(k_sys_futex)) {
            long args[6] = {static_cast<long>(t->clear_child_tid), k_futex_wake, 1, 0, 0, 0};
            (void)ak_kern_syscall(k_sys_futex, args);
        }
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

// The whole process ends with status (exit_group, fatal signal); the
// calling thread ends now, the others when they next enter the kernel.
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
    t->clear_child_tid = 0;
    end_thread(t, status);
}

const char* signal_name(int sig) {
    switch (sig) {
    case k_sigill:
        return "SIGILL";
    case k_sigtrap:
        return "SIGTRAP";
    case k_sigbus:
        return "SIGBUS";
    case k_sigfpe:
        return "SIGFPE";
    case k_sigkill:
        return "SIGKILL";
    case k_sigsegv:
        return "SIGSEGV";
    default:
        return "a signal";
    }
}

// Killed by sig: the line a shell prints, status 128 + sig.
[[noreturn]] void kill_process(UserThread* t, int sig, const akhyp_uregs& regs, uint64_t addr) {
    console_line("%s killed by %s at rip=0x%lx addr=0x%lx", t->proc->name, signal_name(sig),
                 static_cast<unsigned long>(regs.rip), static_cast<unsigned long>(addr));
    end_process(t, 128 + sig);
}

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
    long args[6] = {static_cast<long>(a0), static_cast<long>(a1), static_cast<long>(a2),
                    static_cast<long>(a3), static_cast<long>(a4), static_cast<long>(a5)};
    return ak_kern_syscall(nr, args);
}

UserThread* this_thread() {
    UserThread* t = current_user_thread();
    if (!t)
        panic("user-mode upcall on a thread that runs no program");
    return t;
}

void user_syscall(akhyp_uregs* regs) {
    UserThread* t = this_thread();
    if (exiting(*t->proc))
        end_thread(t, 0);
    regs->rax = static_cast<uint64_t>(dispatch(t, regs));
    if (exiting(*t->proc))
        end_thread(t, 0);
}

// x86 exception vectors (Intel SDM vol. 3 §6.3.1).
constexpr int k_vec_de = 0, k_vec_db = 1, k_vec_bp = 3, k_vec_ud = 6, k_vec_ss = 12, k_vec_gp = 13,
              k_vec_pf = 14, k_vec_mf = 16, k_vec_ac = 17, k_vec_xm = 19;

void user_trap(akhyp_uregs* regs, int vector, uint64_t error, uint64_t addr) {
    UserThread* t = this_thread();
    if (exiting(*t->proc))
        end_thread(t, 0);
    // A signal became deliverable while the thread ran in user mode
    // (rumpkern's Lwp::signal_wake).  Without signal frames there is
    // nothing to deliver yet: resume where it was.
    if (vector == AKHYP_USER_TRAP_INTERRUPT)
        return;
    if (vector == k_vec_pf && (error & AKHYP_USER_TRAP_NOMEM)) {
        // Linux's out-of-memory killer: SIGKILL, which no handler catches.
        console_line("%s: out of memory at addr=0x%lx", t->proc->name,
                     static_cast<unsigned long>(addr));
        kill_process(t, k_sigkill, *regs, addr);
    }
    int sig;
    uint64_t fault_addr = 0;
    switch (vector) {
    case k_vec_pf:
        sig = k_sigsegv;
        fault_addr = addr;
        break;
    case k_vec_gp:
        sig = k_sigsegv;
        break;
    case k_vec_ud:
        sig = k_sigill;
        fault_addr = regs->rip;
        break;
    case k_vec_de:
    case k_vec_mf:
    case k_vec_xm:
        sig = k_sigfpe;
        fault_addr = regs->rip;
        break;
    case k_vec_db:
    case k_vec_bp:
        sig = k_sigtrap;
        break;
    case k_vec_ss:
    case k_vec_ac:
        sig = k_sigbus;
        break;
    default:
        sig = k_sigsegv;
        break;
    }
    // No signal handlers yet (docs/linux-exec.md): the default action of
    // every one of these signals ends the process.
    kill_process(t, sig, *regs, fault_addr);
}

} // namespace

} // namespace ak::exec

AK_USER_UPCALLS(exec, {ak::exec::user_syscall, ak::exec::user_trap});
