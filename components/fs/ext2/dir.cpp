// ext2: directories.  Entries are kept in the linear format; a directory
// that carries a hashed index (dir_index) loses its index flag the first
// time we change it, which e2fsck accepts (the index blocks read as empty
// entries).
#include "ext2.h"

#include <ak/log.h>

namespace ak::ext2 {

namespace {

// One directory entry, checked against its block: after parse() the
// fields can be used without further bounds checks.
struct Entry {
    uint32_t inode = 0;
    uint32_t rec_len = 0;
    uint32_t name_len = 0;
    uint8_t file_type = 0;
    const char* name = nullptr;

    StringView name_view() const { return StringView(name, name_len); }
    uint32_t used() const { return dirent_size(name_len); }
};

Result<Entry> parse(Ext2Vnode& dir, const uint8_t* data, uint32_t off) {
    Ext2Mount& f = dir.fs();
    uint32_t bs = f.block_size();
    Entry e;
    if (off + sizeof(DirEntryHeader) > bs) {
        f.fs_error("directory entry crosses the block end", dir.ino32());
        return EUCLEAN;
    }
    DirEntryHeader h;
    __builtin_memcpy(&h, data + off, sizeof h);
    e.inode = h.inode;
    e.rec_len = h.rec_len;
    if (bs == 65536 && (e.rec_len == 65535 || e.rec_len == 0))
        e.rec_len = 65536;
    if (f.has_filetype()) {
        e.name_len = h.name_len;
        e.file_type = h.file_type;
    } else {
        e.name_len = h.name_len | (uint32_t(h.file_type) << 8);
    }
    if (e.rec_len < 8 || (e.rec_len & 3) || off + e.rec_len > bs || 8 + e.name_len > e.rec_len ||
        (e.inode && e.name_len == 0) || (e.inode && !f.valid_ino(e.inode))) {
        f.fs_error("corrupt directory entry", dir.ino32());
        return EUCLEAN;
    }
    e.name = reinterpret_cast<const char*>(data + off + 8);
    return e;
}

void put_entry(Ext2Mount& f, uint8_t* data, uint32_t off, uint32_t ino, uint32_t rec_len,
               StringView name, uint8_t file_type) {
    DirEntryHeader h;
    h.inode = ino;
    h.rec_len = static_cast<uint16_t>(rec_len >= 65536 ? 65535 : rec_len);
    h.name_len = static_cast<uint8_t>(name.length());
    h.file_type = f.has_filetype() ? file_type : 0;
    __builtin_memcpy(data + off, &h, sizeof h);
    if (name.length())
        __builtin_memcpy(data + off + 8, name.data(), name.length());
    uint32_t used = dirent_size(static_cast<uint32_t>(name.length()));
    __builtin_memset(data + off + 8 + name.length(), 0, used - 8 - name.length());
}

void set_rec_len(uint8_t* data, uint32_t off, uint32_t rec_len) {
    uint16_t r = static_cast<uint16_t>(rec_len >= 65536 ? 65535 : rec_len);
    __builtin_memcpy(data + off + 4, &r, 2);
}

void set_inode(uint8_t* data, uint32_t off, uint32_t ino) {
    __builtin_memcpy(data + off, &ino, 4);
}

} // namespace

Result<void> Ext2Vnode::dir_check_size() {
    uint64_t sz = size();
    if (sz == 0 || sz % fs().block_size()) {
        fs().fs_error("directory size is not a multiple of the block size", ino32());
        return EUCLEAN;
    }
    return {};
}

namespace {

// Map directory block lblk; directories have no holes.
Result<BufRef> dir_block(Ext2Vnode& dir, uint64_t lblk) {
    uint32_t phys = TRY(dir.bmap(lblk, false));
    if (phys == 0) {
        dir.fs().fs_error("hole in a directory", dir.ino32());
        return EUCLEAN;
    }
    return dir.fs().dev().bread(phys);
}

// The entries of a directory in order, block by block from block `first`
// (the directory's size checked by the caller).  Every entry is checked
// by parse() before it is seen, so offset() + entry().rec_len stays inside
// block() and the walk always moves forward.
class EntryWalk {
public:
    explicit EntryWalk(Ext2Vnode& dir, uint64_t first = 0)
        : m_dir(dir), m_block_size(dir.fs().block_size()), m_nblocks(dir.size() / m_block_size),
          m_lblk(first) {}

