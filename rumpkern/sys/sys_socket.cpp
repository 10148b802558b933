// Socket system calls: decode and copy the caller's arguments, then call
// the socket's protocol operations (ak/socket.h).
#include <ak/socket.h>
#include <ak/syscall.h>

namespace ak::sys {

using namespace abi;

namespace {

constexpr int k_sock_flags = k_sock_nonblock | k_sock_cloexec;

Result<void> copyin_sockaddr(SockAddr& out, const void* user, uint32_t len) {
    if (len > k_sockaddr_storage)
        return EINVAL;
    if (len && !user)
        return EFAULT;
    if (len)
        __builtin_memcpy(out.bytes, user, len);
    out.len = len;
    return {};
}

// Copy addr to the caller's (buf, *lenp): truncate to the caller's size and
// report the full size, as Linux does.
Result<void> copyout_sockaddr(const SockAddr& addr, void* buf, uint32_t* lenp) {
    if (!lenp)
        return EFAULT;
    uint32_t cap;
    __builtin_memcpy(&cap, lenp, sizeof cap);
    if (static_cast<int>(cap) < 0)
        return EINVAL;
    uint32_t n = min(cap, addr.len);
    if (n) {
        if (!buf)
            return EFAULT;
        __builtin_memcpy(buf, addr.bytes, n);
    }
    __builtin_memcpy(lenp, &addr.len, sizeof addr.len);
    return {};
}

Result<size_t> iov_total(const Iovec* iov, size_t cnt) {
    if (cnt > IOV_MAX)
        return EMSGSIZE;
    if (cnt && !iov)
        return EFAULT;
    size_t total = 0;
    for (size_t i = 0; i < cnt; i++) {
        if (static_cast<long>(iov[i].iov_len) < 0)
            return EINVAL;
        if (iov[i].iov_len && !iov[i].iov_base)
            return EFAULT;
        total += iov[i].iov_len;
        if (total > 0x7fffffffffffffffull)
            return EINVAL;
    }
    return min(total, k_max_rw);
}

Result<long> do_accept(int fd, Sockaddr* addr, uint32_t* addrlen, int flags) {
    if (flags & ~k_sock_flags)
        return EINVAL;
    if (addr && !addrlen)
        return EFAULT;
    if (addrlen) {
        int cap;
        __builtin_memcpy(&cap, addrlen, sizeof cap);
        if (cap < 0)
            return EINVAL;
    }
    RefPtr<Socket> s = TRY(socket_from_fd(fd));
    RefPtr<Socket> ns = TRY(s->accept(flags & O_NONBLOCK));
    SockAddr peer;
    if (addrlen) {
        if (ns->getpeername(peer).is_error())
            peer.len = 0;
    }
    int nfd = TRY(curproc().fds().install(move(ns), flags & O_CLOEXEC));
    if (addrlen)
        (void)copyout_sockaddr(peer, addr, addrlen);
    return nfd;
}

} // namespace

Result<long> sys_socket(int domain, int type, int protocol) {
    int flags = type & k_sock_flags;
    type &= ~k_sock_flags;
    if (type & ~k_sock_type_mask)
        return EINVAL;
    SocketFamily* fam = socket_find_family(domain);
    if (!fam)
        return EAFNOSUPPORT;
    RefPtr<Socket> s = TRY(fam->create(type, protocol, flags & O_NONBLOCK));
    int fd = TRY(curproc().fds().install(move(s), flags & O_CLOEXEC));
    return fd;
}

Result<long> sys_socketpair(int domain, int type, int protocol, int* sv) {
    int flags = type & k_sock_flags;
    type &= ~k_sock_flags;
    if (type & ~k_sock_type_mask)
        return EINVAL;
    if (!sv)
        return EFAULT;
    SocketFamily* fam = socket_find_family(domain);
    if (!fam)
        return EAFNOSUPPORT;
    if (!fam->pair)
        return EOPNOTSUPP;
    RefPtr<Socket> a, b;
    TRY(fam->pair(type, protocol, flags & O_NONBLOCK, a, b));
    FdTable& fds = curproc().fds();
    int fa = TRY(fds.install(move(a), flags & O_CLOEXEC));
    Result<int> fb = fds.install(move(b), flags & O_CLOEXEC);
    if (fb.is_error()) {
        (void)fds.close(fa);
        return Error{fb.error()};
    }
    int out[2] = {fa, fb.value()};
    __builtin_memcpy(sv, out, sizeof out);
    return 0L;
}

Result<long> sys_bind(int fd, const Sockaddr* addr, uint32_t addrlen) {
    SockAddr a;
    TRY(copyin_sockaddr(a, addr, addrlen));
    RefPtr<Socket> s = TRY(socket_from_fd(fd));
    TRY(s->bind(a));
    return 0L;
}

Result<long> sys_connect(int fd, const Sockaddr* addr, uint32_t addrlen) {
    SockAddr a;
    TRY(copyin_sockaddr(a, addr, addrlen));
    RefPtr<Socket> s = TRY(socket_from_fd(fd));
    TRY(s->connect(a));
    return 0L;
}

Result<long> sys_listen(int fd, int backlog) {
    RefPtr<Socket> s = TRY(socket_from_fd(fd));
    // Linux clamps to somaxconn (4096) and treats negative as that.
    if (backlog < 0 || backlog > 4096)
        backlog = 4096;
    TRY(s->listen(backlog));
    return 0L;
}

Result<long> sys_accept(int fd, Sockaddr* addr, uint32_t* addrlen) {
    return do_accept(fd, addr, addrlen, 0);
}

Result<long> sys_accept4(int fd, Sockaddr* addr, uint32_t* addrlen, int flags) {
    return do_accept(fd, addr, addrlen, flags);
}

Result<long> sys_sendto(int fd, const void* buf, size_t len, int flags, const Sockaddr* dest,
                        uint32_t addrlen) {
    if (len && !buf)
        return EFAULT;
    SockAddr a;
    if (dest)
        TRY(copyin_sockaddr(a, dest, addrlen));
    RefPtr<Socket> s = TRY(socket_from_fd(fd));
    Uio uio(const_cast<void*>(buf), min(len, k_max_rw));
    size_t n = TRY(s->sendmsg(uio, dest ? &a : nullptr, flags));
    return static_cast<long>(n);
}

Result<long> sys_recvfrom(int fd, void* buf, size_t len, int flags, Sockaddr* src,
                          uint32_t* addrlen) {
    if (len && !buf)
        return EFAULT;
    if (src && !addrlen)
        return EFAULT;
    RefPtr<Socket> s = TRY(socket_from_fd(fd));
    Uio uio(buf, min(len, k_max_rw));
    SockAddr from;
    int mflags = 0;
    size_t n = TRY(s->recvmsg(uio, src ? &from : nullptr, flags, &mflags));
    if (src && addrlen)
        TRY(copyout_sockaddr(from, src, addrlen));
    return static_cast<long>(n);
}

Result<long> sys_sendmsg(int fd, const Msghdr* msg, int flags) {
    Msghdr m;
    TRY(copy_in(m, msg));
    size_t total = TRY(iov_total(m.msg_iov, m.msg_iovlen));
    SockAddr a;
    if (m.msg_name)
        TRY(copyin_sockaddr(a, m.msg_name, m.msg_namelen));
    RefPtr<Socket> s = TRY(socket_from_fd(fd));
    // Control messages (SCM_RIGHTS, ...) are not supported yet; they are
    // ignored as for a family that has none.
    Uio uio(m.msg_iov, m.msg_iovlen, total);
    size_t n = TRY(s->sendmsg(uio, m.msg_name ? &a : nullptr, flags));
    return static_cast<long>(n);
}

Result<long> sys_recvmsg(int fd, Msghdr* msg, int flags) {
    Msghdr m;
    TRY(copy_in(m, msg));
    size_t total = TRY(iov_total(m.msg_iov, m.msg_iovlen));
    if (static_cast<int>(m.msg_namelen) < 0)
        return EINVAL;
    RefPtr<Socket> s = TRY(socket_from_fd(fd));
    Uio uio(m.msg_iov, m.msg_iovlen, total);
    SockAddr from;
    int mflags = 0;
    size_t n = TRY(s->recvmsg(uio, m.msg_name ? &from : nullptr, flags, &mflags));
    if (m.msg_name) {
        uint32_t cap = m.msg_namelen;
        uint32_t c = min(cap, from.len);
        if (c)
            __builtin_memcpy(m.msg_name, from.bytes, c);
        m.msg_namelen = from.len;
    }
    m.msg_controllen = 0;
    m.msg_flags = mflags;
    __builtin_memcpy(&msg->msg_namelen, &m.msg_namelen, sizeof m.msg_namelen);
    __builtin_memcpy(&msg->msg_controllen, &m.msg_controllen, sizeof m.msg_controllen);
    __builtin_memcpy(&msg->msg_flags, &m.msg_flags, sizeof m.msg_flags);
    return static_cast<long>(n);
}

Result<long> sys_shutdown(int fd, int how) {
    if (how < k_shut_rd || how > k_shut_rdwr)
        return EINVAL;
    RefPtr<Socket> s = TRY(socket_from_fd(fd));
    TRY(s->shutdown(how));
    return 0L;
}

Result<long> sys_setsockopt(int fd, int level, int name, const void* val, uint32_t len) {
    if (static_cast<int>(len) < 0)
        return EINVAL;
    RefPtr<Socket> s = TRY(socket_from_fd(fd));
    TRY(s->setsockopt(level, name, val, len));
    return 0L;
}

Result<long> sys_getsockopt(int fd, int level, int name, void* val, uint32_t* lenp) {
    if (!lenp)
        return EFAULT;
    int len;
    __builtin_memcpy(&len, lenp, sizeof len);
    if (len < 0)
        return EINVAL;
    RefPtr<Socket> s = TRY(socket_from_fd(fd));
    uint32_t n = TRY(s->getsockopt(level, name, val, static_cast<uint32_t>(len)));
    __builtin_memcpy(lenp, &n, sizeof n);
    return 0L;
}

Result<long> sys_getsockname(int fd, Sockaddr* addr, uint32_t* addrlen) {
    RefPtr<Socket> s = TRY(socket_from_fd(fd));
    SockAddr a;
    TRY(s->getsockname(a));
    TRY(copyout_sockaddr(a, addr, addrlen));
    return 0L;
}

Result<long> sys_getpeername(int fd, Sockaddr* addr, uint32_t* addrlen) {
    RefPtr<Socket> s = TRY(socket_from_fd(fd));
    SockAddr a;
    TRY(s->getpeername(a));
    TRY(copyout_sockaddr(a, addr, addrlen));
    return 0L;
}

} // namespace ak::sys
