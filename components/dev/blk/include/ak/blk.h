// The block layer: named block devices and a buffer cache (docs/block.md).
//
// A BlockDevice is a disk the platform opened through the hypercall block
// group (or, later, one a driver such as virtio-blk registers).  File
// systems use it through the buffer cache: fixed-size blocks (the size the
// file system chose with set_block_size), read synchronously with bread()
// on top of the asynchronous hypercalls, modified in place while held, and
// written back later (write-back, LRU, bounded; flushed by sync()).
//
// Contracts
//  - A buffer's contents may be read or changed only while the caller holds
//    it (a BufRef).  Two holders of the same block see the same memory; the
//    file system serialises changes to one block (ext2 does it with its
//    per-mount lock).
//  - Unheld buffers may be written back and evicted at any time.
//  - One file system at a time claims a device (claim()/unclaim()).
#pragma once

#include <ak/list.h>
#include <ak/refptr.h>
#include <ak/string.h>
#include <ak/sync.h>
#include <anykern/hypercall.h>

struct akhyp_blk;

namespace ak {

class BlockDevice;

// A disk provided by a kernel driver (virtio-blk) rather than the
// platform's block group.  submit and close have the contracts of
// akhyp_blk_submit and akhyp_blk_close; close may be null.
struct DiskOps {
    int (*submit)(void* disk, int op, const akhyp_blk_seg* segs, unsigned nsegs, uint64_t offset,
                  akhyp_blk_done_fn done, void* arg);
    void (*close)(void* disk);
};

// A cached block.  Fields are guarded by the cache lock; data belongs to
// the holders (see the contract above).
struct Buf : NonCopyable {
    BlockDevice* dev = nullptr;
    uint64_t blkno = 0;
    uint8_t* data = nullptr;
    uint32_t size = 0;
    uint32_t holds = 0;   // BufRefs plus the cache's own pin during I/O
    bool valid = false;   // data holds the block's contents
    bool dirty = false;   // data differs from the disk
    bool io = false;      // a read or write is in flight
    int error = 0;        // result of the last read
    ListNode m_hash_node; // hash chain
    ListNode m_lru_node;  // on the LRU while unheld and idle
    ListNode m_dev_node;  // the device's buffers
};

// A held buffer: released when the BufRef goes away.
class BufRef : NonCopyable {
public:
    BufRef() = default;
    BufRef(BufRef&& o) : m_buf(o.m_buf) { o.m_buf = nullptr; }
    BufRef& operator=(BufRef&& o);
    ~BufRef() { release(); }

    uint8_t* data() const;
    uint32_t size() const;
    uint64_t blkno() const;
    // Schedule the block for write-back.
    void mark_dirty();
    void release();
    explicit operator bool() const { return m_buf != nullptr; }

private:
    friend class BlockDevice;
    explicit BufRef(Buf* b) : m_buf(b) {}
    Buf* m_buf = nullptr;
};

class BlockDevice : public RefCounted<BlockDevice>, public KObject {
public:
    // Open a platform disk and register it as name (unique).
    static Result<RefPtr<BlockDevice>> attach(StringView path, StringView name, bool read_only);
    // Register a driver's disk as name (required, unique).  size in bytes.
    static Result<RefPtr<BlockDevice>> attach_driver(StringView name, const DiskOps* ops,
                                                     void* disk, uint64_t size, bool read_only);
    BlockDevice() = default; // use attach()
    ~BlockDevice() override;

    StringView name() const { return m_name.view(); }
    uint64_t size() const { return m_size; }
    bool read_only() const { return m_read_only; }

    // Exclusive use by one file system: EBUSY when already claimed.
    Result<void> claim();
    void unclaim();

    // Uncached synchronous I/O at byte granularity rounded out to sectors
    // (superblock probing).  EIO past the end of the device.
    Result<void> read_bytes(void* buf, size_t len, uint64_t offset);

    // Choose the cache block size (a power of two, 512..65536).  The
    // device's cached buffers are written back and dropped first.
    Result<void> set_block_size(uint32_t size);
    uint32_t block_size() const { return m_block_size; }
    uint64_t block_count() const { return m_size / m_block_size; }

    // Block blkno, read from the disk if not cached.  EIO for a failed read
    // or a block past the end.
    Result<BufRef> bread(uint64_t blkno);
    // Block blkno with all-zero contents, without reading (a newly
    // allocated block); the caller marks it dirty after filling it.
    Result<BufRef> bzero(uint64_t blkno);
    // Start reading blocks [blkno, blkno + count) that are not cached
    // (contiguous runs in one request); never blocks on I/O and silently
    // does less when memory is short.
    void readahead(uint64_t blkno, uint32_t count = 1);
    // The block was freed: drop its pending write-back.
    void forget(uint64_t blkno);

    // Write back every dirty buffer of this device, wait, then ask the
    // platform to make it durable (FLUSH).
    Result<void> sync();
    // Drop every unheld buffer (after sync); used at unmount.
    void invalidate();

    // Sticky I/O error flag: set when a write-back failed.
    bool write_failed() const { return m_write_failed.load(MemoryOrder::Relaxed); }

    ListNode m_list_node;

private:
    friend struct Buf;
    friend class BufRef;
    friend struct BufCache;
    Result<void> io_sync(int op, void* buf, size_t len, uint64_t offset);

    KString m_name;
    List<Buf, &Buf::m_dev_node> m_bufs; // guarded by the cache lock
    akhyp_blk* m_handle = nullptr;
    const DiskOps* m_ops = nullptr; // a driver disk: m_disk instead of m_handle
    void* m_disk = nullptr;
    int submit(int op, const akhyp_blk_seg* segs, unsigned nsegs, uint64_t offset,
               akhyp_blk_done_fn done, void* arg);
    uint64_t m_size = 0;
    bool m_read_only = false;
    uint32_t m_block_size = 1024;
    Atomic<bool> m_claimed{false};
    Atomic<bool> m_write_failed{false};
};

// Devices by name: "akblk0" or "/dev/akblk0" (mount sources name devices
// this way; there is no devfs yet).
Result<RefPtr<BlockDevice>> blk_find(StringView name_or_path);

struct BufCacheStats {
    size_t bytes, limit, buffers, dirty, hits, misses, writes;
};
BufCacheStats bcache_stats();

} // namespace ak
