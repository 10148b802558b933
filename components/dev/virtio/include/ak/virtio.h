// virtio 1.x core: transports (virtio-pci modern, virtio-mmio version 2),
// feature negotiation and split virtqueues.  Device drivers (virtio-rng,
// virtio-blk, virtio-net) register with register_driver() and get attach()
// calls for matching devices; they never touch a transport's registers.
// References: virtio 1.2 (OASIS), §2 basic facilities, §4.1 PCI, §4.2 MMIO.
#pragma once

#include <ak/kmem.h>
#include <ak/result.h>
#include <ak/span.h>
#include <ak/sync.h>

namespace ak::virtio {

constexpr uint64_t k_feature_version_1 = uint64_t(1) << 32; // VIRTIO_F_VERSION_1

// Device status bits (§2.1).
constexpr uint8_t k_status_acknowledge = 1, k_status_driver = 2, k_status_driver_ok = 4,
                  k_status_features_ok = 8, k_status_failed = 128;

class Transport : public KObject {
public:
    virtual ~Transport() = default;
    virtual const char* kind() const = 0; // "pci" or "mmio"
    virtual uint32_t device_id() = 0;
    virtual uint64_t device_features() = 0;
    virtual void set_driver_features(uint64_t features) = 0;
    virtual uint8_t status() = 0;
    virtual void set_status(uint8_t status) = 0;
    // Largest size of queue index (0: no such queue).
    virtual uint16_t queue_max(unsigned index) = 0;
    virtual Result<void> queue_enable(unsigned index, uint16_t size, uint64_t desc, uint64_t avail,
                                      uint64_t used) = 0;
    virtual void notify(unsigned index) = 0;
    // Device-specific configuration; offset and width are checked against
    // the configuration window (out of range reads return 0).
    virtual uint32_t config_read(uint32_t offset, int width) = 0;
    // Route the device's interrupts to handler (platform interrupt thread).
    virtual Result<void> setup_interrupt(void (*handler)(void*), void* arg) = 0;
};

// A split virtqueue (§2.7) in one DMA allocation.  Not locked: its driver
// serialises submit/reclaim with its own mutex.
class Virtqueue {
public:
    struct Buffer {
        uint64_t paddr;
        uint32_t len;
        bool device_writes;
    };
    static Result<Virtqueue*> create(Transport& t, unsigned index, uint16_t max_size = 256);
    Virtqueue() = default; // use create()
    ~Virtqueue();

    uint16_t size() const { return m_size; }
    unsigned free_descriptors() const { return m_nfree; }
    // Queue one request (a descriptor chain) and notify the device.  Returns
    // the head index, which reclaim() reports when the device is done.
    // ENOSPC when not enough descriptors are free.
    Result<uint16_t> submit(Span<const Buffer> chain);
    // Next completed request: its head and the byte count the device wrote.
    // Returns false when none.  A completion that names a descriptor not in
    // flight, or a length beyond what the chain lets the device write, marks
    // the queue broken (EIO from then on) instead of being trusted.
    Result<bool> reclaim(uint16_t* head, uint32_t* written);
    bool broken() const { return m_broken; }

private:
    Transport* m_transport = nullptr;
    unsigned m_index = 0;
    uint16_t m_size = 0;
    uint8_t* m_mem = nullptr;
    size_t m_mem_len = 0;
    uint64_t m_paddr = 0;
    struct Desc* m_desc = nullptr;
    volatile uint16_t* m_avail = nullptr; // flags, idx, ring[size]
    volatile uint8_t* m_used = nullptr;   // flags, idx, ring[size] of {id, len}
    uint16_t* m_next = nullptr;           // free list and chains, our own copy
    uint16_t m_free_head = 0;
    unsigned m_nfree = 0;
    uint16_t m_avail_idx = 0;
    uint16_t m_last_used = 0;
    uint32_t* m_writable = nullptr; // per head: bytes the device may write; ~0u = not in flight
    uint16_t* m_chain_len = nullptr;
    bool m_broken = false;
};

// Negotiate features (§3.1.1): the driver's wanted set intersected with the
// device's, always including VERSION_1 (legacy devices are refused).
// Returns the accepted features.
Result<uint64_t> negotiate(Transport& t, uint64_t wanted);
// Set DRIVER_OK after queues are set up.
void driver_ok(Transport& t);
// Mark the device FAILED (attach gave up).
void fail(Transport& t);

struct Driver {
    const char* name;
    uint32_t device_id; // virtio device ID (§5): 1 net, 2 block, 4 entropy
    // Called once per matching device, from kernel init (Dev level).  The
    // transport lives for the life of the kernel.
    Result<void> (*attach)(Transport& t, int unit);
};
// Called from a driver component's init (level Base); up to 8 drivers.
void register_driver(const Driver* driver);

} // namespace ak::virtio
