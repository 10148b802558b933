// Interfaces on the hypercall network group, and the kernel entry point
// that attaches one from a spec string:
//
//   TYPE:TARGET[,name=IF][,addr=A/P][,gw=G][,dhcp][,mtu=N][,mac=M]
//              [,loss=PCT][,reorder=PCT][,dup=PCT][,seed=N]
//
// TYPE:TARGET (and mac=, mtu=) are the platform's (akhyp_net_open); the
// rest is configuration applied here.  Fault percentages accept one
// decimal ("0.5") and apply to both directions.
#include <ak/kmem.h>
#include <ak/log.h>
#include <ak/string.h>
#include <anykern/kern.h>
#include <net/inet.h>

// The network group is optional (AKHYP_GROUP_NET): a platform without it
// (kvm today) does not define these, so they are weak references, only
// called after akhyp_groups() said the group is there.
#pragma weak akhyp_net_open
#pragma weak akhyp_net_send
#pragma weak akhyp_net_close

namespace ak::net {

Result<void> dhcp_start(Ifnet& ifp);

namespace {

class HypIf final : public Ifnet {
public:
    HypIf(const char* name, LinkType link, uint32_t mtu) : Ifnet(name, link, mtu) {}
    ~HypIf() override {
        if (m_handle)
            akhyp_net_close(m_handle);
    }
    Result<void> driver_transmit(RefPtr<PacketBuffer> frame) override {
        int e = akhyp_net_send(m_handle, frame->data(), frame->size());
        if (e)
            return Error{e};
        return {};
    }
    void driver_detach() override {
        if (m_handle) {
            akhyp_net_close(m_handle);
            m_handle = nullptr;
        }
    }
    static void rx(void* ctx, const void* frame, size_t len) {
        auto* self = static_cast<HypIf*>(ctx);
        if (len == 0 || len > 65536 + 64)
            return;
        auto p = PacketBuffer::copy_of(ReadonlyBytes(static_cast<const uint8_t*>(frame), len),
                                       k_max_header_room);
        if (p.is_error()) {
            NetGuard g;
            self->m_counters.idrops++;
            return;
        }
        if_input(*self, p.release_value());
    }
    void* m_handle = nullptr;
};

int g_if_counter = 0;

struct Spec {
    const char* backend = nullptr; // the whole spec goes to the platform
    char name[abi::k_ifnamsiz] = {};
    Ipv4 addr = 0;
    int plen = -1;
    Ipv4 gw = 0;
    bool dhcp = false;
    uint32_t mtu = 0;
    FaultConfig fault;
};

Result<uint32_t> parse_uint(StringView v) {
    if (v.empty() || v.length() > 10)
        return EINVAL;
    uint64_t n = 0;
    for (size_t i = 0; i < v.length(); i++) {
        if (v[i] < '0' || v[i] > '9')
            return EINVAL;
        n = n * 10 + uint64_t(v[i] - '0');
    }
    if (n > 0xffffffffull)
        return EINVAL;
    return static_cast<uint32_t>(n);
}

// "5" or "2.5" percent -> per mille.
Result<uint32_t> parse_percent(StringView v) {
    size_t dot = v.length();
    for (size_t i = 0; i < v.length(); i++)
        if (v[i] == '.')
            dot = i;
    uint32_t whole = TRY(parse_uint(v.substr(0, dot)));
    uint32_t tenth = 0;
    if (dot < v.length()) {
        StringView frac = v.substr(dot + 1);
        if (frac.length() != 1)
            return EINVAL;
        tenth = TRY(parse_uint(frac));
    }
    uint32_t pm = whole * 10 + tenth;
    if (pm > 1000)
        return EINVAL;
    return pm;
}

Result<Spec> parse_spec(const char* text) {
    Spec s;
    s.backend = text;
    StringView all(text);
    size_t i = 0;
    bool first = true;
    while (i <= all.length()) {
        size_t j = i;
        while (j < all.length() && all[j] != ',')
            j++;
        StringView tok = all.substr(i, j - i);
        i = j + 1;
        if (first) {
            first = false;
            bool colon = false;
            for (size_t k = 0; k < tok.length(); k++)
                colon |= tok[k] == ':';
            if (!colon)
                return EINVAL;
            continue;
        }
        if (tok.empty())
            continue;
        size_t eq = tok.length();
        for (size_t k = 0; k < tok.length(); k++)
            if (tok[k] == '=') {
                eq = k;
                break;
            }
        StringView key = tok.substr(0, eq);
        StringView val = eq < tok.length() ? tok.substr(eq + 1) : StringView();
        if (key == "dhcp") {
            s.dhcp = true;
        } else if (key == "name") {
            if (val.empty() || val.length() >= sizeof s.name)
                return EINVAL;
            __builtin_memcpy(s.name, val.data(), val.length());
        } else if (key == "addr") {
            size_t slash = val.length();
            for (size_t k = 0; k < val.length(); k++)
                if (val[k] == '/')
                    slash = k;
            if (!parse_ipv4(val.data(), slash, s.addr))
                return EINVAL;
            s.plen = 24;
            if (slash < val.length()) {
                uint32_t p = TRY(parse_uint(val.substr(slash + 1)));
                if (p > 32)
                    return EINVAL;
                s.plen = static_cast<int>(p);
            }
        } else if (key == "gw") {
            if (!parse_ipv4(val.data(), val.length(), s.gw))
                return EINVAL;
        } else if (key == "mtu") {
            s.mtu = TRY(parse_uint(val));
            if (s.mtu < 68 || s.mtu > 65535)
                return EINVAL;
        } else if (key == "loss") {
            s.fault.loss_permille = TRY(parse_percent(val));
        } else if (key == "reorder") {
            s.fault.reorder_permille = TRY(parse_percent(val));
        } else if (key == "dup") {
            s.fault.dup_permille = TRY(parse_percent(val));
        } else if (key == "seed") {
            s.fault.seed = TRY(parse_uint(val));
        } else if (key == "mac") {
            // the platform's
        } else {
            return EINVAL;
        }
    }
    if (s.dhcp && s.addr)
        return EINVAL;
    return s;
}

} // namespace

Result<int> if_attach_spec(const char* text, char* name_out, size_t name_len) {
    if (!(akhyp_groups() & AKHYP_GROUP_NET) || !akhyp_net_open)
        return ENOSYS;
    Spec s = TRY(parse_spec(text));
    char name[abi::k_ifnamsiz];
    {
        NetGuard g;
        if (s.name[0]) {
            str_copy(name, s.name, sizeof name);
            if (if_find_by_name(name))
                return EEXIST;
        } else {
            do {
                format(name, sizeof name, "eth%d", g_if_counter++);
            } while (if_find_by_name(name));
        }
    }
    // Create the interface first so the receive upcall has its context.
    auto* ifp = make<HypIf>(name, LinkType::Ether, 1500);
    if (!ifp)
        return ENOMEM;
    RefPtr<HypIf> hold = adopt_ref(ifp);
    akhyp_net_info info{};
    {
        // Attach (down) before the platform starts delivering frames.
        NetGuard g;
        TRY(if_attach(*ifp));
        ifp->m_flags &= uint16_t(~(abi::k_iff_up | abi::k_iff_running));
        if_set_fault(*ifp, s.fault);
    }
    void* handle = nullptr;
    int e = akhyp_net_open(s.backend, HypIf::rx, ifp, &info, &handle);
    NetGuard g;
    if (e) {
        if_detach(*ifp);
        return Error{e};
    }
    ifp->m_handle = handle;
    ifp->m_link = info.link == AKHYP_NET_LINK_RAWIP ? LinkType::RawIp : LinkType::Ether;
    ifp->m_no_csum = info.flags & AKHYP_NET_F_NO_CSUM;
    ifp->m_mtu = s.mtu ? min(s.mtu, info.mtu ? info.mtu : s.mtu) : info.mtu;
    if (s.mtu && info.mtu < s.mtu)
        ifp->m_mtu = s.mtu; // the platform accepted a larger MTU (shm)
    __builtin_memcpy(ifp->m_hwaddr, info.hwaddr, 6);
    if (ifp->m_link == LinkType::Ether)
        ifp->m_flags = abi::k_iff_broadcast | abi::k_iff_multicast;
    else
        ifp->m_flags = abi::k_iff_pointopoint | abi::k_iff_noarp;
    TRY(if_set_flags(*ifp, uint16_t(ifp->m_flags | abi::k_iff_up)));
    if (s.addr)
        TRY(if_set_addr(*ifp, s.addr, prefix_mask(s.plen)));
    if (s.gw) {
        Result<void> r = route_add(0, 0, s.gw, ifp, 0);
        if (r.is_error() && r.error() != EEXIST)
            return r.error();
    }
    if (s.dhcp)
        TRY(dhcp_start(*ifp));
    if (name_out && name_len)
        str_copy(name_out, name, name_len);
    AK_LOG_INFO("net: %s attached (%s)", name, s.backend);
    return ifp->m_index;
}

} // namespace ak::net

extern "C" AK_EXPORT int ak_kern_if_attach(const char* spec, char* name, size_t namelen) {
    if (!spec)
        return -EINVAL;
    auto r = ak::net::if_attach_spec(spec, name, namelen);
    if (r.is_error())
        return -r.error();
    return r.value();
}
