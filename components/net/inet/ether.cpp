// Ethernet framing and ARP (RFC 826): a cache with timeouts, a small queue
// of packets per unresolved address, request retries, gratuitous ARP when
// an address is configured.
#include <ak/log.h>
#include <ak/time.h>
#include <ak/vector.h>
#include <net/inet.h>

namespace ak::net {

namespace {

constexpr uint8_t k_broadcast_mac[6] = {0xff, 0xff, 0xff, 0xff, 0xff, 0xff};
constexpr size_t k_arp_max_entries = 1024;
constexpr size_t k_arp_max_pending = 4;             // packets queued per entry
constexpr int64_t k_arp_reachable_ns = 60000000000; // entry lifetime
constexpr int64_t k_arp_retry_ns = 1000000000;      // request interval
constexpr int k_arp_max_requests = 3;
constexpr size_t k_arp_packet = 28;

struct ArpEntry {
    Ipv4 ip = 0;
    int ifindex = 0;
    uint8_t hw[6] = {};
    bool complete = false;
    int requests = 0;
    int64_t expires = 0; // complete: when it goes stale; incomplete: next retry
    PacketQueue pending;
};

NoDestroy<Vector<ArpEntry*>> g_arp;

ArpEntry* arp_find(Ipv4 ip, int ifindex) {
    for (ArpEntry* e : *g_arp)
        if (e->ip == ip && e->ifindex == ifindex)
            return e;
    return nullptr;
}

void arp_remove_at(size_t i) {
    destroy((*g_arp)[i]);
    g_arp->remove(i);
}

ArpEntry* arp_create(Ipv4 ip, int ifindex) {
    if (g_arp->size() >= k_arp_max_entries) {
        // Evict the first incomplete entry, else the oldest (lowest index).
        size_t victim = 0;
        for (size_t i = 0; i < g_arp->size(); i++)
            if (!(*g_arp)[i]->complete) {
                victim = i;
                break;
            }
        arp_remove_at(victim);
    }
    ArpEntry* e = make<ArpEntry>();
    if (!e)
        return nullptr;
    e->ip = ip;
    e->ifindex = ifindex;
    if (g_arp->try_append(e).is_error()) {
        destroy(e);
        return nullptr;
    }
    return e;
}

Result<void> ether_send(Ifnet& ifp, RefPtr<PacketBuffer> pkt, const uint8_t* dst, uint16_t type)
    AK_REQUIRES(net_lock()) {
    uint8_t* h = TRY(pkt->push(k_ether_header));
    __builtin_memcpy(h, dst, 6);
    __builtin_memcpy(h + 6, ifp.m_hwaddr, 6);
    store16(h + 12, type);
    if_output(ifp, move(pkt));
    return {};
}

void arp_send(Ifnet& ifp, uint16_t op, const uint8_t* tha, Ipv4 tpa, const uint8_t* eth_dst)
    AK_REQUIRES(net_lock()) {
    auto p = PacketBuffer::create(PacketBuffer::k_default_headroom, k_arp_packet);
    if (p.is_error())
        return;
    uint8_t* a = p.value()->data();
    store16(a, 1); // htype Ethernet
    store16(a + 2, k_ethertype_ipv4);
    a[4] = 6;
    a[5] = 4;
    store16(a + 6, op);
    __builtin_memcpy(a + 8, ifp.m_hwaddr, 6);
    store32(a + 14, ifp.m_addr);
    __builtin_memcpy(a + 18, tha, 6);
    store32(a + 24, tpa);
    (void)ether_send(ifp, p.release_value(), eth_dst, k_ethertype_arp);
}

void arp_request(Ifnet& ifp, Ipv4 ip) AK_REQUIRES(net_lock()) {
    static const uint8_t zero[6] = {};
    arp_send(ifp, 1, zero, ip, k_broadcast_mac);
}

void arp_input(Ifnet& ifp, RefPtr<PacketBuffer> pkt) AK_REQUIRES(net_lock()) {
    if (pkt->size() < k_arp_packet) {
        ifp.m_counters.ierrors++;
        return;
    }
    const uint8_t* a = pkt->data();
    if (load16(a) != 1 || load16(a + 2) != k_ethertype_ipv4 || a[4] != 6 || a[5] != 4)
        return;
    uint16_t op = load16(a + 6);
    const uint8_t* sha = a + 8;
    Ipv4 spa = load32(a + 14);
    Ipv4 tpa = load32(a + 24);
    if (sha[0] & 1)
        return; // a multicast sender address is bogus
    if (!ifp.m_addr || spa == ifp.m_addr)
        return; // unconfigured, or someone claims our address
    // RFC 826 "merge": update an existing entry for the sender; create one
    // only if we are the target.
    ArpEntry* e = arp_find(spa, ifp.m_index);
    bool for_us = tpa == ifp.m_addr;
    if (!e && for_us && spa)
        e = arp_create(spa, ifp.m_index);
    if (e) {
        __builtin_memcpy(e->hw, sha, 6);
        e->complete = true;
        e->requests = 0;
        e->expires = monotonic_ns() + k_arp_reachable_ns;
        while (RefPtr<PacketBuffer> q = e->pending.pop())
            (void)ether_send(ifp, move(q), e->hw, k_ethertype_ipv4);
    }
    if (for_us && op == 1)
        arp_send(ifp, 2, sha, spa, sha);
}

} // namespace

void ether_input(Ifnet& ifp, RefPtr<PacketBuffer> frame) {
    if (frame->size() < k_ether_header) {
        ifp.m_counters.ierrors++;
        return;
    }
    const uint8_t* h = frame->data();
    bool bcast = __builtin_memcmp(h, k_broadcast_mac, 6) == 0;
    bool mcast = h[0] & 1;
    if (!bcast && !mcast && __builtin_memcmp(h, ifp.m_hwaddr, 6) != 0)
        return; // not for us (shared-medium backends see every frame)
    if (__builtin_memcmp(h + 6, ifp.m_hwaddr, 6) == 0)
        return; // our own frame echoed back
    uint16_t type = load16(h + 12);
    (void)frame->pop(k_ether_header);
    frame->m_link_broadcast = bcast || mcast;
    if (type == k_ethertype_ipv4)
        ip_input(ifp, move(frame));
    else if (type == k_ethertype_arp)
        arp_input(ifp, move(frame));
}

void ether_output_ip(Ifnet& ifp, RefPtr<PacketBuffer> pkt, Ipv4 nexthop, bool broadcast) {
    if (broadcast) {
        (void)ether_send(ifp, move(pkt), k_broadcast_mac, k_ethertype_ipv4);
        return;
    }
    ArpEntry* e = arp_find(nexthop, ifp.m_index);
    int64_t now = monotonic_ns();
    if (e && e->complete && e->expires > now) {
        (void)ether_send(ifp, move(pkt), e->hw, k_ethertype_ipv4);
        return;
    }
    if (!e) {
        e = arp_create(nexthop, ifp.m_index);
        if (!e) {
            ifp.m_counters.odrops++;
            return;
        }
    }
    if (e->complete) {
        // Stale: keep using the old address while we re-resolve (RFC 1122
        // §2.3.2.1 allows either; this avoids a stall on busy flows).
        (void)ether_send(ifp, move(pkt), e->hw, k_ethertype_ipv4);
        if (e->requests == 0) {
            e->requests = 1;
            arp_request(ifp, nexthop);
        }
        return;
    }
    if (e->pending.size() >= k_arp_max_pending)
        e->pending.pop(); // drop the oldest (RFC 1122 §2.3.2.2 keeps at least one)
    e->pending.push(move(pkt));
    if (e->requests == 0) {
        e->requests = 1;
        e->expires = now + k_arp_retry_ns;
        arp_request(ifp, nexthop);
    }
}

void arp_gratuitous(Ifnet& ifp) {
    arp_send(ifp, 1, k_broadcast_mac, ifp.m_addr, k_broadcast_mac);
}

void arp_flush_interface(Ifnet& ifp) {
    for (size_t i = g_arp->size(); i-- > 0;)
        if ((*g_arp)[i]->ifindex == ifp.m_index)
            arp_remove_at(i);
}

void arp_slowtimo(int64_t now) {
    for (size_t i = g_arp->size(); i-- > 0;) {
        ArpEntry* e = (*g_arp)[i];
        if (e->expires > now)
            continue;
        if (e->complete) {
            if (e->requests >= k_arp_max_requests || e->requests == 0) {
                arp_remove_at(i);
                continue;
            }
        } else if (e->requests >= k_arp_max_requests) {
            Ifnet* ifp = if_find_by_index(e->ifindex);
            if (ifp)
                ifp->m_counters.odrops += e->pending.size();
            arp_remove_at(i); // unresolved: drop what waited (host unreachable)
            continue;
        }
        Ifnet* ifp = if_find_by_index(e->ifindex);
        if (!ifp) {
            arp_remove_at(i);
            continue;
        }
        e->requests++;
        e->expires = now + k_arp_retry_ns;
        arp_request(*ifp, e->ip);
    }
}

size_t arp_snapshot(ArpEntryInfo* out, size_t max) {
    size_t n = 0;
    for (ArpEntry* e : *g_arp) {
        if (n >= max)
            break;
        out[n].ip = e->ip;
        __builtin_memcpy(out[n].hw, e->hw, 6);
        out[n].complete = e->complete;
        out[n].ifindex = e->ifindex;
        n++;
    }
    return n;
}

void arp_walk(void (*fn)(void*, const ArpEntryInfo&), void* ctx) {
    for (ArpEntry* e : *g_arp) {
        ArpEntryInfo info{};
        info.ip = e->ip;
        __builtin_memcpy(info.hw, e->hw, 6);
        info.complete = e->complete;
        info.ifindex = e->ifindex;
        fn(ctx, info);
    }
}

} // namespace ak::net
