// ak-server as a unikernel application: serves the remote protocol
// (docs/remote-protocol.md) on a TCP port of the image's own network
// stack, so `akctl -u tcp://HOST:PORT ...` works against a running
// unikernel.  Baked with `ak-bake -c net` like any application.
//
//   ak-run -n user,hostfwd=tcp::7000-:7000 -e AK_TOKEN=SECRET ak-server.img -- [PORT]
//   AK_TOKEN=SECRET akctl -u tcp://127.0.0.1:7000 ls /
//
// The protocol code (akproto) is ak-server's; what differs is the
// transport: sockets are kernel sockets of process 1 here, so each
// connection thread acts in process 1 for its socket I/O and switches to
// its client's kernel process only around the forwarded system call.
//
// Supported: hello (new and thread connections), syscall, stats, bye.
// Not here: fork/exec tokens (proc-prepare answers ENOSYS, so the hijack
// library cannot fork through an image yet) and unix sockets.  TCP needs
// the shared secret AK_TOKEN (environment, from ak-run -e); without one
// the server refuses to start.
#include <anykern/anykern.h>
#include <anykern/hypercall.h>
#include <anykern/kern.h>

#include <errno.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/uio.h>

#include "akproto.h"
#include "server_stats.h"

using namespace akproto;

namespace {

constexpr size_t k_rx_cap = sizeof(FrameHeader) + k_max_body;
constexpr int k_max_sessions = 64;

const char* g_secret;
size_t g_secret_len;

struct Session {
    int kpid;
    int owners;
    uint8_t key[k_token_size];
};
akhyp_mutex g_lock; // guards g_sessions and g_connections
Session g_sessions[k_max_sessions];
unsigned g_connections;

struct Conn {
    int fd; // a descriptor of process 1
    int kpid = -1;
    FrameBuffer rx{nullptr, k_rx_cap, 0};
    uint8_t* out = nullptr;
    struct iovec* iov = nullptr;
};

void random_key(uint8_t* key) {
    if (akhyp_getrandom(key, k_token_size) != 0)
        abort(); // no randomness: session keys would be guessable
}

// Socket I/O happens in process 1, whose descriptor the connection is.
long io(long nr, long a0, long a1, long a2) {
    ak_kern_proc_switch(1);
    long args[6] = {a0, a1, a2, 0, 0, 0};
    return ak_kern_syscall(nr, args);
}

long write_fn(void* ctx, struct iovec* iov, int n) {
    return io(AK_SYS_writev, *static_cast<int*>(ctx), reinterpret_cast<long>(iov), n);
}

bool send_frame(Conn* c, uint16_t type, const void* body, size_t len) {
    return frame_write(type, body, len, write_fn, &c->fd);
}

long read_fn(void* ctx, void* dst, size_t len) {
    return io(AK_SYS_read, *static_cast<int*>(ctx), reinterpret_cast<long>(dst),
              static_cast<long>(len));
}

// 1: a frame at c->rx.buf; 0: orderly end; -1: error or malformed framing.
int read_frame(Conn* c, FrameHeader& fh) {
    const char* reason;
    return frame_read(c->rx, fh, read_fn, &c->fd, reason, nullptr);
}

bool welcome(Conn* c, int status, const uint8_t* key) {
    WelcomeBody w = make_welcome(status, c->kpid, key);
    return send_frame(c, k_msg_welcome, &w, sizeof w);
}

Session* find_session_locked(int kpid) {
    for (Session& s : g_sessions)
        if (s.owners > 0 && s.kpid == kpid)
            return &s;
    return nullptr;
}

void release_session(int kpid) {
    akhyp_mutex_enter(&g_lock);
    Session* s = find_session_locked(kpid);
    bool last = s && --s->owners == 0;
    akhyp_mutex_exit(&g_lock);
    if (last) {
        ak_kern_proc_switch(1);
        ak_kern_proc_exit(kpid);
    }
}

int handshake(Conn* c) {
    FrameHeader fh;
    if (read_frame(c, fh) <= 0 || fh.type != k_msg_hello)
        return -1;
    HelloBody h;
    const uint8_t* secret = nullptr;
    size_t secret_len = 0;
    if (decode_hello(c->rx.buf + sizeof fh, fh.size, h, secret, secret_len))
        return -1;
    bool allowed =
        secret_equal(reinterpret_cast<const uint8_t*>(g_secret), g_secret_len, secret, secret_len);
    frame_consume(c->rx, fh);
    if (h.version != k_version) {
        welcome(c, EPROTONOSUPPORT, nullptr);
        return -1;
    }
    if (!allowed) {
        welcome(c, EACCES, nullptr);
        return -1;
    }
    uint8_t key[k_token_size];
    int status = 0;
    akhyp_mutex_enter(&g_lock);
    if (h.kind == k_hello_new) {
        Session* free_slot = nullptr;
        for (Session& s : g_sessions)
            if (s.owners == 0 && !free_slot)
                free_slot = &s;
        int kpid = free_slot ? ak_kern_proc_create(1, 0) : -EAGAIN;
        if (kpid < 0) {
            status = -kpid;
        } else {
            *free_slot = Session{kpid, 1, {}};
            random_key(free_slot->key);
            memcpy(key, free_slot->key, sizeof key);
            c->kpid = kpid;
        }
    } else if (h.kind == k_hello_thread) {
        Session* s = find_session_locked(h.kpid);
        if (s && secret_equal(s->key, k_token_size, h.token, k_token_size)) {
            s->owners++;
            c->kpid = h.kpid;
            memcpy(key, s->key, sizeof key);
        } else {
            status = EACCES;
        }
    } else {
        status = h.kind == k_hello_attach ? EACCES : EINVAL; // no fork/exec tokens here
    }
    akhyp_mutex_exit(&g_lock);
    if (status) {
        welcome(c, status, nullptr);
        return -1;
    }
    if (!welcome(c, 0, key)) {
        release_session(c->kpid);
        c->kpid = -1;
        return -1;
    }
    return 0;
}

bool serve_syscall(Conn* c, uint8_t* body, size_t size) {
    DecodeScratch scratch{c->out, k_max_data + 64, c->iov};
    DecodedCall call;
    if (decode_syscall(body, size, scratch, call))
        return false;
    long ret = call.early_ret;
    if (!ret) {
        ak_kern_proc_switch(c->kpid);
        ret = ak_kern_syscall(call.nr, call.args);
    }
    SyscallReply reply;
    build_syscall_reply(call, ret, reply);
    return write_all(reply.iov, reply.niov, write_fn, &c->fd);
}

bool serve_stats(Conn* c, size_t size) {
    if (size != 0)
        return false;
    StatsBody s{};
    akhyp_mutex_enter(&g_lock);
    s.connections = g_connections;
    for (Session& x : g_sessions)
        s.sessions += x.owners > 0;
    akhyp_mutex_exit(&g_lock);
    fill_kernel_stats(s, c->kpid);
    return send_frame(c, k_msg_stats_reply, &s, sizeof s);
}

void serve(Conn* c) {
    for (;;) {
        FrameHeader fh;
        if (read_frame(c, fh) <= 0)
            return;
        uint8_t* body = c->rx.buf + sizeof fh;
        bool ok;
        switch (fh.type) {
        case k_msg_syscall:
            ok = serve_syscall(c, body, fh.size);
            break;
        case k_msg_proc_prepare: {
            ProcTokenBody reply{};
            reply.status = -ENOSYS;
            ok = send_frame(c, k_msg_proc_token, &reply, sizeof reply);
            break;
        }
        case k_msg_stats:
            ok = serve_stats(c, fh.size);
            break;
        case k_msg_bye:
            return;
        default:
            ok = false;
        }
        if (!ok)
            return;
        frame_consume(c->rx, fh);
    }
}

void connection_thread(void* arg) {
    Conn* c = static_cast<Conn*>(arg);
    c->rx.buf = static_cast<uint8_t*>(malloc(k_rx_cap));
    c->out = static_cast<uint8_t*>(malloc(k_max_data + 64));
    c->iov = static_cast<struct iovec*>(malloc(sizeof(struct iovec) * k_max_iov));
    if (c->rx.buf && c->out && c->iov && handshake(c) == 0) {
        serve(c);
        release_session(c->kpid);
    }
    io(AK_SYS_close, c->fd, 0, 0);
    free(c->rx.buf);
    free(c->out);
    free(c->iov);
    free(c);
    akhyp_mutex_enter(&g_lock);
    g_connections--;
    akhyp_mutex_exit(&g_lock);
    ak_kern_thread_release();
}

} // namespace

