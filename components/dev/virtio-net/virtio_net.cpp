// virtio network device (virtio 1.2 §5.1) as an Ethernet ifnet.
//
// One receive and one transmit queue, no offloads, no mergeable receive
// buffers: every receive buffer holds the 12-byte virtio_net_hdr and a
// whole 1514-byte frame.  Buffers are DMA slots owned by the driver;
// frames are copied to and from PacketBuffers, so the stack's memory needs
// no physical address.  Received frames are handed to if_input outside
// the driver lock (input may transmit: an ACK).
//
// Devices are set up at probe (level Dev); the ifnets attach at level
// Late, after the network core exists.  Parameters: ip=ADDR/PLEN and
// gw=ADDR, or dhcp=1, configure the first interface (ak-run --ip/--gw,
// --dhcp).
#include <ak/component.h>
#include <ak/kmem.h>
#include <ak/log.h>
#include <ak/virtio.h>
#include <anykern/hypercall.h>
#include <net/ifnet.h>
#include <net/inet.h>

namespace ak::net {
// The stack's DHCP client; called with the net lock held (it drops it while
// the exchange runs).  Declared here: the stack has no public header for it.
Result<void> dhcp_start(Ifnet& ifp);
} // namespace ak::net

namespace ak {
namespace {

using net::Ifnet;
using net::PacketBuffer;

constexpr uint64_t k_f_mac = uint64_t(1) << 5;
constexpr uint32_t k_hdr = 12; // struct virtio_net_hdr with VERSION_1 (§5.1.6)
constexpr uint32_t k_frame_max = 1514;
constexpr uint32_t k_slot = 2048;
constexpr uint16_t k_rx_slots = 64, k_tx_slots = 64;
constexpr unsigned k_rxq = 0, k_txq = 1;

class VirtioNet final : public Ifnet {
public:
    VirtioNet(const char* name) : Ifnet(name, net::LinkType::Ether, 1500) {}

    Result<void> driver_transmit(RefPtr<PacketBuffer> frame) override;

