// Datagram sockets of the inet family: UDP (RFC 768, RFC 1122 §4.1) and
// ICMP echo ("ping") sockets as on Linux (SOCK_DGRAM, IPPROTO_ICMP): the
// local port is the echo identifier.  Both share binding, receive queues
// and blocking behaviour.
#include <ak/log.h>
#include <ak/wait.h>
#include <net/inet.h>

namespace ak::net {

using namespace abi;

namespace {

class DgramSocket final : public Socket {
public:
    DgramSocket(uint8_t proto, int flags)
        : Socket(k_af_inet, k_sock_dgram, proto, flags), m_proto(proto) {}
    ~DgramSocket() override;

    Result<void> bind(const SockAddr& addr) override;
    Result<void> connect(const SockAddr& addr) override;
    Result<size_t> sendmsg(Uio& uio, const SockAddr* to, int flags) override;
    Result<size_t> recvmsg(Uio& uio, SockAddr* from, int flags, int* msg_flags) override;
    Result<void> shutdown(int how) override;
    Result<void> getsockname(SockAddr& out) override;
    Result<void> getpeername(SockAddr& out) override;
    Result<void> set_option(int level, int name, const void* val, uint32_t len) override;
    Result<uint32_t> get_option(int level, int name, void* val, uint32_t len) override;
    Result<long> protocol_ioctl(unsigned long cmd, void* arg) override {
        return if_ioctl(cmd, arg);
    }
    uint32_t poll(uint32_t events, PollTable* pt) override;
    size_t readable_bytes() override;

    void deliver(RefPtr<PacketBuffer> p) AK_REQUIRES(net_lock());
    void notify(uint32_t ev) AK_REQUIRES(net_lock()) {
        m_cv.broadcast();
        m_waitq.wake(ev);
    }
    Result<void> bind_locked(Ipv4 addr, uint16_t port) AK_REQUIRES(net_lock());

