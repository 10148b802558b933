// Resource limits and usage: getrlimit, setrlimit, prlimit64, getrusage,
// sysinfo, and wait4 (no waitable children exist).
#include <ak/syscall.h>
#include <ak/time.h>

namespace ak::sys {

using namespace abi;

namespace {

// What sysinfo reports as total memory when the kernel has no memory limit
// (a local client without "memlimit"): the platform does not say how much
// the host has (docs/syscalls.md).
constexpr uint64_t k_unlimited_ram_report = uint64_t(1) << 30;

// prlimit64 on another process: Linux's rule (all of the target's ids are
// the caller's real ids, or privilege).
bool may_change_limits_of(Proc& target) {
    const Cred& c = curcred();
    if (c.is_root())
        return true;
    Cred t = target.cred();
    return c.uid == t.uid && c.uid == t.euid && c.uid == t.suid && c.gid == t.gid &&
           c.gid == t.egid && c.gid == t.sgid;
}

Result<long> do_prlimit(Proc& p, int resource, const Rlimit* unew, Rlimit* uold) {
    if (resource < 0 || resource >= k_rlim_nlimits)
        return EINVAL;
    Rlimit next;
    if (unew) {
        TRY(copy_in(next, unew));
        if (next.rlim_cur > next.rlim_max)
            return EINVAL;
        if (resource == k_rlimit_nofile && next.rlim_max > k_max_nofile)
            return EPERM;
    }
    Rlimit old = p.rlimit(resource);
    if (unew) {
        if (next.rlim_max > old.rlim_max && !curcred().is_root())
            return EPERM;
        p.set_rlimit(resource, next);
    }
    if (uold)
        TRY(copy_out(uold, old));
    return 0L;
}

} // namespace

Result<long> sys_getrlimit(int resource, Rlimit* rlim) {
    if (!rlim)
        return EFAULT;
    return do_prlimit(curproc(), resource, nullptr, rlim);
}

Result<long> sys_setrlimit(int resource, const Rlimit* rlim) {
    if (!rlim)
        return EFAULT;
    return do_prlimit(curproc(), resource, rlim, nullptr);
}

Result<long> sys_prlimit64(int pid, int resource, const Rlimit* new_limit, Rlimit* old_limit) {
    if (pid < 0)
        return EINVAL;
    RefPtr<Proc> p = pid == 0 ? curlwp().proc_ref() : proc_find(pid);
    if (!p)
        return ESRCH;
    if (p.get() != &curproc() && !may_change_limits_of(*p))
        return EPERM;
    return do_prlimit(*p, resource, new_limit, old_limit);
}

// No CPU accounting exists: every field is 0 (docs/syscalls.md).
Result<long> sys_getrusage(int who, Rusage* usage) {
    if (who != k_rusage_self && who != k_rusage_children && who != k_rusage_thread)
        return EINVAL;
    Rusage r;
    __builtin_memset(&r, 0, sizeof r);
    TRY(copy_out(usage, r));
    return 0L;
}

Result<long> sys_sysinfo(Sysinfo* info) {
    Sysinfo s;
    __builtin_memset(&s, 0, sizeof s);
    int64_t up = monotonic_ns() - kernel_boot_ns();
    s.uptime = (up + k_ns_per_sec - 1) / k_ns_per_sec;
    KmemStats k = kmem_stats();
    uint64_t total = k.limit ? k.limit : max<uint64_t>(k_unlimited_ram_report, k.in_use);
    s.totalram = total;
    s.freeram = total > k.in_use ? total - k.in_use : 0;
    size_t threads = 0;
    {
        LwpRegistryGuard reg;
        for (Lwp* l = reg.first(); l; l = reg.next(*l))
            threads++;
    }
    s.procs = static_cast<uint16_t>(min<size_t>(threads, 0xffff));
    s.mem_unit = 1;
    TRY(copy_out(info, s));
    return 0L;
}

// Processes of this kernel have no parent that waits: there are never
// children to wait for.
Result<long> sys_wait4(int, int*, int options, Rusage*) {
    if (options & ~(k_wnohang | k_wuntraced | k_wcontinued | k_wnothread | k_wclone | k_wall))
        return EINVAL;
    return ECHILD;
}

} // namespace ak::sys
