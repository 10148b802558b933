// tmpfs: a file system in kernel memory with Linux tmpfs semantics.
//
// Storage
//  - Regular files keep their data in a sparse radix tree of 4 KiB pages
//    (PageTree: fanout 64, grown in height on demand, so a one-page file
//    needs no interior node).  Pages are allocated on write only; a hole
//    reads as zeros.  Invariant: the bytes of the last page past EOF are
//    zero (new pages are zeroed outside the written range and shrinking
//    zeroes the tail), so growing a file never exposes old data.
//  - A directory indexes its entries twice: a chained hash table for O(1)
//    lookup (grows at load factor 1, shrinks below 1/8) and a vector of
//    (cookie, entry) slots in creation order for readdir.
//  - Every node has one embedded directory entry whose name lives in the
//    node's own allocation, so creating a file is a single allocation.  An
//    extra hard link (or a rename to a longer name) allocates its entry.
//    An entry always names the same node for its whole life.
//
// Readdir cookies: 0 is ".", 1 is "..", and each entry takes the
// directory's next cookie (a 64-bit counter from 2, never reused).
// readdir(c) resumes at the first slot whose cookie is >= c (binary search)
// and an emitted entry's next_cookie is its cookie + 1, so a cookie stays
// valid whatever is inserted or removed meanwhile.  Removing an entry leaves
// a tombstone slot; trailing tombstones are popped at once and the rest
// compacted when they outnumber the live entries (amortised O(1)).
//
// Limits: the mount options size=/nr_blocks= (data pages) and nr_inodes=
// give ENOSPC; max_file_size= (default 2^44 bytes, at most 2^63-1) gives
// EFBIG.  Interior tree nodes and directory indexes are not charged to
// size= (as Linux does not charge its xarray nodes); every allocation is
// charged to the kernel memlimit, and refusal there is ENOMEM.
//
// Locking: the VFS holds each vnode's RwLock as vfs.h documents.  Node
// fields are written with the node's lock held exclusive and read with it
// held at least shared ("vnode lock" below).  Mount-wide counters are
// atomics.  atime is written by readers that hold the lock only shared, so
// it lives in a small seqlock (AtimeCell).  rename holds both directories,
// the source and the target exclusive, which covers a moved directory's
// parent pointer (read by parent() under that directory's shared lock).
#include <ak/component.h>
#include <ak/kmem.h>
#include <ak/params.h>
#include <ak/time.h>
#include <ak/vector.h>
#include <ak/vfs.h>

namespace ak {

namespace {

constexpr size_t k_page_size = 4096;
constexpr unsigned k_page_shift = 12;
// Default per-file limit; writes past it fail with EFBIG.  Large enough for
// any realistic in-memory file, small enough that a stray pwrite at a huge
// offset cannot build a deep, mostly empty tree.
constexpr uint64_t k_default_max_file_size = uint64_t(1) << 44;
constexpr uint64_t k_linux_max_file_size = ~uint64_t(0) >> 1; // MAX_LFS_FILESIZE
constexpr uint32_t k_link_max = 65000;
// Directory st_size: Linux tmpfs counts this many bytes per entry.
constexpr int64_t k_bogo_dirent_size = 20;
constexpr int64_t k_relatime_interval_sec = 24 * 60 * 60;
// statfs figures when neither size= nor the kernel memlimit bounds us.
constexpr uint64_t k_unbounded_blocks = uint64_t(1) << 36;
// statfs: estimated bytes per inode when nr_inodes is unlimited.
constexpr uint64_t k_bytes_per_inode_estimate = 1024;

inline void cpu_relax() {
#if defined(__x86_64__) || defined(__i386__)
    __builtin_ia32_pause();
#endif
}

bool ts_le(const abi::Timespec& a, const abi::Timespec& b) {
    return a.tv_sec < b.tv_sec || (a.tv_sec == b.tv_sec && a.tv_nsec <= b.tv_nsec);
}

// A timestamp that readers holding the vnode lock shared may update: a
// seqlock.  Concurrent writers do not wait for each other; the loser's
// value would be the same "now" to within the race, so it is dropped.
class AtimeCell : NonCopyable {
public:
    abi::Timespec load() const {
        for (;;) {
            uint32_t seq = m_seq.load(MemoryOrder::Acquire);
            if (seq & 1) {
                cpu_relax();
                continue;
            }
            abi::Timespec t{m_sec.load(MemoryOrder::Relaxed), m_nsec.load(MemoryOrder::Relaxed)};
            __atomic_thread_fence(__ATOMIC_ACQUIRE);
            if (m_seq.load(MemoryOrder::Relaxed) == seq)
                return t;
        }
    }
    bool try_store(const abi::Timespec& t) {
        uint32_t seq = m_seq.load(MemoryOrder::Relaxed);
        if ((seq & 1) || !m_seq.compare_exchange(seq, seq + 1, MemoryOrder::Acquire))
            return false;
        m_sec.store(t.tv_sec, MemoryOrder::Relaxed);
        m_nsec.store(t.tv_nsec, MemoryOrder::Relaxed);
        m_seq.store(seq + 2, MemoryOrder::Release);
        return true;
    }
    void store(const abi::Timespec& t) {
        while (!try_store(t))
            cpu_relax();
    }

private:
    Atomic<uint32_t> m_seq{0};
    Atomic<int64_t> m_sec{0};
    Atomic<int64_t> m_nsec{0};
};

// --- Sparse page storage ---------------------------------------------------

// A radix tree of pages indexed by page number.  With height h the root
// covers indices [0, 64^h); height 0 means the root is the page at index 0.
// Guarded by the file's vnode lock.
class PageTree : NonCopyable {
public:
    ~PageTree() { (void)free_from(0); }

    uint64_t count() const { return m_count; }

    uint8_t* lookup(uint64_t index) const {
        if (index >= capacity(m_height))
            return nullptr;
        void* p = m_root;
        for (unsigned level = m_height; level > 0 && p; level--)
            p = static_cast<Node*>(p)->slots[(index >> (k_shift * (level - 1))) & k_mask];
        return static_cast<uint8_t*>(p);
    }

