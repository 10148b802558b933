// TCP (RFC 9293) with MSS, window scaling and timestamps (RFC 7323), SACK
// blocks on the receive side (RFC 2018), retransmission timer (RFC 6298),
// congestion control (RFC 5681) with NewReno recovery (RFC 6582), RFC 5961
// challenge ACKs, delayed ACKs, Nagle (RFC 896 / RFC 1122 §4.2.3.4),
// keepalive (RFC 1122 §4.2.3.6), zero-window probing (RFC 9293 §3.8.6.1),
// TIME_WAIT, SYN backlog limits and RFC 6528 initial sequence numbers.
//
// Structure (as BSD's socket / tcpcb split): a Tcb is the connection; it
// lives in the connection table while the protocol needs it (through
// FIN_WAIT and TIME_WAIT after the application closed).  TcpSocket is the
// File the application holds; it refers to a Tcb.  Everything here runs
// under the net lock.
#include <ak/callout.h>
#include <ak/component.h>
#include <ak/log.h>
#include <ak/time.h>
#include <ak/vector.h>
#include <ak/wait.h>
#include <net/inet.h>

namespace ak::net {

using namespace abi;

namespace {

// --- Tunables -------------------------------------------------------------------
constexpr int64_t k_ms = 1000000;
constexpr int64_t k_rto_initial = 1000 * k_ms; // RFC 6298 §2.1
constexpr int64_t k_rto_min = 50 * k_ms;       // RFC 6298 §2.4 says 1 s "SHOULD"; see docs/net.md
constexpr int64_t k_rto_max = 120000 * k_ms;   // RFC 6298 §2.5 allows a cap >= 60 s
constexpr int k_max_retries = 15;              // as Linux tcp_retries2
constexpr int k_max_syn_retries = 6;
constexpr int k_max_synack_retries = 5;
constexpr int64_t k_delack = 40 * k_ms; // Linux's minimum delayed-ACK time
constexpr int64_t k_keep_idle_default = 7200LL * 1000 * k_ms;
constexpr int64_t k_keep_intvl_default = 75LL * 1000 * k_ms;
constexpr int k_keep_cnt_default = 9;
constexpr int64_t k_fin_wait2_orphan = 60000 * k_ms;
constexpr int64_t k_persist_min = 200 * k_ms;
constexpr int64_t k_persist_max = 60000 * k_ms;
// Zero-window probes an orphaned connection sends before it gives up (as
// Linux's tcp_orphan_retries default): a peer that never reads must not
// keep it forever.
constexpr int k_orphan_persist_max = 8;
constexpr uint32_t k_default_mss = 536; // RFC 9293 §3.7.1 (RFC 879)
constexpr size_t k_buf_initial = 4096;
constexpr size_t k_default_tcp_buf = 4 * 1024 * 1024; // Linux autotunes to ~4-6 MiB
constexpr size_t k_ooo_max_segments = 256;
constexpr size_t k_max_embryonic_global = 4096;
constexpr int k_challenge_ack_per_sec = 1000; // RFC 5961 §7

int64_t g_msl = 30000 * k_ms; // TIME_WAIT lasts 2*MSL (param tcp_msl_ms)

// --- Sequence space (RFC 9293 §3.4) -------------------------------------------------
inline bool seq_lt(uint32_t a, uint32_t b) {
    return int32_t(a - b) < 0;
}
inline bool seq_leq(uint32_t a, uint32_t b) {
    return int32_t(a - b) <= 0;
}
inline bool seq_gt(uint32_t a, uint32_t b) {
    return int32_t(a - b) > 0;
}
inline bool seq_geq(uint32_t a, uint32_t b) {
    return int32_t(a - b) >= 0;
}
inline uint32_t seq_max(uint32_t a, uint32_t b) {
    return seq_gt(a, b) ? a : b;
}

// --- SipHash-2-4 for RFC 6528 ISNs and the connection hash ---------------------------
inline uint64_t rotl(uint64_t x, int b) {
    return (x << b) | (x >> (64 - b));
}
uint64_t siphash(const uint64_t key[2], const uint8_t* in, size_t len) {
    uint64_t v0 = 0x736f6d6570736575ull ^ key[0], v1 = 0x646f72616e646f6dull ^ key[1];
    uint64_t v2 = 0x6c7967656e657261ull ^ key[0], v3 = 0x7465646279746573ull ^ key[1];
    auto round = [&] {
        v0 += v1;
        v1 = rotl(v1, 13);
        v1 ^= v0;
        v0 = rotl(v0, 32);
        v2 += v3;
        v3 = rotl(v3, 16);
        v3 ^= v2;
        v0 += v3;
        v3 = rotl(v3, 21);
        v3 ^= v0;
        v2 += v1;
        v1 = rotl(v1, 17);
        v1 ^= v2;
        v2 = rotl(v2, 32);
    };
    size_t full = len / 8 * 8;
    for (size_t i = 0; i < full; i += 8) {
        uint64_t m;
        __builtin_memcpy(&m, in + i, 8);
        v3 ^= m;
        round();
        round();
        v0 ^= m;
    }
    uint64_t b = uint64_t(len) << 56;
    for (size_t i = 0; i < len - full; i++)
        b |= uint64_t(in[full + i]) << (8 * i);
    v3 ^= b;
    round();
    round();
    v0 ^= b;
    v2 ^= 0xff;
    round();
    round();
    round();
    round();
    return v0 ^ v1 ^ v2 ^ v3;
}
uint64_t g_isn_key[2];
uint64_t g_hash_key[2];

struct FourTuple {
    Ipv4 laddr, faddr;
    uint16_t lport, fport;
};
uint64_t tuple_hash(const uint64_t key[2], const FourTuple& t) {
    uint8_t b[12];
    store32(b, t.laddr);
    store32(b + 4, t.faddr);
    store16(b + 8, t.lport);
    store16(b + 10, t.fport);
    return siphash(key, b, sizeof b);
}

// RFC 6528 §3: ISN = M + F(localip, localport, remoteip, remoteport, secretkey),
// M a 4 microsecond timer.
uint32_t make_isn(const FourTuple& t) {
    uint32_t m = static_cast<uint32_t>(monotonic_ns() / 4000);
    return m + static_cast<uint32_t>(tuple_hash(g_isn_key, t));
}

// --- A growable byte ring ------------------------------------------------------------
class ByteRing : NonCopyable {
public:
    ~ByteRing() { kmem_free(m_buf); }
    size_t size() const { return m_len; }
    size_t capacity() const { return m_cap; }
    // Make room for at least want bytes in total (up to limit); returns the
    // free space.
    size_t reserve(size_t want, size_t limit) {
        if (want > limit)
            want = limit;
        if (want > m_cap) {
            size_t ncap = m_cap ? m_cap : k_buf_initial;
            while (ncap < want)
                ncap *= 2;
            if (ncap > limit)
                ncap = limit;
            auto* nb = static_cast<uint8_t*>(kmem_alloc(ncap));
            if (nb) {
                copy_out_at(0, nb, m_len);
                kmem_free(m_buf);
                m_buf = nb;
                m_cap = ncap;
                m_head = 0;
            }
        }
        return m_cap - m_len;
    }
    // Append from uio; returns bytes taken.
    size_t append(Uio& uio, size_t max) {
        size_t put = 0;
        while (put < max && m_len < m_cap) {
            size_t tail = (m_head + m_len) % m_cap;
            size_t chunk = min(max - put, min(m_cap - m_len, m_cap - tail));
            size_t n = uio.copy_in(m_buf + tail, chunk);
            if (!n)
                break;
            m_len += n;
            put += n;
        }
        return put;
    }
    size_t append(const uint8_t* src, size_t n) {
        size_t put = 0;
        while (put < n && m_len < m_cap) {
            size_t tail = (m_head + m_len) % m_cap;
            size_t chunk = min(n - put, min(m_cap - m_len, m_cap - tail));
            __builtin_memcpy(m_buf + tail, src + put, chunk);
            m_len += chunk;
            put += chunk;
        }
        return put;
    }
    void copy_out_at(size_t off, uint8_t* dst, size_t n) const {
        size_t done = 0;
        while (done < n) {
            size_t pos = (m_head + off + done) % m_cap;
            size_t chunk = min(n - done, m_cap - pos);
            __builtin_memcpy(dst + done, m_buf + pos, chunk);
            done += chunk;
        }
    }
    size_t copy_to_uio(Uio& uio, size_t n) const {
        size_t done = 0;
        while (done < n) {
            size_t pos = (m_head + done) % m_cap;
            size_t chunk = min(n - done, m_cap - pos);
            size_t c = uio.copy_out(m_buf + pos, chunk);
            done += c;
            if (c < chunk)
                break;
        }
        return done;
    }
    void consume(size_t n) {
        m_len -= n;
        m_head = m_len ? (m_head + n) % m_cap : 0;
    }
    void release_if_empty() {
        if (m_len == 0 && m_cap > k_buf_initial) {
            kmem_free(m_buf);
            m_buf = nullptr;
            m_cap = 0;
            m_head = 0;
        }
    }

private:
    uint8_t* m_buf = nullptr;
    size_t m_cap = 0, m_head = 0, m_len = 0;
};

enum class State : uint8_t {
    Closed,
    Listen,
    SynSent,
    SynReceived,
    Established,
    FinWait1,
    FinWait2,
    CloseWait,
    Closing,
    LastAck,
    TimeWait
};

const char* const k_state_names[] = {"CLOSED",      "LISTEN",    "SYN_SENT",  "SYN_RECV",
                                     "ESTABLISHED", "FIN_WAIT1", "FIN_WAIT2", "CLOSE_WAIT",
                                     "CLOSING",     "LAST_ACK",  "TIME_WAIT"};

// TCP header flags.
constexpr uint8_t k_fin = 0x01, k_syn = 0x02, k_rst = 0x04, k_psh = 0x08, k_ack = 0x10;

struct SegOptions {
    uint16_t mss = 0;
    int wscale = -1;
    bool sack_ok = false;
    bool ts = false;
    uint32_t ts_val = 0, ts_ecr = 0;
    bool has_sack = false; // SACK blocks present (RFC 2018 §3)
    int nsack = 0;
    uint32_t sack[4][2] = {};
};

// Checked view of a TCP segment: parse() validates lengths and the
// checksum; accessors never leave the segment.
class TcpSegment {
public:
    static Result<TcpSegment> parse(const IpInfo& ip, PacketBuffer& pkt) {
        if (pkt.size() < 20)
            return EINVAL;
        const uint8_t* p = pkt.data();
        size_t off = size_t(p[12] >> 4) * 4;
        if (off < 20 || off > pkt.size())
            return EINVAL;
        if (!ip.no_csum && inet_pseudo_checksum(ip.src, ip.dst, k_proto_tcp, p, pkt.size()) != 0)
            return EBADMSG;
        TcpSegment s;
        s.sport = load16(p);
        s.dport = load16(p + 2);
        s.seq = load32(p + 4);
        s.ack = load32(p + 8);
        s.flags = p[13];
        s.wnd = load16(p + 14);
        s.hlen = off;
        s.payload = pkt.data() + off;
        s.len = pkt.size() - off;
        // Options (RFC 9293 §3.2): kind, length, data; malformed lengths end
        // parsing without trusting them.
        size_t i = 20;
        while (i < off) {
            uint8_t kind = p[i];
            if (kind == 0)
                break;
            if (kind == 1) {
                i++;
                continue;
            }
            if (i + 1 >= off)
                break;
            uint8_t olen = p[i + 1];
            if (olen < 2 || i + olen > off)
                break;
            if (kind == 2 && olen == 4)
                s.opt.mss = load16(p + i + 2);
            else if (kind == 3 && olen == 3)
                s.opt.wscale = min<int>(p[i + 2], 14); // RFC 7323 §2.3
            else if (kind == 4 && olen == 2)
                s.opt.sack_ok = true;
            else if (kind == 5 && olen >= 10 && (olen - 2) % 8 == 0) {
                s.opt.has_sack = true;
                for (size_t b = 0; b < size_t(olen - 2) / 8 && b < 4; b++) {
                    s.opt.sack[b][0] = load32(p + i + 2 + b * 8);
                    s.opt.sack[b][1] = load32(p + i + 6 + b * 8);
                    s.opt.nsack = int(b + 1);
                }
            } else if (kind == 8 && olen == 10) {
                s.opt.ts = true;
                s.opt.ts_val = load32(p + i + 2);
                s.opt.ts_ecr = load32(p + i + 6);
            }
            i += olen;
        }
        return s;
    }
    uint16_t sport, dport;
    uint32_t seq, ack;
    uint8_t flags;
    uint16_t wnd;
    size_t hlen;
    const uint8_t* payload;
    size_t len; // payload bytes
    SegOptions opt;
    // Sequence space occupied (SYN and FIN count one each).
    uint32_t seg_len() const {
        return uint32_t(len) + ((flags & k_syn) ? 1 : 0) + ((flags & k_fin) ? 1 : 0);
    }
};

class Tcb;
constexpr size_t k_hash_buckets = 4096;

class Tcb final : public RefCounted<Tcb>, public NetWakeable {
public:
    Tcb();
    ~Tcb();

