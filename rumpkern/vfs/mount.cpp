// File system types, the mount table and the built-in empty root.
#include <ak/log.h>
#include <ak/vfs.h>

namespace ak {

namespace {

RwLock* g_mount_lock;
List<FileSystemType, &FileSystemType::m_list_node>* g_fstypes;
List<Mount, &Mount::m_list_node>* g_mounts;
Mount* g_root_mount;
Atomic<uint64_t> g_next_dev{1};

// The built-in root: an empty, read-only directory.
class EmptyRootVnode final : public Vnode {
public:
    explicit EmptyRootVnode(Mount& m) : Vnode(m, VType::Dir, 1) {}
    Result<RefPtr<Vnode>> parent() override { return RefPtr<Vnode>(this); }
    Result<void> readdir(int64_t cookie, DirentSink& sink) override {
        for (; cookie < 2; cookie++)
            if (!sink.emit(cookie == 0 ? "." : "..", 1, VType::Dir, cookie + 1))
                break;
        return {};
    }
    Result<void> getattr(VAttr& a) override {
        a = VAttr{};
        a.ino = 1;
        a.nlink = 2;
        a.mode = S_IFDIR | 0755;
        return {};
    }
};

class EmptyRootMount final : public Mount {
public:
    using Mount::Mount;
    using Mount::set_root;
};

FileSystemType g_emptyfs("rootfs", nullptr, false);

} // namespace

// A mount that never made it into the table: let the file system release
// its nodes and break the mount <-> root reference cycle.
void discard_mount(Mount& m) {
    (void)m.unmount(true);
    m.m_root.clear();
}

uint64_t vfs_alloc_dev() {
    return g_next_dev.fetch_add(1);
}

Result<void> vfs_bootstrap() {
    g_mount_lock = make<RwLock>();
    g_fstypes = make<List<FileSystemType, &FileSystemType::m_list_node>>();
    g_mounts = make<List<Mount, &Mount::m_list_node>>();
    if (!g_mount_lock || !g_fstypes || !g_mounts)
        return ENOMEM;
    return {};
}

void vfs_register_fstype(FileSystemType& type) {
    WriteGuard g(*g_mount_lock);
    g_fstypes->push_back(type);
}

FileSystemType* vfs_find_fstype(StringView name) {
    ReadGuard g(*g_mount_lock);
    for (auto& t : *g_fstypes)
        if (StringView(t.name()) == name)
            return &t;
    return nullptr;
}

Result<RefPtr<Mount>> vfs_empty_root_mount() {
    auto* m = make<EmptyRootMount>(g_emptyfs, MS_RDONLY);
    if (!m)
        return ENOMEM;
    RefPtr<Mount> mref = adopt_ref<Mount>(m);
    auto* v = make<EmptyRootVnode>(*m);
    if (!v)
        return ENOMEM;
    m->set_root(adopt_ref<Vnode>(v));
    return mref;
}

Result<void> vfs_mount_root(StringView fstype, unsigned long flags) {
    RefPtr<Mount> m;
    if (fstype.empty()) {
        m = TRY(vfs_empty_root_mount());
    } else {
        FileSystemType* t = vfs_find_fstype(fstype);
        if (!t)
            return ENODEV;
        m = TRY(t->mount(fstype, flags, nullptr));
    }
    auto src = KString::create(fstype.empty() ? StringView("rootfs") : fstype);
    if (src.is_error()) {
        discard_mount(*m);
        return Error{src.error()};
    }
    m->m_source = src.release_value();
    WriteGuard g(*g_mount_lock);
    if (g_root_mount) {
        discard_mount(*m);
        return EBUSY;
    }
    g_root_mount = m.leak(); // the table's reference
    g_mounts->push_back(*g_root_mount);
    return {};
}

RefPtr<Vnode> vfs_root() {
    ReadGuard g(*g_mount_lock);
    return g_root_mount ? g_root_mount->root() : nullptr;
}

// Follow mounts stacked on v (caller holds no VFS locks).
RefPtr<Vnode> vfs_cross_mounts(RefPtr<Vnode> v) {
    ReadGuard g(*g_mount_lock);
    while (v->m_mounted_here)
        v = v->m_mounted_here->root();
    return v;
}

// For "..": if v is the root of a mounted file system, the vnode it covers
// (repeatedly), else v.
RefPtr<Vnode> vfs_covered_if_root(RefPtr<Vnode> v) {
    ReadGuard g(*g_mount_lock);
    while (v.get() == v->mount().root().get() && v->mount().covered())
        v = RefPtr<Vnode>(v->mount().covered());
    return v;
}

Result<void> vfs_mount(StringView fstype, Vnode& where, StringView source, unsigned long flags,
                       const char* data) {
    if (!where.is_dir())
        return ENOTDIR;
    FileSystemType* t = vfs_find_fstype(fstype);
    if (!t)
        return ENODEV;
    RefPtr<Mount> m = TRY(t->mount(source, flags, data));
    auto src = KString::create(source.empty() ? fstype : source);
    if (src.is_error()) {
        discard_mount(*m);
        return Error{src.error()};
    }
    m->m_source = src.release_value();
    WriteGuard g(*g_mount_lock);
    if (where.m_mounted_here) {
        discard_mount(*m);
        return EBUSY;
    }
    m->m_covered = RefPtr<Vnode>(&where);
    m->m_parent = &where.mount();
    where.m_mounted_here = m.get();
    where.mount().busy_ref(); // the covered vnode pins its mount
    g_mounts->push_back(*m.leak());
    return {};
}

Result<void> vfs_umount(Vnode& root, int flags) {
    Mount* m = &root.mount();
    {
        WriteGuard g(*g_mount_lock);
        if (m->root().get() != &root || m == g_root_mount)
            return EINVAL;
        if (!m->m_covered)
            return EINVAL;
        if (root.m_mounted_here)
            return EBUSY;
        if (m->busy_count() > 0 && !(flags & MNT_DETACH))
            return EBUSY;
        for (auto& other : *g_mounts)
            if (other.m_parent == m)
                return EBUSY;
    }
    Result<void> r = m->sync();
    if (r.is_error() && !(flags & (MNT_FORCE | MNT_DETACH)))
        return r;
    RefPtr<Vnode> covered;
    {
        WriteGuard g(*g_mount_lock);
        if (m->busy_count() > 0 && !(flags & MNT_DETACH))
            return EBUSY;
        g_mounts->remove(*m);
        covered = move(m->m_covered);
        covered->m_mounted_here = nullptr;
        m->m_parent = nullptr;
    }
    covered->mount().busy_unref();
    r = m->unmount(flags & MNT_FORCE);
    m->m_root.clear();
    m->unref(); // the table's reference
    return r;
}

Result<void> vfs_remount(Mount& m, unsigned long flags) {
    constexpr unsigned long k_changeable = MS_RDONLY | MS_NOSUID | MS_NODEV | MS_NOEXEC |
                                           MS_SYNCHRONOUS | MS_NOATIME | MS_NODIRATIME |
                                           MS_RELATIME | MS_STRICTATIME;
    if (!(flags & MS_RDONLY) && m.read_only() && &m.fstype() == &g_emptyfs)
        return EROFS;
    TRY(m.remount(flags));
    if ((flags & MS_RDONLY) && !m.read_only())
        TRY(m.sync());
    m.m_flags.store((m.flags() & ~k_changeable) | (flags & k_changeable));
    return {};
}

void vfs_foreach_mount(void (*fn)(Mount&, void*), void* ctx) {
    ReadGuard g(*g_mount_lock);
    for (auto& m : *g_mounts)
        fn(m, ctx);
}

Result<void> vfs_sync_all() {
    Vector<RefPtr<Mount>> mounts;
    {
        ReadGuard g(*g_mount_lock);
        for (auto& m : *g_mounts)
            TRY(mounts.try_append(RefPtr<Mount>(&m)));
    }
    Result<void> first;
    for (auto& m : mounts) {
        Result<void> r = m->sync();
        if (r.is_error() && first.ok())
            first = r.error();
    }
    return first;
}

void vfs_shutdown() {
    (void)vfs_sync_all();
    // Unmount in reverse order of mounting (children before parents).
    for (;;) {
        Mount* victim = nullptr;
        {
            ReadGuard g(*g_mount_lock);
            for (Mount* m = g_mounts->last(); m; m = g_mounts->prev(*m)) {
                if (m != g_root_mount) {
                    victim = m;
                    break;
                }
            }
            if (victim)
                victim->ref();
        }
        if (!victim)
            break;
        RefPtr<Mount> hold = adopt_ref(victim);
        RefPtr<Vnode> root = victim->root();
        if (vfs_umount(*root, MNT_DETACH).is_error()) {
            AK_LOG_WARN("shutdown: could not unmount %s", victim->m_source.c_str());
            break;
        }
    }
    if (g_root_mount)
        (void)g_root_mount->sync();
}

} // namespace ak
