// Split virtqueues (virtio 1.2 §2.7) and feature negotiation (§3.1.1).
//
// The device shares the descriptor table and rings with us, so nothing it
// can write is trusted: chains are tracked in private arrays (m_next,
// m_chain_len, m_writable) and every used-ring entry is checked against
// them before a request is completed.
#include <ak/kmem.h>
#include <ak/log.h>
#include <ak/virtio.h>
#include <anykern/hypercall.h>

namespace ak::virtio {

struct Desc {
    uint64_t addr;
    uint32_t len;
    uint16_t flags;
    uint16_t next;
};
static_assert(sizeof(Desc) == 16);

namespace {

constexpr uint16_t k_desc_next = 1, k_desc_write = 2;
constexpr uint32_t k_not_in_flight = ~0u;
constexpr size_t k_page = 4096;

size_t align_page(size_t n) {
    return (n + k_page - 1) & ~(k_page - 1);
}

} // namespace

Result<Virtqueue*> Virtqueue::create(Transport& t, unsigned index, uint16_t max_size) {
    uint16_t size = t.queue_max(index);
    if (size == 0)
        return ENOENT;
    if (size > max_size)
        size = max_size;
    // Split queue sizes are powers of two (§2.7); round a device's odd maximum down.
    while (size & (size - 1))
        size &= uint16_t(size - 1);
    auto q = make<Virtqueue>();
    if (!q)
        return ENOMEM;
    q->m_transport = &t;
    q->m_index = index;
    q->m_size = size;
    size_t avail_off = 16 * size_t(size);
    size_t used_off = align_page(avail_off + 6 + 2 * size_t(size));
    q->m_mem_len = used_off + align_page(6 + 8 * size_t(size));
    void* mem;
    q->m_next = static_cast<uint16_t*>(kmem_alloc(sizeof(uint16_t) * size));
    q->m_chain_len = static_cast<uint16_t*>(kmem_alloc(sizeof(uint16_t) * size));
    q->m_writable = static_cast<uint32_t*>(kmem_alloc(sizeof(uint32_t) * size));
    if (!q->m_next || !q->m_chain_len || !q->m_writable ||
        akhyp_dma_alloc(q->m_mem_len, &mem, &q->m_paddr) != 0) {
        destroy(q);
        return ENOMEM;
    }
    q->m_mem = static_cast<uint8_t*>(mem);
    q->m_desc = reinterpret_cast<Desc*>(q->m_mem);
    q->m_avail = reinterpret_cast<volatile uint16_t*>(q->m_mem + avail_off);
    q->m_used = q->m_mem + used_off;
    for (uint16_t i = 0; i < size; i++) {
        q->m_next[i] = uint16_t(i + 1);
        q->m_writable[i] = k_not_in_flight;
    }
    q->m_nfree = size;
    Result<void> r =
        t.queue_enable(index, size, q->m_paddr, q->m_paddr + avail_off, q->m_paddr + used_off);
    if (r.is_error()) {
        destroy(q);
        return Error{r.error()};
    }
    return q;
}

Virtqueue::~Virtqueue() {
    if (m_mem)
        akhyp_dma_free(m_mem, m_mem_len);
    kmem_free(m_next);
    kmem_free(m_chain_len);
    kmem_free(m_writable);
}

Result<uint16_t> Virtqueue::submit(Span<const Buffer> chain) {
    if (m_broken)
        return EIO;
    if (chain.empty() || chain.size() > m_size)
        return EINVAL;
    if (chain.size() > m_nfree)
        return ENOSPC;
    uint16_t head = m_free_head;
    uint32_t writable = 0;
    uint16_t d = head;
    for (size_t i = 0; i < chain.size(); i++) {
        const Buffer& b = chain[i];
        uint16_t next = m_next[d];
        bool last = i + 1 == chain.size();
        m_desc[d] = Desc{b.paddr, b.len,
                         uint16_t((b.device_writes ? k_desc_write : 0) | (last ? 0 : k_desc_next)),
                         last ? uint16_t(0) : next};
        if (b.device_writes)
            writable += b.len;
        if (!last)
            d = next;
        else
            m_free_head = next;
    }
    m_nfree -= unsigned(chain.size());
    m_chain_len[head] = uint16_t(chain.size());
    m_writable[head] = writable;
    m_avail[2 + m_avail_idx % m_size] = head;
    __atomic_thread_fence(__ATOMIC_SEQ_CST); // ring entry before the index (§2.7.13)
    m_avail[1] = ++m_avail_idx;
    __atomic_thread_fence(__ATOMIC_SEQ_CST); // index before the notification
    m_transport->notify(m_index);
    return head;
}

Result<bool> Virtqueue::reclaim(uint16_t* head, uint32_t* written) {
    if (m_broken)
        return EIO;
    auto used_idx = reinterpret_cast<volatile uint16_t*>(m_used + 2);
    uint16_t idx = *used_idx;
    __atomic_thread_fence(__ATOMIC_SEQ_CST); // index before the entries
    uint16_t pending = uint16_t(idx - m_last_used);
    if (pending == 0)
        return false;
    if (pending > m_size - m_nfree) {
        AK_LOG_ERROR("virtio: queue %u: device reports %u completions, %u in flight", m_index,
                     unsigned(pending), m_size - m_nfree);
        m_broken = true;
        return EIO;
    }
    auto entry = reinterpret_cast<volatile uint32_t*>(m_used + 4 + 8 * (m_last_used % m_size));
    uint32_t id = entry[0], len = entry[1];
    if (id >= m_size || m_writable[id] == k_not_in_flight || len > m_writable[id]) {
        AK_LOG_ERROR("virtio: queue %u: bad completion (id %u, len %u)", m_index, id, len);
        m_broken = true;
        return EIO;
    }
    m_last_used++;
    // Return the chain to the free list using our own record of it.
    uint16_t last = uint16_t(id);
    for (uint16_t i = 1; i < m_chain_len[id]; i++)
        last = m_next[last];
    m_next[last] = m_free_head;
    m_free_head = uint16_t(id);
    m_nfree += m_chain_len[id];
    m_writable[id] = k_not_in_flight;
    *head = uint16_t(id);
    *written = len;
    return true;
}

Result<uint64_t> negotiate(Transport& t, uint64_t wanted) {
    t.set_status(0); // reset (§3.1.1 step 1)
    t.set_status(k_status_acknowledge);
    t.set_status(k_status_acknowledge | k_status_driver);
    uint64_t offered = t.device_features();
    if (!(offered & k_feature_version_1)) {
        t.set_status(k_status_failed);
        return ENOTSUP; // a legacy-only device
    }
    uint64_t accepted = (offered & wanted) | k_feature_version_1;
    t.set_driver_features(accepted);
    t.set_status(k_status_acknowledge | k_status_driver | k_status_features_ok);
    if (!(t.status() & k_status_features_ok)) {
        t.set_status(k_status_failed);
        return ENOTSUP;
    }
    return accepted;
}

void driver_ok(Transport& t) {
    t.set_status(k_status_acknowledge | k_status_driver | k_status_features_ok |
                 k_status_driver_ok);
}

void fail(Transport& t) {
    t.set_status(uint8_t(t.status() | k_status_failed));
}

} // namespace ak::virtio
