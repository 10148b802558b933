// Vnode and Mount defaults, attribute conversion and permission checks.
#include <ak/vfs.h>

namespace ak {

VType vtype_from_mode(uint32_t mode) {
    switch (mode & S_IFMT) {
    case S_IFREG:
        return VType::Reg;
    case S_IFDIR:
        return VType::Dir;
    case S_IFLNK:
        return VType::Lnk;
    case S_IFCHR:
        return VType::Chr;
    case S_IFBLK:
        return VType::Blk;
    case S_IFIFO:
        return VType::Fifo;
    case S_IFSOCK:
        return VType::Sock;
    default:
        return VType::None;
    }
}

uint8_t dtype_from_vtype(VType t) {
    switch (t) {
    case VType::Reg:
        return DT_REG;
    case VType::Dir:
        return DT_DIR;
    case VType::Lnk:
        return DT_LNK;
    case VType::Chr:
        return DT_CHR;
    case VType::Blk:
        return DT_BLK;
    case VType::Fifo:
        return DT_FIFO;
    case VType::Sock:
        return DT_SOCK;
    default:
        return DT_UNKNOWN;
    }
}

Vnode::Vnode(Mount& mount, VType type, uint64_t ino)
    : m_mount_ref(&mount), m_mount(&mount), m_type(type), m_ino(ino) {}
Vnode::~Vnode() = default;

Result<RefPtr<Vnode>> Vnode::lookup(StringView) {
    return is_dir() ? ENOENT : ENOTDIR;
}
Result<RefPtr<Vnode>> Vnode::parent() {
    return ENOTDIR;
}
Result<RefPtr<Vnode>> Vnode::create(StringView, uint32_t, const Cred&, uint64_t) {
    return EPERM;
}
Result<RefPtr<Vnode>> Vnode::mkdir(StringView, uint32_t, const Cred&) {
    return EPERM;
}
Result<RefPtr<Vnode>> Vnode::symlink(StringView, StringView, const Cred&) {
    return EPERM;
}
Result<void> Vnode::link(StringView, Vnode&) {
    return EPERM;
}
Result<void> Vnode::unlink(StringView, Vnode&) {
    return EPERM;
}
Result<void> Vnode::rmdir(StringView, Vnode&) {
    return EPERM;
}
Result<void> Vnode::rename(StringView, Vnode&, Vnode&, StringView, Vnode*, unsigned) {
    return EPERM;
}
Result<void> Vnode::readdir(int64_t, DirentSink&) {
    return ENOTDIR;
}
Result<size_t> Vnode::readlink(Span<char>) {
    return EINVAL;
}
Result<size_t> Vnode::read(Uio&, int64_t) {
    return is_dir() ? EISDIR : EINVAL;
}
Result<size_t> Vnode::write(Uio&, int64_t&, int) {
    return is_dir() ? EISDIR : EINVAL;
}
Result<void> Vnode::fsync(bool) {
    return {};
}
Result<void> Vnode::getattr(VAttr& a) {
    a = VAttr{};
    a.ino = m_ino;
    a.nlink = 1;
    a.mode = is_dir() ? (S_IFDIR | 0555) : (S_IFREG | 0444);
    return {};
}
Result<void> Vnode::setattr(const SetAttr&) {
    return EPERM;
}
Result<RefPtr<File>> Vnode::open_special(int flags) {
    return vnode_open_file(RefPtr<Vnode>(this), flags);
}

Mount::Mount(FileSystemType& type, unsigned long flags)
    : m_type(&type), m_flags(flags), m_dev(vfs_alloc_dev()) {}
Mount::~Mount() = default;

Result<void> Mount::statfs(abi::Statfs& st) {
    __builtin_memset(&st, 0, sizeof st);
    st.f_bsize = 4096;
    st.f_frsize = 4096;
    st.f_namelen = NAME_MAX;
    return {};
}
Result<void> Mount::sync() {
    return {};
}
Result<void> Mount::unmount(bool) {
    return {};
}
Result<void> Mount::remount(unsigned long) {
    return {};
}

void vattr_to_stat(const VAttr& a, uint64_t dev, abi::Stat& st) {
    __builtin_memset(&st, 0, sizeof st);
    st.st_dev = dev;
    st.st_ino = a.ino;
    st.st_nlink = a.nlink;
    st.st_mode = a.mode;
    st.st_uid = a.uid;
    st.st_gid = a.gid;
    st.st_rdev = a.rdev;
    st.st_size = a.size;
    st.st_blksize = a.blksize;
    st.st_blocks = static_cast<int64_t>(a.blocks);
    st.st_atim = a.atime;
    st.st_mtim = a.mtime;
    st.st_ctim = a.ctime;
}

Result<void> vfs_access_attr(const VAttr& a, const Cred& cred, int mask) {
    mask &= R_OK | W_OK | X_OK;
    if (cred.euid == 0) {
        // root: read/write always; execute if any x bit is set or a directory.
        if ((mask & X_OK) && !S_ISDIR(a.mode) && !(a.mode & (S_IXUSR | S_IXGRP | S_IXOTH)))
            return EACCES;
        return {};
    }
    uint32_t perm;
    if (cred.euid == a.uid)
        perm = (a.mode >> 6) & 7;
    else if (cred.in_group(a.gid))
        perm = (a.mode >> 3) & 7;
    else
        perm = a.mode & 7;
    // R_OK=4, W_OK=2, X_OK=1 line up with the rwx bits.
    if ((perm & static_cast<uint32_t>(mask)) != static_cast<uint32_t>(mask))
        return EACCES;
    return {};
}

Result<void> vfs_access(Vnode& v, const Cred& cred, int mask) {
    VAttr a;
    {
        ReadGuard g(v.lock());
        TRY(v.getattr(a));
    }
    return vfs_access_attr(a, cred, mask);
}

Result<void> vfs_may_delete(Vnode& dir, Vnode& victim, const Cred& cred) {
    VAttr da;
    TRY(dir.getattr(da));
    TRY(vfs_access_attr(da, cred, W_OK | X_OK));
    if ((da.mode & S_ISVTX) && cred.euid != 0) {
        VAttr va;
        ReadGuard g(victim.lock());
        TRY(victim.getattr(va));
        if (va.uid != cred.euid && da.uid != cred.euid)
            return EPERM;
    }
    return {};
}

} // namespace ak
