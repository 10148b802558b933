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
    // sigaltstack(2)
    uint64_t altstack_sp = 0, altstack_size = 0;
    int altstack_flags = 2; // SS_DISABLE
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

} // namespace ak::exec