    // The slot that holds page index, allocating interior nodes on the way
    // (ENOMEM).  The caller stores a page there and calls page_added().
    Result<void**> slot(uint64_t index) {
        while (index >= capacity(m_height)) {
            if (m_root) {
                auto* n = static_cast<Node*>(kmem_zalloc(sizeof(Node)));
                if (!n)
                    return ENOMEM;
                n->slots[0] = m_root;
                m_root = n;
            }
            m_height++;
        }
        void** s = &m_root;
        for (unsigned level = m_height; level > 0; level--) {
            if (!*s) {
                *s = kmem_zalloc(sizeof(Node));
                if (!*s)
                    return ENOMEM;
            }
            s = &static_cast<Node*>(*s)->slots[(index >> (k_shift * (level - 1))) & k_mask];
        }
        return s;
    }
    void page_added() { m_count++; }

    // Free every page with index >= first and the interior nodes left
    // empty; returns how many pages were freed.
    uint64_t free_from(uint64_t first) {
        uint64_t freed = 0;
        prune(m_root, m_height, 0, first, freed);
        // Lower the height while only the first slot of the root is used.
        while (m_height > 0 && only_first_used(static_cast<Node*>(m_root))) {
            auto* n = static_cast<Node*>(m_root);
            m_root = n ? n->slots[0] : nullptr;
            kmem_free(n);
            m_height--;
        }
        m_count -= freed;
        return freed;
    }

private:
    static constexpr unsigned k_shift = 6;
    static constexpr unsigned k_fanout = 1u << k_shift;
    static constexpr uint64_t k_mask = k_fanout - 1;
    struct Node {
        void* slots[k_fanout];
    };

    // Page indices covered by a slot at this level (64^level).
    static uint64_t capacity(unsigned level) {
        return level * k_shift >= 64 ? ~uint64_t(0) : uint64_t(1) << (level * k_shift);
    }

    static bool only_first_used(const Node* n) {
        if (!n)
            return true;
        for (unsigned i = 1; i < k_fanout; i++)
            if (n->slots[i])
                return false;
        return true;
    }

    static void prune(void*& slot, unsigned level, uint64_t base, uint64_t first, uint64_t& freed) {
        if (!slot)
            return;
        if (level == 0) {
            if (base >= first) {
                kmem_free(slot);
                slot = nullptr;
                freed++;
            }
            return;
        }
        uint64_t span = capacity(level);
        if (first >= base && first - base >= span)
            return; // entirely below first: kept
        auto* n = static_cast<Node*>(slot);
        uint64_t child_span = span >> k_shift;
        bool empty = true;
        for (unsigned i = 0; i < k_fanout; i++) {
            prune(n->slots[i], level - 1, base + i * child_span, first, freed);
            if (n->slots[i])
                empty = false;
        }
        if (empty) {
            kmem_free(n);
            slot = nullptr;
        }
    }

    void* m_root = nullptr;
    unsigned m_height = 0;
    uint64_t m_count = 0;
};

// --- Mount -----------------------------------------------------------------

struct TmpfsOptions {
    uint64_t max_pages = 0;  // 0 = unlimited (the kernel memlimit bounds us)
    uint64_t max_inodes = 0; // 0 = unlimited
    uint64_t max_file_size = k_default_max_file_size;
    uint32_t mode = 01777;
    uint32_t uid = 0;
    uint32_t gid = 0;
};

class TmpfsMount final : public Mount {
public:
    TmpfsMount(FileSystemType& type, unsigned long flags, const TmpfsOptions& opts)
        : Mount(type, flags), m_opts(opts) {}

    Result<void> statfs(abi::Statfs& st) override;
    Result<void> sync() override { return {}; }
    Result<void> unmount(bool force) override;

    using Mount::set_root;

    const TmpfsOptions& options() const { return m_opts; }
    uint64_t alloc_ino() { return m_next_ino.fetch_add(1, MemoryOrder::Relaxed); }

    Result<void> reserve_inode() {
        if (!reserve(m_inodes, m_opts.max_inodes))
            return ENOSPC;
        return {};
    }
    void release_inode() { m_inodes.fetch_sub(uint64_t(1), MemoryOrder::Relaxed); }
    bool reserve_page() { return reserve(m_pages, m_opts.max_pages); }
    void release_pages(uint64_t n) {
        if (n)
            m_pages.fetch_sub(n, MemoryOrder::Relaxed);
    }

private:
    static bool reserve(Atomic<uint64_t>& counter, uint64_t limit) {
        if (!limit) {
            counter.fetch_add(uint64_t(1), MemoryOrder::Relaxed);
            return true;
        }
        uint64_t cur = counter.load(MemoryOrder::Relaxed);
        do {
            if (cur >= limit)
                return false;
        } while (!counter.compare_exchange(cur, cur + 1, MemoryOrder::Relaxed));
        return true;
    }

    const TmpfsOptions m_opts;
    Atomic<uint64_t> m_pages{0};
    Atomic<uint64_t> m_inodes{0};
    Atomic<uint64_t> m_next_ino{1};
};

// --- Nodes -----------------------------------------------------------------

class TmpNode;

// A name in a directory.  It holds a reference to its node and names the
// same node for its whole life.  Guarded by the directory's vnode lock.
struct Dirent {
    Dirent* hash_next = nullptr;
    TmpNode* node = nullptr;
    int64_t cookie = 0;
    char* name = nullptr;
    uint32_t hash = 0;
    uint16_t name_len = 0;
    uint16_t capacity = 0; // bytes of name storage
    bool external = false; // allocated on its own, else embedded in node

    StringView view() const { return StringView(name, name_len); }
    bool matches(StringView n, uint32_t h) const {
        return hash == h && name_len == n.length() &&
               __builtin_memcmp(name, n.data(), name_len) == 0;
    }
    void set_name(StringView n, uint32_t h) {
        AK_ASSERT(n.length() <= capacity);
        __builtin_memcpy(name, n.data(), n.length());
        name_len = static_cast<uint16_t>(n.length());
        hash = h;
    }
};

// Name storage reserved in a node's allocation for its embedded entry: a
// little slack so that renaming to a slightly longer name stays in place.
size_t name_capacity(size_t len) {
    return align_up(max<size_t>(len, 16), 8);
}

class TmpNode : public Vnode {
public:
    TmpfsMount& fs() const { return static_cast<TmpfsMount&>(mount()); }

    Result<void> getattr(VAttr& attr) override;
    Result<void> setattr(const SetAttr& attr) override;

    // Relatime: update atime if it is not newer than mtime or ctime, or is
    // a day old (always under MS_STRICTATIME, never under MS_NOATIME).
    void touch_atime();

