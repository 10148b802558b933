// ext2: classes shared by the component's files (docs/ext2.md).
//
// Locking: one lock per mount (Ext2Mount::m_lock, taken through FsGuard)
// serialises every operation on the file system's metadata and buffers.
// The VFS's vnode locks are taken before it (the VFS calls us with them
// held); we never take a vnode lock.  The lock may be re-entered by the
// thread holding it, because dropping the last reference to a vnode can
// happen inside an operation; freeing an unlinked inode is then deferred
// until the outermost guard is released.  The vnode cache has its own
// small lock (m_cache_lock), never held while waiting for the fs lock.
#pragma once

#include "ext2_format.h"

#include <ak/blk.h>
#include <ak/vfs.h>

namespace ak::ext2 {

class Ext2Mount;

class Ext2Vnode final : public Vnode {
public:
    Ext2Vnode(Ext2Mount& fs, VType type, uint32_t ino);
    ~Ext2Vnode() override;
    void last_ref_dropped() override;

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
    Result<size_t> readlink(Span<char> buf) override;
    Result<size_t> read(Uio& uio, int64_t offset) override;
    Result<size_t> write(Uio& uio, int64_t& offset, int ioflags) override;
    Result<void> fsync(bool datasync) override;
    Result<void> getattr(VAttr& attr) override;
    Result<void> setattr(const SetAttr& attr) override;

    Ext2Mount& fs() const { return *m_fs; }
    uint32_t ino32() const { return static_cast<uint32_t>(ino()); }

    // --- Used within the component (fs lock held) -----------------------
    Inode m_inode{};
    uint64_t size() const;
    void set_size(uint64_t size);
    bool is_fast_symlink() const;
    // Copy m_inode to the inode table buffer (marks it dirty).
    Result<void> write_inode();
    // Physical block of logical block lblk; 0 for a hole (alloc false).
    // With alloc, allocates data and indirect blocks as needed; *fresh is
    // set when the data block is new (its buffer holds zeros).
    Result<uint32_t> bmap(uint64_t lblk, bool alloc, bool* fresh = nullptr);
    // Free blocks from logical block `from` on; i_blocks follows.
    Result<void> free_blocks_from(uint64_t from);
    Result<void> truncate(uint64_t size);
    // Start reading the first (direct) blocks: a file or directory that is
    // looked up is usually read next.
    void prefetch_head();
    void touch(bool mtime, bool ctime, bool atime = false);
    void adjust_blocks(int64_t delta_fs_blocks);

    // Directory helpers (dir.cpp).
    struct DirSlot {
        uint64_t lblk = 0; // directory block holding the entry
        uint32_t offset = 0;
        uint32_t ino = 0;
        uint8_t file_type = 0;
    };
    Result<DirSlot> dir_find(StringView name);
    Result<void> dir_add(StringView name, uint32_t ino, uint8_t file_type);
    Result<void> dir_remove(StringView name);
    Result<void> dir_set(const DirSlot& slot, uint32_t ino, uint8_t file_type);
    Result<bool> dir_is_empty();
    Result<void> dir_set_dotdot(uint32_t parent_ino);
    Result<uint32_t> dir_dotdot();
    Result<void> dir_clear_index();
    Result<void> dir_check_size();

    ListNode m_hash_node;
    ListNode m_pending_node;
    uint32_t m_last_alloc = 0; // goal for the next block allocation
    uint64_t m_ra_end = 0;     // readahead issued up to this logical block
    uint64_t m_dir_hint = 0;   // directories: no free slot before this block

private:
    Result<size_t> read_locked(Uio& uio, int64_t offset);
    Ext2Mount* m_fs;
};

// Re-entrant per-mount lock (see the top of this file).
class FsLock : NonCopyable {
public:
    void lock();
    void unlock();
    bool held_by_me() const;
    int depth() const { return m_depth; } // meaningful to the holder only

private:
    Mutex m_mutex;
    Atomic<void*> m_owner{nullptr};
    int m_depth = 0;
};

class Ext2Mount final : public Mount {
public:
    Ext2Mount(FileSystemType& type, unsigned long flags, RefPtr<BlockDevice> dev);
    ~Ext2Mount() override;
    static Result<RefPtr<Mount>> mount_fn(FileSystemType& type, StringView source,
                                          unsigned long flags, const char* data);

    Result<void> statfs(abi::Statfs& st) override;
    Result<void> sync() override;
    Result<void> unmount(bool force) override;
    Result<void> remount(unsigned long flags) override;

