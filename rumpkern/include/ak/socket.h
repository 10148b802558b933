// Sockets: the File subclass every protocol family derives from, the
// registry of families, and helpers shared by the socket system calls
// (rumpkern/sys/sys_socket.cpp) and the protocols (components/net/).
//
// The system-call layer validates and copies arguments, then calls the
// protocol operations below.  Blocking operations block inside the
// protocol, honouring nonblocking() / MSG_DONTWAIT and the SO_RCVTIMEO /
// SO_SNDTIMEO deadlines from recv_deadline() / send_deadline().
#pragma once

#include <ak/abi/net.h>
#include <ak/file.h>
#include <ak/time.h>
#include <ak/uio.h>

namespace ak {

// A socket address in kernel memory (the size of sockaddr_storage).
struct SockAddr {
    uint8_t bytes[abi::k_sockaddr_storage] = {};
    uint32_t len = 0;

    int family() const {
        if (len < 2)
            return abi::k_af_unspec;
        uint16_t f;
        __builtin_memcpy(&f, bytes, 2);
        return f;
    }
    template <typename T> T as() const {
        T v{};
        __builtin_memcpy(&v, bytes, min<size_t>(sizeof v, len));
        return v;
    }
    template <typename T> void set(const T& v) {
        static_assert(sizeof(T) <= abi::k_sockaddr_storage);
        __builtin_memcpy(bytes, &v, sizeof v);
        len = sizeof v;
    }
};

class Socket : public File {
public:
    Socket(int family, int type, int protocol, int flags)
        : File(O_RDWR | (flags & O_NONBLOCK)), m_family(family), m_type(type),
          m_protocol(protocol) {}
    ~Socket() override = default;

    int family() const { return m_family; }
    int type() const { return m_type; }
    int protocol() const { return m_protocol; }

    // --- Protocol operations.  Defaults return EOPNOTSUPP. ---------------
    virtual Result<void> bind(const SockAddr& addr);
    virtual Result<void> listen(int backlog);
    // A connected socket from the accept queue; flags are SOCK_NONBLOCK.
    virtual Result<RefPtr<Socket>> accept(int flags);
    // Blocking unless nonblocking(): EINPROGRESS then.  EALREADY / EISCONN
    // as Linux.
    virtual Result<void> connect(const SockAddr& addr);
    // to is null for a connected send.  flags are MSG_*.
    virtual Result<size_t> sendmsg(Uio& uio, const SockAddr* to, int flags);
    // from (may be null) receives the source address.  *msg_flags gets
    // MSG_TRUNC and friends.
    virtual Result<size_t> recvmsg(Uio& uio, SockAddr* from, int flags, int* msg_flags);
    virtual Result<void> shutdown(int how);
    virtual Result<void> getsockname(SockAddr& out);
    virtual Result<void> getpeername(SockAddr& out);
    // Protocol-level options; level SOL_SOCKET options common to every
    // socket are handled by Socket::setsockopt/getsockopt first, which
    // call these for anything they do not know.
    virtual Result<void> set_option(int level, int name, const void* val, uint32_t len);
    // Writes at most len bytes to val, returns the length written.
    virtual Result<uint32_t> get_option(int level, int name, void* val, uint32_t len);
    // Bytes ready to read (FIONREAD) and queued unsent (SIOCOUTQ).
    virtual size_t readable_bytes() { return 0; }
    virtual size_t unsent_bytes() { return 0; }
    // Protocol-specific ioctls (interface configuration on inet sockets).
    virtual Result<long> protocol_ioctl(unsigned long cmd, void* arg);

    // Options common to all sockets (SOL_SOCKET) then set_option().
    Result<void> setsockopt(int level, int name, const void* val, uint32_t len);
    Result<uint32_t> getsockopt(int level, int name, void* val, uint32_t len);