    // Vnode lock.
    uint32_t m_mode = 0;
    uint32_t m_uid = 0;
    uint32_t m_gid = 0;
    uint32_t m_nlink = 0;
    uint64_t m_rdev = 0;
    abi::Timespec m_mtime{}, m_ctime{}, m_btime{};
    AtimeCell m_atime;
    // The embedded entry; m_entry_in_use changes with this node's lock held
    // exclusive (every caller that adds or removes a name holds it).
    Dirent m_entry;
    bool m_entry_in_use = false;

protected:
    TmpNode(TmpfsMount& fs, VType type, uint64_t ino, char* name_storage, size_t name_cap)
        : Vnode(fs, type, ino) {
        m_entry.name = name_storage;
        m_entry.capacity = static_cast<uint16_t>(name_cap);
    }
    ~TmpNode() override { fs().release_inode(); }
};

// Allocate a node of type T with tail bytes after it (embedded name,
// symlink target).  The constructor receives the tail first.
template <typename T, typename... Args> T* alloc_node(size_t tail, Args&&... args) {
    void* p = kmem_alloc(sizeof(T) + tail);
    if (!p)
        return nullptr;
    return new (p) T(static_cast<char*>(p) + sizeof(T), forward<Args>(args)...);
}

// An entry for node that can hold a name of len bytes: reusable (the
// node's current entry, about to be detached) if large enough, else the
// node's embedded entry if free, else a new one (ENOMEM).
Result<Dirent*> entry_for(TmpNode& node, Dirent* reusable, size_t len) {
    Dirent* e;
    if (reusable && reusable->capacity >= len) {
        e = reusable;
    } else if (!node.m_entry_in_use && node.m_entry.capacity >= len) {
        e = &node.m_entry;
        node.m_entry_in_use = true;
    } else {
        void* p = kmem_alloc(sizeof(Dirent) + len);
        if (!p)
            return ENOMEM;
        e = new (p) Dirent;
        e->name = static_cast<char*>(p) + sizeof(Dirent);
        e->capacity = static_cast<uint16_t>(len);
        e->external = true;
    }
    e->node = &node;
    return e;
}

// Give back an entry that is in no directory (the node reference it held
// is the caller's business).
void release_entry(Dirent* e) {
    if (e->external) {
        e->~Dirent();
        kmem_free(e);
        return;
    }
    AK_ASSERT(e == &e->node->m_entry);
    e->node->m_entry_in_use = false;
    e->hash_next = nullptr;
}

class TmpFile final : public TmpNode {
public:
    TmpFile(char* tail, TmpfsMount& fs, uint64_t ino, size_t name_cap)
        : TmpNode(fs, VType::Reg, ino, tail, name_cap) {}
    ~TmpFile() override { fs().release_pages(m_pages.free_from(0)); }

    Result<size_t> read(Uio& uio, int64_t offset) override;
    Result<size_t> write(Uio& uio, int64_t& offset, int ioflags) override;

    Result<void> check_size(int64_t size) const {
        if (size < 0)
            return EINVAL;
        if (static_cast<uint64_t>(size) > fs().options().max_file_size)
            return EFBIG;
        return {};
    }
    // Set the size (validated by check_size): shrinking frees whole pages
    // past the end and zeroes the tail of the last partial page; growing
    // leaves a hole.
    void resize(int64_t size);

    // Vnode lock.
    int64_t m_size = 0;
    PageTree m_pages;

private:
    Result<uint8_t*> page_for_write(uint64_t index, bool& fresh);
};

class TmpSymlink final : public TmpNode {
public:
    TmpSymlink(char* tail, TmpfsMount& fs, uint64_t ino, size_t name_cap, StringView target)
        : TmpNode(fs, VType::Lnk, ino, tail, name_cap), m_target(tail + name_cap),
          m_target_len(target.length()) {
        __builtin_memcpy(m_target, target.data(), target.length());
    }

    Result<size_t> readlink(Span<char> buf) override {
        size_t n = min(m_target_len, buf.size());
        __builtin_memcpy(buf.data(), m_target, n);
        touch_atime();
        return n;
    }

    char* const m_target; // immutable
    const size_t m_target_len;
};

// FIFOs, sockets and device nodes: attributes only; opening them is the
// VFS's business (open_special's default).
class TmpSpecial final : public TmpNode {
public:
    TmpSpecial(char* tail, TmpfsMount& fs, VType type, uint64_t ino, size_t name_cap, uint64_t rdev)
        : TmpNode(fs, type, ino, tail, name_cap) {
        m_rdev = rdev;
    }
};

struct DirSlot {
    int64_t cookie;
    Dirent* entry; // nullptr: a tombstone
};

class TmpDir final : public TmpNode {
public:
    TmpDir(char* tail, TmpfsMount& fs, uint64_t ino, size_t name_cap)
        : TmpNode(fs, VType::Dir, ino, tail, name_cap) {
        m_buckets = m_inline_buckets;
    }
    ~TmpDir() override;

    Result<RefPtr<Vnode>> lookup(StringView name) override;
    Result<RefPtr<Vnode>> parent() override;
    Result<RefPtr<Vnode>> create(StringView name, uint32_t mode, const Cred& cred,
                                 uint64_t rdev) override;
    Result<RefPtr<Vnode>> mkdir(StringView name, uint32_t mode, const Cred& cred) override;
    Result<RefPtr<Vnode>> symlink(StringView name, StringView target, const Cred& cred) override;
    Result<void> link(StringView name, Vnode& target) override;
    Result<void> unlink(StringView name, Vnode& victim) override;
    Result<void> rmdir(StringView name, Vnode& victim) override;
    Result<void> rename(StringView oldname, Vnode& src, Vnode& newdir, StringView newname,
                        Vnode* target, unsigned flags) override;
    Result<void> readdir(int64_t cookie, DirentSink& sink) override;

    // Removed (rmdir, replaced by rename, unmounted): no new entries.
    bool dead() const { return m_nlink == 0; }
    size_t entry_count() const { return m_count; }
    Dirent* last_entry() const {
        size_t n = m_order.size();
        return n ? m_order.data()[n - 1].entry : nullptr; // trailing tombstones are popped
    }
    // Take e out of this directory (it keeps its node reference).
    // allow_shrink=false keeps a reservation made by reserve_slot().
    void remove(Dirent* e, bool allow_shrink = true);

    // The parent directory (nullptr for the root and after unmount).
    // Guarded by this directory's vnode lock.
    RefPtr<TmpDir> m_parent;

private:
    static constexpr size_t k_inline_buckets = 8;
    static constexpr size_t k_tombstone_slack = 16;

