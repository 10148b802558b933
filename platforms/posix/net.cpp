// The hypercall network group on Linux userspace: tap and tun devices,
// AF_PACKET on an existing interface, a shared-memory bus between
// processes, and callback interfaces for programs that embed the kernel.
// Every backend has one receive thread that calls the kernel's upcall.
#include <anykern/hypercall.h>

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <linux/futex.h>
#include <linux/if_packet.h>
#include <linux/if_tun.h>
#include <net/ethernet.h>
#include <net/if.h>
#include <poll.h>
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/random.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

#include <new>
#include <sys/file.h>

#define AKPOSIX_EXPORT __attribute__((visibility("default")))

static int flock_init(int fd, size_t size);

namespace {

constexpr size_t k_max_frame = 65536 + 64;

enum class Kind { Fd, Shm, Callback };

struct ShmHeader;

struct Backend {
    Kind kind;
    int fd = -1;
    akhyp_net_rx_fn rx = nullptr;
    void* ctx = nullptr;
    pthread_t thread{};
    bool thread_started = false;
    volatile bool stop = false;
    bool skip_outgoing = false; // AF_PACKET: ignore our own transmissions
    bool vnet_hdr = false;      // AF_PACKET with PACKET_VNET_HDR
    // Shared-memory bus.
    ShmHeader* shm = nullptr;
    size_t shm_size = 0;
    uint32_t shm_id = 0;
    // Callback interface.
    char cb_name[64] = {};
};

void destroy_backend(Backend* b) {
    b->~Backend();
    free(b);
}

// --- spec parsing --------------------------------------------------------------
bool spec_value(const char* spec, const char* key, char* out, size_t outlen) {
    size_t klen = strlen(key);
    const char* p = strchr(spec, ',');
    while (p) {
        p++;
        if (strncmp(p, key, klen) == 0 && p[klen] == '=') {
            const char* v = p + klen + 1;
            size_t n = strcspn(v, ",");
            if (n >= outlen)
                return false;
            memcpy(out, v, n);
            out[n] = 0;
            return true;
        }
        p = strchr(p, ',');
    }
    return false;
}

void random_mac(uint8_t* mac) {
    if (getrandom(mac, 6, 0) != 6) {
        for (int i = 0; i < 6; i++)
            mac[i] = static_cast<uint8_t>(rand());
    }
    mac[0] = static_cast<uint8_t>((mac[0] & 0xfe) | 0x02); // unicast, locally administered
}

bool parse_mac(const char* s, uint8_t* mac) {
    unsigned v[6];
    if (sscanf(s, "%x:%x:%x:%x:%x:%x", &v[0], &v[1], &v[2], &v[3], &v[4], &v[5]) != 6)
        return false;
    for (int i = 0; i < 6; i++) {
        if (v[i] > 255)
            return false;
        mac[i] = static_cast<uint8_t>(v[i]);
    }
    return true;
}

// --- fd backends (tap, tun, packet) -----------------------------------------------

// A frame another program on this host sent through a veth (or any
// device with checksum offload) reaches AF_PACKET before the checksum is
// computed: the transport checksum field holds only the pseudo-header
// sum, and TCP segmentation offload hands over segments up to 64 KiB.
// PACKET_VNET_HDR says so per frame (virtio_net_hdr): complete the
// checksum over [csum_start, end) as the device would (RFC 1071 sum).  A
// TCP super-segment keeps a pseudo-header sum over its whole length and a
// correct IPv4 header, so once completed it is an ordinary, large TCP
// segment (the kernel does not limit received sizes to the MTU).  Other
// offloaded kinds (UDP segmentation) are dropped.  False: drop the frame.
// struct virtio_net_hdr of <linux/virtio_net.h> (that header does not
// compile as C++: a member is named "class").
struct VnetHdr {
    uint8_t flags;
    uint8_t gso_type;
    uint16_t hdr_len, gso_size, csum_start, csum_offset; // host byte order
};
static_assert(sizeof(VnetHdr) == 10);
constexpr uint8_t k_vnet_needs_csum = 1;
constexpr uint8_t k_vnet_gso_none = 0;
constexpr uint8_t k_vnet_gso_tcpv4 = 1;
constexpr uint8_t k_vnet_gso_ecn = 0x80;

bool finish_offload(const VnetHdr& vh, uint8_t* frame, size_t len) {
    uint8_t gso = vh.gso_type & static_cast<uint8_t>(~k_vnet_gso_ecn);
    if (gso != k_vnet_gso_none && gso != k_vnet_gso_tcpv4)
        return false;
    if (!(vh.flags & k_vnet_needs_csum))
        return true;
    size_t start = vh.csum_start, field = start + vh.csum_offset;
    if (start >= len || field + 2 > len)
        return false;
    uint32_t sum = 0;
    for (size_t i = start; i + 1 < len; i += 2)
        sum += static_cast<uint32_t>(frame[i] << 8 | frame[i + 1]);
    if ((len - start) & 1)
        sum += static_cast<uint32_t>(frame[len - 1] << 8);
    while (sum >> 16)
        sum = (sum & 0xffff) + (sum >> 16);
    uint16_t c = static_cast<uint16_t>(~sum);
    if (c == 0)
        c = 0xffff; // zero means "no checksum" to UDP; equal in one's complement
    frame[field] = static_cast<uint8_t>(c >> 8);
    frame[field + 1] = static_cast<uint8_t>(c);
    return true;
}

void* fd_rx_thread(void* p) {
    auto* b = static_cast<Backend*>(p);
    static thread_local uint8_t buf[k_max_frame];
    while (!b->stop) {
        pollfd pfd{b->fd, POLLIN, 0};
        int r = poll(&pfd, 1, 200);
        if (r <= 0)
            continue;
        if (b->skip_outgoing) {
            sockaddr_ll from{};
            VnetHdr vh{};
            iovec iov[2] = {{&vh, sizeof vh}, {buf, sizeof buf}};
            msghdr mh{};
            mh.msg_name = &from;
            mh.msg_namelen = sizeof from;
            mh.msg_iov = b->vnet_hdr ? iov : iov + 1;
            mh.msg_iovlen = b->vnet_hdr ? 2 : 1;
            ssize_t n = recvmsg(b->fd, &mh, MSG_DONTWAIT);
            if (b->vnet_hdr)
                n -= static_cast<ssize_t>(sizeof vh);
            if (n <= 0)
                continue;
            if (from.sll_pkttype == PACKET_OUTGOING)
                continue;
            if (b->vnet_hdr && !finish_offload(vh, buf, static_cast<size_t>(n)))
                continue;
            b->rx(b->ctx, buf, static_cast<size_t>(n));
        } else {
            ssize_t n = read(b->fd, buf, sizeof buf);
            if (n <= 0) {
                if (n < 0 && errno != EAGAIN && errno != EINTR)
                    usleep(1000);
                continue;
            }
            b->rx(b->ctx, buf, static_cast<size_t>(n));
        }
    }
    return nullptr;
}

int open_tuntap(const char* name, bool tap, int& fd_out) {
    int fd = open("/dev/net/tun", O_RDWR | O_CLOEXEC);
    if (fd < 0)
        return errno;
    ifreq ifr{};
    ifr.ifr_flags = static_cast<short>((tap ? IFF_TAP : IFF_TUN) | IFF_NO_PI);
    snprintf(ifr.ifr_name, IFNAMSIZ, "%.15s", name);
    if (ioctl(fd, TUNSETIFF, &ifr) < 0) {
        int e = errno;
        close(fd);
        return e;
    }
    fcntl(fd, F_SETFL, O_NONBLOCK);
    fd_out = fd;
    return 0;
}

int open_packet(const char* name, int& fd_out, uint32_t& mtu, bool& vnet_hdr) {
    int fd = socket(AF_PACKET, SOCK_RAW | SOCK_CLOEXEC, htons(ETH_P_ALL));
    if (fd < 0)
        return errno;
    int one = 1;
    vnet_hdr = setsockopt(fd, SOL_PACKET, PACKET_VNET_HDR, &one, sizeof one) == 0;
    unsigned idx = if_nametoindex(name);
    if (!idx) {
        close(fd);
        return ENODEV;
    }
    sockaddr_ll sll{};
    sll.sll_family = AF_PACKET;
    sll.sll_protocol = htons(ETH_P_ALL);
    sll.sll_ifindex = static_cast<int>(idx);
    if (bind(fd, reinterpret_cast<sockaddr*>(&sll), sizeof sll) < 0) {
        int e = errno;
        close(fd);
        return e;
    }
    // Our MAC differs from the host interface's: listen promiscuously.
    packet_mreq mr{};
    mr.mr_ifindex = static_cast<int>(idx);
    mr.mr_type = PACKET_MR_PROMISC;
    setsockopt(fd, SOL_PACKET, PACKET_ADD_MEMBERSHIP, &mr, sizeof mr);
    ifreq ifr{};
    snprintf(ifr.ifr_name, IFNAMSIZ, "%.15s", name);
    if (ioctl(fd, SIOCGIFMTU, &ifr) == 0)
        mtu = static_cast<uint32_t>(ifr.ifr_mtu);
    fd_out = fd;
    return 0;
}

// --- shared-memory bus ------------------------------------------------------------
//
// A file mapped by every participant: a header and a ring of records
// [u32 length][u32 sender][frame, padded to 8].  Writers serialise on a
// spinlock in the header and bump a 64-bit write position and a 32-bit
// generation word; readers keep a private read position and sleep on the
// generation word with FUTEX_WAIT (shared futexes work across processes on
// a shared file mapping, no privileges needed).  A reader that falls a
// whole ring behind skips ahead (frames are lost, as on a busy wire).
constexpr uint32_t k_shm_magic = 0x616b6275; // "akbu"
// Version 2: frames carry no TCP checksums (AKHYP_NET_F_NO_CSUM); a
// version 1 participant would drop them, so it cannot attach.
constexpr uint32_t k_shm_version = 2;
constexpr size_t k_shm_ring = 16u << 20;
constexpr uint64_t k_shm_max_record = 8 + ((k_max_frame + 7) & ~size_t(7));

struct ShmHeader {
    uint32_t magic;
    uint32_t version;
    uint64_t ring_size;
    uint64_t write_pos;  // bytes ever written (atomic)
    uint32_t lock;       // spinlock
    uint32_t generation; // futex word
    uint32_t waiters;
    uint32_t next_id;
    uint8_t pad[4096 - 40];
};
static_assert(sizeof(ShmHeader) == 4096);

uint8_t* shm_ring(Backend* b) {
    return reinterpret_cast<uint8_t*>(b->shm) + sizeof(ShmHeader);
}

void shm_copy_in(Backend* b, uint64_t pos, const void* src, size_t n) {
    size_t size = b->shm->ring_size;
    size_t off = pos % size;
    size_t first = n < size - off ? n : size - off;
    memcpy(shm_ring(b) + off, src, first);
    if (n > first)
        memcpy(shm_ring(b), static_cast<const uint8_t*>(src) + first, n - first);
}

void shm_copy_out(Backend* b, uint64_t pos, void* dst, size_t n) {
    size_t size = b->shm->ring_size;
    size_t off = pos % size;
    size_t first = n < size - off ? n : size - off;
    memcpy(dst, shm_ring(b) + off, first);
    if (n > first)
        memcpy(static_cast<uint8_t*>(dst) + first, shm_ring(b), n - first);
}

constexpr int64_t k_shm_spin_ns = 5000;

int64_t now_ns() {
    timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return int64_t(ts.tv_sec) * 1000000000 + ts.tv_nsec;
}

long futex(uint32_t* addr, int op, uint32_t val, const timespec* ts) {
    return syscall(SYS_futex, addr, op, val, ts, nullptr, 0);
}

void shm_lock(ShmHeader* h) {
    int spins = 0;
    while (__atomic_exchange_n(&h->lock, 1u, __ATOMIC_ACQUIRE)) {
        if (++spins > 100)
            sched_yield();
    }
}
void shm_unlock(ShmHeader* h) {
    __atomic_store_n(&h->lock, 0u, __ATOMIC_RELEASE);
}

int shm_send(Backend* b, const void* frame, size_t len) {
    ShmHeader* h = b->shm;
    uint32_t hdr[2] = {static_cast<uint32_t>(len), b->shm_id};
    size_t rec = 8 + ((len + 7) & ~size_t(7));
    shm_lock(h);
    uint64_t pos = __atomic_load_n(&h->write_pos, __ATOMIC_RELAXED);
    shm_copy_in(b, pos, hdr, 8);
    shm_copy_in(b, pos + 8, frame, len);
    __atomic_store_n(&h->write_pos, pos + rec, __ATOMIC_RELEASE);
    __atomic_fetch_add(&h->generation, 1u, __ATOMIC_RELEASE);
    shm_unlock(h);
    if (__atomic_load_n(&h->waiters, __ATOMIC_ACQUIRE))
        futex(&h->generation, FUTEX_WAKE, INT32_MAX, nullptr);
    return 0;
}

void* shm_rx_thread(void* p) {
    auto* b = static_cast<Backend*>(p);
    ShmHeader* h = b->shm;
    static thread_local uint8_t buf[k_max_frame];
    uint64_t rpos = __atomic_load_n(&h->write_pos, __ATOMIC_ACQUIRE);
    while (!b->stop) {
        uint32_t gen = __atomic_load_n(&h->generation, __ATOMIC_ACQUIRE);
        uint64_t wpos = __atomic_load_n(&h->write_pos, __ATOMIC_ACQUIRE);
        if (rpos == wpos) {
            // Spin for about what sleeping and being woken costs (a futex
            // round trip, a few microseconds), then sleep: the classic
            // competitive bound.  Spinning longer (it was 2000 pauses, up
            // to 100 us) took a third of the CPU time of a bulk transfer
            // on a two-CPU machine, away from the threads doing the work.
            bool got = false;
            int64_t until = now_ns() + k_shm_spin_ns;
            for (int i = 0; !got; i++) {
                __builtin_ia32_pause();
                got = __atomic_load_n(&h->write_pos, __ATOMIC_ACQUIRE) != rpos;
                if ((i & 15) == 15 && now_ns() > until)
                    break;
            }
            if (got)
                continue;
            __atomic_fetch_add(&h->waiters, 1u, __ATOMIC_ACQ_REL);
            if (__atomic_load_n(&h->write_pos, __ATOMIC_ACQUIRE) == rpos) {
                timespec ts{0, 100000000};
                futex(&h->generation, FUTEX_WAIT, gen, &ts);
            }
            __atomic_fetch_sub(&h->waiters, 1u, __ATOMIC_ACQ_REL);
            continue;
        }
        if (wpos - rpos > h->ring_size) {
            rpos = wpos; // overrun: skip to the present
            continue;
        }
        uint32_t hdr[2];
        shm_copy_out(b, rpos, hdr, 8);
        size_t len = hdr[0];
        size_t rec = 8 + ((len + 7) & ~size_t(7));
        if (len > sizeof buf || rpos + rec > wpos) {
            rpos = wpos; // corrupt or torn: resynchronise
            continue;
        }
        shm_copy_out(b, rpos + 8, buf, len);
        // The writer may have lapped us while we copied, or be writing a
        // record over ours right now (it publishes write_pos only after
        // its copy): drop the frame unless even a largest record written
        // after the published position would end before ours.  Nothing
        // corrupted is ever delivered, which is what lets the bus go
        // without TCP checksums.
        uint64_t now_pos = __atomic_load_n(&h->write_pos, __ATOMIC_ACQUIRE);
        if (now_pos + k_shm_max_record - rpos > h->ring_size) {
            rpos = now_pos;
            continue;
        }
        rpos += rec;
        if (hdr[1] != b->shm_id)
            b->rx(b->ctx, buf, len);
    }
    return nullptr;
}

int open_shm(const char* path, Backend* b) {
    int fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC, 0600);
    if (fd < 0)
        return errno;
    size_t size = sizeof(ShmHeader) + k_shm_ring;
    // Only the first participant sizes and initialises the file.
    if (flock_init(fd, size) != 0) {
        int e = errno;
        close(fd);
        return e;
    }
    void* m = mmap(nullptr, size, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
    if (m == MAP_FAILED) {
        int e = errno;
        close(fd);
        return e;
    }
    b->shm = static_cast<ShmHeader*>(m);
    b->shm_size = size;
    b->fd = fd;
    if (b->shm->magic != k_shm_magic || b->shm->version != k_shm_version ||
        b->shm->ring_size != k_shm_ring) {
        munmap(m, size);
        close(fd);
        return EINVAL;
    }
    b->shm_id = __atomic_add_fetch(&b->shm->next_id, 1u, __ATOMIC_ACQ_REL);
    return 0;
}

// --- callback interfaces -------------------------------------------------------------
struct CallbackIf {
    char name[64];
    void (*output)(void* ctx, const void* frame, size_t len);
    void* ctx;
    Backend* backend; // set while attached
};
constexpr int k_max_callbacks = 16;
CallbackIf g_callbacks[k_max_callbacks];
pthread_mutex_t g_cb_lock = PTHREAD_MUTEX_INITIALIZER;

CallbackIf* cb_find(const char* name) {
    for (auto& c : g_callbacks)
        if (c.name[0] && strcmp(c.name, name) == 0)
            return &c;
    return nullptr;
}

} // namespace

