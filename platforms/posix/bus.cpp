// The bus group on the posix platform: not provided (akhyp_groups() does
// not report AKHYP_GROUP_BUS).  These stubs let the device-driver
// components link into the local library, as DESIGN.md's "build once"
// asks; drivers check akhyp_groups() and never call them here.
#include <anykern/hypercall.h>

#include <errno.h>

extern "C" {

int akhyp_pci_config_read(uint32_t, uint32_t, int, uint32_t* value) {
    if (value)
        *value = ~0u;
    return ENOTSUP;
}
int akhyp_pci_config_write(uint32_t, uint32_t, int, uint32_t) {
    return ENOTSUP;
}
int akhyp_port_read(uint16_t, int, uint32_t*) {
    return ENOTSUP;
}
int akhyp_port_write(uint16_t, int, uint32_t) {
    return ENOTSUP;
}
int akhyp_mmio_map(uint64_t, size_t, volatile void**) {
    return ENOTSUP;
}
int akhyp_dma_alloc(size_t, void**, uint64_t*) {
    return ENOTSUP;
}
void akhyp_dma_free(void*, size_t) {}
int akhyp_intr_establish(int, uint32_t, int, void (*)(void*), void*, akhyp_msi*, akhyp_intr**) {
    return ENOTSUP;
}
void akhyp_intr_disestablish(akhyp_intr*) {}
int akhyp_bus_mmio_device(unsigned, uint64_t*, uint64_t*, uint32_t*) {
    return ENOENT;
}

} // extern "C"
