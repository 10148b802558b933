// A deterministic smoke run of the fuzz target for builds without
// libFuzzer: random frames, and valid Ethernet/IPv4/TCP/UDP/ICMP/ARP
// headers with random fields and lengths (so parsing gets past the first
// checks), fed through LLVMFuzzerTestOneInput.
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size);

namespace {

uint64_t g_state = 0x1234567887654321ull;
uint32_t rnd() {
    g_state ^= g_state << 13;
    g_state ^= g_state >> 7;
    g_state ^= g_state << 17;
    return static_cast<uint32_t>(g_state);
}

uint16_t csum(const uint8_t* p, size_t n, uint32_t s = 0) {
    for (size_t i = 0; i + 1 < n; i += 2)
        s += uint32_t(p[i] << 8 | p[i + 1]);
    if (n & 1)
        s += uint32_t(p[n - 1] << 8);
    while (s >> 16)
        s = (s & 0xffff) + (s >> 16);
    return static_cast<uint16_t>(~s);
}

size_t craft(uint8_t* f, size_t cap) {
    static const uint8_t mac[6] = {2, 0, 0, 0, 0, 2};
    memcpy(f, mac, 6);
    for (int i = 6; i < 12; i++)
        f[i] = static_cast<uint8_t>(rnd());
    f[6] &= 0xfe;
    int kind = rnd() % 5;
    if (kind == 0) { // ARP
        f[12] = 8;
        f[13] = 6;
        size_t n = 14 + 28;
        for (size_t i = 14; i < n; i++)
            f[i] = static_cast<uint8_t>(rnd());
        f[14] = 0, f[15] = 1, f[16] = 8, f[17] = 0, f[18] = 6, f[19] = 4, f[20] = 0,
        f[21] = 1 + rnd() % 2;
        f[38] = 10, f[39] = 0, f[40] = 0, f[41] = 2;
        return n;
    }
    f[12] = 8;
    f[13] = 0;
    uint8_t* ip = f + 14;
    size_t payload = rnd() % 1400;
    size_t ihl = 20 + (rnd() % 8 == 0 ? 4 * (rnd() % 10) : 0);
    size_t total = ihl + payload;
    if (14 + total > cap)
        total = cap - 14;
    for (size_t i = 0; i < total; i++)
        ip[i] = static_cast<uint8_t>(rnd());
    ip[0] = static_cast<uint8_t>(0x40 | (ihl / 4));
    ip[2] = static_cast<uint8_t>(total >> 8);
    ip[3] = static_cast<uint8_t>(total);
    if (rnd() % 4)
        ip[6] = ip[7] = 0; // mostly unfragmented
    ip[8] = 64;
    ip[9] = kind == 1 ? 6 : kind == 2 ? 17 : kind == 3 ? 1 : static_cast<uint8_t>(rnd());
    ip[12] = 10, ip[13] = 0, ip[14] = 0, ip[15] = 1;
    ip[16] = 10, ip[17] = 0, ip[18] = 0, ip[19] = 2;
    ip[10] = ip[11] = 0;
    uint16_t c = csum(ip, ihl);
    ip[10] = static_cast<uint8_t>(c >> 8);
    ip[11] = static_cast<uint8_t>(c);
    uint8_t* t = ip + ihl;
    size_t tl = total - ihl;
    if (ip[9] == 6 && tl >= 20) {
        uint16_t port = rnd() % 2 ? 80 : 8080;
        t[2] = static_cast<uint8_t>(port >> 8), t[3] = static_cast<uint8_t>(port);
        t[0] = 0x1f, t[1] = 0x90;
        t[12] = static_cast<uint8_t>((5 + rnd() % 11) << 4);
        t[13] = static_cast<uint8_t>(rnd() % 4 == 0 ? 0x02 : rnd());
    } else if (ip[9] == 17 && tl >= 8) {
        t[2] = 0, t[3] = 53;
        t[4] = static_cast<uint8_t>(tl >> 8), t[5] = static_cast<uint8_t>(tl);
        t[6] = t[7] = 0; // no checksum
    } else if (ip[9] == 1 && tl >= 8) {
        t[0] = rnd() % 2 ? 8 : 3;
    }
    if ((ip[9] == 6 || ip[9] == 1) && tl >= 8) {
        // A correct checksum so the segment reaches the protocol.
        size_t ck = ip[9] == 6 ? 16 : 2;
        if (tl >= ck + 2) {
            t[ck] = t[ck + 1] = 0;
            uint32_t s = 0;
            if (ip[9] == 6) {
                s += (10u << 8) + 0 + (0u << 8) + 1 + (10u << 8) + 0 + (0u << 8) + 2 + 6 +
                     uint32_t(tl);
            }
            uint16_t v = csum(t, tl, s);
            t[ck] = static_cast<uint8_t>(v >> 8);
            t[ck + 1] = static_cast<uint8_t>(v);
        }
    }
    return 14 + total;
}

} // namespace

int main(int argc, char** argv) {
    int n = argc > 1 ? atoi(argv[1]) : 20000;
    static uint8_t frame[2048];
    for (int i = 0; i < n; i++) {
        size_t len;
        if (i % 4 == 0) {
            len = rnd() % sizeof frame;
            for (size_t k = 0; k < len; k++)
                frame[k] = static_cast<uint8_t>(rnd());
        } else {
            len = craft(frame, sizeof frame);
            if (i % 7 == 0 && len > 20)
                len = 14 + rnd() % (len - 14); // truncated
        }
        LLVMFuzzerTestOneInput(frame, len);
    }
    printf("fed %d frames\n", n);
    return 0;
}
