// ak-server connections: one host thread per connection, bound to the
// kernel process of its session; a watcher thread notices clients that hang
// up while their call blocks in the kernel and interrupts that call.
#include "akproto.h"
#include "server_stats.h"
#include "server.h"

#include <anykern/kern.h>

#include <errno.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/random.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include <atomic>
#include <mutex>
#include <unordered_map>

using namespace akproto;

namespace akserver {

Config g_config;

namespace {

constexpr size_t k_rx_cap = sizeof(FrameHeader) + k_max_body + 64;
constexpr int64_t k_token_lifetime_ns = 30ll * 1000 * 1000 * 1000;

int64_t now_ns() {
    timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return ts.tv_sec * 1000000000ll + ts.tv_nsec;
}

void random_bytes(uint8_t* p, size_t n) {
    while (n > 0) {
        ssize_t r = getrandom(p, n, 0);
        if (r < 0) {
            if (errno == EINTR)
                continue;
            abort(); // no randomness means no tokens; cannot serve safely
        }
        p += r;
        n -= static_cast<size_t>(r);
    }
}

// A kernel process owned by clients: its connections plus outstanding
// tokens.  When the last owner goes, the process exits (closing its
// descriptors).
struct Session {
    int kpid;
    uid_t uid;
    bool tcp;
    uint8_t key[k_token_size];
    int owners;
};

struct Token {
    uint8_t token[k_token_size];
    int kpid;
    uint32_t op;
    uid_t uid;
    bool tcp;
    int64_t expiry_ns;
};

struct Conn {
    uint64_t id;
    int fd;
    bool tcp;
    uid_t uid = 0;
    gid_t gid = 0;
    pid_t peer_pid = 0;
    int kpid = -1;
    void* lwp = nullptr;
    bool doomed = false; // guarded by g_lock
    FrameBuffer rx{nullptr, k_rx_cap, 0};
    uint8_t* out = nullptr;
    struct iovec* iov = nullptr;
};

std::mutex g_lock; // guards everything below
std::unordered_map<int, Session> g_sessions;
std::vector<Token> g_tokens;
std::unordered_map<uint64_t, Conn*> g_conns;
std::vector<uint64_t> g_doomed;
uint64_t g_next_id = 1;
int g_epoll = -1;
bool g_stopping = false;

void session_release_locked(int kpid) {
    auto it = g_sessions.find(kpid);
    if (it == g_sessions.end())
        return;
    if (--it->second.owners > 0)
        return;
    g_sessions.erase(it);
    int r = ak_kern_proc_exit(kpid);
    log_msg(k_log_debug, "kernel process %d exited (%d)", kpid, r);
}

void reap_tokens_locked(int64_t now) {
    for (size_t i = 0; i < g_tokens.size();) {
        if (g_tokens[i].expiry_ns <= now) {
            log_msg(k_log_info, "token for kernel process %d expired", g_tokens[i].kpid);
            int kpid = g_tokens[i].kpid;
            g_tokens.erase(g_tokens.begin() + static_cast<long>(i));
            session_release_locked(kpid);
        } else {
            i++;
        }
    }
}

// --- I/O -------------------------------------------------------------------------

// sendmsg rather than writev: no SIGPIPE when the client has gone.
long send_fn(void* ctx, struct iovec* iov, int n) {
    msghdr mh{};
    mh.msg_iov = iov;
    mh.msg_iovlen = static_cast<size_t>(n);
    ssize_t w = sendmsg(*static_cast<int*>(ctx), &mh, MSG_NOSIGNAL);
    return w < 0 ? -errno : w;
}

bool send_frame(Conn* c, uint16_t type, const void* body, size_t len) {
    return frame_write(type, body, len, send_fn, &c->fd);
}

long recv_fn(void* ctx, void* dst, size_t len) {
    ssize_t n = recv(*static_cast<int*>(ctx), dst, len, 0);
    return n < 0 ? -errno : n;
}

// Read one frame.  Returns 1 with the frame at c->rx.buf, 0 on orderly EOF,
// -1 on error or malformed framing (reason set).
int read_frame(Conn* c, FrameHeader& fh, const char*& reason) {
    int err = 0;
    int r = frame_read(c->rx, fh, recv_fn, &c->fd, reason, &err);
    if (r < 0 && err)
        reason = strerror(-err);
    return r;
}

// --- Handshake -------------------------------------------------------------------

bool uid_allowed(uid_t uid) {
    for (uid_t u : g_config.allowed)
        if (u == uid)
            return true;
    return false;
}

bool welcome(Conn* c, int status, const uint8_t* key) {
    WelcomeBody w = make_welcome(status, c->kpid, key);
    return send_frame(c, k_msg_welcome, &w, sizeof w);
}

// Returns 0 when the connection is bound to a kernel process.
int handshake(Conn* c) {
    FrameHeader fh;
    const char* reason = nullptr;
    int r = read_frame(c, fh, reason);
    if (r <= 0) {
        log_msg(k_log_info, "connection %llu: no hello (%s)", (unsigned long long)c->id,
                reason ? reason : "closed");
        return -1;
    }
    HelloBody h;
    const uint8_t* secret = nullptr;
    size_t secret_len = 0;
    const char* why = fh.type != k_msg_hello
                          ? "first message is not a hello"
                          : decode_hello(c->rx.buf + sizeof fh, fh.size, h, secret, secret_len);
    if (why) {
        log_msg(k_log_warn, "connection %llu: malformed hello (%s), closing",
                (unsigned long long)c->id, why);
        return -1;
    }
    uint8_t secret_copy[k_max_secret];
    memcpy(secret_copy, secret, secret_len);
    secret = secret_copy;
    frame_consume(c->rx, fh);
    if (h.version != k_version) {
        log_msg(k_log_warn, "connection %llu: protocol version %u not supported",
                (unsigned long long)c->id, h.version);
        welcome(c, EPROTONOSUPPORT, nullptr);
        return -1;
    }
    // Access control (docs/remote-protocol.md, "Authentication").
    if (c->tcp) {
        const auto* want = reinterpret_cast<const uint8_t*>(g_config.secret.data());
        if (!secret_equal(want, g_config.secret.size(), secret, secret_len)) {
            log_msg(k_log_warn, "connection %llu (tcp): wrong or missing token, refused",
                    (unsigned long long)c->id);
            welcome(c, EACCES, nullptr);
            return -1;
        }
    } else if (!uid_allowed(c->uid)) {
        log_msg(k_log_warn, "connection %llu: uid %u (pid %d) not allowed, refused",
                (unsigned long long)c->id, c->uid, c->peer_pid);
        welcome(c, EACCES, nullptr);
        return -1;
    }
    uint8_t key[k_token_size];
    int status = 0;
    int exec_pid = 0;
    {
        std::lock_guard<std::mutex> g(g_lock);
        if (h.kind == k_hello_new) {
            int kpid = ak_kern_proc_create(1, 0);
            if (kpid < 0) {
                status = -kpid;
            } else {
                ak_kern_proc_setcred(kpid, c->uid, c->gid, 0, nullptr);
                Session s{kpid, c->uid, c->tcp, {}, 1};
                random_bytes(s.key, sizeof s.key);
                memcpy(key, s.key, sizeof key);
                g_sessions[kpid] = s;
                c->kpid = kpid;
            }
        } else if (h.kind == k_hello_attach) {
            status = EACCES;
            for (size_t i = 0; i < g_tokens.size(); i++) {
                Token& t = g_tokens[i];
                bool match = secret_equal(t.token, k_token_size, h.token, k_token_size);
                if (!match || t.kpid != h.kpid || t.uid != c->uid || t.tcp != c->tcp)
                    continue;
                auto it = g_sessions.find(t.kpid);
                if (it == g_sessions.end())
                    break;
                // The token's ownership of the process passes to this
                // connection.
                c->kpid = t.kpid;
                if (t.op == k_proc_exec || t.op == k_proc_spawn)
                    exec_pid = t.kpid;
                if (t.op != k_proc_exec)
                    random_bytes(it->second.key, k_token_size);
                memcpy(key, it->second.key, sizeof key);
                g_tokens.erase(g_tokens.begin() + static_cast<long>(i));
                status = 0;
                break;
            }
        } else if (h.kind == k_hello_thread) {
            status = EACCES;
            auto it = g_sessions.find(h.kpid);
            if (it != g_sessions.end() && it->second.uid == c->uid && it->second.tcp == c->tcp &&
                secret_equal(it->second.key, k_token_size, h.token, k_token_size)) {
                it->second.owners++;
                c->kpid = h.kpid;
                memcpy(key, it->second.key, sizeof key);
                status = 0;
            }
        } else {
            status = EINVAL;
        }
    }
    if (status) {
        log_msg(k_log_warn, "connection %llu: hello kind %u refused: %s", (unsigned long long)c->id,
                h.kind, strerror(status));
        welcome(c, status, nullptr);
        return -1;
    }
    if (exec_pid)
        ak_kern_proc_exec(exec_pid); // drop close-on-exec descriptors
    int e = ak_kern_proc_switch(c->kpid);
    if (e == 0) {
        void* lwp = ak_kern_curlwp();
        std::lock_guard<std::mutex> g(g_lock);
        c->lwp = lwp;
    }
    if (e < 0 || !welcome(c, 0, key)) {
        std::lock_guard<std::mutex> g(g_lock);
        session_release_locked(c->kpid);
        c->kpid = -1;
        return -1;
    }
    log_msg(k_log_info, "connection %llu: uid %u pid %d -> kernel process %d (%s)",
            (unsigned long long)c->id, c->uid, c->peer_pid, c->kpid,
            h.kind == k_hello_new      ? "new"
            : h.kind == k_hello_attach ? "attach"
                                       : "thread");
    return 0;
}

// --- Requests --------------------------------------------------------------------

// A request body that is exactly one T; anything else is malformed (logged;
// the connection closes).
template <typename T>
bool fixed_body(Conn* c, const uint8_t* body, size_t size, const char* what, T& out) {
    if (size != sizeof out) {
        log_msg(k_log_warn, "connection %llu: malformed %s, closing", (unsigned long long)c->id,
                what);
        return false;
    }
    memcpy(&out, body, sizeof out);
    return true;
}

bool serve_syscall(Conn* c, uint8_t* body, size_t size) {
    DecodeScratch scratch{c->out, k_max_data + k_scratch_extra, c->iov};
    DecodedCall call;
    if (const char* why = decode_syscall(body, size, scratch, call)) {
        log_msg(k_log_warn, "connection %llu: malformed syscall request (%s), closing",
                (unsigned long long)c->id, why);
        return false;
    }
    long ret = call.early_ret ? call.early_ret : ak_kern_syscall(call.nr, call.args);
    SyscallReply reply;
    build_syscall_reply(call, ret, reply);
    return write_all(reply.iov, reply.niov, send_fn, &c->fd);
}

bool serve_proc_prepare(Conn* c, const uint8_t* body, size_t size) {
    ProcPrepareBody req;
    if (!fixed_body(c, body, size, "proc-prepare", req))
        return false;
    ProcTokenBody reply{};
    {
        std::lock_guard<std::mutex> g(g_lock);
        auto parent = g_sessions.find(c->kpid);
        int kpid = -ESRCH;
        if (parent == g_sessions.end()) {
            kpid = -ESRCH;
        } else if (req.op == k_proc_exec) {
            kpid = c->kpid;
            parent->second.owners++;
        } else if (req.op == k_proc_fork || req.op == k_proc_spawn || req.op == k_proc_new) {
            kpid = ak_kern_proc_create(c->kpid, req.op == k_proc_new ? 0 : AK_KERN_PROC_COPYFD);
            if (kpid > 0) {
                Session s{kpid, parent->second.uid, parent->second.tcp, {}, 1};
                random_bytes(s.key, sizeof s.key);
                g_sessions[kpid] = s;
            }
        } else {
            kpid = -EINVAL;
        }
        if (kpid > 0) {
            Token t{};
            random_bytes(t.token, sizeof t.token);
            t.kpid = kpid;
            t.op = req.op;
            t.uid = c->uid;
            t.tcp = c->tcp;
            t.expiry_ns = now_ns() + k_token_lifetime_ns;
            g_tokens.push_back(t);
            reply.kpid = kpid;
            memcpy(reply.token, t.token, sizeof t.token);
        } else {
            reply.status = kpid;
        }
    }
    return send_frame(c, k_msg_proc_token, &reply, sizeof reply);
}

bool serve_exec_cancel(Conn* c, const uint8_t* body, size_t size) {
    ExecCancelBody req;
    if (!fixed_body(c, body, size, "exec-cancel", req))
        return false;
    StatusBody st{-ENOENT, 0};
    {
        std::lock_guard<std::mutex> g(g_lock);
        for (size_t i = 0; i < g_tokens.size(); i++) {
            Token& t = g_tokens[i];
            if (t.uid != c->uid || !secret_equal(t.token, k_token_size, req.token, k_token_size))
                continue;
            int kpid = t.kpid;
            g_tokens.erase(g_tokens.begin() + static_cast<long>(i));
            session_release_locked(kpid);
            st.status = 0;
            break;
        }
    }
    return send_frame(c, k_msg_status, &st, sizeof st);
}

bool serve_stats(Conn* c, size_t size) {
    if (size != 0)
        return false;
    StatsBody s{};
    {
        std::lock_guard<std::mutex> g(g_lock);
        s.connections = static_cast<uint32_t>(g_conns.size());
        s.sessions = static_cast<uint32_t>(g_sessions.size());
        s.pending_tokens = static_cast<uint32_t>(g_tokens.size());
    }
    fill_kernel_stats(s, c->kpid);
    return send_frame(c, k_msg_stats_reply, &s, sizeof s);
}

void serve(Conn* c) {
    for (;;) {
        FrameHeader fh;
        const char* reason = nullptr;
        int r = read_frame(c, fh, reason);
        if (r == 0)
            return;
        if (r < 0) {
            log_msg(k_log_info, "connection %llu: %s", (unsigned long long)c->id, reason);
            return;
        }
        uint8_t* body = c->rx.buf + sizeof fh;
        bool ok;
        switch (fh.type) {
        case k_msg_syscall:
            ok = serve_syscall(c, body, fh.size);
            break;
        case k_msg_proc_prepare:
            ok = serve_proc_prepare(c, body, fh.size);
            break;
        case k_msg_exec_cancel:
            ok = serve_exec_cancel(c, body, fh.size);
            break;
        case k_msg_stats:
            ok = serve_stats(c, fh.size);
            break;
        case k_msg_bye:
            return;
        default:
            log_msg(k_log_warn, "connection %llu: unexpected message type %u, closing",
                    (unsigned long long)c->id, fh.type);
            ok = false;
        }
        if (!ok)
            return;
        frame_consume(c->rx, fh);
    }
}

void conn_destroy(Conn* c) {
    free(c->rx.buf);
    free(c->out);
    free(c->iov);
    delete c;
}

void* conn_thread(void* arg) {
    Conn* c = static_cast<Conn*>(arg);
    // A silent peer must not hold a thread forever before the hello.
    timeval tv{10, 0};
    setsockopt(c->fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
    if (handshake(c) == 0) {
        timeval none{0, 0};
        setsockopt(c->fd, SOL_SOCKET, SO_RCVTIMEO, &none, sizeof none);
        serve(c);
    }
    // Leave the kernel process before it may exit, then forget our lwp.
    ak_kern_proc_switch(1);
    {
        std::lock_guard<std::mutex> g(g_lock);
        g_conns.erase(c->id);
        c->lwp = nullptr;
        if (c->kpid > 0)
            session_release_locked(c->kpid);
    }
    ak_kern_thread_release();
    epoll_ctl(g_epoll, EPOLL_CTL_DEL, c->fd, nullptr);
    close(c->fd);
    log_msg(k_log_debug, "connection %llu closed", (unsigned long long)c->id);
    conn_destroy(c);
    return nullptr;
}

// The watcher: hang-ups of peers whose thread may be blocked in the kernel.
void* watcher_thread(void*) {
    ak_kern_proc_switch(1);
    epoll_event ev[64];
    for (;;) {
        bool any_doomed;
        {
            std::lock_guard<std::mutex> g(g_lock);
            any_doomed = !g_doomed.empty();
        }
        int n = epoll_wait(g_epoll, ev, 64, any_doomed ? 20 : 500);
        std::lock_guard<std::mutex> g(g_lock);
        for (int i = 0; i < n; i++) {
            uint64_t id = ev[i].data.u64; // a copy: epoll_event is packed
            auto it = g_conns.find(id);
            if (it != g_conns.end() && !it->second->doomed) {
                it->second->doomed = true;
                g_doomed.push_back(id);
            }
        }
        // Interrupt repeatedly: an interrupt that lands just before the
        // thread enters its next call is cleared by the call's entry.
        for (size_t i = 0; i < g_doomed.size();) {
            auto it = g_conns.find(g_doomed[i]);
            if (it == g_conns.end()) {
                g_doomed[i] = g_doomed.back();
                g_doomed.pop_back();
                continue;
            }
            if (it->second->lwp)
                ak_kern_lwp_interrupt(it->second->lwp);
            i++;
        }
        reap_tokens_locked(now_ns());
    }
    return nullptr;
}

} // namespace

int start_watcher() {
    g_epoll = epoll_create1(EPOLL_CLOEXEC);
    if (g_epoll < 0)
        return -errno;
    pthread_t t;
    int e = pthread_create(&t, nullptr, watcher_thread, nullptr);
    if (e)
        return -e;
    pthread_detach(t);
    return 0;
}

int spawn_connection(int fd, bool tcp) {
    Conn* c = new (std::nothrow) Conn;
    if (!c)
        return -ENOMEM;
    c->fd = fd;
    c->tcp = tcp;
    c->rx.buf = static_cast<uint8_t*>(aligned_alloc(64, k_rx_cap + 64 - (k_rx_cap % 64)));
    c->out = static_cast<uint8_t*>(calloc(1, k_max_data + k_scratch_extra));
    c->iov = static_cast<struct iovec*>(calloc(k_max_iov, sizeof(struct iovec)));
    if (!c->rx.buf || !c->out || !c->iov) {
        conn_destroy(c);
        return -ENOMEM;
    }
    if (tcp) {
        c->uid = g_config.tcp_uid;
        c->gid = g_config.tcp_gid;
    } else {
        ucred cred{};
        socklen_t len = sizeof cred;
        if (getsockopt(fd, SOL_SOCKET, SO_PEERCRED, &cred, &len) < 0) {
            conn_destroy(c);
            return -errno;
        }
        c->uid = cred.uid;
        c->gid = cred.gid;
        c->peer_pid = cred.pid;
    }
    {
        std::lock_guard<std::mutex> g(g_lock);
        if (g_stopping) {
            conn_destroy(c);
            return -ESHUTDOWN;
        }
        c->id = g_next_id++;
        g_conns[c->id] = c;
    }
    epoll_event ev{};
    ev.events = EPOLLRDHUP | EPOLLET;
    ev.data.u64 = c->id;
    epoll_ctl(g_epoll, EPOLL_CTL_ADD, fd, &ev);
    pthread_attr_t attr;
    pthread_attr_init(&attr);
    pthread_attr_setdetachstate(&attr, PTHREAD_CREATE_DETACHED);
    pthread_attr_setstacksize(&attr, 1 << 20);
    pthread_t t;
    int e = pthread_create(&t, &attr, conn_thread, c);
    pthread_attr_destroy(&attr);
    if (e) {
        std::lock_guard<std::mutex> g(g_lock);
        g_conns.erase(c->id);
        epoll_ctl(g_epoll, EPOLL_CTL_DEL, fd, nullptr);
        conn_destroy(c);
        return -e;
    }
    return 0;
}

void stop_all_connections(int timeout_ms) {
    {
        std::lock_guard<std::mutex> g(g_lock);
        g_stopping = true;
        for (auto& [id, c] : g_conns) {
            shutdown(c->fd, SHUT_RDWR);
            if (!c->doomed) {
                c->doomed = true;
                g_doomed.push_back(id);
            }
        }
    }
    for (int waited = 0; waited < timeout_ms; waited += 10) {
        {
            std::lock_guard<std::mutex> g(g_lock);
            if (g_conns.empty())
                return;
        }
        usleep(10000);
    }
    log_msg(k_log_warn, "connections still busy at shutdown");
}

} // namespace akserver
