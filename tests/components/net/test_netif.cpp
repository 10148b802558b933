// Packet-level tests through a callback interface: ARP, ICMP echo, a SYN
// flood against a listener (half-open connections stay bounded), and
// seeded fault injection that reproduces.
#define DOCTEST_CONFIG_IMPLEMENT
#include <doctest/doctest.h>

#include <anykern/anykern.h>
#include <anykern/kern.h>

#include <arpa/inet.h>
#include <netinet/in.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>
#include <vector>

namespace {

std::vector<std::vector<uint8_t>> g_out[4];

void capture(void* ctx, const void* frame, size_t len) {
    auto* q = static_cast<std::vector<std::vector<uint8_t>>*>(ctx);
    const uint8_t* p = static_cast<const uint8_t*>(frame);
    q->emplace_back(p, p + len);
}

const uint8_t k_our_mac[6] = {2, 0, 0, 0, 0, 2};
const uint8_t k_peer_mac[6] = {2, 0, 0, 0, 0, 1};

uint16_t csum(const uint8_t* p, size_t n, uint32_t s = 0) {
    for (size_t i = 0; i + 1 < n; i += 2)
        s += uint32_t(p[i] << 8 | p[i + 1]);
    if (n & 1)
        s += uint32_t(p[n - 1] << 8);
    while (s >> 16)
        s = (s & 0xffff) + (s >> 16);
    return static_cast<uint16_t>(~s);
}

std::vector<uint8_t> eth(uint16_t type, const std::vector<uint8_t>& payload) {
    std::vector<uint8_t> f(k_our_mac, k_our_mac + 6);
    f.insert(f.end(), k_peer_mac, k_peer_mac + 6);
    f.push_back(uint8_t(type >> 8));
    f.push_back(uint8_t(type));
    f.insert(f.end(), payload.begin(), payload.end());
    return f;
}

std::vector<uint8_t> ipv4(uint32_t src, uint32_t dst, uint8_t proto,
                          const std::vector<uint8_t>& l4) {
    std::vector<uint8_t> h(20, 0);
    h[0] = 0x45;
    size_t total = 20 + l4.size();
    h[2] = uint8_t(total >> 8);
    h[3] = uint8_t(total);
    h[8] = 64;
    h[9] = proto;
    for (int i = 0; i < 4; i++) {
        h[12 + i] = uint8_t(src >> (24 - 8 * i));
        h[16 + i] = uint8_t(dst >> (24 - 8 * i));
    }
    uint16_t c = csum(h.data(), 20);
    h[10] = uint8_t(c >> 8);
    h[11] = uint8_t(c);
    h.insert(h.end(), l4.begin(), l4.end());
    return h;
}

std::vector<uint8_t> tcp_syn(uint32_t src, uint32_t dst, uint16_t sport, uint16_t dport,
                             uint32_t seq) {
    std::vector<uint8_t> t(20, 0);
    t[0] = uint8_t(sport >> 8), t[1] = uint8_t(sport);
    t[2] = uint8_t(dport >> 8), t[3] = uint8_t(dport);
    t[4] = uint8_t(seq >> 24), t[5] = uint8_t(seq >> 16), t[6] = uint8_t(seq >> 8),
    t[7] = uint8_t(seq);
    t[12] = 5 << 4;
    t[13] = 0x02;
    t[14] = 0xff, t[15] = 0xff;
    uint8_t ph[12] = {uint8_t(src >> 24),
                      uint8_t(src >> 16),
                      uint8_t(src >> 8),
                      uint8_t(src),
                      uint8_t(dst >> 24),
                      uint8_t(dst >> 16),
                      uint8_t(dst >> 8),
                      uint8_t(dst),
                      0,
                      6,
                      0,
                      20};
    uint32_t s = 0;
    for (int i = 0; i < 12; i += 2)
        s += uint32_t(ph[i] << 8 | ph[i + 1]);
    uint16_t c = csum(t.data(), t.size(), s);
    t[16] = uint8_t(c >> 8), t[17] = uint8_t(c);
    return t;
}

} // namespace

