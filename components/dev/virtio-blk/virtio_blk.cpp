// virtio block device (virtio 1.2 §5.2) as a disk of the block layer.
//
// Requests follow the block hypercall group's contract (akhyp_blk_submit):
// asynchronous, completed exactly once on another thread (here the
// platform's interrupt thread), in any order.  Data travels through bounce
// buffers in DMA memory (k_slots slots of k_chunk bytes; larger requests
// are split), so the kernel's buffers need no physical address and the
// driver stays portable to platforms without an identity map.
#include <ak/blk.h>
#include <ak/component.h>
#include <ak/log.h>
#include <ak/string.h>
#include <ak/virtio.h>
#include <anykern/hypercall.h>

namespace ak {
namespace {

constexpr uint64_t k_f_ro = uint64_t(1) << 5, k_f_flush = uint64_t(1) << 9;
constexpr uint32_t k_t_in = 0, k_t_out = 1, k_t_flush = 4, k_t_get_id = 8;
constexpr uint8_t k_s_ok = 0, k_s_unsupp = 2;
constexpr unsigned k_slots = 8;
constexpr uint32_t k_chunk = 16384;
constexpr uint32_t k_sector = 512;

struct [[gnu::packed]] ReqHeader {
    uint32_t type;
    uint32_t reserved;
    uint64_t sector;
};
static_assert(sizeof(ReqHeader) == 16);

// One block-layer request: its segments (copied), how far queuing has got,
// and how many chunks are still at the device.
struct Request {
    akhyp_blk_done_fn done;
    void* arg;
    uint32_t type;
    akhyp_blk_seg* segs;
    unsigned nsegs;
    unsigned seg = 0;      // next segment to queue
    size_t seg_off = 0;    // bytes of it already queued
    uint64_t disk_pos = 0; // disk offset of the next chunk
    unsigned in_flight = 0;
    bool queued_all = false;
    int error = 0;
    Request* next = nullptr; // waiting for slots
};

struct Slot {
    uint8_t* mem; // header (16) | status (1) | pad | data (k_chunk) at offset 64
    uint64_t paddr;
    Request* request = nullptr;
    uint8_t* user = nullptr; // where read data goes
    uint32_t len = 0;
    uint32_t type = 0;
    uint16_t head = 0;
    bool in_use = false;
};

struct VirtioBlk {
    virtio::Transport* transport;
    virtio::Virtqueue* queue = nullptr;
    uint64_t capacity = 0; // bytes
    bool read_only = false, flush = false;
    char name[24] = {};
    int unit = 0;
    VirtioBlk* next_pending = nullptr;
    Mutex lock;
    Slot slots[k_slots] AK_GUARDED_BY(lock);
    Request* waiting_head AK_GUARDED_BY(lock) = nullptr; // requests with chunks to queue, FIFO
    Request* waiting_tail AK_GUARDED_BY(lock) = nullptr;
    Request* id_request AK_GUARDED_BY(lock) = nullptr; // GET_ID at attach, outside the slots
    uint16_t id_head AK_GUARDED_BY(lock) = 0;
};

VirtioBlk* g_pending; // set up at probe, registered with the block layer at Late

// Put one chunk of r into slot s; false when the queue refused it.
bool queue_chunk_locked(VirtioBlk& d, Request& r, Slot& s) AK_REQUIRES(d.lock) {
    uint8_t* user = nullptr;
    uint32_t len = 0;
    if (r.type != k_t_flush) {
        akhyp_blk_seg& seg = r.segs[r.seg];
        size_t left = seg.len - r.seg_off;
        len = uint32_t(left < k_chunk ? left : k_chunk);
        user = static_cast<uint8_t*>(seg.buf) + r.seg_off;
    }
    *reinterpret_cast<ReqHeader*>(s.mem) = ReqHeader{r.type, 0, r.disk_pos / k_sector};
    s.mem[sizeof(ReqHeader)] = 0xff;
    if (r.type == k_t_out)
        __builtin_memcpy(s.mem + 64, user, len);
    virtio::Virtqueue::Buffer chain[3];
    unsigned n = 0;
    chain[n++] = {s.paddr, sizeof(ReqHeader), false};
    if (len)
        chain[n++] = {s.paddr + 64, len, r.type == k_t_in};
    chain[n++] = {s.paddr + sizeof(ReqHeader), 1, true};
    Result<uint16_t> head = d.queue->submit(Span<const virtio::Virtqueue::Buffer>(chain, n));
    if (head.is_error())
        return false;
    s = Slot{s.mem, s.paddr, &r,           r.type == k_t_in ? user : nullptr,
             len,   r.type,  head.value(), true};
    r.in_flight++;
    if (r.type == k_t_flush) {
        r.queued_all = true;
    } else {
        r.disk_pos += len;
        r.seg_off += len;
        if (r.seg_off == r.segs[r.seg].len) {
            r.seg++;
            r.seg_off = 0;
        }
        r.queued_all = r.seg == r.nsegs;
    }
    return true;
}

// Give free slots to waiting requests, in order.  Never waits: the block
// layer submits with its cache lock held, and completions need that lock.
void pump_locked(VirtioBlk& d) AK_REQUIRES(d.lock) {
    for (Slot& s : d.slots) {
        if (s.in_use)
            continue;
        Request* r = d.waiting_head;
        if (!r)
            return;
        if (!queue_chunk_locked(d, *r, s)) {
            r->error = EIO; // the queue is broken: finish what is out, queue no more
            r->queued_all = true;
        }
        if (r->queued_all) {
            d.waiting_head = r->next;
            if (!d.waiting_head)
                d.waiting_tail = nullptr;
        }
    }
}

void free_request(Request* r) {
    kmem_free(r->segs);
    kmem_free(r);
}

void interrupt(void* arg) {
    auto d = static_cast<VirtioBlk*>(arg);
    Request* finished[k_slots * 2];
    unsigned nfinished = 0;
    {
        MutexGuard g(d->lock);
        for (;;) {
            uint16_t head;
            uint32_t written;
            Result<bool> got = d->queue->reclaim(&head, &written);
            if (got.is_error() || !got.value())
                break;
            Slot* s = nullptr;
            for (Slot& c : d->slots)
                if (c.in_use && c.head == head)
                    s = &c;
            if (!s) {
                // reclaim validated head against the chains in flight
                if (d->id_request && head == d->id_head) {
                    finished[nfinished++] = d->id_request;
                    d->id_request = nullptr;
                }
                continue;
            }
            Request* r = s->request;
            uint8_t status = s->mem[sizeof(ReqHeader)];
            bool unsupported_flush = s->type == k_t_flush && status == k_s_unsupp && !d->flush;
            if (status != k_s_ok && !unsupported_flush)
                r->error = EIO;
            else if (s->user)
                __builtin_memcpy(s->user, s->mem + 64, s->len);
            s->in_use = false;
            if (--r->in_flight == 0 && r->queued_all && nfinished < k_slots * 2)
                finished[nfinished++] = r;
        }
        pump_locked(*d);
    }
    for (unsigned i = 0; i < nfinished; i++) {
        Request* r = finished[i];
        r->done(r->arg, r->error);
        free_request(r);
    }
}

// The block layer's submit for this disk (akhyp_blk_submit's contract).
int submit(void* disk, int op, const akhyp_blk_seg* segs, unsigned nsegs, uint64_t offset,
           akhyp_blk_done_fn done, void* arg) {
    auto d = static_cast<VirtioBlk*>(disk);
    uint32_t type;
    if (op == AKHYP_BLK_FLUSH) {
        if (d->read_only)
            return EROFS;
        // Sent even without F_FLUSH (completion must come from another
        // thread); such a device answers UNSUPP, counted as success since
        // its writes are durable when they complete.
        type = k_t_flush;
        nsegs = 0;
    } else if (op == AKHYP_BLK_READ || op == AKHYP_BLK_WRITE) {
        if (op == AKHYP_BLK_WRITE && d->read_only)
            return EROFS;
        if (!segs || nsegs == 0 || nsegs > AKHYP_BLK_MAX_SEGS || offset % k_sector)
            return EINVAL;
        uint64_t total = 0;
        for (unsigned i = 0; i < nsegs; i++) {
            if (!segs[i].buf || segs[i].len == 0 || segs[i].len % k_sector)
                return EINVAL;
            total += segs[i].len;
        }
        if (offset > d->capacity || total > d->capacity - offset)
            return EINVAL;
        type = op == AKHYP_BLK_READ ? k_t_in : k_t_out;
    } else {
        return EINVAL;
    }
    auto r = static_cast<Request*>(kmem_alloc(sizeof(Request)));
    auto copy =
        nsegs ? static_cast<akhyp_blk_seg*>(kmem_alloc(sizeof(akhyp_blk_seg) * nsegs)) : nullptr;
    if (!r || (nsegs && !copy)) {
        kmem_free(r);
        kmem_free(copy);
        return ENOMEM;
    }
    for (unsigned i = 0; i < nsegs; i++)
        copy[i] = segs[i];
    new (r) Request{done, arg, type, copy, nsegs};
    r->disk_pos = offset;
    MutexGuard g(d->lock);
    if (d->queue->broken()) {
        free_request(r);
        return EIO;
    }
    (d->waiting_tail ? d->waiting_tail->next : d->waiting_head) = r;
    d->waiting_tail = r;
    pump_locked(*d);
    return 0;
}

void name_disk(VirtioBlk& d);

Result<void> attach(virtio::Transport& t, int unit) {
    auto d = make<VirtioBlk>();
    if (!d)
        return ENOMEM;
    d->transport = &t;
    uint64_t features = TRY(virtio::negotiate(t, k_f_ro | k_f_flush));
    d->read_only = features & k_f_ro;
    d->flush = features & k_f_flush;
    uint64_t sectors = uint64_t(t.config_read(0, 4)) | uint64_t(t.config_read(4, 4)) << 32;
    if (sectors > (~uint64_t(0) >> 9))
        return EINVAL;
    d->capacity = sectors * k_sector;
    for (Slot& s : d->slots) {
        void* mem;
        if (akhyp_dma_alloc(64 + k_chunk, &mem, &s.paddr) != 0)
            return ENOMEM;
        s.mem = static_cast<uint8_t*>(mem);
    }
    TRY(t.setup_interrupt(interrupt, d));
    d->queue = TRY(virtio::Virtqueue::create(t, 0, 64));
    d->transport = &t;
    virtio::driver_ok(t);
    d->unit = unit;
    name_disk(*d);
    d->next_pending = g_pending;
    g_pending = d;
    return {};
}

// The disk's name: its virtio serial number when that is a valid block
// device name (ak-run sets serial=akdiskN for -b N), else "vd" + a letter
// in probe order.  The serial comes from a GET_ID request (§5.2.6).
void name_disk(VirtioBlk& d) {
    format(d.name, sizeof d.name, "vd%c", char('a' + (d.unit < 26 ? d.unit : 25)));
    // Heap, not stack: if the device never answers, the request keeps
    // pointing at it (it is then leaked rather than left dangling).
    struct Wait {
        Mutex lock;
        CondVar cv;
        bool done = false;
        int error = 0;
    };
    Wait* wp = make<Wait>();
    if (!wp)
        return;
    Wait& w = *wp;
    void* mem;
    uint64_t paddr;
    if (akhyp_dma_alloc(64, &mem, &paddr) != 0) {
        destroy(wp);
        return;
    }
    auto buf = static_cast<uint8_t*>(mem);
    *reinterpret_cast<ReqHeader*>(buf) = ReqHeader{k_t_get_id, 0, 0};
    buf[63] = 0xff;
    virtio::Virtqueue::Buffer chain[3] = {
        {paddr, sizeof(ReqHeader), false}, {paddr + 32, 20, true}, {paddr + 63, 1, true}};
    bool queued = false;
    auto r = static_cast<Request*>(kmem_alloc(sizeof(Request)));
    if (r) {
        new (r) Request{[](void* a, int e) {
                            auto wp = static_cast<Wait*>(a);
                            MutexGuard g2(wp->lock);
                            wp->error = e;
                            wp->done = true;
                            wp->cv.signal();
                        },
                        &w, k_t_get_id, nullptr, 0};
        MutexGuard g(d.lock);
        Result<uint16_t> head = d.queue->submit(Span<const virtio::Virtqueue::Buffer>(chain, 3));
        queued = !head.is_error();
        if (queued) {
            d.id_request = r;
            d.id_head = head.value();
        } else {
            kmem_free(r);
        }
    }
    if (queued) {
        MutexGuard g(w.lock);
        int64_t deadline = akhyp_clock_now(AKHYP_CLOCK_MONOTONIC) + 1000000000;
        while (!w.done && w.cv.wait_until(w.lock, deadline))
            ;
        // Status byte at 63 was copied nowhere: read it in place.
        if (w.done && buf[63] == k_s_ok) {
            char serial[21] = {};
            __builtin_memcpy(serial, buf + 32, 20);
            bool valid = serial[0] != 0;
            for (int i = 0; serial[i]; i++) {
                char c = serial[i];
                valid = valid && ((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
                                  (c >= '0' && c <= '9') || c == '_' || c == '-' || c == '.');
            }
            if (valid)
                str_copy(d.name, serial, sizeof d.name);
        }
        if (!w.done)
            return; // the device never answered: leave the buffer and wp to it
    }
    akhyp_dma_free(mem, 64);
    destroy(wp);
}

const virtio::Driver k_driver = {"virtio-blk", 2, attach};

Result<void> virtio_blk_init() {
    virtio::register_driver(&k_driver);
    return {};
}

// Level Late: the block layer exists by now.
Result<void> virtio_blk_register_disks() {
    static const DiskOps k_ops = {submit, nullptr};
    while (VirtioBlk* d = g_pending) {
        g_pending = d->next_pending;
        auto dev =
            BlockDevice::attach_driver(StringView(d->name), &k_ops, d, d->capacity, d->read_only);
        if (dev.is_error()) {
            AK_LOG_WARN("virtio-blk%d: cannot register %s: errno %d", d->unit, d->name,
                        dev.error());
            continue;
        }
        AK_LOG_INFO("virtio-blk%d (%s): %s, %llu bytes%s", d->unit, d->transport->kind(), d->name,
                    (unsigned long long)d->capacity, d->read_only ? ", read-only" : "");
    }
    return {};
}

} // namespace
} // namespace ak

AK_COMPONENT(virtio_blk, ak::InitLevel::Base, ak::virtio_blk_init);
AK_COMPONENT(virtio_blk_disks, ak::InitLevel::Late, ak::virtio_blk_register_disks);
