// The bus group on the posix platform: not provided (akhyp_groups() does
// not report AKHYP_GROUP_BUS).  These stubs let the device-driver
// components link into the local library, as DESIGN.md's "build once"
// asks; drivers check akhyp_groups() and never call them here.
//
// DMA memory is real (zeroed, page-aligned host memory whose "device
// address" is its host address): there is no hardware to see it, but
// software devices can, which is how the virtqueue unit test plays the
// device side of a queue.
#include <anykern/hypercall.h>

#include <errno.h>
#include <stdlib.h>
#include <string.h>

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
int akhyp_dma_alloc(size_t len, void** vaddr, uint64_t* paddr) {
    if (len == 0)
        return EINVAL;
    size_t rounded = (len + 4095) & ~size_t(4095);
    void* p = aligned_alloc(4096, rounded);
    if (!p)
        return ENOMEM;
    memset(p, 0, rounded);
    *vaddr = p;
    *paddr = reinterpret_cast<uintptr_t>(p);
    return 0;
}
void akhyp_dma_free(void* vaddr, size_t) {
    free(vaddr);
}
int akhyp_intr_establish(int, uint32_t, int, void (*)(void*), void*, akhyp_msi*, akhyp_intr**) {
    return ENOTSUP;
}
void akhyp_intr_disestablish(akhyp_intr*) {}
int akhyp_bus_mmio_device(unsigned, uint64_t*, uint64_t*, uint32_t*) {
    return ENOENT;
}

} // extern "C"