    Dirent* find(StringView name, uint32_t hash) const {
        for (Dirent* e = m_buckets[hash & m_bucket_mask]; e; e = e->hash_next)
            if (e->matches(name, hash))
                return e;
        return nullptr;
    }
    void hash_insert(Dirent* e) {
        Dirent*& head = m_buckets[e->hash & m_bucket_mask];
        e->hash_next = head;
        head = e;
    }
    void hash_remove(Dirent* e) {
        Dirent** p = &m_buckets[e->hash & m_bucket_mask];
        while (*p != e)
            p = &(*p)->hash_next;
        *p = e->hash_next;
        e->hash_next = nullptr;
    }
    void rehash(size_t nbuckets);
    void resize_hash();

    size_t slot_index(int64_t cookie) const {
        const DirSlot* s = m_order.data();
        size_t lo = 0, hi = m_order.size();
        while (lo < hi) {
            size_t mid = lo + (hi - lo) / 2;
            if (s[mid].cookie < cookie)
                lo = mid + 1;
            else
                hi = mid;
        }
        return lo;
    }
    void compact_slots();
    // Make room so that the next insert() cannot fail (ENOMEM).
    Result<void> reserve_slot();
    // Add e (named, with its node reference) at the end with a new cookie.
    void insert(Dirent* e);
    // Put e in the slot that has cookie, which must be empty of a hashed
    // entry (its previous entry was hash_remove()d); e takes that cookie.
    void put_in_slot(int64_t cookie, Dirent* e);

    Result<void> prepare_create(StringView name, uint32_t hash);
    void finish_create(TmpNode& node, StringView name, uint32_t hash, uint32_t mode,
                       const Cred& cred);
    void touch_dir_times(const abi::Timespec& now) { m_mtime = m_ctime = now; }

