// Internal state of processes running a Linux executable (components/exec).
#pragma once

#include <ak/proc.h>
#include <ak/sync.h>
#include <ak/thread.h>

#include "hyp_user.h"
#include "vmmap.h"

namespace ak::exec {

class ExecProc;

// One thread of the program: a platform thread in user mode with its lwp.
struct UserThread {
    ExecProc* proc = nullptr;
    Lwp* lwp = nullptr;
    int tid = 0;
    uint64_t clear_child_tid = 0; // set_tid_address / CLONE_CHILD_CLEARTID
    akhyp_uregs start = {};       // registers it enters user mode with
};

// A process's address space and lifetime.
class ExecProc : NonCopyable {
public:
    RefPtr<Proc> proc;
    char name[64] = {}; // program name for messages

    Mutex lock;
    VmMap map AK_GUARDED_BY(lock);
    // The general area [gen_lo, gen_hi) and the executable window.
    uintptr_t gen_lo = 0, gen_hi = 0, win_lo = 0, win_hi = 0;
    uint64_t brk_start AK_GUARDED_BY(lock) = 0;
    uint64_t brk_cur AK_GUARDED_BY(lock) = 0; // the program break
    uint64_t mmap_hi = 0;                     // mmap places below this
    uint64_t stack_lo = 0;

    int nthreads AK_GUARDED_BY(lock) = 0;
    bool exiting AK_GUARDED_BY(lock) = false; // exit_group or a fatal signal
    int status AK_GUARDED_BY(lock) = 0;
    CondVar done;

    // [start, end) lies in one of the user ranges.
    bool in_user_ranges(uint64_t start, uint64_t end) const {
        return start < end && ((start >= gen_lo && end <= gen_hi) ||
                               (win_lo < win_hi && start >= win_lo && end <= win_hi));
    }
};

// The user thread of the calling thread, or nullptr.
inline UserThread* current_user_thread() {
    Lwp* l = curlwp_or_null();
    return l ? static_cast<UserThread*>(l->m_user) : nullptr;
}

// Memory system calls (memory.cpp); regs-free, on the caller's process.
long sys_mmap(ExecProc& p, uint64_t addr, uint64_t len, int prot, int flags, int fd, uint64_t off);
long sys_munmap(ExecProc& p, uint64_t addr, uint64_t len);
long sys_mprotect(ExecProc& p, uint64_t addr, uint64_t len, int prot);
long sys_brk(ExecProc& p, uint64_t addr);
long sys_mremap(ExecProc& p, uint64_t old_addr, uint64_t old_len, uint64_t new_len, int flags,
                uint64_t new_addr);
long sys_madvise(ExecProc& p, uint64_t addr, uint64_t len, int advice);
long sys_msync(ExecProc& p, uint64_t addr, uint64_t len, int flags);
long sys_mincore(ExecProc& p, uint64_t addr, uint64_t len, uint64_t vec);
// Unmap everything (process teardown).
void unmap_all(ExecProc& p);

// Whether the program may access [addr, addr+len) with prot (len 0: true).
bool user_access_ok(ExecProc& p, uint64_t addr, uint64_t len, int prot);

// Console line "anykern: ..." (always printed: these are the messages a
// shell would print).
void console_line(const char* fmt, ...) __attribute__((format(printf, 1, 2)));

// --- User memory (uaccess.cpp) ------------------------------------------------

// Copy between the kernel and user memory at [addr, addr+len): false when
// the map does not allow the access (or the platform caught a fault while
// copying, akhyp_user_guard): the caller's EFAULT.
bool copy_from_user(ExecProc& p, void* dst, uint64_t src, size_t len);
bool copy_to_user(ExecProc& p, uint64_t dst, const void* src, size_t len);
// The pointer arguments of table system call nr (the syscall table's
// annotations, sysmarshal.h) lie in mappings that allow what the call does
// with them.  False: the call must fail with EFAULT without running.
bool syscall_args_ok(ExecProc& p, long nr, const uint64_t* args);
// Run table call nr under akhyp_user_guard: -EFAULT when the kernel
// faulted on user memory anyway; *unrecoverable when it held a kernel lock
// then (the program must end).
long table_syscall(UserThread* t, long nr, const long* args, bool* unrecoverable);

// --- Signals (sigframe.cpp) -----------------------------------------------------

// A synchronous fault being delivered: what its frame's sigcontext says.
struct FaultInfo {
    int signo = 0;
    int trapno = 0;
    uint64_t err = 0, cr2 = 0;
    uint64_t addr = 0; // si_addr
};
// A CPU exception in user mode becomes a forced signal (signal_post_fault)
// with Linux's si_code; *out describes it for the frame.
bool post_fault(UserThread* t, const akhyp_uregs& regs, int vector, uint64_t error, uint64_t addr,
                FaultInfo* out);
// Before user mode resumes: run the thread's deliverable signals (frames
// on the user stack, regs pointed at the handler; a default action ends
// the process), restarting an interrupted system call when Linux would.
// fault: the fault just posted, or null.
void deliver_signals(UserThread* t, akhyp_uregs* regs, const FaultInfo* fault);
// rt_sigreturn(2): registers, mask, FPU and alternate stack from the frame.
long sys_rt_sigreturn(UserThread* t, akhyp_uregs* regs);

// --- Ends (usercall.cpp) ----------------------------------------------------------

// The process ends with 128 + sig (the console line a shell would print,
// with the fault's rip and address when there is one).
[[noreturn]] void kill_process(UserThread* t, int sig, const akhyp_uregs& regs,
                               const FaultInfo* fault);

} // namespace ak::exec
