// libakclient: the ak_sys_* API over a connection to ak-server
// (docs/remote-protocol.md).  One request in flight per connection; each
// thread of the program has its own connection to the session's kernel
// process, so calls never wait for each other here.
#include "akproto.h"

#include <anykern/akclient.h>
#include <anykern/anykern.h>

#include <errno.h>
#include <fcntl.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include <new>

#define AK_API extern "C" __attribute__((visibility("default")))

using namespace akproto;

namespace {

constexpr size_t k_buf_size = k_max_body + sizeof(FrameHeader) + 64;

struct Conn {
    int fd = -1;
    int kpid = -1;
    uint8_t* tx = nullptr;
    uint8_t* rx = nullptr;
    Conn* next = nullptr; // the default session's list
};

} // namespace

struct akc_session {
    Url url;
    char url_text[512];
    int kpid = -1;
    uint8_t key[k_token_size];
    Conn* main = nullptr;
    pthread_mutex_t lock = PTHREAD_MUTEX_INITIALIZER; // explicit sessions: one call at a time
};

namespace {

// --- Connections ---------------------------------------------------------------

// Library sockets, so the hijack library can protect them.
constexpr int k_max_internal = 64;
int g_internal_fds[k_max_internal];
int g_internal_init = [] {
    for (int& f : g_internal_fds)
        f = -1;
    return 0;
}();

void track_internal(int fd, bool on) {
    for (int& f : g_internal_fds) {
        int expect = on ? -1 : fd;
        if (__atomic_compare_exchange_n(&f, &expect, on ? fd : -1, false, __ATOMIC_SEQ_CST,
                                        __ATOMIC_SEQ_CST))
            return;
    }
}

void say(const char* fmt, ...) __attribute__((format(printf, 1, 2)));
void say(const char* fmt, ...) {
    char line[768];
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(line, sizeof line - 1, fmt, ap);
    va_end(ap);
    if (n < 0)
        return;
    if (static_cast<size_t>(n) > sizeof line - 2)
        n = sizeof line - 2;
    line[n++] = '\n';
    ssize_t w = write(2, line, static_cast<size_t>(n));
    (void)w;
}

void conn_free(Conn* c) {
    if (!c)
        return;
    if (c->fd >= 0) {
        track_internal(c->fd, false);
        close(c->fd);
    }
    free(c->tx);
    free(c->rx);
    delete c;
}

// Keep library sockets out of the low descriptor numbers programs expect
// to get from open().
int move_high(int fd) {
    struct rlimit rl;
    int base = 512;
    if (getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur != RLIM_INFINITY) {
        if (rl.rlim_cur >= 1024)
            base = static_cast<int>(rl.rlim_cur) - 256;
        else
            base = static_cast<int>(rl.rlim_cur / 2);
    }
    int nfd = fcntl(fd, F_DUPFD_CLOEXEC, base);
    if (nfd < 0)
        return fd;
    close(fd);
    return nfd;
}

int open_socket(const Url& url) {
    if (url.is_unix) {
        int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
        if (fd < 0)
            return -errno;
        sockaddr_un sa{};
        sa.sun_family = AF_UNIX;
        memcpy(sa.sun_path, url.path, strlen(url.path) + 1);
        if (connect(fd, reinterpret_cast<sockaddr*>(&sa), sizeof sa) < 0) {
            int e = errno;
            close(fd);
            return -e;
        }
        return move_high(fd);
    }
    addrinfo hints{};
    hints.ai_socktype = SOCK_STREAM;
    addrinfo* res = nullptr;
    int gai = getaddrinfo(url.host, url.port, &hints, &res);
    if (gai != 0)
        return -EHOSTUNREACH;
    int err = ECONNREFUSED;
    for (addrinfo* a = res; a; a = a->ai_next) {
        int fd = socket(a->ai_family, a->ai_socktype | SOCK_CLOEXEC, a->ai_protocol);
        if (fd < 0) {
            err = errno;
            continue;
        }
        if (connect(fd, a->ai_addr, a->ai_addrlen) == 0) {
            int one = 1;
            setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
            freeaddrinfo(res);
            return move_high(fd);
        }
        err = errno;
        close(fd);
    }
    freeaddrinfo(res);
    return -err;
}

bool send_all(int fd, const uint8_t* p, size_t n) {
    while (n > 0) {
        ssize_t w = send(fd, p, n, MSG_NOSIGNAL);
        if (w < 0) {
            if (errno == EINTR)
                continue;
            return false;
        }
        p += w;
        n -= static_cast<size_t>(w);
    }
    return true;
}

// Receive one frame into c->rx.  Signals do not abandon a call in flight:
// the server is still executing it.
long recv_frame(Conn* c, uint16_t want, const uint8_t*& body, size_t& size) {
    size_t got = 0, need = sizeof(FrameHeader);
    bool have_header = false;
    while (got < need) {
        ssize_t n = recv(c->fd, c->rx + got, k_buf_size - got, 0);
        if (n < 0 && errno == EINTR)
            continue;
        if (n <= 0)
            return -ENOTCONN;
        got += static_cast<size_t>(n);
        if (!have_header && got >= sizeof(FrameHeader)) {
            FrameHeader fh;
            memcpy(&fh, c->rx, sizeof fh);
            if (fh.size > k_max_body || fh.type != want)
                return -EPROTO;
            need = sizeof fh + fh.size;
            have_header = true;
        }
    }
    if (got != need)
        return -EPROTO;
    body = c->rx + sizeof(FrameHeader);
    size = need - sizeof(FrameHeader);
    return 0;
}

void read_secret(char* out, size_t cap, size_t& len) {
    len = 0;
    const char* t = getenv("AK_TOKEN");
    if (t) {
        len = strnlen(t, cap);
        memcpy(out, t, len);
        return;
    }
    const char* file = getenv("AK_TOKEN_FILE");
    if (!file)
        return;
    int fd = open(file, O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return;
    ssize_t n = read(fd, out, cap);
    close(fd);
    if (n <= 0)
        return;
    len = static_cast<size_t>(n);
    while (len > 0 && (out[len - 1] == '\n' || out[len - 1] == '\r'))
        len--;
}

// Connect and say hello.  Returns a connection or nullptr with *err set.
Conn* conn_open(const Url& url, uint16_t kind, int kpid, const uint8_t* token, int* err,
                uint8_t* session_key_out) {
    int fd = open_socket(url);
    if (fd < 0) {
        *err = -fd;
        return nullptr;
    }
    Conn* c = new (std::nothrow) Conn;
    if (c) {
        c->tx = static_cast<uint8_t*>(malloc(k_buf_size));
        c->rx = static_cast<uint8_t*>(malloc(k_buf_size));
    }
    if (!c || !c->tx || !c->rx) {
        close(fd);
        conn_free(c);
        *err = ENOMEM;
        return nullptr;
    }
    c->fd = fd;
    track_internal(fd, true);
    struct {
        FrameHeader fh;
        HelloBody hello;
        char secret[k_max_secret];
    } msg{};
    size_t secret_len = 0;
    if (!url.is_unix)
        read_secret(msg.secret, sizeof msg.secret, secret_len);
    msg.hello.magic = k_magic;
    msg.hello.version = k_version;
    msg.hello.kind = kind;
    msg.hello.host_pid = getpid();
    msg.hello.kpid = kpid;
    msg.hello.secret_len = static_cast<uint16_t>(secret_len);
    if (token)
        memcpy(msg.hello.token, token, k_token_size);
    msg.fh.type = k_msg_hello;
    msg.fh.size = static_cast<uint32_t>(sizeof msg.hello + secret_len);
    const uint8_t* body;
    size_t size;
    if (!send_all(fd, reinterpret_cast<uint8_t*>(&msg), sizeof msg.fh + msg.fh.size) ||
        recv_frame(c, k_msg_welcome, body, size) < 0) {
        conn_free(c);
        *err = ECONNRESET;
        return nullptr;
    }
    WelcomeBody w;
    if (size != sizeof w) {
        conn_free(c);
        *err = EPROTO;
        return nullptr;
    }
    memcpy(&w, body, sizeof w);
    if (w.magic != k_magic || w.version != k_version) {
        conn_free(c);
        *err = EPROTONOSUPPORT;
        return nullptr;
    }
    if (w.status != 0) {
        conn_free(c);
        *err = w.status > 0 ? w.status : EACCES;
        return nullptr;
    }
    c->kpid = w.kpid;
    if (session_key_out)
        memcpy(session_key_out, w.session_key, k_token_size);
    return c;
}

const char* describe_refusal(int e) {
    switch (e) {
    case EACCES:
    case EPERM:
        return "refused by the server (not an allowed user, or wrong token)";
    case ENOENT:
        return "no server socket there (is ak-server running?)";
    case ECONNREFUSED:
        return "connection refused (is ak-server running?)";
    default:
        return strerror(e);
    }
}

// One request, one reply.
long roundtrip(Conn* c, long nr, const long args[6]) {
    if (c->fd < 0)
        return -ENOTCONN;
    ClientCall call;
    long n = encode_syscall(c->tx, k_buf_size, nr, args, call);
    if (n < 0)
        return n;
    const uint8_t* body;
    size_t size;
    long e;
    if (!send_all(c->fd, c->tx, static_cast<size_t>(n)))
        e = -ENOTCONN;
    else
        e = recv_frame(c, k_msg_syscall_reply, body, size);
    long ret = 0;
    if (e == 0)
        e = decode_syscall_reply(body, size, call, ret);
    if (e < 0) {
        say("libakclient: lost the connection to the server (%s)",
            e == -EPROTO ? "protocol error" : "server went away");
        track_internal(c->fd, false);
        close(c->fd);
        c->fd = -1;
        return -ENOTCONN;
    }
    return ret;
}

// Applies the size limits: reads and friends are clamped (a short result
// the caller handles anyway), writes are split into several calls.
long conn_call(Conn* c, long nr, const long in_args[6]) {
    long args[6];
    memcpy(args, in_args, sizeof args);
    if ((nr == AK_SYS_write || nr == AK_SYS_pwrite64) &&
        static_cast<size_t>(args[2]) > k_max_data) {
        size_t total = 0, want = static_cast<size_t>(args[2]);
        while (total < want) {
            size_t chunk = want - total < k_max_data ? want - total : k_max_data;
            long a[6] = {args[0],
                         args[1] + static_cast<long>(total),
                         static_cast<long>(chunk),
                         args[3] + (nr == AK_SYS_pwrite64 ? static_cast<long>(total) : 0),
                         0,
                         0};
            long r = roundtrip(c, nr, a);
            if (r < 0)
                return total ? static_cast<long>(total) : r;
            total += static_cast<size_t>(r);
            if (static_cast<size_t>(r) < chunk)
                break;
        }
        return static_cast<long>(total);
    }
    if (nr == AK_SYS_readv || nr == AK_SYS_writev) {
        auto* iov = reinterpret_cast<const struct iovec*>(args[1]);
        long cnt = args[2];
        if (cnt < 0 || cnt > static_cast<long>(k_max_iov))
            return -EINVAL;
        size_t total = 0;
        bool over = false;
        for (long i = 0; i < cnt && iov; i++) {
            if (iov[i].iov_len > k_max_data - total) {
                over = true;
                break;
            }
            total += iov[i].iov_len;
        }
        if (over) {
            // Shorten the transfer to the limit (a short count, like a
            // partial write the caller loops on).
            struct iovec local[k_max_iov];
            size_t room = k_max_data;
            long n = 0;
            for (; n < cnt && room > 0; n++) {
                local[n] = iov[n];
                if (local[n].iov_len > room)
                    local[n].iov_len = room;
                room -= local[n].iov_len;
            }
            args[1] = reinterpret_cast<long>(local);
            args[2] = n;
            return roundtrip(c, nr, args);
        }
        return roundtrip(c, nr, args);
    }
    if ((nr == AK_SYS_read || nr == AK_SYS_pread64 || nr == AK_SYS_getdents64) &&
        static_cast<size_t>(args[2]) > k_max_data)
        args[2] = static_cast<long>(k_max_data);
    if ((nr == AK_SYS_getcwd) && static_cast<size_t>(args[1]) > k_max_data)
        args[1] = static_cast<long>(k_max_data);
    if ((nr == AK_SYS_readlink) && static_cast<size_t>(args[2]) > k_max_data)
        args[2] = static_cast<long>(k_max_data);
    if ((nr == AK_SYS_readlinkat) && static_cast<size_t>(args[3]) > k_max_data)
        args[3] = static_cast<long>(k_max_data);
    // getrandom callers take short counts (Linux gives them for large ones).
    if ((nr == AK_SYS_getrandom) && static_cast<size_t>(args[1]) > k_max_data)
        args[1] = static_cast<long>(k_max_data);
    return roundtrip(c, nr, args);
}

template <typename Reply>
long control(Conn* c, uint16_t type, const void* body_in, size_t body_len, uint16_t reply_type,
             Reply& reply) {
    if (!c || c->fd < 0)
        return -ENOTCONN;
    uint8_t msg[sizeof(FrameHeader) + 64];
    FrameHeader fh{static_cast<uint32_t>(body_len), type, 0};
    memcpy(msg, &fh, sizeof fh);
    if (body_len)
        memcpy(msg + sizeof fh, body_in, body_len);
    const uint8_t* body;
    size_t size;
    if (!send_all(c->fd, msg, sizeof fh + body_len) || recv_frame(c, reply_type, body, size) < 0)
        return -ENOTCONN;
    if (size != sizeof reply)
        return -EPROTO;
    memcpy(&reply, body, sizeof reply);
    return 0;
}

void send_bye(Conn* c) {
    if (!c || c->fd < 0)
        return;
    FrameHeader fh{0, k_msg_bye, 0};
    send_all(c->fd, reinterpret_cast<uint8_t*>(&fh), sizeof fh);
}

// --- The default session -------------------------------------------------------

pthread_mutex_t g_lock = PTHREAD_MUTEX_INITIALIZER; // guards the fields below
akc_session g_default;
bool g_connected = false;
bool g_lost = false;  // a fork child that could not attach
int g_owner_pid = -1; // host process that owns g_default
Conn* g_conns = nullptr;
unsigned long g_generation = 1;
pthread_key_t g_thread_key;
pthread_once_t g_once = PTHREAD_ONCE_INIT;

__thread Conn* t_conn;
__thread unsigned long t_generation;

// Fork state between the prepare and child handlers.
int g_fork_status;
int g_fork_kpid;
uint8_t g_fork_token[k_token_size];

void list_add_locked(Conn* c) {
    c->next = g_conns;
    g_conns = c;
}

void list_remove_locked(Conn* c) {
    for (Conn** p = &g_conns; *p; p = &(*p)->next) {
        if (*p == c) {
            *p = c->next;
            return;
        }
    }
}

void thread_exit(void* p) {
    Conn* c = static_cast<Conn*>(p);
    pthread_mutex_lock(&g_lock);
    bool mine = t_generation == g_generation && c != g_default.main;
    if (mine)
        list_remove_locked(c);
    pthread_mutex_unlock(&g_lock);
    if (mine) {
        send_bye(c);
        conn_free(c);
    }
}

void atfork_prepare();
void atfork_parent();
void atfork_child();

void init_once() {
    pthread_key_create(&g_thread_key, thread_exit);
    pthread_atfork(atfork_prepare, atfork_parent, atfork_child);
}

Conn* current_conn();

void atfork_prepare() {
    // The child's kernel process is made now, from the parent's descriptors
    // as they are at fork time; the child attaches with the token.
    g_fork_status = -ENOTCONN;
    if (g_connected && g_owner_pid == getpid()) {
        if (Conn* c = current_conn()) {
            ProcPrepareBody req{k_proc_fork, 0};
            ProcTokenBody tok{};
            long e = control(c, k_msg_proc_prepare, &req, sizeof req, k_msg_proc_token, tok);
            if (e == 0)
                e = tok.status;
            g_fork_status = static_cast<int>(e);
            g_fork_kpid = tok.kpid;
            memcpy(g_fork_token, tok.token, k_token_size);
        }
    }
    pthread_mutex_lock(&g_lock);
}

void atfork_parent() {
    pthread_mutex_unlock(&g_lock);
}

void atfork_child() {
    pthread_mutex_t fresh = PTHREAD_MUTEX_INITIALIZER;
    g_lock = fresh;
    // The parent's sockets stay the parent's: drop our copies.
    for (Conn* c = g_conns; c;) {
        Conn* next = c->next;
        conn_free(c);
        c = next;
    }
    g_conns = nullptr;
    g_default.main = nullptr;
    g_generation++;
    t_conn = nullptr;
    if (!g_connected)
        return;
    g_connected = false;
    if (g_fork_status != 0) {
        g_lost = true;
        return;
    }
    int err = 0;
    Conn* c =
        conn_open(g_default.url, k_hello_attach, g_fork_kpid, g_fork_token, &err, g_default.key);
    if (!c) {
        say("libakclient: fork: cannot attach the child process: %s", describe_refusal(err));
        g_lost = true;
        return;
    }
    g_default.kpid = c->kpid;
    g_default.main = c;
    g_owner_pid = getpid();
    list_add_locked(c);
    t_conn = c;
    t_generation = g_generation;
    g_connected = true;
}

// Start the default session.  kind new: url_text or AK_SERVER; attach:
// with a token.
int default_connect(const char* url_text, uint16_t kind, int kpid, const uint8_t* token) {
    pthread_once(&g_once, init_once);
    pthread_mutex_lock(&g_lock);
    if (g_connected) {
        pthread_mutex_unlock(&g_lock);
        return 0;
    }
    if (!url_text)
        url_text = getenv("AK_SERVER");
    if (!url_text || !*url_text) {
        pthread_mutex_unlock(&g_lock);
        say("libakclient: no server given (set AK_SERVER=unix:///path.sock or tcp://host:port)");
        return -EDESTADDRREQ;
    }
    if (parse_url(url_text, g_default.url) != 0) {
        pthread_mutex_unlock(&g_lock);
        say("libakclient: bad server URL '%s' (want unix:///abs/path or tcp://host:port)",
            url_text);
        return -EINVAL;
    }
    snprintf(g_default.url_text, sizeof g_default.url_text, "%s", url_text);
    int err = 0;
    Conn* c = conn_open(g_default.url, kind, kpid, token, &err, g_default.key);
    if (!c) {
        pthread_mutex_unlock(&g_lock);
        say("libakclient: cannot connect to %s: %s", url_text, describe_refusal(err));
        return -err;
    }
    g_default.kpid = c->kpid;
    g_default.main = c;
    g_owner_pid = getpid();
    g_lost = false;
    list_add_locked(c);
    t_conn = c;
    t_generation = g_generation;
    g_connected = true;
    pthread_mutex_unlock(&g_lock);
    return 0;
}

Conn* current_conn() {
    if (t_conn && t_generation == g_generation)
        return t_conn;
    if (!g_connected) {
        if (g_lost || default_connect(nullptr, k_hello_new, 0, nullptr) < 0)
            return nullptr;
        if (t_conn && t_generation == g_generation)
            return t_conn;
    }
    // Another thread of this program: its own connection to the process.
    pthread_mutex_lock(&g_lock);
    int err = 0;
    Conn* c =
        conn_open(g_default.url, k_hello_thread, g_default.kpid, g_default.key, &err, nullptr);
    if (c) {
        list_add_locked(c);
        t_conn = c;
        t_generation = g_generation;
        pthread_setspecific(g_thread_key, c);
    } else {
        say("libakclient: cannot open a connection for this thread: %s", describe_refusal(err));
    }
    pthread_mutex_unlock(&g_lock);
    return c;
}

} // namespace

// --- Public API ------------------------------------------------------------------

extern "C" long akclient_syscall6(long nr, long a0, long a1, long a2, long a3, long a4, long a5) {
    Conn* c = current_conn();
    if (!c)
        return -ENOTCONN;
    long args[6] = {a0, a1, a2, a3, a4, a5};
    return conn_call(c, nr, args);
}

AK_API long ak_syscall(long number, ...) {
    long args[6];
    va_list ap;
    va_start(ap, number);
    for (int i = 0; i < 6; i++)
        args[i] = va_arg(ap, long);
    va_end(ap);
    Conn* c = current_conn();
    if (!c)
        return -ENOTCONN;
    return conn_call(c, number, args);
}

static int set_errno(int r) {
    if (r < 0) {
        errno = -r;
        return -1;
    }
    return r;
}

AK_API int ak_init(void) {
    return set_errno(default_connect(nullptr, k_hello_new, 0, nullptr));
}

AK_API int akc_connect(const char* url) {
    return set_errno(default_connect(url, k_hello_new, 0, nullptr));
}

AK_API int ak_fini(void) {
    pthread_mutex_lock(&g_lock);
    for (Conn* c = g_conns; c;) {
        Conn* next = c->next;
        send_bye(c);
        conn_free(c);
        c = next;
    }
    g_conns = nullptr;
    g_default.main = nullptr;
    g_connected = false;
    g_generation++;
    pthread_mutex_unlock(&g_lock);
    return 0;
}

AK_API int ak_setparam(const char*, const char*) {
    // Kernel parameters belong to the server (ak-server --ncpu, --memlimit).
    errno = ENOTSUP;
    return -1;
}

AK_API int ak_proc_create(int flags) {
    Conn* c = current_conn();
    if (!c)
        return set_errno(-ENOTCONN);
    ProcPrepareBody req{(flags & AK_PROC_COPYFD) ? k_proc_fork : k_proc_new, 0};
    ProcTokenBody tok{};
    long e = control(c, k_msg_proc_prepare, &req, sizeof req, k_msg_proc_token, tok);
    if (e == 0)
        e = tok.status;
    if (e < 0)
        return set_errno(static_cast<int>(e));
    int err = 0;
    Conn* child = conn_open(g_default.url, k_hello_attach, tok.kpid, tok.token, &err, nullptr);
    if (!child)
        return set_errno(-err);
    pthread_mutex_lock(&g_lock);
    list_add_locked(child);
    pthread_mutex_unlock(&g_lock);
    t_conn = child;
    return child->kpid;
}

AK_API int ak_proc_switch(int pid) {
    pthread_mutex_lock(&g_lock);
    Conn* found = nullptr;
    for (Conn* c = g_conns; c; c = c->next)
        if (c->kpid == pid)
            found = c;
    pthread_mutex_unlock(&g_lock);
    if (!found)
        return set_errno(-ESRCH);
    t_conn = found;
    t_generation = g_generation;
    return 0;
}

AK_API int ak_proc_release(void) {
    Conn* c = current_conn();
    if (!c || c == g_default.main)
        return set_errno(-EPERM);
    pthread_mutex_lock(&g_lock);
    list_remove_locked(c);
    pthread_mutex_unlock(&g_lock);
    send_bye(c);
    conn_free(c);
    t_conn = g_default.main;
    return 0;
}

AK_API int akc_stats(struct akc_stats* out) {
    Conn* c = current_conn();
    StatsBody s{};
    long e = control(c, k_msg_stats, nullptr, 0, k_msg_stats_reply, s);
    if (e < 0)
        return set_errno(static_cast<int>(e));
    out->procs = s.procs;
    out->connections = s.connections;
    out->sessions = s.sessions;
    out->pending_tokens = s.pending_tokens;
    out->mem_in_use = s.mem_in_use;
    out->mem_peak = s.mem_peak;
    out->mem_limit = s.mem_limit;
    out->caller_nfds = s.caller_nfds;
    return 0;
}

AK_API int akc_kpid(void) {
    return g_connected ? g_default.kpid : -1;
}

AK_API int akc_is_internal_fd(int fd) {
    if (fd < 0)
        return 0;
    for (int f : g_internal_fds)
        if (__atomic_load_n(&f, __ATOMIC_RELAXED) == fd)
            return 1;
    return 0;
}

AK_API int akc_exec_prepare(int* kpid, char token_hex[65]) {
    Conn* c = current_conn();
    if (!c)
        return -ENOTCONN;
    // In a vfork child (memory shared with the suspended parent, which
    // owns the session) the new image is a new process: ask for a child
    // with a copy of the descriptors instead.
    bool vforked = g_owner_pid != getpid();
    ProcPrepareBody req{vforked ? k_proc_spawn : k_proc_exec, 0};
    ProcTokenBody tok{};
    long e = control(c, k_msg_proc_prepare, &req, sizeof req, k_msg_proc_token, tok);
    if (e == 0)
        e = tok.status;
    if (e < 0)
        return static_cast<int>(e);
    *kpid = tok.kpid;
    to_hex(tok.token, k_token_size, token_hex);
    return 0;
}

AK_API int akc_exec_cancel(const char* token_hex) {
    Conn* c = current_conn();
    ExecCancelBody req;
    if (!from_hex(token_hex, req.token, k_token_size))
        return -EINVAL;
    StatusBody st{};
    long e = control(c, k_msg_exec_cancel, &req, sizeof req, k_msg_status, st);
    return e < 0 ? static_cast<int>(e) : st.status;
}

AK_API int akc_attach(const char* url, int kpid, const char* token_hex) {
    uint8_t token[k_token_size];
    if (!from_hex(token_hex, token, k_token_size))
        return -EINVAL;
    return default_connect(url, k_hello_attach, kpid, token);
}

AK_API akc_session* akc_open(const char* url) {
    auto* s = new (std::nothrow) akc_session;
    if (!s) {
        errno = ENOMEM;
        return nullptr;
    }
    if (!url)
        url = getenv("AK_SERVER");
    if (!url || parse_url(url, s->url) != 0) {
        delete s;
        errno = EINVAL;
        return nullptr;
    }
    snprintf(s->url_text, sizeof s->url_text, "%s", url);
    int err = 0;
    s->main = conn_open(s->url, k_hello_new, 0, nullptr, &err, s->key);
    if (!s->main) {
        delete s;
        errno = err;
        return nullptr;
    }
    s->kpid = s->main->kpid;
    return s;
}

AK_API long akc_syscall(akc_session* s, long nr, const long args[6]) {
    pthread_mutex_lock(&s->lock);
    long r = conn_call(s->main, nr, args);
    pthread_mutex_unlock(&s->lock);
    return r;
}

AK_API int akc_session_kpid(akc_session* s) {
    return s->kpid;
}

AK_API int akc_session_stats(akc_session* s, struct akc_stats* out) {
    pthread_mutex_lock(&s->lock);
    StatsBody st{};
    long e = control(s->main, k_msg_stats, nullptr, 0, k_msg_stats_reply, st);
    pthread_mutex_unlock(&s->lock);
    if (e < 0)
        return set_errno(static_cast<int>(e));
    out->procs = st.procs;
    out->connections = st.connections;
    out->sessions = st.sessions;
    out->pending_tokens = st.pending_tokens;
    out->mem_in_use = st.mem_in_use;
    out->mem_peak = st.mem_peak;
    out->mem_limit = st.mem_limit;
    out->caller_nfds = st.caller_nfds;
    return 0;
}

AK_API void akc_close(akc_session* s) {
    if (!s)
        return;
    send_bye(s->main);
    conn_free(s->main);
    delete s;
}