    virtio::Transport* m_transport = nullptr;
    virtio::Virtqueue* m_rx = nullptr;
    virtio::Virtqueue* m_tx = nullptr;
    uint8_t* m_rx_mem = nullptr;
    uint64_t m_rx_paddr = 0;
    uint8_t* m_tx_mem = nullptr;
    uint64_t m_tx_paddr = 0;
    Mutex m_lock;
    uint16_t m_rx_head_slot[k_rx_slots] = {}; // head index -> slot (indexed by head)
    bool m_tx_busy[k_tx_slots] AK_GUARDED_BY(m_lock) = {};
    uint16_t m_tx_head_slot[256] AK_GUARDED_BY(m_lock) = {};
    int m_unit = 0;
    VirtioNet* m_next_pending = nullptr;
};

VirtioNet* g_pending; // set up, not yet attached to the stack

Result<void> post_rx_locked(VirtioNet& n, uint16_t slot) AK_REQUIRES(n.m_lock) {
    virtio::Virtqueue::Buffer b{n.m_rx_paddr + uint64_t(slot) * k_slot, k_hdr + k_frame_max, true};
    uint16_t head = TRY(n.m_rx->submit(Span<const virtio::Virtqueue::Buffer>(&b, 1)));
    if (head >= k_rx_slots)
        return EIO;
    n.m_rx_head_slot[head] = slot;
    return {};
}

void reclaim_tx_locked(VirtioNet& n) AK_REQUIRES(n.m_lock) {
    for (;;) {
        uint16_t head;
        uint32_t written;
        Result<bool> got = n.m_tx->reclaim(&head, &written);
        if (got.is_error() || !got.value())
            return;
        n.m_tx_busy[n.m_tx_head_slot[head]] = false;
    }
}

Result<void> VirtioNet::driver_transmit(RefPtr<PacketBuffer> frame) {
    size_t len = frame->size();
    if (len > k_frame_max) {
        m_counters.oerrors++;
        return EMSGSIZE;
    }
    MutexGuard g(m_lock);
    reclaim_tx_locked(*this);
    int slot = -1;
    for (int i = 0; i < k_tx_slots && slot < 0; i++)
        if (!m_tx_busy[i])
            slot = i;
    if (slot < 0) {
        m_counters.odrops++; // the device is behind: drop, TCP retransmits
        return ENOBUFS;
    }
    uint8_t* mem = m_tx_mem + size_t(slot) * k_slot;
    __builtin_memset(mem, 0, k_hdr);
    __builtin_memcpy(mem + k_hdr, frame->data(), len);
    virtio::Virtqueue::Buffer b{m_tx_paddr + uint64_t(slot) * k_slot, uint32_t(k_hdr + len), false};
    Result<uint16_t> head = m_tx->submit(Span<const virtio::Virtqueue::Buffer>(&b, 1));
    if (head.is_error() || head.value() >= 256) {
        m_counters.oerrors++;
        return EIO;
    }
    m_tx_busy[slot] = true;
    m_tx_head_slot[head.value()] = uint16_t(slot);
    m_counters.opackets++;
    m_counters.obytes += len;
    return {};
}

void interrupt(void* arg) {
    auto n = static_cast<VirtioNet*>(arg);
    for (;;) {
        RefPtr<PacketBuffer> frames[16];
        unsigned count = 0;
        {
            MutexGuard g(n->m_lock);
            reclaim_tx_locked(*n);
            while (count < 16) {
                uint16_t head;
                uint32_t written;
                Result<bool> got = n->m_rx->reclaim(&head, &written);
                if (got.is_error() || !got.value())
                    break;
                uint16_t slot = n->m_rx_head_slot[head];
                if (written > k_hdr) {
                    auto p = PacketBuffer::copy_of(ReadonlyBytes(
                        n->m_rx_mem + size_t(slot) * k_slot + k_hdr, written - k_hdr));
                    if (p.is_error())
                        n->m_counters.idrops++;
                    else
                        frames[count++] = p.release_value();
                }
                (void)post_rx_locked(*n, slot);
            }
        }
        if (count == 0)
            return;
        for (unsigned i = 0; i < count; i++) {
            n->m_counters.ipackets++;
            n->m_counters.ibytes += frames[i]->size();
            net::if_input(*n, move(frames[i]));
        }
    }
}

Result<void> attach(virtio::Transport& t, int unit) {
    char name[16];
    format(name, sizeof name, "vioif%d", unit);
    auto n = make<VirtioNet>(name);
    if (!n)
        return ENOMEM;
    n->m_transport = &t;
    n->m_unit = unit;
    uint64_t features = TRY(virtio::negotiate(t, k_f_mac));
    if (features & k_f_mac) {
        for (int i = 0; i < 6; i++)
            n->m_hwaddr[i] = uint8_t(t.config_read(uint32_t(i), 1));
    } else {
        // Locally administered address from the random source.
        akhyp_getrandom(n->m_hwaddr, 6);
        n->m_hwaddr[0] = uint8_t((n->m_hwaddr[0] & 0xfe) | 0x02);
    }
    void* mem;
    if (akhyp_dma_alloc(size_t(k_rx_slots) * k_slot, &mem, &n->m_rx_paddr) != 0)
        return ENOMEM;
    n->m_rx_mem = static_cast<uint8_t*>(mem);
    if (akhyp_dma_alloc(size_t(k_tx_slots) * k_slot, &mem, &n->m_tx_paddr) != 0)
        return ENOMEM;
    n->m_tx_mem = static_cast<uint8_t*>(mem);
    TRY(t.setup_interrupt(interrupt, n));
    n->m_rx = TRY(virtio::Virtqueue::create(t, k_rxq, k_rx_slots));
    n->m_tx = TRY(virtio::Virtqueue::create(t, k_txq, 256));
    {
        MutexGuard g(n->m_lock);
        for (uint16_t s = 0; s < n->m_rx->size() && s < k_rx_slots; s++)
            TRY(post_rx_locked(*n, s));
    }
    virtio::driver_ok(t);
    n->m_next_pending = g_pending;
    g_pending = n;
    return {};
}

// "a.b.c.d" -> host-order address; false when malformed.
bool parse_ipv4(const char*& p, net::Ipv4* out) {
    uint32_t v = 0;
    for (int i = 0; i < 4; i++) {
        if (*p < '0' || *p > '9')
            return false;
        uint32_t octet = 0;
        for (int d = 0; *p >= '0' && *p <= '9'; p++, d++) {
            octet = octet * 10 + uint32_t(*p - '0');
            if (d > 2 || octet > 255)
                return false;
        }
        v = v << 8 | octet;
        if (i < 3 && *p++ != '.')
            return false;
    }
    *out = v;
    return true;
}

void configure(VirtioNet& n) AK_REQUIRES(net::net_lock()) {
    char buf[64];
    if (n.m_unit != 0)
        return;
    if (akhyp_getparam("dhcp", buf, sizeof buf) == 0 && buf[0] == '1') {
        // The network stack's DHCP client (components/net/if/dhcp.cpp):
        // returns once a lease is configured (address, mask, router).
        Result<void> r = net::dhcp_start(n);
        if (r.is_error())
            AK_LOG_WARN("virtio-net: %s: DHCP failed: errno %d", n.name(), r.error());
        return;
    }
    if (akhyp_getparam("ip", buf, sizeof buf) != 0)
        return;
    const char* p = buf;
    net::Ipv4 addr;
    unsigned plen = 32;
    if (!parse_ipv4(p, &addr) || (*p && *p != '/')) {
        AK_LOG_WARN("virtio-net: bad ip=%s (expected ADDR/PLEN)", buf);
        return;
    }
    if (*p == '/') {
        plen = 0;
        for (p++; *p >= '0' && *p <= '9'; p++)
            plen = plen * 10 + unsigned(*p - '0');
        if (*p || plen > 32) {
            AK_LOG_WARN("virtio-net: bad prefix length in ip=%s", buf);
            return;
        }
    }
    net::Ipv4 mask = plen ? ~net::Ipv4(0) << (32 - plen) : 0;
    if (net::if_set_addr(n, addr, mask).is_error())
        AK_LOG_WARN("virtio-net: cannot set ip=%s", buf);
    if (akhyp_getparam("gw", buf, sizeof buf) == 0) {
        p = buf;
        net::Ipv4 gw;
        if (!parse_ipv4(p, &gw) || *p || net::route_add(0, 0, gw, &n, 0).is_error())
            AK_LOG_WARN("virtio-net: cannot use gw=%s", buf);
    }
}

Result<void> virtio_net_register() {
    static const virtio::Driver k_driver = {"virtio-net", 1, attach};
    virtio::register_driver(&k_driver);
    return {};
}

Result<void> virtio_net_ifattach() {
    while (VirtioNet* n = g_pending) {
        g_pending = n->m_next_pending;
        net::NetGuard g;
        Result<void> r = net::if_attach(*n);
        n->unref(); // the interface list holds it
        if (r.is_error()) {
            AK_LOG_WARN("virtio-net: cannot attach %s: errno %d", n->name(), r.error());
            continue;
        }
        configure(*n);
        AK_LOG_INFO("virtio-net: %s (%s) %02x:%02x:%02x:%02x:%02x:%02x", n->name(),
                    n->m_transport->kind(), n->m_hwaddr[0], n->m_hwaddr[1], n->m_hwaddr[2],
                    n->m_hwaddr[3], n->m_hwaddr[4], n->m_hwaddr[5]);
    }
    return {};
}

} // namespace
} // namespace ak

AK_COMPONENT(virtio_net, ak::InitLevel::Base, ak::virtio_net_register);
AK_COMPONENT(virtio_net_ifattach, ak::InitLevel::Late, ak::virtio_net_ifattach);
