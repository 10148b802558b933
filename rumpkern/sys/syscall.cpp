// System-call dispatch (the table is generated from rumpkern/syscalls.tbl)
// and the process entry points for clients (anykern/kern.h).
#include <ak/log.h>
#include <ak/signal.h>
#include <ak/string.h>
#include <ak/syscall.h>
#include <anykern/kern.h>

namespace ak {

namespace {

struct SysEnt {
    long (*fn)(const long*);
    const char* name;
};

template <typename T> long to_ret(Result<T>&& r) {
    if (AK_UNLIKELY(r.is_error()))
        return -static_cast<long>(r.error());
    return static_cast<long>(r.value());
}

#include "sysent.inc"

// One log line per unknown syscall number (bitmap of the first 1024).
Atomic<uint64_t> g_enosys_logged[16];

void log_enosys_once(long nr) {
    if (nr >= 0 && nr < 1024) {
        uint64_t bit = uint64_t(1) << (nr % 64);
        if (g_enosys_logged[nr / 64].fetch_or(bit) & bit)
            return;
    }
    AK_LOG_WARN("unimplemented system call %ld", nr);
}

Result<void> ensure_lwp() {
    if (AK_LIKELY(curlwp_or_null()))
        return {};
    return bind_current_thread(RefPtr<Proc>(&proc_init()));
}

} // namespace

long syscall_dispatch(long nr, const long* args) {
    if (AK_UNLIKELY(static_cast<unsigned long>(nr) >= static_cast<unsigned long>(k_sysent_count) ||
                    !k_sysent[nr].fn)) {
        log_enosys_once(nr);
        return -ENOSYS;
    }
    curlwp().clear_interrupt();
    return k_sysent[nr].fn(args);
}

} // namespace ak

using namespace ak;

extern "C" AK_EXPORT long ak_kern_syscall(long nr, const long* args) {
    if (AK_UNLIKELY(ensure_lwp().is_error()))
        return -ENOMEM;
    long r = syscall_dispatch(nr, args);
    signal_syscall_exit(curlwp());
    return r;
}

extern "C" AK_EXPORT const char* ak_kern_syscall_name(long nr) {
    if (static_cast<unsigned long>(nr) >= static_cast<unsigned long>(k_sysent_count))
        return nullptr;
    return k_sysent[nr].name;
}

extern "C" AK_EXPORT int ak_kern_proc_create(int parent_pid, int flags) {
    if (ensure_lwp().is_error())
        return -ENOMEM;
    RefPtr<Proc> parent = parent_pid ? proc_find(parent_pid) : curlwp().proc_ref();
    if (!parent)
        return -ESRCH;
    auto r = proc_create(parent.get(), (flags & AK_KERN_PROC_COPYFD) ? k_proc_copy_fds : 0);
    if (r.is_error())
        return -r.error();
    int pid = r.value()->pid();
    return pid;
}

extern "C" AK_EXPORT int ak_kern_proc_switch(int pid) {
    RefPtr<Proc> p = proc_find(pid);
    if (!p)
        return -ESRCH;
    auto r = bind_current_thread(move(p));
    return r.is_error() ? -r.error() : 0;
}

extern "C" AK_EXPORT int ak_kern_proc_setcred(int pid, uint32_t uid, uint32_t gid, int ngroups,
                                              const uint32_t* groups) {
    RefPtr<Proc> p = proc_find(pid);
    if (!p)
        return -ESRCH;
    if (ngroups < 0 || ngroups > Cred::k_max_groups || (ngroups && !groups))
        return -EINVAL;
    Cred c;
    c.uid = c.euid = c.suid = uid;
    c.gid = c.egid = c.sgid = gid;
    c.ngroups = ngroups;
    for (int i = 0; i < ngroups; i++)
        c.groups[i] = groups[i];
    p->set_cred(c);
    return 0;
}

extern "C" AK_EXPORT int ak_kern_proc_exec(int pid) {
    RefPtr<Proc> p = proc_find(pid);
    if (!p)
        return -ESRCH;
    p->fds().close_on_exec();
    return 0;
}

extern "C" AK_EXPORT int ak_kern_proc_exit(int pid) {
    if (pid <= 1)
        return -EPERM;
    RefPtr<Proc> p = proc_find(pid);
    if (!p)
        return -ESRCH;
    proc_exit(*p);
    // Threads still switched to it keep a reference until they switch away.
    return 0;
}

extern "C" AK_EXPORT int ak_kern_proc_set_exe(int pid, const char* path) {
    RefPtr<Proc> p = proc_find(pid);
    if (!p)
        return -ESRCH;
    if (!path)
        return -EFAULT;
    auto r = proc_set_exe_path(*p, StringView(path, str_nlen(path, PATH_MAX)));
    return r.is_error() ? -r.error() : 0;
}

extern "C" AK_EXPORT int ak_kern_proc_nfds(int pid) {
    RefPtr<Proc> p = proc_find(pid);
    if (!p)
        return -ESRCH;
    return static_cast<int>(p->fds().open_count());
}

extern "C" AK_EXPORT int ak_kern_proc_count(void) { return static_cast<int>(proc_count()); }

extern "C" AK_EXPORT void* ak_kern_curlwp(void) {
    if (ensure_lwp().is_error())
        return nullptr;
    return &curlwp();
}

extern "C" AK_EXPORT void ak_kern_lwp_interrupt(void* lwp) {
    if (lwp)
        static_cast<Lwp*>(lwp)->interrupt();
}

extern "C" AK_EXPORT void ak_kern_thread_release(void) { release_current_lwp(); }