    // --- Used within the component --------------------------------------
    FsLock m_lock;
    BlockDevice& dev() const { return *m_dev; }
    uint32_t block_size() const { return m_block_size; }
    uint32_t addr_per_block() const { return m_block_size / 4; }
    uint32_t inode_size() const { return m_inode_size; }
    bool has_filetype() const { return m_sb.s_feature_incompat & k_incompat_filetype; }
    bool writable() const { return !read_only() && !m_dead; }
    bool dead() const { return m_dead; }
    uint32_t inodes_count() const { return m_sb.s_inodes_count; }

    // A block number that may hold file data or indirect pointers.
    bool valid_data_block(uint32_t b) const {
        return b >= m_sb.s_first_data_block && b < m_sb.s_blocks_count && b != 0;
    }
    bool valid_ino(uint32_t ino) const { return ino >= 1 && ino <= m_sb.s_inodes_count; }

    Result<RefPtr<Ext2Vnode>> get_vnode(uint32_t ino);
    void vnode_released(Ext2Vnode* v);
    void process_pending_frees();

    Result<uint32_t> alloc_block(uint32_t goal);
    Result<void> free_block(uint32_t block);
    Result<uint32_t> alloc_inode(uint32_t parent_ino, bool dir);
    Result<void> free_inode(uint32_t ino, bool dir);
    Result<RefPtr<Ext2Vnode>> new_vnode(uint32_t parent_ino, uint32_t mode, const Cred& cred,
                                        uint32_t parent_gid, bool parent_setgid);
    // Locate inode ino in its table: the block and the byte offset in it.
    Result<void> inode_location(uint32_t ino, uint32_t& block, uint32_t& offset);
    Result<void> read_inode(uint32_t ino, Inode& out);
    Result<void> mark_large_file();
    uint32_t group_first_block(uint32_t group) const {
        return m_sb.s_first_data_block + group * m_sb.s_blocks_per_group;
    }
    uint32_t ino_group(uint32_t ino) const { return (ino - 1) / m_sb.s_inodes_per_group; }
    uint64_t max_file_size() const { return m_max_file_size; }
    void fs_error(const char* what, uint32_t ino);
    // Write descriptors and superblock to their buffers, then the device
    // back to the disk (lock held).
    Result<void> sync_locked();
    uint32_t now_seconds() const;
    void time_now(uint32_t& sec, uint32_t& extra) const;
    bool inode_has_extra_times(const Inode& i) const {
        return m_inode_size > 128 && i.i_extra_isize >= k_extra_times_size &&
               128u + i.i_extra_isize <= m_inode_size;
    }

private:
    friend class FsGuard;
    Result<void> load(unsigned long flags);
    Result<void> check_features(bool rw);
    Result<void> write_super();
    Result<void> write_group_desc(uint32_t group);
    Result<void> flush_group_descs();
    Result<void> mark_mounted_rw();
    uint32_t gdt_block_count() const;

    RefPtr<BlockDevice> m_dev;
    Superblock m_sb{};
    GroupDesc* m_groups = nullptr;
    uint8_t* m_gd_dirty = nullptr; // one bit per group: descriptor changed
    uint32_t m_group_count = 0;
    uint32_t m_desc_size = 32;
    uint32_t m_block_size = 1024;
    uint32_t m_inode_size = 128;
    uint32_t m_first_ino = k_good_old_first_ino;
    uint32_t m_itable_blocks = 0; // inode table blocks per group
    uint64_t m_max_file_size = 0;
    bool m_was_clean = false;  // s_state had VALID when mounted read-write
    bool m_rw_on_disk = false; // we marked the fs not clean on disk
    bool m_dead = false;       // unmounted; surviving vnodes get EIO
    bool m_sb_dirty = false;
    uint32_t m_next_generation = 1;

    Mutex m_cache_lock;
    static constexpr size_t k_vnode_buckets = 1024;
    List<Ext2Vnode, &Ext2Vnode::m_hash_node>* m_vnodes = nullptr; // guarded by m_cache_lock
    List<Ext2Vnode, &Ext2Vnode::m_pending_node> m_pending;        // guarded by m_lock
};

// Holds the mount's lock (and a reference to the mount) for one operation.
class FsGuard : NonCopyable {
public:
    explicit FsGuard(Ext2Mount& fs);
    ~FsGuard();

private:
    RefPtr<Mount> m_keep;
    Ext2Mount& m_fs;
};

uint8_t file_type_of_mode(uint32_t mode);
VType vtype_of_file_type(uint8_t ft);

} // namespace ak::ext2
