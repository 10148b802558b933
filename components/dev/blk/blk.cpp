// Block devices and the buffer cache (docs/block.md).
#include <ak/blk.h>
#include <ak/component.h>
#include <ak/log.h>
#include <ak/params.h>
#include <anykern/disk.h>

// The block group is optional (akhyp_groups() says whether a platform has
// it), so its calls are referenced weakly: the component links with a
// platform that lacks them and then attaches no disks.
#pragma weak akhyp_blk_open
#pragma weak akhyp_blk_submit
#pragma weak akhyp_blk_close

namespace ak {

namespace {

constexpr size_t k_hash_buckets = 4096;
constexpr size_t k_default_cache = 16u << 20;
constexpr size_t k_min_cache = 256u << 10;
// Dirty buffers written back together when eviction needs room.
constexpr int k_writeback_batch = 64;

using HashChain = List<Buf, &Buf::m_hash_node>;

// Contiguous blocks moved by one request.
constexpr uint32_t k_max_cluster = 64;
struct ClusterIo {
    Buf* bufs[k_max_cluster];
    akhyp_blk_seg segs[k_max_cluster];
    uint32_t count;
    bool write;
};
static_assert(k_max_cluster <= AKHYP_BLK_MAX_SEGS);

// Device names: at most 32 letters, digits, '_', '-' and '.'.
bool valid_device_name(StringView name) {
    if (name.length() > 32)
        return false;
    for (size_t i = 0; i < name.length(); i++) {
        char c = name[i];
        if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
              c == '_' || c == '-' || c == '.'))
            return false;
    }
    return true;
}

} // namespace

// Everything the cache shares, guarded by m_lock.
struct BufCache {
    Mutex m_lock;
    CondVar m_io_done; // broadcast whenever a request completes
    HashChain* m_hash = nullptr;
    List<Buf, &Buf::m_lru_node> m_lru; // oldest first
    size_t m_bytes = 0;
    size_t m_limit = k_default_cache;
    size_t m_buffers = 0;
    size_t m_dirty = 0;
    size_t m_inflight = 0; // buffer reads and writes submitted, not completed
    size_t m_hits = 0, m_misses = 0, m_writes = 0;
    List<BlockDevice, &BlockDevice::m_list_node> m_devices;
    unsigned m_next_unit = 0;

    static size_t bucket(const BlockDevice* d, uint64_t blkno) {
        uint64_t h = (blkno * 0x9e3779b97f4a7c15ull) ^ (reinterpret_cast<uintptr_t>(d) >> 4);
        return (h ^ (h >> 29)) % k_hash_buckets;
    }

    BlockDevice* device_locked(StringView name) AK_REQUIRES(m_lock) {
        for (auto& d : m_devices)
            if (d.name() == name)
                return &d;
        return nullptr;
    }

    // Register d as name (unique).
    Result<void> add_device_locked(BlockDevice& d, StringView name) AK_REQUIRES(m_lock) {
        if (device_locked(name))
            return EEXIST;
        d.m_name = TRY(KString::create(name));
        d.ref(); // the registry's reference
        m_devices.push_back(d);
        return {};
    }

    Buf* find_locked(BlockDevice* d, uint64_t blkno) AK_REQUIRES(m_lock) {
        for (auto& b : m_hash[bucket(d, blkno)])
            if (b.dev == d && b.blkno == blkno)
                return &b;
        return nullptr;
    }

    void set_dirty_locked(Buf& b, bool dirty) AK_REQUIRES(m_lock) {
        if (b.dirty == dirty)
            return;
        b.dirty = dirty;
        if (dirty)
            m_dirty++;
        else
            m_dirty--;
    }

    void free_buf_locked(Buf* b) AK_REQUIRES(m_lock) {
        AK_ASSERT(b->holds == 0 && !b->io);
        if (b->m_lru_node.linked())
            m_lru.remove(*b);
        m_hash[bucket(b->dev, b->blkno)].remove(*b);
        b->dev->m_bufs.remove(*b);
        set_dirty_locked(*b, false);
        m_bytes -= b->size;
        m_buffers--;
        kmem_free(b->data);
        destroy(b);
    }