int main(int argc, char** argv) {
    int port = argc > 1 ? atoi(argv[1]) : 7000;
    if (ak_init() < 0) {
        perror("ak_init");
        return 1;
    }
    g_secret = getenv("AK_TOKEN");
    if (!g_secret || !*g_secret || strlen(g_secret) > k_max_secret) {
        fprintf(stderr, "ak-server: set the shared secret with ak-run -e AK_TOKEN=...\n");
        return 2;
    }
    g_secret_len = strlen(g_secret);
    akhyp_mutex_init(&g_lock);
    int s = ak_sys_socket(AF_INET, SOCK_STREAM, 0);
    int one = 1;
    struct sockaddr_in addr;
    memset(&addr, 0, sizeof addr);
    addr.sin_family = AF_INET;
    addr.sin_port = htons(static_cast<unsigned short>(port));
    if (s < 0 || ak_sys_setsockopt(s, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one) < 0 ||
        ak_sys_bind(s, reinterpret_cast<struct sockaddr*>(&addr), sizeof addr) < 0 ||
        ak_sys_listen(s, 16) < 0) {
        perror("ak-server: listen");
        return 1;
    }
    printf("ak-server: serving the remote protocol on tcp port %d\n", port);
    fflush(stdout);
    for (;;) {
        int fd = ak_sys_accept(s, nullptr, nullptr);
        if (fd < 0) {
            if (errno == EINTR || errno == ECONNABORTED)
                continue;
            perror("ak-server: accept");
            return 1;
        }
        int nodelay = 1;
        ak_sys_setsockopt(fd, IPPROTO_TCP, 1 /* TCP_NODELAY */, &nodelay, sizeof nodelay);
        Conn* c = static_cast<Conn*>(calloc(1, sizeof(Conn)));
        if (c)
            *c = Conn{fd};
        akhyp_mutex_enter(&g_lock);
        g_connections++;
        akhyp_mutex_exit(&g_lock);
        if (!c || akhyp_thread_create(connection_thread, c, "ak-server conn", 0, 64 * 1024,
                                      nullptr) != 0) {
            ak_sys_close(fd);
            free(c);
            akhyp_mutex_enter(&g_lock);
            g_connections--;
            akhyp_mutex_exit(&g_lock);
        }
    }
}
