// PCI enumeration and MSI-X (ak/pci.h).  PCI Local Bus 3.0 §6 (configuration
// header, capabilities list), §6.8.2 (MSI-X).
#include <ak/log.h>
#include <ak/pci.h>

namespace ak::pci {
namespace {

constexpr uint32_t k_vendor = 0x00, k_command = 0x04, k_status = 0x06, k_class = 0x08,
                   k_header_type = 0x0e, k_bar0 = 0x10, k_cap_ptr = 0x34, k_secondary_bus = 0x19;
constexpr uint16_t k_status_cap_list = 1 << 4;
constexpr uint16_t k_cmd_memory = 1 << 1, k_cmd_master = 1 << 2, k_cmd_intx_off = 1 << 10;
constexpr uint8_t k_cap_msix = 0x11;

bool have_bus() {
    return akhyp_groups() & AKHYP_GROUP_BUS;
}

bool scan_bus(unsigned bus, bool (*fn)(const Device&, void*), void* arg, int depth) {
    if (depth > 8)
        return true;
    for (unsigned dev = 0; dev < 32; dev++) {
        for (unsigned fn_no = 0; fn_no < 8; fn_no++) {
            Device d{AKHYP_PCI_ADDR(bus, dev, fn_no), 0, 0, 0, 0};
            uint32_t id = read(d, k_vendor, 4);
            if ((id & 0xffff) == 0xffff) {
                if (fn_no == 0)
                    break;
                continue;
            }
            d.vendor = uint16_t(id);
            d.device = uint16_t(id >> 16);
            uint32_t cls = read(d, k_class, 4);
            d.class_code = uint8_t(cls >> 24);
            d.subclass = uint8_t(cls >> 16);
            uint8_t header = uint8_t(read(d, k_header_type, 1));
            if (!fn(d, arg))
                return false;
            if ((header & 0x7f) == 1) { // PCI-to-PCI bridge
                unsigned secondary = read(d, k_secondary_bus, 1);
                if (secondary > bus && !scan_bus(secondary, fn, arg, depth + 1))
                    return false;
            }
            if (fn_no == 0 && !(header & 0x80))
                break; // single-function device
        }
    }
    return true;
}

} // namespace

uint32_t read(const Device& d, uint32_t offset, int width) {
    uint32_t v = ~0u;
    if (akhyp_pci_config_read(d.addr, offset, width, &v) != 0)
        return ~0u;
    return v;
}

void write(const Device& d, uint32_t offset, int width, uint32_t value) {
    (void)akhyp_pci_config_write(d.addr, offset, width, value);
}

void for_each_device(bool (*fn)(const Device&, void*), void* arg) {
    if (have_bus())
        scan_bus(0, fn, arg, 0);
}

Result<uint64_t> memory_bar(const Device& d, unsigned index) {
    if (index > 5)
        return ENXIO;
    uint32_t lo = read(d, k_bar0 + 4 * index, 4);
    if (lo & 1)
        return ENXIO; // I/O space
    uint64_t base = lo & ~uint32_t(0xf);
    if (((lo >> 1) & 3) == 2) {
        if (index == 5)
            return ENXIO;
        base |= uint64_t(read(d, k_bar0 + 4 * (index + 1), 4)) << 32;
    }
    if (base == 0)
        return ENXIO; // not assigned by firmware
    return base;
}

uint8_t find_capability(const Device& d, uint8_t id, uint8_t after) {
    if (!(read(d, k_status, 2) & k_status_cap_list))
        return 0;
    uint8_t off = after ? uint8_t(read(d, after + 1, 1)) : uint8_t(read(d, k_cap_ptr, 1));
    for (int guard = 0; guard < 48 && off >= 0x40; guard++) {
        off &= 0xfc;
        if (read(d, off, 1) == id)
            return off;
        off = uint8_t(read(d, off + 1, 1));
    }
    return 0;
}

void enable_device(const Device& d) {
    uint32_t cmd = read(d, k_command, 2);
    write(d, k_command, 2, cmd | k_cmd_memory | k_cmd_master | k_cmd_intx_off);
}

Result<akhyp_intr*> setup_msix(const Device& d, unsigned entry, void (*handler)(void*), void* arg) {
    uint8_t cap = find_capability(d, k_cap_msix);
    if (!cap)
        return ENOTSUP;
    uint32_t control = read(d, cap + 2, 2);
    unsigned table_size = (control & 0x7ff) + 1;
    if (entry >= table_size)
        return EINVAL;
    uint32_t table = read(d, cap + 4, 4);
    uint64_t bar = TRY(memory_bar(d, table & 7));
    uint64_t table_addr = bar + (table & ~uint32_t(7));
    volatile void* mapped;
    if (int e = akhyp_mmio_map(table_addr, table_size * 16, &mapped))
        return Error{e};
    akhyp_msi msi{};
    akhyp_intr* cookie = nullptr;
    if (int e = akhyp_intr_establish(AKHYP_INTR_MSI, 0, 0, handler, arg, &msi, &cookie))
        return Error{e};
    auto slot = static_cast<volatile uint32_t*>(mapped) + entry * 4;
    slot[0] = uint32_t(msi.address);
    slot[1] = uint32_t(msi.address >> 32);
    slot[2] = msi.data;
    slot[3] = 0;                                         // unmasked
    write(d, cap + 2, 2, (control | 0x8000) & ~0x4000u); // enable, no function mask
    return cookie;
}

} // namespace ak::pci