    uint8_t m_proto;
    Ipv4 m_laddr = 0;
    uint16_t m_lport = 0;
    Ipv4 m_faddr = 0;
    uint16_t m_fport = 0;
    bool m_bound = false;
    bool m_connected = false;
    bool m_shut_rd = false, m_shut_wr = false;
    uint8_t m_ttl = k_default_ttl;
    uint8_t m_tos = 0;
    PacketQueue m_rcvq;
    size_t m_rcv_bytes = 0;
    CondVar m_cv;
    WaitQueue m_waitq;
    ListNode m_pcb_node;
};

NoDestroy<List<DgramSocket, &DgramSocket::m_pcb_node>> g_pcbs;
uint16_t g_next_port = k_port_first_ephemeral;

bool port_in_use(uint8_t proto, Ipv4 addr, uint16_t port, bool reuse) AK_REQUIRES(net_lock()) {
    for (auto& s : *g_pcbs) {
        if (s.m_proto != proto || !s.m_bound || s.m_lport != port)
            continue;
        if (s.m_laddr && addr && s.m_laddr != addr)
            continue;
        bool both_reuse =
            reuse && (s.option(Socket::k_opt_reuseaddr) || s.option(Socket::k_opt_reuseport));
        if (!both_reuse)
            return true;
    }
    return false;
}

DgramSocket::~DgramSocket() {
    NetGuard g;
    if (m_pcb_node.linked())
        g_pcbs->remove(*this);
    m_rcvq.clear();
}

Result<void> DgramSocket::bind_locked(Ipv4 addr, uint16_t port) {
    if (m_bound)
        return EINVAL;
    if (addr && addr != k_inaddr_broadcast && !ip_is_local_address(addr))
        return EADDRNOTAVAIL;
    bool reuse = option(k_opt_reuseaddr) || option(k_opt_reuseport);
    if (port == 0) {
        uint32_t range = k_port_last_ephemeral - k_port_first_ephemeral + 1;
        for (uint32_t i = 0; i < range; i++) {
            uint16_t p = g_next_port;
            g_next_port = p >= k_port_last_ephemeral ? k_port_first_ephemeral : p + 1;
            if (!port_in_use(m_proto, addr, p, false)) {
                port = p;
                break;
            }
        }
        if (port == 0)
            return EAGAIN;
    } else if (port_in_use(m_proto, addr, port, reuse)) {
        return EADDRINUSE;
    }
    m_laddr = addr;
    m_lport = port;
    m_bound = true;
    if (!m_pcb_node.linked())
        g_pcbs->push_back(*this);
    return {};
}

Result<void> DgramSocket::bind(const SockAddr& addr) {
    Ipv4 a;
    uint16_t port;
    TRY(sockaddr_to_inet(addr, a, port));
    NetGuard g;
    return bind_locked(a, port);
}

Result<void> DgramSocket::connect(const SockAddr& addr) {
    if (addr.family() == k_af_unspec) {
        NetGuard g;
        m_connected = false;
        m_faddr = 0;
        m_fport = 0;
        return {};
    }
    Ipv4 a;
    uint16_t port;
    TRY(sockaddr_to_inet(addr, a, port));
    if (m_proto == k_proto_udp && port == 0)
        return EINVAL;
    NetGuard g;
    RouteResult r = TRY(route_lookup(a ? a : k_inaddr_loopback, bound_ifindex()));
    if (!m_bound)
        TRY(bind_locked(0, 0));
    m_faddr = a ? a : k_inaddr_loopback;
    m_fport = port;
    m_connected = true;
    (void)r;
    return {};
}

Result<size_t> DgramSocket::sendmsg(Uio& uio, const SockAddr* to, int flags) {
    Ipv4 dst;
    uint16_t dport;
    if (to && to->len) {
        TRY(sockaddr_to_inet(*to, dst, dport));
        if (m_proto == k_proto_udp && dport == 0)
            return EINVAL;
    }
    size_t len = uio.resid();
    size_t hdr = m_proto == k_proto_udp ? 8 : 0;
    if (len + hdr + 20 > 65535)
        return EMSGSIZE;
    if (m_proto == k_proto_icmp && len < 8)
        return EINVAL;
    auto pkt = TRY(PacketBuffer::create(k_max_header_room, len + hdr));
    uio.copy_in(pkt->data() + hdr, len);
    NetGuard g;
    if (m_shut_wr)
        return EPIPE;
    if (!(to && to->len)) {
        if (!m_connected)
            return EDESTADDRREQ;
        dst = m_faddr;
        dport = m_fport;
    }
    if (int e = take_error())
        return Error{e};
    if (!m_bound)
        TRY(bind_locked(0, 0));
    RouteResult r = TRY(route_lookup(dst, bound_ifindex()));
    Ipv4 src = m_laddr && m_laddr != k_inaddr_broadcast ? m_laddr : r.src;
    uint8_t* d = pkt->data();
    if (m_proto == k_proto_udp) {
        store16(d, m_lport);
        store16(d + 2, dport);
        store16(d + 4, static_cast<uint16_t>(len + 8));
        store16(d + 6, 0);
        uint16_t c = inet_pseudo_checksum(src, dst, k_proto_udp, d, len + 8);
        if (c == 0)
            c = 0xffff; // RFC 768: zero means "no checksum"
        __builtin_memcpy(d + 6, &c, 2);
    } else {
        // ICMP echo: the kernel owns the identifier (our port) and the
        // checksum, as Linux ping sockets do.
        if (d[0] != k_icmp_echo)
            return EINVAL;
        d[1] = 0;
        store16(d + 4, m_lport);
        store16(d + 2, 0);
        uint16_t c = checksum(d, len);
        __builtin_memcpy(d + 2, &c, 2);
    }
    IpSendOptions opt;
    opt.ttl = m_ttl;
    opt.tos = m_tos;
    opt.bound_ifindex = bound_ifindex();
    opt.allow_broadcast = option(k_opt_broadcast);
    TRY(ip_output(move(pkt), src, dst, m_proto, opt));
    (void)flags;
    return len;
}

void DgramSocket::deliver(RefPtr<PacketBuffer> p) {
    if (m_shut_rd || m_rcv_bytes + p->size() > rcvbuf())
        return; // receive buffer full: drop (UDP has no flow control)
    m_rcv_bytes += p->size();
    m_rcvq.push(move(p));
    notify(POLLIN | POLLRDNORM);
}

Result<size_t> DgramSocket::recvmsg(Uio& uio, SockAddr* from, int flags, int* msg_flags) {
    int64_t deadline = recv_deadline();
    NetGuard g;
    for (;;) {
        if (int e = take_error())
            return Error{e};
        RefPtr<PacketBuffer> p = m_rcvq.pop();
        if (p) {
            size_t n = uio.copy_out(p->data(), p->size());
            if (n < p->size() && msg_flags)
                *msg_flags |= k_msg_trunc;
            if (from)
                inet_to_sockaddr(*from, p->m_src_addr, p->m_src_port);
            size_t full = p->size();
            if (flags & k_msg_peek) {
                // Put it back at the front.
                PacketQueue rest;
                rest.push(move(p));
                while (RefPtr<PacketBuffer> q = m_rcvq.pop())
                    rest.push(move(q));
                while (RefPtr<PacketBuffer> q = rest.pop())
                    m_rcvq.push(move(q));
            } else {
                m_rcv_bytes -= full;
            }
            return (flags & k_msg_trunc) ? full : n;
        }
        if (m_shut_rd)
            return size_t(0);
        if (dont_wait(flags))
            return EAGAIN;
        Result<void> r = net_wait(m_cv, deadline);
        if (r.is_error())
            return r.error() == ETIMEDOUT ? Error{EAGAIN} : Error{r.error()};
    }
}

Result<void> DgramSocket::shutdown(int how) {
    NetGuard g;
    if (!m_connected)
        return ENOTCONN;
    if (how != k_shut_wr)
        m_shut_rd = true;
    if (how != k_shut_rd)
        m_shut_wr = true;
    notify(POLLIN | POLLOUT);
    return {};
}

Result<void> DgramSocket::getsockname(SockAddr& out) {
    NetGuard g;
    inet_to_sockaddr(out, m_laddr, m_lport);
    return {};
}

Result<void> DgramSocket::getpeername(SockAddr& out) {
    NetGuard g;
    if (!m_connected)
        return ENOTCONN;
    inet_to_sockaddr(out, m_faddr, m_fport);
    return {};
}

Result<void> DgramSocket::set_option(int level, int name, const void* val, uint32_t len) {
    if (level == k_sol_socket && name == k_so_bindtodevice) {
        set_bound_ifindex(TRY(inet_bindtodevice(val, len)));
        return {};
    }
    if (level == k_sol_socket && name == k_so_keepalive)
        return {};
    if (level != k_sol_ip)
        return ENOPROTOOPT;
    if (!val)
        return EFAULT;
    int v = 0;
    if (len >= sizeof(int))
        __builtin_memcpy(&v, val, sizeof v);
    else if (len >= 1)
        v = *static_cast<const uint8_t*>(val);
    else
        return EINVAL;
    NetGuard g;
    switch (name) {
    case k_ip_ttl:
        if (v == -1)
            v = k_default_ttl;
        if (v < 1 || v > 255)
            return EINVAL;
        m_ttl = static_cast<uint8_t>(v);
        return {};
    case k_ip_tos:
        m_tos = static_cast<uint8_t>(v);
        return {};
    case k_ip_recverr:
        return {};
    default:
        return ENOPROTOOPT;
    }
}

Result<uint32_t> DgramSocket::get_option(int level, int name, void* val, uint32_t len) {
    if (level != k_sol_ip)
        return ENOPROTOOPT;
    if (!val)
        return EFAULT;
    int v;
    {
        NetGuard g;
        if (name == k_ip_ttl)
            v = m_ttl;
        else if (name == k_ip_tos)
            v = m_tos;
        else
            return ENOPROTOOPT;
    }
    uint32_t n = min<uint32_t>(len, sizeof v);
    __builtin_memcpy(val, &v, n);
    return n;
}

uint32_t DgramSocket::poll(uint32_t events, PollTable* pt) {
    if (pt)
        pt->add(m_waitq);
    NetGuard g;
    uint32_t r = POLLOUT | POLLWRNORM;
    if (!m_rcvq.empty() || m_shut_rd)
        r |= POLLIN | POLLRDNORM;
    if (peek_error())
        r |= POLLERR;
    if (m_shut_rd && m_shut_wr)
        r |= POLLHUP;
    return r & (events | POLLERR | POLLHUP);
}

size_t DgramSocket::readable_bytes() {
    NetGuard g;
    // FIONREAD on a datagram socket: the size of the next datagram.
    (void)m_rcv_bytes;
    RefPtr<PacketBuffer> p = m_rcvq.pop();
    if (!p)
        return 0;
    size_t n = p->size();
    PacketQueue rest;
    rest.push(move(p));
    while (RefPtr<PacketBuffer> q = m_rcvq.pop())
        rest.push(move(q));
    while (RefPtr<PacketBuffer> q = rest.pop())
        m_rcvq.push(move(q));
    return n;
}

bool matches(DgramSocket& s, uint8_t proto, Ipv4 dst, uint16_t dport, Ipv4 src, uint16_t sport,
             int ifindex) {
    if (s.m_proto != proto || !s.m_bound || s.m_lport != dport)
        return false;
    if (s.m_laddr && s.m_laddr != dst && dst != k_inaddr_broadcast)
        return false;
    if (s.m_connected && (s.m_faddr != src || (proto == k_proto_udp && s.m_fport != sport)))
        return false;
    if (s.bound_ifindex() && s.bound_ifindex() != ifindex)
        return false;
    return true;
}

} // namespace

void udp_input(const IpInfo& ip, RefPtr<PacketBuffer> pkt) {
    if (pkt->size() < 8)
        return;
    const uint8_t* d = pkt->data();
    size_t ulen = load16(d + 4);
    if (ulen < 8 || ulen > pkt->size())
        return;
    (void)pkt->trim(ulen);
    uint16_t sum;
    __builtin_memcpy(&sum, d + 6, 2);
    if (sum != 0 && inet_pseudo_checksum(ip.src, ip.dst, k_proto_udp, d, ulen) != 0)
        return; // RFC 768 / RFC 1122 §4.1.3.4: silently discard
    uint16_t sport = load16(d), dport = load16(d + 2);
    (void)pkt->pop(8);
    pkt->m_src_addr = ip.src;
    pkt->m_src_port = sport;
    if (ip.broadcast) {
        // Every matching socket gets a copy (RFC 1122 §4.1.3.4 / BSD).
        for (auto& s : *g_pcbs) {
            if (!matches(s, k_proto_udp, ip.dst, dport, ip.src, sport, ip.ifindex))
                continue;
            auto c = PacketBuffer::copy_of(pkt->bytes(), 0);
            if (c.is_error())
                break;
            c.value()->m_src_addr = ip.src;
            c.value()->m_src_port = sport;
            s.deliver(c.release_value());
        }
        return;
    }
    // Prefer a connected socket, then one bound to the address, then a
    // wildcard.
    DgramSocket* best = nullptr;
    int best_score = -1;
    for (auto& s : *g_pcbs) {
        if (!matches(s, k_proto_udp, ip.dst, dport, ip.src, sport, ip.ifindex))
            continue;
        int score = (s.m_connected ? 2 : 0) + (s.m_laddr ? 1 : 0);
        if (score > best_score) {
            best = &s;
            best_score = score;
        }
    }
    if (best) {
        best->deliver(move(pkt));
        return;
    }
    icmp_error(ip, k_icmp_unreach, k_icmp_unreach_port);
}

void udp_ctlinput(int err, Ipv4 src, uint16_t sport, Ipv4 dst, uint16_t dport) {
    // Only connected sockets learn about errors (RFC 1122 §4.1.3.3, BSD).
    for (auto& s : *g_pcbs)
        if (s.m_proto == k_proto_udp && s.m_connected && s.m_lport == sport && s.m_faddr == dst &&
            s.m_fport == dport && (!s.m_laddr || s.m_laddr == src)) {
            s.set_error(err);
            s.notify(POLLERR | POLLIN);
        }
}

// Echo replies for ping sockets: the identifier is the socket's port.
void icmp_deliver_echo_reply(Ipv4 src, Ipv4 dst, uint16_t id, RefPtr<PacketBuffer> pkt)
    AK_REQUIRES(net_lock()) {
    for (auto& s : *g_pcbs)
        if (s.m_proto == k_proto_icmp && s.m_bound && s.m_lport == id &&
            (!s.m_laddr || s.m_laddr == dst) && (!s.m_connected || s.m_faddr == src)) {
            pkt->m_src_addr = src;
            pkt->m_src_port = 0;
            s.deliver(move(pkt));
            return;
        }
}

Result<RefPtr<Socket>> udp_socket_create(int flags) {
    auto* s = make<DgramSocket>(k_proto_udp, flags);
    if (!s)
        return ENOBUFS;
    return adopt_ref<Socket>(s);
}

Result<RefPtr<Socket>> icmp_socket_create(int, int flags) {
    auto* s = make<DgramSocket>(k_proto_icmp, flags);
    if (!s)
        return ENOBUFS;
    return adopt_ref<Socket>(s);
}

} // namespace ak::net
