// File-system system calls.  Each checks its arguments the way Linux does,
// then resolves paths, checks permissions and calls the file system with
// the locks vfs.h documents.
#include <ak/log.h>
#include <ak/syscall.h>
#include <ak/time.h>
#include <ak/vector.h>

namespace ak::sys {

namespace {

Result<VAttr> getattr_locked_shared(Vnode& v) {
    VAttr a;
    ReadGuard g(v.lock());
    TRY(v.getattr(a));
    return a;
}

Result<void> check_writable_mount(Vnode& v) {
    if (v.mount().read_only())
        return EROFS;
    return {};
}

// Shared by open/openat/creat.
Result<long> do_open(int dirfd, const char* upath, int flags, uint32_t mode) {
    PathBuf path;
    TRY(path.copy(upath));
    if ((flags & O_TMPFILE) == O_TMPFILE)
        return EOPNOTSUPP;
    Proc& p = curproc();
    const Cred& cred = curcred();
    int acc = flags & O_ACCMODE;
    bool want_write = acc == O_WRONLY || acc == O_RDWR;
    RefPtr<Vnode> v;
    bool created = false;
    if ((flags & O_CREAT) && !(flags & O_PATH)) {
        ParentLookup pl = TRY(namei_parent(dirfd, path.buf));
        if (pl.name.empty() || pl.dot || pl.trailing_slash)
            return EISDIR;
        Vnode& dir = *pl.dir;
        RefPtr<Vnode> existing;
        {
            WriteGuard g(dir.lock());
            Result<RefPtr<Vnode>> r = dir.lookup(pl.name);
            if (r.is_error() && r.error() != ENOENT)
                return Error{r.error()};
            if (r.ok()) {
                if (flags & O_EXCL)
                    return EEXIST;
                existing = r.release_value();
            } else {
                VAttr da;
                TRY(dir.getattr(da));
                TRY(vfs_access_attr(da, cred, W_OK | X_OK));
                TRY(check_writable_mount(dir));
                uint32_t m = S_IFREG | (mode & 07777 & ~p.umask());
                v = TRY(dir.create(pl.name, m, cred, 0));
                created = true;
            }
        }
        if (existing) {
            if (existing->m_mounted_here || existing->type() == VType::Lnk) {
                if (existing->type() == VType::Lnk && (flags & O_NOFOLLOW))
                    return ELOOP;
                v = TRY(namei(dirfd, path.buf, k_lookup_follow));
            } else {
                v = move(existing);
            }
        }
    } else {
        unsigned lf = (flags & O_NOFOLLOW) ? 0 : k_lookup_follow;
        if (flags & O_DIRECTORY)
            lf |= k_lookup_directory;
        v = TRY(namei(dirfd, path.buf, lf));
        if (v->type() == VType::Lnk && !(flags & O_PATH))
            return ELOOP;
    }
    if (!created && !(flags & O_PATH)) {
        if ((flags & O_DIRECTORY) && !v->is_dir())
            return ENOTDIR;
        if (v->is_dir() && (want_write || (flags & (O_TRUNC | O_CREAT))))
            return EISDIR;
        VAttr a = TRY(getattr_locked_shared(*v));
        int need = 0;
        if (acc == O_RDONLY || acc == O_RDWR)
            need |= R_OK;
        if (want_write || (flags & O_TRUNC))
            need |= W_OK;
        TRY(vfs_access_attr(a, cred, need));
        if ((want_write || (flags & O_TRUNC)) && v->type() == VType::Reg)
            TRY(check_writable_mount(*v));
        if ((flags & O_TRUNC) && v->type() == VType::Reg && a.size != 0) {
            SetAttr sa;
            sa.mask = SetAttr::Size | SetAttr::Mtime | SetAttr::Ctime;
            sa.mtime = sa.ctime = realtime_now();
            WriteGuard g(v->lock());
            TRY(v->setattr(sa));
        }
    } else if (flags & O_PATH) {
        if ((flags & O_DIRECTORY) && !v->is_dir())
            return ENOTDIR;
    }
    int fflags = (flags & ~(O_CREAT | O_EXCL | O_NOCTTY | O_TRUNC | O_CLOEXEC)) | O_LARGEFILE;
    RefPtr<File> f;
    if (flags & O_PATH)
        f = TRY(vnode_open_file(v, O_PATH | (flags & (O_DIRECTORY | O_NOFOLLOW)) | O_LARGEFILE));
    else
        f = TRY(v->open_special(fflags));
    int fd = TRY(p.fds().install(move(f), flags & O_CLOEXEC));
    return fd;
}

Result<RefPtr<Vnode>> lookup_at(int dirfd, const char* upath, int flags, int allowed) {
    if (flags & ~allowed)
        return EINVAL;
    PathBuf path;
    TRY(path.copy(upath));
    unsigned lf = (flags & AT_SYMLINK_NOFOLLOW) ? 0 : k_lookup_follow;
    if (flags & AT_EMPTY_PATH)
        lf |= k_lookup_empty_path;
    return namei(dirfd, path.buf, lf);
}

Result<long> do_stat(int dirfd, const char* upath, abi::Stat* ust, int flags) {
    RefPtr<Vnode> v =
        TRY(lookup_at(dirfd, upath, flags, AT_SYMLINK_NOFOLLOW | AT_EMPTY_PATH | AT_NO_AUTOMOUNT));
    VAttr a = TRY(getattr_locked_shared(*v));
    abi::Stat st;
    vattr_to_stat(a, v->mount().dev(), st);
    TRY(copy_out(ust, st));
    return 0L;
}

// With dir locked exclusive: the new name must be free (EEXIST) and cred
// may add entries to dir (write and search permission, a writable mount).
// A trailing slash names a directory, so only mkdir accepts one.
Result<void> may_create_locked(Vnode& dir, const ParentLookup& pl, const Cred& cred,
                               bool allow_trailing_slash) {
    Result<RefPtr<Vnode>> r = dir.lookup(pl.name);
    if (r.ok())
        return EEXIST;
    if (r.error() != ENOENT)
        return Error{r.error()};
    if (pl.trailing_slash && !allow_trailing_slash)
        return ENOENT;
    VAttr da;
    TRY(dir.getattr(da));
    TRY(vfs_access_attr(da, cred, W_OK | X_OK));
    return check_writable_mount(dir);
}

Result<long> do_mkdir(int dirfd, const char* upath, uint32_t mode) {
    PathBuf path;
    TRY(path.copy(upath));
    ParentLookup pl = TRY(namei_parent(dirfd, path.buf));
    if (pl.name.empty() || pl.dot)
        return EEXIST;
    Proc& p = curproc();
    const Cred& cred = curcred();
    Vnode& dir = *pl.dir;
    WriteGuard g(dir.lock());
    TRY(may_create_locked(dir, pl, cred, true));
    TRY(dir.mkdir(pl.name, mode & 01777 & ~p.umask(), cred));
    return 0L;
}

Result<long> do_unlink(int dirfd, const char* upath) {
    PathBuf path;
    TRY(path.copy(upath));
    ParentLookup pl = TRY(namei_parent(dirfd, path.buf));
    if (pl.name.empty() || pl.dot)
        return EISDIR;
    const Cred& cred = curcred();
    Vnode& dir = *pl.dir;
    WriteGuard g(dir.lock());
    RefPtr<Vnode> victim = TRY(dir.lookup(pl.name));
    if (victim->is_dir())
        return EISDIR;
    if (pl.trailing_slash)
        return ENOTDIR;
    TRY(vfs_may_delete(dir, *victim, cred));
    TRY(check_writable_mount(dir));
    WriteGuard gv(victim->lock());
    TRY(dir.unlink(pl.name, *victim));
    return 0L;
}

Result<long> do_rmdir(int dirfd, const char* upath) {
    PathBuf path;
    TRY(path.copy(upath));
    ParentLookup pl = TRY(namei_parent(dirfd, path.buf));
    if (pl.name.empty())
        return EBUSY;
    if (pl.name == StringView("."))
        return EINVAL;
    if (pl.name == StringView(".."))
        return ENOTEMPTY;
    Proc& p = curproc();
    const Cred& cred = curcred();
    Vnode& dir = *pl.dir;
    WriteGuard g(dir.lock());
    RefPtr<Vnode> victim = TRY(dir.lookup(pl.name));
    if (!victim->is_dir())
        return ENOTDIR;
    if (victim->m_mounted_here || victim.get() == p.root().get())
        return EBUSY;
    TRY(vfs_may_delete(dir, *victim, cred));
    TRY(check_writable_mount(dir));
    WriteGuard gv(victim->lock());
    TRY(dir.rmdir(pl.name, *victim));
    return 0L;
}

// The directories from d up to the root of its mount, d first.  Called with
// the mount's rename lock held, so the chain cannot change until rename is
// done, and before rename locks any directory (parent() takes d's lock).
Result<Vector<Vnode*>> ancestors(RefPtr<Vnode> d, Vector<RefPtr<Vnode>>& hold) {
    Vector<Vnode*> chain;
    RefPtr<Vnode> root = d->mount().root();
    for (;;) {
        TRY(chain.try_append(d.get()));
        TRY(hold.try_append(d));
        if (d.get() == root.get() || chain.size() > 4096)
            break;
        RefPtr<Vnode> up;
        {
            ReadGuard g(d->lock());
            up = TRY(d->parent());
        }
        if (up.get() == d.get())
            break;
        d = move(up);
    }
    return chain;
}

bool contains(const Vector<Vnode*>& chain, Vnode* v) {
    for (Vnode* c : chain)
        if (c == v)
            return true;
    return false;
}

Result<long> do_rename(int olddirfd, const char* uold, int newdirfd, const char* unew,
                       unsigned flags) {
    if (flags & ~(RENAME_NOREPLACE | RENAME_EXCHANGE | RENAME_WHITEOUT))
        return EINVAL;
    if ((flags & RENAME_EXCHANGE) && (flags & (RENAME_NOREPLACE | RENAME_WHITEOUT)))
        return EINVAL;
    if (flags & RENAME_WHITEOUT)
        return EINVAL;
    PathBuf oldp, newp;
    TRY(oldp.copy(uold));
    TRY(newp.copy(unew));
    ParentLookup po = TRY(namei_parent(olddirfd, oldp.buf));
    ParentLookup pn = TRY(namei_parent(newdirfd, newp.buf));
    if (po.name.empty() || po.dot || pn.name.empty() || pn.dot)
        return EBUSY;
    if (&po.dir->mount() != &pn.dir->mount())
        return EXDEV;
    TRY(check_writable_mount(*po.dir));
    Proc& p = curproc();
    const Cred& cred = curcred();
    Vnode* d1 = po.dir.get();
    Vnode* d2 = pn.dir.get();
    MutexGuard rg(d1->mount().rename_lock());
    // For the loop checks: a directory may not move below itself.
    Vector<RefPtr<Vnode>> hold;
    Vector<Vnode*> up_from_new, up_from_old;
    if (d1 != d2) {
        up_from_new = TRY(ancestors(pn.dir, hold));
        up_from_old = TRY(ancestors(po.dir, hold));
    }
    // Lock both directories, the ancestor first when one contains the other
    // is not needed: only rename takes two directory locks, and it holds
    // the mount's rename lock.
    Vnode* first = d1 < d2 ? d1 : d2;
    Vnode* second = d1 < d2 ? d2 : d1;
    WriteGuard g1(first->lock());
    if (first != second)
        second->lock().lock();
    struct Unlock {
        Vnode* v;
        ~Unlock() {
            if (v)
                v->lock().unlock();
        }
    } unlock_second{first != second ? second : nullptr};

    RefPtr<Vnode> src = TRY(d1->lookup(po.name));
    RefPtr<Vnode> target;
    {
        Result<RefPtr<Vnode>> r = d2->lookup(pn.name);
        if (r.ok())
            target = r.release_value();
        else if (r.error() != ENOENT)
            return Error{r.error()};
    }
    if ((flags & RENAME_EXCHANGE) && !target)
        return ENOENT;
    if ((flags & RENAME_NOREPLACE) && target)
        return EEXIST;
    if (po.trailing_slash && !src->is_dir())
        return ENOTDIR;
    if (pn.trailing_slash && !src->is_dir() && !(flags & RENAME_EXCHANGE))
        return ENOTDIR;
    if (target.get() == src.get())
        return 0L;
    // Loops first, as Linux does: the source may not be an ancestor of the
    // target (EINVAL), nor the target of the source (ENOTEMPTY; EINVAL for
    // an exchange).  This also keeps a directory from being locked twice.
    if (src->is_dir() && d1 != d2 && contains(up_from_new, src.get()))
        return EINVAL;
    if (target && target->is_dir() && d1 != d2 && contains(up_from_old, target.get()))
        return (flags & RENAME_EXCHANGE) ? EINVAL : ENOTEMPTY;
    if (!(flags & RENAME_EXCHANGE) && target) {
        if (src->is_dir() && !target->is_dir())
            return ENOTDIR;
        if (!src->is_dir() && target->is_dir())
            return EISDIR;
    }
    if (src->m_mounted_here || (target && target->m_mounted_here))
        return EBUSY;
    if (src.get() == p.root().get() || (target && target.get() == p.root().get()))
        return EBUSY;
    TRY(vfs_may_delete(*d1, *src, cred));
    if (target) {
        TRY(vfs_may_delete(*d2, *target, cred));
    } else {
        VAttr da;
        TRY(d2->getattr(da));
        TRY(vfs_access_attr(da, cred, W_OK | X_OK));
    }
    if (d1 != d2) {
        // Moving a directory rewrites its "..": needs write permission on it.
        if (src->is_dir()) {
            VAttr sa;
            ReadGuard gs(src->lock());
            TRY(src->getattr(sa));
            TRY(vfs_access_attr(sa, cred, W_OK));
        }
        if ((flags & RENAME_EXCHANGE) && target->is_dir()) {
            VAttr ta;
            ReadGuard gt(target->lock());
            TRY(target->getattr(ta));
            TRY(vfs_access_attr(ta, cred, W_OK));
        }
    }
    Vnode* a = src.get();
    Vnode* b = target.get();
    if (b && b < a) {
        Vnode* t = a;
        a = b;
        b = t;
    }
    WriteGuard ga(a->lock());
    if (b)
        b->lock().lock();
    Result<void> r = d1->rename(po.name, *src, *d2, pn.name, target.get(), flags);
    if (b)
        b->lock().unlock();
    TRY(r);
    return 0L;
}

Result<long> do_link(int olddirfd, const char* uold, int newdirfd, const char* unew, int flags) {
    if (flags & ~(AT_SYMLINK_FOLLOW | AT_EMPTY_PATH))
        return EINVAL;
    PathBuf oldp, newp;
    TRY(oldp.copy(uold));
    TRY(newp.copy(unew));
    unsigned lf = (flags & AT_SYMLINK_FOLLOW) ? k_lookup_follow : 0;
    if (flags & AT_EMPTY_PATH) {
        if (!curcred().is_root())
            return ENOENT;
        lf |= k_lookup_empty_path;
    }
    RefPtr<Vnode> src = TRY(namei(olddirfd, oldp.buf, lf));
    // Linux resolves the new name (ENOENT, EEXIST) and checks permissions
    // before refusing a directory (EPERM).
    ParentLookup pl = TRY(namei_parent(newdirfd, newp.buf));
    if (pl.name.empty() || pl.dot)
        return EEXIST;
    if (&pl.dir->mount() != &src->mount())
        return EXDEV;
    const Cred& cred = curcred();
    Vnode& dir = *pl.dir;
    WriteGuard g(dir.lock());
    TRY(may_create_locked(dir, pl, cred, false));
    if (src->is_dir() || &dir == src.get())
        return EPERM;
    WriteGuard gs(src->lock());
    TRY(dir.link(pl.name, *src));
    return 0L;
}

Result<long> do_symlink(const char* utarget, int newdirfd, const char* ulink) {
    PathBuf target, linkp;
    TRY(target.copy(utarget));
    TRY(linkp.copy(ulink));
    if (!target.buf[0])
        return ENOENT;
    ParentLookup pl = TRY(namei_parent(newdirfd, linkp.buf));
    if (pl.name.empty() || pl.dot)
        return EEXIST;
    const Cred& cred = curcred();
    Vnode& dir = *pl.dir;
    WriteGuard g(dir.lock());
    TRY(may_create_locked(dir, pl, cred, false));
    TRY(dir.symlink(pl.name, StringView(target.buf), cred));
    return 0L;
}

Result<long> do_readlink(int dirfd, const char* upath, char* buf, size_t bufsiz) {
    if (static_cast<long>(bufsiz) <= 0)
        return EINVAL;
    PathBuf path;
    TRY(path.copy(upath));
    RefPtr<Proc> exe_of;
    if (proc_is_exe_link(path.buf, &exe_of)) {
        // The one /proc link the kernel knows (namei.cpp, lookup_exe_link).
        if (!exe_of)
            return ENOENT;
        if (exe_of.get() != &curproc() && !signal_may_send(curcred(), *exe_of))
            return EACCES; // Linux asks for ptrace access to another's exe
        if (!buf)
            return EFAULT;
        size_t len = TRY(exe_of->exe_path(Span<char>(buf, bufsiz)));
        return static_cast<long>(min(len, bufsiz));
    }
    RefPtr<Vnode> v = TRY(namei(dirfd, path.buf, k_lookup_empty_path));
    if (v->type() != VType::Lnk)
        return EINVAL;
    if (!buf)
        return EFAULT;
    ReadGuard g(v->lock());
    size_t n = TRY(v->readlink(Span<char>(buf, bufsiz)));
    return static_cast<long>(n);
}

Result<void> setattr_checked(Vnode& v, const SetAttr& sa) {
    TRY(check_writable_mount(v));
    WriteGuard g(v.lock());
    return v.setattr(sa);
}

Result<long> do_chmod(Vnode& v, uint32_t mode) {
    const Cred& cred = curcred();
    VAttr a = TRY(getattr_locked_shared(v));
    if (!cred.is_root() && cred.euid != a.uid)
        return EPERM;
    mode &= 07777;
    if (!cred.is_root() && !cred.in_group(a.gid))
        mode &= ~S_ISGID;
    SetAttr sa;
    sa.mask = SetAttr::Mode | SetAttr::Ctime;
    sa.mode = mode;
    sa.ctime = realtime_now();
    TRY(setattr_checked(v, sa));
    return 0L;
}

Result<long> do_chown(Vnode& v, uint32_t uid, uint32_t gid) {
    const Cred& cred = curcred();
    VAttr a = TRY(getattr_locked_shared(v));
    bool set_uid = uid != 0xffffffffu;
    bool set_gid = gid != 0xffffffffu;
    if (!cred.is_root()) {
        if (set_uid && uid != a.uid)
            return EPERM;
        if (set_gid && gid != a.gid && (cred.euid != a.uid || !cred.in_group(gid)))
            return EPERM;
        if ((set_uid || set_gid) && cred.euid != a.uid)
            return EPERM;
    }
    SetAttr sa;
    sa.mask = SetAttr::Ctime;
    sa.ctime = realtime_now();
    if (set_uid) {
        sa.mask |= SetAttr::Uid;
        sa.uid = uid;
    }
    if (set_gid) {
        sa.mask |= SetAttr::Gid;
        sa.gid = gid;
    }
    // Changing ownership clears set-user-ID (and set-group-ID when group
    // execute is set) on non-directories, as Linux does.
    if ((set_uid || set_gid) && !S_ISDIR(a.mode) && (a.mode & (S_ISUID | S_ISGID))) {
        uint32_t m = a.mode & 07777 & ~S_ISUID;
        if (a.mode & S_IXGRP)
            m &= ~S_ISGID;
        sa.mask |= SetAttr::Mode;
        sa.mode = m;
    }
    TRY(setattr_checked(v, sa));
    return 0L;
}

Result<long> do_truncate_vnode(Vnode& v, int64_t length) {
    if (length < 0)
        return EINVAL;
    if (v.is_dir())
        return EISDIR;
    if (v.type() != VType::Reg)
        return EINVAL;
    SetAttr sa;
    sa.mask = SetAttr::Size | SetAttr::Mtime | SetAttr::Ctime;
    sa.size = length;
    sa.mtime = sa.ctime = realtime_now();
    TRY(setattr_checked(v, sa));
    return 0L;
}

Result<long> do_access(int dirfd, const char* upath, int mode, int flags) {
    if (mode & ~(R_OK | W_OK | X_OK))
        return EINVAL;
    RefPtr<Vnode> v =
        TRY(lookup_at(dirfd, upath, flags, AT_EACCESS | AT_SYMLINK_NOFOLLOW | AT_EMPTY_PATH));
    Cred cred = curcred(); // a copy: access() checks with the real ids
    if (!(flags & AT_EACCESS)) {
        cred.euid = cred.uid;
        cred.egid = cred.gid;
    }
    if (mode == F_OK)
        return 0L;
    VAttr a = TRY(getattr_locked_shared(*v));
    TRY(vfs_access_attr(a, cred, mode));
    if ((mode & W_OK) && v->mount().read_only() && !S_ISCHR(a.mode) && !S_ISBLK(a.mode) &&
        !S_ISFIFO(a.mode) && !S_ISSOCK(a.mode))
        return EROFS;
    return 0L;
}

Result<void> statfs_of(Vnode& v, abi::Statfs* ubuf) {
    abi::Statfs st;
    TRY(v.mount().statfs(st));
    st.f_flags = static_cast<int64_t>(v.mount().flags() &
                                      (MS_RDONLY | MS_NOSUID | MS_NODEV | MS_NOEXEC | MS_NOATIME)) |
                 0x20 /* ST_VALID */;
    return copy_out(ubuf, st);
}

bool valid_nsec(int64_t ns) {
    return ns == UTIME_NOW || ns == UTIME_OMIT || (ns >= 0 && ns < k_ns_per_sec);
}

} // namespace

Result<long> sys_open(const char* path, int flags, uint32_t mode) {
    return do_open(AT_FDCWD, path, flags, mode);
}
Result<long> sys_openat(int dirfd, const char* path, int flags, uint32_t mode) {
    return do_open(dirfd, path, flags, mode);
}
Result<long> sys_creat(const char* path, uint32_t mode) {
    return do_open(AT_FDCWD, path, O_CREAT | O_WRONLY | O_TRUNC, mode);
}

Result<long> sys_stat(const char* path, abi::Stat* st) {
    return do_stat(AT_FDCWD, path, st, 0);
}
Result<long> sys_lstat(const char* path, abi::Stat* st) {
    return do_stat(AT_FDCWD, path, st, AT_SYMLINK_NOFOLLOW);
}
Result<long> sys_newfstatat(int dirfd, const char* path, abi::Stat* st, int flags) {
    return do_stat(dirfd, path, st, flags);
}
Result<long> sys_fstat(int fd, abi::Stat* ust) {
    RefPtr<File> f = TRY(fd_get(fd));
    abi::Stat st;
    TRY(f->stat(st));
    TRY(copy_out(ust, st));
    return 0L;
}

Result<long> sys_statx(int dirfd, const char* path, int flags, uint32_t mask, abi::Statx* ubuf) {
    (void)mask;
    if (flags & AT_STATX_SYNC_TYPE) {
        if ((flags & AT_STATX_SYNC_TYPE) == AT_STATX_SYNC_TYPE)
            return EINVAL;
    }
    if (mask & 0x80000000u) // STATX__RESERVED
        return EINVAL;
    RefPtr<Vnode> v = TRY(lookup_at(dirfd, path, flags & ~AT_STATX_SYNC_TYPE,
                                    AT_SYMLINK_NOFOLLOW | AT_EMPTY_PATH | AT_NO_AUTOMOUNT));
    VAttr a = TRY(getattr_locked_shared(*v));
    abi::Statx sx;
    __builtin_memset(&sx, 0, sizeof sx);
    sx.stx_mask = STATX_BASIC_STATS | STATX_BTIME;
    sx.stx_blksize = a.blksize;
    sx.stx_nlink = static_cast<uint32_t>(a.nlink);
    sx.stx_uid = a.uid;
    sx.stx_gid = a.gid;
    sx.stx_mode = static_cast<uint16_t>(a.mode);
    sx.stx_ino = a.ino;
    sx.stx_size = static_cast<uint64_t>(a.size);
    sx.stx_blocks = a.blocks;
    auto ts = [](const abi::Timespec& t) {
        return abi::StatxTimestamp{t.tv_sec, static_cast<uint32_t>(t.tv_nsec), 0};
    };
    sx.stx_atime = ts(a.atime);
    sx.stx_btime = ts(a.btime);
    sx.stx_ctime = ts(a.ctime);
    sx.stx_mtime = ts(a.mtime);
    sx.stx_rdev_major = static_cast<uint32_t>((a.rdev >> 8) & 0xfff);
    sx.stx_rdev_minor = static_cast<uint32_t>((a.rdev & 0xff) | ((a.rdev >> 12) & 0xfff00));
    sx.stx_dev_major = 0;
    sx.stx_dev_minor = static_cast<uint32_t>(v->mount().dev());
    TRY(copy_out(ubuf, sx));
    return 0L;
}

Result<long> sys_getdents64(int fd, void* dirp, size_t count) {
    RefPtr<File> f = TRY(fd_get(fd));
    if (!dirp)
        return EFAULT;
    if (f->flags() & O_PATH)
        return EBADF;
    MutexGuard g(f->m_pos_lock);
    size_t n = TRY(
        f->getdents(Span<uint8_t>(static_cast<uint8_t*>(dirp), min(count, k_max_rw)), f->m_pos));
    return static_cast<long>(n);
}

Result<long> sys_mkdir(const char* path, uint32_t mode) {
    return do_mkdir(AT_FDCWD, path, mode);
}
Result<long> sys_mkdirat(int dirfd, const char* path, uint32_t mode) {
    return do_mkdir(dirfd, path, mode);
}
Result<long> sys_rmdir(const char* path) {
    return do_rmdir(AT_FDCWD, path);
}
Result<long> sys_unlink(const char* path) {
    return do_unlink(AT_FDCWD, path);
}
Result<long> sys_unlinkat(int dirfd, const char* path, int flags) {
    if (flags & ~AT_REMOVEDIR)
        return EINVAL;
    return (flags & AT_REMOVEDIR) ? do_rmdir(dirfd, path) : do_unlink(dirfd, path);
}

Result<long> sys_rename(const char* o, const char* n) {
    return do_rename(AT_FDCWD, o, AT_FDCWD, n, 0);
}
Result<long> sys_renameat(int od, const char* o, int nd, const char* n) {
    return do_rename(od, o, nd, n, 0);
}
Result<long> sys_renameat2(int od, const char* o, int nd, const char* n, unsigned int flags) {
    return do_rename(od, o, nd, n, flags);
}

Result<long> sys_link(const char* o, const char* n) {
    return do_link(AT_FDCWD, o, AT_FDCWD, n, 0);
}
Result<long> sys_linkat(int od, const char* o, int nd, const char* n, int flags) {
    return do_link(od, o, nd, n, flags);
}
Result<long> sys_symlink(const char* target, const char* linkpath) {
    return do_symlink(target, AT_FDCWD, linkpath);
}
Result<long> sys_symlinkat(const char* target, int nd, const char* linkpath) {
    return do_symlink(target, nd, linkpath);
}
Result<long> sys_readlink(const char* path, char* buf, size_t bufsiz) {
    return do_readlink(AT_FDCWD, path, buf, bufsiz);
}
Result<long> sys_readlinkat(int dirfd, const char* path, char* buf, size_t bufsiz) {
    return do_readlink(dirfd, path, buf, bufsiz);
}

Result<long> sys_chmod(const char* path, uint32_t mode) {
    RefPtr<Vnode> v = TRY(lookup_at(AT_FDCWD, path, 0, 0));
    return do_chmod(*v, mode);
}
Result<long> sys_fchmodat(int dirfd, const char* path, uint32_t mode) {
    RefPtr<Vnode> v = TRY(lookup_at(dirfd, path, 0, 0));
    return do_chmod(*v, mode);
}
Result<long> sys_fchmod(int fd, uint32_t mode) {
    RefPtr<File> f = TRY(fd_get(fd));
    if (!f->vnode() || (f->flags() & O_PATH))
        return f->vnode() ? EBADF : EINVAL;
    return do_chmod(*f->vnode(), mode);
}

Result<long> sys_chown(const char* path, uint32_t uid, uint32_t gid) {
    RefPtr<Vnode> v = TRY(lookup_at(AT_FDCWD, path, 0, 0));
    return do_chown(*v, uid, gid);
}
Result<long> sys_lchown(const char* path, uint32_t uid, uint32_t gid) {
    RefPtr<Vnode> v = TRY(lookup_at(AT_FDCWD, path, AT_SYMLINK_NOFOLLOW, AT_SYMLINK_NOFOLLOW));
    return do_chown(*v, uid, gid);
}
Result<long> sys_fchownat(int dirfd, const char* path, uint32_t uid, uint32_t gid, int flags) {
    RefPtr<Vnode> v = TRY(lookup_at(dirfd, path, flags, AT_SYMLINK_NOFOLLOW | AT_EMPTY_PATH));
    return do_chown(*v, uid, gid);
}
Result<long> sys_fchown(int fd, uint32_t uid, uint32_t gid) {
    RefPtr<File> f = TRY(fd_get(fd));
    if (!f->vnode() || (f->flags() & O_PATH))
        return f->vnode() ? EBADF : EINVAL;
    return do_chown(*f->vnode(), uid, gid);
}

Result<long> sys_truncate(const char* upath, int64_t length) {
    if (length < 0)
        return EINVAL;
    PathBuf path;
    TRY(path.copy(upath));
    RefPtr<Vnode> v = TRY(namei(AT_FDCWD, path.buf, k_lookup_follow));
    if (v->is_dir())
        return EISDIR;
    VAttr a = TRY(getattr_locked_shared(*v));
    TRY(vfs_access_attr(a, curcred(), W_OK));
    return do_truncate_vnode(*v, length);
}
Result<long> sys_ftruncate(int fd, int64_t length) {
    if (length < 0)
        return EINVAL;
    RefPtr<File> f = TRY(fd_get(fd));
    if (f->flags() & O_PATH)
        return EBADF;
    if (!f->writable() || !f->vnode())
        return EINVAL;
    if (f->vnode()->type() != VType::Reg)
        return EINVAL;
    TRY(f->truncate(length));
    return 0L;
}

Result<long> sys_fsync(int fd) {
    RefPtr<File> f = TRY(fd_get(fd));
    TRY(f->fsync(false));
    return 0L;
}
Result<long> sys_fdatasync(int fd) {
    RefPtr<File> f = TRY(fd_get(fd));
    TRY(f->fsync(true));
    return 0L;
}
Result<long> sys_sync() {
    (void)vfs_sync_all();
    return 0L;
}
Result<long> sys_syncfs(int fd) {
    RefPtr<File> f = TRY(fd_get(fd));
    if (!f->vnode())
        return 0L;
    TRY(f->vnode()->mount().sync());
    return 0L;
}

Result<long> sys_access(const char* path, int mode) {
    return do_access(AT_FDCWD, path, mode, 0);
}
Result<long> sys_faccessat(int dirfd, const char* path, int mode) {
    return do_access(dirfd, path, mode, 0);
}
Result<long> sys_faccessat2(int dirfd, const char* path, int mode, int flags) {
    return do_access(dirfd, path, mode, flags);
}

Result<long> sys_utimensat(int dirfd, const char* upath, const abi::Timespec* utimes, int flags) {
    if (flags & ~(AT_SYMLINK_NOFOLLOW | AT_EMPTY_PATH))
        return EINVAL;
    abi::Timespec times[2];
    bool now_both = true;
    if (utimes) {
        __builtin_memcpy(times, utimes, sizeof times);
        for (auto& t : times)
            if (!valid_nsec(t.tv_nsec))
                return EINVAL;
        now_both = times[0].tv_nsec == UTIME_NOW && times[1].tv_nsec == UTIME_NOW;
        if (times[0].tv_nsec == UTIME_OMIT && times[1].tv_nsec == UTIME_OMIT)
            return 0L;
    }
    RefPtr<Vnode> v;
    if (!upath) {
        // futimens(): the path is NULL and dirfd is the file.
        if (dirfd == AT_FDCWD)
            return EFAULT;
        RefPtr<File> f = TRY(fd_get(dirfd));
        if (!f->vnode())
            return EBADF;
        v = RefPtr<Vnode>(f->vnode());
    } else {
        v = TRY(lookup_at(dirfd, upath, flags, AT_SYMLINK_NOFOLLOW | AT_EMPTY_PATH));
    }
    const Cred& cred = curcred();
    VAttr a = TRY(getattr_locked_shared(*v));
    if (!cred.is_root() && cred.euid != a.uid) {
        if (!now_both)
            return EPERM;
        if (vfs_access_attr(a, cred, W_OK).is_error())
            return EACCES;
    }
    abi::Timespec now = realtime_now();
    SetAttr sa;
    sa.mask = SetAttr::Ctime;
    sa.ctime = now;
    if (!utimes || times[0].tv_nsec != UTIME_OMIT) {
        sa.mask |= SetAttr::Atime;
        sa.atime = (!utimes || times[0].tv_nsec == UTIME_NOW) ? now : times[0];
    }
    if (!utimes || times[1].tv_nsec != UTIME_OMIT) {
        sa.mask |= SetAttr::Mtime;
        sa.mtime = (!utimes || times[1].tv_nsec == UTIME_NOW) ? now : times[1];
    }
    TRY(setattr_checked(*v, sa));
    return 0L;
}

Result<long> sys_chdir(const char* upath) {
    PathBuf path;
    TRY(path.copy(upath));
    RefPtr<Vnode> v = TRY(namei(AT_FDCWD, path.buf, k_lookup_follow | k_lookup_directory));
    TRY(vfs_access(*v, curcred(), X_OK));
    curproc().set_cwd(move(v));
    return 0L;
}

Result<long> sys_fchdir(int fd) {
    RefPtr<File> f = TRY(fd_get(fd));
    Vnode* v = f->vnode();
    if (!v)
        return ENOTDIR;
    if (!v->is_dir())
        return ENOTDIR;
    TRY(vfs_access(*v, curcred(), X_OK));
    curproc().set_cwd(RefPtr<Vnode>(v));
    return 0L;
}

// getcwd: walk ".." to the process root, finding each directory's name by
// scanning its parent for the inode number.
Result<long> sys_getcwd(char* ubuf, size_t size) {
    if (size == 0)
        return EINVAL;
    if (!ubuf)
        return EFAULT;
    Proc& p = curproc();
    RefPtr<Vnode> root = p.root();
    RefPtr<Vnode> cur = p.cwd();
    char* tmp = static_cast<char*>(kmem_alloc(PATH_MAX));
    if (!tmp)
        return ENOMEM;
    size_t pos = PATH_MAX - 1;
    tmp[pos] = 0;
    Result<long> result = 0L;
    struct NameFinder final : DirentSink {
        uint64_t ino;
        char name[NAME_MAX + 1];
        bool found = false;
        bool emit(StringView n, uint64_t i, VType, int64_t) override {
            if (i == ino && !(n == StringView(".")) && !(n == StringView(".."))) {
                __builtin_memcpy(name, n.data(), n.length());
                name[n.length()] = 0;
                found = true;
                return false;
            }
            return true;
        }
    };
    for (int depth = 0; cur.get() != root.get(); depth++) {
        RefPtr<Vnode> here = vfs_covered_if_root(cur);
        if (here.get() == root.get())
            break;
        RefPtr<Vnode> parent;
        {
            ReadGuard g(here->lock());
            Result<RefPtr<Vnode>> r = here->parent();
            if (r.is_error()) {
                result = Error{r.error()};
                break;
            }
            parent = r.release_value();
        }
        if (parent.get() == here.get() || depth > 2048) {
            result = ENOENT; // unreachable from our root
            break;
        }
        NameFinder nf;
        nf.ino = here->ino();
        {
            ReadGuard g(parent->lock());
            Result<void> r = parent->readdir(0, nf);
            if (r.is_error()) {
                result = Error{r.error()};
                break;
            }
        }
        if (!nf.found) {
            result = ENOENT; // the directory was removed
            break;
        }
        size_t n = str_len(nf.name);
        if (n + 1 > pos) {
            result = ENAMETOOLONG;
            break;
        }
        pos -= n;
        __builtin_memcpy(tmp + pos, nf.name, n);
        tmp[--pos] = '/';
        cur = move(parent);
    }
    if (result.ok()) {
        if (pos == PATH_MAX - 1)
            tmp[--pos] = '/';
        size_t len = PATH_MAX - pos; // including the NUL
        if (len > size) {
            result = ERANGE;
        } else {
            __builtin_memcpy(ubuf, tmp + pos, len);
            result = static_cast<long>(len);
        }
    }
    kmem_free(tmp);
    return result;
}

Result<long> sys_statfs(const char* upath, abi::Statfs* buf) {
    PathBuf path;
    TRY(path.copy(upath));
    RefPtr<Vnode> v = TRY(namei(AT_FDCWD, path.buf, k_lookup_follow));
    TRY(statfs_of(*v, buf));
    return 0L;
}

Result<long> sys_fstatfs(int fd, abi::Statfs* buf) {
    RefPtr<File> f = TRY(fd_get(fd));
    if (!f->vnode())
        return ENOSYS;
    TRY(statfs_of(*f->vnode(), buf));
    return 0L;
}

Result<long> sys_mount(const char* usource, const char* utarget, const char* ufstype,
                       unsigned long flags, const void* udata) {
    if (!curcred().is_root())
        return EPERM;
    PathBuf target;
    TRY(target.copy(utarget));
    char source[256] = "";
    char fstype[64] = "";
    char data[256] = "";
    if (usource && str_nlen(usource, sizeof source) >= sizeof source)
        return ENAMETOOLONG;
    if (usource)
        str_copy(source, usource, sizeof source);
    if (ufstype && str_nlen(ufstype, sizeof fstype) >= sizeof fstype)
        return ENODEV;
    if (ufstype)
        str_copy(fstype, ufstype, sizeof fstype);
    if (udata) {
        const char* d = static_cast<const char*>(udata);
        if (str_nlen(d, sizeof data) >= sizeof data)
            return EINVAL;
        str_copy(data, d, sizeof data);
    }
    RefPtr<Vnode> where = TRY(namei(AT_FDCWD, target.buf, k_lookup_follow));
    if (flags & (MS_BIND | MS_MOVE))
        return EINVAL; // not supported (docs/vfs.md)
    if (flags & MS_REMOUNT) {
        Mount& m = where->mount();
        if (m.root().get() != where.get())
            return EINVAL;
        TRY(vfs_remount(m, flags));
        return 0L;
    }
    if (!where->is_dir())
        return ENOTDIR;
    if (!fstype[0])
        return EINVAL;
    TRY(vfs_mount(StringView(fstype), *where, StringView(source), flags & ~MS_SILENT,
                  udata ? data : nullptr));
    return 0L;
}

Result<long> sys_umount2(const char* utarget, int flags) {
    if (flags & ~(MNT_FORCE | MNT_DETACH | MNT_EXPIRE | UMOUNT_NOFOLLOW))
        return EINVAL;
    if ((flags & MNT_EXPIRE) && (flags & (MNT_FORCE | MNT_DETACH)))
        return EINVAL;
    if (!curcred().is_root())
        return EPERM;
    PathBuf target;
    TRY(target.copy(utarget));
    RefPtr<Vnode> v =
        TRY(namei(AT_FDCWD, target.buf, (flags & UMOUNT_NOFOLLOW) ? 0 : k_lookup_follow));
    if (flags & MNT_EXPIRE)
        return EAGAIN;
    TRY(vfs_umount(*v, flags));
    return 0L;
}

} // namespace ak::sys
