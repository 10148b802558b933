// virtio transports: PCI modern (virtio 1.2 §4.1.4, capabilities) and MMIO
// version 2 (§4.2.2), and the probe that binds devices to drivers.
//
// Both map only the register windows the device describes, and every
// access into the device-specific configuration is bounds-checked.
#include <ak/component.h>
#include <ak/kmem.h>
#include <ak/log.h>
#include <ak/pci.h>
#include <ak/virtio.h>

namespace ak::virtio {
namespace {

template <typename T> T mmio_read(volatile uint8_t* base, uint32_t off) {
    return *reinterpret_cast<volatile T*>(base + off);
}
template <typename T> void mmio_write(volatile uint8_t* base, uint32_t off, T v) {
    *reinterpret_cast<volatile T*>(base + off) = v;
}

// A 64-bit register as two 32-bit halves, low first (queue addresses).
void write64(volatile uint8_t* base, uint32_t off, uint64_t v) {
    mmio_write<uint32_t>(base, off, uint32_t(v));
    mmio_write<uint32_t>(base, off + 4, uint32_t(v >> 32));
}

// Feature bits, 32 at a time through a window chosen by a select register
// (both transports work this way).
uint64_t read_features(volatile uint8_t* base, uint32_t select, uint32_t window) {
    mmio_write<uint32_t>(base, select, 0);
    uint64_t lo = mmio_read<uint32_t>(base, window);
    mmio_write<uint32_t>(base, select, 1);
    return lo | uint64_t(mmio_read<uint32_t>(base, window)) << 32;
}
void write_features(volatile uint8_t* base, uint32_t select, uint32_t window, uint64_t f) {
    mmio_write<uint32_t>(base, select, 0);
    mmio_write<uint32_t>(base, window, uint32_t(f));
    mmio_write<uint32_t>(base, select, 1);
    mmio_write<uint32_t>(base, window, uint32_t(f >> 32));
}

uint32_t window_read(volatile uint8_t* base, uint32_t len, uint32_t off, int width) {
    if (!base || (width != 1 && width != 2 && width != 4) || off > len ||
        len - off < uint32_t(width))
        return 0;
    if (width == 1)
        return mmio_read<uint8_t>(base, off);
    if (width == 2)
        return mmio_read<uint16_t>(base, off);
    return mmio_read<uint32_t>(base, off);
}

// --- PCI ------------------------------------------------------------------
constexpr uint16_t k_pci_vendor = 0x1af4;
constexpr uint8_t k_cap_vendor = 0x09;
enum : uint8_t { k_cfg_common = 1, k_cfg_notify = 2, k_cfg_isr = 3, k_cfg_device = 4 };
// Common configuration layout (§4.1.4.3).
enum : uint32_t {
    c_dfselect = 0,
    c_df = 4,
    c_gfselect = 8,
    c_gf = 12,
    c_msix_config = 16,
    c_num_queues = 18,
    c_status = 20,
    c_q_select = 22,
    c_q_size = 24,
    c_q_msix = 26,
    c_q_enable = 28,
    c_q_notify_off = 30,
    c_q_desc = 32,
    c_q_driver = 40,
    c_q_device = 48,
};
constexpr uint16_t k_no_vector = 0xffff;

class PciTransport final : public Transport {
public:
    explicit PciTransport(const pci::Device& d) : m_dev(d) {}

    Result<void> init() {
        for (uint8_t cap = pci::find_capability(m_dev, k_cap_vendor); cap;
             cap = pci::find_capability(m_dev, k_cap_vendor, cap)) {
            uint8_t type = uint8_t(pci::read(m_dev, cap + 3, 1));
            unsigned bar = pci::read(m_dev, cap + 4, 1);
            uint32_t offset = pci::read(m_dev, cap + 8, 4);
            uint32_t length = pci::read(m_dev, cap + 12, 4);
            volatile uint8_t** slot = nullptr;
            uint32_t* len_slot = nullptr;
            if (type == k_cfg_common && !m_common)
                slot = &m_common, len_slot = &m_common_len;
            else if (type == k_cfg_notify && !m_notify)
                slot = &m_notify, len_slot = &m_notify_len,
                m_notify_mult = pci::read(m_dev, cap + 16, 4);
            else if (type == k_cfg_device && !m_device)
                slot = &m_device, len_slot = &m_device_len;
            if (!slot || length == 0)
                continue;
            auto base = pci::memory_bar(m_dev, bar);
            if (base.is_error())
                continue;
            volatile void* mapped;
            if (akhyp_mmio_map(base.value() + offset, length, &mapped) != 0)
                continue;
            *slot = static_cast<volatile uint8_t*>(mapped);
            *len_slot = length;
        }
        if (!m_common || m_common_len < 56 || !m_notify)
            return ENODEV; // not a modern device (legacy virtio-pci is not supported)
        pci::enable_device(m_dev);
        return {};
    }