TEST_CASE("ARP request for our address gets a reply; ICMP echo gets a reply") {
    auto& out = g_out[0];
    out.clear();
    std::vector<uint8_t> arp = {0, 1, 8, 0, 6, 4, 0, 1};
    arp.insert(arp.end(), k_peer_mac, k_peer_mac + 6);
    arp.insert(arp.end(), {10, 0, 0, 1, 0, 0, 0, 0, 0, 0, 10, 0, 0, 2});
    auto f = eth(0x0806, arp);
    memset(f.data(), 0xff, 6);
    REQUIRE(ak_if_callback_input("t0", f.data(), f.size()) == 0);
    bool replied = false;
    for (auto& o : out)
        if (o.size() >= 42 && o[12] == 8 && o[13] == 6 && o[21] == 2 &&
            memcmp(o.data(), k_peer_mac, 6) == 0)
            replied = true;
    CHECK(replied);
    out.clear();
    std::vector<uint8_t> echo = {8, 0, 0, 0, 0x12, 0x34, 0, 1, 'h', 'i'};
    uint16_t c = csum(echo.data(), echo.size());
    echo[2] = uint8_t(c >> 8), echo[3] = uint8_t(c);
    auto p = eth(0x0800, ipv4(0x0a000001, 0x0a000002, 1, echo));
    REQUIRE(ak_if_callback_input("t0", p.data(), p.size()) == 0);
    REQUIRE(out.size() >= 1);
    auto& r = out.back();
    CHECK(r.size() == p.size());
    CHECK(r[14 + 20] == 0); // echo reply
}

TEST_CASE("SYN flood: half-open connections stay bounded and memory returns") {
    int l = ak_sys_socket(AF_INET, SOCK_STREAM, 0);
    sockaddr_in a{};
    a.sin_family = AF_INET;
    a.sin_port = htons(80);
    REQUIRE(ak_sys_bind(l, reinterpret_cast<sockaddr*>(&a), sizeof a) == 0);
    REQUIRE(ak_sys_listen(l, 16) == 0);
    struct ak_kern_memstats before {
    }, during{};
    ak_kern_memstats(&before);
    auto& out = g_out[0];
    for (int i = 0; i < 20000; i++) {
        out.clear();
        uint32_t src = 0x0a000000u | uint32_t(3 + (i % 200));
        auto f =
            eth(0x0800, ipv4(src, 0x0a000002, 6,
                             tcp_syn(src, 0x0a000002, uint16_t(1024 + i), 80, uint32_t(i * 7919))));
        ak_if_callback_input("t0", f.data(), f.size());
    }
    ak_kern_memstats(&during);
    // 16 embryonic connections at most: a few KiB each, not 20000 of them.
    CHECK(during.in_use - before.in_use < 2u * 1024 * 1024);
    ak_sys_close(l); // resets the half-open connections
    // The SYN-ACKs left unresolved ARP entries; they expire after three
    // unanswered requests (about 3 s).
    struct ak_kern_memstats after {};
    for (int i = 0; i < 100; i++) {
        ak_kern_memstats(&after);
        if (after.allocations <= before.allocations + 8)
            break;
        usleep(100000);
    }
    CHECK(after.allocations <= before.allocations + 8);
}

