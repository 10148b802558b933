// PCI: enumeration of segment 0 over the hypercall bus group, BARs,
// capabilities and MSI-X.  Drivers (virtio-pci, ...) use it; the platform
// only provides checked configuration-space and MMIO access.
#pragma once

#include <ak/result.h>
#include <anykern/hypercall.h>

namespace ak::pci {

struct Device {
    uint32_t addr; // AKHYP_PCI_ADDR(bus, device, function)
    uint16_t vendor, device;
    uint8_t class_code, subclass;
};

uint32_t read(const Device& d, uint32_t offset, int width);
void write(const Device& d, uint32_t offset, int width, uint32_t value);

// Calls fn for every function present (scanning bus 0 and the buses behind
// bridges) until fn returns false.  Nothing happens without the bus group.
void for_each_device(bool (*fn)(const Device&, void* arg), void* arg);

// Physical address of memory BAR index (0-5; 64-bit BARs take two slots).
// ENXIO when it is an I/O BAR, unassigned or out of range.
Result<uint64_t> memory_bar(const Device& d, unsigned index);

// Offset of the first capability with this id at or after `after` (0: from
// the start); 0 when none.  The walk is bounded (a looping list ends it).
uint8_t find_capability(const Device& d, uint8_t id, uint8_t after = 0);

// Turn on memory decoding and bus mastering; turn off INTx.
void enable_device(const Device& d);

// Route MSI-X table entry `entry` to handler (run on the platform's
// interrupt thread) and enable MSI-X.  ENOTSUP without an MSI-X capability.
Result<akhyp_intr*> setup_msix(const Device& d, unsigned entry, void (*handler)(void*), void* arg);

} // namespace ak::pci
