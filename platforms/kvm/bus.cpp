// The hypercall bus group: PCI configuration space, port I/O, MMIO, DMA
// memory, interrupts and the virtio-mmio devices of the command line.
// Drivers are components built on these calls; none live here.
//
// Checks (STYLE.md, Solo5's HVT_CHECKED_GPA_P): every port range, MMIO
// range and length from a driver is validated; the platform's own devices
// (COM1, PICs, PIT, RTC, i8042, isa-debug-exit, the PCI config ports, the
// LAPIC and I/O APICs) and RAM are never handed out.
//
// Interrupts: I/O APIC routing for GSIs (from the MADT) and MSI vectors.
// Handlers run on one interrupt thread ("intr"), woken from the hard
// interrupt and put at the front of the run queue; a level-triggered pin
// stays masked until its handler returned.  See hypercall.h.
#include "platform.h"

namespace akkvm {
namespace {

constexpr int k_einval = 22, k_eperm = 1, k_enoent = 2, k_ebusy = 16, k_enospc = 28, k_enomem = 12;

// --- PCI configuration mechanism #1 ----------------------------------------
constexpr uint16_t k_pci_addr_port = 0xcf8, k_pci_data_port = 0xcfc;

bool width_ok(int width) {
    return width == 1 || width == 2 || width == 4;
}

bool pci_args_ok(uint32_t addr, uint32_t offset, int width) {
    return addr <= 0xffff && offset < 256 && width_ok(width) && (offset & uint32_t(width - 1)) == 0;
}

void pci_select(uint32_t addr, uint32_t offset) {
    outl(k_pci_addr_port, 0x80000000u | addr << 8 | (offset & 0xfc));
}

// --- ports the platform owns -------------------------------------------------
struct PortRange {
    uint16_t first, last;
};
constexpr PortRange k_platform_ports[] = {
    {0x20, 0x21},   // 8259 master
    {0x40, 0x43},   // PIT
    {0x60, 0x64},   // i8042, port B (0x61)
    {0x70, 0x71},   // CMOS/RTC
    {0xa0, 0xa1},   // 8259 slave
    {0xf4, 0xf7},   // isa-debug-exit
    {0x3f8, 0x3ff}, // COM1
    {0xcf8, 0xcff}, // PCI configuration: use akhyp_pci_config_*
};

bool port_allowed(uint16_t port, int width) {
    uint32_t last = uint32_t(port) + uint32_t(width) - 1;
    if (last > 0xffff)
        return false;
    for (auto r : k_platform_ports)
        if (port <= r.last && last >= r.first)
            return false;
    return true;
}

// --- I/O APICs --------------------------------------------------------------
struct IoApic {
    volatile uint32_t* regs;
    uint64_t paddr;
    uint32_t gsi_base, count;
};
constexpr size_t k_max_ioapics = 8;
IoApic g_ioapics[k_max_ioapics];
size_t g_nioapics;
constexpr uint64_t k_lapic_base = 0xfee00000;

uint32_t ioapic_read(IoApic& io, uint32_t reg) {
    io.regs[0] = reg;
    return io.regs[4];
}
void ioapic_write(IoApic& io, uint32_t reg, uint32_t v) {
    io.regs[0] = reg;
    io.regs[4] = v;
}

void ioapic_add(uint64_t paddr, uint32_t gsi_base) {
    if (g_nioapics == k_max_ioapics || paddr >= (uint64_t(4) << 30))
        return;
    IoApic& io = g_ioapics[g_nioapics++];
    io.regs = reinterpret_cast<volatile uint32_t*>(paddr);
    io.paddr = paddr;
    io.gsi_base = gsi_base;
    io.count = ((ioapic_read(io, 1) >> 16) & 0xff) + 1;
    for (uint32_t pin = 0; pin < io.count; pin++)
        ioapic_write(io, 0x10 + 2 * pin, 1u << 16); // masked
}

IoApic* ioapic_for(uint32_t gsi, uint32_t* pin) {
    for (size_t i = 0; i < g_nioapics; i++) {
        IoApic& io = g_ioapics[i];
        if (gsi >= io.gsi_base && gsi < io.gsi_base + io.count) {
            *pin = gsi - io.gsi_base;
            return &io;
        }
    }
    return nullptr;
}

// MADT (ACPI "APIC" table): entries of type 1 are I/O APICs.
void ioapics_from_madt() {
    const uint8_t* madt = acpi_find_table("APIC");
    if (madt) {
        uint32_t len;
        __builtin_memcpy(&len, madt + 4, 4);
        for (uint32_t off = 44; off + 2 <= len;) {
            uint8_t type = madt[off], elen = madt[off + 1];
            if (elen < 2 || off + elen > len)
                break;
            if (type == 1 && elen >= 12) {
                uint32_t addr, base;
                __builtin_memcpy(&addr, madt + off + 4, 4);
                __builtin_memcpy(&base, madt + off + 8, 4);
                ioapic_add(addr, base);
            }
            off += elen;
        }
    }
    if (g_nioapics == 0)
        ioapic_add(0xfec00000, 0); // the architectural default
}

// --- interrupt sources --------------------------------------------------------
struct Intr {
    int type;
    uint32_t gsi;
    int flags;
    unsigned vector;
    void (*handler)(void*);
    void* arg;
    bool used, pending, running;
};
constexpr size_t k_max_intrs = 64;
constexpr unsigned k_first_vector = 0x40, k_last_vector = 0xef; // 0x30-0x3f: 8259
Intr g_intrs[k_max_intrs];
Intr* g_vector_intr[256];
Event g_intr_event;
bool g_intr_thread_started;

void ioapic_route(Intr& in, bool masked) {
    uint32_t pin;
    IoApic* io = ioapic_for(in.gsi, &pin);
    if (!io)
        return;
    uint32_t low = in.vector | (in.flags & AKHYP_INTR_ACTIVE_LOW ? 1u << 13 : 0) |
                   (in.flags & AKHYP_INTR_LEVEL ? 1u << 15 : 0) | (masked ? 1u << 16 : 0);
    ioapic_write(*io, 0x11 + 2 * pin, lapic_id() << 24);
    ioapic_write(*io, 0x10 + 2 * pin, low);
}

void bus_irq(TrapFrame* f) {
    Intr* in = g_vector_intr[f->vector & 0xff];
    if (!in || !in->used)
        return;
    in->pending = true;
    if (in->type == AKHYP_INTR_GSI && (in->flags & AKHYP_INTR_LEVEL))
        ioapic_route(*in, true); // until the handler cleared the condition
    event_signal(&g_intr_event);
}

void intr_thread(void*) {
    for (;;) {
        event_wait(&g_intr_event);
        for (bool again = true; again;) {
            again = false;
            for (Intr& in : g_intrs) {
                {
                    IrqGuard guard;
                    if (!in.used || !in.pending)
                        continue;
                    in.pending = false;
                    in.running = true;
                }
                in.handler(in.arg);
                IrqGuard guard;
                in.running = false;
                if (in.used && in.type == AKHYP_INTR_GSI && (in.flags & AKHYP_INTR_LEVEL))
                    ioapic_route(in, false);
                again = true;
            }
        }
    }
}

// --- virtio-mmio devices from the command line ---------------------------------
// Linux's syntax: virtio_mmio.device=<size>[KMG]@<base>:<irq>[:<id>]
bool parse_number(const char*& p, const char* end, uint64_t* v) {
    uint64_t n = 0;
    unsigned base = 10;
    if (end - p > 2 && p[0] == '0' && (p[1] == 'x' || p[1] == 'X'))
        base = 16, p += 2;
    const char* start = p;
    for (; p < end; p++) {
        unsigned d;
        if (*p >= '0' && *p <= '9')
            d = unsigned(*p - '0');
        else if (base == 16 && *p >= 'a' && *p <= 'f')
            d = unsigned(*p - 'a' + 10);
        else if (base == 16 && *p >= 'A' && *p <= 'F')
            d = unsigned(*p - 'A' + 10);
        else
            break;
        if (n > (~uint64_t(0) - d) / base)
            return false;
        n = n * base + d;
    }
    *v = n;
    return p != start;
}

bool parse_mmio_device(const char* p, size_t len, uint64_t* base, uint64_t* size, uint32_t* gsi) {
    const char* end = p + len;
    uint64_t sz, b, irq;
    if (!parse_number(p, end, &sz))
        return false;
    if (p < end && (*p == 'K' || *p == 'k' || *p == 'M' || *p == 'm' || *p == 'G' || *p == 'g')) {
        int shift = (*p == 'K' || *p == 'k') ? 10 : (*p == 'M' || *p == 'm') ? 20 : 30;
        if (sz >> (64 - shift))
            return false;
        sz <<= shift;
        p++;
    }
    if (p == end || *p++ != '@' || !parse_number(p, end, &b) || p == end || *p++ != ':' ||
        !parse_number(p, end, &irq) || irq > 0xffff)
        return false;
    if (sz == 0 || b + sz < b)
        return false;
    *base = b, *size = sz, *gsi = uint32_t(irq);
    return true;
}

bool overlaps_platform_device(uint64_t base, uint64_t len) {
    if (base < k_lapic_base + 0x100000 && k_lapic_base < base + len)
        return true;
    for (size_t i = 0; i < g_nioapics; i++)
        if (base < g_ioapics[i].paddr + 0x1000 && g_ioapics[i].paddr < base + len)
            return true;
    return false;
}

} // namespace

void bus_init() {
    ioapics_from_madt();
    for (unsigned v = k_first_vector; v <= k_last_vector; v++)
        irq_set_handler(v, bus_irq);
}

} // namespace akkvm

