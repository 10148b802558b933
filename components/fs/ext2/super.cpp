// ext2: mounting (superblock and group descriptor validation), block and
// inode allocation, the vnode cache, sync and unmount.
#include "ext2.h"

#include <ak/component.h>
#include <ak/log.h>
#include <ak/time.h>

namespace ak::ext2 {

// --- FsLock / FsGuard ----------------------------------------------------------

void FsLock::lock() {
    void* me = akhyp_curlwp_get();
    if (me && m_owner.load(MemoryOrder::Relaxed) == me) {
        m_depth++;
        return;
    }
    m_mutex.lock();
    m_owner.store(me, MemoryOrder::Relaxed);
    m_depth = 1;
}

void FsLock::unlock() {
    if (--m_depth == 0) {
        m_owner.store(nullptr, MemoryOrder::Relaxed);
        m_mutex.unlock();
    }
}

bool FsLock::held_by_me() const {
    void* me = akhyp_curlwp_get();
    return me && m_owner.load(MemoryOrder::Relaxed) == me;
}

FsGuard::FsGuard(Ext2Mount& fs) : m_keep(&fs), m_fs(fs) {
    fs.m_lock.lock();
}

FsGuard::~FsGuard() {
    if (m_fs.m_lock.depth() == 1)
        m_fs.process_pending_frees();
    m_fs.m_lock.unlock();
}

// --- Helpers -------------------------------------------------------------------

uint8_t file_type_of_mode(uint32_t mode) {
    switch (mode & S_IFMT) {
    case S_IFREG:
        return k_ft_reg;
    case S_IFDIR:
        return k_ft_dir;
    case S_IFCHR:
        return k_ft_chr;
    case S_IFBLK:
        return k_ft_blk;
    case S_IFIFO:
        return k_ft_fifo;
    case S_IFSOCK:
        return k_ft_sock;
    case S_IFLNK:
        return k_ft_lnk;
    default:
        return k_ft_unknown;
    }
}

VType vtype_of_file_type(uint8_t ft) {
    switch (ft) {
    case k_ft_reg:
        return VType::Reg;
    case k_ft_dir:
        return VType::Dir;
    case k_ft_chr:
        return VType::Chr;
    case k_ft_blk:
        return VType::Blk;
    case k_ft_fifo:
        return VType::Fifo;
    case k_ft_sock:
        return VType::Sock;
    case k_ft_lnk:
        return VType::Lnk;
    default:
        return VType::None;
    }
}

namespace {

FileSystemType g_ext2_type("ext2", Ext2Mount::mount_fn, true);

bool is_power_of(uint32_t n, uint32_t base) {
    while (n > 1 && n % base == 0)
        n /= base;
    return n == 1;
}

// Find a clear bit in bitmap[from, nbits), then [0, from).  -1 if none.
int64_t find_clear_bit(const uint8_t* bitmap, uint32_t nbits, uint32_t from) {
    auto scan = [&](uint32_t lo, uint32_t hi) -> int64_t {
        uint32_t i = lo;
        while (i < hi) {
            if ((i & 7) == 0 && i + 8 <= hi && bitmap[i >> 3] == 0xff) {
                i += 8;
                continue;
            }
            if (!(bitmap[i >> 3] & (1u << (i & 7))))
                return i;
            i++;
        }
        return -1;
    };
    if (from >= nbits)
        from = 0;
    int64_t r = scan(from, nbits);
    if (r < 0 && from > 0)
        r = scan(0, from);
    return r;
}

} // namespace

uint32_t Ext2Mount::now_seconds() const {
    return static_cast<uint32_t>(realtime_ns() / k_ns_per_sec);
}

void Ext2Mount::time_now(uint32_t& sec, uint32_t& extra) const {
    int64_t ns = realtime_ns();
    int64_t s = ns / k_ns_per_sec;
    sec = static_cast<uint32_t>(s);
    // Extra field: 2 epoch bits (seconds bits 32-33), then nanoseconds << 2.
    extra = static_cast<uint32_t>(((s >> 32) & 3) | ((ns % k_ns_per_sec) << 2));
}

void Ext2Mount::fs_error(const char* what, uint32_t ino) {
    AK_LOG_ERROR("ext2 %s: %s (inode %u); run e2fsck", dev().name().data(), what, ino);
    if (writable() && !(m_sb.s_state & k_state_error)) {
        m_sb.s_state |= k_state_error;
        m_sb_dirty = true;
    }
}

// --- Mount -----------------------------------------------------------------------

Ext2Mount::Ext2Mount(FileSystemType& type, unsigned long flags, RefPtr<BlockDevice> dev)
    : Mount(type, flags), m_dev(move(dev)) {}

Ext2Mount::~Ext2Mount() {
    kmem_free(m_groups);
    kmem_free(m_gd_dirty);
    kmem_free(m_vnodes);
    if (m_dev) {
        m_dev->invalidate();
        m_dev->unclaim();
    }
}

uint32_t Ext2Mount::gdt_block_count() const {
    uint64_t bytes = uint64_t(m_group_count) * m_desc_size;
    return static_cast<uint32_t>((bytes + m_block_size - 1) / m_block_size);
}

Result<void> Ext2Mount::check_features(bool rw) {
    const char* name = m_dev->name().data();
    if (m_sb.s_rev_level == 0)
        return {};
    uint32_t incompat = m_sb.s_feature_incompat;
    uint32_t ro_compat = m_sb.s_feature_ro_compat;
    if (incompat & ~(k_incompat_ro | k_incompat_recover)) {
        AK_LOG_ERROR("ext2 %s: unsupported incompatible features 0x%x; not mounting", name,
                     incompat & ~(k_incompat_ro | k_incompat_recover));
        return EINVAL;
    }
    if (!rw) {
        if (incompat & k_incompat_recover)
            AK_LOG_WARN("ext2 %s: the journal needs recovery and is not replayed; recent changes "
                        "may be missing",
                        name);
        return {};
    }
    if (incompat & k_incompat_recover) {
        AK_LOG_ERROR("ext2 %s: the journal needs recovery; only read-only mounts are possible",
                     name);
        return EROFS;
    }
    if (incompat & ~k_incompat_rw) {
        AK_LOG_ERROR("ext2 %s: incompatible features 0x%x are read-only for us; mount with "
                     "MS_RDONLY",
                     name, incompat & ~k_incompat_rw);
        return EROFS;
    }
    if (ro_compat & ~k_ro_compat_rw) {
        AK_LOG_ERROR("ext2 %s: read-only-compatible features 0x%x are not supported for "
                     "writing; mount with MS_RDONLY",
                     name, ro_compat & ~k_ro_compat_rw);
        return EROFS;
    }
    return {};
}

Result<void> Ext2Mount::load(unsigned long flags) {
    const char* name = m_dev->name().data();
    auto bad = [name](const char* why) -> Errno {
        AK_LOG_ERROR("ext2 %s: bad superblock: %s", name, why);
        return EUCLEAN;
    };
    Result<void> r = m_dev->read_bytes(&m_sb, sizeof m_sb, k_superblock_offset);
    if (r.is_error()) {
        AK_LOG_ERROR("ext2 %s: cannot read the superblock (errno %d)", name, r.error());
        return EINVAL;
    }
    Superblock& sb = m_sb;
    if (sb.s_magic != k_magic) {
        AK_LOG_ERROR("ext2 %s: no ext2 file system (bad magic)", name);
        return EINVAL;
    }
    if (sb.s_rev_level > 1)
        return bad("unknown revision");
    if (sb.s_log_block_size > 6)
        return bad("block size");
    m_block_size = 1024u << sb.s_log_block_size;
    if (sb.s_rev_level == 0) {
        m_inode_size = k_good_old_inode_size;
        m_first_ino = k_good_old_first_ino;
    } else {
        m_inode_size = sb.s_inode_size;
        m_first_ino = sb.s_first_ino;
        if (m_inode_size < 128 || m_inode_size > m_block_size ||
            (m_inode_size & (m_inode_size - 1)))
            return bad("inode size");
        if (m_first_ino < 3 || m_first_ino > sb.s_inodes_count)
            return bad("first inode");
    }
    if (sb.s_blocks_per_group == 0 || sb.s_blocks_per_group > 8 * m_block_size ||
        sb.s_inodes_per_group == 0 || sb.s_inodes_per_group > 8 * m_block_size)
        return bad("group geometry");
    if (sb.s_first_data_block != (m_block_size == 1024 ? 1u : 0u))
        return bad("first data block");
    if (sb.s_blocks_count <= sb.s_first_data_block + 1 || sb.s_r_blocks_count > sb.s_blocks_count)
        return bad("block count");
    if (uint64_t(sb.s_blocks_count) * m_block_size > m_dev->size()) {
        AK_LOG_ERROR("ext2 %s: the file system (%u blocks) is larger than the device", name,
                     sb.s_blocks_count);
        return EUCLEAN;
    }
    uint64_t groups =
        (uint64_t(sb.s_blocks_count) - sb.s_first_data_block + sb.s_blocks_per_group - 1) /
        sb.s_blocks_per_group;
    if (groups == 0 || groups * sb.s_inodes_per_group != sb.s_inodes_count)
        return bad("inode count");
    m_group_count = static_cast<uint32_t>(groups);
    m_itable_blocks = static_cast<uint32_t>(
        (uint64_t(sb.s_inodes_per_group) * m_inode_size + m_block_size - 1) / m_block_size);
    m_desc_size = 32;
    if (sb.s_rev_level >= 1 && (sb.s_feature_incompat & k_incompat_64bit)) {
        m_desc_size = sb.s_desc_size;
        if (m_desc_size < 32 || m_desc_size > m_block_size || (m_desc_size & (m_desc_size - 1)))
            return bad("descriptor size");
        if (sb.s_blocks_count_hi)
            return bad("more than 2^32 blocks");
    }
    if (sb.s_rev_level >= 1 && (sb.s_feature_incompat & k_incompat_meta_bg))
        return bad("meta_bg");
    bool rw = !(flags & MS_RDONLY);
    TRY(check_features(rw));

    TRY(m_dev->set_block_size(m_block_size));
    uint32_t gdt_start = sb.s_first_data_block + 1;
    uint32_t gdt_blocks = gdt_block_count();
    if (uint64_t(gdt_start) + gdt_blocks > sb.s_blocks_count)
        return bad("descriptor table past the end");
    m_groups = static_cast<GroupDesc*>(kmem_alloc(sizeof(GroupDesc) * m_group_count));
    m_gd_dirty = static_cast<uint8_t*>(kmem_zalloc(m_group_count / 8 + 1));
    if (!m_groups || !m_gd_dirty)
        return ENOMEM;
    uint32_t per_block = m_block_size / m_desc_size;
    uint64_t free_blocks = 0, free_inodes = 0;
    for (uint32_t g = 0; g < m_group_count; g++) {
        BufRef b = TRY(m_dev->bread(gdt_start + g / per_block));
        const uint8_t* p = b.data() + (g % per_block) * m_desc_size;
        __builtin_memcpy(&m_groups[g], p, sizeof(GroupDesc));
        if (m_desc_size > 32) {
            // 64bit descriptors: the high halves must be zero for us.
            for (uint32_t i = 32; i < 44 && i < m_desc_size; i++)
                if (p[i])
                    return bad("64-bit block numbers");
        }
        GroupDesc& gd = m_groups[g];
        uint32_t nblocks = g + 1 == m_group_count ? sb.s_blocks_count - group_first_block(g)
                                                  : sb.s_blocks_per_group;
        if (!valid_data_block(gd.bg_block_bitmap) || !valid_data_block(gd.bg_inode_bitmap) ||
            !valid_data_block(gd.bg_inode_table) ||
            uint64_t(gd.bg_inode_table) + m_itable_blocks > sb.s_blocks_count)
            return bad("group descriptor block numbers");
        if (gd.bg_free_blocks_count > nblocks || gd.bg_free_inodes_count > sb.s_inodes_per_group ||
            gd.bg_used_dirs_count > sb.s_inodes_per_group)
            return bad("group descriptor counts");
        free_blocks += gd.bg_free_blocks_count;
        free_inodes += gd.bg_free_inodes_count;
    }
    // The superblock's totals are hints (e2fsck does not insist on them);
    // the descriptors' counts are what we maintain.
    sb.s_free_blocks_count = static_cast<uint32_t>(free_blocks);
    sb.s_free_inodes_count = static_cast<uint32_t>(free_inodes);

    uint64_t apb = addr_per_block();
    uint64_t blocks = k_ndir_blocks + apb + apb * apb + apb * apb * apb;
    m_max_file_size = min<uint64_t>(blocks * m_block_size, 1ull << 40);
    if (sb.s_rev_level == 0)
        m_max_file_size = min<uint64_t>(m_max_file_size, 0x7fffffff);

    m_vnodes = static_cast<List<Ext2Vnode, &Ext2Vnode::m_hash_node>*>(
        kmem_alloc(sizeof(*m_vnodes) * k_vnode_buckets));
    if (!m_vnodes)
        return ENOMEM;
    for (size_t i = 0; i < k_vnode_buckets; i++)
        new (&m_vnodes[i]) List<Ext2Vnode, &Ext2Vnode::m_hash_node>();

    RefPtr<Ext2Vnode> root;
    {
        FsGuard g(*this);
        root = TRY(get_vnode(k_root_ino));
        if (!root->is_dir())
            return bad("root is not a directory");
        TRY(root->dir_check_size());
        if (rw)
            TRY(mark_mounted_rw());
    }
    set_root(RefPtr<Vnode>(move(root)));
    AK_LOG_INFO("ext2 %s: mounted %s, %u-byte blocks, %u groups, rev %u", name,
                rw ? "read-write" : "read-only", m_block_size, m_group_count, sb.s_rev_level);
    return {};
}

Result<void> Ext2Mount::mark_mounted_rw() {
    const char* name = m_dev->name().data();
    m_was_clean = m_sb.s_state & k_state_valid;
    if (!m_was_clean)
        AK_LOG_WARN("ext2 %s: mounting a file system that was not cleanly unmounted; run e2fsck",
                    name);
    if (m_sb.s_state & k_state_error)
        AK_LOG_WARN("ext2 %s: mounting a file system with errors; run e2fsck", name);
    m_sb.s_state &= static_cast<uint16_t>(~k_state_valid);
    m_sb.s_mnt_count++;
    m_sb.s_mtime = now_seconds();
    m_rw_on_disk = true;
    TRY(write_super());
    return m_dev->sync();
}

Result<RefPtr<Mount>> Ext2Mount::mount_fn(FileSystemType& type, StringView source,
                                          unsigned long flags, const char*) {
    Result<RefPtr<BlockDevice>> dr = blk_find(source);
    if (dr.is_error()) {
        AK_LOG_ERROR("ext2: no disk named '%.*s' (attach one first)",
                     static_cast<int>(source.length()), source.data());
        return ENOENT;
    }
    RefPtr<BlockDevice> dev = dr.release_value();
    if (!(flags & MS_RDONLY) && dev->read_only()) {
        AK_LOG_ERROR("ext2 %s: the disk is read-only; mount with MS_RDONLY", dev->name().data());
        return EROFS;
    }
    TRY(dev->claim());
    auto* m = make<Ext2Mount>(type, flags, dev);
    if (!m) {
        dev->unclaim();
        return ENOMEM;
    }
    RefPtr<Mount> ref = adopt_ref<Mount>(m);
    TRY(m->load(flags));
    return ref;
}

Result<void> Ext2Mount::write_super() {
    m_sb.s_wtime = now_seconds();
    uint32_t block = m_block_size == 1024 ? 1 : 0;
    uint32_t off = m_block_size == 1024 ? 0 : 1024;
    BufRef b = TRY(m_dev->bread(block));
    __builtin_memcpy(b.data() + off, &m_sb, sizeof m_sb);
    b.mark_dirty();
    m_sb_dirty = false;
    return {};
}

// Descriptor changes are collected (one bit per group) and copied to the
// descriptor-table buffers when the file system is synced: allocation
// changes them once per block.
Result<void> Ext2Mount::write_group_desc(uint32_t g) {
    m_gd_dirty[g / 8] |= static_cast<uint8_t>(1u << (g % 8));
    m_sb_dirty = true; // free counts in the superblock follow
    return {};
}

Result<void> Ext2Mount::flush_group_descs() {
    uint32_t per_block = m_block_size / m_desc_size;
    for (uint32_t g = 0; g < m_group_count; g++) {
        if (!(m_gd_dirty[g / 8] & (1u << (g % 8))))
            continue;
        BufRef b = TRY(m_dev->bread(m_sb.s_first_data_block + 1 + g / per_block));
        // Every dirty descriptor in this block at once.
        uint32_t first = g - g % per_block;
        for (uint32_t i = first; i < first + per_block && i < m_group_count; i++) {
            if (m_gd_dirty[i / 8] & (1u << (i % 8))) {
                __builtin_memcpy(b.data() + (i % per_block) * m_desc_size, &m_groups[i],
                                 sizeof(GroupDesc));
                m_gd_dirty[i / 8] &= static_cast<uint8_t>(~(1u << (i % 8)));
            }
        }
        b.mark_dirty();
    }
    return {};
}

Result<void> Ext2Mount::sync_locked() {
    if (!writable())
        return {};
    TRY(flush_group_descs());
    TRY(write_super());
    return m_dev->sync();
}

Result<void> Ext2Mount::sync() {
    FsGuard g(*this);
    if (m_dead)
        return {};
    return sync_locked();
}

Result<void> Ext2Mount::unmount(bool) {
    FsGuard g(*this);
    if (m_dead)
        return {};
    Result<void> r;
    if (writable() && m_rw_on_disk) {
        if (m_was_clean && !(m_sb.s_state & k_state_error))
            m_sb.s_state |= k_state_valid;
        r = flush_group_descs();
        if (r.ok())
            r = write_super();
        if (r.ok())
            r = m_dev->sync();
    }
    m_dead = true;
    return r;
}

Result<void> Ext2Mount::remount(unsigned long flags) {
    FsGuard g(*this);
    if (m_dead)
        return EIO;
    bool to_ro = flags & MS_RDONLY;
    if (to_ro == read_only())
        return {};
    if (to_ro) {
        // The VFS syncs and flips the flag after we agree; mark the file
        // system clean now, as unmount would.
        TRY(sync_locked());
        if (m_rw_on_disk && m_was_clean && !(m_sb.s_state & k_state_error))
            m_sb.s_state |= k_state_valid;
        m_rw_on_disk = false;
        TRY(write_super());
        return m_dev->sync();
    }
    if (m_dev->read_only())
        return EROFS;
    TRY(check_features(true));
    return mark_mounted_rw();
}

Result<void> Ext2Mount::statfs(abi::Statfs& st) {
    FsGuard g(*this);
    __builtin_memset(&st, 0, sizeof st);
    st.f_type = k_magic;
    st.f_bsize = m_block_size;
    st.f_frsize = m_block_size;
    // Metadata overhead, as Linux's ext2 counts it: superblock and
    // descriptor copies, bitmaps and inode tables.
    uint64_t overhead = m_sb.s_first_data_block;
    bool sparse = m_sb.s_rev_level >= 1 && (m_sb.s_feature_ro_compat & k_ro_compat_sparse_super);
    for (uint32_t gr = 0; gr < m_group_count; gr++) {
        bool has_super =
            !sparse || gr <= 1 || is_power_of(gr, 3) || is_power_of(gr, 5) || is_power_of(gr, 7);
        if (has_super)
            overhead += 1 + gdt_block_count() + (m_sb.s_rev_level ? m_sb.s_reserved_gdt_blocks : 0);
        overhead += 2 + m_itable_blocks;
    }
    st.f_blocks = m_sb.s_blocks_count > overhead ? m_sb.s_blocks_count - overhead : 0;
    st.f_bfree = m_sb.s_free_blocks_count;
    st.f_bavail = m_sb.s_free_blocks_count > m_sb.s_r_blocks_count
                      ? m_sb.s_free_blocks_count - m_sb.s_r_blocks_count
                      : 0;
    st.f_files = m_sb.s_inodes_count;
    st.f_ffree = m_sb.s_free_inodes_count;
    uint64_t id = 0;
    __builtin_memcpy(&id, m_sb.s_uuid, sizeof id);
    st.f_fsid[0] = static_cast<int32_t>(id);
    st.f_fsid[1] = static_cast<int32_t>(id >> 32);
    st.f_namelen = k_name_len;
    return {};
}

Result<void> Ext2Mount::mark_large_file() {
    if (m_sb.s_feature_ro_compat & k_ro_compat_large_file)
        return {};
    if (m_sb.s_rev_level == 0)
        return EFBIG;
    m_sb.s_feature_ro_compat |= k_ro_compat_large_file;
    return write_super();
}

// --- Inodes ----------------------------------------------------------------------

Result<void> Ext2Mount::inode_location(uint32_t ino, uint32_t& block, uint32_t& offset) {
    if (!valid_ino(ino))
        return EUCLEAN;
    uint32_t g = ino_group(ino);
    uint64_t index = (ino - 1) % m_sb.s_inodes_per_group;
    uint64_t byte = index * m_inode_size;
    block = m_groups[g].bg_inode_table + static_cast<uint32_t>(byte / m_block_size);
    offset = static_cast<uint32_t>(byte % m_block_size);
    return {};
}

Result<void> Ext2Mount::read_inode(uint32_t ino, Inode& out) {
    uint32_t block, offset;
    TRY(inode_location(ino, block, offset));
    BufRef b = TRY(m_dev->bread(block));
    __builtin_memset(&out, 0, sizeof out);
    __builtin_memcpy(&out, b.data() + offset, min<uint32_t>(sizeof out, m_inode_size));
    if (m_inode_size <= 128 || out.i_extra_isize > m_inode_size - 128 || (out.i_extra_isize & 3)) {
        // No (valid) extra fields: ignore what lies there.
        out.i_extra_isize = 0;
    }
    return {};
}

Result<RefPtr<Ext2Vnode>> Ext2Mount::get_vnode(uint32_t ino) {
    if (!valid_ino(ino) || (ino < m_first_ino && ino != k_root_ino)) {
        fs_error("directory entry names an invalid inode", ino);
        return EUCLEAN;
    }
    auto& bucket = m_vnodes[ino % k_vnode_buckets];
    {
        MutexGuard g(m_cache_lock);
        for (auto& v : bucket)
            if (v.ino32() == ino && v.try_ref())
                return adopt_ref(&v);
    }
    Inode inode;
    {
        // Inodes are usually wanted in table order (a directory's entries
        // were made together): start reading the next table blocks.
        uint32_t block, offset;
        TRY(inode_location(ino, block, offset));
        uint32_t table_end = m_groups[ino_group(ino)].bg_inode_table + m_itable_blocks;
        if (block + 1 < table_end)
            m_dev->readahead(block + 1, min<uint32_t>(8, table_end - block - 1));
    }
    TRY(read_inode(ino, inode));
    VType type = vtype_from_mode(inode.i_mode);
    if (inode.i_links_count == 0 || type == VType::None) {
        fs_error("directory entry names a free or invalid inode", ino);
        return EUCLEAN;
    }
    auto* v = make<Ext2Vnode>(*this, type, ino);
    if (!v)
        return ENOMEM;
    v->m_inode = inode;
    RefPtr<Ext2Vnode> ref = adopt_ref(v);
    if (v->is_dir())
        TRY(v->dir_check_size());
    v->prefetch_head();
    MutexGuard g(m_cache_lock);
    bucket.push_back(*v);
    return ref;
}

void Ext2Mount::vnode_released(Ext2Vnode* v) {
    {
        MutexGuard g(m_cache_lock);
        if (v->m_hash_node.linked())
            m_vnodes[v->ino32() % k_vnode_buckets].remove(*v);
    }
    if (v->m_inode.i_links_count == 0 && !m_dead && !read_only()) {
        if (m_lock.held_by_me()) {
            m_pending.push_back(*v);
            return;
        }
        FsGuard g(*this);
        m_pending.push_back(*v);
        // ~FsGuard frees it.
        return;
    }
    destroy(v);
}

// Free every unlinked inode whose last reference went away (lock held, at
// the outermost guard).
void Ext2Mount::process_pending_frees() {
    while (Ext2Vnode* v = m_pending.pop_front()) {
        if (!m_dead) {
            Result<void> r = [&]() -> Result<void> {
                if (!v->is_fast_symlink() && v->type() != VType::Chr && v->type() != VType::Blk &&
                    v->type() != VType::Fifo && v->type() != VType::Sock)
                    TRY(v->free_blocks_from(0));
                if (v->m_inode.i_file_acl) {
                    uint32_t acl = v->m_inode.i_file_acl;
                    v->m_inode.i_file_acl = 0;
                    if (valid_data_block(acl)) {
                        BufRef b = TRY(m_dev->bread(acl));
                        uint32_t magic, refs;
                        __builtin_memcpy(&magic, b.data(), 4);
                        __builtin_memcpy(&refs, b.data() + 4, 4);
                        if (magic == k_xattr_magic && refs > 1) {
                            refs--;
                            __builtin_memcpy(b.data() + 4, &refs, 4);
                            b.mark_dirty();
                        } else {
                            b.release();
                            TRY(free_block(acl));
                        }
                    }
                }
                v->m_inode.i_blocks = 0;
                v->m_inode.l_i_blocks_hi = 0;
                v->set_size(0);
                v->m_inode.i_dtime = now_seconds();
                TRY(v->write_inode());
                return free_inode(v->ino32(), v->is_dir());
            }();
            if (r.is_error())
                AK_LOG_ERROR("ext2 %s: freeing inode %u failed: errno %d", dev().name().data(),
                             v->ino32(), r.error());
        }
        destroy(v);
    }
}

Result<RefPtr<Ext2Vnode>> Ext2Mount::new_vnode(uint32_t parent_ino, uint32_t mode, const Cred& cred,
                                               uint32_t parent_gid, bool parent_setgid) {
    bool dir = (mode & S_IFMT) == S_IFDIR;
    uint32_t ino = TRY(alloc_inode(parent_ino, dir));
    uint32_t block, offset;
    TRY(inode_location(ino, block, offset));
    {
        BufRef b = TRY(m_dev->bread(block));
        __builtin_memset(b.data() + offset, 0, m_inode_size);
        b.mark_dirty();
    }
    auto* v = make<Ext2Vnode>(*this, vtype_from_mode(mode), ino);
    if (!v) {
        (void)free_inode(ino, dir);
        return ENOMEM;
    }
    RefPtr<Ext2Vnode> ref = adopt_ref(v);
    Inode& i = v->m_inode;
    __builtin_memset(&i, 0, sizeof i);
    uint32_t gid = parent_setgid ? parent_gid : cred.egid;
    if (dir && parent_setgid)
        mode |= S_ISGID;
    i.i_mode = static_cast<uint16_t>(mode);
    i.i_uid = static_cast<uint16_t>(cred.euid);
    i.l_i_uid_high = static_cast<uint16_t>(cred.euid >> 16);
    i.i_gid = static_cast<uint16_t>(gid);
    i.l_i_gid_high = static_cast<uint16_t>(gid >> 16);
    i.i_links_count = 1;
    i.i_generation = m_next_generation++;
    if (m_inode_size > 128) {
        uint32_t want = m_sb.s_rev_level ? m_sb.s_want_extra_isize : 0;
        if (want < k_extra_crtime_size + 8)
            want = 32;
        if (want > m_inode_size - 128)
            want = m_inode_size - 128;
        i.i_extra_isize = static_cast<uint16_t>(want & ~3u);
    }
    uint32_t sec, extra;
    time_now(sec, extra);
    i.i_atime = i.i_ctime = i.i_mtime = sec;
    if (inode_has_extra_times(i)) {
        i.i_atime_extra = i.i_ctime_extra = i.i_mtime_extra = extra;
        if (i.i_extra_isize >= k_extra_crtime_size) {
            i.i_crtime = sec;
            i.i_crtime_extra = extra;
        }
    }
    TRY(v->write_inode());
    MutexGuard g(m_cache_lock);
    m_vnodes[ino % k_vnode_buckets].push_back(*v);
    return ref;
}

// --- Allocation ------------------------------------------------------------------

Result<uint32_t> Ext2Mount::alloc_block(uint32_t goal) {
    if (m_sb.s_free_blocks_count == 0)
        return ENOSPC;
    if (!valid_data_block(goal))
        goal = m_sb.s_first_data_block;
    uint32_t g0 = (goal - m_sb.s_first_data_block) / m_sb.s_blocks_per_group;
    if (g0 >= m_group_count)
        g0 = 0;
    for (uint32_t n = 0; n < m_group_count; n++) {
        uint32_t g = (g0 + n) % m_group_count;
        GroupDesc& gd = m_groups[g];
        if (gd.bg_free_blocks_count == 0)
            continue;
        uint32_t first = group_first_block(g);
        uint32_t nbits =
            g + 1 == m_group_count ? m_sb.s_blocks_count - first : m_sb.s_blocks_per_group;
        uint32_t from = n == 0 ? goal - first : 0;
        BufRef b = TRY(m_dev->bread(gd.bg_block_bitmap));
        int64_t bit = find_clear_bit(b.data(), nbits, from);
        if (bit < 0) {
            fs_error("group has free blocks by its descriptor but none in its bitmap", 0);
            continue;
        }
        uint32_t block = first + static_cast<uint32_t>(bit);
        // Never hand out the group's own metadata, whatever the bitmap says.
        if (block == gd.bg_block_bitmap || block == gd.bg_inode_bitmap ||
            (block >= gd.bg_inode_table && block < gd.bg_inode_table + m_itable_blocks) ||
            !valid_data_block(block)) {
            fs_error("block bitmap marks metadata free", 0);
            b.data()[bit >> 3] |= static_cast<uint8_t>(1u << (bit & 7));
            b.mark_dirty();
            return EUCLEAN;
        }
        b.data()[bit >> 3] |= static_cast<uint8_t>(1u << (bit & 7));
        b.mark_dirty();
        gd.bg_free_blocks_count--;
        m_sb.s_free_blocks_count--;
        TRY(write_group_desc(g));
        return block;
    }
    return ENOSPC;
}

Result<void> Ext2Mount::free_block(uint32_t block) {
    if (!valid_data_block(block)) {
        fs_error("freeing a block outside the file system", 0);
        return EUCLEAN;
    }
    uint32_t g = (block - m_sb.s_first_data_block) / m_sb.s_blocks_per_group;
    uint32_t bit = (block - m_sb.s_first_data_block) % m_sb.s_blocks_per_group;
    GroupDesc& gd = m_groups[g];
    m_dev->forget(block);
    BufRef b = TRY(m_dev->bread(gd.bg_block_bitmap));
    uint8_t mask = static_cast<uint8_t>(1u << (bit & 7));
    if (!(b.data()[bit >> 3] & mask)) {
        fs_error("freeing a free block", 0);
        return {};
    }
    b.data()[bit >> 3] &= static_cast<uint8_t>(~mask);
    b.mark_dirty();
    gd.bg_free_blocks_count++;
    m_sb.s_free_blocks_count++;
    return write_group_desc(g);
}

Result<uint32_t> Ext2Mount::alloc_inode(uint32_t parent_ino, bool dir) {
    if (m_sb.s_free_inodes_count == 0)
        return ENOSPC;
    uint32_t start = valid_ino(parent_ino) ? ino_group(parent_ino) : 0;
    if (dir) {
        // Spread directories: a group with at least the average number of
        // free inodes and free blocks, and the fewest directories.
        uint32_t avg_inodes = m_sb.s_free_inodes_count / m_group_count;
        uint32_t avg_blocks = m_sb.s_free_blocks_count / m_group_count;
        uint32_t best = ~0u;
        for (uint32_t n = 0; n < m_group_count; n++) {
            uint32_t g = (start + n) % m_group_count;
            GroupDesc& gd = m_groups[g];
            if (gd.bg_free_inodes_count == 0 || gd.bg_free_inodes_count < avg_inodes ||
                gd.bg_free_blocks_count < avg_blocks)
                continue;
            if (best == ~0u || gd.bg_used_dirs_count < m_groups[best].bg_used_dirs_count)
                best = g;
        }
        if (best != ~0u)
            start = best;
    }
    for (uint32_t n = 0; n < m_group_count; n++) {
        uint32_t g = (start + n) % m_group_count;
        GroupDesc& gd = m_groups[g];
        if (gd.bg_free_inodes_count == 0)
            continue;
        BufRef b = TRY(m_dev->bread(gd.bg_inode_bitmap));
        uint32_t base = g * m_sb.s_inodes_per_group; // ino - 1 of bit 0
        uint32_t from = base + 1 < m_first_ino ? m_first_ino - 1 - base : 0;
        int64_t bit = find_clear_bit(b.data(), m_sb.s_inodes_per_group, from);
        if (bit >= 0 && base + bit + 1 < m_first_ino)
            bit = -1; // wrapped into the reserved inodes: none left here
        if (bit < 0) {
            fs_error("group has free inodes by its descriptor but none in its bitmap", 0);
            continue;
        }
        b.data()[bit >> 3] |= static_cast<uint8_t>(1u << (bit & 7));
        b.mark_dirty();
        gd.bg_free_inodes_count--;
        if (dir)
            gd.bg_used_dirs_count++;
        m_sb.s_free_inodes_count--;
        TRY(write_group_desc(g));
        return base + static_cast<uint32_t>(bit) + 1;
    }
    return ENOSPC;
}

Result<void> Ext2Mount::free_inode(uint32_t ino, bool dir) {
    if (!valid_ino(ino) || ino < m_first_ino)
        return EUCLEAN;
    uint32_t g = ino_group(ino);
    uint32_t bit = (ino - 1) % m_sb.s_inodes_per_group;
    GroupDesc& gd = m_groups[g];
    BufRef b = TRY(m_dev->bread(gd.bg_inode_bitmap));
    uint8_t mask = static_cast<uint8_t>(1u << (bit & 7));
    if (!(b.data()[bit >> 3] & mask)) {
        fs_error("freeing a free inode", ino);
        return {};
    }
    b.data()[bit >> 3] &= static_cast<uint8_t>(~mask);
    b.mark_dirty();
    gd.bg_free_inodes_count++;
    if (dir && gd.bg_used_dirs_count)
        gd.bg_used_dirs_count--;
    m_sb.s_free_inodes_count++;
    return write_group_desc(g);
}

namespace {

Result<void> ext2_init() {
    vfs_register_fstype(g_ext2_type);
    return {};
}

} // namespace

} // namespace ak::ext2

AK_COMPONENT(ext2, ak::InitLevel::Vfs, ak::ext2::ext2_init);
