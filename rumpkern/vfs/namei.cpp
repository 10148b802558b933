// Path lookup: components, "." and "..", mount points, symlinks with loop
// detection (SYMLOOP_MAX), search permission on every directory.
#include <ak/thread.h>
#include <ak/vfs.h>

namespace ak {

Result<void> copyin_path(const char* user, char* buf) {
    if (!user)
        return EFAULT;
    size_t n = str_nlen(user, PATH_MAX);
    if (n >= PATH_MAX)
        return ENAMETOOLONG;
    __builtin_memcpy(buf, user, n + 1);
    return {};
}

namespace {

struct Walker {
    RefPtr<Vnode> root;
    Cred cred;
    int links = 0;
};

Result<RefPtr<Vnode>> start_dir(int dirfd, const char* path, Walker& w) {
    if (path[0] == '/')
        return w.root;
    if (dirfd == AT_FDCWD)
        return curproc().cwd();
    RefPtr<File> f = TRY(curproc().fds().get(dirfd));
    Vnode* v = f->vnode();
    if (!v)
        return ENOTDIR;
    return RefPtr<Vnode>(v);
}

Result<RefPtr<Vnode>> step_dotdot(Walker& w, RefPtr<Vnode> cur) {
    if (cur.get() == w.root.get())
        return cur;
    cur = vfs_covered_if_root(move(cur));
    if (cur.get() == w.root.get())
        return cur;
    RefPtr<Vnode> parent;
    {
        ReadGuard g(cur->lock());
        parent = TRY(cur->parent());
    }
    return parent;
}

Result<RefPtr<Vnode>> walk(Walker& w, RefPtr<Vnode> cur, const char* path, size_t len,
                           bool follow_last, ParentLookup* parent_out);

Result<RefPtr<Vnode>> follow_link(Walker& w, RefPtr<Vnode> dir, Vnode& link) {
    if (++w.links > SYMLOOP_MAX)
        return ELOOP;
    char* buf = static_cast<char*>(kmem_alloc(PATH_MAX));
    if (!buf)
        return ENOMEM;
    Result<size_t> n = [&]() -> Result<size_t> {
        ReadGuard g(link.lock());
        return link.readlink(Span<char>(buf, PATH_MAX - 1));
    }();
    if (n.is_error()) {
        kmem_free(buf);
        return Error{n.error()};
    }
    size_t len = n.value();
    if (len == 0) {
        kmem_free(buf);
        return ENOENT;
    }
    buf[len] = 0;
    RefPtr<Vnode> from = buf[0] == '/' ? w.root : dir;
    auto r = walk(w, from, buf, len, true, nullptr);
    kmem_free(buf);
    return r;
}

// Walk path[0..len) from cur.  With parent_out, stop before the last
// component and describe it there instead.
Result<RefPtr<Vnode>> walk(Walker& w, RefPtr<Vnode> cur, const char* path, size_t len,
                           bool follow_last, ParentLookup* parent_out) {
    size_t i = 0;
    while (i < len && path[i] == '/')
        i++;
    if (i > 0)
        cur = w.root;
    if (i == len) {
        // "" (only when called for a symlink target, which we rejected) or "/".
        if (parent_out) {
            parent_out->dir = cur;
            parent_out->name = StringView(path + len, 0);
        }
        return cur;
    }
    while (i < len) {
        size_t start = i;
        while (i < len && path[i] != '/')
            i++;
        StringView name(path + start, i - start);
        size_t after = i;
        while (i < len && path[i] == '/')
            i++;
        bool last = i == len;
        bool trailing = last && after != len;
        if (name.length() > NAME_MAX)
            return ENAMETOOLONG;
        if (!cur->is_dir())
            return ENOTDIR;
        TRY(vfs_access(*cur, w.cred, X_OK));
        if (last && parent_out) {
            parent_out->dir = cur;
            parent_out->name = name;
            parent_out->trailing_slash = trailing;
            parent_out->dot = name == StringView(".") || name == StringView("..");
            return cur;
        }
        if (name == StringView("."))
            continue;
        if (name == StringView("..")) {
            cur = TRY(step_dotdot(w, move(cur)));
            continue;
        }
        RefPtr<Vnode> child;
        {
            ReadGuard g(cur->lock());
            child = TRY(cur->lookup(name));
        }
        if (child->m_mounted_here)
            child = vfs_cross_mounts(move(child));
        if (child->type() == VType::Lnk && (!last || follow_last || trailing)) {
            child = TRY(follow_link(w, cur, *child));
        }
        if (trailing && !child->is_dir())
            return ENOTDIR;
        cur = move(child);
    }
    return cur;
}

// "/proc/self/exe" and "/proc/<pid>/exe" (proc_is_exe_link): the kernel has
// no /proc, but these links name the program a process runs.  A lookup
// that follows them walks the recorded path; one that does not (lstat,
// O_NOFOLLOW) finds nothing, since there is no link vnode to return.
Result<RefPtr<Vnode>> lookup_exe_link(Walker& w, Proc* target, unsigned flags) {
    if (!target || !(flags & k_lookup_follow))
        return ENOENT;
    char* buf = static_cast<char*>(kmem_alloc(PATH_MAX));
    if (!buf)
        return ENOMEM;
    Result<size_t> n = target->exe_path(Span<char>(buf, PATH_MAX - 1));
    if (n.is_error() || n.value() >= PATH_MAX) {
        kmem_free(buf);
        return n.is_error() ? Error{n.error()} : Error{ENAMETOOLONG};
    }
    buf[n.value()] = 0;
    auto r = walk(w, w.root, buf, n.value(), true, nullptr);
    kmem_free(buf);
    return r;
}

Result<Walker> make_walker() {
    Walker w;
    Proc& p = curproc();
    w.root = p.root();
    w.cred = curcred();
    if (!w.root)
        return ENOENT;
    return w;
}

} // namespace

Result<RefPtr<Vnode>> namei(int dirfd, const char* path, unsigned flags) {
    Walker w = TRY(make_walker());
    if (!path[0]) {
        if (!(flags & k_lookup_empty_path))
            return ENOENT;
        if (dirfd == AT_FDCWD)
            return curproc().cwd();
        RefPtr<File> f = TRY(curproc().fds().get(dirfd));
        if (!f->vnode())
            return EBADF;
        return RefPtr<Vnode>(f->vnode());
    }
    RefPtr<Proc> exe_of;
    if (proc_is_exe_link(path, &exe_of)) {
        RefPtr<Vnode> v = TRY(lookup_exe_link(w, exe_of.get(), flags));
        if ((flags & k_lookup_directory) && !v->is_dir())
            return ENOTDIR;
        return v;
    }
    RefPtr<Vnode> start = TRY(start_dir(dirfd, path, w));
    if (!start->is_dir())
        return ENOTDIR;
    RefPtr<Vnode> v = TRY(walk(w, start, path, str_len(path), flags & k_lookup_follow, nullptr));
    if ((flags & k_lookup_directory) && !v->is_dir())
        return ENOTDIR;
    return v;
}

Result<ParentLookup> namei_parent(int dirfd, const char* path) {
    Walker w = TRY(make_walker());
    if (!path[0])
        return ENOENT;
    RefPtr<Vnode> start = TRY(start_dir(dirfd, path, w));
    if (!start->is_dir())
        return ENOTDIR;
    ParentLookup pl;
    TRY(walk(w, start, path, str_len(path), false, &pl));
    return pl;
}

} // namespace ak
