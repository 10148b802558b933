// AF_UNIX sockets: stream and datagram, socketpair, names in the file
// system (a bind creates an S_IFSOCK node through Vnode::create) and in the
// Linux abstract namespace (sun_path starting with a NUL byte).
//
// Locking: one lock (g_unix_lock) guards every AF_UNIX socket's state; the
// family is not a throughput path.  Peers point at each other with raw
// pointers valid under that lock; a socket's destructor disconnects its
// peer under the lock, so no reference cycle keeps closed sockets alive.
// Wait queues are woken with g_unix_lock held (lock order: g_unix_lock ->
// wait queue lock); poll() registers before taking g_unix_lock.
#include <ak/component.h>
#include <ak/log.h>
#include <ak/proc.h>
#include <ak/socket.h>
#include <ak/thread.h>
#include <ak/vfs.h>
#include <ak/wait.h>

namespace ak {

using namespace abi;

namespace {

// Never destroyed: no exit-time destructors in kernel code.
NoDestroy<Mutex> g_unix_lock_storage;
Mutex& g_unix_lock = g_unix_lock_storage;

struct UnixMsg {
    ListNode node;
    SockAddr from;
    size_t len = 0;
    uint8_t data[];
};

UnixMsg* msg_alloc(size_t len) {
    void* p = kmem_alloc(sizeof(UnixMsg) + len);
    if (!p)
        return nullptr;
    auto* m = new (p) UnixMsg();
    m->len = len;
    return m;
}
void msg_free(UnixMsg* m) {
    m->~UnixMsg();
    kmem_free(m);
}

class UnixSocket;
struct Binding {
    ListNode node;
    UnixSocket* socket;
};
List<Binding, &Binding::node> g_bindings AK_GUARDED_BY(g_unix_lock);

enum class UState : uint8_t { Unconnected, Listening, Connecting, Connected, Disconnected };

class UnixSocket final : public Socket {
public:
    UnixSocket(int type, int flags) : Socket(k_af_unix, type, 0, flags) {}
    ~UnixSocket() override;

    Result<void> bind(const SockAddr& addr) override;
    Result<void> listen(int backlog) override;
    Result<RefPtr<Socket>> accept(int flags) override;
    Result<void> connect(const SockAddr& addr) override;
    Result<size_t> sendmsg(Uio& uio, const SockAddr* to, int flags) override;
    Result<size_t> recvmsg(Uio& uio, SockAddr* from, int flags, int* msg_flags) override;
    Result<void> shutdown(int how) override;
    Result<void> getsockname(SockAddr& out) override;
    Result<void> getpeername(SockAddr& out) override;
    Result<uint32_t> get_option(int level, int name, void* val, uint32_t len) override;
    Result<void> set_option(int level, int name, const void*, uint32_t) override {
        if (level == k_sol_socket && (name == k_so_keepalive || name == k_so_bindtodevice))
            return {};
        return ENOPROTOOPT;
    }
    uint32_t poll(uint32_t events, PollTable* pt) override;
    size_t readable_bytes() override;

    static void connect_pair(UnixSocket& a, UnixSocket& b) AK_REQUIRES(g_unix_lock) {
        a.m_peer = &b;
        b.m_peer = &a;
        a.m_state = b.m_state = UState::Connected;
    }
    void set_cred_locked() AK_REQUIRES(g_unix_lock) {
        Proc& p = curproc();
        Cred c = p.cred();
        m_cred = {p.pid(), c.euid, c.egid};
    }

private:
    bool stream() const { return type() != k_sock_dgram; }
    Result<UnixSocket*> lookup_locked(const SockAddr& addr, RefPtr<Vnode>& vn)
        AK_REQUIRES(g_unix_lock);
    size_t rx_capacity() const { return min<size_t>(rcvbuf(), 4 * 1024 * 1024); }
    void notify(uint32_t events) AK_REQUIRES(g_unix_lock) {
        m_cv.broadcast();
        m_waitq.wake(events);
    }
    Result<size_t> send_stream(Uio& uio, int flags);
    Result<size_t> send_dgram(Uio& uio, const SockAddr* to, int flags);