    const char* kind() const override { return "pci"; }
    uint32_t device_id() override {
        if (m_dev.device >= 0x1040)
            return m_dev.device - 0x1040u;
        return pci::read(m_dev, 0x2e, 2); // transitional: the subsystem ID
    }
    uint64_t device_features() override { return read_features(m_common, c_dfselect, c_df); }
    void set_driver_features(uint64_t f) override { write_features(m_common, c_gfselect, c_gf, f); }
    uint8_t status() override { return mmio_read<uint8_t>(m_common, c_status); }
    void set_status(uint8_t s) override { mmio_write<uint8_t>(m_common, c_status, s); }
    uint16_t queue_max(unsigned index) override {
        if (index >= mmio_read<uint16_t>(m_common, c_num_queues))
            return 0;
        mmio_write<uint16_t>(m_common, c_q_select, uint16_t(index));
        return mmio_read<uint16_t>(m_common, c_q_size);
    }
    Result<void> queue_enable(unsigned index, uint16_t size, uint64_t desc, uint64_t avail,
                              uint64_t used) override {
        if (index >= k_max_queues || queue_max(index) == 0)
            return EINVAL;
        mmio_write<uint16_t>(m_common, c_q_select, uint16_t(index));
        mmio_write<uint16_t>(m_common, c_q_size, size);
        write64(m_common, c_q_desc, desc);
        write64(m_common, c_q_driver, avail);
        write64(m_common, c_q_device, used);
        if (m_msix) {
            mmio_write<uint16_t>(m_common, c_q_msix, 0);
            if (mmio_read<uint16_t>(m_common, c_q_msix) == k_no_vector)
                return EIO;
        }
        uint64_t notify = uint64_t(mmio_read<uint16_t>(m_common, c_q_notify_off)) * m_notify_mult;
        if (notify + 2 > m_notify_len)
            return EIO; // outside the notification window the device described
        m_queue_notify[index] = uint32_t(notify);
        mmio_write<uint16_t>(m_common, c_q_enable, 1);
        return {};
    }
    void notify(unsigned index) override {
        if (index < k_max_queues)
            mmio_write<uint16_t>(m_notify, m_queue_notify[index], uint16_t(index));
    }
    uint32_t config_read(uint32_t off, int width) override {
        return window_read(m_device, m_device_len, off, width);
    }
    Result<void> setup_interrupt(void (*handler)(void*), void* arg) override {
        TRY(pci::setup_msix(m_dev, 0, handler, arg));
        m_msix = true;
        mmio_write<uint16_t>(m_common, c_msix_config, k_no_vector);
        return {};
    }

private:
    static constexpr unsigned k_max_queues = 8;
    pci::Device m_dev;
    volatile uint8_t* m_common = nullptr;
    volatile uint8_t* m_notify = nullptr;
    volatile uint8_t* m_device = nullptr;
    uint32_t m_common_len = 0, m_notify_len = 0, m_device_len = 0, m_notify_mult = 0;
    uint32_t m_queue_notify[k_max_queues] = {};
    bool m_msix = false;
};

// --- MMIO -------------------------------------------------------------------
enum : uint32_t {
    m_magic = 0x000,
    m_version = 0x004,
    m_device_id = 0x008,
    m_dfeatures = 0x010,
    m_dfeatures_sel = 0x014,
    m_gfeatures = 0x020,
    m_gfeatures_sel = 0x024,
    m_q_sel = 0x030,
    m_q_num_max = 0x034,
    m_q_num = 0x038,
    m_q_ready = 0x044,
    m_q_notify = 0x050,
    m_int_status = 0x060,
    m_int_ack = 0x064,
    m_status = 0x070,
    m_q_desc = 0x080,
    m_q_driver = 0x090,
    m_q_device = 0x0a0,
    m_config = 0x100,
};
constexpr uint32_t k_mmio_magic = 0x74726976; // "virt"

class MmioTransport final : public Transport {
public:
    MmioTransport(volatile uint8_t* regs, uint32_t len, uint32_t gsi)
        : m_regs(regs), m_len(len), m_gsi(gsi) {}