    State state = State::Closed;
    FourTuple t{};
    bool in_table = false;
    ListNode hash_node;
    ListNode listen_node; // listener list, or a listener's embryo/accept list
    ListNode all_node;

    // Send sequence variables (RFC 9293 §3.3.1).
    uint32_t iss = 0, snd_una = 0, snd_nxt = 0, snd_max = 0, snd_wl1 = 0, snd_wl2 = 0;
    uint32_t snd_wnd = 0, max_snd_wnd = 0;
    uint8_t snd_wscale = 0;
    // Receive.
    uint32_t irs = 0, rcv_nxt = 0, rcv_adv = 0;
    uint8_t rcv_wscale = 0;
    bool wscale_ok = false, ts_ok = false, sack_ok = false;
    uint32_t ts_recent = 0;
    int64_t ts_recent_age = 0;
    uint32_t last_ack_sent = 0;
    uint32_t mss = k_default_mss; // effective send MSS (payload bytes)
    uint32_t peer_mss = k_default_mss;
    // Congestion control (RFC 5681 / RFC 6582).
    uint32_t cwnd = 0, ssthresh = 0xffffffff;
    int dupacks = 0;
    bool in_recovery = false;
    uint32_t recover = 0;
    uint32_t bytes_acked_ca = 0;
    // SACK scoreboard (RFC 6675): ranges above snd_una the peer holds, and
    // how far hole retransmission got in the current recovery.
    static constexpr int k_max_sacked = 16;
    uint32_t sacked[k_max_sacked][2] = {};
    int nsacked = 0;
    uint32_t rexmt_next = 0;
    int stuck_dupacks = 0;
    // RTT (RFC 6298).
    int64_t srtt = 0, rttvar = 0, rto = k_rto_initial;
    bool rtt_timing = false;
    uint32_t rtt_seq = 0;
    int64_t rtt_start = 0;
    int retries = 0;
    // Timers (absolute monotonic ns; 0 = off) and the one callout.
    int64_t t_rexmt = 0, t_persist = 0, t_delack = 0, t_keep = 0, t_2msl = 0;
    int64_t t_tlp = 0;     // tail loss probe (RFC 8985 §7)
    bool tlp_sent = false; // one probe per flight
    int persist_shift = 0;
    // A zero-window probe carries the byte at SND.NXT without advancing
    // it; a receiver whose window had opened takes it and acknowledges
    // SND.MAX + 1, which must then count as a valid ACK.
    bool probe_out = false;
    int persist_probes = 0; // since the window was last open
    int keep_probes = 0;
    Callout callout;
    int64_t callout_when = 0;
    // Buffers.
    ByteRing sndbuf; // [snd_una, snd_una + size): unacknowledged then unsent
    ByteRing rcvbuf; // in-order data not yet read
    PacketQueue ooo; // out-of-order segments sorted by m_seq
    size_t snd_limit = k_default_tcp_buf, rcv_limit = k_default_tcp_buf;
    bool fin_queued = false; // application closed the sending side
    bool fin_sent = false;
    bool peer_fin = false; // FIN received (rcv side at EOF once data read)
    bool shut_rd = false;
    int unacked_segments = 0; // for delayed ACK: ack every second full segment
    bool ack_now = false;
    // Options.
    bool nodelay = false, cork = false, keepalive = false;
    int64_t keep_idle = k_keep_idle_default, keep_intvl = k_keep_intvl_default;
    int keep_cnt = k_keep_cnt_default;
    uint8_t ttl = k_default_ttl, tos = 0;
    int bound_ifindex = 0;
    bool reuse = false;
    int error = 0;         // pending error for the application
    bool orphan = false;   // no socket refers to it any more
    bool accepted = false; // handed to the application by accept()
    // Listening.
    int backlog = 0;
    List<Tcb, &Tcb::listen_node> embryos; // SYN_RECEIVED children
    List<Tcb, &Tcb::listen_node> acceptq; // established, not accepted
    Tcb* listener = nullptr;              // for children
    // Waiting.
    CondVar cv;
    WaitQueue waitq;