    // An unheld buffer whose I/O ended goes (back) on the LRU.
    void idle_locked(Buf& b) AK_REQUIRES(m_lock) {
        if (b.holds == 0 && !b.io && !b.m_lru_node.linked()) {
            if (!b.valid)
                free_buf_locked(&b);
            else
                m_lru.push_back(b);
        }
    }

    static void read_done(void* arg, int error);

    // Start writing b back (b dirty, not in I/O), together with the dirty
    // idle buffers of the blocks next to it: one scatter/gather request per
    // contiguous run.  A holder may change a buffer while it is written; the
    // change marks it dirty again, so it is written once more later.
    void start_write_locked(Buf& b) AK_REQUIRES(m_lock) {
        BlockDevice& d = *b.dev;
        uint64_t first = b.blkno;
        while (first > 0 && b.blkno - first < k_max_cluster / 2) {
            Buf* p = find_locked(&d, first - 1);
            if (!p || !p->dirty || p->io)
                break;
            first--;
        }
        ClusterIo* c = make<ClusterIo>();
        if (!c) {
            d.m_write_failed.store(true, MemoryOrder::Relaxed);
            return; // stays dirty; sync reports the failure
        }
        c->count = 0;
        c->write = true;
        for (uint64_t n = first; c->count < k_max_cluster; n++) {
            Buf* q = n == b.blkno ? &b : find_locked(&d, n);
            if (!q || !q->dirty || q->io)
                break;
            if (q->m_lru_node.linked())
                m_lru.remove(*q);
            q->io = true;
            set_dirty_locked(*q, false);
            m_inflight++;
            c->segs[c->count] = akhyp_blk_seg{q->data, q->size};
            c->bufs[c->count++] = q;
        }
        m_writes++;
        int e = d.submit(AKHYP_BLK_WRITE, c->segs, c->count, first * b.size, cluster_done, c);
        if (e)
            finish_cluster_locked(c, e);
    }

    // A cluster request ended (or could not start): settle its buffers.
    void finish_cluster_locked(ClusterIo* c, int error) AK_REQUIRES(m_lock) {
        for (uint32_t i = 0; i < c->count; i++) {
            Buf& q = *c->bufs[i];
            q.io = false;
            m_inflight--;
            if (c->write) {
                if (error) {
                    set_dirty_locked(q, true);
                    q.dev->m_write_failed.store(true, MemoryOrder::Relaxed);
                }
            } else {
                q.error = error;
                q.valid = error == 0;
            }
            idle_locked(q);
        }
        destroy(c);
        m_io_done.broadcast();
    }

    static void cluster_done(void* arg, int error);

    // Make room for size more bytes: free clean LRU buffers, start writing
    // dirty ones, wait for them.  Gives up (and lets the cache overshoot)
    // when nothing can be evicted, so holders never deadlock.  Returns
    // false only for readahead callers that asked not to wait.
    bool make_room_locked(size_t size, bool may_wait) AK_REQUIRES(m_lock) {
        while (m_bytes + size > m_limit) {
            bool freed = false;
            int started = 0;
            for (Buf* b = m_lru.first(); b && m_bytes + size > m_limit;) {
                Buf* next = m_lru.next(*b);
                if (!b->dirty) {
                    free_buf_locked(b);
                    freed = true;
                } else if (may_wait && started < k_writeback_batch) {
                    // Writing a cluster takes its neighbours off the LRU
                    // too: start again from the oldest.
                    start_write_locked(*b);
                    started++;
                    next = m_lru.first();
                }
                b = next;
            }
            if (freed && m_bytes + size <= m_limit)
                return true;
            if (!may_wait)
                return false;
            if (started == 0 && !freed) {
                // Everything is held or in flight: wait for I/O if any is
                // pending, else overshoot.
                if (m_inflight == 0)
                    return true;
            }
            if (!freed)
                m_io_done.wait(m_lock);
        }
        return true;
    }

