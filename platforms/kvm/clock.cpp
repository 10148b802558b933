// Clocks and the timer.
//
// Monotonic time is the TSC scaled to ns.  Its rate is measured once at boot
// against the PIT (channel 0, polled, 5 ms; works under TCG and KVM on
// pc/q35/microvm), or against the CMOS RTC's once-a-second update when
// there is no PIT.  Realtime = monotonic + the RTC's wall time read at boot.
// The LAPIC timer, calibrated in the same PIT window, runs in one-shot mode
// and is programmed for the next event the scheduler needs (tickless).
#include "platform.h"

namespace akkvm {
namespace {

uint64_t g_tsc0, g_tsc_hz;
uint64_t g_tsc_mult;  // ns = (tsc delta * g_tsc_mult) >> 32
uint64_t g_apic_mult; // lapic counts = (ns * g_apic_mult) >> 32
int64_t g_realtime_offset;
volatile uint32_t* g_lapic;

constexpr uint32_t k_lapic_eoi = 0xb0, k_lapic_svr = 0xf0, k_lapic_lvt_timer = 0x320;
constexpr uint32_t k_lapic_initial = 0x380, k_lapic_current = 0x390, k_lapic_divide = 0x3e0;
constexpr uint32_t k_lvt_masked = 1u << 16;

uint32_t lapic_read(uint32_t reg) {
    return g_lapic[reg / 4];
}
void lapic_write(uint32_t reg, uint32_t v) {
    g_lapic[reg / 4] = v;
}

uint8_t cmos_read(uint8_t reg) {
    outb(0x70, reg);
    return inb(0x71);
}

bool rtc_updating() {
    return cmos_read(0x0a) & 0x80;
}

// Seconds since 1970 from the CMOS RTC (QEMU keeps it in UTC by default).
int64_t rtc_read_epoch() {
    uint8_t r[7], again[7];
    const uint8_t regs[7] = {0x00, 0x02, 0x04, 0x07, 0x08, 0x09, 0x32};
    for (int tries = 0; tries < 10; tries++) {
        for (int i = 0; i < 1000000 && rtc_updating(); i++)
            pause();
        for (int i = 0; i < 7; i++)
            r[i] = cmos_read(regs[i]);
        for (int i = 0; i < 7; i++)
            again[i] = cmos_read(regs[i]);
        if (__builtin_memcmp(r, again, 7) == 0)
            break;
    }
    uint8_t status_b = cmos_read(0x0b);
    bool pm = !(status_b & 0x02) && (r[2] & 0x80);
    r[2] &= 0x7f;
    if (!(status_b & 0x04)) // BCD
        for (auto& v : r)
            v = uint8_t((v & 0x0f) + (v >> 4) * 10);
    int64_t sec = r[0], min = r[1], hour = r[2], day = r[3], mon = r[4];
    int64_t year = r[5] + (r[6] >= 19 && r[6] <= 30 ? r[6] * 100 : 2000);
    if (!(status_b & 0x02))
        hour = (hour % 12) + (pm ? 12 : 0);
    if (mon < 1 || mon > 12 || day < 1 || day > 31)
        return 0;
    // Days from civil (proleptic Gregorian), March-based year.
    int64_t y = year - (mon <= 2);
    int64_t era = (y >= 0 ? y : y - 399) / 400;
    int64_t yoe = y - era * 400;
    int64_t doy = (153 * (mon + (mon > 2 ? -3 : 9)) + 2) / 5 + day - 1;
    int64_t doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    int64_t days = era * 146097 + doe - 719468;
    return days * 86400 + hour * 3600 + min * 60 + sec;
}

uint16_t pit_read() {
    outb(0x43, 0x00); // latch channel 0
    uint8_t lo = inb(0x40);
    return uint16_t(lo | inb(0x40) << 8);
}

// Returns TSC ticks per second; also sets g_apic_mult.  Channel 0 of the
// PIT is used (polled, counting down in mode 0) because channel 2's gate
// and output live in port 0x61, which microvm does not have.  Its
// interrupt is masked at the PIC and the IOAPIC.
uint64_t calibrate() {
    constexpr uint32_t k_pit_hz = 1193182, k_pit_ticks = k_pit_hz / 200; // 5 ms
    lapic_write(k_lapic_divide, 0x0b);                                   // divide by 1
    lapic_write(k_lapic_lvt_timer, k_lvt_masked | k_timer_vector);

    outb(0x43, 0x30); // channel 0, lo/hi, mode 0 (one shot), binary
    outb(0x40, 0xff);
    outb(0x40, 0xff);
    uint16_t start = pit_read();
    int spins = 0;
    while (pit_read() == start && spins < 10000)
        spins++;
    uint64_t t0 = 0, t1 = 0, window_ns = 0;
    uint32_t apic_counts = 0;
    if (spins < 10000) {
        start = pit_read();
        lapic_write(k_lapic_initial, 0xffffffff);
        t0 = rdtsc();
        uint16_t now;
        do
            now = pit_read();
        while (uint16_t(start - now) < k_pit_ticks);
        t1 = rdtsc();
        apic_counts = 0xffffffff - lapic_read(k_lapic_current);
        window_ns = uint64_t(uint16_t(start - now)) * 1000000000 / k_pit_hz;
    } else {
        // No PIT (microvm,pit=off): measure one RTC second.
        kprintf("ak-kvm: no PIT, calibrating the TSC against the RTC (1 s)\n");
        while (!rtc_updating())
            pause();
        while (rtc_updating())
            pause();
        lapic_write(k_lapic_initial, 0xffffffff);
        t0 = rdtsc();
        while (!rtc_updating())
            pause();
        while (rtc_updating())
            pause();
        t1 = rdtsc();
        apic_counts = 0xffffffff - lapic_read(k_lapic_current);
        window_ns = 1000000000;
    }
    lapic_write(k_lapic_initial, 0);
    uint64_t apic_hz = uint64_t(apic_counts) * 1000000000 / window_ns;
    g_apic_mult = uint64_t(((unsigned __int128)apic_hz << 32) / 1000000000);
    return uint64_t((unsigned __int128)(t1 - t0) * 1000000000 / window_ns);
}

} // namespace

void clock_init() {
    uint64_t apic_base = rdmsr(0x1b);
    wrmsr(0x1b, apic_base | (1 << 11)); // xAPIC enable
    g_lapic = reinterpret_cast<volatile uint32_t*>(apic_base & ~uint64_t(0xfff));
    lapic_write(k_lapic_svr, 0x100 | k_spurious_vector);

    g_tsc_hz = calibrate();
    g_tsc_mult = uint64_t(((unsigned __int128)1000000000 << 32) / g_tsc_hz);
    g_tsc0 = rdtsc();
    int64_t epoch = rtc_read_epoch();
    g_realtime_offset = epoch * 1000000000 - monotonic_ns();
}

int64_t monotonic_ns() {
    return int64_t(((unsigned __int128)(rdtsc() - g_tsc0) * g_tsc_mult) >> 32);
}

uint64_t tsc_hz() {
    return g_tsc_hz;
}

void timer_arm(int64_t deadline_ns) {
    if (deadline_ns <= 0 || deadline_ns == INT64_MAX) {
        lapic_write(k_lapic_initial, 0);
        return;
    }
    int64_t delta = deadline_ns - monotonic_ns();
    uint64_t count = delta <= 0 ? 1 : uint64_t(((unsigned __int128)delta * g_apic_mult) >> 32);
    if (count == 0)
        count = 1;
    if (count > 0xffffffff)
        count = 0xffffffff; // fires early; the scheduler re-arms
    lapic_write(k_lapic_lvt_timer, k_timer_vector);
    lapic_write(k_lapic_initial, uint32_t(count));
}

uint32_t lapic_id() {
    return lapic_read(0x20) >> 24;
}

void lapic_eoi() {
    lapic_write(k_lapic_eoi, 0);
}

} // namespace akkvm

using namespace akkvm;

extern "C" int64_t akhyp_clock_now(int clock) {
    int64_t now = monotonic_ns();
    return clock == AKHYP_CLOCK_REALTIME ? now + g_realtime_offset : now;
}
