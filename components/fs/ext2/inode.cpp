// ext2: inodes, block mapping (direct and 1-3 levels of indirect blocks),
// file data, truncation, attributes and symlink targets.
#include "ext2.h"

#include <ak/log.h>
#include <ak/thread.h>

namespace ak::ext2 {

namespace {

abi::Timespec decode_time(uint32_t sec, uint32_t extra, bool has_extra) {
    int64_t s = static_cast<int32_t>(sec);
    int64_t ns = 0;
    if (has_extra) {
        s += static_cast<int64_t>(extra & 3) << 32;
        ns = extra >> 2;
        if (ns >= 1000000000)
            ns = 0;
    }
    return {s, ns};
}

void encode_time(const abi::Timespec& t, uint32_t& sec, uint32_t* extra) {
    sec = static_cast<uint32_t>(t.tv_sec);
    if (extra)
        *extra = static_cast<uint32_t>(((t.tv_sec >> 32) & 3) | (t.tv_nsec << 2));
}

constexpr uint64_t k_rdev_minor_mask = 0xff;

} // namespace

Ext2Vnode::Ext2Vnode(Ext2Mount& fs, VType type, uint32_t ino) : Vnode(fs, type, ino), m_fs(&fs) {}

Ext2Vnode::~Ext2Vnode() = default;

void Ext2Vnode::last_ref_dropped() {
    m_fs->vnode_released(this);
}

uint64_t Ext2Vnode::size() const {
    uint64_t s = m_inode.i_size;
    if (type() == VType::Reg)
        s |= uint64_t(m_inode.i_size_high) << 32;
    return s;
}

void Ext2Vnode::set_size(uint64_t s) {
    m_inode.i_size = static_cast<uint32_t>(s);
    if (type() == VType::Reg)
        m_inode.i_size_high = static_cast<uint32_t>(s >> 32);
}

bool Ext2Vnode::is_fast_symlink() const {
    if (type() != VType::Lnk)
        return false;
    uint32_t acl_blocks = m_inode.i_file_acl ? fs().block_size() / 512 : 0;
    return m_inode.i_blocks == acl_blocks;
}

void Ext2Vnode::adjust_blocks(int64_t delta) {
    int64_t units = delta * static_cast<int64_t>(fs().block_size() / 512);
    int64_t next = static_cast<int64_t>(m_inode.i_blocks) + units;
    m_inode.i_blocks = next < 0 ? 0 : static_cast<uint32_t>(next);
}

Result<void> Ext2Vnode::write_inode() {
    uint32_t block, offset;
    TRY(fs().inode_location(ino32(), block, offset));
    BufRef b = TRY(fs().dev().bread(block));
    __builtin_memcpy(b.data() + offset, &m_inode, 128);
    if (fs().inode_size() > 128 && m_inode.i_extra_isize) {
        // Our copy of the extra fields we understand; in-inode extended
        // attributes after them stay as they are.
        uint32_t n = min<uint32_t>(m_inode.i_extra_isize, sizeof(Inode) - 128);
        __builtin_memcpy(b.data() + offset + 128, reinterpret_cast<uint8_t*>(&m_inode) + 128, n);
    }
    b.mark_dirty();
    return {};
}

void Ext2Vnode::touch(bool mtime, bool ctime, bool atime) {
    uint32_t sec, extra;
    fs().time_now(sec, extra);
    bool ex = fs().inode_has_extra_times(m_inode);
    if (mtime) {
        m_inode.i_mtime = sec;
        if (ex)
            m_inode.i_mtime_extra = extra;
    }
    if (ctime) {
        m_inode.i_ctime = sec;
        if (ex)
            m_inode.i_ctime_extra = extra;
    }
    if (atime) {
        m_inode.i_atime = sec;
        if (ex)
            m_inode.i_atime_extra = extra;
    }
}

Result<uint32_t> Ext2Vnode::bmap(uint64_t lblk, bool alloc, bool* fresh) {
    Ext2Mount& f = fs();
    if (fresh)
        *fresh = false;
    if (m_inode.i_flags & (k_flag_extents | k_flag_inline_data))
        return EOPNOTSUPP;
    uint64_t apb = f.addr_per_block();
    uint32_t path[4];
    int depth;
    uint64_t n = lblk;
    if (n < k_ndir_blocks) {
        path[0] = static_cast<uint32_t>(n);
        depth = 1;
    } else if ((n -= k_ndir_blocks) < apb) {
        path[0] = k_ind_block;
        path[1] = static_cast<uint32_t>(n);
        depth = 2;
    } else if ((n -= apb) < apb * apb) {
        path[0] = k_dind_block;
        path[1] = static_cast<uint32_t>(n / apb);
        path[2] = static_cast<uint32_t>(n % apb);
        depth = 3;
    } else if ((n -= apb * apb) < apb * apb * apb) {
        path[0] = k_tind_block;
        path[1] = static_cast<uint32_t>(n / (apb * apb));
        path[2] = static_cast<uint32_t>((n / apb) % apb);
        path[3] = static_cast<uint32_t>(n % apb);
        depth = 4;
    } else {
        return EFBIG;
    }
    if (alloc && uint64_t(m_inode.i_blocks) + 4ull * (f.block_size() / 512) > 0xffffffffull)
        return EFBIG;
    uint32_t goal = m_last_alloc ? m_last_alloc + 1 : f.group_first_block(f.ino_group(ino32()));
    auto allocate = [&](bool data) -> Result<uint32_t> {
        uint32_t b = TRY(f.alloc_block(goal));
        Result<BufRef> z = f.dev().bzero(b);
        if (z.is_error()) {
            (void)f.free_block(b);
            return Error{z.error()};
        }
        z.value().mark_dirty();
        adjust_blocks(1);
        goal = b + 1;
        m_last_alloc = b;
        if (data && fresh)
            *fresh = true;
        return b;
    };
    uint32_t blk = m_inode.i_block[path[0]];
    if (blk == 0) {
        if (!alloc)
            return 0u;
        blk = TRY(allocate(depth == 1));
        m_inode.i_block[path[0]] = blk;
    } else if (!f.valid_data_block(blk)) {
        f.fs_error("block pointer out of range", ino32());
        return EUCLEAN;
    }
    for (int level = 1; level < depth; level++) {
        BufRef b = TRY(f.dev().bread(blk));
        uint32_t next;
        __builtin_memcpy(&next, b.data() + path[level] * 4, 4);
        if (next == 0) {
            if (!alloc)
                return 0u;
            next = TRY(allocate(level == depth - 1));
            __builtin_memcpy(b.data() + path[level] * 4, &next, 4);
            b.mark_dirty();
        } else if (!f.valid_data_block(next)) {
            f.fs_error("indirect block pointer out of range", ino32());
            return EUCLEAN;
        }
        blk = next;
    }
    return blk;
}

namespace {

// Free the tree under blk (level 0: a data block; n: an n-level indirect
// block) and blk itself.
Result<void> free_tree(Ext2Vnode& v, uint32_t blk, int level) {
    Ext2Mount& f = v.fs();
    if (!f.valid_data_block(blk)) {
        f.fs_error("block pointer out of range while freeing", v.ino32());
        return EUCLEAN;
    }
    if (level > 0) {
        BufRef b = TRY(f.dev().bread(blk));
        uint32_t apb = f.addr_per_block();
        for (uint32_t i = 0; i < apb; i++) {
            uint32_t child;
            __builtin_memcpy(&child, b.data() + i * 4, 4);
            if (child)
                TRY(free_tree(v, child, level - 1));
        }
    }
    TRY(f.free_block(blk));
    v.adjust_blocks(-1);
    return {};
}

// Free the parts of the tree under blk that map logical blocks >= from
// (relative to the tree's first block; from > 0, so blk itself stays).
Result<void> trim_tree(Ext2Vnode& v, uint32_t blk, int level, uint64_t from) {
    Ext2Mount& f = v.fs();
    if (!f.valid_data_block(blk)) {
        f.fs_error("block pointer out of range while truncating", v.ino32());
        return EUCLEAN;
    }
    uint64_t apb = f.addr_per_block();
    uint64_t child_span = 1;
    for (int i = 1; i < level; i++)
        child_span *= apb;
    BufRef b = TRY(f.dev().bread(blk));
    for (uint64_t i = from / child_span; i < apb; i++) {
        uint32_t child;
        __builtin_memcpy(&child, b.data() + i * 4, 4);
        if (!child)
            continue;
        uint64_t start = i * child_span;
        if (start >= from) {
            TRY(free_tree(v, child, level - 1));
            uint32_t zero = 0;
            __builtin_memcpy(b.data() + i * 4, &zero, 4);
            b.mark_dirty();
        } else if (level > 1) {
            TRY(trim_tree(v, child, level - 1, from - start));
        }
    }
    return {};
}

} // namespace

Result<void> Ext2Vnode::free_blocks_from(uint64_t from) {
    if (m_inode.i_flags & (k_flag_extents | k_flag_inline_data))
        return EOPNOTSUPP;
    for (uint64_t i = from; i < k_ndir_blocks; i++) {
        if (uint32_t b = m_inode.i_block[i]) {
            m_inode.i_block[i] = 0;
            if (fs().valid_data_block(b)) {
                TRY(fs().free_block(b));
                adjust_blocks(-1);
            }
        }
    }
    uint64_t apb = fs().addr_per_block();
    uint64_t base = k_ndir_blocks;
    uint64_t span = apb;
    for (int level = 1; level <= 3; level++) {
        uint32_t& root = m_inode.i_block[k_ndir_blocks + level - 1];
        if (root) {
            if (from <= base) {
                uint32_t b = root;
                root = 0;
                TRY(free_tree(*this, b, level));
            } else if (from < base + span) {
                TRY(trim_tree(*this, root, level, from - base));
            }
        }
        base += span;
        span *= apb;
    }
    m_last_alloc = 0;
    return {};
}

void Ext2Vnode::prefetch_head() {
    if ((type() != VType::Reg && type() != VType::Dir) ||
        (m_inode.i_flags & (k_flag_extents | k_flag_inline_data)))
        return;
    uint64_t blocks = (size() + fs().block_size() - 1) / fs().block_size();
    uint32_t run_start = 0, run_len = 0;
    for (uint32_t i = 0; i < k_ndir_blocks && i < blocks; i++) {
        uint32_t b = m_inode.i_block[i];
        if (run_len && b == run_start + run_len) {
            run_len++;
            continue;
        }
        if (run_len)
            fs().dev().readahead(run_start, run_len);
        run_start = b;
        run_len = fs().valid_data_block(b) ? 1 : 0;
    }
    if (run_len)
        fs().dev().readahead(run_start, run_len);
    m_ra_end = min<uint64_t>(blocks, k_ndir_blocks);
}

Result<void> Ext2Vnode::truncate(uint64_t new_size) {
    if (new_size > fs().max_file_size())
        return EFBIG;
    uint64_t old = size();
    uint32_t bs = fs().block_size();
    if (new_size < old) {
        Result<void> r = free_blocks_from((new_size + bs - 1) / bs);
        if (r.is_error()) {
            (void)write_inode();
            return r;
        }
        if (new_size % bs) {
            // Keep the bytes past the end of file zero: later extension
            // reads them back.
            uint32_t phys = TRY(bmap(new_size / bs, false));
            if (phys) {
                BufRef b = TRY(fs().dev().bread(phys));
                __builtin_memset(b.data() + new_size % bs, 0, bs - new_size % bs);
                b.mark_dirty();
            }
        }
    }
    if (new_size > 0x7fffffffull)
        TRY(fs().mark_large_file());
    set_size(new_size);
    m_ra_end = 0;
    return write_inode();
}

Result<size_t> Ext2Vnode::read_locked(Uio& uio, int64_t offset) {
    Ext2Mount& f = fs();
    uint64_t sz = size();
    if (offset < 0)
        return EINVAL;
    if (uint64_t(offset) >= sz || uio.resid() == 0)
        return size_t(0);
    uint32_t bs = f.block_size();
    uint64_t pos = static_cast<uint64_t>(offset);
    uint64_t end = min<uint64_t>(sz, pos + uio.resid());
    uint64_t last_lblk = (sz - 1) / bs;
    size_t done = 0;
    while (pos < end) {
        uint64_t lblk = pos / bs;
        uint32_t boff = static_cast<uint32_t>(pos % bs);
        uint32_t chunk = static_cast<uint32_t>(min<uint64_t>(bs - boff, end - pos));
        // Sequential readahead: keep up to 256 blocks in flight ahead, in
        // runs of physically contiguous blocks.
        if (lblk + 64 >= m_ra_end || lblk + 512 < m_ra_end) {
            uint64_t from = (lblk + 1 > m_ra_end || lblk + 512 < m_ra_end) ? lblk + 1 : m_ra_end;
            uint64_t to = min<uint64_t>(lblk + 256, last_lblk + 1);
            uint32_t run_start = 0, run_len = 0;
            for (uint64_t l = from; l < to; l++) {
                Result<uint32_t> p = bmap(l, false);
                if (p.is_error())
                    break;
                if (run_len && p.value() == run_start + run_len) {
                    run_len++;
                    continue;
                }
                if (run_len)
                    f.dev().readahead(run_start, run_len);
                run_start = p.value();
                run_len = p.value() ? 1 : 0;
            }
            if (run_len)
                f.dev().readahead(run_start, run_len);
            m_ra_end = max(to, lblk + 1);
        }
        Result<uint32_t> phys = bmap(lblk, false);
        if (phys.is_error())
            return done ? Result<size_t>(done) : Result<size_t>(Error{phys.error()});
        size_t n;
        if (phys.value() == 0) {
            n = uio.zero_fill(chunk);
        } else {
            Result<BufRef> b = f.dev().bread(phys.value());
            if (b.is_error())
                return done ? Result<size_t>(done) : Result<size_t>(Error{b.error()});
            n = uio.copy_out(b.value().data() + boff, chunk);
        }
        done += n;
        pos += n;
        if (n < chunk)
            break;
    }
    return done;
}

Result<size_t> Ext2Vnode::read(Uio& uio, int64_t offset) {
    if (is_dir())
        return EISDIR;
    if (type() != VType::Reg)
        return EINVAL;
    FsGuard g(fs());
    if (fs().dead())
        return EIO;
    return read_locked(uio, offset);
}

Result<size_t> Ext2Vnode::write(Uio& uio, int64_t& offset, int ioflags) {
    if (is_dir())
        return EISDIR;
    if (type() != VType::Reg)
        return EINVAL;
    Ext2Mount& f = fs();
    FsGuard g(f);
    if (!f.writable())
        return f.dead() ? EIO : EROFS;
    if (m_inode.i_flags & (k_flag_extents | k_flag_inline_data))
        return EOPNOTSUPP;
    if (ioflags & O_APPEND)
        offset = static_cast<int64_t>(size());
    if (offset < 0)
        return EINVAL;
    size_t resid = uio.resid();
    if (resid == 0)
        return size_t(0);
    uint64_t pos = static_cast<uint64_t>(offset);
    uint64_t max = f.max_file_size();
    if (pos >= max)
        return EFBIG;
    uint64_t end = pos + min<uint64_t>(resid, max - pos);
    if (end > 0x7fffffffull)
        TRY(f.mark_large_file());
    uint32_t bs = f.block_size();
    size_t done = 0;
    Result<void> err;
    while (pos < end) {
        uint64_t lblk = pos / bs;
        uint32_t boff = static_cast<uint32_t>(pos % bs);
        uint32_t chunk = static_cast<uint32_t>(min<uint64_t>(bs - boff, end - pos));
        bool fresh = false;
        Result<uint32_t> phys = bmap(lblk, true, &fresh);
        if (phys.is_error()) {
            err = phys.error();
            break;
        }
        bool whole = boff == 0 && chunk == bs;
        Result<BufRef> b =
            (whole && !fresh) ? f.dev().bzero(phys.value()) : f.dev().bread(phys.value());
        if (b.is_error()) {
            err = b.error();
            break;
        }
        size_t n = uio.copy_in(b.value().data() + boff, chunk);
        b.value().mark_dirty();
        done += n;
        pos += n;
        if (n < chunk)
            break;
    }
    if (pos > size())
        set_size(pos);
    if (done) {
        touch(true, true);
        // Writing clears set-user-ID (and set-group-ID on group-executable
        // files), as on Linux.
        if (m_inode.i_mode & (S_ISUID | S_ISGID)) {
            uint16_t mode = m_inode.i_mode;
            mode &= static_cast<uint16_t>(~S_ISUID);
            if (mode & S_IXGRP)
                mode &= static_cast<uint16_t>(~S_ISGID);
            if (curproc().cred().euid != 0)
                m_inode.i_mode = mode;
        }
    }
    Result<void> w = write_inode();
    if (done == 0)
        return err.is_error() ? Result<size_t>(Error{err.error()})
                              : (w.is_error() ? Result<size_t>(Error{w.error()}) : size_t(0));
    if (ioflags & (O_SYNC | O_DSYNC)) {
        Result<void> s = f.sync_locked();
        if (s.is_error())
            return Error{s.error()};
    }
    return done;
}

Result<void> Ext2Vnode::fsync(bool) {
    Ext2Mount& f = fs();
    FsGuard g(f);
    if (f.dead())
        return EIO;
    if (!f.writable())
        return {};
    // The buffer cache does not track which buffers belong to which file:
    // write back the whole file system (correct, if more than asked for).
    return f.sync_locked();
}

Result<void> Ext2Vnode::getattr(VAttr& a) {
    Ext2Mount& f = fs();
    FsGuard g(f);
    const Inode& i = m_inode;
    a = VAttr{};
    a.mode = i.i_mode;
    a.uid = i.i_uid | (uint32_t(i.l_i_uid_high) << 16);
    a.gid = i.i_gid | (uint32_t(i.l_i_gid_high) << 16);
    a.nlink = i.i_links_count;
    a.ino = ino();
    a.size = static_cast<int64_t>(size());
    a.blocks = i.i_blocks;
    a.blksize = f.block_size();
    if (type() == VType::Chr || type() == VType::Blk) {
        uint64_t major, minor;
        if (i.i_block[0]) {
            major = (i.i_block[0] >> 8) & 0xff;
            minor = i.i_block[0] & 0xff;
        } else {
            major = (i.i_block[1] & 0xfff00) >> 8;
            minor = (i.i_block[1] & 0xff) | ((i.i_block[1] >> 12) & 0xfff00);
        }
        a.rdev = (minor & k_rdev_minor_mask) | (major << 8) | ((minor & ~k_rdev_minor_mask) << 12);
    }
    bool ex = f.inode_has_extra_times(i);
    a.atime = decode_time(i.i_atime, i.i_atime_extra, ex);
    a.mtime = decode_time(i.i_mtime, i.i_mtime_extra, ex);
    a.ctime = decode_time(i.i_ctime, i.i_ctime_extra, ex);
    if (ex && i.i_extra_isize >= k_extra_crtime_size)
        a.btime = decode_time(i.i_crtime, i.i_crtime_extra, true);
    return {};
}

Result<void> Ext2Vnode::setattr(const SetAttr& sa) {
    Ext2Mount& f = fs();
    FsGuard g(f);
    if (!f.writable())
        return f.dead() ? EIO : EROFS;
    Inode& i = m_inode;
    if (sa.mask & SetAttr::Size) {
        if (type() != VType::Reg)
            return is_dir() ? EISDIR : EINVAL;
        if (sa.size < 0)
            return EINVAL;
        if (static_cast<uint64_t>(sa.size) != size()) {
            TRY(truncate(static_cast<uint64_t>(sa.size)));
            touch(true, true);
        }
    }
    if (sa.mask & SetAttr::Mode)
        i.i_mode = static_cast<uint16_t>((i.i_mode & S_IFMT) | (sa.mode & 07777));
    if (sa.mask & SetAttr::Uid) {
        i.i_uid = static_cast<uint16_t>(sa.uid);
        i.l_i_uid_high = static_cast<uint16_t>(sa.uid >> 16);
    }
    if (sa.mask & SetAttr::Gid) {
        i.i_gid = static_cast<uint16_t>(sa.gid);
        i.l_i_gid_high = static_cast<uint16_t>(sa.gid >> 16);
    }
    bool ex = f.inode_has_extra_times(i);
    if (sa.mask & SetAttr::Atime)
        encode_time(sa.atime, i.i_atime, ex ? &i.i_atime_extra : nullptr);
    if (sa.mask & SetAttr::Mtime)
        encode_time(sa.mtime, i.i_mtime, ex ? &i.i_mtime_extra : nullptr);
    if (sa.mask & SetAttr::Ctime)
        encode_time(sa.ctime, i.i_ctime, ex ? &i.i_ctime_extra : nullptr);
    return write_inode();
}

Result<size_t> Ext2Vnode::readlink(Span<char> buf) {
    if (type() != VType::Lnk)
        return EINVAL;
    Ext2Mount& f = fs();
    FsGuard g(f);
    if (f.dead())
        return EIO;
    uint64_t len = size();
    if (is_fast_symlink()) {
        if (len >= sizeof m_inode.i_block) {
            f.fs_error("fast symlink too long", ino32());
            return EUCLEAN;
        }
        size_t n = min<size_t>(len, buf.size());
        __builtin_memcpy(buf.data(), m_inode.i_block, n);
        return n;
    }
    if (len >= f.block_size()) {
        f.fs_error("symlink too long", ino32());
        return EUCLEAN;
    }
    uint32_t phys = TRY(bmap(0, false));
    if (phys == 0) {
        f.fs_error("symlink without a data block", ino32());
        return EUCLEAN;
    }
    BufRef b = TRY(f.dev().bread(phys));
    size_t n = min<size_t>(len, buf.size());
    __builtin_memcpy(buf.data(), b.data(), n);
    return n;
}

} // namespace ak::ext2