    CondVar m_cv;
    WaitQueue m_waitq;
    UState m_state AK_GUARDED_BY(g_unix_lock) = UState::Unconnected;
    UnixSocket* m_peer AK_GUARDED_BY(g_unix_lock) = nullptr;
    SockAddr m_addr;       // bound name (len 0: unbound)
    RefPtr<Vnode> m_vnode; // file-system name
    Binding m_binding{ListNode(), this};
    bool m_shut_rd AK_GUARDED_BY(g_unix_lock) = false;
    bool m_shut_wr AK_GUARDED_BY(g_unix_lock) = false;
    bool m_peer_shut_wr AK_GUARDED_BY(g_unix_lock) = false; // EOF after the data
    // Stream receive ring.
    uint8_t* m_ring AK_GUARDED_BY(g_unix_lock) = nullptr;
    size_t m_ring_cap = 0;
    size_t m_ring_head AK_GUARDED_BY(g_unix_lock) = 0;
    size_t m_ring_len AK_GUARDED_BY(g_unix_lock) = 0;
    // Datagram receive queue.
    List<UnixMsg, &UnixMsg::node> m_msgs AK_GUARDED_BY(g_unix_lock);
    size_t m_msg_bytes AK_GUARDED_BY(g_unix_lock) = 0;
    // Listening.
    int m_backlog = 0;
    Vector<RefPtr<UnixSocket>> m_acceptq AK_GUARDED_BY(g_unix_lock);
    // Datagram default destination set by connect() with a name.
    SockAddr m_dgram_dest;
    RefPtr<Vnode> m_dgram_vnode;

public:
    Ucred m_cred{};
    Ucred m_peer_cred{};
};

UnixSocket::~UnixSocket() {
    MutexGuard g(g_unix_lock);
    if (m_binding.node.linked())
        g_bindings.remove(m_binding);
    if (m_peer) {
        UnixSocket* p = m_peer;
        p->m_peer = nullptr;
        if (p->m_state == UState::Connected)
            p->m_state = UState::Disconnected;
        p->m_peer_shut_wr = true;
        p->notify(POLLIN | POLLOUT | POLLHUP | POLLRDHUP);
        m_peer = nullptr;
    }
    // Datagram sockets connected to us keep a dangling m_peer otherwise.
    // (Only stream peers are mutual; dgram "connections" are looked up by
    // name at send time, see send_dgram.)
    while (UnixMsg* m = m_msgs.pop_front())
        msg_free(m);
    kmem_free(m_ring);
    m_acceptq.clear();
}

Result<UnixSocket*> UnixSocket::lookup_locked(const SockAddr& addr, RefPtr<Vnode>& vn) {
    auto sun = addr.as<SockaddrUn>();
    if (addr.len > 2 && sun.sun_path[0] == 0) {
        for (auto& b : g_bindings) {
            SockAddr& a = b.socket->m_addr;
            if (!b.socket->m_vnode && a.len == addr.len &&
                __builtin_memcmp(a.bytes, addr.bytes, addr.len) == 0)
                return b.socket;
        }
        return ECONNREFUSED;
    }
    for (auto& b : g_bindings)
        if (b.socket->m_vnode && b.socket->m_vnode.get() == vn.get())
            return b.socket;
    return ECONNREFUSED;
}

// Copy a sun_path out of addr into a NUL-terminated buffer.
Result<void> unix_path(const SockAddr& addr, char (&path)[sizeof(SockaddrUn::sun_path) + 1]) {
    if (addr.len <= 2 || addr.family() != k_af_unix)
        return EINVAL;
    size_t n = min<size_t>(addr.len - 2, sizeof(SockaddrUn::sun_path));
    __builtin_memcpy(path, addr.bytes + 2, n);
    path[n] = 0;
    if (path[0] == 0)
        return EINVAL;
    return {};
}

bool is_abstract(const SockAddr& addr) {
    return addr.len > 2 && addr.bytes[2] == 0;
}

// Resolve a file-system name to its vnode (connect/sendto).
Result<RefPtr<Vnode>> resolve_name(const SockAddr& addr) {
    if (addr.family() != k_af_unix)
        return EINVAL;
    if (is_abstract(addr))
        return RefPtr<Vnode>();
    char path[sizeof(SockaddrUn::sun_path) + 1];
    TRY(unix_path(addr, path));
    RefPtr<Vnode> v = TRY(namei(AT_FDCWD, path, k_lookup_follow));
    if (v->type() != VType::Sock)
        return ECONNREFUSED;
    TRY(vfs_access(*v, curproc().cred(), W_OK));
    return v;
}

Result<void> UnixSocket::bind(const SockAddr& addr) {
    if (addr.family() != k_af_unix || addr.len < 2)
        return EINVAL;
    if (addr.len == 2)
        return EINVAL; // autobind is not supported
    {
        MutexGuard g(g_unix_lock);
        if (m_addr.len)
            return EINVAL;
    }
    SockAddr name = addr;
    RefPtr<Vnode> vn;
    if (!is_abstract(addr)) {
        // Keep the name as given (NUL-terminated within the length).
        char path[sizeof(SockaddrUn::sun_path) + 1];
        TRY(unix_path(addr, path));
        size_t plen = str_len(path);
        name.len = static_cast<uint32_t>(2 + plen + 1);
        name.bytes[2 + plen] = 0;
        ParentLookup pl = TRY(namei_parent(AT_FDCWD, path));
        if (pl.name.empty() || pl.dot || pl.trailing_slash)
            return EINVAL;
        Vnode& dir = *pl.dir;
        Proc& p = curproc();
        Cred cred = p.cred();
        WriteGuard wg(dir.lock());
        if (dir.lookup(pl.name).ok())
            return EADDRINUSE;
        VAttr da;
        TRY(dir.getattr(da));
        TRY(vfs_access_attr(da, cred, W_OK | X_OK));
        if (dir.mount().read_only())
            return EROFS;
        vn = TRY(dir.create(pl.name, S_IFSOCK | (0777 & ~p.umask()), cred, 0));
    }
    MutexGuard g(g_unix_lock);
    if (m_addr.len)
        return EINVAL;
    if (!vn) {
        for (auto& b : g_bindings)
            if (!b.socket->m_vnode && b.socket->m_addr.len == name.len &&
                __builtin_memcmp(b.socket->m_addr.bytes, name.bytes, name.len) == 0)
                return EADDRINUSE;
    }
    m_addr = name;
    m_vnode = move(vn);
    g_bindings.push_back(m_binding);
    return {};
}

Result<void> UnixSocket::listen(int backlog) {
    if (!stream())
        return EOPNOTSUPP;
    MutexGuard g(g_unix_lock);
    if (!m_addr.len)
        return EINVAL;
    if (m_state != UState::Unconnected && m_state != UState::Listening)
        return EINVAL;
    m_state = UState::Listening;
    m_backlog = max(backlog, 1);
    set_cred_locked();
    return {};
}

Result<RefPtr<Socket>> UnixSocket::accept(int flags) {
    if (!stream())
        return EOPNOTSUPP;
    int64_t deadline = recv_deadline();
    MutexGuard g(g_unix_lock);
    for (;;) {
        if (m_state != UState::Listening)
            return EINVAL;
        if (!m_acceptq.empty()) {
            RefPtr<UnixSocket> s = move(m_acceptq[0]);
            m_acceptq.remove(0);
            if (flags & O_NONBLOCK)
                TRY(s->set_status_flags(s->flags() | O_NONBLOCK));
            notify(POLLOUT); // a connector waiting for room
            return RefPtr<Socket>(move(s));
        }
        if (nonblocking())
            return EAGAIN;
        Result<void> r = m_cv.wait_interruptible(g_unix_lock, deadline);
        if (r.is_error())
            return r.error() == ETIMEDOUT ? Error{EAGAIN} : Error{r.error()};
    }
}

Result<void> UnixSocket::connect(const SockAddr& addr) {
    if (addr.family() == k_af_unspec && !stream()) {
        MutexGuard g(g_unix_lock);
        m_peer_cred = {};
        m_state = UState::Unconnected;
        return {};
    }
    RefPtr<Vnode> vn = TRY(resolve_name(addr));
    if (!stream()) {
        // A datagram "connection" only records the default destination.
        MutexGuard g(g_unix_lock);
        TRY(lookup_locked(addr, vn));
        m_dgram_dest = addr;
        m_dgram_vnode = move(vn);
        m_state = UState::Connected;
        return {};
    }
    auto* srv = make<UnixSocket>(type(), 0);
    if (!srv)
        return ENOBUFS;
    RefPtr<UnixSocket> server = adopt_ref(srv);
    int64_t deadline = send_deadline();
    MutexGuard g(g_unix_lock);
    for (;;) {
        if (m_state == UState::Connected)
            return EISCONN;
        if (m_state == UState::Listening)
            return EINVAL;
        UnixSocket* l = TRY(lookup_locked(addr, vn));
        if (l->m_state != UState::Listening || l->type() != type())
            return ECONNREFUSED;
        if (l->m_acceptq.size() < static_cast<size_t>(l->m_backlog)) {
            TRY(l->m_acceptq.try_append(server));
            server->m_addr = l->m_addr;
            server->m_cred = l->m_cred;
            set_cred_locked();
            server->m_peer_cred = m_cred;
            m_peer_cred = l->m_cred;
            connect_pair(*this, *server);
            l->notify(POLLIN);
            return {};
        }
        if (nonblocking())
            return EAGAIN;
        // Wait for the listener to accept; we hold no reference, so look it
        // up again afterwards.
        Result<void> r = l->m_cv.wait_interruptible(g_unix_lock, deadline);
        if (r.is_error())
            return r.error() == ETIMEDOUT ? Error{EAGAIN} : Error{r.error()};
    }
}

Result<size_t> UnixSocket::send_stream(Uio& uio, int flags) {
    int64_t deadline = send_deadline();
    size_t total = uio.resid();
    size_t put = 0;
    MutexGuard g(g_unix_lock);
    for (;;) {
        if (m_shut_wr)
            return put ? Result<size_t>(put) : Result<size_t>(EPIPE);
        if (!m_peer) {
            if (m_state == UState::Disconnected)
                return put ? Result<size_t>(put) : Result<size_t>(EPIPE);
            return put ? Result<size_t>(put) : Result<size_t>(ENOTCONN);
        }
        UnixSocket& p = *m_peer;
        if (p.m_shut_rd)
            return put ? Result<size_t>(put) : Result<size_t>(EPIPE);
        if (!p.m_ring) {
            p.m_ring_cap = p.rx_capacity();
            p.m_ring = static_cast<uint8_t*>(kmem_alloc(p.m_ring_cap));
            if (!p.m_ring)
                return put ? Result<size_t>(put) : Result<size_t>(ENOBUFS);
        }
        size_t space = p.m_ring_cap - p.m_ring_len;
        if (space == 0) {
            if (put && (flags & k_msg_dontwait))
                return put;
            if (dont_wait(flags))
                return put ? Result<size_t>(put) : Result<size_t>(EAGAIN);
            Result<void> r = m_cv.wait_interruptible(g_unix_lock, deadline);
            if (r.is_error()) {
                if (put)
                    return put;
                return r.error() == ETIMEDOUT ? Error{EAGAIN} : Error{r.error()};
            }
            continue;
        }
        while (space > 0 && uio.resid() > 0) {
            size_t tail = (p.m_ring_head + p.m_ring_len) % p.m_ring_cap;
            size_t chunk = min(space, p.m_ring_cap - tail);
            size_t n = uio.copy_in(p.m_ring + tail, chunk);
            if (n == 0)
                break;
            p.m_ring_len += n;
            space -= n;
            put += n;
        }
        p.notify(POLLIN | POLLRDNORM);
        if (put == total || uio.resid() == 0)
            return put;
    }
}

Result<size_t> UnixSocket::send_dgram(Uio& uio, const SockAddr* to, int flags) {
    RefPtr<Vnode> vn;
    SockAddr dest;
    bool by_name = to != nullptr;
    {
        MutexGuard g(g_unix_lock);
        if (m_shut_wr)
            return EPIPE;
        if (!to) {
            if (m_state != UState::Connected && !m_peer)
                return m_state == UState::Disconnected ? Error{ECONNREFUSED} : Error{ENOTCONN};
            if (!m_peer) {
                dest = m_dgram_dest;
                vn = m_dgram_vnode;
                by_name = true;
            }
        }
    }
    if (to) {
        dest = *to;
        vn = TRY(resolve_name(dest));
    }
    size_t len = uio.resid();
    if (len > rcvbuf() || len > 4 * 1024 * 1024)
        return EMSGSIZE;
    UnixMsg* m = msg_alloc(len);
    if (!m)
        return ENOBUFS;
    uio.copy_in(m->data, len);
    int64_t deadline = send_deadline();
    MutexGuard g(g_unix_lock);
    m->from = m_addr;
    if (!m->from.len) {
        m->from.len = 2;
        uint16_t f = k_af_unix;
        __builtin_memcpy(m->from.bytes, &f, 2);
    }
    for (;;) {
        UnixSocket* target = nullptr;
        if (by_name) {
            Result<UnixSocket*> r = lookup_locked(dest, vn);
            if (r.is_error() || r.value()->stream()) {
                msg_free(m);
                return r.is_error() ? Error{r.error()} : Error{ECONNREFUSED};
            }
            target = r.value();
        } else {
            target = m_peer;
            if (!target) {
                msg_free(m);
                return ECONNREFUSED;
            }
        }
        UnixSocket& p = *target;
        if (p.m_shut_rd) {
            msg_free(m);
            return EPIPE;
        }
        if (p.m_msg_bytes + len <= p.rcvbuf() || p.m_msgs.empty()) {
            p.m_msgs.push_back(*m);
            p.m_msg_bytes += len;
            p.notify(POLLIN | POLLRDNORM);
            return len;
        }
        if (dont_wait(flags)) {
            msg_free(m);
            return EAGAIN;
        }
        Result<void> w = p.m_cv.wait_interruptible(g_unix_lock, deadline);
        if (w.is_error()) {
            msg_free(m);
            return w.error() == ETIMEDOUT ? Error{EAGAIN} : Error{w.error()};
        }
    }
}

Result<size_t> UnixSocket::sendmsg(Uio& uio, const SockAddr* to, int flags) {
    if (stream()) {
        if (to && to->len) {
            MutexGuard g(g_unix_lock);
            if (m_state != UState::Connected)
                return EOPNOTSUPP;
            return EISCONN;
        }
        return send_stream(uio, flags);
    }
    return send_dgram(uio, to, flags);
}

Result<size_t> UnixSocket::recvmsg(Uio& uio, SockAddr* from, int flags, int* msg_flags) {
    int64_t deadline = recv_deadline();
    bool peek = flags & k_msg_peek;
    MutexGuard g(g_unix_lock);
    if (stream()) {
        size_t got = 0;
        for (;;) {
            if (m_ring_len > 0) {
                size_t head = m_ring_head, len = m_ring_len;
                while (len > 0 && uio.resid() > 0) {
                    size_t chunk = min(len, m_ring_cap - head);
                    size_t n = uio.copy_out(m_ring + head, chunk);
                    if (n == 0)
                        break;
                    head = (head + n) % m_ring_cap;
                    len -= n;
                    got += n;
                }
                if (!peek) {
                    m_ring_head = len ? head : 0;
                    m_ring_len = len;
                    if (m_peer)
                        m_peer->notify(POLLOUT | POLLWRNORM);
                }
                if (from && m_peer)
                    *from = m_peer->m_addr;
                if (!(flags & k_msg_waitall) || uio.resid() == 0 || peek)
                    return got;
            }
            if (m_shut_rd || m_peer_shut_wr || m_state == UState::Disconnected)
                return got;
            if (m_state != UState::Connected)
                return got ? Result<size_t>(got) : Result<size_t>(EINVAL);
            if (uio.resid() == 0)
                return got;
            if (dont_wait(flags))
                return got ? Result<size_t>(got) : Result<size_t>(EAGAIN);
            Result<void> r = m_cv.wait_interruptible(g_unix_lock, deadline);
            if (r.is_error()) {
                if (got)
                    return got;
                return r.error() == ETIMEDOUT ? Error{EAGAIN} : Error{r.error()};
            }
        }
    }
    for (;;) {
        if (UnixMsg* m = m_msgs.first()) {
            size_t n = uio.copy_out(m->data, m->len);
            if (n < m->len && msg_flags)
                *msg_flags |= k_msg_trunc;
            if (from)
                *from = m->from;
            size_t ret = (flags & k_msg_trunc) ? m->len : n;
            if (!peek) {
                m_msgs.remove(*m);
                m_msg_bytes -= m->len;
                msg_free(m);
                notify(POLLOUT | POLLWRNORM); // senders waiting for room
            }
            return ret;
        }
        if (m_shut_rd)
            return size_t(0);
        if (dont_wait(flags))
            return EAGAIN;
        Result<void> r = m_cv.wait_interruptible(g_unix_lock, deadline);
        if (r.is_error())
            return r.error() == ETIMEDOUT ? Error{EAGAIN} : Error{r.error()};
    }
}

Result<void> UnixSocket::shutdown(int how) {
    MutexGuard g(g_unix_lock);
    if (stream() && m_state != UState::Connected && m_state != UState::Disconnected)
        return ENOTCONN;
    if (how == k_shut_rd || how == k_shut_rdwr)
        m_shut_rd = true;
    if (how == k_shut_wr || how == k_shut_rdwr) {
        m_shut_wr = true;
        if (m_peer) {
            m_peer->m_peer_shut_wr = true;
            m_peer->notify(POLLIN | POLLRDHUP);
        }
    }
    notify(POLLIN | POLLOUT | POLLHUP);
    return {};
}

Result<void> UnixSocket::getsockname(SockAddr& out) {
    MutexGuard g(g_unix_lock);
    if (m_addr.len) {
        out = m_addr;
        return {};
    }
    return Socket::getsockname(out);
}

Result<void> UnixSocket::getpeername(SockAddr& out) {
    MutexGuard g(g_unix_lock);
    if (stream()) {
        if (!m_peer)
            return ENOTCONN;
        out = m_peer->m_addr;
        if (!out.len)
            return Socket::getsockname(out);
        return {};
    }
    if (m_state != UState::Connected)
        return ENOTCONN;
    out = m_dgram_dest;
    return {};
}

Result<uint32_t> UnixSocket::get_option(int level, int name, void* val, uint32_t len) {
    if (level == k_sol_socket && name == k_so_peercred) {
        if (!val)
            return EFAULT;
        MutexGuard g(g_unix_lock);
        uint32_t n = min<uint32_t>(len, sizeof(Ucred));
        __builtin_memcpy(val, &m_peer_cred, n);
        return n;
    }
    if (level == k_sol_socket && name == k_so_acceptconn) {
        MutexGuard g(g_unix_lock);
        int v = m_state == UState::Listening;
        uint32_t n = min<uint32_t>(len, sizeof v);
        if (!val)
            return EFAULT;
        __builtin_memcpy(val, &v, n);
        return n;
    }
    return ENOPROTOOPT;
}

uint32_t UnixSocket::poll(uint32_t events, PollTable* pt) {
    if (pt)
        pt->add(m_waitq);
    MutexGuard g(g_unix_lock);
    uint32_t r = 0;
    if (m_state == UState::Listening) {
        if (!m_acceptq.empty())
            r |= POLLIN | POLLRDNORM;
        return r & events;
    }
    if (stream()) {
        if (m_ring_len > 0)
            r |= POLLIN | POLLRDNORM;
        if (m_shut_rd || m_peer_shut_wr)
            r |= POLLIN | POLLRDNORM | POLLRDHUP;
        if (m_state == UState::Disconnected || (m_shut_wr && (m_shut_rd || m_peer_shut_wr)))
            r |= POLLHUP;
        if (m_peer && !m_shut_wr && (!m_peer->m_ring || m_peer->m_ring_len < m_peer->m_ring_cap))
            r |= POLLOUT | POLLWRNORM;
        if (m_state == UState::Unconnected)
            r |= POLLOUT | POLLHUP;
    } else {
        if (!m_msgs.empty() || m_shut_rd)
            r |= POLLIN | POLLRDNORM;
        r |= POLLOUT | POLLWRNORM;
    }
    return r & (events | POLLHUP | POLLERR);
}

size_t UnixSocket::readable_bytes() {
    MutexGuard g(g_unix_lock);
    if (stream())
        return m_ring_len;
    UnixMsg* m = m_msgs.first();
    return m ? m->len : 0;
}

Result<RefPtr<Socket>> unix_create(int type, int protocol, int flags) {
    if (type != k_sock_stream && type != k_sock_dgram && type != k_sock_seqpacket)
        return ESOCKTNOSUPPORT;
    if (protocol != 0)
        return EPROTONOSUPPORT;
    auto* s = make<UnixSocket>(type, flags);
    if (!s)
        return ENOBUFS;
    return adopt_ref<Socket>(s);
}

Result<void> unix_pair(int type, int protocol, int flags, RefPtr<Socket>& a, RefPtr<Socket>& b) {
    RefPtr<Socket> x = TRY(unix_create(type, protocol, flags));
    RefPtr<Socket> y = TRY(unix_create(type, protocol, flags));
    auto* ux = static_cast<UnixSocket*>(x.get());
    auto* uy = static_cast<UnixSocket*>(y.get());
    {
        MutexGuard g(g_unix_lock);
        UnixSocket::connect_pair(*ux, *uy);
        ux->set_cred_locked();
        uy->set_cred_locked();
        ux->m_peer_cred = uy->m_cred;
        uy->m_peer_cred = ux->m_cred;
    }
    a = move(x);
    b = move(y);
    return {};
}

SocketFamily g_unix_family{k_af_unix, unix_create, unix_pair, ListNode()};

Result<void> unix_init() {
    socket_register_family(g_unix_family);
    return {};
}

} // namespace

} // namespace ak

AK_COMPONENT(af_unix, ak::InitLevel::Net, ak::unix_init);