    void notify(uint32_t ev) AK_REQUIRES(net_lock()) { net_wake(*this, ev); }
    static const Ops k_wake_ops;
    uint32_t flight() const { return snd_max - snd_una; }
    size_t rcv_space() const {
        size_t used = rcvbuf.size();
        return used >= rcv_limit ? 0 : rcv_limit - used;
    }
};

List<Tcb, &Tcb::hash_node>* g_hash = nullptr; // k_hash_buckets lists, from tcp_init
NoDestroy<List<Tcb, &Tcb::listen_node>> g_listeners;
NoDestroy<List<Tcb, &Tcb::all_node>> g_all;
size_t g_embryonic = 0;
TcpStats g_stats{};
uint16_t g_next_port = k_port_first_ephemeral;
int64_t g_challenge_window = 0;
int g_challenge_count = 0;

void tcb_timer(void* arg);

const NetWakeable::Ops Tcb::k_wake_ops = {
    [](NetWakeable& w, uint32_t ev) {
        auto& t = static_cast<Tcb&>(w);
        t.cv.broadcast();
        t.waitq.wake(ev);
    },
    [](NetWakeable& w) { static_cast<Tcb&>(w).ref(); },
    [](NetWakeable& w) { static_cast<Tcb&>(w).unref(); },
};

Tcb::Tcb() : NetWakeable(k_wake_ops) {
    callout_init(callout, tcb_timer, this);
}
Tcb::~Tcb() {}

List<Tcb, &Tcb::hash_node>& bucket(const FourTuple& t) {
    return g_hash[tuple_hash(g_hash_key, t) % k_hash_buckets];
}

void table_insert(Tcb& tcb) AK_REQUIRES(net_lock()) {
    AK_ASSERT(!tcb.in_table);
    tcb.ref();
    tcb.in_table = true;
    if (tcb.state == State::Listen)
        g_listeners->push_back(tcb);
    else
        bucket(tcb.t).push_back(tcb);
    g_all->push_back(tcb);
    g_stats.connections++;
}

Tcb* table_lookup(const FourTuple& t) AK_REQUIRES(net_lock()) {
    for (auto& c : bucket(t))
        if (c.t.lport == t.lport && c.t.fport == t.fport && c.t.laddr == t.laddr &&
            c.t.faddr == t.faddr)
            return &c;
    return nullptr;
}

Tcb* listener_lookup(Ipv4 laddr, uint16_t lport, int ifindex) AK_REQUIRES(net_lock()) {
    Tcb* wildcard = nullptr;
    for (auto& l : *g_listeners) {
        if (l.t.lport != lport || l.state != State::Listen)
            continue;
        if (l.bound_ifindex && l.bound_ifindex != ifindex)
            continue;
        if (l.t.laddr == laddr)
            return &l;
        if (l.t.laddr == 0)
            wildcard = &l;
    }
    return wildcard;
}

// Each arming of the callout holds a reference on the Tcb: taken when
// callout_schedule() arms it anew, dropped by callout_stop() when it was
// still pending, else by the callback that the arming started (a callback
// waiting for the net lock keeps its Tcb alive even if the Tcb is re-armed
// and stopped meanwhile).
void disarm_callout(Tcb& tcb) AK_REQUIRES(net_lock()) {
    if (callout_stop(tcb.callout))
        tcb.unref();
    tcb.t_rexmt = tcb.t_persist = tcb.t_delack = tcb.t_keep = tcb.t_2msl = tcb.t_tlp = 0;
}

// Leave the table; the Tcb is freed when its last reference goes (the
// socket's, a pending callout's).
void tcb_close(Tcb& tcb) AK_REQUIRES(net_lock()) {
    bool was_embryo = tcb.listener != nullptr;
    if (tcb.listener) {
        Tcb* l = tcb.listener;
        if (tcb.listen_node.linked()) {
            if (tcb.state == State::SynReceived || !tcb.accepted) {
                // On either the embryo or the accept list of l.
                bool on_embryos = false;
                for (auto& e : l->embryos)
                    if (&e == &tcb) {
                        on_embryos = true;
                        break;
                    }
                if (on_embryos) {
                    l->embryos.remove(tcb);
                    g_embryonic--;
                } else {
                    l->acceptq.remove(tcb);
                    tcb.unref(); // the accept queue's reference
                }
            }
        }
        tcb.listener = nullptr;
    }
    (void)was_embryo;
    tcb.state = State::Closed;
    disarm_callout(tcb);
    tcb.ooo.clear();
    tcb.notify(POLLIN | POLLOUT | POLLHUP | POLLERR | POLLRDHUP);
    if (tcb.in_table) {
        tcb.in_table = false;
        if (tcb.listen_node.linked() && !tcb.listener)
            g_listeners->remove(tcb);
        if (tcb.hash_node.linked())
            bucket(tcb.t).remove(tcb);
        g_all->remove(tcb);
        g_stats.connections--;
        tcb.unref();
    }
}

void arm_timers(Tcb& tcb) AK_REQUIRES(net_lock()) {
    int64_t when = 0;
    for (int64_t d : {tcb.t_rexmt, tcb.t_persist, tcb.t_delack, tcb.t_keep, tcb.t_2msl, tcb.t_tlp})
        if (d && (!when || d < when))
            when = d;
    if (!when) {
        if (callout_stop(tcb.callout))
            tcb.unref();
        return;
    }
    if (callout_pending(tcb.callout) && tcb.callout_when == when)
        return;
    tcb.callout_when = when;
    if (!callout_schedule(tcb.callout, when))
        tcb.ref(); // a new arming (see disarm_callout)
}

// --- Output ------------------------------------------------------------------------------

uint32_t ts_now() {
    return static_cast<uint32_t>(monotonic_ns() / k_ms);
}

uint8_t choose_wscale(size_t buf) {
    uint8_t s = 0;
    while (s < 14 && (size_t(65535) << s) < buf)
        s++;
    return s;
}

// Receive window we can advertise, never shrinking what we offered
// (RFC 9293 §3.8.6.2.2).
uint32_t rcv_window(Tcb& tcb) {
    size_t space = tcb.rcv_space();
    uint32_t max_wnd = uint32_t(65535) << tcb.rcv_wscale;
    uint32_t w = static_cast<uint32_t>(min<size_t>(space, max_wnd));
    // Receiver-side silly window avoidance (RFC 1122 §4.2.3.3).
    if (w < min<uint32_t>(tcb.rcv_limit / 4, tcb.mss) && seq_lt(tcb.rcv_nxt + w, tcb.rcv_adv))
        w = 0;
    if (seq_lt(tcb.rcv_nxt + w, tcb.rcv_adv))
        w = tcb.rcv_adv - tcb.rcv_nxt;
    return w;
}

// Enough free send buffer to report the socket writable: a third of the
// limit or 64 KiB.
bool send_space_ok(const Tcb& tcb) {
    size_t free = tcb.snd_limit > tcb.sndbuf.size() ? tcb.snd_limit - tcb.sndbuf.size() : 0;
    return free >= tcb.snd_limit / 3 || free >= 65536;
}

// Build and send one segment.  data_off is the offset into sndbuf of the
// payload (len bytes).
void send_segment(Tcb& tcb, uint32_t seq, uint8_t flags, size_t data_off, size_t len)
    AK_REQUIRES(net_lock()) {
    uint8_t opts[40];
    size_t olen = 0;
    if (flags & k_syn) {
        // MSS, SACK-permitted, timestamps, window scale (the order Linux uses).
        uint32_t mtu_mss = 1460;
        if (auto r = route_lookup(tcb.t.faddr, tcb.bound_ifindex); r.ok())
            mtu_mss = r.value().ifp->m_mtu - 40;
        opts[olen++] = 2;
        opts[olen++] = 4;
        store16(opts + olen, static_cast<uint16_t>(min<uint32_t>(mtu_mss, 65495)));
        olen += 2;
        bool offer_ts = !(flags & k_ack) || tcb.ts_ok;
        bool offer_sack = !(flags & k_ack) || tcb.sack_ok;
        bool offer_ws = !(flags & k_ack) || tcb.wscale_ok;
        if (offer_sack) {
            opts[olen++] = 4;
            opts[olen++] = 2;
        }
        if (offer_ts) {
            if (!offer_sack) {
                opts[olen++] = 1;
                opts[olen++] = 1;
            }
            opts[olen++] = 8;
            opts[olen++] = 10;
            store32(opts + olen, ts_now());
            store32(opts + olen + 4, tcb.ts_recent);
            olen += 8;
        }
        if (offer_ws) {
            opts[olen++] = 1;
            opts[olen++] = 3;
            opts[olen++] = 3;
            opts[olen++] = tcb.rcv_wscale;
        }
    } else if (tcb.ts_ok) {
        opts[olen++] = 1;
        opts[olen++] = 1;
        opts[olen++] = 8;
        opts[olen++] = 10;
        store32(opts + olen, ts_now());
        store32(opts + olen + 4, tcb.ts_recent);
        olen += 8;
    }
    // SACK blocks for out-of-order data we hold (RFC 2018 §4): the most
    // recent first would be ideal; we report ranges in order, up to 3.
    if (tcb.sack_ok && !(flags & k_syn) && !tcb.ooo.empty() && (flags & k_ack)) {
        size_t room = (40 - olen - 2) / 8;
        size_t nblocks = 0;
        uint8_t blocks[4 * 8];
        PacketQueue tmp;
        uint32_t start = 0, end = 0;
        bool have = false;
        while (RefPtr<PacketBuffer> p = tcb.ooo.pop()) {
            uint32_t s = p->m_seq, e = p->m_seq + uint32_t(p->size());
            if (have && seq_leq(s, end)) {
                end = seq_max(end, e);
            } else {
                if (have && nblocks < room && nblocks < 4) {
                    store32(blocks + nblocks * 8, start);
                    store32(blocks + nblocks * 8 + 4, end);
                    nblocks++;
                }
                start = s;
                end = e;
                have = true;
            }
            tmp.push(move(p));
        }
        if (have && nblocks < room && nblocks < 4) {
            store32(blocks + nblocks * 8, start);
            store32(blocks + nblocks * 8 + 4, end);
            nblocks++;
        }
        while (RefPtr<PacketBuffer> p = tmp.pop())
            tcb.ooo.push(move(p));
        if (nblocks) {
            opts[olen++] = 1;
            opts[olen++] = 1;
            opts[olen++] = 5;
            opts[olen++] = static_cast<uint8_t>(2 + nblocks * 8);
            __builtin_memcpy(opts + olen, blocks, nblocks * 8);
            olen += nblocks * 8;
        }
    }
    while (olen % 4)
        opts[olen++] = 0;
    size_t hlen = 20 + olen;
    auto r = PacketBuffer::create(k_max_header_room, hlen + len);
    if (r.is_error())
        return; // a retransmission will retry
    RefPtr<PacketBuffer> pkt = r.release_value();
    uint8_t* h = pkt->data();
    if (len)
        tcb.sndbuf.copy_out_at(data_off, h + hlen, len);
    store16(h, tcb.t.lport);
    store16(h + 2, tcb.t.fport);
    store32(h + 4, seq);
    uint32_t wnd =
        (flags & k_syn) ? min<uint32_t>(rcv_window(tcb), 65535) : rcv_window(tcb) >> tcb.rcv_wscale;
    if (!(flags & k_syn) && wnd > 65535)
        wnd = 65535;
    bool has_ack = flags & k_ack;
    store32(h + 8, has_ack ? tcb.rcv_nxt : 0);
    h[12] = static_cast<uint8_t>((hlen / 4) << 4);
    h[13] = flags;
    store16(h + 14, static_cast<uint16_t>(wnd));
    store16(h + 16, 0);
    store16(h + 18, 0);
    __builtin_memcpy(h + 20, opts, olen);
    if (has_ack) {
        uint32_t adv = tcb.rcv_nxt + ((flags & k_syn) ? wnd : (wnd << tcb.rcv_wscale));
        if (seq_gt(adv, tcb.rcv_adv))
            tcb.rcv_adv = adv;
        tcb.last_ack_sent = tcb.rcv_nxt;
        tcb.t_delack = 0;
        tcb.unacked_segments = 0;
        tcb.ack_now = false;
    }
    g_stats.segs_out++;
    IpSendOptions opt;
    opt.ttl = tcb.ttl;
    opt.tos = tcb.tos;
    opt.bound_ifindex = tcb.bound_ifindex;
    opt.dont_fragment = true;
    opt.tcp_csum_at = 16; // ip_output fills it in unless the interface is m_no_csum
    Result<void> sr = ip_output(move(pkt), tcb.t.laddr, tcb.t.faddr, k_proto_tcp, opt);
    if (sr.is_error() && sr.error() == EMSGSIZE && tcb.mss > 536) {
        tcb.mss = 536; // the route's MTU shrank
    }
}

// A bare RST (or RST+ACK) for a segment that has no connection
// (RFC 9293 §3.10.7.1).
void send_reset(const IpInfo& ip, const TcpSegment& s) AK_REQUIRES(net_lock()) {
    if (s.flags & k_rst)
        return;
    if (ip.broadcast || ipv4_is_multicast(ip.dst))
        return;
    auto r = PacketBuffer::create(k_max_header_room, 20);
    if (r.is_error())
        return;
    RefPtr<PacketBuffer> pkt = r.release_value();
    uint8_t* h = pkt->data();
    __builtin_memset(h, 0, 20);
    store16(h, s.dport);
    store16(h + 2, s.sport);
    if (s.flags & k_ack) {
        store32(h + 4, s.ack);
        h[13] = k_rst;
    } else {
        store32(h + 8, s.seq + s.seg_len());
        h[13] = k_rst | k_ack;
    }
    h[12] = 5 << 4;
    g_stats.resets_out++;
    IpSendOptions opt;
    opt.tcp_csum_at = 16;
    (void)ip_output(move(pkt), ip.dst, ip.src, k_proto_tcp, opt);
}

void send_rst_for(Tcb& tcb) AK_REQUIRES(net_lock()) {
    send_segment(tcb, tcb.snd_nxt, k_rst | k_ack, 0, 0);
    g_stats.resets_out++;
}

void send_ack(Tcb& tcb) AK_REQUIRES(net_lock()) {
    send_segment(tcb, tcb.snd_nxt, k_ack, 0, 0);
}

// RFC 5961 §7: challenge ACKs are rate limited.
void challenge_ack(Tcb& tcb) AK_REQUIRES(net_lock()) {
    int64_t now = monotonic_ns();
    if (now - g_challenge_window > 1000 * k_ms) {
        g_challenge_window = now;
        g_challenge_count = 0;
    }
    if (g_challenge_count++ >= k_challenge_ack_per_sec)
        return;
    g_stats.challenge_acks++;
    send_ack(tcb);
}

void start_rexmt(Tcb& tcb) {
    tcb.t_rexmt = monotonic_ns() + tcb.rto;
}

// RFC 8985 §7.2: probe timeout PTO = 2 * SRTT (at least 10 ms here), so a
// lost tail of a flight is repaired through SACK recovery, not the RTO.
void arm_tlp(Tcb& tcb) {
    if (tcb.in_recovery || tcb.tlp_sent || tcb.snd_una == tcb.snd_max || !tcb.sack_ok) {
        tcb.t_tlp = 0;
        return;
    }
    int64_t pto = max<int64_t>(2 * tcb.srtt, 10 * k_ms);
    tcb.t_tlp = monotonic_ns() + pto;
}

// --- SACK scoreboard (RFC 6675) ------------------------------------------------------
void sack_prune(Tcb& tcb) {
    int n = 0;
    for (int i = 0; i < tcb.nsacked; i++) {
        if (seq_leq(tcb.sacked[i][1], tcb.snd_una))
            continue;
        tcb.sacked[n][0] = seq_max(tcb.sacked[i][0], tcb.snd_una);
        tcb.sacked[n][1] = tcb.sacked[i][1];
        n++;
    }
    tcb.nsacked = n;
}

void sack_add(Tcb& tcb, uint32_t start, uint32_t end) {
    // Ignore blocks outside (snd_una, snd_max] (and D-SACKs below snd_una).
    if (!seq_lt(start, end) || seq_leq(end, tcb.snd_una) || seq_gt(end, tcb.snd_max))
        return;
    start = seq_max(start, tcb.snd_una);
    // Merge with overlapping or adjacent ranges, keep sorted.
    for (int i = 0; i < tcb.nsacked;) {
        uint32_t s0 = tcb.sacked[i][0], e0 = tcb.sacked[i][1];
        if (seq_leq(s0, end) && seq_leq(start, e0)) {
            start = seq_lt(s0, start) ? s0 : start;
            end = seq_max(e0, end);
            for (int j = i; j + 1 < tcb.nsacked; j++) {
                tcb.sacked[j][0] = tcb.sacked[j + 1][0];
                tcb.sacked[j][1] = tcb.sacked[j + 1][1];
            }
            tcb.nsacked--;
            continue;
        }
        i++;
    }
    if (tcb.nsacked == Tcb::k_max_sacked)
        tcb.nsacked--; // forget the highest range; it is only an optimisation
    int pos = 0;
    while (pos < tcb.nsacked && seq_lt(tcb.sacked[pos][0], start))
        pos++;
    for (int j = tcb.nsacked; j > pos; j--) {
        tcb.sacked[j][0] = tcb.sacked[j - 1][0];
        tcb.sacked[j][1] = tcb.sacked[j - 1][1];
    }
    tcb.sacked[pos][0] = start;
    tcb.sacked[pos][1] = end;
    tcb.nsacked++;
}

// If seq lies in a SACKed range, the end of that range, else seq.
uint32_t sack_skip(const Tcb& tcb, uint32_t seq) {
    for (int i = 0; i < tcb.nsacked; i++)
        if (seq_leq(tcb.sacked[i][0], seq) && seq_lt(seq, tcb.sacked[i][1]))
            return tcb.sacked[i][1];
    return seq;
}

uint32_t sacked_bytes(const Tcb& tcb) {
    uint32_t n = 0;
    for (int i = 0; i < tcb.nsacked; i++)
        n += tcb.sacked[i][1] - tcb.sacked[i][0];
    return n;
}

uint32_t highest_sacked(const Tcb& tcb) {
    return tcb.nsacked ? tcb.sacked[tcb.nsacked - 1][1] : tcb.snd_una;
}

// Send whatever the windows allow (RFC 9293 §3.8.6, RFC 5681 §3.1, Nagle).
void tcp_output(Tcb& tcb) AK_REQUIRES(net_lock()) {
    switch (tcb.state) {
    case State::Established:
    case State::CloseWait:
    case State::FinWait1:
    case State::Closing:
    case State::LastAck:
        break;
    default:
        if (tcb.ack_now && tcb.state != State::Closed && tcb.state != State::Listen &&
            tcb.state != State::SynSent)
            send_ack(tcb);
        return;
    }
    bool sent_any = false;
    for (;;) {
        // Going back over data after a timeout: skip what the peer SACKed
        // (RFC 6675 §5.1 keeps the scoreboard).
        if (tcb.nsacked && seq_lt(tcb.snd_nxt, tcb.snd_max)) {
            uint32_t skip = sack_skip(tcb, tcb.snd_nxt);
            if (skip != tcb.snd_nxt)
                tcb.snd_nxt = seq_lt(skip, tcb.snd_max) ? skip : tcb.snd_max;
        }
        uint32_t off = tcb.snd_nxt - tcb.snd_una;
        size_t buffered = tcb.sndbuf.size();
        size_t unsent = off <= buffered ? buffered - off : 0;
        // RFC 3042 limited transmit: one new segment per early duplicate ACK.
        uint32_t wnd =
            min(tcb.snd_wnd,
                tcb.cwnd + (tcb.in_recovery ? 0 : uint32_t(min(tcb.dupacks, 2)) * tcb.mss));
        uint32_t in_flight = tcb.snd_nxt - tcb.snd_una;
        size_t usable = wnd > in_flight ? wnd - in_flight : 0;
        size_t len = min<size_t>(min<size_t>(unsent, usable), tcb.mss);
        bool fin_now = tcb.fin_queued && !tcb.fin_sent && off + len == buffered &&
                       (tcb.state == State::Established || tcb.state == State::CloseWait);
        // A FIN retransmitted after a timeout: snd_nxt went back below it.
        bool fin_again = tcb.fin_sent && off + len == buffered &&
                         seq_lt(tcb.snd_nxt, tcb.snd_max) &&
                         tcb.snd_una + buffered + 1 == tcb.snd_max;
        if (len == 0 && !fin_now && !fin_again)
            break;
        if (len > 0 && len < tcb.mss && len < unsent + 0 && false)
            break;
        // Nagle (RFC 896): hold a small segment while data is unacknowledged,
        // unless TCP_NODELAY or it completes the buffer with a FIN.
        if (len > 0 && len < tcb.mss && len == unsent && !fin_now && !fin_again) {
            if ((!tcb.nodelay && in_flight > 0) || tcb.cork)
                break;
        }
        if (len > 0 && len < tcb.mss && len < unsent && usable < tcb.mss && in_flight > 0)
            break; // sender-side SWS avoidance (RFC 9293 §3.8.6.2.1)
        uint8_t flags = k_ack;
        if (fin_now || fin_again)
            flags |= k_fin;
        if (len && off + len == buffered)
            flags |= k_psh;
        if (!tcb.rtt_timing && !tcb.ts_ok && len > 0 && seq_geq(tcb.snd_nxt, tcb.snd_max)) {
            tcb.rtt_timing = true;
            tcb.rtt_seq = tcb.snd_nxt;
            tcb.rtt_start = monotonic_ns();
        }
        send_segment(tcb, tcb.snd_nxt, flags, off, len);
        sent_any = true;
        tcb.probe_out = false;
        tcb.snd_nxt += uint32_t(len) + ((flags & k_fin) ? 1 : 0);
        if (flags & k_fin) {
            tcb.fin_sent = true;
            if (tcb.state == State::Established)
                tcb.state = State::FinWait1;
            else if (tcb.state == State::CloseWait)
                tcb.state = State::LastAck;
        }
        if (seq_gt(tcb.snd_nxt, tcb.snd_max))
            tcb.snd_max = tcb.snd_nxt;
        if (!tcb.t_rexmt)
            start_rexmt(tcb);
        arm_tlp(tcb);
        tcb.t_persist = 0;
        if (flags & k_fin)
            break;
    }
    // Zero window with data waiting: probe (RFC 9293 §3.8.6.1).
    if (!sent_any && tcb.snd_wnd == 0 && tcb.sndbuf.size() > tcb.snd_nxt - tcb.snd_una &&
        !tcb.t_rexmt && !tcb.t_persist) {
        int64_t d =
            min<int64_t>(max<int64_t>(tcb.rto, k_persist_min) << tcb.persist_shift, k_persist_max);
        tcb.t_persist = monotonic_ns() + d;
    }
    if (tcb.ack_now && !sent_any)
        send_ack(tcb);
    arm_timers(tcb);
}

// --- RTT and congestion control -------------------------------------------------------

void rtt_sample(Tcb& tcb, int64_t r) {
    if (r <= 0)
        r = k_ms / 10; // sub-granularity sample
    // RFC 6298 §2.2/2.3 (alpha 1/8, beta 1/4).
    if (tcb.srtt == 0) {
        tcb.srtt = r;
        tcb.rttvar = r / 2;
    } else {
        int64_t delta = tcb.srtt > r ? tcb.srtt - r : r - tcb.srtt;
        tcb.rttvar = (3 * tcb.rttvar + delta) / 4;
        tcb.srtt = (7 * tcb.srtt + r) / 8;
    }
    int64_t rto = tcb.srtt + max<int64_t>(k_ms, 4 * tcb.rttvar);
    tcb.rto = min(max(rto, k_rto_min), k_rto_max);
}

void cc_on_ack(Tcb& tcb, uint32_t acked) {
    // RFC 5681 §3.1: slow start below ssthresh (with appropriate byte
    // counting limited to one SMSS per ACK, RFC 3465), else congestion
    // avoidance: about one SMSS per RTT.
    if (tcb.cwnd < tcb.ssthresh) {
        tcb.cwnd += min(acked, tcb.mss * 2);
    } else {
        tcb.bytes_acked_ca += acked;
        if (tcb.bytes_acked_ca >= tcb.cwnd) {
            tcb.bytes_acked_ca -= tcb.cwnd;
            tcb.cwnd += tcb.mss;
        }
    }
    uint32_t cap = 1u << 30;
    if (tcb.cwnd > cap)
        tcb.cwnd = cap;
}

void enter_recovery(Tcb& tcb) {
    // RFC 6582 §3.2 step 2-3 / RFC 5681 §3.2 equation (4).
    uint32_t flight = tcb.flight();
    tcb.ssthresh = max(flight / 2, 2 * tcb.mss);
    tcb.recover = tcb.snd_max;
    tcb.in_recovery = true;
    tcb.cwnd = tcb.ssthresh + 3 * tcb.mss;
}

void retransmit_first(Tcb& tcb) AK_REQUIRES(net_lock()) {
    size_t len = min<size_t>(tcb.sndbuf.size(), tcb.mss);
    uint8_t flags = k_ack;
    if (len == 0 && tcb.fin_sent)
        flags |= k_fin;
    if (len == 0 && !(flags & k_fin))
        return;
    g_stats.retrans++;
    tcb.rtt_timing = false; // Karn's algorithm
    send_segment(tcb, tcb.snd_una, flags, 0, len);
}

// Retransmit up to max_segs segments from the holes below the highest
// SACKed sequence (RFC 6675 §4 NextSeg rule 1); without SACK information
// the first unacknowledged segment (RFC 6582).
void retransmit_holes(Tcb& tcb, int max_segs) AK_REQUIRES(net_lock()) {
    if (!tcb.nsacked) {
        if (seq_leq(tcb.rexmt_next, tcb.snd_una)) {
            retransmit_first(tcb);
            tcb.rexmt_next = tcb.snd_una + min<uint32_t>(uint32_t(tcb.sndbuf.size()), tcb.mss);
        }
        return;
    }
    uint32_t top = highest_sacked(tcb);
    uint32_t seq = seq_max(tcb.rexmt_next, tcb.snd_una);
    for (int n = 0; n < max_segs;) {
        seq = sack_skip(tcb, seq);
        if (!seq_lt(seq, top))
            break;
        uint32_t limit = top;
        for (int i = 0; i < tcb.nsacked; i++)
            if (seq_lt(seq, tcb.sacked[i][0])) {
                limit = tcb.sacked[i][0];
                break;
            }
        size_t off = seq - tcb.snd_una;
        if (off >= tcb.sndbuf.size())
            break;
        size_t len = min<size_t>(min<size_t>(limit - seq, tcb.mss), tcb.sndbuf.size() - off);
        g_stats.retrans++;
        tcb.rtt_timing = false;
        send_segment(tcb, seq, k_ack, off, len);
        seq += uint32_t(len);
        n++;
    }
    tcb.rexmt_next = seq;
}

// --- Connection establishment ---------------------------------------------------------

void init_from_syn(Tcb& tcb, const TcpSegment& s) {
    tcb.irs = s.seq;
    tcb.rcv_nxt = s.seq + 1;
    tcb.rcv_adv = tcb.rcv_nxt;
    if (s.opt.mss)
        tcb.peer_mss = s.opt.mss;
    tcb.wscale_ok = s.opt.wscale >= 0 && tcb.wscale_ok;
    if (tcb.wscale_ok)
        tcb.snd_wscale = static_cast<uint8_t>(s.opt.wscale);
    else
        tcb.rcv_wscale = 0;
    tcb.ts_ok = s.opt.ts && tcb.ts_ok;
    if (tcb.ts_ok) {
        tcb.ts_recent = s.opt.ts_val;
        tcb.ts_recent_age = monotonic_ns();
    }
    tcb.sack_ok = s.opt.sack_ok && tcb.sack_ok;
}

void set_mss(Tcb& tcb) AK_REQUIRES(net_lock()) {
    uint32_t mtu = 1500;
    if (auto r = route_lookup(tcb.t.faddr, tcb.bound_ifindex); r.ok())
        mtu = r.value().ifp->m_mtu;
    uint32_t m = min(tcb.peer_mss, mtu - 40);
    if (tcb.ts_ok)
        m -= 12; // RFC 7323 §4: options reduce the payload per segment
    tcb.mss = max<uint32_t>(m, 64);
    // RFC 5681 §3.1 initial window, as RFC 6928 (IW10) like Linux.
    tcb.cwnd = 10 * tcb.mss;
}

void established(Tcb& tcb) AK_REQUIRES(net_lock()) {
    tcb.state = State::Established;
    tcb.retries = 0;
    tcb.t_rexmt = 0;
    if (tcb.keepalive)
        tcb.t_keep = monotonic_ns() + tcb.keep_idle;
}

// A SYN for listener l (RFC 9293 §3.10.7.2).
void listen_input(Tcb& l, const IpInfo& ip, const TcpSegment& s) AK_REQUIRES(net_lock()) {
    if (s.flags & k_rst)
        return;
    if (s.flags & k_ack) {
        send_reset(ip, s);
        return;
    }
    if (!(s.flags & k_syn))
        return;
    if (ip.broadcast || ipv4_is_multicast(ip.dst))
        return;
    // SYN backlog limits: the listener's own queue and a global cap on
    // half-open connections bound the memory a SYN flood can take.
    size_t limit = static_cast<size_t>(max(l.backlog, 16));
    if (l.embryos.size() + l.acceptq.size() >= limit || g_embryonic >= k_max_embryonic_global) {
        g_stats.syn_dropped_backlog++;
        return;
    }
    auto nt = try_make_ref<Tcb>();
    if (nt.is_error())
        return;
    RefPtr<Tcb> c = nt.release_value();
    c->t = FourTuple{ip.dst, ip.src, s.dport, s.sport};
    c->rcv_limit = l.rcv_limit;
    c->snd_limit = l.snd_limit;
    c->rcv_wscale = choose_wscale(c->rcv_limit);
    c->wscale_ok = c->ts_ok = c->sack_ok = true;
    c->nodelay = l.nodelay;
    c->keepalive = l.keepalive;
    c->keep_idle = l.keep_idle;
    c->keep_intvl = l.keep_intvl;
    c->keep_cnt = l.keep_cnt;
    c->ttl = l.ttl;
    c->bound_ifindex = l.bound_ifindex;
    init_from_syn(*c, s);
    c->iss = make_isn(c->t);
    c->recover = c->iss; // RFC 6582 §3.2: initialised to the ISS
    c->snd_una = c->iss;
    c->snd_nxt = c->iss + 1;
    c->snd_max = c->snd_nxt;
    c->snd_wnd = s.wnd; // never scaled in a SYN (RFC 7323 §2.2)
    c->max_snd_wnd = c->snd_wnd;
    c->snd_wl1 = s.seq;
    c->snd_wl2 = c->iss;
    c->state = State::SynReceived;
    c->listener = &l;
    set_mss(*c);
    table_insert(*c);
    l.embryos.push_back(*c);
    g_embryonic++;
    g_stats.passive_opens++;
    send_segment(*c, c->iss, k_syn | k_ack, 0, 0);
    start_rexmt(*c);
    arm_timers(*c);
}

// Data for the receive side (RFC 9293 §3.10.7.4 seventh step): in order to
// the ring, out of order to the reassembly queue.
void receive_data(Tcb& tcb, const TcpSegment& s, RefPtr<PacketBuffer>& pkt)
    AK_REQUIRES(net_lock()) {
    uint32_t seq = s.seq;
    const uint8_t* data = s.payload;
    size_t len = s.len;
    // Trim what we already have.
    if (seq_lt(seq, tcb.rcv_nxt)) {
        uint32_t skip = tcb.rcv_nxt - seq;
        if (skip >= len) {
            tcb.ack_now = true; // a duplicate: ACK it (RFC 9293 §3.10.7.4)
            return;
        }
        seq += skip;
        data += skip;
        len -= skip;
    }
    // Trim to the window.
    size_t space = tcb.rcv_space();
    uint32_t wnd_end =
        tcb.rcv_nxt + uint32_t(max<size_t>(space, size_t(tcb.rcv_adv - tcb.rcv_nxt)));
    if (seq_geq(seq, wnd_end)) {
        tcb.ack_now = true;
        return;
    }
    if (seq_gt(seq + uint32_t(len), wnd_end))
        len = wnd_end - seq;
    if (tcb.shut_rd) {
        // SHUT_RD: data is acknowledged and dropped.
        tcb.rcv_nxt = seq_max(tcb.rcv_nxt, seq + uint32_t(len));
        tcb.ack_now = true;
        return;
    }
    if (seq == tcb.rcv_nxt) {
        tcb.rcvbuf.reserve(tcb.rcvbuf.size() + len, tcb.rcv_limit);
        size_t n = tcb.rcvbuf.append(data, len);
        tcb.rcv_nxt += uint32_t(n);
        // Pull in queued segments that are now in order.
        bool had_ooo = !tcb.ooo.empty();
        while (!tcb.ooo.empty()) {
            RefPtr<PacketBuffer> q = tcb.ooo.pop();
            uint32_t qs = q->m_seq, qe = qs + uint32_t(q->size());
            if (seq_gt(qs, tcb.rcv_nxt)) {
                // Still a hole: put it back at the front.
                PacketQueue rest;
                rest.push(move(q));
                while (RefPtr<PacketBuffer> r = tcb.ooo.pop())
                    rest.push(move(r));
                while (RefPtr<PacketBuffer> r = rest.pop())
                    tcb.ooo.push(move(r));
                break;
            }
            if (seq_leq(qe, tcb.rcv_nxt))
                continue;
            uint32_t skip = tcb.rcv_nxt - qs;
            tcb.rcvbuf.reserve(tcb.rcvbuf.size() + q->size() - skip, tcb.rcv_limit);
            tcb.rcv_nxt += uint32_t(tcb.rcvbuf.append(q->data() + skip, q->size() - skip));
        }
        if (had_ooo)
            tcb.ack_now = true; // filling a hole: ACK at once (RFC 5681 §4.2)
        tcb.unacked_segments++;
        if (tcb.unacked_segments >= 2 || n < len)
            tcb.ack_now = true; // every second full-sized segment (RFC 1122 §4.2.3.2)
        else if (!tcb.t_delack)
            tcb.t_delack = monotonic_ns() + k_delack;
        tcb.notify(POLLIN | POLLRDNORM);
        return;
    }
    // Out of order: keep a copy of the in-window part; ACK at once so the
    // sender sees a duplicate ACK (RFC 5681 §4.2).
    tcb.ack_now = true;
    if (tcb.ooo.size() >= k_ooo_max_segments)
        return;
    size_t queued = 0;
    {
        PacketQueue tmp;
        while (RefPtr<PacketBuffer> q = tcb.ooo.pop()) {
            queued += q->size();
            tmp.push(move(q));
        }
        while (RefPtr<PacketBuffer> q = tmp.pop())
            tcb.ooo.push(move(q));
    }
    if (queued + tcb.rcvbuf.size() + len > tcb.rcv_limit)
        return;
    auto c = PacketBuffer::copy_of(ReadonlyBytes(data, len), 0);
    if (c.is_error())
        return;
    RefPtr<PacketBuffer> seg = c.release_value();
    seg->m_seq = seq;
    // Insert sorted by sequence number; drop exact duplicates.
    PacketQueue out;
    bool inserted = false;
    while (RefPtr<PacketBuffer> q = tcb.ooo.pop()) {
        if (!inserted && seq_lt(seq, q->m_seq)) {
            out.push(move(seg));
            inserted = true;
        } else if (!inserted && q->m_seq == seq && q->size() >= len) {
            inserted = true; // duplicate
        }
        out.push(move(q));
    }
    if (!inserted)
        out.push(move(seg));
    while (RefPtr<PacketBuffer> q = out.pop())
        tcb.ooo.push(move(q));
    (void)pkt;
}

void enter_time_wait(Tcb& tcb) AK_REQUIRES(net_lock()) {
    tcb.state = State::TimeWait;
    g_stats.time_wait++;
    tcb.t_rexmt = tcb.t_persist = tcb.t_keep = tcb.t_delack = 0;
    tcb.t_2msl = monotonic_ns() + 2 * g_msl;
    tcb.sndbuf.consume(tcb.sndbuf.size());
    tcb.sndbuf.release_if_empty();
    tcb.notify(POLLIN | POLLOUT | POLLHUP | POLLRDHUP);
}

void drop_with_error(Tcb& tcb, int err) AK_REQUIRES(net_lock()) {
    tcb.error = err;
    if (tcb.state == State::Established || tcb.state == State::CloseWait)
        g_stats.estab_resets++;
    tcb_close(tcb);
}

// Segment for an existing connection (RFC 9293 §3.10.7.4).
void tcb_input(Tcb& tcb, const IpInfo& ip, const TcpSegment& s, RefPtr<PacketBuffer>& pkt)
    AK_REQUIRES(net_lock()) {
    int64_t now = monotonic_ns();
    if (tcb.state == State::SynSent) {
        // RFC 9293 §3.10.7.3.
        if (s.flags & k_ack) {
            if (seq_leq(s.ack, tcb.iss) || seq_gt(s.ack, tcb.snd_max)) {
                if (!(s.flags & k_rst))
                    send_reset(ip, s);
                return;
            }
        }
        if (s.flags & k_rst) {
            if (s.flags & k_ack)
                drop_with_error(tcb, ECONNREFUSED);
            return;
        }
        if (!(s.flags & k_syn))
            return;
        init_from_syn(tcb, s);
        set_mss(tcb);
        if (s.flags & k_ack) {
            tcb.snd_una = s.ack;
            tcb.snd_wnd = uint32_t(s.wnd) << tcb.snd_wscale;
            tcb.max_snd_wnd = tcb.snd_wnd;
            tcb.snd_wl1 = s.seq;
            tcb.snd_wl2 = s.ack;
            if (tcb.ts_ok && s.opt.ts_ecr)
                rtt_sample(tcb, (int64_t(ts_now() - s.opt.ts_ecr)) * k_ms);
            else if (tcb.rtt_timing)
                rtt_sample(tcb, now - tcb.rtt_start);
            tcb.rtt_timing = false;
            established(tcb);
            tcb.ack_now = true;
            tcb.notify(POLLOUT | POLLWRNORM);
            tcp_output(tcb);
        } else {
            // Simultaneous open (RFC 9293 §3.10.7.3 fourth step).
            tcb.state = State::SynReceived;
            send_segment(tcb, tcb.iss, k_syn | k_ack, 0, 0);
            start_rexmt(tcb);
            arm_timers(tcb);
        }
        return;
    }

    // First: sequence acceptability (RFC 9293 §3.10.7.4 table).
    uint32_t rwnd =
        static_cast<uint32_t>(max<size_t>(tcb.rcv_space(), size_t(tcb.rcv_adv - tcb.rcv_nxt)));
    uint32_t slen = s.seg_len();
    bool acceptable;
    if (slen == 0)
        acceptable = rwnd == 0 ? s.seq == tcb.rcv_nxt
                               : seq_leq(tcb.rcv_nxt, s.seq) && seq_lt(s.seq, tcb.rcv_nxt + rwnd);
    else
        acceptable =
            rwnd != 0 && ((seq_leq(tcb.rcv_nxt, s.seq) && seq_lt(s.seq, tcb.rcv_nxt + rwnd)) ||
                          (seq_leq(tcb.rcv_nxt, s.seq + slen - 1) &&
                           seq_lt(s.seq + slen - 1, tcb.rcv_nxt + rwnd)));
    // RFC 7323 §5.3 PAWS: a timestamp older than ts_recent is a duplicate.
    if (tcb.ts_ok && s.opt.ts && !(s.flags & k_rst) && seq_lt(s.opt.ts_val, tcb.ts_recent) &&
        now - tcb.ts_recent_age < 24LL * 24 * 3600 * 1000 * k_ms)
        acceptable = false;
    if (tcb.state == State::TimeWait && (s.flags & k_syn) && !(s.flags & k_ack) &&
        seq_gt(s.seq, tcb.rcv_nxt)) {
        // A new incarnation (RFC 9293 §3.6.1 / RFC 6191): end TIME_WAIT and
        // let the listener take the SYN.
        tcb_close(tcb);
        if (Tcb* l = listener_lookup(ip.dst, s.dport, ip.ifindex))
            listen_input(*l, ip, s);
        return;
    }
    if (!acceptable) {
        if (!(s.flags & k_rst))
            tcb.ack_now = true;
        tcp_output(tcb);
        return;
    }
    // Second: RST (RFC 5961 §3.2): exact match resets, otherwise in-window
    // gets a challenge ACK.
    if (s.flags & k_rst) {
        if (s.seq != tcb.rcv_nxt) {
            challenge_ack(tcb);
            return;
        }
        if (tcb.state == State::SynReceived && tcb.listener) {
            tcb_close(tcb); // back to LISTEN for the listener: just drop it
            return;
        }
        int err = tcb.state == State::SynReceived ? ECONNREFUSED
                  : (tcb.state == State::CloseWait || tcb.state == State::Established ||
                     tcb.state == State::FinWait1 || tcb.state == State::FinWait2)
                      ? ECONNRESET
                      : 0;
        if (tcb.state == State::TimeWait || tcb.state == State::Closing ||
            tcb.state == State::LastAck)
            err = 0;
        drop_with_error(tcb, err);
        return;
    }
    // Fourth: SYN in a synchronized state: challenge ACK (RFC 5961 §4.2).
    if (s.flags & k_syn) {
        if (tcb.state == State::SynReceived && s.seq == tcb.irs) {
            // Our SYN-ACK was lost: resend it.
            send_segment(tcb, tcb.iss, k_syn | k_ack, 0, 0);
            return;
        }
        challenge_ack(tcb);
        return;
    }
    // Fifth: ACK.
    if (!(s.flags & k_ack))
        return;
    // RFC 5961 §5.2: the ACK must be within [snd_una - max_snd_wnd, snd_max]
    // (SND.MAX + 1 after a zero-window probe).
    uint32_t ack_limit = tcb.snd_max + (tcb.probe_out ? 1 : 0);
    if (seq_gt(s.ack, ack_limit) || seq_lt(s.ack, tcb.snd_una - tcb.max_snd_wnd)) {
        challenge_ack(tcb);
        return;
    }
    // Timestamps: remember the peer's value for echoing (RFC 7323 §4.3).
    if (tcb.ts_ok && s.opt.ts && seq_leq(s.seq, tcb.last_ack_sent)) {
        tcb.ts_recent = s.opt.ts_val;
        tcb.ts_recent_age = now;
    }
    if (tcb.state == State::SynReceived) {
        if (seq_gt(s.ack, tcb.snd_una) && seq_leq(s.ack, tcb.snd_max)) {
            tcb.snd_una = s.ack;
            tcb.snd_wnd = uint32_t(s.wnd) << tcb.snd_wscale;
            tcb.max_snd_wnd = max(tcb.max_snd_wnd, tcb.snd_wnd);
            tcb.snd_wl1 = s.seq;
            tcb.snd_wl2 = s.ack;
            if (tcb.ts_ok && s.opt.ts_ecr)
                rtt_sample(tcb, (int64_t(ts_now() - s.opt.ts_ecr)) * k_ms);
            established(tcb);
            if (Tcb* l = tcb.listener) {
                l->embryos.remove(tcb);
                g_embryonic--;
                tcb.ref(); // the accept queue's reference
                l->acceptq.push_back(tcb);
                l->notify(POLLIN | POLLRDNORM);
            }
        } else {
            send_reset(ip, s);
            return;
        }
    }
    if (tcb.sack_ok && s.opt.nsack) {
        sack_prune(tcb);
        for (int i = 0; i < s.opt.nsack; i++)
            sack_add(tcb, s.opt.sack[i][0], s.opt.sack[i][1]);
    }
    uint32_t acked = 0;
    if (seq_gt(s.ack, tcb.snd_una)) {
        acked = s.ack - tcb.snd_una;
        // RTT sample: timestamps (RFC 7323 §4.1) or the timed segment.
        if (tcb.ts_ok && s.opt.ts && s.opt.ts_ecr)
            rtt_sample(tcb, (int64_t(ts_now() - s.opt.ts_ecr)) * k_ms);
        else if (tcb.rtt_timing && seq_gt(s.ack, tcb.rtt_seq)) {
            rtt_sample(tcb, now - tcb.rtt_start);
            tcb.rtt_timing = false;
        }
        size_t data_acked = min<size_t>(acked, tcb.sndbuf.size());
        tcb.sndbuf.consume(data_acked);
        tcb.snd_una = s.ack;
        if (seq_lt(tcb.snd_nxt, tcb.snd_una))
            tcb.snd_nxt = tcb.snd_una;
        if (seq_gt(tcb.snd_una, tcb.snd_max))
            tcb.snd_max = tcb.snd_una; // the probe byte was taken
        tcb.probe_out = false;
        sack_prune(tcb);
        tcb.retries = 0;
        tcb.tlp_sent = false;
        tcb.persist_shift = 0;
        if (tcb.in_recovery) {
            if (seq_geq(s.ack, tcb.recover)) {
                // Full acknowledgement (RFC 6582 §3.2 step 3, option 1:
                // option 2's FlightSize + SMSS collapses the window to one
                // segment, which then waits out the peer's delayed ACK).
                tcb.cwnd = tcb.ssthresh;
                tcb.in_recovery = false;
                tcb.dupacks = 0;
            } else {
                // Partial acknowledgement: retransmit the next hole, deflate.
                retransmit_holes(tcb, 1);
                tcb.cwnd = tcb.cwnd > acked ? tcb.cwnd - acked : 0;
                tcb.cwnd += tcb.mss;
                start_rexmt(tcb);
            }
        } else {
            tcb.dupacks = 0;
            cc_on_ack(tcb, acked);
        }
        // RFC 6298 §5.2/5.3: restart or stop the retransmission timer.
        if (tcb.snd_una == tcb.snd_max)
            tcb.t_rexmt = 0;
        else
            start_rexmt(tcb);
        arm_tlp(tcb);
        // Wake a writer only once a useful part of the buffer is free (the
        // rule poll uses), not for every ACK: one wakeup then moves a
        // large write instead of a segment or two (cf. Linux's
        // sk_stream_write_space).
        if (send_space_ok(tcb))
            tcb.notify(POLLOUT | POLLWRNORM);
    } else if (s.ack == tcb.snd_una && s.len == 0 && !(s.flags & k_fin) && tcb.flight() > 0 &&
               ((uint32_t(s.wnd) << tcb.snd_wscale) == tcb.snd_wnd ||
                (tcb.sack_ok && s.opt.has_sack))) {
        // Duplicate ACK (RFC 5681 §2 definition; an ACK carrying new SACK
        // information counts even if the window moved, as RFC 6675 §2).
        tcb.dupacks++;
        if (tcb.in_recovery) {
            tcb.cwnd += tcb.mss; // RFC 6582 §3.2 step 4
            uint32_t before = tcb.rexmt_next;
            retransmit_holes(tcb, 1);
            // Nothing left to repair yet duplicate ACKs keep coming: a
            // retransmission was lost.  Start over from snd_una after
            // DupThresh more of them instead of waiting for the RTO (the
            // idea of RACK, RFC 8985, in its simplest form).
            if (tcb.rexmt_next == before) {
                if (++tcb.stuck_dupacks >= 3) {
                    tcb.stuck_dupacks = 0;
                    tcb.rexmt_next = tcb.snd_una;
                    retransmit_holes(tcb, 1);
                }
            } else {
                tcb.stuck_dupacks = 0;
            }
        } else if ((tcb.dupacks >= 3 || sacked_bytes(tcb) >= 3 * tcb.mss) &&
                   seq_gt(s.ack, tcb.recover)) {
            // RFC 5681 §3.2 / RFC 6675 §5 (IsLost: DupThresh segments SACKed).
            enter_recovery(tcb);
            tcb.rexmt_next = tcb.snd_una;
            retransmit_holes(tcb, 1);
            start_rexmt(tcb);
        }
    }
    // Window update (RFC 9293 §3.10.7.4 fifth step).
    if (seq_lt(tcb.snd_wl1, s.seq) || (tcb.snd_wl1 == s.seq && seq_leq(tcb.snd_wl2, s.ack))) {
        tcb.snd_wnd = uint32_t(s.wnd) << tcb.snd_wscale;
        tcb.max_snd_wnd = max(tcb.max_snd_wnd, tcb.snd_wnd);
        tcb.snd_wl1 = s.seq;
        tcb.snd_wl2 = s.ack;
        if (tcb.snd_wnd) {
            tcb.t_persist = 0;
            tcb.persist_probes = 0;
        }
    }
    bool fin_acked = tcb.fin_sent && tcb.snd_una == tcb.snd_max && tcb.sndbuf.size() == 0;
    switch (tcb.state) {
    case State::FinWait1:
        if (fin_acked) {
            tcb.state = State::FinWait2;
            if (tcb.orphan)
                tcb.t_2msl = now + k_fin_wait2_orphan;
        }
        break;
    case State::Closing:
        if (fin_acked) {
            enter_time_wait(tcb);
            arm_timers(tcb);
            return;
        }
        break;
    case State::LastAck:
        if (fin_acked) {
            tcb_close(tcb);
            return;
        }
        break;
    case State::TimeWait:
        // A retransmitted FIN: ACK it and restart the 2 MSL timer.
        if (s.flags & k_fin) {
            tcb.t_2msl = now + 2 * g_msl;
            send_ack(tcb);
            arm_timers(tcb);
        }
        return;
    default:
        break;
    }
    // Seventh: data.
    if (s.len > 0 && (tcb.state == State::Established || tcb.state == State::FinWait1 ||
                      tcb.state == State::FinWait2))
        receive_data(tcb, s, pkt);
    // Eighth: FIN, once everything before it arrived.
    if ((s.flags & k_fin) && s.seq + uint32_t(s.len) == tcb.rcv_nxt && !tcb.peer_fin) {
        tcb.rcv_nxt++;
        tcb.peer_fin = true;
        tcb.ack_now = true;
        tcb.notify(POLLIN | POLLRDNORM | POLLRDHUP);
        switch (tcb.state) {
        case State::SynReceived:
        case State::Established:
            tcb.state = State::CloseWait;
            break;
        case State::FinWait1:
            if (fin_acked)
                enter_time_wait(tcb);
            else
                tcb.state = State::Closing;
            break;
        case State::FinWait2:
            enter_time_wait(tcb);
            break;
        default:
            break;
        }
    }
    if (tcb.keepalive && tcb.state == State::Established) {
        tcb.t_keep = now + tcb.keep_idle;
        tcb.keep_probes = 0;
    }
    tcp_output(tcb);
}

void tcb_timer(void* arg) {
    auto* tcb = static_cast<Tcb*>(arg);
    {
        NetGuard g;
        // The reference of the arming that started this callback is ours.
        int64_t now = monotonic_ns();
        if (tcb->state != State::Closed) {
            if (tcb->t_2msl && tcb->t_2msl <= now) {
                tcb->t_2msl = 0;
                if (tcb->state == State::TimeWait || tcb->state == State::FinWait2)
                    tcb_close(*tcb);
            }
            if (tcb->state != State::Closed && tcb->t_rexmt && tcb->t_rexmt <= now) {
                tcb->t_rexmt = 0;
                tcb->retries++;
                int limit = tcb->state == State::SynSent       ? k_max_syn_retries
                            : tcb->state == State::SynReceived ? k_max_synack_retries
                                                               : k_max_retries;
                if (tcb->retries > limit) {
                    drop_with_error(*tcb, ETIMEDOUT);
                } else {
                    // RFC 6298 §5.5-5.7: back off, RFC 5681 §3.1 eq. (4):
                    // ssthresh = max(FlightSize/2, 2*SMSS), cwnd = 1 SMSS.
                    tcb->rto = min(tcb->rto * 2, k_rto_max);
                    g_stats.retrans++;
                    tcb->rtt_timing = false;
                    if (tcb->state == State::SynSent) {
                        send_segment(*tcb, tcb->iss, k_syn, 0, 0);
                    } else if (tcb->state == State::SynReceived) {
                        send_segment(*tcb, tcb->iss, k_syn | k_ack, 0, 0);
                    } else {
                        tcb->ssthresh = max(tcb->flight() / 2, 2 * tcb->mss);
                        tcb->cwnd = tcb->mss;
                        tcb->in_recovery = false;
                        tcb->dupacks = 0;
                        tcb->recover = tcb->snd_max;
                        tcb->snd_nxt = tcb->snd_una; // go back N
                        if (tcb->fin_sent && tcb->sndbuf.size() == 0) {
                            send_segment(*tcb, tcb->snd_una, k_fin | k_ack, 0, 0);
                            tcb->snd_nxt = tcb->snd_una + 1;
                        } else {
                            tcp_output(*tcb);
                        }
                    }
                    if (tcb->state != State::Closed)
                        start_rexmt(*tcb);
                }
            }
            if (tcb->state != State::Closed && tcb->t_tlp && tcb->t_tlp <= now) {
                tcb->t_tlp = 0;
                uint32_t flight = tcb->flight();
                size_t buffered = tcb->sndbuf.size();
                if (flight > 0 && !tcb->in_recovery && !tcb->tlp_sent && buffered > 0) {
                    // Retransmit the last segment sent (RFC 8985 §7.3).
                    size_t end = min<size_t>(flight, buffered);
                    size_t len = min<size_t>(end, tcb->mss);
                    tcb->tlp_sent = true;
                    g_stats.retrans++;
                    send_segment(*tcb, tcb->snd_una + uint32_t(end - len), k_ack, end - len, len);
                }
            }
            if (tcb->state != State::Closed && tcb->t_persist && tcb->t_persist <= now) {
                // Zero-window probe: one byte beyond the window
                // (RFC 9293 §3.8.6.1).
                tcb->t_persist = 0;
                size_t off = tcb->snd_nxt - tcb->snd_una;
                if (tcb->snd_wnd == 0 && tcb->sndbuf.size() > off && tcb->orphan &&
                    ++tcb->persist_probes > k_orphan_persist_max) {
                    send_rst_for(*tcb);
                    drop_with_error(*tcb, ETIMEDOUT);
                } else if (tcb->snd_wnd == 0 && tcb->sndbuf.size() > off) {
                    send_segment(*tcb, tcb->snd_nxt, k_ack, off, 1);
                    tcb->probe_out = tcb->snd_nxt == tcb->snd_max;
                    tcb->persist_shift = min(tcb->persist_shift + 1, 8);
                    int64_t d = min<int64_t>(
                        max<int64_t>(tcb->rto, k_persist_min) << tcb->persist_shift, k_persist_max);
                    tcb->t_persist = now + d;
                }
            }
            if (tcb->state != State::Closed && tcb->t_delack && tcb->t_delack <= now) {
                tcb->t_delack = 0;
                send_ack(*tcb);
            }
            if (tcb->state != State::Closed && tcb->t_keep && tcb->t_keep <= now) {
                tcb->t_keep = 0;
                if (tcb->keepalive && tcb->state == State::Established) {
                    if (tcb->keep_probes >= tcb->keep_cnt) {
                        drop_with_error(*tcb, ETIMEDOUT);
                    } else {
                        // RFC 1122 §4.2.3.6: SEG.SEQ = SND.NXT - 1, no data.
                        tcb->keep_probes++;
                        send_segment(*tcb, tcb->snd_una - 1, k_ack, 0, 0);
                        tcb->t_keep = now + tcb->keep_intvl;
                    }
                }
            }
            if (tcb->state != State::Closed)
                arm_timers(*tcb);
        }
        tcb->unref();
    }
}

uint32_t tcb_poll(Tcb& tcb) AK_REQUIRES(net_lock()) {
    uint32_t r = 0;
    if (tcb.state == State::Listen) {
        if (!tcb.acceptq.empty())
            r |= POLLIN | POLLRDNORM;
        return r;
    }
    if (tcb.rcvbuf.size() > 0 || tcb.peer_fin || tcb.shut_rd)
        r |= POLLIN | POLLRDNORM;
    if (tcb.peer_fin)
        r |= POLLRDHUP;
    bool connected = tcb.state == State::Established || tcb.state == State::CloseWait;
    if (connected && !tcb.fin_queued && send_space_ok(tcb))
        r |= POLLOUT | POLLWRNORM;
    if (tcb.error)
        r |= POLLERR;
    if (tcb.state == State::Closed || (tcb.fin_queued && tcb.peer_fin))
        r |= POLLHUP;
    if (tcb.state == State::Closed && tcb.error)
        r |= POLLIN | POLLOUT;
    return r;
}

// --- The socket -------------------------------------------------------------------------

class TcpSocket final : public Socket {
public:
    TcpSocket(RefPtr<Tcb> tcb, int flags)
        : Socket(k_af_inet, k_sock_stream, k_proto_tcp, flags), m_tcb(move(tcb)) {}
    ~TcpSocket() override;

