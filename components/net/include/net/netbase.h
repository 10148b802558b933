// Shared foundations of the TCP/IP stack: the stack lock, packet buffers,
// checksums and wire-order helpers.
//
// Concurrency: one lock (the "net lock", like BSD's softnet lock) guards
// all protocol state: interfaces' address configuration, routes, ARP, IP
// reassembly, UDP and TCP control blocks.  It is taken through NetGuard.
// Packets a holder of the lock sends to itself (loopback, locally
// delivered broadcasts) are queued and processed before the lock is
// released (NetGuard's destructor and net_wait), in the same thread: no
// recursion into protocol input with half-updated state and no thread
// switch per packet.
#pragma once

#include <ak/abi/net.h>
#include <ak/list.h>
#include <ak/refptr.h>
#include <ak/result.h>
#include <ak/span.h>
#include <ak/sync.h>

namespace ak::net {

using abi::htonl;
using abi::htons;
using abi::ntohl;
using abi::ntohs;

Mutex& net_lock();

// Drain deferred input, then release.  Used by NetGuard.
void net_unlock_and_drain() AK_NO_THREAD_SAFETY_ANALYSIS;

class AK_SCOPED_CAPABILITY NetGuard : NonCopyable {
public:
    NetGuard() AK_ACQUIRE(net_lock()) { net_lock().lock(); }
    ~NetGuard() AK_RELEASE() { net_unlock_and_drain(); }
};

// Sleep on cv with the net lock held (it is released while asleep), after
// processing deferred input so nothing queued by this thread is stranded.
// Returns EINTR / ETIMEDOUT as CondVar::wait_interruptible.
Result<void> net_wait(CondVar& cv, int64_t deadline_ns) AK_REQUIRES(net_lock());

// Deferred wakeups.  A thread woken while its waker still holds the net
// lock runs straight into that lock and sleeps again (two more futex
// calls and context switches per wakeup: a third of the cost of a 1-byte
// request/response).  So protocol code queues wakeups with net_wake();
// they run right after the lock is released (NetGuard), or before a
// net_wait() sleeps, still holding it.  Each object is queued once, its
// events merged.
class NetWakeable {
public:
    // wake_now is called without the net lock (or, from net_wait and when
    // the queue is full, with it): broadcast condition variables, wake poll
    // queues.  The queue holds a reference (ref/unref) while the object is
    // on it.  Function pointers, not virtuals: kernel objects stay plain.
    struct Ops {
        void (*wake_now)(NetWakeable&, uint32_t events);
        void (*ref)(NetWakeable&);
        void (*unref)(NetWakeable&);
    };
    explicit NetWakeable(const Ops& ops) : m_ops(&ops) {}

private:
    friend void net_wake(NetWakeable&, uint32_t);
    friend struct NetWakeQueue;
    const Ops* m_ops;
    uint32_t m_wake_events = 0; // queued events, 0 when not queued (net lock)
};
void net_wake(NetWakeable& obj, uint32_t events) AK_REQUIRES(net_lock());

// --- Packet buffers --------------------------------------------------------
//
// One contiguous allocation with headroom in front of the data so lower
// layers prepend headers without copying.  push/pop/trim are bounds
// checked and fail instead of overrunning.  Reference counted: a TCP
// segment may sit on a retransmit path and in a driver queue at once.
class PacketBuffer : public RefCounted<PacketBuffer> {
public:
    static constexpr size_t k_default_headroom = 64;

    // Buffer with headroom bytes free in front and len bytes of data.
    static Result<RefPtr<PacketBuffer>> create(size_t headroom, size_t len);
    // A copy of bytes with the default headroom.
    static Result<RefPtr<PacketBuffer>> copy_of(ReadonlyBytes bytes,
                                                size_t headroom = k_default_headroom);
    ~PacketBuffer();

    uint8_t* data() { return m_buf + m_head; }
    const uint8_t* data() const { return m_buf + m_head; }
    size_t size() const { return m_tail - m_head; }
    size_t headroom() const { return m_head; }
    Bytes bytes() { return Bytes(data(), size()); }
    ReadonlyBytes bytes() const { return ReadonlyBytes(data(), size()); }

    // Grow at the front by n bytes (returns the new front) or fail.
    Result<uint8_t*> push(size_t n);
    // Drop n bytes at the front.
    Result<void> pop(size_t n);
    // Keep only the first n bytes (n <= size()).
    Result<void> trim(size_t n);

