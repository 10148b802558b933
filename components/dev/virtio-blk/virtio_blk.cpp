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
constexpr uint32_t k_t_in = 0, k_t_out = 1, k_t_flush = 4;
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

struct Request {
    akhyp_blk_done_fn done;
    void* arg;
    unsigned remaining; // chunks in flight or still to queue
    int error;
};

struct Slot {
    uint8_t* mem; // header (16) | status (1) | pad | data (k_chunk) at offset 64
    uint64_t paddr;
    Request* request = nullptr;
    uint8_t* user = nullptr; // where read data goes
    uint32_t len = 0;
    uint16_t head = 0;
    uint32_t type = 0;
    bool in_use = false;
};

struct VirtioBlk {
    virtio::Transport* transport;
    virtio::Virtqueue* queue = nullptr;
    uint64_t capacity = 0; // bytes
    bool read_only = false, flush = false;
    Mutex lock;
    CondVar slot_free;
    Slot slots[k_slots] AK_GUARDED_BY(lock);
};

void interrupt(void* arg) {
    auto d = static_cast<VirtioBlk*>(arg);
    Request* finished[k_slots];
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
            if (!s)
                continue; // reclaim already validated head; unreachable
            Request* r = s->request;
            uint8_t status = s->mem[sizeof(ReqHeader)];
            bool unsupported_flush = s->type == k_t_flush && status == k_s_unsupp && !d->flush;
            if (status != k_s_ok && !unsupported_flush)
                r->error = EIO;
            else if (s->user)
                __builtin_memcpy(s->user, s->mem + 64, s->len);
            s->in_use = false;
            if (--r->remaining == 0)
                finished[nfinished++] = r;
        }
        d->slot_free.broadcast();
    }
    for (unsigned i = 0; i < nfinished; i++) {
        Request* r = finished[i];
        r->done(r->arg, r->error);
        kmem_free(r);
    }
}

// Queue one chunk; waits for a free slot.  Lock held.
Result<void> queue_chunk(VirtioBlk& d, Request* r, uint32_t type, uint8_t* buf, uint32_t len,
                         uint64_t offset) AK_REQUIRES(d.lock) {
    Slot* s = nullptr;
    while (!s) {
        for (Slot& c : d.slots)
            if (!c.in_use) {
                s = &c;
                break;
            }
        if (!s)
            d.slot_free.wait(d.lock);
    }
    auto h = reinterpret_cast<ReqHeader*>(s->mem);
    *h = ReqHeader{type, 0, offset / k_sector};
    s->mem[sizeof(ReqHeader)] = 0xff;
    if (type == k_t_out)
        __builtin_memcpy(s->mem + 64, buf, len);
    virtio::Virtqueue::Buffer chain[3];
    unsigned n = 0;
    chain[n++] = {s->paddr, sizeof(ReqHeader), false};
    if (len)
        chain[n++] = {s->paddr + 64, len, type == k_t_in};
    chain[n++] = {s->paddr + sizeof(ReqHeader), 1, true};
    uint16_t head = TRY(d.queue->submit(Span<const virtio::Virtqueue::Buffer>(chain, n)));
    s->in_use = true;
    s->type = type;
    s->head = head;
    s->request = r;
    s->user = type == k_t_in ? buf : nullptr;
    s->len = len;
    return {};
}

int submit(void* disk, int op, void* buf, size_t len, uint64_t offset, akhyp_blk_done_fn done,
           void* arg) {
    auto d = static_cast<VirtioBlk*>(disk);
    if (op == AKHYP_BLK_FLUSH) {
        len = 0;
        offset = 0;
        if (d->read_only)
            return EROFS;
    } else if (op == AKHYP_BLK_READ || op == AKHYP_BLK_WRITE) {
        if (len == 0 || len % k_sector || offset % k_sector || offset > d->capacity ||
            len > d->capacity - offset)
            return EINVAL;
        if (op == AKHYP_BLK_WRITE && d->read_only)
            return EROFS;
    } else {
        return EINVAL;
    }
    // A FLUSH goes to the device even without F_FLUSH (completion must come
    // from another thread); such a device answers UNSUPP, which counts as
    // success: without F_FLUSH its writes are durable when they complete.
    auto r = static_cast<Request*>(kmem_alloc(sizeof(Request)));
    if (!r)
        return ENOMEM;
    size_t chunks = op == AKHYP_BLK_FLUSH ? 1 : (len + k_chunk - 1) / k_chunk;
    *r = Request{done, arg, unsigned(chunks), 0};
    MutexGuard g(d->lock);
    uint32_t type = op == AKHYP_BLK_READ ? k_t_in : op == AKHYP_BLK_WRITE ? k_t_out : k_t_flush;
    for (size_t i = 0; i < chunks; i++) {
        size_t off = i * k_chunk;
        uint32_t n =
            op == AKHYP_BLK_FLUSH ? 0 : uint32_t(len - off < k_chunk ? len - off : k_chunk);
        Result<void> q =
            queue_chunk(*d, r, type, static_cast<uint8_t*>(buf) + off, n, offset + off);
        if (q.is_error()) {
            // Chunks already queued complete normally; account for the rest.
            r->error = q.error();
            r->remaining -= unsigned(chunks - i);
            if (i == 0) {
                kmem_free(r);
                return q.error();
            }
            break;
        }
    }
    return 0;
}

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
    virtio::driver_ok(t);
    char name[16];
    format(name, sizeof name, "vd%c", char('a' + unit));
    static const DiskOps k_ops = {submit, nullptr};
    auto dev = BlockDevice::attach_driver(StringView(name), &k_ops, d, d->capacity, d->read_only);
    if (dev.is_error())
        return dev.error();
    AK_LOG_INFO("virtio-blk%d (%s): %s, %llu bytes%s", unit, t.kind(), name,
                (unsigned long long)d->capacity, d->read_only ? ", read-only" : "");
    return {};
}

const virtio::Driver k_driver = {"virtio-blk", 2, attach};

Result<void> virtio_blk_init() {
    virtio::register_driver(&k_driver);
    return {};
}

} // namespace
} // namespace ak

AK_COMPONENT(virtio_blk, ak::InitLevel::Base, ak::virtio_blk_init);
