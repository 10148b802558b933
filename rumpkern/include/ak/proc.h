// Processes: pid, credentials, umask, cwd/root, a descriptor table, signal
// dispositions, resource limits and the executable's path.
#pragma once

#include <ak/abi/process.h>
#include <ak/file.h>
#include <ak/refptr.h>
#include <ak/signal.h>
#include <ak/string.h>
#include <ak/sync.h>
#include <ak/vector.h>

namespace ak {

class Vnode;

struct Cred {
    uint32_t uid = 0, euid = 0, suid = 0;
    uint32_t gid = 0, egid = 0, sgid = 0;
    static constexpr int k_max_groups = 32;
    uint32_t groups[k_max_groups] = {};
    int ngroups = 0;

    bool is_root() const { return euid == 0; }
    bool in_group(uint32_t g) const {
        if (g == egid)
            return true;
        for (int i = 0; i < ngroups; i++)
            if (groups[i] == g)
                return true;
        return false;
    }
};

struct FdEntry {
    RefPtr<File> file;
    bool cloexec = false;
};

class FdTable : NonCopyable {
public:
    static constexpr uint32_t k_default_limit = 1024;

    Result<int> install(RefPtr<File> file, bool cloexec, int min_fd = 0);
    Result<RefPtr<File>> get(int fd);
    Result<void> close(int fd);
    // dup2/dup3 semantics: installs file at fd, closing what was there.
    Result<int> install_at(int fd, RefPtr<File> file, bool cloexec);
    Result<bool> get_cloexec(int fd);
    Result<void> set_cloexec(int fd, bool on);
    Result<void> copy_from(FdTable& other);
    void close_all();
    void close_on_exec();
    size_t open_count();
    uint32_t limit() const { return m_limit.load(MemoryOrder::Relaxed); }
    // RLIMIT_NOFILE's soft limit; descriptors already at or above it stay.
    void set_limit(uint32_t l) { m_limit.store(l, MemoryOrder::Relaxed); }

private:
    Mutex m_lock;
    Vector<FdEntry> m_entries AK_GUARDED_BY(m_lock);
    Atomic<uint32_t> m_limit{k_default_limit};
    int m_lowest_free AK_GUARDED_BY(m_lock) = 0;
};

class Proc : public RefCounted<Proc> {
public:
    Proc(int pid, int ppid);
    ~Proc();

    int pid() const { return m_pid; }
    int ppid() const { return m_ppid.load(MemoryOrder::Relaxed); }
    Cred cred() const;
    void set_cred(const Cred& c);
    // Bumped by every set_cred(); lwps cache the credentials per generation.
    uint64_t cred_generation() const { return m_cred_gen.load(MemoryOrder::Acquire); }
    uint32_t umask() const { return m_umask.load(MemoryOrder::Relaxed); }
    uint32_t exchange_umask(uint32_t m) { return m_umask.exchange(m & 0777); }
    RefPtr<Vnode> cwd() const;
    RefPtr<Vnode> root() const;
    void set_cwd(RefPtr<Vnode> v);
    void set_root(RefPtr<Vnode> v);
    FdTable& fds() { return m_fds; }
    bool exited() const { return m_exited.load(MemoryOrder::Acquire); }

    // Process group and session (no job control: they are numbers that
    // setpgid/setsid change and children inherit).
    int pgid() const { return m_pgid.load(MemoryOrder::Relaxed); }
    int sid() const { return m_sid.load(MemoryOrder::Relaxed); }
    void set_pgid(int g) { m_pgid.store(g, MemoryOrder::Relaxed); }
    void set_sid(int s) { m_sid.store(s, MemoryOrder::Relaxed); }

    // Resource limits (getrlimit/setrlimit/prlimit64).  RLIMIT_NOFILE's
    // soft limit is the descriptor table's limit.
    abi::Rlimit rlimit(int resource) const;
    void set_rlimit(int resource, const abi::Rlimit& r);

    // The path of the program the process runs (readlink /proc/self/exe);
    // the exec component sets it with proc_set_exe_path().  Copies at most
    // out.size() bytes without a NUL; returns the full length, ENOENT if
    // unset.
    Result<size_t> exe_path(Span<char> out) const;

    // Creation time (monotonic ns): the origin of CLOCK_PROCESS_CPUTIME_ID.
    int64_t start_ns() const { return m_start_ns; }

    ProcSignals m_signals;
    Atomic<int> m_nice{0}; // getpriority/setpriority
    Atomic<uint32_t> m_personality{0};
    Atomic<bool> m_dumpable{true}; // PR_GET/SET_DUMPABLE
    Atomic<bool> m_no_new_privs{false};

private:
    friend Result<RefPtr<Proc>> proc_create(Proc* parent, unsigned flags);
    friend void proc_exit(Proc& p);
    friend Result<void> proc_start_init();
    friend Result<void> proc_set_exe_path(Proc& p, StringView path);
    int m_pid;
    Atomic<int> m_ppid;
    Atomic<uint32_t> m_umask{022};
    Atomic<bool> m_exited{false};
    Atomic<uint64_t> m_cred_gen{1};
    mutable Mutex m_lock;
    Cred m_cred AK_GUARDED_BY(m_lock);
    RefPtr<Vnode> m_cwd AK_GUARDED_BY(m_lock);
    RefPtr<Vnode> m_root AK_GUARDED_BY(m_lock);
    FdTable m_fds;
    Atomic<int> m_pgid;
    Atomic<int> m_sid;
    const int64_t m_start_ns;
    abi::Rlimit m_rlimits[abi::k_rlim_nlimits] AK_GUARDED_BY(m_lock);
    KString m_exe_path AK_GUARDED_BY(m_lock);
};

// RLIMIT_NOFILE: the default hard limit and the most it may be raised to
// (Linux's fs.nr_open).
constexpr uint64_t k_default_nofile_max = 4096;
constexpr uint64_t k_max_nofile = 1 << 20;
constexpr uint64_t k_default_sigpending = 16384;

// proc_create flags
constexpr unsigned k_proc_copy_fds = 1; // fork: copy the parent's descriptors

// New process, child of parent (credentials, umask, cwd and root are
// inherited; descriptors only with k_proc_copy_fds).  parent may be null
// for a fresh process of the kernel's init (pid 1).
Result<RefPtr<Proc>> proc_create(Proc* parent, unsigned flags);
Result<void> proc_start_init();
// Close the process's descriptors and remove it from the process table.
void proc_exit(Proc& p);
RefPtr<Proc> proc_find(int pid);
// Every process in the table (kill(-1)); ENOMEM if the list cannot be made.
Result<Vector<RefPtr<Proc>>> proc_list();
// Set the path readlink("/proc/self/exe") reports for p (the exec component,
// when it loads a program).  path must be absolute and shorter than
// PATH_MAX (EINVAL); ENOMEM.
Result<void> proc_set_exe_path(Proc& p, StringView path);
// Whether path is exactly "/proc/self/exe" or "/proc/<pid>/exe": the one
// piece of /proc the kernel knows (docs/syscalls.md).  *proc receives the
// process it names (the caller's for "self"; nullptr for a pid that does
// not exist).
bool proc_is_exe_link(const char* path, RefPtr<Proc>* proc);
Proc& proc_init();   // pid 1, the default client process
Proc& proc_kernel(); // pid 0, kernel threads
size_t proc_count();

} // namespace ak
