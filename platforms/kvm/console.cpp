// Console (16550 UART on COM1), formatted output, panic and machine exit.
#include <stdarg.h>

#include "platform.h"

namespace akkvm {
namespace {

constexpr uint16_t k_com1 = 0x3f8;
constexpr uint16_t k_uart_lsr = 5;
constexpr uint8_t k_lsr_thr_empty = 0x20;

// QEMU's isa-debug-exit, when the VMM adds
// "-device isa-debug-exit,iobase=0xf4,iosize=0x04": QEMU exits with
// (value << 1) | 1.  Without the device the write is ignored.
constexpr uint16_t k_debug_exit_port = 0xf4;

void uart_putc(char c) {
    // Bounded wait: a missing UART reads 0xff (THR empty), so this never hangs.
    for (int i = 0; i < 100000 && !(inb(k_com1 + k_uart_lsr) & k_lsr_thr_empty); i++)
        pause();
    outb(k_com1, uint8_t(c));
}

// ACPI poweroff state discovered from the FADT (acpi_init).
uint16_t g_pm1a_cnt, g_pm1b_cnt;
uint64_t g_sleep_ctl;   // hardware-reduced ACPI (microvm): sleep control register
bool g_sleep_ctl_is_io; // GAS address space 1 (I/O) rather than 0 (memory)
uint8_t g_s5_type;

struct Buffer {
    char* p;
    size_t len, cap;
    void put(char c) {
        if (len < cap)
            p[len] = c;
        len++;
    }
};

void format_number(Buffer& b, uint64_t v, unsigned base, bool negative, int width, char pad) {
    char tmp[24];
    int n = 0;
    do {
        tmp[n++] = "0123456789abcdef"[v % base];
        v /= base;
    } while (v);
    if (negative)
        tmp[n++] = '-';
    for (int i = n; i < width; i++)
        b.put(pad);
    while (n)
        b.put(tmp[--n]);
}

// The printf subset the platform needs: %s %c %d %i %u %x %p with optional
// '0', width and 'l'/'ll'/'z' modifiers.
void format(Buffer& b, const char* fmt, va_list ap) {
    for (; *fmt; fmt++) {
        if (*fmt != '%') {
            b.put(*fmt);
            continue;
        }
        fmt++;
        char pad = ' ';
        int width = 0, longs = 0;
        if (*fmt == '0')
            pad = '0', fmt++;
        while (*fmt >= '0' && *fmt <= '9')
            width = width * 10 + (*fmt++ - '0');
        while (*fmt == 'l' || *fmt == 'z')
            longs++, fmt++;
        switch (*fmt) {
        case 's': {
            const char* s = va_arg(ap, const char*);
            if (!s)
                s = "(null)";
            int n = 0;
            for (; *s; s++, n++)
                b.put(*s);
            for (; n < width; n++)
                b.put(' ');
            break;
        }
        case 'c':
            b.put(char(va_arg(ap, int)));
            break;
        case 'd':
        case 'i': {
            int64_t v = longs ? va_arg(ap, int64_t) : va_arg(ap, int);
            format_number(b, v < 0 ? uint64_t(-v) : uint64_t(v), 10, v < 0, width, pad);
            break;
        }
        case 'u':
        case 'x': {
            uint64_t v = longs ? va_arg(ap, uint64_t) : va_arg(ap, unsigned);
            format_number(b, v, *fmt == 'x' ? 16 : 10, false, width, pad);
            break;
        }
        case 'p':
            b.put('0'), b.put('x');
            format_number(b, uint64_t(va_arg(ap, void*)), 16, false, 16, '0');
            break;
        case '%':
            b.put('%');
            break;
        default:
            b.put('%');
            if (*fmt)
                b.put(*fmt);
            else
                return;
        }
    }
}

const uint8_t* find_table(uint64_t rsdp, const char* sig) {
    auto p = reinterpret_cast<const uint8_t*>(rsdp);
    if (!p || __builtin_memcmp(p, "RSD PTR ", 8) != 0)
        return nullptr;
    bool xsdt = p[15] >= 2 && *reinterpret_cast<const uint64_t*>(p + 24);
    auto root = reinterpret_cast<const uint8_t*>(xsdt ? *reinterpret_cast<const uint64_t*>(p + 24)
                                                      : *reinterpret_cast<const uint32_t*>(p + 16));
    uint32_t len = *reinterpret_cast<const uint32_t*>(root + 4);
    size_t entry = xsdt ? 8 : 4;
    for (uint32_t off = 36; off + entry <= len; off += entry) {
        uint64_t addr = xsdt ? *reinterpret_cast<const uint64_t*>(root + off)
                             : *reinterpret_cast<const uint32_t*>(root + off);
        auto t = reinterpret_cast<const uint8_t*>(addr);
        if (t && addr < (uint64_t(4) << 30) && __builtin_memcmp(t, sig, 4) == 0)
            return t;
    }
    return nullptr;
}

// SLP_TYPa for S5 from the DSDT's "Name (_S5, Package () { a, b, ... })".
// Only the encodings firmware actually emits are understood; anything else
// keeps the default 0 (QEMU's value).
uint8_t find_s5_type(const uint8_t* dsdt) {
    if (!dsdt)
        return 0;
    uint32_t len = *reinterpret_cast<const uint32_t*>(dsdt + 4);
    for (uint32_t i = 36; i + 10 < len; i++) {
        if (__builtin_memcmp(dsdt + i, "_S5_", 4) != 0 || dsdt[i + 4] != 0x12)
            continue;
        const uint8_t* q = dsdt + i + 5;
        q += 1 + (q[0] >> 6); // PkgLength
        q++;                  // NumElements
        if (*q == 0x0a)       // BytePrefix
            return q[1];
        return *q == 0x01 ? 1 : 0; // OneOp / ZeroOp
    }
    return 0;
}

void acpi_poweroff() {
    if (g_sleep_ctl) {
        uint8_t v = uint8_t((g_s5_type & 7) << 2 | 1 << 5); // SLP_TYP | SLP_EN
        if (g_sleep_ctl_is_io)
            outb(uint16_t(g_sleep_ctl), v);
        else
            *reinterpret_cast<volatile uint8_t*>(g_sleep_ctl) = v;
    }
    if (g_pm1a_cnt) {
        outw(g_pm1a_cnt, uint16_t(g_s5_type << 10 | 1 << 13));
        if (g_pm1b_cnt)
            outw(g_pm1b_cnt, uint16_t(g_s5_type << 10 | 1 << 13));
    }
}

} // namespace

void console_init() {
    outb(k_com1 + 1, 0x00); // no UART interrupts: output is polled
    outb(k_com1 + 3, 0x80); // DLAB
    outb(k_com1 + 0, 0x01); // 115200 baud
    outb(k_com1 + 1, 0x00);
    outb(k_com1 + 3, 0x03); // 8N1
    outb(k_com1 + 2, 0x07); // FIFO on, cleared
    outb(k_com1 + 4, 0x03); // DTR | RTS
}

void console_write(const char* s, size_t len) {
    IrqGuard guard; // whole writes never interleave
    for (size_t i = 0; i < len; i++) {
        if (s[i] == '\n')
            uart_putc('\r');
        uart_putc(s[i]);
    }
}

void kprintf(const char* fmt, ...) {
    char buf[256];
    Buffer b{buf, 0, sizeof buf};
    va_list ap;
    va_start(ap, fmt);
    format(b, fmt, ap);
    va_end(ap);
    console_write(buf, b.len < b.cap ? b.len : b.cap);
}

void panic(const char* fmt, ...) {
    asm volatile("cli");
    char buf[256];
    Buffer b{buf, 0, sizeof buf};
    va_list ap;
    va_start(ap, fmt);
    format(b, fmt, ap);
    va_end(ap);
    console_write("ak-kvm: panic: ", 15);
    console_write(buf, b.len < b.cap ? b.len : b.cap);
    console_write("\n", 1);
    uint64_t rbp;
    asm volatile("mov %%rbp, %0" : "=r"(rbp));
    print_backtrace(rbp);
    machine_exit(AKHYP_EXIT_PANIC);
}

uint64_t g_rsdp;

const uint8_t* acpi_find_table(const char* sig) {
    return find_table(g_rsdp, sig);
}

void acpi_init(uint64_t rsdp) {
    if (!rsdp) {
        // Legacy BIOS area search (pc/q35 without an rsdp in start_info).
        for (uint64_t a = 0xe0000; a < 0x100000; a += 16)
            if (__builtin_memcmp(reinterpret_cast<const void*>(a), "RSD PTR ", 8) == 0) {
                rsdp = a;
                break;
            }
    }
    g_rsdp = rsdp;
    const uint8_t* fadt = find_table(rsdp, "FACP");
    if (!fadt)
        return;
    uint32_t len = *reinterpret_cast<const uint32_t*>(fadt + 4);
    g_pm1a_cnt = uint16_t(*reinterpret_cast<const uint32_t*>(fadt + 64));
    g_pm1b_cnt = uint16_t(*reinterpret_cast<const uint32_t*>(fadt + 68));
    uint64_t dsdt = *reinterpret_cast<const uint32_t*>(fadt + 40);
    if (len >= 148 && *reinterpret_cast<const uint64_t*>(fadt + 140))
        dsdt = *reinterpret_cast<const uint64_t*>(fadt + 140);
    if (len >= 256) { // ACPI 5 SLEEP_CONTROL_REG (generic address structure)
        g_sleep_ctl_is_io = fadt[244] == 1;
        g_sleep_ctl = *reinterpret_cast<const uint64_t*>(fadt + 248);
    }
    g_s5_type =
        find_s5_type(dsdt < (uint64_t(4) << 30) ? reinterpret_cast<const uint8_t*>(dsdt) : nullptr);
}

// Exit order: isa-debug-exit (carries the status), ACPI S5, the i8042
// reset line, then a triple fault (QEMU with -no-reboot exits on a reset).  See docs/kvm.md for
// how ak-run maps QEMU's exit code back to the status.
void machine_exit(int status) {
    asm volatile("cli");
    unsigned code = status < 0 ? 127 : status > 126 ? 126 : unsigned(status);
    if (status != 0)
        kprintf("ak-kvm: exit status %d\n", status);
    outl(k_debug_exit_port, code);
    acpi_poweroff();
    outb(0x64, 0xfe); // i8042 reset: how Firecracker-style VMMs stop a guest
    struct [[gnu::packed]] {
        uint16_t limit;
        uint64_t base;
    } null_idt{0, 0};
    asm volatile("lidt %0; int3" ::"m"(null_idt));
    for (;;)
        asm volatile("cli; hlt");
}

} // namespace akkvm

using namespace akkvm;

extern "C" void akhyp_console_write(const char* buf, size_t len) {
    console_write(buf, len);
}

extern "C" void akhyp_exit(int status) {
    report_uptime();
    machine_exit(status);
}