    Result<Buf*> new_buf_locked(BlockDevice& d, uint64_t blkno, bool may_wait) AK_REQUIRES(m_lock) {
        uint32_t size = d.m_block_size;
        if (m_bytes + size > m_limit) {
            // Full: reuse the oldest clean buffer of the same size instead
            // of freeing one and allocating another.
            int scanned = 0;
            for (Buf* b = m_lru.first(); b && scanned < 64; b = m_lru.next(*b), scanned++) {
                if (b->dirty || b->size != size)
                    continue;
                m_lru.remove(*b);
                m_hash[bucket(b->dev, b->blkno)].remove(*b);
                b->dev->m_bufs.remove(*b);
                b->dev = &d;
                b->blkno = blkno;
                b->holds = 0;
                b->valid = false;
                b->error = 0;
                m_hash[bucket(&d, blkno)].push_back(*b);
                d.m_bufs.push_back(*b);
                return b;
            }
        }
        if (!make_room_locked(size, may_wait))
            return ENOMEM;
        // Someone may have brought the block in while we waited.
        if (find_locked(&d, blkno))
            return EAGAIN;
        uint8_t* data = static_cast<uint8_t*>(kmem_alloc(size));
        if (!data)
            return ENOMEM;
        Buf* b = make<Buf>();
        if (!b) {
            kmem_free(data);
            return ENOMEM;
        }
        b->dev = &d;
        b->blkno = blkno;
        b->data = data;
        b->size = size;
        m_hash[bucket(&d, blkno)].push_back(*b);
        d.m_bufs.push_back(*b);
        m_bytes += size;
        m_buffers++;
        return b;
    }

    // Hold block blkno's buffer, with no I/O in flight: the cached one (its
    // contents valid or not, after a read that failed), or a new invalid one.
    Result<Buf*> hold_locked(BlockDevice& d, uint64_t blkno) AK_REQUIRES(m_lock) {
        for (;;) {
            if (Buf* b = find_locked(&d, blkno)) {
                b->holds++;
                if (b->m_lru_node.linked())
                    m_lru.remove(*b);
                while (b->io)
                    m_io_done.wait(m_lock);
                return b;
            }
            Result<Buf*> nb = new_buf_locked(d, blkno, true);
            if (nb.is_error()) {
                if (nb.error() == EAGAIN)
                    continue; // someone else brought it in while we waited
                return Error{nb.error()};
            }
            nb.value()->holds = 1;
            return nb.value();
        }
    }
};

namespace {

BufCache* g_cache;

} // namespace

void BufCache::cluster_done(void* arg, int error) {
    auto* c = static_cast<ClusterIo*>(arg);
    MutexGuard g(g_cache->m_lock);
    if (error && c->write)
        AK_LOG_ERROR("%s: write of blocks %llu+%u failed: errno %d", c->bufs[0]->dev->name().data(),
                     static_cast<unsigned long long>(c->bufs[0]->blkno), c->count, error);
    g_cache->finish_cluster_locked(c, error);
}

void BufCache::read_done(void* arg, int error) {
    Buf* b = static_cast<Buf*>(arg);
    MutexGuard g(g_cache->m_lock);
    b->io = false;
    g_cache->m_inflight--;
    b->error = error;
    b->valid = error == 0;
    g_cache->idle_locked(*b);
    g_cache->m_io_done.broadcast();
}

// --- BufRef ------------------------------------------------------------------

BufRef& BufRef::operator=(BufRef&& o) {
    if (this != &o) {
        release();
        m_buf = o.m_buf;
        o.m_buf = nullptr;
    }
    return *this;
}
uint8_t* BufRef::data() const {
    return m_buf->data;
}
uint32_t BufRef::size() const {
    return m_buf->size;
}
uint64_t BufRef::blkno() const {
    return m_buf->blkno;
}

void BufRef::mark_dirty() {
    MutexGuard g(g_cache->m_lock);
    g_cache->set_dirty_locked(*m_buf, true);
}

void BufRef::release() {
    if (!m_buf)
        return;
    MutexGuard g(g_cache->m_lock);
    AK_ASSERT(m_buf->holds > 0);
    m_buf->holds--;
    g_cache->idle_locked(*m_buf);
    m_buf = nullptr;
}

// --- BlockDevice --------------------------------------------------------------

BlockDevice::~BlockDevice() {
    if (m_handle) {
        invalidate();
        akhyp_blk_close(m_handle);
    } else if (m_ops) {
        invalidate();
        if (m_ops->close)
            m_ops->close(m_disk);
    }
}

int BlockDevice::submit(int op, const akhyp_blk_seg* segs, unsigned nsegs, uint64_t offset,
                        akhyp_blk_done_fn done, void* arg) {
    if (m_ops)
        return m_ops->submit(m_disk, op, segs, nsegs, offset, done, arg);
    return akhyp_blk_submit(m_handle, op, segs, nsegs, offset, done, arg);
}

