// Processes: pid, credentials, umask, cwd/root and a descriptor table.
#pragma once

#include <ak/file.h>
#include <ak/refptr.h>
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
    uint32_t limit() const { return m_limit; }
    void set_limit(uint32_t l) { m_limit = l; }

private:
    Mutex m_lock;
    Vector<FdEntry> m_entries AK_GUARDED_BY(m_lock);
    uint32_t m_limit = k_default_limit;
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

private:
    friend Result<RefPtr<Proc>> proc_create(Proc* parent, unsigned flags);
    friend void proc_exit(Proc& p);
    friend Result<void> proc_start_init();
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
};

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
Proc& proc_init();   // pid 1, the default client process
Proc& proc_kernel(); // pid 0, kernel threads
size_t proc_count();

} // namespace ak