    // Step to the next entry: false after the last one.
    Result<bool> next() {
        if (m_block) {
            m_prev = m_off;
            m_off += m_entry.rec_len;
            if (m_off >= m_block_size) {
                m_block.release();
                m_lblk++;
            }
        }
        if (!m_block) {
            if (m_lblk >= m_nblocks)
                return false;
            m_block = TRY(dir_block(m_dir, m_lblk));
            m_off = 0;
            m_prev = -1;
        }
        m_entry = TRY(parse(m_dir, m_block.data(), m_off));
        return true;
    }

    const Entry& entry() const { return m_entry; }
    BufRef& block() { return m_block; }
    uint64_t lblk() const { return m_lblk; }
    uint32_t offset() const { return m_off; }
    // The entry before this one in its block, or -1 for the first.
    int64_t prev_offset() const { return m_prev; }

private:
    Ext2Vnode& m_dir;
    uint32_t m_block_size;
    uint64_t m_nblocks;
    uint64_t m_lblk;
    BufRef m_block;
    uint32_t m_off = 0;
    int64_t m_prev = -1;
    Entry m_entry;
};

} // namespace

Result<void> Ext2Vnode::dir_clear_index() {
    if (!(m_inode.i_flags & k_flag_index))
        return {};
    m_inode.i_flags &= ~k_flag_index;
    return write_inode();
}

Result<Ext2Vnode::DirSlot> Ext2Vnode::dir_find(StringView name) {
    TRY(dir_check_size());
    EntryWalk w(*this);
    while (TRY(w.next())) {
        const Entry& e = w.entry();
        if (e.inode && e.name_view() == name)
            return DirSlot{w.lblk(), w.offset(), e.inode, e.file_type};
    }
    return ENOENT;
}

Result<void> Ext2Vnode::dir_add(StringView name, uint32_t ino, uint8_t file_type) {
    if (name.empty() || name.length() > k_name_len)
        return ENAMETOOLONG;
    TRY(dir_check_size());
    TRY(dir_clear_index());
    Ext2Mount& f = fs();
    uint32_t bs = f.block_size();
    uint32_t need = dirent_size(static_cast<uint32_t>(name.length()));
    uint64_t nblocks = size() / bs;
    if (m_dir_hint > nblocks)
        m_dir_hint = 0;
    EntryWalk w(*this, m_dir_hint);
    while (TRY(w.next())) {
        const Entry& e = w.entry();
        uint8_t* data = w.block().data();
        uint32_t off = w.offset();
        if (!e.inode && e.rec_len >= need) {
            put_entry(f, data, off, ino, e.rec_len, name, file_type);
        } else if (e.inode && e.rec_len >= e.used() + need) {
            uint32_t used = e.used(), rest = e.rec_len - used;
            set_rec_len(data, off, used);
            put_entry(f, data, off + used, ino, rest, name, file_type);
        } else {
            continue;
        }
        w.block().mark_dirty();
        m_dir_hint = w.lblk();
        return {};
    }
    // No room: append a block.
    if (uint64_t(nblocks + 1) * bs > 0x7fffffffull)
        return ENOSPC;
    bool fresh = false;
    uint32_t phys = TRY(bmap(nblocks, true, &fresh));
    Result<BufRef> br = f.dev().bread(phys);
    if (br.is_error()) {
        (void)write_inode();
        return Error{br.error()};
    }
    BufRef b = br.release_value();
    __builtin_memset(b.data(), 0, bs);
    put_entry(f, b.data(), 0, ino, bs, name, file_type);
    b.mark_dirty();
    set_size(uint64_t(nblocks + 1) * bs);
    m_dir_hint = nblocks;
    return write_inode();
}

Result<void> Ext2Vnode::dir_remove(StringView name) {
    TRY(dir_check_size());
    EntryWalk w(*this);
    while (TRY(w.next())) {
        const Entry& e = w.entry();
        if (!e.inode || !(e.name_view() == name))
            continue;
        TRY(dir_clear_index());
        uint8_t* data = w.block().data();
        if (w.prev_offset() >= 0) {
            // The previous entry absorbs this one.
            uint32_t prev = static_cast<uint32_t>(w.prev_offset());
            Entry p = TRY(parse(*this, data, prev));
            set_rec_len(data, prev, p.rec_len + e.rec_len);
        } else {
            set_inode(data, w.offset(), 0);
        }
        w.block().mark_dirty();
        if (w.lblk() < m_dir_hint)
            m_dir_hint = w.lblk();
        return {};
    }
    return ENOENT;
}

Result<void> Ext2Vnode::dir_set(const DirSlot& slot, uint32_t ino, uint8_t file_type) {
    TRY(dir_clear_index());
    BufRef b = TRY(dir_block(*this, slot.lblk));
    Entry e = TRY(parse(*this, b.data(), slot.offset));
    if (e.inode != slot.ino)
        return EUCLEAN;
    set_inode(b.data(), slot.offset, ino);
    if (fs().has_filetype())
        b.data()[slot.offset + 7] = file_type;
    b.mark_dirty();
    return {};
}

// "." and ".." are the first two entries of block 0.
static Result<uint32_t> dotdot_offset(Ext2Vnode& dir, const uint8_t* data) {
    Entry dot = TRY(parse(dir, data, 0));
    if (dot.name_view() == StringView(".") && dot.rec_len < dir.fs().block_size()) {
        Entry dd = TRY(parse(dir, data, dot.rec_len));
        if (dd.name_view() == StringView(".."))
            return dot.rec_len;
    }
    dir.fs().fs_error("directory without '.' and '..'", dir.ino32());
    return EUCLEAN;
}

Result<uint32_t> Ext2Vnode::dir_dotdot() {
    TRY(dir_check_size());
    BufRef b = TRY(dir_block(*this, 0));
    uint32_t off = TRY(dotdot_offset(*this, b.data()));
    Entry dd = TRY(parse(*this, b.data(), off));
    return dd.inode;
}

Result<void> Ext2Vnode::dir_set_dotdot(uint32_t parent_ino) {
    TRY(dir_check_size());
    BufRef b = TRY(dir_block(*this, 0));
    uint32_t off = TRY(dotdot_offset(*this, b.data()));
    set_inode(b.data(), off, parent_ino);
    if (fs().has_filetype())
        b.data()[off + 7] = k_ft_dir;
    b.mark_dirty();
    return {};
}

Result<bool> Ext2Vnode::dir_is_empty() {
    TRY(dir_check_size());
    EntryWalk w(*this);
    while (TRY(w.next())) {
        const Entry& e = w.entry();
        if (e.inode && !(e.name_view() == StringView(".")) && !(e.name_view() == StringView("..")))
            return false;
    }
    return true;
}

// --- Vnode operations ----------------------------------------------------------

namespace {

// Checks before reading directory dir (its file system locked).
Result<void> check_dir_read(Ext2Vnode& dir) {
    if (!dir.is_dir())
        return ENOTDIR;
    if (dir.fs().dead())
        return EIO;
    return {};
}

// Checks before changing directory dir (its file system locked).
Result<void> check_dir_op(Ext2Vnode& dir) {
    TRY(check_dir_read(dir));
    if (!dir.fs().writable())
        return EROFS;
    if (dir.m_inode.i_links_count == 0)
        return ENOENT; // removed directory
    return {};
}

} // namespace

Result<RefPtr<Vnode>> Ext2Vnode::lookup(StringView name) {
    Ext2Mount& f = fs();
    FsGuard g(f);
    TRY(check_dir_read(*this));
    if (m_inode.i_links_count == 0)
        return ENOENT;
    if (name.length() > k_name_len)
        return ENAMETOOLONG;
    DirSlot s = TRY(dir_find(name));
    RefPtr<Ext2Vnode> v = TRY(f.get_vnode(s.ino));
    return RefPtr<Vnode>(move(v));
}

Result<RefPtr<Vnode>> Ext2Vnode::parent() {
    Ext2Mount& f = fs();
    FsGuard g(f);
    TRY(check_dir_read(*this));
    if (ino32() == k_root_ino)
        return RefPtr<Vnode>(this);
    uint32_t p = TRY(dir_dotdot());
    RefPtr<Ext2Vnode> v = TRY(f.get_vnode(p));
    if (!v->is_dir()) {
        f.fs_error("'..' is not a directory", ino32());
        return EUCLEAN;
    }
    return RefPtr<Vnode>(move(v));
}

Result<void> Ext2Vnode::readdir(int64_t cookie, DirentSink& sink) {
    Ext2Mount& f = fs();
    FsGuard g(f);
    TRY(check_dir_read(*this));
    TRY(dir_check_size());
    uint64_t sz = size();
    if (cookie < 0 || uint64_t(cookie) >= sz)
        return {};
    uint32_t bs = f.block_size();
    // A cookie is the byte offset of the next entry.  After changes it may
    // point into the middle of an entry; then we continue at the next one.
    EntryWalk w(*this, uint64_t(cookie) / bs);
    while (TRY(w.next())) {
        const Entry& e = w.entry();
        uint64_t pos = w.lblk() * bs + w.offset();
        if (pos < uint64_t(cookie) || !e.inode)
            continue;
        VType t = f.has_filetype() ? vtype_of_file_type(e.file_type) : VType::None;
        if (!sink.emit(e.name_view(), e.inode, t, static_cast<int64_t>(pos + e.rec_len)))
            return {};
    }
    return {};
}

namespace {

// Checks before adding an entry called name to dir.
Result<void> check_new_entry(Ext2Vnode& dir, StringView name) {
    TRY(check_dir_op(dir));
    if (name.length() > k_name_len)
        return ENAMETOOLONG;
    return {};
}

uint32_t gid_of(const Inode& i) {
    return i.i_gid | (uint32_t(i.l_i_gid_high) << 16);
}

// A new inode for an entry of dir (group and setgid inherited from dir).
Result<RefPtr<Ext2Vnode>> new_child(Ext2Vnode& dir, uint32_t mode, const Cred& cred) {
    return dir.fs().new_vnode(dir.ino32(), mode, cred, gid_of(dir.m_inode),
                              dir.m_inode.i_mode & S_ISGID);
}

// A new inode that will not be entered in a directory after all: with no
// links it is freed when its last reference goes.
Error discard(Ext2Vnode& v, int error) {
    v.m_inode.i_links_count = 0;
    (void)v.write_inode();
    return Error{error};
}

// The first data block of the new inode v, allocated; v is discarded when
// that fails.
Result<BufRef> first_block(Ext2Vnode& v) {
    Result<uint32_t> phys = v.bmap(0, true);
    if (phys.is_error())
        return discard(v, phys.error());
    Result<BufRef> b = v.fs().dev().bread(phys.value());
    if (b.is_error())
        return discard(v, b.error());
    return b.release_value();
}

// After an entry for v was added to dir or taken out of it: both changed.
Result<void> write_both(Ext2Vnode& dir, Ext2Vnode& v) {
    v.touch(false, true);
    TRY(v.write_inode());
    dir.touch(true, true);
    return dir.write_inode();
}

// Enter the new inode v in dir as name (discarding v if that fails).
Result<RefPtr<Vnode>> enter_new(Ext2Vnode& dir, StringView name, RefPtr<Ext2Vnode> v,
                                uint8_t file_type) {
    Result<void> r = dir.dir_add(name, v->ino32(), file_type);
    if (r.is_error())
        return discard(*v, r.error());
    if (v->is_dir())
        dir.m_inode.i_links_count++; // the new directory's ".."
    dir.touch(true, true);
    TRY(dir.write_inode());
    return RefPtr<Vnode>(move(v));
}

} // namespace

Result<RefPtr<Vnode>> Ext2Vnode::create(StringView name, uint32_t mode, const Cred& cred,
                                        uint64_t rdev) {
    FsGuard g(fs());
    TRY(check_new_entry(*this, name));
    uint32_t type = mode & S_IFMT;
    if (type != S_IFREG && type != S_IFCHR && type != S_IFBLK && type != S_IFIFO &&
        type != S_IFSOCK)
        return EINVAL;
    RefPtr<Ext2Vnode> v = TRY(new_child(*this, mode, cred));
    if (type == S_IFCHR || type == S_IFBLK) {
        uint64_t major = (rdev >> 8) & 0xfff;
        uint64_t minor = (rdev & 0xff) | ((rdev >> 12) & 0xfff00);
        if (major < 256 && minor < 256)
            v->m_inode.i_block[0] = static_cast<uint32_t>((major << 8) | minor);
        else
            v->m_inode.i_block[1] =
                static_cast<uint32_t>((minor & 0xff) | (major << 8) | ((minor & ~0xffull) << 12));
        TRY(v->write_inode());
    }
    return enter_new(*this, name, move(v), file_type_of_mode(mode));
}

Result<RefPtr<Vnode>> Ext2Vnode::mkdir(StringView name, uint32_t mode, const Cred& cred) {
    Ext2Mount& f = fs();
    FsGuard g(f);
    TRY(check_new_entry(*this, name));
    if (m_inode.i_links_count >= k_link_max)
        return EMLINK;
    RefPtr<Ext2Vnode> v = TRY(new_child(*this, S_IFDIR | (mode & 07777), cred));
    uint32_t bs = f.block_size();
    {
        BufRef b = TRY(first_block(*v));
        put_entry(f, b.data(), 0, v->ino32(), 12, ".", k_ft_dir);
        put_entry(f, b.data(), 12, ino32(), bs - 12, "..", k_ft_dir);
        b.mark_dirty();
    }
    v->set_size(bs);
    v->m_inode.i_links_count = 2;
    TRY(v->write_inode());
    return enter_new(*this, name, move(v), k_ft_dir);
}

Result<RefPtr<Vnode>> Ext2Vnode::symlink(StringView name, StringView target, const Cred& cred) {
    Ext2Mount& f = fs();
    FsGuard g(f);
    TRY(check_new_entry(*this, name));
    if (target.length() >= f.block_size())
        return ENAMETOOLONG;
    RefPtr<Ext2Vnode> v = TRY(new_child(*this, S_IFLNK | 0777, cred));
    if (target.length() < sizeof v->m_inode.i_block) {
        __builtin_memcpy(v->m_inode.i_block, target.data(), target.length());
    } else {
        BufRef b = TRY(first_block(*v));
        __builtin_memcpy(b.data(), target.data(), target.length());
        b.mark_dirty();
    }
    v->set_size(target.length());
    TRY(v->write_inode());
    return enter_new(*this, name, move(v), k_ft_lnk);
}

Result<void> Ext2Vnode::link(StringView name, Vnode& target) {
    FsGuard g(fs());
    TRY(check_dir_op(*this));
    auto& t = static_cast<Ext2Vnode&>(target);
    if (t.m_inode.i_links_count == 0)
        return ENOENT;
    if (t.m_inode.i_links_count >= k_link_max)
        return EMLINK;
    TRY(dir_add(name, t.ino32(), file_type_of_mode(t.m_inode.i_mode)));
    t.m_inode.i_links_count++;
    return write_both(*this, t);
}

Result<void> Ext2Vnode::unlink(StringView name, Vnode& victim) {
    Ext2Mount& f = fs();
    FsGuard g(f);
    TRY(check_dir_op(*this));
    auto& v = static_cast<Ext2Vnode&>(victim);
    TRY(dir_remove(name));
    if (v.m_inode.i_links_count == 0)
        f.fs_error("unlinking an inode with no links", v.ino32());
    else
        v.m_inode.i_links_count--;
    return write_both(*this, v);
}

Result<void> Ext2Vnode::rmdir(StringView name, Vnode& victim) {
    FsGuard g(fs());
    TRY(check_dir_op(*this));
    auto& v = static_cast<Ext2Vnode&>(victim);
    if (!TRY(v.dir_is_empty()))
        return ENOTEMPTY;
    TRY(dir_remove(name));
    v.m_inode.i_links_count = 0;
    if (m_inode.i_links_count > 2)
        m_inode.i_links_count--; // the victim's ".." is gone
    return write_both(*this, v);
}

Result<void> Ext2Vnode::rename(StringView oldname, Vnode& src_vnode, Vnode& newdir_vnode,
                               StringView newname, Vnode* target_vnode, unsigned flags) {
    FsGuard g(fs());
    TRY(check_dir_op(*this));
    auto& src = static_cast<Ext2Vnode&>(src_vnode);
    auto& nd = static_cast<Ext2Vnode&>(newdir_vnode);
    auto* target = static_cast<Ext2Vnode*>(target_vnode);
    TRY(check_dir_op(nd));
    if (newname.length() > k_name_len)
        return ENAMETOOLONG;
    bool moved = &nd != this;
    bool src_dir = src.is_dir();
    DirSlot old_slot = TRY(dir_find(oldname));
    if (old_slot.ino != src.ino32())
        return ENOENT;

    if (flags & RENAME_EXCHANGE) {
        if (!target)
            return ENOENT;
        DirSlot new_slot = TRY(nd.dir_find(newname));
        if (new_slot.ino != target->ino32())
            return ENOENT;
        bool target_dir = target->is_dir();
        if (moved && src_dir && !target_dir && nd.m_inode.i_links_count >= k_link_max)
            return EMLINK;
        if (moved && target_dir && !src_dir && m_inode.i_links_count >= k_link_max)
            return EMLINK;
        TRY(dir_set(old_slot, target->ino32(), file_type_of_mode(target->m_inode.i_mode)));
        TRY(nd.dir_set(new_slot, src.ino32(), file_type_of_mode(src.m_inode.i_mode)));
        if (moved) {
            if (src_dir)
                TRY(src.dir_set_dotdot(nd.ino32()));
            if (target_dir)
                TRY(target->dir_set_dotdot(ino32()));
            if (src_dir && !target_dir) {
                nd.m_inode.i_links_count++;
                m_inode.i_links_count--;
            } else if (target_dir && !src_dir) {
                m_inode.i_links_count++;
                nd.m_inode.i_links_count--;
            }
        }
        src.touch(false, true);
        target->touch(false, true);
        touch(true, true);
        nd.touch(true, true);
        TRY(src.write_inode());
        TRY(target->write_inode());
        TRY(write_inode());
        return nd.write_inode();
    }

    if (target) {
        bool target_dir = target->is_dir();
        if (target_dir && !TRY(target->dir_is_empty()))
            return ENOTEMPTY;
        DirSlot new_slot = TRY(nd.dir_find(newname));
        if (new_slot.ino != target->ino32())
            return ENOENT;
        TRY(nd.dir_set(new_slot, src.ino32(), file_type_of_mode(src.m_inode.i_mode)));
        if (target_dir) {
            target->m_inode.i_links_count = 0;
            if (nd.m_inode.i_links_count > 2)
                nd.m_inode.i_links_count--; // the victim's ".." is gone
        } else if (target->m_inode.i_links_count > 0) {
            target->m_inode.i_links_count--;
        }
        target->touch(false, true);
        TRY(target->write_inode());
        if (moved && src_dir)
            nd.m_inode.i_links_count++;
    } else {
        if (moved && src_dir && nd.m_inode.i_links_count >= k_link_max)
            return EMLINK;
        TRY(nd.dir_add(newname, src.ino32(), file_type_of_mode(src.m_inode.i_mode)));
        if (moved && src_dir)
            nd.m_inode.i_links_count++;
    }
    TRY(dir_remove(oldname));
    if (moved && src_dir) {
        TRY(src.dir_set_dotdot(nd.ino32()));
        if (m_inode.i_links_count > 2)
            m_inode.i_links_count--;
    }
    TRY(write_both(*this, src));
    if (moved) {
        nd.touch(true, true);
        TRY(nd.write_inode());
    }
    return {};
}

} // namespace ak::ext2
