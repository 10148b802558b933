// akhyp_getrandom: ChaCha20 (RFC 8439 block function) with fast key
// erasure.  The key is seeded from RDSEED/RDRAND when the CPU has them, and
// always mixed with TSC jitter samples and the RTC time; RDRAND output is
// mixed in again on every call.  Without RDRAND (QEMU's default TCG CPU)
// the seed is only TSC jitter, which under emulation is weak; docs/kvm.md
// says so.  virtio-rng will arrive as a component.
#include "platform.h"

namespace akkvm {
namespace {

uint32_t g_key[8];
uint64_t g_counter;
bool g_has_rdrand, g_has_rdseed;

uint32_t rotl(uint32_t v, int n) {
    return v << n | v >> (32 - n);
}

void quarter(uint32_t* x, int a, int b, int c, int d) {
    x[a] += x[b], x[d] = rotl(x[d] ^ x[a], 16);
    x[c] += x[d], x[b] = rotl(x[b] ^ x[c], 12);
    x[a] += x[b], x[d] = rotl(x[d] ^ x[a], 8);
    x[c] += x[d], x[b] = rotl(x[b] ^ x[c], 7);
}

void chacha20_block(const uint32_t key[8], uint64_t counter, uint32_t out[16]) {
    uint32_t s[16] = {0x61707865, 0x3320646e, 0x79622d32, 0x6b206574};
    for (int i = 0; i < 8; i++)
        s[4 + i] = key[i];
    s[12] = uint32_t(counter);
    s[13] = uint32_t(counter >> 32);
    s[14] = s[15] = 0;
    uint32_t x[16];
    for (int i = 0; i < 16; i++)
        x[i] = s[i];
    for (int i = 0; i < 10; i++) {
        quarter(x, 0, 4, 8, 12), quarter(x, 1, 5, 9, 13);
        quarter(x, 2, 6, 10, 14), quarter(x, 3, 7, 11, 15);
        quarter(x, 0, 5, 10, 15), quarter(x, 1, 6, 11, 12);
        quarter(x, 2, 7, 8, 13), quarter(x, 3, 4, 9, 14);
    }
    for (int i = 0; i < 16; i++)
        out[i] = x[i] + s[i];
}

bool hw_random(uint64_t* v) {
    for (int i = 0; i < 10; i++) {
        uint8_t ok;
        if (g_has_rdseed)
            asm volatile("rdseed %0; setc %1" : "=r"(*v), "=qm"(ok));
        else
            asm volatile("rdrand %0; setc %1" : "=r"(*v), "=qm"(ok));
        if (ok)
            return true;
    }
    return false;
}

// key := first half of ChaCha20(key ^ input), input 8 words.
void mix(const uint32_t in[8]) {
    uint32_t out[16];
    for (int i = 0; i < 8; i++)
        g_key[i] ^= in[i];
    chacha20_block(g_key, g_counter++, out);
    for (int i = 0; i < 8; i++)
        g_key[i] = out[i];
}

} // namespace

void random_init() {
    uint32_t r[4];
    cpuid(1, 0, r);
    g_has_rdrand = r[2] & (1u << 30);
    cpuid(0, 0, r);
    if (r[0] >= 7) {
        cpuid(7, 0, r);
        g_has_rdseed = r[1] & (1u << 18);
    }
    uint32_t in[8];
    // TSC jitter: timing of port I/O and a short loop, 16 rounds of 8 samples.
    for (int round = 0; round < 16; round++) {
        for (int i = 0; i < 8; i++) {
            uint64_t t0 = rdtsc();
            inb(0x80);
            for (int k = 0; k < (i + round) % 7 + 1; k++) {
                asm volatile("" ::: "memory");
            }
            uint64_t t1 = rdtsc();
            in[i] = uint32_t(t1 - t0) ^ uint32_t(t1 >> 7);
        }
        mix(in);
    }
    int64_t now = akhyp_clock_now(AKHYP_CLOCK_REALTIME);
    uint64_t hw[4] = {uint64_t(now), rdtsc(), 0, 0};
    if (g_has_rdrand || g_has_rdseed)
        for (auto& v : hw)
            hw_random(&v);
    __builtin_memcpy(in, hw, sizeof in);
    mix(in);
}

bool random_has_hw() {
    return g_has_rdrand || g_has_rdseed;
}

} // namespace akkvm

using namespace akkvm;

extern "C" int akhyp_getrandom(void* buf, size_t len) {
    auto out = static_cast<uint8_t*>(buf);
    while (len) {
        uint32_t block[16];
        {
            IrqGuard guard;
            uint64_t hw[4];
            if (g_has_rdrand || g_has_rdseed) {
                for (auto& v : hw)
                    if (!hw_random(&v))
                        v = rdtsc();
                uint32_t in[8];
                __builtin_memcpy(in, hw, sizeof in);
                mix(in);
            }
            chacha20_block(g_key, g_counter++, block);
            uint32_t zero[8] = {};
            mix(zero); // fast key erasure: this output cannot be recomputed
        }
        size_t n = len < sizeof block ? len : sizeof block;
        __builtin_memcpy(out, block, n);
        out += n;
        len -= n;
    }
    return 0;
}
