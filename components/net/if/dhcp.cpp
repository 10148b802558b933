// DHCP client (RFC 2131, options RFC 2132): DISCOVER, OFFER, REQUEST, ACK
// on one interface, then the address, netmask and default router are
// configured.  Runs on a kernel thread through the kernel's own UDP
// socket; attach waits for it.  Lease renewal is not implemented yet: the
// address is kept for the life of the kernel.
#include <ak/log.h>
#include <ak/thread.h>
#include <ak/time.h>
#include <net/inet.h>

namespace ak::net {

namespace {

constexpr uint16_t k_server_port = 67;
constexpr uint16_t k_client_port = 68;
constexpr uint32_t k_magic = 0x63825363;
constexpr size_t k_msg = 548; // fixed part 236 + magic + options room

struct Lease {
    Ipv4 addr = 0, mask = 0, router = 0, server = 0;
};

struct Job {
    Ifnet* ifp;
    uint8_t hw[6];
    int ifindex;
    Result<void> result = EIO;
};

size_t build(uint8_t* m, const uint8_t* hw, uint32_t xid, uint8_t type, Ipv4 requested,
             Ipv4 server) {
    __builtin_memset(m, 0, k_msg);
    m[0] = 1; // BOOTREQUEST
    m[1] = 1; // Ethernet
    m[2] = 6;
    store32(m + 4, xid);
    store16(m + 10, 0x8000); // broadcast flag: we cannot receive unicast yet
    __builtin_memcpy(m + 28, hw, 6);
    store32(m + 236, k_magic);
    size_t o = 240;
    m[o++] = 53;
    m[o++] = 1;
    m[o++] = type;
    if (requested) {
        m[o++] = 50;
        m[o++] = 4;
        store32(m + o, requested);
        o += 4;
    }
    if (server) {
        m[o++] = 54;
        m[o++] = 4;
        store32(m + o, server);
        o += 4;
    }
    m[o++] = 55; // parameter request list
    m[o++] = 3;
    m[o++] = 1;
    m[o++] = 3;
    m[o++] = 51;
    m[o++] = 255;
    return o < 300 ? 300 : o; // BOOTP minimum size
}

// Parse a reply; returns its message type (0 if not for us / malformed).
uint8_t parse(const uint8_t* m, size_t len, uint32_t xid, Lease& l) {
    if (len < 240 || m[0] != 2 || load32(m + 4) != xid || load32(m + 236) != k_magic)
        return 0;
    l.addr = load32(m + 16);
    uint8_t type = 0;
    size_t o = 240;
    while (o < len) {
        uint8_t code = m[o];
        if (code == 255)
            break;
        if (code == 0) {
            o++;
            continue;
        }
        if (o + 1 >= len || o + 2 + m[o + 1] > len)
            break;
        uint8_t olen = m[o + 1];
        const uint8_t* v = m + o + 2;
        if (code == 53 && olen == 1)
            type = v[0];
        else if (code == 1 && olen == 4)
            l.mask = load32(v);
        else if (code == 3 && olen >= 4)
            l.router = load32(v);
        else if (code == 54 && olen == 4)
            l.server = load32(v);
        o += 2 + olen;
    }
    return type;
}

void dhcp_thread(void* arg) {
    auto* job = static_cast<Job*>(arg);
    auto sr = udp_socket_create(0);
    if (sr.is_error()) {
        job->result = Error{sr.error()};
        return;
    }
    RefPtr<Socket> s = sr.release_value();
    int one = 1;
    (void)s->setsockopt(abi::k_sol_socket, abi::k_so_broadcast, &one, sizeof one);
    (void)s->setsockopt(abi::k_sol_socket, abi::k_so_reuseaddr, &one, sizeof one);
    s->set_bound_ifindex(job->ifindex);
    abi::Timeval tv{1, 0};
    (void)s->setsockopt(abi::k_sol_socket, abi::k_so_rcvtimeo, &tv, sizeof tv);
    SockAddr local;
    inet_to_sockaddr(local, 0, k_client_port);
    if (auto r = s->bind(local); r.is_error()) {
        job->result = r;
        return;
    }
    SockAddr server;
    inet_to_sockaddr(server, k_inaddr_broadcast, k_server_port);
    static uint8_t msg[k_msg];
    static uint8_t reply[1500];
    uint32_t xid = static_cast<uint32_t>(net_random());
    Lease offer;
    uint8_t want = 2; // OFFER
    for (int attempt = 0; attempt < 8; attempt++) {
        size_t n = want == 2 ? build(msg, job->hw, xid, 1, 0, 0)
                             : build(msg, job->hw, xid, 3, offer.addr, offer.server);
        Uio out(msg, n);
        if (s->sendmsg(out, &server, 0).is_error())
            continue;
        int64_t deadline = monotonic_ns() + 2 * k_ns_per_sec;
        while (monotonic_ns() < deadline) {
            Uio in(reply, sizeof reply);
            auto rr = s->recvmsg(in, nullptr, 0, nullptr);
            if (rr.is_error())
                continue;
            Lease l;
            uint8_t type = parse(reply, rr.value(), xid, l);
            if (type == 6 && want == 5) { // NAK: start over
                want = 2;
                break;
            }
            if (type != want)
                continue;
            if (want == 2) {
                offer = l;
                want = 5; // ACK
                attempt = -1;
                break;
            }
            NetGuard g;
            Ipv4 mask = l.mask ? l.mask : 0xffffff00;
            job->result = if_set_addr(*job->ifp, l.addr, mask);
            if (job->result.ok() && l.router)
                (void)route_add(0, 0, l.router, job->ifp, 0);
            char a[16];
            format_ipv4(a, sizeof a, l.addr);
            AK_LOG_INFO("dhcp: %s is %s/%d", job->ifp->m_name, a, mask_prefix_len(mask));
            return;
        }
    }
    job->result = ETIMEDOUT;
}

} // namespace

// Called with the net lock held; drops it while the exchange runs.
Result<void> dhcp_start(Ifnet& ifp) AK_NO_THREAD_SAFETY_ANALYSIS {
    Job job;
    job.ifp = &ifp;
    job.ifindex = ifp.m_index;
    __builtin_memcpy(job.hw, ifp.m_hwaddr, 6);
    net_lock().unlock();
    Result<void> out = EIO;
    auto t = kthread_create(dhcp_thread, &job, "dhcp", true);
    if (t.is_error()) {
        out = Error{t.error()};
    } else {
        (void)kthread_join(t.value());
        out = move(job.result);
    }
    net_lock().lock();
    return out;
}

} // namespace ak::net
