// Thread and scheduling calls static Linux programs make at start-up:
// gettid, set/get_robust_list, sched_yield, sched_get/setaffinity,
// get/setpriority, prctl, getcpu, rseq, membarrier, personality, the mlock
// family and getrandom.
#include <ak/params.h>
#include <ak/random.h>
#include <ak/syscall.h>

namespace ak::sys {

using namespace abi;

namespace {

// The cpumask's size in bytes for the platform's CPUs (Linux's
// cpumask_size(): whole longs).
size_t cpumask_bytes() {
    return ((static_cast<size_t>(param_ncpu()) + 63) / 64) * 8;
}

// sched_*affinity's pid: 0 is the caller; otherwise a thread id or a
// process id of this kernel.
Result<void> check_sched_target(int pid) {
    if (pid < 0)
        return ESRCH;
    if (pid == 0)
        return {};
    {
        LwpRegistryGuard reg;
        if (Lwp* l = reg.find(pid); l && l->proc().pid() != 0)
            return {};
    }
    if (proc_find(pid))
        return {};
    return ESRCH;
}

// The processes getpriority/setpriority name.
template <typename Fn> Result<bool> for_each_prio_target(int which, int who, Fn fn) {
    Proc& self = curproc();
    if (which == k_prio_process) {
        RefPtr<Proc> p = who == 0 ? RefPtr<Proc>(&self) : proc_find(who);
        if (!p)
            return false;
        TRY(fn(*p));
        return true;
    }
    uint32_t uid = who == 0 ? curcred().uid : static_cast<uint32_t>(who);
    int pgid = who == 0 ? self.pgid() : who;
    auto procs = TRY(proc_list());
    bool any = false;
    for (auto& p : procs) {
        bool match = which == k_prio_pgrp ? p->pgid() == pgid : p->cred().uid == uid;
        if (!match)
            continue;
        any = true;
        TRY(fn(*p));
    }
    return any;
}

} // namespace

Result<long> sys_gettid() {
    return curlwp().tid();
}

Result<long> sys_set_robust_list(void* head, size_t len) {
    if (len != k_robust_list_head_size)
        return EINVAL;
    curlwp().m_robust_head.store(reinterpret_cast<uint64_t>(head), MemoryOrder::Release);
    return 0L;
}

Result<long> sys_get_robust_list(int pid, void** head_ptr, size_t* len_ptr) {
    uint64_t head;
    if (pid == 0) {
        head = robust_list_head(curlwp());
    } else {
        LwpRegistryGuard reg;
        Lwp* l = reg.find(pid);
        if (!l || l->proc().pid() == 0)
            return ESRCH;
        if (!signal_may_send(curcred(), l->proc()))
            return EPERM;
        head = robust_list_head(*l);
    }
    TRY(copy_out(head_ptr, reinterpret_cast<void*>(head)));
    TRY(copy_out(len_ptr, k_robust_list_head_size));
    return 0L;
}

Result<long> sys_sched_yield() {
    akhyp_thread_yield();
    return 0L;
}

Result<long> sys_sched_getaffinity(int pid, size_t cpusetsize, void* mask) {
    size_t ncpu = static_cast<size_t>(param_ncpu());
    if (cpusetsize * 8 < ncpu || (cpusetsize & (sizeof(uint64_t) - 1)))
        return EINVAL;
    TRY(check_sched_target(pid));
    if (!mask)
        return EFAULT;
    size_t n = min(cpusetsize, cpumask_bytes());
    auto* out = static_cast<uint8_t*>(mask);
    __builtin_memset(out, 0, n);
    for (size_t cpu = 0; cpu < ncpu; cpu++)
        out[cpu / 8] |= static_cast<uint8_t>(1u << (cpu % 8));
    return static_cast<long>(n);
}

// Threads are not pinned (the platform schedules them): the mask is checked
// the way Linux checks it and otherwise ignored (docs/syscalls.md).
Result<long> sys_sched_setaffinity(int pid, size_t cpusetsize, const void* mask) {
    TRY(check_sched_target(pid));
    if (!mask && cpusetsize)
        return EFAULT;
    size_t ncpu = static_cast<size_t>(param_ncpu());
    const auto* in = static_cast<const uint8_t*>(mask);
    for (size_t cpu = 0; cpu < ncpu && cpu / 8 < cpusetsize; cpu++)
        if (in[cpu / 8] & (1u << (cpu % 8)))
            return 0L;
    return EINVAL; // no CPU of the machine in the mask
}

// The raw system call returns 20 - nice (1..40) so that no success value
// is negative; libc converts.
Result<long> sys_getpriority(int which, int who) {
    if (which < k_prio_process || which > k_prio_user)
        return EINVAL;
    int best = 20;
    bool found = TRY(for_each_prio_target(which, who, [&](Proc& p) -> Result<void> {
        best = min(best, p.m_nice.load());
        return {};
    }));
    if (!found)
        return ESRCH;
    return 20 - best;
}

Result<long> sys_setpriority(int which, int who, int prio) {
    if (which < k_prio_process || which > k_prio_user)
        return EINVAL;
    int nice = prio < -20 ? -20 : prio > 19 ? 19 : prio;
    const Cred& cred = curcred();
    bool found = TRY(for_each_prio_target(which, who, [&](Proc& p) -> Result<void> {
        Cred t = p.cred();
        if (!cred.is_root() && cred.euid != t.uid && cred.euid != t.euid)
            return EPERM;
        // Raising the priority needs privilege (RLIMIT_NICE is 0).
        if (nice < p.m_nice.load() && !cred.is_root())
            return EACCES;
        p.m_nice.store(nice);
        return {};
    }));
    if (!found)
        return ESRCH;
    return 0L;
}

Result<long> sys_prctl(int option, unsigned long arg2, unsigned long arg3, unsigned long arg4,
                       unsigned long arg5) {
    Lwp& l = curlwp();
    Proc& p = curproc();
    switch (option) {
    case k_pr_set_name: {
        const char* name = reinterpret_cast<const char*>(arg2);
        if (!name)
            return EFAULT;
        l.set_name(StringView(name, str_nlen(name, k_task_comm_len - 1)));
        return 0L;
    }
    case k_pr_get_name: {
        char* out = reinterpret_cast<char*>(arg2);
        if (!out)
            return EFAULT;
        char name[k_task_comm_len];
        l.get_name(name);
        __builtin_memcpy(out, name, sizeof name);
        return 0L;
    }
    case k_pr_set_pdeathsig:
        if (arg2 > static_cast<unsigned long>(k_nsig))
            return EINVAL;
        l.m_pdeathsig.store(static_cast<int>(arg2));
        return 0L;
    case k_pr_get_pdeathsig: {
        int sig = l.m_pdeathsig.load();
        TRY(copy_out(reinterpret_cast<int*>(arg2), sig));
        return 0L;
    }
    case k_pr_get_dumpable:
        return p.m_dumpable.load() ? 1L : 0L;
    case k_pr_set_dumpable:
        if (arg2 > 1)
            return EINVAL;
        p.m_dumpable.store(arg2 == 1);
        return 0L;
    case k_pr_set_no_new_privs:
        if (arg2 != 1 || arg3 || arg4 || arg5)
            return EINVAL;
        p.m_no_new_privs.store(true);
        return 0L;
    case k_pr_get_no_new_privs:
        if (arg2 || arg3 || arg4 || arg5)
            return EINVAL;
        return p.m_no_new_privs.load() ? 1L : 0L;
    case k_pr_get_timerslack:
        return 50000L; // Linux's default, in ns
    default:
        return EINVAL;
    }
}

// One NUMA node; the CPU is reported as 0 (threads are not pinned, so any
// answer may be stale at once, as on Linux).
Result<long> sys_getcpu(unsigned int* cpu, unsigned int* node, void*) {
    if (cpu)
        TRY(copy_out(cpu, 0u));
    if (node)
        TRY(copy_out(node, 0u));
    return 0L;
}

// Restartable sequences are not provided; glibc and others then do
// without them.
Result<long> sys_rseq(void*, uint32_t, int, uint32_t) {
    return ENOSYS;
}

// No membarrier commands: MEMBARRIER_CMD_QUERY answers the empty set, so
// callers use their fallback.  (A correct MEMBARRIER_CMD_GLOBAL needs every
// CPU to pass a barrier, which the hypercall interface cannot ask for.)
Result<long> sys_membarrier(int cmd, unsigned int flags, int) {
    if (flags)
        return EINVAL;
    if (cmd == k_membarrier_cmd_query)
        return 0L;
    return EINVAL;
}

Result<long> sys_personality(unsigned long persona) {
    Proc& p = curproc();
    uint32_t v = static_cast<uint32_t>(persona);
    if (v == k_personality_query)
        return static_cast<long>(p.m_personality.load());
    return static_cast<long>(p.m_personality.exchange(v));
}

// Memory is never paged out: locking succeeds and changes nothing.
Result<long> sys_mlock(const void*, size_t) {
    return 0L;
}
Result<long> sys_munlock(const void*, size_t) {
    return 0L;
}
Result<long> sys_munlockall() {
    return 0L;
}
Result<long> sys_mlockall(int flags) {
    if (!flags || (flags & ~(k_mcl_current | k_mcl_future | k_mcl_onfault)) ||
        flags == k_mcl_onfault)
        return EINVAL;
    return 0L;
}

Result<long> sys_getrandom(void* buf, size_t buflen, unsigned int flags) {
    if (flags & ~(k_grnd_nonblock | k_grnd_random | k_grnd_insecure))
        return EINVAL;
    if ((flags & k_grnd_insecure) && (flags & k_grnd_random))
        return EINVAL;
    size_t n = min(buflen, k_max_rw);
    if (n && !buf)
        return EFAULT;
    // The kernel's source is ready from boot (the platform's generator), so
    // GRND_NONBLOCK never sees EAGAIN and GRND_RANDOM draws from the same
    // source, as on Linux 5.6 and later.
    TRY(random_bytes(Bytes(static_cast<uint8_t*>(buf), n)));
    return static_cast<long>(n);
}

} // namespace ak::sys
