// libak-hijack.so: LD_PRELOAD library that sends libc's file calls for paths
// under a prefix (default /ak) to an ak-server (docs/hijack.md).
//
// Kernel descriptors never share numbers with host ones: every kernel
// descriptor is represented in the program by a real host descriptor (a
// duplicate of one epoll descriptor, the "placeholder"), and a table maps
// placeholder numbers to kernel numbers.  A call this library does not wrap
// that reaches a placeholder fails loudly (epoll descriptors refuse read,
// write and mmap) instead of silently reading some host file.
#include <anykern/akclient.h>
#include <anykern/anykern.h>

#include <dirent.h>
#include <dlfcn.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <poll.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/resource.h>
#include <sys/select.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/statfs.h>
#include <sys/time.h>
#include <sys/uio.h>
#include <time.h>
#include <unistd.h>
#include <utime.h>

#include <atomic>
#include <type_traits>

#define HIJACK extern "C" __attribute__((visibility("default")))

extern char** environ;

namespace {

// --- Real functions ----------------------------------------------------------------

template <typename F> F real_fn(const char* name) {
    void* p = dlsym(RTLD_NEXT, name);
    return reinterpret_cast<F>(p);
}

// The host's own definition of a function this library wraps (the next one
// after it), looked up on first use.
#define HOST(name)                                                                                 \
    ([] {                                                                                          \
        static auto fn = real_fn<decltype(&::name)>(#name);                                        \
        return fn;                                                                                 \
    }())
// The program's call as it made it, for the host: HOST_CALL(read, fd, buf, n).
#define HOST_CALL(name, ...) [=] { return HOST(name)(__VA_ARGS__); }

// --- Settings (AK_HIJACK) ------------------------------------------------------------

constexpr int k_max_blanket = 16;
char g_prefix[256] = "/ak";
size_t g_prefix_len = 3;
char g_blanket[k_max_blanket][256];
int g_nblanket = 0;
enum SocketMode { k_sockets_none, k_sockets_inet, k_sockets_unix, k_sockets_all };
SocketMode g_sockets = k_sockets_none; // which new sockets go to the kernel

void parse_settings() {
    const char* s = getenv("AK_HIJACK");
    if (!s)
        return;
    char buf[2048];
    snprintf(buf, sizeof buf, "%s", s);
    char* save = nullptr;
    for (char* kv = strtok_r(buf, ",", &save); kv; kv = strtok_r(nullptr, ",", &save)) {
        char* eq = strchr(kv, '=');
        if (!eq) {
            fprintf(stderr, "libak-hijack: ignoring AK_HIJACK item '%s'\n", kv);
            continue;
        }
        *eq = 0;
        const char* v = eq + 1;
        if (!strcmp(kv, "prefix")) {
            size_t n = strlen(v);
            while (n > 1 && v[n - 1] == '/')
                n--;
            if (v[0] != '/' || n >= sizeof g_prefix) {
                fprintf(stderr, "libak-hijack: prefix must be an absolute path\n");
                continue;
            }
            memcpy(g_prefix, v, n);
            g_prefix[n] = 0;
            g_prefix_len = n == 1 ? 0 : n; // "/" disables the prefix
        } else if (!strcmp(kv, "blanket")) {
            char tmp[2048];
            snprintf(tmp, sizeof tmp, "%s", v);
            char* s2 = nullptr;
            for (char* p = strtok_r(tmp, ":", &s2); p && g_nblanket < k_max_blanket;
                 p = strtok_r(nullptr, ":", &s2)) {
                if (p[0] != '/')
                    continue;
                snprintf(g_blanket[g_nblanket++], sizeof g_blanket[0], "%s", p);
            }
        } else if (!strcmp(kv, "sockets")) {
            if (!strcmp(v, "none"))
                g_sockets = k_sockets_none;
            else if (!strcmp(v, "inet"))
                g_sockets = k_sockets_inet;
            else if (!strcmp(v, "unix"))
                g_sockets = k_sockets_unix;
            else if (!strcmp(v, "all"))
                g_sockets = k_sockets_all;
            else
                fprintf(stderr, "libak-hijack: sockets= wants none, inet, unix or all\n");
        } else {
            fprintf(stderr, "libak-hijack: unknown AK_HIJACK key '%s'\n", kv);
        }
    }
}

// --- Descriptor table ----------------------------------------------------------------

std::atomic<int>* g_fdmap; // host fd -> kernel fd + 1 (0: a host descriptor)
// Host epoll fd -> its companion kernel epoll fd + 1, made when the program
// registers a kernel descriptor with it (docs/hijack.md, "Sockets").
std::atomic<int>* g_epmap;
int g_fdmax;
int g_template = -1;
std::atomic<bool> g_cwd_kernel{false};

void init_table() {
    struct rlimit rl;
    long n = 65536;
    if (getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur != RLIM_INFINITY)
        n = static_cast<long>(rl.rlim_cur);
    if (n > (1 << 20))
        n = 1 << 20;
    void* p = mmap(nullptr, sizeof(std::atomic<int>) * static_cast<size_t>(n),
                   PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    if (p == MAP_FAILED)
        return;
    g_fdmap = static_cast<std::atomic<int>*>(p);
    void* q = mmap(nullptr, sizeof(std::atomic<int>) * static_cast<size_t>(n),
                   PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    if (q != MAP_FAILED)
        g_epmap = static_cast<std::atomic<int>*>(q);
    g_fdmax = static_cast<int>(n);
    g_template = epoll_create1(EPOLL_CLOEXEC);
}

int kfd_of(int hfd) {
    if (hfd < 0 || hfd >= g_fdmax || !g_fdmap)
        return -1;
    return g_fdmap[hfd].load(std::memory_order_acquire) - 1;
}

void map_set(int hfd, int kfd) {
    if (hfd >= 0 && hfd < g_fdmax)
        g_fdmap[hfd].store(kfd + 1, std::memory_order_release);
}

// A system call's result as libc reports it: the value, or -1 with errno set.
template <typename R = int> R set_errno(long r) {
    if (r < 0) {
        errno = static_cast<int>(-r);
        return -1;
    }
    return static_cast<R>(r);
}

long ksys(long nr, long a0 = 0, long a1 = 0, long a2 = 0, long a3 = 0, long a4 = 0, long a5 = 0) {
    return ak_syscall(nr, a0, a1, a2, a3, a4, a5);
}

// System-call arguments travel as longs: integers by value, pointers by address.
template <typename T> long sysarg(T v) {
    if constexpr (std::is_pointer_v<T> || std::is_null_pointer_v<T>)
        return reinterpret_cast<long>(v);
    else
        return static_cast<long>(v);
}

// A host placeholder for kernel descriptor kfd.  Returns the host fd or -1
// (and closes kfd).
int make_placeholder(int kfd, bool cloexec, int minfd = 0) {
    if (g_template < 0) {
        ksys(AK_SYS_close, kfd);
        errno = EMFILE;
        return -1;
    }
    int hfd = HOST(fcntl)(g_template, cloexec ? F_DUPFD_CLOEXEC : F_DUPFD, minfd);
    if (hfd < 0 || hfd >= g_fdmax) {
        int e = hfd < 0 ? errno : EMFILE;
        if (hfd >= 0)
            HOST(close)(hfd);
        ksys(AK_SYS_close, kfd);
        errno = e;
        return -1;
    }
    map_set(hfd, kfd);
    return hfd;
}

// The placeholder for a kernel descriptor a system call returned (or its
// error).
int new_placeholder(long kfd, bool cloexec) {
    if (kfd < 0)
        return set_errno(kfd);
    return make_placeholder(static_cast<int>(kfd), cloexec);
}

// --- Paths -----------------------------------------------------------------------------

struct KPath {
    int dirfd;
    const char* path;
    char buf[PATH_MAX];
};

bool under(const char* path, const char* prefix, size_t n) {
    return strncmp(path, prefix, n) == 0 && (path[n] == 0 || path[n] == '/');
}

// Decide where (dirfd, path) lives.  True: the kernel, with out filled.
bool classify(int dirfd, const char* path, KPath& out) {
    if (!path)
        return false;
    if (path[0] == '/') {
        if (g_prefix_len && under(path, g_prefix, g_prefix_len)) {
            const char* rest = path + g_prefix_len;
            snprintf(out.buf, sizeof out.buf, "%s", *rest ? rest : "/");
            out.path = out.buf;
            out.dirfd = AT_FDCWD;
            return true;
        }
        for (int i = 0; i < g_nblanket; i++) {
            if (under(path, g_blanket[i], strlen(g_blanket[i]))) {
                out.path = path;
                out.dirfd = AT_FDCWD;
                return true;
            }
        }
        return false;
    }
    if (dirfd == AT_FDCWD) {
        if (!g_cwd_kernel.load())
            return false;
        out.path = path;
        out.dirfd = AT_FDCWD;
        return true;
    }
    int k = kfd_of(dirfd);
    if (k < 0)
        return false;
    out.path = path;
    out.dirfd = k;
    return true;
}

bool is_kernel_fd(int fd) {
    return kfd_of(fd) >= 0;
}

bool is_kernel_path(const char* path) {
    KPath kp;
    return classify(AT_FDCWD, path, kp);
}

long P(const char* p) {
    return reinterpret_cast<long>(p);
}

// glibc declares some path arguments nonnull that the system call accepts
// as NULL; hide the pointer from the optimiser before testing it.
template <typename T> T* opaque(T* p) {
    asm("" : "+r"(p));
    return p;
}
template <typename T> long P(T* p) {
    return reinterpret_cast<long>(p);
}

// --- exec state (AK_HIJACK_STATE) ------------------------------------------------------

constexpr char k_state_var[] = "AK_HIJACK_STATE=";

// Restore what the previous program image handed over: the kernel process
// (re-attached with a one-time token) and the descriptor map.
void restore_state() {
    const char* s = getenv("AK_HIJACK_STATE");
    if (!s)
        return;
    char buf[8192];
    snprintf(buf, sizeof buf, "%s", s);
    unsetenv("AK_HIJACK_STATE");
    // v1:KPID:TOKEN:CWD:H=K,H=K,...
    char* save = nullptr;
    char* ver = strtok_r(buf, ":", &save);
    char* kpid = strtok_r(nullptr, ":", &save);
    char* token = strtok_r(nullptr, ":", &save);
    char* cwd = strtok_r(nullptr, ":", &save);
    char* fds = strtok_r(nullptr, ":", &save);
    if (!ver || strcmp(ver, "v1") || !kpid || !token || !cwd)
        return;
    if (akc_attach(nullptr, atoi(kpid), token) != 0) {
        fprintf(stderr, "libak-hijack: cannot re-attach to kernel process %s after exec\n", kpid);
        return;
    }
    g_cwd_kernel = cwd[0] == '1';
    for (char *s2 = nullptr, *pair = fds ? strtok_r(fds, ",", &s2) : nullptr; pair;
         pair = strtok_r(nullptr, ",", &s2)) {
        int h, k;
        if (sscanf(pair, "%d=%d", &h, &k) != 2)
            continue;
        if (HOST(fcntl)(h, F_GETFD) >= 0)
            map_set(h, k);
    }
}

__attribute__((constructor)) void hijack_init() {
    parse_settings();
    init_table();
    restore_state();
}

// Build the environment for a new program image: envp without an old
// state variable, plus the current state.  Memory comes from mmap, which is
// safe in a vfork child.  Returns nullptr when there is no session.
char** prepare_exec(char* const envp[], char token_out[65]) {
    if (akc_kpid() < 0)
        return nullptr;
    int kpid;
    if (akc_exec_prepare(&kpid, token_out) != 0)
        return nullptr;
    size_t n = 0;
    while (envp && envp[n])
        n++;
    size_t state_cap = 64 * 1024;
    size_t bytes = (n + 2) * sizeof(char*) + state_cap;
    void* mem = mmap(nullptr, bytes, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    if (mem == MAP_FAILED) {
        akc_exec_cancel(token_out);
        return nullptr;
    }
    char** env = static_cast<char**>(mem);
    char* state = reinterpret_cast<char*>(env + n + 2);
    size_t len = static_cast<size_t>(snprintf(state, state_cap, "%sv1:%d:%s:%d:", k_state_var, kpid,
                                              token_out, g_cwd_kernel.load() ? 1 : 0));
    bool first = true;
    for (int h = 0; h < g_fdmax && len + 32 < state_cap; h++) {
        int k = kfd_of(h);
        if (k < 0)
            continue;
        int fl = HOST(fcntl)(h, F_GETFD);
        if (fl < 0 || (fl & FD_CLOEXEC))
            continue;
        len += static_cast<size_t>(
            snprintf(state + len, state_cap - len, "%s%d=%d", first ? "" : ",", h, k));
        first = false;
    }
    size_t j = 0;
    for (size_t i = 0; i < n; i++)
        if (strncmp(envp[i], k_state_var, sizeof k_state_var - 1) != 0)
            env[j++] = envp[i];
    env[j++] = state;
    env[j] = nullptr;
    return env;
}

void after_failed_exec(char** env, const char* token) {
    int e = errno;
    akc_exec_cancel(token);
    size_t n = 0;
    while (env[n])
        n++;
    munmap(env, (n + 2) * sizeof(char*) + 64 * 1024);
    errno = e;
}

// --- Directory streams ----------------------------------------------------------------

struct KDir {
    int hfd;
    int kfd;
    size_t pos = 0, len = 0;
    long offset = 0;
    struct dirent64 ent;
    alignas(8) char buf[32768];
};

constexpr int k_max_dirs = 1024;
std::atomic<KDir*> g_dirs[k_max_dirs];

KDir* kdir_of(void* d) {
    if (!d)
        return nullptr;
    for (auto& slot : g_dirs)
        if (slot.load(std::memory_order_acquire) == d)
            return static_cast<KDir*>(d);
    return nullptr;
}

bool kdir_register(KDir* d) {
    for (auto& slot : g_dirs) {
        KDir* expect = nullptr;
        if (slot.compare_exchange_strong(expect, d))
            return true;
    }
    return false;
}

void kdir_unregister(KDir* d) {
    for (auto& slot : g_dirs) {
        KDir* expect = d;
        if (slot.compare_exchange_strong(expect, nullptr))
            return;
    }
}

struct LinuxDirent64 {
    uint64_t d_ino;
    int64_t d_off;
    uint16_t d_reclen;
    uint8_t d_type;
    char d_name[];
};

DIR* kdir_open_fd(int hfd, int kfd) {
    KDir* d = new (std::nothrow) KDir;
    if (!d) {
        errno = ENOMEM;
        return nullptr;
    }
    d->hfd = hfd;
    d->kfd = kfd;
    if (!kdir_register(d)) {
        delete d;
        errno = EMFILE;
        return nullptr;
    }
    return reinterpret_cast<DIR*>(d);
}

struct dirent64* kdir_read(KDir* d) {
    if (d->pos >= d->len) {
        long n = ksys(AK_SYS_getdents64, d->kfd, P(d->buf), sizeof d->buf);
        if (n < 0) {
            errno = static_cast<int>(-n);
            return nullptr;
        }
        if (n == 0)
            return nullptr; // end: errno unchanged
        d->len = static_cast<size_t>(n);
        d->pos = 0;
    }
    auto* e = reinterpret_cast<LinuxDirent64*>(d->buf + d->pos);
    if (e->d_reclen == 0 || d->pos + e->d_reclen > d->len) {
        d->pos = d->len;
        errno = EIO;
        return nullptr;
    }
    d->pos += e->d_reclen;
    d->ent.d_ino = e->d_ino;
    d->ent.d_off = e->d_off;
    d->ent.d_type = e->d_type;
    snprintf(d->ent.d_name, sizeof d->ent.d_name, "%s", e->d_name);
    d->ent.d_reclen = sizeof d->ent;
    return &d->ent;
}

// --- Dispatch ---------------------------------------------------------------------------
//
// Every wrapper has the same shape: decide whether its descriptor, path or
// stream belongs to the kernel; if not, make the program's call on the host
// (host(), usually a HOST_CALL); if so, make the kernel's call, whose result
// becomes libc's (-1 and errno on an error).

// A call on descriptor fd.  kernel(k) gets the kernel's number for it.
template <typename Host, typename Kernel>
auto fd_dispatch(int fd, Host host, Kernel kernel) -> decltype(host()) {
    int k = kfd_of(fd);
    if (k < 0)
        return host();
    return kernel(k);
}

// A call on descriptor fd that the kernel has as system call nr(k, args...).
template <typename Host, typename... A> auto fd_call(int fd, Host host, long nr, A... args) {
    return fd_dispatch(
        fd, host, [=](int k) { return set_errno<decltype(host())>(ksys(nr, k, sysarg(args)...)); });
}

// A call on (dirfd, path).  kernel(kp) gets where it is in the kernel.
template <typename Host, typename Kernel>
auto path_dispatch(int dirfd, const char* path, Host host, Kernel kernel) -> decltype(host()) {
    KPath kp;
    if (!classify(dirfd, path, kp))
        return host();
    return kernel(kp);
}

// A call on (dirfd, path) that the kernel has as nr(dirfd, path, args...).
template <typename Host, typename... A>
auto path_call(int dirfd, const char* path, Host host, long nr, A... args) {
    return path_dispatch(dirfd, path, host, [=](const KPath& kp) {
        return set_errno<decltype(host())>(ksys(nr, kp.dirfd, P(kp.path), sysarg(args)...));
    });
}

// A call on a path that the kernel has as nr(path, args...), without a
// directory descriptor.
template <typename Host, typename... A>
auto cwd_path_call(const char* path, Host host, long nr, A... args) {
    return path_dispatch(AT_FDCWD, path, host, [=](const KPath& kp) -> decltype(host()) {
        if (kp.dirfd != AT_FDCWD) {
            errno = ENOSYS;
            return -1;
        }
        return set_errno<decltype(host())>(ksys(nr, P(kp.path), sysarg(args)...));
    });
}

// Two-path calls (rename, link): both paths must be on the same side; the
// kernel has them as nr(dirfd1, path1, dirfd2, path2, flags).
template <typename Host>
int two_path_call(int d1, const char* p1, int d2, const char* p2, Host host, long nr, long flags) {
    KPath k1, k2;
    bool a = classify(d1, p1, k1), b = classify(d2, p2, k2);
    if (!a && !b)
        return host();
    if (a && b)
        return set_errno(ksys(nr, k1.dirfd, P(k1.path), k2.dirfd, P(k2.path), flags));
    errno = EXDEV; // mv falls back to copy + unlink
    return -1;
}

// A call with no kernel counterpart: when kernel (its descriptor or path is
// the kernel's) it fails with error.
template <typename Host> auto host_only(bool kernel, int error, Host host) -> decltype(host()) {
    if (kernel) {
        errno = error;
        return -1;
    }
    return host();
}

// The kernel descriptor at a path that is empty with AT_EMPTY_PATH: dirfd's,
// or -1 when this is not such a call or dirfd is the host's.
int empty_path_kfd(int dirfd, const char* path, int flags) {
    if (path && !path[0] && (flags & AT_EMPTY_PATH))
        return kfd_of(dirfd);
    return -1;
}

// Duplicates: the kernel made k2 (or failed, a negative errno); host_dup()
// makes the matching placeholder, or k2 is closed again.
template <typename HostDup> int dup_pair(long k2, HostDup host_dup) {
    if (k2 < 0)
        return set_errno(k2);
    int h2 = host_dup();
    if (h2 < 0) {
        int e = errno;
        ksys(AK_SYS_close, k2);
        errno = e;
        return -1;
    }
    map_set(h2, static_cast<int>(k2));
    return h2;
}

// --- Shared implementations -------------------------------------------------------------

int do_openat(int dirfd, const char* path, int flags, mode_t mode, bool use_open) {
    auto host = [=] {
        return use_open ? HOST(open)(path, flags, mode) : HOST(openat)(dirfd, path, flags, mode);
    };
    return path_dispatch(dirfd, path, host, [=](const KPath& kp) {
        return new_placeholder(ksys(AK_SYS_openat, kp.dirfd, P(kp.path), flags, mode),
                               flags & O_CLOEXEC);
    });
}

// The mode argument of open and openat, passed only when a file is created.
mode_t open_mode(int flags, va_list ap) {
    return (flags & (O_CREAT | __O_TMPFILE)) ? va_arg(ap, mode_t) : 0;
}

int do_close(int fd) {
    if (akc_is_internal_fd(fd)) {
        errno = EBADF; // the library's own socket is not the program's to close
        return -1;
    }
    int k = kfd_of(fd);
    if (k < 0) {
        if (g_epmap && fd >= 0 && fd < g_fdmax) {
            int kep = g_epmap[fd].exchange(0) - 1;
            if (kep >= 0)
                ksys(AK_SYS_close, kep);
        }
        return HOST(close)(fd);
    }
    map_set(fd, -1);
    long r = ksys(AK_SYS_close, k);
    HOST(close)(fd);
    return set_errno(r);
}

int do_fstatat(int dirfd, const char* path, struct stat* st, int flags) {
    int k = empty_path_kfd(dirfd, path, flags);
    if (k >= 0)
        return set_errno(ksys(AK_SYS_fstat, k, P(st)));
    return path_call(dirfd, path, HOST_CALL(fstatat, dirfd, path, st, flags), AK_SYS_newfstatat, st,
                     flags);
}

int do_fstat(int fd, struct stat* st) {
    return fd_call(fd, HOST_CALL(fstat, fd, st), AK_SYS_fstat, st);
}

ssize_t cookie_read(void* c, char* buf, size_t n) {
    int k = kfd_of(static_cast<int>(reinterpret_cast<intptr_t>(c)));
    return set_errno<ssize_t>(ksys(AK_SYS_read, k, P(buf), static_cast<long>(n)));
}
ssize_t cookie_write(void* c, const char* buf, size_t n) {
    int k = kfd_of(static_cast<int>(reinterpret_cast<intptr_t>(c)));
    long r = ksys(AK_SYS_write, k, P(buf), static_cast<long>(n));
    return r < 0 ? (errno = static_cast<int>(-r), 0) : r;
}
int cookie_seek(void* c, off64_t* off, int whence) {
    int k = kfd_of(static_cast<int>(reinterpret_cast<intptr_t>(c)));
    long r = ksys(AK_SYS_lseek, k, *off, whence);
    if (r < 0)
        return set_errno(r);
    *off = r;
    return 0;
}
int cookie_close(void* c) {
    return do_close(static_cast<int>(reinterpret_cast<intptr_t>(c)));
}

FILE* kernel_stream(int hfd, const char* mode) {
    cookie_io_functions_t io = {cookie_read, cookie_write, cookie_seek, cookie_close};
    FILE* f = fopencookie(reinterpret_cast<void*>(static_cast<intptr_t>(hfd)), mode, io);
    return f;
}

int fopen_flags(const char* mode) {
    int flags;
    switch (mode[0]) {
    case 'r':
        flags = O_RDONLY;
        break;
    case 'w':
        flags = O_WRONLY | O_CREAT | O_TRUNC;
        break;
    case 'a':
        flags = O_WRONLY | O_CREAT | O_APPEND;
        break;
    default:
        return -1;
    }
    for (const char* m = mode + 1; *m; m++) {
        if (*m == '+')
            flags = (flags & ~O_ACCMODE) | O_RDWR;
        else if (*m == 'e')
            flags |= O_CLOEXEC;
        else if (*m == 'x')
            flags |= O_EXCL;
    }
    return flags;
}

// chdir and fchdir: after a successful call the working directory is on
// the side that made it.
int cwd_moved(bool kernel, int r) {
    if (r == 0)
        g_cwd_kernel = kernel;
    return r;
}

// A directory stream: host() for the host's, kernel(d) for one of ours.
template <typename Host, typename Kernel>
auto dir_dispatch(DIR* dir, Host host, Kernel kernel) -> decltype(host()) {
    KDir* d = kdir_of(dir);
    if (!d)
        return host();
    return kernel(d);
}

int kdir_close(KDir* d) {
    kdir_unregister(d);
    int r = do_close(d->hfd);
    delete d;
    return r;
}

void kdir_rewind(KDir* d) {
    ksys(AK_SYS_lseek, d->kfd, 0, SEEK_SET);
    d->pos = d->len = 0;
}

// exec with the kernel state handed to the new image: exec(env) runs the
// host's exec with an environment; without a session envp goes as it is.
template <typename Exec> int exec_with_state(char* const envp[], Exec exec) {
    char token[65];
    char** env = prepare_exec(envp, token);
    if (!env)
        return exec(envp);
    exec(env);
    after_failed_exec(env, token);
    return -1;
}

} // namespace

// ==== Wrapped libc functions ================================================================

HIJACK int open(const char* path, int flags, ...) {
    va_list ap;
    va_start(ap, flags);
    mode_t mode = open_mode(flags, ap);
    va_end(ap);
    return do_openat(AT_FDCWD, path, flags, mode, true);
}
HIJACK int open64(const char* path, int flags, ...) __attribute__((alias("open")));
HIJACK int openat(int dirfd, const char* path, int flags, ...) {
    va_list ap;
    va_start(ap, flags);
    mode_t mode = open_mode(flags, ap);
    va_end(ap);
    return do_openat(dirfd, path, flags, mode, false);
}
HIJACK int openat64(int dirfd, const char* path, int flags, ...) __attribute__((alias("openat")));
HIJACK int __open_2(const char* path, int flags) {
    return do_openat(AT_FDCWD, path, flags, 0, true);
}
HIJACK int __open64_2(const char* path, int flags) {
    return do_openat(AT_FDCWD, path, flags, 0, true);
}
HIJACK int __openat_2(int dirfd, const char* path, int flags) {
    return do_openat(dirfd, path, flags, 0, false);
}
HIJACK int __openat64_2(int dirfd, const char* path, int flags) {
    return do_openat(dirfd, path, flags, 0, false);
}
HIJACK int creat(const char* path, mode_t mode) {
    return do_openat(AT_FDCWD, path, O_CREAT | O_WRONLY | O_TRUNC, mode, true);
}
HIJACK int creat64(const char* path, mode_t mode) {
    return do_openat(AT_FDCWD, path, O_CREAT | O_WRONLY | O_TRUNC, mode, true);
}

HIJACK int close(int fd) {
    return do_close(fd);
}

HIJACK ssize_t read(int fd, void* buf, size_t n) {
    return fd_call(fd, HOST_CALL(read, fd, buf, n), AK_SYS_read, buf, n);
}
HIJACK ssize_t write(int fd, const void* buf, size_t n) {
    return fd_call(fd, HOST_CALL(write, fd, buf, n), AK_SYS_write, buf, n);
}
HIJACK ssize_t pread(int fd, void* buf, size_t n, off_t off) {
    return fd_call(fd, HOST_CALL(pread, fd, buf, n, off), AK_SYS_pread64, buf, n, off);
}
HIJACK ssize_t pread64(int fd, void* buf, size_t n, off64_t off) {
    return pread(fd, buf, n, off);
}
HIJACK ssize_t pwrite(int fd, const void* buf, size_t n, off_t off) {
    return fd_call(fd, HOST_CALL(pwrite, fd, buf, n, off), AK_SYS_pwrite64, buf, n, off);
}
HIJACK ssize_t pwrite64(int fd, const void* buf, size_t n, off64_t off) {
    return pwrite(fd, buf, n, off);
}
HIJACK ssize_t readv(int fd, const struct iovec* iov, int cnt) {
    return fd_call(fd, HOST_CALL(readv, fd, iov, cnt), AK_SYS_readv, iov, cnt);
}
HIJACK ssize_t writev(int fd, const struct iovec* iov, int cnt) {
    return fd_call(fd, HOST_CALL(writev, fd, iov, cnt), AK_SYS_writev, iov, cnt);
}
HIJACK off_t lseek(int fd, off_t off, int whence) {
    return fd_call(fd, HOST_CALL(lseek, fd, off, whence), AK_SYS_lseek, off, whence);
}
HIJACK off64_t lseek64(int fd, off64_t off, int whence) {
    return lseek(fd, off, whence);
}

// stat family (glibc >= 2.33 exports these; older binaries use __xstat & co).
HIJACK int stat(const char* path, struct stat* st) {
    return do_fstatat(AT_FDCWD, path, st, 0);
}
HIJACK int stat64(const char* path, struct stat64* st) {
    return do_fstatat(AT_FDCWD, path, reinterpret_cast<struct stat*>(st), 0);
}
HIJACK int lstat(const char* path, struct stat* st) {
    return do_fstatat(AT_FDCWD, path, st, AT_SYMLINK_NOFOLLOW);
}
HIJACK int lstat64(const char* path, struct stat64* st) {
    return do_fstatat(AT_FDCWD, path, reinterpret_cast<struct stat*>(st), AT_SYMLINK_NOFOLLOW);
}
HIJACK int fstat(int fd, struct stat* st) {
    return do_fstat(fd, st);
}
HIJACK int fstat64(int fd, struct stat64* st) {
    return do_fstat(fd, reinterpret_cast<struct stat*>(st));
}
HIJACK int fstatat(int dirfd, const char* path, struct stat* st, int flags) {
    return do_fstatat(dirfd, path, st, flags);
}
HIJACK int fstatat64(int dirfd, const char* path, struct stat64* st, int flags) {
    return do_fstatat(dirfd, path, reinterpret_cast<struct stat*>(st), flags);
}
HIJACK int __xstat(int, const char* path, struct stat* st) {
    return do_fstatat(AT_FDCWD, path, st, 0);
}
HIJACK int __xstat64(int, const char* path, struct stat* st) {
    return do_fstatat(AT_FDCWD, path, st, 0);
}
HIJACK int __lxstat(int, const char* path, struct stat* st) {
    return do_fstatat(AT_FDCWD, path, st, AT_SYMLINK_NOFOLLOW);
}
HIJACK int __lxstat64(int, const char* path, struct stat* st) {
    return do_fstatat(AT_FDCWD, path, st, AT_SYMLINK_NOFOLLOW);
}
HIJACK int __fxstat(int, int fd, struct stat* st) {
    return do_fstat(fd, st);
}
HIJACK int __fxstat64(int, int fd, struct stat* st) {
    return do_fstat(fd, st);
}
HIJACK int __fxstatat(int, int dirfd, const char* path, struct stat* st, int flags) {
    return do_fstatat(dirfd, path, st, flags);
}
HIJACK int __fxstatat64(int, int dirfd, const char* path, struct stat* st, int flags) {
    return do_fstatat(dirfd, path, st, flags);
}
HIJACK int statx(int dirfd, const char* path, int flags, unsigned mask, struct statx* buf) {
    path = opaque(path);
    int k = empty_path_kfd(dirfd, path, flags);
    if (k >= 0)
        return set_errno(ksys(AK_SYS_statx, k, P(""), flags, mask, P(buf)));
    return path_call(dirfd, path, HOST_CALL(statx, dirfd, path, flags, mask, buf), AK_SYS_statx,
                     flags, mask, buf);
}

HIJACK int access(const char* path, int mode) {
    return path_call(AT_FDCWD, path, HOST_CALL(access, path, mode), AK_SYS_faccessat, mode);
}
HIJACK int faccessat(int dirfd, const char* path, int mode, int flags) {
    return path_call(dirfd, path, HOST_CALL(faccessat, dirfd, path, mode, flags), AK_SYS_faccessat2,
                     mode, flags);
}
HIJACK int euidaccess(const char* path, int mode) {
    return faccessat(AT_FDCWD, path, mode, AT_EACCESS);
}
HIJACK int eaccess(const char* path, int mode) {
    return faccessat(AT_FDCWD, path, mode, AT_EACCESS);
}

HIJACK int mkdir(const char* path, mode_t mode) {
    return path_call(AT_FDCWD, path, HOST_CALL(mkdir, path, mode), AK_SYS_mkdirat, mode);
}
HIJACK int mkdirat(int dirfd, const char* path, mode_t mode) {
    return path_call(dirfd, path, HOST_CALL(mkdirat, dirfd, path, mode), AK_SYS_mkdirat, mode);
}
HIJACK int rmdir(const char* path) {
    return path_call(AT_FDCWD, path, HOST_CALL(rmdir, path), AK_SYS_unlinkat, AT_REMOVEDIR);
}
HIJACK int unlink(const char* path) {
    return path_call(AT_FDCWD, path, HOST_CALL(unlink, path), AK_SYS_unlinkat, 0);
}
HIJACK int unlinkat(int dirfd, const char* path, int flags) {
    return path_call(dirfd, path, HOST_CALL(unlinkat, dirfd, path, flags), AK_SYS_unlinkat, flags);
}
HIJACK int renameat2(int d1, const char* p1, int d2, const char* p2, unsigned flags) {
    return two_path_call(d1, p1, d2, p2, HOST_CALL(renameat2, d1, p1, d2, p2, flags),
                         AK_SYS_renameat2, flags);
}
HIJACK int renameat(int d1, const char* p1, int d2, const char* p2) {
    return renameat2(d1, p1, d2, p2, 0);
}
HIJACK int rename(const char* p1, const char* p2) {
    return renameat2(AT_FDCWD, p1, AT_FDCWD, p2, 0);
}
HIJACK int linkat(int d1, const char* p1, int d2, const char* p2, int flags) {
    return two_path_call(d1, p1, d2, p2, HOST_CALL(linkat, d1, p1, d2, p2, flags), AK_SYS_linkat,
                         flags);
}
HIJACK int link(const char* p1, const char* p2) {
    return linkat(AT_FDCWD, p1, AT_FDCWD, p2, 0);
}
HIJACK int symlinkat(const char* target, int dirfd, const char* path) {
    return path_dispatch(
        dirfd, path, HOST_CALL(symlinkat, target, dirfd, path), [=](const KPath& kp) {
            return set_errno(ksys(AK_SYS_symlinkat, P(target), kp.dirfd, P(kp.path)));
        });
}
HIJACK int symlink(const char* target, const char* path) {
    return symlinkat(target, AT_FDCWD, path);
}
HIJACK ssize_t readlinkat(int dirfd, const char* path, char* buf, size_t n) {
    return path_call(dirfd, path, HOST_CALL(readlinkat, dirfd, path, buf, n), AK_SYS_readlinkat,
                     buf, n);
}
HIJACK ssize_t readlink(const char* path, char* buf, size_t n) {
    return readlinkat(AT_FDCWD, path, buf, n);
}

HIJACK int fchmodat(int dirfd, const char* path, mode_t mode, int flags) {
    return path_dispatch(dirfd, path, HOST_CALL(fchmodat, dirfd, path, mode, flags),
                         [=](const KPath& kp) {
                             if (flags & AT_SYMLINK_NOFOLLOW) {
                                 errno = EOPNOTSUPP; // as Linux: symlinks have no mode
                                 return -1;
                             }
                             return set_errno(ksys(AK_SYS_fchmodat, kp.dirfd, P(kp.path), mode));
                         });
}
HIJACK int chmod(const char* path, mode_t mode) {
    return fchmodat(AT_FDCWD, path, mode, 0);
}
HIJACK int fchmod(int fd, mode_t mode) {
    return fd_call(fd, HOST_CALL(fchmod, fd, mode), AK_SYS_fchmod, mode);
}
HIJACK int fchownat(int dirfd, const char* path, uid_t u, gid_t g, int flags) {
    path = opaque(path);
    int k = empty_path_kfd(dirfd, path, flags);
    if (k >= 0)
        return set_errno(ksys(AK_SYS_fchown, k, u, g));
    return path_call(dirfd, path, HOST_CALL(fchownat, dirfd, path, u, g, flags), AK_SYS_fchownat, u,
                     g, flags);
}
HIJACK int chown(const char* path, uid_t u, gid_t g) {
    return fchownat(AT_FDCWD, path, u, g, 0);
}
HIJACK int lchown(const char* path, uid_t u, gid_t g) {
    return fchownat(AT_FDCWD, path, u, g, AT_SYMLINK_NOFOLLOW);
}
HIJACK int fchown(int fd, uid_t u, gid_t g) {
    return fd_call(fd, HOST_CALL(fchown, fd, u, g), AK_SYS_fchown, u, g);
}

HIJACK int truncate(const char* path, off_t len) {
    return cwd_path_call(path, HOST_CALL(truncate, path, len), AK_SYS_truncate, len);
}
HIJACK int truncate64(const char* path, off64_t len) {
    return truncate(path, len);
}
HIJACK int ftruncate(int fd, off_t len) {
    return fd_call(fd, HOST_CALL(ftruncate, fd, len), AK_SYS_ftruncate, len);
}
HIJACK int ftruncate64(int fd, off64_t len) {
    return ftruncate(fd, len);
}
HIJACK int fsync(int fd) {
    return fd_call(fd, HOST_CALL(fsync, fd), AK_SYS_fsync);
}
HIJACK int fdatasync(int fd) {
    return fd_call(fd, HOST_CALL(fdatasync, fd), AK_SYS_fdatasync);
}

HIJACK int dup(int fd) {
    int k = kfd_of(fd);
    if (k < 0)
        return HOST(dup)(fd);
    return dup_pair(ksys(AK_SYS_dup, k), HOST_CALL(dup, fd));
}

HIJACK int dup3(int fd, int newfd, int flags) {
    if (akc_is_internal_fd(newfd)) {
        errno = EBADF;
        return -1;
    }
    auto host_dup = [=] { return flags ? HOST(dup3)(fd, newfd, flags) : HOST(dup2)(fd, newfd); };
    int k = kfd_of(fd);
    int knew = kfd_of(newfd);
    if (k < 0) {
        int r = host_dup();
        if (r >= 0 && knew >= 0) {
            map_set(newfd, -1);
            ksys(AK_SYS_close, knew);
        }
        return r;
    }
    if (fd == newfd) {
        if (flags) {
            errno = EINVAL;
            return -1;
        }
        return newfd;
    }
    long k2 = ksys(AK_SYS_fcntl, k, (flags & O_CLOEXEC) ? F_DUPFD_CLOEXEC : F_DUPFD, 0);
    int r = dup_pair(k2, host_dup);
    if (r >= 0 && knew >= 0)
        ksys(AK_SYS_close, knew);
    return r;
}
HIJACK int dup2(int fd, int newfd) {
    if (kfd_of(fd) < 0 && kfd_of(newfd) < 0 && !akc_is_internal_fd(newfd))
        return HOST(dup2)(fd, newfd);
    return dup3(fd, newfd, 0);
}

static int do_fcntl(int fd, int cmd, long arg) {
    int k = kfd_of(fd);
    if (k < 0)
        return HOST(fcntl)(fd, cmd, arg);
    switch (cmd) {
    case F_DUPFD:
    case F_DUPFD_CLOEXEC:
        return dup_pair(ksys(AK_SYS_fcntl, k, cmd, 0), HOST_CALL(fcntl, fd, cmd, arg));
    case F_SETFD: {
        long r = ksys(AK_SYS_fcntl, k, cmd, arg);
        if (r >= 0)
            HOST(fcntl)(fd, cmd, arg); // keep the placeholder's flag in step (exec)
        return set_errno(r);
    }
    case F_GETFD:
    case F_GETFL:
    case F_SETFL:
        return set_errno(ksys(AK_SYS_fcntl, k, cmd, arg));
    default:
        // Locks and the rest take pointers or are not in the kernel yet.
        errno = EINVAL;
        return -1;
    }
}

HIJACK int fcntl(int fd, int cmd, ...) {
    va_list ap;
    va_start(ap, cmd);
    long arg = va_arg(ap, long);
    va_end(ap);
    return do_fcntl(fd, cmd, arg);
}
HIJACK int fcntl64(int fd, int cmd, ...) __attribute__((alias("fcntl")));

HIJACK int ioctl(int fd, unsigned long request, ...) {
    va_list ap;
    va_start(ap, request);
    void* arg = va_arg(ap, void*);
    va_end(ap);
    return fd_dispatch(fd, HOST_CALL(ioctl, fd, request, arg), [=](int k) {
        long r = ksys(AK_SYS_ioctl, k, static_cast<long>(request), P(arg));
        if (r >= 0 && (request == FIOCLEX || request == FIONCLEX))
            HOST(fcntl)(fd, F_SETFD, request == FIOCLEX ? FD_CLOEXEC : 0);
        return set_errno(r);
    });
}

// Copy offload between descriptors: refused for kernel descriptors, so
// programs (cp) fall back to read and write.
HIJACK ssize_t copy_file_range(int in, off64_t* oin, int out, off64_t* oout, size_t n,
                               unsigned flags) {
    return host_only(is_kernel_fd(in) || is_kernel_fd(out), EXDEV,
                     HOST_CALL(copy_file_range, in, oin, out, oout, n, flags));
}
HIJACK ssize_t sendfile(int out, int in, off_t* off, size_t n) {
    return host_only(is_kernel_fd(in) || is_kernel_fd(out), EINVAL,
                     HOST_CALL(sendfile, out, in, off, n));
}
HIJACK ssize_t sendfile64(int out, int in, off64_t* off, size_t n) {
    return sendfile(out, in, off, n);
}
HIJACK int posix_fadvise(int fd, off_t off, off_t len, int advice) {
    if (is_kernel_fd(fd))
        return 0; // advice only
    return HOST(posix_fadvise)(fd, off, len, advice);
}
HIJACK int posix_fadvise64(int fd, off64_t off, off64_t len, int advice) {
    return posix_fadvise(fd, off, len, advice);
}

// No extended attributes in the kernel yet.
HIJACK ssize_t getxattr(const char* path, const char* name, void* v, size_t n) {
    return host_only(is_kernel_path(path), ENOTSUP, HOST_CALL(getxattr, path, name, v, n));
}
HIJACK ssize_t lgetxattr(const char* path, const char* name, void* v, size_t n) {
    return host_only(is_kernel_path(path), ENOTSUP, HOST_CALL(lgetxattr, path, name, v, n));
}
HIJACK ssize_t listxattr(const char* path, char* l, size_t n) {
    return host_only(is_kernel_path(path), ENOTSUP, HOST_CALL(listxattr, path, l, n));
}
HIJACK ssize_t llistxattr(const char* path, char* l, size_t n) {
    return host_only(is_kernel_path(path), ENOTSUP, HOST_CALL(llistxattr, path, l, n));
}
HIJACK int setxattr(const char* path, const char* name, const void* v, size_t n, int f) {
    return host_only(is_kernel_path(path), ENOTSUP, HOST_CALL(setxattr, path, name, v, n, f));
}
HIJACK int lsetxattr(const char* path, const char* name, const void* v, size_t n, int f) {
    return host_only(is_kernel_path(path), ENOTSUP, HOST_CALL(lsetxattr, path, name, v, n, f));
}
HIJACK ssize_t fgetxattr(int fd, const char* name, void* v, size_t n) {
    return host_only(is_kernel_fd(fd), ENOTSUP, HOST_CALL(fgetxattr, fd, name, v, n));
}
HIJACK ssize_t flistxattr(int fd, char* l, size_t n) {
    return host_only(is_kernel_fd(fd), ENOTSUP, HOST_CALL(flistxattr, fd, l, n));
}
HIJACK int fsetxattr(int fd, const char* name, const void* v, size_t n, int f) {
    return host_only(is_kernel_fd(fd), ENOTSUP, HOST_CALL(fsetxattr, fd, name, v, n, f));
}

// Working directory: inside the kernel once chdir lands under the prefix.
HIJACK int chdir(const char* path) {
    KPath kp;
    if (!classify(AT_FDCWD, path, kp))
        return cwd_moved(false, HOST(chdir)(path));
    if (kp.dirfd != AT_FDCWD) {
        errno = ENOSYS;
        return -1;
    }
    return cwd_moved(true, set_errno(ksys(AK_SYS_chdir, P(kp.path))));
}
HIJACK int fchdir(int fd) {
    return fd_dispatch(
        fd, [=] { return cwd_moved(false, HOST(fchdir)(fd)); },
        [](int k) { return cwd_moved(true, set_errno(ksys(AK_SYS_fchdir, k))); });
}
HIJACK char* getcwd(char* buf, size_t size) {
    if (!g_cwd_kernel.load())
        return HOST(getcwd)(buf, size);
    char kbuf[PATH_MAX];
    long r = ksys(AK_SYS_getcwd, P(kbuf), sizeof kbuf);
    if (r < 0) {
        errno = static_cast<int>(-r);
        return nullptr;
    }
    char full[PATH_MAX + 256];
    int n =
        g_prefix_len && strcmp(kbuf, "/") == 0
            ? snprintf(full, sizeof full, "%s", g_prefix)
            : snprintf(full, sizeof full, "%.*s%s", static_cast<int>(g_prefix_len), g_prefix, kbuf);
    size_t need = static_cast<size_t>(n) + 1;
    if (!buf) {
        size_t cap = size ? size : need;
        if (cap < need) {
            errno = ERANGE;
            return nullptr;
        }
        buf = static_cast<char*>(malloc(cap));
        if (!buf) {
            errno = ENOMEM;
            return nullptr;
        }
    } else if (size < need) {
        errno = ERANGE;
        return nullptr;
    }
    memcpy(buf, full, need);
    return buf;
}
HIJACK char* get_current_dir_name(void) {
    return getcwd(nullptr, 0);
}

// Directory streams: glibc's opendir and readdir use internal calls that
// cannot be interposed, so kernel directories get streams of our own.
HIJACK DIR* fdopendir(int fd) {
    return fd_dispatch(fd, HOST_CALL(fdopendir, fd), [=](int k) -> DIR* {
        struct stat st;
        long r = ksys(AK_SYS_fstat, k, P(&st));
        if (r < 0) {
            errno = static_cast<int>(-r);
            return nullptr;
        }
        if (!S_ISDIR(st.st_mode)) {
            errno = ENOTDIR;
            return nullptr;
        }
        return kdir_open_fd(fd, k);
    });
}
HIJACK DIR* opendir(const char* path) {
    if (!is_kernel_path(path))
        return HOST(opendir)(path);
    int fd = do_openat(AT_FDCWD, path, O_RDONLY | O_DIRECTORY | O_CLOEXEC, 0, false);
    if (fd < 0)
        return nullptr;
    DIR* d = kdir_open_fd(fd, kfd_of(fd));
    if (!d) {
        int e = errno;
        do_close(fd);
        errno = e;
    }
    return d;
}
HIJACK struct dirent* readdir(DIR* dir) {
    return dir_dispatch(dir, HOST_CALL(readdir, dir),
                        [](KDir* d) { return reinterpret_cast<struct dirent*>(kdir_read(d)); });
}
HIJACK struct dirent64* readdir64(DIR* dir) {
    return dir_dispatch(dir, HOST_CALL(readdir64, dir), kdir_read);
}
HIJACK int closedir(DIR* dir) {
    return dir_dispatch(dir, HOST_CALL(closedir, dir), kdir_close);
}
HIJACK int dirfd(DIR* dir) {
    return dir_dispatch(dir, HOST_CALL(dirfd, dir), [](KDir* d) { return d->hfd; });
}
HIJACK void rewinddir(DIR* dir) {
    dir_dispatch(dir, HOST_CALL(rewinddir, dir), kdir_rewind);
}

// Times.
HIJACK int utimensat(int dirfd, const char* path, const struct timespec t[2], int flags) {
    path = opaque(path);
    auto host = HOST_CALL(utimensat, dirfd, path, t, flags);
    if (!path) // futimens: times of dirfd itself
        return fd_call(dirfd, host, AK_SYS_utimensat, nullptr, t, flags);
    return path_call(dirfd, path, host, AK_SYS_utimensat, t, flags);
}
HIJACK int futimens(int fd, const struct timespec t[2]) {
    return fd_call(fd, HOST_CALL(futimens, fd, t), AK_SYS_utimensat, nullptr, t, 0);
}
HIJACK int utimes(const char* path, const struct timeval tv[2]) {
    struct timespec ts[2];
    if (tv) {
        for (int i = 0; i < 2; i++) {
            ts[i].tv_sec = tv[i].tv_sec;
            ts[i].tv_nsec = tv[i].tv_usec * 1000;
        }
    }
    return path_call(AT_FDCWD, path, HOST_CALL(utimes, path, tv), AK_SYS_utimensat,
                     tv ? ts : nullptr, 0);
}
HIJACK int utime(const char* path, const struct utimbuf* ub) {
    struct timespec ts[2];
    if (ub) {
        ts[0] = {ub->actime, 0};
        ts[1] = {ub->modtime, 0};
    }
    return path_call(AT_FDCWD, path, HOST_CALL(utime, path, ub), AK_SYS_utimensat,
                     ub ? ts : nullptr, 0);
}

HIJACK int statfs(const char* path, struct statfs* buf) {
    return cwd_path_call(path, HOST_CALL(statfs, path, buf), AK_SYS_statfs, buf);
}
HIJACK int statfs64(const char* path, struct statfs64* buf) {
    return statfs(path, reinterpret_cast<struct statfs*>(buf));
}
HIJACK int fstatfs(int fd, struct statfs* buf) {
    return fd_call(fd, HOST_CALL(fstatfs, fd, buf), AK_SYS_fstatfs, buf);
}
HIJACK int fstatfs64(int fd, struct statfs64* buf) {
    return fstatfs(fd, reinterpret_cast<struct statfs*>(buf));
}

// stdio on kernel files: glibc's fopen opens internally, so kernel files
// get cookie streams (fileno() of such a stream is -1).
HIJACK FILE* fopen(const char* path, const char* mode) {
    if (!is_kernel_path(path))
        return HOST(fopen)(path, mode);
    int flags = fopen_flags(mode);
    if (flags < 0) {
        errno = EINVAL;
        return nullptr;
    }
    int fd = do_openat(AT_FDCWD, path, flags, 0666, false);
    if (fd < 0)
        return nullptr;
    FILE* f = kernel_stream(fd, mode);
    if (!f)
        do_close(fd);
    return f;
}
HIJACK FILE* fopen64(const char* path, const char* mode) {
    return fopen(path, mode);
}
HIJACK FILE* fdopen(int fd, const char* mode) {
    if (!is_kernel_fd(fd))
        return HOST(fdopen)(fd, mode);
    return kernel_stream(fd, mode);
}

// exec: hand the kernel process and the descriptor map to the new image.
HIJACK int execve(const char* path, char* const argv[], char* const envp[]) {
    return exec_with_state(envp, [=](char* const* env) { return HOST(execve)(path, argv, env); });
}
HIJACK int execvpe(const char* file, char* const argv[], char* const envp[]) {
    return exec_with_state(envp, [=](char* const* env) { return HOST(execvpe)(file, argv, env); });
}
HIJACK int execv(const char* path, char* const argv[]) {
    return execve(path, argv, environ);
}
HIJACK int execvp(const char* file, char* const argv[]) {
    return execvpe(file, argv, environ);
}

// execl, execlp, execle: the list becomes an argv in memory from mmap (safe
// after vfork).  NULL: no memory.
static char** collect_args(const char* arg0, va_list ap, char*** envp_out) {
    va_list count;
    va_copy(count, ap);
    size_t n = 1;
    while (va_arg(count, char*))
        n++;
    va_end(count);
    char** argv = static_cast<char**>(mmap(nullptr, (n + 1) * sizeof(char*), PROT_READ | PROT_WRITE,
                                           MAP_PRIVATE | MAP_ANONYMOUS, -1, 0));
    if (argv == MAP_FAILED) {
        errno = ENOMEM;
        return nullptr;
    }
    argv[0] = const_cast<char*>(arg0);
    for (size_t i = 1; i < n; i++)
        argv[i] = va_arg(ap, char*);
    argv[n] = nullptr;
    (void)va_arg(ap, char*); // the terminating NULL
    if (envp_out)
        *envp_out = va_arg(ap, char**);
    return argv;
}
HIJACK int execl(const char* path, const char* arg, ...) {
    va_list ap;
    va_start(ap, arg);
    char** argv = collect_args(arg, ap, nullptr);
    va_end(ap);
    return argv ? execve(path, argv, environ) : -1;
}
HIJACK int execlp(const char* file, const char* arg, ...) {
    va_list ap;
    va_start(ap, arg);
    char** argv = collect_args(arg, ap, nullptr);
    va_end(ap);
    return argv ? execvpe(file, argv, environ) : -1;
}
HIJACK int execle(const char* path, const char* arg, ...) {
    va_list ap;
    va_start(ap, arg);
    char** envp = nullptr;
    char** argv = collect_args(arg, ap, &envp);
    va_end(ap);
    return argv ? execve(path, argv, envp) : -1;
}

// --- Sockets (AK_HIJACK=sockets=inet|unix|all) ------------------------------------------
//
// New sockets of the chosen families are made in the kernel; every call on
// their placeholders goes there.  poll/select/epoll over kernel descriptors
// run in the kernel; over a mix of host and kernel descriptors they
// alternate between the two sides (docs/hijack.md).

namespace {

bool want_socket(int domain) {
    switch (g_sockets) {
    case k_sockets_inet:
        return domain == AF_INET;
    case k_sockets_unix:
        return domain == AF_UNIX;
    case k_sockets_all:
        return domain == AF_INET || domain == AF_UNIX;
    default:
        return false;
    }
}

// The protocol carries at most k_max_data per call: a larger send is a
// short send, a larger receive a short one, which callers handle anyway.
constexpr size_t k_max_io = 1u << 20;
size_t clamp_io(size_t n) {
    return n > k_max_io ? k_max_io : n;
}

int64_t now_ms() {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return static_cast<int64_t>(ts.tv_sec) * 1000 + ts.tv_nsec / 1000000;
}

// How long the kernel side of a mixed wait blocks before the host side is
// looked at again (the host side's added latency).
constexpr int k_mixed_slice_ms = 10;

int do_poll(struct pollfd* fds, nfds_t n, int timeout) {
    nfds_t nk = 0;
    for (nfds_t i = 0; i < n; i++)
        if (is_kernel_fd(fds[i].fd))
            nk++;
    if (nk == 0)
        return HOST(poll)(fds, n, timeout);
    struct pollfd* kfds = static_cast<struct pollfd*>(calloc(n, sizeof *kfds));
    struct pollfd* hfds = static_cast<struct pollfd*>(calloc(n, sizeof *hfds));
    if (!kfds || !hfds) {
        free(kfds);
        free(hfds);
        errno = ENOMEM;
        return -1;
    }
    // Kernel entries keep their positions in kfds (others get fd -1, which
    // poll ignores); host entries likewise in hfds.
    for (nfds_t i = 0; i < n; i++) {
        int k = kfd_of(fds[i].fd);
        kfds[i] = {k >= 0 ? k : -1, fds[i].events, 0};
        hfds[i] = {k >= 0 ? -1 : fds[i].fd, fds[i].events, 0};
    }
    bool mixed = nk < n;
    int64_t deadline = timeout < 0 ? -1 : now_ms() + timeout;
    int ready = 0;
    for (;;) {
        int hready = 0;
        if (mixed) {
            hready = HOST(poll)(hfds, n, 0);
            if (hready < 0)
                break;
        }
        int slice = timeout;
        if (mixed || timeout > 0) {
            int64_t left = deadline < 0 ? k_mixed_slice_ms : deadline - now_ms();
            if (left < 0)
                left = 0;
            slice = static_cast<int>(mixed && left > k_mixed_slice_ms ? k_mixed_slice_ms : left);
        }
        if (hready > 0)
            slice = 0;
        long kready = ksys(AK_SYS_poll, P(kfds), static_cast<long>(n), slice);
        if (kready < 0) {
            ready = set_errno(kready);
            break;
        }
        if (hready > 0 || kready > 0 || (deadline >= 0 && now_ms() >= deadline) ||
            (!mixed && timeout >= 0)) {
            ready = 0;
            for (nfds_t i = 0; i < n; i++) {
                fds[i].revents = kfd_of(fds[i].fd) >= 0 ? kfds[i].revents : hfds[i].revents;
                if (fds[i].revents)
                    ready++;
            }
            break;
        }
    }
    free(kfds);
    free(hfds);
    return ready;
}

int timeout_ms(const struct timespec* ts) {
    if (!ts)
        return -1;
    long long ms = static_cast<long long>(ts->tv_sec) * 1000 + (ts->tv_nsec + 999999) / 1000000;
    return ms > INT32_MAX ? INT32_MAX : static_cast<int>(ms);
}

// select through poll: each set bit becomes a pollfd.
int do_select(int nfds, fd_set* r, fd_set* w, fd_set* e, int timeout) {
    if (nfds < 0 || nfds > FD_SETSIZE) {
        errno = EINVAL;
        return -1;
    }
    struct pollfd pfd[FD_SETSIZE];
    int n = 0;
    for (int fd = 0; fd < nfds; fd++) {
        short ev = 0;
        if (r && FD_ISSET(fd, r))
            ev |= POLLIN;
        if (w && FD_ISSET(fd, w))
            ev |= POLLOUT;
        if (e && FD_ISSET(fd, e))
            ev |= POLLPRI;
        if (ev)
            pfd[n++] = {fd, ev, 0};
    }
    int got = do_poll(pfd, static_cast<nfds_t>(n), timeout);
    if (got < 0)
        return -1;
    if (r)
        FD_ZERO(r);
    if (w)
        FD_ZERO(w);
    if (e)
        FD_ZERO(e);
    int count = 0;
    for (int i = 0; i < n; i++) {
        short re = pfd[i].revents;
        if (re & POLLNVAL) {
            errno = EBADF;
            return -1;
        }
        if (r && (re & (POLLIN | POLLHUP | POLLERR)) && (pfd[i].events & POLLIN)) {
            FD_SET(pfd[i].fd, r);
            count++;
        }
        if (w && (re & (POLLOUT | POLLERR)) && (pfd[i].events & POLLOUT)) {
            FD_SET(pfd[i].fd, w);
            count++;
        }
        if (e && (re & POLLPRI) && (pfd[i].events & POLLPRI)) {
            FD_SET(pfd[i].fd, e);
            count++;
        }
    }
    return count;
}

bool any_kernel_fd(int nfds, fd_set* r, fd_set* w, fd_set* e) {
    for (int fd = 0; fd < nfds && fd < FD_SETSIZE; fd++)
        if (((r && FD_ISSET(fd, r)) || (w && FD_ISSET(fd, w)) || (e && FD_ISSET(fd, e))) &&
            kfd_of(fd) >= 0)
            return true;
    return false;
}

int kernel_epoll_of(int epfd, bool create) {
    if (!g_epmap || epfd < 0 || epfd >= g_fdmax)
        return -1;
    int kep = g_epmap[epfd].load() - 1;
    if (kep >= 0 || !create)
        return kep;
    long r = ksys(AK_SYS_epoll_create1, 0);
    if (r < 0)
        return set_errno(r);
    int expected = 0;
    if (!g_epmap[epfd].compare_exchange_strong(expected, static_cast<int>(r) + 1)) {
        ksys(AK_SYS_close, r);
        return expected - 1;
    }
    return static_cast<int>(r);
}

} // namespace

HIJACK int socket(int domain, int type, int protocol) {
    if (!want_socket(domain))
        return HOST(socket)(domain, type, protocol);
    return new_placeholder(ksys(AK_SYS_socket, domain, type, protocol), type & SOCK_CLOEXEC);
}

HIJACK int socketpair(int domain, int type, int protocol, int sv[2]) {
    if (!want_socket(domain))
        return HOST(socketpair)(domain, type, protocol, sv);
    int ksv[2];
    long r = ksys(AK_SYS_socketpair, domain, type, protocol, P(ksv));
    if (r < 0)
        return set_errno(r);
    int h0 = make_placeholder(ksv[0], type & SOCK_CLOEXEC);
    if (h0 < 0) {
        ksys(AK_SYS_close, ksv[1]);
        return -1;
    }
    int h1 = make_placeholder(ksv[1], type & SOCK_CLOEXEC);
    if (h1 < 0) {
        int e = errno;
        do_close(h0);
        errno = e;
        return -1;
    }
    sv[0] = h0;
    sv[1] = h1;
    return 0;
}

HIJACK int connect(int fd, const struct sockaddr* a, socklen_t len) {
    return fd_call(fd, HOST_CALL(connect, fd, a, len), AK_SYS_connect, a, len);
}
HIJACK int bind(int fd, const struct sockaddr* a, socklen_t len) {
    return fd_call(fd, HOST_CALL(bind, fd, a, len), AK_SYS_bind, a, len);
}
HIJACK int listen(int fd, int backlog) {
    return fd_call(fd, HOST_CALL(listen, fd, backlog), AK_SYS_listen, backlog);
}
HIJACK int shutdown(int fd, int how) {
    return fd_call(fd, HOST_CALL(shutdown, fd, how), AK_SYS_shutdown, how);
}
HIJACK int accept4(int fd, struct sockaddr* a, socklen_t* len, int flags) {
    return fd_dispatch(fd, HOST_CALL(accept4, fd, a, len, flags), [=](int k) {
        return new_placeholder(ksys(AK_SYS_accept4, k, P(a), P(len), flags), flags & SOCK_CLOEXEC);
    });
}
HIJACK int accept(int fd, struct sockaddr* a, socklen_t* len) {
    return accept4(fd, a, len, 0);
}
HIJACK int getsockname(int fd, struct sockaddr* a, socklen_t* len) {
    return fd_call(fd, HOST_CALL(getsockname, fd, a, len), AK_SYS_getsockname, a, len);
}
HIJACK int getpeername(int fd, struct sockaddr* a, socklen_t* len) {
    return fd_call(fd, HOST_CALL(getpeername, fd, a, len), AK_SYS_getpeername, a, len);
}
HIJACK int getsockopt(int fd, int level, int name, void* val, socklen_t* len) {
    return fd_call(fd, HOST_CALL(getsockopt, fd, level, name, val, len), AK_SYS_getsockopt, level,
                   name, val, len);
}
HIJACK int setsockopt(int fd, int level, int name, const void* val, socklen_t len) {
    return fd_call(fd, HOST_CALL(setsockopt, fd, level, name, val, len), AK_SYS_setsockopt, level,
                   name, val, len);
}
HIJACK ssize_t sendto(int fd, const void* buf, size_t n, int flags, const struct sockaddr* a,
                      socklen_t len) {
    return fd_call(fd, HOST_CALL(sendto, fd, buf, n, flags, a, len), AK_SYS_sendto, buf,
                   clamp_io(n), flags, a, len);
}
HIJACK ssize_t send(int fd, const void* buf, size_t n, int flags) {
    return fd_call(fd, HOST_CALL(send, fd, buf, n, flags), AK_SYS_sendto, buf, clamp_io(n), flags,
                   nullptr, 0);
}
HIJACK ssize_t recvfrom(int fd, void* buf, size_t n, int flags, struct sockaddr* a,
                        socklen_t* len) {
    return fd_call(fd, HOST_CALL(recvfrom, fd, buf, n, flags, a, len), AK_SYS_recvfrom, buf,
                   clamp_io(n), flags, a, len);
}
HIJACK ssize_t recv(int fd, void* buf, size_t n, int flags) {
    return fd_call(fd, HOST_CALL(recv, fd, buf, n, flags), AK_SYS_recvfrom, buf, clamp_io(n), flags,
                   nullptr, nullptr);
}
HIJACK ssize_t __recv_chk(int fd, void* buf, size_t n, size_t, int flags) {
    return recv(fd, buf, n, flags);
}
HIJACK ssize_t __recvfrom_chk(int fd, void* buf, size_t n, size_t, int flags, struct sockaddr* a,
                              socklen_t* len) {
    return recvfrom(fd, buf, n, flags, a, len);
}
HIJACK ssize_t sendmsg(int fd, const struct msghdr* m, int flags) {
    return fd_call(fd, HOST_CALL(sendmsg, fd, m, flags), AK_SYS_sendmsg, m, flags);
}
HIJACK ssize_t recvmsg(int fd, struct msghdr* m, int flags) {
    return fd_call(fd, HOST_CALL(recvmsg, fd, m, flags), AK_SYS_recvmsg, m, flags);
}

HIJACK int poll(struct pollfd* fds, nfds_t n, int timeout) {
    return do_poll(fds, n, timeout);
}
HIJACK int __poll_chk(struct pollfd* fds, nfds_t n, int timeout, size_t) {
    return do_poll(fds, n, timeout);
}
HIJACK int ppoll(struct pollfd* fds, nfds_t n, const struct timespec* ts, const sigset_t* mask) {
    bool kernel = false;
    for (nfds_t i = 0; i < n && !kernel; i++)
        kernel = is_kernel_fd(fds[i].fd);
    if (!kernel)
        return HOST(ppoll)(fds, n, ts, mask);
    // The signal mask is not applied around a kernel wait (docs/hijack.md).
    return do_poll(fds, n, timeout_ms(ts));
}
HIJACK int select(int nfds, fd_set* r, fd_set* w, fd_set* e, struct timeval* tv) {
    if (!any_kernel_fd(nfds, r, w, e))
        return HOST(select)(nfds, r, w, e, tv);
    int ms = -1;
    if (tv) {
        long long v = static_cast<long long>(tv->tv_sec) * 1000 + (tv->tv_usec + 999) / 1000;
        ms = v > INT32_MAX ? INT32_MAX : static_cast<int>(v);
    }
    return do_select(nfds, r, w, e, ms);
}
HIJACK int pselect(int nfds, fd_set* r, fd_set* w, fd_set* e, const struct timespec* ts,
                   const sigset_t* mask) {
    if (!any_kernel_fd(nfds, r, w, e))
        return HOST(pselect)(nfds, r, w, e, ts, mask);
    return do_select(nfds, r, w, e, timeout_ms(ts));
}

// epoll: a host epoll descriptor gets a companion kernel epoll for the
// kernel descriptors registered with it.
HIJACK int epoll_ctl(int epfd, int op, int fd, struct epoll_event* ev) {
    return fd_dispatch(fd, HOST_CALL(epoll_ctl, epfd, op, fd, ev), [=](int k) {
        int kep = kernel_epoll_of(epfd, op == EPOLL_CTL_ADD);
        if (kep < 0) {
            errno = op == EPOLL_CTL_ADD ? errno : ENOENT;
            return -1;
        }
        return set_errno(ksys(AK_SYS_epoll_ctl, kep, op, k, P(ev)));
    });
}

namespace {

int do_epoll_wait(int epfd, struct epoll_event* ev, int max, int timeout) {
    int kep = kernel_epoll_of(epfd, false);
    if (kep < 0)
        return HOST(epoll_wait)(epfd, ev, max, timeout);
    if (max <= 0) {
        errno = EINVAL;
        return -1;
    }
    int64_t deadline = timeout < 0 ? -1 : now_ms() + timeout;
    // The host side may hold descriptors too: alternate, as poll does.
    for (;;) {
        int h = HOST(epoll_wait)(epfd, ev, max, 0);
        if (h != 0)
            return h;
        int64_t left = deadline < 0 ? k_mixed_slice_ms : deadline - now_ms();
        if (left < 0)
            left = 0;
        int slice = static_cast<int>(left > k_mixed_slice_ms ? k_mixed_slice_ms : left);
        long r = ksys(AK_SYS_epoll_wait, kep, P(ev), max, slice);
        if (r != 0)
            return set_errno(r);
        if (deadline >= 0 && now_ms() >= deadline)
            return 0;
    }
}

} // namespace

HIJACK int epoll_wait(int epfd, struct epoll_event* ev, int max, int timeout) {
    return do_epoll_wait(epfd, ev, max, timeout);
}
HIJACK int epoll_pwait(int epfd, struct epoll_event* ev, int max, int timeout,
                       const sigset_t* mask) {
    if (kernel_epoll_of(epfd, false) < 0)
        return HOST(epoll_pwait)(epfd, ev, max, timeout, mask);
    return do_epoll_wait(epfd, ev, max, timeout);
}
