// ICMP (RFC 792, RFC 1122 §3.2.2): echo replies, errors we send
// (unreachable, time exceeded) and errors we receive (handed to UDP/TCP).
#include <ak/time.h>
#include <net/inet.h>

namespace ak::net {

void icmp_deliver_echo_reply(Ipv4 src, Ipv4 dst, uint16_t id, RefPtr<PacketBuffer> pkt)
    AK_REQUIRES(net_lock());

namespace {

// RFC 1812 §4.3.2.8 style rate limit for the errors we generate: a token
// bucket of 100 per second, burst 50.
int64_t g_tokens_at = 0;
int g_tokens = 50;

bool error_allowed() {
    int64_t now = monotonic_ns();
    int64_t add = (now - g_tokens_at) / 10000000; // one token per 10 ms
    if (add > 0) {
        g_tokens = static_cast<int>(min<int64_t>(50, g_tokens + add));
        g_tokens_at = now;
    }
    if (g_tokens <= 0)
        return false;
    g_tokens--;
    return true;
}

int error_to_errno(uint8_t type, uint8_t code) {
    if (type == k_icmp_time_exceeded)
        return EHOSTUNREACH;
    switch (code) {
    case k_icmp_unreach_net:
        return ENETUNREACH;
    case k_icmp_unreach_port:
        return ECONNREFUSED;
    case k_icmp_unreach_proto:
        return ENOPROTOOPT;
    case k_icmp_unreach_needfrag:
        return EMSGSIZE;
    default:
        return EHOSTUNREACH;
    }
}

} // namespace

void icmp_input(const IpInfo& ip, RefPtr<PacketBuffer> pkt) {
    size_t len = pkt->size();
    if (len < 8 || checksum(pkt->data(), len) != 0)
        return;
    uint8_t* d = pkt->data();
    uint8_t type = d[0], code = d[1];
    switch (type) {
    case k_icmp_echo: {
        if (ip.broadcast)
            return; // Linux: icmp_echo_ignore_broadcasts
        auto reply = PacketBuffer::copy_of(pkt->bytes(), k_max_header_room);
        if (reply.is_error())
            return;
        uint8_t* r = reply.value()->data();
        r[0] = k_icmp_echo_reply;
        store16(r + 2, 0);
        uint16_t c = checksum(r, len);
        __builtin_memcpy(r + 2, &c, 2);
        (void)ip_output(reply.release_value(), ip.dst, ip.src, k_proto_icmp, IpSendOptions{});
        return;
    }
    case k_icmp_echo_reply:
        icmp_deliver_echo_reply(ip.src, ip.dst, load16(d + 4), move(pkt));
        return;
    case k_icmp_unreach:
    case k_icmp_time_exceeded: {
        // The quoted datagram: IP header + at least 8 bytes (RFC 792).
        if (len < 8 + 20 + 8)
            return;
        const uint8_t* q = d + 8;
        size_t ihl = size_t(q[0] & 0xf) * 4;
        if ((q[0] >> 4) != 4 || ihl < 20 || 8 + ihl + 8 > len)
            return;
        Ipv4 qsrc = load32(q + 12), qdst = load32(q + 16);
        uint8_t proto = q[9];
        uint16_t sport = load16(q + ihl), dport = load16(q + ihl + 2);
        int err = error_to_errno(type, code);
        if (proto == k_proto_udp)
            udp_ctlinput(err, qsrc, sport, qdst, dport);
        else if (proto == k_proto_tcp)
            tcp_ctlinput(err, qsrc, sport, qdst, dport);
        return;
    }
    default:
        return;
    }
}

void icmp_error(const IpInfo& ip, uint8_t type, uint8_t code) {
    if (!ip.ip_header || ip.ip_header_len < 20)
        return;
    const uint8_t* h = ip.ip_header;
    // RFC 1122 §3.2.2: not about ICMP errors, broadcasts, multicasts,
    // non-initial fragments or packets from a non-unicast source.
    if (ip.broadcast || ipv4_is_multicast(ip.dst) || ip.src == 0 || ipv4_is_multicast(ip.src))
        return;
    if (load16(h + 6) & 0x1fff)
        return;
    if (h[9] == k_proto_icmp) {
        size_t ihl = size_t(h[0] & 0xf) * 4;
        if (ip.ip_header_len > ihl) {
            uint8_t t = h[ihl];
            if (t != k_icmp_echo && t != k_icmp_echo_reply)
                return;
        }
    }
    if (!error_allowed())
        return;
    size_t quote = ip.ip_header_len;
    auto pkt = PacketBuffer::create(k_max_header_room, 8 + quote);
    if (pkt.is_error())
        return;
    uint8_t* d = pkt.value()->data();
    d[0] = type;
    d[1] = code;
    store16(d + 2, 0);
    store32(d + 4, 0);
    __builtin_memcpy(d + 8, h, quote);
    uint16_t c = checksum(d, 8 + quote);
    __builtin_memcpy(d + 2, &c, 2);
    Ipv4 src = ip_is_local_address(ip.dst) ? ip.dst : 0;
    (void)ip_output(pkt.release_value(), src, ip.src, k_proto_icmp, IpSendOptions{});
}

} // namespace ak::net