using namespace akkvm;

extern "C" int akhyp_pci_config_read(uint32_t addr, uint32_t offset, int width, uint32_t* value) {
    if (!pci_args_ok(addr, offset, width) || !value)
        return k_einval;
    IrqGuard guard;
    pci_select(addr, offset);
    uint16_t port = uint16_t(k_pci_data_port + (offset & 3));
    *value = width == 1 ? inb(port) : width == 2 ? inw(port) : inl(port);
    return 0;
}

extern "C" int akhyp_pci_config_write(uint32_t addr, uint32_t offset, int width, uint32_t value) {
    if (!pci_args_ok(addr, offset, width))
        return k_einval;
    IrqGuard guard;
    pci_select(addr, offset);
    uint16_t port = uint16_t(k_pci_data_port + (offset & 3));
    if (width == 1)
        outb(port, uint8_t(value));
    else if (width == 2)
        outw(port, uint16_t(value));
    else
        outl(port, value);
    return 0;
}

extern "C" int akhyp_port_read(uint16_t port, int width, uint32_t* value) {
    if (!width_ok(width) || !value)
        return k_einval;
    if (!port_allowed(port, width))
        return k_eperm;
    *value = width == 1 ? inb(port) : width == 2 ? inw(port) : inl(port);
    return 0;
}