    const char* kind() const override { return "mmio"; }
    uint32_t device_id() override { return mmio_read<uint32_t>(m_regs, m_device_id); }
    uint64_t device_features() override {
        return read_features(m_regs, m_dfeatures_sel, m_dfeatures);
    }
    void set_driver_features(uint64_t f) override {
        write_features(m_regs, m_gfeatures_sel, m_gfeatures, f);
    }
    uint8_t status() override { return uint8_t(mmio_read<uint32_t>(m_regs, m_status)); }
    void set_status(uint8_t s) override { mmio_write<uint32_t>(m_regs, m_status, s); }
    uint16_t queue_max(unsigned index) override {
        mmio_write<uint32_t>(m_regs, m_q_sel, index);
        uint32_t n = mmio_read<uint32_t>(m_regs, m_q_num_max);
        return n > 0x8000 ? 0x8000 : uint16_t(n);
    }
    Result<void> queue_enable(unsigned index, uint16_t size, uint64_t desc, uint64_t avail,
                              uint64_t used) override {
        mmio_write<uint32_t>(m_regs, m_q_sel, index);
        if (mmio_read<uint32_t>(m_regs, m_q_ready) != 0 || size > queue_max(index))
            return EBUSY;
        mmio_write<uint32_t>(m_regs, m_q_num, size);
        write64(m_regs, m_q_desc, desc);
        write64(m_regs, m_q_driver, avail);
        write64(m_regs, m_q_device, used);
        mmio_write<uint32_t>(m_regs, m_q_ready, 1);
        return {};
    }
    void notify(unsigned index) override { mmio_write<uint32_t>(m_regs, m_q_notify, index); }
    uint32_t config_read(uint32_t off, int width) override {
        if (off > m_len - m_config)
            return 0;
        return window_read(m_regs + m_config, m_len - m_config, off, width);
    }
    Result<void> setup_interrupt(void (*handler)(void*), void* arg) override {
        m_handler = handler;
        m_arg = arg;
        // Level triggered, active high: how QEMU drives (and microvm's DSDT
        // describes) virtio-mmio lines.
        if (int e = akhyp_intr_establish(AKHYP_INTR_GSI, m_gsi, AKHYP_INTR_LEVEL, &interrupt, this,
                                         nullptr, &m_cookie))
            return Error{e};
        return {};
    }

private:
    static void interrupt(void* arg) {
        auto self = static_cast<MmioTransport*>(arg);
        uint32_t s = mmio_read<uint32_t>(self->m_regs, m_int_status);
        mmio_write<uint32_t>(self->m_regs, m_int_ack,
                             s); // clears the level before the pin is unmasked
        self->m_handler(self->m_arg);
    }
    volatile uint8_t* m_regs;
    uint32_t m_len, m_gsi;
    void (*m_handler)(void*) = nullptr;
    void* m_arg = nullptr;
    akhyp_intr* m_cookie = nullptr;
};

// --- driver registry and probe -------------------------------------------------
constexpr size_t k_max_drivers = 8;
const Driver* g_drivers[k_max_drivers];
int g_units[k_max_drivers];
size_t g_ndrivers;

void bind(Transport* t) {
    uint32_t id = t->device_id();
    for (size_t i = 0; i < g_ndrivers; i++) {
        if (g_drivers[i]->device_id != id)
            continue;
        int unit = g_units[i]++;
        Result<void> r = g_drivers[i]->attach(*t, unit);
        if (r.is_error()) {
            AK_LOG_WARN("virtio: %s%d (%s) failed to attach: errno %d", g_drivers[i]->name, unit,
                        t->kind(), r.error());
            fail(*t);
        }
        return; // the transport now belongs to the driver (or stays idle)
    }
    AK_LOG_DEBUG("virtio: no driver for device type %u (%s)", id, t->kind());
}

bool probe_pci(const pci::Device& d, void*) {
    if (d.vendor != k_pci_vendor || d.device < 0x1000 || d.device > 0x107f)
        return true;
    auto t = make<PciTransport>(d);
    if (!t)
        return false;
    if (t->init().is_error()) {
        AK_LOG_WARN("virtio: PCI %02x:%02x.%x is not a modern virtio device, skipped", d.addr >> 8,
                    (d.addr >> 3) & 31, d.addr & 7);
        destroy(t);
        return true;
    }
    bind(t);
    return true;
}

void probe_mmio() {
    for (unsigned i = 0;; i++) {
        uint64_t base, size;
        uint32_t gsi;
        if (akhyp_bus_mmio_device(i, &base, &size, &gsi) != 0)
            break;
        volatile void* regs;
        if (size < m_config || size > 0x10000 || akhyp_mmio_map(base, size, &regs) != 0) {
            AK_LOG_WARN("virtio: mmio device at 0x%llx size %llu unusable",
                        (unsigned long long)base, (unsigned long long)size);
            continue;
        }
        auto r = static_cast<volatile uint8_t*>(regs);
        if (mmio_read<uint32_t>(r, m_magic) != k_mmio_magic)
            continue;
        uint32_t version = mmio_read<uint32_t>(r, m_version);
        if (mmio_read<uint32_t>(r, m_device_id) == 0)
            continue; // an empty transport slot
        if (version != 2) {
            AK_LOG_WARN("virtio: legacy virtio-mmio device at 0x%llx skipped "
                        "(QEMU: -global virtio-mmio.force-legacy=false)",
                        (unsigned long long)base);
            continue;
        }
        auto t = make<MmioTransport>(r, uint32_t(size), gsi);
        if (!t)
            return;
        bind(t);
    }
}

Result<void> virtio_init() {
    if (!(akhyp_groups() & AKHYP_GROUP_BUS))
        return {};
    pci::for_each_device(probe_pci, nullptr);
    probe_mmio();
    return {};
}

} // namespace

void register_driver(const Driver* driver) {
    if (g_ndrivers < k_max_drivers)
        g_drivers[g_ndrivers++] = driver;
}

} // namespace ak::virtio

AK_COMPONENT(virtio, ak::InitLevel::Dev, ak::virtio::virtio_init);
