// Interface list, fault injection, the loopback interface and the
// interface/route ioctls.
#include <ak/component.h>
#include <ak/log.h>
#include <ak/string.h>
#include <ak/time.h>
#include <anykern/nettab.h>
#include <net/inet.h>

namespace ak::net {

using namespace abi;

namespace {

NoDestroy<List<Ifnet, &Ifnet::m_node>> g_ifnets;
int g_next_index = 1;
Ifnet* g_loopback = nullptr;

constexpr int64_t k_reorder_hold_ns = 2000000; // release a held packet after 2 ms

void fault_deliver(FaultState& fs, RefPtr<PacketBuffer> p) AK_REQUIRES(net_lock()) {
    if (fs.input)
        if_input_locked(*fs.ifp, move(p));
    else {
        Ifnet& ifp = *fs.ifp;
        size_t len = p->size();
        if (ifp.driver_transmit(move(p)).is_error()) {
            ifp.m_counters.oerrors++;
        } else {
            ifp.m_counters.opackets++;
            ifp.m_counters.obytes += len;
        }
    }
}

void fault_flush(void* arg) {
    auto* fs = static_cast<FaultState*>(arg);
    NetGuard g;
    if (fs->held)
        fault_deliver(*fs, move(fs->held));
}

// Apply the interface's fault configuration to one packet.  Returns true if
// the caller should deliver p itself (no fault applied to it).
bool fault_apply(Ifnet& ifp, FaultState& fs, RefPtr<PacketBuffer>& p) AK_REQUIRES(net_lock()) {
    const FaultConfig& fc = ifp.m_fault;
    if (!fc.any())
        return true;
    if (fs.prng.chance_permille(fc.loss_permille)) {
        ifp.m_counters.fault_dropped++;
        p.clear();
        return false;
    }
    if (fs.prng.chance_permille(fc.dup_permille)) {
        auto copy = PacketBuffer::copy_of(p->bytes(), PacketBuffer::k_default_headroom);
        if (copy.ok()) {
            ifp.m_counters.fault_duplicated++;
            copy.value()->m_ifindex = p->m_ifindex;
            copy.value()->m_link_broadcast = p->m_link_broadcast;
            fault_deliver(fs, copy.release_value());
        }
    }
    if (!fs.held && fs.prng.chance_permille(fc.reorder_permille)) {
        ifp.m_counters.fault_reordered++;
        fs.held = move(p);
        callout_schedule(fs.flush, monotonic_ns() + k_reorder_hold_ns);
        return false;
    }
    fault_deliver(fs, move(p));
    if (fs.held) {
        callout_stop(fs.flush);
        fault_deliver(fs, move(fs.held));
    }
    return false;
}

class Loopback final : public Ifnet {
public:
    Loopback() : Ifnet("lo", LinkType::Loopback, 65536) { m_no_csum = true; }
    Result<void> driver_transmit(RefPtr<PacketBuffer> frame) override AK_REQUIRES(net_lock()) {
        frame->m_ifindex = index();
        net_defer_input(move(frame));
        return {};
    }
};

} // namespace

Ifnet::Ifnet(const char* name, LinkType link, uint32_t mtu) : m_link(link), m_mtu(mtu) {
    str_copy(m_name, name, sizeof m_name);
    m_fault_tx.ifp = m_fault_rx.ifp = this;
    m_fault_rx.input = true;
    callout_init(m_fault_tx.flush, fault_flush, &m_fault_tx);
    callout_init(m_fault_rx.flush, fault_flush, &m_fault_rx);
}

Ifnet::~Ifnet() = default;

Result<void> Ifnet::driver_transmit(RefPtr<PacketBuffer>) {
    return ENODEV;
}

List<Ifnet, &Ifnet::m_node>& if_list() {
    return g_ifnets.get();
}

Result<void> if_attach(Ifnet& ifp) {
    if (ifp.m_name[0] == 0 || if_find_by_name(ifp.m_name))
        return EEXIST;
    ifp.m_index = g_next_index++;
    ifp.ref();
    g_ifnets->push_back(ifp);
    ifp.m_flags |= k_iff_up | k_iff_running;
    if (ifp.m_link == LinkType::Loopback)
        ifp.m_flags |= k_iff_loopback;
    else if (ifp.m_link == LinkType::Ether)
        ifp.m_flags |= k_iff_broadcast | k_iff_multicast;
    else
        ifp.m_flags |= k_iff_pointopoint | k_iff_noarp;
    return {};
}

void if_detach(Ifnet& ifp) {
    route_flush_interface(ifp);
    arp_flush_interface(ifp);
    g_ifnets->remove(ifp);
    ifp.driver_detach();
    callout_stop(ifp.m_fault_tx.flush);
    callout_stop(ifp.m_fault_rx.flush);
    ifp.unref();
}

Ifnet* if_find_by_name(const char* name) {
    for (auto& i : *g_ifnets)
        if (str_cmp(i.m_name, name) == 0)
            return &i;
    return nullptr;
}

Ifnet* if_find_by_index(int index) {
    for (auto& i : *g_ifnets)
        if (i.m_index == index)
            return &i;
    return nullptr;
}

Ifnet* if_loopback() {
    return g_loopback;
}

Result<void> if_set_addr(Ifnet& ifp, Ipv4 addr, Ipv4 netmask) {
    if (ifp.m_addr)
        route_flush_interface(ifp);
    ifp.m_addr = addr;
    ifp.m_netmask = netmask;
    if (addr) {
        if (ifp.m_link == LinkType::Loopback)
            TRY(route_add(addr & netmask, netmask, 0, &ifp, 0));
        else
            TRY(route_add(addr & netmask, netmask, 0, &ifp, 0));
        if (ifp.m_link == LinkType::Ether && ifp.up())
            arp_gratuitous(ifp);
    }
    return {};
}

Result<void> if_set_flags(Ifnet& ifp, uint16_t flags) {
    constexpr uint16_t k_settable = k_iff_up | k_iff_promisc;
    bool was_up = ifp.up();
    ifp.m_flags = uint16_t((ifp.m_flags & ~k_settable) | (flags & k_settable));
    if (ifp.up())
        ifp.m_flags |= k_iff_running;
    else
        ifp.m_flags &= uint16_t(~k_iff_running);
    if (!was_up && ifp.up() && ifp.m_link == LinkType::Ether && ifp.m_addr)
        arp_gratuitous(ifp);
    return {};
}

void if_set_fault(Ifnet& ifp, const FaultConfig& f) {
    ifp.m_fault = f;
    ifp.m_fault_tx.prng = Prng(f.seed * 2 + 1);
    ifp.m_fault_rx.prng = Prng(f.seed * 2 + 2);
}

void if_output(Ifnet& ifp, RefPtr<PacketBuffer> frame) {
    if (!ifp.up()) {
        ifp.m_counters.odrops++;
        return;
    }
    if (fault_apply(ifp, ifp.m_fault_tx, frame) && frame)
        fault_deliver(ifp.m_fault_tx, move(frame));
}

void if_input_locked(Ifnet& ifp, RefPtr<PacketBuffer> frame) {
    ifp.m_counters.ipackets++;
    ifp.m_counters.ibytes += frame->size();
    if (!ifp.up()) {
        ifp.m_counters.idrops++;
        return;
    }
    frame->m_ifindex = ifp.m_index;
    switch (ifp.m_link) {
    case LinkType::Ether:
        ether_input(ifp, move(frame));
        break;
    case LinkType::RawIp:
    case LinkType::Loopback:
        ip_input(ifp, move(frame));
        break;
    }
}

void if_input(Ifnet& ifp, RefPtr<PacketBuffer> frame) {
    NetGuard g;
    frame->m_ifindex = ifp.m_index;
    if (fault_apply(ifp, ifp.m_fault_rx, frame) && frame)
        if_input_locked(ifp, move(frame));
}

namespace {

Result<Ifreq> copyin_ifreq(void* arg) {
    if (!arg)
        return EFAULT;
    Ifreq r;
    __builtin_memcpy(&r, arg, sizeof r);
    r.ifr_name[k_ifnamsiz - 1] = 0;
    return r;
}

void set_sin(Sockaddr& sa, Ipv4 a) {
    SockaddrIn sin{};
    sin.sin_family = k_af_inet;
    sin.sin_addr = htonl(a);
    __builtin_memcpy(&sa, &sin, sizeof sin);
}

Result<Ipv4> get_sin(const Sockaddr& sa) {
    SockaddrIn sin;
    __builtin_memcpy(&sin, &sa, sizeof sin);
    if (sin.sin_family != k_af_inet)
        return EINVAL;
    return ntohl(sin.sin_addr);
}

Result<long> ifconf(void* arg) AK_REQUIRES(net_lock()) {
    if (!arg)
        return EFAULT;
    Ifconf c;
    __builtin_memcpy(&c, arg, sizeof c);
    if (c.ifc_len < 0)
        return EINVAL;
    int used = 0;
    for (auto& i : *g_ifnets) {
        if (!i.m_addr)
            continue; // Linux lists only interfaces with an IPv4 address
        if (c.ifc_buf) {
            if (used + int(sizeof(Ifreq)) > c.ifc_len)
                break;
            Ifreq r{};
            str_copy(r.ifr_name, i.m_name, sizeof r.ifr_name);
            set_sin(r.ifr_addr, i.m_addr);
            __builtin_memcpy(static_cast<uint8_t*>(c.ifc_buf) + used, &r, sizeof r);
        }
        used += sizeof(Ifreq);
    }
    c.ifc_len = used;
    __builtin_memcpy(arg, &c, sizeof c);
    return 0L;
}

Result<long> route_ioctl(unsigned long cmd, void* arg) AK_REQUIRES(net_lock()) {
    if (!arg)
        return EFAULT;
    Rtentry rt;
    __builtin_memcpy(&rt, arg, sizeof rt);
    Ipv4 dst = TRY(get_sin(rt.rt_dst));
    Ipv4 mask = 0xffffffff;
    if (!(rt.rt_flags & k_rtf_host))
        mask = get_sin(rt.rt_genmask).ok() ? TRY(get_sin(rt.rt_genmask)) : 0;
    Ipv4 gw = 0;
    if (rt.rt_flags & k_rtf_gateway)
        gw = TRY(get_sin(rt.rt_gateway));
    if (dst & ~mask)
        return EINVAL;
    Ifnet* ifp = nullptr;
    if (rt.rt_dev) {
        char name[k_ifnamsiz];
        size_t n = str_nlen(rt.rt_dev, k_ifnamsiz);
        if (n >= k_ifnamsiz)
            return ENODEV;
        __builtin_memcpy(name, rt.rt_dev, n);
        name[n] = 0;
        ifp = if_find_by_name(name);
        if (!ifp)
            return ENODEV;
    }
    if (cmd == k_siocdelrt) {
        TRY(route_delete(dst, mask, gw));
        return 0L;
    }
    if (!ifp) {
        // The interface that reaches the gateway (or the destination).
        RouteResult r = TRY(route_lookup(gw ? gw : dst, 0));
        if (gw && r.nexthop != gw)
            return ENETUNREACH; // the gateway must be directly reachable
        ifp = r.ifp;
    }
    int metric = rt.rt_metric > 0 ? rt.rt_metric - 1 : 0;
    TRY(route_add(dst, mask, gw, ifp, metric));
    return 0L;
}

// Record sink for the anykern-private table ioctls (anykern/nettab.h): the
// argument is laid out like struct ifconf; whole records only.
struct TableOut {
    Ifconf c;
    int used = 0;
    template <typename T> void put(const T& rec) {
        if (c.ifc_buf) {
            if (used + int(sizeof rec) > c.ifc_len)
                return;
            __builtin_memcpy(static_cast<uint8_t*>(c.ifc_buf) + used, &rec, sizeof rec);
        }
        used += int(sizeof rec);
    }
};

void ifname_of(int index, char* out) AK_REQUIRES(net_lock()) {
    Ifnet* ifp = if_find_by_index(index);
    str_copy(out, ifp ? ifp->m_name : "?", k_ifnamsiz);
}

Result<long> nettab(unsigned long cmd, void* arg) AK_REQUIRES(net_lock()) {
    if (!arg)
        return EFAULT;
    TableOut t;
    __builtin_memcpy(&t.c, arg, sizeof t.c);
    if (t.c.ifc_len < 0)
        return EINVAL;
    switch (cmd) {
    case AK_SIOCGRTTAB:
        route_walk(
            [](void* ctx, const RouteInfo& r) AK_NO_THREAD_SAFETY_ANALYSIS {
                ak_rtinfo rec{};
                rec.dst = htonl(r.dst);
                rec.mask = htonl(r.mask);
                rec.gw = htonl(r.gw);
                rec.metric = r.metric;
                ifname_of(r.ifindex, rec.ifname);
                static_cast<TableOut*>(ctx)->put(rec);
            },
            &t);
        break;
    case AK_SIOCGARPTAB:
        arp_walk(
            [](void* ctx, const ArpEntryInfo& e) AK_NO_THREAD_SAFETY_ANALYSIS {
                ak_arpinfo rec{};
                rec.ip = htonl(e.ip);
                __builtin_memcpy(rec.hw, e.hw, 6);
                rec.complete = e.complete;
                ifname_of(e.ifindex, rec.ifname);
                static_cast<TableOut*>(ctx)->put(rec);
            },
            &t);
        break;
    case AK_SIOCGTCPTAB:
        tcp_snapshot(
            [](void* ctx, const char* state, Ipv4 laddr, uint16_t lport, Ipv4 faddr, uint16_t fport,
               size_t rq, size_t sq) {
                ak_tcpinfo rec{};
                str_copy(rec.state, state, sizeof rec.state);
                rec.laddr = htonl(laddr);
                rec.faddr = htonl(faddr);
                rec.lport = htons(lport);
                rec.fport = htons(fport);
                rec.recvq = rq;
                rec.sendq = sq;
                static_cast<TableOut*>(ctx)->put(rec);
            },
            &t);
        break;
    case AK_SIOCGIFTAB:
        for (auto& i : *g_ifnets) {
            ak_ifinfo rec{};
            str_copy(rec.name, i.m_name, sizeof rec.name);
            rec.index = i.m_index;
            rec.flags = i.m_flags;
            rec.hwtype = i.m_link == LinkType::Ether      ? 1
                         : i.m_link == LinkType::Loopback ? 772
                                                          : 65534;
            rec.mtu = i.m_mtu;
            __builtin_memcpy(rec.hw, i.m_hwaddr, 6);
            rec.addr = htonl(i.m_addr);
            rec.netmask = htonl(i.m_netmask);
            const IfCounters& k = i.m_counters;
            rec.ipackets = k.ipackets;
            rec.ibytes = k.ibytes;
            rec.ierrors = k.ierrors;
            rec.idrops = k.idrops;
            rec.opackets = k.opackets;
            rec.obytes = k.obytes;
            rec.oerrors = k.oerrors;
            rec.odrops = k.odrops;
            t.put(rec);
        }
        break;
    default:
        return ENOTTY;
    }
    t.c.ifc_len = t.used;
    __builtin_memcpy(arg, &t.c, sizeof t.c);
    return 0L;
}

} // namespace

Result<long> if_ioctl(unsigned long cmd, void* arg) {
    NetGuard g;
    if (cmd == k_siocgifconf)
        return ifconf(arg);
    if (cmd >= AK_SIOCGRTTAB && cmd <= AK_SIOCGIFTAB)
        return nettab(cmd, arg);
    if (cmd == k_siocaddrt || cmd == k_siocdelrt)
        return route_ioctl(cmd, arg);
    Ifreq r = TRY(copyin_ifreq(arg));
    Ifnet* ifp;
    if (cmd == k_siocgifname) {
        ifp = if_find_by_index(r.ifr_ivalue);
        if (!ifp)
            return ENODEV;
        str_copy(r.ifr_name, ifp->m_name, sizeof r.ifr_name);
        __builtin_memcpy(arg, &r, sizeof r);
        return 0L;
    }
    ifp = if_find_by_name(r.ifr_name);
    if (!ifp)
        return ENODEV;
    switch (cmd) {
    case k_siocgifflags:
        r.ifr_flags = static_cast<int16_t>(ifp->m_flags);
        break;
    case k_siocsifflags:
        TRY(if_set_flags(*ifp, static_cast<uint16_t>(r.ifr_flags)));
        return 0L;
    case k_siocgifaddr:
        if (!ifp->m_addr)
            return EADDRNOTAVAIL;
        set_sin(r.ifr_addr, ifp->m_addr);
        break;
    case k_siocsifaddr: {
        Ipv4 a = TRY(get_sin(r.ifr_addr));
        // Linux derives a classful mask when none was set.
        Ipv4 mask = ifp->m_netmask;
        if (!mask)
            mask = (a >> 31) == 0 ? 0xff000000 : (a >> 30) == 2 ? 0xffff0000 : 0xffffff00;
        TRY(if_set_addr(*ifp, a, mask));
        return 0L;
    }
    case k_siocgifnetmask:
        if (!ifp->m_addr)
            return EADDRNOTAVAIL;
        set_sin(r.ifr_addr, ifp->m_netmask);
        break;
    case k_siocsifnetmask: {
        Ipv4 m = TRY(get_sin(r.ifr_addr));
        if (prefix_mask(mask_prefix_len(m)) != m)
            return EINVAL;
        TRY(if_set_addr(*ifp, ifp->m_addr, m));
        return 0L;
    }
    case k_siocgifbrdaddr:
        if (!ifp->m_addr)
            return EADDRNOTAVAIL;
        set_sin(r.ifr_addr, ifp->broadcast_addr());
        break;
    case k_siocgifmtu:
        r.ifr_mtu = static_cast<int>(ifp->m_mtu);
        break;
    case k_siocsifmtu:
        if (r.ifr_mtu < 68 || r.ifr_mtu > 65536)
            return EINVAL;
        ifp->m_mtu = static_cast<uint32_t>(r.ifr_mtu);
        return 0L;
    case k_siocgifhwaddr: {
        Sockaddr sa{};
        sa.sa_family = ifp->m_link == LinkType::Ether      ? 1   /* ARPHRD_ETHER */
                       : ifp->m_link == LinkType::Loopback ? 772 /* ARPHRD_LOOPBACK */
                                                           : 65534 /* ARPHRD_NONE */;
        __builtin_memcpy(sa.sa_data, ifp->m_hwaddr, 6);
        r.ifr_addr = sa;
        break;
    }
    case k_siocgifindex:
        r.ifr_ivalue = ifp->m_index;
        break;
    default:
        return ENOTTY;
    }
    __builtin_memcpy(arg, &r, sizeof r);
    return 0L;
}

namespace {

Callout g_slowtimo;
constexpr int64_t k_slowtimo_ns = 250000000; // 250 ms

void slowtimo(void*) {
    {
        NetGuard g;
        int64_t now = monotonic_ns();
        arp_slowtimo(now);
        ip_slowtimo(now);
    }
    callout_schedule(g_slowtimo, monotonic_ns() + k_slowtimo_ns);
}

Result<void> net_core_init() {
    auto* lo = make<Loopback>();
    if (!lo)
        return ENOMEM;
    {
        NetGuard g;
        Result<void> r = if_attach(*lo);
        lo->unref(); // the list holds it
        TRY(move(r));
        g_loopback = lo;
        TRY(if_set_addr(*lo, k_inaddr_loopback, 0xff000000));
    }
    TRY(tcp_init());
    callout_init(g_slowtimo, slowtimo, nullptr);
    callout_schedule(g_slowtimo, monotonic_ns() + k_slowtimo_ns);
    return {};
}

} // namespace

} // namespace ak::net

AK_COMPONENT(net_core, ak::InitLevel::Net, ak::net::net_core_init);