// Create the bus file with its header once (an flock serialises creators).
static int flock_init(int fd, size_t size) {
    if (flock(fd, LOCK_EX) != 0)
        return -1;
    struct stat st;
    int rc = 0;
    if (fstat(fd, &st) != 0) {
        rc = -1;
    } else if (static_cast<size_t>(st.st_size) < size) {
        if (ftruncate(fd, static_cast<off_t>(size)) != 0) {
            rc = -1;
        } else {
            ShmHeader h{};
            h.magic = k_shm_magic;
            h.version = k_shm_version;
            h.ring_size = k_shm_ring;
            if (pwrite(fd, &h, sizeof h, 0) != static_cast<ssize_t>(sizeof h))
                rc = -1;
        }
    }
    flock(fd, LOCK_UN);
    return rc;
}

extern "C" {

AKPOSIX_EXPORT int akposix_net_callback_register(const char* name,
                                                 void (*output)(void*, const void*, size_t),
                                                 void* ctx) {
    if (!name || !output || strlen(name) >= sizeof g_callbacks[0].name)
        return EINVAL;
    pthread_mutex_lock(&g_cb_lock);
    if (cb_find(name)) {
        pthread_mutex_unlock(&g_cb_lock);
        return EEXIST;
    }
    for (auto& c : g_callbacks)
        if (!c.name[0]) {
            snprintf(c.name, sizeof c.name, "%s", name);
            c.output = output;
            c.ctx = ctx;
            c.backend = nullptr;
            pthread_mutex_unlock(&g_cb_lock);
            return 0;
        }
    pthread_mutex_unlock(&g_cb_lock);
    return ENOSPC;
}

AKPOSIX_EXPORT int akposix_net_callback_input(const char* name, const void* frame, size_t len) {
    pthread_mutex_lock(&g_cb_lock);
    CallbackIf* c = name ? cb_find(name) : nullptr;
    Backend* b = c ? c->backend : nullptr;
    pthread_mutex_unlock(&g_cb_lock);
    if (!b)
        return ENODEV;
    if (!frame || len == 0 || len > k_max_frame)
        return EINVAL;
    // The calling thread plays the platform's receive thread.
    b->rx(b->ctx, frame, len);
    return 0;
}

int akhyp_net_open(const char* spec, akhyp_net_rx_fn rx, void* ctx, akhyp_net_info* info,
                   void** handle) {
    if (!spec || !rx || !info || !handle)
        return EINVAL;
    const char* colon = strchr(spec, ':');
    if (!colon)
        return EINVAL;
    char type[16], target[256];
    size_t tlen = static_cast<size_t>(colon - spec);
    size_t glen = strcspn(colon + 1, ",");
    if (tlen >= sizeof type || glen >= sizeof target || glen == 0)
        return EINVAL;
    memcpy(type, spec, tlen);
    type[tlen] = 0;
    memcpy(target, colon + 1, glen);
    target[glen] = 0;
    // malloc + placement new: the platform must not need libstdc++ (C
    // programs link the static library with the C compiler).
    void* mem = malloc(sizeof(Backend));
    if (!mem)
        return ENOMEM;
    auto* b = new (mem) Backend();
    b->rx = rx;
    b->ctx = ctx;
    memset(info, 0, sizeof *info);
    info->link = AKHYP_NET_LINK_ETHER;
    info->mtu = 1500;
    random_mac(info->hwaddr);
    int e = 0;
    void* (*thread_fn)(void*) = fd_rx_thread;
    if (strcmp(type, "tap") == 0 || strcmp(type, "tun") == 0) {
        if (strlen(target) >= IFNAMSIZ)
            e = EINVAL;
        else
            e = open_tuntap(target, type[1] == 'a', b->fd);
        b->kind = Kind::Fd;
        if (type[1] == 'u')
            info->link = AKHYP_NET_LINK_RAWIP;
    } else if (strcmp(type, "packet") == 0) {
        e = open_packet(target, b->fd, info->mtu, b->vnet_hdr);
        b->kind = Kind::Fd;
        b->skip_outgoing = true;
    } else if (strcmp(type, "shm") == 0) {
        b->kind = Kind::Shm;
        e = open_shm(target, b);
        thread_fn = shm_rx_thread;
        // Frames cross only this host's memory, and a reader that was lapped
        // while copying drops the frame: nothing can arrive corrupted.
        info->flags |= AKHYP_NET_F_NO_CSUM;
    } else if (strcmp(type, "cb") == 0) {
        b->kind = Kind::Callback;
        snprintf(b->cb_name, sizeof b->cb_name, "%.63s", target);
        pthread_mutex_lock(&g_cb_lock);
        CallbackIf* c = cb_find(target);
        if (!c)
            e = ENOENT;
        else if (c->backend)
            e = EBUSY;
        else
            c->backend = b;
        pthread_mutex_unlock(&g_cb_lock);
        thread_fn = nullptr;
    } else {
        e = EPROTONOSUPPORT;
    }
    char v[64];
    if (!e && spec_value(spec, "mac", v, sizeof v) && !parse_mac(v, info->hwaddr))
        e = EINVAL;
    if (!e && spec_value(spec, "mtu", v, sizeof v)) {
        long m = strtol(v, nullptr, 10);
        if (m < 68 || m > 65535)
            e = EINVAL;
        else if (b->kind != Kind::Fd)
            info->mtu = static_cast<uint32_t>(m);
    }
    if (!e && thread_fn) {
        if (pthread_create(&b->thread, nullptr, thread_fn, b) != 0)
            e = EAGAIN;
        else
            b->thread_started = true;
    }
    if (e) {
        if (b->shm)
            munmap(b->shm, b->shm_size);
        if (b->fd >= 0)
            close(b->fd);
        destroy_backend(b);
        return e;
    }
    *handle = b;
    return 0;
}

int akhyp_net_send(void* handle, const void* frame, size_t len) {
    auto* b = static_cast<Backend*>(handle);
    if (!b || !frame || len > k_max_frame)
        return EINVAL;
    switch (b->kind) {
    case Kind::Fd: {
        ssize_t n;
        if (b->vnet_hdr) {
            VnetHdr vh{}; // no offload asked for
            iovec iov[2] = {{&vh, sizeof vh}, {const_cast<void*>(frame), len}};
            msghdr mh{};
            mh.msg_iov = iov;
            mh.msg_iovlen = 2;
            n = sendmsg(b->fd, &mh, MSG_DONTWAIT);
        } else {
            n = b->skip_outgoing ? send(b->fd, frame, len, MSG_DONTWAIT) : write(b->fd, frame, len);
        }
        if (n < 0)
            return errno == EWOULDBLOCK ? EAGAIN : errno;
        return 0;
    }
    case Kind::Shm:
        return shm_send(b, frame, len);
    case Kind::Callback: {
        pthread_mutex_lock(&g_cb_lock);
        CallbackIf* c = cb_find(b->cb_name);
        auto out = c ? c->output : nullptr;
        void* ctx = c ? c->ctx : nullptr;
        pthread_mutex_unlock(&g_cb_lock);
        if (out)
            out(ctx, frame, len);
        return 0;
    }
    }
    return EINVAL;
}

void akhyp_net_close(void* handle) {
    auto* b = static_cast<Backend*>(handle);
    if (!b)
        return;
    b->stop = true;
    if (b->thread_started)
        pthread_join(b->thread, nullptr);
    if (b->kind == Kind::Callback) {
        pthread_mutex_lock(&g_cb_lock);
        if (CallbackIf* c = cb_find(b->cb_name))
            c->backend = nullptr;
        pthread_mutex_unlock(&g_cb_lock);
    }
    if (b->shm)
        munmap(b->shm, b->shm_size);
    if (b->fd >= 0)
        close(b->fd);
    destroy_backend(b);
}

} // extern "C"