Result<RefPtr<BlockDevice>> BlockDevice::attach_driver(StringView name, const DiskOps* ops,
                                                       void* disk, uint64_t size, bool read_only) {
    if (!g_cache)
        return ENODEV;
    if (!ops || !ops->submit || name.empty() || !valid_device_name(name))
        return EINVAL;
    auto* raw = make<BlockDevice>();
    if (!raw)
        return ENOMEM;
    RefPtr<BlockDevice> d = adopt_ref(raw);
    d->m_ops = ops;
    d->m_disk = disk;
    d->m_size = size - size % AKHYP_BLK_SECTOR;
    d->m_read_only = read_only;
    MutexGuard g(g_cache->m_lock);
    TRY(g_cache->add_device_locked(*d, name));
    return d;
}

Result<RefPtr<BlockDevice>> BlockDevice::attach(StringView path, StringView name, bool read_only) {
    if (!g_cache || !(akhyp_groups() & AKHYP_GROUP_BLOCK) || !akhyp_blk_open)
        return ENODEV;
    if (path.empty() || path.length() >= 4096 || !valid_device_name(name))
        return EINVAL;
    auto* raw = make<BlockDevice>();
    if (!raw)
        return ENOMEM;
    RefPtr<BlockDevice> d = adopt_ref(raw);
    KString cpath = TRY(KString::create(path));
    int e =
        akhyp_blk_open(cpath.c_str(), read_only ? AKHYP_BLK_RDONLY : 0, &d->m_handle, &d->m_size);
    if (e)
        return Error{e};
    d->m_read_only = read_only;
    MutexGuard g(g_cache->m_lock);
    char buf[24];
    if (name.empty()) {
        do
            format(buf, sizeof buf, "akblk%u", g_cache->m_next_unit++);
        while (g_cache->device_locked(StringView(buf)));
        name = StringView(buf);
    }
    TRY(g_cache->add_device_locked(*d, name));
    AK_LOG_INFO("%s: %llu bytes%s", d->m_name.c_str(), static_cast<unsigned long long>(d->m_size),
                read_only ? ", read-only" : "");
    return d;
}

Result<void> BlockDevice::claim() {
    bool expected = false;
    if (!m_claimed.compare_exchange(expected, true))
        return EBUSY;
    return {};
}

void BlockDevice::unclaim() {
    m_claimed.store(false);
}

namespace {

struct SyncIo {
    Mutex lock;
    CondVar cv;
    bool done = false;
    int error = 0;
    static void complete(void* arg, int error) {
        auto* s = static_cast<SyncIo*>(arg);
        MutexGuard g(s->lock);
        s->error = error;
        s->done = true;
        s->cv.signal();
    }
};

} // namespace

Result<void> BlockDevice::io_sync(int op, void* buf, size_t len, uint64_t offset) {
    SyncIo s;
    akhyp_blk_seg seg{buf, len};
    if (int e = submit(op, op == AKHYP_BLK_FLUSH ? nullptr : &seg, op == AKHYP_BLK_FLUSH ? 0 : 1,
                       offset, SyncIo::complete, &s))
        return Error{e};
    MutexGuard g(s.lock);
    while (!s.done)
        s.cv.wait(s.lock);
    return s.error;
}

Result<void> BlockDevice::read_bytes(void* buf, size_t len, uint64_t offset) {
    uint64_t start = offset / AKHYP_BLK_SECTOR * AKHYP_BLK_SECTOR;
    uint64_t end;
    if (__builtin_add_overflow(offset, len, &end) || end > m_size)
        return EIO;
    end = align_up(end, AKHYP_BLK_SECTOR);
    if (end > m_size)
        return EIO;
    size_t span = end - start;
    auto* tmp = static_cast<uint8_t*>(kmem_alloc(span));
    if (!tmp)
        return ENOMEM;
    Result<void> r = io_sync(AKHYP_BLK_READ, tmp, span, start);
    if (r.ok())
        __builtin_memcpy(buf, tmp + (offset - start), len);
    kmem_free(tmp);
    return r;
}

