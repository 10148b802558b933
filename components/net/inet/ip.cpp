// IPv4 (RFC 791, RFC 1122 §3): input validation through a checked header
// view, local delivery (forwarding is off: packets for other hosts are
// dropped), reassembly with memory and time limits, output with
// fragmentation, and the routing table (longest prefix, then metric).
#include <ak/log.h>
#include <ak/time.h>
#include <ak/vector.h>
#include <net/inet.h>

namespace ak::net {

namespace {

// A validated IPv4 header: constructed only through parse(), after which
// every accessor is in bounds.
class Ipv4Header {
public:
    static Result<Ipv4Header> parse(ReadonlyBytes b) {
        if (b.size() < 20)
            return EINVAL;
        const uint8_t* p = b.data();
        if ((p[0] >> 4) != 4)
            return EINVAL;
        size_t ihl = size_t(p[0] & 0xf) * 4;
        if (ihl < 20 || ihl > b.size())
            return EINVAL;
        size_t total = load16(p + 2);
        if (total < ihl || total > b.size())
            return EINVAL;
        if (checksum(p, ihl) != 0)
            return EBADMSG;
        return Ipv4Header(p, ihl, total);
    }
    size_t header_len() const { return m_ihl; }
    size_t total_len() const { return m_total; }
    uint8_t tos() const { return m_p[1]; }
    uint16_t id() const { return load16(m_p + 4); }
    bool more_fragments() const { return m_p[6] & 0x20; }
    size_t frag_offset() const { return size_t(load16(m_p + 6) & 0x1fff) * 8; }
    uint8_t ttl() const { return m_p[8]; }
    uint8_t proto() const { return m_p[9]; }
    Ipv4 src() const { return load32(m_p + 12); }
    Ipv4 dst() const { return load32(m_p + 16); }

private:
    Ipv4Header(const uint8_t* p, size_t ihl, size_t total) : m_p(p), m_ihl(ihl), m_total(total) {}
    const uint8_t* m_p;
    size_t m_ihl, m_total;
};

struct Route {
    Ipv4 dst, mask, gw;
    Ifnet* ifp;
    int metric;
};
NoDestroy<Vector<Route>> g_routes;

uint16_t g_ip_id = 1;

// --- Reassembly (RFC 791 §3.2, RFC 815 style hole tracking by sorted list) ---
constexpr size_t k_reasm_max_queues = 64;
constexpr size_t k_reasm_max_bytes = 4 * 1024 * 1024;
constexpr int64_t k_reasm_timeout_ns =
    30000000000; // RFC 1122 §3.3.2: 60-120 s suggested; Linux uses 30 s

struct Fragment {
    size_t offset;
    RefPtr<PacketBuffer> data; // payload only
};

struct ReasmQueue {
    Ipv4 src, dst;
    uint16_t id;
    uint8_t proto;
    int ifindex;
    int64_t expires;
    size_t total = 0; // known once the last fragment arrived
    size_t bytes = 0;
    Vector<Fragment> frags;            // sorted by offset
    RefPtr<PacketBuffer> first_header; // IP header + 8 bytes of the first fragment
};
NoDestroy<Vector<ReasmQueue*>> g_reasm;
size_t g_reasm_bytes = 0;

void reasm_free(size_t i) {
    ReasmQueue* q = (*g_reasm)[i];
    g_reasm_bytes -= q->bytes;
    destroy(q);
    g_reasm->remove(i);
}

// Returns the reassembled datagram (payload only) when complete.
RefPtr<PacketBuffer> reassemble(Ifnet& ifp, const Ipv4Header& h, RefPtr<PacketBuffer> pkt)
    AK_REQUIRES(net_lock()) {
    size_t off = h.frag_offset();
    size_t len = h.total_len() - h.header_len();
    if (off + len > 65535 || (h.more_fragments() && (len == 0 || len % 8))) {
        ifp.m_counters.ierrors++;
        return nullptr;
    }
    size_t qi = 0;
    ReasmQueue* q = nullptr;
    for (; qi < g_reasm->size(); qi++) {
        ReasmQueue* c = (*g_reasm)[qi];
        if (c->src == h.src() && c->dst == h.dst() && c->id == h.id() && c->proto == h.proto()) {
            q = c;
            break;
        }
    }
    if (!q) {
        if (g_reasm->size() >= k_reasm_max_queues)
            reasm_free(0); // the oldest
        q = make<ReasmQueue>();
        if (!q)
            return nullptr;
        q->src = h.src();
        q->dst = h.dst();
        q->id = h.id();
        q->proto = h.proto();
        q->ifindex = ifp.m_index;
        q->expires = monotonic_ns() + k_reasm_timeout_ns;
        if (g_reasm->try_append(q).is_error()) {
            destroy(q);
            return nullptr;
        }
        qi = g_reasm->size() - 1;
    }
    if (g_reasm_bytes + len > k_reasm_max_bytes) {
        reasm_free(qi);
        return nullptr;
    }
    if (off == 0 && !q->first_header) {
        auto fh = PacketBuffer::copy_of(
            ReadonlyBytes(pkt->data(), min(pkt->size(), h.header_len() + 8)), 0);
        if (fh.ok())
            q->first_header = fh.release_value();
    }
    if (!h.more_fragments()) {
        if (q->total && q->total != off + len) {
            reasm_free(qi);
            return nullptr;
        }
        q->total = off + len;
    }
    (void)pkt->pop(h.header_len());
    (void)pkt->trim(len);
    // Insert sorted; overlapping fragments poison the datagram (a safe
    // choice against overlap attacks, as RFC 5722 mandates for IPv6).
    size_t pos = 0;
    while (pos < q->frags.size() && q->frags[pos].offset < off)
        pos++;
    bool overlap = (pos > 0 && q->frags[pos - 1].offset + q->frags[pos - 1].data->size() > off) ||
                   (pos < q->frags.size() && off + len > q->frags[pos].offset) ||
                   (q->total && off + len > q->total);
    if (overlap) {
        // An exact duplicate is harmless; anything else drops the queue.
        bool dup = pos < q->frags.size() && q->frags[pos].offset == off &&
                   q->frags[pos].data->size() == len;
        if (!dup)
            reasm_free(qi);
        return nullptr;
    }
    if (q->frags.try_append(Fragment{0, nullptr}).is_error()) {
        reasm_free(qi);
        return nullptr;
    }
    for (size_t i = q->frags.size() - 1; i > pos; i--)
        q->frags[i] = move(q->frags[i - 1]);
    q->frags[pos] = Fragment{off, move(pkt)};
    q->bytes += len;
    g_reasm_bytes += len;
    if (!q->total)
        return nullptr;
    size_t have = 0;
    for (auto& f : q->frags) {
        if (f.offset != have)
            return nullptr;
        have += f.data->size();
    }
    if (have != q->total)
        return nullptr;
    auto whole = PacketBuffer::create(k_max_header_room, q->total);
    if (whole.is_error()) {
        reasm_free(qi);
        return nullptr;
    }
    RefPtr<PacketBuffer> out = whole.release_value();
    for (auto& f : q->frags)
        __builtin_memcpy(out->data() + f.offset, f.data->data(), f.data->size());
    out->m_ifindex = ifp.m_index;
    reasm_free(qi);
    return out;
}

bool is_broadcast_for(Ifnet& ifp, Ipv4 dst) {
    if (dst == k_inaddr_broadcast)
        return true;
    return ifp.m_addr && ifp.m_netmask != 0xffffffff && dst == ifp.broadcast_addr();
}

} // namespace

bool ip_is_local_address(Ipv4 a) {
    if (ipv4_is_loopback(a))
        return true;
    for (auto& i : if_list())
        if (i.m_addr && i.m_addr == a)
            return true;
    return false;
}

void ip_input(Ifnet& ifp, RefPtr<PacketBuffer> pkt) {
    auto hr = Ipv4Header::parse(pkt->bytes());
    if (hr.is_error()) {
        ifp.m_counters.ierrors++;
        return;
    }
    Ipv4Header h = hr.release_value();
    // Drop link padding past the IP total length.
    (void)pkt->trim(h.total_len());
    Ipv4 dst = h.dst(), src = h.src();
    if (src == k_inaddr_broadcast || ipv4_is_multicast(src))
        return; // RFC 1122 §3.2.1.3
    if (ipv4_is_loopback(src) && ifp.m_link != LinkType::Loopback)
        return; // martian
    bool bcast = is_broadcast_for(ifp, dst) || pkt->m_link_broadcast;
    bool local = bcast || (ifp.m_link == LinkType::Loopback && ip_is_local_address(dst)) ||
                 (ifp.m_addr && dst == ifp.m_addr);
    // An unconfigured interface accepts unicast to anyone (DHCP offers
    // arrive addressed to the offered address, RFC 2131 §4.1).
    if (!local && !ifp.m_addr && h.proto() == k_proto_udp)
        local = true;
    if (!local)
        return; // forwarding is off
    if (h.more_fragments() || h.frag_offset()) {
        RefPtr<PacketBuffer> whole = reassemble(ifp, h, move(pkt));
        if (!whole)
            return;
        // Rebuild a header view for the transport: the first fragment's
        // header carries the fields we need; synthesise IpInfo directly.
        IpInfo info{src, dst, h.proto(), h.ttl(), h.tos(), ifp.m_index, bcast, nullptr, 0};
        info.no_csum = ifp.m_no_csum;
        switch (h.proto()) {
        case k_proto_udp:
            udp_input(info, move(whole));
            break;
        case k_proto_tcp:
            tcp_input(info, move(whole));
            break;
        case k_proto_icmp:
            icmp_input(info, move(whole));
            break;
        default:
            break;
        }
        return;
    }
    // Keep a view of the header for ICMP errors: it stays valid while pkt
    // is alive (pop only moves the start).
    const uint8_t* iph = pkt->data();
    size_t quote = min(pkt->size(), h.header_len() + 8);
    IpInfo info{src, dst, h.proto(), h.ttl(), h.tos(), ifp.m_index, bcast, iph, quote};
    info.no_csum = ifp.m_no_csum;
    (void)pkt->pop(h.header_len());
    switch (h.proto()) {
    case k_proto_udp:
        udp_input(info, move(pkt));
        break;
    case k_proto_tcp:
        tcp_input(info, move(pkt));
        break;
    case k_proto_icmp:
        icmp_input(info, move(pkt));
        break;
    default:
        icmp_error(info, k_icmp_unreach, k_icmp_unreach_proto);
        break;
    }
}

void ip_slowtimo(int64_t now) {
    for (size_t i = g_reasm->size(); i-- > 0;) {
        ReasmQueue* q = (*g_reasm)[i];
        if (q->expires > now)
            continue;
        // RFC 792: time exceeded, fragment reassembly time exceeded (code
        // 1), only if the first fragment arrived.
        if (q->first_header) {
            IpInfo info{q->src,
                        q->dst,
                        q->proto,
                        0,
                        0,
                        q->ifindex,
                        false,
                        q->first_header->data(),
                        q->first_header->size()};
            icmp_error(info, k_icmp_time_exceeded, 1);
        }
        reasm_free(i);
    }
}

Result<RouteResult> route_lookup(Ipv4 dst, int bound_ifindex) {
    RouteResult r;
    // Local addresses are reached through loopback (Linux's local table).
    if (ip_is_local_address(dst) && !bound_ifindex) {
        r.ifp = if_loopback();
        if (!r.ifp)
            return ENETUNREACH;
        r.nexthop = dst;
        r.src = dst;
        return r;
    }
    if (dst == k_inaddr_broadcast) {
        for (auto& i : if_list()) {
            if (i.m_link == LinkType::Loopback || !i.up())
                continue;
            if (bound_ifindex && i.m_index != bound_ifindex)
                continue;
            r.ifp = &i;
            r.nexthop = dst;
            r.src = i.m_addr;
            r.broadcast = true;
            return r;
        }
        return ENETUNREACH;
    }
    const Route* best = nullptr;
    for (auto& rt : *g_routes) {
        if ((dst & rt.mask) != rt.dst)
            continue;
        if (bound_ifindex && rt.ifp->m_index != bound_ifindex)
            continue;
        if (!rt.ifp->up())
            continue;
        if (!best || rt.mask > best->mask || (rt.mask == best->mask && rt.metric < best->metric))
            best = &rt;
    }
    if (!best) {
        if (bound_ifindex) {
            // SO_BINDTODEVICE without a route: send on the link anyway.
            Ifnet* ifp = if_find_by_index(bound_ifindex);
            if (ifp && ifp->up()) {
                r.ifp = ifp;
                r.nexthop = dst;
                r.src = ifp->m_addr;
                return r;
            }
        }
        return ENETUNREACH;
    }
    r.ifp = best->ifp;
    r.nexthop = best->gw ? best->gw : dst;
    r.src = best->ifp->m_addr;
    r.broadcast = is_broadcast_for(*best->ifp, dst);
    return r;
}

Result<void> route_add(Ipv4 dst, Ipv4 mask, Ipv4 gw, Ifnet* ifp, int metric) {
    for (auto& rt : *g_routes)
        if (rt.dst == dst && rt.mask == mask && rt.gw == gw && rt.ifp == ifp && rt.metric == metric)
            return EEXIST;
    return g_routes->try_append(Route{dst & mask, mask, gw, ifp, metric});
}

Result<void> route_delete(Ipv4 dst, Ipv4 mask, Ipv4 gw) {
    for (size_t i = 0; i < g_routes->size(); i++) {
        Route& rt = (*g_routes)[i];
        if (rt.dst == dst && rt.mask == mask && (!gw || rt.gw == gw)) {
            g_routes->remove(i);
            return {};
        }
    }
    return ESRCH;
}

void route_flush_interface(Ifnet& ifp) {
    for (size_t i = g_routes->size(); i-- > 0;)
        if ((*g_routes)[i].ifp == &ifp)
            g_routes->remove(i);
}

size_t route_snapshot(RouteInfo* out, size_t max) {
    size_t n = 0;
    for (auto& rt : *g_routes) {
        if (n >= max)
            break;
        out[n++] = RouteInfo{rt.dst, rt.mask, rt.gw, rt.ifp->m_index, rt.metric};
    }
    return n;
}

void route_walk(void (*fn)(void*, const RouteInfo&), void* ctx) {
    for (auto& rt : *g_routes)
        fn(ctx, RouteInfo{rt.dst, rt.mask, rt.gw, rt.ifp->m_index, rt.metric});
}

static void ip_send_on(const RouteResult& r, RefPtr<PacketBuffer> pkt) AK_REQUIRES(net_lock()) {
    Ifnet& ifp = *r.ifp;
    if (ifp.m_link == LinkType::Ether)
        ether_output_ip(ifp, move(pkt), r.nexthop, r.broadcast);
    else
        if_output(ifp, move(pkt));
}

static void write_header(uint8_t* h, size_t total, uint16_t id, uint16_t frag, uint8_t ttl,
                         uint8_t tos, uint8_t proto, Ipv4 src, Ipv4 dst) {
    h[0] = 0x45;
    h[1] = tos;
    store16(h + 2, static_cast<uint16_t>(total));
    store16(h + 4, id);
    store16(h + 6, frag);
    h[8] = ttl;
    h[9] = proto;
    store16(h + 10, 0);
    store32(h + 12, src);
    store32(h + 16, dst);
    uint16_t c = checksum(h, 20);
    __builtin_memcpy(h + 10, &c, 2);
}

Result<void> ip_output(RefPtr<PacketBuffer> pkt, Ipv4 src, Ipv4 dst, uint8_t proto,
                       const IpSendOptions& opt) {
    RouteResult r = TRY(route_lookup(dst, opt.bound_ifindex));
    if (r.broadcast && !opt.allow_broadcast)
        return EACCES;
    if (!src)
        src = r.src;
    size_t payload = pkt->size();
    if (opt.tcp_csum_at >= 0 && !r.ifp->m_no_csum) {
        size_t at = size_t(opt.tcp_csum_at);
        if (at + 2 > payload)
            return EINVAL;
        store16(pkt->data() + at, 0);
        uint16_t c = inet_pseudo_checksum(src, dst, proto, pkt->data(), payload);
        __builtin_memcpy(pkt->data() + at, &c, 2);
    }
    uint16_t id = g_ip_id++;
    size_t mtu = r.ifp->m_mtu;
    if (payload + 20 <= mtu) {
        uint8_t* h = TRY(pkt->push(20));
        write_header(h, payload + 20, id, opt.dont_fragment ? 0x4000 : 0, opt.ttl, opt.tos, proto,
                     src, dst);
        ip_send_on(r, move(pkt));
        return {};
    }
    if (opt.dont_fragment)
        return EMSGSIZE;
    // RFC 791 §3.2 fragmentation: 8-byte aligned pieces.
    size_t chunk = (mtu - 20) & ~size_t(7);
    if (chunk == 0)
        return EMSGSIZE;
    for (size_t off = 0; off < payload; off += chunk) {
        size_t n = min(chunk, payload - off);
        bool more = off + n < payload;
        auto f = TRY(PacketBuffer::create(k_max_header_room, n));
        __builtin_memcpy(f->data(), pkt->data() + off, n);
        uint8_t* h = TRY(f->push(20));
        write_header(h, n + 20, id, uint16_t((more ? 0x2000 : 0) | (off / 8)), opt.ttl, opt.tos,
                     proto, src, dst);
        ip_send_on(r, move(f));
    }
    return {};
}

uint16_t inet_pseudo_checksum(Ipv4 src, Ipv4 dst, uint8_t proto, const uint8_t* data, size_t len) {
    uint8_t ph[12];
    store32(ph, src);
    store32(ph + 4, dst);
    ph[8] = 0;
    ph[9] = proto;
    store16(ph + 10, static_cast<uint16_t>(len));
    uint32_t s = checksum_add(0, ph, sizeof ph);
    s = checksum_add(s, data, len);
    return checksum_finish(s);
}

Result<void> sockaddr_to_inet(const SockAddr& a, Ipv4& addr, uint16_t& port) {
    if (a.len < sizeof(abi::SockaddrIn))
        return EINVAL;
    auto sin = a.as<abi::SockaddrIn>();
    if (sin.sin_family != abi::k_af_inet)
        return EAFNOSUPPORT;
    addr = ntohl(sin.sin_addr);
    port = ntohs(sin.sin_port);
    return {};
}

void inet_to_sockaddr(SockAddr& a, Ipv4 addr, uint16_t port) {
    abi::SockaddrIn sin{};
    sin.sin_family = abi::k_af_inet;
    sin.sin_port = htons(port);
    sin.sin_addr = htonl(addr);
    a.set(sin);
}

Result<int> inet_bindtodevice(const void* val, uint32_t len) {
    if (!val && len)
        return EFAULT;
    char name[abi::k_ifnamsiz] = {};
    size_t n = min<size_t>(len, sizeof name - 1);
    if (n)
        __builtin_memcpy(name, val, n);
    if (name[0] == 0)
        return 0;
    NetGuard g;
    Ifnet* ifp = if_find_by_name(name);
    if (!ifp)
        return ENODEV;
    return ifp->m_index;
}

} // namespace ak::net