    Result<void> bind(const SockAddr& addr) override;
    Result<void> listen(int backlog) override;
    Result<RefPtr<Socket>> accept(int flags) override;
    Result<void> connect(const SockAddr& addr) override;
    Result<size_t> sendmsg(Uio& uio, const SockAddr* to, int flags) override;
    Result<size_t> recvmsg(Uio& uio, SockAddr* from, int flags, int* msg_flags) override;
    Result<void> shutdown(int how) override;
    Result<void> getsockname(SockAddr& out) override;
    Result<void> getpeername(SockAddr& out) override;
    Result<void> set_option(int level, int name, const void* val, uint32_t len) override;
    Result<uint32_t> get_option(int level, int name, void* val, uint32_t len) override;
    Result<long> protocol_ioctl(unsigned long cmd, void* arg) override {
        return if_ioctl(cmd, arg);
    }
    uint32_t poll(uint32_t events, PollTable* pt) override;
    size_t readable_bytes() override {
        NetGuard g;
        return m_tcb->rcvbuf.size();
    }
    size_t unsent_bytes() override {
        NetGuard g;
        return m_tcb->sndbuf.size();
    }

protected:
    void buffer_sizes_changed() override {
        NetGuard g;
        // Before the connection: shapes the window scale we offer.
        if (m_tcb->state == State::Closed || m_tcb->state == State::Listen) {
            m_tcb->rcv_limit = max<size_t>(rcvbuf(), 4096);
            m_tcb->snd_limit = max<size_t>(sndbuf(), 4096);
        } else {
            m_tcb->snd_limit = max<size_t>(sndbuf(), 4096);
        }
    }

private:
    Result<void> autobind(Ipv4 laddr, Ipv4 faddr, uint16_t fport) AK_REQUIRES(net_lock());
    RefPtr<Tcb> m_tcb;
    bool m_bound = false;
    bool m_buffers_set = false;
    bool m_connect_started = false;
};

bool port_busy(Ipv4 laddr, uint16_t port, bool reuse) AK_REQUIRES(net_lock()) {
    for (auto& c : *g_all) {
        if (c.t.lport != port)
            continue;
        if (c.t.laddr && laddr && c.t.laddr != laddr)
            continue;
        // SO_REUSEADDR lets a listener bind over TIME_WAIT (and other
        // non-listening) connections, as on Linux.
        if (reuse && c.state != State::Listen)
            continue;
        if (reuse && c.reuse && c.state == State::Listen)
            return true;
        return true;
    }
    return false;
}

Result<void> TcpSocket::autobind(Ipv4 laddr, Ipv4 faddr, uint16_t fport) {
    uint32_t range = k_port_last_ephemeral - k_port_first_ephemeral + 1;
    uint32_t start = static_cast<uint32_t>(net_random() % range);
    for (uint32_t i = 0; i < range; i++) {
        uint16_t p = static_cast<uint16_t>(k_port_first_ephemeral + (start + i) % range);
        bool busy = false;
        if (faddr) {
            // Connecting: only the full 4-tuple must be unique, but keep
            // clear of listeners.
            busy = table_lookup(FourTuple{laddr, faddr, p, fport}) != nullptr;
            for (auto& l : *g_listeners)
                if (l.t.lport == p)
                    busy = true;
        } else {
            busy = port_busy(laddr, p, false);
        }
        if (!busy) {
            m_tcb->t.lport = p;
            m_tcb->t.laddr = laddr;
            m_bound = true;
            return {};
        }
    }
    (void)g_next_port;
    return EADDRNOTAVAIL;
}

TcpSocket::~TcpSocket() {
    Tcb& tcb = *m_tcb;
    int linger = this->linger();
    NetGuard g;
    tcb.orphan = true;
    switch (tcb.state) {
    case State::Closed:
        tcb_close(tcb);
        return;
    case State::Listen: {
        // Reset everything not yet accepted.
        while (Tcb* e = tcb.embryos.first()) {
            send_rst_for(*e);
            tcb_close(*e);
        }
        while (Tcb* a = tcb.acceptq.first()) {
            send_rst_for(*a);
            a->orphan = true;
            tcb_close(*a);
        }
        tcb_close(tcb);
        return;
    }
    case State::SynSent:
        tcb_close(tcb);
        return;
    default:
        break;
    }
    // RFC 2525 §2.17 / Linux: closing with unread data, or SO_LINGER 0,
    // resets the connection.
    if (tcb.rcvbuf.size() > 0 || linger == 0) {
        if (tcb.state != State::TimeWait) {
            send_rst_for(tcb);
            tcb_close(tcb);
        }
        return;
    }
    if (!tcb.fin_queued && (tcb.state == State::Established || tcb.state == State::CloseWait ||
                            tcb.state == State::SynReceived)) {
        tcb.fin_queued = true;
        tcp_output(tcb);
    }
    if (tcb.state == State::FinWait2)
        tcb.t_2msl = monotonic_ns() + k_fin_wait2_orphan;
    arm_timers(tcb);
    if (linger > 0) {
        // SO_LINGER: wait until everything was acknowledged or time runs
        // out.  Then what is still unacknowledged will not be delivered
        // within the time the application allowed: reset the connection
        // (as Windows does and the issue asks; Linux lets the orphan go on,
        // where a peer that never reads keeps it forever).
        int64_t deadline = monotonic_ns() + int64_t(linger) * k_ns_per_sec;
        auto done = [&]() AK_REQUIRES(net_lock()) {
            return tcb.state == State::Closed || tcb.state == State::TimeWait ||
                   tcb.state == State::FinWait2 || (tcb.fin_sent && tcb.snd_una == tcb.snd_max);
        };
        Result<void> w;
        while (!done()) {
            w = net_wait(tcb.cv, deadline);
            if (w.is_error())
                break;
        }
        if (!done() && w.is_error() && w.error() == ETIMEDOUT) {
            send_rst_for(tcb);
            drop_with_error(tcb, ETIMEDOUT);
        }
    }
}

Result<void> TcpSocket::bind(const SockAddr& addr) {
    Ipv4 a;
    uint16_t port;
    TRY(sockaddr_to_inet(addr, a, port));
    NetGuard g;
    if (m_bound || m_tcb->state != State::Closed)
        return EINVAL;
    if (a && !ip_is_local_address(a))
        return EADDRNOTAVAIL;
    bool reuse = option(k_opt_reuseaddr) || option(k_opt_reuseport);
    m_tcb->reuse = reuse;
    if (port == 0)
        return autobind(a, 0, 0);
    if (port_busy(a, port, reuse))
        return EADDRINUSE;
    m_tcb->t.laddr = a;
    m_tcb->t.lport = port;
    m_bound = true;
    return {};
}

Result<void> TcpSocket::listen(int backlog) {
    NetGuard g;
    Tcb& tcb = *m_tcb;
    if (tcb.state == State::Listen) {
        tcb.backlog = backlog;
        return {};
    }
    if (tcb.state != State::Closed || tcb.in_table)
        return EINVAL;
    if (!m_bound)
        TRY(autobind(0, 0, 0));
    for (auto& l : *g_listeners)
        if (l.t.lport == tcb.t.lport && (!l.t.laddr || !tcb.t.laddr || l.t.laddr == tcb.t.laddr))
            return EADDRINUSE;
    tcb.backlog = backlog;
    tcb.state = State::Listen;
    tcb.bound_ifindex = bound_ifindex();
    tcb.keepalive = option(k_opt_keepalive);
    table_insert(tcb);
    return {};
}

Result<RefPtr<Socket>> TcpSocket::accept(int flags) {
    int64_t deadline = recv_deadline();
    NetGuard g;
    Tcb& l = *m_tcb;
    for (;;) {
        if (l.state != State::Listen)
            return EINVAL;
        if (Tcb* c = l.acceptq.pop_front()) {
            RefPtr<Tcb> conn = adopt_ref(c); // the accept queue's reference
            c->accepted = true;
            c->listener = nullptr;
            auto* s = make<TcpSocket>(conn, flags);
            if (!s) {
                send_rst_for(*c);
                tcb_close(*c);
                return ENOBUFS;
            }
            s->m_bound = true;
            RefPtr<Socket> sock = adopt_ref<Socket>(s);
            // Inherit socket options from the listener (Linux).
            if (option(k_opt_keepalive)) {
                int one = 1;
                (void)sock->setsockopt(k_sol_socket, k_so_keepalive, &one, sizeof one);
            }
            return sock;
        }
        if (nonblocking())
            return EAGAIN;
        Result<void> r = net_wait(l.cv, deadline);
        if (r.is_error())
            return r.error() == ETIMEDOUT ? Error{EAGAIN} : Error{r.error()};
    }
}

Result<void> TcpSocket::connect(const SockAddr& addr) {
    Ipv4 a;
    uint16_t port;
    TRY(sockaddr_to_inet(addr, a, port));
    if (port == 0)
        return ECONNREFUSED;
    int64_t deadline = send_deadline();
    NetGuard g;
    Tcb& tcb = *m_tcb;
    switch (tcb.state) {
    case State::Closed:
        if (tcb.error) {
            int e = tcb.error;
            tcb.error = 0;
            // A failed earlier attempt: report it once, then allow retry.
            if (tcb.in_table || m_connect_started)
                return Error{e};
        }
        break;
    case State::SynSent:
    case State::SynReceived:
        return EALREADY;
    case State::Listen:
        return EISCONN;
    default:
        return EISCONN;
    }
    if (m_connect_started)
        return ECONNABORTED;
    if (!a)
        a = k_inaddr_loopback; // Linux: INADDR_ANY means this host
    if (a == k_inaddr_broadcast || ipv4_is_multicast(a))
        return ENETUNREACH;
    RouteResult r = TRY(route_lookup(a, bound_ifindex()));
    Ipv4 laddr = tcb.t.laddr ? tcb.t.laddr : r.src;
    if (!laddr)
        return EADDRNOTAVAIL;
    if (!m_bound)
        TRY(autobind(laddr, a, port));
    tcb.t.laddr = laddr;
    tcb.t.faddr = a;
    tcb.t.fport = port;
    if (table_lookup(tcb.t))
        return EADDRINUSE;
    tcb.bound_ifindex = bound_ifindex();
    tcb.keepalive = option(k_opt_keepalive);
    tcb.rcv_limit = max<size_t>(m_buffers_set ? rcvbuf() : k_default_tcp_buf, 4096);
    tcb.snd_limit = max<size_t>(m_buffers_set ? sndbuf() : k_default_tcp_buf, 4096);
    tcb.rcv_wscale = choose_wscale(tcb.rcv_limit);
    tcb.wscale_ok = tcb.ts_ok = tcb.sack_ok = true;
    tcb.iss = make_isn(tcb.t);
    tcb.recover = tcb.iss; // RFC 6582 §3.2: initialised to the ISS
    tcb.snd_una = tcb.iss;
    tcb.snd_nxt = tcb.iss + 1;
    tcb.snd_max = tcb.snd_nxt;
    tcb.state = State::SynSent;
    tcb.rtt_timing = true;
    tcb.rtt_seq = tcb.iss;
    tcb.rtt_start = monotonic_ns();
    table_insert(tcb);
    m_connect_started = true;
    g_stats.active_opens++;
    send_segment(tcb, tcb.iss, k_syn, 0, 0);
    start_rexmt(tcb);
    arm_timers(tcb);
    if (nonblocking())
        return EINPROGRESS;
    while (tcb.state == State::SynSent || tcb.state == State::SynReceived) {
        Result<void> w = net_wait(tcb.cv, deadline);
        if (w.is_error())
            return w.error() == ETIMEDOUT ? Error{EINPROGRESS} : Error{w.error()};
    }
    if (tcb.state == State::Closed) {
        int e = tcb.error ? tcb.error : ECONNREFUSED;
        tcb.error = 0;
        g_stats.attempt_fails++;
        return Error{e};
    }
    return {};
}

Result<size_t> TcpSocket::sendmsg(Uio& uio, const SockAddr*, int flags) {
    int64_t deadline = send_deadline();
    NetGuard g;
    Tcb& tcb = *m_tcb;
    size_t put = 0;
    for (;;) {
        if (tcb.error) {
            if (put)
                return put;
            int e = tcb.error;
            tcb.error = 0;
            return Error{e};
        }
        if (tcb.fin_queued)
            return put ? Result<size_t>(put) : Result<size_t>(EPIPE);
        if (tcb.state == State::SynSent || tcb.state == State::SynReceived) {
            if (dont_wait(flags))
                return put ? Result<size_t>(put) : Result<size_t>(EAGAIN);
        } else if (tcb.state != State::Established && tcb.state != State::CloseWait) {
            return put ? Result<size_t>(put)
                       : Result<size_t>(tcb.state == State::Closed && !m_connect_started ? ENOTCONN
                                                                                         : EPIPE);
        } else {
            if (uio.resid() == 0)
                return put;
            size_t used = tcb.sndbuf.size();
            size_t want = min(used + uio.resid(), tcb.snd_limit);
            size_t space = tcb.sndbuf.reserve(want, tcb.snd_limit);
            if (used >= tcb.snd_limit)
                space = 0;
            if (space > 0) {
                size_t n = tcb.sndbuf.append(uio, min(space, uio.resid()));
                put += n;
                bool more = (flags & k_msg_more) && uio.resid() == 0;
                if (!more)
                    tcp_output(tcb);
                if (uio.resid() == 0)
                    return put;
                continue;
            }
            if (tcb.sndbuf.capacity() < tcb.snd_limit && used < tcb.snd_limit)
                return put ? Result<size_t>(put) : Result<size_t>(ENOBUFS); // no memory
            if (dont_wait(flags))
                return put ? Result<size_t>(put) : Result<size_t>(EAGAIN);
        }
        Result<void> w = net_wait(tcb.cv, deadline);
        if (w.is_error()) {
            if (put)
                return put;
            return w.error() == ETIMEDOUT ? Error{EAGAIN} : Error{w.error()};
        }
    }
}

Result<size_t> TcpSocket::recvmsg(Uio& uio, SockAddr* from, int flags, int*) {
    int64_t deadline = recv_deadline();
    NetGuard g;
    Tcb& tcb = *m_tcb;
    if (flags & k_msg_oob)
        return EINVAL; // urgent data is not supported (RFC 6093 discourages it)
    if (tcb.state == State::Listen)
        return ENOTCONN;
    size_t got = 0;
    for (;;) {
        size_t avail = tcb.rcvbuf.size();
        if (avail > 0 && uio.resid() > 0) {
            size_t n = tcb.rcvbuf.copy_to_uio(uio, min(avail, uio.resid()));
            if (!(flags & k_msg_peek)) {
                size_t before = rcv_window(tcb);
                tcb.rcvbuf.consume(n);
                // Window update when it opened by 2 MSS or half the buffer
                // (RFC 1122 §4.2.3.3 receiver SWS avoidance).
                size_t after = tcb.rcv_space();
                if (tcb.state == State::Established || tcb.state == State::FinWait1 ||
                    tcb.state == State::FinWait2) {
                    if (after >= before + 2 * tcb.mss || (before == 0 && after >= tcb.mss) ||
                        after >= tcb.rcv_limit / 2) {
                        if (seq_gt(tcb.rcv_nxt + uint32_t(min<size_t>(
                                                     after, uint32_t(65535) << tcb.rcv_wscale)),
                                   tcb.rcv_adv + 2 * tcb.mss) ||
                            before < tcb.mss) {
                            tcb.ack_now = true;
                            tcp_output(tcb);
                        }
                    }
                }
            }
            got += n;
            if (from)
                inet_to_sockaddr(*from, tcb.t.faddr, tcb.t.fport);
            if (!(flags & k_msg_waitall) || uio.resid() == 0 || (flags & k_msg_peek))
                return got;
            continue;
        }
        if (uio.resid() == 0)
            return got;
        if (tcb.peer_fin || tcb.shut_rd)
            return got;
        if (tcb.error) {
            if (got)
                return got;
            int e = tcb.error;
            tcb.error = 0;
            return Error{e};
        }
        if (tcb.state == State::Closed)
            return got ? Result<size_t>(got)
                       : (m_connect_started || tcb.orphan ? Result<size_t>(size_t(0))
                                                          : Result<size_t>(ENOTCONN));
        if (dont_wait(flags))
            return got ? Result<size_t>(got) : Result<size_t>(EAGAIN);
        Result<void> w = net_wait(tcb.cv, deadline);
        if (w.is_error()) {
            if (got)
                return got;
            return w.error() == ETIMEDOUT ? Error{EAGAIN} : Error{w.error()};
        }
    }
}

Result<void> TcpSocket::shutdown(int how) {
    NetGuard g;
    Tcb& tcb = *m_tcb;
    if (tcb.state == State::Closed || tcb.state == State::SynSent || tcb.state == State::Listen) {
        if (tcb.state == State::Listen && how != k_shut_wr) {
            tcb.notify(POLLIN);
            return {};
        }
        return ENOTCONN;
    }
    if (how == k_shut_rd || how == k_shut_rdwr) {
        tcb.shut_rd = true;
        tcb.rcvbuf.consume(tcb.rcvbuf.size());
        tcb.notify(POLLIN);
    }
    if ((how == k_shut_wr || how == k_shut_rdwr) && !tcb.fin_queued) {
        tcb.fin_queued = true;
        tcp_output(tcb);
        tcb.notify(POLLOUT);
    }
    return {};
}

Result<void> TcpSocket::getsockname(SockAddr& out) {
    NetGuard g;
    inet_to_sockaddr(out, m_tcb->t.laddr, m_tcb->t.lport);
    return {};
}

Result<void> TcpSocket::getpeername(SockAddr& out) {
    NetGuard g;
    State st = m_tcb->state;
    if (st == State::Closed || st == State::Listen || st == State::SynSent)
        return ENOTCONN;
    inet_to_sockaddr(out, m_tcb->t.faddr, m_tcb->t.fport);
    return {};
}

Result<void> TcpSocket::set_option(int level, int name, const void* val, uint32_t len) {
    if (level == k_sol_socket && name == k_so_bindtodevice) {
        set_bound_ifindex(TRY(inet_bindtodevice(val, len)));
        return {};
    }
    if (!val)
        return EFAULT;
    if (len < sizeof(int))
        return EINVAL;
    int v;
    __builtin_memcpy(&v, val, sizeof v);
    NetGuard g;
    Tcb& tcb = *m_tcb;
    if (level == k_sol_socket && name == k_so_keepalive) {
        tcb.keepalive = v != 0;
        if (tcb.keepalive && tcb.state == State::Established) {
            tcb.t_keep = monotonic_ns() + tcb.keep_idle;
            arm_timers(tcb);
        } else if (!tcb.keepalive) {
            tcb.t_keep = 0;
        }
        return {};
    }
    if (level == k_sol_socket && (name == k_so_rcvbuf || name == k_so_sndbuf ||
                                  name == k_so_rcvbufforce || name == k_so_sndbufforce)) {
        m_buffers_set = true;
        return {};
    }
    if (level == k_sol_ip) {
        if (name == k_ip_ttl) {
            if (v == -1)
                v = k_default_ttl;
            if (v < 1 || v > 255)
                return EINVAL;
            tcb.ttl = static_cast<uint8_t>(v);
            return {};
        }
        if (name == k_ip_tos) {
            tcb.tos = static_cast<uint8_t>(v);
            return {};
        }
        return ENOPROTOOPT;
    }
    if (level != k_sol_tcp)
        return ENOPROTOOPT;
    switch (name) {
    case k_tcp_nodelay:
        tcb.nodelay = v != 0;
        if (tcb.nodelay)
            tcp_output(tcb);
        return {};
    case k_tcp_cork:
        tcb.cork = v != 0;
        if (!tcb.cork)
            tcp_output(tcb);
        return {};
    case k_tcp_keepidle:
        if (v < 1 || v > 32767)
            return EINVAL;
        tcb.keep_idle = int64_t(v) * k_ns_per_sec;
        // As Linux: a running keepalive timer follows the new idle time at
        // once, not after the next segment arrives.
        if (tcb.keepalive && tcb.state == State::Established && tcb.keep_probes == 0) {
            tcb.t_keep = monotonic_ns() + tcb.keep_idle;
            arm_timers(tcb);
        }
        return {};
    case k_tcp_keepintvl:
        if (v < 1 || v > 32767)
            return EINVAL;
        tcb.keep_intvl = int64_t(v) * k_ns_per_sec;
        return {};
    case k_tcp_keepcnt:
        if (v < 1 || v > 127)
            return EINVAL;
        tcb.keep_cnt = v;
        return {};
    case k_tcp_maxseg:
    case k_tcp_quickack:
        return {};
    default:
        return ENOPROTOOPT;
    }
}

Result<uint32_t> TcpSocket::get_option(int level, int name, void* val, uint32_t len) {
    if (!val)
        return EFAULT;
    int v;
    {
        NetGuard g;
        Tcb& tcb = *m_tcb;
        if (level == k_sol_socket && name == k_so_acceptconn)
            v = tcb.state == State::Listen;
        else if (level == k_sol_socket && name == k_so_error)
            v = tcb.error;
        else if (level == k_sol_ip && name == k_ip_ttl)
            v = tcb.ttl;
        else if (level == k_sol_ip && name == k_ip_tos)
            v = tcb.tos;
        else if (level != k_sol_tcp)
            return ENOPROTOOPT;
        else {
            switch (name) {
            case k_tcp_nodelay:
                v = tcb.nodelay;
                break;
            case k_tcp_cork:
                v = tcb.cork;
                break;
            case k_tcp_maxseg:
                v = static_cast<int>(tcb.mss);
                break;
            case k_tcp_keepidle:
                v = static_cast<int>(tcb.keep_idle / k_ns_per_sec);
                break;
            case k_tcp_keepintvl:
                v = static_cast<int>(tcb.keep_intvl / k_ns_per_sec);
                break;
            case k_tcp_keepcnt:
                v = tcb.keep_cnt;
                break;
            default:
                return ENOPROTOOPT;
            }
        }
    }
    uint32_t n = min<uint32_t>(len, sizeof v);
    __builtin_memcpy(val, &v, n);
    return n;
}

uint32_t TcpSocket::poll(uint32_t events, PollTable* pt) {
    if (pt)
        pt->add(m_tcb->waitq);
    NetGuard g;
    uint32_t r = tcb_poll(*m_tcb);
    if (m_tcb->state == State::Closed && !m_connect_started && !m_tcb->error)
        r = POLLOUT | POLLHUP; // a fresh socket, as Linux reports
    return r & (events | POLLERR | POLLHUP);
}

} // namespace

void tcp_input(const IpInfo& ip, RefPtr<PacketBuffer> pkt) {
    g_stats.segs_in++;
    if (ip.broadcast || ipv4_is_multicast(ip.dst))
        return;
    auto sr = TcpSegment::parse(ip, *pkt);
    if (sr.is_error()) {
        g_stats.bad_segs++;
        return;
    }
    TcpSegment s = sr.release_value();
    FourTuple t{ip.dst, ip.src, s.dport, s.sport};
    if (Tcb* tcb = table_lookup(t)) {
        RefPtr<Tcb> hold(tcb); // tcb_close may drop the table's reference
        tcb_input(*tcb, ip, s, pkt);
        return;
    }
    if (Tcb* l = listener_lookup(ip.dst, s.dport, ip.ifindex)) {
        listen_input(*l, ip, s);
        return;
    }
    send_reset(ip, s);
}

void tcp_ctlinput(int err, Ipv4 src, uint16_t sport, Ipv4 dst, uint16_t dport) {
    Tcb* tcb = table_lookup(FourTuple{src, dst, sport, dport});
    if (!tcb)
        return;
    // RFC 1122 §4.2.3.9: hard errors abort only a connection attempt;
    // otherwise they are soft (reported if the connection times out).
    if (tcb->state == State::SynSent && (err == ECONNREFUSED || err == ENOPROTOOPT)) {
        RefPtr<Tcb> hold(tcb);
        drop_with_error(*tcb, err == ENOPROTOOPT ? ECONNREFUSED : err);
    }
}

Result<RefPtr<Socket>> tcp_socket_create(int flags) {
    RefPtr<Tcb> tcb = TRY(try_make_ref<Tcb>());
    auto* s = make<TcpSocket>(move(tcb), flags);
    if (!s)
        return ENOBUFS;
    return adopt_ref<Socket>(s);
}

TcpStats tcp_stats() {
    return g_stats;
}

namespace {

int64_t g_drain_ns = 2000 * k_ms; // param tcp_drain_ms

// Data the application wrote that the peer has not acknowledged, or a FIN
// still in flight.
bool tcp_undelivered() AK_REQUIRES(net_lock()) {
    for (auto& c : *g_all)
        if (c.sndbuf.size() > 0 || c.state == State::FinWait1 || c.state == State::Closing ||
            c.state == State::LastAck)
            return true;
    return false;
}

// Shutdown hook: an instance that stops right after its last write (a
// unikernel powers off when main returns) would otherwise drop what is still
// queued or unacknowledged; wait for it, at most tcp_drain_ms.
void tcp_drain() {
    int64_t deadline = monotonic_ns() + g_drain_ns;
    for (;;) {
        {
            NetGuard g;
            if (!tcp_undelivered())
                return;
        }
        if (monotonic_ns() >= deadline) {
            AK_LOG_INFO("tcp: shutdown with data still undelivered after %lld ms",
                        static_cast<long long>(g_drain_ns / k_ms));
            return;
        }
        akhyp_clock_sleep(monotonic_ns() + 2 * k_ms);
    }
}

int64_t param_ms(const char* name, int64_t fallback) {
    char buf[32];
    if (akhyp_getparam(name, buf, sizeof buf) != 0 || buf[0] < '0' || buf[0] > '9')
        return fallback;
    int64_t v = 0;
    for (char* p = buf; *p >= '0' && *p <= '9'; p++)
        v = v * 10 + (*p - '0');
    return v * k_ms;
}

} // namespace

Result<void> tcp_init() {
    g_hash = static_cast<List<Tcb, &Tcb::hash_node>*>(
        kmem_alloc(sizeof(List<Tcb, &Tcb::hash_node>) * k_hash_buckets));
    if (!g_hash)
        return ENOMEM;
    for (size_t i = 0; i < k_hash_buckets; i++)
        new (&g_hash[i]) List<Tcb, &Tcb::hash_node>();
    if (akhyp_getrandom(g_isn_key, sizeof g_isn_key) ||
        akhyp_getrandom(g_hash_key, sizeof g_hash_key))
        return EIO;
    if (int64_t msl = param_ms("tcp_msl_ms", 0); msl > 0)
        g_msl = msl;
    g_drain_ns = param_ms("tcp_drain_ms", g_drain_ns);
    register_shutdown_hook("tcp drain", tcp_drain);
    return {};
}

// Connection listing for netstat-style tools.
size_t tcp_snapshot(void (*fn)(void*, const char* state, Ipv4 laddr, uint16_t lport, Ipv4 faddr,
                               uint16_t fport, size_t rq, size_t sq),
                    void* ctx) {
    size_t n = 0;
    for (auto& c : *g_all) {
        fn(ctx, k_state_names[static_cast<int>(c.state)], c.t.laddr, c.t.lport, c.t.faddr,
           c.t.fport, c.rcvbuf.size(), c.sndbuf.size());
        n++;
    }
    return n;
}

} // namespace ak::net
