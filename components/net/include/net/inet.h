// IPv4 protocol entry points shared between the inet modules.  Everything
// here runs with the net lock held.
#pragma once

#include <ak/socket.h>
#include <net/ifnet.h>

namespace ak::net {

constexpr uint8_t k_proto_icmp = 1;
constexpr uint8_t k_proto_tcp = 6;
constexpr uint8_t k_proto_udp = 17;
constexpr uint8_t k_default_ttl = 64;

// Headroom for every link (Ethernet 14) + IPv4 (60) + TCP (60), rounded.
constexpr size_t k_max_header_room = 144;

// --- Ethernet and ARP ----------------------------------------------------------
constexpr uint16_t k_ethertype_ipv4 = 0x0800;
constexpr uint16_t k_ethertype_arp = 0x0806;
constexpr size_t k_ether_header = 14;

void ether_input(Ifnet& ifp, RefPtr<PacketBuffer> frame) AK_REQUIRES(net_lock());
// Send an IPv4 packet to next hop on ifp (ARP resolving it); broadcast
// sends to ff:ff:ff:ff:ff:ff.
void ether_output_ip(Ifnet& ifp, RefPtr<PacketBuffer> pkt, Ipv4 nexthop, bool broadcast)
    AK_REQUIRES(net_lock());
void arp_gratuitous(Ifnet& ifp) AK_REQUIRES(net_lock());
void arp_flush_interface(Ifnet& ifp) AK_REQUIRES(net_lock());
void arp_slowtimo(int64_t now) AK_REQUIRES(net_lock());
struct ArpEntryInfo {
    Ipv4 ip;
    uint8_t hw[6];
    bool complete;
    int ifindex;
};
size_t arp_snapshot(ArpEntryInfo* out, size_t max) AK_REQUIRES(net_lock());
void arp_walk(void (*fn)(void*, const ArpEntryInfo&), void* ctx) AK_REQUIRES(net_lock());

// --- IPv4 ------------------------------------------------------------------------
void ip_input(Ifnet& ifp, RefPtr<PacketBuffer> pkt) AK_REQUIRES(net_lock());

struct IpSendOptions {
    uint8_t ttl = k_default_ttl;
    uint8_t tos = 0;
    int bound_ifindex = 0;
    bool allow_broadcast = false;
    bool dont_fragment = false;
    // Offset in the packet of a TCP checksum ip_output fills in (after the
    // route is known: not on an interface with m_no_csum); -1: none.
    int tcp_csum_at = -1;
};
// pkt holds the transport header and payload with room in front.  src 0
// picks the outgoing interface's address.  Fragments when larger than the
// MTU (unless dont_fragment: EMSGSIZE).
Result<void> ip_output(RefPtr<PacketBuffer> pkt, Ipv4 src, Ipv4 dst, uint8_t proto,
                       const IpSendOptions& opt) AK_REQUIRES(net_lock());
void ip_slowtimo(int64_t now) AK_REQUIRES(net_lock());
bool ip_is_local_address(Ipv4 a) AK_REQUIRES(net_lock());

struct RouteResult {
    Ifnet* ifp = nullptr;
    Ipv4 nexthop = 0;
    Ipv4 src = 0;
    bool broadcast = false;
};
Result<RouteResult> route_lookup(Ipv4 dst, int bound_ifindex) AK_REQUIRES(net_lock());
Result<void> route_add(Ipv4 dst, Ipv4 mask, Ipv4 gw, Ifnet* ifp, int metric)
    AK_REQUIRES(net_lock());
Result<void> route_delete(Ipv4 dst, Ipv4 mask, Ipv4 gw) AK_REQUIRES(net_lock());
void route_flush_interface(Ifnet& ifp) AK_REQUIRES(net_lock());
struct RouteInfo {
    Ipv4 dst, mask, gw;
    int ifindex;
    int metric;
};
size_t route_snapshot(RouteInfo* out, size_t max) AK_REQUIRES(net_lock());
void route_walk(void (*fn)(void*, const RouteInfo&), void* ctx) AK_REQUIRES(net_lock());
// Every TCP control block, for netstat-style listings (tcp.cpp).
size_t tcp_snapshot(void (*fn)(void*, const char* state, Ipv4 laddr, uint16_t lport, Ipv4 faddr,
                               uint16_t fport, size_t rq, size_t sq),
                    void* ctx) AK_REQUIRES(net_lock());

// IPv4 header fields the transports need from an input packet.
struct IpInfo {
    Ipv4 src, dst;
    uint8_t proto, ttl, tos;
    int ifindex;
    bool broadcast; // link or IP broadcast
    // The whole IP header + first bytes of the payload (for ICMP errors).
    const uint8_t* ip_header;
    size_t ip_header_len;
    // Arrived on an interface whose medium cannot corrupt (Ifnet::m_no_csum).
    bool no_csum = false;
};

// --- ICMP ---------------------------------------------------------------------------
constexpr uint8_t k_icmp_echo_reply = 0;
constexpr uint8_t k_icmp_unreach = 3;
constexpr uint8_t k_icmp_echo = 8;
constexpr uint8_t k_icmp_time_exceeded = 11;
constexpr uint8_t k_icmp_unreach_net = 0;
constexpr uint8_t k_icmp_unreach_host = 1;
constexpr uint8_t k_icmp_unreach_proto = 2;
constexpr uint8_t k_icmp_unreach_port = 3;
constexpr uint8_t k_icmp_unreach_needfrag = 4;

void icmp_input(const IpInfo& ip, RefPtr<PacketBuffer> pkt) AK_REQUIRES(net_lock());
// Send an ICMP error about the packet whose IP header is ip.ip_header
// (RFC 1122 §3.2.2: never about ICMP errors, broadcasts or fragments
// other than the first).
void icmp_error(const IpInfo& ip, uint8_t type, uint8_t code) AK_REQUIRES(net_lock());
// Ping sockets (SOCK_DGRAM/IPPROTO_ICMP, as Linux's ping_group_range):
// echo replies are delivered to the socket whose id matches.
Result<RefPtr<Socket>> icmp_socket_create(int type, int flags);

// --- UDP and TCP ------------------------------------------------------------------
void udp_input(const IpInfo& ip, RefPtr<PacketBuffer> pkt) AK_REQUIRES(net_lock());
Result<RefPtr<Socket>> udp_socket_create(int flags);
// An ICMP error arrived for a datagram we sent (src/dst ports from the
// quoted header).
void udp_ctlinput(int err, Ipv4 src, uint16_t sport, Ipv4 dst, uint16_t dport)
    AK_REQUIRES(net_lock());

void tcp_input(const IpInfo& ip, RefPtr<PacketBuffer> pkt) AK_REQUIRES(net_lock());
Result<RefPtr<Socket>> tcp_socket_create(int flags);
void tcp_ctlinput(int err, Ipv4 src, uint16_t sport, Ipv4 dst, uint16_t dport)
    AK_REQUIRES(net_lock());
Result<void> tcp_init();
struct TcpStats {
    uint64_t active_opens, passive_opens, attempt_fails, estab_resets;
    uint64_t segs_in, segs_out, retrans, bad_segs, resets_out;
    uint64_t syn_dropped_backlog, challenge_acks, time_wait;
    uint64_t connections; // control blocks alive
};
TcpStats tcp_stats() AK_REQUIRES(net_lock());

// Transport checksum over the IPv4 pseudo-header (RFC 793 §3.1, RFC 768).
uint16_t inet_pseudo_checksum(Ipv4 src, Ipv4 dst, uint8_t proto, const uint8_t* data, size_t len);

// Ephemeral ports (Linux default range 32768-60999).
constexpr uint16_t k_port_first_ephemeral = 32768;
constexpr uint16_t k_port_last_ephemeral = 60999;

// sockaddr_in helpers.
Result<void> sockaddr_to_inet(const SockAddr& a, Ipv4& addr, uint16_t& port);
void inet_to_sockaddr(SockAddr& a, Ipv4 addr, uint16_t port);

// SO_BINDTODEVICE by name (shared by UDP/TCP).
Result<int> inet_bindtodevice(const void* val, uint32_t len);

// Random numbers from the platform (seeded once).
uint64_t net_random();

} // namespace ak::net
