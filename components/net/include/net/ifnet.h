// Network interfaces (ifnet): name, index, flags, MTU, link type and
// hardware address, one IPv4 address with its netmask, counters, and the
// fault injector every backend gets (loss / reorder / duplication,
// seeded, applied on transmit and on receive).
#pragma once

#include <ak/callout.h>
#include <net/netbase.h>

namespace ak::net {

enum class LinkType : uint8_t { Loopback, Ether, RawIp };

struct IfCounters {
    uint64_t ipackets = 0, ibytes = 0, ierrors = 0, idrops = 0;
    uint64_t opackets = 0, obytes = 0, oerrors = 0, odrops = 0;
    uint64_t fault_dropped = 0, fault_duplicated = 0, fault_reordered = 0;
};

struct FaultConfig {
    uint32_t loss_permille = 0;
    uint32_t reorder_permille = 0;
    uint32_t dup_permille = 0;
    uint64_t seed = 1;
    bool any() const { return loss_permille || reorder_permille || dup_permille; }
};

class Ifnet;

// One direction of fault injection.  A reordered packet is held back and
// released after the next packet (or after a short delay if none comes).
struct FaultState {
    Prng prng;
    RefPtr<PacketBuffer> held;
    Callout flush;
    Ifnet* ifp = nullptr;
    bool input = false;
};

class Ifnet : public RefCounted<Ifnet>, public KObject {
public:
    Ifnet(const char* name, LinkType link, uint32_t mtu);
    ~Ifnet() override;

    // Hand a frame to the driver.  Called with the net lock held; must not
    // block for long.  The driver consumes the reference.
    // (Not pure virtual: that would need the C++ runtime's
    // __cxa_pure_virtual.)
    virtual Result<void> driver_transmit(RefPtr<PacketBuffer> frame);
    // Driver-specific teardown before the interface is removed.
    virtual void driver_detach() {}

    const char* name() const { return m_name; }
    int index() const { return m_index; }
    LinkType link() const { return m_link; }

    // Guarded by the net lock.
    char m_name[abi::k_ifnamsiz] = {};
    int m_index = 0;
    LinkType m_link;
    // TCP checksums are neither computed on output nor checked on input
    // (loopback, the shared-memory bus): the medium cannot corrupt.
    bool m_no_csum = false;
    uint16_t m_flags = 0; // IFF_*
    uint32_t m_mtu;
    uint8_t m_hwaddr[6] = {};
    Ipv4 m_addr = 0;
    Ipv4 m_netmask = 0;
    IfCounters m_counters;
    FaultConfig m_fault;
    FaultState m_fault_tx, m_fault_rx;
    ListNode m_node;

    bool up() const { return m_flags & abi::k_iff_up; }
    Ipv4 broadcast_addr() const { return m_addr | ~m_netmask; }
};

// Register an interface: assigns its index, links it in, brings it up.
// Takes a reference.  Caller holds the net lock.
Result<void> if_attach(Ifnet& ifp) AK_REQUIRES(net_lock());
void if_detach(Ifnet& ifp) AK_REQUIRES(net_lock());
Ifnet* if_find_by_name(const char* name) AK_REQUIRES(net_lock());
Ifnet* if_find_by_index(int index) AK_REQUIRES(net_lock());
Ifnet* if_loopback() AK_REQUIRES(net_lock());
// Visit interfaces in index order.
template <typename F> void if_foreach(F&& f);
List<Ifnet, &Ifnet::m_node>& if_list() AK_REQUIRES(net_lock());

// Set the IPv4 address (and the connected route); announces it with a
// gratuitous ARP on Ethernet.
Result<void> if_set_addr(Ifnet& ifp, Ipv4 addr, Ipv4 netmask) AK_REQUIRES(net_lock());
Result<void> if_set_flags(Ifnet& ifp, uint16_t flags) AK_REQUIRES(net_lock());
void if_set_fault(Ifnet& ifp, const FaultConfig& f) AK_REQUIRES(net_lock());

// Transmit a complete link-layer frame through fault injection to the
// driver.  Caller holds the net lock.
void if_output(Ifnet& ifp, RefPtr<PacketBuffer> frame) AK_REQUIRES(net_lock());
// Receive a frame from a driver (any thread, net lock not held).
void if_input(Ifnet& ifp, RefPtr<PacketBuffer> frame);
// Same, with the net lock held (deferred input, loopback).
void if_input_locked(Ifnet& ifp, RefPtr<PacketBuffer> frame) AK_REQUIRES(net_lock());

// Interface ioctls (SIOCGIF*/SIOCSIF*, SIOCGIFCONF, SIOCADDRT/SIOCDELRT).
Result<long> if_ioctl(unsigned long cmd, void* arg);

template <typename F> void if_foreach(F&& f) {
    for (auto& i : if_list())
        f(i);
}

} // namespace ak::net
