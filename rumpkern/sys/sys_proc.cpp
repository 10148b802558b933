// Process identity system calls.
#include <ak/params.h>
#include <ak/syscall.h>

namespace ak::sys {

Result<long> sys_getpid() { return curproc().pid(); }
Result<long> sys_getppid() { return curproc().ppid(); }
Result<long> sys_getuid() { return static_cast<long>(curcred().uid); }
Result<long> sys_geteuid() { return static_cast<long>(curcred().euid); }
Result<long> sys_getgid() { return static_cast<long>(curcred().gid); }
Result<long> sys_getegid() { return static_cast<long>(curcred().egid); }

// Process groups and sessions are numbers only (no terminals, no job
// control); they follow Linux's rules for who may change them.
Result<long> sys_getpgrp() { return curproc().pgid(); }

Result<long> sys_getpgid(int pid) {
    if (pid < 0)
        return ESRCH;
    RefPtr<Proc> p = pid == 0 ? curlwp().proc_ref() : proc_find(pid);
    if (!p)
        return ESRCH;
    return p->pgid();
}

Result<long> sys_getsid(int pid) {
    if (pid < 0)
        return ESRCH;
    RefPtr<Proc> p = pid == 0 ? curlwp().proc_ref() : proc_find(pid);
    if (!p)
        return ESRCH;
    return p->sid();
}

Result<long> sys_setsid() {
    Proc& self = curproc();
    int pid = self.pid();
    // A process group leader, or a process whose pid names a group, may
    // not start a session.
    auto procs = TRY(proc_list());
    for (auto& p : procs)
        if (p->pgid() == pid)
            return EPERM;
    self.set_sid(pid);
    self.set_pgid(pid);
    return pid;
}

Result<long> sys_setpgid(int pid, int pgid) {
    if (pgid < 0)
        return EINVAL;
    Proc& self = curproc();
    RefPtr<Proc> p = pid == 0 ? curlwp().proc_ref() : proc_find(pid);
    if (!p || (p.get() != &self && p->ppid() != self.pid()))
        return ESRCH;
    if (p->sid() != self.sid() || p->sid() == p->pid())
        return EPERM; // another session, or a session leader
    if (pgid == 0)
        pgid = p->pid();
    if (pgid != p->pid()) {
        // Joining a group: it must exist in the same session.
        auto procs = TRY(proc_list());
        bool ok = false;
        for (auto& q : procs)
            if (q->pgid() == pgid && q->sid() == self.sid())
                ok = true;
        if (!ok)
            return EPERM;
    }
    p->set_pgid(pgid);
    return 0L;
}

Result<long> sys_umask(uint32_t mask) { return static_cast<long>(curproc().exchange_umask(mask)); }

// setuid/setgid (POSIX, Linux): a privileged process sets real, effective
// and saved ids; others may only set the effective id to the real or saved
// one.
Result<long> sys_setuid(uint32_t uid) {
    if (uid == 0xffffffffu)
        return EINVAL;
    Proc& p = curproc();
    Cred c = p.cred();
    if (c.is_root()) {
        c.uid = c.euid = c.suid = uid;
    } else if (uid == c.uid || uid == c.suid) {
        c.euid = uid;
    } else {
        return EPERM;
    }
    p.set_cred(c);
    return 0L;
}

Result<long> sys_setgid(uint32_t gid) {
    if (gid == 0xffffffffu)
        return EINVAL;
    Proc& p = curproc();
    Cred c = p.cred();
    if (c.is_root()) {
        c.gid = c.egid = c.sgid = gid;
    } else if (gid == c.gid || gid == c.sgid) {
        c.egid = gid;
    } else {
        return EPERM;
    }
    p.set_cred(c);
    return 0L;
}

Result<long> sys_getgroups(int size, uint32_t* list) {
    if (size < 0)
        return EINVAL;
    Cred c = curcred();
    if (size == 0)
        return c.ngroups;
    if (size < c.ngroups)
        return EINVAL;
    if (!list)
        return EFAULT;
    __builtin_memcpy(list, c.groups, sizeof(uint32_t) * static_cast<size_t>(c.ngroups));
    return c.ngroups;
}

Result<long> sys_setgroups(size_t size, const uint32_t* list) {
    Proc& p = curproc();
    Cred c = p.cred();
    if (!c.is_root())
        return EPERM;
    if (size > static_cast<size_t>(Cred::k_max_groups))
        return EINVAL;
    if (size && !list)
        return EFAULT;
    if (size)
        __builtin_memcpy(c.groups, list, sizeof(uint32_t) * size);
    c.ngroups = static_cast<int>(size);
    p.set_cred(c);
    return 0L;
}

Result<long> sys_uname(abi::Utsname* ubuf) {
    abi::Utsname u;
    __builtin_memset(&u, 0, sizeof u);
    str_copy(u.sysname, "Linux", sizeof u.sysname);
    str_copy(u.nodename, param_hostname(), sizeof u.nodename);
    // Programs check the release for features; claim a kernel whose ABI we
    // implement a subset of, and say what we are in version.
    str_copy(u.release, "6.1.0-anykern", sizeof u.release);
    str_copy(u.version, "#1 anykern 0.1", sizeof u.version);
    str_copy(u.machine, "x86_64", sizeof u.machine);
    str_copy(u.domainname, "(none)", sizeof u.domainname);
    TRY(copy_out(ubuf, u));
    return 0L;
}

} // namespace ak::sys