extern "C" int akhyp_port_write(uint16_t port, int width, uint32_t value) {
    if (!width_ok(width))
        return k_einval;
    if (!port_allowed(port, width))
        return k_eperm;
    if (width == 1)
        outb(port, uint8_t(value));
    else if (width == 2)
        outw(port, uint16_t(value));
    else
        outl(port, value);
    return 0;
}

extern "C" int akhyp_mmio_map(uint64_t paddr, size_t len, volatile void** vaddr) {
    constexpr uint64_t k_phys_limit = uint64_t(1) << 46; // what the page tables reach
    if (!vaddr || len == 0 || paddr + len < paddr || paddr + len > k_phys_limit)
        return k_einval;
    if (range_is_ram(paddr, len) || overlaps_platform_device(paddr, len))
        return k_eperm;
    if (paddr + len > (uint64_t(512) << 30))
        return k_enomem; // beyond the 512 GiB the boot PDPT covers
    map_device(paddr, paddr + len);
    *vaddr = reinterpret_cast<volatile void*>(paddr);
    return 0;
}

extern "C" int akhyp_dma_alloc(size_t len, void** vaddr, uint64_t* paddr) {
    if (len == 0 || len > (size_t(1) << 40) || !vaddr || !paddr)
        return k_einval;
    size_t pages = (len + k_page_size - 1) / k_page_size;
    void* p = page_alloc(pages);
    if (!p)
        return k_enomem;
    __builtin_memset(p, 0, pages * k_page_size);
    *vaddr = p;
    *paddr = reinterpret_cast<uint64_t>(p); // identity map
    return 0;
}