    // --- File ------------------------------------------------------------
    Result<size_t> read(Uio& uio, int64_t& pos) override;
    Result<size_t> write(Uio& uio, int64_t& pos) override;
    Result<void> stat(abi::Stat& st) override;
    Result<long> ioctl(unsigned long cmd, void* arg) override;
    Socket* socket() override { return this; }

    // Deadlines (monotonic ns, 0 = none) from SO_RCVTIMEO/SO_SNDTIMEO.
    int64_t recv_deadline() const { return deadline(m_rcvtimeo_ns.load(MemoryOrder::Relaxed)); }
    int64_t send_deadline() const { return deadline(m_sndtimeo_ns.load(MemoryOrder::Relaxed)); }
    bool dont_wait(int msg_flags) const {
        return nonblocking() || (msg_flags & abi::k_msg_dontwait);
    }

    // Pending error (SO_ERROR); reading it clears it.
    void set_error(int e) { m_so_error.store(e, MemoryOrder::Release); }
    int take_error() { return m_so_error.exchange(0); }
    int peek_error() const { return m_so_error.load(MemoryOrder::Acquire); }

    // SOL_SOCKET boolean options, one bit each (k_opt_*).
    bool option(uint32_t bit) const { return m_options.load(MemoryOrder::Relaxed) & bit; }
    static constexpr uint32_t k_opt_reuseaddr = 1;
    static constexpr uint32_t k_opt_reuseport = 2;
    static constexpr uint32_t k_opt_keepalive = 4;
    static constexpr uint32_t k_opt_broadcast = 8;
    static constexpr uint32_t k_opt_dontroute = 16;
    static constexpr uint32_t k_opt_oobinline = 32;

    // Buffer sizes (SO_SNDBUF/SO_RCVBUF; Linux doubles the value set).
    uint32_t sndbuf() const { return m_sndbuf.load(MemoryOrder::Relaxed); }
    uint32_t rcvbuf() const { return m_rcvbuf.load(MemoryOrder::Relaxed); }
    // SO_LINGER: -1 off, else seconds.
    int linger() const { return m_linger.load(MemoryOrder::Relaxed); }
    // SO_BINDTODEVICE: interface index, 0 = any.
    int bound_ifindex() const { return m_bound_ifindex.load(MemoryOrder::Relaxed); }
    void set_bound_ifindex(int i) { m_bound_ifindex.store(i, MemoryOrder::Relaxed); }

    static constexpr uint32_t k_default_buf = 212992; // Linux rmem_default
    static constexpr uint32_t k_max_buf = 16 * 1024 * 1024;

protected:
    // Hooks for protocols that want to react to a buffer size change.
    virtual void buffer_sizes_changed() {}

private:
    static int64_t deadline(int64_t timeo) { return timeo > 0 ? monotonic_ns() + timeo : 0; }
    int m_family, m_type, m_protocol;
    Atomic<int64_t> m_rcvtimeo_ns{0};
    Atomic<int64_t> m_sndtimeo_ns{0};
    Atomic<int> m_so_error{0};
    Atomic<uint32_t> m_options{0};
    Atomic<uint32_t> m_sndbuf{k_default_buf};
    Atomic<uint32_t> m_rcvbuf{k_default_buf};
    Atomic<int> m_linger{-1};
    Atomic<int> m_bound_ifindex{0};
};

// A protocol family registers itself from its component's init.
struct SocketFamily {
    int family;
    // type has the SOCK_NONBLOCK/SOCK_CLOEXEC bits removed; flags holds
    // O_NONBLOCK when asked for.
    Result<RefPtr<Socket>> (*create)(int type, int protocol, int flags);
    // socketpair, or nullptr (EOPNOTSUPP).
    Result<void> (*pair)(int type, int protocol, int flags, RefPtr<Socket>& a, RefPtr<Socket>& b);
    ListNode node;
};
void socket_register_family(SocketFamily& f);
SocketFamily* socket_find_family(int family);

// Resolve descriptor fd to a socket (EBADF, ENOTSOCK).
Result<RefPtr<Socket>> socket_from_fd(int fd);

} // namespace ak