    // Vnode lock.
    Dirent** m_buckets;
    size_t m_bucket_mask = k_inline_buckets - 1;
    Dirent* m_inline_buckets[k_inline_buckets] = {};
    size_t m_count = 0;
    Vector<DirSlot> m_order;
    int64_t m_next_cookie = 2;
};

TmpDir* as_dir(Vnode* v) {
    return static_cast<TmpDir*>(v);
}

// --- Attributes ------------------------------------------------------------

void TmpNode::touch_atime() {
    unsigned long flags = mount().flags();
    if ((flags & MS_NOATIME) || (is_dir() && (flags & MS_NODIRATIME)))
        return;
    abi::Timespec now = realtime_now();
    if (!(flags & MS_STRICTATIME)) {
        abi::Timespec at = m_atime.load();
        if (!ts_le(at, m_mtime) && !ts_le(at, m_ctime) &&
            now.tv_sec - at.tv_sec < k_relatime_interval_sec)
            return;
    }
    (void)m_atime.try_store(now);
}

Result<void> TmpNode::getattr(VAttr& a) {
    a = VAttr{};
    a.mode = m_mode;
    a.uid = m_uid;
    a.gid = m_gid;
    a.nlink = m_nlink;
    a.ino = ino();
    a.rdev = m_rdev;
    a.blksize = k_page_size;
    switch (type()) {
    case VType::Reg: {
        auto* f = static_cast<TmpFile*>(this);
        a.size = f->m_size;
        a.blocks = f->m_pages.count() * (k_page_size / 512);
        break;
    }
    case VType::Dir:
        a.size = static_cast<int64_t>(2 + as_dir(this)->entry_count()) * k_bogo_dirent_size;
        break;
    case VType::Lnk:
        a.size = static_cast<int64_t>(static_cast<TmpSymlink*>(this)->m_target_len);
        break;
    default:
        break;
    }
    a.atime = m_atime.load();
    a.mtime = m_mtime;
    a.ctime = m_ctime;
    a.btime = m_btime;
    return {};
}

Result<void> TmpNode::setattr(const SetAttr& sa) {
    // Validate everything first so that a failure changes nothing.
    bool resize = false;
    if (sa.mask & SetAttr::Size) {
        if (is_dir())
            return EISDIR;
        if (type() != VType::Reg)
            return EINVAL;
        TRY(static_cast<TmpFile*>(this)->check_size(sa.size));
        resize = true;
    }
    if (resize) {
        auto* f = static_cast<TmpFile*>(this);
        if (f->m_size != sa.size) {
            f->resize(sa.size);
            // A size change updates mtime and ctime even when the caller
            // (ftruncate) did not ask, as Linux tmpfs does.
            if (!(sa.mask & (SetAttr::Mtime | SetAttr::Ctime)))
                m_mtime = m_ctime = realtime_now();
        }
    }
    if (sa.mask & SetAttr::Mode)
        m_mode = (m_mode & S_IFMT) | (sa.mode & 07777);
    if (sa.mask & SetAttr::Uid)
        m_uid = sa.uid;
    if (sa.mask & SetAttr::Gid)
        m_gid = sa.gid;
    if (sa.mask & SetAttr::Atime)
        m_atime.store(sa.atime);
    if (sa.mask & SetAttr::Mtime)
        m_mtime = sa.mtime;
    if (sa.mask & SetAttr::Ctime)
        m_ctime = sa.ctime;
    return {};
}

// --- Regular files ---------------------------------------------------------

Result<size_t> TmpFile::read(Uio& uio, int64_t offset) {
    if (offset < 0)
        return EINVAL;
    size_t want = uio.resid();
    if (want == 0)
        return size_t(0);
    size_t done = 0;
    if (offset < m_size) {
        uint64_t n = min<uint64_t>(want, static_cast<uint64_t>(m_size - offset));
        while (done < n) {
            uint64_t pos = static_cast<uint64_t>(offset) + done;
            size_t in_page = pos & (k_page_size - 1);
            size_t chunk = static_cast<size_t>(min<uint64_t>(k_page_size - in_page, n - done));
            const uint8_t* page = m_pages.lookup(pos >> k_page_shift);
            size_t c = page ? uio.copy_out(page + in_page, chunk) : uio.zero_fill(chunk);
            done += c;
            if (c < chunk) {
                if (done == 0)
                    return EFAULT;
                break;
            }
        }
    }
    touch_atime();
    return done;
}

Result<uint8_t*> TmpFile::page_for_write(uint64_t index, bool& fresh) {
    fresh = false;
    void** slot = TRY(m_pages.slot(index));
    if (*slot)
        return static_cast<uint8_t*>(*slot);
    if (!fs().reserve_page())
        return ENOSPC;
    auto* page = static_cast<uint8_t*>(kmem_alloc(k_page_size));
    if (!page) {
        fs().release_pages(1);
        return ENOMEM;
    }
    *slot = page;
    m_pages.page_added();
    fresh = true;
    return page;
}

Result<size_t> TmpFile::write(Uio& uio, int64_t& offset, int ioflags) {
    // O_APPEND: the data goes at the end, and offset reports where it went
    // (VnodeFile::write then sets the position to offset + count).
    if (ioflags & O_APPEND)
        offset = m_size;
    if (offset < 0)
        return EINVAL;
    size_t want = uio.resid();
    if (want == 0)
        return size_t(0);
    uint64_t limit = fs().options().max_file_size;
    uint64_t start = static_cast<uint64_t>(offset);
    if (start >= limit)
        return EFBIG;
    uint64_t n = min<uint64_t>(want, limit - start);
    size_t done = 0;
    while (done < n) {
        uint64_t pos = start + done;
        size_t in_page = pos & (k_page_size - 1);
        size_t chunk = static_cast<size_t>(min<uint64_t>(k_page_size - in_page, n - done));
        bool fresh;
        Result<uint8_t*> page_r = page_for_write(pos >> k_page_shift, fresh);
        if (page_r.is_error()) {
            if (done == 0)
                return Error{page_r.error()};
            break; // a short write; the next one reports the error
        }
        uint8_t* page = page_r.value();
        if (fresh) {
            __builtin_memset(page, 0, in_page);
            __builtin_memset(page + in_page + chunk, 0, k_page_size - in_page - chunk);
        }
        size_t c = uio.copy_in(page + in_page, chunk);
        if (c < chunk && fresh)
            __builtin_memset(page + in_page + c, 0, chunk - c);
        done += c;
        if (c < chunk) {
            if (done == 0)
                return EFAULT;
            break;
        }
    }
    int64_t end = static_cast<int64_t>(start + done);
    if (end > m_size)
        m_size = end;
    m_mtime = m_ctime = realtime_now();
    return done;
}

void TmpFile::resize(int64_t size) {
    if (size < m_size) {
        uint64_t keep = (static_cast<uint64_t>(size) + k_page_size - 1) >> k_page_shift;
        fs().release_pages(m_pages.free_from(keep));
        size_t tail = static_cast<size_t>(size) & (k_page_size - 1);
        if (tail) {
            if (uint8_t* page = m_pages.lookup(static_cast<uint64_t>(size) >> k_page_shift))
                __builtin_memset(page + tail, 0, k_page_size - tail);
        }
    }
    m_size = size;
}

// --- Directories -----------------------------------------------------------

TmpDir::~TmpDir() {
    // Normally empty (rmdir checks, unmount tears the tree down); drop
    // whatever is left so nothing leaks.
    for (DirSlot& s : m_order) {
        if (Dirent* e = s.entry) {
            TmpNode* n = e->node;
            release_entry(e);
            n->unref();
        }
    }
    if (m_buckets != m_inline_buckets)
        kmem_free(m_buckets);
}

void TmpDir::rehash(size_t nbuckets) {
    Dirent** nb;
    if (nbuckets <= k_inline_buckets) {
        if (m_buckets == m_inline_buckets)
            return;
        nbuckets = k_inline_buckets;
        nb = m_inline_buckets;
        for (auto& b : m_inline_buckets)
            b = nullptr;
    } else {
        nb = static_cast<Dirent**>(kmem_zalloc(nbuckets * sizeof(Dirent*)));
        if (!nb)
            return; // keep the old table: longer chains, still correct
    }
    size_t old_n = m_bucket_mask + 1;
    Dirent** old = m_buckets;
    size_t mask = nbuckets - 1;
    for (size_t i = 0; i < old_n; i++) {
        for (Dirent* e = old[i]; e;) {
            Dirent* next = e->hash_next;
            e->hash_next = nb[e->hash & mask];
            nb[e->hash & mask] = e;
            e = next;
        }
    }
    m_buckets = nb;
    m_bucket_mask = mask;
    if (old != m_inline_buckets)
        kmem_free(old);
}

void TmpDir::resize_hash() {
    size_t n = m_bucket_mask + 1;
    if (m_count > n)
        rehash(n * 2);
    else if (n > k_inline_buckets && m_count < n / 8)
        rehash(n / 4);
}

void TmpDir::compact_slots() {
    DirSlot* s = m_order.data();
    size_t j = 0;
    for (size_t i = 0; i < m_order.size(); i++)
        if (s[i].entry)
            s[j++] = s[i];
    (void)m_order.try_resize(j);
}

Result<void> TmpDir::reserve_slot() {
    size_t size = m_order.size();
    if (size < m_order.capacity())
        return {};
    if (size - m_count >= size / 2 && size > m_count) {
        compact_slots();
        return {};
    }
    return m_order.try_reserve(max<size_t>(8, m_order.capacity() * 2));
}

void TmpDir::insert(Dirent* e) {
    AK_ASSERT(m_order.size() < m_order.capacity());
    e->cookie = m_next_cookie++;
    (void)m_order.try_append(DirSlot{e->cookie, e});
    hash_insert(e);
    m_count++;
    resize_hash();
}

void TmpDir::put_in_slot(int64_t cookie, Dirent* e) {
    size_t i = slot_index(cookie);
    AK_ASSERT(i < m_order.size() && m_order.data()[i].cookie == cookie);
    m_order.data()[i].entry = e;
    e->cookie = cookie;
    hash_insert(e);
}

void TmpDir::remove(Dirent* e, bool allow_shrink) {
    size_t i = slot_index(e->cookie);
    AK_ASSERT(i < m_order.size() && m_order.data()[i].entry == e);
    m_order.data()[i].entry = nullptr;
    hash_remove(e);
    m_count--;
    size_t n = m_order.size();
    while (n && !m_order.data()[n - 1].entry)
        n--;
    (void)m_order.try_resize(n);
    if (n - m_count > k_tombstone_slack && n - m_count > m_count)
        compact_slots();
    if (allow_shrink) {
        if (m_order.size() == 0 && m_order.capacity() > 64)
            m_order = Vector<DirSlot>();
        resize_hash();
    }
}

Result<RefPtr<Vnode>> TmpDir::lookup(StringView name) {
    Dirent* e = find(name, name.hash());
    if (!e)
        return ENOENT;
    return RefPtr<Vnode>(e->node);
}

Result<RefPtr<Vnode>> TmpDir::parent() {
    if (m_parent)
        return RefPtr<Vnode>(m_parent.get());
    return RefPtr<Vnode>(this);
}

Result<void> TmpDir::readdir(int64_t cookie, DirentSink& sink) {
    if (cookie < 0)
        cookie = 0;
    if (cookie == 0) {
        if (!sink.emit(".", ino(), VType::Dir, 1))
            return {};
        cookie = 1;
    }
    if (cookie == 1) {
        uint64_t up = m_parent ? m_parent->ino() : ino();
        if (!sink.emit("..", up, VType::Dir, 2))
            return {};
        cookie = 2;
    }
    const DirSlot* s = m_order.data();
    for (size_t i = slot_index(cookie); i < m_order.size(); i++) {
        const Dirent* e = s[i].entry;
        if (!e)
            continue;
        if (!sink.emit(e->view(), e->node->ino(), e->node->type(), s[i].cookie + 1))
            break;
    }
    touch_atime();
    return {};
}

Result<void> TmpDir::prepare_create(StringView name, uint32_t hash) {
    if (name.length() > NAME_MAX)
        return ENAMETOOLONG; // the VFS checks; Dirent lengths are 16-bit
    if (dead())
        return ENOENT;
    if (find(name, hash))
        return EEXIST;
    TRY(reserve_slot());
    TRY(fs().reserve_inode());
    return {};
}

void TmpDir::finish_create(TmpNode& node, StringView name, uint32_t hash, uint32_t mode,
                           const Cred& cred) {
    node.m_uid = cred.euid;
    if (m_mode & S_ISGID) {
        // BSD group semantics in a set-group-ID directory; subdirectories
        // inherit the bit, and a new set-group-ID executable keeps it only
        // if the creator could have set it (Linux mode_strip_sgid).
        node.m_gid = m_gid;
        if (node.is_dir())
            mode |= S_ISGID;
        else if ((mode & (S_ISGID | S_IXGRP)) == (S_ISGID | S_IXGRP) && !cred.is_root() &&
                 !cred.in_group(m_gid))
            mode &= ~static_cast<uint32_t>(S_ISGID);
    } else {
        node.m_gid = cred.egid;
    }
    node.m_mode = mode;
    abi::Timespec now = realtime_now();
    node.m_mtime = node.m_ctime = node.m_btime = now;
    node.m_atime.store(now);
    node.m_entry_in_use = true;
    Dirent* e = &node.m_entry;
    e->node = &node;
    e->set_name(name, hash);
    insert(e); // the entry takes the creation reference
    touch_dir_times(now);
}

Result<RefPtr<Vnode>> TmpDir::create(StringView name, uint32_t mode, const Cred& cred,
                                     uint64_t rdev) {
    uint32_t fmt = mode & S_IFMT;
    if (fmt == 0)
        fmt = S_IFREG;
    VType type = vtype_from_mode(fmt);
    if (type == VType::None || type == VType::Dir || type == VType::Lnk)
        return EINVAL;
    uint32_t hash = name.hash();
    TRY(prepare_create(name, hash));
    size_t cap = name_capacity(name.length());
    uint64_t ino = fs().alloc_ino();
    TmpNode* node;
    if (type == VType::Reg)
        node = alloc_node<TmpFile>(cap, fs(), ino, cap);
    else
        node = alloc_node<TmpSpecial>(cap, fs(), type, ino, cap,
                                      (type == VType::Chr || type == VType::Blk) ? rdev : 0);
    if (!node) {
        fs().release_inode();
        return ENOMEM;
    }
    node->m_nlink = 1;
    finish_create(*node, name, hash, fmt | (mode & 07777), cred);
    return RefPtr<Vnode>(node);
}

Result<RefPtr<Vnode>> TmpDir::mkdir(StringView name, uint32_t mode, const Cred& cred) {
    uint32_t hash = name.hash();
    TRY(prepare_create(name, hash));
    size_t cap = name_capacity(name.length());
    TmpDir* dir = alloc_node<TmpDir>(cap, fs(), fs().alloc_ino(), cap);
    if (!dir) {
        fs().release_inode();
        return ENOMEM;
    }
    dir->m_nlink = 2;
    dir->m_parent = RefPtr<TmpDir>(this);
    finish_create(*dir, name, hash, S_IFDIR | (mode & 07777), cred);
    m_nlink++;
    return RefPtr<Vnode>(dir);
}

Result<RefPtr<Vnode>> TmpDir::symlink(StringView name, StringView target, const Cred& cred) {
    if (target.length() >= PATH_MAX)
        return ENAMETOOLONG;
    uint32_t hash = name.hash();
    TRY(prepare_create(name, hash));
    size_t cap = name_capacity(name.length());
    TmpSymlink* link =
        alloc_node<TmpSymlink>(cap + target.length(), fs(), fs().alloc_ino(), cap, target);
    if (!link) {
        fs().release_inode();
        return ENOMEM;
    }
    link->m_nlink = 1;
    finish_create(*link, name, hash, S_IFLNK | 0777, cred);
    return RefPtr<Vnode>(link);
}

Result<void> TmpDir::link(StringView name, Vnode& target_v) {
    if (&target_v.mount() != &mount())
        return EXDEV;
    if (target_v.is_dir())
        return EPERM;
    if (name.length() > NAME_MAX)
        return ENAMETOOLONG;
    if (dead())
        return ENOENT;
    auto& target = static_cast<TmpNode&>(target_v);
    if (target.m_nlink == 0)
        return ENOENT; // unlinked while open: Linux refuses to revive it
    if (target.m_nlink >= k_link_max)
        return EMLINK;
    uint32_t hash = name.hash();
    if (find(name, hash))
        return EEXIST;
    TRY(reserve_slot());
    Dirent* e = TRY(entry_for(target, nullptr, name.length()));
    e->set_name(name, hash);
    target.ref(); // the entry's reference
    insert(e);
    target.m_nlink++;
    abi::Timespec now = realtime_now();
    target.m_ctime = now;
    touch_dir_times(now);
    return {};
}

Result<void> TmpDir::unlink(StringView name, Vnode& victim_v) {
    Dirent* e = find(name, name.hash());
    if (!e || e->node != &victim_v)
        return ENOENT;
    if (victim_v.is_dir())
        return EISDIR;
    auto& victim = static_cast<TmpNode&>(victim_v);
    remove(e);
    release_entry(e);
    victim.m_nlink--;
    abi::Timespec now = realtime_now();
    victim.m_ctime = now;
    touch_dir_times(now);
    victim.unref(); // the entry's reference; the caller holds another
    return {};
}

Result<void> TmpDir::rmdir(StringView name, Vnode& victim_v) {
    Dirent* e = find(name, name.hash());
    if (!e || e->node != &victim_v)
        return ENOENT;
    if (!victim_v.is_dir())
        return ENOTDIR;
    TmpDir* victim = as_dir(&victim_v);
    if (victim->entry_count())
        return ENOTEMPTY;
    remove(e);
    release_entry(e);
    // The dead directory keeps its parent pointer so ".." still works
    // from a process whose cwd it is (as Linux does).
    victim->m_nlink = 0;
    m_nlink--;
    abi::Timespec now = realtime_now();
    victim->m_ctime = now;
    touch_dir_times(now);
    victim->unref();
    return {};
}

Result<void> TmpDir::rename(StringView oldname, Vnode& src_v, Vnode& newdir_v, StringView newname,
                            Vnode* target_v, unsigned flags) {
    if (&newdir_v.mount() != &mount() || &src_v.mount() != &mount() ||
        (target_v && &target_v->mount() != &mount()))
        return EXDEV;
    if (!newdir_v.is_dir())
        return ENOTDIR;
    if (newname.length() > NAME_MAX)
        return ENAMETOOLONG;
    TmpDir& dst = *as_dir(&newdir_v);
    auto& src = static_cast<TmpNode&>(src_v);
    auto* target = static_cast<TmpNode*>(target_v);
    bool exchange = flags & RENAME_EXCHANGE;

    // Decode: find both entries and check what the VFS could not see.
    uint32_t old_hash = oldname.hash();
    uint32_t new_hash = newname.hash();
    Dirent* es = find(oldname, old_hash);
    if (!es || es->node != &src)
        return ENOENT;
    Dirent* et = dst.find(newname, new_hash);
    if (target ? (!et || et->node != target) : et != nullptr)
        return target ? ENOENT : EEXIST; // raced: the VFS looked under the same locks
    if (exchange && !target)
        return ENOENT;
    if (target == &src)
        return {};
    if (dst.dead())
        return ENOENT;
    if (!exchange && target) {
        if (src.is_dir() != target->is_dir())
            return src.is_dir() ? ENOTDIR : EISDIR;
        if (target->is_dir() && as_dir(target)->entry_count())
            return ENOTEMPTY;
    }
    abi::Timespec now = realtime_now();

    if (exchange) {
        // Each node keeps its reference, moved to an entry with the other
        // name; the names keep their slots (and cookies).
        Dirent* ns = TRY(entry_for(src, es, newname.length()));
        Result<Dirent*> nt_r = entry_for(*target, et, oldname.length());
        if (nt_r.is_error()) {
            if (ns != es)
                release_entry(ns);
            return Error{nt_r.error()};
        }
        Dirent* nt = nt_r.value();
        int64_t src_cookie = es->cookie;
        int64_t target_cookie = et->cookie;
        hash_remove(es);
        dst.hash_remove(et);
        if (ns != es)
            release_entry(es);
        if (nt != et)
            release_entry(et);
        ns->set_name(newname, new_hash);
        nt->set_name(oldname, old_hash);
        put_in_slot(src_cookie, nt);
        dst.put_in_slot(target_cookie, ns);
        if (this != &dst) {
            if (src.is_dir()) {
                as_dir(&src)->m_parent = RefPtr<TmpDir>(&dst);
                m_nlink--;
                dst.m_nlink++;
            }
            if (target->is_dir()) {
                as_dir(target)->m_parent = RefPtr<TmpDir>(this);
                dst.m_nlink--;
                m_nlink++;
            }
        }
        src.m_ctime = target->m_ctime = now;
        touch_dir_times(now);
        dst.touch_dir_times(now);
        return {};
    }

    // A plain move, possibly replacing target.  Allocate first: after the
    // first change nothing can fail.
    if (!target)
        TRY(dst.reserve_slot());
    Dirent* ns = TRY(entry_for(src, es, newname.length()));
    remove(es, /*allow_shrink=*/false);
    if (ns != es)
        release_entry(es);
    ns->set_name(newname, new_hash);
    if (target) {
        dst.hash_remove(et);
        dst.put_in_slot(et->cookie, ns);
        release_entry(et);
        if (target->is_dir()) {
            target->m_nlink = 0;
            dst.m_nlink--;
        } else {
            target->m_nlink--;
        }
        target->m_ctime = now;
    } else {
        dst.insert(ns);
    }
    if (src.is_dir() && this != &dst) {
        as_dir(&src)->m_parent = RefPtr<TmpDir>(&dst);
        m_nlink--;
        dst.m_nlink++;
    }
    src.m_ctime = now;
    touch_dir_times(now);
    dst.touch_dir_times(now);
    if (target)
        target->unref(); // the replaced entry's reference; the caller holds another
    return {};
}

// --- Mount -----------------------------------------------------------------

Result<void> TmpfsMount::statfs(abi::Statfs& st) {
    __builtin_memset(&st, 0, sizeof st);
    st.f_type = abi::k_tmpfs_magic;
    st.f_bsize = k_page_size;
    st.f_frsize = k_page_size;
    st.f_namelen = NAME_MAX;
    st.f_fsid[0] = static_cast<int32_t>(dev());
    st.f_fsid[1] = static_cast<int32_t>(dev() >> 32);
    uint64_t used = m_pages.load(MemoryOrder::Relaxed);
    KmemStats k = kmem_stats();
    uint64_t mem_free = k.limit > k.in_use ? k.limit - k.in_use : 0;
    if (m_opts.max_pages) {
        st.f_blocks = m_opts.max_pages;
        st.f_bfree = m_opts.max_pages > used ? m_opts.max_pages - used : 0;
    } else if (k.limit) {
        st.f_blocks = k.limit / k_page_size;
        st.f_bfree = mem_free / k_page_size;
    } else {
        st.f_blocks = k_unbounded_blocks;
        st.f_bfree = k_unbounded_blocks > used ? k_unbounded_blocks - used : 0;
    }
    st.f_bavail = st.f_bfree;
    uint64_t inodes = m_inodes.load(MemoryOrder::Relaxed);
    if (m_opts.max_inodes) {
        st.f_files = m_opts.max_inodes;
        st.f_ffree = m_opts.max_inodes > inodes ? m_opts.max_inodes - inodes : 0;
    } else if (k.limit) {
        st.f_ffree = mem_free / k_bytes_per_inode_estimate;
        st.f_files = inodes + st.f_ffree;
    } else {
        st.f_files = k_unbounded_blocks;
        st.f_ffree = k_unbounded_blocks > inodes ? k_unbounded_blocks - inodes : 0;
    }
    return {};
}

// Tear the tree down so that every node not held from outside is freed
// (entries hold their nodes and directories their parent: cycles).  The
// walk is iterative (trees can be deep) and takes vnode locks parent before
// child, one level at a time, as the VFS does; the rename lock keeps
// renames (the only two-directory operation) out.  With MNT_DETACH a
// still-open directory becomes dead: creating in it gives ENOENT.
Result<void> TmpfsMount::unmount(bool) {
    RefPtr<Vnode> root_vnode = root();
    if (!root_vnode)
        return {};
    MutexGuard rename_guard(rename_lock());
    RefPtr<TmpDir> cur(as_dir(root_vnode.get()));
    for (;;) {
        TmpNode* drop = nullptr;
        RefPtr<TmpDir> next;
        {
            WriteGuard g(cur->lock());
            Dirent* e = cur->last_entry();
            if (!e) {
                if (cur.get() == root_vnode.get() || !cur->m_parent)
                    break;
                next = cur->m_parent; // its entry there is removed next round
            } else if (e->node->is_dir()) {
                TmpDir* child = as_dir(e->node);
                WriteGuard gc(child->lock());
                if (child->entry_count()) {
                    next = RefPtr<TmpDir>(child);
                } else {
                    cur->remove(e);
                    release_entry(e);
                    child->m_nlink = 0;
                    child->m_parent.clear();
                    cur->m_nlink--;
                    drop = child;
                }
            } else {
                TmpNode* node = e->node;
                WriteGuard gn(node->lock());
                cur->remove(e);
                release_entry(e);
                node->m_nlink--;
                drop = node;
            }
        }
        if (drop)
            drop->unref(); // after unlocking: this may free the node and its lock
        if (next)
            cur = move(next);
    }
    return {};
}

// --- Mount options ---------------------------------------------------------

Result<uint64_t> parse_number(StringView s, unsigned base) {
    if (s.empty())
        return EINVAL;
    uint64_t v = 0;
    for (size_t i = 0; i < s.length(); i++) {
        unsigned d = static_cast<unsigned>(s[i] - '0');
        if (d >= base)
            return EINVAL;
        if (v > (~uint64_t(0) - d) / base)
            return EINVAL;
        v = v * base + d;
    }
    return v;
}

Result<uint64_t> parse_bytes(StringView value) {
    char buf[32];
    if (value.empty() || value.length() >= sizeof buf)
        return EINVAL;
    __builtin_memcpy(buf, value.data(), value.length());
    buf[value.length()] = 0;
    Result<uint64_t> r = parse_size(buf);
    if (r.is_error())
        return EINVAL;
    return r.value();
}

// size=N[k|m|g] or N% of the kernel memlimit; nr_blocks=N (pages);
// nr_inodes=N[k|m|g]; mode=octal; uid=N; gid=N; max_file_size=N[k|m|g]
// (anykern).  0 means unlimited for size, nr_blocks and nr_inodes, as on
// Linux.  Anything else is EINVAL.
Result<TmpfsOptions> parse_options(const char* data) {
    TmpfsOptions o;
    if (!data)
        return o;
    const char* p = data;
    while (*p) {
        const char* start = p;
        while (*p && *p != ',')
            p++;
        StringView opt(start, static_cast<size_t>(p - start));
        if (*p)
            p++;
        if (opt.empty())
            continue;
        size_t eq = 0;
        while (eq < opt.length() && opt[eq] != '=')
            eq++;
        if (eq == opt.length())
            return EINVAL; // every option takes a value
        StringView key = opt.substr(0, eq);
        StringView value = opt.substr(eq + 1);
        if (key == StringView("size")) {
            uint64_t bytes;
            if (!value.empty() && value[value.length() - 1] == '%') {
                uint64_t pct = TRY(parse_number(value.substr(0, value.length() - 1), 10));
                uint64_t limit = kmem_stats().limit;
                if (!limit || pct == 0 || pct > 100)
                    return EINVAL;
                bytes = limit / 100 * pct;
            } else {
                bytes = TRY(parse_bytes(value));
            }
            o.max_pages = bytes / k_page_size + ((bytes % k_page_size) ? 1 : 0);
        } else if (key == StringView("nr_blocks")) {
            o.max_pages = TRY(parse_bytes(value));
        } else if (key == StringView("nr_inodes")) {
            o.max_inodes = TRY(parse_bytes(value));
        } else if (key == StringView("mode")) {
            uint64_t m = TRY(parse_number(value, 8));
            if (m > 07777)
                return EINVAL;
            o.mode = static_cast<uint32_t>(m);
        } else if (key == StringView("uid") || key == StringView("gid")) {
            uint64_t id = TRY(parse_number(value, 10));
            if (id >= 0xffffffffu)
                return EINVAL;
            (key == StringView("uid") ? o.uid : o.gid) = static_cast<uint32_t>(id);
        } else if (key == StringView("max_file_size")) {
            uint64_t m = TRY(parse_bytes(value));
            if (m == 0)
                return EINVAL;
            o.max_file_size = min(m, k_linux_max_file_size);
        } else {
            return EINVAL;
        }
    }
    return o;
}

Result<RefPtr<Mount>> tmpfs_mount(FileSystemType& type, StringView, unsigned long flags,
                                  const char* data) {
    TmpfsOptions opts = TRY(parse_options(data));
    auto* m = make<TmpfsMount>(type, flags, opts);
    if (!m)
        return ENOMEM;
    RefPtr<Mount> mount = adopt_ref<Mount>(m);
    TRY(m->reserve_inode());
    TmpDir* root = alloc_node<TmpDir>(size_t(0), *m, m->alloc_ino(), size_t(0));
    if (!root) {
        m->release_inode();
        return ENOMEM;
    }
    root->m_mode = S_IFDIR | opts.mode;
    root->m_uid = opts.uid;
    root->m_gid = opts.gid;
    root->m_nlink = 2;
    abi::Timespec now = realtime_now();
    root->m_mtime = root->m_ctime = root->m_btime = now;
    root->m_atime.store(now);
    m->set_root(adopt_ref<Vnode>(root));
    return mount;
}

Result<void> tmpfs_init() {
    // A function-local static: FileSystemType's constructor is not
    // constexpr, and g++ would otherwise emit a dynamic initializer
    // (.init_array), which not every platform runs.
    static FileSystemType g_tmpfs_type("tmpfs", tmpfs_mount, false);
    vfs_register_fstype(g_tmpfs_type);
    return {};
}

} // namespace

} // namespace ak

AK_COMPONENT(tmpfs, ak::InitLevel::Vfs, ak::tmpfs_init);
