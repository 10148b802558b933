// Processes and descriptor tables.
#include <ak/log.h>
#include <ak/proc.h>
#include <ak/thread.h>
#include <ak/time.h>
#include <ak/vfs.h>

namespace ak {

namespace {

constexpr int k_max_pid = 1 << 22;

// The process table: a small open hash keyed by pid.
Mutex* g_proc_lock;
Proc** g_procs AK_GUARDED_BY(*g_proc_lock);
size_t g_proc_cap = 0;
size_t g_proc_count = 0;
int g_next_pid = 2;
Proc* g_kernel_proc;
Proc* g_init_proc;

size_t slot_for(int pid, size_t cap) {
    return (static_cast<uint32_t>(pid) * 2654435761u) & (cap - 1);
}

Result<void> table_insert_locked(Proc* p) {
    if ((g_proc_count + 1) * 2 > g_proc_cap) {
        size_t ncap = g_proc_cap ? g_proc_cap * 2 : 64;
        auto** n = static_cast<Proc**>(kmem_zalloc(ncap * sizeof(Proc*)));
        if (!n)
            return ENOMEM;
        for (size_t i = 0; i < g_proc_cap; i++) {
            if (Proc* q = g_procs[i]) {
                size_t s = slot_for(q->pid(), ncap);
                while (n[s])
                    s = (s + 1) & (ncap - 1);
                n[s] = q;
            }
        }
        kmem_free(g_procs);
        g_procs = n;
        g_proc_cap = ncap;
    }
    size_t s = slot_for(p->pid(), g_proc_cap);
    while (g_procs[s])
        s = (s + 1) & (g_proc_cap - 1);
    g_procs[s] = p;
    g_proc_count++;
    return {};
}

Proc* table_find_locked(int pid) {
    if (!g_proc_cap)
        return nullptr;
    size_t s = slot_for(pid, g_proc_cap);
    while (Proc* q = g_procs[s]) {
        if (q->pid() == pid)
            return q;
        s = (s + 1) & (g_proc_cap - 1);
    }
    return nullptr;
}

void table_remove_locked(int pid) {
    size_t s = slot_for(pid, g_proc_cap);
    while (g_procs[s] && g_procs[s]->pid() != pid)
        s = (s + 1) & (g_proc_cap - 1);
    if (!g_procs[s])
        return;
    g_procs[s] = nullptr;
    g_proc_count--;
    // Re-insert the rest of the cluster (linear probing deletion).
    for (size_t i = (s + 1) & (g_proc_cap - 1); g_procs[i]; i = (i + 1) & (g_proc_cap - 1)) {
        Proc* q = g_procs[i];
        g_procs[i] = nullptr;
        size_t t = slot_for(q->pid(), g_proc_cap);
        while (g_procs[t])
            t = (t + 1) & (g_proc_cap - 1);
        g_procs[t] = q;
    }
}

int alloc_pid_locked() {
    for (;;) {
        int pid = g_next_pid++;
        if (g_next_pid >= k_max_pid)
            g_next_pid = 2;
        if (!table_find_locked(pid))
            return pid;
    }
}

} // namespace

// --- Proc ------------------------------------------------------------------

Proc::Proc(int pid, int ppid)
    : m_pid(pid), m_ppid(ppid), m_pgid(pid), m_sid(pid), m_start_ns(monotonic_ns()) {
    using namespace abi;
    for (auto& r : m_rlimits)
        r = {k_rlim_infinity, k_rlim_infinity};
    // Linux's defaults for a process started by init.
    m_rlimits[k_rlimit_stack] = {8 << 20, k_rlim_infinity};
    m_rlimits[k_rlimit_core] = {0, k_rlim_infinity};
    m_rlimits[k_rlimit_nofile] = {FdTable::k_default_limit, k_default_nofile_max};
    m_rlimits[k_rlimit_memlock] = {8 << 20, 8 << 20};
    m_rlimits[k_rlimit_sigpending] = {k_default_sigpending, k_default_sigpending};
    m_rlimits[k_rlimit_msgqueue] = {819200, 819200};
    m_rlimits[k_rlimit_nice] = {0, 0};
    m_rlimits[k_rlimit_rtprio] = {0, 0};
}
Proc::~Proc() = default;

abi::Rlimit Proc::rlimit(int resource) const {
    AK_ASSERT(resource >= 0 && resource < abi::k_rlim_nlimits);
    MutexGuard g(m_lock);
    abi::Rlimit r = m_rlimits[resource];
    if (resource == abi::k_rlimit_nofile)
        r.rlim_cur = m_fds.limit();
    return r;
}

void Proc::set_rlimit(int resource, const abi::Rlimit& r) {
    AK_ASSERT(resource >= 0 && resource < abi::k_rlim_nlimits);
    MutexGuard g(m_lock);
    m_rlimits[resource] = r;
    if (resource == abi::k_rlimit_nofile)
        m_fds.set_limit(static_cast<uint32_t>(min<uint64_t>(r.rlim_cur, k_max_nofile)));
}

Result<size_t> Proc::exe_path(Span<char> out) const {
    MutexGuard g(m_lock);
    if (!m_exe_path.length())
        return ENOENT;
    size_t n = min(out.size(), m_exe_path.length());
    if (n)
        __builtin_memcpy(out.data(), m_exe_path.c_str(), n);
    return m_exe_path.length();
}

Result<void> proc_set_exe_path(Proc& p, StringView path) {
    if (path.empty() || path[0] != '/' || path.length() >= PATH_MAX)
        return EINVAL;
    KString k = TRY(KString::create(path));
    MutexGuard g(p.m_lock);
    p.m_exe_path = move(k);
    return {};
}

bool proc_is_exe_link(const char* path, RefPtr<Proc>* proc) {
    if (path[0] != '/' || path[1] != 'p') // every lookup comes here: be quick
        return false;
    StringView s(path);
    StringView prefix("/proc/");
    StringView suffix("/exe");
    if (!s.starts_with(prefix) || s.length() <= prefix.length() + suffix.length() ||
        !(s.substr(s.length() - suffix.length()) == suffix))
        return false;
    StringView middle = s.substr(prefix.length(), s.length() - prefix.length() - suffix.length());
    if (middle == StringView("self")) {
        *proc = curlwp().proc_ref();
        return true;
    }
    int pid = 0;
    for (size_t i = 0; i < middle.length(); i++) {
        char c = middle[i];
        if (c < '0' || c > '9' || (i == 0 && c == '0') || pid > k_max_pid / 10)
            return false;
        pid = pid * 10 + (c - '0');
    }
    *proc = pid < k_max_pid ? proc_find(pid) : RefPtr<Proc>();
    return true;
}

Cred Proc::cred() const {
    MutexGuard g(m_lock);
    return m_cred;
}

void Proc::set_cred(const Cred& c) {
    MutexGuard g(m_lock);
    m_cred = c;
    m_cred_gen.fetch_add(1, MemoryOrder::Release);
}

RefPtr<Vnode> Proc::cwd() const {
    MutexGuard g(m_lock);
    return m_cwd;
}

RefPtr<Vnode> Proc::root() const {
    MutexGuard g(m_lock);
    return m_root;
}

void Proc::set_cwd(RefPtr<Vnode> v) {
    if (v)
        v->mount().busy_ref();
    RefPtr<Vnode> old;
    {
        MutexGuard g(m_lock);
        old = move(m_cwd);
        m_cwd = move(v);
    }
    if (old)
        old->mount().busy_unref();
}

void Proc::set_root(RefPtr<Vnode> v) {
    if (v)
        v->mount().busy_ref();
    RefPtr<Vnode> old;
    {
        MutexGuard g(m_lock);
        old = move(m_root);
        m_root = move(v);
    }
    if (old)
        old->mount().busy_unref();
}

Result<RefPtr<Proc>> proc_create(Proc* parent, unsigned flags) {
    int pid;
    {
        MutexGuard g(*g_proc_lock);
        pid = alloc_pid_locked();
    }
    Proc* p = make<Proc>(pid, parent ? parent->pid() : 0);
    if (!p)
        return ENOMEM;
    RefPtr<Proc> ref = adopt_ref(p);
    if (parent) {
        p->m_cred = parent->cred();
        p->m_umask.store(parent->umask());
        p->m_pgid.store(parent->pgid());
        p->m_sid.store(parent->sid());
        p->m_nice.store(parent->m_nice.load());
        p->m_personality.store(parent->m_personality.load());
        {
            MutexGuard g(parent->m_lock);
            for (int i = 0; i < abi::k_rlim_nlimits; i++)
                p->m_rlimits[i] = parent->m_rlimits[i];
        }
        signal_fork(*p, *parent);
        p->m_fds.set_limit(parent->fds().limit());
        if (flags & k_proc_copy_fds)
            TRY(p->m_fds.copy_from(parent->fds()));
        p->set_cwd(parent->cwd());
        p->set_root(parent->root());
    } else {
        RefPtr<Vnode> root = vfs_root();
        p->set_cwd(root);
        p->set_root(root);
    }
    {
        MutexGuard g(*g_proc_lock);
        TRY(table_insert_locked(p));
    }
    p->ref(); // the table's reference
    return ref;
}

void proc_exit(Proc& p) {
    if (p.m_exited.exchange(true))
        return;
    p.fds().close_all();
    p.set_cwd(nullptr);
    p.set_root(nullptr);
    {
        MutexGuard g(*g_proc_lock);
        table_remove_locked(p.pid());
    }
    p.unref(); // the table's reference
}

RefPtr<Proc> proc_find(int pid) {
    MutexGuard g(*g_proc_lock);
    return RefPtr<Proc>(table_find_locked(pid));
}

Result<Vector<RefPtr<Proc>>> proc_list() {
    Vector<RefPtr<Proc>> out;
    MutexGuard g(*g_proc_lock);
    TRY(out.try_reserve(g_proc_count));
    for (size_t i = 0; i < g_proc_cap; i++)
        if (Proc* q = g_procs[i])
            TRY(out.try_append(RefPtr<Proc>(q)));
    return out;
}

size_t proc_count() {
    MutexGuard g(*g_proc_lock);
    return g_proc_count;
}

Proc& proc_kernel() {
    return *g_kernel_proc;
}
Proc& proc_init() {
    return *g_init_proc;
}

Result<void> proc_bootstrap() {
    g_proc_lock = make<Mutex>();
    if (!g_proc_lock)
        return ENOMEM;
    g_kernel_proc = make<Proc>(0, 0);
    if (!g_kernel_proc)
        return ENOMEM;
    return {};
}

// After the root file system is mounted: pid 1, the default process of
// local clients.
Result<void> proc_start_init() {
    g_kernel_proc->set_cwd(vfs_root());
    g_kernel_proc->set_root(vfs_root());
    g_kernel_proc->m_ppid.store(0);
    Proc* p = make<Proc>(1, 0);
    if (!p)
        return ENOMEM;
    p->set_cwd(vfs_root());
    p->set_root(vfs_root());
    {
        MutexGuard g(*g_proc_lock);
        TRY(table_insert_locked(p));
    }
    g_init_proc = p;
    return {};
}

// --- FdTable ---------------------------------------------------------------

Result<int> FdTable::install(RefPtr<File> file, bool cloexec, int min_fd) {
    MutexGuard g(m_lock);
    if (min_fd < 0 || static_cast<uint32_t>(min_fd) >= limit())
        return EINVAL;
    size_t start = static_cast<size_t>(min_fd > m_lowest_free ? min_fd : m_lowest_free);
    size_t fd = start;
    while (fd < m_entries.size() && m_entries[fd].file)
        fd++;
    if (fd >= limit())
        return EMFILE;
    if (fd >= m_entries.size()) {
        size_t want = fd + 1;
        if (want < m_entries.size() * 2)
            want = m_entries.size() * 2;
        if (want < 16)
            want = 16;
        if (want > limit())
            want = limit();
        TRY(m_entries.try_resize(want));
    }
    m_entries[fd].file = move(file);
    m_entries[fd].cloexec = cloexec;
    if (static_cast<int>(start) == m_lowest_free)
        m_lowest_free = static_cast<int>(fd + 1);
    return static_cast<int>(fd);
}

Result<RefPtr<File>> FdTable::get(int fd) {
    MutexGuard g(m_lock);
    if (fd < 0 || static_cast<size_t>(fd) >= m_entries.size() || !m_entries[fd].file)
        return EBADF;
    return m_entries[fd].file;
}

Result<void> FdTable::close(int fd) {
    RefPtr<File> f;
    {
        MutexGuard g(m_lock);
        if (fd < 0 || static_cast<size_t>(fd) >= m_entries.size() || !m_entries[fd].file)
            return EBADF;
        f = move(m_entries[fd].file);
        m_entries[fd].cloexec = false;
        if (fd < m_lowest_free)
            m_lowest_free = fd;
    }
    file_descriptor_closed(f);
    return {}; // f released outside the lock
}

Result<int> FdTable::install_at(int fd, RefPtr<File> file, bool cloexec) {
    RefPtr<File> old;
    {
        MutexGuard g(m_lock);
        if (fd < 0 || static_cast<uint32_t>(fd) >= limit())
            return EBADF;
        if (static_cast<size_t>(fd) >= m_entries.size()) {
            size_t want = fd + 1 < 16 ? 16 : fd + 1;
            TRY(m_entries.try_resize(want > limit() ? limit() : want));
        }
        old = move(m_entries[fd].file);
        m_entries[fd].file = move(file);
        m_entries[fd].cloexec = cloexec;
        if (fd == m_lowest_free)
            m_lowest_free = fd + 1;
    }
    if (old)
        file_descriptor_closed(old);
    return fd;
}

Result<bool> FdTable::get_cloexec(int fd) {
    MutexGuard g(m_lock);
    if (fd < 0 || static_cast<size_t>(fd) >= m_entries.size() || !m_entries[fd].file)
        return EBADF;
    return m_entries[fd].cloexec;
}

Result<void> FdTable::set_cloexec(int fd, bool on) {
    MutexGuard g(m_lock);
    if (fd < 0 || static_cast<size_t>(fd) >= m_entries.size() || !m_entries[fd].file)
        return EBADF;
    m_entries[fd].cloexec = on;
    return {};
}

Result<void> FdTable::copy_from(FdTable& other) {
    // Lock order: never two tables at once; copy a snapshot.
    Vector<FdEntry> snapshot;
    {
        MutexGuard g(other.m_lock);
        TRY(snapshot.try_resize(other.m_entries.size()));
        for (size_t i = 0; i < other.m_entries.size(); i++) {
            snapshot[i].file = other.m_entries[i].file;
            snapshot[i].cloexec = other.m_entries[i].cloexec;
        }
    }
    MutexGuard g(m_lock);
    m_entries = move(snapshot);
    m_lowest_free = 0;
    return {};
}

void FdTable::close_all() {
    Vector<FdEntry> old;
    {
        MutexGuard g(m_lock);
        old = move(m_entries);
        m_lowest_free = 0;
    }
    for (auto& e : old)
        if (e.file)
            file_descriptor_closed(e.file);
}

void FdTable::close_on_exec() {
    MutexGuard g(m_lock);
    for (size_t i = 0; i < m_entries.size(); i++) {
        if (m_entries[i].file && m_entries[i].cloexec) {
            m_entries[i].file.clear();
            m_entries[i].cloexec = false;
            if (static_cast<int>(i) < m_lowest_free)
                m_lowest_free = static_cast<int>(i);
        }
    }
}

size_t FdTable::open_count() {
    MutexGuard g(m_lock);
    size_t n = 0;
    for (auto& e : m_entries)
        if (e.file)
            n++;
    return n;
}

} // namespace ak