extern "C" void akhyp_dma_free(void* vaddr, size_t len) {
    if (vaddr && len)
        page_free(vaddr, (len + k_page_size - 1) / k_page_size);
}

extern "C" int akhyp_intr_establish(int type, uint32_t source, int flags, void (*handler)(void*),
                                    void* arg, akhyp_msi* msi, akhyp_intr** cookie) {
    if (!handler || !cookie || (flags & ~(AKHYP_INTR_LEVEL | AKHYP_INTR_ACTIVE_LOW)))
        return k_einval;
    if (type == AKHYP_INTR_MSI && !msi)
        return k_einval;
    uint32_t pin;
    if (type == AKHYP_INTR_GSI && !ioapic_for(source, &pin))
        return k_einval;
    if (type != AKHYP_INTR_GSI && type != AKHYP_INTR_MSI)
        return k_einval;
    if (!g_intr_thread_started) {
        if (akhyp_thread_create(intr_thread, nullptr, "intr", 0, 32 * 1024, nullptr))
            return k_enomem;
        g_intr_thread_started = true;
    }
    IrqGuard guard;
    Intr* slot = nullptr;
    for (Intr& in : g_intrs) {
        if (in.used && type == AKHYP_INTR_GSI && in.type == AKHYP_INTR_GSI && in.gsi == source)
            return k_ebusy;
        if (!in.used && !in.running && !slot)
            slot = &in;
    }
    unsigned vector = 0;
    for (unsigned v = k_first_vector; v <= k_last_vector && !vector; v++)
        if (!g_vector_intr[v])
            vector = v;
    if (!slot || !vector)
        return k_enospc;
    *slot = Intr{type,  source, type == AKHYP_INTR_MSI ? 0 : flags, vector, handler, arg, true,
                 false, false};
    g_vector_intr[vector] = slot;
    if (type == AKHYP_INTR_GSI)
        ioapic_route(*slot, false);
    else
        *msi = akhyp_msi{k_lapic_base | uint64_t(lapic_id()) << 12, vector};
    *cookie = reinterpret_cast<akhyp_intr*>(slot);
    return 0;
}

extern "C" void akhyp_intr_disestablish(akhyp_intr* cookie) {
    auto in = reinterpret_cast<Intr*>(cookie);
    if (in < g_intrs || in >= g_intrs + k_max_intrs)
        return;
    {
        IrqGuard guard;
        if (in->type == AKHYP_INTR_GSI)
            ioapic_route(*in, true);
        in->used = false;
        in->pending = false;
        g_vector_intr[in->vector] = nullptr;
    }
    for (;;) {
        {
            IrqGuard guard;
            if (!in->running)
                return;
        }
        akhyp_thread_yield();
    }
}

extern "C" int akhyp_bus_mmio_device(unsigned index, uint64_t* base, uint64_t* size,
                                     uint32_t* gsi) {
    if (!base || !size || !gsi)
        return k_einval;
    // Entries that do not parse are skipped, so indexes stay dense.
    for (unsigned i = 0, found = 0;; i++) {
        size_t len;
        const char* v = cmdline_get_nth("virtio_mmio.device", i, &len);
        if (!v)
            return k_enoent;
        uint64_t b, s;
        uint32_t g;
        if (!parse_mmio_device(v, len, &b, &s, &g)) {
            continue;
        }
        if (found++ == index) {
            *base = b, *size = s, *gsi = g;
            return 0;
        }
    }
}
