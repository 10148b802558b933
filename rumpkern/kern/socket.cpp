// Socket base: defaults for protocol operations, SOL_SOCKET options common
// to every family, and the family registry.
#include <ak/proc.h>
#include <ak/socket.h>
#include <ak/thread.h>

namespace ak {

using namespace abi;

namespace {
NoDestroy<Mutex> g_family_lock_storage;
Mutex& g_family_lock = g_family_lock_storage;
List<SocketFamily, &SocketFamily::node> g_families AK_GUARDED_BY(g_family_lock);
Atomic<uint64_t> g_socket_ino{1};

Result<int> int_option(const void* val, uint32_t len) {
    if (!val)
        return EFAULT;
    if (len < sizeof(int))
        return EINVAL;
    int v;
    __builtin_memcpy(&v, val, sizeof v);
    return v;
}

Result<uint32_t> put_int(void* val, uint32_t len, int v) {
    if (!val)
        return EFAULT;
    uint32_t n = min<uint32_t>(len, sizeof v);
    __builtin_memcpy(val, &v, n);
    return n;
}

Result<int64_t> timeval_option(const void* val, uint32_t len) {
    if (!val)
        return EFAULT;
    if (len < sizeof(Timeval))
        return EINVAL;
    Timeval tv;
    __builtin_memcpy(&tv, val, sizeof tv);
    if (tv.tv_usec < 0 || tv.tv_usec >= 1000000)
        return EDOM;
    if (tv.tv_sec < 0)
        return int64_t(0);
    if (tv.tv_sec > 1000000000)
        tv.tv_sec = 1000000000;
    return tv.tv_sec * k_ns_per_sec + tv.tv_usec * 1000;
}

} // namespace

void socket_register_family(SocketFamily& f) {
    MutexGuard g(g_family_lock);
    if (!f.node.linked())
        g_families.push_back(f);
}

SocketFamily* socket_find_family(int family) {
    MutexGuard g(g_family_lock);
    for (auto& f : g_families)
        if (f.family == family)
            return &f;
    return nullptr;
}

Result<RefPtr<Socket>> socket_from_fd(int fd) {
    RefPtr<File> f = TRY(curproc().fds().get(fd));
    Socket* s = f->socket();
    if (!s)
        return ENOTSOCK;
    return RefPtr<Socket>(s);
}

Result<void> Socket::bind(const SockAddr&) {
    return EOPNOTSUPP;
}
Result<void> Socket::listen(int) {
    return EOPNOTSUPP;
}
Result<RefPtr<Socket>> Socket::accept(int) {
    return EOPNOTSUPP;
}
Result<void> Socket::connect(const SockAddr&) {
    return EOPNOTSUPP;
}
Result<size_t> Socket::sendmsg(Uio&, const SockAddr*, int) {
    return EOPNOTSUPP;
}
Result<size_t> Socket::recvmsg(Uio&, SockAddr*, int, int*) {
    return EOPNOTSUPP;
}
Result<void> Socket::shutdown(int) {
    return EOPNOTSUPP;
}
Result<void> Socket::getsockname(SockAddr& out) {
    out.len = 2;
    uint16_t f = static_cast<uint16_t>(m_family);
    __builtin_memcpy(out.bytes, &f, 2);
    return {};
}
Result<void> Socket::getpeername(SockAddr&) {
    return ENOTCONN;
}
Result<void> Socket::set_option(int, int, const void*, uint32_t) {
    return ENOPROTOOPT;
}
Result<uint32_t> Socket::get_option(int, int, void*, uint32_t) {
    return ENOPROTOOPT;
}
Result<long> Socket::protocol_ioctl(unsigned long, void*) {
    return ENOTTY;
}

Result<size_t> Socket::read(Uio& uio, int64_t&) {
    return recvmsg(uio, nullptr, 0, nullptr);
}
Result<size_t> Socket::write(Uio& uio, int64_t&) {
    return sendmsg(uio, nullptr, 0);
}

Result<void> Socket::stat(abi::Stat& st) {
    __builtin_memset(&st, 0, sizeof st);
    st.st_mode = S_IFSOCK | 0777;
    st.st_nlink = 1;
    st.st_blksize = 4096;
    st.st_ino = g_socket_ino.fetch_add(1);
    Cred c = curproc().cred();
    st.st_uid = c.euid;
    st.st_gid = c.egid;
    return {};
}

Result<long> Socket::ioctl(unsigned long cmd, void* arg) {
    if (cmd == k_fionread || cmd == k_siocoutq) {
        if (!arg)
            return EFAULT;
        size_t n = cmd == k_fionread ? readable_bytes() : unsent_bytes();
        int v = n > 0x7fffffff ? 0x7fffffff : static_cast<int>(n);
        __builtin_memcpy(arg, &v, sizeof v);
        return 0L;
    }
    return protocol_ioctl(cmd, arg);
}

Result<void> Socket::setsockopt(int level, int name, const void* val, uint32_t len) {
    if (level != k_sol_socket)
        return set_option(level, name, val, len);
    auto flag = [&](uint32_t bit) -> Result<void> {
        int v = TRY(int_option(val, len));
        if (v)
            m_options.fetch_or(bit);
        else
            m_options.fetch_and(~bit);
        return {};
    };
    switch (name) {
    case k_so_reuseaddr:
        return flag(k_opt_reuseaddr);
    case k_so_reuseport:
        return flag(k_opt_reuseport);
    case k_so_keepalive:
        TRY(flag(k_opt_keepalive));
        // Let the protocol start or stop its timer.
        (void)set_option(level, name, val, len);
        return {};
    case k_so_broadcast:
        return flag(k_opt_broadcast);
    case k_so_dontroute:
        return flag(k_opt_dontroute);
    case k_so_oobinline:
        return flag(k_opt_oobinline);
    case k_so_sndbuf:
    case k_so_rcvbuf:
    case k_so_sndbufforce:
    case k_so_rcvbufforce: {
        int v = TRY(int_option(val, len));
        // Linux doubles the value (bookkeeping overhead) and clamps it.
        uint64_t b = v < 0 ? 0 : uint64_t(v) * 2;
        b = max<uint64_t>(b, name == k_so_sndbuf || name == k_so_sndbufforce ? 4608 : 2304);
        b = min<uint64_t>(b, k_max_buf);
        (name == k_so_sndbuf || name == k_so_sndbufforce ? m_sndbuf : m_rcvbuf)
            .store(static_cast<uint32_t>(b));
        buffer_sizes_changed();
        return {};
    }
    case k_so_rcvtimeo:
        m_rcvtimeo_ns.store(TRY(timeval_option(val, len)));
        return {};
    case k_so_sndtimeo:
        m_sndtimeo_ns.store(TRY(timeval_option(val, len)));
        return {};
    case k_so_linger: {
        if (!val)
            return EFAULT;
        if (len < sizeof(Linger))
            return EINVAL;
        Linger l;
        __builtin_memcpy(&l, val, sizeof l);
        m_linger.store(l.l_onoff ? max(l.l_linger, 0) : -1);
        return {};
    }
    case k_so_bindtodevice:
        // The protocol resolves the name (it owns the interface list).
        return set_option(level, name, val, len);
    case k_so_rcvlowat:
    case k_so_sndlowat:
    case k_so_debug:
        TRY(int_option(val, len));
        return {};
    default:
        return set_option(level, name, val, len);
    }
}

Result<uint32_t> Socket::getsockopt(int level, int name, void* val, uint32_t len) {
    if (level != k_sol_socket)
        return get_option(level, name, val, len);
    uint32_t opts = m_options.load();
    switch (name) {
    case k_so_type:
        return put_int(val, len, m_type);
    case k_so_domain:
        return put_int(val, len, m_family);
    case k_so_protocol:
        return put_int(val, len, m_protocol);
    case k_so_error:
        return put_int(val, len, take_error());
    case k_so_reuseaddr:
        return put_int(val, len, !!(opts & k_opt_reuseaddr));
    case k_so_reuseport:
        return put_int(val, len, !!(opts & k_opt_reuseport));
    case k_so_keepalive:
        return put_int(val, len, !!(opts & k_opt_keepalive));
    case k_so_broadcast:
        return put_int(val, len, !!(opts & k_opt_broadcast));
    case k_so_dontroute:
        return put_int(val, len, !!(opts & k_opt_dontroute));
    case k_so_oobinline:
        return put_int(val, len, !!(opts & k_opt_oobinline));
    case k_so_sndbuf:
        return put_int(val, len, static_cast<int>(sndbuf()));
    case k_so_rcvbuf:
        return put_int(val, len, static_cast<int>(rcvbuf()));
    case k_so_rcvlowat:
    case k_so_sndlowat:
        return put_int(val, len, 1);
    case k_so_rcvtimeo:
    case k_so_sndtimeo: {
        if (!val)
            return EFAULT;
        int64_t ns = (name == k_so_rcvtimeo ? m_rcvtimeo_ns : m_sndtimeo_ns).load();
        Timeval tv{ns / k_ns_per_sec, (ns % k_ns_per_sec) / 1000};
        uint32_t n = min<uint32_t>(len, sizeof tv);
        __builtin_memcpy(val, &tv, n);
        return n;
    }
    case k_so_linger: {
        if (!val)
            return EFAULT;
        int l = linger();
        Linger lg{l >= 0, l >= 0 ? l : 0};
        uint32_t n = min<uint32_t>(len, sizeof lg);
        __builtin_memcpy(val, &lg, n);
        return n;
    }
    default:
        return get_option(level, name, val, len);
    }
}

} // namespace ak