Result<void> BlockDevice::set_block_size(uint32_t size) {
    if (size < 512 || size > 65536 || (size & (size - 1)))
        return EINVAL;
    if (size == m_block_size)
        return {};
    TRY(sync());
    invalidate();
    MutexGuard g(g_cache->m_lock);
    if (!m_bufs.empty())
        return EBUSY;
    m_block_size = size;
    return {};
}

Result<BufRef> BlockDevice::bread(uint64_t blkno) {
    if (blkno >= block_count())
        return EIO;
    MutexGuard g(g_cache->m_lock);
    Buf* b = TRY(g_cache->hold_locked(*this, blkno));
    if (b->valid) {
        g_cache->m_hits++;
        return BufRef(b);
    }
    // New, or a read failed (or was never started): read it ourselves.
    b->io = true;
    g_cache->m_misses++;
    g_cache->m_inflight++;
    akhyp_blk_seg seg{b->data, b->size};
    int e = submit(AKHYP_BLK_READ, &seg, 1, blkno * b->size, BufCache::read_done, b);
    if (e) {
        b->io = false;
        b->error = e;
        g_cache->m_inflight--;
    }
    while (b->io)
        g_cache->m_io_done.wait(g_cache->m_lock);
    if (!b->valid) {
        int err = b->error ? b->error : EIO;
        b->holds--;
        g_cache->idle_locked(*b);
        AK_LOG_WARN("%s: read of block %llu failed: errno %d", m_name.c_str(),
                    static_cast<unsigned long long>(blkno), err);
        return EIO;
    }
    return BufRef(b);
}

Result<BufRef> BlockDevice::bzero(uint64_t blkno) {
    if (blkno >= block_count())
        return EIO;
    MutexGuard g(g_cache->m_lock);
    Buf* b = TRY(g_cache->hold_locked(*this, blkno));
    __builtin_memset(b->data, 0, b->size);
    b->valid = true;
    b->error = 0;
    return BufRef(b);
}

void BlockDevice::readahead(uint64_t blkno, uint32_t count) {
    MutexGuard g(g_cache->m_lock);
    uint64_t end = min<uint64_t>(blkno + count, block_count());
    uint64_t n = blkno;
    while (n < end) {
        if (g_cache->find_locked(this, n)) {
            n++;
            continue;
        }
        // A run of blocks not in the cache: one request.
        ClusterIo* c = make<ClusterIo>();
        if (!c)
            return;
        c->count = 0;
        c->write = false;
        uint64_t first = n;
        while (n < end && c->count < k_max_cluster && !g_cache->find_locked(this, n)) {
            Result<Buf*> nb = g_cache->new_buf_locked(*this, n, false);
            if (nb.is_error())
                break;
            Buf* b = nb.value();
            b->io = true;
            g_cache->m_inflight++;
            c->bufs[c->count++] = b;
            n++;
        }
        if (c->count == 0) {
            destroy(c);
            return; // no memory to spare
        }
        for (uint32_t i = 0; i < c->count; i++)
            c->segs[i] = akhyp_blk_seg{c->bufs[i]->data, c->bufs[i]->size};
        int e = submit(AKHYP_BLK_READ, c->segs, c->count, first * m_block_size,
                       BufCache::cluster_done, c);
        if (e) {
            g_cache->finish_cluster_locked(c, e);
            return;
        }
    }
}

void BlockDevice::forget(uint64_t blkno) {
    MutexGuard g(g_cache->m_lock);
    Buf* b = g_cache->find_locked(this, blkno);
    if (!b)
        return;
    g_cache->set_dirty_locked(*b, false);
    if (b->holds == 0 && !b->io)
        g_cache->free_buf_locked(b);
}

Result<void> BlockDevice::sync() {
    if (m_read_only)
        return {};
    {
        MutexGuard g(g_cache->m_lock);
        for (;;) {
            bool busy = false;
            for (auto& b : m_bufs) {
                if (b.io) {
                    busy = true;
                } else if (b.dirty) {
                    g_cache->start_write_locked(b);
                    busy = busy || b.io;
                }
            }
            if (!busy)
                break;
            g_cache->m_io_done.wait(g_cache->m_lock);
        }
    }
    TRY(io_sync(AKHYP_BLK_FLUSH, nullptr, 0, 0));
    if (m_write_failed.exchange(false))
        return EIO;
    return {};
}

