// The net lock with its deferred-input queue, packet buffers, checksums
// and address helpers.
#include <ak/kmem.h>
#include <ak/log.h>
#include <ak/string.h>
#include <ak/time.h>
#include <net/ifnet.h>

namespace ak::net {

namespace {
NoDestroy<Mutex> g_net_lock;
// Deferred input, guarded by the net lock.
NoDestroy<PacketQueue> g_deferred_storage;
} // namespace

Mutex& net_lock() {
    return g_net_lock.get();
}

void net_defer_input(RefPtr<PacketBuffer> pkt) {
    g_deferred_storage->push(move(pkt));
}

static bool drain_locked() AK_REQUIRES(net_lock()) {
    bool any = false;
    // Bound the work per call so a packet storm between two local sockets
    // cannot pin one thread forever: whatever is left stays queued for the
    // next holder.
    for (int budget = 100000; budget > 0; budget--) {
        RefPtr<PacketBuffer> p = g_deferred_storage->pop();
        if (!p)
            break;
        any = true;
        Ifnet* ifp = if_find_by_index(p->m_ifindex);
        if (ifp)
            if_input_locked(*ifp, move(p));
    }
    return any;
}

// Wakeups queued while the lock is held (net_wake), guarded by the net lock.
struct NetWakeQueue {
    static constexpr int k_max = 64;
    struct Entry {
        NetWakeable* obj;
        uint32_t events;
    };
    NetWakeable* objs[k_max];
    int count = 0;

    // Take the queue's entries (their events) out; the lock is held.
    int take(Entry* out) AK_REQUIRES(net_lock()) {
        int n = count;
        for (int i = 0; i < n; i++) {
            out[i] = {objs[i], objs[i]->m_wake_events};
            objs[i]->m_wake_events = 0;
        }
        count = 0;
        return n;
    }
    static void fire(const Entry* e, int n) {
        for (int i = 0; i < n; i++) {
            e[i].obj->m_ops->wake_now(*e[i].obj, e[i].events);
            e[i].obj->m_ops->unref(*e[i].obj);
        }
    }
};
namespace {
NetWakeQueue g_wakes;
}

void net_wake(NetWakeable& obj, uint32_t events) {
    if (!events)
        return;
    if (obj.m_wake_events) {
        obj.m_wake_events |= events;
        return;
    }
    if (g_wakes.count == NetWakeQueue::k_max) {
        obj.m_ops->wake_now(obj, events); // rare: many objects at once; wake under the lock
        return;
    }
    obj.m_ops->ref(obj);
    obj.m_wake_events = events;
    g_wakes.objs[g_wakes.count++] = &obj;
}

void net_unlock_and_drain() {
    (void)drain_locked();
    NetWakeQueue::Entry wakes[NetWakeQueue::k_max];
    int n = g_wakes.take(wakes);
    net_lock().unlock();
    NetWakeQueue::fire(wakes, n);
}

Result<void> net_wait(CondVar& cv, int64_t deadline_ns) {
    // Processing may have changed what the caller waits for: let it
    // re-check before sleeping (a spurious wakeup, which callers handle).
    if (drain_locked())
        return {};
    if (g_wakes.count) {
        NetWakeQueue::Entry wakes[NetWakeQueue::k_max];
        int n = g_wakes.take(wakes);
        NetWakeQueue::fire(wakes, n);
    }
    return cv.wait_interruptible(net_lock(), deadline_ns);
}

Result<RefPtr<PacketBuffer>> PacketBuffer::create(size_t headroom, size_t len) {
    if (headroom > (1u << 20) || len > (1u << 24))
        return ENOBUFS;
    PacketBuffer* p = make<PacketBuffer>();
    if (!p)
        return ENOBUFS;
    size_t cap = headroom + len;
    p->m_buf = static_cast<uint8_t*>(kmem_alloc(cap ? cap : 1));
    if (!p->m_buf) {
        destroy(p);
        return ENOBUFS;
    }
    p->m_cap = cap;
    p->m_head = headroom;
    p->m_tail = headroom + len;
    return adopt_ref(p);
}

Result<RefPtr<PacketBuffer>> PacketBuffer::copy_of(ReadonlyBytes bytes, size_t headroom) {
    auto p = TRY(create(headroom, bytes.size()));
    if (bytes.size())
        __builtin_memcpy(p->data(), bytes.data(), bytes.size());
    return p;
}

PacketBuffer::~PacketBuffer() {
    kmem_free(m_buf);
}

Result<uint8_t*> PacketBuffer::push(size_t n) {
    if (n > m_head)
        return ENOBUFS;
    m_head -= n;
    return m_buf + m_head;
}

Result<void> PacketBuffer::pop(size_t n) {
    if (n > size())
        return EINVAL;
    m_head += n;
    return {};
}

Result<void> PacketBuffer::trim(size_t n) {
    if (n > size())
        return EINVAL;
    m_tail = m_head + n;
    return {};
}

uint32_t checksum_add(uint32_t sum, const void* data, size_t len) {
    const uint8_t* p = static_cast<const uint8_t*>(data);
    uint64_t s = sum;
    // Sum 32-bit big-endian-agnostic words: one's complement addition is
    // byte-order independent as long as we swap at the end (RFC 1071 §2(B)).
    while (len >= 8) {
        uint64_t w;
        __builtin_memcpy(&w, p, 8);
        s += (w & 0xffffffff) + (w >> 32);
        p += 8;
        len -= 8;
    }
    while (len >= 2) {
        uint16_t w;
        __builtin_memcpy(&w, p, 2);
        s += w;
        p += 2;
        len -= 2;
    }
    if (len)
        s += *p; // little-endian host: the odd byte is the high byte on the wire
    while (s >> 32)
        s = (s & 0xffffffff) + (s >> 32);
    return static_cast<uint32_t>(s);
}

uint16_t checksum_finish(uint32_t sum) {
    while (sum >> 16)
        sum = (sum & 0xffff) + (sum >> 16);
    // The sum was accumulated in host (little-endian) order; the result
    // stored with memcpy lands in network order.  Callers store it raw.
    return static_cast<uint16_t>(~sum & 0xffff);
}

int mask_prefix_len(Ipv4 mask) {
    int n = 0;
    while (n < 32 && (mask & (0x80000000u >> n)))
        n++;
    return n;
}

bool parse_ipv4(const char* s, size_t len, Ipv4& out) {
    uint32_t parts[4];
    int np = 0;
    size_t i = 0;
    while (np < 4) {
        if (i >= len || s[i] < '0' || s[i] > '9')
            return false;
        uint32_t v = 0;
        size_t digits = 0;
        while (i < len && s[i] >= '0' && s[i] <= '9') {
            v = v * 10 + uint32_t(s[i] - '0');
            if (++digits > 3 || v > 255)
                return false;
            i++;
        }
        parts[np++] = v;
        if (np < 4) {
            if (i >= len || s[i] != '.')
                return false;
            i++;
        }
    }
    if (i != len)
        return false;
    out = parts[0] << 24 | parts[1] << 16 | parts[2] << 8 | parts[3];
    return true;
}

size_t format_ipv4(char* buf, size_t size, Ipv4 a) {
    return format(buf, size, "%u.%u.%u.%u", a >> 24, (a >> 16) & 255, (a >> 8) & 255, a & 255);
}

uint64_t net_random() {
    uint64_t v = 0;
    if (akhyp_getrandom(&v, sizeof v) != 0) {
        static Prng fallback(static_cast<uint64_t>(akhyp_clock_now(AKHYP_CLOCK_MONOTONIC)));
        v = fallback.next();
    }
    return v;
}

} // namespace ak::net