    // Metadata set by the input path.
    int m_ifindex = 0;
    bool m_link_broadcast = false;
    // Source of a queued datagram (datagram sockets' receive queues).
    uint32_t m_src_addr = 0;
    uint16_t m_src_port = 0;
    // Sequence number of a queued TCP segment's first byte (out-of-order
    // queue).
    uint32_t m_seq = 0;
    // Next-hop queue linkage (ARP pending queue, deferred input, fault
    // injection delay queue); a buffer sits on at most one at a time.
    ListNode m_queue_node;

private:
    PacketBuffer() = default;
    friend class RefCounted<PacketBuffer>;
    template <typename T, typename... A> friend T* ak::make(A&&...);
    uint8_t* m_buf = nullptr;
    size_t m_cap = 0;
    size_t m_head = 0;
    size_t m_tail = 0;
};

using PacketList = List<PacketBuffer, &PacketBuffer::m_queue_node>;

// A queue of packets holding a reference each.
class PacketQueue : NonCopyable {
public:
    ~PacketQueue() { clear(); }
    void push(RefPtr<PacketBuffer> p) { m_list.push_back(*p.leak()); }
    RefPtr<PacketBuffer> pop() {
        PacketBuffer* p = m_list.pop_front();
        return p ? adopt_ref(p) : RefPtr<PacketBuffer>();
    }
    bool empty() const { return m_list.empty(); }
    size_t size() const { return m_list.size(); }
    void clear() {
        while (PacketBuffer* p = m_list.pop_front())
            p->unref();
    }

private:
    PacketList m_list;
};

// --- Internet checksum (RFC 1071) -------------------------------------------
// Partial sums are 32-bit accumulators; fold with checksum_finish.
uint32_t checksum_add(uint32_t sum, const void* data, size_t len);
uint16_t checksum_finish(uint32_t sum);
inline uint16_t checksum(const void* data, size_t len) {
    return checksum_finish(checksum_add(0, data, len));
}

// --- Wire helpers ------------------------------------------------------------
inline uint16_t load16(const uint8_t* p) {
    return uint16_t(p[0] << 8 | p[1]);
}
inline uint32_t load32(const uint8_t* p) {
    return uint32_t(p[0]) << 24 | uint32_t(p[1]) << 16 | uint32_t(p[2]) << 8 | p[3];
}
inline void store16(uint8_t* p, uint16_t v) {
    p[0] = uint8_t(v >> 8);
    p[1] = uint8_t(v);
}
inline void store32(uint8_t* p, uint32_t v) {
    p[0] = uint8_t(v >> 24);
    p[1] = uint8_t(v >> 16);
    p[2] = uint8_t(v >> 8);
    p[3] = uint8_t(v);
}

// IPv4 addresses are kept in host byte order inside the stack.
using Ipv4 = uint32_t;
constexpr Ipv4 k_inaddr_any = 0;
constexpr Ipv4 k_inaddr_broadcast = 0xffffffff;
constexpr Ipv4 k_inaddr_loopback = 0x7f000001;
inline bool ipv4_is_loopback(Ipv4 a) {
    return (a >> 24) == 127;
}
inline bool ipv4_is_multicast(Ipv4 a) {
    return (a >> 28) == 0xe;
}
inline Ipv4 prefix_mask(int plen) {
    return plen <= 0 ? 0 : plen >= 32 ? 0xffffffff : ~((1u << (32 - plen)) - 1);
}
int mask_prefix_len(Ipv4 mask);
// "a.b.c.d" -> address; false on malformed input.
bool parse_ipv4(const char* s, size_t len, Ipv4& out);
size_t format_ipv4(char* buf, size_t size, Ipv4 a);

// Deterministic pseudo-random numbers (xorshift64*) for fault injection
// and jitter; seeded explicitly.
class Prng {
public:
    explicit Prng(uint64_t seed = 0x9e3779b97f4a7c15ull) : m_state(seed ? seed : 1) {}
    uint64_t next() {
        m_state ^= m_state >> 12;
        m_state ^= m_state << 25;
        m_state ^= m_state >> 27;
        return m_state * 2685821657736338717ull;
    }
    // True with probability percent/100 (fractions of a percent in
    // per-mille: percent_x10).
    bool chance_permille(uint32_t permille) { return permille && next() % 1000 < permille; }

private:
    uint64_t m_state;
};

// Process deferred input (loopback) queued by this or another thread; the
// caller holds the net lock.
void net_defer_input(RefPtr<PacketBuffer> pkt) AK_REQUIRES(net_lock());

} // namespace ak::net