// Loopback and the shared-memory bus skip TCP checksums (Ifnet::m_no_csum);
// an ordinary interface must still check them on input and fill them in on
// output.
TEST_CASE("TCP checksums are checked and set on an ordinary interface") {
    int l = ak_sys_socket(AF_INET, SOCK_STREAM, 0);
    sockaddr_in a{};
    a.sin_family = AF_INET;
    a.sin_port = htons(81);
    REQUIRE(ak_sys_bind(l, reinterpret_cast<sockaddr*>(&a), sizeof a) == 0);
    REQUIRE(ak_sys_listen(l, 4) == 0);
    auto& out = g_out[0];
    // Teach the interface the peer's MAC (an ARP request from it), so the
    // SYN-ACK goes out at once.
    std::vector<uint8_t> arp = {0, 1, 8, 0, 6, 4, 0, 1};
    arp.insert(arp.end(), k_peer_mac, k_peer_mac + 6);
    arp.insert(arp.end(), {10, 0, 0, 1, 0, 0, 0, 0, 0, 0, 10, 0, 0, 2});
    auto req = eth(0x0806, arp);
    REQUIRE(ak_if_callback_input("t0", req.data(), req.size()) == 0);
    auto syn_ack_seen = [&] {
        for (auto& o : out)
            if (o.size() >= 54 && o[12] == 8 && o[13] == 0 && o[14 + 9] == 6 &&
                o[14 + 20 + 13] == 0x12)
                return true;
        return false;
    };
    auto seg = tcp_syn(0x0a000001, 0x0a000002, 40000, 81, 12345);
    seg[17] ^= 0x55; // a wrong checksum
    out.clear();
    auto bad = eth(0x0800, ipv4(0x0a000001, 0x0a000002, 6, seg));
    REQUIRE(ak_if_callback_input("t0", bad.data(), bad.size()) == 0);
    CHECK_FALSE(syn_ack_seen());
    seg[17] ^= 0x55;
    out.clear();
    auto good = eth(0x0800, ipv4(0x0a000001, 0x0a000002, 6, seg));
    REQUIRE(ak_if_callback_input("t0", good.data(), good.size()) == 0);
    REQUIRE(syn_ack_seen());
    for (auto& o : out) {
        if (o.size() < 54 || o[14 + 9] != 6)
            continue;
        // The SYN-ACK's checksum over the pseudo-header verifies.
        std::vector<uint8_t> t(o.begin() + 34, o.end());
        uint8_t ph[12] = {10, 0, 0, 2, 10, 0, 0, 1, 0, 6, 0, uint8_t(t.size())};
        uint32_t sum = 0;
        for (int i = 0; i < 12; i += 2)
            sum += uint32_t(ph[i] << 8 | ph[i + 1]);
        CHECK(csum(t.data(), t.size(), sum) == 0);
    }
    ak_sys_close(l);
}

TEST_CASE("fault injection with the same seed drops the same packets") {
    std::vector<size_t> counts;
    for (int k = 1; k <= 2; k++) {
        char name[8], spec[128];
        snprintf(name, sizeof name, "f%d", k);
        REQUIRE(ak_if_callback_register(name, capture, &g_out[k]) == 0);
        snprintf(spec, sizeof spec,
                 "cb:%s,name=fault%d,addr=10.%d.0.2/24,loss=30,seed=99,mac=02:00:00:00:00:02", name,
                 k, k);
        REQUIRE(ak_if_attach(spec) > 0);
        // Tell the interface our MAC first (ARP request for its address),
        // retried because the request itself may be dropped.
        for (int i = 0; i < 10; i++) {
            std::vector<uint8_t> arp = {0, 1, 8, 0, 6, 4, 0, 1};
            arp.insert(arp.end(), k_peer_mac, k_peer_mac + 6);
            arp.insert(arp.end(), {10, uint8_t(k), 0, 1, 0, 0, 0, 0, 0, 0, 10, uint8_t(k), 0, 2});
            auto f = eth(0x0806, arp);
            ak_if_callback_input(name, f.data(), f.size());
        }
        g_out[k].clear();
        std::vector<uint8_t> echo = {8, 0, 0, 0, 0x12, 0x34, 0, 1};
        uint16_t c = csum(echo.data(), echo.size());
        echo[2] = uint8_t(c >> 8), echo[3] = uint8_t(c);
        for (int i = 0; i < 200; i++) {
            auto p = eth(0x0800, ipv4(0x0a000001u | (uint32_t(k) << 16),
                                      0x0a000002u | (uint32_t(k) << 16), 1, echo));
            ak_if_callback_input(name, p.data(), p.size());
        }
        counts.push_back(g_out[k].size());
    }
    CHECK(counts[0] == counts[1]);
    CHECK(counts[0] > 60); // about 0.7 * 0.7 * 200 = 98 replies
    CHECK(counts[0] < 140);
}

int main(int argc, char** argv) {
    if (ak_init() != 0)
        return 1;
    if (ak_if_callback_register("t0", capture, &g_out[0]) != 0)
        return 1;
    if (ak_if_attach("cb:t0,addr=10.0.0.2/24,mac=02:00:00:00:00:02") < 0)
        return 1;
    doctest::Context ctx(argc, argv);
    return ctx.run();
}