void BlockDevice::invalidate() {
    MutexGuard g(g_cache->m_lock);
    for (;;) {
        bool busy = false;
        for (Buf* b = m_bufs.first(); b;) {
            Buf* next = m_bufs.next(*b);
            if (b->io)
                busy = true;
            else if (b->holds == 0)
                g_cache->free_buf_locked(b);
            b = next;
        }
        if (!busy)
            break;
        g_cache->m_io_done.wait(g_cache->m_lock);
    }
}

Result<RefPtr<BlockDevice>> blk_find(StringView name) {
    if (!g_cache)
        return ENODEV;
    if (name.starts_with("/dev/"))
        name = name.substr(5);
    MutexGuard g(g_cache->m_lock);
    if (BlockDevice* d = g_cache->device_locked(name))
        return RefPtr<BlockDevice>(d);
    return ENXIO;
}

BufCacheStats bcache_stats() {
    BufCacheStats s{};
    if (!g_cache)
        return s;
    MutexGuard g(g_cache->m_lock);
    s.bytes = g_cache->m_bytes;
    s.limit = g_cache->m_limit;
    s.buffers = g_cache->m_buffers;
    s.dirty = g_cache->m_dirty;
    s.hits = g_cache->m_hits;
    s.misses = g_cache->m_misses;
    s.writes = g_cache->m_writes;
    return s;
}

namespace {

// The cache gets a quarter of the kernel memory limit (16 MiB when there is
// no limit); the "bufcache" parameter overrides it.
size_t cache_limit() {
    char buf[32];
    if (akhyp_getparam("bufcache", buf, sizeof buf) == 0) {
        Result<uint64_t> v = parse_size(buf);
        if (v.ok() && v.value() >= k_min_cache)
            return static_cast<size_t>(v.value());
        AK_LOG_WARN("ignoring bad bufcache '%s'", buf);
    }
    size_t limit = kmem_stats().limit;
    if (limit == 0)
        return k_default_cache;
    return max(limit / 4, k_min_cache);
}

Result<void> blk_init() {
    // Disks come from the platform's block group or from drivers on the bus
    // group (virtio-blk).
    bool platform_disks = (akhyp_groups() & AKHYP_GROUP_BLOCK) && akhyp_blk_open;
    if (!platform_disks && !(akhyp_groups() & AKHYP_GROUP_BUS)) {
        AK_LOG_INFO("blk: platform has no block group; no disks");
        return {};
    }
    auto* c = make<BufCache>();
    if (!c)
        return ENOMEM;
    c->m_hash = static_cast<HashChain*>(kmem_alloc(sizeof(HashChain) * k_hash_buckets));
    if (!c->m_hash) {
        destroy(c);
        return ENOMEM;
    }
    for (size_t i = 0; i < k_hash_buckets; i++)
        new (&c->m_hash[i]) HashChain();
    c->m_limit = cache_limit();
    g_cache = c;
    return {};
}

} // namespace

} // namespace ak

AK_COMPONENT(blk, ak::InitLevel::Dev, ak::blk_init);

using namespace ak;

extern "C" AK_EXPORT int ak_kern_disk_attach(const char* path, const char* name, int flags,
                                             char* name_out, size_t name_out_len) {
    if (!path || (flags & ~AK_KERN_DISK_RDONLY))
        return -EINVAL;
    Result<RefPtr<BlockDevice>> d = BlockDevice::attach(
        StringView(path), name ? StringView(name) : StringView(), flags & AK_KERN_DISK_RDONLY);
    if (d.is_error())
        return -d.error();
    if (name_out && name_out_len)
        str_copy(name_out, d.value()->name().data(), name_out_len);
    return 0;
}

extern "C" AK_EXPORT int ak_kern_disk_detach(const char* name) {
    if (!name)
        return -EINVAL;
    Result<RefPtr<BlockDevice>> r = blk_find(StringView(name));
    if (r.is_error())
        return -r.error();
    RefPtr<BlockDevice> d = r.release_value();
    if (d->claim().is_error())
        return -EBUSY;
    Result<void> s = d->sync();
    {
        MutexGuard g(g_cache->m_lock);
        g_cache->m_devices.remove(*d);
    }
    d->unclaim();
    d->unref(); // the registry's reference
    return s.is_error() ? -s.error() : 0;
}
